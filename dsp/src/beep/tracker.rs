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
use crate::fastmath;
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

impl Tone {
    /// Power of everything but the tone (Pisarenko's residual) over the
    /// measured span, in the units of `energy`.
    pub fn rest(&self) -> f64 {
        self.energy as f64 / (1.0 + self.snr as f64)
    }
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
    tone_over(r0, r1, lambda)
}

/// The sinusoid left in lags `(r0, r1)` over noise of power `lambda` whose
/// own lag-1 share is already out of `r1`.
#[inline]
fn tone_over(r0: f64, r1: f64, lambda: f64) -> Option<Tone> {
    let s = r0 - lambda;
    if s <= 0.0 {
        return None;
    }
    // single precision: `freq_hz` is an f32, and fastmath's acos (within
    // 4e-7 rad) costs a fraction of the library's, once a block
    let c = (r1 / s).clamp(-1.0, 1.0) as f32;
    let freq = f64::from(fastmath::acos(c)) * SAMPLE_RATE as f64 / (2.0 * std::f64::consts::PI);
    let snr = if lambda > 0.0 { s / lambda } else { 1e9 };
    Some(Tone {
        freq_hz: freq as f32,
        snr: snr.min(1e9) as f32,
        energy: r0 as f32,
    })
}

/// Pisarenko's estimate in noise of a known spectral shape: the noise's
/// normalised lags `(rho1, rho2)` (its level is solved for), from the
/// generalised symmetric eigenproblem `R v = lambda N v`, `v = [1, -2cos w, 1]`.
/// With `rho = 0` this is [`measure`].
#[inline]
pub(crate) fn measure_in(r0: f64, r1: f64, r2: f64, rho1: f64, rho2: f64) -> Option<Tone> {
    if r0 <= 0.0 {
        return None;
    }
    // det [[r0 + r2 - l (1 + rho2), r1 - l rho1], [2 (r1 - l rho1), r0 - l]] = 0
    let (p, q) = (r0 + r2, r0);
    let a2 = 1.0 + rho2 - 2.0 * rho1 * rho1;
    if a2 <= 1e-3 {
        return None;
    }
    let b = -(p + (1.0 + rho2) * q) + 4.0 * r1 * rho1;
    let c = p * q - 2.0 * r1 * r1;
    let disc = (b * b - 4.0 * a2 * c).max(0.0).sqrt();
    let lambda = ((-b - disc) / (2.0 * a2)).max(0.0);
    tone_over(r0, r1 - lambda * rho1, lambda)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lags of a sine of power `s` at `f` Hz in noise of power `n`
    /// with normalised lags `rho`.
    fn lags(s: f64, f: f64, n: f64, rho: [f64; 2]) -> [f64; 3] {
        let w = 2.0 * std::f64::consts::PI * f / SAMPLE_RATE as f64;
        [
            s + n,
            s * w.cos() + n * rho[0],
            s * (2.0 * w).cos() + n * rho[1],
        ]
    }

    proptest::proptest! {
        /// Whatever lags and noise shape come in (the noise's lags are
        /// averages of integer features, a window's may be anything), the
        /// estimates are a frequency in the band and a ratio, or nothing.
        #[test]
        fn estimates_are_finite_for_any_lags(
            r0 in -1e12f64..1e12,
            r1 in -1e12f64..1e12,
            r2 in -1e12f64..1e12,
            rho1 in -2.0f64..2.0,
            rho2 in -2.0f64..2.0,
        ) {
            for t in [measure(r0, r1, r2), measure_in(r0, r1, r2, rho1, rho2)].into_iter().flatten() {
                proptest::prop_assert!((0.0..=4000.0).contains(&t.freq_hz), "{t:?}");
                proptest::prop_assert!(t.snr >= 0.0 && t.snr.is_finite(), "{t:?}");
                proptest::prop_assert!(t.rest().is_finite() && t.rest() >= 0.0, "{t:?}");
            }
        }
    }

    #[test]
    fn in_white_noise_the_shaped_estimate_is_pisarenkos() {
        for f in [350.0, 1000.0, 2100.0] {
            let r = lags(4.0, f, 1.0, [0.0, 0.0]);
            let a = measure(r[0], r[1], r[2]).unwrap();
            let b = measure_in(r[0], r[1], r[2], 0.0, 0.0).unwrap();
            assert!((a.freq_hz - b.freq_hz).abs() < 1e-3 && (a.snr - b.snr).abs() < 1e-4);
            assert!((b.freq_hz - f as f32).abs() < 0.01 && (b.snr - 4.0).abs() < 1e-4);
        }
    }

    #[test]
    fn in_coloured_noise_of_known_shape_the_tone_is_exact_and_pisarenko_is_pulled() {
        // a one-pole low-pass noise (lag-1 0.8, lag-2 0.64), as pink is
        for f in [500.0, 915.0, 1988.0] {
            let r = lags(4.0, f, 1.0, [0.8, 0.64]);
            let t = measure_in(r[0], r[1], r[2], 0.8, 0.64).unwrap();
            assert!((t.freq_hz - f as f32).abs() < 0.05, "{f}: {t:?}");
            assert!((t.snr - 4.0).abs() < 1e-3, "{f}: {t:?}");
            let white = measure(r[0], r[1], r[2]).unwrap();
            assert!(white.freq_hz < f as f32 * 0.99, "{f}: {white:?}");
        }
    }
}
