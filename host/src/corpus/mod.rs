//! The AMD corpus: synthetic calls with ground truth, for tuning and
//! evaluating answering-machine and beep detection (`ringwire corpus`).
//!
//! `generate` writes `DIR/cases.jsonl` (one [`Case`] per line) and one
//! 8 kHz mono 16-bit WAV per case under `DIR/wav/`, already through a G.711
//! round trip in the case's law. Speech comes from espeak-ng (Debian
//! package `espeak-ng`), resampled with [`ringwire_media::resample`].
//!
//! Two splits: `tune` (for tuning detectors) and `heldout` (for reporting).
//! They use **disjoint voices and disjoint texts** ([`texts`]): the held-out
//! figures are on speakers and words the tuning never saw. Everything else
//! (levels, noises, silences, beeps, tones) is drawn from the same ranges.
//!
//! Case kinds (`kind` in the JSON; shares are of the cases generated):
//!
//! | kind | class | what it is |
//! |---|---|---|
//! | `human-short` | human | "Hello?", "Hi, this is Dana.", then 2-4 s of waiting, sometimes a second hello |
//! | `human-double-hello` | human | hello, 1.2-3 s of silence, hello again, waiting |
//! | `human-long` | human | receptionist greeting (2.5-4.5 s; the speed is adjusted to fit), waiting |
//! | `human-call-waiting` | human | live answer with a 440 Hz 300 ms call-waiting tone |
//! | `human-recorder-warning` | human | live answer with the 1400 Hz 500 ms / 15 s recorder warning |
//! | `human-dtmf` | human | live answer, then DTMF digits |
//! | `human-ringback` | human | ring-back (US, UK or EU) before the person answers |
//! | `machine-short` | machine | "Please leave a message." |
//! | `machine-long` | machine | 5-20 s voicemail / after-hours / carrier greeting |
//! | `busy` | distractor | busy tone (expected `unknown`; `machine` also accepted) |
//! | `sit` | distractor | SIT tones + intercept announcement (expected `machine`; `unknown` also accepted) |
//!
//! Machines get a beep (one tone 350-2100 Hz, 150 ms-1.5 s; a fifth of them
//! a double beep) in 70% of cases, 0.1-1 s after the greeting, then 3 s of
//! silence or line noise. Every case: leading silence 0-2 s, speech RMS
//! -30..-12 dBFS (peaks kept under -1 dBFS), noise none/white/pink/babble at
//! 12-40 dB SNR (against the speech RMS), µ-law or A-law, speed 130-200 wpm
//! (receptionist greetings 110-230 wpm, adjusted to last 2.5-4.5 s),
//! pitch 20-80. Times in `cases.jsonl` are ms from answer (`answer_ms` = 0,
//! the first sample of the WAV).
pub mod synth;
pub mod texts;

use anyhow::{Context, Result};
use rayon::prelude::*;
use ringwire_dsp::g711::Law;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use synth::{ms, to_ms, NoiseKind, Rng, Voice};
use texts::Category;

/// Which split to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Voices and texts for tuning.
    Tune,
    /// Other voices and texts, for reporting.
    Heldout,
}

impl Split {
    /// `tune` or `heldout`.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Tune => "tune",
            Split::Heldout => "heldout",
        }
    }
}

/// A beep in the ground truth.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BeepTruth {
    /// Onset, ms from answer.
    pub start_ms: u64,
    /// End of the (last part of the) beep, ms.
    pub end_ms: u64,
    /// Frequency, Hz (of the first part).
    pub freq_hz: f64,
    /// 1, or 2 for a double beep.
    pub parts: u32,
}

/// A non-speech tone in the call that is not a voicemail beep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToneTruth {
    /// `call-waiting`, `recorder-warning`, `ringback-us|uk|eu`, `busy`, `sit`, `dtmf`.
    pub kind: String,
    /// First onset, ms.
    pub start_ms: u64,
    /// Last offset, ms.
    pub end_ms: u64,
    /// Frequencies, Hz.
    pub freqs_hz: Vec<f64>,
    /// For DTMF: the digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digits: Option<String>,
}

