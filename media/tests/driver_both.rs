//! The same loopback scenarios against both IO backends: two test endpoints
//! (plain std sockets) bridged through a call on the node's sockets, once
//! with [`DriverKind::Portable`] and once with [`DriverKind::IoUring`].
//!
//! Where io_uring is unavailable the io_uring variant says why on stderr,
//! checks that `Auto` (and `IoUring`) fall back to the portable driver, and
//! passes.

use std::net::{IpAddr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use ringwire_media::driver::{DriverConfig, DriverHandle, DriverKind};
use ringwire_media::relay::{CallId, Command, LegId, LegSpec, LocalPort, Rewrite};

const WAIT: Duration = Duration::from_secs(2);

/// Why io_uring cannot run here, or `None` when it can.
#[cfg(target_os = "linux")]
fn uring_unavailable() -> Option<String> {
    use ringwire_media::driver::uring::{UringConfig, UringError, UringSockets};
    match UringSockets::new(UringConfig::default()) {
        Ok(_) => None,
        Err(e @ UringError::Unavailable { .. }) => Some(e.to_string()),
        Err(e) => panic!("io_uring setup: {e}"),
    }
}

#[cfg(not(target_os = "linux"))]
fn uring_unavailable() -> Option<String> {
    Some("io_uring is Linux only".into())
}

/// Starts `kind`, or `None` (after checking the fallback) when `kind` is
/// io_uring and io_uring is unavailable here.
fn start(kind: DriverKind, config: DriverConfig) -> Option<DriverHandle> {
    if kind == DriverKind::IoUring {
        if let Some(why) = uring_unavailable() {
            eprintln!("io_uring variant skipped: {why}");
            for k in [DriverKind::Auto, DriverKind::IoUring] {
                let d = DriverHandle::start(k, config.clone()).expect("fallback starts");
                assert_eq!(d.name(), "portable", "{k:?} falls back");
            }
            return None;
        }
    }
    let d = DriverHandle::start(kind, config).unwrap();
    let want = match kind {
        DriverKind::IoUring => "io_uring",
        DriverKind::Auto if uring_unavailable().is_none() => "io_uring",
        _ => "portable",
    };
    assert_eq!(d.name(), want);
    Some(d)
}

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

/// A test endpoint on `ip`, any free port.
fn endpoint_on(ip: IpAddr) -> UdpSocket {
    let s = UdpSocket::bind(SocketAddr::new(ip, 0)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s
}

/// Binds the node's RTP and RTCP sockets of a leg on two free ports.
fn bind_leg(driver: &DriverHandle) -> (u16, u16, Vec<(LocalPort, UdpSocket)>) {
    for _ in 0..100 {
        let free = || {
            endpoint_on(driver.bind_address())
                .local_addr()
                .unwrap()
                .port()
        };
        let (p, q) = (free(), free());
        if p == q {
            continue;
        }
        if let Ok(s) = driver.bind_pair(p, q) {
            return (p, q, s);
        }
    }
    panic!("no free port pair");
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

/// A call with legs A and B, bridged; leg A's SDP remote is `a_remote` when
/// given (else A's real address).
fn setup(
    kind: DriverKind,
    threads: usize,
    call: u64,
    a_remote: Option<SocketAddr>,
) -> Option<Setup> {
    let config = DriverConfig {
        threads,
        ..DriverConfig::default()
    };
    setup_with(kind, config, call, a_remote)
}

/// [`setup`] with a driver configured by `config`.
fn setup_with(
    kind: DriverKind,
    config: DriverConfig,
    call: u64,
    a_remote: Option<SocketAddr>,
) -> Option<Setup> {
    let driver = start(kind, config)?;
    let call = CallId(call);
    driver.command(call, Command::CreateCall { call }).unwrap();
    let mut sides = Vec::new();
    for (n, leg) in [LegId(call.0 * 10 + 1), LegId(call.0 * 10 + 2)]
        .into_iter()
        .enumerate()
    {
        let ip = driver.bind_address();
        let (rtp, rtcp) = (endpoint_on(ip), endpoint_on(ip));
        let (p, q, sockets) = bind_leg(&driver);
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
            node_rtp: SocketAddr::new(ip, p),
            node_rtcp: SocketAddr::new(ip, q),
            leg,
        });
    }
    let b = sides.pop().unwrap();
    let a = sides.pop().unwrap();
    driver
        .command(call, Command::Bridge { a: a.leg, b: b.leg })
        .unwrap();
    Some(Setup { driver, call, a, b })
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

/// A driver config of `threads` workers binding on `bind`, pinning legs to
/// their remotes once heard.
fn pinning(threads: usize, bind: IpAddr) -> DriverConfig {
    let mut config = DriverConfig {
        threads,
        bind,
        ..DriverConfig::default()
    };
    config.relay.pin_remote = true;
    config
}

/// `n` RTP packets each way, A's and B's in turn: each arrives intact,
/// from the node's port of the receiving side's leg.
fn exchange(t: &Setup, n: u16) {
    for seq in 0..n {
        let p = rtp(seq, 160 * seq as u32, 0xAAAA, 0, 160);
        t.a.rtp.send_to(&p, t.a.node_rtp).unwrap();
        assert_eq!(recv(&t.b.rtp), (p, t.b.node_rtp), "A->B {seq}");
        let q = rtp(seq, 160 * seq as u32, 0xBBBB, 8, 160);
        t.b.rtp.send_to(&q, t.b.node_rtp).unwrap();
        assert_eq!(recv(&t.a.rtp), (q, t.a.node_rtp), "B->A {seq}");
    }
}

/// A third party sends valid RTP to A's node port; asserts that B gets
/// nothing within 200 ms (B's read timeout stays at that), and returns
/// the third party's socket.
fn intrude(t: &Setup) -> UdpSocket {
    intrude_from(t, t.driver.bind_address())
}

/// [`intrude`] from an address on `ip`.
fn intrude_from(t: &Setup, ip: IpAddr) -> UdpSocket {
    let intruder = endpoint_on(ip);
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
    intruder
}

/// Runs `$body` (a fn taking a `DriverKind`) as one test per backend.
macro_rules! both {
    ($name:ident) => {
        mod $name {
            use super::*;
            #[test]
            fn portable() {
                super::$name(DriverKind::Portable);
            }
            #[test]
            fn io_uring() {
                super::$name(DriverKind::IoUring);
            }
        }
    };
}

both!(relays_bytes_seq_ts_unchanged_both_ways);
fn relays_bytes_seq_ts_unchanged_both_ways(kind: DriverKind) {
    let Some(t) = setup(kind, 2, 7, None) else {
        return;
    };
    assert!(
        !t.driver.reaches(Ipv6Addr::LOCALHOST.into()),
        "an IPv4 bind"
    );
    for seq in 0..50u16 {
        let p = rtp(1000 + seq, 160 * seq as u32, 0xAAAA, 0, 160);
        t.a.rtp.send_to(&p, t.a.node_rtp).unwrap();
        let (got, from) = recv(&t.b.rtp);
        assert_eq!(got, p, "A->B packet {seq} bytes");
        assert_eq!(from, t.b.node_rtp, "sent from B's leg port");
        let q = rtp(5000 + seq, 40 * seq as u32, 0xBBBB, 8, 160);
        t.b.rtp.send_to(&q, t.b.node_rtp).unwrap();
        let (got, from) = recv(&t.a.rtp);
        assert_eq!(got, q, "B->A packet {seq} bytes");
        assert_eq!(from, t.a.node_rtp);
    }
    let a = t.driver.leg_info(t.call, t.a.leg).unwrap().unwrap();
    assert_eq!(a.stats.packets, 50);
    assert_eq!(a.stats.sent_packets, 50);
    assert_eq!(a.stats.lost, 0);
    let snap = t.driver.snapshot().unwrap();
    assert_eq!((snap.calls, snap.legs), (1, 2));
    assert_eq!(snap.legs_total.sent_packets, 100);
    assert_eq!(snap.driver.received, 100);
    assert_eq!(snap.driver.sent, 100);
    assert_eq!(snap.driver.send_errors, 0);
    assert!(snap.driver.wakeups > 0);
    // every wakeup's loop time is counted when the wakeup ends: all but
    // the one in which each worker (two here) answers the snapshot
    assert_eq!(snap.driver.loop_times.count() + 2, snap.driver.wakeups);
}

both!(a_burst_is_relayed_in_order);
fn a_burst_is_relayed_in_order(kind: DriverKind) {
    let Some(t) = setup(kind, 1, 14, None) else {
        return;
    };
    // Many datagrams in one go: batched receive and batched send.
    let n = 100u16;
    for seq in 0..n {
        let p = rtp(seq, 160 * seq as u32, 0xAAAA, 0, 160);
        t.a.rtp.send_to(&p, t.a.node_rtp).unwrap();
    }
    for seq in 0..n {
        let (got, _) = recv(&t.b.rtp);
        assert_eq!(got, rtp(seq, 160 * seq as u32, 0xAAAA, 0, 160), "{seq}");
    }
    let snap = t.driver.snapshot().unwrap();
    assert_eq!(snap.driver.sent, n as u64);
}

both!(rewrite_applies_when_asked);
fn rewrite_applies_when_asked(kind: DriverKind) {
    let Some(t) = setup(kind, 1, 8, None) else {
        return;
    };
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
    // The other direction is not rewritten.
    let q = rtp(7, 320, 0xBBBB, 0, 160);
    t.b.rtp.send_to(&q, t.b.node_rtp).unwrap();
    assert_eq!(recv(&t.a.rtp).0, q);
}

both!(rtcp_is_forwarded_between_rtcp_ports);
fn rtcp_is_forwarded_between_rtcp_ports(kind: DriverKind) {
    let Some(t) = setup(kind, 1, 9, None) else {
        return;
    };
    let rr = rtcp_rr(0xAAAA);
    t.a.rtcp.send_to(&rr, t.a.node_rtcp).unwrap();
    let (got, from) = recv(&t.b.rtcp);
    assert_eq!(got, rr);
    assert_eq!(from, t.b.node_rtcp);
    let rr = rtcp_rr(0xBBBB);
    t.b.rtcp.send_to(&rr, t.b.node_rtcp).unwrap();
    let (got, from) = recv(&t.a.rtcp);
    assert_eq!(got, rr);
    assert_eq!(from, t.a.node_rtcp);
    let a = t.driver.leg_info(t.call, t.a.leg).unwrap().unwrap();
    assert_eq!(a.stats.rtcp_packets, 1);
}

both!(latching_follows_the_source_and_drops_hijackers);
fn latching_follows_the_source_and_drops_hijackers(kind: DriverKind) {
    // SDP says A is on port 9; A really sends from its own socket.
    let wrong = SocketAddr::from(([127, 0, 0, 1], 9));
    let Some(t) = setup(kind, 1, 10, Some(wrong)) else {
        return;
    };
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
    intrude(&t);
    let a = t.driver.leg_info(t.call, t.a.leg).unwrap().unwrap();
    assert_eq!(a.stats.hijack_drops, 1);
    assert_eq!(a.remote_rtp, Some(t.a.rtp.local_addr().unwrap()));
}

both!(relayed_buffers_come_back);
fn relayed_buffers_come_back(kind: DriverKind) {
    // The io_uring driver relays each datagram in the ring buffer it was
    // received in (8,192 per shard): more datagrams than that go through
    // only if every buffer returns to the ring after its send.
    let Some(t) = setup(kind, 1, 13, None) else {
        return;
    };
    let mut seq = 0u16;
    for _ in 0..48 {
        for _ in 0..256 {
            let p = rtp(seq, 160 * seq as u32, 0xAAAA, 0, 160);
            t.a.rtp.send_to(&p, t.a.node_rtp).unwrap();
            seq = seq.wrapping_add(1);
        }
        for _ in 0..256 {
            recv(&t.b.rtp);
        }
    }
    let a = t.driver.leg_info(t.call, t.a.leg).unwrap().unwrap();
    assert_eq!(a.stats.packets, 48 * 256);
}

both!(a_pinned_leg_hears_only_its_remote_until_it_goes_quiet);
fn a_pinned_leg_hears_only_its_remote_until_it_goes_quiet(kind: DriverKind) {
    let mut config = pinning(1, IpAddr::from([127, 0, 0, 1]));
    config.relay.quiet_window = Duration::from_millis(300);
    let wrong = SocketAddr::from(([127, 0, 0, 1], 9));
    let Some(t) = setup_with(kind, config, 12, Some(wrong)) else {
        return;
    };
    let a_addr = t.a.rtp.local_addr().unwrap();
    // A is heard (latched and pinned); media flows both ways, B's to A
    // through the connected socket.
    for seq in 0..5u16 {
        let p = rtp(seq, 160 * seq as u32, 0xAAAA, 0, 160);
        t.a.rtp.send_to(&p, t.a.node_rtp).unwrap();
        assert_eq!(recv(&t.b.rtp).0, p);
        let q = rtp(seq, 160 * seq as u32, 0xBBBB, 0, 160);
        t.b.rtp.send_to(&q, t.b.node_rtp).unwrap();
        assert_eq!(recv(&t.a.rtp), (q, t.a.node_rtp));
    }
    // A third party never reaches the leg: the kernel drops its datagram,
    // so it is neither relayed nor counted.
    let intruder = intrude(&t);
    let a = t.driver.leg_info(t.call, t.a.leg).unwrap().unwrap();
    assert_eq!((a.stats.hijack_drops, a.remote_rtp), (0, Some(a_addr)));
    // A quiet for longer than the quiet window: unpinned, and the third
    // party latches as it would have without pinning.
    std::thread::sleep(Duration::from_millis(500));
    t.b.rtp.set_read_timeout(Some(WAIT)).unwrap();
    let p = rtp(10, 1600, 0xCCCC, 0, 160);
    intruder.send_to(&p, t.a.node_rtp).unwrap();
    assert_eq!(recv(&t.b.rtp).0, p);
    let q = rtp(10, 1600, 0xBBBB, 0, 160);
    t.b.rtp.send_to(&q, t.b.node_rtp).unwrap();
    intruder.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(recv(&intruder), (q, t.a.node_rtp));
    let a = t.driver.leg_info(t.call, t.a.leg).unwrap().unwrap();
    assert_eq!(a.remote_rtp, Some(intruder.local_addr().unwrap()));
    assert_eq!(a.stats.latches, 2);
}

both!(a_peer_back_after_its_port_was_closed_is_heard_again);
fn a_peer_back_after_its_port_was_closed_is_heard_again(kind: DriverKind) {
    // B's media socket closes while A goes on talking (a softphone that
    // restarts its media, a NAT binding that goes away): every datagram
    // the node sends B brings an ICMP port unreachable, which the kernel
    // reports on B's leg socket (connected to B). That is news about B,
    // not a dead socket: once B is back on its port, B is heard again.
    let Some(mut t) = setup_with(kind, pinning(1, IpAddr::from([127, 0, 0, 1])), 14, None) else {
        return;
    };
    exchange(&t, 3);
    let b_addr = t.b.rtp.local_addr().unwrap();
    drop(std::mem::replace(&mut t.b.rtp, endpoint_on(b_addr.ip())));
    for seq in 10..210u16 {
        let p = rtp(seq, 160 * seq as u32, 0xAAAA, 0, 160);
        t.a.rtp.send_to(&p, t.a.node_rtp).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    t.b.rtp = UdpSocket::bind(b_addr).unwrap();
    t.b.rtp.set_read_timeout(Some(WAIT)).unwrap();
    let q = rtp(300, 48_000, 0xBBBB, 0, 160);
    t.b.rtp.send_to(&q, t.b.node_rtp).unwrap();
    assert_eq!(recv(&t.a.rtp), (q, t.a.node_rtp), "B heard again");
    let p = rtp(300, 48_000, 0xAAAA, 0, 160);
    t.a.rtp.send_to(&p, t.a.node_rtp).unwrap();
    // the tail of A's talk while B was away may land first, once B is back
    let again = std::iter::repeat_with(|| recv(&t.b.rtp))
        .find(|(got, _)| got[2..4] == p[2..4])
        .unwrap();
    assert_eq!(again, (p, t.b.node_rtp), "A to B again");
    let d = t.driver.snapshot().unwrap().driver;
    assert!(
        d.peer_unreachable + d.send_unreachable > 0,
        "the port unreachables were counted: {d:?}"
    );
    assert_eq!((d.recv_errors, d.send_errors), (0, 0), "{d:?}");
}

both!(ipv6_media_is_relayed_latched_and_pinned);
fn ipv6_media_is_relayed_latched_and_pinned(kind: DriverKind) {
    // Media sockets on [::1]: the drivers' IPv6 socket addresses (receive,
    // send, connect for pinning) and RTCP, with A latched from a wrong SDP
    // port as in the IPv4 scenarios.
    let config = pinning(1, IpAddr::V6(Ipv6Addr::LOCALHOST));
    let wrong = SocketAddr::from((Ipv6Addr::LOCALHOST, 9));
    let Some(t) = setup_with(kind, config, 15, Some(wrong)) else {
        return;
    };
    assert!(t.driver.reaches(Ipv6Addr::LOCALHOST.into()));
    assert!(
        !t.driver.reaches([127, 0, 0, 1].into()),
        "an IPv6 bind is no IPv4 socket"
    );
    exchange(&t, 20);
    // (A's RTCP remote follows its latched RTP port, which the test's
    // RTCP socket is not on: RTCP goes from A to B, whose SDP is right.)
    let rr = rtcp_rr(0xAAAA);
    t.a.rtcp.send_to(&rr, t.a.node_rtcp).unwrap();
    let (got, from) = recv(&t.b.rtcp);
    assert_eq!((got, from), (rr, t.b.node_rtcp));
    let a = t.driver.leg_info(t.call, t.a.leg).unwrap().unwrap();
    assert_eq!(a.remote_rtp, Some(t.a.rtp.local_addr().unwrap()));
    assert_eq!((a.stats.packets, a.stats.latches), (20, 1));
    let snap = t.driver.snapshot().unwrap();
    assert_eq!(snap.driver.send_errors, 0);
    assert_eq!(snap.driver.sent, 41);
}

both!(a_dual_stack_node_relays_ipv4_peers);
fn a_dual_stack_node_relays_ipv4_peers(kind: DriverKind) {
    // Media sockets on `::` (dual stack) and IPv4 peers: the kernel hands
    // the node their addresses as IPv4-mapped IPv6; the drivers give the
    // core plain IPv4, so the SDP's addresses match, latching and hijack
    // protection work as on an IPv4 node, and pinning connects to them.
    let config = pinning(1, IpAddr::V6(Ipv6Addr::UNSPECIFIED));
    let Some(mut t) = setup_with(kind, config, 16, None) else {
        return;
    };
    let v4 = IpAddr::from([127, 0, 0, 1]);
    assert!(t.driver.reaches(v4) && t.driver.reaches(Ipv6Addr::LOCALHOST.into()));
    let peers: Vec<UdpSocket> = (0..4).map(|_| endpoint_on(v4)).collect();
    let [a_rtp, a_rtcp, b_rtp, b_rtcp]: [UdpSocket; 4] = peers.try_into().unwrap();
    for (side, rtp_sock, rtcp_sock) in [(&mut t.a, a_rtp, a_rtcp), (&mut t.b, b_rtp, b_rtcp)] {
        side.node_rtp.set_ip(v4);
        side.node_rtcp.set_ip(v4);
        t.driver
            .command(
                t.call,
                Command::SetRemote {
                    leg: side.leg,
                    rtp: Some(rtp_sock.local_addr().unwrap()),
                    rtcp: Some(rtcp_sock.local_addr().unwrap()),
                },
            )
            .unwrap();
        (side.rtp, side.rtcp) = (rtp_sock, rtcp_sock);
    }
    exchange(&t, 10);
    let rr = rtcp_rr(0xBBBB);
    t.b.rtcp.send_to(&rr, t.b.node_rtcp).unwrap();
    assert_eq!(recv(&t.a.rtcp), (rr, t.a.node_rtcp));
    let a = t.driver.leg_info(t.call, t.a.leg).unwrap().unwrap();
    assert_eq!(a.remote_rtp, Some(t.a.rtp.local_addr().unwrap()));
    // heard from where SDP said: no latch, and a third party is no remote
    assert_eq!((a.stats.packets, a.stats.latches), (10, 0));
    intrude_from(&t, v4);
    let snap = t.driver.snapshot().unwrap();
    assert_eq!(snap.driver.send_errors, 0);
}

both!(malformed_and_oversized_are_dropped_and_counted);
fn malformed_and_oversized_are_dropped_and_counted(kind: DriverKind) {
    let Some(t) = setup(kind, 2, 11, None) else {
        return;
    };
    for junk in [
        &b"\x00"[..],
        b"hello",
        &[0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ] {
        t.a.rtp.send_to(junk, t.a.node_rtp).unwrap();
    }
    t.a.rtp
        .send_to(&rtp(1, 0, 0xAAAA, 0, 4000), t.a.node_rtp)
        .unwrap();
    // A valid packet after the junk still flows (and proves the junk was
    // processed first: one socket, in order).
    let p = rtp(2, 160, 0xAAAA, 0, 160);
    t.a.rtp.send_to(&p, t.a.node_rtp).unwrap();
    assert_eq!(recv(&t.b.rtp).0, p);
    let a = t.driver.leg_info(t.call, t.a.leg).unwrap().unwrap();
    assert_eq!(a.stats.malformed, 3);
    let snap = t.driver.snapshot().unwrap();
    assert_eq!(snap.legs_total.malformed, 3);
    assert_eq!(snap.driver.truncated, 1, "the 4 kB datagram");
    assert_eq!(snap.driver.received, 5, "3 junk, 1 oversized, 1 valid");
}

both!(delete_closes_the_sockets_and_keeps_the_totals);
fn delete_closes_the_sockets_and_keeps_the_totals(kind: DriverKind) {
    let Some(t) = setup(kind, 2, 13, None) else {
        return;
    };
    let p = rtp(1, 160, 0xAAAA, 0, 160);
    t.a.rtp.send_to(&p, t.a.node_rtp).unwrap();
    assert_eq!(recv(&t.b.rtp).0, p);
    t.driver
        .command(t.call, Command::DeleteCall { call: t.call })
        .unwrap();
    for addr in [t.a.node_rtp, t.a.node_rtcp, t.b.node_rtp, t.b.node_rtcp] {
        UdpSocket::bind(addr).unwrap_or_else(|e| panic!("{addr} not released: {e}"));
    }
    let snap = t.driver.snapshot().unwrap();
    assert_eq!((snap.calls, snap.legs), (0, 0));
    assert_eq!(snap.legs_total.packets, 1, "closed legs still counted");
    assert!(matches!(t.driver.leg_info(t.call, t.a.leg), Ok(None)));
    // The same ports serve a new call at once.
    let call = CallId(t.call.0 + 100);
    t.driver
        .command(call, Command::CreateCall { call })
        .unwrap();
    let sockets = t
        .driver
        .bind_pair(t.a.node_rtp.port(), t.a.node_rtcp.port())
        .unwrap();
    let spec = LegSpec::new(
        LocalPort(t.a.node_rtp.port()),
        LocalPort(t.a.node_rtcp.port()),
        None,
    );
    t.driver.add_leg(call, LegId(9999), spec, sockets).unwrap();
}

both!(media_timeout_is_raised);
fn media_timeout_is_raised(kind: DriverKind) {
    use ringwire_media::relay::{Event, RelayConfig};
    let (tx, rx) = std::sync::mpsc::sync_channel(64);
    let config = DriverConfig {
        relay: RelayConfig {
            media_timeout: Duration::from_millis(150),
            ..RelayConfig::default()
        },
        events: Some(tx),
        ..DriverConfig::default()
    };
    if kind == DriverKind::IoUring && uring_unavailable().is_some() {
        let _ = start(kind, DriverConfig::default()); // prints the skip, checks the fallback
        return;
    }
    let driver = DriverHandle::start(kind, config).unwrap();
    let call = CallId(21);
    driver.command(call, Command::CreateCall { call }).unwrap();
    let (p, q, sockets) = bind_leg(&driver);
    let spec = LegSpec::new(LocalPort(p), LocalPort(q), None);
    driver.add_leg(call, LegId(211), spec, sockets).unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok((_, Event::MediaTimeout { leg, .. })) => {
                assert_eq!(leg, LegId(211));
                break;
            }
            Ok(_) => continue,
            Err(e) => panic!("no media timeout within {WAIT:?}: {e}"),
        }
    }
}

#[test]
fn auto_is_the_benchmarked_default_and_io_uring_falls_back() {
    for kind in [DriverKind::Auto, DriverKind::IoUring] {
        let d = DriverHandle::start(kind, DriverConfig::default()).unwrap();
        match uring_unavailable() {
            None => assert_eq!(d.name(), "io_uring", "{kind:?}"),
            Some(why) => {
                eprintln!("io_uring unavailable ({why}): {kind:?} falls back to portable");
                assert_eq!(d.name(), "portable", "{kind:?}");
            }
        }
    }
    let p = DriverHandle::start(DriverKind::Portable, DriverConfig::default()).unwrap();
    assert_eq!(p.name(), "portable");
}

/// CPU seconds the driver's worker threads have used (Linux /proc).
#[cfg(target_os = "linux")]
fn worker_cpu_seconds() -> f64 {
    let mut ticks = 0u64;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        if !(comm.starts_with("ringwire-shard") || comm.starts_with("ringwire-uring")) {
            continue;
        }
        let f: Vec<&str> = stat[close + 2..].split(' ').collect();
        // Fields 14 and 15 (utime, stime) are 11 and 12 after the comm.
        ticks += f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    }
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks as f64 / hz
}

/// A crude comparison (not the benchmark): `CALLS` calls, one direction,
/// 50 packets/s each, paced from one sender socket, all B legs answering to
/// one receiver socket; prints the worker CPU per relayed packet.
/// `cargo test --release -p ringwire-media --test driver_both -- --ignored --nocapture`
#[cfg(target_os = "linux")]
#[test]
#[ignore]
fn cpu_per_packet_both() {
    let calls: u64 = std::env::var("CALLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let secs: u64 = std::env::var("SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    for kind in [DriverKind::Portable, DriverKind::IoUring] {
        let Some(driver) = start(
            kind,
            DriverConfig {
                threads: 1,
                ..DriverConfig::default()
            },
        ) else {
            continue;
        };
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let big: libc::c_int = 8 << 20;
        for s in [&sender, &receiver] {
            for opt in [libc::SO_RCVBUF, libc::SO_SNDBUF] {
                // SAFETY: a live int option on an open socket.
                unsafe {
                    libc::setsockopt(
                        std::os::fd::AsRawFd::as_raw_fd(s),
                        libc::SOL_SOCKET,
                        opt,
                        (&big as *const libc::c_int).cast(),
                        4,
                    );
                }
            }
        }
        receiver
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut targets = Vec::new();
        for c in 0..calls {
            let call = CallId(1_000 + c);
            driver.command(call, Command::CreateCall { call }).unwrap();
            let mut legs = Vec::new();
            for (n, remote) in [sender.local_addr().unwrap(), receiver.local_addr().unwrap()]
                .into_iter()
                .enumerate()
            {
                let (p, q, sockets) = bind_leg(&driver);
                let leg = LegId(call.0 * 10 + n as u64);
                let spec = LegSpec::new(LocalPort(p), LocalPort(q), Some(remote));
                driver.add_leg(call, leg, spec, sockets).unwrap();
                legs.push((leg, p));
            }
            driver
                .command(
                    call,
                    Command::Bridge {
                        a: legs[0].0,
                        b: legs[1].0,
                    },
                )
                .unwrap();
            targets.push(SocketAddr::from(([127, 0, 0, 1], legs[0].1)));
        }
        let count = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            let mut n = 0u64;
            while receiver.recv(&mut buf).is_ok() {
                n += 1;
            }
            n
        });
        let cpu0 = worker_cpu_seconds();
        let t0 = std::time::Instant::now();
        let mut sent = 0u64;
        for tick in 0..secs * 50 {
            for (i, to) in targets.iter().enumerate() {
                let seq = tick as u16;
                let _ = sender.send_to(&rtp(seq, 160 * tick as u32, i as u32, 0, 160), to);
                sent += 1;
            }
            let next = Duration::from_millis(20 * (tick + 1));
            std::thread::sleep(next.saturating_sub(t0.elapsed()));
        }
        let got = count.join().unwrap();
        let cpu = worker_cpu_seconds() - cpu0;
        let snap = driver.snapshot().unwrap();
        eprintln!(
            "{}: {calls} calls, sent {sent}, relayed {got} ({:.3}% lost), worker CPU {cpu:.2} s, \
             {:.0} pkt per CPU-s, {} wakeups ({:.1} pkt/wakeup)",
            driver.name(),
            100.0 * (sent - got.min(sent)) as f64 / sent as f64,
            got as f64 / cpu.max(1e-9),
            snap.driver.wakeups,
            snap.driver.received as f64 / snap.driver.wakeups.max(1) as f64,
        );
        driver.shutdown();
    }
}
