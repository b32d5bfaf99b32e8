//! Test and injection signals: sines, DTMF tone pairs, white noise, and the
//! level scale they are specified in.
//!
//! Levels are in dBm0: 0 dBm0 is a sine whose peak is 3.17 dB below G.711
//! full scale (the 16-bit range), i.e. a peak of [`DBM0_PEAK`].

/// Peak amplitude, in 16-bit linear units, of a 0 dBm0 sine.
pub const DBM0_PEAK: f64 = 32768.0 * 0.694_224_6; // 10^(-3.17/20)

/// Peak amplitude of a sine at `dbm0`.
pub fn dbm0_to_peak(dbm0: f64) -> f64 {
    DBM0_PEAK * 10f64.powf(dbm0 / 20.0)
}

/// Level in dBm0 of a sine with the given peak amplitude.
pub fn peak_to_dbm0(peak: f64) -> f64 {
    20.0 * (peak / DBM0_PEAK).log10()
}

/// The DTMF keypad: digit to (row Hz, column Hz).
pub fn dtmf_freqs(digit: char) -> Option<(f64, f64)> {
    const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
    const COLS: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    let (r, c) = match digit.to_ascii_uppercase() {
        '1' => (0, 0),
        '2' => (0, 1),
        '3' => (0, 2),
        'A' => (0, 3),
        '4' => (1, 0),
        '5' => (1, 1),
        '6' => (1, 2),
        'B' => (1, 3),
        '7' => (2, 0),
        '8' => (2, 1),
        '9' => (2, 2),
        'C' => (2, 3),
        '*' => (3, 0),
        '0' => (3, 1),
        '#' => (3, 2),
        'D' => (3, 3),
        _ => return None,
    };
    Some((ROWS[r], COLS[c]))
}

/// All sixteen DTMF digits in keypad order.
pub const DTMF_DIGITS: [char; 16] = [
    '1', '2', '3', 'A', '4', '5', '6', 'B', '7', '8', '9', 'C', '*', '0', '#', 'D',
];

/// A sine oscillator by complex rotation: one multiply-add per sample, no
/// trigonometry per sample.
#[derive(Debug, Clone)]
pub struct Sine {
    re: f64,
    im: f64,
    rot_re: f64,
    rot_im: f64,
    amplitude: f64,
    steps: u32,
}

impl Sine {
    /// A sine of `freq_hz` at `sample_rate` with peak `amplitude`, starting at
    /// `phase` radians.
    pub fn new(freq_hz: f64, sample_rate: f64, amplitude: f64, phase: f64) -> Self {
        let w = 2.0 * std::f64::consts::PI * freq_hz / sample_rate;
        Self {
            re: phase.cos(),
            im: phase.sin(),
            rot_re: w.cos(),
            rot_im: w.sin(),
            amplitude,
            steps: 0,
        }
    }

    /// The next sample.
    #[inline]
    pub fn next_sample(&mut self) -> f64 {
        let v = self.im * self.amplitude;
        let (re, im) = (
            self.re * self.rot_re - self.im * self.rot_im,
            self.re * self.rot_im + self.im * self.rot_re,
        );
        self.re = re;
        self.im = im;
        self.steps += 1;
        if self.steps.is_multiple_of(1024) {
            // renormalise the rotation so the amplitude cannot drift
            let m = (self.re * self.re + self.im * self.im).sqrt();
            self.re /= m;
            self.im /= m;
        }
        v
    }
}

/// A DTMF tone pair specification.
#[derive(Debug, Clone, Copy)]
pub struct DtmfTone {
    /// The digit (`0-9`, `*`, `#`, `A-D`).
    pub digit: char,
    /// Level of the row (low) tone in dBm0.
    pub low_dbm0: f64,
    /// Level of the column (high) tone in dBm0.
    pub high_dbm0: f64,
    /// Relative frequency error of the low tone (0.015 = +1.5%).
    pub low_deviation: f64,
    /// Relative frequency error of the high tone.
    pub high_deviation: f64,
}

impl DtmfTone {
    /// A nominal tone pair for `digit` at `dbm0` per tone.
    pub fn new(digit: char, dbm0: f64) -> Self {
        Self {
            digit,
            low_dbm0: dbm0,
            high_dbm0: dbm0,
            low_deviation: 0.0,
            high_deviation: 0.0,
        }
    }

    /// Adds the tone pair into `out` (8 kHz), starting at phase `phase`.
    /// Returns `false` if the digit is not a DTMF digit.
    pub fn add_to(&self, out: &mut [f64], phase: f64) -> bool {
        let Some((low, high)) = dtmf_freqs(self.digit) else {
            return false;
        };
        let mut a = Sine::new(
            low * (1.0 + self.low_deviation),
            8000.0,
            dbm0_to_peak(self.low_dbm0),
            phase,
        );
        let mut b = Sine::new(
            high * (1.0 + self.high_deviation),
            8000.0,
            dbm0_to_peak(self.high_dbm0),
            phase * 1.7,
        );
        for s in out.iter_mut() {
            *s += a.next_sample() + b.next_sample();
        }
        true
    }
}

