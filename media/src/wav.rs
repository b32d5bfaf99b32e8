//! WAV input: a small RIFF reader (hound does not read G.711) for PCM 8/16/24/32
//! bit, IEEE float 32/64, µ-law and A-law, plain or WAVE_FORMAT_EXTENSIBLE.
//! Every channel becomes an 8 kHz i16 signal (see [`crate::resample`]).
//! A data chunk shorter than declared is decoded as far as it goes, with a
//! warning.

use ringwire_dsp::g711::Law;

use crate::resample;

/// WAVE format tags.
pub mod format {
    /// Integer PCM.
    pub const PCM: u16 = 1;
    /// IEEE float.
    pub const FLOAT: u16 = 3;
    /// G.711 A-law.
    pub const ALAW: u16 = 6;
    /// G.711 µ-law.
    pub const ULAW: u16 = 7;
    /// WAVE_FORMAT_EXTENSIBLE: the real tag is in the sub-format GUID.
    pub const EXTENSIBLE: u16 = 0xFFFE;
}

/// Sample rates accepted (Hz); outside this range a file is unsupported.
pub const RATE_RANGE: std::ops::RangeInclusive<u32> = 4000..=768_000;
/// Most channels accepted.
pub const MAX_CHANNELS: u16 = 256;

/// What is wrong with a WAV file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WavError {
    /// Not a RIFF/WAVE file.
    #[error("not a RIFF/WAVE file")]
    NotWav,
    /// No `fmt ` chunk, or one too short.
    #[error("missing or short fmt chunk")]
    NoFormat,
    /// No `data` chunk.
    #[error("missing data chunk")]
    NoData,
    /// The fmt chunk is inconsistent.
    #[error("bad fmt chunk: {0}")]
    BadFormat(String),
    /// The data chunk is truncated before one whole frame.
    #[error("data chunk truncated: declared {declared} bytes, {present} present, no whole frame")]
    Truncated {
        /// Declared data size.
        declared: u32,
        /// Bytes present.
        present: usize,
    },
    /// A format tag / sample size we do not decode.
    #[error("format tag {format:#06x} with {bits} bits per sample")]
    UnsupportedEncoding {
        /// Format tag (after resolving EXTENSIBLE).
        format: u16,
        /// Bits per sample.
        bits: u16,
    },
    /// Sample rate or channel count outside what we accept.
    #[error("{0}")]
    UnsupportedLayout(String),
}

impl WavError {
    /// Whether this is a well-formed file in an encoding we do not support.
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self,
            WavError::UnsupportedEncoding { .. } | WavError::UnsupportedLayout(_)
        )
    }
}

/// Sample encoding of a WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Integer PCM of 8 (unsigned), 16, 24 or 32 bits.
    Int(u16),
    /// IEEE float of 32 or 64 bits.
    Float(u16),
    /// G.711 µ-law.
    Ulaw,
    /// G.711 A-law.
    Alaw,
}

impl Encoding {
    fn bytes(self) -> usize {
        match self {
            Encoding::Int(b) | Encoding::Float(b) => b as usize / 8,
            Encoding::Ulaw | Encoding::Alaw => 1,
        }
    }

    /// One sample from its bytes, in i16 scale.
    fn sample(self, b: &[u8]) -> f32 {
        match self {
            Encoding::Int(8) => (b[0] as f32 - 128.0) * 256.0,
            Encoding::Int(16) => i16::from_le_bytes([b[0], b[1]]) as f32,
            Encoding::Int(24) => (i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as f32 / 256.0,
            Encoding::Int(_) => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32 / 65536.0,
            Encoding::Float(32) => {
                let x = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                if x.is_finite() {
                    x * 32768.0
                } else {
                    0.0
                }
            }
            Encoding::Float(_) => {
                let x = f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
                if x.is_finite() {
                    (x * 32768.0).clamp(-1e9, 1e9) as f32
                } else {
                    0.0
                }
            }
            Encoding::Ulaw => Law::Ulaw.decode_one(b[0]) as f32,
            Encoding::Alaw => Law::Alaw.decode_one(b[0]) as f32,
        }
    }
}

/// The fmt chunk, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavFormat {
    /// Sample encoding.
    pub encoding: Encoding,
    /// Channels.
    pub channels: u16,
    /// Sample rate in Hz.
    pub rate: u32,
    /// Bytes per frame (all channels).
    pub block_align: u16,
}

