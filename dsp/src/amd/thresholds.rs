//! The AMD's tunable thresholds by name, for operators: one table of names,
//! units and ranges that the `serve` config, the `analyze` command line and
//! [`AmdConfig::check`] all use, so a threshold is spelled, bounded and
//! documented in one place.
//!
//! The defaults are the tuned point ([`AmdConfig::default`]); the ranges
//! only keep the rules sane (a 0 ms silence would call every greeting
//! human at once), they do not say a value is good.
use super::{AmdConfig, AmdConfigError};
pub use crate::tunable::Unit;
use crate::tunable::{self, ms, real};

/// One settable threshold of [`AmdConfig`].
pub type Threshold = tunable::Threshold<AmdConfig>;

/// Every threshold an operator may set, in the order of [`AmdConfig`]'s
/// fields (the two knobs, `max_analysis_ms` and `bias`, and the spotter's
/// on/off switch have keys of their own).
pub const THRESHOLDS: &[Threshold] = &[
    real!(
        vad_margin_db,
        Unit::Db,
        3,
        30,
        "speech stands this far above the noise floor"
    ),
    real!(
        vad_hold_db,
        Unit::Db,
        0,
        20,
        "inside a greeting, speech carries on through frames this far short of the margin"
    ),
    ms!(
        human_silence_ms,
        100,
        5000,
        "silence after a short greeting that means \"human\""
    ),
    ms!(
        human_silence_long_ms,
        100,
        5000,
        "silence after a long greeting that means \"human\""
    ),
    ms!(
        long_human_greeting_ms,
        100,
        30000,
        "greeting length from which the long silence applies (shorter ones wait in proportion)"
    ),
    ms!(
        beep_wait_greeting_ms,
        0,
        30000,
        "a greeting this long may be a short machine greeting, so its silence waits for a beep..."
    ),
    ms!(beep_wait_ms, 0, 5000, "...at least this long"),
    ms!(
        sentence_pause_ms,
        100,
        5000,
        "a pause this long, followed by more speech, is a sentence boundary..."
    ),
    ms!(
        multi_sentence_min_ms,
        0,
        30000,
        "...which means \"machine\" after this much greeting"
    ),
    ms!(
        machine_greeting_ms,
        500,
        60000,
        "a greeting this long means \"machine\""
    ),
    ms!(
        tone_after_greeting_ms,
        50,
        5000,
        "a steady tone this long after the greeting (a beep) means \"machine\"..."
    ),
    real!(
        tone_after_greeting_snr_db,
        Unit::Db,
        0,
        60,
        "...when it stands this far above the rest"
    ),
    real!(
        talker_range_db,
        Unit::Db,
        0,
        60,
        "speech this far below the greeting's loudest is background, not the talker"
    ),
    real!(
        talker_restart_db,
        Unit::Db,
        0,
        60,
        "speech this far above all the greeting before it is the talker at last, and the greeting starts again"
    ),
    real!(
        min_talker_dbfs,
        Unit::Db,
        -90,
        0,
        "a greeting starts only with a 10 ms frame this loud (dBFS)"
    ),
    real!(
        voicemail_phrase_score,
        Unit::Score,
        0,
        1,
        "the spotter's score that means \"machine\""
    ),
    real!(
        voicemail_phrase_min_snr_db,
        Unit::Db,
        0,
        60,
        "the spotter's \"machine\" is heeded once the greeting stands this far over the noise floor"
    ),
    real!(
        voicemail_phrase_wait_score,
        Unit::Score,
        0,
        1,
        "a spotter score this high makes the silence after the greeting wait for a beep"
    ),
    real!(
        voicemail_phrase_likely_score,
        Unit::Score,
        0,
        1,
        "a spotter score this high is a likely voicemail phrase..."
    ),
    ms!(
        beep_wait_likely_ms,
        0,
        5000,
        "...so the silence after the greeting waits at least this long for a beep"
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

impl AmdConfig {
    /// Sets the threshold called `name` (an [`AmdConfig`] field, see
    /// [`THRESHOLDS`]) to `value`, or says why not: an unknown name, or a
    /// value out of its range (or not whole, for milliseconds). Nothing is
    /// changed on an error.
    pub fn set_threshold(&mut self, name: &str, value: f64) -> Result<(), AmdConfigError> {
        tunable::set(THRESHOLDS, self, name, value).map_err(|r| match r {
            tunable::Refusal::Unknown => AmdConfigError::UnknownThreshold(name.to_string()),
            tunable::Refusal::OutOfRange(t) => out_of_range(t, value),
        })
    }

    /// The first threshold out of its range, as the error `set_threshold`
    /// would give.
    pub(super) fn check_thresholds(&self) -> Result<(), AmdConfigError> {
        match tunable::first_out_of_range(THRESHOLDS, self) {
            Some(t) => Err(out_of_range(t, t.get(self))),
            None => Ok(()),
        }
    }
}

fn out_of_range(t: &Threshold, value: f64) -> AmdConfigError {
    AmdConfigError::Threshold {
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
    fn the_defaults_are_in_range() {
        AmdConfig::default().check().unwrap();
    }

    /// (also: every name unique, every range real)
    #[test]
    fn a_set_threshold_reads_back_and_changes_only_its_field() {
        tunable::testing::each_sets_only_itself(THRESHOLDS, |c: &mut AmdConfig, n, v| {
            c.set_threshold(n, v).unwrap()
        });
    }

    #[test]
    fn unknown_names_and_bad_values_are_errors_that_change_nothing() {
        let mut cfg = AmdConfig::default();
        assert_eq!(
            cfg.set_threshold("human_silence", 400.0),
            Err(AmdConfigError::UnknownThreshold("human_silence".into()))
        );
        // the knobs have keys of their own
        assert!(cfg.set_threshold("bias", 0.5).is_err());
        for (name, v) in [
            ("human_silence_ms", 50.0),
            ("human_silence_ms", 380.5),
            ("machine_greeting_ms", -1.0),
            ("voicemail_phrase_score", 1.5),
            ("vad_margin_db", f64::NAN),
        ] {
            let e = cfg.set_threshold(name, v).unwrap_err();
            assert!(
                matches!(e, AmdConfigError::Threshold { name: n, .. } if n == name),
                "{name} = {v}: {e}"
            );
        }
        assert_eq!(cfg, AmdConfig::default());
        let msg = cfg
            .set_threshold("human_silence_ms", 50.0)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("human_silence_ms") && msg.contains("100..=5000 ms"),
            "{msg}"
        );
    }

    #[test]
    fn check_finds_a_threshold_set_out_of_range_directly() {
        let cfg = AmdConfig {
            sentence_pause_ms: 20,
            ..AmdConfig::default()
        };
        assert!(matches!(
            cfg.check(),
            Err(AmdConfigError::Threshold {
                name: "sentence_pause_ms",
                ..
            })
        ));
    }
}
