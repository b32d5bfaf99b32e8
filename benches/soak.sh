#!/usr/bin/env bash
# Call churn against one `ringwire serve`: ROUNDS runs of `ringwire load`,
# each setting up CALLS calls, relaying DURATION s of media on each and
# deleting them. After each round (and its delete delay) the node's
# resident memory, open descriptors, calls and legs are read, so a leak
# shows as growth from round to round and a call or socket left behind as
# a count above zero.
#
#   benches/soak.sh
#   env: ROUNDS=16 CALLS=1000 DURATION=10 CPS=200 (a round's load)
#        EXTRA="--dtmf --amd-audio --rtcp" (payloads; with DETECT=all the
#              detectors run on every leg)   DETECT=none
#        DELETE_DELAY=1 (s; the node's [timeouts] delete_delay)
#        NODE_CPU=0 LOAD_CPU=1 (cores for taskset)   OUT=target/soak
#        BIN=path/to/ringwire   BUILD=0 (use BIN as it is)
#        RELOAD=0 (s between SIGHUPs during the rounds, each switching the
#              config between two that differ in live keys: the media
#              timeout, the setup window and the AMD bias; 0: none)
#
# Prints a row per round and exits 1 if a round lost packets, calls or
# legs were left once the last delete delay passed, or the resident
# memory grew by more than GROWTH_PCT (3) percent over the second half of
# the rounds (the first rounds fill the allocator's and the workers'
# pools: with detection on every leg the allocator still takes about
# 2 MiB of 70 up to round 6 or so, so a second half that starts at round
# 5, as ten rounds give, can read 3% where the node has levelled off).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-16}
CALLS=${CALLS:-1000}
DURATION=${DURATION:-10}
CPS=${CPS:-200}
EXTRA=${EXTRA:-}
DETECT=${DETECT:-none}
case $DETECT in all) ON=true ;; *) ON=false ;; esac
DELETE_DELAY=${DELETE_DELAY:-1}
GROWTH_PCT=${GROWTH_PCT:-3}
NODE_CPU=${NODE_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
OUT=${OUT:-target/soak}
NG=127.0.0.1:22250
METRICS=127.0.0.1:22251
mkdir -p "$OUT"

BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/ringwire}
if [ "${BUILD:-1}" != 0 ]; then
    echo "soak.sh: building release"
    cargo build --release -q -p ringwire-host
fi

RELOAD=${RELOAD:-0}
# the node's config; $1 and $2: more [timeouts] and [detectors] keys
config() {
    printf '[metrics]\nlisten = "%s"\n[timeouts]\ndelete_delay = %s\n%s[detectors]\ndtmf = %s\namd = %s\nbeep = %s\n%s' \
        "$METRICS" "$DELETE_DELAY" "$1" "$ON" "$ON" "$ON" "$2"
}
config "" "" >"$OUT/ringwire.toml"
config "" "" >"$OUT/ringwire-a.toml"
config $'media = 20\nsetup_window = 3\n' $'amd_bias = -0.5\n' >"$OUT/ringwire-b.toml"
taskset -c "$NODE_CPU" "$BIN" serve --config "$OUT/ringwire.toml" --ng $NG >"$OUT/ringwire.log" 2>&1 &
NODE_PID=$!
RELOADER=
trap 'kill $RELOADER $NODE_PID 2>/dev/null || true; wait $NODE_PID 2>/dev/null || true' EXIT
sleep 1
kill -0 "$NODE_PID" 2>/dev/null || { echo "soak.sh: the node did not start; see $OUT/ringwire.log" >&2; exit 1; }
if [ "$RELOAD" != 0 ]; then
    (
        n=0
        while sleep "$RELOAD"; do
            n=$((n + 1))
            cp "$OUT/ringwire-$([ $((n % 2)) = 1 ] && echo b || echo a).toml" "$OUT/ringwire.toml"
            kill -HUP "$NODE_PID" 2>/dev/null || exit 0
        done
    ) &
    RELOADER=$!
