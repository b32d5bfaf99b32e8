//! Voicemail beep detection, on feature blocks only (so the FPGA backend
//! gives the same events).
//!
//! A beep is a steady single tone between 350 and 2100 Hz lasting 120 ms to
//! 2 s; a double beep (one frequency twice) or a two-tone beep (two
//! frequencies far apart) whose parts are less than
//! [`BeepConfig::max_gap_ms`] apart is one beep.
//!
//! # Design
//!
//! 1. **Parts from 20 ms windows** (the `tracker` module). Every 5 ms block, the
//!    exact lag-0/1/2 autocorrelation sums of the last four blocks give the
//!    window's dominant sinusoid and its power over the residual
//!    (Pisarenko's estimate, unbiased in white noise). A window is *tonal*
//!    when it is loud enough ([`BeepConfig::min_level_dbfs`]), the tone
//!    stands [`BeepConfig::min_tone_snr_db`] above the rest, its frequency
//!    is loosely in the band (windows scatter), and the DTMF bins do not
//!    hold a row and a column tone. While a part sounds, a window only
//!    [`BeepConfig::min_line_tone_snr_db`] above the rest still extends it
//!    when that rest is the line's noise (within 2 dB of the noise heard
//!    before the tone, and white): a steady beep in white noise near its
//!    own level scatters below the floor window by window. Consecutive
//!    tonal windows at one
//!    frequency (within [`BeepConfig::max_freq_jitter`], wider at low
//!    frequency where one window resolves frequency coarsely) form a
//!    *part*. Windows only build parts; nothing is decided per window. A
//!    part starts at the energy onset of its first window and ends after
//!    its last loud block; it sums its blocks' lags (whole part and 40 ms
//!    chunks), its interior block energies, and the DFT-bin recurrence
//!    `y[m-1] + y[m+1] = 2 cos(40 w) y[m]` (any linear measurement of a
//!    pure tone taken every block is a sinusoid in the block index).
//! 2. **Part rules**, on each closed part's whole-part sums. The frequency
//!    is the inverse-variance mean of the lag estimate and the
//!    recurrence's (whose aliasing the lag estimate resolves; left out near
//!    multiples of 100 Hz, where it is ill-conditioned); the expected
//!    spreads in white noise scale as `1 / (w sin w sqrt(N snr))` and
//!    `1 / (40 w |sin 40w| sqrt(N snr))`. A part fails when
//!    - *band*: the frequency is outside the band widened by 2% plus three
//!      of its sigmas,
//!    - *tone-to-rest*: the tone is less than
//!      [`BeepConfig::min_part_snr_db`] above the rest, or less than
//!      [`BeepConfig::min_line_part_snr_db`] where the rest is the line's
//!      white noise (a beep in white noise has nothing else; a held vowel
//!      in quiet keeps the 10 dB floor, and in noise the voice rules
//!      below hold it out), both as heard and against the line noise near
//!      the tone's frequency: the noise's density there, from the
//!      order-2 spectrum its lags determine, relative to its mean where
//!      that is below 1 (babble and pink noise hold most of their power
//!      low, so a 2 kHz beep 8-10 dB over them in all stands 13-17 dB over
//!      them near its frequency; where the noise is dense this never
//!      tightens the floor),
//!    - *ripple*: its block energies vary beyond a steady tone's in white
//!      noise ([`BeepConfig::max_ripple`]: two close tones beat, ring-back
//!      440+480 Hz, busy 480+620 Hz; a voice follows its pitch pulses),
//!    - *frequency agreement*: the lag and recurrence frequencies differ by
//!      more than 3% (more below 500 Hz) and 4.5 sigmas of their difference
//!      (harmonics of a voice pull them apart), or
//!    - *drift*: a 40 ms chunk's frequency is off the part's by more than
//!      [`BeepConfig::max_drift`] and by more than white noise explains at
//!      the tone's ratio to the noise near its frequency (pink noise under
//!      a low beep is denser there than its mean, and scatters the chunks
//!      more than the ratio as heard says) (the
//!      second-largest chunk of four or five, the third of six or seven,
//!      the upper quartile of more: a babble syllable or two under a beep
//!      is not a wandering voice).
//!
//!    A part that takes up a passed part's tone (of 50 ms or more, or of
//!    any length when the part passed too) within
//!    40 ms of its end, within 3 dB of its level and at its DFT-recurrence
//!    frequency (1%, either alias of `cos 40w`) continues that part,
//!    whatever its lags say: babble under a beep pulls the lag estimate of
//!    a window or two a few percent off and breaks the tone into parts,
//!    while the DFT bins, narrow and mostly away from the babble, hold it.
//!    (Only lag-measured failures are forgiven: weak, harmonic, unsteady.)
//!    Louder babble masks the tone for a syllable: failed parts at the
//!    tone's level right after it, 150 ms at most together, are held aside,
//!    and dropped when the tone takes up again after them (else they join
//!    the group); so is a scrap under 50 ms that passed at another
//!    frequency after 120 ms or more of the tone (a noise swell). Pieces shorter than 50 ms continue each other when both
//!    passed (babble breaks a beep's start into 30-40 ms pieces).
//! 3. **Groups**: parts less than [`BeepConfig::max_gap_ms`] apart form a
//!    group, judged when the gap has passed: it is a beep when its whole
//!    span lasts 120 ms to 2 s and its parts sound 90 ms or more of it (two
//!    babble scraps far apart are no double beep; a lone scrap under 50 ms,
//!    over 40 ms from the other parts, is left out of the span), no part
//!    failed (where the tracker broke a tone in the line's white noise
//!    into pieces at one frequency and level, and some were too weak
//!    alone but passed the rules a voice fails, the pieces' pooled ratio
//!    to the noise is judged instead), it
//!    has at most four parts (a part past the fourth that passed at the
//!    fourth's frequency and level is that tone again, which noise broke
//!    into more pieces, and extends it),
//!    it is not the special information tone (913.8/985.2, 1370.6/1428.5,
//!    1776.7 Hz, the last two enough; followed over parts as well, as noise
//!    may close a group between the segments), and neighbouring parts are either
//!    one frequency (a double beep: within [`BeepConfig::same_freq`] or 3.5
//!    sigmas) or a step of 12% or more, or any step between two parts of
//!    120 ms or more (a two-tone beep); between, it is a voice moving. The
//!    event's frequency is the first part's.
//!    A failed part after the group's tone has ended and 6 dB or more
//!    below it is the line's noise after the beep and is left out; so is
//!    a scrap under 50 ms there, passed or not.
//! 4. **Cadence hold-off**: any group, beep or not, may be the first burst
//!    of a cadence. A beep is reported [`BeepConfig::holdoff_ms`] (600 ms)
//!    after it ends, unless a tone at its frequency starts meanwhile (the
//!    EU busy tone's 500 ms gap with a margin; a candidate is held while
//!    such a repeat is sounding or waits in an open group; a passed group
//!    at its frequency and level starting within 100 ms of its end is the
//!    same tone, which noise broke, and extends it), and a group
//!    starting within the hold-off after a tone at its frequency is
//!    dropped, unless it starts within 100 ms of that tone's end, far
//!    sooner than any cadence's off time (or overlaps it by a block or
//!    two): noise broke one tone into groups, and the beep starts where
//!    the first began, even when babble failed that first piece as a
//!    voice. Only tone-like
//!    groups count as bursts here: 100 ms or more,
//!    or with a part that passed (a pulsing murmur); a 50 ms vowel scrap at
//!    the beep's pitch just before it is not one. A group failed as a voice
//!    (ripple, harmonics, wandering), or shorter than 60 ms, does not make
//!    a later tone a repeat: a greeting's last words end 100-300 ms before
//!    the beep, sometimes at its pitch. A candidate 6 dB or more under a
//!    burst of 100 ms or more that follows it within the hold-off is
//!    dropped too: babble between a busy tone's bursts, or a low murmur
//!    inside a live caller's speech, not a beep (a voicemail beep is
//!    followed by the recording's silence).
//!
//! Events carry media time: `start` and `end` are the tone's, not the
//! decision's, which comes after the hold-off.
//!
//! 5. **Signalling tones and slow cadences**: a group with the signature
//!    of a live call's signalling tone (call waiting, 440 Hz 100-450 ms;
//!    recorder warning, 1400 Hz 150-700 ms, or from 100 ms right after
//!    louder talk, as speech may hide their start;
//!    one frequency throughout, not a two-tone beep averaging to it; the
//!    DFT bins' frequency where it agrees with the lags', which pink noise
//!    pulls a few percent) is not
//!    a beep (or, with [`BeepConfig::report_signalling`], a flagged one for
//!    a caller that knows the line's context), nor is a beep-like
//!    burst repeating one of about its frequency and length that ended at
//!    most 6 s before (ring-back cadences, e.g. EU 425 Hz 1 s on 4 s off).
//!
//! Coloured noise: a part's frequency is measured in the line noise's
//! spectral shape (its normalised lags, averaged over the quiet blocks
//! before the part, `NoiseLags`; its level solved from the part's own
//! sums, a generalised Pisarenko estimate), its chunks' frequencies with
//! that noise taken out, and its steadiness is the spread of its chunks
//! about their median (robust to a few chunks moved by a noise swell), so
//! pink and babble noise bias neither much.
//!
//! # Gating contract
//!
//! The detector is causal and knows nothing of the call. The caller
//! (`host/src/analyze.rs`, `CallDetectors`) reports a beep only after
//! speech has been heard (a greeting) and not overlapping it. That gating
//! keeps out what sounds before an answer (ring-back, busy and SIT) and
//! held vowels. It asks for signalling-like tones flagged and takes them
//! only on a line AMD had already called a machine when the tone began:
//! a 1400 Hz, 500 ms beep is the recorder warning's double.
//!
//! # Known limits
//!
//! In pink or babble noise only 12 dB below the tone, short tonal noise
//! parts still split or extend a beep and bias its frequency by 2-4% (see
//! the ignored `beeps_in_pink_and_babble_noise` test in
//! `tests/beep_distractors.rs`: 30 of 80 found within 40 ms).
//!
//! Cost per block: an integer energy gate, a ring update; a square root and
//! an `acos` when the window is loud; a few dozen more flops while a tone
//! sounds. No allocation.
use crate::features::{FeatureBlock, BINS, BLOCK_LEN, INPUT_SHIFT, SAMPLE_RATE};

pub mod thresholds;
mod tracker;
pub use thresholds::BeepConfigError;
pub(crate) use tracker::measure as measure_tone;
use tracker::Window;

#[cfg(test)]
mod tests;

/// A detected beep, in samples of media time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BeepEvent {
    /// First sample of the tone.
    pub start: u64,
    /// Sample just after the tone (a double or two-tone beep: after the last part).
    pub end: u64,
    /// Frequency in Hz (of the first part).
    pub freq_hz: f32,
    /// The tone has the signature of a live call's signalling tone (call
    /// waiting, recorder warning), which a beep at that frequency and
    /// length also has: only reported with [`BeepConfig::report_signalling`],
    /// for a caller that knows from elsewhere (an AMD verdict) whether the
    /// line is a machine.
    pub signalling: bool,
}

