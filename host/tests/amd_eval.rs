//! The AMD corpus generator and evaluation end to end: `ringwire corpus`
//! writes a small fixed corpus, its ground truth is checked against the
//! audio, and `ringwire evaluate --json` runs ringwire and the classic
//! app_amd baseline over it.
//!
//! ringwire's figures on the fixed CI corpus must stay at or above the
//! levels in [`regression`] (what the detectors reach today, with a small
//! margin), so a change that makes them worse fails CI. The targets
//! are in [`targets`]; they are not all met yet and are asserted only with
//! `RINGWIRE_AMD_TARGETS=1`. The baseline's figures are always checked to
//! be computed.
use ringwire_host::corpus::{read_cases, Case};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Cases of the CI corpus, and its seed (fixed: same corpus every run).
const CASES: usize = 60;
const SEED: u64 = 7;

/// One set of limits on ringwire's figures.
struct Limits {
    min_accuracy: f64,
    min_human_recall: f64,
    min_machine_recall: f64,
    /// ms after the end of the live greeting.
    max_human_latency_p50_ms: f64,
    max_human_latency_p95_ms: f64,
    /// ms from answer.
    max_machine_time_p50_ms: f64,
    min_beep_recall: f64,
    max_beep_onset_error_p50_ms: f64,
    max_false_beeps_per_100_live: f64,
    max_false_beeps_distractor: u64,
    max_causality_violations: u64,
}

/// What the detectors reach today on the fixed CI corpus, less about one
/// case of margin (2026-12-06, tenth session: accuracy 96.7%, human recall 100%, machine
/// recall 91.7%, human p50 / p95 479 / 930 ms, machine p50 5300 ms, beep
/// recall 100%, onset p50 2 ms, no false beep): always asserted, so
/// regressions fail CI.
mod regression {
    pub const LIMITS: super::Limits = super::Limits {
        min_accuracy: REGRESSION[0],
        min_human_recall: REGRESSION[1],
        min_machine_recall: REGRESSION[2],
        max_human_latency_p50_ms: REGRESSION[3],
        max_human_latency_p95_ms: REGRESSION[4],
        max_machine_time_p50_ms: REGRESSION[5],
        min_beep_recall: REGRESSION[6],
        max_beep_onset_error_p50_ms: REGRESSION[7],
        max_false_beeps_per_100_live: REGRESSION[8],
        max_false_beeps_distractor: REGRESSION[9] as u64,
        max_causality_violations: 0,
    };
    /// accuracy, human recall, machine recall, human p50, human p95,
    /// machine p50, beep recall, beep onset p50, false beeps/100 live,
    /// false beeps on distractors
    const REGRESSION: [f64; 10] = [
        0.95, 0.96, 0.87, 500.0, 1000.0, 5600.0, 0.93, 20.0, 3.2, 0.0,
    ];
}

/// The targets (not all met yet): asserted with
/// `RINGWIRE_AMD_TARGETS=1`.
mod targets {
    pub const LIMITS: super::Limits = super::Limits {
        min_accuracy: 0.97,
        min_human_recall: 0.99,
        min_machine_recall: 0.95,
        max_human_latency_p50_ms: 500.0,
        max_human_latency_p95_ms: 1000.0,
        max_machine_time_p50_ms: 3000.0,
        min_beep_recall: 0.98,
        max_beep_onset_error_p50_ms: 40.0,
        max_false_beeps_per_100_live: 1.0,
        max_false_beeps_distractor: 0,
        max_causality_violations: 0,
    };
}

/// The names of the limits that `rw`/`beep` (evaluation JSON) break.
fn broken(limits: &Limits, rw: &Value, beep: &Value) -> Vec<&'static str> {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let checks = [
        ("accuracy", f(&rw["accuracy"]) >= limits.min_accuracy),
        (
            "human recall",
            f(&rw["human_recall"]) >= limits.min_human_recall,
        ),
        (
            "machine recall",
            f(&rw["machine_recall"]) >= limits.min_machine_recall,
        ),
        (
            "human latency p50",
            f(&rw["human_latency_ms"]["p50"]) <= limits.max_human_latency_p50_ms,
        ),
        (
            "human latency p95",
            f(&rw["human_latency_ms"]["p95"]) <= limits.max_human_latency_p95_ms,
        ),
        (
            "machine time p50",
            f(&rw["machine_time_ms"]["p50"]) <= limits.max_machine_time_p50_ms,
        ),
        ("beep recall", f(&beep["recall"]) >= limits.min_beep_recall),
        (
            "beep onset p50",
            f(&beep["onset_error_ms"]["p50"]) <= limits.max_beep_onset_error_p50_ms,
        ),
        (
            "false beeps live",
            f(&beep["false_beeps_per_100_live"]) <= limits.max_false_beeps_per_100_live,
        ),
        (
            "false beeps distractor",
            beep["false_beeps_distractor"].as_u64() <= Some(limits.max_false_beeps_distractor),
        ),
        ("no detector panics", rw["panics"].as_u64() == Some(0)),
        (
            "causality",
            rw["causality"]["violations"].as_u64() <= Some(limits.max_causality_violations),
        ),
    ];
    checks.iter().filter(|c| !c.1).map(|c| c.0).collect()
}

