//! Packet captures (pcap and pcapng, read by libpcap through the `pcap`
//! crate) scanned for RTP streams without SDP.
//!
//! - [`link`]: one frame down to its UDP datagram;
//! - [`Scanner`]: the sans-IO core: frames in, stream candidates kept;
//! - [`stream`]: one stream's packets assembled into 8 kHz audio and digits.

pub mod link;
pub mod stream;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

use crate::input::MediaStream;
use crate::rtp::{is_rtcp_packet, RtpHeader};
use link::Skip;
use stream::{StreamAcc, StreamKey};

/// Why a capture cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file cannot be opened.
    #[error("cannot open: {0}")]
    Open(#[from] std::io::Error),
    /// libpcap rejects the file (bad header, unknown format).
    #[error("{0}")]
    Corrupt(String),
}

/// Capture-wide counters: what was read and why frames were not RTP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureSummary {
    /// Frames read.
    pub frames: u64,
    /// UDP datagrams among them.
    pub udp: u64,
    /// Frames that are not UDP over IP.
    pub not_udp: u64,
    /// IP fragments (not reassembled; dropped).
    pub fragments: u64,
    /// Frames whose headers are cut short or inconsistent.
    pub malformed_frames: u64,
    /// Frames of a link type we do not read.
    pub unsupported_link: u64,
    /// UDP datagrams that look like RTCP ([`crate::rtp::is_rtcp_packet`]).
    pub rtcp: u64,
    /// UDP datagrams that are not RTP (or not audio RTP).
    pub not_rtp: u64,
    /// RTP packets taken into streams.
    pub rtp_packets: u64,
    /// Stream candidates dropped for having a single packet.
    pub single_packet_candidates: u64,
    /// Set when libpcap stopped with an error before the end of the file.
    pub truncated: Option<String>,
}

/// Streams of a capture plus its summary.
#[derive(Debug, Clone, Default)]
pub struct CaptureReport {
    /// Streams in order of their first packet.
    pub streams: Vec<MediaStream>,
    /// Capture-wide counters.
    pub summary: CaptureSummary,
}

/// Sans-IO capture scanner: feed frames with [`Scanner::push_frame`], then
/// call [`Scanner::finish`].
#[derive(Debug, Default)]
pub struct Scanner {
    streams: Vec<StreamAcc>,
    index: HashMap<StreamKey, usize>,
    /// Unparseable version-2 datagrams per address pair.
    malformed: HashMap<(SocketAddr, SocketAddr), u64>,
    summary: CaptureSummary,
}

impl Scanner {
    /// An empty scanner.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one captured frame of link type `linktype`.
    pub fn push_frame(&mut self, linktype: i32, frame: &[u8]) {
        let frame_no = self.summary.frames;
        self.summary.frames += 1;
        let d = match link::udp_datagram(linktype, frame) {
            Ok(d) => d,
            Err(Skip::NotUdp) => return self.summary.not_udp += 1,
            Err(Skip::Fragment) => return self.summary.fragments += 1,
            Err(Skip::Malformed) => return self.summary.malformed_frames += 1,
            Err(Skip::UnsupportedLink) => return self.summary.unsupported_link += 1,
        };
        self.summary.udp += 1;
        self.push_datagram(frame_no, d.src, d.dst, d.payload);
    }

    /// Feeds one UDP datagram (already sliced out of its frame).
    pub fn push_datagram(&mut self, frame_no: u64, src: SocketAddr, dst: SocketAddr, data: &[u8]) {
        if is_rtcp_packet(data) {
            self.summary.rtcp += 1;
            return;
        }
        let h = match RtpHeader::parse(data) {
            Ok(h) => h,
            Err(crate::rtp::RtpError::BadVersion(_) | crate::rtp::RtpError::TooShort { .. }) => {
                self.summary.not_rtp += 1;
                return;
            }
            Err(_) => {
                self.summary.not_rtp += 1;
                *self.malformed.entry((src, dst)).or_default() += 1;
                return;
            }
        };
        let payload = &data[h.payload_range()];
        let key = StreamKey {
            src,
            dst,
            ssrc: h.ssrc,
        };
        let idx = match self.index.get(&key) {
            Some(&i) if stream::can_join_stream(h.payload_type) => i,
            None if stream::can_start_stream(h.payload_type, payload) => {
                self.streams.push(StreamAcc::new(key, frame_no));
                self.index.insert(key, self.streams.len() - 1);
                self.streams.len() - 1
            }
            _ => {
                self.summary.not_rtp += 1;
                return;
            }
        };
        self.streams[idx].push(h.sequence, h.timestamp, h.payload_type, payload);
    }

