//! NG parity with rtpengine: the NG sequences a call center's SIP proxy
//! sends (ring groups and hunts whose branches fail before another
//! answers, BYEs and their resends, re-INVITEs from either side, late
//! offers, a peer behind NAT) go to Debian's rtpengine (userspace
//! forwarding) and to `ringwire serve` side by side, and every step must
//! turn out the same on both: the reply's result, whether it warns, and
//! which endpoints the media then reaches. Both nodes keep deleted calls
//! for the same delete delay (2 s here; 30 s is both defaults).
//!
//! Left out, where ringwire differs on purpose: a third party's RTP to a
//! leg already latched (rtpengine lets it take the leg over; ringwire
//! drops it as a hijack), the wording of warnings, and the shape of
//! `query` replies beyond their result.
//!
//! Needs `rtpengine` (Debian: rtpengine-daemon), which `scripts/test.sh`
//! installs.

mod common;
use common::*;

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::Duration;

use ringwire_host::ng::bencode::{decode, Dict, Value};

/// The delete delay of both nodes, seconds.
const DELETE_DELAY: u32 = 2;

/// Long enough for either node to have ended a deleted call (each looks
/// once a second).
const PAST_DELAY: Duration = Duration::from_millis(4_000);

/// The endpoints of a scenario: the caller and three agents (or a
/// caller's second address, behind NAT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Party {
    Caller,
    X,
    Y,
    Z,
}

const PARTIES: [Party; 4] = [Party::Caller, Party::X, Party::Y, Party::Z];

/// One step of a scenario.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// `offer` from tag `from` (to `to`, in a dialogue) with `sdp_of`'s
    /// SDP.
    Offer {
        from: &'static str,
        to: Option<&'static str>,
        sdp_of: Party,
    },
    /// `answer` from tag `from` to tag `to` with `sdp_of`'s SDP.
    Answer {
        from: &'static str,
        to: &'static str,
        sdp_of: Party,
    },
    /// `delete`, with the tags given, and a `delete-delay` where given.
    Delete {
        from: Option<&'static str>,
        to: Option<&'static str>,
        delay: Option<i64>,
    },
    Query,
    /// `from` sends RTP to the node's port that the reply to the last
    /// request carrying `port_for`'s SDP gave (the port `port_for`'s peer
    /// was told to send to).
    Media {
        from: Party,
        port_for: Party,
    },
    /// Time passes.
    Wait(Duration),
    /// `from` sends `packets` RTP packets as [`Step::Media`] does, 2 ms
    /// apart, without looking where they go.
    Stream {
        from: Party,
        port_for: Party,
        packets: u16,
    },
    /// The party's socket closes (a phone restarting its media).
    Close(Party),
    /// The party's socket is back, on the same port.
    Reopen(Party),
}

/// What a step came to on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Reply {
        result: String,
        warns: bool,
    },
    /// The parties the media reached.
    Heard(Vec<Party>),
    Waited,
}

fn offer(sdp_of: Party) -> Step {
    Step::Offer {
        from: "a",
        to: None,
        sdp_of,
    }
}

fn answer(to: &'static str, sdp_of: Party) -> Step {
    Step::Answer {
        from: "a",
        to,
        sdp_of,
    }
}

fn delete(to: Option<&'static str>) -> Step {
    Step::Delete {
        from: Some("a"),
        to,
        delay: None,
    }
}

fn media(from: Party, port_for: Party) -> Step {
    Step::Media { from, port_for }
}

/// An offer from the callee's side (tag `x`, its SDP) and the caller's
/// answer, then media both ways: an agent's re-INVITE, or a late offer
/// (the 200 OK's SDP offered, the ACK's answered).
fn offer_from_the_callee() -> [Step; 4] {
    use Party::*;
    [
        Step::Offer {
            from: "x",
            to: Some("a"),
            sdp_of: X,
        },
        Step::Answer {
            from: "x",
            to: "a",
            sdp_of: Caller,
        },
        media(Caller, X),
        media(X, Caller),
    ]
}

