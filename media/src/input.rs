//! The one entry point of offline analysis: a WAV file or a packet capture,
//! recognised by its magic bytes, read into 8 kHz mono [`MediaStream`]s.

use std::path::{Path, PathBuf};

use crate::capture::{self, CaptureError};
use crate::wav::{self, WavError};

/// One audio stream of an input file: 8 kHz mono linear PCM plus the RFC 4733
/// digits seen in it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaStream {
    /// WAV: the channel index ("0", "1"); capture: "ssrc=0x1234abcd", with
    /// " src=A:P dst=B:Q" added when the SSRC appears on several address pairs.
    pub id: String,
    /// 8 kHz mono linear PCM; index 0 is media time 0.
    pub samples: Vec<i16>,
    /// RFC 4733 digits, in media time of this stream.
    pub telephone_events: Vec<TelephoneEventDigit>,
    /// What happened on the way (all zero for a clean WAV channel).
    pub stats: StreamStats,
}

/// One RFC 4733 digit in media time of its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEventDigit {
    /// The digit, one of "0123456789*#ABCD".
    pub digit: char,
    /// Event start in ms of media time.
    pub start_ms: u64,
    /// Event end (start plus the longest duration seen) in ms of media time.
    pub end_ms: u64,
}

/// Counters and notes of one stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// RTP packets taken into the stream (duplicates included).
    pub packets: u64,
    /// RTP payload bytes of those packets.
    pub bytes: u64,
    /// Packets missing from the sequence-number series.
    pub lost: u64,
    /// Packets dropped as duplicates of a sequence number already seen.
    pub duplicates: u64,
    /// Packets that arrived after a higher sequence number.
    pub out_of_order: u64,
    /// Packets on the stream's address pair that could not be parsed, or
    /// telephone-event payloads of a bad length.
    pub malformed: u64,
    /// Audio payload types seen that are not decoded (no samples for them).
    pub unsupported_payload_types: Vec<u8>,
    /// Timestamp jumps too large to fill with silence (> 1 hour), bridged.
    pub discontinuities: u64,
    /// RFC 4733 events that are not DTMF digits (flash etc.).
    pub skipped_events: u64,
    /// Human-readable warnings ("unsupported payload type 9", truncation).
    pub notes: Vec<String>,
}

/// Why an input file could not be read; every message names the path.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file cannot be opened or read (missing, permission).
    #[error("{path}: cannot open: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("{path}: empty file, not a WAV file or packet capture")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// Neither a WAV file nor a pcap/pcapng capture (unknown magic bytes).
    #[error("{path}: not an audio file: unknown magic bytes {magic:02x?}")]
    NotAudio {
        /// The file.
        path: PathBuf,
        /// Up to the first 4 bytes.
        magic: Vec<u8>,
    },
    /// A capture that is truncated or corrupt before anything usable.
    #[error("{path}: corrupt or truncated capture: {reason}")]
    CorruptCapture {
        /// The file.
        path: PathBuf,
        /// What libpcap or the scanner reported.
        reason: String,
    },
    /// A capture without any RTP stream in it.
    #[error("{path}: no RTP stream found ({frames} frames, {udp} UDP datagrams)")]
    NoRtp {
        /// The file.
        path: PathBuf,
        /// Frames read.
        frames: u64,
        /// UDP datagrams among them.
        udp: u64,
    },
    /// A WAV file that is truncated or corrupt before anything usable.
    #[error("{path}: corrupt WAV file: {source}")]
    CorruptWav {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: WavError,
    },
    /// A well-formed WAV file whose encoding is not supported.
    #[error("{path}: unsupported WAV encoding: {source}")]
    UnsupportedWav {
        /// The file.
        path: PathBuf,
        /// Which encoding.
        source: WavError,
    },
}

/// The kind of file, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// RIFF/WAVE.
    Wav,
    /// Classic pcap (any byte order, µs or ns).
    Pcap,
    /// pcapng.
    Pcapng,
}

