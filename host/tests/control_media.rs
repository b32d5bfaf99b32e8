//! The node's call control and how it reaches peers, over real relay
//! drivers: an IPv4 node refuses media at IPv6 addresses (and `address
//! family: IP6`) with an NG error that leaves nothing behind; an IPv6 node
//! and a dual-stack node (`::`) relay calls set up through NG; `media
//! address` and `SIP-source-address` with `received-from` name the peer
//! over the SDP's address, as rtpengine reads them; RTCP multiplexed on
//! the RTP ports when both SDPs carry `a=rtcp-mux`, and the reports in it
//! scored per SSRC in `query`'s `SSRC` dict; no detectors on SRTP
//! media, which they cannot read; calls nobody deletes are deleted by the
//! node, live ones kept.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringwire_dsp::amd::AmdConfig;
use ringwire_dsp::beep::BeepConfig;
use ringwire_dsp::g711::Law;
use ringwire_dsp::signal::{to_i16, DtmfTone};
use ringwire_host::analyze::DspBackend;
use ringwire_host::live::DetectorSet;
use ringwire_host::ng::bencode::{self, Dict, Value};
use ringwire_host::ng::{NgServer, Sdp};
use ringwire_host::serve::control::{Node, NodeGauges};
use ringwire_host::serve::expiry::{Expiry, MediaIdle};
use ringwire_host::serve::ports::PortAllocator;
use ringwire_media::driver::{DriverConfig, DriverHandle, DriverKind};

const V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

/// A node whose media sockets bind on `bind`, writing `advertise` into SDP,
/// with ten port pairs from `port_min` (each test has its own range, all
/// below the kernel's ephemeral range, 32768-60999 on Debian: an endpoint
/// socket of a test running beside it, bound to port 0, could otherwise
/// hold one of its ports, and a test that counts its pairs would find one
/// short, as one once did in CI).
fn node(bind: IpAddr, advertise: IpAddr, port_min: u16) -> (NgServer<Node>, Arc<NodeGauges>) {
    let (node, gauges) = bare_node(bind, advertise, port_min, false);
    (NgServer::new(node), gauges)
}

/// [`node`] as a [`Node`], with in-band DTMF detection on every leg when
/// `dtmf` is set.
fn bare_node(
    bind: IpAddr,
    advertise: IpAddr,
    port_min: u16,
    dtmf: bool,
) -> (Node, Arc<NodeGauges>) {
    let config = DriverConfig {
        threads: 1,
        bind,
        ..DriverConfig::default()
    };
    let driver = Arc::new(DriverHandle::start(DriverKind::Portable, config).expect("driver"));
    let detectors = dtmf.then(|| {
        ringwire_host::serve::detect::start(
            &driver,
            DspBackend::Software,
            &AmdConfig::default(),
            &BeepConfig::default(),
            &[],
        )
        .expect("detectors")
    });
    let node = Node::new(
        driver,
        PortAllocator::new(port_min, port_min + 19),
        advertise,
        Arc::new(AtomicBool::new(false)),
    );
    let node = match detectors {
        Some((live, events)) => node.with_detectors(
            live,
            events,
            DetectorSet {
                dtmf: true,
                ..DetectorSet::default()
            },
        ),
        None => node,
    };
    let gauges = node.gauges();
    (node, gauges)
}

/// An SDP with one audio section (PCMU) at `ip`:`port`.
fn sdp(ip: IpAddr, port: u16) -> String {
    let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
    format!(
        "v=0\r\no=- 1 1 IN {family} {ip}\r\ns=-\r\nc=IN {family} {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\n"
    )
}

/// [`sdp`] offering RTCP multiplexing (RFC 5761).
fn sdp_mux(ip: IpAddr, port: u16) -> String {
    sdp(ip, port) + "a=rtcp-mux\r\n"
}

/// What a reply said: its result, error reason and SDP.
#[derive(Debug)]
struct Answered {
    result: String,
    error: Option<String>,
    sdp: Option<String>,
    reply: Vec<u8>,
}