/// One case of the corpus: a line of `cases.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// Unique id, e.g. `heldout-0042`.
    pub id: String,
    /// WAV path relative to the corpus directory.
    pub wav: String,
    /// `tune` or `heldout`.
    pub split: Split,
    /// `human`, `machine` or `distractor`.
    pub class: String,
    /// Kind of case (see the module doc).
    pub kind: String,
    /// `human`, `machine` or `unknown`.
    pub expected_verdict: String,
    /// Verdicts counted as correct (the expected one first).
    pub accept: Vec<String>,
    /// Always 0: the WAV starts at answer.
    pub answer_ms: u64,
    /// Silence before anything is heard, ms.
    pub leading_silence_ms: u64,
    /// Start of the (first) greeting utterance, ms.
    pub greeting_start_ms: u64,
    /// End of the first live greeting utterance (human) or of the machine
    /// greeting / announcement, ms.
    pub greeting_end_ms: u64,
    /// Length of the WAV, ms.
    pub duration_ms: u64,
    /// The voicemail beep, if any.
    pub beep: Option<BeepTruth>,
    /// Other tones in the call (distractors for the beep detector).
    pub tones: Vec<ToneTruth>,
    /// espeak-ng voice.
    pub voice: String,
    /// Words per minute.
    pub speed: u32,
    /// espeak pitch.
    pub pitch: u32,
    /// Text id, `split/category-index` (e.g. `tune/ml-03`).
    pub text_id: String,
    /// The greeting text.
    pub text: String,
    /// `none`, `white`, `pink`, `babble`.
    pub noise: String,
    /// Speech to noise ratio, dB (null without noise).
    pub snr_db: Option<f64>,
    /// RMS of the (first) greeting, dBFS.
    pub level_dbfs: f64,
    /// `ulaw` or `alaw`.
    pub law: String,
}

impl Case {
    /// True for calls a live person answered.
    pub fn is_live(&self) -> bool {
        self.class == "human"
    }
}

/// Kinds of cases and their weights in a corpus.
const KINDS: [(&str, u32); 11] = [
    ("human-short", 14),
    ("human-double-hello", 6),
    ("human-long", 8),
    ("human-call-waiting", 3),
    ("human-recorder-warning", 3),
    ("human-dtmf", 2),
    ("human-ringback", 4),
    ("machine-short", 8),
    ("machine-long", 22),
    ("busy", 2),
    ("sit", 3),
];

/// The kind of each of `n` cases: smooth weighted round robin, so any
/// prefix of the corpus has about the right mix.
pub fn kind_schedule(n: usize) -> Vec<&'static str> {
    let total: i64 = KINDS.iter().map(|k| k.1 as i64).sum();
    let mut current = [0i64; KINDS.len()];
    (0..n)
        .map(|_| {
            for (c, k) in current.iter_mut().zip(KINDS.iter()) {
                *c += k.1 as i64;
            }
            let (best, _) = current
                .iter()
                .enumerate()
                .max_by_key(|(i, c)| (**c, -(*i as i64)))
                .unwrap();
            current[best] -= total;
            KINDS[best].0
        })
        .collect()
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Output directory (created).
    pub out: PathBuf,
    /// Which split's voices and texts.
    pub split: Split,
    /// Number of cases.
    pub cases: usize,
    /// Seed; the same seed and split give the same cases (a smaller count
    /// gives a prefix of a larger one).
    pub seed: u64,
}

/// What was generated.
#[derive(Debug, Clone)]
pub struct GenerateSummary {
    /// The cases, in order.
    pub cases: Vec<Case>,
    /// Total audio, seconds.
    pub audio_s: f64,
    /// Wall time, seconds.
    pub wall_s: f64,
}

