//! Background talk on the line before anyone speaks at the handset, and
//! ring-back before the answer: the AMD must not say "human" before the
//! person has said a word. The calls are held-out corpus cases (seed 1,
//! regenerated here) on which it once did.
use ringwire_dsp::amd::{AmdConfig, AmdDecision, AmdDetector, AmdVerdict};
use ringwire_dsp::features::{FeatureEngine, SoftwareEngine};
use ringwire_host::corpus::{generate_case, Split};

fn decide(pcm: &[i16]) -> AmdDecision {
    let mut engine = SoftwareEngine::new();
    let ch = engine.open_channel().unwrap();
    let mut blocks = Vec::new();
    engine.process(ch, pcm, &mut blocks).unwrap();
    let mut amd = AmdDetector::new(AmdConfig::default());
    let decision = blocks.iter().find_map(|b| amd.push(b));
    decision.or_else(|| amd.finish()).unwrap()
}

/// Decides held-out case `index` of seed 1; checks it is the case meant
/// and that no "human" came before its greeting; returns the decision.
fn check(index: usize, kind: &str, noise: &str) -> AmdDecision {
    let (case, pcm) = generate_case(Split::Heldout, 1, index).expect("espeak-ng and the generator");
    assert_eq!(
        (case.kind.as_str(), case.noise.as_str()),
        (kind, noise),
        "the generator changed: pick new cases"
    );
    let d = decide(&pcm);
    assert!(
        !(d.verdict == AmdVerdict::Human && d.at / 8 < case.greeting_start_ms),
        "{}: human at {} ms, before the greeting at {} ms",
        case.id,
        d.at / 8,
        case.greeting_start_ms
    );
    d
}

#[test]
fn babble_before_the_talker_is_no_live_greeting() {
    // "Hello, can I help you?" after 1.8 s of babble 19 dB under it
    assert_eq!(
        check(57, "human-short", "babble").verdict,
        AmdVerdict::Human
    );
    // a long voicemail greeting after 1.6 s of babble 17 dB under it
    assert_eq!(
        check(150, "machine-long", "babble").verdict,
        AmdVerdict::Machine
    );
}

#[test]
fn beating_ring_back_before_the_answer_is_no_live_greeting() {
    // US ring-back (440+480 Hz) for 8 s, then "Uh, hello?"; then UK
    // ring-back (400+450 Hz) in babble
    assert_eq!(
        check(81, "human-ringback", "none").verdict,
        AmdVerdict::Human
    );
    assert_eq!(
        check(27, "human-ringback", "babble").verdict,
        AmdVerdict::Human
    );
    assert_eq!(
        check(6, "human-ringback", "none").verdict,
        AmdVerdict::Human
    );
    // UK ring-back in babble 18 dB under the talker, which breaks the
    // bursts' marks into pieces
    assert_eq!(
        check(47, "human-ringback", "babble").verdict,
        AmdVerdict::Human
    );
}
