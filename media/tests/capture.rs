//! Capture input through `read_input`: real sip-tester captures and synthetic
//! ones covering link types, IPv6, reordering, loss and bad files.

mod common;

use std::path::Path;

use common::*;
use ringwire_dsp::g711::Law;
use ringwire_media::capture::read_capture_file;
use ringwire_media::{read_input, InputError, MediaStream};

const SIPP: &str = "/usr/share/sip-tester";

fn sipp(name: &str) -> Option<std::path::PathBuf> {
    let p = Path::new(SIPP).join(name);
    if p.exists() {
        Some(p)
    } else {
        println!("skipping: {} not installed", p.display());
        None
    }
}

fn one_stream(dir: &tempfile::TempDir, link: Link, flow: Flow, pkts: &[Vec<u8>]) -> MediaStream {
    let path = dir.path().join("t.pcap");
    write_pcap(&path, link.datalink(), &frames(link, flow, pkts));
    let mut s = read_input(&path).unwrap();
    assert_eq!(s.len(), 1, "{link:?}: {s:?}");
    s.pop().unwrap()
}

#[test]
fn sip_tester_rfc4733_captures_yield_their_digit() {
    let names = [
        ("0", '0'),
        ("1", '1'),
        ("2", '2'),
        ("3", '3'),
        ("4", '4'),
        ("5", '5'),
        ("6", '6'),
        ("7", '7'),
        ("8", '8'),
        ("9", '9'),
        ("star", '*'),
        ("pound", '#'),
    ];
    for (name, digit) in names {
        let Some(path) = sipp(&format!("dtmf_2833_{name}.pcap")) else {
            return;
        };
        let streams = read_input(&path).unwrap();
        assert_eq!(streams.len(), 1, "{name}");
        let digits: Vec<char> = streams[0]
            .telephone_events
            .iter()
            .map(|d| d.digit)
            .collect();
        assert_eq!(digits, vec![digit], "{name}");
        let ev = streams[0].telephone_events[0];
        assert_eq!(ev.start_ms, 0, "{name}");
        assert!(ev.end_ms > 0, "{name}");
        assert!(streams[0].samples.is_empty());
        assert_eq!(streams[0].stats.malformed, 0);
    }
}

#[test]
fn sip_tester_g711a_decodes_cleanly() {
    let Some(path) = sipp("g711a.pcap") else {
        return;
    };
    let streams = read_input(&path).unwrap();
    assert_eq!(streams.len(), 1);
    let s = &streams[0];
    assert_eq!(s.id, "ssrc=0xdee0ee8f");
    assert_eq!(s.stats.packets, 236);
    assert_eq!(s.stats.malformed, 0);
    assert_eq!(s.stats.lost, 0);
    assert_eq!(s.stats.duplicates, 0);
    assert_eq!(s.samples.len(), 236 * 240);
    assert!(
        s.samples.iter().any(|&x| x.unsigned_abs() > 1000),
        "audio is not silent"
    );
}

#[test]
fn every_link_type_and_ipv6() {
    let dir = tempfile::tempdir().unwrap();
    let pkts = pcmu_stream(0x1234abcd, 10, 0x90);
    for link in [
        Link::Ethernet,
        Link::Vlan,
        Link::Sll,
        Link::Sll2,
        Link::Raw,
        Link::Null,
    ] {
        for v6 in [false, true] {
            let flow = Flow { v6, ..FLOW };
            let s = one_stream(&dir, link, flow, &pkts);
            assert_eq!(s.id, "ssrc=0x1234abcd");
            assert_eq!(s.samples.len(), 1600, "{link:?} v6={v6}");
            assert_eq!(s.samples[0], Law::Ulaw.decode_one(0x90));
            assert_eq!(s.stats.packets, 10);
        }
    }
}

#[test]
fn pcapng_is_read_too() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("a.pcap");
    let ng = dir.path().join("a.pcapng");
    write_pcap(
        &pcap,
        Link::Sll.datalink(),
        &frames(Link::Sll, FLOW, &pcmu_stream(7, 5, 0x80)),
    );
    let ok = std::process::Command::new("editcap")
        .args(["-F", "pcapng"])
        .arg(&pcap)
        .arg(&ng)
        .status();
    if !matches!(ok, Ok(s) if s.success()) {
        println!("skipping: editcap (tshark) not available");
        return;
    }
    let s = read_input(&ng).unwrap();
    assert_eq!(s[0].samples.len(), 800);
}

