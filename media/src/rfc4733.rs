//! RFC 4733 telephone events: payload parsing and a sans-IO [`EventTracker`]
//! that turns the packets of an event (updates, retransmissions, the usual
//! three end packets) into exactly one [`DigitEvent`].

/// Size of one telephone-event block.
pub const EVENT_LEN: usize = 4;

/// Why a payload is not a telephone-event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The payload is empty or not a multiple of 4 bytes.
    #[error("telephone-event payload of {0} bytes is not a non-empty multiple of 4")]
    BadLength(usize),
}

/// One telephone-event block (RFC 4733 section 2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code (0-9, 10 = '*', 11 = '#', 12-15 = A-D, 16 = flash, ...).
    pub event: u8,
    /// End bit: the event has ended.
    pub end: bool,
    /// Volume in -dBm0 (0..=63).
    pub volume: u8,
    /// Duration so far in RTP timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses the first block of a payload (redundant blocks may follow).
    pub fn parse(payload: &[u8]) -> Result<Self, EventError> {
        if payload.is_empty() || !payload.len().is_multiple_of(EVENT_LEN) {
            return Err(EventError::BadLength(payload.len()));
        }
        Ok(Self::from_block([
            payload[0], payload[1], payload[2], payload[3],
        ]))
    }

    fn from_block(b: [u8; 4]) -> Self {
        TelephoneEvent {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3f,
            duration: u16::from_be_bytes([b[2], b[3]]),
        }
    }

    /// Iterates over every block of a payload (RFC 4733 redundancy).
    pub fn iter(payload: &[u8]) -> Result<impl Iterator<Item = Self> + '_, EventError> {
        Self::parse(payload)?;
        Ok(payload
            .chunks_exact(EVENT_LEN)
            .map(|c| Self::from_block([c[0], c[1], c[2], c[3]])))
    }

    /// Writes this block into `out[..4]`; returns false if `out` is short.
    pub fn write(&self, out: &mut [u8]) -> bool {
        if out.len() < EVENT_LEN {
            return false;
        }
        out[0] = self.event;
        out[1] = if self.end { 0x80 } else { 0 } | (self.volume & 0x3f);
        out[2..4].copy_from_slice(&self.duration.to_be_bytes());
        true
    }

    /// The DTMF character of this event code, if it is a DTMF event.
    pub fn digit(&self) -> Option<char> {
        event_digit(self.event)
    }
}

/// Maps event codes 0..=15 to "0123456789*#ABCD"; `None` for other events.
pub fn event_digit(code: u8) -> Option<char> {
    b"0123456789*#ABCD".get(code as usize).map(|&c| c as char)
}

/// One completed DTMF digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigitEvent {
    /// The digit, one of "0123456789*#ABCD".
    pub digit: char,
    /// Event start: the RTP timestamp, extended to 64 bits (wraps unrolled;
    /// the first timestamp seen is taken as is).
    pub start_ts: u64,
    /// Longest duration seen for the event, in RTP timestamp units.
    pub duration: u32,
}

/// Counters of what the tracker saw besides digits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrackerStats {
    /// Events with codes other than DTMF (flash etc.), skipped.
    pub skipped_events: u64,
    /// Packets repeating an event already reported (end retransmissions).
    pub retransmissions: u64,
    /// Packets of an older event arriving after a newer one started.
    pub stale: u64,
}

#[derive(Debug, Clone, Copy)]
struct Current {
    ts: u32,
    ts_ext: u64,
    seq: u16,
    code: u8,
    duration: u32,
    reported: bool,
}

/// How far back (in timestamp units, 10 s at 8 kHz) a packet counts as a
/// late packet of an old event rather than a new event.
const STALE_WINDOW: i64 = 80_000;

/// Sans-IO tracker: feed packets with [`EventTracker::push`], take digits
/// with [`EventTracker::poll`], call [`EventTracker::finish`] at the end.
#[derive(Debug, Clone, Default)]
pub struct EventTracker {
    current: Option<Current>,
    /// Timestamps of recently reported events (ring).
    recent: [Option<u32>; 4],
    recent_next: usize,
    /// Extension state: last raw timestamp and its extended value.
    last_ts: Option<(u32, u64)>,
    /// Completed digits not yet polled (grows only if the caller never polls).
    out: std::collections::VecDeque<DigitEvent>,
    stats: TrackerStats,
}

