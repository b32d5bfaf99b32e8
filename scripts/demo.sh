#!/usr/bin/env bash
# The demo: `ringwire analyze` on a capture shipped in the repo, holding
# in-band DTMF digits 1 2 3 and RFC 4733 digits 4 5 #.
# (samples/demo.pcap is made by scripts/make-demo-capture.sh.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh build-essential pkg-config libpcap-dev
cargo build --release --locked -q -p ringwire-host
./target/release/ringwire analyze samples/demo.pcap
./target/release/ringwire analyze --format json samples/demo.pcap
