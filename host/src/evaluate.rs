//! `ringwire evaluate`: runs ringwire's AMD + beep detectors and the classic
//! app_amd baseline ([`crate::baseline`]) over a corpus
//! ([`crate::corpus`]) and reports their figures side by side.
//!
//! How cases count:
//!
//! - **accuracy**: the verdict is one of the case's `accept` verdicts
//!   (human/machine cases accept only their class; busy accepts unknown or
//!   machine, SIT machine or unknown). `unknown` is never right for a human
//!   or a machine: it lowers recall and accuracy.
//!   A `human` verdict on a live call made before the person's greeting
//!   began (on a ring-back, or on babble before the talker) is counted
//!   wrong: nothing the person said went into it ([`is_right`]).
//! - **human recall** / **machine recall**: share of human-class
//!   (machine-class) cases with that verdict (under the same rule).
//! - **human latency**: decision time minus `greeting_end_ms` (end of the
//!   first live greeting utterance), over human cases decided `human` only
//!   (misclassified and unknown ones are left out of the percentiles; they
//!   show in recall). It is negative when the decision came before the end.
//! - **machine time**: decision time from answer, over machine cases decided
//!   `machine` only.
//! - **beep recall**: over cases with a true beep, share with a detected beep
//!   whose onset is within [`BEEP_MATCH_MS`] of the truth; **onset error** is
//!   |detected - true onset| of those matches.
//! - **false beeps**: detected beeps that match no true beep; reported per
//!   100 live-answer (human-class) calls, and as a count over cases with
//!   distractor tones (call waiting, recorder warning, ring-back, DTMF, busy,
//!   SIT).
//! - per case, the truth and both outcomes go to `CORPUS/results.jsonl`.
//! - **causality**: for a sample of cases, the audio is cut right after
//!   ringwire's decision and analysed again; the verdict must be the same.
use crate::analyze::{analyze_samples, AnalyzeOptions, Detector, Event};
use crate::baseline::{classic_amd, ClassicAmdConfig};
use crate::corpus::synth::NoiseKind;
use crate::corpus::{read_cases, Case, Split};
use anyhow::{anyhow, Context, Result};
use rayon::prelude::*;
use ringwire_dsp::amd::{AmdConfig, AmdVerdict};
use ringwire_dsp::beep::BeepConfig;
use ringwire_dsp::features::{SoftwareEngine, BLOCK_LEN};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

/// A detected beep matches a true one when their onsets are this close.
pub const BEEP_MATCH_MS: u64 = 200;

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Corpus directory (with `cases.jsonl`).
    pub corpus: PathBuf,
    /// Only cases of this split (all when `None`).
    pub split: Option<Split>,
    /// How many cases get the causality re-run (spread over the corpus).
    pub causality_cases: usize,
    /// ringwire's AMD parameters (the defaults, or thresholds under trial).
    pub amd: AmdConfig,
    /// ringwire's beep detection parameters (likewise).
    pub beep: BeepConfig,
}

/// What one system said about one case.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// human, machine, unknown.
    pub verdict: String,
    /// Decision time, ms from answer.
    pub at_ms: u64,
    /// The deciding rule.
    pub cause: String,
    /// Detected beep onsets, ms.
    pub beeps_ms: Vec<u64>,
}

/// Both systems on one case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// The case id.
    pub id: String,
    /// ringwire.
    pub ringwire: Outcome,
    /// The classic baseline.
    pub baseline: Outcome,
    /// Causality re-run verdict of ringwire, when this case was sampled.
    pub causal_verdict: Option<String>,
}

/// p50 / p95 of a set of values (nearest rank); `None` when empty.
#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct Percentiles {
    /// How many values.
    pub n: usize,
    /// Median.
    pub p50: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
}

impl Percentiles {
    /// Of `v` (any order).
    pub fn of(mut v: Vec<f64>) -> Self {
        v.sort_by(|a, b| a.total_cmp(b));
        let at = |p: f64| -> Option<f64> {
            if v.is_empty() {
                return None;
            }
            let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
            Some(v[rank - 1])
        };
        Self {
            n: v.len(),
            p50: at(0.50),
            p95: at(0.95),
        }
    }
}

