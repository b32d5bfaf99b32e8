//! Loopback tests of the drivers: two test endpoints (plain std sockets)
//! bridged through a call on the node's sockets.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use super::*;
use crate::relay::{CallId, Command, LegId, LegSpec, LocalPort, Rewrite};

const WAIT: Duration = Duration::from_secs(2);

fn rtp(seq: u16, ts: u32, ssrc: u32, pt: u8, payload_len: usize) -> Vec<u8> {
    let mut p = vec![0x80, pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend((0..payload_len).map(|i| (i as u8).wrapping_mul(7).wrapping_add(seq as u8)));
    p
}

/// An RTCP receiver report with no report blocks.
fn rtcp_rr(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 201, 0, 1];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p
}

fn endpoint() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s
}

/// A port free right now on the loopback (bound and released).
fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Side {
    rtp: UdpSocket,
    rtcp: UdpSocket,
    node_rtp: SocketAddr,
    node_rtcp: SocketAddr,
    leg: LegId,
}

struct Setup {
    driver: DriverHandle,
    call: CallId,
    a: Side,
    b: Side,
}

/// A call with legs 1 (endpoint A) and 2 (endpoint B), bridged; leg A's
/// SDP remote is `a_remote` when given (else A's real address).
fn setup(threads: usize, call: u64, a_remote: Option<SocketAddr>) -> Setup {
    let config = DriverConfig {
        threads,
        ..DriverConfig::default()
    };
    setup_with(DriverKind::Portable, config, call, a_remote)
}

/// As [`setup`], with any driver and configuration.
fn setup_with(
    kind: DriverKind,
    config: DriverConfig,
    call: u64,
    a_remote: Option<SocketAddr>,
) -> Setup {
    let driver = DriverHandle::start(kind, config).unwrap();
    let call = CallId(call);
    driver.command(call, Command::CreateCall { call }).unwrap();
    let mut sides = Vec::new();
    for (n, leg) in [LegId(call.0 * 10 + 1), LegId(call.0 * 10 + 2)]
        .into_iter()
        .enumerate()
    {
        let (rtp, rtcp) = (endpoint(), endpoint());
        let (p, q) = loop {
            let (p, q) = (free_port(), free_port());
            if p != q {
                break (p, q);
            }
        };
        let sockets = driver.bind_pair(p, q).unwrap();
        let mut spec = LegSpec::new(LocalPort(p), LocalPort(q), Some(rtp.local_addr().unwrap()));
        if n == 0 && a_remote.is_some() {
            spec.remote_rtp = a_remote;
        } else {
            spec.remote_rtcp = Some(rtcp.local_addr().unwrap());
        }
        driver.add_leg(call, leg, spec, sockets).unwrap();
        sides.push(Side {
            rtp,
            rtcp,
            node_rtp: SocketAddr::from(([127, 0, 0, 1], p)),
            node_rtcp: SocketAddr::from(([127, 0, 0, 1], q)),
            leg,
        });
    }
    let b = sides.pop().unwrap();
    let a = sides.pop().unwrap();
    driver
        .command(call, Command::Bridge { a: a.leg, b: b.leg })
        .unwrap();
    Setup { driver, call, a, b }
}

fn recv(s: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 2048];
    // A signal (the io_uring worker's task work can cause one) interrupts
    // the wait: that is a retry, not a missing datagram.
    let (n, from) = loop {
        match s.recv_from(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => break r.expect("a datagram in time"),
        }
    };
    (buf[..n].to_vec(), from)
}

#[test]
fn bridged_legs_relay_bytes_unchanged_both_ways() {
    let t = setup(2, 7, None);
    for seq in 0..20u16 {
        let p = rtp(1000 + seq, 160 * seq as u32, 0xAAAA, 0, 160);
        t.a.rtp.send_to(&p, t.a.node_rtp).unwrap();
        let (got, from) = recv(&t.b.rtp);
        assert_eq!(got, p, "A->B packet {seq} bytes");
        assert_eq!(from, t.b.node_rtp, "sent from B's leg port");
        let q = rtp(5000 + seq, 40 * seq as u32, 0xBBBB, 0, 160);
        t.b.rtp.send_to(&q, t.b.node_rtp).unwrap();
        let (got, from) = recv(&t.a.rtp);
        assert_eq!(got, q, "B->A packet {seq} bytes");
        assert_eq!(from, t.a.node_rtp);
    }
    let a = t.driver.leg_info(t.call, t.a.leg).unwrap().unwrap();
    assert_eq!(a.stats.packets, 20);
    assert_eq!(a.stats.sent_packets, 20);
    assert_eq!(a.stats.lost, 0);
    let snap = t.driver.snapshot().unwrap();
    assert_eq!(snap.calls, 1);
    assert_eq!(snap.legs, 2);
    assert_eq!(snap.legs_total.sent_packets, 40);
    assert_eq!(snap.driver.sent, 40);
    assert_eq!(snap.driver.received, 40);
}

