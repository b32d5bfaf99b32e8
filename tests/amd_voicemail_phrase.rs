//! The AMD's voicemail-phrase spotter, end to end: espeak-ng speech (voices
//! and sentences the spotter was not trained on) through the software
//! feature engine and the detector, over both G.711 laws. A short machine
//! greeting that says "message" and then waits is a machine, which timing
//! alone calls a live person; live greetings stay live.
use ringwire_dsp::amd::{AmdConfig, AmdDecision, AmdDetector, AmdVerdict};
use ringwire_dsp::features::{FeatureEngine, SoftwareEngine};
use ringwire_dsp::signal::scaled_to_peak;
use ringwire_media::input::read_input;
use ringwire_suite::{espeak, Timeline, LAWS};

/// Speech of `text` at about -20 dBFS after `lead_ms` of line noise and
/// followed by 3 s of it, through `law`.
fn call(voice: &str, text: &str, lead_ms: usize, law: ringwire_dsp::g711::Law) -> Vec<i16> {
    call_in_noise(voice, text, lead_ms, law, 30.0)
}

/// [`call`] with white noise `snr_db` under a full-scale-relative power of
/// 2e6 (30 dB: a quiet line).
fn call_in_noise(
    voice: &str,
    text: &str,
    lead_ms: usize,
    law: ringwire_dsp::g711::Law,
    snr_db: f64,
) -> Vec<i16> {
    let dir = std::env::temp_dir().join(format!("ringwire-phrase-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // tests run in parallel: one file per call
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("{n}.wav"));
    espeak(voice, 165, 50, text, &path);
    let speech = read_input(&path).unwrap().remove(0).samples;
    std::fs::remove_file(&path).ok();
    let mut line = Timeline::new();
    line.silence(lead_ms * 8);
    line.samples.extend(scaled_to_peak(&speech, 0.2 * 32767.0));
    line.silence(3000 * 8);
    line.add_noise(2e6, snr_db, 7);
    line.through(law)
}

fn decide(pcm: &[i16], cfg: AmdConfig) -> AmdDecision {
    let mut engine = SoftwareEngine::new();
    let ch = engine.open_channel().unwrap();
    let mut blocks = Vec::new();
    engine.process(ch, pcm, &mut blocks).unwrap();
    let mut amd = AmdDetector::new(cfg);
    let decision = blocks.iter().find_map(|b| amd.push(b));
    decision.or_else(|| amd.finish()).unwrap()
}

const GREETINGS: [(&str, &str); 2] = [
    ("en-gb-x-rp", "Sorry I missed you, leave me a message."),
    (
        "en-us+f5",
        "Nobody's here right now. Please leave your message.",
    ),
];

#[test]
fn a_short_greeting_that_asks_for_a_message_is_a_machine() {
    for law in LAWS {
        for (voice, text) in GREETINGS {
            let d = decide(&call(voice, text, 500, law), AmdConfig::default());
            assert_eq!(
                (d.verdict, d.cause),
                (AmdVerdict::Machine, "voicemail-phrase"),
                "{voice} {text:?} {law:?}"
            );
        }
    }
}

#[test]
fn without_the_spotter_the_same_greetings_read_as_live() {
    // what the rule changes: timing alone hears a short greeting and a wait
    let off = AmdConfig {
        voicemail_phrases: false,
        ..AmdConfig::default()
    };
    for (voice, text) in GREETINGS {
        let d = decide(&call(voice, text, 500, LAWS[0]), off.clone());
        assert_eq!(d.verdict, AmdVerdict::Human, "{voice} {text:?}");
    }
}

#[test]
fn live_greetings_are_not_voicemail_phrases() {
    let live = [
        ("en-gb-x-rp", "Hello, who's calling please?"),
        ("en-us+f5", "Yes, hello, this is Martin, how can I help?"),
        (
            "en-029",
            "Hi, sorry, I was just in the middle of something.",
        ),
        (
            "en-us-nyc",
            "Good morning, reception, how may I direct your call?",
        ),
    ];
    for law in LAWS {
        for (voice, text) in live {
            let d = decide(&call(voice, text, 300, law), AmdConfig::default());
            assert_eq!(
                d.verdict,
                AmdVerdict::Human,
                "{voice} {text:?} {law:?}: {d:?}"
            );
        }
    }
}

#[test]
fn a_greeting_too_near_the_noise_floor_is_not_heard_for_phrases() {
    // the greeting's peak stands some 40 dB over this quiet line's floor:
    // asking for more than that leaves the phrase unheeded (the default,
    // 16 dB, keeps babble a few dB over the floor from scoring as a keyword)
    let x = call(GREETINGS[0].0, GREETINGS[0].1, 500, LAWS[0]);
    let strict = AmdConfig {
        voicemail_phrase_min_snr_db: 60.0,
        ..AmdConfig::default()
    };
    let d = decide(&x, strict);
    assert_ne!(d.cause, "voicemail-phrase", "{d:?}");
    let d = decide(&x, AmdConfig::default());
    assert_eq!(d.cause, "voicemail-phrase", "{d:?}");
}
