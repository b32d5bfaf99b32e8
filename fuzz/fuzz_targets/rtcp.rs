//! RTCP report reading never panics, and a report read from any bytes
//! writes back to bytes that read the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringwire_media::rtcp::{read_reports, write_report, SenderInfo};

fuzz_target!(|data: &[u8]| {
    let Ok(r) = read_reports(data) else {
        return;
    };
    let Some(sender) = r.sender else {
        return;
    };
    let info = r.ntp.map(|ntp| SenderInfo {
        ntp,
        ..SenderInfo::default()
    });
    let mut out = Vec::new();
    let blocks: Vec<_> = r.block.into_iter().collect();
    write_report(&mut out, sender, info, &blocks);
    assert_eq!(read_reports(&out), Ok(r));
});
