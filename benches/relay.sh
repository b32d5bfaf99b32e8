#!/usr/bin/env bash
# Side-by-side relay benchmark: rtpengine (userspace forwarding) and
# `ringwire serve`, driven by the same `ringwire load`, same machine, same run.
#
#   benches/relay.sh [CALLS ...]        default: 500 1000 2000
#   env: DURATION=20 (s of media)  CPS=500 (call setups/s)
#        EXTRA="--dtmf --amd-audio" (payloads for the detectors; "--rtcp": the phones'
#              RTCP reports, and a table of the MOS each node scored)
#        NODE_CPU=0 LOAD_CPU=1 (cores for taskset)   NODE_THREADS=1 (worker threads of each node)
#        NODES="rtpengine ringwire" (also ringwire-portable, ringwire-io_uring, and
#              ringwire-b: the binary BIN_B, to compare two builds in one run)
#        REPEAT=1 (runs of each node at each load, interleaved; with more than
#              one, a summary of medians and of each run's ratio to rtpengine)
#        OUT=target/relay-bench
#        BIN=path/to/ringwire (default: $CARGO_TARGET_DIR or target, /release/ringwire)
#        BUILD=0 (use BIN as it is, no cargo build)   PACE_US= (ringwire's [workers] pace_us; default: the node's)
#        RT=10 (run both nodes and the generator SCHED_FIFO at this priority, with chrt:
#               isolates the run from other tenants of a shared machine; default: off)
#
# The node under test is pinned to core NODE_CPU and the load generator to
# core LOAD_CPU with taskset, so on a 2-core machine each has one core.
# See benches/RELAY.md for the method and recorded figures.
set -euo pipefail
cd "$(dirname "$0")/.."

CALLS=("$@")
[ ${#CALLS[@]} -gt 0 ] || CALLS=(500 1000 2000)
DURATION=${DURATION:-20}
CPS=${CPS:-500}
EXTRA=${EXTRA:-}
NODE_CPU=${NODE_CPU:-0}
# Worker threads of each node: as many as the cores it is pinned to (more
# threads on one core only queue behind each other).
NODE_THREADS=${NODE_THREADS:-1}
# Detection on every ringwire leg: none by default (a plain relay, as
# rtpengine is); DETECT=all runs DTMF, AMD and beep detection on every leg
# (pair it with EXTRA="--dtmf --amd-audio" so the detectors have work).
DETECT=${DETECT:-none}
case $DETECT in all) ON=true ;; *) ON=false ;; esac
LOAD_CPU=${LOAD_CPU:-1}
# SCHED_FIFO for the node and the generator alike (chrt), or nothing.
RT=${RT:-}
PRIO=()
[ -n "$RT" ] && PRIO=(chrt -f "$RT")
OUT=${OUT:-target/relay-bench}
RTPE_NG=127.0.0.1:22240
RW_NG=127.0.0.1:22230
mkdir -p "$OUT"

if ! command -v rtpengine >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        echo "relay.sh: installing rtpengine-daemon (apt-get)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y rtpengine-daemon >/dev/null ||
            { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y rtpengine-daemon >/dev/null; }
    else
        echo "relay.sh: rtpengine is not installed and we are not root: apt-get install rtpengine-daemon" >&2
        exit 1
    fi
fi
# The Debian package starts a daemon from /etc/rtpengine; ours ignores that config.
systemctl stop rtpengine-daemon >/dev/null 2>&1 || true

BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/ringwire}
if [ "${BUILD:-1}" != 0 ]; then
    echo "relay.sh: building release"
    cargo build --release -q -p ringwire-host
fi
PACE_US=${PACE_US:-}
REPEAT=${REPEAT:-1}
BIN_B=${BIN_B:-}

