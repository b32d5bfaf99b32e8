"""The README's seed table from `ringwire evaluate --json` lines on stdin,
each "SEED<TAB>JSON", and how many seeds meet each of the issue's targets.
Called by scripts/amd-seeds.sh."""
import json
import sys


def pct(x):
    return "100%" if x >= 0.9995 else f"{100 * x:.1f}%"


def main():
    print("| seed | accuracy (classic) | human recall | machine recall | human p50 / p95 | machine p50 "
          "| beep recall | false beeps /100 live, distractor |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    met = dict(accuracy=0, human=0, machine=0, latency=0, machine_p50=0, beep=0, false_beeps=0)
    seeds = 0
    for line in sys.stdin:
        seed, doc = line.split("\t", 1)
        ours, classic = json.loads(doc)["systems"]
        beep, human, machine = ours["beep"], ours["human_latency_ms"], ours["machine_time_ms"]
        print(f"| {seed} | {pct(ours['accuracy'])} ({pct(classic['accuracy'])}) | {pct(ours['human_recall'])} "
              f"| {pct(ours['machine_recall'])} | {human['p50']:.0f} / {human['p95']:.0f} ms "
              f"| {machine['p50']:.0f} ms | {pct(beep['recall'])} of {beep['cases_with_beep']} "
              f"| {beep['false_beeps_per_100_live']:.1f}, {beep['false_beeps_distractor']} "
              f"of {beep['distractor_cases']} |")
        seeds += 1
        met["accuracy"] += ours["accuracy"] >= 0.97
        met["human"] += ours["human_recall"] >= 0.99
        met["machine"] += ours["machine_recall"] >= 0.95
        met["latency"] += human["p50"] <= 500 and human["p95"] <= 1000
        met["machine_p50"] += machine["p50"] <= 3000
        met["beep"] += beep["recall"] >= 0.98 and beep["onset_error_ms"]["p50"] <= 40
        met["false_beeps"] += beep["false_beeps_per_100_live"] <= 1 and beep["false_beeps_distractor"] == 0
    print()
    print(f"targets met, of {seeds} seeds: accuracy >= 97% on {met['accuracy']}, "
          f"human recall >= 99% on {met['human']}, machine recall >= 95% on {met['machine']}, "
          f"human p50/p95 <= 500/1000 ms on {met['latency']}, machine p50 <= 3 s on {met['machine_p50']}, "
          f"beep recall >= 98% (onset p50 <= 40 ms) on {met['beep']}, "
          f"false beeps <= 1/100 live and none on distractors on {met['false_beeps']}")


if __name__ == "__main__":
    main()