    /// Records that the capture ended early with `reason`.
    pub fn set_truncated(&mut self, reason: String) {
        self.summary.truncated = Some(reason);
    }

    /// Assembles the streams with at least 2 packets, in capture order.
    pub fn finish(self) -> CaptureReport {
        let mut summary = self.summary;
        let (kept, dropped): (Vec<_>, Vec<_>) =
            self.streams.into_iter().partition(|s| s.len() >= 2);
        summary.single_packet_candidates = dropped.len() as u64;
        summary.not_rtp += dropped.len() as u64;
        let mut ssrc_count: HashMap<u32, usize> = HashMap::new();
        for s in &kept {
            *ssrc_count.entry(s.key.ssrc).or_default() += 1;
        }
        let mut malformed = self.malformed;
        let mut budget = stream::MAX_CAPTURE_SAMPLES;
        let streams = kept
            .iter()
            .map(|s| {
                summary.rtp_packets += s.len() as u64;
                let k = s.key;
                let id = if ssrc_count[&k.ssrc] > 1 {
                    format!("ssrc=0x{:08x} src={} dst={}", k.ssrc, k.src, k.dst)
                } else {
                    format!("ssrc=0x{:08x}", k.ssrc)
                };
                let bad = malformed.remove(&(k.src, k.dst)).unwrap_or(0);
                let mut m = s.assemble(id, bad, &mut budget);
                if let Some(t) = &summary.truncated {
                    m.stats.notes.push(format!("capture truncated: {t}"));
                }
                m
            })
            .collect();
        CaptureReport { streams, summary }
    }
}

/// Reads a pcap or pcapng file and scans it for RTP streams.
pub fn read_capture_file(path: &Path) -> Result<CaptureReport, CaptureError> {
    std::fs::File::open(path)?;
    let mut cap =
        pcap::Capture::from_file(path).map_err(|e| CaptureError::Corrupt(e.to_string()))?;
    let linktype = cap.get_datalink().0;
    let mut scanner = Scanner::new();
    loop {
        match cap.next_packet() {
            Ok(p) => scanner.push_frame(linktype, p.data),
            Err(pcap::Error::NoMorePackets) => break,
            Err(e) => {
                tracing::warn!("{}: capture ends early: {e}", path.display());
                scanner.set_truncated(e.to_string());
                break;
            }
        }
    }
    Ok(scanner.finish())
}

/// Reads capture bytes already in memory (through a temporary file, since
/// libpcap reads files); used by the fuzzer.
pub fn read_capture_bytes(bytes: &[u8]) -> Result<CaptureReport, CaptureError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "ringwire-capture-{}-{}.pcap",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, bytes)?;
    let r = read_capture_file(&path);
    let _ = std::fs::remove_file(&path);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtcp_is_counted_and_a_marked_packet_of_type_72_is_not() {
        let (a, b): (SocketAddr, SocketAddr) = (
            "10.0.0.1:4000".parse().unwrap(),
            "10.0.0.2:5000".parse().unwrap(),
        );
        let mut scanner = Scanner::new();
        let mut rr = vec![0x81, 201, 0, 7];
        rr.resize(32, 0);
        scanner.push_datagram(0, a, b, &rr);
        // second byte 200 as in a sender report, but a 172-byte RTP packet
        // (marker, payload type 72) whose sequence number is no length
        let mut rtp = vec![0x80, 0x80 | 72, 0x12, 0x34];
        rtp.resize(172, 0xff);
        scanner.push_datagram(1, a, b, &rtp);
        let s = scanner.summary;
        assert_eq!((s.rtcp, s.not_rtp), (1, 1));
    }
}
