//! A part: one run of tonal windows at one frequency. It sums its blocks'
//! lags (the whole part and 40 ms chunks), block energies and DFT-bin
//! recurrence while it grows, and is measured once when it closes
//! ([`Summary`]), in the spectral shape of the line noise heard before it
//! ([`NoiseLags`]).

use super::tracker;
use crate::features::{FeatureBlock, BINS, BLOCK_LEN, SAMPLE_RATE};

/// Blocks per steadiness chunk (40 ms).
const CHUNK: u32 = 8;
/// Most chunks kept per part (the longest beep, 2 s, and a margin).
const MAX_CHUNKS: usize = 64;
/// Expected relative error of a part's lag frequency: `LAG_SIGMA / (w sin w
/// sqrt(N snr))` over `N` samples (white noise; measured 0.06-0.18).
const LAG_SIGMA: f64 = 0.15;
/// Expected relative error of the DFT recurrence's frequency: `DFT_SIGMA /
/// (40 w |sin 40w| sqrt(N snr))` (measured 1.9-4.4).
const DFT_SIGMA: f64 = 5.0;
/// Power ratio (30 dB) of a part to the line noise before it up to which
/// the part's frequency is measured in the noise's spectral shape.
const SHAPED_NOISE: f64 = 1000.0;

/// A run of tonal windows at one frequency, being built.
#[derive(Debug, Clone, Copy)]
pub(super) struct Part {
    /// First block of the tone.
    pub(super) start: u64,
    /// Last loud block so far.
    pub(super) last_loud: u64,
    /// Tonal windows seen.
    pub(super) windows: u32,
    /// Running reference frequency (mean of the windows' estimates).
    pub(super) f_sum: f32,
    /// Summed block autocorrelations over the part's loud blocks.
    pub(super) r: [i64; 3],
    /// Mean block energy tracking (sum, count).
    pub(super) e_sum: f32,
    pub(super) e_n: u32,
    /// Consecutive windows that failed (not tonal or off frequency).
    pub(super) misses: u32,
    /// Summed lags of each whole chunk of [`CHUNK`] loud blocks, and of the
    /// chunk being filled (`chunk_blocks` blocks so far).
    pub(super) chunks: [[i64; 3]; MAX_CHUNKS],
    pub(super) n_chunks: usize,
    pub(super) chunk: [i64; 3],
    pub(super) chunk_blocks: u32,
    /// Interior blocks' energies: count, sum, sum of squares.
    pub(super) int_n: u32,
    pub(super) int_sum: f64,
    pub(super) int_sq: f64,
    /// DFT recurrence sums: `sum Re(conj(y[m]) (y[m-1] + y[m+1]))`, `sum |y[m]|^2`,
    /// terms summed, over the two bins nearest the tone.
    pub(super) rec_num: f64,
    pub(super) rec_den: f64,
    pub(super) rec_n: u32,
    pub(super) bins: [usize; 2],
}

impl Part {
    pub(super) fn new(start: u64, i: u64, t: tracker::Tone) -> Self {
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

    pub(super) fn f_ref(&self) -> f32 {
        self.f_sum / self.windows.max(1) as f32
    }

    pub(super) fn mean_energy(&self) -> f32 {
        self.e_sum / self.e_n.max(1) as f32
    }

    /// Adds a loud block's lags.
    #[inline]
    pub(super) fn add_lags(&mut self, b: &FeatureBlock) {
        self.add_lags_raw([b.energy as i64, b.acf[0] as i64, b.acf[1] as i64]);
    }

    #[inline]
    pub(super) fn add_lags_raw(&mut self, r: [i64; 3]) {
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
    pub(super) fn add_interior(&mut self, e: f64) {
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
    pub(super) fn ripple(&self, w: f64, snr: f64) -> f64 {
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
    pub(super) fn summary(&self, noise_lags: [f64; 3]) -> Summary {
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

/// A part's measurements over its whole length.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Summary {
    pub(super) freq: f32,
    pub(super) freq_dft: f32,
    pub(super) dft_checked: bool,
    /// Whether `freq_dft` was measured at all (ill-conditioned or not).
    pub(super) dft_any: bool,
    /// The two estimates weighted by their expected variance.
    pub(super) best: f32,
    /// Expected relative standard deviations (white noise at the part's
    /// SNR) of the lag estimate, the recurrence's and the weighted one.
    pub(super) sigma_lag: f64,
    pub(super) sigma_dft: f64,
    pub(super) sigma_best: f64,
    pub(super) snr: f64,
    /// The tone over the line noise near its frequency: the tone-to-noise
    /// ratio solved in the noise's shape, over the noise's density at the
    /// tone's frequency relative to its mean where that is below 1 (never
    /// stricter than `snr`'s test); `snr` where the noise has no shape.
    pub(super) local_snr: f64,
    /// Power per sample of everything but the tone, as heard.
    pub(super) rest: f64,
    pub(super) drift: f64,
    pub(super) drift_z: f64,
    pub(super) ripple: f64,
    #[allow(dead_code)]
    pub(super) blocks: u32,
}

/// The density at angular frequency `w` of noise with normalised lags
/// `(1, rho1, rho2)`, over its mean: the order-2 autoregressive (maximum
/// entropy) spectrum those lags determine. 1 for white noise; low-pass
/// noise (pink, babble) reads below 1 at high frequencies.
pub(super) fn noise_density_at(rho1: f64, rho2: f64, w: f64) -> f64 {
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

/// The line noise's autocorrelation per block, `[r0, r1, r2]`: averages
/// over the quiet blocks (within 3 dB of the running minimum energy). Their
/// shape lets a tone's part be measured in coloured noise (pink, babble),
/// which biases Pisarenko's white-noise estimate; their level, the noise's
/// troughs, tells whether the rest of a tone is that noise.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct NoiseLags {
    /// Running minimum block energy (rises 0.5 dB per 100 ms without a quieter block).
    pub(super) floor: f64,
    /// Exponential averages of the quiet blocks' lags.
    pub(super) avg: [f64; 3],
    /// Quiet blocks averaged so far (saturating).
    pub(super) seen: u32,
}

impl NoiseLags {
    /// Averaging weight of a new quiet block (about 80 ms of quiet blocks).
    const ALPHA: f64 = 1.0 / 16.0;

    pub(super) fn push(&mut self, b: &FeatureBlock) {
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
    pub(super) fn lags(&self) -> [f64; 3] {
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

/// The median of `v` (sorted in place); `None` when empty.
pub(super) fn median(v: &mut [f64]) -> Option<f64> {
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
pub(super) fn recurrence(
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
