//! Tunes the AMD rule parameters on a corpus split (the tune split: the
//! held-out split is for reporting only). Grid search over the thresholds,
//! scoring each configuration the way the issue weighs errors: a live person
//! classed as a machine costs most, then machine recall, then decision time.
//!
//! `cargo run --release -p ringwire-host --example tune_amd -- target/amd-corpus/tune`
//!
//! Several directories are scored together (e.g. the tune splits of two
//! seeds: `target/amd-corpus/tune target/amd-corpus-s2/tune`); the cost of
//! the default configuration is printed after the best ones.
//!
//! With `--waits` it searches only the silences that mean "human" and the
//! wait for a beep.
//!
//! With `--phrases` it searches only the spotter's two scores (the one that
//! means "machine" and the one that makes the silence wait for a beep).
//!
//! With `--bias-sweep` after the directory it instead reports the default
//! configuration at biases -1..1 (the knob that trades false "machine"
//! against false "human"), e.g. on the held-out split.
use rayon::prelude::*;
use ringwire_dsp::amd::{AmdConfig, AmdVerdict};
use ringwire_dsp::features::{FeatureBlock, FeatureEngine, SoftwareEngine};
use ringwire_host::analyze::{AnalyzeOptions, CallDetectors, Detector, Event};
use ringwire_host::corpus::{read_cases, Case};
use std::path::Path;

struct Loaded {
    case: Case,
    blocks: Vec<FeatureBlock>,
}

#[derive(Debug, Default, Clone)]
struct Score {
    human_ok: usize,
    humans: usize,
    machine_ok: usize,
    machines: usize,
    other_ok: usize,
    others: usize,
    human_latency: Vec<f64>,
    machine_time: Vec<f64>,
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
}

fn run(loaded: &[Loaded], amd: &AmdConfig) -> Score {
    let options = AnalyzeOptions {
        amd: amd.clone(),
        ..AnalyzeOptions::with_detectors(&[Detector::Amd, Detector::Beep])
    };
    let mut s = Score::default();
    for l in loaded {
        let mut call = CallDetectors::new(&options);
        let mut events = Vec::new();
        for b in &l.blocks {
            call.push(b, &mut events);
        }
        call.finish(&mut events);
        let (verdict, at) = events
            .iter()
            .find_map(|e| match e {
                Event::Amd { verdict, at_ms, .. } => Some((*verdict, *at_ms)),
                _ => None,
            })
            .expect("one AMD event");
        let ok = ringwire_host::evaluate::is_right(&l.case, verdict.as_str(), at);
        match l.case.class.as_str() {
            "human" => {
                s.humans += 1;
                if ok {
                    s.human_ok += 1;
                    s.human_latency
                        .push(at as f64 - l.case.greeting_end_ms as f64);
                }
            }
            "machine" => {
                s.machines += 1;
                if ok {
                    s.machine_ok += 1;
                    s.machine_time.push(at as f64);
                }
            }
            _ => {
                s.others += 1;
                s.other_ok += ok as usize;
            }
        }
        let _ = AmdVerdict::Unknown;
    }
    s
}

/// Lower is better: human errors weigh 5, others 1, plus latency over target.
fn cost(s: &Score) -> f64 {
    let mut hl = s.human_latency.clone();
    let mut mt = s.machine_time.clone();
    let human_errors = (s.humans - s.human_ok) as f64;
    let other_errors = (s.machines - s.machine_ok + s.others - s.other_ok) as f64;
    let late = (pct(&mut hl, 0.5) - 500.0).max(0.0) / 50.0
        + (pct(&mut hl, 0.95) - 1000.0).max(0.0) / 50.0
        + (pct(&mut mt, 0.5) - 3000.0).max(0.0) / 100.0;
    5.0 * human_errors + other_errors + late
}