/// The scenarios, by name.
fn scenarios() -> Vec<(&'static str, Vec<Step>)> {
    use Party::*;
    vec![
        (
            // a ring group: agent X busy (486) before agent Y answers
            "busy-agent-first",
            vec![
                offer(Caller),
                delete(Some("x")),
                answer("y", Y),
                media(Caller, Y),
                media(Y, Caller),
            ],
        ),
        (
            // a hunt: X's early media, X fails, Y answers
            "hunt-after-early-media",
            vec![
                offer(Caller),
                answer("x", X),
                media(X, Caller),
                delete(Some("x")),
                answer("y", Y),
                media(Caller, Y),
                media(Y, Caller),
            ],
        ),
        (
            // a ring group: Y answers, the others' 487s delete their
            // branches; the call outlives the delete delay
            "cancelled-agents-after-an-answer",
            vec![
                offer(Caller),
                answer("y", Y),
                delete(Some("x")),
                delete(Some("z")),
                media(Caller, Y),
                Step::Wait(PAST_DELAY),
                Step::Query,
                media(Caller, Y),
                media(Y, Caller),
            ],
        ),
        (
            // a BYE, resent; the call goes after the delay
            "bye",
            vec![
                offer(Caller),
                answer("x", X),
                delete(None),
                media(Caller, X),
                Step::Query,
                delete(None),
                Step::Wait(PAST_DELAY),
                Step::Query,
                delete(None),
            ],
        ),
        (
            // a re-INVITE after the delete brings the call back
            "re-offer-revives",
            vec![
                offer(Caller),
                answer("x", X),
                delete(None),
                offer(Caller),
                Step::Wait(PAST_DELAY),
                Step::Query,
                media(Caller, X),
                media(X, Caller),
            ],
        ),
        (
            "delete-delay-zero",
            vec![
                offer(Caller),
                answer("x", X),
                Step::Delete {
                    from: Some("a"),
                    to: None,
                    delay: Some(0),
                },
                Step::Query,
            ],
        ),
        (
            "from-tag-of-neither-side",
            vec![
                offer(Caller),
                answer("x", X),
                Step::Delete {
                    from: Some("q"),
                    to: None,
                    delay: None,
                },
                Step::Query,
                media(Caller, X),
            ],
        ),
        (
            // the agent's re-INVITE (a transfer, a hold from the agent)
            "callee-re-invite",
            [
                &[offer(Caller), answer("x", X)][..],
                &offer_from_the_callee(),
            ]
            .concat(),
        ),
        (
            // an INVITE without SDP: the offer from the 200 OK, the answer
            // from the ACK, then the caller's BYE
            "late-offer",
            [&offer_from_the_callee()[..], &[delete(None)]].concat(),
        ),
        (
            // 183 with one SDP, then 200 OK with another, same To tag
            "answer-changes-its-sdp",
            vec![
                offer(Caller),
                answer("x", X),
                answer("x", Z),
                media(Caller, Z),
                media(Z, Caller),
            ],
        ),
        (
            // the caller behind NAT: its media comes from another port
            // than its SDP's, and the answer goes there
            "caller-behind-nat",
            vec![offer(Caller), answer("x", X), media(Z, X), media(X, Caller)],
        ),
        (
            // the agent's media socket closes for 0.4 s of the caller's
            // talk (the node's sends to it bring ICMP port unreachables
            // back) and comes back on the same port
            "agent-restarts-its-media-socket",
            vec![
                offer(Caller),
                answer("x", X),
                media(Caller, X),
                media(X, Caller),
                Step::Close(X),
                Step::Stream {
                    from: Caller,
                    port_for: X,
                    packets: 150,
                },
                Step::Reopen(X),
                media(X, Caller),
                media(Caller, X),
            ],
        ),
        (
            "unknown-call",
            vec![Step::Query, delete(None), answer("x", X)],
        ),
    ]
}

/// The test endpoints of one run: a UDP socket per party.
struct Endpoints([UdpSocket; 4]);

impl Endpoints {
    fn new() -> Self {
        let s = || {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_nonblocking(true).unwrap();
            s
        };
        Endpoints([s(), s(), s(), s()])
    }

    fn of(&self, p: Party) -> &UdpSocket {
        &self.0[p as usize]
    }

    fn port(&self, p: Party) -> u16 {
        self.of(p).local_addr().unwrap().port()
    }