/// A decoded WAV file.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedWav {
    /// The file's format.
    pub format: WavFormat,
    /// One 8 kHz signal per channel.
    pub channels: Vec<Vec<i16>>,
    /// Set when the file was truncated (decoded as far as it goes).
    pub warning: Option<String>,
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parses a fmt chunk body.
pub fn parse_format(body: &[u8]) -> Result<WavFormat, WavError> {
    if body.len() < 16 {
        return Err(WavError::NoFormat);
    }
    let mut tag = le16(body, 0);
    let channels = le16(body, 2);
    let rate = le32(body, 4);
    let block_align = le16(body, 12);
    let bits = le16(body, 14);
    if tag == format::EXTENSIBLE {
        if body.len() < 40 {
            return Err(WavError::BadFormat(
                "WAVE_FORMAT_EXTENSIBLE fmt chunk shorter than 40 bytes".into(),
            ));
        }
        tag = le16(body, 24);
    }
    let encoding = match (tag, bits) {
        (format::PCM, 8 | 16 | 24 | 32) => Encoding::Int(bits),
        (format::FLOAT, 32 | 64) => Encoding::Float(bits),
        (format::ULAW, 8) => Encoding::Ulaw,
        (format::ALAW, 8) => Encoding::Alaw,
        (format, bits) => return Err(WavError::UnsupportedEncoding { format, bits }),
    };
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(WavError::UnsupportedLayout(format!("{channels} channels")));
    }
    if !RATE_RANGE.contains(&rate) {
        return Err(WavError::UnsupportedLayout(format!(
            "sample rate {rate} Hz"
        )));
    }
    if block_align as usize != channels as usize * encoding.bytes() {
        return Err(WavError::BadFormat(format!(
            "block align {block_align} for {channels} channels of {bits} bits"
        )));
    }
    Ok(WavFormat {
        encoding,
        channels,
        rate,
        block_align,
    })
}

/// Decodes a whole WAV file held in memory into 8 kHz channels.
pub fn decode(bytes: &[u8]) -> Result<DecodedWav, WavError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(WavError::NotWav);
    }
    let mut fmt = None;
    let mut data: Option<(usize, u32, usize)> = None; // start, declared, present
    let mut pos = 12usize;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = le32(bytes, pos + 4);
        let start = pos + 8;
        let end = start.saturating_add(size as usize).min(bytes.len());
        match id {
            b"fmt " if fmt.is_none() => fmt = Some(parse_format(&bytes[start..end])?),
            b"data" if data.is_none() => {
                // 0xFFFFFFFF: streamed without a known size; take the rest.
                let declared = size;
                data = Some((start, declared, end - start));
            }
            _ => {}
        }
        pos = start
            .saturating_add(size as usize)
            .saturating_add(size as usize & 1);
    }
    let format = fmt.ok_or(WavError::NoFormat)?;
    let (start, declared, present) = data.ok_or(WavError::NoData)?;
    let block = format.block_align as usize;
    let frames = present / block;
    let mut warning = None;
    if (present as u64) < declared as u64 && declared != u32::MAX {
        if frames == 0 {
            return Err(WavError::Truncated { declared, present });
        }
        warning = Some(format!(
            "data chunk truncated: declared {declared} bytes, {present} present; decoded {frames} frames"
        ));
    }
    let body = &bytes[start..start + frames * block];
    let width = format.encoding.bytes();
    let channels = (0..format.channels as usize)
        .map(|c| {
            let signal: Vec<f32> = body
                .chunks_exact(block)
                .map(|frame| format.encoding.sample(&frame[c * width..(c + 1) * width]))
                .collect();
            resample::to_8k(&signal, format.rate)
        })
        .collect();
    Ok(DecodedWav {
        format,
        channels,
        warning,
    })
}

