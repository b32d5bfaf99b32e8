//! The generator's media socket: one UDP socket for every endpoint.
//!
//! Each endpoint (a call's caller or callee side) is its own loopback
//! address, `127.100.x.y`, all on the same port: the socket is bound to the
//! wildcard address but tied to the loopback device (`SO_BINDTODEVICE lo`),
//! so nothing outside the machine reaches it. Sends pick the endpoint's
//! source address per packet (`IP_PKTINFO`), so one `sendmmsg` carries a
//! whole tick's packets across all calls; receives learn the endpoint from
//! the destination address (`IP_PKTINFO`) and take the kernel's arrival
//! time (`SO_TIMESTAMPNS`), so one `recvmmsg` drains many calls at once.
//! A node sees one distinct address and port per endpoint, as it would with
//! one socket per phone.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// First octets of every endpoint address (127.100.0.0/14 and up).
const BASE: u32 = u32::from_be_bytes([127, 100, 0, 0]);

/// The loopback address of endpoint `index`: `127.(100+i/64516).(i/254%254+1).(i%254+1)`
/// (no `.0` or `.255` octets).
pub fn endpoint_addr(index: usize) -> Ipv4Addr {
    let i = index as u32;
    Ipv4Addr::from(BASE + (i / 64516) * 65536 + ((i / 254) % 254 + 1) * 256 + i % 254 + 1)
}

/// The endpoint index of a loopback address made by [`endpoint_addr`].
pub fn endpoint_index(addr: Ipv4Addr) -> Option<usize> {
    let a = u32::from(addr);
    if a < BASE + 257 || a >> 24 != 127 {
        return None;
    }
    let rel = a - BASE;
    let (hi, c, d) = (rel >> 16, (rel >> 8) & 255, rel & 255);
    if !(1..=254).contains(&c) || !(1..=254).contains(&d) {
        return None;
    }
    Some((hi * 64516 + (c - 1) * 254 + d - 1) as usize)
}

/// A UDP socket serving every endpoint of the generator.
#[derive(Debug)]
pub struct MediaSocket {
    fd: OwnedFd,
    port: u16,
    /// Whether `SO_BINDTODEVICE lo` held (else bound to the wildcard only).
    pub loopback_only: bool,
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn setsockopt<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points at a live `T` of the size passed.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            value as *const T as *const libc::c_void,
            size_of::<T>() as libc::socklen_t,
        )
    })
    .map(|_| ())
}

fn sockaddr(addr: SocketAddrV4) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain data; all-zero is a valid value.
    let mut sa: libc::sockaddr_in = unsafe { zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_port = addr.port().to_be();
    sa.sin_addr.s_addr = u32::from(*addr.ip()).to_be();
    sa
}

impl MediaSocket {
    /// Opens the socket on an ephemeral port with large buffers.
    pub fn open() -> io::Result<Self> {
        // SAFETY: socket() takes no pointers; the result is checked.
        let raw = check(unsafe {
            libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)
        })?;
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let lo = *b"lo\0";
        // SAFETY: `lo` is a NUL-terminated name of the length passed.
        let loopback_only = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_BINDTODEVICE,
                lo.as_ptr() as *const libc::c_void,
                lo.len() as libc::socklen_t,
            )
        } == 0;
        let one: libc::c_int = 1;
        setsockopt(&fd, libc::IPPROTO_IP, libc::IP_PKTINFO, &one)?;
        setsockopt(&fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, &one)?;
        // DF without path-MTU discovery, as the node's media sockets: an
        // IPv4 datagram without DF draws a fresh IP id from a shared hashed
        // table (`__ip_select_ident`, 3.4% of the generator at 1,500 calls).
        setsockopt(
            &fd,
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            &libc::IP_PMTUDISC_PROBE,
        )?;
        let big: libc::c_int = 32 << 20;
        // FORCE needs CAP_NET_ADMIN; the plain option is capped by rmem_max.
        if setsockopt(&fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &big).is_err() {
            setsockopt(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &big)?;
        }
        if setsockopt(&fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, &big).is_err() {
            setsockopt(&fd, libc::SOL_SOCKET, libc::SO_SNDBUF, &big)?;
        }
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 50_000,
        };
        setsockopt(&fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)?;
        let sa = sockaddr(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
        // SAFETY: `sa` is a valid sockaddr_in of the length passed.
        check(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &sa as *const _ as *const libc::sockaddr,
                size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        })?;
        // SAFETY: zeroed sockaddr_in is valid; getsockname writes at most `len` bytes.
        let mut out: libc::sockaddr_in = unsafe { zeroed() };
        let mut len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
        // SAFETY: `out` and `len` are live and sized as declared.
        check(unsafe {
            libc::getsockname(
                fd.as_raw_fd(),
                &mut out as *mut _ as *mut libc::sockaddr,
                &mut len,
            )
        })?;
        Ok(MediaSocket {
            fd,
            port: u16::from_be(out.sin_port),
            loopback_only,
        })
    }

    /// The port every endpoint uses.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl AsRawFd for MediaSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

