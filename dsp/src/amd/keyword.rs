//! Voicemail-phrase spotter: a small trained model that fires at the end of
//! "message", "tone" or "beep" as voicemail greetings say them ("leave a
//! message", "after the tone", "at the beep"), the cue a short machine
//! greeting without a beep gives that timing cannot ("Leave a message."
//! then silence sounds, to a timer, like "Hello?" then silence).
//!
//! Every 20 ms it summarises the last four feature blocks (level, lag-1 and
//! lag-2 autocorrelation over the energy, zero-crossing rate, and the eight
//! DFT bins' share of the energy, in log units), and every 40 ms or so
//! scores the last 600 ms of those summaries with a perceptron of one hidden layer.
//! The weights are in `keyword_model`, written by `scripts/keyword/train.py` from
//! espeak-ng speech of the tune split's voices: see that script for the data
//! and the training.
//! Only feature blocks go in, so the FPGA backend serves it as well.
use super::keyword_model as model;
use crate::fastmath::{log10, log10_of_normal};
use crate::features::{FeatureBlock, BINS, BLOCK_LEN, TWIDDLE_SCALE};

/// Feature blocks per spotter frame (20 ms).
pub const BLOCKS_PER_FRAME: u32 = 4;

/// Summaries per spotter frame: level, two lags, zero crossings, the bins.
pub const FRAME_FEATURES: usize = 4 + BINS;

/// Frames the model scores at once (600 ms).
pub const WINDOW: usize = 30;

const INPUTS: usize = FRAME_FEATURES * WINDOW;

/// A score is due on every second frame (40 ms), and on every frame after
/// a score of at least [`NEAR_SCORE`]: the model fires on the few frames
/// around a keyword's end, and the frames next to them score well above
/// nothing, so the peak is not stepped over, at half the cost.
const SCORE_EVERY: u32 = 2;

/// See [`SCORE_EVERY`].
const NEAR_SCORE: f32 = 0.2;

/// Lowest level kept, relative to the window's loudest frame, dB.
const LEVEL_FLOOR_DB: f32 = -40.0;

/// Added to each bin's share of the energy before its logarithm: bins
/// 40 dB below the frame count as empty.
const BIN_SHARE_FLOOR: f64 = 1e-4;

/// Sums of four blocks' features.
#[derive(Debug, Clone, Copy, Default)]
struct FrameSums {
    energy: u64,
    acf: [i64; 2],
    zero_crossings: u32,
    power: [u64; BINS],
    blocks: u32,
}

/// Streaming spotter for one channel: feed it every feature block, and ask
/// for a [`KeywordSpotter::score`] after any frame.
#[derive(Debug, Clone)]
pub struct KeywordSpotter {
    sums: FrameSums,
    /// The last [`WINDOW`] frames' summaries (ring, oldest at `next`).
    frames: [[f32; FRAME_FEATURES]; WINDOW],
    next: usize,
    filled: usize,
    /// Frames summarised so far.
    frames_seen: u32,
    /// The last score given.
    last_score: f32,
}

impl Default for KeywordSpotter {
    fn default() -> Self {
        Self {
            sums: FrameSums::default(),
            frames: [[0.0; FRAME_FEATURES]; WINDOW],
            next: 0,
            filled: 0,
            frames_seen: 0,
            last_score: 0.0,
        }
    }
}

impl KeywordSpotter {
    /// Adds a block; returns whether a score is due: it completed a 20 ms
    /// frame, one of every `SCORE_EVERY` or one after a near score.
    #[inline]
    pub fn push(&mut self, block: &FeatureBlock) -> bool {
        let s = &mut self.sums;
        s.energy += block.energy as u64;
        s.acf[0] += block.acf[0] as i64;
        s.acf[1] += block.acf[1] as i64;
        s.zero_crossings += block.zero_crossings;
        for (k, p) in s.power.iter_mut().enumerate() {
            *p += block.power(k);
        }
        s.blocks += 1;
        if s.blocks < BLOCKS_PER_FRAME {
            return false;
        }
        self.frames[self.next] = summarise(&self.sums);
        self.sums = FrameSums::default();
        self.next = (self.next + 1) % WINDOW;
        self.filled = (self.filled + 1).min(WINDOW);
        self.frames_seen = self.frames_seen.wrapping_add(1);
        self.frames_seen.is_multiple_of(SCORE_EVERY) || self.last_score >= NEAR_SCORE
    }

