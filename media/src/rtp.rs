//! RTP (RFC 3550) fixed header: zero-copy parsing, in-place rewriting and a
//! builder into a caller's buffer.
//!
//! This is our own small module rather than the `rtp-types` crate: parsing
//! works over `&[u8]` (giving a `Copy` [`RtpHeader`] of fields and offsets)
//! and over [`bytes::Bytes`] (an [`RtpPacket`] whose payload is a zero-copy
//! slice), which is what the capture scanner and the relay both need, and it
//! is easy to fuzz. Nothing here allocates or panics on malformed input.

use bytes::Bytes;

/// Length of the fixed RTP header in bytes.
pub const FIXED_HEADER_LEN: usize = 12;

/// Why bytes are not a valid RTP packet, or a header cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// Fewer bytes than the fixed header (or than a field needs).
    #[error("RTP packet too short: {len} bytes, need at least {need}")]
    TooShort {
        /// Bytes present.
        len: usize,
        /// Bytes needed.
        need: usize,
    },
    /// The version field is not 2.
    #[error("RTP version {0}, expected 2")]
    BadVersion(u8),
    /// The CSRC list runs past the end of the packet.
    #[error("RTP CSRC list ({count} entries) runs past the end of a {len}-byte packet")]
    CsrcOverrun {
        /// CSRC count from the header.
        count: u8,
        /// Packet length.
        len: usize,
    },
    /// The header extension runs past the end of the packet.
    #[error("RTP header extension ({words} words) runs past the end of a {len}-byte packet")]
    ExtensionOverrun {
        /// Extension length in 32-bit words.
        words: u16,
        /// Packet length.
        len: usize,
    },
    /// The padding count is zero or larger than the space after the header.
    #[error("RTP padding of {padding} bytes is invalid with {available} bytes after the header")]
    BadPadding {
        /// Padding count (last byte of the packet).
        padding: u8,
        /// Bytes after the header, padding included.
        available: usize,
    },
    /// The payload type does not fit in 7 bits.
    #[error("RTP payload type {0} is larger than 127")]
    BadPayloadType(u8),
    /// More than 15 CSRCs, or extension data not a multiple of 4 bytes.
    #[error("RTP header field out of range: {0}")]
    FieldOutOfRange(&'static str),
    /// The output buffer is too small for the packet being built.
    #[error("buffer of {len} bytes too small for a {need}-byte RTP packet")]
    BufferTooSmall {
        /// Buffer length.
        len: usize,
        /// Bytes needed.
        need: usize,
    },
}

/// The parsed fields and offsets of an RTP header; `Copy`, borrows nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    /// Whether the padding bit was set.
    pub padding: bool,
    /// Number of CSRCs (0..=15).
    pub csrc_count: u8,
    /// Marker bit.
    pub marker: bool,
    /// Payload type (0..=127).
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Header extension profile id and data range, if the X bit was set.
    extension: Option<(u16, u16, u16)>,
    /// Start of the payload.
    payload_start: u16,
    /// End of the payload (start of padding).
    payload_end: u16,
}

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl RtpHeader {
    /// Parses and validates the header of `buf` (a whole RTP packet).
    pub fn parse(buf: &[u8]) -> Result<Self, RtpError> {
        let len = buf.len();
        if len < FIXED_HEADER_LEN {
            return Err(RtpError::TooShort {
                len,
                need: FIXED_HEADER_LEN,
            });
        }
        // Offsets are kept in u16: longer packets cannot be UDP datagrams.
        if len > u16::MAX as usize {
            return Err(RtpError::FieldOutOfRange("packet longer than 65535 bytes"));
        }
        let version = buf[0] >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion(version));
        }
        let padding = buf[0] & 0x20 != 0;
        let has_ext = buf[0] & 0x10 != 0;
        let csrc_count = buf[0] & 0x0f;
        let mut pos = FIXED_HEADER_LEN + 4 * csrc_count as usize;
        if pos > len {
            return Err(RtpError::CsrcOverrun {
                count: csrc_count,
                len,
            });
        }
        let extension = if has_ext {
            if pos + 4 > len {
                return Err(RtpError::ExtensionOverrun { words: 0, len });
            }
            let profile = be16(buf, pos);
            let words = be16(buf, pos + 2);
            let start = pos + 4;
            let end = start + 4 * words as usize;
            if end > len {
                return Err(RtpError::ExtensionOverrun { words, len });
            }
            pos = end;
            Some((profile, start as u16, end as u16))
        } else {
            None
        };
        let mut end = len;
        if padding {
            let pad = buf[len - 1];
            let available = len - pos;
            if pad == 0 || pad as usize > available {
                return Err(RtpError::BadPadding {
                    padding: pad,
                    available,
                });
            }
            end -= pad as usize;
        }
        Ok(RtpHeader {
            padding,
            csrc_count,
            marker: buf[1] & 0x80 != 0,
            payload_type: buf[1] & 0x7f,
            sequence: be16(buf, 2),
            timestamp: be32(buf, 4),
            ssrc: be32(buf, 8),
            extension,
            payload_start: pos as u16,
            payload_end: end as u16,
        })
    }

    /// The RTP version; always 2 for a parsed header.
    pub fn version(&self) -> u8 {
        2
    }

    /// The `i`-th CSRC of `buf` (the packet this header was parsed from).
    pub fn csrc(&self, buf: &[u8], i: usize) -> Option<u32> {
        (i < self.csrc_count as usize).then(|| be32(buf, FIXED_HEADER_LEN + 4 * i))
    }

    /// The extension profile id and data range in the packet, if any.
    pub fn extension_range(&self) -> Option<(u16, std::ops::Range<usize>)> {
        self.extension.map(|(p, s, e)| (p, s as usize..e as usize))
    }

    /// Byte range of the payload (padding excluded) in the packet.
    pub fn payload_range(&self) -> std::ops::Range<usize> {
        self.payload_start as usize..self.payload_end as usize
    }

    /// Number of padding bytes at the end of the packet.
    pub fn padding_len(&self, packet_len: usize) -> usize {
        packet_len - self.payload_end as usize
    }
}

