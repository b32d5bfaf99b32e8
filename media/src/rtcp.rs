//! RTCP sender and receiver reports (RFC 3550 section 6.4): what the relay
//! reads of the RTCP it forwards to score a call's quality (round trips
//! from LSR/DLSR, loss and jitter as each end saw them), and a writer for
//! tests and test endpoints.
//!
//! Only plain RTCP is read: the packets of a compound must tile the
//! datagram exactly. SRTCP (RFC 3711) appends an index and a tag after an
//! encrypted compound, so it never passes for plain RTCP.

use thiserror::Error;

/// Packet type of a sender report.
pub const SR: u8 = 200;
/// Packet type of a receiver report.
pub const RR: u8 = 201;

/// Length of one report block.
const BLOCK_LEN: usize = 24;
/// Length of an SR's sender info.
const SENDER_INFO_LEN: usize = 20;

/// Why a datagram is not a compound of plain RTCP packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RtcpError {
    /// Shorter than a packet header, or a packet's length field runs past
    /// the datagram's end.
    #[error("RTCP packet truncated at byte {0}")]
    Truncated(usize),
    /// A packet header without version 2.
    #[error("RTCP packet at byte {0} is not version 2")]
    BadVersion(usize),
    /// An SR or RR whose report count does not fit its length.
    #[error("RTCP report at byte {0} claims more report blocks than it holds")]
    BadReportCount(usize),
}

/// The 64-bit NTP timestamp of a sender report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NtpTime {
    /// Seconds since 1900.
    pub seconds: u32,
    /// Fraction of a second, in 2^-32 s.
    pub fraction: u32,
}

impl NtpTime {
    /// The middle 32 bits, as a receiver echoes them in LSR.
    pub fn middle(self) -> u32 {
        self.seconds << 16 | self.fraction >> 16
    }
}

/// One report block: how the reporter received one source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportBlock {
    /// The source reported on.
    pub ssrc: u32,
    /// Fraction lost since the last report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed: duplicates can make it
    /// negative).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_seq: u32,
    /// Interarrival jitter, in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last SR received from the
    /// source (0: none yet).
    pub lsr: u32,
    /// Delay since that SR, in 1/65536 s.
    pub dlsr: u32,
}

/// What the relay needs of one RTCP compound: its first SR or RR.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reports {
    /// The SSRC of the report's sender, if the compound holds an SR or RR.
    pub sender: Option<u32>,
    /// The SR's NTP time, if the report is an SR.
    pub ntp: Option<NtpTime>,
    /// Its first report block, if it has one.
    pub block: Option<ReportBlock>,
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads the first SR or RR of an RTCP compound after checking that every
/// packet of it is version 2 and that their lengths tile `buf` exactly.
pub fn read_reports(buf: &[u8]) -> Result<Reports, RtcpError> {
    let mut reports = Reports::default();
    let mut at = 0;
    while at < buf.len() {
        if buf.len() - at < 4 {
            return Err(RtcpError::Truncated(at));
        }
        if buf[at] >> 6 != 2 {
            return Err(RtcpError::BadVersion(at));
        }
        let len = (usize::from(u16::from_be_bytes([buf[at + 2], buf[at + 3]])) + 1) * 4;
        let Some(packet) = buf.get(at..at + len) else {
            return Err(RtcpError::Truncated(at));
        };
        let pt = packet[1];
        if reports.sender.is_none() && (pt == SR || pt == RR) {
            reports = read_report(packet, at)?;
        }
        at += len;
    }
    Ok(reports)
}

/// One SR or RR packet (`packet` is exactly its length; `at` its offset,
/// for errors).
fn read_report(packet: &[u8], at: usize) -> Result<Reports, RtcpError> {
    let count = usize::from(packet[0] & 0x1f);
    let sr = packet[1] == SR;
    let blocks_at = 8 + if sr { SENDER_INFO_LEN } else { 0 };
    if packet.len() < blocks_at {
        return Err(RtcpError::Truncated(at));
    }
    if packet.len() < blocks_at + count * BLOCK_LEN {
        return Err(RtcpError::BadReportCount(at));
    }
    let block = (count > 0).then(|| {
        let b = &packet[blocks_at..blocks_at + BLOCK_LEN];
        let lost = be32(b, 4) & 0x00ff_ffff;
        ReportBlock {
            ssrc: be32(b, 0),
            fraction_lost: b[4],
            // sign-extend the 24-bit count
            cumulative_lost: ((lost << 8) as i32) >> 8,
            highest_seq: be32(b, 8),
            jitter: be32(b, 12),
            lsr: be32(b, 16),
            dlsr: be32(b, 20),
        }
    });
    Ok(Reports {
        sender: Some(be32(packet, 4)),
        ntp: sr.then(|| NtpTime {
            seconds: be32(packet, 8),
            fraction: be32(packet, 12),
        }),
        block,
    })
}

/// The sender info of an SR to write: NTP time, RTP time and counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SenderInfo {
    /// Wall-clock time of the report.
    pub ntp: NtpTime,
    /// The same instant in RTP timestamp units.
    pub rtp_timestamp: u32,
    /// Packets sent so far.
    pub packets: u32,
    /// Payload octets sent so far.
    pub octets: u32,
}