/// Recognises a file by its magic bytes.
pub fn detect(head: &[u8]) -> Option<FileKind> {
    match head {
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'A', b'V', b'E', ..] => Some(FileKind::Wav),
        [0xa1, 0xb2, 0xc3, 0xd4, ..]
        | [0xd4, 0xc3, 0xb2, 0xa1, ..]
        | [0xa1, 0xb2, 0x3c, 0x4d, ..]
        | [0x4d, 0x3c, 0xb2, 0xa1, ..] => Some(FileKind::Pcap),
        [0x0a, 0x0d, 0x0d, 0x0a, ..] => Some(FileKind::Pcapng),
        _ => None,
    }
}

/// Reads a WAV file or a packet capture (detected by magic bytes, not
/// extension) into its audio streams.
pub fn read_input(path: &Path) -> Result<Vec<MediaStream>, InputError> {
    let open = |source| InputError::Open {
        path: path.to_owned(),
        source,
    };
    let mut head = [0u8; 12];
    let n = {
        use std::io::Read;
        let mut f = std::fs::File::open(path).map_err(open)?;
        let mut n = 0;
        while n < head.len() {
            match f.read(&mut head[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(open(e)),
            }
        }
        n
    };
    match detect(&head[..n]) {
        Some(FileKind::Wav) => {
            let bytes = std::fs::read(path).map_err(open)?;
            wav_streams(path, &bytes)
        }
        Some(FileKind::Pcap | FileKind::Pcapng) => capture_streams(path),
        None if n == 0 => Err(InputError::Empty {
            path: path.to_owned(),
        }),
        None => Err(InputError::NotAudio {
            path: path.to_owned(),
            magic: head[..n.min(4)].to_vec(),
        }),
    }
}

/// Reads WAV bytes already in memory; `name` is used in error messages.
pub fn read_wav_bytes(name: &Path, bytes: &[u8]) -> Result<Vec<MediaStream>, InputError> {
    wav_streams(name, bytes)
}

fn wav_streams(path: &Path, bytes: &[u8]) -> Result<Vec<MediaStream>, InputError> {
    let wav = wav::decode(bytes).map_err(|e| {
        if e.is_unsupported() {
            InputError::UnsupportedWav {
                path: path.to_owned(),
                source: e,
            }
        } else {
            InputError::CorruptWav {
                path: path.to_owned(),
                source: e,
            }
        }
    })?;
    if let Some(w) = &wav.warning {
        tracing::warn!("{}: {}", path.display(), w);
    }
    Ok(wav
        .channels
        .into_iter()
        .enumerate()
        .map(|(i, samples)| MediaStream {
            id: i.to_string(),
            samples,
            telephone_events: Vec::new(),
            stats: StreamStats {
                notes: wav.warning.iter().cloned().collect(),
                ..StreamStats::default()
            },
        })
        .collect())
}

fn capture_streams(path: &Path) -> Result<Vec<MediaStream>, InputError> {
    let report = capture::read_capture_file(path).map_err(|e| match e {
        CaptureError::Open(reason) => InputError::Open {
            path: path.to_owned(),
            source: std::io::Error::other(reason),
        },
        CaptureError::Corrupt(reason) => InputError::CorruptCapture {
            path: path.to_owned(),
            reason,
        },
    })?;
    tracing::debug!("{}: {:?}", path.display(), report.summary);
    if report.streams.is_empty() {
        if let Some(reason) = report.summary.truncated {
            return Err(InputError::CorruptCapture {
                path: path.to_owned(),
                reason,
            });
        }
        return Err(InputError::NoRtp {
            path: path.to_owned(),
            frames: report.summary.frames,
            udp: report.summary.udp,
        });
    }
    Ok(report.streams)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_magic() {
        assert_eq!(detect(b"RIFF\0\0\0\0WAVEfmt "), Some(FileKind::Wav));
        assert_eq!(
            detect(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]),
            Some(FileKind::Pcap)
        );
        assert_eq!(detect(&[0x4d, 0x3c, 0xb2, 0xa1]), Some(FileKind::Pcap));
        assert_eq!(detect(&[0x0a, 0x0d, 0x0d, 0x0a]), Some(FileKind::Pcapng));
        assert_eq!(detect(b"RIFF\0\0\0\0AVI "), None);
        assert_eq!(detect(b""), None);
    }

    #[test]
    fn missing_file_names_path() {
        let e = read_input(Path::new("/nonexistent/x.wav")).unwrap_err();
        assert!(matches!(e, InputError::Open { .. }));
        assert!(e.to_string().contains("/nonexistent/x.wav"));
    }
}
