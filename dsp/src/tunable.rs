//! Thresholds settable by name, for operators: each detector keeps one
//! table of its tunable thresholds (name, unit, range, a line of doc), which
//! its config's `set_threshold` and `check`, the `serve` config and the
//! command line all use, so a threshold is spelled, bounded and documented
//! in one place. The ranges keep the rules sane; they do not say a value is
//! good.

/// A threshold's unit, which also says whether it takes whole numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Milliseconds, whole.
    Ms,
    /// Decibels (relative, or dBFS for levels).
    Db,
    /// A score between 0 and 1.
    Score,
    /// Hertz.
    Hz,
    /// A relative deviation (0.01 is 1%).
    Fraction,
}

impl Unit {
    /// `ms`, `dB`, `score`, `Hz` or `fraction`.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Ms => "ms",
            Unit::Db => "dB",
            Unit::Score => "score",
            Unit::Hz => "Hz",
            Unit::Fraction => "fraction",
        }
    }
}

/// One settable threshold of a detector's config `C`.
#[derive(Debug)]
pub struct Threshold<C: 'static> {
    /// Its name: the config field's.
    pub name: &'static str,
    /// Its unit.
    pub unit: Unit,
    /// Lowest value accepted.
    pub min: f64,
    /// Highest value accepted.
    pub max: f64,
    /// What it does, in one line.
    pub doc: &'static str,
    pub(crate) get: fn(&C) -> f64,
    pub(crate) set: fn(&mut C, f64),
}

// (not derived: that would ask `C: Copy`, and only fn pointers are copied)
impl<C> Clone for Threshold<C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C> Copy for Threshold<C> {}

impl<C> Threshold<C> {
    /// Its value in `cfg`.
    pub fn get(&self, cfg: &C) -> f64 {
        (self.get)(cfg)
    }

    /// Whether `value` is accepted: in range, and whole for milliseconds.
    pub fn accepts(&self, value: f64) -> bool {
        (self.min..=self.max).contains(&value) && (self.unit != Unit::Ms || value.fract() == 0.0)
    }

    /// Sets it in `cfg` (the caller has checked [`Self::accepts`]).
    pub(crate) fn set(&self, cfg: &mut C, value: f64) {
        (self.set)(cfg, value)
    }
}

/// Why [`set`] did not set a threshold.
pub(crate) enum Refusal<C: 'static> {
    /// No threshold has the name.
    Unknown,
    /// The value is out of this threshold's range (or not whole, in ms).
    OutOfRange(&'static Threshold<C>),
}

/// Sets the threshold of `table` called `name` to `value` in `cfg`, or
/// says why not (nothing is changed then).
pub(crate) fn set<C>(
    table: &'static [Threshold<C>],
    cfg: &mut C,
    name: &str,
    value: f64,
) -> Result<(), Refusal<C>> {
    let t = find(table, name).ok_or(Refusal::Unknown)?;
    if !t.accepts(value) {
        return Err(Refusal::OutOfRange(t));
    }
    t.set(cfg, value);
    Ok(())
}

/// The threshold of `table` called `name`, if there is one.
pub(crate) fn find<C>(table: &'static [Threshold<C>], name: &str) -> Option<&'static Threshold<C>> {
    table.iter().find(|t| t.name == name)
}

/// The names in `table`, comma-separated (for error messages).
pub(crate) fn names<C>(table: &[Threshold<C>]) -> String {
    table.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
}

/// The first threshold of `table` whose value in `cfg` is out of range.
pub(crate) fn first_out_of_range<C>(
    table: &'static [Threshold<C>],
    cfg: &C,
) -> Option<&'static Threshold<C>> {
    table.iter().find(|t| !t.accepts(t.get(cfg)))
}

/// A whole-milliseconds threshold on a `u32` field.
macro_rules! ms {
    ($field:ident, $min:expr, $max:expr, $doc:expr) => {
        $crate::tunable::Threshold {
            name: stringify!($field),
            unit: $crate::tunable::Unit::Ms,
            min: $min as f64,
            max: $max as f64,
            doc: $doc,
            get: |c| c.$field as f64,
            set: |c, v| c.$field = v as u32,
        }
    };
}

/// A threshold on an `f32` field.
macro_rules! real {
    ($field:ident, $unit:expr, $min:expr, $max:expr, $doc:expr) => {
        $crate::tunable::Threshold {
            name: stringify!($field),
            unit: $unit,
            min: $min as f64,
            max: $max as f64,
            doc: $doc,
            get: |c| c.$field as f64,
            set: |c, v| c.$field = v as f32,
        }
    };
}

pub(crate) use {ms, real};

/// Checks every table shares.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Threshold, Unit};

    /// Each threshold of `table` is uniquely named with a real range, and
    /// set (by `set`) to its range's middle it reads back and moves no
    /// other.
    pub fn each_sets_only_itself<C: Default>(
        table: &[Threshold<C>],
        set: impl Fn(&mut C, &str, f64),
    ) {
        for (i, t) in table.iter().enumerate() {
            assert!(t.min < t.max, "{}", t.name);
            assert!(
                table[..i].iter().all(|u| u.name != t.name),
                "{} twice",
                t.name
            );
            let mut cfg = C::default();
            let v = if t.unit == Unit::Ms {
                ((t.min + t.max) / 2.0).floor()
            } else {
                (t.min + t.max) / 2.0
            };
            set(&mut cfg, t.name, v);
            assert_eq!(t.get(&cfg), v as f32 as f64, "{}", t.name);
            for other in table.iter().filter(|o| o.name != t.name) {
                assert_eq!(
                    other.get(&cfg),
                    other.get(&C::default()),
                    "setting {} moved {}",
                    t.name,
                    other.name
                );
            }
        }
    }
}
