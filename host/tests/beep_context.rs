//! A tone with the signature of a live call's signalling tone (the 1400 Hz,
//! 500 ms recorder warning) is also what some voicemail systems play as
//! their beep. The call's detectors tell them apart by context: after a
//! greeting AMD has already called a machine it is the beep; after a live
//! "Hello?" it is the warning, and no beep. Speech from espeak-ng; skipped
//! where it is not installed.
use ringwire_dsp::amd::AmdVerdict;
use ringwire_dsp::features::SoftwareEngine;
use ringwire_dsp::signal::scaled_to_peak;
use ringwire_host::analyze::{analyze_samples, AnalyzeOptions, Detector, Event};
use std::process::Command;

const RATE: usize = 8000;

/// A voicemail greeting that AMD calls a machine before it ends.
const VOICEMAIL: &str = "Hello, you have reached the Lee family. We cannot take your call just \
     now. Please leave your name and number after the tone, and we will call you back.";

/// espeak-ng's `text` at 8 kHz, peak at about -14 dBFS; `None` without espeak-ng.
fn speech(voice: &str, text: &str) -> Option<Vec<f64>> {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path =
        std::env::temp_dir().join(format!("ringwire-beep-ctx-{}-{n}.wav", std::process::id()));
    let ok = Command::new("espeak-ng")
        .args(["-v", voice, "-s", "165", "-w"])
        .arg(&path)
        .arg(text)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("espeak-ng not installed: skipping");
        return None;
    }
    let samples = ringwire_media::input::read_input(&path)
        .unwrap()
        .remove(0)
        .samples;
    std::fs::remove_file(&path).ok();
    Some(scaled_to_peak(&samples, 0.2 * 32767.0))
}

/// `lead` ms of silence, the speech, `gap` ms, a 1400 Hz tone of `tone` ms
/// at -16 dBFS, 3 s of silence; with the tone's start sample.
fn call(speech: &[f64], gap: usize, tone: usize) -> (Vec<i16>, usize) {
    call_at(speech, gap, tone, 1400.0)
}

/// As [`call`], with the tone at `freq` Hz.
fn call_at(speech: &[f64], gap: usize, tone: usize, freq: f64) -> (Vec<i16>, usize) {
    let mut x = vec![0.0; 500 * RATE / 1000];
    x.extend_from_slice(speech);
    x.resize(x.len() + gap * RATE / 1000, 0.0);
    let start = x.len();
    let amp = 32767.0 * 10f64.powf(-16.0 / 20.0);
    x.extend(
        (0..tone * RATE / 1000)
            .map(|i| amp * (2.0 * std::f64::consts::PI * freq * i as f64 / RATE as f64).sin()),
    );
    x.resize(x.len() + 3 * RATE, 0.0);
    // a faint line noise, so the VAD has a floor to adapt to
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let samples = x
        .iter()
        .map(|&v| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let noise = ((seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 60.0;
            (v + noise).round().clamp(-32768.0, 32767.0) as i16
        })
        .collect();
    (samples, start)
}

fn events(samples: &[i16]) -> (AmdVerdict, u64, Vec<u64>) {
    let options = AnalyzeOptions::with_detectors(&[Detector::Amd, Detector::Beep]);
    let mut engine = SoftwareEngine::new();
    let mut amd = None;
    let mut beeps = Vec::new();
    for e in analyze_samples(&mut engine, samples, &options) {
        match e {
            Event::Amd { verdict, at_ms, .. } => amd = Some((verdict, at_ms)),
            Event::Beep { start_ms, .. } => beeps.push(start_ms),
            Event::Dtmf { .. } => {}
        }
    }
    let (verdict, at_ms) = amd.expect("one AMD event");
    (verdict, at_ms, beeps)
}

#[test]
fn a_recorder_warning_like_tone_after_a_machine_greeting_is_its_beep() {
    let Some(greeting) = speech("en-us", VOICEMAIL) else {
        return;
    };
    let (samples, start) = call(&greeting, 800, 480);
    let (verdict, at_ms, beeps) = events(&samples);
    let start_ms = (start * 1000 / RATE) as u64;
    assert_eq!(verdict, AmdVerdict::Machine);
    assert!(
        at_ms <= start_ms,
        "AMD decided at {at_ms} ms, after the tone at {start_ms} ms"
    );
    assert_eq!(beeps.len(), 1, "{beeps:?}");
    assert!(
        beeps[0].abs_diff(start_ms) <= 40,
        "beep at {} ms, tone at {start_ms} ms",
        beeps[0]
    );
}

#[test]
fn the_same_tone_after_a_live_hello_is_no_beep() {
    let Some(hello) = speech("en-us", "Hello?") else {
        return;
    };
    let (samples, _) = call(&hello, 1500, 480);
    let (verdict, _, beeps) = events(&samples);
    assert_eq!(verdict, AmdVerdict::Human);
    assert!(beeps.is_empty(), "{beeps:?}");
}

/// Beeps are listened for while they can be a voicemail's prompt: a beep
/// right after a short greeting called live is reported (AMD was wrong),
/// the same tone 15 s into the call is not.
#[test]
fn after_a_live_verdict_a_beep_counts_only_while_amd_follows_the_talker() {
    let Some(hello) = speech("en-us", "Hello?") else {
        return;
    };
    let (samples, start) = call_at(&hello, 1500, 500, 1000.0);
    let (verdict, at_ms, beeps) = events(&samples);
    assert_eq!(verdict, AmdVerdict::Human);
    assert!(at_ms < (start * 1000 / RATE) as u64, "{at_ms}");
    assert_eq!(beeps.len(), 1, "{beeps:?}");
    let (samples, _) = call_at(&hello, 15_000, 500, 1000.0);
    let (verdict, _, beeps) = events(&samples);
    assert_eq!(verdict, AmdVerdict::Human);
    assert!(beeps.is_empty(), "{beeps:?}");
}

/// After a "machine" verdict the greeting may go on for a while: its beep
/// counts for a minute after the verdict.
#[test]
fn after_a_machine_verdict_the_beep_counts_for_a_minute() {
    let Some(greeting) = speech("en-us", VOICEMAIL) else {
        return;
    };
    let (samples, start) = call_at(&greeting, 40_000, 500, 1000.0);
    let (verdict, at_ms, beeps) = events(&samples);
    let start_ms = (start * 1000 / RATE) as u64;
    assert_eq!(verdict, AmdVerdict::Machine);
    assert!(start_ms - at_ms > 40_000, "{at_ms} {start_ms}");
    assert_eq!(beeps.len(), 1, "{beeps:?}");
    assert!(beeps[0].abs_diff(start_ms) <= 40, "{beeps:?} {start_ms}");
    let (samples, _) = call_at(&greeting, 70_000, 500, 1000.0);
    let (verdict, _, beeps) = events(&samples);
    assert_eq!(verdict, AmdVerdict::Machine);
    assert!(beeps.is_empty(), "{beeps:?}");
}