/// An RTP packet over shared [`Bytes`]: header fields plus zero-copy access
/// to CSRCs, extension and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket {
    buf: Bytes,
    header: RtpHeader,
}

impl RtpPacket {
    /// Parses `buf` as an RTP packet without copying it.
    pub fn parse(buf: Bytes) -> Result<Self, RtpError> {
        let header = RtpHeader::parse(&buf)?;
        Ok(RtpPacket { buf, header })
    }

    /// The parsed header fields and offsets.
    pub fn header(&self) -> &RtpHeader {
        &self.header
    }

    /// The whole packet.
    pub fn as_bytes(&self) -> &Bytes {
        &self.buf
    }

    /// RTP version (always 2).
    pub fn version(&self) -> u8 {
        2
    }

    /// Whether the padding bit was set.
    pub fn padding(&self) -> bool {
        self.header.padding
    }

    /// Padding bytes at the end of the packet (0 without padding).
    pub fn padding_len(&self) -> usize {
        self.header.padding_len(self.buf.len())
    }

    /// Marker bit.
    pub fn marker(&self) -> bool {
        self.header.marker
    }

    /// Payload type.
    pub fn payload_type(&self) -> u8 {
        self.header.payload_type
    }

    /// Sequence number.
    pub fn sequence(&self) -> u16 {
        self.header.sequence
    }

    /// RTP timestamp.
    pub fn timestamp(&self) -> u32 {
        self.header.timestamp
    }

    /// Synchronisation source.
    pub fn ssrc(&self) -> u32 {
        self.header.ssrc
    }

    /// Contributing sources, in order.
    pub fn csrcs(&self) -> impl ExactSizeIterator<Item = u32> + '_ {
        (0..self.header.csrc_count as usize).map(move |i| be32(&self.buf, FIXED_HEADER_LEN + 4 * i))
    }

    /// Header extension: profile id and data (zero-copy), if present.
    pub fn extension(&self) -> Option<(u16, Bytes)> {
        self.header
            .extension_range()
            .map(|(p, r)| (p, self.buf.slice(r)))
    }

    /// The payload without padding, as a zero-copy slice.
    pub fn payload(&self) -> Bytes {
        self.buf.slice(self.header.payload_range())
    }
}

/// Heuristic: is this datagram RTCP rather than RTP (RFC 5761: second byte
/// 192..=223, which covers RTCP packet types 200..=204 and their neighbours)?
pub fn is_rtcp_like(buf: &[u8]) -> bool {
    buf.len() >= 2 && buf[0] >> 6 == 2 && (192..=223).contains(&buf[1])
}

