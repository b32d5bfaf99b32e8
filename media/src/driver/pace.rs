//! Wakeup pacing: when datagrams arrive fast, a worker sleeps a short,
//! bounded time before it next waits for IO, so that one wakeup serves many
//! datagrams across many sockets; when they arrive slowly it blocks in the
//! wait as before and wakes at the first datagram.
//!
//! Why: at RTP rates every socket sees 50 packets per second, so a worker
//! woken at each arrival does a whole wakeup (wait syscall, context switch,
//! ready-list walk) for one or two datagrams, and every datagram it relays
//! to a sleeping receiver pays that receiver's wakeup too. While the worker
//! sleeps outside the wait, arrivals only queue (no one is waiting, so no
//! wakeup is sent), and the next wakeup takes them all at once. The price is
//! latency: at most [`Pacer::window`] per datagram, spent only under load.
//!
//! [`Pacer`] is sans-IO: the worker tells it how many datagrams each wakeup
//! handled and when, and asks how long to sleep.
//!
//! Off by default ([`super::DEFAULT_PACE`]): `benches/relay.sh`, whose
//! generator sends each millisecond's packets in bursts, already gets
//! batched wakeups, and a 250 µs window there cost 15-20% of the relayed
//! packets per CPU-second at 500 calls (more wakeups than the bursts give)
//! with no gain at 2,000.

use std::time::Duration;

/// How long the arrival rate is averaged over before it is re-estimated.
const RATE_PERIOD: Duration = Duration::from_millis(5);

/// The pacing decision of one worker (see the [module doc](self)).
#[derive(Debug, Clone)]
pub struct Pacer {
    window: Duration,
    min_batch: u32,
    /// Start of the current rate period, and datagrams counted in it.
    period_start: Option<Duration>,
    period_count: u32,
    /// Whether the last estimate said "pace".
    pacing: bool,
}

impl Pacer {
    /// A pacer that sleeps up to `window` between wakeups once the arrival
    /// rate brings at least `min_batch` datagrams per window; a zero window
    /// never paces.
    pub fn new(window: Duration, min_batch: u32) -> Self {
        Pacer {
            window,
            min_batch: min_batch.max(1),
            period_start: None,
            period_count: 0,
            pacing: false,
        }
    }

    /// The longest sleep between two wakeups.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Whether the worker is currently pacing.
    pub fn is_pacing(&self) -> bool {
        self.pacing
    }

    /// Records a wakeup that started at `started` and handled `datagrams`,
    /// and returns how long to sleep before the next wait, measured from
    /// `now` (the end of the wakeup's work): `None` to block in the wait at
    /// once. The sleep ends `window` after `started`, so the wakeups keep a
    /// steady period whatever their work took.
    pub fn after_wakeup(
        &mut self,
        started: Duration,
        now: Duration,
        datagrams: usize,
    ) -> Option<Duration> {
        if self.window.is_zero() {
            return None;
        }
        let period_start = *self.period_start.get_or_insert(started);
        self.period_count = self
            .period_count
            .saturating_add(datagrams.min(u32::MAX as usize) as u32);
        let elapsed = now.saturating_sub(period_start);
        if elapsed >= RATE_PERIOD {
            // Datagrams a window would gather at the rate just seen.
            let per_window =
                self.period_count as u128 * self.window.as_nanos() / elapsed.as_nanos().max(1);
            self.pacing = per_window >= self.min_batch as u128;
            self.period_start = Some(now);
            self.period_count = 0;
        }
        if datagrams == 0 {
            // A wakeup for a deadline or a control request only.
            return None;
        }
        if !self.pacing {
            return None;
        }
        let left = (started + self.window).saturating_sub(now);
        (!left.is_zero()).then_some(left)
    }
}

/// Sets the calling thread's timer slack to a tenth of `window` (at least
/// 1 µs), so that a pacing sleep overshoots by little (the default slack is
/// 50 µs). A failure leaves the default; nothing depends on it.
pub fn set_timer_slack(window: Duration) {
    if window.is_zero() {
        return;
    }
    let ns = (window.as_nanos() / 10).clamp(1_000, u32::MAX as u128) as libc::c_ulong;
    // SAFETY: PR_SET_TIMERSLACK takes the slack by value and touches no
    // memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, ns, 0, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    /// Feeds wakeups every `gap` µs with `per` datagrams for `total` µs;
    /// returns the last decision.
    fn run(p: &mut Pacer, gap: u64, per: usize, total: u64) -> Option<Duration> {
        let mut last = None;
        let mut t = 0;
        while t < total {
            last = p.after_wakeup(us(t), us(t + 5), per);
            t += gap;
        }
        last
    }

    #[test]
    fn slow_arrivals_block_at_once() {
        // 100 datagrams per second: one every 10 ms.
        let mut p = Pacer::new(us(250), 4);
        assert_eq!(run(&mut p, 10_000, 1, 100_000), None);
        assert!(!p.is_pacing());
    }

    #[test]
    fn fast_arrivals_sleep_out_the_window() {
        // 200,000 per second: one wakeup per 50 µs with 10 each.
        let mut p = Pacer::new(us(250), 4);
        run(&mut p, 50, 10, 20_000);
        assert!(p.is_pacing());
        // The sleep ends one window after the wakeup started.
        assert_eq!(p.after_wakeup(us(30_000), us(30_040), 50), Some(us(210)));
        // Work longer than the window: no sleep.
        assert_eq!(p.after_wakeup(us(40_000), us(40_300), 50), None);
        // A wakeup with no datagram (control request, deadline) blocks.
        assert_eq!(p.after_wakeup(us(50_000), us(50_001), 0), None);
    }

    #[test]
    fn pacing_stops_when_the_rate_falls() {
        let mut p = Pacer::new(us(250), 4);
        run(&mut p, 50, 10, 20_000);
        assert!(p.is_pacing());
        let mut t = 20_000;
        for _ in 0..10 {
            p.after_wakeup(us(t), us(t + 5), 1);
            t += 2_000;
        }
        assert!(!p.is_pacing());
    }

    #[test]
    fn zero_window_never_paces() {
        let mut p = Pacer::new(Duration::ZERO, 4);
        assert_eq!(run(&mut p, 10, 100, 20_000), None);
        assert!(!p.is_pacing());
    }
}
