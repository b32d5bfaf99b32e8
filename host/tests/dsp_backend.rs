//! `--dsp-backend`: the FPGA block simulated in Verilator (`fpga-sim`)
//! gives exactly the software engine's output, through the real binary
//! (`ringwire analyze --format json`) and through the live taps of
//! `ringwire serve`.
//!
//! The equivalence tests need the binary built with the feature:
//! `cargo test -p ringwire-host --features fpga-sim --test dsp_backend`
//! (scripts/test.sh runs it). Without the feature, this file checks that
//! asking for `fpga-sim` is a clear error.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ringwire(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringwire"))
        .args(args)
        .output()
        .expect("run ringwire")
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ringwire-dsp-backend-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[cfg(not(feature = "fpga-sim"))]
mod without_feature {
    use super::*;

    const MESSAGE: &str = "this ringwire was built without the fpga-sim feature; \
                           rebuild with --features fpga-sim (needs Verilator)";

    #[test]
    fn analyze_fpga_sim_is_a_clear_error() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let demo = root.join("samples/demo.pcap");
        let demo = demo.to_str().unwrap();
        let out = ringwire(&["analyze", "--dsp-backend", "fpga-sim", demo]);
        assert!(!out.status.success());
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(MESSAGE), "{err}");
        // the default and the explicit software backend still work
        let a = ringwire(&["analyze", "--format", "json", demo]);
        let b = ringwire(&[
            "analyze",
            "--format",
            "json",
            "--dsp-backend",
            "software",
            demo,
        ]);
        assert!(a.status.success() && !a.stdout.is_empty());
        assert_eq!(a.stdout, b.stdout);
    }

    #[test]
    fn serve_fpga_sim_is_a_clear_error() {
        let out = ringwire(&["serve", "--dsp-backend", "fpga-sim", "--ng", "127.0.0.1:0"]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(MESSAGE), "{err}");
        let config = scratch().join("fpga.toml");
        std::fs::write(
            &config,
            "[detectors]\ndsp_backend = \"fpga-sim\"\n[control]\nng = \"127.0.0.1:0\"\n",
        )
        .unwrap();
        let out = ringwire(&["serve", "--config", config.to_str().unwrap()]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(MESSAGE), "{err}");
    }

    #[test]
    fn live_control_refuses_fpga_sim() {
        use ringwire_host::analyze::{BackendError, DspBackend};
        use ringwire_host::live::LiveControl;
        let (tx, _rx) = std::sync::mpsc::sync_channel(8);
        let Err(e) = LiveControl::with_backend(2, tx, DspBackend::FpgaSim) else {
            panic!("fpga-sim taps without the feature");
        };
        assert_eq!(e, BackendError::NotBuilt);
        assert_eq!(e.to_string(), MESSAGE);
    }
}

#[cfg(feature = "fpga-sim")]
mod with_feature {
    use super::*;
    use ringwire_dsp::g711::Law;
    use ringwire_dsp::signal::{to_i16, DtmfTone, WhiteNoise};
    use ringwire_host::analyze::DspBackend;
    use ringwire_host::live::{DetectorSet, LiveControl, LiveEvent, TapControl};
    use ringwire_media::relay::{CallId, DetectorTap, LegId, TapPacket};
    use std::time::Duration;

    const DIGITS: &str = "123A456B789C*0#D";

