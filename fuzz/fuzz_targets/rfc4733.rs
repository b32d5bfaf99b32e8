//! Telephone-event parsing and the tracker never panic, and the tracker
//! reports at most one digit per packet pushed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringwire_media::rfc4733::{EventTracker, TelephoneEvent};

fuzz_target!(|data: &[u8]| {
    let mut t = EventTracker::new();
    let mut digits = 0usize;
    let mut pushed = 0usize;
    // Records: ts (2 bytes, scaled), seq (1 byte), event block (4 bytes).
    for rec in data.chunks(7) {
        if rec.len() < 3 {
            break;
        }
        let ts = u16::from_be_bytes([rec[0], rec[1]]) as u32 * 160;
        let seq = rec[2] as u16;
        if let Ok(ev) = TelephoneEvent::parse(&rec[3..]) {
            let _ = TelephoneEvent::iter(&rec[3..]).map(|i| i.count());
            pushed += 1;
            t.push(ts, seq, &ev);
        }
        while t.poll().is_some() {
            digits += 1;
        }
    }
    t.finish();
    while t.poll().is_some() {
        digits += 1;
    }
    assert!(digits <= pushed);
});