    /// Closes `p`'s socket (a stand-in on another port takes its place
    /// here); returns the port it had.
    fn close(&mut self, p: Party) -> u16 {
        let port = self.port(p);
        self.0[p as usize] = UdpSocket::bind("127.0.0.1:0").unwrap();
        port
    }

    /// Opens `p`'s socket again on `port`.
    fn reopen(&mut self, p: Party, port: u16) {
        let s = UdpSocket::bind(("127.0.0.1", port)).unwrap();
        s.set_nonblocking(true).unwrap();
        self.0[p as usize] = s;
    }

    /// How many datagrams wait on `p`'s socket (read and dropped).
    fn drain(&self, p: Party) -> usize {
        let mut buf = [0u8; 2048];
        std::iter::from_fn(|| self.of(p).recv_from(&mut buf).ok()).count()
    }
}

/// An SDP of one PCMU section at `port`.
fn one_section(port: u16) -> String {
    sdp(port, port + 1, u32::from(port))
}

/// An RTP packet of `party`'s stream.
fn rtp(party: Party, seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(160 * u32::from(seq)).to_be_bytes());
    p.extend_from_slice(&(0x5000 + party as u32).to_be_bytes());
    p.extend([0xFF; 160]);
    p
}

/// Sends `dict` to the node with cookie `cookie`; the reply's body.
/// Cookies must differ across calls too: rtpengine answers a cookie it has
/// seen with its cached reply, as to a retransmission.
fn request(client: &mut Ng, cookie: &str, dict: &Dict<'_>) -> Vec<u8> {
    let mut datagram = format!("{cookie} ").into_bytes();
    dict.encode(&mut datagram);
    let reply = client.raw(&datagram);
    let body = reply.strip_prefix(format!("{cookie} ").as_bytes());
    body.expect("the cookie echoed").to_vec()
}

/// Plays `steps` on the node at `ng` as call `call`; what each came to.
fn play(ng: SocketAddr, call: &str, steps: &[Step]) -> Vec<Seen> {
    let mut client = Ng::new(ng);
    let mut ends = Endpoints::new();
    let mut closed: [Option<u16>; 4] = [None; 4];
    let mut node_port: [Option<u16>; 4] = [None; 4];
    let mut seq = 0u16;
    steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let mut d = Dict::new();
            d.insert("call-id", call);
            let body;
            let sdp_of = match *step {
                Step::Offer { from, to, sdp_of } => {
                    d.insert("command", "offer").insert("from-tag", from);
                    if let Some(to) = to {
                        d.insert("to-tag", to);
                    }
                    Some(sdp_of)
                }
                Step::Answer { from, to, sdp_of } => {
                    d.insert("command", "answer")
                        .insert("from-tag", from)
                        .insert("to-tag", to);
                    Some(sdp_of)
                }
                Step::Delete { from, to, delay } => {
                    d.insert("command", "delete");
                    if let Some(from) = from {
                        d.insert("from-tag", from);
                    }
                    if let Some(to) = to {
                        d.insert("to-tag", to);
                    }
                    if let Some(delay) = delay {
                        d.insert("delete-delay", delay);
                    }
                    None
                }
                Step::Query => {
                    d.insert("command", "query");
                    None
                }
                Step::Media { from, port_for } => {
                    for p in PARTIES {
                        ends.drain(p);
                    }
                    let Some(port) = node_port[port_for as usize] else {
                        return Seen::Heard(Vec::new());
                    };
                    for _ in 0..3 {
                        seq += 1;
                        let to = SocketAddr::from(([127, 0, 0, 1], port));
                        ends.of(from).send_to(&rtp(from, seq), to).unwrap();
                    }
                    std::thread::sleep(Duration::from_millis(250));
                    let heard = PARTIES
                        .into_iter()
                        .filter(|&p| p != from && ends.drain(p) > 0)
                        .collect();
                    return Seen::Heard(heard);
                }
                Step::Wait(how_long) => {
                    std::thread::sleep(how_long);
                    return Seen::Waited;
                }
                Step::Stream {
                    from,
                    port_for,
                    packets,
                } => {
                    if let Some(port) = node_port[port_for as usize] {
                        let to = SocketAddr::from(([127, 0, 0, 1], port));
                        for _ in 0..packets {
                            seq += 1;
                            ends.of(from).send_to(&rtp(from, seq), to).unwrap();
                            std::thread::sleep(Duration::from_millis(2));
                        }
                    }
                    return Seen::Waited;
                }
                Step::Close(p) => {
                    closed[p as usize] = Some(ends.close(p));
                    return Seen::Waited;
                }
                Step::Reopen(p) => {
                    let port = closed[p as usize].take().expect("closed first");
                    ends.reopen(p, port);
                    return Seen::Waited;
                }
            };
            if let Some(p) = sdp_of {
                body = one_section(ends.port(p));
                d.insert("sdp", body.as_str());
            }
            let reply = request(&mut client, &format!("{call}-{i}"), &d);
            if let (Some(p), Some(sdp)) = (sdp_of, field(&reply, "sdp")) {
                node_port[p as usize] = Some(sdp_target(sdp).port());
            }
            let warns = match decode(&reply) {
                Ok(Value::Dict(r)) => r.get(b"warning".as_slice()).is_some(),
                _ => false,
            };
            Seen::Reply {
                result: result(&reply),
                warns,
            }
        })
        .collect()
}

