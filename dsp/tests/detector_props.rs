//! Property tests of the detectors on any audio: silence, noise, tones,
//! tone pairs, full-scale squares, stuck samples and raw random samples in
//! any order and length. None panics, and what each reports is well formed:
//! DTMF digits and beeps inside the audio heard so far, in order, not
//! overlapping; a beep's frequency and length inside the band it looks for;
//! one AMD decision per stream, made at or before the audio it was given.

use proptest::prelude::*;
use ringwire_dsp::amd::{AmdConfig, AmdDetector, AmdVerdict};
use ringwire_dsp::beep::BeepDetector;
use ringwire_dsp::dtmf::DtmfDetector;
use ringwire_dsp::features::{FeatureBlock, FeatureEngine, SoftwareEngine, BLOCK_LEN};

/// One stretch of audio.
#[derive(Debug, Clone)]
enum Segment {
    Silence(u16),
    Noise { ms: u16, amp: u16, seed: u64 },
    Tone { ms: u16, hz: u16, amp: u16 },
    Pair { ms: u16, lo: u16, hi: u16, amp: u16 },
    Square { ms: u16, period: u8 },
    Stuck { ms: u16, value: i16 },
    Raw(Vec<i16>),
}

fn segment() -> impl Strategy<Value = Segment> {
    prop_oneof![
        (0u16..1500).prop_map(Segment::Silence),
        (0u16..1500, 0u16..32768, any::<u64>()).prop_map(|(ms, amp, seed)| Segment::Noise {
            ms,
            amp,
            seed
        }),
        (0u16..2500, 50u16..3990, 0u16..32768).prop_map(|(ms, hz, amp)| Segment::Tone {
            ms,
            hz,
            amp
        }),
        (0u16..800, 600u16..1000, 1100u16..1700, 0u16..16384)
            .prop_map(|(ms, lo, hi, amp)| Segment::Pair { ms, lo, hi, amp }),
        (0u16..800, 1u8..64).prop_map(|(ms, period)| Segment::Square { ms, period }),
        (0u16..800, any::<i16>()).prop_map(|(ms, value)| Segment::Stuck { ms, value }),
        proptest::collection::vec(any::<i16>(), 0..400).prop_map(Segment::Raw),
    ]
}

fn render(segments: &[Segment]) -> Vec<i16> {
    let mut x = Vec::new();
    let n = |ms: u16| ms as usize * 8;
    for s in segments {
        match s {
            Segment::Silence(ms) => x.extend(std::iter::repeat_n(0, n(*ms))),
            Segment::Noise { ms, amp, seed } => {
                let mut r = seed | 1;
                x.extend((0..n(*ms)).map(|_| {
                    r ^= r << 13;
                    r ^= r >> 7;
                    r ^= r << 17;
                    ((r >> 48) as i16 as i32 * *amp as i32 / 32768) as i16
                }));
            }
            Segment::Tone { ms, hz, amp } => {
                let w = std::f64::consts::TAU * *hz as f64 / 8000.0;
                x.extend((0..n(*ms)).map(|i| ((w * i as f64).sin() * *amp as f64) as i16));
            }
            Segment::Pair { ms, lo, hi, amp } => {
                let (a, b) = (
                    std::f64::consts::TAU * *lo as f64 / 8000.0,
                    std::f64::consts::TAU * *hi as f64 / 8000.0,
                );
                x.extend(
                    (0..n(*ms)).map(|i| {
                        (((a * i as f64).sin() + (b * i as f64).sin()) * *amp as f64) as i16
                    }),
                );
            }
            Segment::Square { ms, period } => {
                let p = *period as usize;
                x.extend((0..n(*ms)).map(|i| {
                    if (i / p).is_multiple_of(2) {
                        i16::MAX
                    } else {
                        i16::MIN
                    }
                }));
            }
            Segment::Stuck { ms, value } => x.extend(std::iter::repeat_n(*value, n(*ms))),
            Segment::Raw(v) => x.extend_from_slice(v),
        }
    }
    x
}

fn blocks(samples: &[i16]) -> Vec<FeatureBlock> {
    let mut e = SoftwareEngine::new();
    let ch = e.open_channel().unwrap();
    let mut out = Vec::new();
    e.process(ch, samples, &mut out).unwrap();
    out
}