/// Generates a corpus (in parallel on all rayon threads).
pub fn generate(opts: &GenerateOptions) -> Result<GenerateSummary> {
    let t0 = std::time::Instant::now();
    let wav_dir = opts.out.join("wav");
    std::fs::create_dir_all(&wav_dir).with_context(|| format!("creating {}", wav_dir.display()))?;
    let kinds = kind_schedule(opts.cases);
    let results: Vec<Result<(Case, usize)>> = kinds
        .par_iter()
        .enumerate()
        .map(|(i, kind)| {
            let (case, samples) = make_indexed_case(opts.split, opts.seed, i, kind)?;
            let path = opts.out.join(&case.wav);
            std::fs::write(&path, synth::wav_bytes(&samples))
                .with_context(|| format!("writing {}", path.display()))?;
            Ok((case, samples.len()))
        })
        .collect();
    let mut cases = Vec::with_capacity(results.len());
    let mut samples = 0usize;
    for r in results {
        let (c, n) = r?;
        cases.push(c);
        samples += n;
    }
    write_cases(&opts.out.join("cases.jsonl"), &cases)?;
    Ok(GenerateSummary {
        cases,
        audio_s: samples as f64 / synth::RATE,
        wall_s: t0.elapsed().as_secs_f64(),
    })
}

/// Case `index` of the corpus of `split` and `seed`, and its samples, as
/// [`generate`] makes it (without writing it): one case of a corpus,
/// e.g. for a test.
pub fn generate_case(split: Split, seed: u64, index: usize) -> Result<(Case, Vec<i16>)> {
    let kind = kind_schedule(index + 1)[index];
    make_indexed_case(split, seed, index, kind)
}

/// Case `index` (of kind `kind`) of the corpus of `split` and `seed`.
fn make_indexed_case(
    split: Split,
    seed: u64,
    index: usize,
    kind: &str,
) -> Result<(Case, Vec<i16>)> {
    let case_seed = seed.wrapping_mul(0x100_0000_01b3)
        ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ match split {
            Split::Tune => 0x7475_6e65,
            Split::Heldout => 0x6865_6c64,
        };
    let id = format!("{}-{:04}", split.as_str(), index);
    make_case(&id, split, kind, &mut Rng::new(case_seed))
        .with_context(|| format!("case {id} ({kind})"))
}

/// `ringwire corpus`: generates and prints a one-line summary to stderr.
pub fn run_command(
    out: PathBuf,
    split: Split,
    cases: usize,
    seed: u64,
) -> Result<std::process::ExitCode> {
    let s = generate(&GenerateOptions {
        out: out.clone(),
        split,
        cases,
        seed,
    })?;
    let count = |class: &str| s.cases.iter().filter(|c| c.class == class).count();
    eprintln!(
        "ringwire: {} {} cases ({} human, {} machine, {} distractor; {} with a beep), {:.0} s of audio in {:.1} s -> {}",
        s.cases.len(),
        split.as_str(),
        count("human"),
        count("machine"),
        count("distractor"),
        s.cases.iter().filter(|c| c.beep.is_some()).count(),
        s.audio_s,
        s.wall_s,
        out.join("cases.jsonl").display()
    );
    Ok(std::process::ExitCode::SUCCESS)
}

/// Writes `cases` as JSON lines.
pub fn write_cases(path: &Path, cases: &[Case]) -> Result<()> {
    let f = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = std::io::BufWriter::new(f);
    for c in cases {
        serde_json::to_writer(&mut w, c)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(())
}

/// Reads `DIR/cases.jsonl`.
pub fn read_cases(dir: &Path) -> Result<Vec<Case>> {
    let path = dir.join("cases.jsonl");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            serde_json::from_str(l).with_context(|| format!("{}:{}", path.display(), n + 1))
        })
        .collect()
}

fn pick_text(rng: &mut Rng, split: Split, cat: Category) -> (String, &'static str) {
    let set = texts::texts(split, cat);
    let i = rng.index(set.texts.len());
    (texts::text_id(split, &set, i), set.texts[i])
}

fn pick_voice(rng: &mut Rng, split: Split) -> Voice {
    let v = texts::voices(split);
    Voice {
        name: v[rng.index(v.len())].to_string(),
        wpm: rng.int(130, 200),
        pitch: rng.int(20, 80),
    }
}

