//! Writes the demo capture `samples/demo.pcap` (or the path given): one PCMU
//! call leg, 20 ms packets, 4 s, IPv4/UDP on Ethernet from 192.0.2.10:40000
//! to 192.0.2.20:50000 (documentation addresses; nothing is sent).
//!
//! Content: low noise; in-band DTMF "1", "2", "3" from 500 ms (70 ms on,
//! 70 ms off, each tone at -10 dBm0); then RFC 4733 digits "4", "5", "#"
//! (PT 101, same SSRC, 100 ms each, 3 end packets) starting at 1500, 1800
//! and 2100 ms while the audio packets carry low noise.
//!
//! Run with `scripts/make-demo-capture.sh`.

use std::f64::consts::PI;
use std::time::Duration;

use etherparse::PacketBuilder;
use pcap_file::pcap::{PcapPacket, PcapWriter};
use ringwire_dsp::g711::Law;
use ringwire_media::rfc4733::TelephoneEvent;
use ringwire_media::rtp::RtpBuilder;

const RATE: f64 = 8000.0;
const SAMPLES_PER_PACKET: usize = 160;
const PACKETS: usize = 200; // 4 s
/// 0 dBm0 is a sine with peak 22706 in 16-bit linear (G.711).
const PEAK_0DBM0: f64 = 22706.0;
const SSRC: u32 = 0x5eed_0001;
const PT_PCMU: u8 = 0;
const PT_EVENT: u8 = 101;
const FIRST_SEQ: u16 = 0xfff0; // wraps during the call
const FIRST_TS: u32 = 0x1000_0000;
/// Start of the first in-band digit, and RFC 4733 digit starts, in ms.
const INBAND_START_MS: usize = 500;
const EVENTS: [(u8, usize); 3] = [(4, 1500), (5, 1800), (11, 2100)];
const EVENT_MS: usize = 100;

/// The DTMF frequency pair of a digit.
fn dtmf_pair(digit: char) -> (f64, f64) {
    const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
    const COLS: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    let keys = ["123A", "456B", "789C", "*0#D"];
    for (r, row) in keys.iter().enumerate() {
        if let Some(c) = row.find(digit) {
            return (ROWS[r], COLS[c]);
        }
    }
    panic!("not a DTMF digit: {digit}");
}

/// The whole 4 s of audio: low noise plus the in-band digits.
fn audio() -> Vec<i16> {
    let n = PACKETS * SAMPLES_PER_PACKET;
    let mut seed = 0x1234_5678u32;
    let mut out: Vec<f64> = (0..n)
        .map(|_| {
            // Low noise: uniform in about +-16 (around -66 dBm0).
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((seed >> 16) as f64 / 65536.0 - 0.5) * 32.0
        })
        .collect();
    let amp = PEAK_0DBM0 * 10f64.powf(-10.0 / 20.0); // -10 dBm0 per tone
    let on = 70 * 8;
    let off = 70 * 8;
    for (k, digit) in "123".chars().enumerate() {
        let (f1, f2) = dtmf_pair(digit);
        let start = INBAND_START_MS * 8 + k * (on + off);
        for i in 0..on {
            let t = i as f64 / RATE;
            out[start + i] += amp * ((2.0 * PI * f1 * t).sin() + (2.0 * PI * f2 * t).sin());
        }
    }
    out.iter()
        .map(|&x| x.round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "samples/demo.pcap".into());
    let audio = audio();
    let mut writer = PcapWriter::new(std::fs::File::create(&path)?)?;
    let mut seq = FIRST_SEQ;
    let mut frames = 0;
    let mut write = |tick: usize,
                     marker: bool,
                     pt: u8,
                     ts: u32,
                     payload: &[u8],
                     seq: &mut u16|
     -> Result<(), Box<dyn std::error::Error>> {
        let rtp = RtpBuilder {
            marker,
            payload_type: pt,
            sequence: *seq,
            timestamp: ts,
            ssrc: SSRC,
            ..Default::default()
        };
        let mut packet = vec![0u8; rtp.packet_len(payload.len())];
        rtp.write(payload, &mut packet)?;
        *seq = seq.wrapping_add(1);
        let mut frame = Vec::new();
        PacketBuilder::ethernet2([0x02, 0, 0, 0, 0, 0x10], [0x02, 0, 0, 0, 0, 0x20])
            .ipv4([192, 0, 2, 10], [192, 0, 2, 20], 64)
            .udp(40000, 50000)
            .write(&mut frame, &packet)?;
        // 2024-01-01T00:00:00Z plus 20 ms per tick.
        let when = Duration::from_secs(1_704_067_200) + Duration::from_millis(20 * tick as u64);
        writer.write_packet(&PcapPacket::new(when, frame.len() as u32, &frame))?;
        frames += 1;
        Ok(())
    };
    for tick in 0..PACKETS {
        let ts = FIRST_TS.wrapping_add((tick * SAMPLES_PER_PACKET) as u32);
        let mut payload = [0u8; SAMPLES_PER_PACKET];
        Law::Ulaw.encode(
            &audio[tick * SAMPLES_PER_PACKET..][..SAMPLES_PER_PACKET],
            &mut payload,
        );
        write(tick, tick == 0, PT_PCMU, ts, &payload, &mut seq)?;
        let now_ms = tick * 20;
        for &(code, start_ms) in &EVENTS {
            if now_ms < start_ms || now_ms >= start_ms + EVENT_MS {
                continue;
            }
            let event_ts = FIRST_TS.wrapping_add((start_ms * 8) as u32);
            let elapsed = (now_ms - start_ms + 20) * 8;
            let end = now_ms + 20 >= start_ms + EVENT_MS;
            let mut block = [0u8; 4];
            TelephoneEvent {
                event: code,
                end,
                volume: 10,
                duration: elapsed as u16,
            }
            .write(&mut block);
            let copies = if end { 3 } else { 1 };
            for _ in 0..copies {
                write(
                    tick,
                    now_ms == start_ms,
                    PT_EVENT,
                    event_ts,
                    &block,
                    &mut seq,
                )?;
            }
        }
    }
    println!("wrote {path}: {frames} frames");
    Ok(())
}
