use super::tracker::Window;
use super::*;
use crate::features::{FeatureEngine, SoftwareEngine};
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

/// A held vowel: harmonics of `f0` weighted by three formant resonances,
/// with sinusoidal vibrato of relative depth `vib` at 5.5 Hz.
fn vowel(f0: f64, formants: [f64; 3], vib: f64, n: usize, peak: f64) -> Vec<f64> {
    let mut out = vec![0.0; n];
    let mut phase = 0.0f64;
    let gain = |f: f64| -> f64 {
        formants
            .iter()
            .map(|&fm| {
                let bw = 80.0 + fm * 0.05;
                1.0 / (1.0 + ((f - fm) / bw).powi(2))
            })
            .sum::<f64>()
            / (1.0 + f / 1000.0)
    };
    let nh = (3600.0 / f0) as usize;
    let gains: Vec<f64> = (1..=nh).map(|h| gain(h as f64 * f0)).collect();
    let norm = gains.iter().map(|g| g * g).sum::<f64>().sqrt();
    for (i, o) in out.iter_mut().enumerate() {
        let t = i as f64 / 8000.0;
        let f = f0 * (1.0 + vib * (2.0 * std::f64::consts::PI * 5.5 * t).sin());
        phase += 2.0 * std::f64::consts::PI * f / 8000.0;
        *o = (1..=nh)
            .map(|h| gains[h - 1] * (h as f64 * phase + h as f64 * 0.7).sin())
            .sum::<f64>()
            * peak
            / norm;
    }
    out
}

#[test]
#[ignore]
fn diag_windows() {
    let cases: Vec<(&str, Vec<f64>)> = {
        let mut v = Vec::new();
        for f in [350.0, 440.0, 1000.0, 1400.0, 2100.0] {
            v.push((format!("clean {f}"), sine(f, 3000.0, 4000, 0.3)));
            let mut s = sine(f, 3000.0, 4000, 0.3);
            WhiteNoise::new(3000.0 / 2f64.sqrt() / 4.0, 1).add_to(&mut s);
            v.push((format!("12dB {f}"), s));
            let mut s = sine(f, 100.0, 4000, 0.3);
            WhiteNoise::new(100.0 / 2f64.sqrt() / 4.0, 1).add_to(&mut s);
            v.push((format!("12dB -50 {f}"), s));
        }
        for (a, b) in [
            (440.0, 480.0),
            (480.0, 620.0),
            (400.0, 450.0),
            (697.0, 1209.0),
            (941.0, 1633.0),
        ] {
            let x = sine(a, 3000.0, 4000, 0.3);
            let y = sine(b, 3000.0, 4000, 1.3);
            v.push((
                format!("dual {a}+{b}"),
                x.iter().zip(&y).map(|(p, q)| p + q).collect(),
            ));
        }
        for (f0, formants) in [
            (110.0, [300.0, 870.0, 2240.0]),
            (220.0, [300.0, 870.0, 2240.0]),
            (150.0, [730.0, 1090.0, 2440.0]),
            (280.0, [730.0, 1090.0, 2440.0]),
            (300.0, [390.0, 2000.0, 2600.0]),
        ] {
            for vib in [0.0, 0.02, 0.05] {
                v.push((
                    format!("vowel {f0} {} {vib}", formants[0]),
                    vowel(f0, formants, vib, 4000, 3000.0),
                ));
            }
        }
        for f in [400.0, 500.0, 600.0, 800.0, 1200.0, 1600.0, 2000.0, 1010.0] {
            v.push((format!("clean {f}"), sine(f, 3000.0, 4000, 1.1)));
        }
        let mut s = vec![0.0; 4000];
        WhiteNoise::new(1000.0, 3).add_to(&mut s);
        v.push(("noise".into(), s));
        v.into_iter()
            .map(|(a, b)| (Box::leak(a.into_boxed_str()) as &str, b))
            .collect()
    };
    for (name, s) in cases {
        let blocks = blocks_of(&to_i16(&s));
        for w in [1usize, 4] {
            let mut fs = Vec::new();
            let mut snrs = Vec::new();
            let mut win1 = Window::<1>::default();
            let mut win4 = Window::<4>::default();
            for b in &blocks {
                win1.push(b);
                win4.push(b);
                let t = if w == 1 { win1.tone() } else { win4.tone() };
                if let Some(t) = t {
                    fs.push(t.freq_hz as f64);
                    snrs.push(10.0 * (t.snr as f64).log10());
                }
            }
            let fs = &fs[4..];
            let snrs = &snrs[4..];
            let mean = fs.iter().sum::<f64>() / fs.len() as f64;
            let sd = (fs.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / fs.len() as f64).sqrt();
            let maxdev = fs.iter().map(|f| (f - mean).abs()).fold(0.0, f64::max);
            let mut sn = snrs.to_vec();
            sn.sort_by(|a, b| a.partial_cmp(b).unwrap());
            println!(
                "{name:>20} W{w}: f {mean:7.1} sd {:5.2}% maxdev {:5.2}% snr min {:5.1} p10 {:5.1} p50 {:5.1}",
                100.0 * sd / mean,
                100.0 * maxdev / mean,
                sn[0],
                sn[sn.len() / 10],
                sn[sn.len() / 2]
            );
        }
    }
}

fn run(samples: &[i16]) -> (Vec<BeepEvent>, Vec<(Reject, f32)>) {
    let mut d = BeepDetector::default();
    let mut ev: Vec<BeepEvent> = blocks_of(samples)
        .iter()
        .filter_map(|b| d.push(b))
        .collect();
    while let Some(e) = d.finish() {
        ev.push(e);
    }
    (ev, d.rejects)
}

#[test]
#[ignore]
fn diag_beeps() {
    for f in [
        350.0, 400.0, 425.0, 500.0, 700.0, 1000.0, 1010.0, 1400.0, 1777.0, 2000.0, 2100.0,
    ] {
        for (peak, snr) in [(3000.0, 99.0), (3000.0, 12.0), (100.0, 12.0)] {
            let mut s = vec![0.0; 8000];
            let mut t = sine(f, peak, 2400, 0.7);
            s.extend(t.drain(..));
            s.extend(vec![0.0; 8000]);
            WhiteNoise::new(peak / 2f64.sqrt() / 10f64.powf(snr / 20.0), 5).add_to(&mut s);
            let (ev, rej) = run(&to_i16(&s));
            println!("{f} {peak} {snr}: {ev:?} {rej:?}");
        }
    }
}

#[test]
#[ignore]
fn diag_ringback() {
    let x = sine(440.0, 3000.0, 16000, 0.3);
    let y = sine(480.0, 3000.0, 16000, 1.3);
    let mut s = vec![0.0; 2400];
    s.extend(x.iter().zip(&y).map(|(p, q)| p + q));
    s.extend(vec![0.0; 8000]);
    println!("{:?}", run(&to_i16(&s)));
}
