//! Noise-adaptive voice activity detection on 10 ms frames of feature
//! blocks.
//!
//! The frame level is the mean square of the (13-bit) samples, in dB. The
//! noise floor is the minimum of the level, smoothed over ~25 ms, across the
//! last second (minimum statistics: speech always dips between syllables
//! within a second, noise does not dip below itself). A frame is speech when
//! it stands a margin above that floor and above an absolute minimum, and
//! is not part of a steady tone: call-progress tones, beeps and DTMF keep
//! their normalised lag-1 and lag-2 autocorrelation (a summary of the
//! spectrum) fixed for many frames, which speech never does. A frame a
//! little short of the margin is marked `held`: loud enough to carry on
//! speech already under way (a syllable fading into a comma pause), not to
//! start it.
//!
//! A beating pair of tones (the US and UK ring-backs, 440+480 and 400+450
//! Hz; busy, 480+620 Hz) swings its 10 ms level with the beat, so the
//! frame test cannot see it; over 100 ms windows, a whole number of beats,
//! its level and lags are as fixed as a single tone's. Such a run is
//! marked `call_progress` (a voice never holds one spectrum and level for
//! 200 ms at a call-progress tone's pitch).

use crate::fastmath;
use crate::features::{FeatureBlock, BLOCK_LEN};

/// Feature blocks per frame (10 ms).
pub const BLOCKS_PER_FRAME: u32 = 2;

/// One 10 ms frame's summary: mean square and normalised lags.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameFeatures {
    /// Mean square of the frame's samples (13-bit scale).
    pub mean_square: f32,
    /// Lag-1 and lag-2 autocorrelation over the energy (-1..1).
    pub lags: [f32; 2],
}

/// Sums feature blocks into 10 ms frames.
#[derive(Debug, Clone, Default)]
pub struct Framer {
    energy: u64,
    lags: [i64; 2],
    blocks: u32,
}

impl Framer {
    /// Adds a block; returns the frame it completes.
    #[inline]
    pub fn push(&mut self, block: &FeatureBlock) -> Option<FrameFeatures> {
        self.energy += block.energy as u64;
        self.lags[0] += block.acf[0] as i64;
        self.lags[1] += block.acf[1] as i64;
        self.blocks += 1;
        if self.blocks < BLOCKS_PER_FRAME {
            return None;
        }
        let energy = self.energy.max(1) as f32;
        let frame = FrameFeatures {
            mean_square: self.energy as f32 / (BLOCKS_PER_FRAME as usize * BLOCK_LEN) as f32,
            lags: [self.lags[0] as f32 / energy, self.lags[1] as f32 / energy],
        };
        *self = Self::default();
        Some(frame)
    }
}

/// Frames of 10 ms kept for the floor: 1 s in 10 chunks of 100 ms.
const FLOOR_CHUNKS: usize = 10;
const FRAMES_PER_CHUNK: u32 = 10;

/// The level of a frame whose mean square is `mean_square` (13-bit units).
#[inline]
pub fn level_db(mean_square: f32) -> f32 {
    10.0 * fastmath::log10(mean_square + 1.0)
}

/// Level in dB of a full-scale sine on the engine's 13-bit scale.
pub const FULL_SCALE_DB: f32 = 69.24; // 10 log10(4096^2 / 2)

/// Frames over which the lags are averaged before comparing them (a single
/// 10 ms frame's lags move with the tone's phase at its edges).
const SMOOTH_FRAMES: usize = 3;
/// Averaged lags that must agree for a tone.
const TONE_FRAMES: usize = 4;
/// Frames of a tone before it is recognised (and stops counting as
/// speech): 60 ms.
pub const TONE_DELAY_FRAMES: usize = SMOOTH_FRAMES + TONE_FRAMES - 1;
/// How far, relatively, the lags' angles (`acos` of the normalised lags: a
/// frequency scale that does not flatten near 1 as the lags themselves do)
/// of a steady tone may wander over those frames. Speech moves its pitch
/// and formants by several percent in 40 ms.
const TONE_SPREAD: f32 = 0.015;
/// ...but at least this many radians: the angles of low tones (near 0) move
/// by that much from frame edges alone.
const TONE_SPREAD_FLOOR: f32 = 0.01;
/// A sound whose frame level stays within this many dB over
/// [`TONE_FRAMES`] frames (speech's syllables swell and fade by more)...
const TONE_FLAT_DB: f32 = 0.3;
/// ...is a tone if its lags' angles stay within this many radians: a pure
/// tone's lags over a window that is not a whole number of its periods
/// wander with its phase, most for low tones (0.023 rad at 425 Hz).
const TONE_FLAT_SPREAD: f32 = 0.05;
/// Lag-1 angle of 300 Hz: below it, flat level alone does not make a tone
/// (voiced speech's strong low harmonics).
const TONE_FLAT_MIN_ANGLE: f32 = std::f32::consts::TAU * 300.0 / 8000.0;

