//! Voicemail beep detection, on feature blocks only (so the FPGA backend
//! gives the same events).
//!
//! A beep is a steady single tone between 350 and 2100 Hz lasting 120 ms to
//! 2 s; a double beep or a two-tone beep (parts less than
//! [`BeepConfig::max_gap_ms`] apart) is one beep. Two stages:
//!
//! 1. **Tone tracker** ([`tracker`]): every 5 ms block, the lag-0/1/2
//!    autocorrelations of the last four blocks (20 ms) give the dominant
//!    sinusoid's frequency and its power over the residual (Pisarenko's
//!    estimate, unbiased in white noise). A window is *tonal* when it is
//!    loud enough, the tone stands [`BeepConfig::min_tone_snr_db`] above the
//!    rest, the frequency is in range, and the DTMF bins do not hold two
//!    tones (a row and a column tone). Consecutive tonal windows at one
//!    frequency (within [`BeepConfig::max_freq_jitter`], wider below 700 Hz
//!    where two lags resolve frequency coarsely) form a *part*; its start is
//!    the first loud block of its first window (energy onset), its end the
//!    end of its last loud block. A part's frequency is refined from the
//!    DFT bins: any linear measurement of a pure tone, taken every block,
//!    is a sinusoid in the block index, so `y[m-1] + y[m+1] = 2 cos(40 w)
//!    y[m]` for every bin; that fine, aliased estimate is unwrapped with the
//!    coarse one (the summed lags are exact, but over a short part the
//!    window's edges still leave an error of about `1 / (N sin w)` radians,
//!    several percent at 350-450 Hz).
//! 2. **Beep rules** on groups of parts: a group is rejected when its
//!    duration is out of range, when a part's block energies ripple (two
//!    close tones beat: ring-back 440+480, 400+450, busy 480+620), when it
//!    has too many parts (drifting speech), or when it is the special
//!    information tone sequence (913.8/985.2, 1370.6/1428.5, 1776.7 Hz). A
//!    tone that repeats at the same frequency after the group ends is a
//!    cadence (busy, ring-back, call waiting, recorder warning), not a beep:
//!    a candidate is reported only after [`BeepConfig::holdoff_ms`] of no
//!    repeat (longer, [`ProgressTone::max_off_ms`], at the frequencies of
//!    the common cadenced tones: 425 Hz, 440 Hz, 1400 Hz), and a group at
//!    the frequency of a recent tone is dropped.
//!
//! Events carry media time: `start` and `end` are the tone's, not the
//! decision's, which comes after the hold-off. The detector is causal and
//! knows nothing of the call: tones in live-answer calls (a call-waiting
//! tone, a tone before anyone spoke) are for the caller to gate, as the AMD
//! layer does with its verdict.
//!
//! Cost per block: an integer energy gate, a ring update; a square root and
//! an `acos` when the window is loud; a few dozen more flops while a tone
//! sounds. No allocation.
use crate::features::{FeatureBlock, BINS, BLOCK_LEN, INPUT_SHIFT, SAMPLE_RATE};

mod tracker;
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
}

/// A cadenced call-progress tone whose single bursts look like beeps: a
/// candidate at its frequency waits `max_off_ms` for a repeat.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProgressTone {
    /// Nominal frequency, Hz.
    pub freq_hz: f32,
    /// Longest silence between bursts, ms.
    pub max_off_ms: u32,
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
    /// Tone power over everything else in a 20 ms window, dB.
    pub min_tone_snr_db: f32,
    /// Largest relative frequency deviation within a part (above 700 Hz;
    /// below it the tolerance widens as the estimate's resolution falls).
    pub max_freq_jitter: f32,
    /// Largest ratio of the largest to the smallest block energy inside a
    /// part, dB (beating dual tones swing far more).
    pub max_ripple_db: f32,
    /// Parts closer than this form one beep (double beep, two-tone beep), ms.
    pub max_gap_ms: u32,
    /// Wait after a candidate ends for a same-frequency repeat, ms.
    pub holdoff_ms: u32,
    /// Two tones within this relative distance are "the same frequency"
    /// (cadence repeats, progress tones).
    pub same_freq: f32,
    /// Progress tones that get a longer hold-off.
    pub progress_tones: Vec<ProgressTone>,
    /// A group at the frequency of a tone that ended less than this long
    /// ago is a cadence repeat, ms.
    pub cadence_memory_ms: u32,
}