/// Tunable parameters of beep detection.
#[derive(Debug, Clone, PartialEq)]
pub struct BeepConfig {
    /// Lowest beep frequency, Hz.
    pub min_freq_hz: f32,
    /// Highest beep frequency, Hz.
    pub max_freq_hz: f32,
    /// Shortest beep (all parts, first start to last end), ms.
    pub min_duration_ms: u32,
    /// Longest beep, ms.
    pub max_duration_ms: u32,
    /// Weakest tone, dBFS (peak of the sine relative to full scale).
    pub min_level_dbfs: f32,
    /// Tone power over everything else in a 20 ms window, dB (a window
    /// below it does not extend a part).
    pub min_tone_snr_db: f32,
    /// Tone power over everything else over a whole part, dB.
    pub min_part_snr_db: f32,
    /// [`Self::min_tone_snr_db`] where everything else is the line's noise
    /// (white, and within 2 dB of the noise heard before the tone), dB:
    /// such a window still extends a part at its frequency. A beep in
    /// white noise at about its own level has nothing else.
    pub min_line_tone_snr_db: f32,
    /// [`Self::min_part_snr_db`] where everything else is the line's
    /// noise, dB.
    pub min_line_part_snr_db: f32,
    /// Largest relative frequency deviation of a window from its part
    /// (above 700 Hz; below it the tolerance widens as the window
    /// estimate's resolution falls). Grouping only: steadiness is judged on
    /// the whole part.
    pub max_freq_jitter: f32,
    /// Largest relative deviation of a 40 ms chunk's frequency from the
    /// part's, beyond what the part's noise explains.
    pub max_drift: f32,
    /// Largest relative variance of the 5 ms block energies inside a part
    /// beyond a steady tone's in white noise (two tones beat, a voice's
    /// energy follows its pitch pulses).
    pub max_ripple: f32,
    /// Parts closer than this form one beep (double beep, two-tone beep), ms.
    pub max_gap_ms: u32,
    /// Wait after a candidate ends for a same-frequency repeat (a cadence:
    /// busy, ring-back), ms. Longer than the 500 ms off time of the common
    /// busy tones with a margin for onset jitter; keep it at 700 ms or less
    /// (every voicemail beep is reported this late).
    pub holdoff_ms: u32,
    /// Two tones within this relative distance are "the same frequency".
    pub same_freq: f32,
    /// Report tones that look like a live call's signalling tone (440 Hz
    /// 300 ms, 1400 Hz 500 ms) as events flagged
    /// [`BeepEvent::signalling`] instead of dropping them: a voicemail beep
    /// can be just such a tone, and only the call's context tells them apart.
    pub report_signalling: bool,
}

impl Default for BeepConfig {
    fn default() -> Self {
        Self {
            min_freq_hz: 350.0,
            max_freq_hz: 2100.0,
            min_duration_ms: 120,
            max_duration_ms: 2050,
            min_level_dbfs: -45.0,
            min_tone_snr_db: 8.0,
            min_part_snr_db: 10.0,
            min_line_tone_snr_db: 5.0,
            min_line_part_snr_db: 7.0,
            max_freq_jitter: 0.02,
            max_drift: 0.01,
            max_ripple: 0.02,
            max_gap_ms: 230,
            holdoff_ms: 600,
            same_freq: 0.02,
            report_signalling: false,
        }
    }
}

/// Blocks per tracker window.
const W: usize = 4;
/// Most parts in a group.
const MAX_PARTS: usize = 4;
/// Shortest part, blocks (shorter tonal runs are treated as gaps).
const MIN_PART_BLOCKS: u32 = 6;
/// Blocks per steadiness chunk (40 ms).
const CHUNK: u32 = 8;
/// Most chunks kept per part (the longest beep, 2 s, and a margin).
const MAX_CHUNKS: usize = 64;
/// Most pending candidates and remembered tones.
const SLOTS: usize = 4;
/// A part is unsteady only when its drift is also this many times what
/// white noise at the part's SNR explains.
const DRIFT_Z: f64 = 6.0;
/// A part shorter than this (100 ms) does not start a two-tone group with a
/// part at another frequency.
const MIN_MERGE_SAMPLES: u64 = 800;
/// Expected relative error of a part's lag frequency: `LAG_SIGMA / (w sin w
/// sqrt(N snr))` over `N` samples (white noise; measured 0.06-0.18).
const LAG_SIGMA: f64 = 0.15;
/// Expected relative error of the DFT recurrence's frequency: `DFT_SIGMA /
/// (40 w |sin 40w| sqrt(N snr))` (measured 1.9-4.4).
const DFT_SIGMA: f64 = 5.0;
/// The band check's tolerance, in the weighted estimate's sigmas.
const BAND_Z: f64 = 3.0;
/// The lag/DFT agreement tolerance, in the difference's sigmas.
const AGREE_Z: f64 = 4.5;
/// Bursts of a cadence are within this many dB of each other.
const CADENCE_LEVEL_DB: f32 = 10.0;
/// A beep-like burst repeating one that ended at most this long before it
/// is a slow cadence (ring-back tones repeat every 3 to 6 s).
const SLOW_CADENCE_MS: u64 = 6000;
/// The parts of a group must sound at least this long together (ms,
/// three quarters of the shortest beep), whatever its span.
const MIN_SOUNDING_MS: u64 = 90;
/// Parts at least this long (ms, the shortest beep) are long enough to be
/// told from a voice moving by their steadiness alone: two of them at
/// different frequencies are a two-tone beep.
const LONG_PART_MS: u64 = 120;
/// A group shorter than this (ms) with no part that passed is no burst of
/// a cadence: it neither marks a later tone at its frequency as a repeat
/// nor cancels a pending beep (a 50 ms vowel scrap at the beep's pitch just
/// before it). Short tonal bursts are (a pulsing murmur's).
const MIN_BURST_MS: u64 = 100;
/// How near (relative) two parts' lag frequencies must be for the second
/// to be the first's tone again past a group's fourth part, where the DFT
/// recurrence is ill-conditioned (near multiples of 100 Hz): a steady
/// beep's pieces in noise read within about 1%.
const SAME_TONE_LAGS: f32 = 0.015;
/// Samples by which a group may overlap the burst before it and still
/// follow it: parts are closed from 20 ms windows, so the next may start
/// a block or two before the last one's end.
const OVERLAP_SLACK: u64 = 2 * BLOCK;
/// A burst with a part that passed makes a later tone at its frequency a
/// repeat only from this length (ms): a pulsing murmur's 75-95 ms bursts
/// do, a 30-40 ms vowel or babble scrap does not (see [`Burst::tone_like`]).
const MIN_PASSED_BURST_MS: u64 = 60;
/// A candidate is dropped when a burst of [`MIN_BURST_MS`] or more this
/// many times its energy (6 dB) follows it within the hold-off: it was
/// the line's noise between that signal's bursts, or a murmur inside
/// speech, not a beep (a voicemail beep is followed by silence, and babble
/// on its line is 6 dB or more under it).
const DROWNING_RATIO: f32 = 4.0;
// every burst of `MIN_BURST_MS` is long enough to make a repeat
const _: () = assert!(MIN_PASSED_BURST_MS <= MIN_BURST_MS);
/// A failed part whose mean block energy is below this share of the group's
/// loudest passing part (-10 dB) is noise around the tone, not part of it.
const QUIET_PART: f32 = 1.0 / 10.0;
/// A failed part after a group's tone this far below it (6 dB) is line noise.
const TRAIL_QUIET: f32 = 0.25;
/// Neighbouring parts of a group are one frequency within this many
/// sigmas of their difference (or [`BeepConfig::same_freq`]).
const NEIGHBOUR_Z: f32 = 3.5;
/// Neighbouring parts at least this far apart (relative) are a two-tone
/// beep; between one frequency and this, the group is rejected.
const NEIGHBOUR_STEP: f32 = 0.12;
const BLOCK: u64 = BLOCK_LEN as u64;
/// A part starting at most this long after a passed part ended (40 ms:
/// the tracker's two failing windows and a block) may continue its tone.
const ABUT_SAMPLES: u64 = 8 * BLOCK;
/// A tone that parts may continue has lasted this long already (50 ms; a
/// babble vowel scrap is shorter)...
const CONTINUE_MIN_SAMPLES: u64 = 10 * BLOCK;
/// ...a part continuing it is within this many dB of its level...
const CONTINUE_LEVEL_DB: f32 = 3.0;
/// ...and at its DFT frequency within this (relative).
const CONTINUE_DFT: f32 = 0.01;
/// The longest stretch of failed parts (150 ms, a syllable or two) held
/// aside as the tone masked by noise, forgiven when the tone takes up
/// again after it.
const MAX_MASK_SAMPLES: u64 = 30 * BLOCK;

/// Thresholds in feature units.
#[derive(Debug, Clone)]
struct Limits {
    energy_gate: u64,
    min_snr: f32,
    min_part_snr: f64,
    min_line_snr: f64,
    min_line_part_snr: f64,
    /// [`LINE_REST_DB`] as a power ratio.
    line_rest: f64,
    min_c: f32,
    max_c: f32,
    gap_blocks: u64,
    holdoff: u64,
}

impl Limits {
    fn new(cfg: &BeepConfig) -> Self {
        let peak =
            32768.0 * 10f64.powf(cfg.min_level_dbfs as f64 / 20.0) / (1 << INPUT_SHIFT) as f64;
        let c = |f: f32| (2.0 * std::f32::consts::PI * f / SAMPLE_RATE as f32).cos();
        Self {
            // a sine of peak A has energy A^2/2 per sample
            energy_gate: (peak * peak / 2.0 * (W * BLOCK_LEN) as f64) as u64,
            min_snr: 10f32.powf(cfg.min_tone_snr_db / 10.0),
            min_part_snr: 10f64.powf(cfg.min_part_snr_db as f64 / 10.0),
            min_line_snr: 10f64.powf(cfg.min_line_tone_snr_db as f64 / 10.0),
            min_line_part_snr: 10f64.powf(cfg.min_line_part_snr_db as f64 / 10.0),
            line_rest: 10f64.powf(LINE_REST_DB / 10.0),
            // windows scatter (a 20 ms window at 350 Hz in 12 dB noise: +-10%);
            // the part's frequency is held to the band
            min_c: c(cfg.max_freq_hz * 1.05),
            max_c: c(cfg.min_freq_hz * 0.8),
            gap_blocks: ms_blocks(cfg.max_gap_ms),
            holdoff: ms_blocks(cfg.holdoff_ms),
        }
    }
}

fn ms_blocks(ms: u32) -> u64 {
    (ms as u64 * SAMPLE_RATE as u64 / 1000).div_ceil(BLOCK)
}