fn have_espeak() -> bool {
    Command::new("espeak-ng")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ringwire-amd-eval-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn ringwire(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_ringwire"))
        .args(args)
        .output()
        .expect("run ringwire");
    assert!(
        out.status.success(),
        "ringwire {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn samples(dir: &Path, case: &Case) -> Vec<f64> {
    let streams = ringwire_media::input::read_input(&dir.join(&case.wav)).unwrap();
    assert_eq!(streams.len(), 1, "{}: mono", case.id);
    streams[0].samples.iter().map(|&s| s as f64).collect()
}

fn window(x: &[f64], from_ms: u64, to_ms: u64) -> &[f64] {
    let a = (from_ms as usize * 8).min(x.len());
    let b = (to_ms as usize * 8).clamp(a, x.len());
    &x[a..b]
}

fn energy(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>()
}

/// Share of the window's energy at `freq` (Goertzel, Hann window).
fn tone_share(x: &[f64], freq: f64) -> f64 {
    let n = x.len() as f64;
    let w: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, v)| v * (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n).cos()))
        .collect();
    let k = 2.0 * (2.0 * std::f64::consts::PI * freq / 8000.0).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for v in &w {
        let s = v + k * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - k * s1 * s2;
    // A Hann-windowed sine of amplitude A gives |X|^2 = (A n / 4)^2, and its
    // windowed energy is 3/8 * n * A^2 / 2.
    let tone_energy = power * 16.0 / (n * n) * (3.0 / 16.0) * n;
    tone_energy / energy(&w).max(1e-9)
}

