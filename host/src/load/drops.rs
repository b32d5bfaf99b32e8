//! Where lost packets were dropped. A packet the node relayed can still be
//! lost in the generator's own socket when its receiver falls behind (its
//! core saturated), which is no fault of the node. Two kernel counters
//! tell the cases apart: the generator socket's drop count
//! (`SO_MEMINFO`), and the host's UDP receive-buffer drops
//! (`RcvbufErrors` in `/proc/net/snmp`), of which the rest fell in other
//! sockets on the host, on loopback the node's.

use std::fs;
use std::io;
use std::mem::size_of;
use std::os::fd::AsRawFd;

/// `SK_MEMINFO_VARS` of the kernel: the length of the `SO_MEMINFO` array.
const MEMINFO_VARS: usize = 9;

/// Datagrams a socket has dropped since it was opened (full receive
/// buffer, or a failed filter), from `getsockopt(SO_MEMINFO)`.
pub fn socket_drops(socket: &impl AsRawFd) -> io::Result<u64> {
    let mut info = [0u32; MEMINFO_VARS];
    let mut len = size_of::<[u32; MEMINFO_VARS]>() as libc::socklen_t;
    // SAFETY: `info` is writable for `len` bytes and the kernel writes at
    // most `len` of them, updating `len`.
    let r = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_MEMINFO,
            info.as_mut_ptr() as *mut libc::c_void,
            &mut len,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    let drops = libc::SK_MEMINFO_DROPS as usize;
    if (len as usize) < (drops + 1) * size_of::<u32>() {
        return Err(io::Error::other("SO_MEMINFO without a drop count"));
    }
    Ok(u64::from(info[drops]))
}

/// The host's UDP datagrams dropped for a full receive buffer so far
/// (`Udp: RcvbufErrors` of `/proc/net/snmp`, this network namespace).
pub fn udp_rcvbuf_errors() -> io::Result<u64> {
    let text = fs::read_to_string("/proc/net/snmp")?;
    parse_snmp_udp(&text, "RcvbufErrors")
        .ok_or_else(|| io::Error::other("/proc/net/snmp has no Udp RcvbufErrors"))
}

/// The value of `field` in the `Udp:` rows of a `/proc/net/snmp` text: a
/// row of names followed by a row of values.
pub fn parse_snmp_udp(text: &str, field: &str) -> Option<u64> {
    let mut rows = text.lines().filter(|l| l.starts_with("Udp:"));
    let names = rows.next()?;
    let values = rows.next()?;
    let at = names.split_ascii_whitespace().position(|n| n == field)?;
    values.split_ascii_whitespace().nth(at)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    const SNMP: &str = "\
Ip: Forwarding DefaultTTL InReceives
Ip: 1 64 100
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 4028004 3 542656 4028004 542650 0 0 0 0
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
UdpLite: 0 0 0 0 7 0 0 0 0
";

    #[test]
    fn the_udp_row_not_udplite_gives_the_count() {
        assert_eq!(parse_snmp_udp(SNMP, "RcvbufErrors"), Some(542650));
        assert_eq!(parse_snmp_udp(SNMP, "InDatagrams"), Some(4028004));
        assert_eq!(parse_snmp_udp(SNMP, "NoSuchField"), None);
        assert_eq!(parse_snmp_udp("Ip: a\nIp: 1\n", "RcvbufErrors"), None);
        assert_eq!(parse_snmp_udp("Udp: RcvbufErrors\n", "RcvbufErrors"), None);
    }

    #[test]
    fn this_host_has_the_counter() {
        udp_rcvbuf_errors().expect("RcvbufErrors readable");
    }

    #[test]
    fn a_full_receive_buffer_counts_as_the_sockets_drops() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(socket_drops(&rx).unwrap(), 0);
        // The smallest receive buffer holds a few datagrams; the rest of
        // 2,000 unread ones are dropped and counted.
        let small: libc::c_int = 1;
        // SAFETY: a valid int option of the size passed.
        let r = unsafe {
            libc::setsockopt(
                rx.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                &small as *const _ as *const libc::c_void,
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(r, 0);
        let to = rx.local_addr().unwrap();
        for _ in 0..2000 {
            tx.send_to(&[0u8; 172], to).unwrap();
        }
        let drops = socket_drops(&rx).unwrap();
        assert!(drops > 1000, "{drops} drops");
        let mut buf = [0u8; 256];
        rx.set_nonblocking(true).unwrap();
        let mut read = 0;
        while rx.recv(&mut buf).is_ok() {
            read += 1;
        }
        assert_eq!(read + drops, 2000, "every datagram read or counted");
    }
}
