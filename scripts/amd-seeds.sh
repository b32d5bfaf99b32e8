#!/usr/bin/env bash
# The AMD and beep figures over many held-out corpora, one row per seed,
# as the README's seed table prints them: generates each seed's held-out
# split under target/amd-corpus-sN/ (seed 1: target/amd-corpus/) when it
# is not there yet, evaluates it, and ends with how many seeds meet each
# of the issue's targets. Extra arguments go to `ringwire evaluate` (e.g.
# --amd-threshold NAME=VALUE, to see a threshold across seeds).
# Usage: scripts/amd-seeds.sh [FIRST [LAST]] [-- EVALUATE-ARGS...]   (default 1 12)
set -euo pipefail
cd "$(dirname "$0")/.."
first=1 last=12
[ $# -gt 0 ] && [ "$1" != "--" ] && { first=$1; shift; }
[ $# -gt 0 ] && [ "$1" != "--" ] && { last=$1; shift; }
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
scripts/ensure-deps.sh build-essential pkg-config libpcap-dev espeak-ng sox python3
cargo build --release -p ringwire-host --locked
bin=target/release/ringwire
for seed in $(seq "$first" "$last"); do
  out=target/amd-corpus
  [ "$seed" = 1 ] || out="target/amd-corpus-s$seed"
  [ -f "$out/heldout/cases.jsonl" ] ||
    "$bin" corpus --out "$out/heldout" --split heldout --cases "${AMD_CASES:-320}" --seed "$seed" >&2
  printf '%s\t' "$seed"
  "$bin" evaluate --corpus "$out/heldout" --split heldout --json --causality 0 "$@" | tr -d '\n'
  echo
done | python3 scripts/amd_seed_table.py
