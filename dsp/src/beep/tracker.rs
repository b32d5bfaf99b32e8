//! The tone tracker's measurement: is the audio of the last few blocks one
//! steady sinusoid, and at what frequency?
//!
//! From the summed lag-0/1/2 autocorrelation `(r0, r1, r2)` of a window of
//! blocks, the 3x3 Toeplitz autocorrelation matrix of a sinusoid of power `S`
//! at angular frequency `w` in white noise of power `N` has its smallest
//! eigenvalue `N`, with the eigenvector `[1, -2cos w, 1]` (Pisarenko's
//! harmonic decomposition). In closed form (the symmetric eigenvectors):
//!
//! ```text
//! lambda = (2 r0 + r2 - sqrt(r2^2 + 8 r1^2)) / 2      noise power
//! S      = r0 - lambda                                 tone power
//! cos w  = r1 / S
//! ```
//!
//! Unlike the order-2 linear predictor (whose frequency is pulled towards
//! the middle of the band by white noise, badly so below 500 Hz), this
//! estimate is unbiased in white noise, and `S / lambda` is the tone's
//! signal-to-noise ratio: about the channel SNR for a beep in white noise,
//! low for two tones (DTMF, ring-back, busy), speech and noise.
//!
//! The features' lag sums include the products across block boundaries,
//! so a window's sums are the exact autocorrelation of its samples (no
//! scaling, no bias when a tone's period divides the block). What remains
//! for a clean tone is the finite window: the Toeplitz matrix differs from
//! the data's covariance matrix by a few products at the window's edges, a
//! frequency error of about `1 / (N sin w)` radians over `N` samples (a few
//! percent at 350-450 Hz over one 20 ms window, far less over a whole part).
use crate::features::{FeatureBlock, SAMPLE_RATE};

/// One window's measurement.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Tone {
    /// Frequency of the dominant sinusoid, Hz.
    pub freq_hz: f32,
    /// Tone power over residual power (linear).
    pub snr: f32,
    /// Window energy (sum of squares, shifted input units).
    pub energy: f32,
}

/// Sliding sums of the last `W` blocks' autocorrelations.
#[derive(Debug, Clone)]
pub(crate) struct Window<const W: usize> {
    ring: [[i64; 3]; W],
    sum: [i64; 3],
    pos: usize,
}

impl<const W: usize> Default for Window<W> {
    fn default() -> Self {
        Self {
            ring: [[0; 3]; W],
            sum: [0; 3],
            pos: 0,
        }
    }
}

impl<const W: usize> Window<W> {
    /// Adds a block, dropping the oldest.
    #[inline]
    pub fn push(&mut self, b: &FeatureBlock) {
        let new = [b.energy as i64, b.acf[0] as i64, b.acf[1] as i64];
        let old = &mut self.ring[self.pos];
        for k in 0..3 {
            self.sum[k] += new[k] - old[k];
        }
        *old = new;
        self.pos = (self.pos + 1) % W;
    }

    /// The lags `[energy, acf[0], acf[1]]` of the newest `n` blocks (at
    /// most `W`), oldest first.
    pub fn blocks_since(&self, n: u64) -> impl Iterator<Item = [i64; 3]> + '_ {
        let n = (n as usize).min(W);
        (0..n).map(move |j| self.ring[(self.pos + W - n + j) % W])
    }

    /// Summed energy of the window (integer, exact).
    #[inline]
    pub fn energy(&self) -> u64 {
        self.sum[0] as u64
    }

    /// The window's dominant sinusoid; `None` when there is none (no
    /// energy, or the residual is not the smallest for a symmetric
    /// predictor, i.e. the spectrum peaks at 0 or 4 kHz).
    #[inline]
    pub fn tone(&self) -> Option<Tone> {
        measure(self.sum[0] as f64, self.sum[1] as f64, self.sum[2] as f64)
    }
}

/// Pisarenko estimate from exact lag sums `(r0, r1, r2)`.
#[inline]
pub(crate) fn measure(r0: f64, r1: f64, r2: f64) -> Option<Tone> {
    if r0 <= 0.0 {
        return None;
    }
    let disc = (r2 * r2 + 8.0 * r1 * r1).sqrt();
    let lambda = (0.5 * (2.0 * r0 + r2 - disc)).max(0.0);
    if r0 - r2 < lambda {
        return None;
    }
    let s = r0 - lambda;
    if s <= 0.0 {
        return None;
    }
    let c = (r1 / s).clamp(-1.0, 1.0);
    let freq = c.acos() * SAMPLE_RATE as f64 / (2.0 * std::f64::consts::PI);
    let snr = if lambda > 0.0 { s / lambda } else { 1e9 };
    Some(Tone {
        freq_hz: freq as f32,
        snr: snr.min(1e9) as f32,
        energy: r0 as f32,
    })
}