#[test]
fn paced_workers_relay_every_datagram_of_a_burst() {
    // Pacing on from the first datagram (a batch of one is enough): bursts
    // queue while the worker sleeps and all of them come out, in order,
    // from either driver (io_uring falls back to portable where absent).
    for kind in [DriverKind::Portable, DriverKind::IoUring] {
        let config = DriverConfig {
            pace: Duration::from_micros(500),
            pace_min_batch: 1,
            ..DriverConfig::default()
        };
        let t = setup_with(kind, config, 31, None);
        let mut seq = 0u16;
        // 160 datagrams: within the test endpoint's default receive buffer,
        // as it reads them only at the end.
        for _ in 0..8 {
            for _ in 0..20 {
                let p = rtp(seq, 160 * seq as u32, 0xCCCC, 0, 160);
                t.a.rtp.send_to(&p, t.a.node_rtp).unwrap();
                seq += 1;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        for want in 0..seq {
            let (got, _) = recv(&t.b.rtp);
            assert_eq!(
                got,
                rtp(want, 160 * want as u32, 0xCCCC, 0, 160),
                "{kind:?} #{want}"
            );
        }
        let a = t.driver.leg_info(t.call, t.a.leg).unwrap().unwrap();
        assert_eq!(a.stats.packets, seq as u64, "{kind:?}");
        assert_eq!(a.stats.lost, 0, "{kind:?}");
    }
}

#[test]
fn rewrite_applies_when_asked() {
    let t = setup(1, 8, None);
    let rw = Rewrite {
        ssrc: 0x1234_5678,
        sequence_offset: 100,
        timestamp_offset: 1000,
    };
    t.driver
        .command(
            t.call,
            Command::SetRewrite {
                leg: t.b.leg,
                rewrite: Some(rw),
            },
        )
        .unwrap();
    for seq in 0..5u16 {
        let p = rtp(seq, 160 * seq as u32, 0xAAAA, 0, 160);
        t.a.rtp.send_to(&p, t.a.node_rtp).unwrap();
        let (got, _) = recv(&t.b.rtp);
        assert_eq!(u16::from_be_bytes([got[2], got[3]]), seq + 100);
        assert_eq!(
            u32::from_be_bytes([got[4], got[5], got[6], got[7]]),
            160 * seq as u32 + 1000
        );
        assert_eq!(
            u32::from_be_bytes([got[8], got[9], got[10], got[11]]),
            0x1234_5678
        );
        assert_eq!(got[12..], p[12..], "payload untouched");
    }
}

#[test]
fn rtcp_is_forwarded_between_rtcp_ports() {
    let t = setup(1, 9, None);
    let rr = rtcp_rr(0xAAAA);
    t.a.rtcp.send_to(&rr, t.a.node_rtcp).unwrap();
    let (got, from) = recv(&t.b.rtcp);
    assert_eq!(got, rr);
    assert_eq!(from, t.b.node_rtcp);
    let a = t.driver.leg_info(t.call, t.a.leg).unwrap().unwrap();
    assert_eq!(a.stats.rtcp_packets, 1);
}

#[test]
fn latching_follows_the_real_source_port() {
    // SDP says A is on port 9; A really sends from its own socket.
    let wrong = SocketAddr::from(([127, 0, 0, 1], 9));
    let t = setup(1, 10, Some(wrong));
    let p = rtp(1, 160, 0xAAAA, 0, 160);
    t.a.rtp.send_to(&p, t.a.node_rtp).unwrap();
    assert_eq!(recv(&t.b.rtp).0, p);
    let a = t.driver.leg_info(t.call, t.a.leg).unwrap().unwrap();
    assert_eq!(a.remote_rtp, Some(t.a.rtp.local_addr().unwrap()));
    assert_eq!(a.stats.latches, 1);
    // B's media now reaches A where A really is.
    let q = rtp(1, 160, 0xBBBB, 0, 160);
    t.b.rtp.send_to(&q, t.b.node_rtp).unwrap();
    assert_eq!(recv(&t.a.rtp).0, q);
    // A third party is a hijacker once A has been heard.
    let intruder = endpoint();
    intruder
        .send_to(&rtp(2, 320, 0xCCCC, 0, 160), t.a.node_rtp)
        .unwrap();
    t.b.rtp
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(
        t.b.rtp.recv_from(&mut [0u8; 2048]).is_err(),
        "hijack relayed"
    );
    let a = t.driver.leg_info(t.call, t.a.leg).unwrap().unwrap();
    assert_eq!(a.stats.hijack_drops, 1);
}

#[test]
fn malformed_datagrams_are_dropped_and_counted() {
    let t = setup(2, 11, None);
    for junk in [
        &b"\x00"[..],
        b"hello",
        &[0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ] {
        t.a.rtp.send_to(junk, t.a.node_rtp).unwrap();
    }
    // A valid packet after the junk still flows (and proves the junk was
    // processed first: one socket, in order).
    let p = rtp(1, 160, 0xAAAA, 0, 160);
    t.a.rtp.send_to(&p, t.a.node_rtp).unwrap();
    assert_eq!(recv(&t.b.rtp).0, p);
    let a = t.driver.leg_info(t.call, t.a.leg).unwrap().unwrap();
    assert_eq!(a.stats.malformed, 3);
    let snap = t.driver.snapshot().unwrap();
    assert_eq!(snap.legs_total.malformed, 3);
    assert_eq!(snap.driver.received, 4);
}

#[test]
fn oversized_datagrams_are_counted_as_truncated() {
    let t = setup(1, 12, None);
    let big = rtp(1, 0, 0xAAAA, 0, 4000);
    t.a.rtp.send_to(&big, t.a.node_rtp).unwrap();
    let p = rtp(2, 160, 0xAAAA, 0, 160);
    t.a.rtp.send_to(&p, t.a.node_rtp).unwrap();
    assert_eq!(recv(&t.b.rtp).0, p);
    assert_eq!(t.driver.snapshot().unwrap().driver.truncated, 1);
}

#[test]
fn delete_closes_the_sockets_and_keeps_the_totals() {
    let t = setup(2, 13, None);
    let p = rtp(1, 160, 0xAAAA, 0, 160);
    t.a.rtp.send_to(&p, t.a.node_rtp).unwrap();
    assert_eq!(recv(&t.b.rtp).0, p);
    t.driver
        .command(t.call, Command::DeleteCall { call: t.call })
        .unwrap();
    // The ports are free again.
    UdpSocket::bind(t.a.node_rtp).expect("rtp port released");
    UdpSocket::bind(t.b.node_rtcp).expect("rtcp port released");
    let snap = t.driver.snapshot().unwrap();
    assert_eq!((snap.calls, snap.legs), (0, 0));
    assert_eq!(snap.legs_total.packets, 1, "closed legs still counted");
    assert!(matches!(t.driver.leg_info(t.call, t.a.leg), Ok(None)));
}

#[test]
fn many_calls_spread_over_shards() {
    let driver = DriverHandle::start(
        DriverKind::Auto,
        DriverConfig {
            threads: 3,
            ..DriverConfig::default()
        },
    )
    .unwrap();
    let mut seen = [0usize; 3];
    for c in 0..300 {
        seen[driver.shard_of(CallId(c))] += 1;
    }
    assert!(seen.iter().all(|&n| n > 60), "{seen:?}");
    for c in 0..30 {
        let call = CallId(c);
        driver.command(call, Command::CreateCall { call }).unwrap();
    }
    assert_eq!(driver.snapshot().unwrap().calls, 30);
    // A bad command comes back as the core's error.
    let call = CallId(3);
    assert!(matches!(
        driver.command(call, Command::CreateCall { call }),
        Err(DriverError::Relay(_))
    ));
    driver.shutdown();
    assert!(matches!(
        driver.command(call, Command::DeleteCall { call }),
        Err(DriverError::ShardGone(_))
    ));
}
