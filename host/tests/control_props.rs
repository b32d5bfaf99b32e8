//! Property test of the node's call control over a real relay driver (the
//! portable one, and io_uring): any sequence of NG offers, answers,
//! queries and deletes (repeated tags, answers before offers, more or fewer
//! media sections than the call has, disabled sections, unknown calls, a
//! port range small enough to run out, SDPs of every flavour the node
//! treats apart: rtcp-mux, SRTP, video, hold at 0.0.0.0, IPv6 media an
//! IPv4 node refuses) gets a reply to every request,
//! rewrites every SDP it accepts to ports of its range, takes no port and
//! makes no call with a request it refuses, keeps the metrics' gauges
//! current (sweeps included), and gives every
//! port back once the calls are deleted (and, with a delete delay, once
//! that is over, whatever offers and answers revived them meanwhile).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use ringwire_host::ng::bencode::{self, Dict, Value};
use ringwire_host::ng::{NgServer, Sdp};
use ringwire_host::serve::control::Node;
use ringwire_host::serve::ports::PortAllocator;
use ringwire_media::driver::{DriverConfig, DriverHandle, DriverKind};

/// Ports in a node's range: 15 RTP/RTCP pairs, so a scenario can use them
/// up, and an odd number, so that a section can get its first leg and not
/// its second. Each test has its own range (tests of one binary run at
/// once).
const RANGE: u16 = 30;

#[derive(Debug, Clone)]
enum Step {
    /// An offer on call `call` from tag `tag`, its sections enabled or not.
    Offer {
        call: u8,
        tag: u8,
        media: Vec<bool>,
        flavour: Flavour,
    },
    /// An answer on call `call`, from tag `from` to tag `to`.
    Answer {
        call: u8,
        from: u8,
        to: u8,
        media: Vec<bool>,
        flavour: Flavour,
    },
    Query(u8),
    /// A delete of the whole call, or of one tag's side, or of the
    /// dialogue to tag `to` (a forked call's branch).
    Delete {
        call: u8,
        tag: Option<u8>,
        to: Option<u8>,
    },
    /// The node's once-a-second sweep, before the delete delay is over
    /// or after it.
    Sweep {
        past_delay: bool,
    },
}

/// The delete delay of the nodes that have one.
const DELETE_DELAY: Duration = Duration::from_secs(30);

/// What an SDP of a step looks like beyond its sections.
#[derive(Debug, Clone, Copy)]
enum Flavour {
    Plain,
    /// `a=rtcp-mux` on every section.
    RtcpMux,
    /// `RTP/SAVP` sections (no detectors).
    Srtp,
    /// `m=video` sections (no detectors).
    Video,
    /// `c=IN IP4 0.0.0.0` (hold, RFC 2543 style).
    Hold,
    /// `c=IN IP6 ::1`: refused by this IPv4 node, unless no section is on.
    Ipv6,
}

