//! Helpers shared by the integration tests: synthetic RTP, frames and pcaps.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use etherparse::{LinuxSllPacketType, PacketBuilder, VlanId};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::DataLink;
use ringwire_media::rtp::RtpBuilder;

/// How a frame is framed below IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Ethernet,
    Vlan,
    Sll,
    Sll2,
    Raw,
    Null,
}

impl Link {
    pub fn datalink(self) -> DataLink {
        match self {
            Link::Ethernet | Link::Vlan => DataLink::ETHERNET,
            Link::Sll => DataLink::LINUX_SLL,
            Link::Sll2 => DataLink::LINUX_SLL2,
            Link::Raw => DataLink::RAW,
            Link::Null => DataLink::NULL,
        }
    }
}

/// One UDP flow's endpoints.
#[derive(Debug, Clone, Copy)]
pub struct Flow {
    pub v6: bool,
    pub src_port: u16,
    pub dst_port: u16,
    /// Last byte/segment of the source address, so flows can differ.
    pub host: u8,
}

pub const FLOW: Flow = Flow {
    v6: false,
    src_port: 5000,
    dst_port: 6000,
    host: 1,
};

/// An RTP packet.
pub fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let b = RtpBuilder {
        payload_type: pt,
        sequence: seq,
        timestamp: ts,
        ssrc,
        ..Default::default()
    };
    let mut out = vec![0u8; b.packet_len(payload.len())];
    b.write(payload, &mut out).unwrap();
    out
}

/// A frame carrying `payload` in UDP over IPv4/IPv6 on `link`.
pub fn frame(link: Link, flow: Flow, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let (s4, d4) = ([10, 0, 0, flow.host], [10, 0, 0, 200]);
    let mut s6 = [0u8; 16];
    s6[0] = 0x20;
    s6[1] = 0x01;
    s6[2] = 0x0d;
    s6[3] = 0xb8;
    let mut d6 = s6;
    s6[15] = flow.host;
    d6[15] = 200;
    macro_rules! ip_udp {
        ($b:expr) => {
            if flow.v6 {
                $b.ipv6(s6, d6, 64)
                    .udp(flow.src_port, flow.dst_port)
                    .write(&mut out, payload)
                    .unwrap()
            } else {
                $b.ipv4(s4, d4, 64)
                    .udp(flow.src_port, flow.dst_port)
                    .write(&mut out, payload)
                    .unwrap()
            }
        };
    }
    match link {
        Link::Ethernet => ip_udp!(PacketBuilder::ethernet2([2; 6], [4; 6])),
        Link::Vlan => ip_udp!(
            PacketBuilder::ethernet2([2; 6], [4; 6]).single_vlan(VlanId::try_new(42).unwrap())
        ),
        Link::Sll => ip_udp!(PacketBuilder::linux_sll(
            LinuxSllPacketType::HOST,
            6,
            [2; 8]
        )),
        Link::Raw | Link::Null | Link::Sll2 => {
            let mut ip = Vec::new();
            if flow.v6 {
                PacketBuilder::ipv6(s6, d6, 64)
                    .udp(flow.src_port, flow.dst_port)
                    .write(&mut ip, payload)
                    .unwrap();
            } else {
                PacketBuilder::ipv4(s4, d4, 64)
                    .udp(flow.src_port, flow.dst_port)
                    .write(&mut ip, payload)
                    .unwrap();
            }
            match link {
                Link::Null => {
                    out.extend_from_slice(&(if flow.v6 { 30u32 } else { 2 }).to_le_bytes())
                }
                Link::Sll2 => {
                    let proto: u16 = if flow.v6 { 0x86dd } else { 0x0800 };
                    out.extend_from_slice(&proto.to_be_bytes());
                    out.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 1, 0, 6]);
                    out.extend_from_slice(&[2; 8]);
                }
                _ => {}
            }
            out.extend_from_slice(&ip);
        }
    }
    out
}

/// Writes frames as a classic pcap file, 20 ms apart.
pub fn write_pcap(path: &Path, link: DataLink, frames: &[Vec<u8>]) {
    let file = std::fs::File::create(path).unwrap();
    let header = PcapHeader {
        datalink: link,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(file, header).unwrap();
    for (i, f) in frames.iter().enumerate() {
        let ts = Duration::from_millis(1_700_000_000_000 + 20 * i as u64);
        w.write_packet(&PcapPacket::new(ts, f.len() as u32, f))
            .unwrap();
    }
}

/// PCMU packets of a stream: (seq, ts) from `first` for `n` packets of 160
/// samples, payload byte = code.
pub fn pcmu_stream(ssrc: u32, n: u16, code: u8) -> Vec<Vec<u8>> {
    (0..n)
        .map(|k| rtp(0, 1000 + k, 50_000 + 160 * k as u32, ssrc, &[code; 160]))
        .collect()
}

/// Frames for the given RTP packets on `link`/`flow`.
pub fn frames(link: Link, flow: Flow, pkts: &[Vec<u8>]) -> Vec<Vec<u8>> {
    pkts.iter().map(|p| frame(link, flow, p)).collect()
}