/// A run of tonal windows at one frequency, being built.
#[derive(Debug, Clone, Copy)]
struct Part {
    /// First block of the tone.
    start: u64,
    /// Last loud block so far.
    last_loud: u64,
    /// Tonal windows seen.
    windows: u32,
    /// Running reference frequency (mean of the windows' estimates).
    f_sum: f32,
    /// Summed block autocorrelations over the part's loud blocks.
    r: [i64; 3],
    /// Mean block energy tracking (sum, count).
    e_sum: f32,
    e_n: u32,
    /// Consecutive windows that failed (not tonal or off frequency).
    misses: u32,
    /// Summed lags of each whole chunk of [`CHUNK`] loud blocks, and of the
    /// chunk being filled (`chunk_blocks` blocks so far).
    chunks: [[i64; 3]; MAX_CHUNKS],
    n_chunks: usize,
    chunk: [i64; 3],
    chunk_blocks: u32,
    /// Interior blocks' energies: count, sum, sum of squares.
    int_n: u32,
    int_sum: f64,
    int_sq: f64,
    /// DFT recurrence sums: sum Re(y[m]* (y[m-1] + y[m+1])), sum |y[m]|^2,
    /// terms summed, over the two bins nearest the tone.
    rec_num: f64,
    rec_den: f64,
    rec_n: u32,
    bins: [usize; 2],
}

impl Part {
    fn new(start: u64, i: u64, t: tracker::Tone) -> Self {
        Self {
            start,
            last_loud: i,
            windows: 1,
            f_sum: t.freq_hz,
            r: [0; 3],
            e_sum: 0.0,
            e_n: 0,
            misses: 0,
            chunks: [[0; 3]; MAX_CHUNKS],
            n_chunks: 0,
            chunk: [0; 3],
            chunk_blocks: 0,
            int_n: 0,
            int_sum: 0.0,
            int_sq: 0.0,
            rec_num: 0.0,
            rec_den: 0.0,
            rec_n: 0,
            bins: nearest_bins(t.freq_hz),
        }
    }

    /// The part's frequency refined by the DFT recurrence (every linear
    /// measurement of a pure tone taken every block is a sinusoid in the
    /// block index: `y[m-1] + y[m+1] = 2 cos(40 w) y[m]`), unwrapped with
    /// the coarse estimate `t`; whether it is well conditioned enough to
    /// measure the part's frequency; and whether there was a recurrence at
    /// all (enough to follow a tone across parts, where a few Hz do not
    /// matter).
    fn refined(&self, t: tracker::Tone, n: f64) -> (f32, bool, bool) {
        // white noise adds to |y[m]|^2 but not to the cross terms: take its
        // expected share (variance per sample times the bins' gain, 40 *
        // 8192^2 per bin) out of the denominator
        let noise_var = t.rest() / n;
        let den =
            self.rec_den - self.rec_n as f64 * 2.0 * BLOCK_LEN as f64 * 8192.0 * 8192.0 * noise_var;
        if self.rec_n == 0 || den <= 0.05 * self.rec_den {
            return (t.freq_hz, false, false);
        }
        let cos_theta = (self.rec_num / (2.0 * den)) as f32;
        if cos_theta.abs() > 1.0 {
            // coloured noise put less power in these bins than white noise
            // would, and the correction overshot: the plain ratio, biased
            // towards 0 by the noise, is good enough to follow a tone
            // across parts, not to measure it
            let plain = (self.rec_num / (2.0 * self.rec_den)) as f32;
            return (refine(t.freq_hz, plain), false, true);
        }
        // near cos(40 w) = +-1 (multiples of 100 Hz) acos is ill-conditioned
        (refine(t.freq_hz, cos_theta), cos_theta.abs() < 0.8, true)
    }

    fn f_ref(&self) -> f32 {
        self.f_sum / self.windows.max(1) as f32
    }

    fn mean_energy(&self) -> f32 {
        self.e_sum / self.e_n.max(1) as f32
    }

    /// Adds a loud block's lags.
    #[inline]
    fn add_lags(&mut self, b: &FeatureBlock) {
        self.add_lags_raw([b.energy as i64, b.acf[0] as i64, b.acf[1] as i64]);
    }

    #[inline]
    fn add_lags_raw(&mut self, r: [i64; 3]) {
        for k in 0..3 {
            self.r[k] += r[k];
            self.chunk[k] += r[k];
        }
        self.chunk_blocks += 1;
        if self.chunk_blocks == CHUNK {
            if self.n_chunks < MAX_CHUNKS {
                self.chunks[self.n_chunks] = self.chunk;
                self.n_chunks += 1;
            }
            self.chunk = [0; 3];
            self.chunk_blocks = 0;
        }
    }

    /// Adds an interior block's energy to the ripple sums.
    #[inline]
    fn add_interior(&mut self, e: f64) {
        self.int_n += 1;
        self.int_sum += e;
        self.int_sq += e * e;
    }

    /// The interior blocks' energy fluctuation beyond what a steady tone in
    /// white noise at `snr` gives: relative variance, less the tone's own
    /// (a 40-sample block of a sine at `w` holds `sin(40 w) / sin w` more
    /// or less than 40 samples' worth of energy, with the phase) and the
    /// noise's (cross terms and noise energy: `(4 / snr + 2 / snr^2) /
    /// 40`). Two close tones beat (ring-back 440+480 Hz: 40 Hz; busy
    /// 480+620 Hz: 140 Hz, still a third of the mean from one 5 ms block to
    /// another); a voice's energy follows its pitch pulses.
    fn ripple(&self, w: f64, snr: f64) -> f64 {
        if self.int_n < 4 {
            return 0.0;
        }
        let n = self.int_n as f64;
        let mean = self.int_sum / n;
        let var = (self.int_sq / n - mean * mean).max(0.0) / (mean * mean);
        let bl = BLOCK_LEN as f64;
        let rho = (bl * w).sin() / (bl * w.sin().max(1e-3));
        let noise = (4.0 / snr + 2.0 / (snr * snr)) / bl;
        (var - 0.5 * rho * rho - noise).max(0.0)
    }

    /// The whole part's measurements, with the line noise's lags per block
    /// (`noise`, from the quiet blocks before it) taken out of its sums.
    fn summary(&self, noise_lags: [f64; 3]) -> Summary {
        let loud_blocks = self.e_n.max(1) as f64;
        let n = loud_blocks * BLOCK_LEN as f64;
        let Some(raw) = tracker::measure(self.r[0] as f64, self.r[1] as f64, self.r[2] as f64)
        else {
            return Summary::default();
        };
        // the frequency measured in the line noise's spectral shape (its
        // lags from the quiet blocks before the part, normalised; its level
        // solved for: the quiet blocks are the noise's troughs, so their
        // level would take out too little); the tone-to-rest ratio (and
        // with it every expected spread) from the sums as heard: the
        // estimates' errors come from all of the noise. Noise more than
        // 30 dB under the part has no shape worth the name (an idle
        // codec's), and is taken as white.
        let shaped = noise_lags[0] > 0.0
            && noise_lags[0] / BLOCK_LEN as f64 * SHAPED_NOISE >= self.r[0] as f64 / n;
        let shape = if shaped {
            [
                1.0,
                noise_lags[1] / noise_lags[0],
                noise_lags[2] / noise_lags[0],
            ]
        } else {
            [1.0, 0.0, 0.0]
        };
        let r = self.r.map(|v| v as f64);
        let clean = tracker::measure_in(r[0], r[1], r[2], shape[1], shape[2]).unwrap_or(raw);
        let t = tracker::Tone {
            freq_hz: clean.freq_hz,
            ..raw
        };
        // the line noise per sample in that solution
        let noise = clean.rest() / n;
        let w = 2.0 * std::f64::consts::PI * t.freq_hz as f64 / SAMPLE_RATE as f64;
        // chunk frequencies: where cos w is well away from 0, from the
        // relation x[n] + x[n-2] = 2 cos w x[n-1] (exact for a clean tone
        // over any span); near 2 kHz from the chunk's Pisarenko estimate
        // with the part's noise (the window-edge error is small there)
        // the first and last chunks hold the tone's edges, where the
        // relation breaks for a sample or two
        let full = CHUNK as f64 * BLOCK_LEN as f64;
        let inner = if self.n_chunks >= 3 {
            &self.chunks[1..self.n_chunks - 1]
        } else {
            &self.chunks[..0]
        };
        let chunks = inner.iter().map(|r| (*r, full));
        let snr = (t.snr as f64).max(1.0);
        // each inner chunk's angle; steadiness is their spread about their
        // median, not their distance from the whole part's estimate (in
        // coloured noise the two estimators are biased differently)
        let mut angles = [0.0f64; MAX_CHUNKS];
        let mut n_angles = 0;
        for (r, nk) in chunks {
            let [r0, r1, r2] = [0, 1, 2].map(|k| r[k] as f64 - noise * nk * shape[k]);
            let c = if w.cos().abs() > 0.7 && r1 != 0.0 {
                (r0 + r2) / (2.0 * r1)
            } else if r0 > 0.0 {
                r1 / r0
            } else {
                continue;
            };
            angles[n_angles] = c.clamp(-1.0, 1.0).acos();
            n_angles += 1;
        }
        let reference = median(&mut angles[..n_angles]).unwrap_or(w);
        let mut devs = [0.0f64; MAX_CHUNKS];
        for (d, a) in devs.iter_mut().zip(&angles[..n_angles]) {
            *d = (a - reference).abs();
        }
        let d = robust_largest(&mut devs[..n_angles]);
        let drift = d / w;
        // in units of the spread white noise explains at the tone's ratio to
        // the noise near its frequency: where coloured noise is denser than
        // its mean (pink noise under a low beep) the chunks scatter more
        // than the ratio as heard says (never less: the test only relaxes)
        let density = if shaped {
            noise_density_at(shape[1], shape[2], w)
        } else {
            1.0
        };
        let near = if density > 1.0 {
            (clean.snr as f64 / density).clamp(1.0, snr)
        } else {
            snr
        };
        let drift_z = d * full.sqrt() * near * w.sin().max(0.1);
        let (freq_dft, dft_checked, dft_any) = self.refined(t, n);
        let freq = t.freq_hz;
        // expected relative spread of the two estimates in white noise
        // (fitted to 150 seeds per case, 350-1500 Hz, 12 and 20 dB, with a
        // margin): the lags resolve `cos w`, so their error in `w` grows as
        // `1 / sin w`; the recurrence resolves `cos 40w`, its error grows
        // as `1 / |sin 40w|` but is 40 times finer
        let root = (n * snr).sqrt();
        let sigma_lag = LAG_SIGMA / (w * w.sin().max(0.05) * root);
        let sigma_dft = if dft_checked {
            let wd = 2.0 * std::f64::consts::PI * freq_dft as f64 / SAMPLE_RATE as f64;
            let th = BLOCK_LEN as f64 * wd;
            DFT_SIGMA / (BLOCK_LEN as f64 * wd * th.sin().abs().max(0.05) * root)
        } else {
            f64::INFINITY
        };
        // inverse-variance weighted frequency (the lags' alone when the
        // recurrence is ill-conditioned)
        let (wl, wd) = (1.0 / (sigma_lag * sigma_lag), 1.0 / (sigma_dft * sigma_dft));
        let best = (freq as f64 * wl + freq_dft as f64 * wd) / (wl + wd);
        Summary {
            freq,
            snr: t.snr as f64,
            freq_dft,
            dft_checked,
            dft_any,
            best: best as f32,
            sigma_lag,
            sigma_dft,
            sigma_best: (1.0 / (wl + wd)).sqrt(),
            drift,
            drift_z,
            ripple: self.ripple(w, snr),
            local_snr: if shaped {
                clean.snr as f64 / density.min(1.0)
            } else {
                t.snr as f64
            },
            rest: raw.rest() / n,
            blocks: loud_blocks as u32,
        }
    }
}