/// Voice activity detector state for one channel.
#[derive(Debug, Clone)]
pub struct Vad {
    /// Speech needs this many dB above the noise floor.
    margin_db: f32,
    /// A `held` frame may fall this many dB short of `margin_db`.
    hold_db: f32,
    /// ...and at least this level (dB on the 13-bit scale).
    min_level_db: f32,
    smoothed: f32,
    chunk_min: [f32; FLOOR_CHUNKS],
    chunk: usize,
    frames_in_chunk: u32,
    frames: u64,
    /// The last frames' mean square and lag products (ring).
    recent: [[f32; 3]; SMOOTH_FRAMES],
    /// Angles of the averaged normalised lags of the last frames (ring).
    lags: [[f32; 2]; TONE_FRAMES],
    /// Levels (dB) of the last frames (ring, same slots as `lags`).
    levels: [f32; TONE_FRAMES],
    /// The 100 ms test for beating call-progress tones.
    call_progress: CallProgressTest,
    /// `min_level_db` as a mean square.
    min_mean_square: f32,
}

/// What the VAD says about one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadFrame {
    /// The frame's level, dB.
    pub level_db: f32,
    /// The noise floor estimate, dB.
    pub floor_db: f32,
    /// Whether the frame is speech.
    pub speech: bool,
    /// Whether the frame belongs to a steady tone (never speech).
    pub tone: bool,
    /// The tone's frequency, Hz, when `tone` (from the averaged lag-1 angle:
    /// exact for one sinusoid); 0 otherwise.
    pub tone_hz: f32,
    /// The tone's power over the rest, dB, when `tone` (Pisarenko's
    /// estimate over the same frames: a beep stands as far above the line
    /// noise as it is loud, a held vowel's harmonics keep it low); 0
    /// otherwise.
    pub tone_snr_db: f32,
    /// Not speech, but within the hold (see [`Vad::with_hold`]) of the
    /// margin and not a tone: enough to carry on a run of speech.
    pub held: bool,
    /// The last [`CALL_PROGRESS_SPAN_FRAMES`] frames held a call-progress
    /// tone (one or a beating pair, 330-660 Hz) at one level: a ring-back
    /// or busy burst, whatever the frame test said.
    pub call_progress: bool,
    /// The call-progress tone's frequency (a pair's mean), Hz, when
    /// `call_progress`; 0 otherwise.
    pub call_progress_hz: f32,
}

impl Vad {
    /// A detector with the given margin above the floor and absolute minimum
    /// (both dB; the minimum on the engine's 13-bit scale).
    pub fn new(margin_db: f32, min_level_db: f32) -> Self {
        Self {
            margin_db,
            hold_db: 0.0,
            min_level_db,
            smoothed: 0.0,
            chunk_min: [f32::MAX; FLOOR_CHUNKS],
            chunk: 0,
            frames_in_chunk: 0,
            frames: 0,
            recent: [[0.0; 3]; SMOOTH_FRAMES],
            lags: [[0.0; 2]; TONE_FRAMES],
            levels: [0.0; TONE_FRAMES],
            call_progress: CallProgressTest::default(),
            min_mean_square: 10f32.powf(min_level_db / 10.0) - 1.0,
        }
    }

    /// The same detector, marking frames up to `hold_db` short of the
    /// margin as `held` (0, the default, marks none).
    pub fn with_hold(mut self, hold_db: f32) -> Self {
        self.hold_db = hold_db.max(0.0);
        self
    }