/// Largest datagram the generator sends (RTP header and 160 bytes).
pub const PACKET: usize = 172;
/// Messages per `sendmmsg` / `recvmmsg`.
pub const BATCH: usize = 64;
const RECV_BUF: usize = 2048;
const SEND_CTRL: usize = 4; // u64 words: CMSG_SPACE(sizeof in_pktinfo) = 32 bytes
const RECV_CTRL: usize = 16; // pktinfo + timespec, with room

/// A batch of outgoing packets, each from an endpoint to a node address.
pub struct SendBatch {
    len: usize,
    bufs: Box<[[u8; PACKET]; BATCH]>,
    lens: [usize; BATCH],
    names: Box<[libc::sockaddr_in; BATCH]>,
    sources: [Ipv4Addr; BATCH],
    ctrl: Box<[[u64; SEND_CTRL]; BATCH]>,
    iovs: Box<[libc::iovec; BATCH]>,
    hdrs: Box<[libc::mmsghdr; BATCH]>,
}

// SAFETY: the raw pointers inside `iovs` and `hdrs` are rebuilt from this
// batch's own boxes before each use and never shared.
unsafe impl Send for SendBatch {}

impl Default for SendBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl SendBatch {
    /// An empty batch.
    pub fn new() -> Self {
        // SAFETY: these are plain C structs and integers: all-zero is valid.
        unsafe {
            SendBatch {
                len: 0,
                bufs: Box::new([[0; PACKET]; BATCH]),
                lens: [0; BATCH],
                names: Box::new(zeroed()),
                sources: [Ipv4Addr::UNSPECIFIED; BATCH],
                ctrl: Box::new([[0; SEND_CTRL]; BATCH]),
                iovs: Box::new(zeroed()),
                hdrs: Box::new(zeroed()),
            }
        }
    }

    /// Whether the batch has no room left.
    pub fn is_full(&self) -> bool {
        self.len == BATCH
    }

    /// Packets queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Queues a packet from `source` to `dest`; `fill` writes it into the
    /// buffer and returns its length (at most [`PACKET`]).
    pub fn push(
        &mut self,
        source: Ipv4Addr,
        dest: SocketAddrV4,
        fill: impl FnOnce(&mut [u8; PACKET]) -> usize,
    ) {
        assert!(self.len < BATCH, "batch full");
        let i = self.len;
        self.lens[i] = fill(&mut self.bufs[i]).min(PACKET);
        self.names[i] = sockaddr(dest);
        self.sources[i] = source;
        self.len += 1;
    }

