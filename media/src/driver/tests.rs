//! Loopback tests of the drivers' internals: pacing and sharding (the
//! relay behaviour both drivers share is tested in `tests/driver_both.rs`).
//! Two test endpoints (plain std sockets) bridged through a call on the
//! node's sockets.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use super::*;
use crate::relay::{CallId, Command, LegId, LegSpec, LocalPort};

const WAIT: Duration = Duration::from_secs(2);

fn rtp(seq: u16, ts: u32, ssrc: u32, pt: u8, payload_len: usize) -> Vec<u8> {
    let mut p = vec![0x80, pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend((0..payload_len).map(|i| (i as u8).wrapping_mul(7).wrapping_add(seq as u8)));
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
    /// Held open: the leg's RTCP remote.
    _rtcp: UdpSocket,
    node_rtp: SocketAddr,
    leg: LegId,
}

struct Setup {
    driver: DriverHandle,
    call: CallId,
    a: Side,
    b: Side,
}

/// A call with legs 1 (endpoint A) and 2 (endpoint B), bridged, on a
/// driver of `kind` with `config`; leg A's SDP remote is `a_remote` when
/// given (else A's real address).
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
            _rtcp: rtcp,
            node_rtp: SocketAddr::from(([127, 0, 0, 1], p)),
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
        assert_eq!(a.stats.ssrc, Some(0xCCCC), "{kind:?}");
        // the whole call in one request: both legs, in the order added
        let legs = t.driver.call_info(t.call).unwrap();
        let ids: Vec<_> = legs.iter().map(|(leg, _)| *leg).collect();
        assert_eq!(ids, [t.a.leg, t.b.leg], "{kind:?}");
        // the same, but for when each request was read
        let read_at = a.read_at;
        assert_eq!(
            LegInfo {
                read_at,
                ..legs[0].1
            },
            a,
            "{kind:?}"
        );
        assert_eq!(legs[1].1.stats.packets, 0, "{kind:?}");
        assert!(t
            .driver
            .call_info(CallId(t.call.0 + 1000))
            .unwrap()
            .is_empty());
    }
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

#[test]
fn loop_times_fall_in_their_buckets_and_merge() {
    let mut h = LoopTimes::default();
    for us in [0, 10, 11, 100_000, 100_001, 3_000_000] {
        h.record(Duration::from_micros(us));
    }
    // 0 and 10 µs in the first bucket (at most 10), 11 µs in the second,
    // 100 ms in the last bounded one, the rest beyond every bound
    assert_eq!(h.counts[0], 2);
    assert_eq!(h.counts[1], 1);
    assert_eq!(h.counts[LOOP_BUCKETS_US.len() - 1], 1);
    assert_eq!(h.counts[LOOP_BUCKETS_US.len()], 2);
    assert_eq!(h.count(), 6);
    assert_eq!(h.sum_ns, 3_200_022_000);
    let mut total = h;
    total.merge(&h);
    assert_eq!(total.count(), 12);
    assert_eq!(total.sum_ns, 2 * h.sum_ns);
}
