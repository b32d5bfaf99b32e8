//! Link layer to UDP: slices one captured frame down to its UDP datagram
//! (Ethernet with VLANs, Linux SLL/SLL2, raw IP, BSD loopback) without
//! copying, using `etherparse`.

use std::net::{IpAddr, SocketAddr};

use etherparse::{EtherType, NetSlice, SlicedPacket, TransportSlice};

/// Link types (libpcap DLT values as `pcap::Capture::get_datalink` returns).
pub mod linktype {
    /// BSD loopback: 4-byte address family in host byte order.
    pub const NULL: i32 = 0;
    /// Ethernet II (VLAN tags included).
    pub const ETHERNET: i32 = 1;
    /// Raw IP as libpcap's DLT_RAW on most systems.
    pub const RAW_DLT12: i32 = 12;
    /// Raw IP as libpcap's DLT_RAW on OpenBSD.
    pub const RAW_DLT14: i32 = 14;
    /// Raw IP as the file linktype (LINKTYPE_RAW).
    pub const RAW: i32 = 101;
    /// OpenBSD loopback: address family in network byte order.
    pub const LOOP: i32 = 108;
    /// Linux cooked capture v1.
    pub const LINUX_SLL: i32 = 113;
    /// Raw IPv4.
    pub const IPV4: i32 = 228;
    /// Raw IPv6.
    pub const IPV6: i32 = 229;
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: i32 = 276;
}

/// A UDP datagram found in a frame; borrows the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram<'a> {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// UDP payload.
    pub payload: &'a [u8],
}

/// Why a frame yields no UDP datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The link type is not one we read.
    UnsupportedLink,
    /// Not IP, or IP but not UDP.
    NotUdp,
    /// An IPv4/IPv6 fragment (not reassembled; counted as dropped).
    Fragment,
    /// Headers cut short or inconsistent.
    Malformed,
}

/// Slices `frame` of link type `linktype` down to a UDP datagram.
pub fn udp_datagram(linktype: i32, frame: &[u8]) -> Result<Datagram<'_>, Skip> {
    let sliced = match linktype {
        linktype::ETHERNET => SlicedPacket::from_ethernet(frame),
        linktype::LINUX_SLL => SlicedPacket::from_linux_sll(frame),
        linktype::LINUX_SLL2 => {
            // SLL2: protocol (2), reserved (2), ifindex (4), hatype (2),
            // packet type (1), address length (1), address (8).
            if frame.len() < 20 {
                return Err(Skip::Malformed);
            }
            let proto = u16::from_be_bytes([frame[0], frame[1]]);
            SlicedPacket::from_ether_type(EtherType(proto), &frame[20..])
        }
        linktype::RAW
        | linktype::RAW_DLT12
        | linktype::RAW_DLT14
        | linktype::IPV4
        | linktype::IPV6 => SlicedPacket::from_ip(frame),
        linktype::NULL | linktype::LOOP => {
            if frame.len() < 4 {
                return Err(Skip::Malformed);
            }
            let fam = [frame[0], frame[1], frame[2], frame[3]];
            // Written in the capturing host's byte order: accept either.
            let af = u32::from_le_bytes(fam).min(u32::from_be_bytes(fam));
            match af {
                2 | 24 | 28 | 30 => SlicedPacket::from_ip(&frame[4..]),
                _ => return Err(Skip::NotUdp),
            }
        }
        _ => return Err(Skip::UnsupportedLink),
    }
    .map_err(|_| Skip::Malformed)?;
    let (src_ip, dst_ip, fragmented): (IpAddr, IpAddr, bool) = match &sliced.net {
        Some(NetSlice::Ipv4(v4)) => (
            v4.header().source_addr().into(),
            v4.header().destination_addr().into(),
            v4.payload().fragmented,
        ),
        Some(NetSlice::Ipv6(v6)) => (
            v6.header().source_addr().into(),
            v6.header().destination_addr().into(),
            v6.payload().fragmented,
        ),
        _ => return Err(Skip::NotUdp),
    };
    if fragmented {
        return Err(Skip::Fragment);
    }
    match sliced.transport {
        Some(TransportSlice::Udp(udp)) => Ok(Datagram {
            src: SocketAddr::new(src_ip, udp.source_port()),
            dst: SocketAddr::new(dst_ip, udp.destination_port()),
            payload: udp.payload(),
        }),
        _ => Err(Skip::NotUdp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn ipv4_udp(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).udp(5000, 6000);
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    #[test]
    fn raw_ip_and_null_and_sll2() {
        let ip = ipv4_udp(b"abc");
        let d = udp_datagram(linktype::RAW, &ip).unwrap();
        assert_eq!(d.src, "10.0.0.1:5000".parse().unwrap());
        assert_eq!(d.dst, "10.0.0.2:6000".parse().unwrap());
        assert_eq!(d.payload, b"abc");
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(&ip);
        assert_eq!(udp_datagram(linktype::NULL, &null).unwrap().payload, b"abc");
        let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6];
        sll2.extend_from_slice(&[0; 8]);
        sll2.extend_from_slice(&ip);
        assert_eq!(
            udp_datagram(linktype::LINUX_SLL2, &sll2).unwrap().payload,
            b"abc"
        );
    }

    #[test]
    fn skips() {
        assert_eq!(udp_datagram(999, &[]), Err(Skip::UnsupportedLink));
        assert_eq!(
            udp_datagram(linktype::ETHERNET, &[1, 2, 3]),
            Err(Skip::Malformed)
        );
        assert_eq!(
            udp_datagram(linktype::LINUX_SLL2, &[0; 5]),
            Err(Skip::Malformed)
        );
        let mut ip = ipv4_udp(b"abcdefgh");
        ip[6] = 0x20; // more fragments
        assert_eq!(udp_datagram(linktype::RAW, &ip), Err(Skip::Fragment));
    }
}