/// Beep figures of a system that detects beeps.
#[derive(Debug, Clone, Serialize)]
pub struct BeepMetrics {
    /// Cases with a true beep.
    pub cases_with_beep: usize,
    /// Share of them with a matching detection.
    pub recall: Option<f64>,
    /// |onset error| of the matches, ms.
    pub onset_error_ms: Percentiles,
    /// Unmatched beeps on live-answer calls.
    pub false_beeps_live: usize,
    /// Live-answer calls.
    pub live_calls: usize,
    /// `false_beeps_live` per 100 live-answer calls.
    pub false_beeps_per_100_live: Option<f64>,
    /// Unmatched beeps on cases with distractor tones.
    pub false_beeps_distractor: usize,
    /// Cases with distractor tones.
    pub distractor_cases: usize,
    /// Unmatched beeps on machine cases (extra or misplaced).
    pub false_beeps_machine: usize,
    /// Recall per true beep frequency band ("350-700", "700-1400",
    /// "1400-2100") and for double beeps ("double"): [hits, cases].
    pub recall_by_band: BTreeMap<String, [usize; 2]>,
    /// Recall per line noise of the case ("none", "white", "pink",
    /// "babble"): [hits, cases].
    pub recall_by_noise: BTreeMap<String, [usize; 2]>,
}

/// Tallies of one case kind.
#[derive(Debug, Clone, Serialize, Default)]
pub struct KindStats {
    /// Cases.
    pub n: usize,
    /// Verdict accepted.
    pub correct: usize,
    /// Verdict counts.
    pub human: usize,
    /// Verdict counts.
    pub machine: usize,
    /// Verdict counts.
    pub unknown: usize,
    /// Detector panics.
    pub error: usize,
}

/// Causality re-run results.
#[derive(Debug, Clone, Serialize)]
pub struct Causality {
    /// Cases re-run.
    pub checked: usize,
    /// Cases whose verdict changed when cut at the decision.
    pub violations: usize,
    /// Their ids.
    pub violating_ids: Vec<String>,
}

/// The figures of one system.
#[derive(Debug, Clone, Serialize)]
pub struct SystemMetrics {
    /// `ringwire` or `classic-amd`.
    pub system: String,
    /// Cases evaluated.
    pub cases: usize,
    /// Share of cases with an accepted verdict.
    pub accuracy: Option<f64>,
    /// Human-class cases.
    pub human_cases: usize,
    /// Share of them decided human.
    pub human_recall: Option<f64>,
    /// Machine-class cases.
    pub machine_cases: usize,
    /// Share of them decided machine.
    pub machine_recall: Option<f64>,
    /// Share of all cases decided unknown.
    pub unknown_rate: Option<f64>,
    /// Decision minus end of live greeting, ms, correctly decided humans.
    pub human_latency_ms: Percentiles,
    /// Decision time from answer, ms, correctly decided machines.
    pub machine_time_ms: Percentiles,
    /// Beep figures (`None`: the system detects no beeps).
    pub beep: Option<BeepMetrics>,
    /// Ids of cases with a verdict not accepted (first 20).
    pub misclassified: Vec<String>,
    /// Count of all such cases.
    pub misclassified_total: usize,
    /// Per case kind.
    pub by_kind: BTreeMap<String, KindStats>,
    /// Decisions per cause.
    pub by_cause: BTreeMap<String, usize>,
    /// Cases on which the detector panicked (verdict `error`).
    pub panics: usize,
    /// Causality check (`None` when not run).
    pub causality: Option<Causality>,
}

/// The whole evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Corpus directory.
    pub corpus: String,
    /// The split evaluated, or "all".
    pub split: String,
    /// Cases evaluated.
    pub cases: usize,
    /// Wall time, s.
    pub wall_s: f64,
    /// ringwire, then the baseline.
    pub systems: Vec<SystemMetrics>,
    /// Per case.
    #[serde(skip)]
    pub results: Vec<CaseResult>,
}

