//! The DTMF conformance suite's signals (`tests/dtmf_conformance.rs` at
//! the workspace root: every case, must-detect and must-reject) through
//! the simulated block and the software engine: the feature blocks must
//! be identical, bit for bit. Needs `--features fpga-sim`.
//!
//! The signals are regenerated here with the same `ringwire_dsp::signal`
//! generators, levels, offsets, leads (block alignments), noise seeds and
//! phases as the suite (this crate cannot depend on the root test crate);
//! each goes through both G.711 laws as payload bytes
//! (`FeatureEngine::process_g711`). Up to 64 signals run at once, one
//! channel slot each, in 20 ms packets interleaved round robin: the
//! order the driver sees on a busy node.
#![cfg(feature = "fpga-sim")]

use ringwire_dsp::features::{ChannelId, FeatureBlock, FeatureEngine, SoftwareEngine};
use ringwire_dsp::g711::Law;
use ringwire_dsp::signal::{
    dbm0_to_peak, dtmf_freqs, to_i16, DtmfTone, Sine, WhiteNoise, DTMF_DIGITS,
};
use ringwire_fpga::FpgaSimEngine;

/// Samples per millisecond.
const MS: usize = 8;

/// A signal of the suite under construction (as the root suite's
/// `Timeline`): 8 kHz, 16-bit units, floating point.
#[derive(Default, Clone)]
struct Timeline {
    samples: Vec<f64>,
}

impl Timeline {
    fn silence(&mut self, n: usize) -> &mut Self {
        self.samples.resize(self.samples.len() + n, 0.0);
        self
    }

    /// A tone pair of `n` samples, with the suite's start-dependent phase.
    fn tone(&mut self, tone: DtmfTone, n: usize) {
        let start = self.samples.len();
        self.silence(n);
        let phase = (start as f64 * 0.37).sin() * 3.0;
        assert!(tone.add_to(&mut self.samples[start..], phase));
    }

    fn add_noise(&mut self, signal_power: f64, snr_db: f64, seed: u64) {
        let rms = (signal_power / 10f64.powf(snr_db / 10.0)).sqrt();
        WhiteNoise::new(rms, seed).add_to(&mut self.samples);
    }
}

fn sine_power(peak: f64) -> f64 {
    peak * peak / 2.0
}

/// One tone of `on_ms` after `lead` samples of silence, 200 ms after.
fn burst(tone: DtmfTone, on_ms: usize, lead: usize) -> Timeline {
    let mut t = Timeline::default();
    t.silence(lead);
    t.tone(tone, on_ms * MS);
    t.silence(200 * MS);
    t
}

fn near_another_tone(f: f64) -> bool {
    [697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0]
        .iter()
        .any(|t: &f64| (f / t - 1.0).abs() < 0.035)
}

