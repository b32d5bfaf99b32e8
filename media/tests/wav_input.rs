//! WAV input through `read_input`: resampling, G.711, truncated and bad files.

use std::f64::consts::PI;

use ringwire_dsp::g711::Law;
use ringwire_media::wav::{write_wav, Encoding};
use ringwire_media::{read_input, InputError};

fn tone(freq: f64, rate: u32, n: usize, amp: f64) -> Vec<i16> {
    (0..n)
        .map(|i| (amp * (2.0 * PI * freq * i as f64 / rate as f64).sin()).round() as i16)
        .collect()
}

fn rms(x: &[i16]) -> f64 {
    (x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / x.len() as f64).sqrt()
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn pcm16_stereo_16k_is_resampled_with_anti_aliasing() {
    let dir = tempfile::tempdir().unwrap();
    let rate = 16000;
    let left = tone(1000.0, rate, 16000, 10000.0);
    let right = tone(5000.0, rate, 16000, 10000.0);
    let data: Vec<u8> = left
        .iter()
        .zip(&right)
        .flat_map(|(l, r)| [l.to_le_bytes(), r.to_le_bytes()].concat())
        .collect();
    let path = write(
        &dir,
        "stereo.bin",
        &write_wav(Encoding::Int(16), 2, rate, &data),
    );
    let s = read_input(&path).unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!((s[0].id.as_str(), s[1].id.as_str()), ("0", "1"));
    assert_eq!(s[0].samples.len(), 8000);
    assert_eq!(s[1].samples.len(), 8000);
    let reference = 10000.0 / 2f64.sqrt();
    let kept = rms(&s[0].samples[400..7600]);
    assert!((kept / reference - 1.0).abs() < 0.01, "1 kHz rms {kept}");
    // The 1 kHz tone is still 1 kHz: zero crossings per second.
    let crossings = s[0].samples[400..7600]
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    assert!(
        (crossings as f64 / 0.9 - 2000.0).abs() < 10.0,
        "{crossings}"
    );
    let alias = rms(&s[1].samples[400..7600]);
    let db = 20.0 * (reference / alias.max(1e-9)).log10();
    assert!(db >= 40.0, "5 kHz attenuated by only {db:.1} dB");
    assert_eq!(s[0].stats, Default::default());
}

#[test]
fn pcm24_44k1_mono_length() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = tone(440.0, 44100, 44100, 8000.0)
        .iter()
        .flat_map(|&s| {
            let v = (s as i32) << 8;
            let b = v.to_le_bytes();
            [b[0], b[1], b[2]]
        })
        .collect();
    let path = write(
        &dir,
        "a.wav",
        &write_wav(Encoding::Int(24), 1, 44100, &data),
    );
    let s = read_input(&path).unwrap();
    assert_eq!(s[0].samples.len(), 8000);
    assert!((rms(&s[0].samples[400..7600]) / (8000.0 / 2f64.sqrt()) - 1.0).abs() < 0.01);
}

#[test]
fn ulaw_and_alaw() {
    let dir = tempfile::tempdir().unwrap();
    let codes: Vec<u8> = (0..=255).collect();
    for (enc, law) in [(Encoding::Ulaw, Law::Ulaw), (Encoding::Alaw, Law::Alaw)] {
        let path = write(&dir, "g711.wav", &write_wav(enc, 1, 8000, &codes));
        let s = read_input(&path).unwrap();
        let want: Vec<i16> = codes.iter().map(|&c| law.decode_one(c)).collect();
        assert_eq!(s[0].samples, want, "{enc:?}");
    }
}

#[test]
fn truncated_wav_decodes_what_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..1000i16).flat_map(|s| s.to_le_bytes()).collect();
    let full = write_wav(Encoding::Int(16), 1, 8000, &data);
    let path = write(&dir, "cut.wav", &full[..44 + 601]);
    let s = read_input(&path).unwrap();
    assert_eq!(s[0].samples.len(), 300);
    assert_eq!(s[0].samples[299], 299);
    assert!(
        s[0].stats.notes[0].contains("truncated"),
        "{:?}",
        s[0].stats.notes
    );
    // Only the header: a typed error naming the file.
    let path = write(&dir, "hdr.wav", &full[..45]);
    let e = read_input(&path).unwrap_err();
    assert!(matches!(e, InputError::CorruptWav { .. }), "{e}");
    assert!(e.to_string().contains("hdr.wav"));
}

#[test]
fn garbage_and_unsupported_wav() {
    let dir = tempfile::tempdir().unwrap();
    let mut garbage = b"RIFF\x10\0\0\0WAVE".to_vec();
    garbage.extend((0..300u32).map(|i| (i * 7919 % 251) as u8));
    let e = read_input(&write(&dir, "g.wav", &garbage)).unwrap_err();
    assert!(
        matches!(
            e,
            InputError::CorruptWav { .. } | InputError::UnsupportedWav { .. }
        ),
        "{e}"
    );
    // MPEG layer 3 in a WAV container (format 0x55).
    let mut mp3 = write_wav(Encoding::Int(16), 1, 8000, &[0; 8]);
    mp3[20..22].copy_from_slice(&0x55u16.to_le_bytes());
    let e = read_input(&write(&dir, "mp3.wav", &mp3)).unwrap_err();
    assert!(matches!(e, InputError::UnsupportedWav { .. }), "{e}");
    assert!(e.to_string().contains("mp3.wav"));
}