/// ringwire on one case. A panic in a detector is caught and counted (verdict
/// `error`, cause `panic`) so one bad case does not hide the others.
fn ringwire_outcome(samples: &[i16], options: &AnalyzeOptions) -> Outcome {
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut engine = SoftwareEngine::new();
        analyze_samples(&mut engine, samples, options)
    }));
    let Ok(events) = run else {
        return Outcome {
            verdict: "error".into(),
            at_ms: samples.len() as u64 / 8,
            cause: "panic".into(),
            beeps_ms: Vec::new(),
        };
    };
    let mut out = Outcome {
        verdict: "unknown".into(),
        at_ms: samples.len() as u64 / 8,
        cause: "none".into(),
        beeps_ms: Vec::new(),
    };
    for e in events {
        match e {
            Event::Amd {
                verdict,
                at_ms,
                cause,
                ..
            } => {
                out.verdict = verdict.as_str().into();
                out.at_ms = at_ms;
                out.cause = cause.into();
            }
            Event::Beep { start_ms, .. } => out.beeps_ms.push(start_ms),
            Event::Dtmf { .. } => {}
        }
    }
    out
}

fn baseline_outcome(samples: &[i16]) -> Outcome {
    let d = classic_amd(samples, &ClassicAmdConfig::default());
    Outcome {
        verdict: d.verdict.as_str().into(),
        at_ms: d.at_ms,
        cause: d.cause.into(),
        beeps_ms: Vec::new(),
    }
}

fn read_samples(path: &std::path::Path) -> Result<Vec<i16>> {
    let streams = ringwire_media::input::read_input(path)?;
    streams
        .into_iter()
        .next()
        .map(|s| s.samples)
        .ok_or_else(|| anyhow!("{}: no audio stream", path.display()))
}

/// Runs both systems over the corpus and computes the figures.
pub fn evaluate(opts: &EvalOptions) -> Result<Report> {
    let t0 = std::time::Instant::now();
    let mut cases = read_cases(&opts.corpus)?;
    if let Some(s) = opts.split {
        cases.retain(|c| c.split == s);
    }
    if cases.is_empty() {
        return Err(anyhow!("no cases to evaluate in {}", opts.corpus.display()));
    }
    let options = AnalyzeOptions {
        amd: opts.amd.clone(),
        beep: opts.beep.clone(),
        ..AnalyzeOptions::with_detectors(&[Detector::Amd, Detector::Beep])
    };
    let every = if opts.causality_cases == 0 {
        usize::MAX
    } else {
        cases.len().div_ceil(opts.causality_cases).max(1)
    };
    let results: Vec<CaseResult> = cases
        .par_iter()
        .enumerate()
        .map(|(i, case)| -> Result<CaseResult> {
            let path = opts.corpus.join(&case.wav);
            let samples = read_samples(&path).with_context(|| format!("case {}", case.id))?;
            let ringwire = ringwire_outcome(&samples, &options);
            let baseline = baseline_outcome(&samples);
            let causal_verdict = (i % every == 0).then(|| {
                let cut = (ringwire.at_ms as usize * 8).div_ceil(BLOCK_LEN) * BLOCK_LEN;
                let cut = cut.min(samples.len());
                ringwire_outcome(&samples[..cut], &options).verdict
            });
            Ok(CaseResult {
                id: case.id.clone(),
                ringwire,
                baseline,
                causal_verdict,
            })
        })
        .collect::<Result<_>>()?;
    let per_case = opts.corpus.join("results.jsonl");
    if let Err(e) = write_results(&per_case, &cases, &results) {
        tracing::warn!("could not write {}: {e:#}", per_case.display());
    }
    let systems = vec![
        metrics("ringwire", &cases, &results, |r| &r.ringwire, true),
        metrics("classic-amd", &cases, &results, |r| &r.baseline, false),
    ];
    Ok(Report {
        corpus: opts.corpus.display().to_string(),
        split: opts.split.map_or("all", Split::as_str).to_string(),
        cases: cases.len(),
        wall_s: t0.elapsed().as_secs_f64(),
        systems,
        results,
    })
}