/// Appends an SR (with `sender`) or else an RR from `ssrc`, holding up to
/// 31 of `blocks`.
pub fn write_report(
    out: &mut Vec<u8>,
    ssrc: u32,
    sender: Option<SenderInfo>,
    blocks: &[ReportBlock],
) {
    let blocks = &blocks[..blocks.len().min(31)];
    let words = 1 + if sender.is_some() { 5 } else { 0 } + blocks.len() * 6;
    out.push(0x80 | blocks.len() as u8);
    out.push(if sender.is_some() { SR } else { RR });
    out.extend_from_slice(&(words as u16).to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
    if let Some(s) = sender {
        for w in [
            s.ntp.seconds,
            s.ntp.fraction,
            s.rtp_timestamp,
            s.packets,
            s.octets,
        ] {
            out.extend_from_slice(&w.to_be_bytes());
        }
    }
    for b in blocks {
        let lost = (b.cumulative_lost as u32) & 0x00ff_ffff | u32::from(b.fraction_lost) << 24;
        for w in [b.ssrc, lost, b.highest_seq, b.jitter, b.lsr, b.dlsr] {
            out.extend_from_slice(&w.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn block() -> ReportBlock {
        ReportBlock {
            ssrc: 0xdead_beef,
            fraction_lost: 25,
            cumulative_lost: -3,
            highest_seq: 0x0001_0203,
            jitter: 77,
            lsr: 0x1234_5678,
            dlsr: 65536 / 2,
        }
    }

    #[test]
    fn a_sender_report_with_a_block_and_sdes_reads_back() {
        let ntp = NtpTime {
            seconds: 0xe000_0001,
            fraction: 0x8000_0000,
        };
        let mut buf = Vec::new();
        let info = SenderInfo {
            ntp,
            rtp_timestamp: 160,
            packets: 50,
            octets: 8000,
        };
        write_report(&mut buf, 7, Some(info), &[block()]);
        // an SDES with one CNAME chunk follows, as RFC 3550 compounds go
        buf.extend_from_slice(&[0x81, 202, 0, 3, 0, 0, 0, 7, 1, 2, b'a', b'b', 0, 0, 0, 0]);
        let r = read_reports(&buf).unwrap();
        assert_eq!(r.sender, Some(7));
        assert_eq!(r.ntp, Some(ntp));
        assert_eq!(r.block, Some(block()));
        assert_eq!(ntp.middle(), 0x0001_8000);
    }

    #[test]
    fn a_receiver_report_without_blocks_has_a_sender_only() {
        let mut buf = Vec::new();
        write_report(&mut buf, 9, None, &[]);
        assert_eq!(buf.len(), 8);
        let r = read_reports(&buf).unwrap();
        assert_eq!((r.sender, r.ntp, r.block), (Some(9), None, None));
    }

    #[test]
    fn srtcp_and_broken_packets_are_refused() {
        let mut buf = Vec::new();
        write_report(&mut buf, 9, None, &[block()]);
        let mut srtcp = buf.clone();
        srtcp.extend_from_slice(&[0x80, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert!(read_reports(&srtcp).is_err());
        assert_eq!(read_reports(&buf[..20]), Err(RtcpError::Truncated(0)));
        let mut v1 = buf.clone();
        v1[0] = 0x41;
        assert_eq!(read_reports(&v1), Err(RtcpError::BadVersion(0)));
        let mut overcount = buf.clone();
        overcount[0] = 0x82;
        assert_eq!(read_reports(&overcount), Err(RtcpError::BadReportCount(0)));
        assert_eq!(read_reports(&[0x80, 201, 0]), Err(RtcpError::Truncated(0)));
    }

    #[test]
    fn only_the_first_report_of_a_compound_counts() {
        let mut buf = Vec::new();
        write_report(&mut buf, 1, None, &[block()]);
        write_report(&mut buf, 2, None, &[]);
        assert_eq!(read_reports(&buf).unwrap().sender, Some(1));
    }

    proptest! {
        #[test]
        fn any_bytes_read_without_panicking(buf in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = read_reports(&buf);
        }

        #[test]
        fn written_reports_read_back(
            ssrc: u32, seconds: u32, fraction: u32, sr: bool,
            fraction_lost: u8, lost in -(1i32 << 23)..(1i32 << 23),
            jitter: u32, lsr: u32, dlsr: u32, n in 0usize..4,
        ) {
            let b = ReportBlock { ssrc, fraction_lost, cumulative_lost: lost,
                highest_seq: 5, jitter, lsr, dlsr };
            let ntp = NtpTime { seconds, fraction };
            let info = sr.then_some(SenderInfo { ntp, ..SenderInfo::default() });
            let mut buf = Vec::new();
            write_report(&mut buf, ssrc, info, &vec![b; n]);
            let r = read_reports(&buf).unwrap();
            prop_assert_eq!(r.sender, Some(ssrc));
            prop_assert_eq!(r.ntp, sr.then_some(ntp));
            prop_assert_eq!(r.block, (n > 0).then_some(b));
        }
    }
}