    /// The model's score (0..1) that the last 600 ms end a voicemail
    /// keyword; 0 until 600 ms have been heard.
    pub fn score(&mut self) -> f32 {
        if self.filled < WINDOW {
            return 0.0;
        }
        let mut input = [0.0f32; INPUTS];
        let loudest = self.frames.iter().map(|f| f[0]).fold(f32::MIN, f32::max);
        for age in 0..WINDOW {
            let frame = &self.frames[(self.next + age) % WINDOW];
            let slot = &mut input[age * FRAME_FEATURES..(age + 1) * FRAME_FEATURES];
            slot.copy_from_slice(frame);
            slot[0] = (frame[0] - loudest).max(LEVEL_FLOOR_DB) / 10.0;
        }
        self.last_score = perceptron(&input);
        self.last_score
    }
}

/// One frame's summary, as the trainer computes it.
fn summarise(s: &FrameSums) -> [f32; FRAME_FEATURES] {
    let energy = s.energy as f64 + 1.0;
    let samples = (BLOCK_LEN as u32 * BLOCKS_PER_FRAME) as f64;
    // an on-bin sine of energy E puts E * (BLOCK_LEN / 2) * S^2 in its bin
    let full = energy * (BLOCK_LEN as f64 / 2.0) * TWIDDLE_SCALE * TWIDDLE_SCALE;
    let mut out = [0.0f32; FRAME_FEATURES];
    out[0] = 10.0 * log10((energy / samples) as f32);
    out[1] = (s.acf[0] as f64 / energy) as f32;
    out[2] = (s.acf[1] as f64 / energy) as f32;
    out[3] = (s.zero_crossings as f64 / ((BLOCK_LEN as u32 - 1) * BLOCKS_PER_FRAME) as f64) as f32;
    // single precision from here: the shares need no more than 1e-4 of
    // their 40 dB range; each `p + floor` is at least `floor`, normal
    let floor = (BIN_SHARE_FLOOR * full) as f32;
    let log_full = log10(full as f32);
    for (o, &p) in out[4..].iter_mut().zip(&s.power) {
        *o = log10_of_normal(p as f32 + floor) - log_full;
    }
    out
}

/// The trained model: one hidden layer of ReLU units, a logistic output.
/// The same arithmetic, in the same order, on every CPU (no fused
/// multiply-add), so every machine makes the same decisions.
fn perceptron(input: &[f32; INPUTS]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU runs AVX2, checked just above.
        return unsafe { perceptron_avx2(input) };
    }
    layers(input)
}

/// The first layer in 256-bit vectors: the hidden sums of the even inputs
/// and those of the odd ones are `HIDDEN / 8` registers each (two chains
/// of additions, so each waits half as long on the one before), each input
/// broadcast and multiplied in, then added (no fused multiply-add: the same
/// roundings as [`layers`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn perceptron_avx2(input: &[f32; INPUTS]) -> f32 {
    use std::arch::x86_64::*;
    const VECS: usize = model::HIDDEN / 8;
    const _: () = assert!(model::HIDDEN.is_multiple_of(8), "whole vectors of eight");
    const _: () = assert!(INPUTS.is_multiple_of(2), "pairs of inputs");
    // SAFETY (all loads and stores): `B1`, each `HIDDEN`-long row of `W1`
    // and `hidden` hold `HIDDEN` floats, read and written in `VECS` runs
    // of 8.
    let b = model::B1.as_ptr();
    let mut even = [_mm256_setzero_ps(); VECS];
    for (k, sums) in even.iter_mut().enumerate() {
        *sums = _mm256_loadu_ps(b.add(8 * k));
    }
    let mut odd = [_mm256_setzero_ps(); VECS];
    for (x, rows) in input
        .chunks_exact(2)
        .zip(model::W1.chunks_exact(2 * model::HIDDEN))
    {
        let (x0, x1) = (_mm256_set1_ps(x[0]), _mm256_set1_ps(x[1]));
        let w = rows.as_ptr();
        for k in 0..VECS {
            let w0 = _mm256_loadu_ps(w.add(8 * k));
            let w1 = _mm256_loadu_ps(w.add(model::HIDDEN + 8 * k));
            even[k] = _mm256_add_ps(even[k], _mm256_mul_ps(x0, w0));
            odd[k] = _mm256_add_ps(odd[k], _mm256_mul_ps(x1, w1));
        }
    }
    let mut hidden = [0.0f32; model::HIDDEN];
    for k in 0..VECS {
        _mm256_storeu_ps(
            hidden.as_mut_ptr().add(8 * k),
            _mm256_add_ps(even[k], odd[k]),
        );
    }
    output(&hidden)
}

/// The model in portable code: the reference (the same additions, in the
/// same order, as the vector code).
#[inline(always)]
fn layers(input: &[f32; INPUTS]) -> f32 {
    let mut even = [0.0f32; model::HIDDEN];
    even.copy_from_slice(&model::B1);
    let mut odd = [0.0f32; model::HIDDEN];
    for (x, rows) in input
        .chunks_exact(2)
        .zip(model::W1.chunks_exact(2 * model::HIDDEN))
    {
        let (w0, w1) = rows.split_at(model::HIDDEN);
        for j in 0..model::HIDDEN {
            even[j] += x[0] * w0[j];
            odd[j] += x[1] * w1[j];
        }
    }
    let mut hidden = [0.0f32; model::HIDDEN];
    for j in 0..model::HIDDEN {
        hidden[j] = even[j] + odd[j];
    }
    output(&hidden)
}