/// The density at angular frequency `w` of noise with normalised lags
/// `(1, rho1, rho2)`, over its mean: the order-2 autoregressive (maximum
/// entropy) spectrum those lags determine. 1 for white noise; low-pass
/// noise (pink, babble) reads below 1 at high frequencies.
fn noise_density_at(rho1: f64, rho2: f64, w: f64) -> f64 {
    let det = 1.0 - rho1 * rho1;
    if det <= 1e-6 {
        return 1.0;
    }
    // x[n] + a1 x[n-1] + a2 x[n-2] = e[n] (Yule-Walker)
    let a1 = -rho1 * (1.0 - rho2) / det;
    let a2 = -(rho2 - rho1 * rho1) / det;
    let err = 1.0 + a1 * rho1 + a2 * rho2;
    // NaN-safe: lags no noise can have give no shape to lean on
    if err.is_nan() || err <= 1e-6 {
        return 1.0;
    }
    let re = 1.0 + a1 * w.cos() + a2 * (2.0 * w).cos();
    let im = a1 * w.sin() + a2 * (2.0 * w).sin();
    let mag = re * re + im * im;
    if mag <= 1e-12 {
        return 1.0;
    }
    err / mag
}

/// A part's measurements over its whole length.
#[derive(Debug, Clone, Copy, Default)]
struct Summary {
    freq: f32,
    freq_dft: f32,
    dft_checked: bool,
    /// Whether `freq_dft` was measured at all (ill-conditioned or not).
    dft_any: bool,
    /// The two estimates weighted by their expected variance.
    best: f32,
    /// Expected relative standard deviations (white noise at the part's
    /// SNR) of the lag estimate, the recurrence's and the weighted one.
    sigma_lag: f64,
    sigma_dft: f64,
    sigma_best: f64,
    snr: f64,
    /// The tone over the line noise near its frequency: the tone-to-noise
    /// ratio solved in the noise's shape, over the noise's density at the
    /// tone's frequency relative to its mean where that is below 1 (never
    /// stricter than `snr`'s test); `snr` where the noise has no shape.
    local_snr: f64,
    /// Power per sample of everything but the tone, as heard.
    rest: f64,
    drift: f64,
    drift_z: f64,
    ripple: f64,
    #[allow(dead_code)]
    blocks: u32,
}

/// The line noise's autocorrelation per block, `[r0, r1, r2]`: averages
/// over the quiet blocks (within 3 dB of the running minimum energy). Their
/// shape lets a tone's part be measured in coloured noise (pink, babble),
/// which biases Pisarenko's white-noise estimate; their level, the noise's
/// troughs, tells whether the rest of a tone is that noise.
#[derive(Debug, Clone, Copy, Default)]
struct NoiseLags {
    /// Running minimum block energy (rises 0.5 dB per 100 ms without a quieter block).
    floor: f64,
    /// Exponential averages of the quiet blocks' lags.
    avg: [f64; 3],
    /// Quiet blocks averaged so far (saturating).
    seen: u32,
}

impl NoiseLags {
    /// Averaging weight of a new quiet block (about 80 ms of quiet blocks).
    const ALPHA: f64 = 1.0 / 16.0;

    fn push(&mut self, b: &FeatureBlock) {
        let e = b.energy as f64;
        self.floor = if self.seen == 0 || e < self.floor {
            e
        } else {
            self.floor * 1.0058
        };
        if e > 2.0 * self.floor {
            return;
        }
        let r = [e, b.acf[0] as f64, b.acf[1] as f64];
        let a = if self.seen < 16 {
            1.0 / (self.seen + 1) as f64
        } else {
            Self::ALPHA
        };
        for k in 0..3 {
            self.avg[k] += a * (r[k] - self.avg[k]);
        }
        self.seen = self.seen.saturating_add(1);
    }

    /// The average lags of a quiet block (zero before any).
    fn lags(&self) -> [f64; 3] {
        self.avg
    }
}

/// The largest deviation of a part's chunks that is not an outlier: a
/// wandering voice moves most chunks, while noise (a swell of pink noise,
/// a babble syllable) moves a few. Of four or five chunks the second
/// largest, of six or seven the third (two babble syllables under a 300 ms
/// beep), of eight or more the upper quartile, else the largest; `v` is
/// sorted in place.
fn robust_largest(v: &mut [f64]) -> f64 {
    v.sort_unstable_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n @ 1..=3 => v[n - 1],
        n @ 4..=5 => v[n - 2],
        n @ 6..=7 => v[n - 3],
        n => v[3 * (n - 1) / 4],
    }
}

/// Whether `parts` are one burst of a live call's signalling tone, which a
/// voicemail beep is not: the North American call-waiting tone (440 Hz,
/// 300 ms; ITU-T E.180 Supplement 2), the European one (425 Hz, 200 ms on,
/// 200 ms off, 200 ms on) or the recording warning tone (1400 Hz, 500 ms
/// every 15 s; FCC 47 CFR 64.501). Either can sound
/// right after a live "Hello?", where nothing else tells it from a beep.
fn is_signalling(parts: &[Closed], after_talk: bool) -> bool {
    let Some(longest) = parts.iter().max_by_key(|p| p.end - p.start) else {
        return false;
    };
    // 1.5% (the tone plans' tolerance), wider by what the estimates' noise
    // explains, up to 3%
    let sigma = parts.iter().map(|p| p.sigma).fold(0.0f32, f32::max);
    let tol = (0.015 + 2.0 * sigma).min(0.03);
    // the tone: the longest part and those at its frequency (noise can
    // split one burst into parts and scatter their estimates: their
    // length-weighted mean frequency); what else the group holds (a scrap
    // of the talker's voice) must be little beside it, or it is another
    // sound (a two-tone beep: 1300 then 1450 Hz)
    let len = |p: &Closed| (p.end - p.start) as f32;
    // each part at the bins' frequency ([`bins_freq`]): in pink noise a
    // recorder warning's lags read 1371 Hz, its bins 1397-1400
    let on_tone = |p: &&Closed| same(bins_freq(p), bins_freq(longest), tol);
    let (mut sum, mut tone_len, mut n) = (0.0f32, 0.0f32, 0usize);
    for p in parts.iter().filter(on_tone) {
        sum += bins_freq(p) * len(p);
        tone_len += len(p);
        n += 1;
    }
    // (a scrap well under the tone's level is the background's: a two-tone
    // beep's tones are one level)
    let other: f32 = parts
        .iter()
        .filter(|p| !on_tone(p) && within_db(p.energy, longest.energy, OTHER_TONE_LEVEL_DB))
        .map(len)
        .sum();
    if other > 0.25 * tone_len {
        return false;
    }
    let freq = sum / tone_len.max(1.0);
    let first = parts.iter().find(on_tone).map_or(0, |p| p.start);
    let last = parts.iter().rev().find(on_tone).map_or(0, |p| p.end);
    let ms = (last - first) * 1000 / SAMPLE_RATE as u64;
    let near = |f: f32| (freq - f).abs() <= tol * f;
    // call waiting and the recorder warning sound over the conversation:
    // the talker's voice may hide their first few hundred ms (call
    // waiting's 300 ms can read as the shortest beep's 120; so can the
    // warning's 500 ms right after louder talk, a second "Hello?" over it,
    // while a lone 1400 Hz tone of 120-150 ms is a beep)
    let warning_min = if after_talk { 100 } else { 150 };
    (near(440.0) && (100..=450).contains(&ms))
        || (near(1400.0) && (warning_min..=700).contains(&ms))
        || (near(425.0) && n == 2 && (450..=700).contains(&ms))
}

/// How far under a signalling tone's level another part of its group may
/// be and still be a tone of its own (a two-tone beep's other half), dB.
const OTHER_TONE_LEVEL_DB: f32 = 6.0;

/// The median of `v` (sorted in place); `None` when empty.
fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    })
}

/// Unwraps the fine estimate `cos(40 w)` with a coarse frequency: the
/// candidates are `200 k +- g` Hz; the nearest to `coarse` wins.
fn refine(coarse: f32, cos_theta: f32) -> f32 {
    let step = SAMPLE_RATE as f32 / BLOCK_LEN as f32; // 200 Hz
    let g = cos_theta.clamp(-1.0, 1.0).acos() / std::f32::consts::PI * step / 2.0;
    let mut best = coarse;
    let mut best_d = f32::INFINITY;
    for sign in [-1.0f32, 1.0] {
        let k = ((coarse - sign * g) / step).round();
        let f = k * step + sign * g;
        let d = (f - coarse).abs();
        if d < best_d {
            best_d = d;
            best = f;
        }
    }
    best
}

/// A closed part, as the group keeps it.
#[derive(Debug, Clone, Copy, Default)]
struct Closed {
    start: u64,
    end: u64,
    freq: f32,
    /// Expected relative error of `freq`.
    sigma: f32,
    /// The DFT recurrence's frequency, if measured (near multiples of
    /// 100 Hz only to a few Hz).
    freq_dft: Option<f32>,
    /// Mean block energy.
    energy: f32,
    /// Whether it passed the part rules.
    passed: bool,
    /// Its tone's strength, for judging pieces of one tone together.
    strength: Strength,
}

/// How far a part's tone stood over the rest (see
/// [`BeepDetector::clear_together`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Strength {
    /// Its tone and rest powers per sample where the rest was the line's
    /// white noise.
    line: Option<(f32, f32)>,
    /// Whether the part failed only as too weak (it passed the rules a
    /// voice fails).
    weak: bool,
}

/// Why a group is not a beep (for tests and tracing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reject {
    /// Shorter than the shortest or longer than the longest beep.
    Duration,
    /// A part's block energies ripple (beating tones, pitch pulses).
    Ripple,
    /// A part's frequency is outside the band.
    Band,
    /// A part's tone does not stand far enough above the rest.
    Weak,
    /// The lags and the DFT bins disagree on a part's frequency (several
    /// harmonics).
    Harmonic,
    /// A part's frequency wanders (vibrato, drifting voice).
    Unsteady,
    /// More parts than a double or two-tone beep has.
    Parts,
    /// The special information tone sequence.
    Sit,
    /// A burst repeating one heard a few seconds before (a slow cadence).
    Cadence,
    /// A signalling tone of a live call: the North American call-waiting
    /// tone (440 Hz, 300 ms) or the recorder warning (1400 Hz, 500 ms).
    Signalling,
}