/// Every signal of the conformance suite, named.
fn suite() -> Vec<(String, Timeline)> {
    let mut cases = Vec::new();
    let mut add = |name: String, t: Timeline| cases.push((name, t));

    let mut t = Timeline::default();
    t.silence(100 * MS);
    for d in DTMF_DIGITS {
        t.tone(DtmfTone::new(d, -10.0), 50 * MS);
        t.silence(50 * MS);
    }
    add("sixteen digits".into(), t);

    for d in DTMF_DIGITS {
        // frequency offsets: +-1.5% (detected), 3.5% and more (rejected)
        for (lo, hi) in [
            (0.015, 0.0),
            (-0.015, 0.0),
            (0.0, 0.015),
            (0.0, -0.015),
            (0.015, -0.015),
            (-0.015, 0.015),
            (0.015, 0.015),
            (-0.015, -0.015),
        ] {
            let tone = DtmfTone {
                low_deviation: lo,
                high_deviation: hi,
                ..DtmfTone::new(d, -10.0)
            };
            add(format!("{d} deviation {lo:+} {hi:+}"), burst(tone, 45, 123));
        }
        let (row, col) = dtmf_freqs(d).unwrap();
        for dev in [0.035, -0.035, 0.045, -0.045, 0.06, -0.06, 0.08, -0.08] {
            for (lo, hi) in [(dev, 0.0), (0.0, dev)] {
                let moved = if lo != 0.0 {
                    row * (1.0 + lo)
                } else {
                    col * (1.0 + hi)
                };
                if near_another_tone(moved) {
                    continue;
                }
                let tone = DtmfTone {
                    low_deviation: lo,
                    high_deviation: hi,
                    ..DtmfTone::new(d, -10.0)
                };
                add(format!("{d} deviation {lo:+} {hi:+}"), burst(tone, 200, 77));
            }
        }
        // every block alignment: 40 ms tones detected, 20 ms and less not
        for lead in (0..40).step_by(3) {
            add(
                format!("{d} 40 ms lead {lead}"),
                burst(DtmfTone::new(d, -10.0), 40, 800 + lead),
            );
            for on in [10, 15, 20] {
                add(
                    format!("{d} {on} ms lead {lead}"),
                    burst(DtmfTone::new(d, -3.0), on, 800 + lead),
                );
            }
        }
        let mut t = Timeline::default();
        t.silence(50 * MS);
        for _ in 0..3 {
            t.tone(DtmfTone::new(d, -10.0), 40 * MS);
            t.silence(50 * MS);
        }
        add(format!("{d} x3"), t);
        // twists within limits, and of 12 dB or more
        for (lo, hi, on) in [
            (-6.0, -14.0, 45),
            (-14.0, -10.0, 45),
            (-22.0, -30.0, 45),
            (-30.0, -26.0, 45),
            (-6.0, -18.0, 200),
            (-18.0, -6.0, 200),
            (-5.0, -25.0, 200),
            (-25.0, -5.0, 200),
        ] {
            let tone = DtmfTone {
                low_dbm0: lo,
                high_dbm0: hi,
                ..DtmfTone::new(d, 0.0)
            };
            add(format!("{d} twist {lo} {hi}"), burst(tone, on, 41));
        }
        // levels -3 .. -30 dBm0 (detected), -50 .. -60 (rejected)
        for level in [-3.0, -10.0, -20.0, -25.0, -30.0] {
            add(
                format!("{d} at {level}"),
                burst(DtmfTone::new(d, level), 45, 61),
            );
        }
        for level in [-50.0, -55.0, -60.0] {
            add(
                format!("{d} at {level}"),
                burst(DtmfTone::new(d, level), 200, 61),
            );
        }
        // white noise down to 15 dB SNR
        for (level, seed) in [(-10.0, 1u64), (-20.0, 2), (-30.0, 3)] {
            let mut t = Timeline::default();
            t.silence(100 * MS);
            for _ in 0..3 {
                t.tone(DtmfTone::new(d, level), 45 * MS);
                t.silence(60 * MS);
            }
            let power = 2.0 * sine_power(dbm0_to_peak(level));
            t.add_noise(power, 15.0, seed * 1000 + d as u64);
            add(format!("{d} at {level} in noise"), t);
        }
        // combined edge cases: offsets, twist at its limit, weak, in noise
        for (i, (lo_dev, hi_dev, lo, hi)) in [
            (0.015, -0.015, -20.0, -28.0),
            (-0.015, 0.015, -26.0, -22.0),
            (0.015, 0.015, -25.0, -25.0),
        ]
        .into_iter()
        .enumerate()
        {
            let mut t = Timeline::default();
            t.silence(300 + 13 * i);
            let tone = DtmfTone {
                low_deviation: lo_dev,
                high_deviation: hi_dev,
                low_dbm0: lo,
                high_dbm0: hi,
                digit: d,
            };
            t.tone(tone, 45 * MS);
            t.silence(100 * MS);
            t.tone(tone, 45 * MS);
            t.silence(100 * MS);
            let power = sine_power(dbm0_to_peak(lo)) + sine_power(dbm0_to_peak(hi));
            t.add_noise(power, 18.0, 77 + i as u64);
            add(format!("{d} combined {i}"), t);
        }
    }
    // onset timing
    for (i, d) in DTMF_DIGITS.iter().enumerate() {
        add(
            format!("{d} onset"),
            burst(DtmfTone::new(*d, -20.0), 60, 1000 + 7 * i),
        );
    }
    // single tones (rejected)
    for f in [697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0] {
        let mut t = Timeline::default();
        t.silence(400);
        let mut s = Sine::new(f, 8000.0, dbm0_to_peak(-3.0), 0.0);
        t.samples.extend((0..8000).map(|_| s.next_sample()));
        add(format!("single tone {f}"), t);
    }
    cases
}