impl Default for BeepConfig {
    fn default() -> Self {
        Self {
            min_freq_hz: 350.0,
            max_freq_hz: 2100.0,
            min_duration_ms: 120,
            max_duration_ms: 2050,
            min_level_dbfs: -45.0,
            min_tone_snr_db: 9.0,
            max_freq_jitter: 0.02,
            max_ripple_db: 4.0,
            max_gap_ms: 160,
            holdoff_ms: 400,
            same_freq: 0.02,
            progress_tones: vec![
                // European ring-back (1 s on, 4 s off) and busy.
                ProgressTone {
                    freq_hz: 425.0,
                    max_off_ms: 5_500,
                },
                // North American call waiting (repeats after ~10 s).
                ProgressTone {
                    freq_hz: 440.0,
                    max_off_ms: 10_500,
                },
                // Recorder warning (0.5 s every 15 s).
                ProgressTone {
                    freq_hz: 1400.0,
                    max_off_ms: 15_500,
                },
            ],
            cadence_memory_ms: 16_000,
        }
    }
}

/// Blocks per tracker window.
const W: usize = 4;
/// Most parts in a group.
const MAX_PARTS: usize = 4;
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
    min_c: f32,
    max_c: f32,
    ripple: f32,
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
            min_c: c(cfg.max_freq_hz * 1.03),
            max_c: c(cfg.min_freq_hz * 0.97),
            ripple: 10f32.powf(cfg.max_ripple_db / 10.0),
            gap_blocks: ms_blocks(cfg.max_gap_ms),
            holdoff: ms_blocks(cfg.holdoff_ms),
        }
    }
}

fn ms_blocks(ms: u32) -> u64 {
    (ms as u64 * SAMPLE_RATE as u64 / 1000).div_ceil(BLOCK)
}

/// A run of tonal windows at one frequency, being built.
#[derive(Debug, Clone, Copy, Default)]
struct Part {
    /// First block of the tone.
    start: u64,
    /// Last loud block so far.
    last_loud: u64,
    /// Last block whose window was tonal at this frequency.
    last_on: u64,
    /// Tonal windows seen.
    windows: u32,
    /// Running reference frequency (mean of the windows' estimates).
    f_sum: f32,
    /// Summed block autocorrelations over the part's loud blocks.
    r: [i64; 3],
    /// Mean block energy tracking (sum, count).
    e_sum: f32,
    e_n: u32,
    e_min: f32,
    e_max: f32,
    /// DFT recurrence sums: sum Re(y[m]* (y[m-1] + y[m+1])), sum |y[m]|^2.
    rec_num: f64,
    rec_den: f64,
    /// Recurrence terms summed.
    rec_n: u32,
    /// The two bins nearest the tone (the others hold mostly noise).
    bins: [usize; 2],
    /// Consecutive windows that failed (not tonal or off frequency).
    misses: u32,
}

impl Part {
    fn f_ref(&self) -> f32 {
        self.f_sum / self.windows.max(1) as f32
    }
    fn mean_energy(&self) -> f32 {
        self.e_sum / self.e_n.max(1) as f32
    }
    /// The part's frequency: coarse from the summed lags, refined by the
    /// DFT recurrence.
    fn freq(&self) -> f32 {
        let Some(t) = tracker::measure(self.r[0] as f64, self.r[1] as f64, self.r[2] as f64) else {
            return self.f_ref();
        };
        // white noise adds to |y[m]|^2 but not to the cross terms: take its
        // expected share (variance per sample times the bins' gain, 40 *
        // 8192^2 per bin) out of the denominator
        let blocks = self.e_n.max(1) as f64;
        let noise_var = t.energy as f64 / (1.0 + t.snr as f64) / (blocks * BLOCK_LEN as f64);
        let den =
            self.rec_den - self.rec_n as f64 * 2.0 * BLOCK_LEN as f64 * 8192.0 * 8192.0 * noise_var;
        if den <= 0.05 * self.rec_den {
            return t.freq_hz;
        }
        refine(t.freq_hz, (self.rec_num / (2.0 * den)) as f32)
    }
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
}

/// Why a group is not a beep (for tests and tracing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reject {
    Duration,
    Ripple,
    Parts,
    Sit,
}

/// Parts less than a gap apart.
#[derive(Debug, Clone, Copy, Default)]
struct Group {
    parts: [Closed; MAX_PARTS],
    n: usize,
    overflow: bool,
    rippled: bool,
}

impl Group {
    fn start(&self) -> u64 {
        self.parts[0].start
    }
    fn end(&self) -> u64 {
        self.parts[self.n - 1].end
    }
}

