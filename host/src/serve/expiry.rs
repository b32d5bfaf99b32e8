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

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ringwire_media::relay::{CallId, Event, LegId};

/// Legs whose media timed out, and when (from the relay's
/// `MediaTimeout` / `MediaResumed` / `LegClosed` events); and the calls
/// on hold, whose quiet is expected (from the control's SDPs), so that
/// their timeouts are not reported as trouble.
#[derive(Debug, Default)]
pub struct MediaIdle {
    legs: Mutex<HashMap<LegId, Instant>>,
    held: Mutex<HashSet<CallId>>,
    deleted: Mutex<HashSet<CallId>>,
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

    /// Notes whether `call`'s SDPs hold media back (hold, mute); a call
    /// deleted is no longer held.
    pub fn set_held(&self, call: CallId, held: bool) {
        mark(&self.held, call, held);
    }

    /// Whether `call` was last noted as held ([`Self::set_held`]).
    pub fn is_held(&self, call: CallId) -> bool {
        self.held.lock().is_ok_and(|c| c.contains(&call))
    }

    /// Notes whether `call` was deleted and waits out its delete delay,
    /// where its media is over and its legs' timeouts are no trouble.
    pub fn set_deleted(&self, call: CallId, deleted: bool) {
        mark(&self.deleted, call, deleted);
    }

    /// Whether `call` was last noted as deleted ([`Self::set_deleted`]).
    pub fn is_deleted(&self, call: CallId) -> bool {
        self.deleted.lock().is_ok_and(|c| c.contains(&call))
    }

    /// Calls noted as held now.
    pub fn held_len(&self) -> usize {
        self.held.lock().map_or(0, |c| c.len())
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

/// Puts `call` in `calls` when `on`, else takes it out.
fn mark(calls: &Mutex<HashSet<CallId>>, call: CallId, on: bool) {
    if let Ok(mut calls) = calls.lock() {
        if on {
            calls.insert(call);
        } else {
            calls.remove(&call);
        }
    }
}

/// When the node deletes calls on its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expiry {
    /// An answered call goes once every leg has raised its media timeout
    /// and this much more time has passed without RTP (`timeouts.call`
    /// less `timeouts.media`); `None`: never.
    pub after_media_timeout: Option<Duration>,
    /// The same for a call whose SDPs hold media back in some direction
    /// (hold, mute: `timeouts.silent` less `timeouts.media`); `None`:
    /// never.
    pub after_media_timeout_held: Option<Duration>,
    /// A call offered and never answered goes this long after its first
    /// offer (`timeouts.offer`); `None`: never.
    pub unanswered: Option<Duration>,
}

impl Expiry {
    /// How long after its legs' media timeouts an answered call goes,
    /// `held` or not; `None`: never.
    pub fn after(&self, held: bool) -> Option<Duration> {
        if held {
            self.after_media_timeout_held
        } else {
            self.after_media_timeout
        }
    }
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
    /// Whether the call's media was held when the countdown began.
    pub held: bool,
}

/// What [`step`] needs to know of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallView {
    /// Its answer has come.
    pub answered: bool,
    /// Its SDPs hold media back in some direction (hold, mute).
    pub held: bool,
    /// When its first offer came.
    pub created: Instant,
    /// Since when its legs are all quiet (`None` if any is not).
    pub idle_since: Option<Instant>,
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

/// The step for `call` at `now`, with its countdown, if one runs. A
/// call put on hold or taken off it while counting down starts over
/// under its new rule.
pub fn step(expiry: &Expiry, now: Instant, call: CallView, countdown: Option<Countdown>) -> Step {
    if !call.answered {
        return match expiry.unanswered {
            Some(t) if now.saturating_duration_since(call.created) >= t => {
                Step::Delete(Cause::NoAnswer)
            }
            _ => Step::Keep,
        };
    }
    let Some(after) = expiry.after(call.held) else {
        return match countdown {
            Some(_) => Step::Cancel,
            None => Step::Keep,
        };
    };
    match (call.idle_since, countdown) {
        (None, None) => Step::Keep,
        (None, Some(_)) => Step::Cancel,
        (Some(since), None) => Step::Start { due: since + after },
        (Some(since), Some(c)) if c.held != call.held => Step::Start { due: since + after },
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
            after_media_timeout_held: Some(3570 * S),
            unanswered: Some(3600 * S),
        }
    }

