#!/bin/sh
# The FPGA block against the software engine on the whole AMD corpus, through
# the real binary: `ringwire analyze --format json --detect dtmf,amd,beep`
# with `--dsp-backend software` and with `--dsp-backend fpga-sim` (the
# Verilated RTL) must print byte-identical JSON (one event a line).
#
#   fpga/scripts/equivalence.sh
#
# 1. builds the release binary with `--features fpga-sim` (needs Verilator;
#    CARGO_TARGET_DIR is honoured, default target/);
# 2. generates the AMD corpora scripts/amd-eval.sh evaluates, unless present:
#      ringwire corpus --out target/amd-corpus/heldout --split heldout --cases 320 --seed 1
#      ringwire corpus --out target/amd-corpus/tune    --split tune    --cases 320 --seed 1
#    (needs espeak-ng: scripts/ensure-deps.sh espeak-ng);
# 3. per split, one `analyze` run per backend over all its WAVs, and a diff.
#
# Environment: CORPUS (default target/amd-corpus), CASES (default 320),
# SEED (default 1), SPLITS (default "heldout tune").
# Exit status: 0 when every split's outputs are identical, 1 on any
# difference (the first lines of the diff are printed), 2 on a setup error.
# NOT part of `cargo test` (a few minutes on two cores; host/tests/dsp_backend.rs
# runs a 24-case corpus in CI).
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
corpus=${CORPUS:-target/amd-corpus}
cases=${CASES:-320}
seed=${SEED:-1}
splits=${SPLITS:-heldout tune}
bin="$target/release/ringwire"
work="$target/fpga-equivalence"
mkdir -p "$work"

start=$(date +%s)
cargo build --release --locked -p ringwire-host --features fpga-sim --bin ringwire >&2 || exit 2

for split in $splits; do
    dir="$corpus/$split"
    have=0
    [ -f "$dir/cases.jsonl" ] && have=$(wc -l <"$dir/cases.jsonl")
    if [ "$have" -eq "$cases" ] && [ "$(ls "$dir/wav" | grep -c '\.wav$')" -eq "$cases" ]; then
        echo "corpus $dir: present ($cases cases), not regenerated" >&2
    else
        echo "corpus $dir: generating $cases cases (seed $seed)" >&2
        "$bin" corpus --out "$dir" --split "$split" --cases "$cases" --seed "$seed" >&2 || exit 2
    fi
done

fail=0
total_wavs=0
total_events=0
for split in $splits; do
    dir="$corpus/$split"
    # sorted file list, one analyze run per backend
    find "$dir/wav" -name '*.wav' | sort >"$work/$split.list"
    n=$(wc -l <"$work/$split.list")
    for backend in software fpga-sim; do
        t0=$(date +%s)
        # shellcheck disable=SC2046 # file names from the corpus: no spaces
        "$bin" analyze --format json --detect dtmf,amd,beep --dsp-backend "$backend" \
            $(cat "$work/$split.list") >"$work/$split.$backend.jsonl" || exit 2
        t1=$(date +%s)
        echo "$split: $backend: $(wc -l <"$work/$split.$backend.jsonl") events, $((t1 - t0)) s" >&2
    done
    events=$(wc -l <"$work/$split.software.jsonl")
    amd=$(grep -c '"type":"amd"' "$work/$split.software.jsonl" || true)
    beep=$(grep -c '"type":"beep"' "$work/$split.software.jsonl" || true)
    dtmf=$(grep -c '"type":"dtmf"' "$work/$split.software.jsonl" || true)
    if cmp -s "$work/$split.software.jsonl" "$work/$split.fpga-sim.jsonl"; then
        echo "$split: $n WAVs, $events events ($amd amd, $beep beep, $dtmf dtmf): identical"
    else
        echo "$split: $n WAVs: OUTPUTS DIFFER ($events software events, $(wc -l <"$work/$split.fpga-sim.jsonl") fpga-sim)"
        diff "$work/$split.software.jsonl" "$work/$split.fpga-sim.jsonl" | head -20 || true
        fail=1
    fi
    total_wavs=$((total_wavs + n))
    total_events=$((total_events + events))
done

end=$(date +%s)
if [ "$fail" -eq 0 ]; then
    echo "all: $total_wavs WAVs, $total_events events, software and fpga-sim identical ($((end - start)) s including the build)"
else
    echo "all: $total_wavs WAVs: DIFFERENCES (outputs in $work)"
fi
exit "$fail"