/// The output unit over the hidden sums (ReLU applied here).
fn output(hidden: &[f32; model::HIDDEN]) -> f32 {
    let z = hidden
        .iter()
        .zip(&model::W2)
        .fold(model::B2[0], |z, (h, w)| z + h.max(0.0) * w);
    1.0 / (1.0 + (-z).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{FeatureEngine, SoftwareEngine};
    use crate::signal::{to_i16, Sine, WhiteNoise};

    #[test]
    fn the_inference_reproduces_the_trainers_scores() {
        for (k, &want) in model::PROBE_SCORES.iter().enumerate() {
            let input: &[f32; INPUTS] = model::PROBE_INPUTS[k * INPUTS..(k + 1) * INPUTS]
                .try_into()
                .unwrap();
            let got = perceptron(input);
            assert!((got - want).abs() < 1e-4, "probe {k}: {got} vs {want}");
            assert_eq!(
                got.to_bits(),
                layers(input).to_bits(),
                "probe {k}: vector vs scalar"
            );
        }
    }

    /// The features the spotter scores are the ones it was trained on: the
    /// trainer's summaries of a fixed signal (its `probe_signal`), beside
    /// the engine's blocks summed here.
    #[test]
    fn the_frame_features_are_the_trainers() {
        let frames = model::PROBE_FRAMES.len() / FRAME_FEATURES;
        let samples = frames * BLOCKS_PER_FRAME as usize * BLOCK_LEN;
        let tau = 2.0 * std::f64::consts::PI;
        let signal: Vec<i16> = (0..samples)
            .map(|n| {
                let t = n as f64;
                let x = 3000.0 * (tau * 440.0 * t / 8000.0).sin()
                    + 2000.0 * (tau * 1234.0 * t / 8000.0 + 0.5).sin()
                    + (n * 7919 % 401) as f64
                    - 200.0;
                x.round() as i16
            })
            .collect();
        let mut spotter = KeywordSpotter::default();
        for b in &feature_blocks(&signal) {
            spotter.push(b);
        }
        for (k, want) in model::PROBE_FRAMES.chunks_exact(FRAME_FEATURES).enumerate() {
            for (i, (&got, &want)) in spotter.frames[k].iter().zip(want).enumerate() {
                assert!(
                    (got - want).abs() <= 1e-3 * want.abs().max(1.0),
                    "frame {k}, feature {i}: the engine's {got} vs the trainer's {want}"
                );
            }
        }
    }

    /// The software engine's feature blocks of `samples`.
    fn feature_blocks(samples: &[i16]) -> Vec<FeatureBlock> {
        let mut engine = SoftwareEngine::new();
        let ch = engine.open_channel().unwrap();
        let mut blocks = Vec::new();
        engine.process(ch, samples, &mut blocks).unwrap();
        blocks
    }

    /// The spotter's highest score over `signal`.
    fn best_score(signal: &[f64]) -> f32 {
        let blocks = feature_blocks(&to_i16(signal));
        let mut spotter = KeywordSpotter::default();
        let mut best = 0.0f32;
        for b in &blocks {
            if spotter.push(b) {
                best = best.max(spotter.score());
            }
        }
        best
    }

    #[test]
    fn nothing_is_scored_before_a_whole_window() {
        let mut spotter = KeywordSpotter::default();
        for _ in 0..(WINDOW - 1) * BLOCKS_PER_FRAME as usize {
            spotter.push(&FeatureBlock::default());
        }
        assert_eq!(spotter.score(), 0.0);
    }

    #[test]
    fn silence_noise_and_steady_tones_are_no_keyword() {
        let second = 8000;
        let mut noise = vec![0.0; 2 * second];
        WhiteNoise::new(300.0, 5).add_to(&mut noise);
        let quiet = vec![0.0; 2 * second];
        for (name, signal) in [("silence", quiet), ("white noise", noise)] {
            let s = best_score(&signal);
            assert!(s < 0.5, "{name} scored {s}");
        }
        for hz in [425.0, 1000.0, 1400.0, 2000.0] {
            let mut sine = Sine::new(hz, 8000.0, 3000.0, 0.0);
            let tone: Vec<f64> = (0..2 * second).map(|_| sine.next_sample()).collect();
            let s = best_score(&tone);
            assert!(s < 0.5, "{hz} Hz scored {s}");
        }
    }
}
