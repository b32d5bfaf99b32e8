//! Calls nobody deletes: a proxy that lost a BYE, restarted, or never sent
//! `delete` for a call that failed would leave the call's ports taken for
//! good, and a node that runs for months would run out of them. As
//! rtpengine does (`timeout`, `offer-timeout`), the node deletes an
//! answered call after a while without RTP on any of its legs, and a call
//! that was offered and never answered after a longer while.
//!
//! The relay's media timeouts say which legs went quiet ([`MediaIdle`],
//! fed from the drivers' events); before a call is deleted its legs'
//! packet counters are read twice, a silence apart, so that a lost
//! "media resumed" event cannot cost a live call (its countdown starts
//! over instead).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ringwire_media::relay::{Event, LegId};

/// Legs whose media timed out, and when (from the relay's
/// `MediaTimeout` / `MediaResumed` / `LegClosed` events).
#[derive(Debug, Default)]
pub struct MediaIdle {
    legs: Mutex<HashMap<LegId, Instant>>,
}

impl MediaIdle {
    /// Notes what a relay event says of its leg's media, at `now`.
    pub fn on_event(&self, event: &Event, now: Instant) {
        match *event {
            Event::MediaTimeout { leg, .. } => self.timed_out(leg, now),
            Event::MediaResumed { leg, .. } | Event::LegClosed { leg, .. } => self.active(leg),
            Event::Latched { .. } => {}
        }
    }

    /// `leg` raised a media timeout at `at`.
    pub fn timed_out(&self, leg: LegId, at: Instant) {
        if let Ok(mut legs) = self.legs.lock() {
            legs.insert(leg, at);
        }
    }

    /// `leg` has media again, or is gone.
    pub fn active(&self, leg: LegId) {
        if let Ok(mut legs) = self.legs.lock() {
            legs.remove(&leg);
        }
    }

    /// When the last of `legs` timed out, if every one of them has (and
    /// there is at least one).
    pub fn all_idle_since(&self, legs: impl IntoIterator<Item = LegId>) -> Option<Instant> {
        let map = self.legs.lock().ok()?;
        legs.into_iter()
            .map(|l| map.get(&l).copied())
            .try_fold(None, |latest: Option<Instant>, at| {
                Some(latest.max(Some(at?)))
            })?
    }

    /// Legs currently timed out (for metrics and tests).
    pub fn len(&self) -> usize {
        self.legs.lock().map_or(0, |m| m.len())
    }

    /// Whether no leg is timed out.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// When the node deletes calls on its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expiry {
    /// An answered call goes once every leg has raised its media timeout
    /// and this much more time has passed without RTP (`timeouts.call`
    /// less `timeouts.media`); `None`: never.
    pub after_media_timeout: Option<Duration>,
    /// A call offered and never answered goes this long after its first
    /// offer (`timeouts.offer`); `None`: never.
    pub unanswered: Option<Duration>,
}

/// Why the node deleted a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// No RTP on any leg of an answered call.
    NoMedia,
    /// Offered, never answered.
    NoAnswer,
}

impl Cause {
    /// The metric label and log word.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::NoMedia => "no_media",
            Cause::NoAnswer => "no_answer",
        }
    }
}

/// A call on its way out: its legs' packet count when all of them had
/// gone quiet, and when it is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Countdown {
    /// RTP and RTCP packets received on its legs, read when the countdown
    /// began.
    pub packets: u64,
    /// When the call is deleted if the count has not moved.
    pub due: Instant,
}

/// What to do with one call at a sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing (busy, or not yet due).
    Keep,
    /// Read its legs' packets and start a countdown ending at `due`.
    Start {
        /// When the countdown ends.
        due: Instant,
    },
    /// Due: read its legs' packets again and delete it if they have not
    /// moved since the countdown began (else count down again).
    Check,
    /// Its legs are not all quiet any more: forget the countdown.
    Cancel,
    /// Delete it now.
    Delete(Cause),
}

/// The step for a call: `answered` or not, offered at `created`, its legs
/// quiet since `idle_since` (all of them; `None` if any is not), and its
/// countdown, if one runs.
pub fn step(
    expiry: &Expiry,
    now: Instant,
    answered: bool,
    created: Instant,
    idle_since: Option<Instant>,
    countdown: Option<Countdown>,
) -> Step {
    if !answered {
        return match expiry.unanswered {
            Some(t) if now.saturating_duration_since(created) >= t => Step::Delete(Cause::NoAnswer),
            _ => Step::Keep,
        };
    }
    let Some(after) = expiry.after_media_timeout else {
        return Step::Keep;
    };
    match (idle_since, countdown) {
        (None, None) => Step::Keep,
        (None, Some(_)) => Step::Cancel,
        (Some(since), None) => Step::Start { due: since + after },
        (Some(_), Some(c)) if now >= c.due => Step::Check,
        (Some(_), Some(_)) => Step::Keep,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn expiry() -> Expiry {
        Expiry {
            after_media_timeout: Some(30 * S),
            unanswered: Some(3600 * S),
        }
    }

    #[test]
    fn idle_since_is_the_last_leg_to_go_quiet() {
        let idle = MediaIdle::default();
        let t0 = Instant::now();
        let (a, b) = (LegId(1), LegId(2));
        assert_eq!(idle.all_idle_since([a, b]), None);
        assert_eq!(idle.all_idle_since([]), None, "no legs: nothing to expire");
        idle.timed_out(a, t0);
        assert_eq!(idle.all_idle_since([a, b]), None);
        idle.timed_out(b, t0 + 5 * S);
        assert_eq!(idle.all_idle_since([a, b]), Some(t0 + 5 * S));
        assert_eq!(idle.all_idle_since([a]), Some(t0));
        idle.active(a);
        assert_eq!(idle.all_idle_since([a, b]), None);
        assert_eq!(idle.len(), 1);
    }

    #[test]
    fn an_unanswered_call_goes_after_the_offer_timeout() {
        let t0 = Instant::now();
        let e = expiry();
        assert_eq!(step(&e, t0 + 3599 * S, false, t0, None, None), Step::Keep);
        let quiet = Some(t0);
        assert_eq!(
            step(&e, t0 + 3600 * S, false, t0, quiet, None),
            Step::Delete(Cause::NoAnswer)
        );
        let never = Expiry {
            unanswered: None,
            ..e
        };
        assert_eq!(
            step(&never, t0 + 99_999 * S, false, t0, None, None),
            Step::Keep
        );
    }

    #[test]
    fn a_quiet_answered_call_counts_down_and_is_checked_when_due() {
        let t0 = Instant::now();
        let e = expiry();
        let since = t0 + 30 * S;
        assert_eq!(step(&e, since, true, t0, None, None), Step::Keep);
        assert_eq!(
            step(&e, since, true, t0, Some(since), None),
            Step::Start {
                due: since + 30 * S
            }
        );
        let c = Countdown {
            packets: 7,
            due: since + 30 * S,
        };
        assert_eq!(
            step(&e, since + 29 * S, true, t0, Some(since), Some(c)),
            Step::Keep
        );
        assert_eq!(
            step(&e, since + 30 * S, true, t0, Some(since), Some(c)),
            Step::Check
        );
        // a leg heard again: the countdown is off
        assert_eq!(
            step(&e, since + 10 * S, true, t0, None, Some(c)),
            Step::Cancel
        );
        // switched off
        let never = Expiry {
            after_media_timeout: None,
            ..e
        };
        assert_eq!(
            step(&never, since + 99 * S, true, t0, Some(since), None),
            Step::Keep
        );
    }
}
