//! DTMF (ITU-T Q.23/Q.24) detection: the decision half, on feature blocks.
//!
//! The detector looks at 10 ms windows (two consecutive 5 ms feature blocks
//! combined coherently into an 80-sample DFT) every 5 ms. A window *hits*
//! digit `d` when
//!
//! 1. the strongest row bin and the strongest column bin name `d`,
//! 2. each of the two tones is above the minimum level,
//! 3. the twist (row power over column power) is roughly within limits
//!    (4 dB of slack: the stronger tone's spectral leakage beats with the
//!    weaker one and moves single-window powers by up to about 2 dB),
//! 4. the two tones hold most of the window's energy (talk-off guard: speech
//!    and music spread their energy).
//!
//! A digit starts after [`DtmfConfig::min_hits`] consecutive hits whose
//! powers, averaged over the run (which averages the leakage out), meet the
//! twist limits exactly, and whose tones have the right frequencies: the phase advance of each bin from
//! one window to the next (5 ms later) measures the tone's frequency to a few
//! hertz, far finer than the bins are wide, and rejects tones off by 3.5%
//! while accepting 1.5%. It ends after [`DtmfConfig::end_misses`] windows
//! without it. Events carry start and end in samples of media time.
use crate::features::{
    FeatureBlock, BINS, BIN_FREQS, BLOCK_LEN, INPUT_SHIFT, SAMPLE_RATE, TWIDDLE_SCALE,
};
use crate::signal::dbm0_to_peak;
use std::f32::consts::PI;

mod complex;
use complex::C32;

/// Row and column characters of the DTMF keypad.
const KEYPAD: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// Samples in one analysis window (two feature blocks).
const WINDOW_LEN: usize = 2 * BLOCK_LEN;

/// Extra twist tolerated in a single window, in dB (see the module doc).
const WINDOW_TWIST_SLACK_DB: f64 = 4.0;

/// Tunable thresholds of the DTMF decision logic.
#[derive(Debug, Clone, PartialEq)]
pub struct DtmfConfig {
    /// Weakest accepted level of each tone, in dBm0.
    pub min_level_dbm0: f64,
    /// Largest accepted excess of the row (low) tone over the column tone, dB.
    pub max_reverse_twist_db: f64,
    /// Largest accepted excess of the column (high) tone over the row tone, dB.
    pub max_normal_twist_db: f64,
    /// Smallest share of the window's energy the two tones must hold (0..1).
    pub min_tone_share: f64,
    /// Largest accepted relative frequency error of either tone.
    pub max_freq_deviation: f64,
    /// Consecutive hitting windows (5 ms apart) before a digit starts.
    pub min_hits: u32,
    /// Consecutive missing windows that end a digit.
    pub end_misses: u32,
}

impl Default for DtmfConfig {
    fn default() -> Self {
        Self {
            min_level_dbm0: -40.0,
            max_reverse_twist_db: 10.0,
            max_normal_twist_db: 8.0,
            min_tone_share: 0.7,
            max_freq_deviation: 0.02,
            min_hits: 5,
            end_misses: 2,
        }
    }
}

/// A detected digit, in samples of media time from the stream's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfEvent {
    /// `0-9`, `*`, `#` or `A-D`.
    pub digit: char,
    /// First sample of the tone (within one window of the true onset).
    pub start: u64,
    /// Sample just after the tone.
    pub end: u64,
}

/// One feature block turned into floating point for the decisions.
#[derive(Clone, Copy, Default)]
struct Half {
    dft: [C32; BINS],
    power: [f32; BINS],
}

impl Half {
    fn from_features(f: &FeatureBlock) -> Self {
        let mut h = Half::default();
        for k in 0..BINS {
            let z = C32::new(f.dft[k][0] as f32, f.dft[k][1] as f32);
            h.dft[k] = z;
            h.power[k] = z.norm_sqr();
        }
        h
    }
}

/// A window that passed the per-window checks.
#[derive(Clone, Copy)]
struct Hit {
    row: usize,
    col: usize,
    x_row: C32,
    x_col: C32,
    power: [f32; 2],
}