/// Deletes `call` at once (no delay), whatever state it is in.
fn clean_up(ng: SocketAddr, call: &str) {
    let mut d = Dict::new();
    d.insert("command", "delete")
        .insert("call-id", call)
        .insert("delete-delay", 0i64);
    request(&mut Ng::new(ng), &format!("{call}-end"), &d);
}

/// rtpengine in userspace (no kernel module, no iptables), its NG on
/// `ng_port`, media ports from `port_base`.
fn start_rtpengine(ng_port: u16, port_base: u16) -> Node {
    let log = temp_path("rtpengine.log");
    let child = Command::new("rtpengine")
        .args([
            "--config-file=none",
            "--foreground",
            "--log-stderr",
            "--log-level=5",
            "--interface=127.0.0.1",
            "--table=-1",
            "--no-fallback",
            "--num-threads=1",
        ])
        .arg(format!("--listen-ng=127.0.0.1:{ng_port}"))
        .arg(format!("--port-min={port_base}"))
        .arg(format!("--port-max={}", port_base + 199))
        .arg(format!("--delete-delay={DELETE_DELAY}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("rtpengine (Debian package rtpengine-daemon) is installed");
    let node = Node { child, log };
    wait_for_pong(&mut Ng::new(([127, 0, 0, 1], ng_port).into()), &node);
    node
}

#[test]
fn call_center_ng_sequences_turn_out_as_on_rtpengine() {
    let base = 30_000 + (std::process::id() % 40) as u16 * 250;
    let rtpe_port = free_udp_port();
    let rtpengine = start_rtpengine(rtpe_port, base);
    let (ringwire, rw_port, _) = start_node(
        "parity",
        base + 200,
        &format!("[timeouts]\ndelete_delay = {DELETE_DELAY}\n"),
    );
    let rtpe: SocketAddr = ([127, 0, 0, 1], rtpe_port).into();
    let rw: SocketAddr = ([127, 0, 0, 1], rw_port).into();
    let mut differ = Vec::new();
    for (name, steps) in scenarios() {
        let call = format!("{name}-{}", std::process::id());
        let (on_rtpe, on_rw) = std::thread::scope(|s| {
            let a = s.spawn(|| play(rtpe, &call, &steps));
            let b = s.spawn(|| play(rw, &call, &steps));
            (a.join().unwrap(), b.join().unwrap())
        });
        if on_rtpe != on_rw {
            let table: Vec<String> = steps
                .iter()
                .zip(on_rtpe.iter().zip(&on_rw))
                .map(|(step, (a, b))| {
                    let mark = if a == b { " " } else { "*" };
                    format!("{mark} {step:?}\n    rtpengine: {a:?}\n    ringwire:  {b:?}")
                })
                .collect();
            differ.push(format!("{name}:\n{}", table.join("\n")));
        }
        clean_up(rtpe, &call);
        clean_up(rw, &call);
    }
    assert!(
        differ.is_empty(),
        "ringwire differs from rtpengine in:\n{}\n\nringwire log:\n{}\nrtpengine log:\n{}",
        differ.join("\n\n"),
        ringwire.log(),
        rtpengine.log()
    );
}