/// Parts less than a gap apart.
#[derive(Debug, Clone, Copy, Default)]
struct Group {
    parts: [Closed; MAX_PARTS],
    n: usize,
    overflow: bool,
    /// The first rule a part failed.
    failed: Option<Reject>,
    /// Whether any part passed the part rules.
    any_passed: bool,
    /// Mean block energy of the loudest part that passed.
    loudest_passed: f32,
    /// Mean block energy of the loudest part.
    loudest: f32,
    /// A short failed part at the tone's level right after it, held aside
    /// until a part shows whether the tone goes on after it.
    masked: Option<(Closed, Option<Reject>)>,
    /// Whether its first part began as a louder failed part (talk) ended:
    /// a tone whose start the talker's voice may have hidden.
    after_talk: bool,
}

impl Group {
    /// Adds a part; past [`MAX_PARTS`] the last one is stretched to it, and
    /// the group marked overflowing unless both passed at one DFT frequency
    /// and level: a steady tone that noise (babble, pink noise near its
    /// level) broke into more pieces than a double or two-tone beep has.
    fn append(&mut self, c: Closed) {
        if self.n < MAX_PARTS {
            self.parts[self.n] = c;
            self.n += 1;
        } else {
            let last = &mut self.parts[MAX_PARTS - 1];
            if !same_tone_again(last, &c) {
                self.overflow = true;
            }
            last.end = c.end;
        }
    }

    fn start(&self) -> u64 {
        self.parts[0].start
    }
    fn end(&self) -> u64 {
        self.parts[self.n - 1].end
    }
}

/// A tone group remembered for the cadence hold-off.
#[derive(Debug, Clone, Copy)]
struct Burst {
    freq: f32,
    /// Start sample of the tone it goes on with: its own start, or that of
    /// the burst it resumed (noise may break one beep into several groups,
    /// each taking up the one before).
    tone_start: u64,
    /// End sample.
    end: u64,
    /// Its loudest part's mean block energy.
    energy: f32,
    /// Whether it was not failed as a voice is (ripple, harmonics,
    /// wandering) and lasted [`MIN_PASSED_BURST_MS`] or more: only such a
    /// burst makes a later tone at its frequency a repeat, as the
    /// greeting's last words 300 ms before a beep at their pitch, or a
    /// 40 ms vowel scrap, do not. Any burst still cancels a pending
    /// candidate.
    tone_like: bool,
    /// Whether a part of it failed as a voice's does, though the group
    /// was too short to be judged on its parts: a babble vowel at a beep's
    /// pitch half a second before it makes no cadence, but a piece of the
    /// beep itself that babble spoiled a moment before still starts it.
    voiced: bool,
}

/// Whether a sound of energy `loud` is [`DROWNING_RATIO`] times a pending
/// candidate's `candidate` or more: loud enough, after it, to drown it.
fn drowns(loud: f32, candidate: f32) -> bool {
    loud >= candidate * DROWNING_RATIO
}

/// Whether two bursts' energies are within [`CADENCE_LEVEL_DB`] of each
/// other (the bursts of a cadence are one level).
fn same_level(a: f32, b: f32) -> bool {
    within_db(a, b, CADENCE_LEVEL_DB)
}

/// Whether energies `a` and `b` are within `db` of each other.
fn within_db(a: f32, b: f32, db: f32) -> bool {
    let r = 10f32.powf(db / 10.0);
    a <= b * r && b <= a * r
}

/// A beep waiting out its hold-off.
#[derive(Debug, Clone, Copy)]
struct Pending {
    event: BeepEvent,
    /// Its loudest part's mean block energy.
    energy: f32,
    /// Block index at which it is reported.
    due: u64,
}

/// Streaming beep detection for one channel.
pub struct BeepDetector {
    cfg: BeepConfig,
    lim: Limits,
    window: Window<W>,
    /// Energies of the last W blocks (ring, oldest at `blocks % W`).
    energies: [u32; W],
    /// The previous two blocks' DFTs, newest first.
    dft_hist: [[[i32; 2]; BINS]; 2],
    blocks: u64,
    part: Option<Part>,
    group: Option<Group>,
    pending: [Option<Pending>; SLOTS],
    /// Recent tones: (frequency, end sample).
    recent: [Option<Burst>; SLOTS],
    /// The line noise's lags, for the part measurements.
    noise: NoiseLags,
    /// Recent beep-like bursts (for slow cadences), oldest evicted.
    bursts: [Option<BeepEvent>; SLOTS],
    /// Start of a special information tone heard and not yet taken.
    sit: Option<u64>,
    /// The SIT's middle segment (1370.6/1428.5 Hz) heard in any part:
    /// (start, end) samples; parts, not groups, since noise may close a
    /// group between the segments.
    sit_middle: Option<(u64, u64)>,
    /// Start of a part that completed a SIT with [`Self::sit_middle`]: its
    /// group is the SIT, not a beep.
    sit_last: Option<u64>,
    /// End (sample) and mean block energy of the last part that failed.
    last_failed: Option<(u64, f32)>,
    #[cfg(test)]
    rejects: Vec<(Reject, f32)>,
    #[cfg(test)]
    summaries: Vec<Summary>,
}

impl Default for BeepDetector {
    fn default() -> Self {
        Self::new(BeepConfig::default())
    }
}

impl BeepDetector {
    /// A detector with the given parameters.
    pub fn new(cfg: BeepConfig) -> Self {
        Self {
            lim: Limits::new(&cfg),
            cfg,
            window: Window::default(),
            energies: [0; W],
            dft_hist: [[[0; 2]; BINS]; 2],
            blocks: 0,
            part: None,
            group: None,
            pending: [None; SLOTS],
            recent: [None; SLOTS],
            noise: NoiseLags::default(),
            bursts: [None; SLOTS],
            sit: None,
            sit_middle: None,
            sit_last: None,
            last_failed: None,
            #[cfg(test)]
            rejects: Vec::new(),
            #[cfg(test)]
            summaries: Vec::new(),
        }
    }

    /// The parameters in use.
    pub fn config(&self) -> &BeepConfig {
        &self.cfg
    }

    /// Whether nothing is under way: no tone sounding, no group waiting for
    /// its gap to pass and no candidate in its hold-off. A caller may stop
    /// feeding the detector then without cutting off a beep.
    pub fn is_idle(&self) -> bool {
        self.part.is_none() && self.group.is_none() && self.pending.iter().all(Option::is_none)
    }

    /// Whether a beep may be on its way: a candidate waits out its hold-off,
    /// or the open group already is a beep's length with no part failed
    /// (tones with a signalling tone's signature aside: they count only
    /// where the line is known to be a machine already). A caller deciding
    /// from the same audio (AMD's "a live person: silence after the
    /// greeting") can wait for it.
    pub fn beep_in_flight(&self) -> bool {
        let min = self.cfg.min_duration_ms as u64 * SAMPLE_RATE as u64 / 1000;
        self.pending.iter().flatten().any(|p| !p.event.signalling)
            || self.group.is_some_and(|g| {
                g.n > 0
                    && g.failed.is_none()
                    && g.end() - g.start() >= min
                    && !is_signalling(&g.parts[..g.n], g.after_talk)
            })
    }

    /// The start (sample) of a special information tone sequence heard
    /// since the last call, if any: the line is a carrier intercept, not a
    /// person (the call's AMD can say so at once).
    pub fn take_sit(&mut self) -> Option<u64> {
        self.sit.take()
    }

    /// Media time, in samples, up to which blocks have been consumed.
    pub fn position(&self) -> u64 {
        self.blocks * BLOCK
    }

    /// Consumes the next block; returns a beep that ended with it (reported
    /// after its hold-off, with the tone's own start and end).
    pub fn push(&mut self, block: &FeatureBlock) -> Option<BeepEvent> {
        let i = self.blocks;
        self.blocks += 1;
        self.window.push(block);
        self.energies[(i % W as u64) as usize] = block.energy;
        let tone = if self.window.energy() >= self.lim.energy_gate {
            self.tonal(block)
        } else {
            None
        };
        if tone.is_some() || self.part.is_some() || self.group.is_some() {
            self.track(i, block, tone);
        }
        if self.part.is_none() {
            self.noise.push(block);
        }
        self.dft_hist[1] = self.dft_hist[0];
        self.dft_hist[0] = block.dft;
        if self.pending.iter().all(Option::is_none) {
            return None;
        }
        self.poll(i)
    }

    /// Ends the stream. What still sounds closes here (a SIT it completes
    /// is still taken by [`Self::take_sit`]), but no beep is reported: a
    /// candidate still in its hold-off could not be told from a cadence's
    /// burst (the last burst of a busy tone cut by the hang-up), and a
    /// caller whose line ended within the hold-off of a beep has no use for
    /// it.
    pub fn finish(&mut self) {
        let now = self.blocks;
        if let Some(p) = self.part.take() {
            self.close_part(p);
        }
        if let Some(g) = self.group.take() {
            self.close_group(g, now);
        }
        self.pending = [None; SLOTS];
    }

    /// The window's tone if it qualifies.
    #[inline]
    fn tonal(&self, block: &FeatureBlock) -> Option<tracker::Tone> {
        let t = self.window.tone()?;
        if t.snr < self.lim.min_snr && !self.continues_in_line_noise(&t) {
            return None;
        }
        let c = (2.0 * std::f32::consts::PI * t.freq_hz / SAMPLE_RATE as f32).cos();
        if c < self.lim.min_c || c > self.lim.max_c {
            return None;
        }
        if block.looks_like_dtmf() {
            return None;
        }
        Some(t)
    }

    /// Whether a window short of [`BeepConfig::min_tone_snr_db`] still
    /// extends the part sounding: at its frequency, and at least
    /// [`BeepConfig::min_line_tone_snr_db`] over a rest that is the line's
    /// noise. Window by window, a steady beep in white noise near its own
    /// level scatters below the floor, and would break into scraps.
    fn continues_in_line_noise(&self, t: &tracker::Tone) -> bool {
        let Some(p) = &self.part else {
            return false;
        };
        let rest = t.rest() / (W * BLOCK_LEN) as f64;
        t.snr as f64 >= self.lim.min_line_snr
            && same_part(p.f_ref(), t.freq_hz, self.cfg.max_freq_jitter)
            && self.is_line_noise(rest)
    }

