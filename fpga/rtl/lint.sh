#!/bin/sh
# verilator --lint-only -Wall on the whole block (must print nothing).
set -e
cd "$(dirname "$0")"
# The default build (CH_BITS=8, read latency 2), the wide build the
# simulation also runs (CH_BITS=15: banked accumulator RAM, read latency
# 3) and read latency 3 forced on one bank.
for params in "" "-GCH_BITS=15" "-GRD_LAT=3" "-GRING=0"; do
    # shellcheck disable=SC2086 # empty or one -G word
    verilator --lint-only -Wall $params --top-module rw_feature_top \
        rw_feature_top.v rw_regs.v rw_feature_core.v rw_twiddle_rom.v rw_ram_1r1w.v rw_ring.v
done
echo "lint clean"
