//! End-to-end tests of `ringwire analyze`: the real binary on real and
//! generated inputs.
use ringwire_dsp::signal::{to_i16, DtmfTone};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SIPP: &str = "/usr/share/sip-tester";

fn ringwire(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringwire"))
        .args(args)
        .output()
        .expect("run ringwire")
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ringwire-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Writes a 16-bit WAV, one Vec per channel, at `rate`.
fn write_wav(path: &Path, rate: u32, channels: &[Vec<i16>]) {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..channels[0].len() {
        for ch in channels {
            w.write_sample(ch[i]).unwrap();
        }
    }
    w.finalize().unwrap();
}

/// 8 kHz signal with `digits` at 100 ms on / 100 ms off after 200 ms.
fn digits_signal(digits: &str) -> Vec<i16> {
    let mut s = vec![0.0; 1600 + digits.len() * 1600 + 1600];
    for (i, d) in digits.chars().enumerate() {
        let start = 1600 + i * 1600;
        DtmfTone::new(d, -12.0).add_to(&mut s[start..start + 800], 0.0);
    }
    to_i16(&s)
}

#[test]
fn sip_tester_rfc4733_captures_yield_the_digit_in_their_name() {
    if !Path::new(SIPP).exists() {
        panic!("{SIPP} is missing: apt-get install sip-tester (the README's test command does)");
    }
    for (name, digit) in [
        ("0", "0"),
        ("1", "1"),
        ("2", "2"),
        ("3", "3"),
        ("4", "4"),
        ("5", "5"),
        ("6", "6"),
        ("7", "7"),
        ("8", "8"),
        ("9", "9"),
        ("pound", "#"),
        ("star", "*"),
    ] {
        let path = format!("{SIPP}/dtmf_2833_{name}.pcap");
        let out = ringwire(&["analyze", "--format", "json", &path]);
        assert!(
            out.status.success(),
            "{path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let events = json_lines(&out);
        assert_eq!(events.len(), 1, "{path}: {events:?}");
        let e = &events[0];
        assert_eq!(e["file"], path.as_str());
        assert_eq!(e["type"], "dtmf");
        assert_eq!(e["digit"], digit);
        assert_eq!(e["source"], "rfc4733");
        assert!(e["stream"].as_str().unwrap().starts_with("ssrc=0x"));
        assert!(e["end_ms"].as_u64().unwrap() > e["start_ms"].as_u64().unwrap());
    }
}

#[test]
fn sip_tester_g711a_capture_decodes_cleanly() {
    let path = format!("{SIPP}/g711a.pcap");
    let out = ringwire(&["analyze", &path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("0 lost, 0 duplicate, 0 out of order, 0 malformed"),
        "{text}"
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn wav_channels_are_separate_streams_with_inband_digits() {
    let path = scratch("two-channels.wav");
    let a = digits_signal("147*");
    let mut b = digits_signal("2580#");
    b.resize(a.len().max(b.len()), 0);
    let mut a = a;
    a.resize(b.len(), 0);
    write_wav(&path, 8000, &[a, b]);
    let out = ringwire(&[
        "analyze",
        "--format",
        "json",
        "--detect",
        "dtmf",
        path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = json_lines(&out);
    let digits = |stream: &str| -> String {
        events
            .iter()
            .filter(|e| e["stream"] == stream)
            .map(|e| e["digit"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(digits("0"), "147*");
    assert_eq!(digits("1"), "2580#");
    for e in &events {
        assert_eq!(e["source"], "inband");
        assert_eq!(e["file"], path.to_str().unwrap());
    }
    // media time: first digit at 200 ms, 100 ms long
    let first = &events[0];
    assert!(
        (first["start_ms"].as_i64().unwrap() - 200).abs() <= 10,
        "{first}"
    );
    assert!(
        (first["end_ms"].as_i64().unwrap() - 300).abs() <= 10,
        "{first}"
    );
    // in media-time order within each stream
    for s in ["0", "1"] {
        let starts: Vec<u64> = events
            .iter()
            .filter(|e| e["stream"] == s)
            .map(|e| e["start_ms"].as_u64().unwrap())
            .collect();
        assert!(starts.windows(2).all(|w| w[0] <= w[1]));
    }
}

#[test]
fn resampled_wav_keeps_its_digits() {
    let path = scratch("48k.wav");
    // digit 9 = 852 + 1477 Hz, synthesised at 48 kHz from 200 ms to 400 ms
    let s: Vec<f64> = (0..48000)
        .map(|n| {
            let t = n as f64 / 48000.0;
            let tone = |f: f64| 7000.0 * (2.0 * std::f64::consts::PI * f * t).sin();
            if (9600..19200).contains(&n) {
                tone(852.0) + tone(1477.0)
            } else {
                0.0
            }
        })
        .collect();
    write_wav(&path, 48000, &[to_i16(&s)]);
    let out = ringwire(&["analyze", "--format", "json", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = json_lines(&out);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["digit"], "9");
    assert!((events[0]["start_ms"].as_i64().unwrap() - 200).abs() <= 15);
}

#[test]
fn bad_inputs_are_named_and_the_rest_still_analysed() {
    let text = scratch("notes.txt");
    std::fs::write(&text, "this is not audio\n").unwrap();
    let truncated = scratch("truncated.pcap");
    let good = std::fs::read(format!("{SIPP}/g711a.pcap")).unwrap();
    std::fs::write(&truncated, &good[..30]).unwrap();
    let missing = scratch("missing.pcap");
    let ok = format!("{SIPP}/dtmf_2833_7.pcap");
    let out = ringwire(&[
        "analyze",
        "--format",
        "json",
        text.to_str().unwrap(),
        &ok,
        missing.to_str().unwrap(),
        truncated.to_str().unwrap(),
    ]);
    assert!(
        !out.status.success(),
        "bad inputs must give a non-zero exit status"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    for bad in [&text, &missing, &truncated] {
        assert!(
            err.contains(bad.to_str().unwrap()),
            "stderr must name {}: {err}",
            bad.display()
        );
    }
    assert!(err.contains("3 of 4 inputs"), "{err}");
    let events = json_lines(&out);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["digit"], "7");
}

#[test]
fn unknown_detector_is_a_clear_error() {
    let out = ringwire(&["analyze", "--detect", "dtmf,telepathy", "x.wav"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown detector 'telepathy'"));
}

#[test]
fn many_inputs_print_in_the_order_given() {
    let names = ["9", "3", "star", "0", "pound", "5", "1"];
    let paths: Vec<String> = names
        .iter()
        .map(|n| format!("{SIPP}/dtmf_2833_{n}.pcap"))
        .collect();
    let mut args = vec!["analyze", "--format", "json"];
    args.extend(paths.iter().map(String::as_str));
    let out = ringwire(&args);
    assert!(out.status.success());
    let digits: String = json_lines(&out)
        .iter()
        .map(|e| e["digit"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(digits, "93*0#51");
}

#[test]
fn demo_capture_holds_inband_and_rfc4733_digits() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/demo.pcap");
    let out = ringwire(&["analyze", "--format", "json", demo.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = json_lines(&out);
    let got: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["digit"].as_str().unwrap().to_string(),
                e["source"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("1", "inband"),
        ("2", "inband"),
        ("3", "inband"),
        ("4", "rfc4733"),
        ("5", "rfc4733"),
        ("#", "rfc4733"),
    ]
    .iter()
    .map(|(d, s)| (d.to_string(), s.to_string()))
    .collect();
    assert_eq!(got, want);
}

/// `ringwire analyze --detect DETECT --format json EXTRA... WAV`, which
/// must succeed: its events.
fn analyze_json(detect: &str, extra: &[&str], wav: &str) -> Vec<Value> {
    let mut args = vec!["analyze", "--detect", detect, "--format", "json"];
    args.extend_from_slice(extra);
    args.push(wav);
    let out = ringwire(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_lines(&out)
}

#[test]
fn amd_analysis_time_bias_and_thresholds_are_flags() {
    // a greeting that goes on for 7 s: "machine" once it is too long for a
    // live person, or at the analysis time if that comes first
    let mut s = vec![0.0; 4000];
    ringwire_dsp::signal::add_speech_like(&mut s, 7000, 6000.0);
    let wav = scratch("long-greeting.wav");
    write_wav(&wav, 8000, &[to_i16(&s)]);
    let wav = wav.to_str().unwrap();
    let amd = |extra: &[&str]| {
        let ev = analyze_json("amd", extra, wav).remove(0);
        (
            ev["verdict"].as_str().unwrap().to_string(),
            ev["at_ms"].as_u64().unwrap(),
            ev["cause"].as_str().unwrap().to_string(),
        )
    };
    let (verdict, at, cause) = amd(&[]);
    assert_eq!(
        (verdict.as_str(), cause.as_str()),
        ("machine", "long-greeting")
    );
    let (verdict, short_at, cause) = amd(&["--amd-max-analysis-ms", "2000"]);
    assert_eq!(
        (verdict.as_str(), cause.as_str()),
        ("machine", "max-analysis-time")
    );
    // 2 s after the greeting's first 500 ms (whose onset the VAD may take
    // for a tone, which restarts the clock)
    assert!(
        (2000..=2600).contains(&short_at),
        "decided at {short_at} ms"
    );
    // favouring "machine" calls a long greeting a machine sooner
    let (_, eager_at, _) = amd(&["--amd-bias", "1"]);
    assert!(
        eager_at < at,
        "bias +1 decided at {eager_at} ms, bias 0 at {at} ms"
    );
    // a threshold by name: a shorter longest live greeting decides sooner,
    // by the same rule
    let (verdict, threshold_at, cause) = amd(&["--amd-threshold", "machine_greeting_ms=2000"]);
    assert_eq!(
        (verdict.as_str(), cause.as_str()),
        ("machine", "long-greeting")
    );
    assert!(
        threshold_at + 2000 < at,
        "machine_greeting_ms=2000 decided at {threshold_at} ms, the default at {at} ms"
    );
    for bad in [
        ["--amd-bias", "1.5", "--amd-bias"],
        ["--amd-max-analysis-ms", "10", "--amd-max-analysis-ms"],
        [
            "--amd-threshold",
            "machine_greeting_ms=100",
            "machine_greeting_ms",
        ],
        ["--amd-threshold", "greeting_ms=4000", "no AMD threshold"],
        ["--amd-threshold", "machine_greeting_ms", "NAME=VALUE"],
    ] {
        let out = ringwire(&["analyze", "--detect", "amd", bad[0], bad[1], wav]);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(bad[2]),
            "{bad:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn beep_thresholds_are_flags() {
    // a 2 s greeting, then a 1000 Hz beep of 400 ms
    let mut s = vec![0.0; 4000];
    ringwire_dsp::signal::add_speech_like(&mut s, 2000, 6000.0);
    s.resize(s.len() + 4800, 0.0);
    let start = s.len();
    let mut tone = ringwire_dsp::signal::Sine::new(1000.0, 8000.0, 6000.0, 0.0);
    s.extend((0..3200).map(|_| tone.next_sample()));
    s.resize(s.len() + 16000, 0.0);
    let wav = scratch("greeting-then-beep.wav");
    write_wav(&wav, 8000, &[to_i16(&s)]);
    let wav = wav.to_str().unwrap();
    let beeps = |extra: &[&str]| {
        analyze_json("amd,beep", extra, wav)
            .into_iter()
            .filter(|e| e["type"] == "beep")
            .map(|e| e["start_ms"].as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    let found = beeps(&[]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].abs_diff(start as u64 / 8) <= 40, "{found:?}");
    // a band that starts above the tone: no beep
    assert!(beeps(&["--beep-threshold", "min_freq_hz=1200"]).is_empty());
    for bad in [
        ["holdoff_ms=600.5", "holdoff_ms"],
        ["min_freq_hz=3000", "max_freq_hz"],
        ["min_freq=300", "no beep threshold"],
        ["min_freq_hz", "NAME=VALUE"],
    ] {
        let out = ringwire(&[
            "analyze",
            "--detect",
            "beep",
            "--beep-threshold",
            bad[0],
            wav,
        ]);
        assert!(!out.status.success(), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(bad[1]),
            "{bad:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