/// Feeds every detector; checks each report against the audio heard so far.
fn check(samples: &[i16]) {
    let blocks = blocks(samples);
    let mut dtmf = DtmfDetector::default();
    let mut beep = BeepDetector::default();
    let mut amd = AmdDetector::new(AmdConfig::default());
    let (mut digits, mut beeps, mut decisions) = (Vec::new(), Vec::new(), Vec::new());
    for (i, b) in blocks.iter().enumerate() {
        let heard = (i as u64 + 1) * BLOCK_LEN as u64;
        if let Some(d) = dtmf.push(b) {
            assert!(
                d.end <= heard,
                "digit past the audio heard: {d:?} at {heard}"
            );
            digits.push(d);
        }
        if let Some(e) = beep.push(b) {
            assert!(
                e.end <= heard,
                "beep past the audio heard: {e:?} at {heard}"
            );
            beeps.push(e);
        }
        if let Some(d) = amd.push(b) {
            assert!(
                d.at <= heard,
                "decision after the audio heard: {d:?} at {heard}"
            );
            decisions.push(d);
        }
    }
    digits.extend(dtmf.finish());
    decisions.extend(amd.finish());
    let total = (blocks.len() * BLOCK_LEN) as u64;

    for w in digits.windows(2) {
        assert!(w[0].end <= w[1].start, "digits overlap: {w:?}");
    }
    for d in &digits {
        assert!("0123456789*#ABCD".contains(d.digit), "{d:?}");
        assert!(d.start < d.end && d.end <= total, "{d:?}");
    }
    for w in beeps.windows(2) {
        assert!(w[0].end <= w[1].start, "beeps overlap: {w:?}");
    }
    for e in &beeps {
        assert!(e.start < e.end && e.end <= total, "{e:?}");
        let ms = (e.end - e.start) / 8;
        assert!((100..=2100).contains(&ms), "a beep of {ms} ms: {e:?}");
        assert!(
            (300.0..=2300.0).contains(&e.freq_hz),
            "a beep at {} Hz",
            e.freq_hz
        );
    }
    assert_eq!(decisions.len(), 1, "one AMD decision: {decisions:?}");
    let d = decisions[0];
    assert!(d.at <= total.max(BLOCK_LEN as u64), "{d:?}");
    assert!((0.0..=1.0).contains(&d.confidence), "{d:?}");
    if d.verdict == AmdVerdict::Unknown {
        assert!(
            ["no-speech", "end-of-stream"].contains(&d.cause),
            "unknown only when nothing could be decided: {d:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn any_audio_gives_well_formed_reports(segments in proptest::collection::vec(segment(), 0..12)) {
        check(&render(&segments));
    }
}

/// The property sees real reports: a beep after a greeting-like burst and
/// a DTMF digit are found and pass the same checks.
#[test]
fn reports_of_real_tones_pass_the_checks() {
    let segments = [
        Segment::Silence(300),
        Segment::Pair {
            ms: 120,
            lo: 770,
            hi: 1336,
            amp: 6000,
        },
        Segment::Silence(500),
        Segment::Tone {
            ms: 400,
            hz: 1000,
            amp: 8000,
        },
        Segment::Silence(1000),
    ];
    let samples = render(&segments);
    check(&samples);
    let b = blocks(&samples);
    let mut beep = BeepDetector::default();
    let n = b.iter().filter_map(|x| beep.push(x)).count();
    assert_eq!(n, 1);
    let mut dtmf = DtmfDetector::default();
    let digits: Vec<char> = b
        .iter()
        .filter_map(|x| dtmf.push(x))
        .map(|d| d.digit)
        .collect();
    assert_eq!(digits, vec!['5']);
}

/// A found case: a long tone, a dual tone just after it and silence gave
/// two beeps that shared a block.
#[test]
fn a_tone_then_a_dual_tone_gives_beeps_that_do_not_overlap() {
    check(&render(&[
        Segment::Tone {
            ms: 1772,
            hz: 533,
            amp: 19843,
        },
        Segment::Pair {
            ms: 158,
            lo: 810,
            hi: 1122,
            amp: 9677,
        },
        Segment::Stuck { ms: 615, value: 0 },
    ]));
}
