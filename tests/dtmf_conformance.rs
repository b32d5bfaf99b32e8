//! The DTMF conformance suite: every must-detect and must-reject case of
//! the foundation issue, generated, for both G.711 laws.
//!
//! Levels are per tone in dBm0 (0 dBm0: a sine 3.17 dB below full scale).
use ringwire_dsp::signal::{dbm0_to_peak, DtmfTone, DTMF_DIGITS};
use ringwire_suite::{detect, digits, sine_power, Timeline, LAWS};

const MS: usize = 8;

/// One tone of `on_ms` after `lead` samples of silence, 200 ms of silence after.
fn burst(tone: DtmfTone, on_ms: usize, lead: usize) -> Timeline {
    let mut t = Timeline::new();
    t.silence(lead);
    t.tone(tone, on_ms * MS);
    t.silence(200 * MS);
    t
}

fn assert_detects(t: &Timeline, expect: &str, what: &str) {
    for law in LAWS {
        let got = digits(&detect(&t.through(law)));
        assert_eq!(got, expect, "{what} ({law:?})");
    }
}

#[test]
fn all_sixteen_digits_in_sequence() {
    let mut t = Timeline::new();
    t.silence(100 * MS);
    for d in DTMF_DIGITS {
        t.tone(DtmfTone::new(d, -10.0), 50 * MS);
        t.silence(50 * MS);
    }
    let expect: String = DTMF_DIGITS.iter().collect();
    assert_detects(&t, &expect, "sixteen digits, 50 ms on / 50 ms off");
}

#[test]
fn frequency_deviation_up_to_1_5_percent_is_detected() {
    for d in DTMF_DIGITS {
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
            assert_detects(
                &burst(tone, 45, 123),
                &d.to_string(),
                &format!("{d} deviation {lo:+} {hi:+}"),
            );
        }
    }
}

#[test]
fn frequency_deviation_of_3_5_percent_or_more_is_rejected() {
    for d in DTMF_DIGITS {
        let (row, col) = ringwire_dsp::signal::dtmf_freqs(d).unwrap();
        for dev in [0.035, -0.035, 0.045, -0.045, 0.06, -0.06, 0.08, -0.08] {
            for (lo, hi) in [(dev, 0.0), (0.0, dev)] {
                // Far enough off and it lands on a neighbouring digit's tone.
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
                assert_detects(
                    &burst(tone, 200, 77),
                    "",
                    &format!("{d} deviation {lo:+} {hi:+}"),
                );
            }
        }
    }
}

/// Whether `f` is within 3.5% of a DTMF tone.
fn near_another_tone(f: f64) -> bool {
    [697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0]
        .iter()
        .any(|t: &f64| (f / t - 1.0).abs() < 0.035)
}

#[test]
fn tones_of_40_ms_are_detected_at_every_alignment() {
    for d in DTMF_DIGITS {
        for lead in (0..40).step_by(3) {
            assert_detects(
                &burst(DtmfTone::new(d, -10.0), 40, 800 + lead),
                &d.to_string(),
                &format!("{d} 40 ms, lead {lead}"),
            );
        }
    }
}

#[test]
fn tones_of_20_ms_or_less_are_rejected_at_every_alignment() {
    for d in DTMF_DIGITS {
        for on in [10, 15, 20] {
            for lead in (0..40).step_by(3) {
                assert_detects(
                    &burst(DtmfTone::new(d, -3.0), on, 800 + lead),
                    "",
                    &format!("{d} {on} ms, lead {lead}"),
                );
            }
        }
    }
}

#[test]
fn a_repeated_digit_across_a_50_ms_pause_is_two_digits() {
    for d in DTMF_DIGITS {
        let mut t = Timeline::new();
        t.silence(50 * MS);
        for _ in 0..3 {
            t.tone(DtmfTone::new(d, -10.0), 40 * MS);
            t.silence(50 * MS);
        }
        assert_detects(
            &t,
            &d.to_string().repeat(3),
            &format!("{d} x3, 40 ms on, 50 ms off"),
        );
    }
}

