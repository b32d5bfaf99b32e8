//! Per-leg statistics: counters, extended sequence numbers (RFC 3550 A.1,
//! without the probation step) and interarrival jitter (RFC 3550 A.8).

use std::time::Duration;

/// Counters of one leg, as seen by the relay. Received counters count what
/// arrived on the leg's local ports from its remote; sent counters count
/// what the relay sent out of the leg's local ports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegStats {
    /// RTP packets accepted from the remote (duplicates included).
    pub packets: u64,
    /// Bytes of those RTP packets (whole UDP payloads).
    pub bytes: u64,
    /// Packets lost, from extended sequence numbers: expected minus
    /// received (duplicates excluded), summed over the SSRCs seen.
    pub lost: u64,
    /// RTP packets whose sequence number was already received.
    pub duplicates: u64,
    /// RTP packets older than the highest sequence number seen (late).
    pub out_of_order: u64,
    /// Interarrival jitter (RFC 3550 A.8) in timestamp units.
    pub jitter: u32,
    /// The same jitter scaled by 16, as A.8's integer form keeps it: a
    /// sixteenth of a timestamp unit (7.8 µs at 8 kHz) where `jitter`
    /// moves in whole units (125 µs).
    pub jitter_q4: u32,
    /// Datagrams that were not valid RTP/RTCP: counted and dropped.
    pub malformed: u64,
    /// Datagrams from a source other than the remote, outside the latching
    /// windows (or unfit to latch): counted and dropped.
    pub hijack_drops: u64,
    /// Times the remote RTP address changed by latching.
    pub latches: u64,
    /// Times the incoming SSRC changed.
    pub ssrc_changes: u64,
    /// The SSRC of the latest RTP stream received (none before the first
    /// packet); not summed by aggregates.
    pub ssrc: Option<u32>,
    /// RTCP packets accepted from the remote.
    pub rtcp_packets: u64,
    /// Bytes of those RTCP packets.
    pub rtcp_bytes: u64,
    /// Accepted datagrams with nowhere to go (no bridged peer, or the peer
    /// has no remote address yet): counted and dropped.
    pub not_forwarded: u64,
    /// Datagrams (RTP and RTCP) sent out of this leg to its remote.
    pub sent_packets: u64,
    /// Bytes of those datagrams.
    pub sent_bytes: u64,
}

/// Size of the duplicate-detection window in packets.
const WINDOW: u64 = 128;

/// Receive state of one incoming SSRC (sequence tracking and jitter).
#[derive(Debug, Clone, Default)]
pub(crate) struct RecvState {
    ssrc: Option<u32>,
    /// First and highest extended sequence numbers of this SSRC.
    base: i64,
    max: i64,
    /// Bit i set: sequence `max - i` received.
    window: u128,
    /// Distinct sequence numbers received for this SSRC.
    unique: u64,
    /// Loss summed over previous SSRCs.
    lost_before: u64,
    /// Previous relative transit time (A.8), in timestamp units.
    transit: Option<u32>,
    /// Jitter scaled by 16 (A.8's integer form).
    jitter_q4: u32,
}

/// What the sequence number of a packet says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeqClass {
    /// Newer than any before (or the first).
    InOrder,
    /// Older than the highest seen, not seen before.
    Late,
    /// Seen before.
    Duplicate,
}

/// `now` in ticks of `clock_rate`, modulo 2^32 (the arrival time of A.8).
pub(crate) fn ticks(now: Duration, clock_rate: u32) -> u32 {
    (now.as_nanos() * clock_rate as u128 / 1_000_000_000) as u32
}