    /// Classifies the next frame.
    pub fn push_frame(&mut self, frame: FrameFeatures) -> VadFrame {
        self.push(frame.mean_square, frame.lags)
    }

    /// Classifies the next frame, given its mean square and its lag-1 and
    /// lag-2 autocorrelation normalised by its energy.
    pub fn push(&mut self, mean_square: f32, lags: [f32; 2]) -> VadFrame {
        let level = level_db(mean_square);
        // ~25 ms smoothing for the floor only; the decision uses the frame.
        self.smoothed = if self.frames == 0 {
            level
        } else {
            self.smoothed + 0.35 * (level - self.smoothed)
        };
        self.frames += 1;
        let slot = &mut self.chunk_min[self.chunk];
        *slot = slot.min(self.smoothed);
        self.frames_in_chunk += 1;
        if self.frames_in_chunk == FRAMES_PER_CHUNK {
            self.frames_in_chunk = 0;
            self.chunk = (self.chunk + 1) % FLOOR_CHUNKS;
            self.chunk_min[self.chunk] = f32::MAX;
        }
        let floor = self.chunk_min.iter().copied().fold(f32::MAX, f32::min);
        let audible = level >= self.min_level_db;
        let loud = audible && level >= floor + self.margin_db;
        let near = audible && level >= floor + self.margin_db - self.hold_db;
        let tone = self.steady_tone(mean_square, lags) && loud;
        let (tone_hz, tone_snr_db) = if tone {
            self.tone_measure()
        } else {
            (0.0, 0.0)
        };
        let call_progress_hz = self
            .call_progress
            .push(mean_square, lags, self.min_mean_square);
        VadFrame {
            level_db: level,
            floor_db: floor,
            speech: loud && !tone,
            tone,
            tone_hz,
            tone_snr_db,
            held: near && !loud,
            call_progress: call_progress_hz.is_some(),
            call_progress_hz: call_progress_hz.unwrap_or(0.0),
        }
    }

    /// The frequency (Hz) of the tone of the last frames and its power over
    /// the rest (dB): Pisarenko's estimate from their summed lags (unbiased
    /// in white noise, where the lag-1 angle alone is pulled towards the
    /// middle of the band).
    fn tone_measure(&self) -> (f32, f32) {
        let s = self.recent.iter().fold([0f64; 3], |a, r| {
            [a[0] + r[0] as f64, a[1] + r[1] as f64, a[2] + r[2] as f64]
        });
        crate::beep::measure_tone(s[0], s[1], s[2]).map_or((0.0, 0.0), |t| {
            (t.freq_hz, 10.0 * fastmath::log10(t.snr.max(1e-3)))
        })
    }

    /// Records the frame; whether the lags, averaged over
    /// [`SMOOTH_FRAMES`], agreed over the last [`TONE_FRAMES`].
    fn steady_tone(&mut self, mean_square: f32, lags: [f32; 2]) -> bool {
        // `frames` was already counted for this frame
        let n = self.frames as usize - 1;
        self.recent[n % SMOOTH_FRAMES] =
            [mean_square, mean_square * lags[0], mean_square * lags[1]];
        let sum = column_sums(&self.recent);
        let energy = sum[0].max(f32::MIN_POSITIVE);
        let angle = |r: f32| fastmath::acos((r / energy).clamp(-1.0, 1.0));
        self.lags[n % TONE_FRAMES] = [angle(sum[1]), angle(sum[2])];
        // the level over the same frames as the lags: a tone that is not a
        // whole number of periods a frame (425 Hz: 4.25) alternates its
        // frame level by a few tenths of a dB with its phase
        self.levels[n % TONE_FRAMES] = level_db(energy / SMOOTH_FRAMES as f32);
        if n + 1 < TONE_DELAY_FRAMES {
            return false; // the rings still hold their initial zeros
        }
        let (lo, hi) = column_range(&self.lags);
        let steady = (0..2).all(|k| hi[k] - lo[k] <= (TONE_SPREAD * hi[k]).max(TONE_SPREAD_FLOOR));
        let (quiet, loud) = self
            .levels
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &l| (a.min(l), b.max(l)));
        let flat = loud - quiet <= TONE_FLAT_DB
            && lo[0] >= TONE_FLAT_MIN_ANGLE
            && (0..2).all(|k| hi[k] - lo[k] <= TONE_FLAT_SPREAD);
        steady || flat
    }
}

