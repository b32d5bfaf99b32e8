//! Property tests of the sans-IO relay core: any sequence of commands
//! (legs turned opaque, as for T.38, and back among them), datagrams
//! (valid RTP and RTCP, truncated, garbage; from the remote, from
//! strangers, on ports no leg owns) and timeouts leaves the core without a
//! panic, and every datagram is accounted for: sent out of exactly one leg
//! to its remote, or counted as dropped under one cause.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use proptest::prelude::*;
use ringwire_media::relay::*;
use ringwire_media::rtcp::{write_report, NtpTime, ReportBlock, SenderInfo};
use ringwire_media::rtp::RtpBuilder;

/// Local ports the legs may take (RTP and RTCP of four pairs), and one no
/// leg ever owns.
const PORTS: [u16; 9] = [4000, 4001, 4002, 4003, 4004, 4005, 4006, 4007, 4999];

/// Remote endpoints: a few phones (and their RTCP ports) and a stranger.
fn remote(k: u8) -> SocketAddr {
    let ports = [7000u16, 7001, 7002, 7003, 7100, 9999];
    SocketAddr::from(([127, 0, 0, 1], ports[k as usize % ports.len()]))
}

#[derive(Debug, Clone)]
enum Step {
    CreateCall(u8),
    AddLeg {
        call: u8,
        leg: u8,
        rtp: u8,
        mux: bool,
        remote: Option<u8>,
        pts: Vec<u8>,
    },
    SetRemote(u8, Option<u8>),
    Bridge(u8, u8),
    Unbridge(u8),
    Rewrite(u8, Option<(u32, u16, u32)>),
    /// Leg `l` carries opaque datagrams (T.38) when `true`, RTP when not.
    Opaque(u8, bool),
    Delete(u8),
    Rtp {
        port: u8,
        from: u8,
        pt: u8,
        seq: u16,
        ts: u32,
        ssrc: u8,
        len: u8,
    },
    /// An SR (NTP seconds `sr`) or RR with one report block naming the SR
    /// of NTP seconds `lsr`, held `dlsr`, reporting `lost`: few distinct
    /// seconds, so that reports name SRs the core saw.
    Rtcp {
        port: u8,
        from: u8,
        sr: Option<u32>,
        lsr: u32,
        dlsr: u32,
        lost: u8,
    },
    /// The same from leg `leg`'s remote RTCP address to its RTCP port, as
    /// a phone sends it (nothing if the leg is gone or has no remote).
    PhoneRtcp {
        leg: u8,
        sr: Option<u32>,
        lsr: u32,
        dlsr: u32,
        lost: u8,
    },
    Garbage {
        port: u8,
        from: u8,
        bytes: Vec<u8>,
    },
    Wait(u16),
}

