#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine: installs what it needs,
# then runs every unit, integration and end-to-end test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh build-essential pkg-config libpcap-dev espeak-ng sox sip-tester kamailio baresip-core rtpengine-daemon tshark verilator libspandsp-dev systemd
cargo test --workspace --locked
# The benches build (they are not run here: figures come from `cargo bench`);
# spandsp is the DTMF bench's peer.
cargo bench --workspace --no-run --locked
# The FPGA block simulated in Verilator, bit-exact against the software path.
cargo test -p ringwire-fpga --features fpga-sim --locked
# `--dsp-backend fpga-sim`: ringwire analyze and the live taps give exactly
# the software backend's output.
cargo test -p ringwire-host --features fpga-sim --test dsp_backend --locked
