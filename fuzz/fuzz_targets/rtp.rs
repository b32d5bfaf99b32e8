//! RTP parse, accessors, in-place rewrite and re-build never panic, and a
//! parsed packet rebuilds to the same fields.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use ringwire_media::rtp::{is_rtcp_like, is_rtcp_packet, RtpBuilder, RtpHeaderMut, RtpPacket};

fuzz_target!(|data: &[u8]| {
    // the length check only narrows the second-byte test
    assert!(!is_rtcp_packet(data) || is_rtcp_like(data));
    let Ok(p) = RtpPacket::parse(Bytes::copy_from_slice(data)) else {
        return;
    };
    let csrcs: Vec<u32> = p.csrcs().collect();
    let ext = p.extension();
    let payload = p.payload();
    let b = RtpBuilder {
        marker: p.marker(),
        payload_type: p.payload_type(),
        sequence: p.sequence(),
        timestamp: p.timestamp(),
        ssrc: p.ssrc(),
        csrcs: &csrcs,
        extension: ext.as_ref().map(|(id, d)| (*id, &d[..])),
        padding: p.padding_len() as u8,
    };
    let mut out = vec![0u8; b.packet_len(payload.len())];
    let n = b
        .write(&payload, &mut out)
        .expect("rebuild of a parsed packet");
    let q = RtpPacket::parse(Bytes::from(out[..n].to_vec())).expect("parse of a rebuilt packet");
    assert_eq!(q.payload(), payload);
    assert_eq!(q.sequence(), p.sequence());
    assert_eq!(q.extension(), ext);
    let mut raw = data.to_vec();
    if let Ok(mut h) = RtpHeaderMut::new(&mut raw) {
        h.set_sequence(1);
        h.set_timestamp(2);
        h.set_ssrc(3);
        h.set_marker(true);
        let _ = h.set_payload_type(data[1]);
    }
});
