//! NG parity with rtpengine: the NG sequences a call center's SIP proxy
//! sends (ring groups and hunts whose branches fail before another
//! answers, BYEs and their resends, re-INVITEs from either side, late
//! offers, a peer behind NAT) go to Debian's rtpengine (userspace
//! forwarding) and to `ringwire serve` side by side, and every step must
//! turn out the same on both: the reply's result, whether it warns, and
//! which endpoints the media then reaches. Both nodes keep deleted calls
//! for the same delete delay (2 s here; 30 s is both defaults). Two
//! phones' RTCP reports through each score the same in `query`'s `SSRC`
//! dict (MOS, loss, jitter; round trips within 5 ms).
//!
//! Left out, where ringwire differs on purpose: a third party's RTP to a
//! leg already latched (rtpengine lets it take the leg over; ringwire
//! drops it as a hijack, unless the SDP's request says `media-handover`,
//! a scenario here), the wording of warnings, and the shape of
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
    /// `offer` from tag `a` with `sdp_of`'s SDP and these `flags`.
    OfferFlagged {
        sdp_of: Party,
        flags: &'static [&'static str],
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
            // a carrier that sends from another port than its SDP's
            // (`asymmetric`): its media is taken from there, and the
            // agent's goes to the SDP's port all the same
            "asymmetric-caller",
            vec![
                Step::OfferFlagged {
                    sdp_of: Caller,
                    flags: &["asymmetric"],
                },
                answer("x", X),
                media(Z, X),
                media(X, Caller),
                media(Caller, X),
                media(X, Caller),
            ],
        ),
        (
            // a softphone that moves networks mid-call (`media-handover`):
            // its media from the new address takes the leg over at once
            "caller-hands-over",
            vec![
                Step::OfferFlagged {
                    sdp_of: Caller,
                    flags: &["media-handover"],
                },
                answer("x", X),
                media(Caller, X),
                media(X, Caller),
                media(Z, X),
                media(X, Caller),
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
                Step::OfferFlagged { sdp_of, flags } => {
                    d.insert("command", "offer").insert("from-tag", "a").insert(
                        "flags",
                        Value::List(flags.iter().map(|f| Value::from(*f)).collect()),
                    );
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
    start_rtpengine_on(ng_port, port_base, &["127.0.0.1"])
}

/// [`start_rtpengine`] with these `--interface`s (`NAME/ADDRESS`, or an
/// address alone).
fn start_rtpengine_on(ng_port: u16, port_base: u16, interfaces: &[&str]) -> Node {
    let log = temp_path("rtpengine.log");
    let child = Command::new("rtpengine")
        .args([
            "--config-file=none",
            "--foreground",
            "--log-stderr",
            "--log-level=5",
            "--table=-1",
            "--no-fallback",
            "--num-threads=1",
        ])
        .args(interfaces.iter().map(|i| format!("--interface={i}")))
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

/// A phone of the MOS scenario: one socket (RTP and RTCP multiplexed),
/// its SSRC, and the last SR it heard (NTP middle bits, when).
struct Phone {
    socket: UdpSocket,
    ssrc: u32,
    peer_ssrc: u32,
    seq: u16,
    node: Option<SocketAddr>,
    last_sr: Option<(u32, std::time::Instant)>,
}

impl Phone {
    fn new(ssrc: u32, peer_ssrc: u32) -> Phone {
        let socket = endpoint();
        socket
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        Phone {
            socket,
            ssrc,
            peer_ssrc,
            seq: 100,
            node: None,
            last_sr: None,
        }
    }

    fn port(&self) -> u16 {
        self.socket.local_addr().unwrap().port()
    }

    fn rtp(&mut self, n: usize) {
        for _ in 0..n {
            self.seq += 1;
            let mut p = vec![0x80, 0];
            p.extend_from_slice(&self.seq.to_be_bytes());
            p.extend_from_slice(&(160 * u32::from(self.seq)).to_be_bytes());
            p.extend_from_slice(&self.ssrc.to_be_bytes());
            p.extend([0xFF; 160]);
            self.socket.send_to(&p, self.node.unwrap()).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Reads what came until the line is quiet, noting the last SR.
    fn drain(&mut self) {
        let mut buf = [0u8; 2048];
        while let Ok((n, _)) = self.socket.recv_from(&mut buf) {
            if let Some(ntp) = ringwire_media::rtcp::read_reports(&buf[..n])
                .ok()
                .and_then(|r| r.ntp)
            {
                self.last_sr = Some((ntp.middle(), std::time::Instant::now()));
            }
        }
    }

    /// An SR (with `sr`) or RR, with a block on the other phone's stream
    /// once it heard an SR: its DLSR as if the network held each report
    /// `network` longer than it did, `fraction_lost` and `jitter` (ticks).
    fn report(&self, sr: bool, network: Duration, fraction_lost: u8, jitter: u32) {
        use ringwire_media::rtcp::{write_report, ReportBlock, SenderInfo};
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let sender = sr.then(|| SenderInfo {
            ntp: ringwire_host::load::rtcp::ntp_of(since_epoch.as_nanos() as u64),
            rtp_timestamp: 160 * u32::from(self.seq),
            packets: u32::from(self.seq - 100),
            octets: 160 * u32::from(self.seq - 100),
        });
        let blocks: Vec<ReportBlock> = self
            .last_sr
            .map(|(lsr, heard)| ReportBlock {
                ssrc: self.peer_ssrc,
                fraction_lost,
                cumulative_lost: 3,
                highest_seq: u32::from(self.seq),
                jitter,
                lsr,
                dlsr: (heard.elapsed().saturating_sub(network).as_secs_f64() * 65_536.0) as u32,
            })
            .into_iter()
            .collect();
        let mut out = Vec::new();
        write_report(&mut out, self.ssrc, sender, &blocks);
        self.socket.send_to(&out, self.node.unwrap()).unwrap();
    }
}

/// The scores a node gives two phones' reports: each names the other's
/// SR as if the network took 20 ms (A) and 30 ms (B) of round trip; B
/// also reports 5% lost and 20 ms of jitter. The `SSRC` dict of a
/// `query` flattened to `(ssrc, "dict/key", value)`.
fn mos_scenario(ng: SocketAddr, call: &str) -> Vec<(String, String, i64)> {
    let mux = |port: u16| {
        format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=rtcp-mux\r\n"
        )
    };
    let (mut a, mut b) = (
        Phone::new(0xAAAA_0001, 0xBBBB_0002),
        Phone::new(0xBBBB_0002, 0xAAAA_0001),
    );
    let mut client = Ng::new(ng);
    let mut d = Dict::new();
    let offer = mux(a.port());
    d.insert("command", "offer")
        .insert("call-id", call)
        .insert("from-tag", "ta")
        .insert("sdp", offer.as_str());
    let o = request(&mut client, &format!("{call}-o"), &d);
    let mut d = Dict::new();
    let answer = mux(b.port());
    d.insert("command", "answer")
        .insert("call-id", call)
        .insert("from-tag", "ta")
        .insert("to-tag", "tb")
        .insert("sdp", answer.as_str());
    let r = request(&mut client, &format!("{call}-a"), &d);
    b.node = Some(sdp_target(field(&o, "sdp").expect("an offer SDP")));
    a.node = Some(sdp_target(field(&r, "sdp").expect("an answer SDP")));
    // RTP first: rtpengine scores a report only once it knows the codec
    a.rtp(5);
    b.rtp(5);
    a.drain();
    b.drain();
    let (net_a, net_b) = (Duration::from_millis(20), Duration::from_millis(30));
    for _ in 0..3 {
        b.report(true, net_b, 13, 160);
        a.drain();
        std::thread::sleep(Duration::from_millis(40));
        a.report(true, net_a, 0, 0);
        b.drain();
        a.rtp(3);
        b.rtp(3);
        a.drain();
        b.drain();
        std::thread::sleep(Duration::from_millis(1100));
    }
    b.report(false, net_b, 13, 160);
    a.drain();
    let mut d = Dict::new();
    d.insert("command", "query").insert("call-id", call);
    let q = request(&mut client, &format!("{call}-q"), &d);
    ssrc_entries(&q)
}

#[test]
fn rtcp_reports_score_as_on_rtpengine() {
    let base = 31_000 + (std::process::id() % 40) as u16 * 250;
    let rtpe_port = free_udp_port();
    let rtpengine = start_rtpengine(rtpe_port, base);
    let (ringwire, rw_port, _) = start_node("parity-mos", base + 200, "");
    let rtpe: SocketAddr = ([127, 0, 0, 1], rtpe_port).into();
    let rw: SocketAddr = ([127, 0, 0, 1], rw_port).into();
    let call = format!("mos-{}", std::process::id());
    let (on_rtpe, on_rw) = std::thread::scope(|s| {
        let a = s.spawn(|| mos_scenario(rtpe, &call));
        let b = s.spawn(|| mos_scenario(rw, &call));
        (a.join().unwrap(), b.join().unwrap())
    });
    clean_up(rtpe, &call);
    clean_up(rw, &call);
    let keys = |v: &[(String, String, i64)]| -> Vec<(String, String)> {
        v.iter().map(|(s, k, _)| (s.clone(), k.clone())).collect()
    };
    let logs = || {
        format!(
            "ringwire log:\n{}\nrtpengine log:\n{}",
            ringwire.log(),
            rtpengine.log()
        )
    };
    assert_eq!(keys(&on_rw), keys(&on_rtpe), "the same entries\n{}", logs());
    assert!(!on_rw.is_empty(), "{}", logs());
    for ((ssrc, key, ours), (_, _, theirs)) in on_rw.iter().zip(&on_rtpe) {
        let (_, field) = key.split_once('/').unwrap_or(("", key));
        let close = match field {
            // timing: both ran at once, each within a few ms of the other
            "round-trip time" | "round-trip time leg" => (ours - theirs).abs() <= 5_000,
            "reported at" => (ours - theirs).abs() <= 2,
            _ => ours == theirs,
        };
        assert!(
            close,
            "{ssrc} {key}: ringwire {ours}, rtpengine {theirs}\nringwire:  {on_rw:?}\nrtpengine: {on_rtpe:?}"
        );
    }
    // and what the reports said: 50 ms end to end, 20 and 30 ms legs
    let get = |ssrc: u32, key: &str| {
        on_rw
            .iter()
            .find(|(s, k, _)| *s == ssrc.to_string() && k == key)
            .map(|(_, _, v)| *v)
            .unwrap_or_else(|| panic!("{ssrc} {key} in {on_rw:?}"))
    };
    for (ssrc, leg, mos) in [(0xAAAA_0001u32, 20_000, 43), (0xBBBB_0002, 30_000, 39)] {
        assert_eq!(get(ssrc, "average MOS/MOS"), mos);
        let rtt = get(ssrc, "average MOS/round-trip time");
        let rtt_leg = get(ssrc, "average MOS/round-trip time leg");
        assert!((50_000..60_000).contains(&rtt), "{rtt}");
        assert!((leg..leg + 5_000).contains(&rtt_leg), "{rtt_leg}");
    }
}

/// An offer of G729, PCMA, PCMU, G722 and events (with `a=fmtp` and
/// `a=rtcp-fb` lines) at `port`.
fn many_codecs(port: u16) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 18 8 0 9 101\r\na=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\n\
         a=rtpmap:8 PCMA/8000\r\na=rtcp-fb:8 nack\r\na=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-16\r\na=sendrecv\r\n"
    )
}

/// What `node` passes on of [`many_codecs`] offered with each set of
/// codec options: the `m=` line's formats and the `a=rtpmap:`, `a=fmtp:`
/// and `a=rtcp-fb:` lines, sorted (rtpengine writes them anew, in its
/// own order, and adds the rtpmaps of static types the offer left
/// implicit, PCMU's and G722's: those are left out).
fn codec_options_through(ng: SocketAddr, call: &str, cases: &[Dict<'_>]) -> Vec<String> {
    let mut client = Ng::new(ng);
    let caller = endpoint();
    let port = caller.local_addr().unwrap().port();
    let body = many_codecs(port);
    cases
        .iter()
        .enumerate()
        .map(|(i, options)| {
            let call = format!("{call}-{i}");
            let mut d = options.clone();
            d.insert("command", "offer")
                .insert("call-id", call.as_str())
                .insert("from-tag", "caller")
                .insert("sdp", body.as_str());
            let reply = request(&mut client, &format!("{call}-o"), &d);
            let sdp = String::from_utf8_lossy(field(&reply, "sdp").unwrap_or(b"")).into_owned();
            clean_up(ng, &call);
            let formats = sdp
                .lines()
                .find_map(|l| l.strip_prefix("m=audio "))
                .map(|l| l.split(' ').skip(2).collect::<Vec<_>>().join(" "));
            let mut lines: Vec<&str> = sdp
                .lines()
                .filter(|l| {
                    ["a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"]
                        .iter()
                        .any(|p| l.starts_with(p))
                })
                .filter(|l| {
                    !["a=rtpmap:0 ", "a=rtpmap:9 "]
                        .iter()
                        .any(|p| l.starts_with(p))
                })
                .collect();
            lines.sort_unstable();
            format!("{}: {formats:?} {lines:?}", result(&reply))
        })
        .collect()
}

#[test]
fn codec_options_strip_the_sdp_as_on_rtpengine() {
    // the options a proxy sends a node that does not transcode: which
    // codecs go, which stay, and in what order
    let base = 32_000 + (std::process::id() % 40) as u16 * 250;
    let rtpe_port = free_udp_port();
    let rtpengine = start_rtpengine(rtpe_port, base);
    let (ringwire, rw_port, _) = start_node("parity-codecs", base + 200, "");
    let rtpe: SocketAddr = ([127, 0, 0, 1], rtpe_port).into();
    let rw: SocketAddr = ([127, 0, 0, 1], rw_port).into();
    let codec = |entries: &[(&'static str, &[&'static str])]| {
        let mut c = Dict::new();
        for (key, names) in entries {
            c.insert(
                key,
                Value::List(names.iter().map(|n| Value::from(*n)).collect()),
            );
        }
        let mut d = Dict::new();
        d.insert("codec", Value::Dict(c));
        d
    };
    let flags = |items: &[&'static str]| {
        let mut d = Dict::new();
        d.insert(
            "flags",
            Value::List(items.iter().map(|n| Value::from(*n)).collect()),
        );
        d
    };
    let cases = [
        codec(&[("strip", &["G729"])]),
        codec(&[("strip", &["g722", "PCMA/8000"])]),
        codec(&[("strip", &["PCMU/16000"])]),
        codec(&[("strip", &["telephone-event"])]),
        codec(&[("strip", &["all"]), ("except", &["PCMU", "PCMA"])]),
        codec(&[
            ("strip", &["all"]),
            ("except", &["PCMA", "telephone-event"]),
        ]),
        codec(&[("strip", &["all"]), ("offer", &["PCMU", "PCMA"])]),
        codec(&[("strip", &["G729", "PCMA"]), ("offer", &["PCMA"])]),
        codec(&[("strip", &["PCMA"]), ("except", &["PCMA"])]),
        codec(&[("mask", &["all"]), ("except", &["PCMU"])]),
        codec(&[("consume", &["G729"])]),
        codec(&[
            ("except", &["PCMU"]),
            ("offer", &["PCMA"]),
            ("accept", &["G729"]),
        ]),
        flags(&[
            "codec-strip-all",
            "codec-except-PCMA",
            "codec-except-telephone-event",
        ]),
        flags(&["codec-strip-G729", "codec-mask-G722"]),
    ];
    let call = format!("codecs-{}", std::process::id());
    let (on_rtpe, on_rw) = std::thread::scope(|s| {
        let a = s.spawn(|| codec_options_through(rtpe, &call, &cases));
        let b = s.spawn(|| codec_options_through(rw, &call, &cases));
        (a.join().unwrap(), b.join().unwrap())
    });
    let differ: Vec<String> = cases
        .iter()
        .zip(on_rtpe.iter().zip(&on_rw))
        .filter(|(_, (a, b))| a != b)
        .map(|(case, (a, b))| format!("{case:?}\n  rtpengine: {a}\n  ringwire:  {b}"))
        .collect();
    assert!(
        differ.is_empty(),
        "ringwire differs from rtpengine in:\n{}\n\nringwire log:\n{}\nrtpengine log:\n{}",
        differ.join("\n"),
        ringwire.log(),
        rtpengine.log()
    );
}

/// The `direction`s of one call's requests: the caller's offer, the
/// agent's answer, then the agent's re-offer (empty: no `direction` key).
type Directions = [&'static [&'static str]; 3];

/// The addresses `node` writes into the offer, the answer and the agent's
/// re-offer of a call whose requests name `Directions`, one call a case.
fn addresses_by_direction(ng: SocketAddr, call: &str, cases: &[Directions]) -> Vec<[String; 3]> {
    let mut client = Ng::new(ng);
    let (caller, agent) = (endpoint(), endpoint());
    let port = |e: &UdpSocket| e.local_addr().unwrap().port();
    let (offered, answered) = (one_section(port(&caller)), one_section(port(&agent)));
    let address = |reply: &[u8]| {
        field(reply, "sdp").map_or_else(|| result(reply), |sdp| sdp_target(sdp).ip().to_string())
    };
    cases
        .iter()
        .enumerate()
        .map(|(i, directions)| {
            let call = format!("{call}-{i}");
            // (command, from, to, SDP) of each request
            let requests = [
                ("offer", "caller", None, &offered),
                ("answer", "caller", Some("agent"), &answered),
                ("offer", "agent", Some("caller"), &answered),
            ];
            let seen = requests
                .iter()
                .zip(directions)
                .enumerate()
                .map(|(k, ((command, from, to, sdp), direction))| {
                    let mut d = Dict::new();
                    d.insert("command", *command)
                        .insert("call-id", call.as_str())
                        .insert("from-tag", *from)
                        .insert("sdp", sdp.as_str());
                    if let Some(to) = to {
                        d.insert("to-tag", *to);
                    }
                    if !direction.is_empty() {
                        d.insert(
                            "direction",
                            Value::List(direction.iter().map(|n| Value::from(*n)).collect()),
                        );
                    }
                    address(&request(&mut client, &format!("{call}-{k}"), &d))
                })
                .collect::<Vec<_>>();
            clean_up(ng, &call);
            seen.try_into().expect("three requests")
        })
        .collect()
}

#[test]
fn an_offers_direction_picks_interfaces_as_on_rtpengine() {
    // a node between two networks, named as Kamailio's `direction=` flags
    // name them; rtpengine's first interface is its default, ringwire's
    // `advertise`
    let base = 33_000 + (std::process::id() % 40) as u16 * 250;
    let rtpe_port = free_udp_port();
    let rtpengine = start_rtpengine_on(
        rtpe_port,
        base,
        &["internal/127.0.0.2", "external/127.0.0.3"],
    );
    let (ringwire, rw_port, _) = start_node(
        "parity-interfaces",
        base + 200,
        "address = \"0.0.0.0\"\nadvertise = \"127.0.0.2\"\n\
         [media.interfaces]\ninternal = \"127.0.0.2\"\nexternal = \"127.0.0.3\"\n",
    );
    let rtpe: SocketAddr = ([127, 0, 0, 1], rtpe_port).into();
    let rw: SocketAddr = ([127, 0, 0, 1], rw_port).into();
    let (ext_int, int_ext): (&[&str], &[&str]) =
        (&["external", "internal"], &["internal", "external"]);
    let cases: [Directions; 8] = [
        [ext_int, &[], &[]],
        [int_ext, &[], &[]],
        [&["external", "external"], &[], &[]],
        [&["external"], &[], &[]],
        [&["dmz", "voip"], &[], &[]],
        [&[], &[], &[]],
        // an answer's direction is not heeded; a re-offer's is
        [ext_int, int_ext, &[]],
        [ext_int, &[], ext_int],
    ];
    let call = format!("interfaces-{}", std::process::id());
    let (on_rtpe, on_rw) = std::thread::scope(|s| {
        let a = s.spawn(|| addresses_by_direction(rtpe, &call, &cases));
        let b = s.spawn(|| addresses_by_direction(rw, &call, &cases));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(
        on_rw,
        on_rtpe,
        "(offer, answer, re-offer) addresses for {cases:?}\nringwire log:\n{}\nrtpengine log:\n{}",
        ringwire.log(),
        rtpengine.log()
    );
    assert_eq!(on_rw[0][..2], ["127.0.0.2", "127.0.0.3"]);
}
