#!/bin/sh
# Regenerates samples/demo.pcap: one PCMU call leg with in-band DTMF 1,2,3 and
# RFC 4733 digits 4,5,# (see media/examples/make_demo_capture.rs).
# The addresses are documentation addresses; nothing is sent on a network.
set -eu
cd "$(dirname "$0")/.."
mkdir -p samples
cargo run --quiet -p ringwire-media --example make_demo_capture -- samples/demo.pcap
ls -l samples/demo.pcap
