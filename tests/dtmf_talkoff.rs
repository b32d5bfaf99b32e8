//! Talk-off: speech and music must produce no DTMF digits.
//!
//! Speech is synthesised with espeak-ng (Debian package `espeak-ng`; the
//! README's test command installs it): several minutes over many voices,
//! pitches and speeds, read through ringwire's own WAV reader (which
//! resamples to 8 kHz), then through both G.711 laws. Music is synthesised
//! here: chords and melodies of equal-tempered notes with harmonics, the
//! material most likely to put energy on two DTMF frequencies at once.
use ringwire_dsp::signal::{Sine, WhiteNoise};
use ringwire_media::input::read_input;
use ringwire_suite::{detect, espeak, Timeline, LAWS};

const TEXTS: [&str; 6] = [
    "Thank you for calling. All of our agents are busy at the moment. Please stay on the line and your call will be answered in the order it was received.",
    "Hello, this is Margaret from the accounts department. I am calling about the invoice we sent on the fourteenth of March, number four five two nine.",
    "Press one for sales, two for support, or stay on the line for an operator. Your estimated waiting time is three minutes.",
    "Yes? Hello? Who is this? Oh, hi! I was just about to call you back about the delivery on Tuesday morning, around nine thirty.",
    "The quick brown fox jumps over the lazy dog, while six zebras quietly vex the jumpy wizard. Pack my box with five dozen liquor jugs.",
    "We would like to remind you that this call may be recorded for quality and training purposes. Zero, one, two, three, four, five, six, seven, eight, nine.",
];

/// (voice, words per minute, pitch 0-99)
const VOICES: [(&str, u32, u32); 12] = [
    ("en-us", 160, 50),
    ("en-us+f3", 175, 70),
    ("en-gb-x-rp+m3", 140, 30),
    ("en-gb+f4", 190, 85),
    ("en-us+m7", 150, 20),
    ("de+f2", 165, 60),
    ("fr-fr+m4", 170, 45),
    ("es+f5", 180, 75),
    ("it+m2", 155, 40),
    ("hi+f1", 160, 90),
    ("pl+m1", 145, 10),
    ("en-029+f3", 200, 65),
];

#[test]
fn minutes_of_speech_give_no_digits() {
    let dir = std::env::temp_dir().join(format!("ringwire-talkoff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut total = 0usize;
    for (i, (voice, wpm, pitch)) in VOICES.iter().enumerate() {
        for (j, text) in TEXTS.iter().enumerate().filter(|(j, _)| (i + j) % 2 == 0) {
            let path = dir.join(format!("{i}-{j}.wav"));
            espeak(voice, *wpm, *pitch, text, &path);
            let streams = read_input(&path).unwrap();
            let speech = &streams[0].samples;
            total += speech.len();
            // speech as spoken, and 10 dB louder (the codec clips the peaks)
            for gain in [1.0f64, 3.16] {
                let t = Timeline {
                    samples: speech.iter().map(|&s| s as f64 * gain).collect(),
                };
                for law in LAWS {
                    let events = detect(&t.through(law));
                    assert!(
                        events.is_empty(),
                        "talk-off in {voice} text {j} gain {gain} {law:?}: {events:?}"
                    );
                }
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(total >= 8000 * 180, "only {} s of speech", total / 8000);
}

/// Equal-tempered note frequency, A4 = 440 Hz.
fn note(semitones_from_a4: i32) -> f64 {
    440.0 * 2f64.powf(semitones_from_a4 as f64 / 12.0)
}

/// A plucked/bowed note with harmonics and an attack-decay envelope.
fn add_note(out: &mut [f64], freq: f64, peak: f64, harmonics: &[f64]) {
    let n = out.len() as f64;
    for (h, &rel) in harmonics.iter().enumerate() {
        let f = freq * (h + 1) as f64;
        if f >= 3800.0 {
            break;
        }
        let mut s = Sine::new(f, 8000.0, peak * rel, h as f64);
        for (i, v) in out.iter_mut().enumerate() {
            let t = i as f64 / n;
            let env = (t * 20.0).min(1.0) * (1.0 - t).powf(0.7);
            *v += s.next_sample() * env;
        }
    }
}

#[test]
fn music_like_tone_mixtures_give_no_digits() {
    let mut rng = WhiteNoise::new(1.0, 42);
    let timbres: [&[f64]; 4] = [
        &[1.0, 0.5, 0.33, 0.25, 0.2],           // sawtooth-like
        &[1.0, 0.0, 0.33, 0.0, 0.2, 0.0, 0.14], // clarinet-like (odd)
        &[1.0, 0.7, 0.2, 0.1],                  // soft
        &[1.0, 0.3],                            // nearly pure, the hardest case
    ];
    let mut t = Timeline::new();
    // 3 minutes: 720 chords or melody notes of 250 ms
    for i in 0..720 {
        let len = 2000;
        let start = t.len();
        t.silence(len);
        let timbre = timbres[i % timbres.len()];
        // two or three notes between F4 and C7, random but musical (a chord
        // root plus a third, fifth or octave), sometimes a lone melody note
        let root = -4 + (rng.uniform() * 24.0) as i32;
        let intervals: &[i32] = match i % 5 {
            0 => &[0, 4, 7],
            1 => &[0, 3, 7],
            2 => &[0, 12],
            3 => &[0, 7, 16],
            _ => &[0],
        };
        let peak = 3000.0 + rng.uniform() * 6000.0;
        for &iv in intervals {
            add_note(&mut t.samples[start..], note(root + iv), peak, timbre);
        }
    }
    for law in LAWS {
        let events = detect(&t.through(law));
        assert!(events.is_empty(), "talk-off on music ({law:?}): {events:?}");
    }
}