/// Scale that brings `x` to RMS `level_dbfs`, limited so peaks stay under
/// -1 dBFS; returns (gain, the level reached).
fn level_gain(x: &[f64], level_dbfs: f64) -> (f64, f64) {
    let r = synth::rms(x).max(1.0);
    let peak = x.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1.0);
    let mut gain = synth::dbfs_to_rms(level_dbfs) / r;
    let max_gain = synth::dbfs_to_rms(-1.0) / peak;
    if gain > max_gain {
        gain = max_gain;
    }
    (gain, 20.0 * (r * gain / synth::FULL_SCALE).log10())
}

fn ms_u(samples: usize) -> u64 {
    to_ms(samples).round() as u64
}

fn tone_truth(kind: &str, on: &[(usize, usize)], freqs: &[f64]) -> ToneTruth {
    ToneTruth {
        kind: kind.to_string(),
        start_ms: on.first().map_or(0, |o| ms_u(o.0)),
        end_ms: on.last().map_or(0, |o| ms_u(o.1)),
        freqs_hz: freqs.to_vec(),
        digits: None,
    }
}

/// Builds one case: its truth and its samples (after G.711).
fn make_case(id: &str, split: Split, kind: &str, rng: &mut Rng) -> Result<(Case, Vec<i16>)> {
    let mut voice = pick_voice(rng, split);
    let lead = ms(rng.range(0.0, 2000.0));
    let level = rng.range(-30.0, -12.0);
    let law = if rng.chance(0.5) {
        Law::Ulaw
    } else {
        Law::Alaw
    };
    let noise_kind = match rng.index(8) {
        0 | 1 => NoiseKind::None,
        2 | 3 => NoiseKind::White,
        4 | 5 => NoiseKind::Pink,
        _ => NoiseKind::Babble,
    };
    let snr = rng.range(12.0, 40.0);
    let scene = match kind {
        "busy" => busy(rng, lead, level),
        "sit" => sit(rng, split, &voice, lead, level)?,
        "machine-short" | "machine-long" => machine(rng, split, &mut voice, kind, lead, level)?,
        _ => live(rng, split, &mut voice, kind, lead, level)?,
    };
    let Scene {
        class,
        expected,
        accept,
        text_id,
        text,
        greeting: (g_start, g_end),
        level_reached,
        tones,
        beep,
        mut x,
    } = scene;

    // Line noise over the whole call.
    let len = x.len();
    let noise_rms = synth::dbfs_to_rms(level_reached - snr);
    let noise = match noise_kind {
        NoiseKind::None => None,
        NoiseKind::White => Some(synth::white(rng, len)),
        NoiseKind::Pink => Some(synth::pink(rng, len)),
        NoiseKind::Babble => {
            let talkers = (0..rng.int(3, 4))
                .map(|_| {
                    let v = pick_voice(rng, split);
                    let (_, tx) = pick_text(rng, split, Category::Babble);
                    synth::speak(&v, tx)
                })
                .collect::<Result<Vec<_>>>()?;
            Some(synth::babble(rng, len, &talkers))
        }
    };
    if let Some(n) = &noise {
        synth::mix(&mut x, 0, n, noise_rms);
    }
    let samples = synth::g711_round_trip(&x, law);
    let case = Case {
        id: id.to_string(),
        wav: format!("wav/{id}.wav"),
        split,
        class: class.to_string(),
        kind: kind.to_string(),
        expected_verdict: expected.to_string(),
        accept: accept.iter().map(|s| s.to_string()).collect(),
        answer_ms: 0,
        leading_silence_ms: ms_u(lead),
        greeting_start_ms: ms_u(g_start),
        greeting_end_ms: ms_u(g_end),
        duration_ms: ms_u(samples.len()),
        beep,
        tones,
        voice: voice.name.clone(),
        speed: voice.wpm,
        pitch: voice.pitch,
        text_id,
        text: text.to_string(),
        noise: noise_kind.as_str().to_string(),
        snr_db: noise.as_ref().map(|_| (snr * 10.0).round() / 10.0),
        level_dbfs: (level_reached * 10.0).round() / 10.0,
        law: match law {
            Law::Ulaw => "ulaw",
            Law::Alaw => "alaw",
        }
        .to_string(),
    };
    Ok((case, samples))
}