/// Two calls of two bridged legs each (leg `l` on port pair `l`, remotes,
/// rtcp-mux and payload types drawn), then `steps`: calls to take apart and
/// remake, and media to relay from the first step on.
fn scenario() -> impl Strategy<Value = Vec<Step>> {
    let leg = (
        any::<bool>(),
        proptest::option::of(0u8..6),
        proptest::collection::vec(prop_oneof![Just(0u8), Just(8), 0u8..128], 0..2),
    );
    (
        proptest::collection::vec(leg, 4),
        proptest::collection::vec(step(), 0..150),
    )
        .prop_map(|(legs, rest)| {
            let mut v = vec![Step::CreateCall(0), Step::CreateCall(1)];
            for (l, (mux, remote, pts)) in legs.into_iter().enumerate() {
                let l = l as u8;
                v.push(Step::AddLeg {
                    call: l / 2,
                    leg: l,
                    rtp: l,
                    mux,
                    remote,
                    pts,
                });
            }
            v.push(Step::Bridge(0, 1));
            v.push(Step::Bridge(2, 3));
            v.extend(rest);
            v
        })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => (0u8..3).prop_map(Step::CreateCall),
        2 => (0u8..3, 0u8..5, 0u8..4, any::<bool>(), proptest::option::of(0u8..6),
              proptest::collection::vec(prop_oneof![Just(0u8), Just(8), Just(101), 0u8..140], 0..3))
            .prop_map(|(call, leg, rtp, mux, remote, pts)| Step::AddLeg { call, leg, rtp, mux, remote, pts }),
        1 => (0u8..4, proptest::option::of(0u8..6)).prop_map(|(l, r)| Step::SetRemote(l, r)),
        2 => (0u8..4, 0u8..4).prop_map(|(a, b)| Step::Bridge(a, b)),
        1 => (0u8..4).prop_map(Step::Unbridge),
        1 => (0u8..4, proptest::option::of(any::<(u32, u16, u32)>())).prop_map(|(l, r)| Step::Rewrite(l, r)),
        1 => (0u8..4, any::<bool>()).prop_map(|(l, o)| Step::Opaque(l, o)),
        1 => (0u8..3).prop_map(Step::Delete),
        12 => (0u8..9, 0u8..6, prop_oneof![Just(0u8), Just(8), Just(101), 0u8..128],
               any::<u16>(), any::<u32>(), 0u8..3, 0u8..200)
            .prop_map(|(port, from, pt, seq, ts, ssrc, len)| Step::Rtp { port, from, pt, seq, ts, ssrc, len }),
        3 => (0u8..9, 0u8..6, proptest::option::of(0u32..4), 0u32..4, 0u32..4096, any::<u8>())
            .prop_map(|(port, from, sr, lsr, dlsr, lost)| Step::Rtcp { port, from, sr, lsr, dlsr, lost }),
        10 => (0u8..4, proptest::option::of(0u32..4), 0u32..4, 0u32..1024, any::<u8>())
            .prop_map(|(leg, sr, lsr, dlsr, lost)| Step::PhoneRtcp { leg, sr, lsr, dlsr, lost }),
        3 => (0u8..9, 0u8..6, proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(port, from, bytes)| Step::Garbage { port, from, bytes }),
        3 => (0u16..8000).prop_map(Step::Wait),
    ]
}

/// An SR at NTP seconds `sr`, or an RR, from SSRC 42, with one block
/// naming the SR of NTP seconds `lsr` (none for 0), held `dlsr`.
fn rtcp_report(sr: Option<u32>, lsr: u32, dlsr: u32, lost: u8) -> BytesMut {
    let ntp = |seconds| NtpTime {
        seconds,
        fraction: 0,
    };
    let sender = sr.map(|s| SenderInfo {
        ntp: ntp(s),
        ..SenderInfo::default()
    });
    let block = ReportBlock {
        fraction_lost: lost,
        jitter: u32::from(lost) * 8,
        lsr: if lsr == 0 { 0 } else { ntp(lsr).middle() },
        dlsr,
        ..ReportBlock::default()
    };
    let mut out = Vec::new();
    write_report(&mut out, 42, sender, &[block]);
    BytesMut::from(&out[..])
}

/// Every drop counter of a leg.
fn dropped(s: &LegStats) -> u64 {
    s.malformed + s.hijack_drops + s.not_forwarded
}

