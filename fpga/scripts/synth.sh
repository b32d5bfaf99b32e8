#!/bin/sh
# Resource estimate of the FPGA feature block with Yosys (see fpga/SYNTH.md).
#
#   fpga/scripts/synth.sh [xilinx|ice40|all]     (default: all)
#
# Environment: CH_BITS (default 8: 256 channel slots), OUT (default
# target/fpga-synth under the workspace root: logs and netlists), YOSYS
# (default: yosys).
#
# NOT part of the test suite: Yosys pulls a GTK stack on Debian (xdot), so
# neither `cargo test` nor CI runs this. If Yosys is missing this script
# installs it with apt-get (root, or sudo) on Debian/Ubuntu; Yosys 0.23
# (Debian bookworm) is what the numbers in fpga/SYNTH.md come from.
#
# Reads the RTL as fpga/rtl/lint.sh does (the same five files, top
# rw_feature_top; the generated twiddle include rw_twiddles.vh is found
# with -I fpga/rtl), sets CH_BITS on the top, runs
#   synth_xilinx -family xc7 -top rw_feature_top -flatten
#   synth_ice40 -dsp -top rw_feature_top          (iCE40 UltraPlus: SB_MAC16)
# and prints each one's `stat` summary and its distinct warnings (the full
# log, the stat text and a JSON netlist stay in $OUT).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
rtl=$(cd "$here/../rtl" && pwd)
root=$(cd "$here/../.." && pwd)
ch_bits=${CH_BITS:-8}
out=${OUT:-$root/target/fpga-synth}
yosys=${YOSYS:-yosys}
what=${1:-all}

if ! command -v "$yosys" >/dev/null 2>&1; then
    echo "synth.sh: $yosys not found; installing Yosys (apt-get, not part of the test suite)" >&2
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update
    $sudo apt-get install -y --no-install-recommends yosys
fi

mkdir -p "$out"
files="rw_feature_top.v rw_regs.v rw_feature_core.v rw_twiddle_rom.v rw_ram_1r1w.v rw_ring.v"
read_cmds=""
for f in $files; do
    read_cmds="$read_cmds read_verilog -I $rtl $rtl/$f;"
done
front="$read_cmds hierarchy -check -top rw_feature_top -chparam CH_BITS $ch_bits;"

run_one() {
    target=$1
    synth=$2
    log="$out/$target-ch$ch_bits.log"
    echo "== $target: CH_BITS=$ch_bits ($((1 << ch_bits)) channel slots), $synth" >&2
    start=$(date +%s)
    "$yosys" -l "$log" -p "$front $synth; \
        tee -o $out/$target-ch$ch_bits.stat stat; \
        write_json $out/$target-ch$ch_bits.json" >/dev/null
    end=$(date +%s)
    echo "### $target (CH_BITS=$ch_bits, $((end - start)) s)"
    echo
    echo '```'
    echo "yosys> $synth"
    sed -n '/Number of cells/,$p' "$out/$target-ch$ch_bits.stat"
    echo '```'
    warn=$(grep -c '^Warning:' "$log" || true)
    echo
    echo "Warnings: $warn (log: $log)"
    grep '^Warning:' "$log" | sed 's/\.mem\.[0-9.]*\./.mem.N./' | sort | uniq -c | sort -rn | head -20 || true
    echo
}

"$yosys" -V
echo
case "$what" in
    xilinx) run_one xilinx "synth_xilinx -family xc7 -top rw_feature_top -flatten" ;;
    ice40)  run_one ice40 "synth_ice40 -dsp -top rw_feature_top" ;;
    all)
        run_one xilinx "synth_xilinx -family xc7 -top rw_feature_top -flatten"
        run_one ice40 "synth_ice40 -dsp -top rw_feature_top"
        ;;
    *) echo "usage: $0 [xilinx|ice40|all]" >&2; exit 2 ;;
esac