    /// Sends everything queued; returns how many packets the kernel took
    /// (the rest failed with the returned error, if any) and empties the batch.
    pub fn flush(&mut self, socket: &MediaSocket) -> (usize, Option<io::Error>) {
        let n = self.len;
        self.len = 0;
        for i in 0..n {
            self.iovs[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr() as *mut libc::c_void,
                iov_len: self.lens[i],
            };
            let ctrl = &mut self.ctrl[i];
            // SAFETY: msghdr is plain data; all-zero is valid.
            let mut msg: libc::msghdr = unsafe { zeroed() };
            msg.msg_name = &mut self.names[i] as *mut _ as *mut libc::c_void;
            msg.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            msg.msg_iov = &mut self.iovs[i];
            msg.msg_iovlen = 1;
            msg.msg_control = ctrl.as_mut_ptr() as *mut libc::c_void;
            // SAFETY: CMSG_SPACE only computes a size.
            msg.msg_controllen =
                unsafe { libc::CMSG_SPACE(size_of::<libc::in_pktinfo>() as u32) } as _;
            // SAFETY: msg_control points at `ctrl`, 8-aligned and at least
            // CMSG_SPACE(in_pktinfo) bytes, so the first header and its data fit.
            unsafe {
                let cmsg = libc::CMSG_FIRSTHDR(&msg);
                (*cmsg).cmsg_level = libc::IPPROTO_IP;
                (*cmsg).cmsg_type = libc::IP_PKTINFO;
                (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<libc::in_pktinfo>() as u32) as _;
                let info = libc::CMSG_DATA(cmsg) as *mut libc::in_pktinfo;
                std::ptr::write_unaligned(
                    info,
                    libc::in_pktinfo {
                        ipi_ifindex: 0,
                        ipi_spec_dst: libc::in_addr {
                            s_addr: u32::from(self.sources[i]).to_be(),
                        },
                        ipi_addr: libc::in_addr { s_addr: 0 },
                    },
                );
            }
            self.hdrs[i] = libc::mmsghdr {
                msg_hdr: msg,
                msg_len: 0,
            };
        }
        let mut done = 0;
        while done < n {
            // SAFETY: hdrs[done..n] were filled above and point into this
            // batch's boxes, which outlive the call.
            let r = unsafe {
                libc::sendmmsg(
                    socket.fd.as_raw_fd(),
                    self.hdrs[done..].as_mut_ptr(),
                    (n - done) as libc::c_uint,
                    0,
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return (done, Some(e));
            }
            done += r as usize;
        }
        (done, None)
    }
}

/// One received datagram.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    /// The bytes (truncated to the buffer if larger).
    pub data: &'a [u8],
    /// The address it was sent to (the endpoint).
    pub dest: Option<Ipv4Addr>,
    /// Kernel arrival time, nanoseconds since the Unix epoch.
    pub arrival_ns: Option<u64>,
}

/// Buffers for receiving a batch with `recvmmsg`.
pub struct RecvBatch {
    bufs: Box<[[u8; RECV_BUF]; BATCH]>,
    names: Box<[libc::sockaddr_in; BATCH]>,
    ctrl: Box<[[u64; RECV_CTRL]; BATCH]>,
    iovs: Box<[libc::iovec; BATCH]>,
    hdrs: Box<[libc::mmsghdr; BATCH]>,
    len: usize,
}

// SAFETY: as for SendBatch: the pointers point into the batch's own boxes.
unsafe impl Send for RecvBatch {}

impl Default for RecvBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl RecvBatch {
    /// Empty buffers.
    pub fn new() -> Self {
        // SAFETY: plain C structs and integers: all-zero is valid.
        unsafe {
            RecvBatch {
                bufs: Box::new([[0; RECV_BUF]; BATCH]),
                names: Box::new(zeroed()),
                ctrl: Box::new([[0; RECV_CTRL]; BATCH]),
                iovs: Box::new(zeroed()),
                hdrs: Box::new(zeroed()),
                len: 0,
            }
        }
    }

