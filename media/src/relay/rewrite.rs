//! SSRC, sequence and timestamp rewriting of the media sent out of a leg,
//! in place (header bytes only), with continuity when the source changes
//! (a new SSRC arriving, e.g. after a re-bridge): the outgoing sequence goes
//! on at the next number and the timestamp advances by the time elapsed.

use std::time::Duration;

use crate::rtp::RtpHeaderMut;

use super::stats::ticks;

/// How to rewrite the RTP sent out of a leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewrite {
    /// The SSRC to send with.
    pub ssrc: u32,
    /// Added to the sequence number of the first source (later sources get
    /// offsets that keep the sequence continuous).
    pub sequence_offset: u16,
    /// Added to the timestamp of the first source (later sources get
    /// offsets that keep the timestamp continuous).
    pub timestamp_offset: u32,
}

/// The last packet sent: sequence, timestamp, time.
#[derive(Debug, Clone, Copy)]
struct Sent {
    seq: u16,
    ts: u32,
    at: Duration,
}

/// A [`Rewrite`] with the state continuity needs.
#[derive(Debug, Clone)]
pub(crate) struct RewriteState {
    ssrc: u32,
    seq_off: u16,
    ts_off: u32,
    /// The incoming SSRC the offsets are for.
    source: Option<u32>,
    last: Option<Sent>,
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl RewriteState {
    pub(crate) fn new(r: Rewrite) -> Self {
        RewriteState {
            ssrc: r.ssrc,
            seq_off: r.sequence_offset,
            ts_off: r.timestamp_offset,
            source: None,
            last: None,
        }
    }

    /// Rewrites an RTP packet in place (header bytes only); leaves a
    /// buffer that is not an RTP header alone.
    pub(crate) fn apply_rtp(&mut self, buf: &mut [u8], now: Duration, clock_rate: u32) {
        if buf.len() < 12 {
            return;
        }
        let (seq, ts, ssrc) = (
            u16::from_be_bytes([buf[2], buf[3]]),
            be32(buf, 4),
            be32(buf, 8),
        );
        let Ok(mut h) = RtpHeaderMut::new(buf) else {
            return;
        };
        if self.source != Some(ssrc) {
            if let Some(last) = self.last {
                // Next sequence number; timestamp advanced by the elapsed
                // time (at least one tick, so it never repeats).
                let elapsed = ticks(now.saturating_sub(last.at), clock_rate).max(1);
                self.seq_off = last.seq.wrapping_add(1).wrapping_sub(seq);
                self.ts_off = last.ts.wrapping_add(elapsed).wrapping_sub(ts);
            }
            self.source = Some(ssrc);
        }
        let out = Sent {
            seq: seq.wrapping_add(self.seq_off),
            ts: ts.wrapping_add(self.ts_off),
            at: now,
        };
        // A late packet must not move continuity backwards.
        let newer = self
            .last
            .is_none_or(|l| (out.seq.wrapping_sub(l.seq) as i16) > 0);
        h.set_sequence(out.seq);
        h.set_timestamp(out.ts);
        h.set_ssrc(self.ssrc);
        if newer {
            self.last = Some(out);
        }
    }

    /// Rewrites the sender SSRC of the first RTCP packet of a compound
    /// packet if it is an SR or RR, and an SR's RTP timestamp. Report
    /// blocks and SDES chunks are left alone.
    pub(crate) fn apply_rtcp(&self, buf: &mut [u8]) {
        if buf.len() < 8 || self.source.is_none() {
            return;
        }
        let pt = buf[1];
        if pt != 200 && pt != 201 {
            return;
        }
        buf[4..8].copy_from_slice(&self.ssrc.to_be_bytes());
        if pt == 200 && buf.len() >= 20 {
            let ts = be32(buf, 16).wrapping_add(self.ts_off);
            buf[16..20].copy_from_slice(&ts.to_be_bytes());
        }
    }
}
