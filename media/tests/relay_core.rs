//! The sans-IO relay core driven by hand and by a pcap replay: forwarding
//! in the same buffer, rewriting with continuity, latching and hijack
//! protection, RTCP, media timeouts, malformed input, statistics, taps,
//! and no allocation per packet (a counting global allocator, per thread).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use ringwire_media::relay::*;
use ringwire_media::rtp::{RtpBuilder, RtpHeader};

// ---------------------------------------------------------------- allocator

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every method delegates to `System` with the caller's arguments;
// counting touches only a thread-local cell.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(|c| c.get())
}

// ---------------------------------------------------------------- helpers

const CARRIER: &str = "198.51.100.7:40000";
const CARRIER_RTCP: &str = "198.51.100.7:40001";
const AGENT: &str = "203.0.113.9:50000";
const AGENT_RTCP: &str = "203.0.113.9:50001";
const ATTACKER: &str = "192.0.2.66:6666";

const A: LegId = LegId(1);
const B: LegId = LegId(2);
const A_RTP: LocalPort = LocalPort(10000);
const A_RTCP: LocalPort = LocalPort(10001);
const B_RTP: LocalPort = LocalPort(10002);
const B_RTCP: LocalPort = LocalPort(10003);

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn rtp_pt(pt: u8, seq: u16, ts: u32, ssrc: u32) -> BytesMut {
    let payload: Vec<u8> = (0..160).map(|i| (i as u8) ^ (seq as u8)).collect();
    let b = RtpBuilder {
        payload_type: pt,
        sequence: seq,
        timestamp: ts,
        ssrc,
        ..Default::default()
    };
    let mut out = BytesMut::zeroed(b.packet_len(payload.len()));
    b.write(&payload, &mut out).unwrap();
    out
}

fn rtp(seq: u16, ts: u32, ssrc: u32) -> BytesMut {
    rtp_pt(0, seq, ts, ssrc)
}

/// An RTCP receiver report with no report blocks (or SR with `sr`).
fn rtcp(ssrc: u32, sr: bool) -> BytesMut {
    let mut v = vec![0x80, if sr { 200 } else { 201 }, 0, 0];
    v.extend_from_slice(&ssrc.to_be_bytes());
    if sr {
        v.extend_from_slice(&[0; 8]); // NTP
        v.extend_from_slice(&1000u32.to_be_bytes()); // RTP timestamp
        v.extend_from_slice(&[0; 8]); // counts
    }
    let words = (v.len() / 4 - 1) as u16;
    v[2..4].copy_from_slice(&words.to_be_bytes());
    BytesMut::from(&v[..])
}

struct H {
    core: RelayCore,
    timeout: Option<Duration>,
}

impl H {
    fn new(config: RelayConfig) -> H {
        H {
            core: RelayCore::new(config),
            timeout: None,
        }
    }

    /// A call with carrier leg A and agent leg B, bridged, at `now`.
    fn bridged(config: RelayConfig, now: Duration, a_types: &[u8]) -> H {
        let mut h = H::new(config);
        h.cmd(now, Command::CreateCall { call: CallId(1) });
        let mut a = LegSpec::new(A_RTP, A_RTCP, Some(sa(CARRIER)));
        a.payload_types = a_types.to_vec();
        h.cmd(
            now,
            Command::AddLeg {
                call: CallId(1),
                leg: A,
                spec: a,
            },
        );
        h.cmd(
            now,
            Command::AddLeg {
                call: CallId(1),
                leg: B,
                spec: LegSpec::new(B_RTP, B_RTCP, Some(sa(AGENT))),
            },
        );
        h.cmd(now, Command::Bridge { a: A, b: B });
        h.drain();
        h
    }

    fn cmd(&mut self, now: Duration, c: Command) {
        self.core.handle_input(now, Input::Command(c)).unwrap();
    }

    fn dgram(
        &mut self,
        now: Duration,
        local: LocalPort,
        from: &str,
        data: BytesMut,
    ) -> Vec<Output> {
        self.core
            .handle_input(
                now,
                Input::Datagram {
                    local,
                    from: sa(from),
                    data,
                },
            )
            .unwrap();
        self.drain()
    }

    fn drain(&mut self) -> Vec<Output> {
        let mut v = Vec::new();
        while let Some(o) = self.core.poll_output() {
            if let Output::Timeout(at) = o {
                self.timeout = Some(at);
            } else {
                v.push(o);
            }
        }
        v
    }

    fn stats(&self, leg: LegId) -> LegStats {
        self.core.leg_stats(leg).unwrap()
    }
}

fn transmits(outs: &[Output]) -> Vec<&Transmit> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Transmit(t) => Some(t),
            _ => None,
        })
        .collect()
}

fn events(outs: &[Output]) -> Vec<Event> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Event(e) => Some(*e),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------- forwarding

#[test]
fn forwards_bytes_untouched_in_the_same_buffer() {
    let mut h = H::bridged(RelayConfig::default(), ms(0), &[0]);
    for (k, seq) in [100u16, 101, 102].into_iter().enumerate() {
        let pkt = rtp(seq, 8000 + 160 * seq as u32, 0xCAFE);
        let expect = pkt.clone();
        let ptr = pkt.as_ptr();
        let outs = h.dgram(ms(20 * k as u64), A_RTP, CARRIER, pkt);
        let t = transmits(&outs);
        assert_eq!(t.len(), 1);
        assert_eq!((t[0].from, t[0].to), (B_RTP, sa(AGENT)));
        assert_eq!(
            &t[0].data[..],
            &expect[..],
            "bytes, sequence and timestamp kept"
        );
        assert_eq!(t[0].data.as_ptr(), ptr, "same buffer, no copy");
    }
    // And the other way.
    let outs = h.dgram(ms(60), B_RTP, AGENT, rtp(7, 7, 0xBEEF));
    let t = transmits(&outs);
    assert_eq!((t[0].from, t[0].to), (A_RTP, sa(CARRIER)));
    let s = h.stats(A);
    assert_eq!((s.packets, s.bytes, s.lost), (3, 3 * 172, 0));
    assert_eq!(
        (h.stats(B).sent_packets, h.stats(B).sent_bytes),
        (3, 3 * 172)
    );
}

#[test]
fn unbridged_leg_drops_and_counts() {
    let mut h = H::bridged(RelayConfig::default(), ms(0), &[]);
    h.cmd(ms(0), Command::Unbridge { leg: B });
    let outs = h.dgram(ms(10), A_RTP, CARRIER, rtp(1, 1, 1));
    assert!(transmits(&outs).is_empty());
    assert_eq!(h.stats(A).not_forwarded, 1);
}

#[test]
fn rewrite_keeps_continuity_across_a_source_change() {
    let mut h = H::bridged(RelayConfig::default(), ms(0), &[]);
    let rw = Rewrite {
        ssrc: 0x5EED,
        sequence_offset: 1000,
        timestamp_offset: 50_000,
    };
    h.cmd(
        ms(0),
        Command::SetRewrite {
            leg: B,
            rewrite: Some(rw),
        },
    );
    let mut out = Vec::new();
    // Source 1: seq 10..=12, ts 0,160,320 at 0,20,40 ms.
    for k in 0..3u16 {
        let pkt = rtp(10 + k, 160 * k as u32, 1);
        let payload = pkt[12..].to_vec();
        let ptr = pkt.as_ptr();
        let o = h.dgram(ms(20 * k as u64), A_RTP, CARRIER, pkt);
        let t = transmits(&o)[0];
        assert_eq!(t.data.as_ptr(), ptr, "rewritten in place");
        assert_eq!(&t.data[12..], &payload[..], "payload untouched");
        out.push(RtpHeader::parse(&t.data).unwrap());
    }
    // Source 2 (a new SSRC, far-off numbers) 60 ms after the last packet.
    for k in 0..2u16 {
        let o = h.dgram(
            ms(100 + 20 * k as u64),
            A_RTP,
            CARRIER,
            rtp(40_000 + k, 9_999_999 + 160 * k as u32, 2),
        );
        out.push(RtpHeader::parse(&transmits(&o)[0].data).unwrap());
    }
    let got: Vec<(u32, u16, u32)> = out
        .iter()
        .map(|h| (h.ssrc, h.sequence, h.timestamp))
        .collect();
    assert_eq!(
        got,
        vec![
            (0x5EED, 1010, 50_000),
            (0x5EED, 1011, 50_160),
            (0x5EED, 1012, 50_320),
            // 60 ms later: +480 ticks.
            (0x5EED, 1013, 50_800),
            (0x5EED, 1014, 50_960),
        ]
    );
    // RTCP SR out of B carries the new SSRC and the shifted RTP timestamp.
    let o = h.dgram(ms(130), A_RTCP, CARRIER_RTCP, rtcp(2, true));
    let t = transmits(&o)[0];
    assert_eq!(&t.data[4..8], &0x5EEDu32.to_be_bytes());
    let shift = 50_960u32.wrapping_sub(9_999_999 + 160);
    assert_eq!(&t.data[16..20], &1000u32.wrapping_add(shift).to_be_bytes());
    // Rewrite off: untouched again.
    h.cmd(
        ms(140),
        Command::SetRewrite {
            leg: B,
            rewrite: None,
        },
    );
    let pkt = rtp(5, 5, 3);
    let expect = pkt.clone();
    let o = h.dgram(ms(140), A_RTP, CARRIER, pkt);
    assert_eq!(&transmits(&o)[0].data[..], &expect[..]);
}