/// The sum of each column of `rows`.
fn column_sums<const N: usize>(rows: &[[f32; N]]) -> [f32; N] {
    rows.iter().fold([0.0; N], |mut a, r| {
        for (a, r) in a.iter_mut().zip(r) {
            *a += r;
        }
        a
    })
}

/// The least and the greatest value of each column of `rows`.
fn column_range<const N: usize>(rows: &[[f32; N]]) -> ([f32; N], [f32; N]) {
    rows.iter()
        .fold(([f32::MAX; N], [f32::MIN; N]), |(mut lo, mut hi), r| {
            for k in 0..N {
                lo[k] = lo[k].min(r[k]);
                hi[k] = hi[k].max(r[k]);
            }
            (lo, hi)
        })
}

/// Frames summed into one window of the call-progress test (100 ms: a
/// whole number of beats of every common pair, 40-140 Hz apart).
const CALL_PROGRESS_WINDOW: usize = 10;

/// Consecutive windows that must agree (their ends 90 ms apart).
const CALL_PROGRESS_WINDOWS: usize = 10;

/// Frames a call-progress tone must have sounded before it is marked.
pub const CALL_PROGRESS_SPAN_FRAMES: usize = CALL_PROGRESS_WINDOW + CALL_PROGRESS_WINDOWS - 1;

/// The windows' levels agree within 0.6 dB (a ring-back in babble at 15
/// dB stays within it; the flattest vowels do not): this ratio of powers.
const CALL_PROGRESS_FLAT_RATIO: f32 = 1.148_154; // 10^0.06

/// The windows' lag angles agree within this share of the angle...
const CALL_PROGRESS_SPREAD: f32 = 0.015;

/// ...or within this many radians (1.7 degrees): talk 12-16 dB under a
/// ring-back (babble on the line) moves its 100 ms windows' lag angles by
/// up to a degree, which the share alone (0.3 degrees at 425 Hz) took for
/// a voice and left the burst unmarked. Vowels still fail the windows'
/// flatness (0.6 dB over 190 ms) and the tone-to-rest ratio.
const CALL_PROGRESS_SPREAD_FLOOR: f32 = 0.03;

/// The band of call-progress tones and of the mean of their pairs
/// (350+440 Hz dial tone: 395 Hz; 480+620 Hz busy: 550 Hz), with a margin.
/// Vowels that came near the other tests read 590-630 Hz.
const CALL_PROGRESS_BAND_HZ: (f32, f32) = (330.0, 620.0);

/// Whether `hz` is in the band of call-progress tones and their pairs'
/// means (ring-back, busy, dial tone), 330-620 Hz.
pub fn in_call_progress_band(hz: f32) -> bool {
    (CALL_PROGRESS_BAND_HZ.0..=CALL_PROGRESS_BAND_HZ.1).contains(&hz)
}

/// The least tone-to-rest ratio of a call-progress window, dB (Pisarenko's,
/// over the 100 ms: a close pair fits one sinusoid well, a vowel's
/// harmonics do not). Low enough for a ring-back in white noise 12-17 dB
/// under it, whose rest is mostly that noise; a voice has failed the
/// windows' flatness and steadiness first.
const CALL_PROGRESS_MIN_SNR_DB: f32 = 10.0;

/// Marks runs of a call-progress tone by its 100 ms windows (see the
/// module docs).
#[derive(Debug, Clone)]
struct CallProgressTest {
    /// The last frames' mean square and lag products (ring).
    frames: [[f32; 3]; CALL_PROGRESS_WINDOW],
    /// Their sums.
    sum: [f32; 3],
    /// The last windows' energy and normalised lags (ring).
    windows: [[f32; 3]; CALL_PROGRESS_WINDOWS],
    pushed: usize,
}

impl Default for CallProgressTest {
    fn default() -> Self {
        Self {
            frames: [[0.0; 3]; CALL_PROGRESS_WINDOW],
            sum: [0.0; 3],
            windows: [[0.0; 3]; CALL_PROGRESS_WINDOWS],
            pushed: 0,
        }
    }
}

