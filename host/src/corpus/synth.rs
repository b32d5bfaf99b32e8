//! Signal pieces of the corpus: espeak-ng speech, tones, noises, G.711, WAV.
//! Every signal is 8 kHz f64 on the i16 scale (full scale 32768).
use anyhow::{bail, Context, Result};
use ringwire_dsp::g711::Law;
use std::f64::consts::PI;
use std::process::Command;

/// Sample rate of the corpus.
pub const RATE: f64 = 8000.0;
/// Full scale of 16-bit audio.
pub const FULL_SCALE: f64 = 32768.0;

/// Milliseconds to samples.
pub fn ms(ms: f64) -> usize {
    (ms * RATE / 1000.0).round().max(0.0) as usize
}

/// Samples to milliseconds.
pub fn to_ms(samples: usize) -> f64 {
    samples as f64 * 1000.0 / RATE
}

/// dBFS (RMS of a full-scale sine is -3 dBFS) to a linear RMS on the i16 scale.
pub fn dbfs_to_rms(dbfs: f64) -> f64 {
    FULL_SCALE * 10f64.powf(dbfs / 20.0)
}

/// RMS of a signal.
pub fn rms(x: &[f64]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt()
}

/// A small deterministic generator (splitmix64); no crate, stable forever,
/// so a seed names the same corpus on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        let mut r = Self(seed ^ 0x5851_f42d_4c95_7f2d);
        r.next_u64();
        r
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in [lo, hi].
    pub fn int(&mut self, lo: u32, hi: u32) -> u32 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as u32
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// An index into a list of `n` (> 0).
    pub fn index(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Standard normal (Box-Muller).
    pub fn gauss(&mut self) -> f64 {
        let u = self.unit().max(1e-12);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (2.0 * PI * v).cos()
    }
}

/// How an utterance is spoken.
#[derive(Debug, Clone)]
pub struct Voice {
    /// espeak-ng voice, e.g. "en-gb+f3".
    pub name: String,
    /// Words per minute.
    pub wpm: u32,
    /// espeak pitch, 0-99.
    pub pitch: u32,
}

/// Speaks `text` with espeak-ng; returns 8 kHz samples with the silence
/// espeak puts around the speech trimmed off (so sample 0 is speech onset and
/// the last sample its end).
pub fn speak(voice: &Voice, text: &str) -> Result<Vec<f64>> {
    let out = Command::new("espeak-ng")
        .args(["-v", &voice.name])
        .args(["-s", &voice.wpm.to_string()])
        .args(["-p", &voice.pitch.to_string()])
        .arg("--stdout")
        .arg(text)
        .output()
        .context("running espeak-ng (install it: apt-get install espeak-ng)")?;
    if !out.status.success() {
        bail!(
            "espeak-ng -v {} failed: {}",
            voice.name,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let (rate, pcm) = parse_stream_wav(&out.stdout).context("espeak-ng output")?;
    let x: Vec<f32> = pcm.iter().map(|&s| s as f32).collect();
    let y = ringwire_media::resample::to_8k(&x, rate);
    let y: Vec<f64> = y.iter().map(|&s| s as f64).collect();
    Ok(trim(&y).to_vec())
}

/// Parses the 16-bit mono WAV espeak-ng writes to a pipe (its sizes are
/// placeholders, so the data runs to the end of the bytes).
fn parse_stream_wav(bytes: &[u8]) -> Result<(u32, Vec<i16>)> {
    if bytes.len() < 44 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        bail!("not a WAV stream ({} bytes)", bytes.len());
    }
    let mut pos = 12;
    let mut rate = 0u32;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        let body = pos + 8;
        if id == b"fmt " {
            if body + 16 > bytes.len() {
                bail!("short fmt chunk");
            }
            let channels = u16::from_le_bytes([bytes[body + 2], bytes[body + 3]]);
            rate = u32::from_le_bytes(bytes[body + 4..body + 8].try_into().unwrap());
            let bits = u16::from_le_bytes([bytes[body + 14], bytes[body + 15]]);
            if channels != 1 || bits != 16 {
                bail!("expected 16-bit mono, got {channels} channels of {bits} bits");
            }
        } else if id == b"data" {
            if rate == 0 {
                bail!("data before fmt");
            }
            let pcm = bytes[body..]
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]))
                .collect();
            return Ok((rate, pcm));
        }
        pos = body + size + (size & 1);
    }
    bail!("no data chunk")
}

/// The part of `x` between the first and the last sample above 3% of the
/// peak (and above a floor of 20).
pub fn trim(x: &[f64]) -> &[f64] {
    let peak = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let th = (peak * 0.03).max(20.0);
    let first = x.iter().position(|v| v.abs() > th);
    let last = x.iter().rposition(|v| v.abs() > th);
    match (first, last) {
        (Some(a), Some(b)) => &x[a..=b],
        _ => &x[0..0],
    }
}

/// Adds `src * gain` into `dst` at `at`, growing `dst` if needed.
pub fn mix(dst: &mut Vec<f64>, at: usize, src: &[f64], gain: f64) {
    if dst.len() < at + src.len() {
        dst.resize(at + src.len(), 0.0);
    }
    for (d, s) in dst[at..].iter_mut().zip(src) {
        *d += s * gain;
    }
}

/// A sum of sines (equal RMS `rms_each`) of `len` samples with 5 ms raised
/// cosine ramps at both ends.
pub fn tone(freqs: &[f64], len: usize, rms_each: f64) -> Vec<f64> {
    let amp = rms_each * std::f64::consts::SQRT_2;
    let ramp = ms(5.0).min(len / 2).max(1);
    (0..len)
        .map(|n| {
            let t = n as f64 / RATE;
            let v: f64 = freqs.iter().map(|f| (2.0 * PI * f * t).sin()).sum::<f64>() * amp;
            let edge = n.min(len - 1 - n);
            if edge < ramp {
                v * 0.5 * (1.0 - (PI * edge as f64 / ramp as f64).cos())
            } else {
                v
            }
        })
        .collect()
}

