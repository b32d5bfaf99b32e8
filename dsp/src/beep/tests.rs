use super::*;
use crate::features::{FeatureEngine, SoftwareEngine};
use crate::g711::Law;
use crate::signal::{to_i16, Sine, WhiteNoise};

fn blocks_of(samples: &[i16]) -> Vec<FeatureBlock> {
    let mut e = SoftwareEngine::new();
    let ch = e.open_channel().unwrap();
    let mut out = Vec::new();
    e.process(ch, samples, &mut out).unwrap();
    out
}

fn sine(f: f64, peak: f64, n: usize, phase: f64) -> Vec<f64> {
    let mut s = Sine::new(f, 8000.0, peak, phase);
    (0..n).map(|_| s.next_sample()).collect()
}

fn law(x: &[f64], law: Law) -> Vec<i16> {
    to_i16(x)
        .into_iter()
        .map(|s| law.decode_one(law.encode_one(s)))
        .collect()
}

/// A held vowel: harmonics of `f0` weighted by three formant resonances,
/// with sinusoidal vibrato of relative depth `vib` at 5.5 Hz.
fn vowel(f0: f64, formants: [f64; 3], vib: f64, n: usize, peak: f64) -> Vec<f64> {
    let gain = |f: f64| -> f64 {
        formants
            .iter()
            .map(|&fm| 1.0 / (1.0 + ((f - fm) / (60.0 + fm * 0.05)).powi(2)))
            .sum::<f64>()
            / (1.0 + f / 1000.0)
    };
    let nh = (3600.0 / f0) as usize;
    let gains: Vec<f64> = (1..=nh).map(|h| gain(h as f64 * f0)).collect();
    let norm = gains.iter().map(|g| g * g / 2.0).sum::<f64>().sqrt();
    let mut phase = 0.0f64;
    (0..n)
        .map(|i| {
            let t = i as f64 / 8000.0;
            let f = f0 * (1.0 + vib * (2.0 * std::f64::consts::PI * 5.5 * t).sin());
            phase += 2.0 * std::f64::consts::PI * f / 8000.0;
            gains
                .iter()
                .enumerate()
                .map(|(h, g)| g * ((h + 1) as f64 * phase + h as f64 * 0.7).sin())
                .sum::<f64>()
                * peak
                / norm
                / 2f64.sqrt()
        })
        .collect()
}

struct Run {
    events: Vec<BeepEvent>,
    rejects: Vec<(Reject, f32)>,
    summaries: Vec<Summary>,
}

fn run(samples: &[i16]) -> Run {
    let mut d = BeepDetector::default();
    let mut events: Vec<BeepEvent> = blocks_of(samples)
        .iter()
        .filter_map(|b| d.push(b))
        .collect();
    while let Some(e) = d.finish() {
        events.push(e);
    }
    Run {
        events,
        rejects: d.rejects,
        summaries: d.summaries,
    }
}

fn peak(dbfs: f64) -> f64 {
    32768.0 * 10f64.powf(dbfs / 20.0)
}

#[test]
#[ignore]
fn diag_parts() {
    let mut worst = [0.0f64; 2];
    for &f in &[
        350.0, 400.0, 450.0, 500.0, 700.0, 1000.0, 1400.0, 2000.0, 2100.0,
    ] {
        for ms in [120usize, 500, 2000] {
            for db in [-30.0, -10.0, -3.0] {
                for snr in [99.0, 12.0] {
                    for (li, lw) in [Law::Ulaw, Law::Alaw].into_iter().enumerate() {
                        let mut s = vec![0.0; 6400];
                        s.extend(sine(f, peak(db), ms * 8, 0.37 * li as f64 + ms as f64));
                        s.extend(vec![0.0; 8000]);
                        let rms = peak(db) / 2f64.sqrt() / 10f64.powf(snr / 20.0);
                        WhiteNoise::new(rms, (f as u64) * 7 + ms as u64 + li as u64).add_to(&mut s);
                        let r = run(&law(&s, lw));
                        for x in &r.summaries {
                            let e = [(x.freq as f64 - f) / f, (x.freq_dft as f64 - f) / f];
                            worst[0] = worst[0].max(e[0].abs());
                            worst[1] = worst[1].max(e[1].abs());
                            if snr < 50.0 && (ms == 120 || f < 600.0)
                                || e[0].abs() > 0.01
                                || e[1].abs() > 0.01
                                || r.events.len() != 1
                            {
                                println!(
                                    "{f} {ms} {db} {snr} {lw:?}: err {:+.2}% dft {:+.2}% snr {:.1} dB drift {:.2}% z {:.1} ripple {:.3} n{} ev {} {:?}",
                                    e[0] * 100.0, e[1] * 100.0, 10.0 * x.snr.log10(), x.drift * 100.0, x.drift_z, x.ripple, x.blocks, r.events.len(), r.rejects
                                );
                            }
                        }
                        if r.summaries.is_empty() {
                            println!("{f} {ms} {db} {snr} {lw:?}: no part");
                        }
                    }
                }
            }
        }
    }
    println!("worst {:.2}% {:.2}%", worst[0] * 100.0, worst[1] * 100.0);
}