/// Writes a canonical WAV header + data for `samples` (interleaved, already
/// encoded as `encoding`); test and example helper.
pub fn write_wav(encoding: Encoding, channels: u16, rate: u32, data: &[u8]) -> Vec<u8> {
    let (tag, bits) = match encoding {
        Encoding::Int(b) => (format::PCM, b),
        Encoding::Float(b) => (format::FLOAT, b),
        Encoding::Ulaw => (format::ULAW, 8),
        Encoding::Alaw => (format::ALAW, 8),
    };
    let block = channels * bits / 8;
    let mut v = Vec::with_capacity(44 + data.len());
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&tag.to_le_bytes());
    v.extend_from_slice(&channels.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&(rate * block as u32).to_le_bytes());
    v.extend_from_slice(&block.to_le_bytes());
    v.extend_from_slice(&bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v.extend_from_slice(data);
    if data.len() % 2 == 1 {
        v.push(0);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pcm16(samples: &[i16]) -> Vec<u8> {
        samples.iter().flat_map(|s| s.to_le_bytes()).collect()
    }

    #[test]
    fn decodes_each_sample_format() {
        let cases: Vec<(Encoding, Vec<u8>)> = vec![
            (Encoding::Int(8), vec![128 + 64]),
            (Encoding::Int(16), pcm16(&[16384])),
            (Encoding::Int(24), vec![0, 0, 0x40]),
            (Encoding::Int(32), vec![0, 0, 0, 0x40]),
            (Encoding::Float(32), 0.5f32.to_le_bytes().to_vec()),
            (Encoding::Float(64), 0.5f64.to_le_bytes().to_vec()),
        ];
        for (enc, data) in cases {
            let w = decode(&write_wav(enc, 1, 8000, &data)).unwrap();
            assert_eq!(w.channels, vec![vec![16384]], "{enc:?}");
        }
        let w = decode(&write_wav(Encoding::Alaw, 2, 8000, &[0xd5, 0x2a])).unwrap();
        assert_eq!(
            w.channels,
            vec![
                vec![Law::Alaw.decode_one(0xd5)],
                vec![Law::Alaw.decode_one(0x2a)]
            ]
        );
    }

    #[test]
    fn extensible_format() {
        let mut fmt = vec![0u8; 40];
        fmt[0..2].copy_from_slice(&format::EXTENSIBLE.to_le_bytes());
        fmt[2..4].copy_from_slice(&1u16.to_le_bytes());
        fmt[4..8].copy_from_slice(&8000u32.to_le_bytes());
        fmt[12..14].copy_from_slice(&2u16.to_le_bytes());
        fmt[14..16].copy_from_slice(&16u16.to_le_bytes());
        fmt[16..18].copy_from_slice(&22u16.to_le_bytes());
        fmt[24..26].copy_from_slice(&format::PCM.to_le_bytes());
        let f = parse_format(&fmt).unwrap();
        assert_eq!(f.encoding, Encoding::Int(16));
        fmt[24..26].copy_from_slice(&0x55u16.to_le_bytes());
        assert!(parse_format(&fmt).unwrap_err().is_unsupported());
        assert!(matches!(
            parse_format(&fmt[..20]),
            Err(WavError::BadFormat(_))
        ));
    }

    #[test]
    fn truncated_and_bad() {
        let full = write_wav(Encoding::Int(16), 1, 8000, &pcm16(&[1, 2, 3, 4]));
        let w = decode(&full[..full.len() - 3]).unwrap();
        assert_eq!(w.channels[0], vec![1, 2]);
        assert!(w.warning.unwrap().contains("truncated"));
        assert!(matches!(
            decode(&full[..45]),
            Err(WavError::Truncated { .. })
        ));
        assert_eq!(decode(&full[..40]), Err(WavError::NoData));
        assert_eq!(decode(b"RIFF\0\0\0\0WAVE"), Err(WavError::NoFormat));
        assert_eq!(decode(b"RIFX"), Err(WavError::NotWav));
        let odd = write_wav(Encoding::Int(16), 1, 100, &pcm16(&[1]));
        assert!(decode(&odd).unwrap_err().is_unsupported());
    }

    proptest! {
        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut v = write_wav(Encoding::Int(16), 1, 8000, &[]);
            v.truncate(12);
            v.extend_from_slice(&data);
            let _ = decode(&v);
            let _ = decode(&data);
        }
    }
}