/// Consecutive hits on one digit, not yet (or already) a digit.
#[derive(Clone, Copy)]
struct Run {
    row: usize,
    col: usize,
    hits: u32,
    first_block: u64,
    last_block: u64,
    last_row: C32,
    last_col: C32,
    /// Summed phase error (radians per 5 ms) of row and column tones.
    phase_sum: [f32; 2],
    /// Summed window powers of row and column tones.
    power_sum: [f32; 2],
}

#[derive(Clone, Copy)]
struct Active {
    digit: char,
    row: usize,
    col: usize,
    start: u64,
    last_hit_block: u64,
    misses: u32,
}

/// Thresholds in the units of the features.
#[derive(Debug, Clone)]
struct Limits {
    energy_gate: u64,
    min_power: f32,
    reverse_twist: f32,
    normal_twist: f32,
    window_reverse_twist: f32,
    window_normal_twist: f32,
    share_scale: f32,
    max_phase_error: [f32; BINS],
}

impl Limits {
    fn new(cfg: &DtmfConfig) -> Self {
        // Amplitude of the weakest tone after the engine's input shift.
        let a_min = dbm0_to_peak(cfg.min_level_dbm0) / (1 << INPUT_SHIFT) as f64;
        let half_window = WINDOW_LEN as f64 / 2.0;
        // A sine of amplitude A gives |X|^2 = (A N/2 S)^2 and energy A^2 N/2.
        let min_power = (a_min * half_window * TWIDDLE_SCALE).powi(2);
        let mut max_phase_error = [0f32; BINS];
        for (k, m) in max_phase_error.iter_mut().enumerate() {
            let df = BIN_FREQS[k] * cfg.max_freq_deviation;
            *m = (2.0 * std::f64::consts::PI * df * BLOCK_LEN as f64 / SAMPLE_RATE as f64) as f32;
        }
        Self {
            energy_gate: (2.0 * a_min * a_min * half_window) as u64,
            min_power: min_power as f32,
            reverse_twist: 10f64.powf(cfg.max_reverse_twist_db / 10.0) as f32,
            normal_twist: 10f64.powf(cfg.max_normal_twist_db / 10.0) as f32,
            window_reverse_twist: 10f64
                .powf((cfg.max_reverse_twist_db + WINDOW_TWIST_SLACK_DB) / 10.0)
                as f32,
            window_normal_twist: 10f64
                .powf((cfg.max_normal_twist_db + WINDOW_TWIST_SLACK_DB) / 10.0)
                as f32,
            share_scale: (cfg.min_tone_share * half_window * TWIDDLE_SCALE * TWIDDLE_SCALE) as f32,
            max_phase_error,
        }
    }
}

/// Streaming DTMF decisions for one channel: feed it the channel's feature
/// blocks in order.
pub struct DtmfDetector {
    cfg: DtmfConfig,
    limits: Limits,
    /// `e^{-j w_k BLOCK_LEN}`: moves a block's DFT to the window's origin.
    shift: [C32; BINS],
    blocks: u64,
    /// The previous block, raw: most windows fail the energy gate on the
    /// integers and never need the floating-point form.
    prev: Option<FeatureBlock>,
    /// `prev` in floating point, when it has been needed.
    prev_half: Option<Half>,
    run: Option<Run>,
    active: Option<Active>,
    /// End of the last digit reported (samples): a digit starts no earlier.
    /// Windows are two blocks long, so the first window of a digit right
    /// after another shares a block with that one's last.
    last_end: u64,
}

impl Default for DtmfDetector {
    fn default() -> Self {
        Self::new(DtmfConfig::default())
    }
}

impl DtmfDetector {
    /// A detector with the given thresholds.
    pub fn new(cfg: DtmfConfig) -> Self {
        let mut shift = [C32::default(); BINS];
        for k in 0..BINS {
            let a = (2.0 * std::f64::consts::PI * BIN_FREQS[k] * BLOCK_LEN as f64
                / SAMPLE_RATE as f64)
                .rem_euclid(2.0 * std::f64::consts::PI);
            shift[k] = C32::new(a.cos() as f32, -a.sin() as f32);
        }
        Self {
            limits: Limits::new(&cfg),
            cfg,
            shift,
            blocks: 0,
            prev: None,
            prev_half: None,
            run: None,
            active: None,
            last_end: 0,
        }
    }

    /// The thresholds in use.
    pub fn config(&self) -> &DtmfConfig {
        &self.cfg
    }