#[test]
#[ignore]
fn diag_distractors() {
    let mut cases: Vec<(String, Vec<f64>)> = Vec::new();
    for (a, b) in [(440.0, 480.0), (480.0, 620.0), (400.0, 450.0)] {
        let mut s = vec![0.0; 2400];
        let x = sine(a, peak(-16.0), 4000, 0.3);
        let y = sine(b, peak(-16.0), 4000, 1.3);
        s.extend(x.iter().zip(&y).map(|(p, q)| p + q));
        s.extend(vec![0.0; 4000]);
        cases.push((format!("dual {a}+{b}"), s));
    }
    let vowels = [
        [730.0, 1090.0, 2440.0],
        [270.0, 2290.0, 3010.0],
        [300.0, 870.0, 2240.0],
        [570.0, 840.0, 2410.0],
        [530.0, 1840.0, 2480.0],
    ];
    for f0 in [100.0, 130.0, 170.0, 220.0, 260.0, 300.0] {
        for fm in vowels {
            for vib in [0.02, 0.035, 0.05] {
                let mut s = vec![0.0; 2400];
                s.extend(vowel(f0, fm, vib, 12000, peak(-12.0)));
                s.extend(vec![0.0; 8000]);
                cases.push((format!("vowel {f0} {} {vib}", fm[0]), s));
            }
        }
    }
    for (name, s) in cases {
        for noisy in [false, true] {
            let mut s = s.clone();
            if noisy {
                WhiteNoise::new(peak(-10.0) / 2f64.sqrt() / 10.0, 9).add_to(&mut s);
            }
            let r = run(&law(&s, Law::Ulaw));
            for x in &r.summaries {
                println!(
                    "{name} {noisy}: f {:.1} dft {:.1} snr {:.1} dB drift {:.2}% z {:.1} ripple {:.3} n{} ev {} {:?}",
                    x.freq, x.freq_dft, 10.0 * x.snr.log10(), x.drift * 100.0, x.drift_z, x.ripple, x.blocks, r.events.len(), r.rejects
                );
            }
        }
    }
}

#[test]
#[ignore]
fn diag_seeds() {
    let f: f64 = std::env::var("F")
        .map(|v| v.parse().unwrap())
        .unwrap_or(350.0);
    let ms: usize = std::env::var("MSEC")
        .map(|v| v.parse().unwrap())
        .unwrap_or(120);
    let mut misses = 0;
    for seed in 0..200u64 {
        for lw in [Law::Ulaw, Law::Alaw] {
            let mut s = vec![0.0; 6400];
            s.extend(sine(f, peak(-30.0), ms * 8, seed as f64 * 0.11));
            s.extend(vec![0.0; 8000]);
            WhiteNoise::new(peak(-30.0) / 2f64.sqrt() / 10f64.powf(0.6), seed).add_to(&mut s);
            let r = run(&law(&s, lw));
            if r.events.len() != 1 {
                misses += 1;
                for x in &r.summaries {
                    println!("seed {seed} {lw:?}: f {:.1} snr {:.1} dB drift {:.2}% z {:.1} ripple {:.3} n{} {:?}",
                        x.freq, 10.0 * x.snr.log10(), x.drift * 100.0, x.drift_z, x.ripple, x.blocks, r.rejects);
                }
                if r.summaries.is_empty() {
                    println!("seed {seed} {lw:?}: no part");
                }
            }
        }
    }
    println!("misses {misses} / 400");
}