// ---------------------------------------------------------------- latching

#[test]
fn latches_on_the_first_valid_packet_within_the_setup_window() {
    // SDP says a private address (the carrier is behind NAT).
    let mut h = H::new(RelayConfig::default());
    h.cmd(ms(0), Command::CreateCall { call: CallId(9) });
    let mut spec = LegSpec::new(A_RTP, A_RTCP, Some(sa("10.0.0.5:4000")));
    spec.payload_types = vec![0, 101];
    h.cmd(
        ms(0),
        Command::AddLeg {
            call: CallId(9),
            leg: A,
            spec,
        },
    );
    h.cmd(
        ms(0),
        Command::AddLeg {
            call: CallId(9),
            leg: B,
            spec: LegSpec::new(B_RTP, B_RTCP, Some(sa(AGENT))),
        },
    );
    h.cmd(ms(0), Command::Bridge { a: A, b: B });
    // Not valid for latching: unexpected payload type, then garbage.
    let o = h.dgram(ms(100), A_RTP, ATTACKER, rtp_pt(8, 1, 1, 1));
    assert!(o.is_empty());
    let o = h.dgram(ms(110), A_RTP, ATTACKER, BytesMut::from(&[0x40u8; 20][..]));
    assert!(o.is_empty());
    assert_eq!((h.stats(A).hijack_drops, h.stats(A).malformed), (1, 1));
    // The first valid packet latches, and is forwarded.
    let o = h.dgram(ms(500), A_RTP, CARRIER, rtp(1, 0, 0x11));
    assert_eq!(
        events(&o),
        vec![Event::Latched {
            call: CallId(9),
            leg: A,
            stream: Stream::Rtp,
            old: Some(sa("10.0.0.5:4000")),
            new: sa(CARRIER),
        }]
    );
    assert_eq!(transmits(&o).len(), 1);
    assert_eq!(
        h.core.leg_remote(A),
        Some((Some(sa(CARRIER)), Some(sa(CARRIER_RTCP))))
    );
    // Media towards A now goes to the latched address.
    let o = h.dgram(ms(510), B_RTP, AGENT, rtp(1, 0, 0x22));
    assert_eq!(transmits(&o)[0].to, sa(CARRIER));
    // Once heard, another source is a hijack even inside the setup window.
    let o = h.dgram(ms(520), A_RTP, ATTACKER, rtp(2, 160, 0x11));
    assert!(o.is_empty());
    assert_eq!(h.stats(A).hijack_drops, 2);
    assert_eq!(h.stats(A).latches, 1);
}

#[test]
fn hijack_after_the_window_is_dropped_and_counted() {
    let mut h = H::bridged(RelayConfig::default(), ms(0), &[0]);
    for k in 0..200u64 {
        // The real remote talks every 20 ms...
        let o = h.dgram(ms(20 * k), A_RTP, CARRIER, rtp(k as u16, 160 * k as u32, 1));
        assert_eq!(transmits(&o).len(), 1);
        // ...and from 3 s on an attacker sends valid RTP too.
        if k >= 150 {
            let o = h.dgram(ms(20 * k + 5), A_RTP, ATTACKER, rtp(k as u16, 0, 99));
            assert!(o.is_empty(), "attacker packet {k} forwarded");
        }
    }
    let s = h.stats(A);
    assert_eq!((s.hijack_drops, s.latches, s.packets), (50, 0, 200));
    assert_eq!(h.core.leg_remote(A).unwrap().0, Some(sa(CARRIER)));
}

#[test]
fn relatches_after_the_remote_goes_quiet() {
    let cfg = RelayConfig::default(); // quiet window 5 s
    let mut h = H::bridged(cfg, ms(0), &[0]);
    h.dgram(ms(1000), A_RTP, CARRIER, rtp(1, 0, 1));
    // 4 s of silence is not enough.
    let o = h.dgram(ms(5000), A_RTP, "198.51.100.8:41000", rtp(1, 0, 2));
    assert!(o.is_empty());
    assert_eq!(h.stats(A).hijack_drops, 1);
    // 5 s is.
    let o = h.dgram(ms(6000), A_RTP, "198.51.100.8:41000", rtp(2, 160, 2));
    assert_eq!(transmits(&o).len(), 1);
    assert!(matches!(
        events(&o)[..],
        [Event::Latched { new, old: Some(old), .. }] if new == sa("198.51.100.8:41000") && old == sa(CARRIER)
    ));
    // The old remote is now the stranger.
    let o = h.dgram(ms(6020), A_RTP, CARRIER, rtp(2, 160, 1));
    assert!(o.is_empty());
    assert_eq!(h.stats(A).hijack_drops, 2);
}

#[test]
fn an_asymmetric_leg_takes_media_from_anywhere_and_sends_where_sdp_says() {
    // a carrier that sends from another port than the one in its SDP
    let mut h = H::bridged(pinning(), ms(0), &[0]);
    h.cmd(
        ms(0),
        Command::SetLatching {
            leg: A,
            latching: Latching::Off,
        },
    );
    let elsewhere = "198.51.100.8:41000";
    for (k, from) in [(1u16, elsewhere), (2, ATTACKER), (3, CARRIER)] {
        let o = h.dgram(ms(6000 * k as u64), A_RTP, from, rtp(k, 160 * k as u32, 1));
        assert_eq!(transmits(&o).len(), 1, "from {from}");
        assert!(events(&o).is_empty() && pins(&o).is_empty(), "{o:?}");
    }
    // not RTP of its types is still dropped
    assert!(h
        .dgram(ms(20_000), A_RTP, ATTACKER, rtp_pt(8, 9, 0, 1))
        .is_empty());
    assert_eq!((h.stats(A).latches, h.stats(A).hijack_drops), (0, 1));
    // media towards A, RTP and RTCP, goes where its SDP says
    let o = h.dgram(ms(20_010), B_RTP, AGENT, rtp(1, 0, 0x22));
    assert_eq!(transmits(&o)[0].to, sa(CARRIER));
    assert_eq!(
        h.core.leg_remote(A),
        Some((Some(sa(CARRIER)), Some(sa(CARRIER_RTCP))))
    );
    let o = h.dgram(ms(20_020), A_RTCP, elsewhere, rtcp(1, true));
    assert_eq!(transmits(&o).len(), 1, "A's RTCP from elsewhere");
    assert_eq!(h.core.leg_remote(A).unwrap().1, Some(sa(CARRIER_RTCP)));
}

