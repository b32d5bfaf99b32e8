//! RTCP as the generated phones send it with `--rtcp`: every 5 s on each
//! leg, a sender report with one report block on the stream the leg
//! receives (its loss since the last report, jitter, LSR/DLSR), on the
//! RTP port (`a=rtcp-mux`). A node that scores reports, as rtpengine and
//! ringwire do, then has what it needs for each call's MOS.
//!
//! The receiver thread notes each SR and each stream's counts in
//! [`RtcpShared`]; the sender thread reads them to write its reports.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use ringwire_media::rtcp::{read_reports, write_report, NtpTime, ReportBlock, SenderInfo};

/// Seconds between one leg's reports (RFC 3550's minimum interval).
pub const INTERVAL_MS: u64 = 5000;

/// Seconds from the NTP era to the Unix epoch.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// What the receiver saw of each stream, for the sender's reports.
#[derive(Debug)]
pub struct RtcpShared {
    /// Per stream: the last SR received, `NTP middle bits << 32 | arrival`
    /// (arrival in 1/65536 s, modulo 2^32, as DLSR counts); 0: none yet.
    last_sr: Vec<AtomicU64>,
    /// Per stream: packets expected (highest index + 1) and received
    /// (distinct).
    expected: Vec<AtomicU64>,
    received: Vec<AtomicU64>,
    /// Per stream: interarrival jitter, timestamp units.
    jitter: Vec<AtomicU32>,
}

fn atomics<T: Default>(n: usize) -> Vec<T> {
    (0..n).map(|_| T::default()).collect()
}

/// `ns` since the Unix epoch as an NTP timestamp.
pub fn ntp_of(ns: u64) -> NtpTime {
    let secs = ns / 1_000_000_000;
    let frac = ((ns % 1_000_000_000) << 32) / 1_000_000_000;
    NtpTime {
        seconds: (secs + NTP_UNIX_OFFSET) as u32,
        fraction: frac as u32,
    }
}

/// `ns` since the Unix epoch in 1/65536 s, modulo 2^32 (DLSR's unit).
fn q16(ns: u64) -> u32 {
    ((u128::from(ns) << 16) / 1_000_000_000) as u32
}

impl RtcpShared {
    /// Room for `streams` streams.
    pub fn new(streams: usize) -> Self {
        RtcpShared {
            last_sr: atomics(streams),
            expected: atomics(streams),
            received: atomics(streams),
            jitter: atomics(streams),
        }
    }

    /// Stream `r` received the RTCP datagram `data` at `arrival_ns` (Unix
    /// ns); an SR's time is kept for the stream's next report.
    pub fn on_rtcp(&self, r: usize, data: &[u8], arrival_ns: u64) {
        if let Some(ntp) = read_reports(data).ok().and_then(|r| r.ntp) {
            let packed = u64::from(ntp.middle()) << 32 | u64::from(q16(arrival_ns));
            self.last_sr[r].store(packed, Ordering::Relaxed);
        }
    }

    /// Stream `r`'s receive counts after an RTP packet.
    pub fn on_rtp(&self, r: usize, expected: u64, received: u64, jitter: u32) {
        self.expected[r].store(expected, Ordering::Relaxed);
        self.received[r].store(received, Ordering::Relaxed);
        self.jitter[r].store(jitter, Ordering::Relaxed);
    }
}

/// One leg's reporting state in the sender: what its last report counted.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reporter {
    expected: u64,
    received: u64,
}

/// What a report says of the sender's own stream.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    /// The sender's SSRC.
    pub ssrc: u32,
    /// RTP timestamp of now on its stream.
    pub rtp_timestamp: u32,
    /// Packets sent so far.
    pub packets: u32,
    /// The SSRC of the stream it receives.
    pub peer_ssrc: u32,
    /// That stream's first sequence number.
    pub peer_seq0: u16,
}