impl EventTracker {
    /// A tracker with no event in progress.
    pub fn new() -> Self {
        EventTracker {
            out: std::collections::VecDeque::with_capacity(4),
            ..Self::default()
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> TrackerStats {
        self.stats
    }

    fn extend(&mut self, ts: u32) -> u64 {
        let ext = match self.last_ts {
            None => ts as u64,
            Some((last, last_ext)) => {
                let delta = ts.wrapping_sub(last) as i32 as i64;
                (last_ext as i64 + delta).max(0) as u64
            }
        };
        self.last_ts = Some((ts, ext));
        ext
    }

    fn emit(&mut self, c: Current) {
        self.recent[self.recent_next] = Some(c.ts);
        self.recent_next = (self.recent_next + 1) % self.recent.len();
        match event_digit(c.code) {
            Some(digit) => {
                let d = DigitEvent {
                    digit,
                    start_ts: c.ts_ext,
                    duration: c.duration,
                };
                self.out.push_back(d);
            }
            None => self.stats.skipped_events += 1,
        }
    }

    /// Feeds one packet: its RTP timestamp, sequence number and first event
    /// block. Digits become available through [`EventTracker::poll`].
    pub fn push(&mut self, ts: u32, seq: u16, ev: &TelephoneEvent) {
        if let Some(cur) = self.current.as_mut() {
            if cur.ts == ts {
                cur.duration = cur.duration.max(ev.duration as u32);
                if cur.reported {
                    self.stats.retransmissions += 1;
                } else if ev.end {
                    cur.reported = true;
                    let c = *cur;
                    self.emit(c);
                }
                return;
            }
        }
        if self.recent.contains(&Some(ts)) {
            self.stats.retransmissions += 1;
            return;
        }
        if let Some(cur) = self.current {
            let behind = ts.wrapping_sub(cur.ts) as i32 as i64;
            let seq_behind = (seq.wrapping_sub(cur.seq) as i16) < 0;
            // Older timestamp: a late packet of an old event, unless it is far
            // back and the sequence number moved on (a timestamp reset).
            if behind < 0 && (behind > -STALE_WINDOW || seq_behind) {
                self.stats.stale += 1;
                return;
            }
            if !cur.reported {
                self.emit(cur);
            }
        }
        let ts_ext = self.extend(ts);
        let c = Current {
            ts,
            ts_ext,
            seq,
            code: ev.event,
            duration: ev.duration as u32,
            reported: ev.end,
        };
        self.current = Some(c);
        if ev.end {
            self.emit(c);
        }
    }

    /// Takes the next completed digit, if any.
    pub fn poll(&mut self) -> Option<DigitEvent> {
        self.out.pop_front()
    }

    /// Ends the stream: an event still in progress is reported as is.
    pub fn finish(&mut self) {
        if let Some(cur) = self.current.take() {
            if !cur.reported {
                self.emit(cur);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ev(code: u8, end: bool, duration: u16) -> TelephoneEvent {
        TelephoneEvent {
            event: code,
            end,
            volume: 10,
            duration,
        }
    }

    fn drain(t: &mut EventTracker) -> Vec<DigitEvent> {
        std::iter::from_fn(|| t.poll()).collect()
    }

    #[test]
    fn parses_and_writes_blocks() {
        let mut b = [0u8; 8];
        assert!(ev(11, true, 800).write(&mut b));
        assert!(ev(3, false, 160).write(&mut b[4..]));
        assert_eq!(TelephoneEvent::parse(&b).unwrap(), ev(11, true, 800));
        assert_eq!(TelephoneEvent::iter(&b).unwrap().count(), 2);
        assert_eq!(
            TelephoneEvent::parse(&b[..3]),
            Err(EventError::BadLength(3))
        );
        assert_eq!(TelephoneEvent::parse(&[]), Err(EventError::BadLength(0)));
        assert_eq!(ev(11, true, 0).digit(), Some('#'));
        assert_eq!(event_digit(16), None);
        assert!(!ev(1, false, 0).write(&mut [0u8; 3]));
    }

    #[test]
    fn three_end_packets_give_one_digit() {
        let mut t = EventTracker::new();
        for (i, d) in [160u16, 320, 480].iter().enumerate() {
            t.push(1000, i as u16, &ev(5, false, *d));
        }
        for i in 3..6 {
            t.push(1000, i, &ev(5, true, 640));
        }
        t.finish();
        let out = drain(&mut t);
        assert_eq!(
            out,
            vec![DigitEvent {
                digit: '5',
                start_ts: 1000,
                duration: 640
            }]
        );
        assert_eq!(t.stats().retransmissions, 2);
    }

    #[test]
    fn new_timestamp_ends_previous_event() {
        let mut t = EventTracker::new();
        t.push(1000, 1, &ev(1, false, 160));
        t.push(2000, 2, &ev(2, true, 160));
        let out = drain(&mut t);
        assert_eq!(out.iter().map(|d| d.digit).collect::<String>(), "12");
        t.push(3000, 3, &ev(16, false, 160));
        t.finish();
        assert!(drain(&mut t).is_empty());
        assert_eq!(t.stats().skipped_events, 1);
    }

    #[test]
    fn finish_flushes_unfinished_and_timestamps_wrap() {
        let mut t = EventTracker::new();
        t.push(u32::MAX - 10, 1, &ev(10, true, 100));
        t.push(50, 2, &ev(12, false, 100));
        t.finish();
        let out = drain(&mut t);
        assert_eq!(out[0].start_ts, u32::MAX as u64 - 10);
        assert_eq!(out[1].start_ts, u32::MAX as u64 + 51);
        assert_eq!(out[1].digit, 'A');
    }

    #[test]
    fn late_packet_of_old_event_is_stale() {
        let mut t = EventTracker::new();
        t.push(1000, 1, &ev(1, false, 160));
        t.push(5000, 5, &ev(2, false, 160));
        t.push(900, 0, &ev(9, false, 160));
        t.finish();
        assert_eq!(
            drain(&mut t).iter().map(|d| d.digit).collect::<String>(),
            "12"
        );
        assert_eq!(t.stats().stale, 1);
    }

    proptest! {
        /// Any number of events, each sent as updates plus 3 end packets, with
        /// packets duplicated and shuffled within an event and retransmissions
        /// of earlier events arriving late, yields one digit per event.
        #[test]
        fn one_digit_per_event(
            events in proptest::collection::vec((0u8..16, 1usize..6, proptest::collection::vec(any::<prop::sample::Index>(), 0..6), any::<u64>()), 1..8),
            late in proptest::collection::vec(any::<prop::sample::Index>(), 0..5),
            base in any::<u32>(),
        ) {
            let mut t = EventTracker::new();
            let mut seq = 0u16;
            let mut expected = String::new();
            let mut sent: Vec<(u32, TelephoneEvent)> = Vec::new();
            for (n, (code, updates, dups, seed)) in events.iter().enumerate() {
                let ts = base.wrapping_add(n as u32 * 2000);
                let mut pkts: Vec<TelephoneEvent> = (1..=*updates).map(|u| ev(*code, false, 160 * u as u16)).collect();
                for _ in 0..3 { pkts.push(ev(*code, true, 160 * (*updates as u16 + 1))); }
                for d in dups { let p = *d.get(&pkts); pkts.push(p); }
                // Deterministic shuffle from the seed.
                let mut s = *seed | 1;
                for i in (1..pkts.len()).rev() {
                    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
                    pkts.swap(i, (s % (i as u64 + 1)) as usize);
                }
                for p in &pkts {
                    t.push(ts, seq, p);
                    seq = seq.wrapping_add(1);
                    sent.push((ts, *p));
                }
                if n > 0 {
                    for l in &late {
                        let (lts, lp) = *l.get(&sent[..sent.len() - pkts.len()]);
                        t.push(lts, seq.wrapping_sub(50), &lp);
                    }
                }
                expected.push(event_digit(*code).unwrap());
            }
            t.finish();
            let got: String = std::iter::from_fn(|| t.poll()).map(|d| d.digit).collect();
            prop_assert_eq!(got, expected);
        }
    }
}