#[test]
fn a_handover_leg_follows_a_new_source_at_once_and_is_never_pinned() {
    let mut h = H::bridged(pinning(), ms(0), &[0]);
    // pinned while protected; the handover flag unpins it
    let o = h.dgram(ms(10), A_RTP, CARRIER, rtp(1, 0, 1));
    assert_eq!(pins(&o).len(), 1);
    h.cmd(
        ms(20),
        Command::SetLatching {
            leg: A,
            latching: Latching::Handover,
        },
    );
    assert_eq!(
        pins(&h.drain()),
        [Pin {
            port: A_RTP,
            remote: None
        }]
    );
    // a phone that moves networks mid-call, the remote still talking
    let moved = "198.51.100.8:41000";
    let o = h.dgram(ms(3000), A_RTP, moved, rtp(2, 160, 1));
    assert_eq!(transmits(&o).len(), 1);
    assert!(matches!(
        events(&o)[..],
        [Event::Latched { new, .. }] if new == sa(moved)
    ));
    assert!(pins(&o).is_empty());
    let o = h.dgram(ms(3010), B_RTP, AGENT, rtp(1, 0, 0x22));
    assert_eq!(transmits(&o)[0].to, sa(moved));
    // what is not RTP of its types moves nothing
    assert!(h
        .dgram(ms(3020), A_RTP, ATTACKER, rtp_pt(8, 3, 0, 1))
        .is_empty());
    assert_eq!(h.core.leg_remote(A).unwrap().0, Some(sa(moved)));
    // and back to protected: a stranger is a hijack again
    h.cmd(
        ms(3030),
        Command::SetLatching {
            leg: A,
            latching: Latching::Protected,
        },
    );
    assert!(h
        .dgram(ms(3040), A_RTP, ATTACKER, rtp(4, 480, 1))
        .is_empty());
    assert_eq!((h.stats(A).latches, h.stats(A).hijack_drops), (1, 2));
}

fn pins(outs: &[Output]) -> Vec<Pin> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Pin(p) => Some(*p),
            _ => None,
        })
        .collect()
}

fn pinning() -> RelayConfig {
    RelayConfig {
        pin_remote: true,
        ..RelayConfig::default()
    }
}

#[test]
fn a_heard_remote_is_pinned_until_it_goes_quiet() {
    let mut h = H::bridged(pinning(), ms(0), &[0]);
    let pin = |remote: Option<&str>| Pin {
        port: A_RTP,
        remote: remote.map(sa),
    };
    // The first packet heard pins A's RTP socket to its source, before
    // the packet is relayed; later packets from there change nothing.
    let o = h.dgram(ms(1000), A_RTP, CARRIER, rtp(1, 0, 1));
    assert!(
        matches!(o[..], [Output::Pin(_), Output::Transmit(_)]),
        "{o:?}"
    );
    assert_eq!(pins(&o), [pin(Some(CARRIER))]);
    let o = h.dgram(ms(1020), A_RTP, CARRIER, rtp(2, 160, 1));
    assert!(pins(&o).is_empty());
    // The core wakes when the quiet window would end...
    assert_eq!(h.timeout, Some(ms(6000)));
    // ...and media moved it on: no unpin yet.
    h.core.handle_input(ms(6000), Input::Timeout).unwrap();
    assert!(pins(&h.drain()).is_empty());
    assert_eq!(h.timeout, Some(ms(6020)));
    // Quiet for 5 s: unpinned, so that another source can reach the leg
    // and latch it, which pins it there.
    h.core.handle_input(ms(6020), Input::Timeout).unwrap();
    assert_eq!(pins(&h.drain()), [pin(None)]);
    let o = h.dgram(ms(6500), A_RTP, "198.51.100.8:41000", rtp(3, 320, 2));
    assert_eq!(pins(&o), [pin(Some("198.51.100.8:41000"))]);
    assert_eq!(transmits(&o).len(), 1);
}

#[test]
fn a_new_remote_from_sdp_unpins_and_pinning_is_off_by_default() {
    let mut h = H::bridged(pinning(), ms(0), &[0]);
    h.dgram(ms(10), A_RTP, CARRIER, rtp(1, 0, 1));
    h.cmd(
        ms(20),
        Command::SetRemote {
            leg: A,
            rtp: Some(sa("198.51.100.9:5000")),
            rtcp: None,
        },
    );
    let o = h.drain();
    assert_eq!(
        pins(&o),
        [Pin {
            port: A_RTP,
            remote: None
        }]
    );
    // Unpinned, nothing more to lift.
    h.core.handle_input(ms(60_000), Input::Timeout).unwrap();
    assert!(pins(&h.drain()).is_empty());

    let mut h = H::bridged(RelayConfig::default(), ms(0), &[0]);
    let o = h.dgram(ms(10), A_RTP, CARRIER, rtp(1, 0, 1));
    assert!(pins(&o).is_empty());
}

#[test]
fn a_new_remote_from_sdp_reopens_the_setup_window() {
    let mut h = H::bridged(RelayConfig::default(), ms(0), &[0]);
    h.dgram(ms(100), A_RTP, CARRIER, rtp(1, 0, 1));
    // Re-offer at 10 s with a new address: media to A goes there at once,
    // and the first valid packet from anywhere within 2 s latches.
    h.cmd(
        ms(10_000),
        Command::SetRemote {
            leg: A,
            rtp: Some(sa("198.51.100.20:42000")),
            rtcp: None,
        },
    );
    let o = h.dgram(ms(10_010), B_RTP, AGENT, rtp(1, 0, 2));
    assert_eq!(transmits(&o)[0].to, sa("198.51.100.20:42000"));
    let o = h.dgram(ms(11_000), A_RTP, "198.51.100.21:43000", rtp(2, 160, 1));
    assert_eq!(transmits(&o).len(), 1);
    assert_eq!(
        h.core.leg_remote(A),
        Some((
            Some(sa("198.51.100.21:43000")),
            Some(sa("198.51.100.21:43001"))
        ))
    );
}

// ---------------------------------------------------------------- RTCP

#[test]
fn rtcp_is_forwarded_between_rtcp_ports() {
    let mut h = H::bridged(RelayConfig::default(), ms(0), &[]);
    let pkt = rtcp(0xCAFE, true);
    let expect = pkt.clone();
    let o = h.dgram(ms(10), A_RTCP, CARRIER_RTCP, pkt);
    let t = transmits(&o);
    assert_eq!((t[0].from, t[0].to), (B_RTCP, sa(AGENT_RTCP)));
    assert_eq!(&t[0].data[..], &expect[..]);
    let o = h.dgram(ms(20), B_RTCP, AGENT_RTCP, rtcp(0xBEEF, false));
    assert_eq!(
        (transmits(&o)[0].from, transmits(&o)[0].to),
        (A_RTCP, sa(CARRIER_RTCP))
    );
    // RTCP from another host after the RTP remote is heard: dropped.
    h.dgram(ms(30), A_RTP, CARRIER, rtp(1, 1, 1));
    let o = h.dgram(ms(40), A_RTCP, ATTACKER, rtcp(1, false));
    assert!(o.is_empty());
    // From the remote's host on another port: latched (RTCP follows RTP).
    let o = h.dgram(ms(50), A_RTCP, "198.51.100.7:40123", rtcp(1, false));
    assert_eq!(transmits(&o).len(), 1);
    assert!(matches!(
        events(&o)[..],
        [Event::Latched {
            stream: Stream::Rtcp,
            ..
        }]
    ));
    let s = h.stats(A);
    assert_eq!((s.rtcp_packets, s.hijack_drops), (2, 1));
}

/// An SR from `ssrc` with NTP seconds `ntp_s` (fraction 0), or an RR,
/// with one report block naming the SR with NTP seconds `lsr_s`, held
/// `held_eighths` of a second, `fraction_lost` and `jitter` as given.
fn report(
    ssrc: u32,
    ntp_s: Option<u32>,
    lsr_s: u32,
    held_eighths: u32,
    fraction_lost: u8,
) -> BytesMut {
    use ringwire_media::rtcp::{write_report, NtpTime, ReportBlock, SenderInfo};
    let sender = ntp_s.map(|seconds| SenderInfo {
        ntp: NtpTime {
            seconds,
            fraction: 0,
        },
        ..SenderInfo::default()
    });
    let block = ReportBlock {
        ssrc: 0x5eed,
        fraction_lost,
        cumulative_lost: 7,
        jitter: 40,
        lsr: NtpTime {
            seconds: lsr_s,
            fraction: 0,
        }
        .middle(),
        dlsr: held_eighths * 65_536 / 8,
        ..ReportBlock::default()
    };
    let mut v = Vec::new();
    write_report(&mut v, ssrc, sender, &[block]);
    BytesMut::from(&v[..])
}

