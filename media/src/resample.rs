//! Resampling of whole signals to 8 kHz with a Kaiser-windowed sinc low-pass
//! (own polyphase implementation, no extra crate).
//!
//! The ratio is reduced to `up/down`; output sample `n` sits at input time
//! `n * down / up`, so its filter phase is `(n * down) % up`. Coefficients
//! are tabulated per call when there are at most [`MAX_TABLE_PHASES`] phases,
//! [`MAX_TABLE_LEN`] coefficients and no more phases than output samples
//! (else computing them per output sample is cheaper). The cut-off is 3.65 kHz (or 0.45 of the
//! input rate when upsampling) and the window gives about 70 dB of stopband
//! attenuation from 4 kHz on.

/// The output rate.
pub const TARGET_RATE: u32 = 8000;

/// Largest number of polyphase phases that is tabulated.
pub const MAX_TABLE_PHASES: usize = 2048;
/// Largest coefficient table (phases times taps) built.
pub const MAX_TABLE_LEN: usize = 1 << 20;

/// Half-width of the kernel in zero crossings of the cut-off sinc.
const ZERO_CROSSINGS: f64 = 32.0;
/// Kaiser window shape.
const KAISER_BETA: f64 = 7.0;
/// Cut-off frequency when downsampling to 8 kHz, in Hz.
const CUTOFF_HZ: f64 = 3650.0;

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Modified Bessel function of the first kind, order 0 (power series).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let q = x * x / 4.0;
    for k in 1..64 {
        term *= q / (k as f64 * k as f64);
        sum += term;
        if term < sum * 1e-12 {
            break;
        }
    }
    sum
}

/// A resampler from one input rate to [`TARGET_RATE`].
#[derive(Debug, Clone)]
pub struct Resampler {
    up: u64,
    down: u64,
    /// Normalised cut-off: cycles per input sample times 2.
    fc: f64,
    /// Kernel half-width in input samples.
    half: f64,
    /// Taps per phase.
    taps: usize,
    /// First tap offset relative to the integer input position.
    first: i64,
}

impl Resampler {
    /// A resampler from `rate` Hz (non-zero) to 8 kHz.
    pub fn new(rate: u32) -> Self {
        let rate = rate.max(1) as u64;
        let g = gcd(rate, TARGET_RATE as u64);
        let up = TARGET_RATE as u64 / g;
        let down = rate / g;
        let cutoff = CUTOFF_HZ.min(0.45 * rate as f64);
        let fc = 2.0 * cutoff / rate as f64;
        let half = ZERO_CROSSINGS / fc;
        let first = -(half.floor() as i64);
        let taps = (2 * half.floor() as i64 + 2) as usize;
        Resampler {
            up,
            down,
            fc,
            half,
            taps,
            first,
        }
    }

    /// Whether [`Resampler::process`] tabulates the phases for `n_out` outputs.
    pub fn uses_table(&self, n_out: usize) -> bool {
        let phases = self.up as usize;
        phases <= MAX_TABLE_PHASES && phases * self.taps <= MAX_TABLE_LEN && phases <= n_out
    }

    fn table(&self) -> Vec<f32> {
        let phases = self.up as usize;
        let mut t = vec![0f32; phases * self.taps];
        for (p, chunk) in t.chunks_exact_mut(self.taps).enumerate() {
            self.fill(p as f64 / self.up as f64, chunk);
        }
        t
    }