fn ask(server: &mut NgServer<Node>, entries: &[(&str, Value<'_>)]) -> Answered {
    let mut d = Dict::new();
    for (k, v) in entries {
        d.insert(k, v.clone());
    }
    let mut datagram = b"ck ".to_vec();
    d.encode(&mut datagram);
    let mut reply = Vec::new();
    server
        .handle(Instant::now(), &datagram, &mut reply)
        .expect("answered");
    let Ok(Value::Dict(r)) = bencode::decode(&reply[3..]) else {
        panic!("reply is no dictionary");
    };
    let text = |k: &str| {
        r.get(k.as_bytes())
            .and_then(|v| v.as_str())
            .map(String::from)
    };
    Answered {
        result: text("result").expect("a result"),
        error: text("error-reason"),
        sdp: text("sdp"),
        reply: reply.clone(),
    }
}

/// Asks `req`, which must be refused with a reason naming each of `words`,
/// leaving no call and no port behind.
fn assert_refused(
    server: &mut NgServer<Node>,
    gauges: &NodeGauges,
    req: &[(&str, Value<'_>)],
    words: &[&str],
) {
    let o = ask(server, req);
    assert_eq!(o.result, "error");
    let why = o.error.unwrap();
    assert!(words.iter().all(|w| why.contains(w)), "{why}");
    assert_eq!(server.control().call_count(), 0);
    assert_eq!(gauges.port_pairs.load(Ordering::Relaxed), 0);
}

fn s(v: &str) -> Value<'_> {
    Value::Bytes(v.as_bytes())
}

fn offer<'a>(call: &'a str, body: &'a str) -> Vec<(&'static str, Value<'a>)> {
    vec![
        ("command", s("offer")),
        ("call-id", s(call)),
        ("from-tag", s("a")),
        ("sdp", s(body)),
    ]
}

fn answer<'a>(call: &'a str, body: &'a str) -> Vec<(&'static str, Value<'a>)> {
    vec![
        ("command", s("answer")),
        ("call-id", s(call)),
        ("from-tag", s("a")),
        ("to-tag", s("b")),
        ("sdp", s(body)),
    ]
}

/// The address and port of the reply's first media section.
fn media_of(a: &Answered) -> (String, u16) {
    let body = a.sdp.as_deref().expect("an SDP");
    let sdp = Sdp::parse(body.as_bytes()).expect("parses");
    let c = body
        .lines()
        .find(|l| l.starts_with("c=IN "))
        .expect("a c= line");
    (c[5..].trim().to_string(), sdp.media[0].port)
}

/// Asks `query` for `call` and hands `read` the dict of tag `tag`'s first
/// media section (`tags` / tag / `medias` / first).
fn with_first_media<R>(
    server: &mut NgServer<Node>,
    call: &str,
    tag: &str,
    read: impl FnOnce(&Dict<'_>) -> R,
) -> R {
    let q = ask(server, &[("command", s("query")), ("call-id", s(call))]);
    assert_eq!(q.result, "ok", "{:?}", q.error);
    let Ok(Value::Dict(r)) = bencode::decode(&q.reply[3..]) else {
        panic!()
    };
    let media = r
        .get(b"tags".as_slice())
        .and_then(|t| t.as_dict())
        .and_then(|t| t.get(tag.as_bytes()))
        .and_then(|t| t.as_dict())
        .and_then(|t| t.get(b"medias".as_slice()))
        .and_then(|m| m.as_list())
        .and_then(|m| m.first())
        .and_then(|m| m.as_dict())
        .expect("a media section");
    read(media)
}

/// The peer the node knows for tag `tag`'s first media section (its
/// `endpoint`).
fn peer_of(server: &mut NgServer<Node>, call: &str, tag: &str) -> String {
    with_first_media(server, call, tag, |media| {
        let endpoint = media
            .get(b"endpoint".as_slice())
            .and_then(|e| e.as_dict())
            .expect("an endpoint");
        let addr = endpoint.get(b"address".as_slice()).and_then(|a| a.as_str());
        let port = endpoint.get(b"port".as_slice()).and_then(|p| p.as_int());
        let ip: IpAddr = addr.unwrap().parse().expect("an IP address");
        SocketAddr::new(ip, port.unwrap() as u16).to_string()
    })
}

fn endpoint(ip: IpAddr) -> UdpSocket {
    let s = UdpSocket::bind(SocketAddr::new(ip, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(160 * seq as u32).to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend(std::iter::repeat_n(0xFF, 160));
    p
}

/// Sets up a call between two endpoints on `peer_ip` through NG, and
/// checks that RTP goes through both ways, from the node's ports.
/// Sets up `call` through NG between two fresh endpoints on `peer_ip`, A
/// offering and B answering, each SDP `body(its own port)`; both must be
/// accepted. Returns A, B and the offer's and the answer's replies.
fn set_up(
    server: &mut NgServer<Node>,
    call: &str,
    peer_ip: IpAddr,
    body: impl Fn(u16) -> String,
) -> (UdpSocket, UdpSocket, Answered, Answered) {
    let (a, b) = (endpoint(peer_ip), endpoint(peer_ip));
    let o = ask(server, &offer(call, &body(a.local_addr().unwrap().port())));
    assert_eq!(o.result, "ok", "{:?}", o.error);
    let r = ask(server, &answer(call, &body(b.local_addr().unwrap().port())));
    assert_eq!(r.result, "ok", "{:?}", r.error);
    (a, b, o, r)
}

fn relay_a_call(server: &mut NgServer<Node>, node_ip: IpAddr, peer_ip: IpAddr, call: &str) {
    let (a, b, o, r) = set_up(server, call, peer_ip, |port| sdp(peer_ip, port));
    let (o_addr, to_b) = media_of(&o);
    let (r_addr, to_a) = media_of(&r);
    let family = if node_ip.is_ipv4() { "IP4" } else { "IP6" };
    assert_eq!(o_addr, format!("{family} {node_ip}"));
    assert_eq!(r_addr, o_addr);
    // The node's address as the peers reach it: on a dual-stack node
    // bound on `::`, an IPv4 peer sends to the advertised IPv4 address.
    let (node_for_a, node_for_b) = (
        SocketAddr::new(node_ip, to_a),
        SocketAddr::new(node_ip, to_b),
    );
    let mut buf = [0u8; 512];
    for seq in 0..5 {
        a.send_to(&rtp(seq), node_for_a).unwrap();
        let (n, from) = b.recv_from(&mut buf).expect("A's RTP at B");
        assert_eq!((&buf[..n], from), (&rtp(seq)[..], node_for_b));
        b.send_to(&rtp(100 + seq), node_for_b).unwrap();
        let (n, from) = a.recv_from(&mut buf).expect("B's RTP at A");
        assert_eq!((&buf[..n], from), (&rtp(100 + seq)[..], node_for_a));
    }
    assert_eq!(
        peer_of(server, call, "a"),
        a.local_addr().unwrap().to_string()
    );
}

#[test]
fn an_ipv4_node_refuses_ipv6_media_and_keeps_nothing() {
    let (mut server, gauges) = node(V4, V4, 27_600);
    let body = sdp(V6, 40_000);
    let req = offer("v6-on-v4", &body);
    assert_refused(&mut server, &gauges, &req, &["::1", "address family"]);
    // asking for an IPv6 node address is refused the same way
    let mut req = offer("ask-ip6", "");
    let body = sdp(V4, 40_000);
    req[3] = ("sdp", s(&body));
    req.push(("address family", s("IP6")));
    let o = ask(&mut server, &req);
    assert_eq!(o.result, "error");
    assert!(o.error.as_deref().unwrap().contains("IP6"), "{:?}", o.error);
    assert_eq!(server.control().call_count(), 0);
    // and an IPv4 call still goes through
    relay_a_call(&mut server, V4, V4, "v4");
    // an answer at an IPv6 address is refused, the call kept as it was
    let o = ask(&mut server, &answer("v4", &sdp(V6, 40_002)));
    assert_eq!(o.result, "error");
    assert_eq!(server.control().call_count(), 1);
    assert_eq!(gauges.port_pairs.load(Ordering::Relaxed), 2);
}

#[test]
fn an_ipv6_node_relays_a_call_set_up_through_ng() {
    let (mut server, _) = node(V6, V6, 27_640);
    relay_a_call(&mut server, V6, V6, "v6");
    // and refuses IPv4 media
    let o = ask(&mut server, &offer("v4-on-v6", &sdp(V4, 40_000)));
    assert_eq!(o.result, "error", "{:?}", o.error);
}

#[test]
fn a_dual_stack_node_takes_both_families() {
    let (mut server, _) = node(IpAddr::V6(Ipv6Addr::UNSPECIFIED), V4, 27_680);
    relay_a_call(&mut server, V4, V4, "v4-on-dual");
    let o = ask(&mut server, &offer("v6-on-dual", &sdp(V6, 40_000)));
    assert_eq!(o.result, "ok", "{:?}", o.error);
}

#[test]
fn address_family_is_that_of_the_interface_the_sdp_names() {
    // a dual-stack node whose own address is IPv4, with an IPv6 network
    let v6_net: IpAddr = "::1".parse().unwrap();
    let (node, _) = bare_node(IpAddr::V6(Ipv6Addr::UNSPECIFIED), V4, 28_520, false);
    let interfaces = [("lan6".to_string(), v6_net)];
    let mut server = NgServer::new(node.with_interfaces(interfaces.into_iter().collect()));
    let body = sdp(V6, 40_000);
    let to_lan6 = |call: &'static str, family: &'static str| {
        let mut req = offer(call, &body);
        req.push(("direction", Value::List(vec![s("lan6"), s("lan6")])));
        req.push(("address family", s(family)));
        req
    };
    let o = ask(&mut server, &to_lan6("ip6", "IP6"));
    assert_eq!(o.result, "ok", "{:?}", o.error);
    assert_eq!(media_of(&o).0, format!("IP6 {v6_net}"));
    let o = ask(&mut server, &to_lan6("ip4", "IP4"));
    assert_eq!(o.result, "error");
    let why = o.error.unwrap();
    assert!(why.contains("IP4") && why.contains("::1"), "{why}");
}

#[test]
fn media_address_and_sip_source_name_the_peer() {
    let (mut server, _) = node(V4, V4, 27_720);
    let body = sdp(IpAddr::from([192, 0, 2, 1]), 40_000);
    // the SDP's address by default, received-from or not
    let mut req = offer("trust", &body);
    req.push(("received-from", Value::List(vec![s("IP4"), s("127.0.0.9")])));
    assert_eq!(ask(&mut server, &req).result, "ok");
    assert_eq!(peer_of(&mut server, "trust", "a"), "192.0.2.1:40000");
    // SIP-source-address: received-from's address, the SDP's port
    let mut req = offer("sip-source", &body);
    req.push(("received-from", Value::List(vec![s("IP4"), s("127.0.0.9")])));
    req.push(("flags", Value::List(vec![s("SIP-source-address")])));
    assert_eq!(ask(&mut server, &req).result, "ok");
    assert_eq!(peer_of(&mut server, "sip-source", "a"), "127.0.0.9:40000");
    // media address over both
    req.push(("media address", s("127.0.0.7")));
    req[1] = ("call-id", s("media-address"));
    assert_eq!(ask(&mut server, &req).result, "ok");
    assert_eq!(
        peer_of(&mut server, "media-address", "a"),
        "127.0.0.7:40000"
    );
    // and it is held to the node's family like the SDP's address
    let mut req = offer("media-address-v6", &body);
    req.push(("media address", s("::1")));
    assert_eq!(ask(&mut server, &req).result, "error");
}

/// An RTCP receiver report with no report blocks.
fn rtcp_rr(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 201, 0, 1];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p
}

#[test]
fn rtcp_is_multiplexed_when_both_sides_offer_it() {
    let (mut server, _) = node(V4, V4, 27_760);
    let (a, b, o, r) = set_up(&mut server, "mux", V4, |port| sdp_mux(V4, port));
    assert!(
        o.sdp.as_deref().unwrap().contains("a=rtcp-mux"),
        "passed through"
    );
    let to_b = SocketAddr::new(V4, media_of(&o).1);
    let to_a = SocketAddr::new(V4, media_of(&r).1);
    let mut buf = [0u8; 512];
    // A's first RTCP, before B has sent any: B gets it on its RTP port,
    // from the node's RTP port for B, as RFC 5761 has it
    a.send_to(&rtp(1), to_a).unwrap();
    assert_eq!(b.recv_from(&mut buf).unwrap().1, to_b);
    a.send_to(&rtcp_rr(0xA), to_a).unwrap();
    let (n, from) = b.recv_from(&mut buf).expect("A's RTCP at B's RTP port");
    assert_eq!((&buf[..n], from), (&rtcp_rr(0xA)[..], to_b));
    b.send_to(&rtcp_rr(0xB), to_b).unwrap();
    let (n, from) = a.recv_from(&mut buf).expect("B's RTCP at A's RTP port");
    assert_eq!((&buf[..n], from), (&rtcp_rr(0xB)[..], to_a));
    assert_eq!(
        media_flags(&mut server, "mux", "b"),
        ["send", "recv", "rtcp-mux"]
    );
}

/// The `type`s of a query reply's `events`.
fn event_types(reply: &[u8]) -> Vec<String> {
    let Ok(Value::Dict(r)) = bencode::decode(&reply[3..]) else {
        panic!("reply is no dictionary")
    };
    r.get(b"events".as_slice())
        .and_then(|e| e.as_list())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.as_dict()?.get(b"type".as_slice())?.as_str())
        .map(String::from)
        .collect()
}

/// Offers and answers a call whose one section is `m=KIND PORT PROTO 0`,
/// sends a plain PCMU DTMF "5" from the caller, and returns the event
/// types the node reports.
fn dtmf_events_over(
    server: &mut NgServer<Node>,
    call: &str,
    kind: &str,
    proto: &str,
) -> Vec<String> {
    let body = |port: u16| {
        sdp(V4, port)
            .replace("RTP/AVP", proto)
            .replace("m=audio", &format!("m={kind}"))
    };
    let (a, b, _, r) = set_up(server, call, V4, body);
    let to_a = SocketAddr::new(V4, media_of(&r).1);
    // 100 ms of "5" between silences, as 20 ms PCMU packets
    let mut audio = vec![0.0f64; 8 * 600];
    DtmfTone::new('5', -10.0).add_to(&mut audio[800..1600], 0.0);
    let pcm = to_i16(&audio);
    let mut ulaw = vec![0u8; pcm.len()];
    Law::Ulaw.encode(&pcm, &mut ulaw);
    for (k, chunk) in ulaw.chunks(160).enumerate() {
        let mut p = rtp(k as u16);
        p[12..].copy_from_slice(chunk);
        a.send_to(&p, to_a).unwrap();
        b.recv_from(&mut [0u8; 512]).expect("relayed");
    }
    let mut types = Vec::new();
    for _ in 0..40 {
        let q = ask(server, &[("command", s("query")), ("call-id", s(call))]);
        types = event_types(&q.reply);
        if !types.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    types
}

#[test]
fn detectors_stay_off_srtp_and_other_than_audio() {
    let (node, _) = bare_node(V4, V4, 27_800, true);
    let mut server = NgServer::new(node);
    let plain = dtmf_events_over(&mut server, "plain", "audio", "RTP/AVP");
    assert_eq!(plain, ["dtmf"]);
    for (kind, proto) in [
        ("audio", "RTP/SAVP"),
        ("audio", "UDP/TLS/RTP/SAVPF"),
        ("video", "RTP/AVP"),
    ] {
        let events = dtmf_events_over(&mut server, &format!("{kind} {proto}"), kind, proto);
        assert!(events.is_empty(), "{kind} {proto}: {events:?}");
    }
}

#[test]
fn a_transport_protocol_other_than_the_offered_one_is_refused() {
    let (mut server, gauges) = node(V4, V4, 27_840);
    let srtp = sdp(V4, 40_000).replace("RTP/AVP", "RTP/SAVP");
    let mut req = offer("translate", &srtp);
    req.push(("transport-protocol", s("RTP/AVP")));
    assert_refused(&mut server, &gauges, &req, &["RTP/SAVP", "translate"]);
    // the protocol the section already has is no translation
    let plain = sdp(V4, 40_000);
    let mut req = offer("same", &plain);
    req.push(("transport-protocol", s("RTP/AVP")));
    assert_eq!(ask(&mut server, &req).result, "ok");
}

/// A node whose legs time out after 200 ms without RTP and whose calls go
/// `expiry` after that, its relay events feeding `idle` as `serve` does.
fn expiring_node(
    port_min: u16,
    expiry: Expiry,
) -> (NgServer<Node>, Arc<NodeGauges>, Arc<MediaIdle>) {
    let (tx, rx) = std::sync::mpsc::sync_channel(1024);
    let mut config = DriverConfig {
        threads: 1,
        bind: V4,
        events: Some(tx),
        ..DriverConfig::default()
    };
    config.relay.media_timeout = Duration::from_millis(200);
    let driver = Arc::new(DriverHandle::start(DriverKind::Portable, config).expect("driver"));
    let idle = Arc::new(MediaIdle::default());
    let feed = idle.clone();
    std::thread::spawn(move || {
        for (_, e) in rx {
            feed.on_event(&e, Instant::now());
        }
    });
    let node = Node::new(
        driver,
        PortAllocator::new(port_min, port_min + 19),
        V4,
        Arc::new(AtomicBool::new(false)),
    )
    .with_expiry(idle.clone(), expiry);
    let gauges = node.gauges();
    (NgServer::new(node), gauges, idle)
}

#[test]
fn calls_nobody_deletes_are_deleted_and_live_ones_kept() {
    let expiry = Expiry {
        after_media_timeout: Some(Duration::from_millis(300)),
        after_media_timeout_held: None,
        unanswered: Some(Duration::from_millis(1500)),
    };
    let (mut server, gauges, idle) = expiring_node(27_880, expiry);
    let (a, b) = (endpoint(V4), endpoint(V4));
    let a_sdp = |port: u16| sdp(V4, port);
    // "silent": answered, never a packet; "live": answered, A talking
    // throughout; "ringing": offered only
    for call in ["silent", "live"] {
        assert_eq!(
            ask(
                &mut server,
                &offer(call, &a_sdp(a.local_addr().unwrap().port()))
            )
            .result,
            "ok"
        );
    }
    let live = ask(
        &mut server,
        &answer("live", &a_sdp(b.local_addr().unwrap().port())),
    );
    let to_live = SocketAddr::new(V4, media_of(&live).1);
    assert_eq!(
        ask(&mut server, &answer("silent", &a_sdp(40_000))).result,
        "ok"
    );
    assert_eq!(
        ask(&mut server, &offer("ringing", &a_sdp(40_002))).result,
        "ok"
    );
    let start = Instant::now();
    let mut seq = 0;
    let mut silent_gone = None;
    while start.elapsed() < Duration::from_millis(1200) {
        a.send_to(&rtp(seq), to_live).unwrap();
        seq += 1;
        if seq == 30 {
            // as if the live call's "media resumed" events were lost: its
            // legs look quiet, but their packets keep moving
            for leg in 1..=12 {
                idle.timed_out(ringwire_media::relay::LegId(leg), Instant::now());
            }
        }
        server.control_mut().expire(Instant::now());
        if silent_gone.is_none() && server.control().call_count() == 2 {
            silent_gone = Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // the silent call went after its legs' timeout (200 ms) and 300 ms more
    let gone = silent_gone.expect("the silent call was deleted");
    assert!(gone >= Duration::from_millis(500), "{gone:?}");
    assert_eq!(gauges.expired_no_media.load(Ordering::Relaxed), 1);
    // the live and the ringing calls are still there
    assert_eq!(server.control().call_count(), 2);
    assert_eq!(
        peer_of(&mut server, "live", "a"),
        a.local_addr().unwrap().to_string()
    );
    // the ringing call goes 1.5 s after its offer (A still talking)
    while start.elapsed() < Duration::from_millis(1600) {
        a.send_to(&rtp(seq), to_live).unwrap();
        seq += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    server.control_mut().expire(Instant::now());
    assert_eq!(server.control().call_count(), 1);
    assert_eq!(gauges.expired_no_answer.load(Ordering::Relaxed), 1);
    let q = ask(
        &mut server,
        &[("command", s("query")), ("call-id", s("ringing"))],
    );
    assert_eq!(q.error.as_deref(), Some("Unknown call-id"));
    // the live call's ports stay; the others' came back
    assert_eq!(gauges.port_pairs.load(Ordering::Relaxed), 2);
}

#[test]
fn a_call_on_hold_outlives_the_plain_call_timeout() {
    // Quiet is expected on hold: a call whose SDPs hold media back in
    // some direction (a=sendonly/recvonly/inactive, or c= 0.0.0.0) waits
    // `timeouts.silent` (rtpengine's silent-timeout), not `timeouts.call`.
    let expiry = Expiry {
        after_media_timeout: Some(Duration::from_millis(300)),
        after_media_timeout_held: Some(Duration::from_secs(30)),
        unanswered: None,
    };
    let (mut server, gauges, _) = expiring_node(27_960, expiry);
    let calls = [
        ("plain", sdp(V4, 40_000), sdp(V4, 40_002)),
        (
            "hold",
            sdp(V4, 40_004) + "a=sendonly\r\n",
            sdp(V4, 40_006) + "a=recvonly\r\n",
        ),
        (
            "old-hold",
            sdp(V4, 40_008),
            sdp(V4, 40_010).replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0"),
        ),
    ];
    for (call, o, a) in &calls {
        assert_eq!(ask(&mut server, &offer(call, o)).result, "ok");
        assert_eq!(ask(&mut server, &answer(call, a)).result, "ok");
    }
    let sweep_for = |server: &mut NgServer<Node>, how_long: Duration| {
        let start = Instant::now();
        while start.elapsed() < how_long {
            server.control_mut().expire(Instant::now());
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    // legs quiet after 200 ms: the plain call goes 300 ms later
    sweep_for(&mut server, Duration::from_millis(1000));
    assert_eq!(server.control().call_count(), 2, "only the plain call went");
    for call in ["hold", "old-hold"] {
        let q = ask(
            &mut server,
            &[("command", s("query")), ("call-id", s(call))],
        );
        assert_eq!(q.result, "ok", "{call}");
    }
    // each side's direction, in rtpengine's media flags
    assert_eq!(media_flags(&mut server, "hold", "a"), ["send"]);
    assert_eq!(media_flags(&mut server, "hold", "b"), ["recv"]);
    assert_eq!(media_flags(&mut server, "old-hold", "b"), ["send"]);
    // taken off hold and still quiet: the plain rule, from the quiet's start
    assert_eq!(
        ask(&mut server, &offer("hold", &sdp(V4, 40_004))).result,
        "ok"
    );
    assert_eq!(
        ask(&mut server, &answer("hold", &sdp(V4, 40_006))).result,
        "ok"
    );
    sweep_for(&mut server, Duration::from_millis(200));
    assert_eq!(server.control().call_count(), 1, "off hold, it went too");
    assert_eq!(gauges.expired_no_media.load(Ordering::Relaxed), 2);
}

#[test]
fn calls_beyond_max_calls_get_load_limit() {
    // `[media] max_calls`: a full node sends new calls to the proxy's next
    // node (Kamailio tries it on `load limit`, or on rtpengine's words for
    // the same limit from a client that does not list `load limit`).
    let (node, gauges) = bare_node(V4, V4, 28_000, false);
    let mut server = NgServer::new(node.with_max_calls(2));
    let supports = || Value::List(vec!["load limit".into()]);
    for call in ["one", "two"] {
        assert_eq!(
            ask(&mut server, &offer(call, &sdp(V4, 40_000))).result,
            "ok"
        );
    }
    let third_sdp = sdp(V4, 40_002);
    let mut third = offer("three", &third_sdp);
    let plain = ask(&mut server, &third);
    assert_eq!(
        (plain.result.as_str(), plain.error.as_deref()),
        ("error", Some("Parallel session limit reached"))
    );
    third.push(("supports", supports()));
    let r = ask(&mut server, &third);
    assert_eq!(r.result, "load limit", "{:?}", r.reply);
    assert_eq!(gauges.refused_max_calls.load(Ordering::Relaxed), 2);
    // the calls up go on: a re-offer and an answer are no new calls
    assert_eq!(
        ask(&mut server, &offer("one", &sdp(V4, 40_004))).result,
        "ok"
    );
    assert_eq!(
        ask(&mut server, &answer("one", &sdp(V4, 40_006))).result,
        "ok"
    );
    // and a call that ends makes room
    let delete = [("command", s("delete")), ("call-id", s("two"))];
    assert_eq!(ask(&mut server, &delete).result, "ok");
    assert_eq!(ask(&mut server, &third).result, "ok");
    assert_eq!(server.control().call_count(), 2);
}

#[test]
fn an_sdp_with_too_many_media_sections_is_refused_whole() {
    // each enabled section takes two port pairs: an INVITE with thousands
    // of m= lines must not take the node's ports
    use ringwire_host::serve::control::MAX_MEDIA_SECTIONS;
    let (mut server, gauges) = node(V4, V4, 28_040);
    let many = (1..=MAX_MEDIA_SECTIONS).fold(sdp(V4, 40_000), |body, i| {
        body + &format!("m=audio {} RTP/AVP 0\r\n", 40_000 + 2 * i)
    });
    let r = ask(&mut server, &offer("many", &many));
    assert_eq!(r.result, "error");
    let why = r.error.unwrap();
    assert!(
        why.contains(&format!("{} media sections", MAX_MEDIA_SECTIONS + 1)),
        "{why}"
    );
    assert_eq!(server.control().call_count(), 0, "nothing left behind");
    assert_eq!(gauges.port_pairs.load(Ordering::Relaxed), 0);
    // a call that is up keeps its media when a re-offer has too many
    let (_a, _b, _o, _r) = set_up(&mut server, "up", V4, |port| sdp(V4, port));
    let r = ask(&mut server, &offer("up", &many));
    assert_eq!(r.result, "error");
    assert_eq!(gauges.port_pairs.load(Ordering::Relaxed), 2);
}

#[test]
fn a_re_offer_with_a_new_codec_lets_a_moved_peer_latch() {
    let (mut server, _) = node(V4, V4, 27_920);
    let (_a, b, o, r) = set_up(&mut server, "codec", V4, |port| sdp(V4, port));
    let to_b = SocketAddr::new(V4, media_of(&o).1);
    let to_a = SocketAddr::new(V4, media_of(&r).1);
    // re-offer: PCMA now, at an address A's media will not come from (NAT)
    let pcma = sdp(V4, 40_010).replace("RTP/AVP 0", "RTP/AVP 8");
    assert_eq!(ask(&mut server, &offer("codec", &pcma)).result, "ok");
    let moved = endpoint(V4);
    let mut p = rtp(1);
    p[1] = 8;
    moved.send_to(&p, to_a).unwrap();
    let mut buf = [0u8; 512];
    let (n, from) = b
        .recv_from(&mut buf)
        .expect("PCMA from the moved peer latched");
    assert_eq!((&buf[..n], from), (&p[..], to_b));
    assert_eq!(
        peer_of(&mut server, "codec", "a"),
        moved.local_addr().unwrap().to_string()
    );
}

#[test]
fn deleting_a_fork_branch_that_never_answered_keeps_the_answered_call() {
    // A ring group: the INVITE forks to several agents, one answers and
    // the others are cancelled; their 487s reach the proxy's reply route,
    // which deletes with their To tags (Kamailio's rtpengine_manage does
    // on any reply of 300 or more). The answered call must go on.
    let (mut server, gauges) = node(V4, V4, 28_080);
    let (a, b, o, r) = set_up(&mut server, "fork", V4, |port| sdp(V4, port));
    // the node's ports: A sends to `node_for_a`, B hears from `node_for_b`
    let node_for_a = SocketAddr::new(V4, media_of(&r).1);
    let node_for_b = SocketAddr::new(V4, media_of(&o).1);
    for branch in ["agent-2", "agent-3"] {
        let d = ask(&mut server, &delete("fork", Some(branch)));
        assert_eq!(d.result, "ok", "{branch}");
        let reply = String::from_utf8_lossy(&d.reply).into_owned();
        assert!(reply.contains("7:warning11:Unknown tag"), "{reply}");
    }
    // so is a delete whose From tag is neither side's
    let stranger = vec![
        ("command", s("delete")),
        ("call-id", s("fork")),
        ("from-tag", s("someone-else")),
    ];
    let d = ask(&mut server, &stranger);
    let reply = String::from_utf8_lossy(&d.reply).into_owned();
    assert!(reply.contains("7:warning11:Unknown tag"), "{reply}");
    // ...or an error where the proxy asks for one
    let mut fatal = delete("fork", Some("agent-4"));
    fatal.push(("flags", Value::List(vec!["fatal".into()])));
    assert_eq!(ask(&mut server, &fatal).result, "error");
    // the call and its media are intact
    assert_eq!(server.control().call_count(), 1);
    let mut buf = [0u8; 512];
    a.send_to(&rtp(1), node_for_a).unwrap();
    let (n, from) = b.recv_from(&mut buf).expect("A's RTP still reaches B");
    assert_eq!((&buf[..n], from), (&rtp(1)[..], node_for_b));
    // the answered dialogue's own delete (the BYE) ends the call
    assert_eq!(ask(&mut server, &delete("fork", Some("b"))).result, "ok");
    assert_eq!(server.control().call_count(), 0);
    // without a delete delay (rtpengine's `delete-delay = 0`), a call
    // not yet answered ends with any branch's failure: no branch has
    // media to keep (with one, the next test, it waits for another)
    let early = sdp(V4, endpoint(V4).local_addr().unwrap().port());
    assert_eq!(ask(&mut server, &offer("early", &early)).result, "ok");
    assert_eq!(
        ask(&mut server, &delete("early", Some("agent-2"))).result,
        "ok"
    );
    assert_eq!(server.control().call_count(), 0);
    assert_eq!(gauges.port_pairs.load(Ordering::Relaxed), 0);
}

/// `delete` of `call` as a proxy sends it for To tag `to_tag` (none: the
/// whole call, as for a BYE).
fn delete<'a>(call: &'a str, to_tag: Option<&'a str>) -> Vec<(&'static str, Value<'a>)> {
    let mut d = vec![
        ("command", s("delete")),
        ("call-id", s(call)),
        ("from-tag", s("a")),
    ];
    d.extend(to_tag.map(|t| ("to-tag", s(t))));
    d
}

/// `answer` of `call` from the branch tagged `to_tag`.
fn answer_from<'a>(
    call: &'a str,
    to_tag: &'a str,
    body: &'a str,
) -> Vec<(&'static str, Value<'a>)> {
    let mut r = answer(call, body);
    r[3] = ("to-tag", s(to_tag));
    r
}

/// Sends one RTP packet from `from` to the node's `port` and says whether
/// `to` got it.
#[test]
fn a_request_the_ports_run_out_in_changes_nothing() {
    // ten port pairs, two for each enabled section: an offer that needs
    // more than are left is refused before it takes any, and a re-offer
    // before it changes the call
    let (mut server, gauges) = node(V4, V4, 28_560);
    let pairs = || gauges.port_pairs.load(Ordering::Relaxed);
    let sections = |n: u16, port: u16| {
        (1..n).fold(sdp(V4, port), |body, i| {
            body + &format!("m=audio {} RTP/AVP 0\r\n", port + 2 * i)
        })
    };
    let (a, b, o, _) = set_up(&mut server, "up", V4, |port| sdp(V4, port));
    let to_b = media_of(&o).1;
    assert_eq!(
        ask(&mut server, &offer("big", &sections(3, 41_000))).result,
        "ok"
    );
    assert_eq!(pairs(), 8);
    // a new call of two sections: room for one
    let r = ask(&mut server, &offer("two", &sections(2, 42_000)));
    assert_eq!(r.result, "error");
    assert!(r.error.unwrap().contains("port"));
    assert_eq!((server.control().call_count(), pairs()), (2, 8));
    // the call up, re-offered from a new port with two more sections:
    // room for one; its media still goes where it went
    let moved = a.local_addr().unwrap().port() + 1;
    let r = ask(&mut server, &offer("up", &sections(3, moved)));
    assert_eq!(r.result, "error");
    assert_eq!(pairs(), 8);
    assert!(relays(&b, to_b, &a), "the refused re-offer moved A's media");
    // what is left still serves a call of one section
    assert_eq!(
        ask(&mut server, &offer("one", &sdp(V4, 43_000))).result,
        "ok"
    );
    assert_eq!(pairs(), 10);
}

fn relays(from: &UdpSocket, port: u16, to: &UdpSocket) -> bool {
    from.send_to(&rtp(7), SocketAddr::new(V4, port)).unwrap();
    to.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 512];
    let got = to.recv_from(&mut buf).is_ok();
    to.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    got
}

#[test]
fn a_deleted_call_waits_out_its_delete_delay_for_another_branch() {
    // A call center's ring group and hunt: the proxy deletes when a
    // branch fails (an agent busy, or one whose early media ended), and
    // another branch answers after that. As rtpengine (`delete-delay`, 30
    // s by default), the deleted call stays, media and all, and an offer
    // or answer in that time brings it back; with no delay, the answer
    // would find no call and the caller no media.
    let (node, gauges) = bare_node(V4, V4, 28_160, false);
    let mut server = NgServer::new(node.with_delete_delay(Duration::from_secs(30)));
    let later = || Instant::now() + Duration::from_secs(31);
    let port = |s: &UdpSocket| s.local_addr().unwrap().port();
    let deleting = || gauges.calls_deleting.load(Ordering::Relaxed);

    // ring group: agent X rejects before agent Y answers
    let (caller, y) = (endpoint(V4), endpoint(V4));
    let og = ask(&mut server, &offer("group", &sdp(V4, port(&caller))));
    assert_eq!(og.result, "ok");
    let d = ask(&mut server, &delete("group", Some("x")));
    assert_eq!((d.result.as_str(), deleting()), ("ok", 1));
    let y_sdp = sdp(V4, port(&y));
    let r = ask(&mut server, &answer_from("group", "y", &y_sdp));
    assert_eq!(r.result, "ok", "{:?}", r.error);
    assert_eq!(deleting(), 0, "revived");
    server.control_mut().expire(later());
    assert_eq!(server.control().call_count(), 1, "kept past the delay");
    assert!(relays(&caller, media_of(&r).1, &y), "caller to Y");
    assert!(relays(&y, media_of(&og).1, &caller), "Y to caller");

    // hunt: X's early media, X fails, Y answers
    let (caller, x, y) = (endpoint(V4), endpoint(V4), endpoint(V4));
    let o = ask(&mut server, &offer("hunt", &sdp(V4, port(&caller))));
    let x_sdp = sdp(V4, port(&x));
    let rx = ask(&mut server, &answer_from("hunt", "x", &x_sdp));
    assert!(relays(&x, media_of(&o).1, &caller), "X's early media");
    assert_eq!(ask(&mut server, &delete("hunt", Some("x"))).result, "ok");
    let y_sdp = sdp(V4, port(&y));
    let ry = ask(&mut server, &answer_from("hunt", "y", &y_sdp));
    assert_eq!(ry.result, "ok", "{:?}", ry.error);
    assert_eq!(media_of(&ry).1, media_of(&rx).1, "the caller's port stays");
    assert!(relays(&caller, media_of(&ry).1, &y), "caller to Y");
    assert!(relays(&y, media_of(&o).1, &caller), "Y to caller");

    // a BYE: the call stays for the delay (a resent BYE is answered
    // without a warning), then goes with its ports
    let pairs = gauges.port_pairs.load(Ordering::Relaxed);
    let bye = ask(&mut server, &delete("hunt", None));
    assert_eq!((bye.result.as_str(), deleting()), ("ok", 1));
    assert!(relays(&caller, media_of(&ry).1, &y), "media in the delay");
    let again = ask(&mut server, &delete("hunt", None));
    let reply = String::from_utf8_lossy(&again.reply).into_owned();
    assert!(
        again.result == "ok" && !reply.contains("warning"),
        "{reply}"
    );
    let q = ask(
        &mut server,
        &[("command", s("query")), ("call-id", s("hunt"))],
    );
    assert_eq!(q.result, "ok");
    server.control_mut().expire(Instant::now());
    assert_eq!(server.control().call_count(), 2, "not before the delay");
    server.control_mut().expire(later());
    assert_eq!((server.control().call_count(), deleting()), (1, 0));
    assert_eq!(gauges.port_pairs.load(Ordering::Relaxed), pairs - 2);
    let gone = ask(&mut server, &delete("hunt", None));
    let reply = String::from_utf8_lossy(&gone.reply).into_owned();
    assert!(reply.contains("Unknown call-id"), "{reply}");

    // a re-offer revives too; a delete's own `delete-delay: 0` is at once
    assert_eq!(ask(&mut server, &delete("group", None)).result, "ok");
    let o2 = ask(&mut server, &offer("group", &sdp(V4, port(&caller))));
    assert_eq!(
        media_of(&o2).1,
        media_of(&og).1,
        "the same call, same ports"
    );
    assert_eq!(deleting(), 0);
    let mut now = delete("group", None);
    now.push(("delete-delay", Value::Int(0)));
    assert_eq!(ask(&mut server, &now).result, "ok");
    assert_eq!(server.control().call_count(), 0);
    assert_eq!(gauges.port_pairs.load(Ordering::Relaxed), 0);
}

#[test]
fn deleted_calls_give_up_their_room_to_new_calls() {
    // The delete delay must not cost a busy node its new calls: when the
    // ports (or `max_calls`) run out, the deleted call due soonest ends
    // early, and the new call takes its place.
    let (node, gauges) = bare_node(V4, V4, 28_200, false);
    let mut server = NgServer::new(node.with_delete_delay(Duration::from_secs(30)));
    let deleting = || gauges.calls_deleting.load(Ordering::Relaxed);
    // ten port pairs: five calls of one section (a pair a side)
    let calls = ["c0", "c1", "c2", "c3", "c4"];
    for call in calls {
        let (_a, _b, _o, _r) = set_up(&mut server, call, V4, |port| sdp(V4, port));
    }
    let o = ask(&mut server, &offer("c5", &sdp(V4, 40_000)));
    assert_eq!(o.error.as_deref(), Some("Ran out of ports"));
    for call in ["c1", "c3"] {
        assert_eq!(ask(&mut server, &delete(call, None)).result, "ok");
    }
    assert_eq!(deleting(), 2);
    let o = ask(&mut server, &offer("c5", &sdp(V4, 40_000)));
    assert_eq!(o.result, "ok", "{:?}", o.error);
    let r = ask(&mut server, &answer("c5", &sdp(V4, 40_002)));
    assert_eq!(r.result, "ok", "{:?}", r.error);
    assert_eq!(deleting(), 1, "one deleted call made room");
    let gone = ask(
        &mut server,
        &[("command", s("query")), ("call-id", s("c1"))],
    );
    assert_eq!(
        gone.error.as_deref(),
        Some("Unknown call-id"),
        "the first deleted"
    );
    let kept = ask(
        &mut server,
        &[("command", s("query")), ("call-id", s("c3"))],
    );
    assert_eq!(kept.result, "ok");

    // max_calls: a deleted call's place goes to a new call too
    let (node, gauges) = bare_node(V4, V4, 28_240, false);
    let node = node
        .with_delete_delay(Duration::from_secs(30))
        .with_max_calls(2);
    let mut server = NgServer::new(node);
    for call in ["m0", "m1"] {
        assert_eq!(
            ask(&mut server, &offer(call, &sdp(V4, 40_000))).result,
            "ok"
        );
    }
    assert_eq!(ask(&mut server, &delete("m0", None)).result, "ok");
    assert_eq!(
        ask(&mut server, &offer("m2", &sdp(V4, 40_000))).result,
        "ok"
    );
    assert_eq!(server.control().call_count(), 2);
    assert_eq!(gauges.refused_max_calls.load(Ordering::Relaxed), 0);
    assert_eq!(gauges.calls_deleting.load(Ordering::Relaxed), 0);
}

#[test]
fn a_t38_re_offer_is_relayed_as_it_is_and_media_that_is_not_udp_refused() {
    // A gateway that hears a fax tone re-INVITEs to T.38 (m=image udptl),
    // here in place of the audio section, as many do: the section's legs
    // carry the UDPTL datagrams untouched, then RTP again when the call
    // goes back to audio. A section that is not over UDP (MSRP over TCP)
    // is refused, and the call stays as it was.
    let (mut server, _) = node(V4, V4, 28_120);
    let (a, b, _, _) = set_up(&mut server, "fax", V4, |port| sdp(V4, port));
    let port = |s: &UdpSocket| s.local_addr().unwrap().port();
    let t38 = |p: u16| {
        sdp(V4, p).replace(
            &format!("m=audio {p} RTP/AVP 0"),
            &format!("m=image {p} udptl t38\r\na=T38FaxVersion:0"),
        )
    };
    let o = ask(&mut server, &offer("fax", &t38(port(&a))));
    assert_eq!(o.result, "ok", "{:?}", o.error);
    let r = ask(&mut server, &answer("fax", &t38(port(&b))));
    assert_eq!(r.result, "ok", "{:?}", r.error);
    let (node_for_a, node_for_b) = (
        SocketAddr::new(V4, media_of(&r).1),
        SocketAddr::new(V4, media_of(&o).1),
    );
    // UDPTL: a sequence number and IFP data, no RTP header
    let ifp = [0x00u8, 0x01, 0x06, 0xde, 0xad, 0xbe, 0xef];
    let mut buf = [0u8; 512];
    a.send_to(&ifp, node_for_a).unwrap();
    let (n, from) = b.recv_from(&mut buf).expect("the fax's datagram at B");
    assert_eq!((&buf[..n], from), (&ifp[..], node_for_b));
    b.send_to(&ifp[..5], node_for_b).unwrap();
    let (n, from) = a.recv_from(&mut buf).expect("B's datagram at A");
    assert_eq!((&buf[..n], from), (&ifp[..5], node_for_a));
    // back to audio: RTP again
    assert_eq!(
        ask(&mut server, &offer("fax", &sdp(V4, port(&a)))).result,
        "ok"
    );
    assert_eq!(
        ask(&mut server, &answer("fax", &sdp(V4, port(&b)))).result,
        "ok"
    );
    a.send_to(&rtp(1), node_for_a).unwrap();
    let (n, _) = b.recv_from(&mut buf).expect("audio again");
    assert_eq!(&buf[..n], &rtp(1)[..]);
    // MSRP (over TCP) cannot be relayed: refused, the call untouched
    let msrp = sdp(V4, port(&a)) + "m=message 40040 TCP/MSRP *\r\n";
    let refused = ask(&mut server, &offer("fax", &msrp));
    assert_eq!(refused.result, "error");
    let why = refused.error.unwrap();
    assert!(
        why.contains("section 2") && why.contains("TCP/MSRP"),
        "{why}"
    );
    a.send_to(&rtp(2), node_for_a).unwrap();
    let (n, _) = b.recv_from(&mut buf).expect("audio after the refusal");
    assert_eq!(&buf[..n], &rtp(2)[..]);
}

/// The `stats` of the RTP stream of tag `tag`'s first media section in a
/// `query` reply, and that stream's `SSRC` if it has one.
fn rtp_stream_stats(
    server: &mut NgServer<Node>,
    call: &str,
    tag: &str,
) -> (Vec<(String, i64)>, Option<i64>) {
    with_first_media(server, call, tag, |media| {
        let stream = media
            .get(b"streams".as_slice())
            .and_then(|s| s.as_list())
            .and_then(|s| s.first())
            .and_then(|s| s.as_dict())
            .expect("an RTP stream");
        let stats = stream
            .get(b"stats".as_slice())
            .and_then(|s| s.as_dict())
            .expect("stats")
            .iter()
            .map(|(k, v)| {
                let name = String::from_utf8_lossy(k).into_owned();
                (name, v.as_int().expect("a number"))
            })
            .collect();
        (
            stats,
            stream.get(b"SSRC".as_slice()).and_then(|v| v.as_int()),
        )
    })
}

#[test]
fn query_reports_loss_duplicates_reordering_and_jitter_of_each_peer() {
    let (mut server, _) = node(V4, V4, 28_280);
    let (a, b, _, r) = set_up(&mut server, "quality", V4, |port| sdp(V4, port));
    let to_a = SocketAddr::new(V4, media_of(&r).1);
    // 0..=20 with 5 and 6 lost, 10 sent twice, 15 after 16; each packet 20
    // ms of media sent at once, so the node sees jitter.
    let order = [
        0, 1, 2, 3, 4, 7, 8, 9, 10, 10, 11, 12, 13, 14, 16, 15, 17, 18, 19, 20,
    ];
    let mut buf = [0u8; 512];
    for seq in order {
        a.send_to(&rtp(seq), to_a).unwrap();
        b.recv_from(&mut buf).expect("relayed to B");
    }
    let (stats, ssrc) = rtp_stream_stats(&mut server, "quality", "a");
    let get = |k: &str| stats.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
    assert_eq!(ssrc, Some(0x1234_5678));
    assert_eq!(get("packets"), Some(20));
    assert_eq!(get("lost"), Some(2), "{stats:?}");
    assert_eq!(get("duplicates"), Some(1));
    assert_eq!(get("out of order"), Some(1));
    let (jitter_ms, jitter_us) = (get("jitter").unwrap(), get("jitter us").unwrap());
    assert!(
        jitter_us > 1000,
        "20 ms of media per packet sent at once: {jitter_us} us"
    );
    assert_eq!(jitter_ms, (jitter_us + 500) / 1000);
    // B sent nothing: no SSRC yet, nothing lost.
    let (stats, ssrc) = rtp_stream_stats(&mut server, "quality", "b");
    assert_eq!(ssrc, None);
    assert!(stats.contains(&("lost".into(), 0)), "{stats:?}");
    // when each peer's last packet came (Unix seconds): A's just now
    let last_packet = |server: &mut NgServer<Node>, tag: &str| {
        with_first_media(server, "quality", tag, |m| {
            m.get(b"streams".as_slice())
                .and_then(|s| s.as_list())
                .and_then(|s| s.first())
                .and_then(|s| s.as_dict())
                .and_then(|s| s.get(b"last packet".as_slice()))
                .and_then(|t| t.as_int())
        })
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let a_last = last_packet(&mut server, "a").expect("A's last packet");
    assert!((now - 5..=now).contains(&a_last), "{a_last} vs {now}");
    assert_eq!(last_packet(&mut server, "b"), None);
}

#[test]
fn query_names_each_sides_codec_and_the_answer_settles_it() {
    let (mut server, _) = node(V4, V4, 28_320);
    let codec = |server: &mut NgServer<Node>, tag: &str| {
        with_first_media(server, "codecs", tag, |m| {
            m.get(b"codec".as_slice())
                .and_then(|c| c.as_str())
                .map(String::from)
        })
    };
    // the caller offers µ-law first, A-law second, and DTMF events
    let offered = sdp(V4, 40_000).replace("RTP/AVP 0", "RTP/AVP 0 8 101")
        + "a=rtpmap:101 telephone-event/8000\r\n";
    assert_eq!(ask(&mut server, &offer("codecs", &offered)).result, "ok");
    assert_eq!(codec(&mut server, "a").as_deref(), Some("PCMU/8000"));
    // the agent's phone takes A-law: both sides then use it
    let answered = sdp(V4, 40_002).replace("RTP/AVP 0", "RTP/AVP 8 101")
        + "a=rtpmap:101 telephone-event/8000\r\n";
    assert_eq!(ask(&mut server, &answer("codecs", &answered)).result, "ok");
    assert_eq!(codec(&mut server, "b").as_deref(), Some("PCMA/8000"));
    assert_eq!(codec(&mut server, "a").as_deref(), Some("PCMA/8000"));
    // each section's type, protocol and direction, as rtpengine names them
    let (kind, protocol) = with_first_media(&mut server, "codecs", "a", |m| {
        let text = |k: &str| {
            m.get(k.as_bytes())
                .and_then(|v| v.as_str())
                .map(String::from)
        };
        (text("type"), text("protocol"))
    });
    assert_eq!(kind.as_deref(), Some("audio"));
    assert_eq!(protocol.as_deref(), Some("RTP/AVP"));
    assert_eq!(media_flags(&mut server, "codecs", "a"), ["send", "recv"]);
}

/// The `flags` of tag `tag`'s first media section.
fn media_flags(server: &mut NgServer<Node>, call: &str, tag: &str) -> Vec<String> {
    with_first_media(server, call, tag, |m| {
        m.get(b"flags".as_slice())
            .and_then(|f| f.as_list())
            .expect("flags")
            .iter()
            .filter_map(|f| f.as_str().map(String::from))
            .collect()
    })
}

/// An SR from `ssrc` at NTP time `ntp` (seconds), or an RR; with
/// `block: Some((lsr, held_ms, fraction_lost))` one report block naming
/// the SR of NTP time `lsr` (seconds; 0: none received), held `held_ms`
/// (DLSR), with `fraction_lost` (1/256) and 9 packets lost in all.
fn report(ssrc: u32, ntp: Option<u32>, block: Option<(u32, u32, u8)>) -> Vec<u8> {
    use ringwire_media::rtcp::{write_report, NtpTime, ReportBlock, SenderInfo};
    let ntp_time = |seconds| NtpTime {
        seconds,
        fraction: 0,
    };
    let sender = ntp.map(|s| SenderInfo {
        ntp: ntp_time(s),
        ..SenderInfo::default()
    });
    let blocks: Vec<ReportBlock> = block
        .map(|(lsr, held_ms, fraction_lost)| ReportBlock {
            ssrc: 0x1234_5678,
            fraction_lost,
            cumulative_lost: 9,
            lsr: if lsr == 0 { 0 } else { ntp_time(lsr).middle() },
            dlsr: held_ms * 65_536 / 1000,
            ..ReportBlock::default()
        })
        .into_iter()
        .collect();
    let mut out = Vec::new();
    write_report(&mut out, ssrc, sender, &blocks);
    out
}

/// The `SSRC` dict of a `query` of `call`, flattened
/// ([`common::ssrc_entries`]).
fn ssrc_entries(server: &mut NgServer<Node>, call: &str) -> Vec<(String, String, i64)> {
    let q = ask(server, &[("command", s("query")), ("call-id", s(call))]);
    common::ssrc_entries(&q.reply[3..])
}

#[test]
fn rtcp_reports_through_the_node_are_scored_per_ssrc_as_kamailio_reads_them() {
    let (mut server, _) = node(V4, V4, 28_360);
    let (a, b, o, r) = set_up(&mut server, "mos", V4, |port| sdp_mux(V4, port));
    let to_b = SocketAddr::new(V4, media_of(&o).1);
    let to_a = SocketAddr::new(V4, media_of(&r).1);
    let mut buf = [0u8; 512];
    let mut pass = |from: &UdpSocket, to: SocketAddr, at: &UdpSocket, p: &[u8]| {
        from.send_to(p, to).unwrap();
        let (n, _) = at.recv_from(&mut buf).expect("relayed");
        assert_eq!(&buf[..n], p);
    };
    pass(&a, to_a, &b, &rtp(1));
    pass(&b, to_b, &a, &rtp(2));
    // B's SR reaches A; A names it 30 ms later, saying it held it 10 ms:
    // 20 ms or more between the node and A (B's side is not known yet)
    pass(&b, to_b, &a, &report(0xB, Some(100), None));
    std::thread::sleep(Duration::from_millis(30));
    pass(&a, to_a, &b, &report(0xA, Some(200), Some((100, 10, 0))));
    // A's SR reaches B; B names it 30 ms later, held 10 ms, 10% lost since
    // its last report: scored with both round trips
    std::thread::sleep(Duration::from_millis(30));
    pass(&b, to_b, &a, &report(0xB, None, Some((200, 10, 26))));
    // A's next report, a second after its first (closer ones count once),
    // naming no SR: its last round trip holds
    std::thread::sleep(Duration::from_millis(1050));
    pass(&a, to_a, &b, &report(0xA, None, Some((0, 0, 0))));

    let entries = ssrc_entries(&mut server, "mos");
    let get = |ssrc: &str, key: &str| {
        entries
            .iter()
            .find(|(s, k, _)| s == ssrc && k == key)
            .map(|(_, _, v)| *v)
            .unwrap_or_else(|| panic!("{ssrc} {key} in {entries:?}"))
    };
    // the RTP SSRC both sent is known, but nothing reported from it
    assert_eq!(get("305419896", ""), 0);
    // B (SSRC 11): one scored report, 10% lost
    assert_eq!(get("11", "average MOS/samples"), 1);
    assert_eq!(get("11", "cumulative loss"), 9);
    assert_eq!(get("11", "lowest MOS/packet loss"), 10);
    let (rtt, leg) = (
        get("11", "average MOS/round-trip time"),
        get("11", "average MOS/round-trip time leg"),
    );
    assert!((20_000..1_000_000).contains(&leg), "{leg} us");
    assert!((40_000..2_000_000).contains(&rtt) && rtt > leg, "{rtt} us");
    let b_mos = get("11", "average MOS/MOS");
    assert!((30..=40).contains(&b_mos), "10% lost: {b_mos}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - get("11", "lowest MOS/reported at")).abs() <= 5);
    // A (SSRC 10): its first report unscored, its second clean
    assert_eq!(get("10", "average MOS/samples"), 1);
    assert_eq!(get("10", "highest MOS/packet loss"), 0);
    let a_mos = get("10", "highest MOS/MOS");
    assert!((42..=44).contains(&a_mos) && a_mos > b_mos, "{a_mos}");
}

/// `cmd` with the NG `label` `l`.
fn labelled<'a>(
    mut cmd: Vec<(&'static str, Value<'a>)>,
    l: &'a str,
) -> Vec<(&'static str, Value<'a>)> {
    cmd.push(("label", s(l)));
    cmd
}

/// Each tag's `label` in a `query` of `call`, in the reply's order.
fn labels(server: &mut NgServer<Node>, call: &str) -> Vec<(String, Option<String>)> {
    let q = ask(server, &[("command", s("query")), ("call-id", s(call))]);
    let Ok(Value::Dict(r)) = bencode::decode(&q.reply[3..]) else {
        panic!()
    };
    let tags = r
        .get(b"tags".as_slice())
        .and_then(|t| t.as_dict())
        .expect("tags");
    tags.iter()
        .map(|(tag, d)| {
            let label = d
                .as_dict()
                .and_then(|d| d.get(b"label".as_slice()))
                .and_then(|l| l.as_str())
                .map(String::from);
            (String::from_utf8_lossy(tag).into_owned(), label)
        })
        .collect()
}

#[test]
fn labels_name_the_side_that_sent_each_sdp_as_kamailio_finds_them() {
    // Kamailio's `mos_A_label_pv` and `mos_B_label_pv` find each side's
    // tag by the `label` its offer or answer carried
    let (mut server, _) = node(V4, V4, 28_400);
    let (offered, answered) = (sdp(V4, 40_000), sdp(V4, 40_002));
    let o = ask(&mut server, &labelled(offer("labels", &offered), "caller"));
    assert_eq!(o.result, "ok");
    assert_eq!(
        labels(&mut server, "labels"),
        [("a".into(), Some("caller".into()))]
    );
    let r = ask(
        &mut server,
        &labelled(answer("labels", &answered), "callee"),
    );
    assert_eq!(r.result, "ok");
    let both = labels(&mut server, "labels");
    assert_eq!(
        both,
        [
            ("a".into(), Some("caller".into())),
            ("b".into(), Some("callee".into()))
        ]
    );
    // a re-offer without one keeps the side's label
    assert_eq!(ask(&mut server, &offer("labels", &offered)).result, "ok");
    assert_eq!(labels(&mut server, "labels"), both);
    // a request the node refuses changes neither label nor tag: a re-offer
    // and an answer from a new branch, both asking for SRTP
    let mut refused = labelled(offer("labels", &offered), "someone else");
    refused.push(("transport-protocol", s("RTP/SAVP")));
    assert_eq!(ask(&mut server, &refused).result, "error");
    let mut refused = labelled(answer("labels", &answered), "another branch");
    refused[3] = ("to-tag", s("c"));
    refused.push(("transport-protocol", s("RTP/SAVP")));
    assert_eq!(ask(&mut server, &refused).result, "error");
    assert_eq!(labels(&mut server, "labels"), both);
}

/// The tags in the reply to a `query` of `call` with these From and To
/// tags, and its RTP packet total.
fn queried_tags(
    server: &mut NgServer<Node>,
    call: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> (Vec<String>, i64) {
    let mut cmd = vec![("command", s("query")), ("call-id", s(call))];
    if let Some(f) = from {
        cmd.push(("from-tag", s(f)));
    }
    if let Some(t) = to {
        cmd.push(("to-tag", s(t)));
    }
    let q = ask(server, &cmd);
    assert_eq!(q.result, "ok");
    let Ok(Value::Dict(r)) = bencode::decode(&q.reply[3..]) else {
        panic!()
    };
    let tags = r
        .get(b"tags".as_slice())
        .and_then(|t| t.as_dict())
        .expect("tags")
        .iter()
        .map(|(tag, _)| String::from_utf8_lossy(tag).into_owned())
        .collect();
    let packets = r
        .get(b"totals".as_slice())
        .and_then(|t| t.as_dict())
        .and_then(|t| t.get(b"RTP".as_slice()))
        .and_then(|t| t.as_dict())
        .and_then(|t| t.get(b"packets".as_slice()))
        .and_then(|p| p.as_int())
        .expect("totals");
    (tags, packets)
}

#[test]
fn a_query_naming_a_tag_of_neither_side_gets_no_tags_as_on_rtpengine() {
    // rtpengine 10.5 looks the To tag up, else the From tag: a side it
    // knows gives the whole call, one it does not an empty `tags` and
    // zero totals (a forked branch's To tag after another answered)
    let (mut server, _) = node(V4, V4, 28_440);
    relay_a_call(&mut server, V4, V4, "tagged");
    let both = (vec!["a".to_string(), "b".to_string()], 10);
    let q = |server: &mut NgServer<Node>, from, to| queried_tags(server, "tagged", from, to);
    assert_eq!(q(&mut server, None, None), both);
    assert_eq!(q(&mut server, Some("a"), None), both);
    assert_eq!(q(&mut server, Some("b"), Some("a")), both);
    assert_eq!(q(&mut server, Some("zz"), Some("b")), both);
    assert_eq!(q(&mut server, Some("a"), Some("")), both);
    assert_eq!(q(&mut server, Some("zz"), None), (vec![], 0));
    assert_eq!(q(&mut server, Some("a"), Some("other-branch")), (vec![], 0));
}

#[test]
fn an_offers_direction_puts_each_side_behind_its_named_interface() {
    // a node between agents on a LAN and carriers outside: sockets on the
    // wildcard address, an address for each network
    let lan: IpAddr = "127.0.0.2".parse().unwrap();
    let wan: IpAddr = "127.0.0.3".parse().unwrap();
    let (node, _) = bare_node(IpAddr::V4(Ipv4Addr::UNSPECIFIED), V4, 28_480, false);
    let interfaces = [("internal".to_string(), lan), ("external".to_string(), wan)];
    let mut server = NgServer::new(node.with_interfaces(interfaces.into_iter().collect()));
    let (caller, agent) = (endpoint(V4), endpoint(V4));
    let port = |e: &UdpSocket| e.local_addr().unwrap().port();
    // a carrier's call for an agent: the offer goes on into the LAN, the
    // answer back out to the carrier
    let (caller_sdp, agent_sdp) = (sdp(V4, port(&caller)), sdp(V4, port(&agent)));
    let mut o = offer("inbound", &caller_sdp);
    o.push(("direction", Value::List(vec![s("external"), s("internal")])));
    let o = ask(&mut server, &o);
    assert_eq!(o.result, "ok", "{:?}", o.error);
    let (to_agent, agent_port) = media_of(&o);
    assert_eq!(to_agent, format!("IP4 {lan}"));
    let r = ask(&mut server, &answer("inbound", &agent_sdp));
    assert_eq!(r.result, "ok", "{:?}", r.error);
    let (to_caller, caller_port) = media_of(&r);
    assert_eq!(to_caller, format!("IP4 {wan}"));
    // the media each side sends to its interface's address goes through
    let mut buf = [0u8; 512];
    caller
        .send_to(&rtp(1), SocketAddr::new(wan, caller_port))
        .unwrap();
    let (n, _) = agent
        .recv_from(&mut buf)
        .expect("the caller's RTP at the agent");
    assert_eq!(&buf[..n], &rtp(1)[..]);
    agent
        .send_to(&rtp(2), SocketAddr::new(lan, agent_port))
        .unwrap();
    let (n, _) = caller
        .recv_from(&mut buf)
        .expect("the agent's RTP at the caller");
    assert_eq!(&buf[..n], &rtp(2)[..]);
    // the agent's re-INVITE (no direction) reaches the carrier with its
    // interface's address too
    let mut reoffer = offer("inbound", &agent_sdp);
    reoffer[2] = ("from-tag", s("b"));
    let re = ask(&mut server, &reoffer);
    assert_eq!(re.result, "ok", "{:?}", re.error);
    assert_eq!(media_of(&re).0, format!("IP4 {wan}"));
    // a re-offer the node refuses changes nothing, its direction neither
    let mut refused = offer("inbound", &caller_sdp);
    refused.push(("direction", Value::List(vec![s("internal"), s("external")])));
    refused.push(("transport-protocol", s("RTP/SAVP")));
    assert_eq!(ask(&mut server, &refused).result, "error");
    let again = ask(&mut server, &offer("inbound", &caller_sdp));
    assert_eq!(again.result, "ok", "{:?}", again.error);
    assert_eq!(media_of(&again).0, format!("IP4 {lan}"));
    // `address family` is held to the address the SDP will carry
    let mut ip6 = offer("inbound", &caller_sdp);
    ip6.push(("address family", s("IP6")));
    let refused = ask(&mut server, &ip6);
    assert_eq!(refused.result, "error");
    assert!(refused.error.unwrap().contains(&lan.to_string()));
    ip6.pop();
    ip6.push(("address family", s("IP4")));
    assert_eq!(ask(&mut server, &ip6).result, "ok");
    // names the node does not know are its own address, as on rtpengine
    let elsewhere = sdp(V4, 40_010);
    let mut unknown = offer("elsewhere", &elsewhere);
    unknown.push(("direction", Value::List(vec![s("dmz"), s("voip")])));
    let u = ask(&mut server, &unknown);
    assert_eq!(u.result, "ok", "{:?}", u.error);
    assert_eq!(media_of(&u).0, format!("IP4 {V4}"));
}