#[test]
fn corpus_truth_matches_audio_and_evaluation_reports_both_systems() {
    if !have_espeak() {
        eprintln!("espeak-ng not installed (scripts/ensure-deps.sh espeak-ng): skipped");
        return;
    }
    let dir = scratch();
    let dir_s = dir.to_str().unwrap();
    let cases_s = CASES.to_string();
    let seed_s = SEED.to_string();
    ringwire(&[
        "corpus", "--out", dir_s, "--split", "heldout", "--cases", &cases_s, "--seed", &seed_s,
    ]);
    let cases = read_cases(&dir).unwrap();
    assert_eq!(cases.len(), CASES);
    for class in ["human", "machine", "distractor"] {
        assert!(cases.iter().any(|c| c.class == class), "no {class} case");
    }
    assert!(cases.iter().any(|c| c.beep.is_some()));
    assert!(cases
        .iter()
        .any(|c| c.class == "machine" && c.beep.is_none()));

    for c in &cases {
        let x = samples(&dir, c);
        let dur = x.len() as u64 / 8;
        assert!(dur.abs_diff(c.duration_ms) <= 1, "{}: duration", c.id);
        assert_eq!(c.answer_ms, 0);
        assert!(c.leading_silence_ms <= 2000, "{}", c.id);
        assert!(c.leading_silence_ms <= c.greeting_start_ms, "{}", c.id);
        assert!(c.greeting_start_ms < c.greeting_end_ms, "{}", c.id);
        assert!(c.greeting_end_ms <= c.duration_ms, "{}", c.id);
        assert!(c.accept.contains(&c.expected_verdict), "{}", c.id);
        // The greeting is louder than the leading silence (line noise only).
        if c.leading_silence_ms >= 200 && c.tones.iter().all(|t| !t.kind.starts_with("ringback")) {
            let quiet = window(&x, 0, c.leading_silence_ms - 20);
            let loud = window(&x, c.greeting_start_ms, c.greeting_end_ms);
            let q = energy(quiet) / quiet.len() as f64;
            let l = energy(loud) / loud.len() as f64;
            assert!(l > 4.0 * q, "{}: greeting {l:.0} vs silence {q:.0}", c.id);
        }
        match c.class.as_str() {
            "human" => {
                assert_eq!(c.expected_verdict, "human");
                assert!(c.beep.is_none(), "{}", c.id);
                assert!(c.duration_ms >= c.greeting_end_ms + 2000, "{}: waits", c.id);
            }
            "machine" => assert_eq!(c.expected_verdict, "machine"),
            _ => assert!(!c.tones.is_empty(), "{}: distractor without tones", c.id),
        }
        if c.kind == "machine-long" {
            let g = c.greeting_end_ms - c.greeting_start_ms;
            assert!(
                (5000..=20_000).contains(&g),
                "{}: long greeting {g} ms",
                c.id
            );
        }
        if let Some(b) = c.beep {
            assert!((350.0..=2100.0).contains(&b.freq_hz), "{}", c.id);
            assert!(
                b.start_ms >= c.greeting_end_ms + 90,
                "{}: beep after greeting",
                c.id
            );
            assert!(b.start_ms <= c.greeting_end_ms + 1010, "{}", c.id);
            assert!(
                b.end_ms >= b.start_ms + 150 && b.end_ms <= c.duration_ms,
                "{}",
                c.id
            );
            assert!(
                c.duration_ms >= b.end_ms + 2990,
                "{}: recording silence",
                c.id
            );
            let w = window(&x, b.start_ms + 20, b.start_ms + 140);
            let share = tone_share(w, b.freq_hz);
            assert!(
                share > 0.5,
                "{}: {:.0} Hz beep holds {share:.2} of the energy",
                c.id,
                b.freq_hz
            );
            // And before the beep there is no such tone.
            let before = window(
                &x,
                c.greeting_end_ms.saturating_sub(400),
                c.greeting_end_ms - 10,
            );
            if energy(before) > 0.0 {
                assert!(
                    tone_share(before, b.freq_hz) < 0.5,
                    "{}: tone before beep",
                    c.id
                );
            }
        }
        for t in &c.tones {
            assert!(
                t.start_ms < t.end_ms && t.end_ms <= c.duration_ms,
                "{}: {}",
                c.id,
                t.kind
            );
            if t.kind == "call-waiting" || t.kind == "recorder-warning" {
                let w = window(&x, t.start_ms + 20, t.start_ms + 260);
                assert!(tone_share(w, t.freqs_hz[0]) > 0.5, "{}: {}", c.id, t.kind);
            }
        }
    }

    // The same seed gives the same corpus.
    let again = dir.join("again");
    ringwire(&[
        "corpus",
        "--out",
        again.to_str().unwrap(),
        "--split",
        "heldout",
        "--cases",
        "6",
        "--seed",
        &seed_s,
    ]);
    let first6 = read_cases(&again).unwrap();
    for (a, b) in first6.iter().zip(&cases) {
        assert_eq!(a, b);
        assert_eq!(
            std::fs::read(again.join(&a.wav)).unwrap(),
            std::fs::read(dir.join(&b.wav)).unwrap()
        );
    }

    // Evaluation, JSON.
    let out = ringwire(&[
        "evaluate", "--corpus", dir_s, "--split", "heldout", "--json",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    let report: Value = serde_json::from_str(text.trim()).expect("one JSON object");
    assert_eq!(report["cases"], CASES);
    let systems = report["systems"].as_array().unwrap();
    assert_eq!(systems.len(), 2);
    let (rw, base) = (&systems[0], &systems[1]);
    assert_eq!(rw["system"], "ringwire");
    assert_eq!(base["system"], "classic-amd");
    for m in systems {
        for key in ["accuracy", "human_recall", "machine_recall", "unknown_rate"] {
            let v = m[key]
                .as_f64()
                .unwrap_or_else(|| panic!("{key} missing: {m}"));
            assert!((0.0..=1.0).contains(&v), "{key} = {v}");
        }
        for key in ["human_latency_ms", "machine_time_ms"] {
            assert!(m[key]["n"].is_u64(), "{key}: {m}");
        }
        assert!(m["misclassified"].is_array() && m["by_kind"].is_object());
        assert!(m["panics"].is_u64());
        assert_eq!(
            m["by_kind"]
                .as_object()
                .unwrap()
                .values()
                .map(|k| k["n"].as_u64().unwrap())
                .sum::<u64>(),
            CASES as u64
        );
    }
    let beep = &rw["beep"];
    assert!(beep["cases_with_beep"].as_u64().unwrap() > 0);
    // recall by line noise: every case with a beep in one kind, the hits
    // the recall's
    let by_noise = beep["recall_by_noise"].as_object().unwrap();
    let [hits, cases] = by_noise.values().fold([0, 0], |[h, n], v| {
        [h + v[0].as_u64().unwrap(), n + v[1].as_u64().unwrap()]
    });
    assert_eq!(cases, beep["cases_with_beep"].as_u64().unwrap());
    let recall = beep["recall"].as_f64().unwrap();
    assert!(
        (hits as f64 / cases as f64 - recall).abs() < 1e-9,
        "{by_noise:?}"
    );
    assert!(beep["false_beeps_per_100_live"].is_number());
    assert!(rw["causality"]["checked"].as_u64().unwrap() > 0);
    assert!(base["beep"].is_null());
    // The baseline's figures are computed: it decides every case (its
    // analysis ends at 5 s) and finds machines by word count.
    assert!(base["machine_time_ms"]["p50"].is_number());
    assert!(base["machine_recall"].as_f64().unwrap() > 0.5, "{base}");
    assert!(base["by_cause"]
        .as_object()
        .unwrap()
        .keys()
        .any(|k| k == "MAXWORDS"));

    // The table prints both systems.
    let table = String::from_utf8(ringwire(&["evaluate", "--corpus", dir_s]).stdout).unwrap();
    assert!(
        table.contains("ringwire") && table.contains("classic-amd"),
        "{table}"
    );

    let failed = broken(&regression::LIMITS, rw, beep);
    assert!(
        failed.is_empty(),
        "AMD/beep regression: {failed:?}\n{table}"
    );
    if std::env::var("RINGWIRE_AMD_TARGETS").as_deref() == Ok("1") {
        let missed = broken(&targets::LIMITS, rw, beep);
        assert!(
            missed.is_empty(),
            "AMD/beep targets missed: {missed:?}\n{table}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
