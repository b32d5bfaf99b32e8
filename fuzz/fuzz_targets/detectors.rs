//! The in-audio detectors (in-band DTMF, AMD, beep) never panic on any
//! audio, as the live taps must not on a hostile RTP stream: over a call
//! scripted from the input (silence, tones, dual tones, noise, speech-like
//! sound at any level, and raw samples), AMD gives exactly one verdict, at
//! a time inside the call, and the same verdict at the same time on the
//! call cut at that time (the causality property); every beep and digit
//! ends no earlier than it starts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringwire_dsp::features::SoftwareEngine;
use ringwire_dsp::signal::{add_speech_like, to_i16, Sine, WhiteNoise};
use ringwire_host::analyze::{analyze_samples, AnalyzeOptions, Detector, Event};

/// The longest call a script makes: past the AMD's analysis time and its
/// restarts after ring-back.
const MAX_MS: usize = 20_000;

/// Dual tones a segment may play: DTMF 1, US ring-back, busy, UK
/// ring-back, and two beats a beep detector must not merge.
const PAIRS: [(f64, f64); 6] = [
    (697.0, 1209.0),
    (440.0, 480.0),
    (480.0, 620.0),
    (400.0, 450.0),
    (1000.0, 1010.0),
    (350.0, 2100.0),
];

/// The call a script describes: each 4-byte record is one segment (kind,
/// length in 20 ms steps, level in 0.5 dB steps down from full scale, and a
/// parameter: a frequency, a pair, a seed); a trailing remainder is raw
/// samples, looped over one more segment.
fn render(data: &[u8]) -> Vec<i16> {
    let mut x: Vec<f64> = Vec::new();
    let mut records = data.chunks_exact(4);
    for r in records.by_ref() {
        if x.len() >= MAX_MS * 8 {
            break;
        }
        let ms = (r[1] as usize + 1) * 20;
        let amp = 32767.0 * 10f64.powf(-(r[2] as f64) / 40.0);
        let start = x.len();
        match r[0] % 6 {
            0 => x.resize(start + ms * 8, 0.0),
            1 => {
                let mut s = Sine::new(100.0 + r[3] as f64 * 12.0, 8000.0, amp, 0.0);
                x.extend((0..ms * 8).map(|_| s.next_sample()));
            }
            2 => {
                let (f1, f2) = PAIRS[r[3] as usize % PAIRS.len()];
                let (mut a, mut b) = (
                    Sine::new(f1, 8000.0, amp / 2.0, 0.0),
                    Sine::new(f2, 8000.0, amp / 2.0, 0.0),
                );
                x.extend((0..ms * 8).map(|_| a.next_sample() + b.next_sample()));
            }
            3 => {
                x.resize(start + ms * 8, 0.0);
                WhiteNoise::new(amp / 3.0, r[3] as u64).add_to(&mut x[start..]);
            }
            4 => add_speech_like(&mut x, ms, amp),
            _ => {
                // a few raw samples from the parameter, repeated: clicks,
                // square waves, full-scale steps
                let v = (r[3] as i8 as f64) * 256.0;
                let period = 1 + r[3] as usize % 17;
                x.extend((0..ms * 8).map(|i| if (i / period) % 2 == 0 { v } else { -v }));
            }
        }
    }
    let raw = records.remainder();
    if !raw.is_empty() && x.len() < MAX_MS * 8 {
        x.extend(
            raw.iter()
                .cycle()
                .take(8000)
                .map(|&b| (b as i8 as f64) * 256.0),
        );
    }
    x.truncate(MAX_MS * 8);
    to_i16(&x)
}

fn amd_of(events: &[Event]) -> Vec<(String, u64)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Amd { verdict, at_ms, .. } => Some((verdict.as_str().to_string(), *at_ms)),
            _ => None,
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let samples = render(data);
    let options = AnalyzeOptions::with_detectors(&[Detector::Dtmf, Detector::Amd, Detector::Beep]);
    let events = analyze_samples(&mut SoftwareEngine::new(), &samples, &options);
    let amd = amd_of(&events);
    assert_eq!(amd.len(), 1, "exactly one AMD verdict: {events:?}");
    let duration_ms = samples.len() as u64 / 8;
    let (verdict, at_ms) = amd[0].clone();
    assert!(
        at_ms <= duration_ms + 10,
        "verdict at {at_ms} ms of {duration_ms}"
    );
    for e in &events {
        match e {
            Event::Beep {
                start_ms, end_ms, ..
            }
            | Event::Dtmf {
                start_ms, end_ms, ..
            } => {
                assert!(start_ms <= end_ms, "{e:?}");
                assert!(*end_ms <= duration_ms + 10, "{e:?} of {duration_ms} ms");
            }
            Event::Amd { .. } => {}
        }
    }
    // the verdict used only the audio up to its time
    let cut = &samples[..(at_ms as usize * 8).min(samples.len())];
    let again = amd_of(&analyze_samples(&mut SoftwareEngine::new(), cut, &options));
    assert_eq!(again, vec![(verdict, at_ms)], "cut at {at_ms} ms");
});
