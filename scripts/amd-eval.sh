#!/usr/bin/env bash
# AMD and beep evaluation, ringwire beside the classic app_amd algorithm:
# installs espeak-ng (and sox) if missing, builds the release binary,
# generates the tune and held-out corpora under target/amd-corpus/ (another
# AMD_SEED: target/amd-corpus-sN/; not committed; the same seed gives the
# same corpus), and prints the held-out
# table. Extra arguments go to `ringwire evaluate` (e.g. --json).
# Usage: scripts/amd-eval.sh [--json]
#   AMD_CASES=320 AMD_TUNE_CASES=320 AMD_SEED=1 override the sizes and seed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh build-essential pkg-config libpcap-dev espeak-ng sox
cargo build --release -p ringwire-host --locked
bin=target/release/ringwire
seed="${AMD_SEED:-1}"
out=target/amd-corpus
[ "$seed" = 1 ] || out="target/amd-corpus-s$seed" # other seeds beside, not over, the default
"$bin" corpus --out "$out/tune" --split tune --cases "${AMD_TUNE_CASES:-320}" --seed "$seed"
"$bin" corpus --out "$out/heldout" --split heldout --cases "${AMD_CASES:-320}" --seed "$seed"
"$bin" evaluate --corpus "$out/heldout" --split heldout "$@"
