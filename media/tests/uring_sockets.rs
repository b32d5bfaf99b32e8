//! Loopback tests of the io_uring socket layer ([`UringSockets`]).
//!
//! Every test is bounded in time and skips (passing, with a note on stderr)
//! where io_uring is unavailable, which is exactly the case in which the
//! caller falls back to the portable driver.

#![cfg(target_os = "linux")]

use std::collections::HashSet;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use ringwire_media::driver::uring::{
    Received, SocketId, UringConfig, UringError, UringSockets, UringStats,
};

fn open(config: UringConfig) -> Option<UringSockets> {
    match UringSockets::new(config) {
        Ok(u) => Some(u),
        Err(e @ UringError::Unavailable { .. }) => {
            eprintln!("skipped: {e}");
            None
        }
        Err(e) => panic!("io_uring setup: {e}"),
    }
}

/// [`open`] with the default configuration, the ring's file table on or
/// off.
fn open_with_file_table(fixed_files: bool) -> Option<UringSockets> {
    open(UringConfig {
        fixed_files,
        ..UringConfig::default()
    })
}

fn bind() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").unwrap()
}

/// A socket bound to a port named by number, as the node binds its media
/// ports (a disconnect gives up an ephemeral port).
fn bind_by_number() -> UdpSocket {
    for _ in 0..100 {
        let port = bind().local_addr().unwrap().port();
        if let Ok(s) = UdpSocket::bind(("127.0.0.1", port)) {
            return s;
        }
    }
    panic!("no free port");
}

/// Polls until `want` datagrams arrived or `limit` passed; `keep` decides
/// whether a datagram is kept (held) or dropped at once (buffer recycled).
fn collect(
    io: &mut UringSockets,
    want: usize,
    limit: Duration,
    mut on: impl FnMut(Received),
) -> usize {
    let deadline = Instant::now() + limit;
    let mut got = 0;
    while got < want && Instant::now() < deadline {
        for r in io.poll(Some(Duration::from_millis(20))).unwrap() {
            got += 1;
            on(r);
        }
    }
    got
}

fn payload(a: u32, b: u32, c: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity(172);
    v.extend_from_slice(&a.to_be_bytes());
    v.extend_from_slice(&b.to_be_bytes());
    v.extend_from_slice(&c.to_be_bytes());
    // A body that depends on the header, so a wrong buffer shows.
    v.extend((0..160u32).map(|i| (i ^ a ^ b.rotate_left(3) ^ c) as u8));
    v
}

fn unpack(d: &[u8]) -> (u32, u32, u32) {
    let w = |i: usize| u32::from_be_bytes(d[i..i + 4].try_into().unwrap());
    let (a, b, c) = (w(0), w(4), w(8));
    assert_eq!(d, &payload(a, b, c)[..], "payload bytes");
    (a, b, c)
}

#[test]
fn uring_64_sockets_50_datagrams_each_with_sources() {
    for defer_taskrun in [false, true] {
        for fixed_files in [true, false] {
            receive_64_sockets(UringConfig {
                defer_taskrun,
                fixed_files,
                ..UringConfig::default()
            });
        }
    }
}

fn receive_64_sockets(config: UringConfig) {
    let Some(mut io) = open(config) else {
        return;
    };
    let mut addrs = Vec::new();
    for i in 0..64u64 {
        let s = bind();
        addrs.push(s.local_addr().unwrap());
        io.add(i, s).unwrap();
    }
    assert_eq!(io.len(), 64);
    let senders: Vec<UdpSocket> = (0..4).map(|_| bind()).collect();
    let sender_addrs: Vec<SocketAddr> = senders.iter().map(|s| s.local_addr().unwrap()).collect();
    io.flush().unwrap(); // arm before sending
    for seq in 0..50u32 {
        for (i, to) in addrs.iter().enumerate() {
            let k = (i as u32 + seq) % 4;
            senders[k as usize]
                .send_to(&payload(i as u32, seq, k), to)
                .unwrap();
        }
    }
    let mut seen = HashSet::new();
    let got = collect(&mut io, 64 * 50, Duration::from_secs(10), |r| {
        let (i, seq, k) = unpack(&r.data);
        assert_eq!(r.socket_id, i as SocketId, "socket id");
        assert_eq!(r.from, sender_addrs[k as usize], "source address");
        assert!(seen.insert((i, seq)), "duplicate {i}/{seq}");
    });
    assert_eq!(got, 64 * 50);
    let st = io.stats();
    assert_eq!(st.received, 3200);
    assert_eq!(st.received_bytes, 3200 * 172);
    assert_eq!((st.enobufs, st.truncated, st.recv_errors), (0, 0, 0));
}