#[test]
fn reordering_duplicates_and_loss() {
    let dir = tempfile::tempdir().unwrap();
    let all: Vec<Vec<u8>> = (0..8u16)
        .map(|k| {
            rtp(
                8,
                65533u16.wrapping_add(k),
                (u32::MAX - 320).wrapping_add(160 * k as u32),
                9,
                &[k as u8 + 1; 160],
            )
        })
        .collect();
    // Arrival: 0 1 3 2 4 4 (5 lost) 6 7 0(late duplicate)
    let order = [0usize, 1, 3, 2, 4, 4, 6, 7, 0];
    let pkts: Vec<Vec<u8>> = order.iter().map(|&i| all[i].clone()).collect();
    let s = one_stream(&dir, Link::Ethernet, FLOW, &pkts);
    assert_eq!(s.stats.packets, 9);
    assert_eq!(s.stats.duplicates, 2);
    assert_eq!(s.stats.out_of_order, 1);
    assert_eq!(s.stats.lost, 1);
    assert_eq!(s.samples.len(), 8 * 160);
    for k in 0..8 {
        let block = &s.samples[k * 160..(k + 1) * 160];
        let want = if k == 5 {
            0
        } else {
            Law::Alaw.decode_one(k as u8 + 1)
        };
        assert!(block.iter().all(|&x| x == want), "block {k}");
    }
}

#[test]
fn lost_packets_become_silence_of_the_right_length() {
    let dir = tempfile::tempdir().unwrap();
    let mut pkts = pcmu_stream(3, 10, 0x85);
    pkts.drain(3..6); // 3 lost packets = 480 samples of silence
    let s = one_stream(&dir, Link::Raw, FLOW, &pkts);
    assert_eq!(s.stats.lost, 3);
    assert_eq!(s.samples.len(), 1600);
    assert!(s.samples[480..960].iter().all(|&x| x == 0));
    assert!(s.samples[..480].iter().all(|&x| x != 0));
    assert!(s.samples[960..].iter().all(|&x| x != 0));
}

#[test]
fn two_ssrcs_on_one_port_pair_and_one_ssrc_on_two_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let a = pcmu_stream(0xaaaa, 5, 0x90);
    let b = pcmu_stream(0xbbbb, 4, 0x91);
    let mut f = Vec::new();
    f.push(frame(Link::Ethernet, FLOW, &b[0]));
    for (i, p) in a.iter().enumerate() {
        f.push(frame(Link::Ethernet, FLOW, p));
        if let Some(q) = b.get(i + 1) {
            f.push(frame(Link::Ethernet, FLOW, q));
        }
    }
    let other = Flow { host: 2, ..FLOW };
    f.extend(frames(Link::Ethernet, other, &pcmu_stream(0xaaaa, 3, 0x92)));
    let path = dir.path().join("t.pcap");
    write_pcap(&path, Link::Ethernet.datalink(), &f);
    let s = read_input(&path).unwrap();
    let ids: Vec<&str> = s.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "ssrc=0x0000bbbb",
            "ssrc=0x0000aaaa src=10.0.0.1:5000 dst=10.0.0.200:6000",
            "ssrc=0x0000aaaa src=10.0.0.2:5000 dst=10.0.0.200:6000",
        ]
    );
    assert_eq!(s[0].samples.len(), 640);
    assert_eq!(s[1].samples.len(), 800);
    assert_eq!(s[2].samples.len(), 480);
    // Stable across runs.
    assert_eq!(read_input(&path).unwrap(), s);
}

#[test]
fn non_rtp_udp_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let sip = b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP x\r\n\r\n".to_vec();
    let dns = vec![
        0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'w', b'w', 0,
    ];
    // a sender report without report blocks: length 6, 28 bytes
    let mut rtcp = vec![0x80, 200, 0, 6, 0, 0, 0, 9];
    rtcp.resize(28, 0);
    let lone_rtp = rtp(0, 1, 1, 0x55, &[0xff; 160]);
    let sip_flow = Flow {
        src_port: 5060,
        dst_port: 5060,
        ..FLOW
    };
    let f = vec![
        frame(Link::Ethernet, sip_flow, &sip),
        frame(Link::Ethernet, sip_flow, &sip),
        frame(
            Link::Ethernet,
            Flow {
                dst_port: 53,
                ..FLOW
            },
            &dns,
        ),
        frame(
            Link::Ethernet,
            Flow {
                dst_port: 53,
                ..FLOW
            },
            &dns,
        ),
        frame(Link::Ethernet, FLOW, &rtcp),
        frame(Link::Ethernet, FLOW, &rtcp),
        frame(Link::Ethernet, FLOW, &lone_rtp),
    ];
    let path = dir.path().join("t.pcap");
    write_pcap(&path, Link::Ethernet.datalink(), &f);
    let e = read_input(&path).unwrap_err();
    assert!(
        matches!(
            e,
            InputError::NoRtp {
                frames: 7,
                udp: 7,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("t.pcap"));

    // Mixed with a real stream, only the stream comes out.
    let mut f2 = f.clone();
    f2.extend(frames(Link::Ethernet, FLOW, &pcmu_stream(0x77, 3, 0x90)));
    write_pcap(&path, Link::Ethernet.datalink(), &f2);
    let r = read_capture_file(&path).unwrap();
    assert_eq!(r.streams.len(), 1);
    assert_eq!(r.summary.rtcp, 2);
    assert_eq!(r.summary.single_packet_candidates, 1);
}

#[test]
fn ipv4_fragments_are_counted_and_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = frames(Link::Raw, FLOW, &pcmu_stream(1, 3, 0x90));
    let mut frag = f[0].clone();
    frag[6] = 0x20; // more fragments
    f.push(frag);
    let path = dir.path().join("t.pcap");
    write_pcap(&path, Link::Raw.datalink(), &f);
    let r = read_capture_file(&path).unwrap();
    assert_eq!(r.summary.fragments, 1);
    assert_eq!(r.streams[0].stats.packets, 3);
}