#[test]
fn twist_within_limits_is_detected() {
    for d in DTMF_DIGITS {
        // low tone 8 dB above the high one; high tone 4 dB above the low one
        for (lo, hi) in [
            (-6.0, -14.0),
            (-14.0, -10.0),
            (-22.0, -30.0),
            (-30.0, -26.0),
        ] {
            let tone = DtmfTone {
                low_dbm0: lo,
                high_dbm0: hi,
                ..DtmfTone::new(d, 0.0)
            };
            assert_detects(
                &burst(tone, 45, 41),
                &d.to_string(),
                &format!("{d} low {lo} high {hi}"),
            );
        }
    }
}

#[test]
fn twist_of_12_db_or_more_is_rejected() {
    for d in DTMF_DIGITS {
        for (lo, hi) in [(-6.0, -18.0), (-18.0, -6.0), (-5.0, -25.0), (-25.0, -5.0)] {
            let tone = DtmfTone {
                low_dbm0: lo,
                high_dbm0: hi,
                ..DtmfTone::new(d, 0.0)
            };
            assert_detects(
                &burst(tone, 200, 41),
                "",
                &format!("{d} low {lo} high {hi}"),
            );
        }
    }
}

#[test]
fn levels_from_minus_3_down_to_minus_30_dbm0_are_detected() {
    for d in DTMF_DIGITS {
        for level in [-3.0, -10.0, -20.0, -25.0, -30.0] {
            assert_detects(
                &burst(DtmfTone::new(d, level), 45, 61),
                &d.to_string(),
                &format!("{d} at {level} dBm0"),
            );
        }
    }
}

#[test]
fn tones_at_minus_50_dbm0_or_weaker_are_rejected() {
    for d in DTMF_DIGITS {
        for level in [-50.0, -55.0, -60.0] {
            assert_detects(
                &burst(DtmfTone::new(d, level), 200, 61),
                "",
                &format!("{d} at {level} dBm0"),
            );
        }
    }
}

#[test]
fn single_tones_are_rejected() {
    for f in [697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0] {
        let mut t = Timeline::new();
        t.silence(400);
        let mut s = ringwire_dsp::signal::Sine::new(f, 8000.0, dbm0_to_peak(-3.0), 0.0);
        t.samples.extend((0..8000).map(|_| s.next_sample()));
        assert_detects(&t, "", &format!("single tone {f} Hz"));
    }
}

#[test]
fn white_noise_down_to_15_db_snr_is_tolerated() {
    for d in DTMF_DIGITS {
        for (level, seed) in [(-10.0, 1u64), (-20.0, 2), (-30.0, 3)] {
            let mut t = Timeline::new();
            t.silence(100 * MS);
            for _ in 0..3 {
                t.tone(DtmfTone::new(d, level), 45 * MS);
                t.silence(60 * MS);
            }
            let signal_power = 2.0 * sine_power(dbm0_to_peak(level));
            t.add_noise(signal_power, 15.0, seed * 1000 + d as u64);
            assert_detects(
                &t,
                &d.to_string().repeat(3),
                &format!("{d} at {level} dBm0, 15 dB SNR"),
            );
        }
    }
}

#[test]
fn reported_start_is_within_40_ms_of_the_true_onset() {
    for law in LAWS {
        for (i, d) in DTMF_DIGITS.iter().enumerate() {
            let lead = 1000 + 7 * i;
            let t = burst(DtmfTone::new(*d, -20.0), 60, lead);
            let events = detect(&t.through(law));
            assert_eq!(events.len(), 1);
            let err = events[0].start as i64 - lead as i64;
            assert!(
                err.abs() <= 40 * MS as i64,
                "{d}: start error {err} samples"
            );
            let end_err = events[0].end as i64 - (lead + 60 * MS) as i64;
            assert!(
                end_err.abs() <= 40 * MS as i64,
                "{d}: end error {end_err} samples"
            );
        }
    }
}

#[test]
fn combined_edge_cases_are_detected() {
    // 45 ms tones, both tones 1.5% off, twist at its limit, weak, in noise
    for d in DTMF_DIGITS {
        for (i, (lo_dev, hi_dev, lo, hi)) in [
            (0.015, -0.015, -20.0, -28.0),
            (-0.015, 0.015, -26.0, -22.0),
            (0.015, 0.015, -25.0, -25.0),
        ]
        .into_iter()
        .enumerate()
        {
            let mut t = Timeline::new();
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
            assert_detects(
                &t,
                &d.to_string().repeat(2),
                &format!("{d}: {lo_dev:+} {hi_dev:+} {lo} {hi} dBm0, 18 dB SNR"),
            );
        }
    }
}