    /// An answered call, not held, created at `created`, quiet since
    /// `idle_since`.
    fn answered(created: Instant, idle_since: Option<Instant>) -> CallView {
        CallView {
            answered: true,
            held: false,
            created,
            idle_since,
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
        let offered = |idle_since| CallView {
            answered: false,
            ..answered(t0, idle_since)
        };
        assert_eq!(step(&e, t0 + 3599 * S, offered(None), None), Step::Keep);
        assert_eq!(
            step(&e, t0 + 3600 * S, offered(Some(t0)), None),
            Step::Delete(Cause::NoAnswer)
        );
        let never = Expiry {
            unanswered: None,
            ..e
        };
        assert_eq!(
            step(&never, t0 + 99_999 * S, offered(None), None),
            Step::Keep
        );
    }

    #[test]
    fn a_quiet_answered_call_counts_down_and_is_checked_when_due() {
        let t0 = Instant::now();
        let e = expiry();
        let since = t0 + 30 * S;
        assert_eq!(step(&e, since, answered(t0, None), None), Step::Keep);
        let quiet = answered(t0, Some(since));
        assert_eq!(
            step(&e, since, quiet, None),
            Step::Start {
                due: since + 30 * S
            }
        );
        let c = Countdown {
            packets: 7,
            due: since + 30 * S,
            held: false,
        };
        assert_eq!(step(&e, since + 29 * S, quiet, Some(c)), Step::Keep);
        assert_eq!(step(&e, since + 30 * S, quiet, Some(c)), Step::Check);
        // a leg heard again: the countdown is off
        assert_eq!(
            step(&e, since + 10 * S, answered(t0, None), Some(c)),
            Step::Cancel
        );
        // switched off
        let never = Expiry {
            after_media_timeout: None,
            ..e
        };
        assert_eq!(step(&never, since + 99 * S, quiet, None), Step::Keep);
        assert_eq!(step(&never, since + 99 * S, quiet, Some(c)), Step::Cancel);
    }

    #[test]
    fn a_call_on_hold_waits_the_silent_timeout() {
        let t0 = Instant::now();
        let e = expiry();
        let since = t0 + 30 * S;
        let held = CallView {
            held: true,
            ..answered(t0, Some(since))
        };
        assert_eq!(
            step(&e, since, held, None),
            Step::Start {
                due: since + 3570 * S
            }
        );
        // put on hold while counting down: start over, by the hold's rule
        let c = Countdown {
            packets: 7,
            due: since + 30 * S,
            held: false,
        };
        assert_eq!(
            step(&e, since + 30 * S, held, Some(c)),
            Step::Start {
                due: since + 3570 * S
            }
        );
        let c = Countdown {
            held: true,
            due: since + 3570 * S,
            ..c
        };
        assert_eq!(step(&e, since + 3569 * S, held, Some(c)), Step::Keep);
        assert_eq!(step(&e, since + 3570 * S, held, Some(c)), Step::Check);
        // taken off hold, still quiet: the plain rule from the quiet's start
        assert_eq!(
            step(&e, since + 100 * S, answered(t0, Some(since)), Some(c)),
            Step::Start {
                due: since + 30 * S
            }
        );
        // held calls never expire when the silent timeout is off
        let never = Expiry {
            after_media_timeout_held: None,
            ..e
        };
        assert_eq!(step(&never, since + 99_999 * S, held, None), Step::Keep);
    }
}