/// Deterministic white Gaussian noise (xorshift64* and Box-Muller).
#[derive(Debug, Clone)]
pub struct WhiteNoise {
    state: u64,
    spare: Option<f64>,
    rms: f64,
}

impl WhiteNoise {
    /// Noise with the given RMS amplitude (16-bit linear units) and seed.
    pub fn new(rms: f64, seed: u64) -> Self {
        Self {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            spare: None,
            rms,
        }
    }

    /// A uniform value in (0, 1].
    pub fn uniform(&mut self) -> f64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let v = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        ((v >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// The next noise sample.
    pub fn next_sample(&mut self) -> f64 {
        if let Some(s) = self.spare.take() {
            return s * self.rms;
        }
        let (u1, u2) = (self.uniform(), self.uniform());
        let r = (-2.0 * u1.ln()).sqrt();
        let t = 2.0 * std::f64::consts::PI * u2;
        self.spare = Some(r * t.sin());
        r * t.cos() * self.rms
    }

    /// Adds noise into `out`.
    pub fn add_to(&mut self, out: &mut [f64]) {
        for s in out.iter_mut() {
            *s += self.next_sample();
        }
    }
}

/// Appends `ms` of speech-like sound, for detector tests that need a
/// talker without a speech synthesiser: syllables of 180 ms, each a
/// harmonic series whose pitch glides (by 25-65 Hz, between 110 and 255 Hz)
/// and whose spectral tilt changes from syllable to syllable, under a
/// raised-cosine envelope; 40 ms gaps inside words and 120 ms between words
/// (every third syllable); peak amplitude `amp`.
pub fn add_speech_like(out: &mut Vec<f64>, ms: usize, amp: f64) {
    let end = out.len() + ms * 8;
    let mut syllable = 0usize;
    let mut phase = 0.0f64;
    while out.len() < end {
        let len = (180 * 8).min(end - out.len());
        let f0_start = 110.0 + (syllable * 37 % 80) as f64;
        let f0_end = f0_start + 25.0 + (syllable * 13 % 40) as f64;
        let tilt = 0.5 + (syllable * 29 % 10) as f64 / 10.0;
        for i in 0..len {
            let f0 = f0_start + (f0_end - f0_start) * i as f64 / len as f64;
            phase += 2.0 * std::f64::consts::PI * f0 / 8000.0;
            let env = (std::f64::consts::PI * i as f64 / len as f64).sin();
            let v: f64 = (1..12)
                .map(|h| (h as f64 * phase).sin() / (h as f64).powf(tilt))
                .sum();
            out.push(v * env * amp / 2.0);
        }
        syllable += 1;
        let gap = if syllable.is_multiple_of(3) { 120 } else { 40 };
        let gap = (gap * 8).min(end - out.len());
        out.extend(std::iter::repeat_n(0.0, gap));
    }
}

/// Rounds and saturates a floating-point signal to 16-bit samples.
pub fn to_i16(signal: &[f64]) -> Vec<i16> {
    signal
        .iter()
        .map(|&s| s.round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

/// `samples` scaled so that their largest magnitude is `peak` (recorded
/// speech brought to a test's level); silence stays silence.
pub fn scaled_to_peak(samples: &[i16], peak: f64) -> Vec<f64> {
    let max = samples
        .iter()
        .map(|s| s.unsigned_abs())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let gain = peak / max;
    samples.iter().map(|&s| s as f64 * gain).collect()
}

/// Mean power (mean square) of a signal.
pub fn mean_power(signal: &[f64]) -> f64 {
    signal.iter().map(|s| s * s).sum::<f64>() / signal.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_to_peak_reaches_the_peak() {
        let v = scaled_to_peak(&[0, -100, 50], 6000.0);
        assert_eq!(v, vec![0.0, -6000.0, 3000.0]);
        assert_eq!(scaled_to_peak(&[0, 0], 6000.0), vec![0.0, 0.0]);
    }

    #[test]
    fn sine_has_the_requested_peak_and_frequency() {
        let mut s = Sine::new(1000.0, 8000.0, 1000.0, 0.0);
        let v: Vec<f64> = (0..80000).map(|_| s.next_sample()).collect();
        let peak = v.iter().cloned().fold(0.0, f64::max);
        assert!((peak - 1000.0).abs() < 1.0);
        // 1 kHz at 8 kHz: period of 8 samples
        assert!((v[79992] - v[0]).abs() < 1.0);
    }

    #[test]
    fn noise_has_the_requested_rms() {
        let mut n = WhiteNoise::new(300.0, 7);
        let v: Vec<f64> = (0..100_000).map(|_| n.next_sample()).collect();
        let rms = mean_power(&v).sqrt();
        assert!((rms - 300.0).abs() < 5.0, "{rms}");
    }

    #[test]
    fn dbm0_scale_round_trips() {
        assert!((peak_to_dbm0(dbm0_to_peak(-23.5)) + 23.5).abs() < 1e-9);
        assert!((20.0 * (32768.0 / DBM0_PEAK).log10() - 3.17).abs() < 1e-3);
    }
}