    /// The digit sounding now, if one has started and not ended.
    pub fn current_digit(&self) -> Option<char> {
        self.active.map(|a| a.digit)
    }

    /// Media time, in samples, up to which blocks have been consumed.
    pub fn position(&self) -> u64 {
        self.blocks * BLOCK_LEN as u64
    }

    /// Consumes the next feature block; returns a digit that ended with it.
    pub fn push(&mut self, block: &FeatureBlock) -> Option<DtmfEvent> {
        let index = self.blocks;
        self.blocks += 1;
        let mut hit = None;
        let mut cur_half = None;
        if let Some(prev) = &self.prev {
            let energy = prev.energy as u64 + block.energy as u64;
            if energy >= self.limits.energy_gate {
                let prev_half = *self
                    .prev_half
                    .get_or_insert_with(|| Half::from_features(prev));
                let cur = Half::from_features(block);
                hit = self.window_hit(&prev_half, &cur, energy);
                cur_half = Some(cur);
            }
        }
        self.prev = Some(*block);
        self.prev_half = cur_half;
        self.track(index, hit)
    }

    /// Ends the stream: a digit still sounding ends at the last hit.
    pub fn finish(&mut self) -> Option<DtmfEvent> {
        self.run = None;
        self.prev = None;
        self.prev_half = None;
        self.active.take().map(|a| DtmfEvent {
            digit: a.digit,
            start: a.start,
            end: window_end(a.last_hit_block),
        })
    }

    /// Checks the window made of `prev` and `cur`, whose energy (already
    /// past the gate) is `energy`.
    #[inline]
    fn window_hit(&self, prev: &Half, cur: &Half, energy: u64) -> Option<Hit> {
        let l = &self.limits;
        let need = l.share_scale * energy as f32;
        // |a + b|^2 <= 2(|a|^2 + |b|^2): skip the coherent sum when even that
        // bound cannot hold the required share (most speech windows).
        let mut bound = [0f32; BINS];
        for k in 0..BINS {
            bound[k] = 2.0 * (prev.power[k] + cur.power[k]);
        }
        if max4(&bound[..4]).1 + max4(&bound[4..]).1 < need {
            return None;
        }
        let mut window = [C32::default(); BINS];
        let mut power = [0f32; BINS];
        for k in 0..BINS {
            window[k] = prev.dft[k] + cur.dft[k] * self.shift[k];
            power[k] = window[k].norm_sqr();
        }
        let (row, p_row) = max4(&power[..4]);
        let (col, p_col) = max4(&power[4..]);
        let ok = p_row >= l.min_power
            && p_col >= l.min_power
            && p_row <= p_col * l.window_reverse_twist
            && p_col <= p_row * l.window_normal_twist
            && p_row + p_col >= need;
        ok.then_some(Hit {
            row,
            col,
            x_row: window[row],
            x_col: window[4 + col],
            power: [p_row, p_col],
        })
    }

    /// Advances the run/active state machines with this window's verdict.
    fn track(&mut self, block: u64, hit: Option<Hit>) -> Option<DtmfEvent> {
        match hit {
            Some(h) => self.extend_run(block, h),
            None => self.run = None,
        }
        let mut ended = None;
        if let Some(active) = &mut self.active {
            let same = matches!(hit, Some(h) if h.row == active.row && h.col == active.col);
            if same {
                active.last_hit_block = block;
                active.misses = 0;
            } else {
                active.misses += 1;
                if active.misses >= self.cfg.end_misses {
                    let end = window_end(active.last_hit_block);
                    ended = Some(DtmfEvent {
                        digit: active.digit,
                        start: active.start,
                        end,
                    });
                    self.last_end = end;
                    self.active = None;
                }
            }
        }
        if self.active.is_none() {
            self.try_start();
        }
        ended
    }