impl CallProgressTest {
    /// Records the frame; the tone's frequency when the last windows held
    /// one call-progress tone at one mean square of at least `min_mean_square` (not the
    /// noise floor's margin: the floor rises to a 2 s ring-back within it).
    ///
    /// Most frames fail on level alone (compared as powers, no logarithm);
    /// angles are taken only for windows already at one level.
    fn push(&mut self, mean_square: f32, lags: [f32; 2], min_mean_square: f32) -> Option<f32> {
        let n = self.pushed;
        self.pushed += 1;
        let slot = n % CALL_PROGRESS_WINDOW;
        let frame = [mean_square, mean_square * lags[0], mean_square * lags[1]];
        let old = std::mem::replace(&mut self.frames[slot], frame);
        if slot == CALL_PROGRESS_WINDOW - 1 {
            // exact once a window, so rounding never builds up
            self.sum = column_sums(&self.frames);
        } else {
            for k in 0..3 {
                self.sum[k] += frame[k] - old[k];
            }
        }
        let sum = self.sum;
        let energy = sum[0].max(f32::MIN_POSITIVE);
        let w = n % CALL_PROGRESS_WINDOWS;
        self.windows[w] = [energy, sum[1] / energy, sum[2] / energy];
        let loud = energy / CALL_PROGRESS_WINDOW as f32 >= min_mean_square;
        if self.pushed < CALL_PROGRESS_SPAN_FRAMES || !loud {
            return None;
        }
        // the oldest and middle windows first: most sounds fail on them
        let flat = |e: f32| {
            e <= energy * CALL_PROGRESS_FLAT_RATIO && energy <= e * CALL_PROGRESS_FLAT_RATIO
        };
        let oldest = (w + 1) % CALL_PROGRESS_WINDOWS;
        let middle = (w + CALL_PROGRESS_WINDOWS / 2) % CALL_PROGRESS_WINDOWS;
        if !flat(self.windows[oldest][0]) || !flat(self.windows[middle][0]) {
            return None;
        }
        let (lo, hi) = column_range(&self.windows);
        if hi[0] > lo[0] * CALL_PROGRESS_FLAT_RATIO {
            return None;
        }
        // the lag angles fall as the normalised lags rise
        let angle = |r: f32| fastmath::acos(r.clamp(-1.0, 1.0));
        let steady = (1..3).all(|k| {
            let (widest, narrowest) = (angle(lo[k]), angle(hi[k]));
            widest - narrowest <= (CALL_PROGRESS_SPREAD * widest).max(CALL_PROGRESS_SPREAD_FLOOR)
        });
        if !steady {
            return None;
        }
        let t = crate::beep::measure_tone(sum[0] as f64, sum[1] as f64, sum[2] as f64)?;
        let in_band = in_call_progress_band(t.freq_hz);
        let clear = 10.0 * fastmath::log10(t.snr.max(1e-6)) >= CALL_PROGRESS_MIN_SNR_DB;
        (in_band && clear).then_some(t.freq_hz)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_noise_is_not_speech_and_bursts_above_it_are() {
        let mut vad = Vad::new(9.0, 15.0);
        let noise = 10f32.powf(3.0); // 30 dB
        for _ in 0..200 {
            assert!(!vad.push(noise, [0.0; 2]).speech);
        }
        let loud = 10f32.powf(5.0); // 50 dB
        assert!(vad.push(loud, [0.5; 2]).speech);
        // seconds of speech with pauses between words keep the floor low
        for i in 0..300 {
            let f = vad.push(
                if i % 40 < 8 { noise } else { loud },
                [(i as f32 * 0.37).sin(); 2],
            );
            assert!(
                (f.floor_db - 30.0).abs() < 3.0,
                "floor {} at {i}",
                f.floor_db
            );
        }
    }

    #[test]
    fn floor_follows_a_rising_noise_within_about_a_second() {
        let mut vad = Vad::new(9.0, 15.0);
        for _ in 0..100 {
            vad.push(1000.0, [0.0; 2]);
        }
        let mut last = None;
        for _ in 0..130 {
            last = Some(vad.push(100_000.0, [0.0; 2]));
        }
        let f = last.unwrap();
        assert!(!f.speech, "steady louder noise becomes the floor: {f:?}");
    }

    #[test]
    fn a_steady_tone_is_not_speech_once_it_has_held_for_60_ms() {
        let mut vad = Vad::new(9.0, 15.0);
        for _ in 0..100 {
            vad.push(100.0, [0.1, -0.2]);
        }
        let frames: Vec<VadFrame> = (0..20).map(|_| vad.push(1e6, [0.81, 0.31])).collect();
        assert!(
            frames[0].speech,
            "a new sound is speech until proven a tone"
        );
        assert!(frames[TONE_DELAY_FRAMES..]
            .iter()
            .all(|f| f.tone && !f.speech));
    }

    #[test]
    fn silence_below_the_absolute_minimum_is_never_speech() {
        let mut vad = Vad::new(9.0, 15.0);
        for _ in 0..100 {
            vad.push(0.0, [0.0; 2]);
        }
        assert!(!vad.push(10.0, [0.0; 2]).speech); // 10 dB: above floor, below minimum
    }

    /// The VAD's frames of `samples` (through the feature engine).
    fn frames_of(samples: &[f64]) -> Vec<VadFrame> {
        use crate::features::{FeatureEngine, SoftwareEngine};
        let law = crate::g711::Law::Ulaw;
        let pcm: Vec<i16> = crate::signal::to_i16(samples)
            .into_iter()
            .map(|s| law.decode_one(law.encode_one(s)))
            .collect();
        let mut e = SoftwareEngine::new();
        let ch = e.open_channel().unwrap();
        let mut blocks = Vec::new();
        e.process(ch, &pcm, &mut blocks).unwrap();
        let mut framer = Framer::default();
        let mut vad = Vad::new(10.0, FULL_SCALE_DB - 50.0);
        blocks
            .iter()
            .filter_map(|b| framer.push(b))
            .map(|f| vad.push_frame(f))
            .collect()
    }

    fn sine(hz: f64, amp: f64, ms: usize, phase: f64) -> Vec<f64> {
        let mut s = crate::signal::Sine::new(hz, 8000.0, amp, phase);
        (0..ms * 8).map(|_| s.next_sample()).collect()
    }

    #[test]
    fn a_425_hz_tone_whose_frame_level_alternates_is_still_a_tone() {
        // 4.25 periods a frame: the frame level alternates by 0.3-0.4 dB with
        // the phase (µ-law adds its share), the EU busy and ring-back tone
        for phase in [0.0, 0.7, 1.9] {
            for amp in [1000.0, 2000.0, 4000.0, 9000.0, 16000.0] {
                let mut s = vec![0.0; 2400];
                s.extend(sine(425.0, amp, 500, phase));
                let f = frames_of(&s);
                let tone = &f[30 + 12..30 + 48];
                assert!(
                    tone.iter().all(|f| f.tone && !f.speech),
                    "phase {phase} amp {amp}: {tone:?}"
                );
            }
        }
    }

    /// `freqs` summed, each at peak `amp / freqs.len()`, for `ms`.
    fn pair(freqs: &[f64], amp: f64, ms: usize) -> Vec<f64> {
        let mut out = vec![0.0; ms * 8];
        for &f in freqs {
            for (o, v) in out
                .iter_mut()
                .zip(sine(f, amp / freqs.len() as f64, ms, 0.3))
            {
                *o += v;
            }
        }
        out
    }

    #[test]
    fn a_beating_ring_back_pair_is_marked_as_call_progress_all_through() {
        // US ring-back, UK ring-back, US busy: marked from 190 ms in to the
        // end of a 2 s burst, though the floor rises to the tone within it
        for (freqs, mean) in [
            (&[440.0, 480.0][..], 460.0),
            (&[400.0, 450.0], 425.0),
            (&[480.0, 620.0], 550.0),
        ] {
            let mut s = vec![0.0; 2400];
            s.extend(pair(freqs, 8000.0, 2000));
            s.extend(vec![0.0; 2400]);
            let f = frames_of(&s);
            let burst = &f[30 + CALL_PROGRESS_SPAN_FRAMES + 2..30 + 200];
            assert!(burst.iter().all(|f| f.call_progress), "{freqs:?}");
            assert!(
                burst
                    .iter()
                    .all(|f| (f.call_progress_hz - mean).abs() < 0.02 * mean),
                "{freqs:?}: {:?}",
                burst.iter().map(|f| f.call_progress_hz).collect::<Vec<_>>()
            );
            // (a window nine tenths filled with the tone is within the
            // flatness already)
            assert!(f[..30 + CALL_PROGRESS_SPAN_FRAMES - 2]
                .iter()
                .all(|f| !f.call_progress));
            assert!(
                f[30 + 202..].iter().all(|f| !f.call_progress),
                "{freqs:?}: after the burst"
            );
        }
    }

    #[test]
    fn a_ring_back_in_white_noise_13_db_under_it_is_call_progress() {
        // UK ring-back (400 + 450 Hz, 400 ms bursts)
        let mut s = vec![0.0; 2400];
        s.extend(pair(&[400.0, 450.0], 8000.0, 400));
        s.extend(vec![0.0; 1600]);
        let tone_rms = 8000.0 / 2.0;
        let noise_rms = tone_rms / 10f64.powf(13.0 / 20.0);
        crate::signal::WhiteNoise::new(noise_rms, 7).add_to(&mut s);
        let f = frames_of(&s);
        assert!(
            f[30..70].iter().filter(|f| f.call_progress).count() >= 10,
            "{:?}",
            f[30..70]
                .iter()
                .map(|f| f.call_progress)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_ring_back_with_talk_under_it_is_call_progress() {
        // UK ring-back (400 + 450 Hz, 400 ms bursts) with a voice 12-16 dB
        // under it: the talk moves the 100 ms windows' lag angles by up to
        // a degree, which must not hide the bursts (babble on the line
        // while the ring-back goes on after answer)
        for under_db in [12.0, 14.0, 16.0] {
            let mut s = vec![0.0; 2400];
            s.extend(pair(&[400.0, 450.0], 8000.0, 400));
            s.extend(vec![0.0; 1600]);
            let mut talk = Vec::new();
            crate::signal::add_speech_like(&mut talk, 400, 1000.0);
            let rms = |x: &[f64]| (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt();
            let gain = rms(&s[2400..5600]) / rms(&talk) / 10f64.powf(under_db / 20.0);
            for (o, v) in s[2400..].iter_mut().zip(talk) {
                *o += v * gain;
            }
            let f = frames_of(&s);
            let marked = f[30..70].iter().filter(|f| f.call_progress).count();
            assert!(marked >= 15, "{under_db} dB under: {marked} frames marked");
        }
    }

    #[test]
    fn beeps_and_voices_are_not_call_progress() {
        // a 1 kHz beep is a tone but no call-progress tone; a voiced sound
        // of gliding pitch never holds its spectrum for 200 ms
        let mut s = vec![0.0; 2400];
        s.extend(sine(1000.0, 8000.0, 1000, 0.0));
        crate::signal::add_speech_like(&mut s, 3000, 8000.0);
        let f = frames_of(&s);
        assert!(f.iter().all(|f| !f.call_progress));
        assert!(f[30 + 20..30 + 90].iter().all(|f| f.tone));
    }

    #[test]
    fn a_tone_in_white_noise_reads_its_own_frequency() {
        // the lag-1 angle alone reads a 440 Hz tone 15 dB over white noise
        // near 500 Hz; Pisarenko's estimate does not move with the noise
        let mut s = vec![0.0; 2400];
        s.extend(sine(440.0, 6000.0, 500, 0.0));
        let noise_rms = 6000.0 / 2f64.sqrt() / 10f64.powf(15.0 / 20.0);
        crate::signal::WhiteNoise::new(noise_rms, 5).add_to(&mut s);
        let f = frames_of(&s);
        let hz: Vec<f32> = f[30..80]
            .iter()
            .filter(|f| f.tone)
            .map(|f| f.tone_hz)
            .collect();
        assert!(hz.len() >= 20, "recognised as a tone: {hz:?}");
        assert!(
            hz.iter().all(|h| (h - 440.0).abs() < 0.03 * 440.0),
            "{hz:?}"
        );
    }
}