#[test]
fn receiver_reports_give_each_legs_round_trip_and_a_score() {
    let mut h = H::bridged(RelayConfig::default(), ms(0), &[]);
    // the agent's SR passes to the carrier at 1 s; the carrier's RR names
    // it 145 ms later, held 125 ms: 20 ms between the node and the carrier
    h.dgram(
        ms(1000),
        B_RTCP,
        AGENT_RTCP,
        report(0xB, Some(100), 0, 0, 0),
    );
    h.dgram(
        ms(1145),
        A_RTCP,
        CARRIER_RTCP,
        report(0xA, Some(200), 100, 1, 0),
    );
    let a = h.core.leg_mos(A).unwrap();
    // the agent's side is not known yet: nothing to score
    assert_eq!((a.reporter, a.samples, a.unscored), (0xA, 0, 1));
    // the agent names the carrier's SR 1175 ms after it passed, held
    // 1125: 50 ms on its side, 70 ms end to end (its SR's block, naming
    // no SR, was not scored)
    h.dgram(ms(2320), B_RTCP, AGENT_RTCP, report(0xB, None, 200, 9, 26));
    let b = h.core.leg_mos(B).unwrap();
    assert_eq!(
        (b.reporter, b.samples, b.unscored, b.cumulative_lost),
        (0xB, 1, 1, 7)
    );
    let low = b.lowest.unwrap();
    assert_eq!(
        (
            low.rtt_us,
            low.rtt_leg_us,
            low.jitter_ms,
            low.loss_percent,
            low.at
        ),
        (70_000, 50_000, 5, 10, ms(2320))
    );
    assert_eq!(low.mos_x10, mos_x10(70_000, 5, 10));
    // the carrier's next report is scored with both sides known
    h.dgram(
        ms(6145),
        A_RTCP,
        CARRIER_RTCP,
        report(0xA, Some(300), 100, 41, 0),
    );
    let a = h.core.leg_mos(A).unwrap();
    assert_eq!((a.samples, a.unscored), (1, 1));
    assert_eq!(a.highest.unwrap().rtt_us, 70_000);
    assert_eq!(a.average().unwrap().mos_x10, mos_x10(70_000, 5, 0));
    // all of it was forwarded as it came
    assert_eq!(h.stats(A).rtcp_packets, 2);
    assert_eq!(h.stats(B).sent_packets, 2);
}

#[test]
fn rtcp_mux_on_the_rtp_port() {
    let mut h = H::new(RelayConfig::default());
    h.cmd(ms(0), Command::CreateCall { call: CallId(1) });
    for (leg, port, remote) in [(A, 20000, CARRIER), (B, 20002, AGENT)] {
        h.cmd(
            ms(0),
            Command::AddLeg {
                call: CallId(1),
                leg,
                spec: LegSpec::new(LocalPort(port), LocalPort(port), Some(sa(remote))),
            },
        );
    }
    h.cmd(ms(0), Command::Bridge { a: A, b: B });
    let o = h.dgram(ms(10), LocalPort(20000), CARRIER, rtcp(5, false));
    assert_eq!(
        (transmits(&o)[0].from, transmits(&o)[0].to),
        (LocalPort(20002), sa(AGENT))
    );
    let o = h.dgram(ms(20), LocalPort(20000), CARRIER, rtp(1, 1, 5));
    assert_eq!(transmits(&o)[0].to, sa(AGENT));
    let s = h.stats(A);
    assert_eq!((s.rtcp_packets, s.packets), (1, 1));
}

#[test]
fn a_marked_packet_of_a_named_type_in_the_rtcp_range_is_rtp() {
    // PT 77 with the marker bit reads 205 in the second byte, an RTCP
    // packet type (RFC 5761 section 4). A remote whose SDP named 77 and
    // that does not multiplex RTCP sends RTP; one that multiplexes may
    // not use 64-95, so there it is RTCP.
    let marked = |seq: u16| {
        let mut p = rtp_pt(77, seq, u32::from(seq) * 160, 1);
        p[1] |= 0x80;
        p
    };
    let mut h = H::bridged(RelayConfig::default(), ms(0), &[0, 77]);
    let o = h.dgram(ms(10), A_RTP, CARRIER, marked(1));
    assert_eq!(transmits(&o)[0].from, B_RTP);
    let a = h.stats(A);
    assert_eq!((a.packets, a.rtcp_packets, a.malformed), (1, 0, 0));
    h.cmd(ms(20), Command::SetRtcpMux { leg: A, mux: true });
    let o = h.dgram(ms(30), A_RTP, CARRIER, rtcp(1, false));
    assert_eq!(transmits(&o)[0].from, B_RTCP);
    assert_eq!(h.stats(A).rtcp_packets, 1);
    // a leg that takes any type reads the range as RTCP
    let mut h = H::bridged(RelayConfig::default(), ms(0), &[]);
    h.dgram(ms(10), A_RTP, CARRIER, rtcp(1, false));
    h.dgram(ms(20), A_RTP, CARRIER, marked(2));
    let a = h.stats(A);
    assert_eq!((a.packets, a.rtcp_packets), (0, 2));
}

#[test]
fn a_re_offer_with_new_codecs_lets_them_latch() {
    // A offers PCMU only; a re-offer moves it to PCMA (8). Before the
    // change a new source sending PCMA cannot latch; after it, it can.
    let mut h = H::bridged(RelayConfig::default(), ms(0), &[0]);
    h.dgram(ms(10), A_RTP, CARRIER, rtp_pt(0, 1, 160, 1));
    h.cmd(
        ms(3000),
        Command::SetRemote {
            leg: A,
            rtp: Some(sa(CARRIER)),
            rtcp: None,
        },
    );
    // NAT: A's media now comes from elsewhere, in PCMA
    let moved = "198.51.100.7:41000";
    h.dgram(ms(3010), A_RTP, moved, rtp_pt(8, 2, 320, 1));
    assert_eq!(h.stats(A).hijack_drops, 1, "PCMA is no type A may send yet");
    h.cmd(
        ms(3020),
        Command::SetPayloadTypes {
            leg: A,
            payload_types: vec![8, 101],
        },
    );
    let o = h.dgram(ms(3030), A_RTP, moved, rtp_pt(8, 3, 480, 1));
    assert_eq!(transmits(&o).len(), 1);
    assert_eq!(h.stats(A).latches, 1);
    // a type above 127 is refused, the set kept
    let e = h.core.handle_input(
        ms(3040),
        Input::Command(Command::SetPayloadTypes {
            leg: A,
            payload_types: vec![200],
        }),
    );
    assert!(matches!(e, Err(RelayError::BadPayloadType(200))), "{e:?}");
}

#[test]
fn a_wildcard_remote_is_no_address() {
    // c=IN IP4 0.0.0.0 (hold, RFC 2543 style): sent to, 0.0.0.0 would
    // reach the node's own host; nothing goes out until A is heard.
    let mut h = H::new(RelayConfig::default());
    h.cmd(ms(0), Command::CreateCall { call: CallId(1) });
    for (leg, rtp_port, rtcp_port, remote) in [
        (A, A_RTP, A_RTCP, "0.0.0.0:40000"),
        (B, B_RTP, B_RTCP, AGENT),
    ] {
        let spec = LegSpec::new(rtp_port, rtcp_port, Some(sa(remote)));
        h.cmd(
            ms(0),
            Command::AddLeg {
                call: CallId(1),
                leg,
                spec,
            },
        );
    }
    h.cmd(ms(0), Command::Bridge { a: A, b: B });
    let o = h.dgram(ms(10), B_RTP, AGENT, rtp(1, 160, 2));
    assert!(transmits(&o).is_empty());
    assert_eq!(h.stats(B).not_forwarded, 1);
    let o = h.dgram(ms(10), B_RTCP, AGENT_RTCP, rtcp(2, false));
    assert!(transmits(&o).is_empty());
    // a re-offer to port 0 is no address either
    h.cmd(
        ms(20),
        Command::SetRemote {
            leg: A,
            rtp: Some(sa("198.51.100.7:0")),
            rtcp: None,
        },
    );
    assert!(transmits(&h.dgram(ms(30), B_RTP, AGENT, rtp(2, 320, 2))).is_empty());
    // A heard: latched, and B's media reaches it
    h.dgram(ms(40), A_RTP, CARRIER, rtp(1, 160, 1));
    let o = h.dgram(ms(50), B_RTP, AGENT, rtp(3, 480, 2));
    assert_eq!(transmits(&o)[0].to, sa(CARRIER));
}