# NODES="rtpengine ringwire" by default; ringwire-portable and
# ringwire-io_uring force that driver (to compare the two).
read -r -a NODES <<<"${NODES:-rtpengine ringwire}"
if ! "$BIN" serve --help >/dev/null 2>&1; then
    NODES=(rtpengine)
    echo "relay.sh: \`ringwire serve\` is not available yet: measuring rtpengine alone"
fi
echo "relay.sh: node pinned to core $NODE_CPU, load generator to core $LOAD_CPU (taskset); $(nproc) cores online"
[ -n "$RT" ] && echo "relay.sh: node and generator run SCHED_FIFO priority $RT (chrt)"
echo "relay.sh: ${DURATION} s of media per run, setup at $CPS calls/s, payload options: ${EXTRA:-none}"
[ -n "$BIN_B" ] && echo "relay.sh: ringwire-b is $BIN_B"
[ "$REPEAT" -gt 1 ] && echo "relay.sh: $REPEAT runs of each node at each load, interleaved"
echo "relay.sh: binary $BIN; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

NODE_PID=
start_node() { # $1: node name; sets NODE_PID and NG
    case $1 in
    rtpengine)
        NG=$RTPE_NG
        "${PRIO[@]}" taskset -c "$NODE_CPU" rtpengine --config-file=none --foreground --log-stderr --log-level=4 \
            --interface=127.0.0.1 --listen-ng=$NG --port-min=20000 --port-max=59999 \
            --num-threads=$NODE_THREADS --table=-1 --no-fallback >"$OUT/rtpengine.log" 2>&1 &
        ;;
    ringwire*)
        NG=$RW_NG
        driver=auto
        bin=$BIN
        case $1 in
        ringwire-b)
            [ -n "$BIN_B" ] || { echo "relay.sh: ringwire-b needs BIN_B" >&2; exit 1; }
            bin=$BIN_B
            ;;
        ringwire-*) driver=${1#ringwire-} ;;
        esac
        printf '[workers]\nthreads = %s\ndriver = "%s"\n%s[detectors]\ndtmf = %s\namd = %s\nbeep = %s\n' \
            "$NODE_THREADS" "$driver" "${PACE_US:+pace_us = $PACE_US
}" "$ON" "$ON" "$ON" >"$OUT/ringwire.toml"
        "${PRIO[@]}" taskset -c "$NODE_CPU" "$bin" serve --config "$OUT/ringwire.toml" --ng $NG >"$OUT/ringwire.log" 2>&1 &
        ;;
    esac
    NODE_PID=$!
    sleep 1
    kill -0 "$NODE_PID" 2>/dev/null || { echo "relay.sh: $1 did not start; see $OUT/$1.log" >&2; exit 1; }
}
stop_node() {
    kill "$NODE_PID" 2>/dev/null || true
    wait "$NODE_PID" 2>/dev/null || true
}
trap 'stop_node' EXIT

RESULTS=()
# Loads outside, nodes inside: the nodes measured at one load run back to
# back, under the same background load; repeated runs take turns.
for n in "${CALLS[@]}"; do
  for rep in $(seq 1 "$REPEAT"); do
    for node in "${NODES[@]}"; do
        start_node "$node"
        json="$OUT/$node-$n.json"
        [ "$REPEAT" -gt 1 ] && json="$OUT/$node-$n-run$rep.json"
        echo "relay.sh: $node, $n calls, run $rep ... (load $(cut -d' ' -f1-3 /proc/loadavg))"
        # shellcheck disable=SC2086
        if "${PRIO[@]}" taskset -c "$LOAD_CPU" "$BIN" load --ng "$NG" --calls "$n" --duration "$DURATION" --cps "$CPS" \
            --node-pid "$NODE_PID" --json $EXTRA >"$json"; then
            RESULTS+=("$node" "$n" "$json")
        else
            echo "relay.sh: $node at $n calls failed" >&2
        fi
        stop_node
    done
  done
done