/// A case's content before line noise: its truth and its signal.
struct Scene {
    /// "human", "machine" or "distractor".
    class: &'static str,
    /// The verdict a detector should give, and those it may give.
    expected: &'static str,
    accept: &'static [&'static str],
    /// The text spoken (empty for tones alone), and its id.
    text_id: String,
    text: &'static str,
    /// Start and end of the greeting (or of what stands for it), samples.
    greeting: (usize, usize),
    /// The speech level reached, dBFS (line noise is set against it).
    level_reached: f64,
    tones: Vec<ToneTruth>,
    beep: Option<BeepTruth>,
    /// The signal, at 8 kHz.
    x: Vec<f64>,
}

/// A tone's RMS in a case whose speech is at `level` dBFS: 3 dB under it,
/// give or take 4 dB.
fn tone_rms(rng: &mut Rng, level: f64) -> f64 {
    synth::dbfs_to_rms(level - 3.0 + rng.range(-4.0, 4.0))
}

/// A busy tone (US 480+620 Hz or EU 425 Hz, 500 ms on and off) from the
/// lead on, for 5-8 s: no one answered.
fn busy(rng: &mut Rng, lead: usize, level: f64) -> Scene {
    let mut x: Vec<f64> = Vec::new();
    let mut tones: Vec<ToneTruth> = Vec::new();
    let (freqs, name): (&[f64], &str) = if rng.chance(0.5) {
        (&[480.0, 620.0], "busy-us")
    } else {
        (&[425.0], "busy-eu")
    };
    let end = lead + ms(rng.range(5000.0, 8000.0));
    let r = tone_rms(rng, level);
    let on = synth::add_cadence(&mut x, lead, end, freqs, &[(500.0, 500.0)], r);
    x.resize(end, 0.0);
    tones.push(tone_truth(name, &on, freqs));
    Scene {
        class: "distractor",
        expected: "unknown",
        accept: &["unknown", "machine"],
        text_id: String::new(),
        text: "",
        greeting: (lead, end),
        level_reached: level,
        tones,
        beep: None,
        x,
    }
}

/// The special information tones, then an intercept announcement.
fn sit(rng: &mut Rng, split: Split, voice: &Voice, lead: usize, level: f64) -> Result<Scene> {
    let mut x: Vec<f64> = Vec::new();
    let mut tones: Vec<ToneTruth> = Vec::new();
    let r = tone_rms(rng, level);
    let sit = [913.8, 1370.6, 1776.7];
    let mut t = lead;
    for f in sit {
        let len = ms(rng.range(276.0, 380.0));
        synth::mix(&mut x, t, &synth::tone(&[f], len, r), 1.0);
        t += len;
    }
    tones.push(ToneTruth {
        kind: "sit".into(),
        start_ms: ms_u(lead),
        end_ms: ms_u(t),
        freqs_hz: sit.to_vec(),
        digits: None,
    });
    let (tid, tx) = pick_text(rng, split, Category::Announcement);
    let speech = synth::speak(voice, tx)?;
    let (gain, lv) = level_gain(&speech, level);
    let s0 = t + ms(rng.range(50.0, 400.0));
    synth::mix(&mut x, s0, &speech, gain);
    let end = s0 + speech.len();
    x.resize(end + ms(rng.range(1000.0, 3000.0)), 0.0);
    Ok(Scene {
        class: "distractor",
        expected: "machine",
        accept: &["machine", "unknown"],
        text_id: tid,
        text: tx,
        greeting: (lead, end),
        level_reached: lv,
        tones,
        beep: None,
        x,
    })
}