/// Whether a datagram with no SDP to go by is RTCP: [`is_rtcp_like`], and
/// its first packet's length field (`(length + 1) * 4` bytes) fits in
/// it. A marked RTP packet of a payload type 64..=95 has the same second
/// byte; where RTCP's length is, it has its sequence number, which fits
/// a datagram of `n` bytes only about once in `262144 / n` packets (and
/// only a talkspurt's first packet is marked). The rest of a compound
/// packet is not walked: SRTCP encrypts it.
pub fn is_rtcp_packet(buf: &[u8]) -> bool {
    is_rtcp_like(buf)
        && buf.len() >= 4
        && (usize::from(u16::from_be_bytes([buf[2], buf[3]])) + 1) * 4 <= buf.len()
}

/// In-place rewriting of the fixed header of an RTP packet (works on
/// `BytesMut`, `Vec<u8>` or any `&mut [u8]`).
#[derive(Debug)]
pub struct RtpHeaderMut<'a> {
    buf: &'a mut [u8],
}

impl<'a> RtpHeaderMut<'a> {
    /// Wraps `buf` after checking it holds a version-2 fixed header.
    pub fn new(buf: &'a mut [u8]) -> Result<Self, RtpError> {
        if buf.len() < FIXED_HEADER_LEN {
            return Err(RtpError::TooShort {
                len: buf.len(),
                need: FIXED_HEADER_LEN,
            });
        }
        let version = buf[0] >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion(version));
        }
        Ok(RtpHeaderMut { buf })
    }

    /// Sets the marker bit.
    pub fn set_marker(&mut self, marker: bool) {
        self.buf[1] = (self.buf[1] & 0x7f) | if marker { 0x80 } else { 0 };
    }

    /// Sets the payload type; errors if it does not fit in 7 bits.
    pub fn set_payload_type(&mut self, pt: u8) -> Result<(), RtpError> {
        if pt > 127 {
            return Err(RtpError::BadPayloadType(pt));
        }
        self.buf[1] = (self.buf[1] & 0x80) | pt;
        Ok(())
    }

    /// Sets the sequence number.
    pub fn set_sequence(&mut self, seq: u16) {
        self.buf[2..4].copy_from_slice(&seq.to_be_bytes());
    }

    /// Sets the RTP timestamp.
    pub fn set_timestamp(&mut self, ts: u32) {
        self.buf[4..8].copy_from_slice(&ts.to_be_bytes());
    }

    /// Sets the SSRC.
    pub fn set_ssrc(&mut self, ssrc: u32) {
        self.buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
    }
}

/// Writes an RTP header and payload into a caller's buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtpBuilder<'a> {
    /// Marker bit.
    pub marker: bool,
    /// Payload type (0..=127).
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Contributing sources (at most 15).
    pub csrcs: &'a [u32],
    /// Header extension profile id and data (a multiple of 4 bytes).
    pub extension: Option<(u16, &'a [u8])>,
    /// Padding bytes to append (0 for none; the last one holds the count).
    pub padding: u8,
}