    fn track(&mut self, i: u64, block: &FeatureBlock, tone: Option<tracker::Tone>) {
        let e = block.energy as f32;
        if let Some(p) = &mut self.part {
            let on = tone.filter(|t| same_part(p.f_ref(), t.freq_hz, self.cfg.max_freq_jitter));
            // block energies: loud blocks extend the part
            let loud = e >= 0.5 * p.mean_energy();
            match on {
                Some(t) => {
                    p.misses = 0;
                    p.windows += 1;
                    p.f_sum += t.freq_hz;
                }
                None => p.misses += 1,
            }
            if loud && p.misses == 0 {
                // the previous block is interior when this one is loud
                // (whatever its own energy: the nulls of beating tones)
                if i >= p.start + 2 {
                    let prev = self.energies[((i - 1) % W as u64) as usize] as f64;
                    p.add_interior(prev);
                    let (num, den) =
                        recurrence(&self.dft_hist[1], &self.dft_hist[0], &block.dft, p.bins);
                    p.rec_num += num;
                    p.rec_den += den;
                    p.rec_n += 1;
                }
                p.last_loud = i;
                p.e_sum += e;
                p.e_n += 1;
                p.add_lags(block);
            }
            // a part ends after two failing windows (one is tolerated)
            if p.misses >= 2 {
                let p = self.part.take().unwrap();
                self.close_part(p);
            } else {
                return;
            }
        }
        if let Some(t) = tone {
            self.start_part(i, t);
        } else if let Some(g) = &self.group {
            if i > g.end() / BLOCK + self.lim.gap_blocks {
                let g = self.group.take().unwrap();
                self.close_group(g, i);
            }
        }
    }

    fn start_part(&mut self, i: u64, t: tracker::Tone) {
        // energy onset: the first block of the window holding at least half
        // of the loudest block's energy
        let first = (i + 1).saturating_sub(W as u64);
        let max = self.energies.iter().copied().max().unwrap_or(0);
        let mut start = i;
        for b in first..=i {
            if self.energies[(b % W as u64) as usize] as u64 * 2 >= max as u64 {
                start = b;
                break;
            }
        }
        let mut p = Part::new(start, i, t);
        // the window's blocks from the onset on are the part's first
        // (their lags are in the window; their DFTs are not needed: the
        // recurrence starts two blocks in)
        let mut ring = self.window.blocks_since(i + 1 - start);
        for b in start..=i {
            let e = self.energies[(b % W as u64) as usize];
            p.e_sum += e as f32;
            p.e_n += 1;
            if let Some(r) = ring.next() {
                p.add_lags_raw(r);
            }
        }
        self.part = Some(p);
    }

    fn close_part(&mut self, p: Part) {
        let blocks = (p.last_loud + 1).saturating_sub(p.start) as u32;
        if blocks < MIN_PART_BLOCKS {
            return;
        }
        let s = p.summary(self.noise.lags());
        #[cfg(test)]
        self.summaries.push(s);
        // the band's edges widen by what the estimate's noise explains (a
        // 120 ms 350 Hz beep in 12 dB noise reads 338 Hz from the lags one
        // time in thirty; a 300 Hz tone is still 4 sigma out)
        let slack = 0.02 + BAND_Z * s.sigma_best.min(0.05);
        let band = self.cfg.min_freq_hz * (1.0 - slack as f32)
            ..=self.cfg.max_freq_hz * (1.0 + slack as f32);
        let agree = (0.03 * (500.0 / s.freq as f64).max(1.0))
            .max(AGREE_Z * (s.sigma_lag.powi(2) + s.sigma_dft.powi(2)).sqrt());
        // the rules a voice fails (judged on weak parts too, so that
        // pieces of one tone may be judged together on their strength)
        let voice = if s.ripple > self.cfg.max_ripple as f64 {
            Some(Reject::Ripple)
        } else if s.dft_checked && ((s.freq_dft - s.freq).abs() / s.freq) as f64 > agree {
            // a lone tone gives the same frequency from the lags and from
            // the DFT bins' block-to-block rotation; several harmonics
            // (a voice) pull the two apart
            Some(Reject::Harmonic)
        } else if s.drift > self.cfg.max_drift as f64 && s.drift_z > DRIFT_Z {
            Some(Reject::Unsteady)
        } else {
            None
        };
        let line_noise = self.is_line_noise(s.rest);
        let failed = if !band.contains(&s.best) {
            Some(Reject::Band)
        } else if s.snr < self.lim.min_part_snr
            && s.local_snr < self.lim.min_part_snr
            && !(s.snr >= self.lim.min_line_part_snr && line_noise)
        {
            Some(Reject::Weak)
        } else {
            voice
        };
        let closed = Closed {
            start: p.start * BLOCK,
            end: (p.last_loud + 1) * BLOCK,
            // the DFT recurrence is the finer estimate where it is well
            // conditioned (50 Hz off the multiples of 100 Hz most); the
            // lags' elsewhere
            freq: s.best,
            sigma: s.sigma_best as f32,
            freq_dft: s.dft_any.then_some(s.freq_dft),
            energy: p.mean_energy(),
            passed: failed.is_none(),
            strength: Strength {
                line: line_noise.then_some(((s.snr * s.rest) as f32, s.rest as f32)),
                weak: failed == Some(Reject::Weak) && voice.is_none(),
            },
        };
        self.track_sit(&closed);
        if failed.is_some() {
            self.last_failed = Some((closed.end, closed.energy));
        }
        // Babble under a steady beep pulls the lag estimate of a window or
        // two a few percent off (the DFT bins, narrow and away from most
        // of the babble, do not move): the tracker then breaks the tone into
        // parts, and the pieces measured on the lags fail as weak, harmonic
        // or unsteady. A part that takes up where a passed one ended, at
        // its level and at its DFT frequency, is that tone going on.
        // Louder babble masks the tone for a syllable: a short failed part
        // at the tone's level right after it is held aside, and forgiven
        // when the tone takes up again after it.
        if let Some(g) = &mut self.group {
            let masked_end = g.masked.map(|(m, _)| m.end);
            if let Some(last) = g.parts[..g.n].last_mut() {
                if continues_tone(last, &closed, masked_end)
                    && matches!(
                        failed,
                        None | Some(Reject::Weak | Reject::Harmonic | Reject::Unsteady)
                    )
                {
                    last.end = last.end.max(closed.end);
                    g.masked = None;
                    return;
                }
                // a scrap too short to measure well that passed at another
                // DFT frequency, after a long steady tone, is a noise swell
                // over the tone, as a failed part is (after a short one it
                // may be a voice moving)
                let long_ms = LONG_PART_MS * SAMPLE_RATE as u64 / 1000;
                let scrap = closed.end - closed.start < CONTINUE_MIN_SAMPLES
                    && last.end - last.start >= long_ms;
                if failed.is_some() || scrap {
                    // the stretch held aside grows with each failed part
                    // (or scrap) that follows it at the tone's level
                    let (stretch, why, adjoins) = match g.masked {
                        Some((m, why)) => (
                            Closed {
                                end: m.end.max(closed.end),
                                ..m
                            },
                            why.or(failed),
                            closed.start <= m.end + ABUT_SAMPLES
                                && within_db(last.energy, closed.energy, CONTINUE_LEVEL_DB),
                        ),
                        None => (closed, failed, true),
                    };
                    if adjoins && masks_tone(last, &stretch) {
                        g.masked = Some((stretch, why));
                        return;
                    }
                }
            }
            if let Some((m, f)) = g.masked.take() {
                self.join_group(m, f);
            }
        }
        self.join_group(closed, failed);
    }

    /// Whether a tone's residual power per sample, `rest`, is the line's
    /// noise, and that noise white: within [`LINE_REST_DB`] of the noise
    /// measured before the tone, whose lags are near zero. In coloured
    /// noise (pink, babble) the Pisarenko split of tone and rest is biased,
    /// and a window pulled off the tone must not extend it.
    fn is_line_noise(&self, rest: f64) -> bool {
        let [r0, r1, r2] = self.noise.lags();
        let floor = r0 / BLOCK_LEN as f64;
        floor > 0.0
            && rest <= floor * self.lim.line_rest
            && r1.abs().max(r2.abs()) <= WHITE_LAGS * r0
    }

    /// Follows the SIT's last two segments across parts: one of 60 ms or
    /// more near 1370.6/1428.5 Hz, then within 150 ms one near 1776.7 Hz.
    /// Pink noise and babble break the segments into parts (some failing)
    /// and may close a group between them.
    fn track_sit(&mut self, c: &Closed) {
        let min = 60 * SAMPLE_RATE as u64 / 1000;
        if c.end - c.start < min {
            return;
        }
        let f = bins_freq(c);
        if (1340.0..=1460.0).contains(&f) {
            self.sit_middle = Some((c.start, c.end));
        } else if (1740.0..=1860.0).contains(&f) {
            let gap = 150 * SAMPLE_RATE as u64 / 1000;
            if let Some((start, end)) = self.sit_middle.take() {
                if c.start + gap >= end && c.start <= end + gap && end - start < 500 * 8 {
                    self.sit = Some(start);
                    self.sit_last = Some(c.start);
                }
            }
        }
    }

    /// Whether the part-level tracker completed a SIT inside group `g`.
    fn sit_tracked_in(&self, g: &Group) -> bool {
        self.sit_last
            .is_some_and(|t| t >= g.start() && t <= g.end())
    }

    /// Adds a closed part to the open group, or starts a group with it,
    /// closing the open one first when the part is past its gap.
    fn join_group(&mut self, closed: Closed, failed: Option<Reject>) {
        // a part after the gap ends the previous group; so does a part at
        // another frequency after a blip too short to be half of a two-tone
        // beep (a syllable that looked tonal just before the real beep)
        if let Some(g) = &self.group {
            let last = g.parts[g.n.saturating_sub(1)];
            let blip = last.end - last.start < MIN_MERGE_SAMPLES
                && !same(last.freq, closed.freq, self.cfg.same_freq);
            if closed.start > g.end() + self.lim.gap_blocks * BLOCK || blip {
                let g = self.group.take().unwrap();
                self.close_group(g, closed.start / BLOCK);
            }
        }
        let g = self.group.get_or_insert_with(Group::default);
        // A part far quieter than a tone of the group is the line noise
        // around it (pink or babble noise has short tonal stretches between
        // and after a beep's parts), not a voice going on or a beep's part
        // (a beep's parts are one level): it neither joins nor spoils the
        // group; and a tone far louder than all the group so far makes the
        // parts before it noise.
        let e = closed.energy;
        // A failed part after the group's tone has ended, well below it,
        // is the line noise after the beep (babble's tonal scraps), not a
        // voice going on: it neither joins nor spoils the group; nor does
        // a scrap too short to be a beep's part there, passed or not.
        let trailing = g.parts[..g.n].iter().rev().find(|c| c.passed);
        let scrap = closed.end - closed.start < CONTINUE_MIN_SAMPLES;
        if (failed.is_some() || scrap)
            && trailing.is_some_and(|c| closed.start >= c.end)
            && e < g.loudest_passed * TRAIL_QUIET
        {
            return;
        }
        if g.any_passed && e < g.loudest_passed * QUIET_PART {
            return;
        }
        if failed.is_none() && g.n > 0 && g.loudest < e * QUIET_PART {
            *g = Group::default();
        }
        // Failed parts (speech, noise) just before a tone do not spoil it: a
        // voicemail beep often follows the greeting's last syllable by
        // 100-200 ms. A failed part after a tonal one does spoil the group.
        // They are closed as a group of their own all the same: a burst of
        // a cadence that background talk spoiled still repeats the one
        // before it (a busy tone's burst in babble).
        if failed.is_none() && g.n > 0 && g.failed.is_some() && !g.any_passed {
            let before = std::mem::take(g);
            self.close_group(before, closed.start / BLOCK);
        }
        let g = self.group.get_or_insert_with(Group::default);
        if failed.is_none() {
            g.loudest_passed = g.loudest_passed.max(e);
        }
        g.loudest = g.loudest.max(e);
        g.any_passed |= failed.is_none();
        g.failed = g.failed.or(failed);
        if g.n == 0 {
            g.after_talk = self.last_failed.is_some_and(|(end, energy)| {
                end < closed.end && closed.start <= end + ABUT_SAMPLES && energy >= closed.energy
            });
        }
        g.append(closed);
    }