#[test]
fn rtcp_muxed_by_the_remote_of_a_leg_with_an_rtcp_port() {
    // Both peers negotiated rtcp-mux with each other (the node passes
    // a=rtcp-mux through) while the node's legs have RTCP ports of their
    // own: RTCP to an RTP port is RTCP (RFC 5761 section 4), not a
    // malformed RTP packet, and RTCP back to a muxing peer goes to its
    // RTP address from the leg's RTP port.
    let mut h = H::bridged(RelayConfig::default(), ms(0), &[]);
    h.dgram(ms(10), A_RTP, CARRIER, rtp(1, 160, 1));
    h.dgram(ms(10), B_RTP, AGENT, rtp(1, 160, 2));
    let o = h.dgram(ms(20), A_RTP, CARRIER, rtcp(1, true));
    assert_eq!(transmits(&o).len(), 1);
    assert_eq!(
        (transmits(&o)[0].from, transmits(&o)[0].to),
        (B_RTCP, sa(AGENT_RTCP)),
        "to B as B's SDP says, B not yet heard muxing"
    );
    assert!(matches!(
        events(&o)[..],
        [Event::Latched {
            stream: Stream::Rtcp,
            leg: A,
            ..
        }]
    ));
    let a = h.stats(A);
    assert_eq!((a.rtcp_packets, a.malformed, a.packets), (1, 0, 1));
    // B's RTCP, from its RTCP port, reaches A where A muxes
    let o = h.dgram(ms(30), B_RTCP, AGENT_RTCP, rtcp(2, false));
    assert_eq!(
        (transmits(&o)[0].from, transmits(&o)[0].to),
        (A_RTP, sa(CARRIER))
    );
    // a control that read rtcp-mux in both SDPs says so up front, and a
    // re-offer keeps it
    h.cmd(ms(40), Command::SetRtcpMux { leg: B, mux: true });
    h.cmd(
        ms(45),
        Command::SetRemote {
            leg: B,
            rtp: Some(sa(AGENT)),
            rtcp: Some(sa(AGENT_RTCP)),
        },
    );
    let o = h.dgram(ms(50), A_RTP, CARRIER, rtcp(1, false));
    assert_eq!(
        (transmits(&o)[0].from, transmits(&o)[0].to),
        (B_RTP, sa(AGENT))
    );
    // A going back to its RTCP port is followed too
    let o = h.dgram(ms(60), A_RTCP, CARRIER_RTCP, rtcp(1, false));
    assert_eq!(transmits(&o).len(), 1);
    let o = h.dgram(ms(70), B_RTP, AGENT, rtcp(2, false));
    assert_eq!(
        (transmits(&o)[0].from, transmits(&o)[0].to),
        (A_RTCP, sa(CARRIER_RTCP))
    );
    // RTP on an RTCP port is still malformed
    h.dgram(ms(80), A_RTCP, CARRIER_RTCP, rtp(2, 320, 1));
    assert_eq!(h.stats(A).malformed, 1);
    // and B told to stop multiplexing gets RTCP at its RTCP port again
    h.cmd(ms(90), Command::SetRtcpMux { leg: B, mux: false });
    let o = h.dgram(ms(100), A_RTCP, CARRIER_RTCP, rtcp(1, false));
    assert_eq!(
        (transmits(&o)[0].from, transmits(&o)[0].to),
        (B_RTCP, sa(AGENT_RTCP))
    );
}

// ---------------------------------------------------------------- timeouts

#[test]
fn media_timeout_is_raised_exactly_once() {
    let cfg = RelayConfig {
        media_timeout: Duration::from_secs(30),
        ..Default::default()
    };
    let mut h = H::bridged(cfg, ms(0), &[]);
    assert_eq!(h.timeout, Some(ms(30_000)));
    // B talks until 10 s; A never does.
    for k in 0..=500u64 {
        h.dgram(ms(20 * k), B_RTP, AGENT, rtp(k as u16, 160 * k as u32, 2));
    }
    let mut timeouts = Vec::new();
    for _ in 0..2 {
        let now = h.timeout.take().expect("a timeout is pending");
        h.core.handle_input(now, Input::Timeout).unwrap();
        for e in events(&h.drain()) {
            timeouts.push((now, e));
        }
    }
    assert_eq!(h.timeout, None, "both legs timed out: nothing to wait for");
    // More timeouts much later: nothing new.
    h.core.handle_input(ms(200_000), Input::Timeout).unwrap();
    assert!(events(&h.drain()).is_empty());
    // Media resumes on A: one MediaResumed, then one more timeout 30 s on.
    let o = h.dgram(ms(200_000), A_RTP, CARRIER, rtp(1, 1, 1));
    assert!(events(&o).contains(&Event::MediaResumed {
        call: CallId(1),
        leg: A
    }));
    assert_eq!(h.timeout, Some(ms(230_000)));
    h.core.handle_input(ms(230_000), Input::Timeout).unwrap();
    assert_eq!(events(&h.drain()).len(), 1);
    h.core.handle_input(ms(260_000), Input::Timeout).unwrap();
    assert!(events(&h.drain()).is_empty());
}

#[test]
fn new_timing_moves_the_deadlines_of_legs_already_running() {
    let mut h = H::bridged(RelayConfig::default(), ms(0), &[0]);
    assert_eq!(h.timeout, Some(ms(30_000)));
    // B talks until 10 s; A only at 1 s.
    h.dgram(ms(1000), A_RTP, CARRIER, rtp(1, 0, 1));
    for k in 0..=500u64 {
        h.dgram(ms(20 * k), B_RTP, AGENT, rtp(k as u16, 160 * k as u32, 2));
    }
    // A reload at 12 s shortens the media timeout to 5 s and the quiet
    // window to 2 s: A, quiet for 11 s, is due at once.
    let timing = |media, quiet| Command::SetTiming {
        setup_window: ms(2000),
        quiet_window: ms(quiet),
        media_timeout: ms(media),
    };
    h.cmd(ms(12_000), timing(5000, 2000));
    h.drain();
    assert_eq!(h.timeout, Some(ms(6000)), "A's last packet at 1 s + 5 s");
    h.core.handle_input(ms(12_000), Input::Timeout).unwrap();
    assert!(events(&h.drain()).contains(&Event::MediaTimeout {
        call: CallId(1),
        leg: A,
        last_rtp: Some(ms(1000)),
    }));
    assert_eq!(h.timeout, Some(ms(15_000)), "B's last packet at 10 s + 5 s");
    // the quiet window is 2 s now: another source latches A at once
    let o = h.dgram(ms(12_100), A_RTP, "198.51.100.8:41000", rtp(2, 160, 3));
    assert_eq!(transmits(&o).len(), 1);
    // a longer timeout than before holds back B's
    h.cmd(ms(13_000), timing(60_000, 5000));
    h.drain();
    assert_eq!(h.timeout, Some(ms(70_000)));
}

// ---------------------------------------------------------------- bad input

