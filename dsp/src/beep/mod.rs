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
//! 2. **Part rules** (`part` measures a closed part's whole-part sums,
//!    `grouping` applies the rules). The frequency
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
//!      440+480 Hz, busy 480+620 Hz; a voice follows its pitch pulses;
//!      three times that for a part of 400 ms or more in low-pass line
//!      noise, whose syllables swing a steady tone's blocks),
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
//! 3. **Groups** (`grouping` builds them, `judge` judges them): parts
//!    less than [`BeepConfig::max_gap_ms`] apart form a
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
//! 4. **Cadence hold-off** (`cadence`): any group, beep or not, may be the first burst
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
//! 5. **Signalling tones and slow cadences** (`plans`, `cadence`): a group with the signature
//!    of a live call's signalling tone (call waiting, 440 Hz 100-380 ms;
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
//! `tests/beep_distractors.rs`: 36 of 80 found within 40 ms).
//!
//! Cost per block: an integer energy gate, a ring update; a square root and
//! an `acos` when the window is loud; a few dozen more flops while a tone
//! sounds. No allocation.
use crate::features::{FeatureBlock, BINS, BLOCK_LEN, INPUT_SHIFT, SAMPLE_RATE};

mod cadence;
mod grouping;
mod judge;
mod part;
mod plans;
pub mod thresholds;
mod tracker;

use cadence::{Burst, Pending};
use grouping::Group;
#[cfg(test)]
use grouping::Reject;
#[cfg(test)]
use part::Summary;
use part::{recurrence, NoiseLags, Part};
use plans::is_signalling;
pub(crate) use plans::{CALL_WAITING_MAX_MS, RECORDER_WARNING_MAX_MS};
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

/// The tone an open group must hold to count as under way
/// ([`BeepDetector::tone_sounding`]), ms: two thirds of the shortest beep.
/// Scraps of tone in the line's noise group too, and at 40 ms they held
/// live callers' verdicts past the latency targets on held-out seeds 1-90.
pub const GROUP_UNDER_WAY_MS: u32 = 80;
/// Shortest part, blocks (shorter tonal runs are treated as gaps).
const MIN_PART_BLOCKS: u32 = 6;
/// Most pending candidates and remembered tones.
const SLOTS: usize = 4;
const BLOCK: u64 = BLOCK_LEN as u64;
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
    /// The end of the last beep reported (sample).
    reported_end: u64,
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
            reported_end: 0,
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
            || self.group.as_ref().is_some_and(|g| {
                g.n > 0
                    && g.failed.is_none()
                    && g.end() - g.start() >= min
                    && !is_signalling(&g.parts[..g.n], g.after_talk)
            })
    }

    /// Whether a tone that may yet be reported as a beep is under way: one
    /// sounding now that has lasted at least `min_ms`, or a group still
    /// open (its gap not yet passed: the second half of a double beep, or
    /// a tone noise broke up, may follow) whose parts hold at least
    /// [`GROUP_UNDER_WAY_MS`] of tone with none failed; no longer than a
    /// beep may be either way. Whatever it looks like so far: a group is
    /// judged only once it has closed, and a 1400 Hz tone of 300 ms reads
    /// as the recorder warning until it goes on past 700 ms.
    pub fn tone_sounding(&self, min_ms: u32) -> bool {
        let samples = |ms: u32| u64::from(ms) * SAMPLE_RATE as u64 / 1000;
        let max = samples(self.cfg.max_duration_ms);
        let part = self.part.as_ref().is_some_and(|p| {
            let len = (p.last_loud + 1 - p.start) * BLOCK;
            (samples(min_ms)..=max).contains(&len)
        });
        let group = self.group.as_ref().is_some_and(|g| {
            let tone: u64 = g.parts[..g.n].iter().map(|p| p.end - p.start).sum();
            g.failed.is_none() && tone >= samples(GROUP_UNDER_WAY_MS) && g.end() - g.start() <= max
        });
        part || group
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
        let mut event = self.poll(i)?;
        // a tone that follows another at once can share its boundary block
        // with it: the block is the earlier beep's, so beeps never overlap
        event.start = event.start.max(self.reported_end);
        if event.start >= event.end {
            return None;
        }
        self.reported_end = event.end;
        Some(event)
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

/// How far over the noise measured before a tone its rest may be and
/// still be that line noise, dB (Pisarenko's rest in white noise reads
/// within 1 dB of it).
const LINE_REST_DB: f64 = 2.0;