impl RtpBuilder<'_> {
    /// Total packet length for a payload of `payload_len` bytes.
    pub fn packet_len(&self, payload_len: usize) -> usize {
        FIXED_HEADER_LEN
            + 4 * self.csrcs.len()
            + self.extension.map_or(0, |(_, d)| 4 + d.len())
            + payload_len
            + self.padding as usize
    }

    /// Writes header, `payload` and padding into `out`; returns the length.
    pub fn write(&self, payload: &[u8], out: &mut [u8]) -> Result<usize, RtpError> {
        if self.payload_type > 127 {
            return Err(RtpError::BadPayloadType(self.payload_type));
        }
        if self.csrcs.len() > 15 {
            return Err(RtpError::FieldOutOfRange("more than 15 CSRCs"));
        }
        if let Some((_, data)) = self.extension {
            if data.len() % 4 != 0 || data.len() / 4 > u16::MAX as usize {
                return Err(RtpError::FieldOutOfRange(
                    "extension data not a multiple of 4 bytes or too long",
                ));
            }
        }
        let need = self.packet_len(payload.len());
        if out.len() < need {
            return Err(RtpError::BufferTooSmall {
                len: out.len(),
                need,
            });
        }
        out[0] = 0x80
            | if self.padding > 0 { 0x20 } else { 0 }
            | if self.extension.is_some() { 0x10 } else { 0 }
            | self.csrcs.len() as u8;
        out[1] = if self.marker { 0x80 } else { 0 } | self.payload_type;
        out[2..4].copy_from_slice(&self.sequence.to_be_bytes());
        out[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        let mut pos = FIXED_HEADER_LEN;
        for c in self.csrcs {
            out[pos..pos + 4].copy_from_slice(&c.to_be_bytes());
            pos += 4;
        }
        if let Some((profile, data)) = self.extension {
            out[pos..pos + 2].copy_from_slice(&profile.to_be_bytes());
            out[pos + 2..pos + 4].copy_from_slice(&((data.len() / 4) as u16).to_be_bytes());
            pos += 4;
            out[pos..pos + data.len()].copy_from_slice(data);
            pos += data.len();
        }
        out[pos..pos + payload.len()].copy_from_slice(payload);
        pos += payload.len();
        if self.padding > 0 {
            let p = self.padding as usize;
            out[pos..pos + p - 1].fill(0);
            out[pos + p - 1] = self.padding;
            pos += p;
        }
        Ok(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Vec<u8> {
        let mut out = vec![0u8; 64];
        let n = RtpBuilder {
            marker: true,
            payload_type: 8,
            sequence: 0xfffe,
            timestamp: 0xdead_beef,
            ssrc: 0x1234_abcd,
            csrcs: &[1, 2],
            extension: Some((0xbede, &[1, 2, 3, 4])),
            padding: 3,
        }
        .write(b"hello", &mut out)
        .unwrap();
        out.truncate(n);
        out
    }

    #[test]
    fn parses_built_packet() {
        let p = RtpPacket::parse(Bytes::from(sample())).unwrap();
        assert_eq!(p.version(), 2);
        assert!(p.marker());
        assert_eq!(p.payload_type(), 8);
        assert_eq!(p.sequence(), 0xfffe);
        assert_eq!(p.timestamp(), 0xdead_beef);
        assert_eq!(p.ssrc(), 0x1234_abcd);
        assert_eq!(p.csrcs().collect::<Vec<_>>(), vec![1, 2]);
        let (profile, data) = p.extension().unwrap();
        assert_eq!(profile, 0xbede);
        assert_eq!(&data[..], &[1, 2, 3, 4]);
        assert_eq!(&p.payload()[..], b"hello");
        assert_eq!(p.padding_len(), 3);
    }

    #[test]
    fn payload_is_zero_copy() {
        let buf = Bytes::from(sample());
        let p = RtpPacket::parse(buf.clone()).unwrap();
        let payload = p.payload();
        let base = buf.as_ptr() as usize;
        let at = payload.as_ptr() as usize;
        assert!(at >= base && at < base + buf.len());
    }

    #[test]
    fn rejects_malformed() {
        assert!(matches!(
            RtpHeader::parse(&[0x80; 11]),
            Err(RtpError::TooShort { .. })
        ));
        let mut v = sample();
        v[0] = (v[0] & 0x3f) | 0x40;
        assert_eq!(RtpHeader::parse(&v), Err(RtpError::BadVersion(1)));
        let mut v = vec![0x8f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(
            RtpHeader::parse(&v),
            Err(RtpError::CsrcOverrun { count: 15, .. })
        ));
        v[0] = 0x90;
        v.extend_from_slice(&[0xbe, 0xde, 0, 2, 0, 0, 0, 0]);
        assert!(matches!(
            RtpHeader::parse(&v),
            Err(RtpError::ExtensionOverrun { words: 2, .. })
        ));
        let mut v = vec![0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 5];
        assert!(matches!(
            RtpHeader::parse(&v),
            Err(RtpError::BadPadding { padding: 5, .. })
        ));
        *v.last_mut().unwrap() = 0;
        assert!(matches!(
            RtpHeader::parse(&v),
            Err(RtpError::BadPadding { padding: 0, .. })
        ));
    }

    #[test]
    fn rewrites_in_place() {
        let mut buf = bytes::BytesMut::from(&sample()[..]);
        let mut h = RtpHeaderMut::new(&mut buf).unwrap();
        h.set_sequence(7);
        h.set_timestamp(8);
        h.set_ssrc(9);
        h.set_marker(false);
        h.set_payload_type(0).unwrap();
        assert_eq!(h.set_payload_type(128), Err(RtpError::BadPayloadType(128)));
        let p = RtpPacket::parse(buf.freeze()).unwrap();
        assert_eq!(
            (
                p.sequence(),
                p.timestamp(),
                p.ssrc(),
                p.marker(),
                p.payload_type()
            ),
            (7, 8, 9, false, 0)
        );
        assert_eq!(&p.payload()[..], b"hello");
    }

    #[test]
    fn builder_checks_buffer_and_fields() {
        let b = RtpBuilder::default();
        let mut small = [0u8; 12];
        assert!(matches!(
            b.write(b"x", &mut small),
            Err(RtpError::BufferTooSmall { need: 13, .. })
        ));
        let b = RtpBuilder {
            extension: Some((1, &[1, 2, 3])),
            ..Default::default()
        };
        assert!(matches!(
            b.write(b"", &mut [0u8; 64]),
            Err(RtpError::FieldOutOfRange(_))
        ));
    }

    #[test]
    fn rtcp_heuristic() {
        assert!(is_rtcp_like(&[0x80, 200, 0, 6]));
        assert!(is_rtcp_like(&[0x81, 201]));
        assert!(!is_rtcp_like(&[0x80, 0]));
        assert!(!is_rtcp_like(&[0x80, 0x80 | 8]));
        assert!(!is_rtcp_like(&[0x80]));
    }

    #[test]
    fn rtcp_without_sdp_is_told_from_marked_rtp_by_its_length() {
        // a receiver report: one report block, length 7 (32 bytes)
        let mut rr = vec![0x81, 201, 0, 7];
        rr.resize(32, 0);
        assert!(is_rtcp_packet(&rr));
        // the same followed by an SDES packet (a compound packet)
        let mut compound = rr.clone();
        compound.extend_from_slice(&[0x81, 202, 0, 2, 0, 0, 0, 1, 1, 0, 0, 0]);
        assert!(is_rtcp_packet(&compound));
        // a length past the datagram: cut short, or not RTCP at all
        assert!(!is_rtcp_packet(&rr[..28]));
        // a marked RTP packet of dynamic type 72 (second byte 200) and
        // sequence number 4660: a 172-byte G.711 packet, not RTCP
        let mut rtp = vec![0x80, 0x80 | 72, 0x12, 0x34];
        rtp.resize(172, 0xff);
        assert!(is_rtcp_like(&rtp));
        assert!(!is_rtcp_packet(&rtp));
        assert!(!is_rtcp_packet(&[0x80, 200, 0]));
    }

    proptest! {
        #[test]
        fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..128)) {
            if let Ok(p) = RtpPacket::parse(Bytes::from(data.clone())) {
                let _ = p.payload();
                let _ = p.extension();
                let _ = p.csrcs().count();
                prop_assert!(p.header().payload_range().end <= data.len());
            }
        }

        #[test]
        fn parse_of_build_roundtrips(
            marker in any::<bool>(),
            pt in 0u8..128,
            seq in any::<u16>(),
            ts in any::<u32>(),
            ssrc in any::<u32>(),
            csrcs in proptest::collection::vec(any::<u32>(), 0..16),
            ext in proptest::option::of((any::<u16>(), proptest::collection::vec(any::<u8>(), 0..5usize).prop_map(|v| v.repeat(4)))),
            padding in any::<u8>(),
            payload in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let b = RtpBuilder {
                marker, payload_type: pt, sequence: seq, timestamp: ts, ssrc,
                csrcs: &csrcs,
                extension: ext.as_ref().map(|(p, d)| (*p, &d[..])),
                padding,
            };
            let mut out = vec![0u8; b.packet_len(payload.len())];
            let n = b.write(&payload, &mut out).unwrap();
            prop_assert_eq!(n, out.len());
            let p = RtpPacket::parse(Bytes::from(out)).unwrap();
            prop_assert_eq!(p.marker(), marker);
            prop_assert_eq!(p.payload_type(), pt);
            prop_assert_eq!(p.sequence(), seq);
            prop_assert_eq!(p.timestamp(), ts);
            prop_assert_eq!(p.ssrc(), ssrc);
            prop_assert_eq!(p.csrcs().collect::<Vec<_>>(), csrcs);
            prop_assert_eq!(p.extension().map(|(p, d)| (p, d.to_vec())), ext);
            prop_assert_eq!(p.padding_len(), padding as usize);
            prop_assert_eq!(&p.payload()[..], &payload[..]);
        }
    }
}