    /// Judges a finished group at block `now`.
    fn close_group(&mut self, mut g: Group, now: u64) {
        if g.n == 0 {
            return;
        }
        // a masked stretch the tone did not come back after is what it
        // seemed: a failed part
        if let Some((m, f)) = g.masked.take() {
            g.failed = g.failed.or(f);
            g.append(m);
        }
        let freq = g.parts[0].freq;
        let verdict = self.judge(&g);
        // any tone (beep or not) may be the first of a cadence: a tone at
        // its frequency starting within the hold-off repeats it
        // (a cadence repeats at about one level: a faint noise part at the
        // frequency is not a repeat)
        let repeat = self.is_recent(freq, g.start(), g.loudest);
        // ...unless it takes up a tone that stopped a moment ago: noise
        // broke one tone into groups (the beep starts with the first)
        let resumed = self.resumed(freq, g.start(), g.loudest);
        let repeat = repeat && resumed.is_none();
        let span_ms = (g.end() - g.start()) * 1000 / SAMPLE_RATE as u64;
        let long = span_ms >= MIN_BURST_MS;
        let burst = g.any_passed || long;
        if burst {
            self.remember(Burst {
                freq,
                tone_start: resumed.unwrap_or(g.start()),
                end: g.end(),
                energy: g.loudest,
                tone_like: !is_voice(verdict.err()) && span_ms >= MIN_PASSED_BURST_MS,
                // (a group too short for a beep is judged on its length
                // first: its parts' failures say whether it was a voice)
                voiced: is_voice(g.failed),
            });
        }
        // a pending candidate at this frequency was a cadence too, unless
        // this group takes its tone up again sooner than any cadence's off
        // time: noise broke one tone into groups, which goes on
        let mut cancelled = false;
        let mut taken_up = false;
        let max_len = self.cfg.max_duration_ms as u64 * SAMPLE_RATE as u64 / 1000;
        for slot in self.pending.iter_mut().filter(|_| burst) {
            let Some(p) = slot else { continue };
            // ...and one far quieter than a long burst right after it is
            // the line's noise between that signal's bursts (babble in a
            // busy tone's gaps): a voicemail beep is followed by silence
            let drowned = long && g.start() >= p.event.end && drowns(g.loudest, p.energy);
            let same_tone =
                same(p.event.freq_hz, freq, self.cfg.same_freq) && same_level(p.energy, g.loudest);
            if same_tone
                && g.start() >= p.event.start
                && g.start() <= p.event.end + MAX_TAKE_UP_SAMPLES
                && g.end() <= p.event.start + max_len
            {
                p.event.end = p.event.end.max(g.end());
                p.due = p.due.max(g.end() / BLOCK + self.lim.holdoff + 2);
                taken_up = true;
            } else if same_tone || drowned {
                *slot = None;
                cancelled = true;
            }
        }
        // a beep-like burst like one heard a few seconds before is a slow
        // cadence (EU ring-back: 425 Hz, 1 s on, 4 s off), not a beep
        let verdict = match verdict {
            Ok(e) => {
                let slow_repeat = self.is_slow_repeat(&e);
                self.remember_burst(e);
                if slow_repeat {
                    Err(Reject::Cadence)
                } else {
                    Ok(e)
                }
            }
            v => v,
        };
        // (once: the part-level tracker may have reported this one)
        if verdict == Err(Reject::Sit) && !self.sit_tracked_in(&g) {
            self.sit = Some(g.start());
        }
        match verdict {
            Err(_r) => {
                #[cfg(test)]
                self.rejects.push((_r, freq));
            }
            Ok(mut event) if !repeat && !cancelled && !taken_up => {
                if let Some(start) = resumed {
                    if event.end - start <= max_len {
                        event.start = start;
                    }
                }
                // two blocks of slack, as in `is_recent`
                let due = (g.end() / BLOCK + self.lim.holdoff + 2).max(now);
                if let Some(slot) = self.pending.iter_mut().find(|s| s.is_none()) {
                    *slot = Some(Pending {
                        event,
                        due,
                        energy: g.loudest,
                    });
                }
            }
            Ok(_) => {}
        }
    }

    fn judge(&self, g: &Group) -> Result<BeepEvent, Reject> {
        // first: the SIT's parts may have speech (the announcement) or
        // noise parts after them in the group
        if is_sit(&g.parts[..g.n]) || self.sit_tracked_in(g) {
            return Err(Reject::Sit);
        }
        // a lone scrap (a vowel's 30 ms, apart from the tone) is no part of
        // a double beep: the beep is what the other parts span
        let parts = &g.parts[..g.n];
        let kept = |k: &usize| !is_lone_scrap(parts, *k);
        let (Some(first), Some(last)) = ((0..g.n).find(kept), (0..g.n).rev().find(kept)) else {
            return Err(Reject::Duration);
        };
        let (start, end) = (parts[first].start, parts[last].end);
        let ms = (end - start) * 1000 / SAMPLE_RATE as u64;
        if ms < self.cfg.min_duration_ms as u64 || ms > self.cfg.max_duration_ms as u64 {
            return Err(Reject::Duration);
        }
        if let Some(r) = g.failed {
            if !(r == Reject::Weak && self.clear_together(parts)) {
                return Err(r);
            }
        }
        // the span may be long while the tone is not: two babble scraps of
        // 30-40 ms 150 ms apart are no double beep
        let sounding: u64 = parts[first..=last].iter().map(|c| c.end - c.start).sum();
        if sounding * 1000 < MIN_SOUNDING_MS * SAMPLE_RATE as u64 {
            return Err(Reject::Duration);
        }
        if g.overflow {
            return Err(Reject::Parts);
        }
        let signalling = is_signalling(&g.parts[..g.n], g.after_talk);
        if signalling && !self.cfg.report_signalling {
            return Err(Reject::Signalling);
        }
        // a double beep repeats one frequency, a two-tone beep steps far;
        // neighbours a few percent apart, beyond what their noise explains,
        // are a voice moving (espeak-ng de+f2 'mmm': 75 ms murmurs at 375
        // then 361 Hz)
        for w in g.parts[..g.n].windows(2) {
            let d = (w[0].freq - w[1].freq).abs() / w[0].freq.max(w[1].freq);
            let noise = NEIGHBOUR_Z * (w[0].sigma.powi(2) + w[1].sigma.powi(2)).sqrt();
            // two long steady tones at different frequencies are a
            // two-tone beep, however close: a voice does not hold two
            // pitches that long
            let long = |c: &Closed| c.end - c.start >= LONG_PART_MS * SAMPLE_RATE as u64 / 1000;
            if long(&w[0]) && long(&w[1]) {
                continue;
            }
            if d > self.cfg.same_freq.max(noise) && d < NEIGHBOUR_STEP {
                return Err(Reject::Unsteady);
            }
        }
        Ok(BeepEvent {
            start,
            end,
            freq_hz: parts[first].freq,
            signalling,
        })
    }

    /// Whether `parts`, each passed or too weak by itself, all in the
    /// line's white noise at one frequency and level, stand
    /// [`BeepConfig::min_line_part_snr_db`] over it together: a beep about
    /// that far over white noise scatters around the floor from piece to
    /// piece (6.7-7.6 dB), and the tracker breaks it where it dips. (In
    /// coloured noise, pieces judged together let babble's vowels through.)
    fn clear_together(&self, parts: &[Closed]) -> bool {
        let first = parts[0];
        let one_tone = |c: &Closed| {
            (c.passed || c.strength.weak)
                && same(first.freq, c.freq, self.cfg.same_freq)
                && within_db(first.energy, c.energy, CONTINUE_LEVEL_DB)
        };
        if !parts.iter().all(one_tone) {
            return false;
        }
        let mut pooled = (0.0, 0.0);
        for c in parts {
            let Some((tone, rest)) = c.strength.line else {
                return false;
            };
            let n = (c.end - c.start) as f64;
            pooled.0 += tone as f64 * n;
            pooled.1 += rest as f64 * n;
        }
        pooled.0 >= pooled.1 * self.lim.min_line_part_snr
    }

    /// Whether a tone at `freq` ended within the hold-off before `start`
    /// (two blocks of slack: a detected end and start may each be a block
    /// off the tone's): a tone-like burst, not one failed as a voice.
    fn is_recent(&self, freq: f32, start: u64, energy: f32) -> bool {
        let memory = (self.lim.holdoff + 2) * BLOCK;
        self.burst_before(freq, start, energy, memory, |b| b.tone_like && !b.voiced)
            .is_some()
    }

    /// The start of the tone of a burst at `freq` and about `energy` that
    /// ended at most [`MAX_TAKE_UP_SAMPLES`] before `start`: far sooner than
    /// any cadence's off time, so the same tone, broken by noise (the
    /// burst's own start, or the start of the tone it took up in turn). Any
    /// burst counts, even one failed as a voice: babble spoils a beep's
    /// first piece as often as any other, and its start is then the beep's.
    fn resumed(&self, freq: f32, start: u64, energy: f32) -> Option<u64> {
        self.burst_before(freq, start, energy, MAX_TAKE_UP_SAMPLES, |_| true)
            .map(|b| b.tone_start)
    }

    /// A burst that `accept`s, at `freq` and about `energy`, that ended at
    /// most `within` samples before `start` (or overlaps it by up to
    /// [`OVERLAP_SLACK`]).
    fn burst_before(
        &self,
        freq: f32,
        start: u64,
        energy: f32,
        within: u64,
        accept: impl Fn(&Burst) -> bool,
    ) -> Option<&Burst> {
        self.recent.iter().flatten().find(|b| {
            accept(b)
                && same(b.freq, freq, self.cfg.same_freq)
                && same_level(b.energy, energy)
                && start + OVERLAP_SLACK >= b.end
                && start.saturating_sub(b.end) <= within
        })
    }