impl RecvState {
    /// Records an RTP packet; updates `stats` (lost, duplicates,
    /// out_of_order, jitter, ssrc_changes) and classifies the packet.
    pub(crate) fn on_rtp(
        &mut self,
        ssrc: u32,
        seq: u16,
        ts: u32,
        arrival: u32,
        stats: &mut LegStats,
    ) -> SeqClass {
        if self.ssrc != Some(ssrc) {
            if self.ssrc.is_some() {
                stats.ssrc_changes += 1;
                self.lost_before += self.current_lost();
            }
            self.ssrc = Some(ssrc);
            stats.ssrc = Some(ssrc);
            // Offset keeps extended numbers positive when going backwards.
            self.base = (1 << 32) + seq as i64;
            self.max = self.base;
            self.window = 1;
            self.unique = 1;
            self.transit = None;
            self.update_jitter(ts, arrival);
            stats.jitter = self.jitter_q4 >> 4;
            stats.jitter_q4 = self.jitter_q4;
            stats.lost = self.lost_before;
            return SeqClass::InOrder;
        }
        let delta = seq.wrapping_sub(self.max as u16) as i16 as i64;
        let ext = self.max + delta;
        let class = if delta > 0 {
            let shift = delta as u64;
            self.window = if shift >= WINDOW {
                0
            } else {
                self.window << shift
            };
            self.window |= 1;
            self.max = ext;
            self.unique += 1;
            SeqClass::InOrder
        } else {
            let back = (-delta) as u64;
            if back < WINDOW && self.window & (1u128 << back) != 0 {
                SeqClass::Duplicate
            } else {
                if back < WINDOW {
                    self.window |= 1u128 << back;
                }
                if ext < self.base {
                    self.base = ext;
                }
                self.unique += 1;
                SeqClass::Late
            }
        };
        match class {
            SeqClass::Duplicate => stats.duplicates += 1,
            SeqClass::Late => stats.out_of_order += 1,
            SeqClass::InOrder => {}
        }
        if class != SeqClass::Duplicate {
            self.update_jitter(ts, arrival);
            stats.jitter = self.jitter_q4 >> 4;
            stats.jitter_q4 = self.jitter_q4;
        }
        stats.lost = self.lost_before + self.current_lost();
        class
    }

    fn current_lost(&self) -> u64 {
        if self.ssrc.is_none() {
            return 0;
        }
        let expected = (self.max - self.base + 1) as u64;
        expected.saturating_sub(self.unique)
    }

    /// RFC 3550 A.8: `J += (|D| - J) / 16`, in the integer form of the RFC.
    fn update_jitter(&mut self, ts: u32, arrival: u32) {
        let transit = arrival.wrapping_sub(ts);
        if let Some(prev) = self.transit {
            let d = (transit.wrapping_sub(prev) as i32).unsigned_abs();
            let j = self.jitter_q4 as i64 + d as i64 - ((self.jitter_q4 as i64 + 8) >> 4);
            self.jitter_q4 = j.clamp(0, u32::MAX as i64) as u32;
        }
        self.transit = Some(transit);
    }

    /// Jitter scaled by 16, as RFC 3550 A.8 keeps it.
    #[cfg(test)]
    pub(crate) fn jitter_q4(&self) -> u32 {
        self.jitter_q4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(seqs: &[u16]) -> LegStats {
        let mut r = RecvState::default();
        let mut s = LegStats::default();
        for &q in seqs {
            r.on_rtp(1, q, q as u32 * 160, q as u32 * 160, &mut s);
        }
        s
    }

    #[test]
    fn loss_duplicates_and_reordering() {
        let s = feed(&[10, 11, 13, 12, 12, 16, 15]);
        // Expected 10..=16 (7), received 10,11,12,13,15,16 (6): 14 lost.
        assert_eq!((s.lost, s.duplicates, s.out_of_order), (1, 1, 2));
    }

    #[test]
    fn sequence_wraps() {
        let s = feed(&[65534, 65535, 0, 2, 1]);
        assert_eq!((s.lost, s.duplicates, s.out_of_order), (0, 0, 1));
    }

    #[test]
    fn late_packet_before_first_counts_towards_expected() {
        let s = feed(&[100, 101, 99]);
        assert_eq!((s.lost, s.out_of_order), (0, 1));
    }

    #[test]
    fn jitter_integer_form() {
        let mut r = RecvState::default();
        let mut s = LegStats::default();
        // Transits 0, 0, 40, 0: |D| = 0, 40, 40.
        for (ts, arr) in [(0, 0), (160, 160), (320, 360), (480, 480)] {
            r.on_rtp(7, (ts / 160) as u16, ts, arr, &mut s);
        }
        // 0 -> 0 -> 40 -> 40 + 40 - (48 >> 4) = 77.
        assert_eq!(r.jitter_q4(), 77);
        assert_eq!((s.jitter, s.jitter_q4), (4, 77));
    }

    #[test]
    fn ssrc_change_keeps_previous_loss() {
        let mut r = RecvState::default();
        let mut s = LegStats::default();
        for q in [1u16, 3] {
            r.on_rtp(1, q, 0, 0, &mut s);
        }
        for q in [500u16, 501] {
            r.on_rtp(2, q, 0, 0, &mut s);
        }
        assert_eq!((s.lost, s.ssrc_changes, s.ssrc), (1, 1, Some(2)));
    }

    #[test]
    fn ticks_at_8000() {
        assert_eq!(ticks(Duration::from_millis(20), 8000), 160);
        assert_eq!(ticks(Duration::from_secs(1), 8000), 8000);
    }
}
