//! The committed demo capture (scripts/make-demo-capture.sh) reads back with
//! its RFC 4733 digits and 4 s of audio. The in-band digits 1,2,3 are for the
//! DTMF detector's tests; here we only check that their energy is where the
//! generator put it.

use std::path::Path;

use ringwire_media::read_input;

#[test]
fn demo_capture_has_rfc4733_digits_and_4_seconds_of_audio() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/demo.pcap");
    let streams = read_input(&path).unwrap();
    assert_eq!(streams.len(), 1);
    let s = &streams[0];
    assert_eq!(s.id, "ssrc=0x5eed0001");
    assert_eq!(s.samples.len(), 4 * 8000);
    assert_eq!(
        (s.stats.lost, s.stats.duplicates, s.stats.malformed),
        (0, 0, 0)
    );
    let digits: Vec<(char, u64, u64)> = s
        .telephone_events
        .iter()
        .map(|d| (d.digit, d.start_ms, d.end_ms))
        .collect();
    assert_eq!(
        digits,
        vec![('4', 1500, 1600), ('5', 1800, 1900), ('#', 2100, 2200)]
    );
    let energy = |from_ms: usize, to_ms: usize| {
        let x = &s.samples[from_ms * 8..to_ms * 8];
        (x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / x.len() as f64).sqrt()
    };
    // Two tones of peak 7180 each: rms about 7180.
    assert!(energy(505, 565) > 6000.0);
    assert!(energy(575, 635) < 100.0);
    assert!(energy(2900, 3900) < 100.0);
}