/// Whether `verdict`, decided at `at_ms`, is a right answer for `case`: one of its accepted verdicts,
/// and for a live call's `human`, made once the person had begun to speak
/// (a guess on ring-back or background talk is no detection).
pub fn is_right(case: &Case, verdict: &str, at_ms: u64) -> bool {
    let guessed = case.class == "human" && verdict == "human" && at_ms < case.greeting_start_ms;
    case.accept.iter().any(|a| a == verdict) && !guessed
}

/// Writes one JSON line per case: the truth and both systems' outcomes.
fn write_results(path: &std::path::Path, cases: &[Case], results: &[CaseResult]) -> Result<()> {
    let f = std::fs::File::create(path)?;
    let mut w = std::io::BufWriter::new(f);
    for (c, r) in cases.iter().zip(results) {
        let ok = |o: &Outcome| is_right(c, &o.verdict, o.at_ms);
        let line = serde_json::json!({
            "id": c.id,
            "kind": c.kind,
            "class": c.class,
            "expected_verdict": c.expected_verdict,
            "greeting_end_ms": c.greeting_end_ms,
            "beep_ms": c.beep.map(|b| b.start_ms),
            "ringwire": r.ringwire,
            "ringwire_correct": ok(&r.ringwire),
            "classic_amd": r.baseline,
            "classic_amd_correct": ok(&r.baseline),
            "causal_verdict": r.causal_verdict,
        });
        serde_json::to_writer(&mut w, &line)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(())
}

fn ratio(num: usize, den: usize) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

fn metrics(
    name: &str,
    cases: &[Case],
    results: &[CaseResult],
    pick: impl Fn(&CaseResult) -> &Outcome,
    detects_beeps: bool,
) -> SystemMetrics {
    let mut correct = 0;
    let (mut humans, mut humans_ok, mut machines, mut machines_ok, mut unknown) = (0, 0, 0, 0, 0);
    let mut human_lat = Vec::new();
    let mut machine_t = Vec::new();
    let mut misclassified = Vec::new();
    let mut by_kind: BTreeMap<String, KindStats> = BTreeMap::new();
    let mut by_cause: BTreeMap<String, usize> = BTreeMap::new();
    let (mut with_beep, mut beep_hits, mut onset_err) = (0, 0, Vec::new());
    let (mut fb_live, mut live, mut fb_dis, mut dis, mut fb_mach) = (0, 0, 0, 0, 0);
    let mut by_band: BTreeMap<String, [usize; 2]> = BTreeMap::new();
    let mut by_noise: BTreeMap<String, [usize; 2]> = BTreeMap::new();
    for (case, r) in cases.iter().zip(results) {
        let o = pick(r);
        let ok = is_right(case, &o.verdict, o.at_ms);
        *by_cause.entry(o.cause.clone()).or_default() += 1;
        let k = by_kind.entry(case.kind.clone()).or_default();
        k.n += 1;
        match o.verdict.as_str() {
            "human" => k.human += 1,
            "machine" => k.machine += 1,
            "unknown" => k.unknown += 1,
            _ => k.error += 1,
        }
        if o.verdict == AmdVerdict::Unknown.as_str() {
            unknown += 1;
        }
        if ok {
            correct += 1;
            k.correct += 1;
        } else {
            misclassified.push(case.id.clone());
        }
        match case.class.as_str() {
            "human" => {
                humans += 1;
                if ok {
                    humans_ok += 1;
                    human_lat.push(o.at_ms as f64 - case.greeting_end_ms as f64);
                }
            }
            "machine" => {
                machines += 1;
                if o.verdict == "machine" {
                    machines_ok += 1;
                    machine_t.push((o.at_ms - o.at_ms.min(case.answer_ms)) as f64);
                }
            }
            _ => {}
        }
        // Beeps.
        let mut matched = false;
        let mut unmatched = 0;
        for &b in &o.beeps_ms {
            match case.beep {
                Some(t) if !matched && b.abs_diff(t.start_ms) <= BEEP_MATCH_MS => {
                    matched = true;
                    onset_err.push(b.abs_diff(t.start_ms) as f64);
                }
                _ => unmatched += 1,
            }
        }
        if let Some(t) = case.beep {
            with_beep += 1;
            beep_hits += matched as usize;
            let band = match t.freq_hz {
                f if f < 700.0 => "350-700",
                f if f < 1400.0 => "700-1400",
                _ => "1400-2100",
            };
            let mut tally = |k: &str| {
                let e = by_band.entry(k.to_string()).or_default();
                e[0] += matched as usize;
                e[1] += 1;
            };
            tally(band);
            if t.parts > 1 {
                tally("double");
            }
            let e = by_noise.entry(case.noise.clone()).or_default();
            e[0] += matched as usize;
            e[1] += 1;
        }
        if case.is_live() {
            live += 1;
            fb_live += unmatched;
        }
        if !case.tones.is_empty() {
            dis += 1;
            fb_dis += unmatched;
        }
        if case.class == "machine" {
            fb_mach += unmatched;
        }
    }
    let causality = detects_beeps.then(|| {
        let mut checked = 0;
        let mut violating_ids = Vec::new();
        for r in results {
            if let Some(v) = &r.causal_verdict {
                checked += 1;
                if *v != r.ringwire.verdict {
                    violating_ids.push(r.id.clone());
                }
            }
        }
        Causality {
            checked,
            violations: violating_ids.len(),
            violating_ids,
        }
    });
    let panics = by_cause.get("panic").copied().unwrap_or(0);
    let misclassified_total = misclassified.len();
    misclassified.truncate(20);
    SystemMetrics {
        system: name.to_string(),
        cases: cases.len(),
        accuracy: ratio(correct, cases.len()),
        human_cases: humans,
        human_recall: ratio(humans_ok, humans),
        machine_cases: machines,
        machine_recall: ratio(machines_ok, machines),
        unknown_rate: ratio(unknown, cases.len()),
        human_latency_ms: Percentiles::of(human_lat),
        machine_time_ms: Percentiles::of(machine_t),
        beep: detects_beeps.then(|| BeepMetrics {
            cases_with_beep: with_beep,
            recall: ratio(beep_hits, with_beep),
            onset_error_ms: Percentiles::of(onset_err),
            false_beeps_live: fb_live,
            live_calls: live,
            false_beeps_per_100_live: ratio(fb_live * 100, live),
            false_beeps_distractor: fb_dis,
            distractor_cases: dis,
            false_beeps_machine: fb_mach,
            recall_by_band: by_band,
            recall_by_noise: by_noise,
        }),
        misclassified,
        misclassified_total,
        by_kind,
        by_cause,
        panics,
        causality,
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |x| format!("{:.1}%", x * 100.0))
}

fn msv(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |x| format!("{x:.0} ms"))
}