/// A beep waiting out its hold-off.
#[derive(Debug, Clone, Copy)]
struct Pending {
    event: BeepEvent,
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
    /// Recent tones: (frequency, end block).
    recent: [Option<(f32, u64)>; SLOTS],
    #[cfg(test)]
    rejects: Vec<(Reject, f32)>,
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
            #[cfg(test)]
            rejects: Vec::new(),
        }
    }

    /// The parameters in use.
    pub fn config(&self) -> &BeepConfig {
        &self.cfg
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
        self.track(i, block, tone);
        self.dft_hist[1] = self.dft_hist[0];
        self.dft_hist[0] = block.dft;
        self.poll(i)
    }

    /// Ends the stream: a beep still sounding ends here; a candidate in its
    /// hold-off is reported (nothing can repeat it any more). Call until it
    /// returns `None` to drain every candidate (there is rarely more than
    /// one).
    pub fn finish(&mut self) -> Option<BeepEvent> {
        let now = self.blocks;
        if let Some(p) = self.part.take() {
            self.close_part(p);
        }
        if let Some(g) = self.group.take() {
            self.close_group(g, now);
        }
        let first = (0..SLOTS)
            .filter(|&k| self.pending[k].is_some())
            .min_by_key(|&k| self.pending[k].unwrap().event.start)?;
        self.pending[first].take().map(|p| p.event)
    }

    /// The window's tone if it qualifies.
    #[inline]
    fn tonal(&self, block: &FeatureBlock) -> Option<tracker::Tone> {
        let t = self.window.tone()?;
        if t.snr < self.lim.min_snr {
            return None;
        }
        let c = (2.0 * std::f32::consts::PI * t.freq_hz / SAMPLE_RATE as f32).cos();
        if c < self.lim.min_c || c > self.lim.max_c {
            return None;
        }
        if dtmf_like(block) {
            return None;
        }
        Some(t)
    }

    fn track(&mut self, i: u64, block: &FeatureBlock, tone: Option<tracker::Tone>) {
        let e = block.energy as f32;
        if let Some(p) = &mut self.part {
            let on = tone.filter(|t| same_part(p.f_ref(), t.freq_hz, self.cfg.max_freq_jitter));
            // block energies: loud blocks extend the part
            let mean = p.mean_energy();
            let loud = e >= 0.5 * mean;
            match on {
                Some(t) => {
                    p.misses = 0;
                    p.last_on = i;
                    p.windows += 1;
                    p.f_sum += t.freq_hz;
                }
                None => p.misses += 1,
            }
            if loud && p.misses == 0 {
                // the previous block is interior when this one is loud
                // (whatever its own energy: the nulls of beating tones)
                if i >= p.start + 2 {
                    let prev = self.energies[((i - 1) % W as u64) as usize] as f32;
                    p.e_min = p.e_min.min(prev);
                    p.e_max = p.e_max.max(prev);
                }
                p.last_loud = i;
                p.e_sum += e;
                p.e_n += 1;
                p.r[0] += block.energy as i64;
                p.r[1] += block.acf[0] as i64;
                p.r[2] += block.acf[1] as i64;
                if i >= p.start + 2 {
                    let (num, den) =
                        recurrence(&self.dft_hist[1], &self.dft_hist[0], &block.dft, p.bins);
                    p.rec_num += num;
                    p.rec_den += den;
                    p.rec_n += 1;
                }
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
        let max = (0..W).map(|k| self.energies[k]).max().unwrap_or(0);
        let mut start = i;
        for b in first..=i {
            if self.energies[(b % W as u64) as usize] as u64 * 2 >= max as u64 {
                start = b;
                break;
            }
        }
        let mut p = Part {
            start,
            last_loud: i,
            last_on: i,
            windows: 1,
            f_sum: t.freq_hz,
            e_min: f32::INFINITY,
            bins: nearest_bins(t.freq_hz),
            e_max: 0.0,
            ..Part::default()
        };
        for b in start..=i {
            let e = self.energies[(b % W as u64) as usize];
            p.e_sum += e as f32;
            p.e_n += 1;
        }
        self.part = Some(p);
    }

    fn close_part(&mut self, p: Part) {
        #[cfg(test)]
        if std::env::var("BEEP_DEBUG").is_ok() {
            eprintln!("part {p:?} freq {}", p.freq());
        }
        let blocks = (p.last_loud + 1).saturating_sub(p.start) as u32;
        let closed = Closed {
            start: p.start * BLOCK,
            end: (p.last_loud + 1) * BLOCK,
            freq: p.freq(),
        };
        if blocks < MIN_PART_BLOCKS {
            return;
        }
        let rippled = p.e_max > p.e_min * self.lim.ripple;
        // a part after the gap ends the previous group
        if let Some(g) = &self.group {
            if closed.start > g.end() + self.lim.gap_blocks * BLOCK {
                let g = self.group.take().unwrap();
                self.close_group(g, p.start);
            }
        }
        let g = self.group.get_or_insert_with(Group::default);
        g.rippled |= rippled;
        if g.n < MAX_PARTS {
            g.parts[g.n] = closed;
            g.n += 1;
        } else {
            g.overflow = true;
            g.parts[MAX_PARTS - 1].end = closed.end;
        }
    }

    /// Judges a finished group at block `now`.
    fn close_group(&mut self, g: Group, now: u64) {
        if g.n == 0 {
            return;
        }
        let freq = g.parts[0].freq;
        #[cfg(test)]
        if std::env::var("BEEP_DEBUG").is_ok() {
            eprintln!("group {:?}", &g.parts[..g.n]);
        }
        let verdict = self.judge(&g);
        // any tone (beep or not) may be the first of a cadence
        let repeat = self.is_recent(freq, g.start());
        self.remember(freq, g.end());
        // a pending candidate at this frequency was a cadence too
        let mut cancelled = false;
        for slot in self.pending.iter_mut() {
            if matches!(slot, Some(p) if same(p.event.freq_hz, freq, self.cfg.same_freq)) {
                *slot = None;
                cancelled = true;
            }
        }
        match verdict {
            Err(_r) => {
                #[cfg(test)]
                self.rejects.push((_r, freq));
            }
            Ok(event) if !repeat && !cancelled => {
                let mut hold = self.lim.holdoff;
                for pt in &self.cfg.progress_tones {
                    if same(pt.freq_hz, freq, self.cfg.same_freq) {
                        hold = hold.max(ms_blocks(pt.max_off_ms));
                    }
                }
                let due = (g.end() / BLOCK).max(now) + hold;
                if let Some(slot) = self.pending.iter_mut().find(|s| s.is_none()) {
                    *slot = Some(Pending { event, due });
                }
            }
            Ok(_) => {}
        }
    }

    fn judge(&self, g: &Group) -> Result<BeepEvent, Reject> {
        let dur = g.end() - g.start();
        let ms = dur * 1000 / SAMPLE_RATE as u64;
        if ms < self.cfg.min_duration_ms as u64 || ms > self.cfg.max_duration_ms as u64 {
            return Err(Reject::Duration);
        }
        if g.rippled {
            return Err(Reject::Ripple);
        }
        if g.overflow {
            return Err(Reject::Parts);
        }
        if is_sit(&g.parts[..g.n]) {
            return Err(Reject::Sit);
        }
        Ok(BeepEvent {
            start: g.start(),
            end: g.end(),
            freq_hz: g.parts[0].freq,
        })
    }

    fn is_recent(&self, freq: f32, start: u64) -> bool {
        let memory = ms_blocks(self.cfg.cadence_memory_ms) * BLOCK;
        self.recent.iter().flatten().any(|&(f, end)| {
            same(f, freq, self.cfg.same_freq) && start >= end && start - end <= memory
        })
    }

    fn remember(&mut self, freq: f32, end: u64) {
        let slot = (0..SLOTS)
            .min_by_key(|&k| self.recent[k].map_or(0, |(_, e)| e + 1))
            .unwrap();
        self.recent[slot] = Some((freq, end));
    }

    /// Reports a candidate whose hold-off has passed, unless a tone at its
    /// frequency is sounding now (the repeat has begun).
    fn poll(&mut self, i: u64) -> Option<BeepEvent> {
        let sounding = self.part.map(|p| p.f_ref());
        for k in 0..SLOTS {
            let Some(p) = self.pending[k] else { continue };
            if let Some(f) = sounding {
                if same(f, p.event.freq_hz, self.cfg.same_freq) && i > p.event.end / BLOCK + 1 {
                    continue; // decided when the repeat's group closes
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
/// relative jitter, or within the estimate's error in `cos w` (the block
/// edges' bias, +-0.016 at worst, and noise), i.e. `0.02 / sin w` radians.
#[inline]
fn same_part(f_ref: f32, f: f32, jitter: f32) -> bool {
    let w = 2.0 * std::f32::consts::PI * f_ref / SAMPLE_RATE as f32;
    let tol_c = 0.013 / w.sin().max(0.05) * SAMPLE_RATE as f32 / (2.0 * std::f32::consts::PI);
    (f - f_ref).abs() <= (jitter * f_ref).max(tol_c.min(0.15 * f_ref))
}

#[inline]
fn same(a: f32, b: f32, rel: f32) -> bool {
    (a - b).abs() <= rel * a.max(b)
}

/// Two DTMF bins, a row and a column, each holding a quarter or more of
/// the energy a lone on-bin tone would put there: two tones.
#[inline]
fn dtmf_like(b: &FeatureBlock) -> bool {
    // on-bin sine of energy E: |X|^2 = E * 20 * 8192^2
    let full = b.energy as f64 * (BLOCK_LEN as f64 / 2.0) * 8192.0 * 8192.0;
    let row = (0..4).map(|k| b.power(k)).max().unwrap_or(0) as f64;
    let col = (4..8).map(|k| b.power(k)).max().unwrap_or(0) as f64;
    row >= 0.25 * full && col >= 0.25 * full
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
        band(w[0].freq, 1340.0, 1460.0)
            && band(w[1].freq, 1740.0, 1860.0)
            && (w[0].end - w[0].start) < 500 * 8
    })
}