fn flavour() -> impl Strategy<Value = Flavour> {
    prop_oneof![
        4 => Just(Flavour::Plain),
        1 => Just(Flavour::RtcpMux),
        1 => Just(Flavour::Srtp),
        1 => Just(Flavour::Video),
        1 => Just(Flavour::Hold),
        1 => Just(Flavour::Ipv6),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let media = proptest::collection::vec(prop_oneof![4 => Just(true), 1 => Just(false)], 0..4);
    prop_oneof![
        4 => (0..4u8, 0..3u8, media.clone(), flavour())
            .prop_map(|(call, tag, media, flavour)| Step::Offer { call, tag, media, flavour }),
        3 => (0..4u8, 0..3u8, 0..3u8, media, flavour())
            .prop_map(|(call, from, to, media, flavour)| Step::Answer { call, from, to, media, flavour }),
        1 => (0..5u8).prop_map(Step::Query),
        2 => (0..5u8, proptest::option::of(0..3u8), proptest::option::of(0..4u8))
            .prop_map(|(call, tag, to)| Step::Delete { call, tag, to }),
        1 => any::<bool>().prop_map(|past_delay| Step::Sweep { past_delay }),
    ]
}

fn sdp(media: &[bool], port_base: u16, flavour: Flavour) -> String {
    let c = match flavour {
        Flavour::Hold => "IP4 0.0.0.0",
        Flavour::Ipv6 => "IP6 ::1",
        _ => "IP4 127.0.0.1",
    };
    let (kind, proto) = match flavour {
        Flavour::Srtp => ("audio", "RTP/SAVP"),
        Flavour::Video => ("video", "RTP/AVP"),
        _ => ("audio", "RTP/AVP"),
    };
    let mut s = format!("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN {c}\r\nt=0 0\r\n");
    for (i, &on) in media.iter().enumerate() {
        let port = if on { port_base + 2 * i as u16 } else { 0 };
        s += &format!("m={kind} {port} {proto} 0 101\r\na=rtpmap:101 telephone-event/8000\r\n");
        if let Flavour::RtcpMux = flavour {
            s += "a=rtcp-mux\r\n";
        }
    }
    s
}

fn datagram(cookie: usize, entries: &[(&str, &str)]) -> Vec<u8> {
    let mut d = Dict::new();
    for (k, v) in entries {
        d.insert(k, Value::Bytes(v.as_bytes()));
    }
    let mut out = format!("c{cookie} ").into_bytes();
    d.encode(&mut out);
    out
}

fn request(cookie: usize, step: &Step) -> Vec<u8> {
    let call_id = |c: u8| format!("call-{c}");
    let tag = |t: u8| format!("tag-{t}");
    match step {
        Step::Offer {
            call,
            tag: t,
            media,
            flavour,
        } => datagram(
            cookie,
            &[
                ("command", "offer"),
                ("call-id", &call_id(*call)),
                ("from-tag", &tag(*t)),
                ("sdp", &sdp(media, 30_000, *flavour)),
            ],
        ),
        Step::Answer {
            call,
            from,
            to,
            media,
            flavour,
        } => datagram(
            cookie,
            &[
                ("command", "answer"),
                ("call-id", &call_id(*call)),
                ("from-tag", &tag(*from)),
                ("to-tag", &tag(*to)),
                ("sdp", &sdp(media, 32_000, *flavour)),
            ],
        ),
        Step::Query(call) => datagram(
            cookie,
            &[("command", "query"), ("call-id", &call_id(*call))],
        ),
        Step::Delete { call, tag: t, to } => {
            let (id, from, to) = (call_id(*call), t.map(tag), to.map(tag));
            let mut entries = vec![("command", "delete"), ("call-id", id.as_str())];
            entries.extend(from.as_deref().map(|f| ("from-tag", f)));
            entries.extend(to.as_deref().map(|t| ("to-tag", t)));
            datagram(cookie, &entries)
        }
        Step::Sweep { .. } => unreachable!("a sweep is no request"),
    }
}

/// Checks one reply: a dictionary with a result; an accepted offer or
/// answer carries an SDP with the request's sections, each enabled one on
/// a port of the node's range.
fn check_reply(
    step: &Step,
    reply: &[u8],
    ports: &RangeInclusive<u16>,
) -> Result<bool, TestCaseError> {
    let sp = reply.iter().position(|&b| b == b' ').expect("cookie");
    let Ok(Value::Dict(d)) = bencode::decode(&reply[sp + 1..]) else {
        return Err(TestCaseError::fail("reply is no dictionary"));
    };
    let result = d.get(&b"result"[..]).and_then(|v| v.as_str());
    prop_assert!(
        matches!(result, Some("ok" | "error" | "pong")),
        "{result:?}"
    );
    let (media, flavour) = match step {
        Step::Offer { media, flavour, .. } | Step::Answer { media, flavour, .. } => {
            (media, *flavour)
        }
        _ => return Ok(result == Some("ok")),
    };
    if matches!(flavour, Flavour::Ipv6) && media.iter().any(|&on| on) {
        prop_assert_eq!(result, Some("error"), "IPv6 media on an IPv4 node");
    }
    if result != Some("ok") {
        return Ok(false);
    }
    let body = d
        .get(&b"sdp"[..])
        .and_then(|v| v.as_bytes())
        .expect("an accepted offer or answer has an SDP");
    let out = Sdp::parse(body).expect("the rewritten SDP parses");
    prop_assert_eq!(out.media.len(), media.len());
    for (m, &on) in out.media.iter().zip(media) {
        if on {
            prop_assert!(ports.contains(&m.port), "{}", m.port);
        } else {
            prop_assert_eq!(m.port, 0);
        }
    }
    Ok(true)
}

/// What a scenario did: requests accepted, and the most port pairs in use.
#[derive(Debug, Default)]
struct Seen {
    accepted: usize,
    most_pairs: usize,
}

/// Runs `steps` on a node over a driver of `kind` with ports from
/// `port_min`, keeping deleted calls for `delete_delay`.
fn run(
    kind: DriverKind,
    steps: &[Step],
    port_min: u16,
    delete_delay: Duration,
) -> Result<Seen, TestCaseError> {
    let ports = port_min..=port_min + RANGE - 1;
    let driver = Arc::new(DriverHandle::start(kind, DriverConfig::default()).expect("driver"));
    let node = Node::new(
        driver.clone(),
        PortAllocator::new(*ports.start(), *ports.end()),
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        Arc::new(AtomicBool::new(false)),
    )
    .with_delete_delay(delete_delay);
    let gauges = node.gauges();
    let mut server = NgServer::new(node);
    let now = Instant::now();
    let past_delay = || Instant::now() + delete_delay + Duration::from_secs(1);
    let mut calls = HashSet::new();
    let mut seen = Seen::default();
    for (i, s) in steps.iter().enumerate() {
        if let Step::Sweep { past_delay: past } = s {
            server
                .control_mut()
                .expire(if *past { past_delay() } else { Instant::now() });
            if *past {
                prop_assert_eq!(server.control().deleting_count(), 0);
            }
        }
        let control = server.control();
        prop_assert!(control.deleting_count() <= control.call_count());
        // the metrics' gauges say what is there now, sweeps included
        prop_assert_eq!(
            (
                gauges.calls.load(Ordering::Relaxed) as usize,
                gauges.calls_deleting.load(Ordering::Relaxed) as usize
            ),
            (control.call_count(), control.deleting_count())
        );
        if delete_delay.is_zero() {
            prop_assert_eq!(control.deleting_count(), 0);
        }
        if matches!(s, Step::Sweep { .. }) {
            continue;
        }
        let before = (
            gauges.port_pairs.load(Ordering::Relaxed),
            server.control().call_count(),
        );
        let mut reply = Vec::new();
        server
            .handle(now, &request(i, s), &mut reply)
            .expect("every request is answered");
        let accepted = check_reply(s, &reply, &ports)?;
        seen.accepted += usize::from(accepted);
        if let Step::Offer { call, .. } = s {
            calls.insert(*call);
        }
        if !accepted && matches!(s, Step::Offer { .. } | Step::Answer { .. }) {
            // a refused offer or answer takes no ports and makes no call
            // (it may end a deleted call early, for the room)
            let after = (
                gauges.port_pairs.load(Ordering::Relaxed),
                server.control().call_count(),
            );
            prop_assert!(
                after.0 <= before.0 && after.1 <= before.1,
                "{before:?} -> {after:?} on {s:?}: {}",
                String::from_utf8_lossy(&reply)
            );
        }
        let pairs = gauges.port_pairs.load(Ordering::Relaxed) as usize;
        prop_assert!(pairs <= usize::from(RANGE / 2), "{pairs} pairs");
        seen.most_pairs = seen.most_pairs.max(pairs);
    }
    // deleting every call gives every port back
    for (i, call) in calls.into_iter().enumerate() {
        let mut reply = Vec::new();
        let _ = server.handle(
            now,
            &request(
                steps.len() + i,
                &Step::Delete {
                    call,
                    tag: None,
                    to: None,
                },
            ),
            &mut reply,
        );
    }
    prop_assert_eq!(
        server.control().deleting_count(),
        server.control().call_count(),
        "every call left is in its delete delay"
    );
    server.control_mut().expire(past_delay());
    prop_assert_eq!(server.control().call_count(), 0);
    prop_assert_eq!(gauges.calls.load(Ordering::Relaxed), 0);
    prop_assert_eq!(gauges.port_pairs.load(Ordering::Relaxed), 0);
    Ok(seen)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_ng_sequence_is_answered_and_gives_its_ports_back(
        steps in proptest::collection::vec(step(), 1..40)
    ) {
        run(DriverKind::Portable, &steps, 47_200, Duration::ZERO)?;
    }

    /// The same with a delete delay: deleted calls stay, revived or not,
    /// until a sweep after the delay.
    #[test]
    fn any_ng_sequence_with_a_delete_delay_gives_its_ports_back(
        steps in proptest::collection::vec(step(), 1..40)
    ) {
        run(DriverKind::Portable, &steps, 47_500, DELETE_DELAY)?;
    }

    /// The same over io_uring (the portable driver where the kernel has
    /// none): the control's bookkeeping must not depend on the driver.
    #[test]
    fn any_ng_sequence_over_io_uring_gives_its_ports_back(
        steps in proptest::collection::vec(step(), 1..40)
    ) {
        run(DriverKind::IoUring, &steps, 47_400, DELETE_DELAY)?;
    }
}

/// The property is not vacuous: an offer and its answer are accepted on
/// ports of the range, and the delete frees them.
#[test]
fn an_offer_and_its_answer_take_ports_and_the_delete_frees_them() {
    let steps = [
        Step::Offer {
            call: 0,
            tag: 0,
            media: vec![true, false],
            flavour: Flavour::Plain,
        },
        Step::Answer {
            call: 0,
            from: 0,
            to: 1,
            media: vec![true, false],
            flavour: Flavour::RtcpMux,
        },
    ];
    let seen = run(DriverKind::Portable, &steps, 47_300, Duration::ZERO).unwrap();
    // two sections each side, one of them enabled: one pair a side
    assert_eq!((seen.accepted, seen.most_pairs), (2, 2), "{seen:?}");
}
