#!/bin/sh
# verilator --lint-only -Wall on the whole block (must print nothing).
set -e
cd "$(dirname "$0")"
verilator --lint-only -Wall --top-module rw_feature_top \
    rw_feature_top.v rw_regs.v rw_feature_core.v rw_twiddle_rom.v rw_ram_1r1w.v
echo "lint clean"