/// Signals per batch (channel slots in use at once).
const BATCH: usize = 64;
/// Bytes per packet: 20 ms of G.711.
const PACKET: usize = 160;

/// Every case through both engines as `law` payloads; returns the blocks
/// compared.
fn run_law(cases: &[(String, Timeline)], law: Law, fpga: &mut FpgaSimEngine) -> usize {
    let mut sw = SoftwareEngine::new();
    let mut compared = 0;
    for batch in cases.chunks(BATCH) {
        let payloads: Vec<Vec<u8>> = batch
            .iter()
            .map(|(_, t)| {
                let pcm = to_i16(&t.samples);
                let mut bytes = vec![0u8; pcm.len()];
                let n = law.encode(&pcm, &mut bytes);
                assert_eq!(n, pcm.len());
                bytes
            })
            .collect();
        let open = |e: &mut dyn FeatureEngine| -> Vec<ChannelId> {
            (0..batch.len())
                .map(|_| e.open_channel().unwrap())
                .collect()
        };
        let (ids_hw, ids_sw) = (open(fpga), open(&mut sw));
        let mut out_hw: Vec<Vec<FeatureBlock>> = vec![Vec::new(); batch.len()];
        let mut out_sw = out_hw.clone();
        let longest = payloads.iter().map(Vec::len).max().unwrap_or(0);
        for at in (0..longest).step_by(PACKET) {
            for (i, p) in payloads.iter().enumerate() {
                if at >= p.len() {
                    continue;
                }
                let packet = &p[at..(at + PACKET).min(p.len())];
                fpga.process_g711(ids_hw[i], law, packet, &mut out_hw[i])
                    .unwrap();
                sw.process_g711(ids_sw[i], law, packet, &mut out_sw[i])
                    .unwrap();
            }
        }
        for (i, (name, _)) in batch.iter().enumerate() {
            assert!(!out_sw[i].is_empty(), "{name}: no blocks");
            if out_hw[i] != out_sw[i] {
                let k = out_hw[i]
                    .iter()
                    .zip(&out_sw[i])
                    .position(|(a, b)| a != b)
                    .unwrap_or(out_hw[i].len().min(out_sw[i].len()));
                panic!(
                    "{name} ({law:?}): block {k} differs ({} vs {} blocks)\n fpga: {:?}\n   sw: {:?}",
                    out_hw[i].len(),
                    out_sw[i].len(),
                    out_hw[i].get(k),
                    out_sw[i].get(k)
                );
            }
            compared += out_sw[i].len();
            fpga.close_channel(ids_hw[i]).unwrap();
            sw.close_channel(ids_sw[i]).unwrap();
        }
    }
    compared
}

#[test]
fn dtmf_conformance_signals_give_identical_features() {
    let cases = suite();
    assert!(cases.len() > 1500, "{} cases", cases.len());
    let mut fpga = FpgaSimEngine::new().unwrap();
    let mut blocks = 0;
    for law in [Law::Ulaw, Law::Alaw] {
        blocks += run_law(&cases, law, &mut fpga);
    }
    let samples = fpga.sim().read32(ringwire_fpga::regs::SAMPLES);
    println!(
        "{} signals x 2 laws: {blocks} feature blocks identical ({samples} samples)",
        cases.len()
    );
}
