//! End to end: live detectors in the real `ringwire serve` binary. Two
//! loopback endpoints exchange paced PCMU RTP through the node: the caller
//! sends in-band DTMF "1", "5", "#" and an RFC 4733 "9", the callee a short
//! greeting then silence (AMD asked for by an NG flag); the digits and a
//! verdict come back in the NG `query` reply, in the log and in /metrics;
//! and a SIGHUP retunes the detectors of the calls set up after it.

mod common;
use common::*;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use ringwire_dsp::g711::Law;
use ringwire_dsp::signal::{add_speech_like as speech, to_i16, DtmfTone, WhiteNoise};
use ringwire_host::ng::bencode::{decode, Dict, Value};

/// One RTP packet: PT, marker, sequence, timestamp, SSRC, payload.
fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn ulaw(signal: &[f64], noise_seed: u64) -> Vec<u8> {
    let mut s = signal.to_vec();
    WhiteNoise::new(30.0, noise_seed).add_to(&mut s);
    let pcm = to_i16(&s);
    let mut out = vec![0u8; pcm.len()];
    let n = Law::Ulaw.encode(&pcm, &mut out);
    out.truncate(n);
    out
}

/// A packet to send at a time offset (ms) from the start.
struct Timed {
    at_ms: u64,
    data: Vec<u8>,
}

/// The caller: in-band "1", "5", "#" (100 ms tones, 200 ms gaps), then an
/// RFC 4733 "9" (PT 101, 120 ms, three end packets) in a hole of the audio,
/// then silence.
fn caller_stream(ssrc: u32) -> Vec<Timed> {
    let mut audio = vec![0.0f64; 0];
    for d in ['1', '5', '#'] {
        let start = audio.len();
        audio.extend(std::iter::repeat_n(0.0, 800 + 1600));
        DtmfTone::new(d, -10.0).add_to(&mut audio[start..start + 800], 0.0);
    }
    let payload = ulaw(&audio, 1);
    let mut out = Vec::new();
    let (mut seq, base_ts) = (1u16, 48_000u32);
    let mut ms = 0u64;
    for (i, chunk) in payload.chunks(160).enumerate() {
        let ts = base_ts + 160 * i as u32;
        out.push(Timed {
            at_ms: ms,
            data: rtp(0, i == 0, seq, ts, ssrc, chunk),
        });
        seq += 1;
        ms += 20;
    }
    // RFC 4733 '9' at media time 1000 ms (audio ended at 900 ms).
    let ev_ts = base_ts + 8000;
    ms = 1000;
    for (k, (dur, end)) in [
        (160u16, false),
        (480, false),
        (960, true),
        (960, true),
        (960, true),
    ]
    .into_iter()
    .enumerate()
    {
        let vol_end = 10u8 | if end { 0x80 } else { 0 };
        let body = [9u8, vol_end, (dur >> 8) as u8, dur as u8];
        out.push(Timed {
            at_ms: ms,
            data: rtp(101, k == 0, seq, ev_ts, ssrc, &body),
        });
        seq += 1;
        ms += 20;
    }
    // Silence again after the event (the hole is filled by the node).
    let silence = ulaw(&vec![0.0; 160 * 25], 2);
    for (i, chunk) in silence.chunks(160).enumerate() {
        let ts = base_ts + 8000 + 960 + 160 * i as u32;
        out.push(Timed {
            at_ms: ms,
            data: rtp(0, false, seq, ts, ssrc, chunk),
        });
        seq += 1;
        ms += 20;
    }
    out
}

/// The callee: 700 ms of silence, a 500 ms "hello", 2.3 s of silence.
fn callee_stream(ssrc: u32) -> Vec<Timed> {
    let mut audio = vec![0.0f64; 700 * 8];
    speech(&mut audio, 500, 6000.0);
    audio.extend(std::iter::repeat_n(0.0, 2300 * 8));
    let payload = ulaw(&audio, 3);
    payload
        .chunks(160)
        .enumerate()
        .map(|(i, chunk)| Timed {
            at_ms: 20 * i as u64,
            data: rtp(0, i == 0, 7 + i as u16, 1234 + 160 * i as u32, ssrc, chunk),
        })
        .collect()
}