#[test]
fn uring_buffers_recycled_10000_datagrams_through_256_buffers() {
    let cfg = UringConfig {
        buf_count: 256,
        cq_entries: 1024,
        sq_entries: 256,
        ..UringConfig::default()
    };
    let Some(mut io) = open(cfg) else {
        return;
    };
    let rx = bind();
    let to = rx.local_addr().unwrap();
    io.add(1, rx).unwrap();
    io.flush().unwrap();
    let tx = bind();
    let mut ids = HashSet::new();
    let mut next = 0u32;
    for burst in 0..100u32 {
        for j in 0..100u32 {
            tx.send_to(&payload(burst, j, 0), to).unwrap();
        }
        let got = collect(&mut io, 100, Duration::from_secs(5), |r| {
            let (b, j, _) = unpack(&r.data);
            assert_eq!((b, j), (next / 100, next % 100), "in order on one socket");
            next += 1;
            ids.insert(r.data.buffer_id());
            // `r` drops here: its buffer goes back to the ring.
        });
        assert_eq!(got, 100, "burst {burst}");
    }
    assert_eq!(next, 10_000);
    assert!(ids.iter().all(|&b| b < 256), "buffer ids from the ring");
    let st = io.stats();
    assert_eq!(st.received, 10_000);
    assert_eq!(st.enobufs, 0, "{st:?}");
}

#[test]
fn uring_batched_sends_arrive_plain_and_zero_copy() {
    for send_zc in [false, true] {
        let Some(mut io) = open(UringConfig {
            send_zc,
            ..UringConfig::default()
        }) else {
            return;
        };
        let mut src = Vec::new();
        for i in 0..16u64 {
            let s = bind();
            src.push(s.local_addr().unwrap());
            io.add(i, s).unwrap();
        }
        let sinks: Vec<UdpSocket> = (0..16).map(|_| bind()).collect();
        for s in &sinks {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        }
        // 16 x 20 sends queued, handed to the kernel by one submit.
        for seq in 0..20u32 {
            for i in 0..16u32 {
                let to = sinks[i as usize].local_addr().unwrap();
                io.send(i as SocketId, to, payload(i, seq, 7)).unwrap();
            }
        }
        assert_eq!(io.sends_in_flight(), 320);
        io.flush().unwrap();
        for (i, sink) in sinks.iter().enumerate() {
            let mut buf = [0u8; 2048];
            for seq in 0..20u32 {
                let (n, from) = recv_retrying(sink, &mut buf);
                assert_eq!(from, src[i], "sent from socket {i}");
                assert_eq!(unpack(&buf[..n]), (i as u32, seq, 7));
            }
        }
        // Completions (and send-zc notifications) come back; slots free up.
        let deadline = Instant::now() + Duration::from_secs(5);
        while io.sends_in_flight() > 0 && Instant::now() < deadline {
            let _ = io.poll(Some(Duration::from_millis(10))).unwrap().count();
        }
        assert_eq!(io.sends_in_flight(), 0, "send_zc={send_zc}");
        let st: UringStats = io.stats();
        assert_eq!((st.sent, st.send_errors), (320, 0), "send_zc={send_zc}");

        // Relay: a received buffer goes back out from the same memory.
        let peer = bind();
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        peer.send_to(&payload(1, 2, 3), src[3]).unwrap();
        let mut got = Vec::new();
        collect(&mut io, 1, Duration::from_secs(5), |r| got.push(r));
        let r = got.pop().expect("one datagram");
        assert_eq!(r.from, peer.local_addr().unwrap());
        let mut data = r.data;
        data[0] ^= 0xff; // rewrite in place
        io.send(r.socket_id, r.from, data).unwrap();
        io.flush().unwrap();
        let mut buf = [0u8; 2048];
        let (n, from) = recv_retrying(&peer, &mut buf);
        assert_eq!(from, src[3]);
        let mut want = payload(1, 2, 3);
        want[0] ^= 0xff;
        assert_eq!(&buf[..n], &want[..]);
    }
}

#[test]
fn uring_removed_socket_closes_when_dropped() {
    // a socket in the ring's file table is held open by the table: removal
    // must take it out, or its port stays bound after the caller drops it
    for fixed_files in [true, false] {
        let Some(mut io) = open_with_file_table(fixed_files) else {
            return;
        };
        let s = bind();
        let addr = s.local_addr().unwrap();
        io.add(7, s).unwrap();
        io.flush().unwrap();
        drop(io.remove(7).unwrap());
        UdpSocket::bind(addr).expect("the removed socket's port is free again");
    }
}