#[test]
fn malformed_datagrams_are_dropped_and_counted() {
    let mut h = H::bridged(RelayConfig::default(), ms(0), &[]);
    let bad: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x80],
        vec![0x80; 11],
        vec![0x40; 40],                                                // version 1
        vec![0x8f; 20],                                                // 15 CSRCs in 20 bytes
        vec![0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff], // extension overrun
        {
            let mut v = vec![0xa0; 20]; // padding larger than the packet
            v[19] = 200;
            v
        },
    ];
    let n = bad.len() as u64;
    for (k, b) in bad.into_iter().enumerate() {
        let o = h.dgram(ms(k as u64), A_RTP, CARRIER, BytesMut::from(&b[..]));
        assert!(o.is_empty());
    }
    for b in [
        vec![0x80, 200, 0, 1],
        vec![0x00; 12],
        vec![0x80, 0x00, 0, 0, 0, 0, 0, 0],
    ] {
        let o = h.dgram(ms(50), A_RTCP, CARRIER_RTCP, BytesMut::from(&b[..]));
        assert!(o.is_empty());
    }
    let s = h.stats(A);
    assert_eq!((s.malformed, s.packets, s.rtcp_packets), (n + 3, 0, 0));
    // Unknown port: counted by the core.
    h.dgram(ms(60), LocalPort(1), CARRIER, rtp(1, 1, 1));
    assert_eq!(h.core.counters().unknown_port, 1);
    // Still relays afterwards.
    let o = h.dgram(ms(70), A_RTP, CARRIER, rtp(1, 1, 1));
    assert_eq!(transmits(&o).len(), 1);
}

#[test]
fn random_bytes_never_panic() {
    let mut h = H::bridged(RelayConfig::default(), ms(0), &[]);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for k in 0..20_000u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 80) as usize;
        let mut v: Vec<u8> = (0..len)
            .map(|i| (x >> (i % 8 * 8)) as u8 ^ i as u8)
            .collect();
        if k % 2 == 0 && !v.is_empty() {
            v[0] = 0x80 | (v[0] & 0x3f); // version 2 half the time
        }
        let port = [A_RTP, A_RTCP, B_RTP, B_RTCP][(x >> 60) as usize % 4];
        let from = if x & 1 == 0 { CARRIER } else { ATTACKER };
        h.dgram(ms(k), port, from, BytesMut::from(&v[..]));
    }
}

#[test]
fn bad_commands_are_typed_errors_and_change_nothing() {
    let mut h = H::bridged(RelayConfig::default(), ms(0), &[]);
    let mut c = |cmd| h.core.handle_input(ms(1), Input::Command(cmd)).unwrap_err();
    assert_eq!(
        c(Command::CreateCall { call: CallId(1) }),
        RelayError::CallExists(CallId(1))
    );
    assert_eq!(
        c(Command::AddLeg {
            call: CallId(1),
            leg: LegId(3),
            spec: LegSpec::new(A_RTP, LocalPort(9), None)
        }),
        RelayError::PortInUse(A_RTP)
    );
    let mut spec = LegSpec::new(LocalPort(8), LocalPort(9), None);
    spec.payload_types = vec![128];
    assert_eq!(
        c(Command::AddLeg {
            call: CallId(1),
            leg: LegId(3),
            spec
        }),
        RelayError::BadPayloadType(128)
    );
    assert_eq!(
        c(Command::Unbridge { leg: LegId(77) }),
        RelayError::UnknownLeg(LegId(77))
    );
    assert!(matches!(
        c(Command::Bridge { a: A, b: A }),
        RelayError::BadBridge { .. }
    ));
    assert_eq!(
        c(Command::SetTap {
            leg: A,
            tap: Some(TapId(4))
        }),
        RelayError::UnknownTap(TapId(4))
    );
    assert_eq!(
        c(Command::DeleteCall { call: CallId(5) }),
        RelayError::UnknownCall(CallId(5))
    );
    assert_eq!(h.core.leg_count(), 2);
    // Legs of different calls.
    h.cmd(ms(1), Command::CreateCall { call: CallId(2) });
    h.cmd(
        ms(1),
        Command::AddLeg {
            call: CallId(2),
            leg: LegId(3),
            spec: LegSpec::new(LocalPort(8), LocalPort(9), None),
        },
    );
    let e = h
        .core
        .handle_input(ms(1), Input::Command(Command::Bridge { a: A, b: LegId(3) }))
        .unwrap_err();
    assert!(matches!(e, RelayError::BadBridge { .. }));
    assert!(!e.to_string().is_empty());
    // A and B still bridged.
    let o = h.dgram(ms(2), A_RTP, CARRIER, rtp(1, 1, 1));
    assert_eq!(transmits(&o).len(), 1);
}

#[test]
fn delete_call_reports_final_stats_and_frees_ports() {
    let mut h = H::bridged(RelayConfig::default(), ms(0), &[]);
    h.dgram(ms(0), A_RTP, CARRIER, rtp(1, 0, 1));
    h.dgram(ms(20), A_RTP, CARRIER, rtp(3, 320, 1));
    h.cmd(ms(30), Command::DeleteCall { call: CallId(1) });
    let ev = events(&h.drain());
    assert_eq!(ev.len(), 2);
    match ev[0] {
        Event::LegClosed { leg, stats, .. } => {
            assert_eq!(leg, A);
            assert_eq!((stats.packets, stats.lost), (2, 1));
        }
        e => panic!("{e:?}"),
    }
    assert_eq!((h.core.call_count(), h.core.leg_count()), (0, 0));
    h.dgram(ms(40), A_RTP, CARRIER, rtp(4, 480, 1));
    assert_eq!(h.core.counters().unknown_port, 1);
    // The ports can be used again.
    h.cmd(ms(50), Command::CreateCall { call: CallId(1) });
    h.cmd(
        ms(50),
        Command::AddLeg {
            call: CallId(1),
            leg: A,
            spec: LegSpec::new(A_RTP, A_RTCP, None),
        },
    );
}

// ---------------------------------------------------------------- statistics

#[test]
fn jitter_matches_a_hand_computation() {
    let mut h = H::bridged(RelayConfig::default(), ms(0), &[]);
    // Timestamps every 160 ticks (20 ms); arrivals at 0, 20, 45, 60 ms,
    // i.e. 0, 160, 360, 480 ticks. Transit: 0, 0, 40, 0; |D|: 0, 40, 40.
    // RFC 3550 A.8 (scaled by 16): J16 = 0; + 0 - 0 = 0; + 40 - 0 = 40;
    // + 40 - ((40 + 8) >> 4) = 77. Jitter = 77 >> 4 = 4 ticks
    // (the real-valued recursion gives 4.84).
    for (k, arr) in [0u64, 20, 45, 60].into_iter().enumerate() {
        h.dgram(ms(arr), A_RTP, CARRIER, rtp(k as u16, 160 * k as u32, 1));
    }
    assert_eq!(h.stats(A).jitter, 4);
    // A constant network delay is no jitter.
    let mut h = H::bridged(RelayConfig::default(), ms(0), &[]);
    for k in 0..100u64 {
        h.dgram(
            ms(20 * k + 137),
            A_RTP,
            CARRIER,
            rtp(k as u16, 160 * k as u32 + 12345, 1),
        );
    }
    assert_eq!(h.stats(A).jitter, 0);
    // Alternating 0 / 10 ms late: |D| = 80 ticks every packet. The integer
    // recursion J16 += 80 - ((J16 + 8) >> 4) climbs by ever smaller steps
    // to the first J16 with (J16 + 8) >> 4 = 80, which is 1272 (1271 steps
    // by 1 onto it), and stays: jitter 1272 >> 4 = 79 ticks.
    let mut h = H::bridged(RelayConfig::default(), ms(0), &[]);
    for k in 0..1000u64 {
        h.dgram(
            ms(20 * k + 10 * (k % 2)),
            A_RTP,
            CARRIER,
            rtp(k as u16, 160 * k as u32, 1),
        );
    }
    assert_eq!(h.stats(A).jitter, 1272 >> 4);
}

#[test]
fn loss_duplicates_and_out_of_order_are_counted() {
    let mut h = H::bridged(RelayConfig::default(), ms(0), &[]);
    // 1..=20 with 5 and 6 lost, 9 late (after 10), 12 twice, wrap-free.
    let mut seqs: Vec<u16> = (1..=20).filter(|s| ![5, 6, 9].contains(s)).collect();
    let at10 = seqs.iter().position(|&s| s == 10).unwrap();
    seqs.insert(at10 + 1, 9);
    let at12 = seqs.iter().position(|&s| s == 12).unwrap();
    seqs.insert(at12 + 1, 12);
    let mut forwarded = 0;
    for (k, &s) in seqs.iter().enumerate() {
        let o = h.dgram(ms(20 * k as u64), A_RTP, CARRIER, rtp(s, 160 * s as u32, 1));
        forwarded += transmits(&o).len();
    }
    let s = h.stats(A);
    assert_eq!(
        (s.packets, s.lost, s.duplicates, s.out_of_order),
        (19, 2, 1, 1)
    );
    // The relay forwards what it gets, duplicates included (it is a relay,
    // not a jitter buffer).
    assert_eq!(forwarded, 19);
    // Across the 16-bit wrap.
    let mut h = H::bridged(RelayConfig::default(), ms(0), &[]);
    for (k, s) in [65533u16, 65534, 65535, 1, 0, 2, 2].into_iter().enumerate() {
        h.dgram(ms(20 * k as u64), A_RTP, CARRIER, rtp(s, 0, 1));
    }
    let s = h.stats(A);
    assert_eq!((s.lost, s.duplicates, s.out_of_order), (0, 1, 1));
}