/// A decoded `events` entry of a query reply: (type, tag, fields as text).
fn events(reply: &[u8]) -> Vec<std::collections::HashMap<String, String>> {
    let Ok(Value::Dict(d)) = decode(reply) else {
        return Vec::new();
    };
    let Some(list) = d.get(b"events").and_then(|v| v.as_list()) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|e| e.as_dict())
        .map(|e| {
            let mut m = std::collections::HashMap::new();
            for key in [
                "type",
                "tag",
                "leg",
                "media time",
                "wall time",
                "digit",
                "source",
                "verdict",
                "cause",
            ] {
                if let Some(v) = e.get(key.as_bytes()) {
                    let s = match (v.as_bytes(), v.as_int()) {
                        (Some(b), _) => String::from_utf8_lossy(b).into_owned(),
                        (_, Some(i)) => i.to_string(),
                        _ => continue,
                    };
                    m.insert(key.to_string(), s);
                }
            }
            m
        })
        .collect()
}

#[test]
fn dtmf_inband_and_rfc4733_and_amd_verdict_from_live_legs() {
    let ng_port = free_udp_port();
    let metrics_port = free_tcp_port();
    let base = 52000 + (std::process::id() % 400) as u16 * 20;
    // a dialer's socket, to which each event is pushed as it is found
    let dialer = UdpSocket::bind("127.0.0.1:0").unwrap();
    dialer
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let config = format!(
        "[control]\nng = \"127.0.0.1:{ng_port}\"\n\
         [metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n\
         [media]\nport_min = {base}\nport_max = {}\n\
         [workers]\nthreads = 2\n\
         [detectors]\ndtmf = true\namd = false\nbeep = false\n\
         event_dest = [\"{}\"]\n",
        base + 19,
        dialer.local_addr().unwrap()
    );
    let node = spawn(&config, "detect");
    let ng_addr: SocketAddr = format!("127.0.0.1:{ng_port}").parse().unwrap();
    let metrics_addr: SocketAddr = format!("127.0.0.1:{metrics_port}").parse().unwrap();

    let mut ng = Ng::new(ng_addr);
    wait_for_pong(&mut ng, &node);

    let (a, a_rtcp, b, b_rtcp) = (endpoint(), endpoint(), endpoint(), endpoint());
    let port = |s: &UdpSocket| s.local_addr().unwrap().port();
    let call_id = format!("detect-{}", std::process::id());
    let sdp_a = sdp(port(&a), port(&a_rtcp), 1);
    let sdp_b = sdp(port(&b), port(&b_rtcp), 2);
    let mut offer = Dict::new();
    offer
        .insert("command", "offer")
        .insert("call-id", call_id.as_str())
        .insert("from-tag", "caller")
        .insert("sdp", sdp_a.as_str())
        .insert("flags", Value::List(vec![Value::from("detect-amd")]));
    let r = ng.request(&offer);
    assert_eq!(result(&r), "ok", "{}", String::from_utf8_lossy(&r));
    let to_b = sdp_target(field(&r, "sdp").unwrap());
    let mut answer = Dict::new();
    answer
        .insert("command", "answer")
        .insert("call-id", call_id.as_str())
        .insert("from-tag", "caller")
        .insert("to-tag", "callee")
        .insert("sdp", sdp_b.as_str());
    let r = ng.request(&answer);
    assert_eq!(result(&r), "ok", "{}", String::from_utf8_lossy(&r));
    let to_a = sdp_target(field(&r, "sdp").unwrap());

    // Both streams, paced at 20 ms a packet (about 3.5 s in all).
    let mut sends: Vec<(u64, bool, Vec<u8>)> = caller_stream(0xCA11)
        .into_iter()
        .map(|t| (t.at_ms, true, t.data))
        .chain(
            callee_stream(0xCA1E)
                .into_iter()
                .map(|t| (t.at_ms, false, t.data)),
        )
        .collect();
    sends.sort_by_key(|s| s.0);
    b.set_nonblocking(true).unwrap();
    a.set_nonblocking(true).unwrap();
    let t0 = Instant::now();
    let mut sink = [0u8; 2048];
    for (at, from_a, data) in &sends {
        let due = t0 + Duration::from_millis(*at);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        if *from_a {
            a.send_to(data, to_a).unwrap();
        } else {
            b.send_to(data, to_b).unwrap();
        }
        // Keep the endpoints' receive buffers drained.
        while a.recv_from(&mut sink).is_ok() {}
        while b.recv_from(&mut sink).is_ok() {}
    }

    // Poll `query` until the digits and the verdict are in (bounded).
    let mut query = Dict::new();
    query
        .insert("command", "query")
        .insert("call-id", call_id.as_str());
    let deadline = Instant::now() + Duration::from_secs(5);
    let got = loop {
        let r = ng.request(&query);
        assert_eq!(result(&r), "ok", "{}", String::from_utf8_lossy(&r));
        let ev = events(&r);
        let digits = ev.iter().filter(|e| e["type"] == "dtmf").count();
        let amd = ev
            .iter()
            .any(|e| e["type"] == "amd" && e["tag"] == "callee");
        if digits >= 4 && amd {
            break ev;
        }
        assert!(
            Instant::now() < deadline,
            "events so far: {ev:?}\nlog:\n{}",
            node.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };

    let digits: Vec<(String, String, String)> = got
        .iter()
        .filter(|e| e["type"] == "dtmf")
        .map(|e| (e["digit"].clone(), e["source"].clone(), e["tag"].clone()))
        .collect();
    let caller = |d: &str, s: &str| (d.to_string(), s.to_string(), "caller".to_string());
    assert_eq!(
        digits,
        vec![
            caller("1", "inband"),
            caller("5", "inband"),
            caller("#", "inband"),
            caller("9", "rfc4733"),
        ],
        "{got:?}"
    );
    let media: Vec<u64> = got
        .iter()
        .filter(|e| e["type"] == "dtmf")
        .map(|e| e["media time"].parse().unwrap())
        .collect();
    // Tones at 0, 300, 600 ms; the RFC 4733 event at 1000 ms.
    for (m, want) in media.iter().zip([0u64, 300, 600, 1000]) {
        assert!(m.abs_diff(want) <= 40, "media times {media:?}");
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    for e in &got {
        let wall: u64 = e["wall time"].parse().unwrap();
        assert!(wall <= now_ms && now_ms - wall < 60_000, "{e:?}");
        assert!(e["leg"].parse::<u64>().unwrap() > 0);
    }
    let amd: Vec<_> = got.iter().filter(|e| e["type"] == "amd").collect();
    assert_eq!(amd.len(), 1, "one verdict, on the callee's leg: {got:?}");
    assert_eq!(amd[0]["verdict"], "human", "{got:?}");

    // The dialer got each event as it was found, in the order found, one
    // JSON datagram each with the call's identity.
    let mut pushed = Vec::new();
    let mut buf = [0u8; 2048];
    for _ in 0..5 {
        let n = dialer.recv(&mut buf).expect("a pushed event");
        let v: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
        assert_eq!(v["call_id"], call_id.as_str(), "{v}");
        pushed.push(v);
    }
    let pushed_digits: Vec<(&str, &str, &str)> = pushed
        .iter()
        .filter(|v| v["type"] == "dtmf")
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap();
            (s("digit"), s("source"), s("tag"))
        })
        .collect();
    assert_eq!(
        pushed_digits,
        [
            ("1", "inband", "caller"),
            ("5", "inband", "caller"),
            ("#", "inband", "caller"),
            ("9", "rfc4733", "caller")
        ],
        "{pushed:?}"
    );
    let verdict = pushed
        .iter()
        .find(|v| v["type"] == "amd")
        .expect("the verdict");
    assert_eq!(
        (&verdict["verdict"], &verdict["tag"]),
        (&serde_json::json!("human"), &serde_json::json!("callee"))
    );
    assert!(verdict["at_ms"].as_u64().is_some() && verdict["wall_ms"].as_u64().is_some());
    for (v, q) in pushed.iter().filter(|v| v["type"] == "dtmf").zip(&media) {
        assert_eq!(v["media_ms"].as_u64(), Some(*q), "{v}");
    }

    // Metrics count them; the log has one line per event.
    let m = scrape(metrics_addr);
    assert_eq!(
        metric(&m, "ringwire_detector_events_pushed_total{result=\"sent\"}"),
        5
    );
    assert_eq!(
        metric(&m, "ringwire_detector_events_total{type=\"dtmf\"}"),
        4
    );
    assert_eq!(
        metric(&m, "ringwire_detector_events_total{type=\"amd\"}"),
        1
    );
    assert_eq!(metric(&m, "ringwire_detector_events_dropped_total"), 0);
    let log = node.log();
    assert_eq!(
        log.lines().filter(|l| l.contains("detector event")).count(),
        5,
        "{log}"
    );
    // (the log may be coloured: look for field values, not `key=value`)
    assert!(
        log.lines()
            .any(|l| l.contains("detector event") && l.contains("\"rfc4733\"")),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("detector event") && l.contains("\"human\"")),
        "{log}"
    );
}

