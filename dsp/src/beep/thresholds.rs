//! The beep detector's thresholds by name, for operators (see
//! [`crate::tunable`]): the `serve` config's `[detectors.beep_thresholds]`,
//! `--beep-threshold` on the command line and [`BeepConfig::check`] all use
//! this one table. The defaults are [`BeepConfig::default`]: the issue's
//! band and lengths, and the floors tuned on the corpus.
use super::BeepConfig;
use crate::tunable::{self, ms, real, Unit};

/// One settable threshold of [`BeepConfig`].
pub type Threshold = tunable::Threshold<BeepConfig>;

/// Why a [`BeepConfig`] is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BeepConfigError {
    /// No threshold has this name (see [`THRESHOLDS`]).
    #[error("no beep threshold is called `{0}` (known: {known})", known = names())]
    UnknownThreshold(String),
    /// A threshold outside its range, or not whole where it counts ms.
    #[error("the beep threshold `{name}` must be {min}..={max} {unit}{whole}, not {value}", unit = unit.as_str(), whole = if *unit == Unit::Ms { ", whole" } else { "" })]
    Threshold {
        /// The threshold.
        name: &'static str,
        /// The value given.
        value: f64,
        /// Its lowest value.
        min: f64,
        /// Its highest value.
        max: f64,
        /// Its unit.
        unit: Unit,
    },
    /// A lower bound at or above its upper bound (band or length).
    #[error("the beep threshold `{low}` ({low_value}) must be below `{high}` ({high_value})")]
    Order {
        /// The lower bound's name.
        low: &'static str,
        /// Its value.
        low_value: f64,
        /// The upper bound's name.
        high: &'static str,
        /// Its value.
        high_value: f64,
    },
}

/// Every threshold an operator may set, in the order of [`BeepConfig`]'s
/// fields (`report_signalling` is the caller's, not a threshold).
pub const THRESHOLDS: &[Threshold] = &[
    real!(min_freq_hz, Unit::Hz, 100, 3500, "lowest beep frequency"),
    real!(max_freq_hz, Unit::Hz, 200, 3800, "highest beep frequency"),
    ms!(
        min_duration_ms,
        20,
        5000,
        "shortest beep, its parts' first start to last end"
    ),
    ms!(max_duration_ms, 50, 10000, "longest beep"),
    real!(
        min_level_dbfs,
        Unit::Db,
        -80,
        -10,
        "weakest tone, peak dBFS"
    ),
    real!(
        min_tone_snr_db,
        Unit::Db,
        0,
        40,
        "tone over everything else in a 20 ms window that builds a part"
    ),
    real!(
        min_part_snr_db,
        Unit::Db,
        0,
        40,
        "tone over everything else over a whole part"
    ),
    real!(
        min_line_tone_snr_db,
        Unit::Db,
        0,
        40,
        "a window's floor where the rest is the line's white noise"
    ),
    real!(
        min_line_part_snr_db,
        Unit::Db,
        0,
        40,
        "a part's floor where the rest is the line's white noise"
    ),
    real!(
        max_freq_jitter,
        Unit::Fraction,
        0.001,
        0.2,
        "a window's frequency off its part's by at most this (grouping)"
    ),
    real!(
        max_drift,
        Unit::Fraction,
        0.001,
        0.2,
        "a 40 ms chunk's frequency off its part's by at most this"
    ),
    real!(
        max_ripple,
        Unit::Fraction,
        0.001,
        1,
        "block energy variance within a part beyond a steady tone's"
    ),
    ms!(
        max_gap_ms,
        0,
        1000,
        "parts closer than this are one beep (double, two-tone)"
    ),
    ms!(
        holdoff_ms,
        0,
        2000,
        "wait after a candidate for a cadence's repeat; each beep is reported this late"
    ),
    real!(
        same_freq,
        Unit::Fraction,
        0.001,
        0.2,
        "two tones this close are one frequency"
    ),
];

/// The names of all thresholds, comma-separated (for error messages).
pub fn names() -> String {
    tunable::names(THRESHOLDS)
}

/// The threshold called `name`, if there is one.
pub fn threshold(name: &str) -> Option<&'static Threshold> {
    tunable::find(THRESHOLDS, name)
}

impl BeepConfig {
    /// Sets the threshold called `name` (a [`BeepConfig`] field, see
    /// [`THRESHOLDS`]) to `value`, or says why not: an unknown name, or a
    /// value out of its range (or not whole, for milliseconds). Nothing is
    /// changed on an error.
    pub fn set_threshold(&mut self, name: &str, value: f64) -> Result<(), BeepConfigError> {
        tunable::set(THRESHOLDS, self, name, value).map_err(|r| match r {
            tunable::Refusal::Unknown => BeepConfigError::UnknownThreshold(name.to_string()),
            tunable::Refusal::OutOfRange(t) => out_of_range(t, value),
        })
    }

    /// Whether every threshold is in its range, and the band and length
    /// bounds are in order.
    pub fn check(&self) -> Result<(), BeepConfigError> {
        if let Some(t) = tunable::first_out_of_range(THRESHOLDS, self) {
            return Err(out_of_range(t, t.get(self)));
        }
        for (low, high) in [
            ("min_freq_hz", "max_freq_hz"),
            ("min_duration_ms", "max_duration_ms"),
        ] {
            let value = |name| threshold(name).map_or(0.0, |t| t.get(self));
            let (low_value, high_value) = (value(low), value(high));
            if low_value >= high_value {
                return Err(BeepConfigError::Order {
                    low,
                    low_value,
                    high,
                    high_value,
                });
            }
        }
        Ok(())
    }
}

fn out_of_range(t: &Threshold, value: f64) -> BeepConfigError {
    BeepConfigError::Threshold {
        name: t.name,
        value,
        min: t.min,
        max: t.max,
        unit: t.unit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_in_range_and_the_table_is_the_config() {
        BeepConfig::default().check().unwrap();
        // every field but the caller's flag is in the table
        let fields = format!("{:?}", BeepConfig::default());
        assert_eq!(
            THRESHOLDS.len(),
            fields.matches(": ").count() - 1,
            "{fields}"
        );
    }

    #[test]
    fn a_set_threshold_reads_back_and_changes_only_its_field() {
        tunable::testing::each_sets_only_itself(THRESHOLDS, |c: &mut BeepConfig, n, v| {
            c.set_threshold(n, v).unwrap()
        });
    }

    #[test]
    fn bad_values_and_names_are_refused_with_their_reason() {
        let mut cfg = BeepConfig::default();
        assert!(matches!(
            cfg.set_threshold("min_freq", 300.0),
            Err(BeepConfigError::UnknownThreshold(_))
        ));
        let e = cfg.set_threshold("holdoff_ms", 600.5).unwrap_err();
        assert!(e.to_string().contains("0..=2000 ms, whole"), "{e}");
        let e = cfg.set_threshold("min_part_snr_db", 41.0).unwrap_err();
        assert!(e.to_string().contains("`min_part_snr_db`"), "{e}");
        assert_eq!(cfg, BeepConfig::default(), "nothing changed");
        cfg.set_threshold("min_freq_hz", 2500.0).unwrap();
        let e = cfg.check().unwrap_err();
        assert!(
            matches!(
                e,
                BeepConfigError::Order {
                    low: "min_freq_hz",
                    ..
                }
            ),
            "{e}"
        );
    }
}