// ---------------------------------------------------------------- taps

/// What a tap saw: leg, payload type, sequence, timestamp, payload length, time.
type Seen = (LegId, u8, u16, u32, usize, Duration);

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Seen>>>);

impl DetectorTap for Recorder {
    fn on_rtp(&mut self, p: &TapPacket<'_>) {
        self.0.lock().unwrap().push((
            p.leg,
            p.payload_type,
            p.sequence,
            p.timestamp,
            p.payload.len(),
            p.now,
        ));
    }
}

#[test]
fn taps_see_parsed_packets_once_until_detached() {
    let mut h = H::bridged(RelayConfig::default(), ms(0), &[]);
    let rec = Recorder::default();
    let tap = h.core.register_tap(Box::new(rec.clone()));
    h.cmd(
        ms(0),
        Command::SetTap {
            leg: A,
            tap: Some(tap),
        },
    );
    h.dgram(ms(0), A_RTP, CARRIER, rtp(1, 0, 1));
    h.dgram(ms(20), A_RTP, CARRIER, rtp_pt(101, 2, 160, 1));
    h.dgram(ms(21), A_RTP, CARRIER, rtp(2, 160, 1)); // duplicate: not tapped
    h.dgram(ms(25), A_RTP, ATTACKER, rtp(3, 320, 1)); // hijack: not tapped
    h.dgram(ms(30), B_RTP, AGENT, rtp(1, 0, 2)); // other leg: not tapped
    h.cmd(ms(40), Command::SetTap { leg: A, tap: None });
    h.dgram(ms(40), A_RTP, CARRIER, rtp(3, 320, 1));
    assert_eq!(
        *rec.0.lock().unwrap(),
        vec![(A, 0, 1, 0, 160, ms(0)), (A, 101, 2, 160, 160, ms(20))]
    );
    assert!(h.core.take_tap(tap).is_some());
}

// ---------------------------------------------------------------- allocation

#[test]
fn no_allocation_per_packet() {
    let mut h = H::bridged(RelayConfig::default(), ms(0), &[]);
    h.cmd(
        ms(0),
        Command::SetRewrite {
            leg: B,
            rewrite: Some(Rewrite {
                ssrc: 1,
                sequence_offset: 2,
                timestamp_offset: 3,
            }),
        },
    );
    struct Nop;
    impl DetectorTap for Nop {
        fn on_rtp(&mut self, _: &TapPacket<'_>) {}
    }
    let tap = h.core.register_tap(Box::new(Nop));
    h.cmd(
        ms(0),
        Command::SetTap {
            leg: A,
            tap: Some(tap),
        },
    );
    // The driver's buffers, made beforehand (its pool).
    let n = 2000u64;
    let mut pkts: Vec<(LocalPort, SocketAddr, BytesMut)> = (0..n)
        .map(|k| {
            if k % 50 == 49 {
                (A_RTCP, sa(CARRIER_RTCP), rtcp(7, true))
            } else if k % 2 == 0 {
                (A_RTP, sa(CARRIER), rtp(k as u16, 160 * k as u32, 7))
            } else {
                (B_RTP, sa(AGENT), rtp(k as u16, 160 * k as u32, 8))
            }
        })
        .collect();
    pkts.reverse();
    let mut sent = 0u64;
    let before = allocs();
    for k in 0..n {
        let (local, from, data) = pkts.pop().unwrap();
        h.core
            .handle_input(ms(10 * k), Input::Datagram { local, from, data })
            .unwrap();
        while let Some(o) = h.core.poll_output() {
            if let Output::Transmit(t) = o {
                sent += 1;
                drop(t);
            }
        }
    }
    let after = allocs();
    assert_eq!(sent, n);
    assert_eq!(after - before, 0, "allocations on the packet path");
}

// ---------------------------------------------------------------- pcap replay

/// UDP datagrams of a capture with their capture times (from the first).
fn datagrams(path: &Path) -> Vec<(Duration, SocketAddr, SocketAddr, Vec<u8>)> {
    let mut cap = pcap::Capture::from_file(path).unwrap();
    let lt = cap.get_datalink().0;
    let mut out = Vec::new();
    let mut t0 = None;
    while let Ok(p) = cap.next_packet() {
        let t = Duration::new(p.header.ts.tv_sec as u64, p.header.ts.tv_usec as u32 * 1000);
        let t0 = *t0.get_or_insert(t);
        if let Ok(d) = ringwire_media::capture::link::udp_datagram(lt, p.data) {
            out.push((t.saturating_sub(t0), d.src, d.dst, d.payload.to_vec()));
        }
    }
    out
}

/// Everything observable from one replay: outputs in order and final stats.
#[derive(Debug, PartialEq)]
struct Replay {
    outputs: Vec<String>,
    stats: Vec<LegStats>,
    transmitted: usize,
    input_rtp: usize,
}

/// Replays a capture through the core alone: the first source seen is the
/// far end of leg A (no SDP address: it latches), the second that of leg B
/// (SDP address: the first datagram's destination), A and B bridged;
/// timeouts are fed at the times asked for.
fn replay(path: &Path, rewrite: bool) -> Replay {
    let dgrams = datagrams(path);
    assert!(!dgrams.is_empty(), "{}: no UDP", path.display());
    let mut h = H::new(RelayConfig::default());
    h.cmd(Duration::ZERO, Command::CreateCall { call: CallId(1) });
    let b_remote = dgrams[0].2;
    for (leg, port, remote) in [(A, 30000u16, None), (B, 30002, Some(b_remote))] {
        h.cmd(
            Duration::ZERO,
            Command::AddLeg {
                call: CallId(1),
                leg,
                spec: LegSpec::new(LocalPort(port), LocalPort(port + 1), remote),
            },
        );
    }
    h.cmd(Duration::ZERO, Command::Bridge { a: A, b: B });
    if rewrite {
        let rw = Rewrite {
            ssrc: 42,
            sequence_offset: 7,
            timestamp_offset: 9,
        };
        h.cmd(
            Duration::ZERO,
            Command::SetRewrite {
                leg: B,
                rewrite: Some(rw),
            },
        );
    }
    let mut outputs = Vec::new();
    let record = |o: Vec<Output>, outputs: &mut Vec<String>| {
        for o in o {
            outputs.push(match o {
                Output::Transmit(t) => format!("tx {:?} {} {:02x?}", t.from, t.to, &t.data[..]),
                other => format!("{other:?}"),
            });
        }
    };
    let drained = h.drain();
    record(drained, &mut outputs);
    let mut sources: Vec<SocketAddr> = Vec::new();
    let mut input_rtp = 0;
    for (t, src, _dst, payload) in dgrams {
        while let Some(at) = h.timeout.filter(|&at| at <= t) {
            h.core.handle_input(at, Input::Timeout).unwrap();
            let d = h.drain();
            record(d, &mut outputs);
            if h.timeout == Some(at) {
                break;
            }
        }
        let rtcp = ringwire_media::rtp::is_rtcp_like(&payload);
        let host = SocketAddr::new(src.ip(), src.port() & !1);
        let side = match sources.iter().position(|&s| s == host) {
            Some(i) => i,
            None => {
                sources.push(host);
                sources.len() - 1
            }
        };
        let base = match side {
            0 => 30000,
            1 => 30002,
            _ => 30000, // a third source: a stranger on leg A
        };
        if !rtcp && RtpHeader::parse(&payload).is_ok() {
            input_rtp += 1;
        }
        let local = LocalPort(base + rtcp as u16);
        let o = h.dgram(t, local, &src.to_string(), BytesMut::from(&payload[..]));
        record(o, &mut outputs);
    }
    let transmitted = outputs.iter().filter(|s| s.starts_with("tx")).count();
    Replay {
        outputs,
        stats: vec![h.stats(A), h.stats(B)],
        transmitted,
        input_rtp,
    }
}

fn capture_paths() -> Vec<std::path::PathBuf> {
    let mut v = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/demo.pcap")];
    let sipp = Path::new("/usr/share/sip-tester/g711a.pcap");
    if sipp.exists() {
        v.push(sipp.to_path_buf());
    }
    v
}

#[test]
fn pcap_replay_is_deterministic_and_lossless() {
    for path in capture_paths() {
        for rewrite in [false, true] {
            let r1 = replay(&path, rewrite);
            let r2 = replay(&path, rewrite);
            assert_eq!(r1, r2, "{}: two runs differ", path.display());
            let s = &r1.stats;
            let accepted = (s[0].packets + s[1].packets) as usize;
            assert!(accepted > 0, "{}: nothing accepted", path.display());
            assert_eq!(accepted, r1.input_rtp, "{}: {s:?}", path.display());
            let rtcp = (s[0].rtcp_packets + s[1].rtcp_packets) as usize;
            assert_eq!(r1.transmitted, accepted + rtcp, "{}", path.display());
            assert_eq!(s[0].malformed + s[0].hijack_drops, 0, "{}", path.display());
            eprintln!(
                "{} rewrite={rewrite}: {} outputs, A {:?}",
                path.display(),
                r1.outputs.len(),
                s[0]
            );
        }
    }
}

#[test]
fn pcap_replay_forwards_demo_capture_untouched() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/demo.pcap");
    let r = replay(&path, false);
    let input: Vec<Vec<u8>> = datagrams(&path).into_iter().map(|d| d.3).collect();
    let sent: Vec<&String> = r.outputs.iter().filter(|s| s.starts_with("tx")).collect();
    assert_eq!(sent.len(), input.len());
    for (s, i) in sent.iter().zip(&input) {
        assert!(s.ends_with(&format!("{:02x?}", &i[..])), "bytes changed");
    }
    // The demo stream is one direction: 4 s at 50 packets per second.
    assert_eq!(r.stats[0].lost, 0);
    assert_eq!(r.stats[0].duplicates, 0);
}