impl Reporter {
    /// Writes into `out` (cleared) the SR of the leg whose received stream
    /// is `r`, at `now_ns`.
    pub fn report(
        &mut self,
        shared: &RtcpShared,
        r: usize,
        sent: Sent,
        now_ns: u64,
        out: &mut Vec<u8>,
    ) {
        let expected = shared.expected[r].load(Ordering::Relaxed);
        let received = shared.received[r].load(Ordering::Relaxed);
        let (d_expected, d_received) = (
            expected.saturating_sub(self.expected),
            received.saturating_sub(self.received),
        );
        let fraction_lost = if d_expected > d_received {
            ((d_expected - d_received) * 256 / d_expected).min(255) as u8
        } else {
            0
        };
        (self.expected, self.received) = (expected, received);
        let (lsr, dlsr) = match shared.last_sr[r].load(Ordering::Relaxed) {
            0 => (0, 0),
            packed => {
                let arrived = packed as u32;
                ((packed >> 32) as u32, q16(now_ns).wrapping_sub(arrived))
            }
        };
        let block = ReportBlock {
            ssrc: sent.peer_ssrc,
            fraction_lost,
            cumulative_lost: expected.saturating_sub(received).min(0x7f_ffff) as i32,
            // extended: the first sequence number plus the packets since
            highest_seq: u32::from(sent.peer_seq0).wrapping_add(expected.saturating_sub(1) as u32),
            jitter: shared.jitter[r].load(Ordering::Relaxed),
            lsr,
            dlsr,
        };
        let info = SenderInfo {
            ntp: ntp_of(now_ns),
            rtp_timestamp: sent.rtp_timestamp,
            packets: sent.packets,
            octets: sent.packets.wrapping_mul(160),
        };
        out.clear();
        write_report(out, sent.ssrc, Some(info), &[block]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntp_time_of_the_unix_epoch_and_a_half_second() {
        let t = ntp_of(1_500_000_000);
        assert_eq!((t.seconds, t.fraction), (2_208_988_801, 1 << 31));
    }

    #[test]
    fn a_report_names_the_last_sr_heard_and_the_loss_since_the_last_report() {
        let shared = RtcpShared::new(2);
        let mut out = Vec::new();
        // an SR to stream 1 at t = 10 s
        let mut sr = Vec::new();
        let heard = ntp_of(7_000_000_000);
        write_report(
            &mut sr,
            9,
            Some(SenderInfo {
                ntp: heard,
                ..SenderInfo::default()
            }),
            &[],
        );
        shared.on_rtcp(1, &sr, 10_000_000_000);
        shared.on_rtp(1, 100, 90, 33);
        let mut reporter = Reporter::default();
        let sent = Sent {
            ssrc: 5,
            rtp_timestamp: 1600,
            packets: 10,
            peer_ssrc: 9,
            peer_seq0: 65_500,
        };
        // reported half a second after the SR came
        reporter.report(&shared, 1, sent, 10_500_000_000, &mut out);
        let r = read_reports(&out).unwrap();
        assert_eq!(r.sender, Some(5));
        let b = r.block.unwrap();
        assert_eq!((b.ssrc, b.lsr, b.dlsr), (9, heard.middle(), 32_768));
        // 100 expected from 65500: the highest is 65599, past one wrap
        assert_eq!(b.highest_seq, 65_599);
        assert_eq!((b.fraction_lost, b.cumulative_lost, b.jitter), (25, 10, 33));
        // 100 more expected, all received: nothing lost since
        shared.on_rtp(1, 200, 190, 33);
        reporter.report(&shared, 1, sent, 15_000_000_000, &mut out);
        let b = read_reports(&out).unwrap().block.unwrap();
        assert_eq!((b.fraction_lost, b.cumulative_lost), (0, 10));
        // a stream that heard no SR names none
        reporter.report(&shared, 0, sent, 15_000_000_000, &mut out);
        let b = read_reports(&out).unwrap().block.unwrap();
        assert_eq!((b.lsr, b.dlsr), (0, 0));
    }

    #[test]
    fn the_generators_reports_are_told_from_its_rtp() {
        use ringwire_media::rtp::is_rtcp_packet;
        let mut report = Vec::new();
        write_report(&mut report, 7, None, &[]);
        assert!(is_rtcp_packet(&report));
        // G.711 RTP, with and without the marker bit
        for second in [0u8, 8, 0x80, 0x88] {
            assert!(!is_rtcp_packet(&[
                0x80, second, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2
            ]));
        }
    }
}