    fn kernel(&self, t: f64) -> f64 {
        if t.abs() >= self.half {
            return 0.0;
        }
        let x = self.fc * t;
        let sinc = if x.abs() < 1e-12 {
            1.0
        } else {
            (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
        };
        let w = t / self.half;
        let win = bessel_i0(KAISER_BETA * (1.0 - w * w).sqrt()) / bessel_i0(KAISER_BETA);
        self.fc * sinc * win
    }

    /// Coefficients for an output at fractional position `frac` after an
    /// integer input position.
    fn fill(&self, frac: f64, out: &mut [f32]) {
        for (k, c) in out.iter_mut().enumerate() {
            let t = (self.first + k as i64) as f64 - frac;
            *c = self.kernel(t) as f32;
        }
    }

    /// Number of output samples for `input_len` input samples.
    pub fn output_len(&self, input_len: usize) -> usize {
        ((input_len as u128 * self.up as u128).div_ceil(self.down as u128)) as usize
    }

    /// Resamples a whole signal, returning 8 kHz samples rounded to i16.
    pub fn process(&self, input: &[f32]) -> Vec<i16> {
        let n_out = self.output_len(input.len());
        let mut out = Vec::with_capacity(n_out);
        let mut scratch = vec![0f32; self.taps];
        let table = self.uses_table(n_out).then(|| self.table());
        for n in 0..n_out as u64 {
            let pos = n as u128 * self.down as u128;
            let base = (pos / self.up as u128) as i64;
            let phase = (pos % self.up as u128) as usize;
            let coeffs: &[f32] = match &table {
                Some(t) => &t[phase * self.taps..(phase + 1) * self.taps],
                None => {
                    self.fill(phase as f64 / self.up as f64, &mut scratch);
                    &scratch
                }
            };
            let start = base + self.first;
            let mut acc = 0f64;
            for (k, &c) in coeffs.iter().enumerate() {
                let i = start + k as i64;
                if i >= 0 && (i as usize) < input.len() {
                    acc += c as f64 * input[i as usize] as f64;
                }
            }
            out.push(to_i16(acc));
        }
        out
    }
}

/// Rounds and saturates to i16.
pub fn to_i16(x: f64) -> i16 {
    x.round().clamp(i16::MIN as f64, i16::MAX as f64) as i16
}

/// Resamples `input` (linear samples at `rate` Hz, i16 scale) to 8 kHz;
/// at 8 kHz it is a plain conversion.
pub fn to_8k(input: &[f32], rate: u32) -> Vec<i16> {
    if rate == TARGET_RATE {
        return input.iter().map(|&x| to_i16(x as f64)).collect();
    }
    Resampler::new(rate).process(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, rate: u32, secs: f64, amp: f64) -> Vec<f32> {
        let n = (rate as f64 * secs) as usize;
        (0..n)
            .map(|i| {
                (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin()) as f32
            })
            .collect()
    }

    fn rms(x: &[i16]) -> f64 {
        let s: f64 = x.iter().map(|&v| v as f64 * v as f64).sum();
        (s / x.len() as f64).sqrt()
    }

    #[test]
    fn lengths() {
        assert_eq!(Resampler::new(16000).output_len(16000), 8000);
        assert_eq!(Resampler::new(44100).output_len(44100), 8000);
        assert_eq!(Resampler::new(44100).output_len(1), 1);
        assert_eq!(Resampler::new(6000).output_len(6000), 8000);
        assert_eq!(to_8k(&[1.4, -2.6], 8000), vec![1, -3]);
    }

    #[test]
    fn passband_and_stopband() {
        for rate in [11025, 16000, 44100, 48000] {
            let r = Resampler::new(rate);
            let pass = r.process(&tone(1000.0, rate, 0.5, 10000.0));
            let stop = r.process(&tone(5000.0, rate, 0.5, 10000.0));
            let mid = 400..3600;
            let p = rms(&pass[mid.clone()]);
            let s = rms(&stop[mid]);
            assert!(
                (p / (10000.0 / 2f64.sqrt()) - 1.0).abs() < 0.01,
                "rate {rate}: {p}"
            );
            assert!(20.0 * (p / s).log10() > 60.0, "rate {rate}: {p} / {s}");
        }
    }

    #[test]
    fn odd_ratio_uses_untabulated_path() {
        let r = Resampler::new(8001);
        assert!(!r.uses_table(1600));
        assert!(Resampler::new(44100).uses_table(8000));
        assert!(!Resampler::new(44100).uses_table(10));
        let out = r.process(&tone(1000.0, 8001, 0.2, 8000.0));
        assert_eq!(out.len(), r.output_len(1600));
        assert!((rms(&out[200..1400]) / (8000.0 / 2f64.sqrt()) - 1.0).abs() < 0.02);
    }

    #[test]
    fn upsamples() {
        let out = to_8k(&tone(500.0, 4000, 0.5, 8000.0), 4000);
        assert_eq!(out.len(), 4000);
        assert!((rms(&out[400..3600]) / (8000.0 / 2f64.sqrt()) - 1.0).abs() < 0.02);
    }
}