    fn extend_run(&mut self, block: u64, h: Hit) {
        if let Some(run) = &mut self.run {
            if run.row == h.row && run.col == h.col && run.last_block + 1 == block {
                run.phase_sum[0] += phase_error(run.last_row, h.x_row, self.shift[h.row]);
                run.phase_sum[1] += phase_error(run.last_col, h.x_col, self.shift[4 + h.col]);
                run.power_sum[0] += h.power[0];
                run.power_sum[1] += h.power[1];
                run.hits += 1;
                run.last_block = block;
                run.last_row = h.x_row;
                run.last_col = h.x_col;
                return;
            }
        }
        self.run = Some(Run {
            row: h.row,
            col: h.col,
            hits: 1,
            first_block: block,
            last_block: block,
            last_row: h.x_row,
            last_col: h.x_col,
            phase_sum: [0.0; 2],
            power_sum: h.power,
        });
    }

    /// Starts a digit when the current run is long enough and its tones are
    /// on frequency.
    fn try_start(&mut self) {
        let Some(run) = &self.run else { return };
        if run.hits < self.cfg.min_hits {
            return;
        }
        let steps = (run.hits - 1) as f32;
        let row_error = (run.phase_sum[0] / steps).abs();
        let col_error = (run.phase_sum[1] / steps).abs();
        if row_error > self.limits.max_phase_error[run.row]
            || col_error > self.limits.max_phase_error[4 + run.col]
        {
            return;
        }
        let [p_row, p_col] = run.power_sum;
        if p_row > p_col * self.limits.reverse_twist || p_col > p_row * self.limits.normal_twist {
            return;
        }
        self.active = Some(Active {
            digit: KEYPAD[run.row][run.col],
            row: run.row,
            col: run.col,
            start: window_start(run.first_block).max(self.last_end),
            last_hit_block: run.last_block,
            misses: 0,
        });
    }
}

/// First sample of the window that ends with block `block`.
fn window_start(block: u64) -> u64 {
    (block.saturating_sub(1)) * BLOCK_LEN as u64
}

/// Sample just after the window that ends with block `block`.
fn window_end(block: u64) -> u64 {
    (block + 1) * BLOCK_LEN as u64
}

/// Index and value of the largest of four powers.
#[inline]
fn max4(p: &[f32]) -> (usize, f32) {
    let mut best = (0, p[0]);
    for (i, &v) in p.iter().enumerate().skip(1) {
        if v > best.1 {
            best = (i, v);
        }
    }
    best
}

/// How much further than a bin-centred tone the phase of a bin moved from
/// `from` to `to` (one block later), in [-pi, pi]; `back` is the bin's
/// `e^{-j w BLOCK_LEN}`.
#[inline]
fn phase_error(from: C32, to: C32, back: C32) -> f32 {
    let z = to * from.conj() * back;
    fast_atan2(z.im, z.re)
}

/// atan2 to within 0.004 rad (0.1 Hz of frequency error here, against
/// limits of 14 Hz and more), without a libm call.
#[inline]
fn fast_atan2(y: f32, x: f32) -> f32 {
    const QUARTER: f32 = PI / 4.0;
    let (ax, ay) = (x.abs(), y.abs());
    if ax == 0.0 && ay == 0.0 {
        return 0.0;
    }
    // atan(t) ~ t (pi/4 + 0.273 (1 - t)) for t in [0, 1]
    let atan01 = |t: f32| t * (QUARTER + 0.273 * (1.0 - t));
    let mut a = if ay <= ax {
        atan01(ay / ax)
    } else {
        PI / 2.0 - atan01(ax / ay)
    };
    if x < 0.0 {
        a = PI - a;
    }
    if y < 0.0 {
        -a
    } else {
        a
    }
}

#[cfg(test)]
mod tests;

/// Runs the software feature engine and a detector over a whole signal
/// (8 kHz, 16-bit) and returns its digits: for offline analysis and tests.
pub fn detect_all(samples: &[i16], cfg: &DtmfConfig) -> Vec<DtmfEvent> {
    use crate::features::{FeatureEngine, SoftwareEngine};
    let mut engine = SoftwareEngine::new();
    let channel = engine
        .open_channel()
        .expect("a fresh software engine has room");
    let mut detector = DtmfDetector::new(cfg.clone());
    let mut blocks = Vec::with_capacity(64);
    let mut events = Vec::new();
    for chunk in samples.chunks(160 * 16) {
        blocks.clear();
        engine
            .process(channel, chunk, &mut blocks)
            .expect("channel is open");
        events.extend(blocks.iter().filter_map(|b| detector.push(b)));
    }
    events.extend(detector.finish());
    events
}