/// Runs `steps`; checks every output as it comes, and the accounting and
/// the RTCP scores at the end. Returns the datagrams fed in and the live
/// legs with a scored report (to see the test does work).
fn run(steps: &[Step]) -> (u64, usize) {
    let mut core = RelayCore::new(RelayConfig {
        queue_capacity: 8,
        pin_remote: true,
        ..RelayConfig::default()
    });
    let mut now = Duration::ZERO;
    let mut datagrams = 0u64;
    let mut transmits = 0u64;
    // what the test knows of the live legs: their local ports
    let mut legs: HashMap<u8, (u16, u16)> = HashMap::new();
    let mut call_of: HashMap<u8, u8> = HashMap::new();
    let mut closed = LegStats::default();
    let mut closed_drops = 0u64;
    for s in steps {
        let input = match s.clone() {
            Step::CreateCall(c) => Input::Command(Command::CreateCall {
                call: CallId(c as u64),
            }),
            Step::AddLeg {
                call,
                leg,
                rtp,
                mux,
                remote: r,
                pts,
            } => {
                let rtp_port = PORTS[2 * rtp as usize];
                let rtcp_port = if mux { rtp_port } else { rtp_port + 1 };
                let mut spec =
                    LegSpec::new(LocalPort(rtp_port), LocalPort(rtcp_port), r.map(remote));
                spec.payload_types = pts;
                Input::Command(Command::AddLeg {
                    call: CallId(call as u64),
                    leg: LegId(leg as u64),
                    spec,
                })
            }
            Step::SetRemote(l, r) => Input::Command(Command::SetRemote {
                leg: LegId(l as u64),
                rtp: r.map(remote),
                rtcp: None,
            }),
            Step::Bridge(a, b) => Input::Command(Command::Bridge {
                a: LegId(a as u64),
                b: LegId(b as u64),
            }),
            Step::Unbridge(l) => Input::Command(Command::Unbridge {
                leg: LegId(l as u64),
            }),
            Step::Rewrite(l, r) => Input::Command(Command::SetRewrite {
                leg: LegId(l as u64),
                rewrite: r.map(|(ssrc, sequence_offset, timestamp_offset)| Rewrite {
                    ssrc,
                    sequence_offset,
                    timestamp_offset,
                }),
            }),
            Step::Opaque(l, opaque) => Input::Command(Command::SetTransport {
                leg: LegId(l as u64),
                transport: if opaque {
                    Transport::Opaque
                } else {
                    Transport::Rtp
                },
            }),
            Step::Delete(c) => Input::Command(Command::DeleteCall {
                call: CallId(c as u64),
            }),
            Step::Rtp {
                port,
                from,
                pt,
                seq,
                ts,
                ssrc,
                len,
            } => {
                let b = RtpBuilder {
                    payload_type: pt,
                    sequence: seq,
                    timestamp: ts,
                    ssrc: 0x1000 + ssrc as u32,
                    ..RtpBuilder::default()
                };
                let payload = vec![0xd5; len as usize];
                let mut data = BytesMut::zeroed(b.packet_len(payload.len()));
                b.write(&payload, &mut data).expect("a valid header");
                datagrams += 1;
                Input::Datagram {
                    local: LocalPort(PORTS[port as usize]),
                    from: remote(from),
                    data,
                }
            }
            Step::Rtcp {
                port,
                from,
                sr,
                lsr,
                dlsr,
                lost,
            } => {
                datagrams += 1;
                Input::Datagram {
                    local: LocalPort(PORTS[port as usize]),
                    from: remote(from),
                    data: rtcp_report(sr, lsr, dlsr, lost),
                }
            }
            Step::PhoneRtcp {
                leg,
                sr,
                lsr,
                dlsr,
                lost,
            } => {
                let remote = core.leg_remote(LegId(leg as u64)).and_then(|r| r.1);
                let (Some(&(_, rtcp_port)), Some(from)) = (legs.get(&leg), remote) else {
                    continue;
                };
                datagrams += 1;
                Input::Datagram {
                    local: LocalPort(rtcp_port),
                    from,
                    data: rtcp_report(sr, lsr, dlsr, lost),
                }
            }
            Step::Garbage { port, from, bytes } => {
                datagrams += 1;
                Input::Datagram {
                    local: LocalPort(PORTS[port as usize]),
                    from: remote(from),
                    data: BytesMut::from(&bytes[..]),
                }
            }
            Step::Wait(ms) => {
                now += Duration::from_millis(ms as u64);
                Input::Timeout
            }
        };
        let command = matches!(input, Input::Command(_));
        let r = core.handle_input(now, input);
        assert!(
            command || r.is_ok(),
            "datagrams and timeouts always succeed: {r:?}"
        );
        if r.is_ok() {
            match s {
                Step::AddLeg {
                    call,
                    leg,
                    rtp,
                    mux,
                    ..
                } => {
                    let p = PORTS[2 * *rtp as usize];
                    legs.insert(*leg, (p, if *mux { p } else { p + 1 }));
                    call_of.insert(*leg, *call);
                }
                Step::Delete(c) => {
                    legs.retain(|l, _| call_of.get(l) != Some(c));
                }
                _ => {}
            }
        }
        while let Some(o) = core.poll_output() {
            match o {
                Output::Transmit(t) => {
                    transmits += 1;
                    assert!(
                        legs.values().any(|&(a, b)| t.from.0 == a || t.from.0 == b),
                        "sent from a port no live leg owns: {:?}",
                        t.from
                    );
                }
                Output::Event(Event::LegClosed { stats, .. }) => {
                    closed_drops += dropped(&stats);
                    closed.sent_packets += stats.sent_packets;
                }
                Output::Pin(p) => assert!(
                    legs.values().any(|&(rtp, _)| p.port.0 == rtp),
                    "pinned a port no live leg owns for RTP: {:?}",
                    p.port
                ),
                Output::Event(_) | Output::Timeout(_) => {}
            }
        }
    }
    let live: Vec<LegStats> = legs
        .keys()
        .filter_map(|&l| core.leg_stats(LegId(l as u64)))
        .collect();
    let mut scored = 0;
    for &l in legs.keys() {
        let Some(m) = core.leg_mos(LegId(l as u64)) else {
            continue;
        };
        scored += usize::from(m.samples > 0);
        assert_eq!(m.reporter, 42);
        assert!(m.samples + m.unscored > 0, "a summary only after a report");
        if let (Some(low), Some(high), Some(avg)) = (m.lowest, m.highest, m.average()) {
            assert!((10..=45).contains(&low.mos_x10) && low.mos_x10 <= high.mos_x10);
            assert!((low.mos_x10..=high.mos_x10).contains(&avg.mos_x10));
            assert!(avg.rtt_leg_us <= avg.rtt_us && high.rtt_us <= 20_000_000);
        } else {
            assert_eq!(m.samples, 0, "scored reports have a low, a high, a mean");
        }
    }
    let live_drops: u64 = live.iter().map(dropped).sum();
    let live_sent: u64 = live.iter().map(|s| s.sent_packets).sum();
    assert_eq!(
        datagrams,
        transmits + core.counters().unknown_port + live_drops + closed_drops,
        "every datagram sent or counted as dropped"
    );
    assert_eq!(
        transmits,
        live_sent + closed.sent_packets,
        "sends counted on the sending leg"
    );
    (datagrams, scored)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_inputs_keep_the_core_whole_and_every_datagram_accounted(
        steps in scenario()
    ) {
        run(&steps);
    }
}

