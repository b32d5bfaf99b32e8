//! Capture bytes through libpcap and the scanner (the read_input path).
//! The first byte picks whether the bytes are a whole file, or frames of a
//! chosen link type fed straight to the scanner (faster, deeper).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringwire_media::capture::{link::linktype, read_capture_bytes, Scanner};

const LINKS: [i32; 7] = [
    linktype::ETHERNET,
    linktype::LINUX_SLL,
    linktype::LINUX_SLL2,
    linktype::RAW,
    linktype::NULL,
    linktype::IPV4,
    linktype::IPV6,
];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let _ = read_capture_bytes(rest);
    } else {
        let link = LINKS[(mode as usize >> 1) % LINKS.len()];
        let mut s = Scanner::new();
        // Frames: 2-byte big-endian length, then the frame.
        let mut rest = rest;
        while rest.len() >= 2 {
            let n = (u16::from_be_bytes([rest[0], rest[1]]) as usize).min(rest.len() - 2);
            s.push_frame(link, &rest[2..2 + n]);
            rest = &rest[2 + n..];
        }
        let _ = s.finish();
    }
});
