//! Connecting a leg's socket to its one remote and back
//! ([`RelayConfig::pin_remote`](crate::relay::RelayConfig::pin_remote)),
//! for both drivers.
//!
//! A connected UDP socket sends without naming its destination, and the
//! kernel then skips the route lookup it otherwise does per datagram; it
//! also delivers only its peer's datagrams to it. Disconnecting (an
//! `AF_UNSPEC` connect) takes datagrams from anyone again and keeps the
//! bound port, as long as the port was bound by number, as the node binds
//! its media ports (a socket bound to port 0 would lose its port).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

/// Connects `sock` to `to`. Returns `false`, doing nothing, where pinning
/// would change what the socket receives beyond its peer: a socket bound
/// to a wildcard address (connecting fixes its receive address to the
/// route's source), or a remote of the other address family.
pub(crate) fn connect(sock: &UdpSocket, to: SocketAddr) -> io::Result<bool> {
    let local = sock.local_addr()?;
    if local.ip().is_unspecified() || local.is_ipv4() != to.is_ipv4() {
        return Ok(false);
    }
    sock.connect(to)?;
    Ok(true)
}

/// Disconnects `sock`: datagrams from any source reach it again.
pub(crate) fn disconnect(sock: &UdpSocket) -> io::Result<()> {
    // SAFETY: an all-zero sockaddr is a valid value; only its family is
    // read for AF_UNSPEC.
    let mut addr: libc::sockaddr = unsafe { std::mem::zeroed() };
    addr.sa_family = libc::AF_UNSPEC as libc::sa_family_t;
    // SAFETY: `addr` lives across the call and its size is given.
    let r = unsafe {
        libc::connect(
            sock.as_raw_fd(),
            &addr,
            std::mem::size_of::<libc::sockaddr>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn local() -> UdpSocket {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        s
    }

    /// A socket bound to a port named explicitly, as the node binds its
    /// media ports (an ephemeral port is given up by a disconnect).
    fn node() -> UdpSocket {
        for _ in 0..100 {
            let port = local().local_addr().unwrap().port();
            if let Ok(s) = UdpSocket::bind(("127.0.0.1", port)) {
                s.set_read_timeout(Some(Duration::from_millis(200)))
                    .unwrap();
                return s;
            }
        }
        panic!("no free port");
    }

    #[test]
    fn a_pinned_socket_hears_only_its_peer_until_unpinned() {
        let (node, peer, other) = (node(), local(), local());
        let port = node.local_addr().unwrap();
        assert!(connect(&node, peer.local_addr().unwrap()).unwrap());
        other.send_to(b"intruder", port).unwrap();
        peer.send_to(b"peer", port).unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = node.recv_from(&mut buf).unwrap();
        assert_eq!(
            (&buf[..n], from),
            (&b"peer"[..], peer.local_addr().unwrap())
        );
        node.send(b"back").unwrap();
        assert_eq!(peer.recv(&mut buf).unwrap(), 4);

        disconnect(&node).unwrap();
        assert_eq!(node.local_addr().unwrap(), port, "the port is kept");
        other.send_to(b"anyone", port).unwrap();
        let (n, from) = node.recv_from(&mut buf).unwrap();
        assert_eq!(
            (&buf[..n], from),
            (&b"anyone"[..], other.local_addr().unwrap())
        );
    }

    #[test]
    fn wildcard_sockets_and_other_families_are_not_pinned() {
        let any = UdpSocket::bind("0.0.0.0:0").unwrap();
        let to = SocketAddr::from(([127, 0, 0, 1], 9));
        assert!(!connect(&any, to).unwrap());
        let v4 = local();
        assert!(!connect(&v4, "[::1]:9".parse().unwrap()).unwrap());
    }
}