/// Adds an on/off cadence of `freqs` from `start` to `end` (samples):
/// `cadence` is a list of (on ms, off ms) repeated. Returns the on intervals.
pub fn add_cadence(
    dst: &mut Vec<f64>,
    start: usize,
    end: usize,
    freqs: &[f64],
    cadence: &[(f64, f64)],
    rms_each: f64,
) -> Vec<(usize, usize)> {
    let mut on = Vec::new();
    let mut t = start;
    'outer: loop {
        for &(on_ms, off_ms) in cadence {
            if t >= end {
                break 'outer;
            }
            let len = ms(on_ms).min(end - t);
            mix(dst, t, &tone(freqs, len, rms_each), 1.0);
            on.push((t, t + len));
            t += ms(on_ms) + ms(off_ms);
        }
    }
    on
}

/// Line noise to add to a whole call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseKind {
    /// No added noise (G.711 quantisation only).
    None,
    /// White noise.
    White,
    /// Pink (1/f) noise.
    Pink,
    /// Several far-away talkers.
    Babble,
}

impl NoiseKind {
    /// Every kind, in this order.
    pub const ALL: [NoiseKind; 4] = [
        NoiseKind::None,
        NoiseKind::White,
        NoiseKind::Pink,
        NoiseKind::Babble,
    ];

    /// The name in `cases.jsonl`.
    pub fn as_str(self) -> &'static str {
        match self {
            NoiseKind::None => "none",
            NoiseKind::White => "white",
            NoiseKind::Pink => "pink",
            NoiseKind::Babble => "babble",
        }
    }
}

/// `len` samples of white noise of unit RMS.
pub fn white(rng: &mut Rng, len: usize) -> Vec<f64> {
    (0..len).map(|_| rng.gauss()).collect()
}

/// `len` samples of pink noise of unit RMS (Paul Kellet's filter).
pub fn pink(rng: &mut Rng, len: usize) -> Vec<f64> {
    let mut b = [0.0f64; 7];
    let mut v: Vec<f64> = (0..len)
        .map(|_| {
            let w = rng.gauss();
            b[0] = 0.99886 * b[0] + w * 0.0555179;
            b[1] = 0.99332 * b[1] + w * 0.0750759;
            b[2] = 0.96900 * b[2] + w * 0.153852;
            b[3] = 0.86650 * b[3] + w * 0.3104856;
            b[4] = 0.55000 * b[4] + w * 0.5329522;
            b[5] = -0.7616 * b[5] - w * 0.0168980;
            let out = b.iter().sum::<f64>() + w * 0.5362;
            b[6] = w * 0.115926;
            out
        })
        .collect();
    normalise(&mut v);
    v
}

/// Babble of unit RMS: the talkers' utterances looped with random offsets
/// and summed.
pub fn babble(rng: &mut Rng, len: usize, talkers: &[Vec<f64>]) -> Vec<f64> {
    let mut v = vec![0.0; len];
    for t in talkers.iter().filter(|t| !t.is_empty()) {
        let r = rms(t).max(1.0);
        let mut pos = rng.index(t.len());
        for d in v.iter_mut() {
            *d += t[pos] / r;
            pos += 1;
            if pos == t.len() {
                pos = 0;
            }
        }
    }
    normalise(&mut v);
    v
}

fn normalise(v: &mut [f64]) {
    let r = rms(v);
    if r > 0.0 {
        v.iter_mut().for_each(|x| *x /= r);
    }
}

/// Rounds to i16 and passes the signal through a G.711 encoder and decoder.
pub fn g711_round_trip(x: &[f64], law: Law) -> Vec<i16> {
    x.iter()
        .map(|&v| {
            let s = v.round().clamp(i16::MIN as f64, i16::MAX as f64) as i16;
            law.decode_one(law.encode_one(s))
        })
        .collect()
}

/// A 16-bit mono 8 kHz WAV file.
pub fn wav_bytes(samples: &[i16]) -> Vec<u8> {
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    ringwire_media::wav::write_wav(ringwire_media::wav::Encoding::Int(16), 1, 8000, &data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_stable_and_uniform() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        assert_eq!(a.next_u64(), b.next_u64());
        let mean = (0..10_000).map(|_| a.unit()).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02);
    }

    #[test]
    fn tone_has_its_rms() {
        let t = tone(&[1000.0], 8000, 1000.0);
        assert!((rms(&t) - 1000.0).abs() < 10.0);
    }

    #[test]
    fn pink_and_white_are_unit_rms() {
        let mut r = Rng::new(1);
        assert!((rms(&white(&mut r, 8000)) - 1.0).abs() < 0.05);
        assert!((rms(&pink(&mut r, 8000)) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn parses_a_streamed_wav() {
        let mut b = b"RIFF\xff\xff\xff\x7fWAVEfmt ".to_vec();
        b.extend_from_slice(&16u32.to_le_bytes());
        b.extend_from_slice(&[1, 0, 1, 0]);
        b.extend_from_slice(&22050u32.to_le_bytes());
        b.extend_from_slice(&44100u32.to_le_bytes());
        b.extend_from_slice(&[2, 0, 16, 0]);
        b.extend_from_slice(b"data\xff\xff\xff\x7f");
        b.extend_from_slice(&[1, 0, 0xff, 0xff]);
        assert_eq!(parse_stream_wav(&b).unwrap(), (22050, vec![1, -1]));
    }
}