/// A voicemail greeting (short, or long: 5 s or more), with a beep after
/// it in 70% of cases, then 3 s of the recording's silence.
fn machine(
    rng: &mut Rng,
    split: Split,
    voice: &mut Voice,
    kind: &str,
    lead: usize,
    level: f64,
) -> Result<Scene> {
    let mut x: Vec<f64> = Vec::new();
    let tones: Vec<ToneTruth> = Vec::new();
    let mut beep: Option<BeepTruth> = None;
    let cat = if kind == "machine-short" {
        Category::MachineShort
    } else {
        Category::MachineLong
    };
    let (mut tid, mut tx) = pick_text(rng, split, cat);
    let mut speech = synth::speak(voice, tx)?;
    // Long greetings last 5-20 s: draw again (text, then a slower
    // speed) until one does.
    let mut tries = 0;
    while cat == Category::MachineLong && speech.len() < ms(5000.0) && tries < 8 {
        tries += 1;
        (tid, tx) = pick_text(rng, split, cat);
        voice.wpm = rng.int(130, 200 - 8 * tries);
        speech = synth::speak(voice, tx)?;
    }
    let (gain, lv) = level_gain(&speech, level);
    synth::mix(&mut x, lead, &speech, gain);
    let end = lead + speech.len();
    let mut t = end;
    if rng.chance(0.7) {
        t += ms(rng.range(100.0, 1000.0));
        let f = rng.range(350.0, 2100.0);
        let r = synth::dbfs_to_rms(lv + rng.range(-6.0, 6.0)).min(synth::dbfs_to_rms(-6.0));
        let b0 = t;
        let parts = if rng.chance(0.2) { 2 } else { 1 };
        if parts == 1 {
            let len = ms(rng.range(150.0, 1500.0));
            synth::mix(&mut x, t, &synth::tone(&[f], len, r), 1.0);
            t += len;
        } else {
            let f2 = if rng.chance(0.5) {
                f
            } else {
                rng.range(350.0, 2100.0)
            };
            for (k, ff) in [f, f2].into_iter().enumerate() {
                if k == 1 {
                    t += ms(rng.range(80.0, 200.0));
                }
                let len = ms(rng.range(150.0, 400.0));
                synth::mix(&mut x, t, &synth::tone(&[ff], len, r), 1.0);
                t += len;
            }
        }
        beep = Some(BeepTruth {
            start_ms: ms_u(b0),
            end_ms: ms_u(t),
            freq_hz: (f * 10.0).round() / 10.0,
            parts,
        });
    }
    x.resize(t + ms(3000.0), 0.0);
    Ok(Scene {
        class: "machine",
        expected: "machine",
        accept: &["machine"],
        text_id: tid,
        text: tx,
        greeting: (lead, end),
        level_reached: lv,
        tones,
        beep,
        x,
    })
}