#[test]
fn a_reload_retunes_the_detectors_of_new_calls() {
    // AMD gives up after `amd_max_analysis_ms` of silence: 1 s as the node
    // starts, 2 s for a call set up after a SIGHUP to a file that says so
    let base = 51000 + (std::process::id() % 40) as u16 * 20;
    let tuning = |ms: u32| format!("[detectors]\namd = true\namd_max_analysis_ms = {ms}\n");
    let (node, ng_port, _) = start_node("retune", base, &tuning(1000));
    let mut ng = Ng::new(format!("127.0.0.1:{ng_port}").parse().unwrap());
    // one call: the callee's 2.5 s of silence, sent at once (the detectors
    // keep RTP time); its verdict's media time
    let verdict_at = |ng: &mut Ng, call: &str| -> String {
        let (a, b) = (endpoint(), endpoint());
        let port = |s: &UdpSocket| s.local_addr().unwrap().port();
        let (sdp_a, sdp_b) = (sdp(port(&a), 9, 1), sdp(port(&b), 9, 2));
        let mut d = Dict::new();
        d.insert("command", "offer")
            .insert("call-id", call)
            .insert("from-tag", "caller")
            .insert("sdp", sdp_a.as_str());
        assert_eq!(result(&ng.request(&d)), "ok");
        d.insert("command", "answer")
            .insert("to-tag", "callee")
            .insert("sdp", sdp_b.as_str());
        let r = ng.request(&d);
        assert_eq!(result(&r), "ok");
        let to_b = sdp_target(field(&r, "sdp").unwrap());
        let silence = [0xFFu8; 160];
        for i in 0..125u16 {
            b.send_to(&rtp(0, i == 0, i, 160 * u32::from(i), 0xB, &silence), to_b)
                .unwrap();
            if i % 25 == 24 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let mut query = Dict::new();
        query.insert("command", "query").insert("call-id", call);
        let t = Instant::now();
        loop {
            let ev = events(&ng.request(&query));
            if let Some(e) = ev.iter().find(|e| e["type"] == "amd") {
                assert_eq!(e["verdict"], "unknown", "{ev:?}");
                return e["media time"].clone();
            }
            assert!(t.elapsed() < WAIT, "no verdict: {ev:?}\n{}", node.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    assert_eq!(verdict_at(&mut ng, "before"), "1000");
    std::fs::write(temp_path("retune.toml"), {
        let file = std::fs::read_to_string(temp_path("retune.toml")).unwrap();
        file.replace(&tuning(1000), &tuning(2000))
    })
    .unwrap();
    node.signal(libc::SIGHUP);
    node.wait_for_log("detectors.amd_max_analysis_ms", 0);
    assert_eq!(verdict_at(&mut ng, "after"), "2000");
}
