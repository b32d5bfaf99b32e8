//! The NG control path never panics: bencode decoding (whatever decodes
//! re-encodes to the same bytes), NG request parsing, the `NgServer` with a
//! node that allocates ports (every datagram with a cookie is answered with
//! a reply echoing it), and SDP extraction and rewriting (a rewritten SDP
//! parses again, with only its addresses and ports changed; one that keeps
//! fewer formats parses with just those).
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use ringwire_host::ng::bencode;
use ringwire_host::ng::command;
use ringwire_host::ng::sdp::{self, MediaPorts, RewriteOptions, Sdp};
use ringwire_host::ng::{
    Allocation, Answer, CallControl, CallStats, ControlError, Delete, NgServer, Offer, Query,
};

struct Node;

impl Node {
    fn alloc(sdp: &Sdp<'_>) -> Allocation {
        Allocation {
            address: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 5)),
            media: (0..sdp.media.len())
                .map(|i| MediaPorts::rtp(30000 + 2 * i as u16))
                .collect(),
        }
    }
}

impl CallControl for Node {
    fn offer(&mut self, _: &Offer<'_>, sdp: &Sdp<'_>) -> Result<Allocation, ControlError> {
        Ok(Self::alloc(sdp))
    }
    fn answer(&mut self, _: &Answer<'_>, sdp: &Sdp<'_>) -> Result<Allocation, ControlError> {
        Ok(Self::alloc(sdp))
    }
    fn delete(&mut self, _: &Delete<'_>) -> Result<Option<CallStats>, ControlError> {
        Ok(None)
    }
    fn query(&mut self, _: &Query<'_>) -> Result<CallStats, ControlError> {
        Err(ControlError::UnknownCall)
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = bencode::decode(data) {
        let mut out = Vec::new();
        v.encode(&mut out);
        assert_eq!(out, data);
    }
    let _ = command::parse_request(data);

    let mut server = NgServer::new(Node);
    let mut reply = Vec::new();
    let answered = server.handle(Instant::now(), data, &mut reply).is_ok();
    if let Some((cookie, _)) = command::split_cookie(data) {
        assert!(answered);
        assert!(reply.starts_with(cookie));
        let body = &reply[cookie.len() + 1..];
        assert!(matches!(bencode::decode(body), Ok(bencode::Value::Dict(_))));
    }

    if let Ok(parsed) = Sdp::parse(data) {
        let ports = vec![MediaPorts::rtp(40000); parsed.media.len()];
        let mut out = Vec::new();
        let opts = RewriteOptions {
            replace_origin: true,
            strip_ice: true,
        };
        sdp::rewrite(
            data,
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            &ports,
            opts,
            &mut out,
        )
        .expect("a parsed SDP rewrites");
        // a section that keeps its formats reversed, and its first alone,
        // parses again with just those formats
        let keep: Vec<Option<Vec<&str>>> = parsed
            .media
            .iter()
            .enumerate()
            .map(|(i, m)| match i % 2 {
                0 => Some(m.formats.iter().rev().copied().collect()),
                _ => Some(m.formats[..1].to_vec()),
            })
            .collect();
        let mut kept = Vec::new();
        if sdp::keep_formats(data, &keep, &mut kept).is_ok() {
            let filtered = Sdp::parse(&kept).expect("an SDP with fewer formats parses");
            assert_eq!(filtered.media.len(), parsed.media.len());
            for (m, k) in filtered.media.iter().zip(&keep) {
                assert_eq!(Some(&m.formats), k.as_ref());
            }
        } else {
            // refused only for a format that is no token
            assert!(parsed
                .media
                .iter()
                .flat_map(|m| &m.formats)
                .any(|f| f.bytes().any(|b| b.is_ascii_control())));
        }
        let again = Sdp::parse(&out).expect("a rewritten SDP parses");
        assert_eq!(again.media.len(), parsed.media.len());
        // only addresses and ports change
        for (a, p) in again.media.iter().zip(&parsed.media) {
            assert_eq!((a.kind, a.proto, &a.formats), (p.kind, p.proto, &p.formats));
            assert_eq!(a.port, if p.port == 0 { 0 } else { 40000 });
        }
    }
});