#[test]
fn uring_socket_removal() {
    let Some(mut io) = open(UringConfig::default()) else {
        return;
    };
    let mut addrs = Vec::new();
    for i in 0..4u64 {
        let s = bind();
        addrs.push(s.local_addr().unwrap());
        io.add(i, s).unwrap();
    }
    assert!(matches!(io.add(1, bind()), Err(UringError::DuplicateId(1))));
    io.flush().unwrap();
    let back = io.remove(2).unwrap();
    assert_eq!(back.local_addr().unwrap(), addrs[2], "the same socket back");
    assert!(!io.contains(2));
    assert!(matches!(io.remove(2), Err(UringError::UnknownSocket(2))));
    assert!(matches!(
        io.send(2, addrs[0], vec![1]),
        Err(UringError::UnknownSocket(2))
    ));

    let tx = bind();
    for (i, a) in addrs.iter().enumerate() {
        tx.send_to(&payload(i as u32, 0, 0), a).unwrap();
    }
    let mut ids = Vec::new();
    collect(&mut io, 3, Duration::from_secs(5), |r| {
        ids.push(r.socket_id)
    });
    // Nothing more for the removed socket, even after a while.
    collect(&mut io, 1, Duration::from_millis(200), |r| {
        ids.push(r.socket_id)
    });
    ids.sort();
    assert_eq!(ids, vec![0, 1, 3]);
    // The removed socket is usable on its own again.
    back.set_nonblocking(false).unwrap();
    back.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = recv_retrying(&back, &mut buf);
    assert_eq!(unpack(&buf[..n]).0, 2);

    // The id can be reused, and receive works on the new socket.
    io.add(2, back).unwrap();
    tx.send_to(&payload(9, 9, 9), addrs[2]).unwrap();
    let mut got = Vec::new();
    collect(&mut io, 1, Duration::from_secs(5), |r| {
        got.push((r.socket_id, unpack(&r.data)))
    });
    assert_eq!(got, vec![(2, (9, 9, 9))]);
    assert_eq!(io.stats().recv_errors, 0);
}

#[test]
fn uring_enobufs_is_a_counted_drop_and_receive_resumes() {
    let cfg = UringConfig {
        buf_count: 16,
        ..UringConfig::default()
    };
    let Some(mut io) = open(cfg) else {
        return;
    };
    let mut addrs = Vec::new();
    for i in 0..4u64 {
        let s = bind();
        addrs.push(s.local_addr().unwrap());
        io.add(i, s).unwrap();
    }
    io.flush().unwrap();
    let tx = bind();
    for seq in 0..50u32 {
        for (i, a) in addrs.iter().enumerate() {
            tx.send_to(&payload(i as u32, seq, 0), a).unwrap();
        }
    }
    // Stop draining: hold every buffer handed out.
    let mut held = Vec::new();
    collect(&mut io, 200, Duration::from_millis(300), |r| held.push(r));
    assert!(held.len() <= 16, "{} held of 16 buffers", held.len());
    assert_eq!(io.buffers_available(), 16 - held.len());
    let st = io.stats();
    assert!(st.enobufs >= 1, "ENOBUFS counted: {st:?}");

    // Let go: the datagrams waiting in the sockets' queues come through.
    let mut seen: HashSet<(u32, u32)> = held
        .iter()
        .map(|r| unpack(&r.data))
        .map(|(i, s, _)| (i, s))
        .collect();
    drop(held);
    let want = 200 - seen.len();
    let got = collect(&mut io, want, Duration::from_secs(10), |r| {
        let (i, s, _) = unpack(&r.data);
        assert_eq!(r.from, tx.local_addr().unwrap());
        assert!(seen.insert((i, s)));
    });
    assert_eq!(got, want, "stats {:?}", io.stats());
    assert_eq!(seen.len(), 200);
    assert!(io.stats().rearms >= 1);
}