    /// `ringwire analyze --format json --detect dtmf,amd,beep` on `inputs`
    /// with both backends: the outputs, byte for byte, must be the same.
    /// Returns the (common) output.
    fn same_output(inputs: &[&Path]) -> String {
        let run = |backend: &str| {
            let mut args = vec![
                "analyze",
                "--format",
                "json",
                "--detect",
                "dtmf,amd,beep",
                "--dsp-backend",
                backend,
            ];
            args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
            let out = ringwire(&args);
            assert!(
                out.status.success(),
                "ringwire {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        };
        let software = run("software");
        let fpga = run("fpga-sim");
        assert!(!software.is_empty(), "no output for {inputs:?}");
        if software != fpga {
            for (i, (a, b)) in software.lines().zip(fpga.lines()).enumerate() {
                assert_eq!(a, b, "line {} differs", i + 1);
            }
            panic!(
                "outputs differ in length: {} vs {} lines",
                software.lines().count(),
                fpga.lines().count()
            );
        }
        software
    }

    fn write_wav(path: &Path, channels: &[Vec<i16>]) {
        let spec = hound::WavSpec {
            channels: channels.len() as u16,
            sample_rate: 8000,
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

    /// All 16 digits, 60 ms on / 60 ms off after 200 ms, at `dbm0`, with
    /// white noise of `noise_rms` (0: none).
    fn digits(dbm0: f64, noise_rms: f64, seed: u64) -> Vec<i16> {
        let step = 960;
        let mut s = vec![0.0; 1600 + DIGITS.len() * step + 1600];
        for (i, d) in DIGITS.chars().enumerate() {
            let start = 1600 + i * step;
            DtmfTone::new(d, dbm0).add_to(&mut s[start..start + 480], 0.3 * i as f64);
        }
        if noise_rms > 0.0 {
            WhiteNoise::new(noise_rms, seed).add_to(&mut s);
        }
        to_i16(&s)
    }

    fn inband_digits(json: &str, file: &Path, stream: &str) -> String {
        json.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| {
                v["file"] == file.to_str().unwrap() && v["stream"] == stream && v["type"] == "dtmf"
            })
            .map(|v| v["digit"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn demo_capture_prints_the_same_json() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let out = same_output(&[&root.join("samples/demo.pcap")]);
        assert!(out.contains("\"type\":\"dtmf\""), "{out}");
    }

    #[test]
    fn all_sixteen_digits_print_the_same_json() {
        let dir = scratch();
        let mono = dir.join("digits.wav");
        write_wav(&mono, &[digits(-10.0, 0.0, 0)]);
        // three streams in one file: loud, quiet with noise, silence
        let multi = dir.join("digits-3ch.wav");
        write_wav(
            &multi,
            &[
                digits(-3.0, 0.0, 0),
                digits(-24.0, 150.0, 7),
                vec![0; digits(-3.0, 0.0, 0).len()],
            ],
        );
        let out = same_output(&[&mono, &multi]);
        assert_eq!(inband_digits(&out, &mono, "0"), DIGITS, "{out}");
        assert_eq!(inband_digits(&out, &multi, "0"), DIGITS, "{out}");
        assert_eq!(inband_digits(&out, &multi, "1"), DIGITS, "{out}");
        assert_eq!(inband_digits(&out, &multi, "2"), "", "{out}");
    }

    fn have_espeak() -> bool {
        Command::new("espeak-ng")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    #[test]
    fn amd_corpus_cases_print_the_same_json() {
        if !have_espeak() {
            eprintln!("espeak-ng not installed (scripts/ensure-deps.sh espeak-ng): skipped");
            return;
        }
        let dir = scratch().join("corpus");
        let _ = std::fs::remove_dir_all(&dir);
        let out = ringwire(&[
            "corpus",
            "--out",
            dir.to_str().unwrap(),
            "--split",
            "tune",
            "--cases",
            "6",
            "--seed",
            "3",
        ]);
        assert!(
            out.status.success(),
            "corpus: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut wavs: Vec<PathBuf> = std::fs::read_dir(dir.join("wav"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        wavs.sort();
        assert_eq!(wavs.len(), 6);
        let refs: Vec<&Path> = wavs.iter().map(PathBuf::as_path).collect();
        let out = same_output(&refs);
        // one AMD verdict per case
        assert_eq!(out.matches("\"type\":\"amd\"").count(), 6, "{out}");
    }

    /// A held-out AMD corpus (the split and seed `amd_eval.rs` evaluates,
    /// 24 cases: humans, machines with and without beeps, distractors),
    /// all its WAVs in one `analyze` run per backend: byte-identical JSON
    /// for DTMF, AMD and beep detection.
    #[test]
    fn amd_heldout_corpus_prints_the_same_json() {
        if !have_espeak() {
            eprintln!("espeak-ng not installed (scripts/ensure-deps.sh espeak-ng): skipped");
            return;
        }
        const CASES: usize = 24;
        let dir = scratch().join("heldout");
        let _ = std::fs::remove_dir_all(&dir);
        let cases = CASES.to_string();
        let out = ringwire(&[
            "corpus",
            "--out",
            dir.to_str().unwrap(),
            "--split",
            "heldout",
            "--cases",
            &cases,
            "--seed",
            "7",
        ]);
        assert!(
            out.status.success(),
            "corpus: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut wavs: Vec<PathBuf> = std::fs::read_dir(dir.join("wav"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "wav"))
            .collect();
        wavs.sort();
        assert_eq!(wavs.len(), CASES);
        let refs: Vec<&Path> = wavs.iter().map(PathBuf::as_path).collect();
        let out = same_output(&refs);
        // one AMD verdict per case, and the corpus's beeps are found
        assert_eq!(out.matches("\"type\":\"amd\"").count(), CASES, "{out}");
        assert!(out.contains("\"type\":\"beep\""), "{out}");
    }

    /// Two legs interleaved packet by packet through one worker's live
    /// tap: the same events on both backends.
    fn live_events(backend: DspBackend) -> Vec<LiveEvent> {
        let (etx, erx) = std::sync::mpsc::sync_channel(4096);
        let (ctl, mut taps) = LiveControl::with_backend(1, etx, backend).unwrap();
        let mut tap = taps.remove(0);
        let legs = [LegId(1), LegId(2)];
        for leg in legs {
            ctl.send(
                0,
                TapControl::Leg {
                    call: CallId(1),
                    leg,
                    detectors: DetectorSet {
                        dtmf: true,
                        amd: true,
                        beep: true,
                    },
                    telephone_event: Some(101),
                },
            );
        }
        let audio = [digits(-8.0, 0.0, 0), digits(-20.0, 100.0, 5)];
        let mut payload = [0u8; 160];
        for (i, _) in audio[0].chunks(160).enumerate() {
            for (k, leg) in legs.iter().enumerate() {
                let chunk = &audio[k][i * 160..(i * 160 + 160).min(audio[k].len())];
                let law = if k == 0 { Law::Ulaw } else { Law::Alaw };
                let n = law.encode(chunk, &mut payload);
                tap.on_rtp(&TapPacket {
                    call: CallId(1),
                    leg: *leg,
                    now: Duration::ZERO,
                    payload_type: if k == 0 { 0 } else { 8 },
                    marker: false,
                    sequence: i as u16,
                    timestamp: 5000 + 160 * i as u32,
                    ssrc: 9 + k as u32,
                    payload: &payload[..n],
                });
            }
        }
        ctl.send(0, TapControl::Forget { call: CallId(1) });
        tap.drain_control();
        drop(tap);
        let mut events: Vec<LiveEvent> = erx.try_iter().collect();
        for e in &mut events {
            e.wall_ms = 0;
        }
        // per leg, in the order found (a call's legs end in hash order)
        events.sort_by_key(|e| e.leg);
        events
    }

    #[test]
    fn live_tap_finds_the_same_events() {
        let software = live_events(DspBackend::Software);
        let fpga = live_events(DspBackend::FpgaSim);
        let dtmf = software.iter().filter(|e| e.kind() == "dtmf").count();
        assert_eq!(dtmf, 2 * DIGITS.len(), "{software:?}");
        assert_eq!(software, fpga);
    }
}