// ---------------------------------------------------------------- throughput

/// Packets per second through the core alone (no sockets), 1000 bridged
/// calls, buffers recycled from the outputs as a pooling driver would.
/// `cargo test -p ringwire-media --release --test relay_core -- --ignored --nocapture`
#[test]
#[ignore = "a measurement, run in release"]
fn relay_core_throughput() {
    let calls = 1000u16;
    let mut h = H::new(RelayConfig::default());
    let mut pool = Vec::new();
    for c in 0..calls {
        let call = CallId(c as u64);
        h.cmd(ms(0), Command::CreateCall { call });
        let base = 20000 + 4 * c;
        for (k, leg) in [LegId(2 * c as u64), LegId(2 * c as u64 + 1)]
            .into_iter()
            .enumerate()
        {
            let port = base + 2 * k as u16;
            let remote =
                SocketAddr::new([10, 1, (c >> 8) as u8, c as u8].into(), 4000 + 2 * k as u16);
            h.cmd(
                ms(0),
                Command::AddLeg {
                    call,
                    leg,
                    spec: LegSpec::new(LocalPort(port), LocalPort(port + 1), Some(remote)),
                },
            );
            pool.push((LocalPort(port), remote, rtp(0, 0, leg.0 as u32)));
        }
        h.cmd(
            ms(0),
            Command::Bridge {
                a: LegId(2 * c as u64),
                b: LegId(2 * c as u64 + 1),
            },
        );
    }
    h.drain();
    let rounds = 500u32;
    let start = std::time::Instant::now();
    let mut sent = 0u64;
    for r in 1..=rounds {
        let now = ms(20 * r as u64);
        for slot in pool.iter_mut() {
            let (local, from, buf) = slot;
            let mut data = std::mem::take(buf);
            data[2..4].copy_from_slice(&(r as u16).to_be_bytes());
            data[4..8].copy_from_slice(&(160 * r).to_be_bytes());
            h.core
                .handle_input(
                    now,
                    Input::Datagram {
                        local: *local,
                        from: *from,
                        data,
                    },
                )
                .unwrap();
            while let Some(o) = h.core.poll_output() {
                if let Output::Transmit(t) = o {
                    *buf = t.data; // back to the pool
                    sent += 1;
                }
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{sent} packets in {secs:.3} s: {:.2} M packets/s through the core alone",
        sent as f64 / secs / 1e6
    );
    assert_eq!(sent, rounds as u64 * pool.len() as u64);
}

// ---------------------------------------------------------------- opaque legs

/// A T.38 UDPTL datagram: a sequence number, then IFP data; no RTP header
/// (its first byte is not version 2's).
fn udptl(seq: u16) -> BytesMut {
    let mut v = seq.to_be_bytes().to_vec();
    v.extend_from_slice(&[0x06, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x01]);
    BytesMut::from(&v[..])
}

#[test]
fn opaque_legs_forward_any_datagram_as_it_is_and_latch_as_rtp_does() {
    // A T.38 section: UDPTL on both legs, untouched, even with a rewrite
    // asked for the call; latching within the setup window, hijack
    // protection after it.
    let mut h = H::new(RelayConfig::default());
    h.cmd(ms(0), Command::CreateCall { call: CallId(3) });
    for (leg, rtp_port, rtcp_port, remote) in [
        (A, A_RTP, A_RTCP, "10.0.0.5:4000"),
        (B, B_RTP, B_RTCP, AGENT),
    ] {
        let mut spec = LegSpec::new(rtp_port, rtcp_port, Some(sa(remote)));
        spec.transport = Transport::Opaque;
        h.cmd(
            ms(0),
            Command::AddLeg {
                call: CallId(3),
                leg,
                spec,
            },
        );
    }
    h.cmd(ms(0), Command::Bridge { a: A, b: B });
    h.cmd(
        ms(0),
        Command::SetRewrite {
            leg: B,
            rewrite: Some(Rewrite {
                ssrc: 7,
                sequence_offset: 1000,
                timestamp_offset: 1000,
            }),
        },
    );
    h.drain();
    // the carrier behind NAT: its first datagram latches and is forwarded
    let first = udptl(0);
    let o = h.dgram(ms(100), A_RTP, CARRIER, first.clone());
    assert_eq!(events(&o).len(), 1, "latched: {o:?}");
    let t = transmits(&o);
    assert_eq!(
        (t.len(), t[0].to, &t[0].data[..]),
        (1, sa(AGENT), &first[..])
    );
    // and back, untouched
    let o = h.dgram(ms(120), B_RTP, AGENT, udptl(0));
    let t = transmits(&o);
    assert_eq!(
        (t[0].from, t[0].to, &t[0].data[..]),
        (A_RTP, sa(CARRIER), &udptl(0)[..])
    );
    // another source once heard is a hijack; the RTCP port takes nothing
    assert!(h.dgram(ms(140), A_RTP, ATTACKER, udptl(1)).is_empty());
    assert!(h.dgram(ms(150), A_RTCP, CARRIER, udptl(2)).is_empty());
    let s = h.stats(A);
    assert_eq!(
        (s.packets, s.latches, s.hijack_drops, s.malformed),
        (1, 1, 1, 1)
    );
    // a re-offer back to audio: the same legs carry RTP again
    for leg in [A, B] {
        h.cmd(
            ms(200),
            Command::SetTransport {
                leg,
                transport: Transport::Rtp,
            },
        );
    }
    let o = h.dgram(ms(220), A_RTP, CARRIER, udptl(3));
    assert!(transmits(&o).is_empty(), "UDPTL is no RTP now");
    assert_eq!(h.stats(A).malformed, 2);
    let o = h.dgram(ms(240), A_RTP, CARRIER, rtp(1, 0, 9));
    assert_eq!(transmits(&o).len(), 1);
}