/// Datagrams per second received through `UringSockets` and through a plain
/// epoll + `recvmmsg` loop, same sockets count, same sender, same machine.
/// `cargo test --release -p ringwire-media --test uring_sockets -- --ignored --nocapture`
#[test]
#[ignore = "throughput measurement; run by hand in release"]
fn uring_throughput_vs_recvmmsg() {
    let sockets = 64usize;
    let secs = 2.0;
    let mut lines = Vec::new();
    let mmsg = measure(sockets, secs, Rx::Mmsg);
    for defer_taskrun in [false, true] {
        let Some(io) = open(UringConfig {
            defer_taskrun,
            ..UringConfig::default()
        }) else {
            return;
        };
        let uring = measure(sockets, secs, Rx::Uring(Box::new(io)));
        lines.push(format!(
            "io_uring (defer_taskrun={defer_taskrun}): {:.0} datagrams/s (sent {:.0}/s, {:.0} per receiver CPU-second); ratio to recvmmsg {:.2} (per CPU-second {:.2})",
            uring.0, uring.1, uring.2, uring.0 / mmsg.0, uring.2 / mmsg.2
        ));
    }
    println!(
        "{sockets} sockets, {secs} s, 172-byte datagrams: recvmmsg {:.0} datagrams/s (sent {:.0}/s, {:.0} per receiver CPU-second)",
        mmsg.0, mmsg.1, mmsg.2
    );
    for l in lines {
        println!("{l}");
    }
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    // SAFETY: all-zero is a valid `rusage`; getrusage writes into it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable `rusage`.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

enum Rx {
    Uring(Box<UringSockets>),
    Mmsg,
}

/// Runs a `sendmmsg` blaster thread against `n` sockets; returns received
/// and sent datagrams per second, and received datagrams per CPU-second of
/// the receiving thread.
fn measure(n: usize, secs: f64, rx: Rx) -> (f64, f64, f64) {
    use std::os::fd::AsRawFd;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    let socks: Vec<UdpSocket> = (0..n).map(|_| bind()).collect();
    let addrs: Vec<SocketAddr> = socks.iter().map(|s| s.local_addr().unwrap()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let mut received = 0u64;
    let dur = Duration::from_secs_f64(secs);

    let blaster = {
        let (stop, sent) = (stop.clone(), sent.clone());
        std::thread::spawn(move || {
            let tx = bind();
            let body = payload(1, 2, 3);
            let mut names: Vec<libc::sockaddr_in> = addrs
                .iter()
                .map(|a| {
                    let SocketAddr::V4(a) = a else { unreachable!() };
                    libc::sockaddr_in {
                        sin_family: libc::AF_INET as libc::sa_family_t,
                        sin_port: a.port().to_be(),
                        sin_addr: libc::in_addr {
                            s_addr: u32::from_ne_bytes(a.ip().octets()),
                        },
                        sin_zero: [0; 8],
                    }
                })
                .collect();
            let mut iov = libc::iovec {
                iov_base: body.as_ptr() as *mut libc::c_void,
                iov_len: body.len(),
            };
            let mut msgs: Vec<libc::mmsghdr> = names
                .iter_mut()
                .map(|name| {
                    // SAFETY: all-zero is a valid `mmsghdr`.
                    let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
                    m.msg_hdr.msg_name = (name as *mut libc::sockaddr_in).cast();
                    m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
                    m.msg_hdr.msg_iov = &mut iov;
                    m.msg_hdr.msg_iovlen = 1;
                    m
                })
                .collect();
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: `msgs` points at `names`, `iov` and `body`, all
                // alive and unmoved for the duration of the call.
                let r = unsafe {
                    libc::sendmmsg(tx.as_raw_fd(), msgs.as_mut_ptr(), msgs.len() as u32, 0)
                };
                if r > 0 {
                    sent.fetch_add(r as u64, Ordering::Relaxed);
                }
            }
        })
    };

    let start = Instant::now();
    let cpu0 = thread_cpu();
    match rx {
        Rx::Uring(mut io) => {
            for (i, s) in socks.into_iter().enumerate() {
                io.add(i as SocketId, s).unwrap();
            }
            io.flush().unwrap();
            let t0 = Instant::now();
            while t0.elapsed() < dur {
                received += io.poll(Some(Duration::from_millis(10))).unwrap().count() as u64;
            }
        }
        Rx::Mmsg => {
            // SAFETY: plain syscall wrappers over fds owned by `socks`,
            // with buffers that outlive each call.
            unsafe {
                let ep = libc::epoll_create1(0);
                assert!(ep >= 0);
                for (i, s) in socks.iter().enumerate() {
                    s.set_nonblocking(true).unwrap();
                    let mut ev = libc::epoll_event {
                        events: libc::EPOLLIN as u32,
                        u64: i as u64,
                    };
                    assert_eq!(
                        libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, s.as_raw_fd(), &mut ev),
                        0
                    );
                }
                const B: usize = 64;
                let mut bufs = vec![[0u8; 2048]; B];
                let mut names: Vec<libc::sockaddr_in6> = vec![std::mem::zeroed(); B];
                let mut iovs: Vec<libc::iovec> = bufs
                    .iter_mut()
                    .map(|b| libc::iovec {
                        iov_base: b.as_mut_ptr().cast(),
                        iov_len: b.len(),
                    })
                    .collect();
                let mut msgs: Vec<libc::mmsghdr> = vec![std::mem::zeroed(); B];
                let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
                let t0 = Instant::now();
                while t0.elapsed() < dur {
                    let k = libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, 10);
                    for ev in &events[..k.max(0) as usize] {
                        let fd = socks[ev.u64 as usize].as_raw_fd();
                        for (j, m) in msgs.iter_mut().enumerate() {
                            m.msg_hdr.msg_name = (&mut names[j] as *mut libc::sockaddr_in6).cast();
                            m.msg_hdr.msg_namelen =
                                std::mem::size_of::<libc::sockaddr_in6>() as u32;
                            m.msg_hdr.msg_iov = &mut iovs[j];
                            m.msg_hdr.msg_iovlen = 1;
                        }
                        let r = libc::recvmmsg(
                            fd,
                            msgs.as_mut_ptr(),
                            B as u32,
                            libc::MSG_DONTWAIT,
                            std::ptr::null_mut(),
                        );
                        if r > 0 {
                            received += r as u64;
                        }
                    }
                }
                libc::close(ep);
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = (thread_cpu() - cpu0).as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    blaster.join().unwrap();
    (
        received as f64 / elapsed,
        sent.load(Ordering::Relaxed) as f64 / elapsed,
        received as f64 / cpu,
    )
}

/// `recv_from`, retried when a signal interrupts it: io_uring task work on
/// this thread (the ring lives here in these tests) can do that.
fn recv_retrying(s: &std::net::UdpSocket, buf: &mut [u8]) -> (usize, std::net::SocketAddr) {
    loop {
        match s.recv_from(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => return r.expect("a datagram in time"),
        }
    }
}

#[test]
fn uring_a_pinned_socket_takes_its_peers_datagrams_by_plain_receive() {
    for fixed_files in [true, false] {
        let Some(mut io) = open_with_file_table(fixed_files) else {
            return;
        };
        let sock = bind_by_number();
        let to = sock.local_addr().unwrap();
        io.add(1, sock).unwrap();
        let (a, b) = (bind(), bind());
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        // Sends `n` datagrams from `from` and returns their sources as
        // received, with the plain receives among them.
        let exchange = |io: &mut UringSockets, from: &UdpSocket, n: u32| {
            let before = io.stats().received_connected;
            for k in 0..n {
                from.send_to(&payload(k, 7, 9), to).unwrap();
            }
            let mut sources = Vec::new();
            collect(io, n as usize, Duration::from_secs(2), |r| {
                unpack(&r.data);
                sources.push(r.from);
            });
            (sources, io.stats().received_connected - before)
        };
        // before any pin: each datagram's source from recvmsg
        let (sources, plain) = exchange(&mut io, &a, 5);
        assert_eq!(sources, vec![a_addr; 5]);
        assert_eq!(plain, 0);
        // pinned to a: the receive switches to plain recv, the source is a
        io.pin(1, Some(a_addr)).unwrap();
        io.flush().unwrap();
        let (sources, _) = exchange(&mut io, &a, 5);
        assert_eq!(sources, vec![a_addr; 5]);
        let (sources, plain) = exchange(&mut io, &a, 5);
        assert_eq!(sources, vec![a_addr; 5]);
        assert_eq!(plain, 5, "plain receives once the switch is through");
        // unpinned: b's datagrams are b's, not a's (latching depends on it)
        io.pin(1, None).unwrap();
        let (sources, plain) = exchange(&mut io, &b, 5);
        assert_eq!(sources, vec![b_addr; 5]);
        assert_eq!(plain, 0);
        // pinned to b: b's again, by plain receive
        io.pin(1, Some(b_addr)).unwrap();
        io.flush().unwrap();
        exchange(&mut io, &b, 5);
        let (sources, plain) = exchange(&mut io, &b, 5);
        assert_eq!(sources, vec![b_addr; 5]);
        assert_eq!(plain, 5);
        // a datagram too long for a buffer is a counted drop, as unpinned
        let truncated = io.stats().truncated;
        b.send_to(&vec![0u8; 4000], to).unwrap();
        b.send_to(&payload(1, 2, 3), to).unwrap();
        let mut got = Vec::new();
        collect(&mut io, 1, Duration::from_secs(2), |r| {
            got.push(unpack(&r.data))
        });
        assert_eq!(got, vec![(1, 2, 3)]);
        assert_eq!(io.stats().truncated, truncated + 1);
    }
}