/// The property is not vacuous: a plain call, set up and bridged, forwards.
#[test]
fn a_bridged_call_forwards_and_the_accounting_sees_it() {
    let mut steps = vec![
        Step::CreateCall(0),
        Step::AddLeg {
            call: 0,
            leg: 0,
            rtp: 0,
            mux: false,
            remote: Some(0),
            pts: vec![],
        },
        Step::AddLeg {
            call: 0,
            leg: 1,
            rtp: 1,
            mux: false,
            remote: Some(2),
            pts: vec![],
        },
        Step::Bridge(0, 1),
    ];
    for seq in 0..10 {
        // each phone from its SDP address into its leg's RTP port
        for (port, from, ssrc) in [(0, 0, 0), (2, 2, 1)] {
            steps.push(Step::Rtp {
                port,
                from,
                pt: 0,
                seq,
                ts: 160 * seq as u32,
                ssrc,
                len: 160,
            });
        }
    }
    steps.push(Step::Rtp {
        port: 0,
        from: 5,
        pt: 0,
        seq: 99,
        ts: 0,
        ssrc: 2,
        len: 10,
    });
    steps.push(Step::Garbage {
        port: 6,
        from: 0,
        bytes: vec![1, 2, 3],
    });
    assert_eq!(run(&steps), (22, 0));
    // RTCP from each phone's RTCP port: leg 1's SR, leg 0's report naming
    // it 100 ms later (its round trip), then leg 1's naming leg 0's SR: a
    // round trip on each side, leg 1's report scored
    let rtcp = |port, from, sr, lsr| Step::Rtcp {
        port,
        from,
        sr,
        lsr,
        dlsr: 0,
        lost: 0,
    };
    steps.extend([
        Step::Wait(1000),
        rtcp(3, 3, Some(1), 0),
        Step::Wait(100),
        rtcp(1, 1, Some(2), 1),
        Step::Wait(1000),
        rtcp(3, 3, None, 2),
    ]);
    assert_eq!(run(&steps), (25, 1));
}