/// Prints the side-by-side table for people.
pub fn write_table(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    let s = &report.systems;
    writeln!(
        out,
        "AMD evaluation: {} ({} split, {} cases, {:.1} s)",
        report.corpus, report.split, report.cases, report.wall_s
    )?;
    let mut row = |label: &str, f: &dyn Fn(&SystemMetrics) -> String| -> std::io::Result<()> {
        write!(out, "  {label:<40}")?;
        for m in s {
            write!(out, " {:>16}", f(m))?;
        }
        writeln!(out)
    };
    row("", &|m| m.system.clone())?;
    row("accuracy", &|m| pct(m.accuracy))?;
    row("human recall", &|m| {
        format!("{} /{}", pct(m.human_recall), m.human_cases)
    })?;
    row("machine recall", &|m| {
        format!("{} /{}", pct(m.machine_recall), m.machine_cases)
    })?;
    row("unknown rate", &|m| pct(m.unknown_rate))?;
    row("detector panics", &|m| m.panics.to_string())?;
    row("human decision after greeting end p50", &|m| {
        msv(m.human_latency_ms.p50)
    })?;
    row("human decision after greeting end p95", &|m| {
        msv(m.human_latency_ms.p95)
    })?;
    row("machine decision from answer p50", &|m| {
        msv(m.machine_time_ms.p50)
    })?;
    row("machine decision from answer p95", &|m| {
        msv(m.machine_time_ms.p95)
    })?;
    let b = |m: &SystemMetrics, f: &dyn Fn(&BeepMetrics) -> String| {
        m.beep.as_ref().map_or("n/a".to_string(), f)
    };
    row("beep recall (onset within 200 ms)", &|m| {
        b(m, &|x| format!("{} /{}", pct(x.recall), x.cases_with_beep))
    })?;
    for band in ["350-700", "700-1400", "1400-2100", "double"] {
        row(&format!("  beep recall {band}"), &|m| {
            b(m, &|x| {
                x.recall_by_band
                    .get(band)
                    .map_or("n/a".into(), |[h, n]| format!("{h}/{n}"))
            })
        })?;
    }
    for kind in NoiseKind::ALL {
        let noise = kind.as_str();
        let label = match kind {
            NoiseKind::None => "  beep recall without noise".to_string(),
            _ => format!("  beep recall in {noise} noise"),
        };
        row(&label, &|m| {
            b(m, &|x| {
                x.recall_by_noise
                    .get(noise)
                    .map_or("n/a".into(), |[h, n]| format!("{h}/{n}"))
            })
        })?;
    }
    row("beep onset error p50", &|m| {
        b(m, &|x| msv(x.onset_error_ms.p50))
    })?;
    row("beep onset error p95", &|m| {
        b(m, &|x| msv(x.onset_error_ms.p95))
    })?;
    row("false beeps per 100 live-answer calls", &|m| {
        b(m, &|x| {
            x.false_beeps_per_100_live
                .map_or("n/a".into(), |v| format!("{v:.1}"))
        })
    })?;
    row("false beeps on distractor-tone cases", &|m| {
        b(m, &|x| {
            format!("{} /{}", x.false_beeps_distractor, x.distractor_cases)
        })
    })?;
    row("false beeps on machine cases", &|m| {
        b(m, &|x| x.false_beeps_machine.to_string())
    })?;
    row("causality violations (cut at decision)", &|m| {
        m.causality
            .as_ref()
            .map_or("n/a".into(), |c| format!("{} /{}", c.violations, c.checked))
    })?;
    writeln!(
        out,
        "  (latencies over correctly decided cases only; unknown and wrong verdicts count against recall)"
    )?;
    writeln!(out, "\nBy kind (correct/n):")?;
    let kinds: Vec<&String> = s[0].by_kind.keys().collect();
    for k in kinds {
        write!(out, "  {k:<40}")?;
        for m in s {
            let ks = &m.by_kind[k];
            write!(
                out,
                " {:>16}",
                format!("{}/{} (u{})", ks.correct, ks.n, ks.unknown)
            )?;
        }
        writeln!(out)?;
    }
    for m in s {
        writeln!(
            out,
            "\n{}: decisions by cause: {}",
            m.system,
            m.by_cause
                .iter()
                .map(|(c, n)| format!("{c} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        writeln!(
            out,
            "{}: misclassified {} (first {}): {}",
            m.system,
            m.misclassified_total,
            m.misclassified.len(),
            m.misclassified.join(" ")
        )?;
    }
    Ok(())
}

/// Prints the metrics as one JSON object.
pub fn write_json(out: &mut dyn Write, report: &Report) -> Result<()> {
    serde_json::to_writer(&mut *out, report)?;
    writeln!(out)?;
    Ok(())
}

/// `ringwire evaluate`: evaluates and prints the table (or JSON) to stdout.
pub fn run_command(
    corpus: PathBuf,
    split: Option<Split>,
    json: bool,
    causality_cases: usize,
    amd: AmdConfig,
    beep: BeepConfig,
) -> Result<std::process::ExitCode> {
    let report = evaluate(&EvalOptions {
        corpus,
        split,
        causality_cases,
        amd,
        beep,
    })?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if json {
        write_json(&mut out, &report)?;
    } else {
        write_table(&mut out, &report)?;
    }
    out.flush()?;
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let p = Percentiles::of((1..=100).map(|v| v as f64).collect());
        assert_eq!((p.p50, p.p95), (Some(50.0), Some(95.0)));
        let e = Percentiles::of(vec![]);
        assert_eq!((e.n, e.p50), (0, None));
    }
}