fn main() {
    let mut dirs: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if dirs.is_empty() {
        dirs.push("target/amd-corpus/tune".into());
    }
    let cases: Vec<(&Path, Case)> = dirs
        .iter()
        .flat_map(|d| {
            let dir = Path::new(d);
            read_cases(dir)
                .expect("cases.jsonl")
                .into_iter()
                .map(move |c| (dir, c))
        })
        .collect();
    let loaded: Vec<Loaded> = cases
        .into_par_iter()
        .map(|(dir, case)| {
            let streams = ringwire_media::input::read_input(&dir.join(&case.wav)).expect("wav");
            let mut engine = SoftwareEngine::new();
            let ch = engine.open_channel().unwrap();
            let mut blocks = Vec::new();
            engine
                .process(ch, &streams[0].samples, &mut blocks)
                .unwrap();
            Loaded { case, blocks }
        })
        .collect();
    if std::env::args().any(|a| a == "--bias-sweep") {
        for bias in [-1.0f32, -0.5, 0.0, 0.5, 1.0] {
            let cfg = AmdConfig {
                bias,
                ..AmdConfig::default()
            };
            let s = run(&loaded, &cfg);
            let (mut hl, mut mt) = (s.human_latency.clone(), s.machine_time.clone());
            println!(
                "bias {bias:+.1}: human recall {:.1}% machine recall {:.1}% | human latency p50 {:.0} p95 {:.0} ms | machine p50 {:.0} ms",
                100.0 * s.human_ok as f64 / s.humans as f64,
                100.0 * s.machine_ok as f64 / s.machines as f64,
                pct(&mut hl, 0.5),
                pct(&mut hl, 0.95),
                pct(&mut mt, 0.5)
            );
        }
        return;
    }
    if std::env::args().any(|a| a == "--phrases") {
        tune_phrases(&loaded);
        return;
    }
    if std::env::args().any(|a| a == "--waits") {
        tune_waits(&loaded);
        return;
    }
    let mut grid = Vec::new();
    for sentence_pause_ms in [370, 455, 520] {
        for multi_sentence_min_ms in [850, 1300] {
            for human_silence_ms in [380, 400, 450] {
                for human_silence_long_ms in [850, 950, 1000] {
                    for long_human_greeting_ms in [2000, 2500, 3500] {
                        for machine_greeting_ms in [4000, 4800] {
                            for talker_range_db in [12.0, 15.0, 18.0] {
                                for min_talker_dbfs in [-99.0, -34.0] {
                                    for vad_hold_db in [0.0, 4.0] {
                                        grid.push(AmdConfig {
                                            sentence_pause_ms,
                                            multi_sentence_min_ms,
                                            human_silence_ms,
                                            human_silence_long_ms,
                                            long_human_greeting_ms,
                                            machine_greeting_ms,
                                            talker_range_db,
                                            min_talker_dbfs,
                                            vad_hold_db,
                                            ..AmdConfig::default()
                                        });
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    let results = score_grid(&loaded, grid);
    // every configuration, for a closer look: target/tune_amd.tsv
    let mut tsv = String::from(
        "cost\thuman_ok\thumans\tmachine_ok\tmachines\tother_ok\tothers\tpause\tmulti\thsil\thlong\tlonggreet\tmgreet\ttalker\tmin_talker\thold\n",
    );
    for (c, cfg, s) in &results {
        tsv += &format!(
            "{c:.2}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            s.human_ok,
            s.humans,
            s.machine_ok,
            s.machines,
            s.other_ok,
            s.others,
            cfg.sentence_pause_ms,
            cfg.multi_sentence_min_ms,
            cfg.human_silence_ms,
            cfg.human_silence_long_ms,
            cfg.long_human_greeting_ms,
            cfg.machine_greeting_ms,
            cfg.talker_range_db,
            cfg.min_talker_dbfs,
            cfg.vad_hold_db
        );
    }
    std::fs::write("target/tune_amd.tsv", tsv).expect("writing target/tune_amd.tsv");
    print_best(&results, 8, &default_row(&loaded), |cfg| {
        format!(
            "pause {} multi {} hsil {} hlong {} longgreet {} mgreet {} margin {} hold {} talker {} min-talker {}",
            cfg.sentence_pause_ms, cfg.multi_sentence_min_ms, cfg.human_silence_ms,
            cfg.human_silence_long_ms, cfg.long_human_greeting_ms, cfg.machine_greeting_ms,
            cfg.vad_margin_db, cfg.vad_hold_db, cfg.talker_range_db, cfg.min_talker_dbfs
        )
    });
}

/// Scores every configuration of `grid` on `loaded`, best (lowest cost) first.
fn score_grid(loaded: &[Loaded], grid: Vec<AmdConfig>) -> Vec<(f64, AmdConfig, Score)> {
    let mut results: Vec<(f64, AmdConfig, Score)> = grid
        .into_par_iter()
        .map(|cfg| {
            let s = run(loaded, &cfg);
            (cost(&s), cfg, s)
        })
        .collect();
    results.sort_by(|a, b| a.0.total_cmp(&b.0));
    results
}

/// The default configuration's cost and score on `loaded`.
fn default_row(loaded: &[Loaded]) -> (f64, AmdConfig, Score) {
    let d = AmdConfig::default();
    let s = run(loaded, &d);
    (cost(&s), d, s)
}

/// Prints the `n` best configurations of `results` and then `default`,
/// each with its figures and the parameters `describe` names.
fn print_best(
    results: &[(f64, AmdConfig, Score)],
    n: usize,
    default: &(f64, AmdConfig, Score),
    describe: impl Fn(&AmdConfig) -> String,
) {
    for (c, cfg, s) in results.iter().take(n).chain(std::iter::once(default)) {
        let (mut hl, mut mt) = (s.human_latency.clone(), s.machine_time.clone());
        println!(
            "cost {c:.1}: human {}/{} machine {}/{} other {}/{} | human lat p50 {:.0} p95 {:.0} | machine p50 {:.0} | {}",
            s.human_ok, s.humans, s.machine_ok, s.machines, s.other_ok, s.others,
            pct(&mut hl, 0.5), pct(&mut hl, 0.95), pct(&mut mt, 0.5),
            describe(cfg)
        );
    }
}

/// `--waits`: the silences that mean "human" alone (after short and long
/// greetings, the greeting length between them, and the wait for a beep
/// after a greeting as long as a short machine greeting), the rest at
/// their defaults.
fn tune_waits(loaded: &[Loaded]) {
    let d = AmdConfig::default();
    let mut grid = Vec::new();
    for human_silence_ms in [340, 360, 380, 400] {
        for human_silence_long_ms in [700, 750, 850] {
            for long_human_greeting_ms in [3500, 4000, 4500] {
                for beep_wait_greeting_ms in [1000, 1200, 1400, 1600] {
                    for beep_wait_ms in [800, 920] {
                        grid.push(AmdConfig {
                            human_silence_ms,
                            human_silence_long_ms,
                            long_human_greeting_ms,
                            beep_wait_greeting_ms,
                            beep_wait_ms,
                            ..d.clone()
                        });
                    }
                }
            }
        }
    }
    let results = score_grid(loaded, grid);
    print_best(&results, 10, &default_row(loaded), |cfg| {
        format!(
            "hsil {} hlong {} longgreet {} beep-wait-greeting {} beep-wait {}",
            cfg.human_silence_ms,
            cfg.human_silence_long_ms,
            cfg.long_human_greeting_ms,
            cfg.beep_wait_greeting_ms,
            cfg.beep_wait_ms
        )
    });
}

/// `--phrases`: the spotter's score that means "machine" and the one that
/// makes the silence after a greeting wait for a beep, the rest at their
/// defaults (a wait score over 1 never waits).
fn tune_phrases(loaded: &[Loaded]) {
    let d = AmdConfig::default();
    let mut grid = Vec::new();
    for voicemail_phrase_score in [0.90, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995] {
        for voicemail_phrase_wait_score in [0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.1] {
            grid.push(AmdConfig {
                voicemail_phrase_score,
                voicemail_phrase_wait_score,
                ..d.clone()
            });
        }
    }
    let results = score_grid(loaded, grid);
    print_best(&results, 35, &default_row(loaded), |cfg| {
        format!(
            "phrase {} wait {}",
            cfg.voicemail_phrase_score, cfg.voicemail_phrase_wait_score
        )
    });
}