    /// Whether `e` repeats a beep-like burst of about its frequency and
    /// length that ended at most [`SLOW_CADENCE_MS`] before it began.
    fn is_slow_repeat(&self, e: &BeepEvent) -> bool {
        let memory = SLOW_CADENCE_MS * SAMPLE_RATE as u64 / 1000;
        let len = (e.end - e.start) as f32;
        self.bursts.iter().flatten().any(|b| {
            let b_len = (b.end - b.start) as f32;
            same(b.freq_hz, e.freq_hz, self.cfg.same_freq)
                && (b_len - len).abs() <= 0.25 * len.max(b_len)
                && e.start >= b.end
                && e.start - b.end <= memory
        })
    }

    fn remember_burst(&mut self, e: BeepEvent) {
        let slot = (0..SLOTS)
            .min_by_key(|&k| self.bursts[k].map_or(0, |b| b.end + 1))
            .unwrap();
        self.bursts[slot] = Some(e);
    }

    fn remember(&mut self, burst: Burst) {
        let slot = (0..SLOTS)
            .min_by_key(|&k| self.recent[k].map_or(0, |b| b.end + 1))
            .unwrap();
        self.recent[slot] = Some(burst);
    }

    /// Reports a candidate whose hold-off has passed, unless a tone near
    /// its frequency is sounding now (a repeat has begun: decided when its
    /// group closes).
    fn poll(&mut self, i: u64) -> Option<BeepEvent> {
        let sounding = self.part.map(|p| (p.f_ref(), p.mean_energy()));
        for k in 0..SLOTS {
            let Some(p) = self.pending[k] else { continue };
            // a repeat of the candidate, or a far louder tone that may drown
            // it (see `close_group`)
            let holds = |f: f32, e: f32| {
                same_part(p.event.freq_hz, f, self.cfg.max_freq_jitter) || drowns(e, p.energy)
            };
            // ...is sounding: decided when its group closes
            if sounding.is_some_and(|(f, e)| holds(f, e)) && i > p.event.end / BLOCK + 1 {
                continue;
            }
            // ...or its part has closed but its group is still open
            // (waiting out the gap): decided when the group closes
            if let Some(g) = &self.group {
                if g.parts[..g.n]
                    .iter()
                    .any(|c| c.start >= p.event.end && holds(c.freq, c.energy))
                {
                    continue;
                }
            }
            if i >= p.due {
                self.pending[k] = None;
                return Some(p.event);
            }
        }
        None
    }
}

/// Whether a window frequency continues a part at `f_ref`: within the
/// relative jitter, or within the window estimate's error in `cos w` (the
/// window's edges and noise), i.e. `0.013 / sin w` radians.
#[inline]
fn same_part(f_ref: f32, f: f32, jitter: f32) -> bool {
    let w = 2.0 * std::f32::consts::PI * f_ref / SAMPLE_RATE as f32;
    let tol_c = 0.013 / w.sin().max(0.05) * SAMPLE_RATE as f32 / (2.0 * std::f32::consts::PI);
    (f - f_ref).abs() <= (jitter * f_ref).max(tol_c.min(0.15 * f_ref))
}

/// Whether a rule failed a part or group as a voice is failed: its energy
/// ripples with pitch pulses, its harmonics pull the estimates apart, or
/// its pitch wanders.
fn is_voice(r: Option<Reject>) -> bool {
    matches!(
        r,
        Some(Reject::Ripple | Reject::Harmonic | Reject::Unsteady)
    )
}

/// Whether two DFT-recurrence frequencies are one tone's: within
/// [`CONTINUE_DFT`], directly or through the alias of `cos 40w`.
fn same_dft(a: f32, b: f32) -> bool {
    same(a, b, CONTINUE_DFT) || same(a, dft_alias(b), CONTINUE_DFT)
}

/// Whether `next` is `last`'s tone again after a gap: both passed, at one
/// DFT frequency (or its alias; the lags' within [`SAME_TONE_LAGS`] where
/// either has none) and level.
fn same_tone_again(last: &Closed, next: &Closed) -> bool {
    let same_freq = match (last.freq_dft, next.freq_dft) {
        (Some(a), Some(b)) => same_dft(a, b),
        _ => same(last.freq, next.freq, SAME_TONE_LAGS),
    };
    last.passed
        && next.passed
        && same_freq
        && within_db(last.energy, next.energy, CONTINUE_LEVEL_DB)
}

/// Whether part `next` continues the tone of the passed part `last` (of
/// [`CONTINUE_MIN_SAMPLES`] or more, or shorter when `next` passed too): it starts at most [`ABUT_SAMPLES`]
/// after `last` ends (or after the masked stretch held aside after it,
/// ending at `masked_end`), within [`CONTINUE_LEVEL_DB`] of its level, at
/// its DFT frequency (within [`CONTINUE_DFT`]).
fn continues_tone(last: &Closed, next: &Closed, masked_end: Option<u64>) -> bool {
    let end = masked_end.map_or(last.end, |m| m.max(last.end));
    match (last.freq_dft, next.freq_dft) {
        (Some(a), Some(b)) => {
            last.passed
                && (last.end - last.start >= CONTINUE_MIN_SAMPLES || next.passed)
                && next.start <= end + ABUT_SAMPLES
                && next.end > last.end
                && same_dft(a, b)
                && within_db(last.energy, next.energy, CONTINUE_LEVEL_DB)
        }
        _ => false,
    }
}

/// Whether part `k` of a group of several is a lone scrap: shorter than
/// [`CONTINUE_MIN_SAMPLES`] and more than [`ABUT_SAMPLES`] from its
/// neighbours.
fn is_lone_scrap(parts: &[Closed], k: usize) -> bool {
    let p = &parts[k];
    parts.len() > 1
        && p.end - p.start < CONTINUE_MIN_SAMPLES
        && parts[..k]
            .last()
            .is_none_or(|q| p.start > q.end + ABUT_SAMPLES)
        && parts
            .get(k + 1)
            .is_none_or(|q| q.start > p.end + ABUT_SAMPLES)
}

/// Whether the failed part `m` may be the passed tone `last` masked for a
/// moment by louder noise: it starts at most [`ABUT_SAMPLES`] after `last`
/// (of [`CONTINUE_MIN_SAMPLES`] or more) ends, lasts at most
/// [`MAX_MASK_SAMPLES`] and is within [`CONTINUE_LEVEL_DB`] of its level.
fn masks_tone(last: &Closed, m: &Closed) -> bool {
    last.passed
        && last.end - last.start >= CONTINUE_MIN_SAMPLES
        && m.start <= last.end + ABUT_SAMPLES
        && m.end > last.end
        && m.end - m.start <= MAX_MASK_SAMPLES
        && within_db(last.energy, m.energy, CONTINUE_LEVEL_DB)
}

/// A group at a pending candidate's frequency and level that starts at
/// most this long after the candidate ends (100 ms) takes its tone up
/// again: pink noise or babble broke one tone into groups. A cadence's
/// bursts are further apart (the shortest off times, 200-250 ms).
const MAX_TAKE_UP_SAMPLES: u64 = 20 * BLOCK;

/// The other frequency with the same `cos 40w` as `f` near it: its mirror
/// about the nearest multiple of 100 Hz (the recurrence measures `cos 40w`,
/// and the lags, which pick between the two, may be pulled a few percent).
fn dft_alias(f: f32) -> f32 {
    2.0 * (f / 100.0).round() * 100.0 - f
}

#[inline]
fn same(a: f32, b: f32, rel: f32) -> bool {
    (a - b).abs() <= rel * a.max(b)
}

/// The two DTMF bins nearest `f`.
fn nearest_bins(f: f32) -> [usize; 2] {
    let mut order = [0usize, 1, 2, 3, 4, 5, 6, 7];
    order.sort_by(|&a, &b| {
        let da = (crate::features::BIN_FREQS[a] as f32 - f).abs();
        let db = (crate::features::BIN_FREQS[b] as f32 - f).abs();
        da.total_cmp(&db)
    });
    [order[0], order[1]]
}

/// DFT recurrence terms for blocks `a`, `b`, `c` (consecutive, `b` the
/// middle) over `bins`: `sum_k Re(conj(y_b) (y_a + y_c))` and
/// `sum_k |y_b|^2`.
#[inline]
fn recurrence(
    a: &[[i32; 2]; BINS],
    b: &[[i32; 2]; BINS],
    c: &[[i32; 2]; BINS],
    bins: [usize; 2],
) -> (f64, f64) {
    let mut num = 0.0;
    let mut den = 0.0;
    for k in bins {
        let (br, bi) = (b[k][0] as f64, b[k][1] as f64);
        let (sr, si) = ((a[k][0] + c[k][0]) as f64, (a[k][1] + c[k][1]) as f64);
        num += br * sr + bi * si;
        den += br * br + bi * bi;
    }
    (num, den)
}

/// The special information tone: three parts near 913.8/985.2,
/// 1370.6/1428.5 and 1776.7 Hz (ITU: 950, 1400, 1800 +- 50 Hz), or the last
/// two of them (the first missed).
fn is_sit(parts: &[Closed]) -> bool {
    let band = |f: f32, lo: f32, hi: f32| f >= lo && f <= hi;
    parts.windows(2).any(|w| {
        band(bins_freq(&w[0]), 1340.0, 1460.0)
            && band(bins_freq(&w[1]), 1740.0, 1860.0)
            && (w[0].end - w[0].start) < 500 * 8
    })
}

/// A part's frequency for matching a tone plan: the DFT bins' where they
/// agree with the lags' to 3%, or read up to [`LAG_PULL_DOWN`] above them
/// (pink noise and babble pull the lags down; near multiples of 100 Hz the
/// bins are too ill-conditioned to measure a beep with, not to place a
/// tone in a plan), else the part's.
fn bins_freq(c: &Closed) -> f32 {
    c.freq_dft
        .filter(|&d| same(d, c.freq, 0.03) || (d > c.freq && d <= c.freq * (1.0 + LAG_PULL_DOWN)))
        .unwrap_or(c.freq)
}

/// How far over the noise measured before a tone its rest may be and
/// still be that line noise, dB (Pisarenko's rest in white noise reads
/// within 1 dB of it).
const LINE_REST_DB: f64 = 2.0;

/// Power ratio (30 dB) of a part to the line noise before it up to which
/// the part's frequency is measured in the noise's spectral shape.
const SHAPED_NOISE: f64 = 1000.0;

/// Largest lag-1 or lag-2 autocorrelation of white line noise, relative to
/// its power (pink noise reads 0.5 or more).
const WHITE_LAGS: f64 = 0.2;

/// How far below a tone pink noise or babble 13-18 dB under it can pull
/// the lags' frequency: a 1400 Hz recorder warning has read 1332 Hz, its
/// bins 1400 Hz.
const LAG_PULL_DOWN: f32 = 0.06;