fi

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$NODE_PID/status"; }
fds() { find "/proc/$NODE_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }
gauge() { # $1: metric name; its value (a gauge without labels)
    curl -s "http://$METRICS/metrics" | awk -v m="$1" '$1 == m {print $2}'
}

echo "soak.sh: $ROUNDS rounds of $CALLS calls, $DURATION s of media each, $CPS calls/s; payloads: ${EXTRA:-none}; detectors: $DETECT"
echo "soak.sh: node pinned to core $NODE_CPU, generator to core $LOAD_CPU; binary $BIN"
[ "$RELOAD" = 0 ] || echo "soak.sh: a SIGHUP every $RELOAD s, the config switching between $OUT/ringwire-a.toml and -b.toml"
printf '%-6s %9s %9s %8s %11s %6s %6s %6s\n' round sent lost rss_MiB rss_delta fds calls legs
first_rss= base_rss= last_rss= failed=0
half=$(((ROUNDS + 1) / 2))
for round in $(seq 1 "$ROUNDS"); do
    # shellcheck disable=SC2086 # EXTRA is a list of options
    report=$(taskset -c "$LOAD_CPU" "$BIN" load --ng $NG --calls "$CALLS" --duration "$DURATION" \
        --cps "$CPS" --node-pid "$NODE_PID" --json $EXTRA)
    echo "$report" >"$OUT/round-$round.json"
    sleep "$(awk -v d="$DELETE_DELAY" 'BEGIN {print d + 1.5}')"
    read -r sent lost failures < <(echo "$report" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["sent"], r["sent"] - r["received"], r["setup_failures"])')
    rss=$(rss_kib)
    [ -n "$first_rss" ] || first_rss=$rss
    [ "$round" != "$half" ] || base_rss=$rss
    calls=$(gauge ringwire_calls)
    legs=$(gauge ringwire_legs)
    printf '%-6s %9s %9s %8.1f %+10.1f%% %6s %6s %6s\n' "$round" "$sent" "$lost" \
        "$(awk -v k="$rss" 'BEGIN {print k / 1024}')" \
        "$(awk -v k="$rss" -v b="$first_rss" 'BEGIN {print (k - b) * 100 / b}')" "$(fds)" "$calls" "$legs"
    [ "$lost" -le 0 ] || { echo "soak.sh: round $round lost $lost packets" >&2; failed=1; }
    [ "$failures" = 0 ] || { echo "soak.sh: round $round: $failures calls failed to set up" >&2; failed=1; }
    last_rss=$rss
done
if [ -n "$RELOADER" ]; then
    kill "$RELOADER" 2>/dev/null || true
    taken=$(gauge 'ringwire_config_reloads_total{result="ok"}')
    refused=$(gauge 'ringwire_config_reloads_total{result="error"}')
    echo "soak.sh: config reloads during the rounds: $taken taken, $refused refused"
    if [ "$refused" != 0 ] || [ "$taken" = 0 ]; then
        echo "soak.sh: the reloads did not all take (see $OUT/ringwire.log)" >&2
        failed=1
    fi
fi
calls=$(gauge ringwire_calls)
legs=$(gauge ringwire_legs)
if [ "$calls" != 0 ] || [ "$legs" != 0 ]; then
    echo "soak.sh: $calls calls and $legs legs left after the last delete delay" >&2
    failed=1
fi
if [ "$ROUNDS" -gt 1 ]; then
    growth=$(awk -v a="$base_rss" -v b="$last_rss" 'BEGIN {printf "%.1f", (b - a) * 100 / a}')
    echo "soak.sh: resident memory from round $half to round $ROUNDS: ${growth}% (limit ${GROWTH_PCT}%)"
    awk -v g="$growth" -v l="$GROWTH_PCT" 'BEGIN {exit !(g > l)}' && failed=1
fi
exit $failed
