use super::*;
use crate::signal::{to_i16, DtmfTone};

fn tone_burst(digit: char, dbm0: f64, on_ms: usize, lead_ms: usize) -> Vec<i16> {
    let mut s = vec![0.0; (lead_ms + on_ms + 100) * 8];
    DtmfTone::new(digit, dbm0).add_to(&mut s[lead_ms * 8..(lead_ms + on_ms) * 8], 0.3);
    to_i16(&s)
}

#[test]
fn every_digit_is_detected_once_with_its_times() {
    for &d in crate::signal::DTMF_DIGITS.iter() {
        let events = detect_all(&tone_burst(d, -10.0, 100, 50), &DtmfConfig::default());
        assert_eq!(events.len(), 1, "{d}: {events:?}");
        let e = events[0];
        assert_eq!(e.digit, d);
        assert!((e.start as i64 - 400).abs() <= 80, "{d} start {}", e.start);
        assert!((e.end as i64 - 1200).abs() <= 80, "{d} end {}", e.end);
    }
}

#[test]
fn silence_and_a_single_tone_give_nothing() {
    assert!(detect_all(&[0; 8000], &DtmfConfig::default()).is_empty());
    let mut s = vec![0.0; 8000];
    let mut sine = crate::signal::Sine::new(770.0, 8000.0, 10000.0, 0.0);
    s.iter_mut().for_each(|v| *v = sine.next_sample());
    assert!(detect_all(&to_i16(&s), &DtmfConfig::default()).is_empty());
}

#[test]
fn current_digit_is_visible_while_sounding() {
    let signal = tone_burst('7', -10.0, 200, 0);
    let mut engine = crate::features::SoftwareEngine::new();
    use crate::features::FeatureEngine;
    let ch = engine.open_channel().unwrap();
    let mut blocks = Vec::new();
    engine.process(ch, &signal[..8 * 150], &mut blocks).unwrap();
    let mut det = DtmfDetector::default();
    for b in &blocks {
        assert!(det.push(b).is_none());
    }
    assert_eq!(det.current_digit(), Some('7'));
    assert_eq!(det.position(), 1200);
    let ended = det.finish().unwrap();
    assert_eq!(ended.digit, '7');
    assert_eq!(det.current_digit(), None);
}

#[test]
fn fast_atan2_is_close_to_libm_everywhere() {
    for i in 0..3600 {
        let a = i as f32 / 3600.0 * 2.0 * PI - PI;
        for r in [1e-3f32, 1.0, 1e9] {
            let (y, x) = (r * a.sin(), r * a.cos());
            let err = (fast_atan2(y, x) - y.atan2(x)).abs();
            let err = err.min((err - 2.0 * PI).abs());
            assert!(err < 0.005, "angle {a}: error {err}");
        }
    }
    assert_eq!(fast_atan2(0.0, 0.0), 0.0);
}