/// A live answer: after a ring-back or not, a short or receptionist
/// greeting (and sometimes a second hello), waiting, and the kind's tones
/// (call waiting, the recorder warning, DTMF).
fn live(
    rng: &mut Rng,
    split: Split,
    voice: &mut Voice,
    kind: &str,
    lead: usize,
    level: f64,
) -> Result<Scene> {
    let mut x: Vec<f64> = Vec::new();
    let mut tones: Vec<ToneTruth> = Vec::new();
    let mut start = lead;
    // Live answers.
    if kind == "human-ringback" {
        let (name, freqs, cadence): (&str, &[f64], &[(f64, f64)]) = match rng.index(3) {
            0 => ("ringback-us", &[440.0, 480.0], &[(2000.0, 4000.0)]),
            1 => (
                "ringback-uk",
                &[400.0, 450.0],
                &[(400.0, 200.0), (400.0, 2000.0)],
            ),
            _ => ("ringback-eu", &[425.0], &[(1000.0, 4000.0)]),
        };
        let period: f64 = cadence.iter().map(|c| c.0 + c.1).sum();
        let cycles = rng.int(1, 2) as f64;
        let on_end = lead + ms(period * (cycles - 1.0) + (period - cadence.last().unwrap().1));
        let r = tone_rms(rng, level);
        let on = synth::add_cadence(&mut x, lead, on_end, freqs, cadence, r);
        tones.push(tone_truth(name, &on, freqs));
        // The person picks up during the silence after the last ring.
        let last_off = on.last().map_or(lead, |o| o.1);
        start = last_off + ms(rng.range(300.0, cadence.last().unwrap().1.min(2500.0)));
    }
    let cat = if kind == "human-long" {
        Category::HumanLong
    } else {
        Category::HumanShort
    };
    let (tid, tx) = pick_text(rng, split, cat);
    let mut speech = synth::speak(voice, tx)?;
    // Receptionist greetings last 2.5-4.5 s: adjust the speed.
    let mut tries = 0;
    while cat == Category::HumanLong && tries < 8 {
        let len = speech.len() as f64 / ms(1000.0) as f64;
        if (2.5..=4.5).contains(&len) {
            break;
        }
        tries += 1;
        let target = rng.range(2.8, 4.2);
        voice.wpm = ((voice.wpm as f64 * len / target).round() as u32).clamp(110, 230);
        speech = synth::speak(voice, tx)?;
    }
    let (gain, lv) = level_gain(&speech, level);
    synth::mix(&mut x, start, &speech, gain);
    let end = start + speech.len();
    let mut t = end;
    let second_gain = gain * 10f64.powf(rng.range(-3.0, 3.0) / 20.0);
    if kind == "human-double-hello" {
        t += ms(rng.range(1200.0, 3000.0));
        let (_, h2) = pick_text(rng, split, Category::SecondHello);
        let s2 = synth::speak(voice, h2)?;
        synth::mix(&mut x, t, &s2, second_gain);
        t += s2.len();
    }
    let wait = ms(rng.range(2000.0, 4000.0));
    if kind != "human-double-hello" && rng.chance(0.3) {
        let (_, h2) = pick_text(rng, split, Category::SecondHello);
        let s2 = synth::speak(voice, h2)?;
        synth::mix(&mut x, t + wait, &s2, second_gain);
        t += wait + s2.len() + ms(rng.range(1000.0, 2000.0));
    } else {
        t += wait;
    }
    x.resize(t, 0.0);
    let after = end + ms(200.0);
    let span = t.saturating_sub(after);
    match kind {
        "human-call-waiting" => {
            let at = after + rng.index(span.saturating_sub(ms(300.0)).max(1));
            let r = tone_rms(rng, level);
            synth::mix(&mut x, at, &synth::tone(&[440.0], ms(300.0), r), 1.0);
            tones.push(tone_truth(
                "call-waiting",
                &[(at, at + ms(300.0))],
                &[440.0],
            ));
        }
        "human-recorder-warning" => {
            // 500 ms every 15 s, first one anywhere in the call.
            let first = rng.index(t.saturating_sub(ms(500.0)).max(1));
            let r = tone_rms(rng, level);
            let on = synth::add_cadence(&mut x, first, t, &[1400.0], &[(500.0, 14500.0)], r);
            tones.push(tone_truth("recorder-warning", &on, &[1400.0]));
        }
        "human-dtmf" => {
            let n = rng.int(2, 5) as usize;
            let mut at = after + rng.index(ms(500.0));
            let mut digits = String::new();
            let t0 = at;
            let r = tone_rms(rng, level);
            for _ in 0..n {
                let d = ringwire_dsp::signal::DTMF_DIGITS[rng.index(12)];
                let (lo, hi) = ringwire_dsp::signal::dtmf_freqs(d).unwrap();
                let len = ms(rng.range(80.0, 120.0));
                synth::mix(&mut x, at, &synth::tone(&[lo, hi], len, r), 1.0);
                at += len + ms(rng.range(80.0, 150.0));
                digits.push(d);
            }
            let mut tt = tone_truth("dtmf", &[(t0, at)], &[]);
            tt.digits = Some(digits);
            tones.push(tt);
        }
        _ => {}
    }
    Ok(Scene {
        class: "human",
        expected: "human",
        accept: &["human"],
        text_id: tid,
        text: tx,
        greeting: (start, end),
        level_reached: lv,
        tones,
        beep: None,
        x,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_mixes_kinds_in_proportion() {
        let s = kind_schedule(75);
        let count = |k: &str| s.iter().filter(|x| **x == k).count();
        for (k, w) in KINDS {
            assert_eq!(count(k), w as usize, "{k}");
        }
        let s24 = kind_schedule(24);
        assert!(s24.iter().any(|k| k.starts_with("human")));
        assert!(s24.iter().any(|k| k.starts_with("machine")));
    }
}
