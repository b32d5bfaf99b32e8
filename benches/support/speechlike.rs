//! Speech-like test audio for the benches: harmonic vowels with formants
//! and a gliding pitch, separated by fricative-like noise bursts or pauses.
//! Shared by `benches/dtmf.rs` and `benches/amd.rs` (included with `#[path]`).
use ringwire_dsp::signal::{dbm0_to_peak, WhiteNoise};

/// Samples per millisecond at 8 kHz.
pub const MS: usize = 8;

/// RMS amplitude (16-bit linear units) of a signal at `dbm0` mean power.
pub fn rms_at(dbm0: f64) -> f64 {
    dbm0_to_peak(dbm0) / std::f64::consts::SQRT_2
}

/// Adds a harmonic vowel with pitch gliding from `f0a` to `f0b` Hz, shaped
/// by three formants, at `dbm0` mean power, with 25 ms raised-cosine ramps.
pub fn add_vowel(out: &mut [f64], f0a: f64, f0b: f64, formants: [f64; 3], dbm0: f64) {
    let n = out.len();
    let mut v = vec![0.0f64; n];
    let mut phase0 = 0.0f64;
    for (i, s) in v.iter_mut().enumerate() {
        let f0 = f0a + (f0b - f0a) * i as f64 / n as f64;
        phase0 += 2.0 * std::f64::consts::PI * f0 / 8000.0;
        let mut h = 1;
        while h as f64 * f0 < 3400.0 {
            let f = h as f64 * f0;
            let mut gain = 0.0;
            for (j, &fm) in formants.iter().enumerate() {
                let bw = 80.0 + 40.0 * j as f64;
                gain += 1.0 / (1.0 + ((f - fm) / bw).powi(2)) / (1 + j) as f64;
            }
            *s += (gain + 0.02) * (h as f64 * phase0).sin();
            h += 1;
        }
    }
    let p = v.iter().map(|x| x * x).sum::<f64>() / n as f64;
    let scale = rms_at(dbm0) / p.sqrt();
    let ramp = 25 * MS;
    for (i, (o, x)) in out.iter_mut().zip(&v).enumerate() {
        let edge = i.min(n - 1 - i);
        let env = if edge < ramp {
            0.5 - 0.5 * (std::f64::consts::PI * edge as f64 / ramp as f64).cos()
        } else {
            1.0
        };
        *o += x * scale * env;
    }
}

/// Speech-like sound from `t` for about `dur` samples; returns the new `t`.
pub fn add_speech(sig: &mut [f64], mut t: usize, dur: usize, seed: u64) -> usize {
    const VOWELS: [[f64; 3]; 5] = [
        [730.0, 1090.0, 2440.0],
        [270.0, 2290.0, 3010.0],
        [300.0, 870.0, 2240.0],
        [530.0, 1840.0, 2480.0],
        [570.0, 840.0, 2410.0],
    ];
    let end = t + dur;
    let mut noise = WhiteNoise::new(rms_at(-30.0), seed);
    let mut i = seed as usize;
    while t < end {
        let len = ((120 + (i * 37) % 130) * MS).min(end - t);
        let f0a = 95.0 + ((i * 53) % 135) as f64;
        let f0b = 95.0 + ((i * 71 + 40) % 135) as f64;
        let level = -16.0 - ((i * 3) % 9) as f64;
        add_vowel(&mut sig[t..t + len], f0a, f0b, VOWELS[i % 5], level);
        t += len;
        if t >= end {
            break;
        }
        // A fricative-like burst (or a short pause) between syllables.
        let gap = ((40 + (i * 23) % 60) * MS).min(end - t);
        if i.is_multiple_of(2) {
            noise.add_to(&mut sig[t..t + gap]);
        }
        t += gap;
        i += 1;
    }
    end
}
