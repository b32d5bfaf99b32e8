//! Payloads the generator plays: G.711 silence, a loop of in-band DTMF
//! digits, and a loop of speech-like greeting audio (harmonic vowels with
//! formants and a gliding pitch, separated by short pauses), so that the
//! node's detectors have real work. Everything is generated once, before
//! the media phase, as 20 ms frames of 160 G.711 bytes.

use ringwire_dsp::g711::Law;
use ringwire_dsp::signal::{dbm0_to_peak, to_i16, DtmfTone, WhiteNoise};

/// Samples in a 20 ms frame at 8 kHz.
pub const FRAME: usize = 160;

/// One 20 ms G.711 frame.
pub type Frame = [u8; FRAME];

/// The digits the DTMF loop plays, in order.
pub const DTMF_SEQUENCE: &str = "159#2680*347";

fn encode(law: Law, signal: &[f64]) -> Vec<Frame> {
    let pcm = to_i16(signal);
    pcm.chunks(FRAME)
        .map(|chunk| {
            let mut f = [law.silence(); FRAME];
            law.encode(chunk, &mut f);
            f
        })
        .collect()
}

/// One frame of digital silence.
pub fn silence(law: Law) -> Vec<Frame> {
    vec![[law.silence(); FRAME]]
}

/// [`DTMF_SEQUENCE`] as 100 ms tones at -10 dBm0 per tone with 100 ms gaps,
/// then 400 ms of silence before the loop repeats.
pub fn dtmf_loop(law: Law) -> Vec<Frame> {
    let ms = 8;
    let mut sig = vec![0.0f64; (DTMF_SEQUENCE.len() * 200 + 400) * ms];
    for (i, digit) in DTMF_SEQUENCE.chars().enumerate() {
        let start = i * 200 * ms;
        DtmfTone::new(digit, -10.0).add_to(&mut sig[start..start + 100 * ms], 0.0);
    }
    encode(law, &sig)
}

/// About 4 s of speech-like audio (a greeting) and 1 s of silence.
pub fn greeting_loop(law: Law) -> Vec<Frame> {
    const VOWELS: [[f64; 3]; 5] = [
        [730.0, 1090.0, 2440.0],
        [270.0, 2290.0, 3010.0],
        [300.0, 870.0, 2240.0],
        [530.0, 1840.0, 2480.0],
        [570.0, 840.0, 2410.0],
    ];
    let ms = 8;
    let mut sig = vec![0.0f64; 5000 * ms];
    let mut noise = WhiteNoise::new(dbm0_to_peak(-45.0), 7);
    let mut t = 0;
    let mut i = 0usize;
    while t + 400 * ms < 4000 * ms {
        let dur = (120 + (i * 37) % 160) * ms;
        let f0 = 110.0 + ((i * 13) % 60) as f64;
        add_vowel(&mut sig[t..t + dur], f0, f0 * 0.9, VOWELS[i % 5], -18.0);
        t += dur;
        // A consonant-like noise burst or a short pause between syllables.
        let gap = (30 + (i * 23) % 90) * ms;
        if matches!(i % 3, 0) {
            noise.add_to(&mut sig[t..t + gap]);
        }
        t += gap;
        i += 1;
    }
    encode(law, &sig)
}

fn add_vowel(out: &mut [f64], f0a: f64, f0b: f64, formants: [f64; 3], dbm0: f64) {
    let n = out.len();
    let mut v = vec![0.0f64; n];
    let mut phase = 0.0f64;
    for (i, s) in v.iter_mut().enumerate() {
        let f0 = f0a + (f0b - f0a) * i as f64 / n as f64;
        phase += 2.0 * std::f64::consts::PI * f0 / 8000.0;
        let mut h = 1;
        while h as f64 * f0 < 3400.0 {
            let f = h as f64 * f0;
            let gain: f64 = formants
                .iter()
                .enumerate()
                .map(|(j, &fm)| {
                    1.0 / (1.0 + ((f - fm) / (80.0 + 40.0 * j as f64)).powi(2)) / (1 + j) as f64
                })
                .sum();
            *s += (gain + 0.02) * (h as f64 * phase).sin();
            h += 1;
        }
    }
    let p = (v.iter().map(|x| x * x).sum::<f64>() / n as f64).sqrt();
    let scale = dbm0_to_peak(dbm0) / std::f64::consts::SQRT_2 / p.max(1e-9);
    let ramp = (25 * 8).min(n / 2).max(1);
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

#[cfg(test)]
mod tests {
    use super::*;
    use ringwire_dsp::signal::mean_power;

    #[test]
    fn loops_are_whole_frames_with_signal() {
        for law in [Law::Ulaw, Law::Alaw] {
            let d = dtmf_loop(law);
            assert_eq!(d.len(), (DTMF_SEQUENCE.len() * 200 + 400) / 20);
            let g = greeting_loop(law);
            assert_eq!(g.len(), 250);
            let pcm: Vec<f64> = g[..100]
                .iter()
                .flat_map(|f| f.iter().map(move |&b| law.decode_one(b) as f64))
                .collect();
            assert!(mean_power(&pcm) > 1e4, "greeting is audible");
            assert!(silence(law)[0]
                .iter()
                .all(|&b| law.decode_one(b).abs() < 16));
        }
    }
}