#[test]
fn unsupported_payload_type_keeps_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let pkts: Vec<Vec<u8>> = (0..4u16)
        .map(|k| rtp(9, k, 160 * k as u32, 5, &[0; 160]))
        .collect();
    let s = one_stream(&dir, Link::Ethernet, FLOW, &pkts);
    assert!(s.samples.is_empty());
    assert_eq!(s.stats.unsupported_payload_types, vec![9]);
    assert!(s
        .stats
        .notes
        .iter()
        .any(|n| n == "unsupported payload type 9"));
}

fn event(code: u8, end: bool, dur: u16) -> [u8; 4] {
    let mut b = [0u8; 4];
    b[0] = code;
    b[1] = if end { 0x80 } else { 0 } | 10;
    b[2..4].copy_from_slice(&dur.to_be_bytes());
    b
}

#[test]
fn events_in_the_audio_stream_use_its_media_time() {
    let dir = tempfile::tempdir().unwrap();
    let ssrc = 0x4733;
    let mut pkts = Vec::new();
    let mut seq = 10u16;
    // 1 s of audio, event '7' starting at 400 ms lasting 100 ms.
    for k in 0..50u32 {
        let ts = 1_000 + 160 * k;
        if (20..25).contains(&k) {
            let start = 1_000 + 160 * 20;
            let dur = (160 * (k - 19)) as u16;
            pkts.push(rtp(101, seq, start, ssrc, &event(7, false, dur)));
        } else if k == 25 {
            for _ in 0..3 {
                pkts.push(rtp(101, seq, 1_000 + 3200, ssrc, &event(7, true, 800)));
                seq = seq.wrapping_add(1);
            }
            continue;
        } else {
            pkts.push(rtp(0, seq, ts, ssrc, &[0xff; 160]));
        }
        seq = seq.wrapping_add(1);
    }
    let s = one_stream(&dir, Link::Ethernet, FLOW, &pkts);
    assert_eq!(s.telephone_events.len(), 1);
    let d = s.telephone_events[0];
    assert_eq!((d.digit, d.start_ms, d.end_ms), ('7', 400, 500));
    assert_eq!(s.samples.len(), 50 * 160);
}

#[test]
fn truncated_capture_gives_partial_result_or_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.pcap");
    write_pcap(
        &path,
        Link::Ethernet.datalink(),
        &frames(Link::Ethernet, FLOW, &pcmu_stream(1, 10, 0x90)),
    );
    let full = std::fs::read(&path).unwrap();
    // Cut in the middle of the 8th record.
    let record = (full.len() - 24) / 10;
    std::fs::write(&path, &full[..24 + 7 * record + 30]).unwrap();
    let s = read_input(&path).unwrap();
    assert_eq!(s[0].stats.packets, 7);
    assert!(
        s[0].stats.notes.iter().any(|n| n.contains("truncated")),
        "{:?}",
        s[0].stats.notes
    );
    // Cut inside the first record: nothing usable, a clear error.
    std::fs::write(&path, &full[..30]).unwrap();
    let e = read_input(&path).unwrap_err();
    assert!(matches!(e, InputError::CorruptCapture { .. }), "{e}");
    assert!(e.to_string().contains("t.pcap"));
    // Cut inside the file header.
    std::fs::write(&path, &full[..10]).unwrap();
    let e = read_input(&path).unwrap_err();
    assert!(matches!(e, InputError::CorruptCapture { .. }), "{e}");
}

#[test]
fn empty_text_and_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(read_input(&empty), Err(InputError::Empty { .. })));
    let text = dir.path().join("notes.wav");
    std::fs::write(&text, b"hello, this is not audio\n").unwrap();
    let e = read_input(&text).unwrap_err();
    assert!(matches!(e, InputError::NotAudio { .. }));
    assert!(e.to_string().contains("notes.wav"), "{e}");
    let missing = dir.path().join("missing.pcap");
    let e = read_input(&missing).unwrap_err();
    assert!(matches!(e, InputError::Open { .. }));
    assert!(e.to_string().contains("missing.pcap"));
}