echo "relay.sh: load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "${RESULTS[@]}" <<'PY'
import json, sys
args = sys.argv[1:]
rows = [args[i:i + 3] for i in range(0, len(args), 3)]
hdr = ("node", "calls", "relayed pps", "node CPU", "pps/CPU-s", "loss %", "p50 µs", "p99 µs", "max µs", "jitter µs", "gen CPU", "gen drop", "gen late")
fmt = "{:<10} {:>6} {:>11} {:>8} {:>10} {:>8} {:>7} {:>7} {:>8} {:>9} {:>7} {:>8} {:>8}"
print()
print(fmt.format(*hdr))
order = {}
for node, _, _ in rows:
    order.setdefault(node, len(order))
rows.sort(key=lambda r: (order[r[0]], int(r[1])))
for node, calls, path in rows:
    r = json.load(open(path))
    t = r["media_seconds"]
    cpu = r.get("node_cpu_seconds")
    per = r.get("relayed_per_node_cpu_second")
    gen = r.get("generator_cpu_seconds")
    jit = max(r["caller_to_callee"]["jitter_mean_us"], r["callee_to_caller"]["jitter_mean_us"])
    print(fmt.format(node, r["calls_established"], f'{r["relayed_pps"]:.0f}',
                     f"{100 * cpu / t:.0f}%" if cpu is not None else "?",
                     f"{per:.0f}" if per else "?", f'{100 * r["loss_ratio"]:.4f}',
                     r["latency"]["p50_us"], r["latency"]["p99_us"], r["latency"]["max_us"],
                     f"{jit:.0f}", f"{100 * gen / t:.0f}%" if gen is not None else "?",
                     r.get("generator_rx_drops", "?"),
                     f'{100 * r.get("sender_late_ticks", 0) / max(r.get("sender_ticks", 1), 1):.1f}%'))

# With EXTRA="--rtcp": what the node made of the phones' reports.
mos_rows = [(node, calls, json.load(open(path))) for node, calls, path in rows]
mos_rows = [(n, c, r) for n, c, r in mos_rows if r.get("rtcp_sent")]
if mos_rows:
    print()
    print("{:<10} {:>6} {:>12} {:>13} {:>11} {:>9} {:>10}".format(
        "node", "calls", "RTCP sent", "RTCP relayed", "legs scored", "MOS mean", "MOS lowest"))
    for node, calls, r in mos_rows:
        m = r.get("mos") or {}
        print("{:<10} {:>6} {:>12} {:>13} {:>11} {:>9} {:>10}".format(
            node, r["calls_established"], r["rtcp_sent"], r["rtcp_received"],
            m.get("scored", 0), f'{m["mean"]:.2f}' if m else "-", f'{m["min"]:.1f}' if m else "-"))

# With repeated runs: per node and load, the median and range of packets per
# CPU-second, and each run's ratio to the rtpengine run beside it.
runs = {}
for node, calls, path in rows:
    per = json.load(open(path)).get("relayed_per_node_cpu_second")
    if per:
        runs.setdefault((node, int(calls)), []).append((path, per))
if any(len(v) > 1 for v in runs.values()):
    def median(v):
        v = sorted(v)
        return (v[(len(v) - 1) // 2] + v[len(v) // 2]) / 2
    print()
    print("{:<16} {:>6} {:>5} {:>12} {:>19} {:>24}".format(
        "node", "calls", "runs", "median pps/s", "range", "ratio to rtpengine"))
    for (node, calls), v in sorted(runs.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])):
        per = [p for _, p in sorted(v)]
        ratio = ""
        base = runs.get(("rtpengine", calls))
        if node != "rtpengine" and base and len(base) == len(v):
            rs = [a / b for (_, a), (_, b) in zip(sorted(v), sorted(base))]
            ratio = f"{median(rs):.2f}x ({min(rs):.2f}-{max(rs):.2f})"
        print("{:<16} {:>6} {:>5} {:>12.0f} {:>19} {:>24}".format(
            node, calls, len(per), median(per), f"{min(per):.0f}-{max(per):.0f}", ratio))
PY