    /// Waits up to the socket's 50 ms timeout for datagrams and takes as
    /// many as are queued (up to [`BATCH`]); returns how many (0 on timeout).
    pub fn recv(&mut self, socket: &MediaSocket) -> io::Result<usize> {
        for i in 0..BATCH {
            self.iovs[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr() as *mut libc::c_void,
                iov_len: RECV_BUF,
            };
            // SAFETY: msghdr is plain data; all-zero is valid.
            let mut msg: libc::msghdr = unsafe { zeroed() };
            msg.msg_name = &mut self.names[i] as *mut _ as *mut libc::c_void;
            msg.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            msg.msg_iov = &mut self.iovs[i];
            msg.msg_iovlen = 1;
            msg.msg_control = self.ctrl[i].as_mut_ptr() as *mut libc::c_void;
            msg.msg_controllen = (RECV_CTRL * 8) as _;
            self.hdrs[i] = libc::mmsghdr {
                msg_hdr: msg,
                msg_len: 0,
            };
        }
        // SAFETY: every header points into this batch's boxes, sized as declared.
        let r = unsafe {
            libc::recvmmsg(
                socket.fd.as_raw_fd(),
                self.hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            self.len = 0;
            return match e.kind() {
                io::ErrorKind::WouldBlock
                | io::ErrorKind::TimedOut
                | io::ErrorKind::Interrupted => Ok(0),
                // An ICMP error from an earlier send; nothing to read.
                io::ErrorKind::ConnectionRefused => Ok(0),
                _ => Err(e),
            };
        }
        self.len = r as usize;
        Ok(self.len)
    }

    /// The `i`th datagram of the last [`recv`](Self::recv).
    pub fn get(&self, i: usize) -> Received<'_> {
        assert!(i < self.len);
        let h = &self.hdrs[i];
        let mut dest = None;
        let mut arrival_ns = None;
        // SAFETY: the kernel filled msg_control up to msg_controllen with
        // well-formed headers; the CMSG macros stay within that length.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&h.msg_hdr);
            while !cmsg.is_null() {
                let c = &*cmsg;
                if c.cmsg_level == libc::IPPROTO_IP && c.cmsg_type == libc::IP_PKTINFO {
                    let info: libc::in_pktinfo =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const _);
                    dest = Some(Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr)));
                } else if c.cmsg_level == libc::SOL_SOCKET && c.cmsg_type == libc::SCM_TIMESTAMPNS {
                    let ts: libc::timespec =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const _);
                    arrival_ns = Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
                }
                cmsg = libc::CMSG_NXTHDR(&h.msg_hdr, cmsg);
            }
        }
        let len = (h.msg_len as usize).min(RECV_BUF);
        Received {
            data: &self.bufs[i][..len],
            dest,
            arrival_ns,
        }
    }
}

/// Nanoseconds since the Unix epoch (the clock of `SO_TIMESTAMPNS`).
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_nanos() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_addresses_round_trip() {
        for i in [0usize, 1, 253, 254, 255, 64515, 64516, 200_000] {
            let a = endpoint_addr(i);
            assert!(a.is_loopback());
            let o = a.octets();
            assert!(o[2] != 0 && o[3] != 0 && o[2] != 255 && o[3] != 255);
            assert_eq!(endpoint_index(a), Some(i), "{a}");
        }
        assert_eq!(endpoint_index(Ipv4Addr::LOCALHOST), None);
    }

    #[test]
    fn one_socket_sends_from_and_receives_for_many_addresses() {
        let s = MediaSocket::open().unwrap();
        let mut batch = SendBatch::new();
        for i in 0..10usize {
            let dest = SocketAddrV4::new(endpoint_addr(i + 1), s.port());
            batch.push(endpoint_addr(i), dest, |b| {
                b[0] = i as u8;
                1
            });
        }
        let (n, e) = batch.flush(&s);
        assert!(e.is_none(), "{e:?}");
        assert_eq!(n, 10);
        let mut rx = RecvBatch::new();
        let mut got = Vec::new();
        while got.len() < 10 {
            let n = rx.recv(&s).unwrap();
            assert!(n > 0, "timed out after {}", got.len());
            for k in 0..n {
                let r = rx.get(k);
                assert!(r.arrival_ns.is_some());
                got.push((r.data[0] as usize, endpoint_index(r.dest.unwrap()).unwrap()));
            }
        }
        got.sort();
        assert_eq!(got, (0..10).map(|i| (i, i + 1)).collect::<Vec<_>>());
    }
}
