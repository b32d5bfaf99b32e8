//! Rendering of analysis results: JSON lines for programs, text for people.
//!
//! The JSON contract (one object per event per line, in media-time order
//! within a stream) is documented in the README; fields may be added, never
//! changed in meaning.
use crate::analyze::{DigitSource, Event, FileReport};
use serde::Serialize;
use std::io::{self, Write};

/// Output format of `ringwire analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A readable summary per stream.
    Text,
    /// One JSON object per event per line.
    Json,
}

#[derive(Serialize)]
struct DtmfLine<'a> {
    file: &'a str,
    stream: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    digit: String,
    start_ms: u64,
    end_ms: u64,
    source: DigitSource,
}

/// Writes one file's events as JSON lines.
pub fn write_json(out: &mut dyn Write, report: &FileReport) -> io::Result<()> {
    for stream in &report.streams {
        for event in &stream.events {
            match event {
                Event::Dtmf {
                    digit,
                    start_ms,
                    end_ms,
                    source,
                } => {
                    let line = DtmfLine {
                        file: &report.file,
                        stream: &stream.id,
                        kind: "dtmf",
                        digit: digit.to_string(),
                        start_ms: *start_ms,
                        end_ms: *end_ms,
                        source: *source,
                    };
                    serde_json::to_writer(&mut *out, &line)?;
                    out.write_all(b"\n")?;
                }
            }
        }
    }
    Ok(())
}

/// Writes one file's streams as a readable summary.
pub fn write_text(out: &mut dyn Write, report: &FileReport) -> io::Result<()> {
    writeln!(out, "{}", report.file)?;
    if report.streams.is_empty() {
        writeln!(out, "  no audio streams")?;
    }
    for stream in &report.streams {
        let s = &stream.stats;
        write!(
            out,
            "  stream {}: {:.2} s of audio",
            stream.id,
            stream.duration_ms as f64 / 1000.0
        )?;
        if s.packets > 0 {
            write!(
                out,
                ", {} packets ({} lost, {} duplicate, {} out of order, {} malformed)",
                s.packets, s.lost, s.duplicates, s.out_of_order, s.malformed
            )?;
        }
        writeln!(out)?;
        for note in &s.notes {
            writeln!(out, "    note: {note}")?;
        }
        let digits: String = stream
            .events
            .iter()
            .map(|e| match e {
                Event::Dtmf { digit, .. } => *digit,
            })
            .collect();
        if digits.is_empty() {
            writeln!(out, "    no DTMF")?;
        } else {
            writeln!(out, "    DTMF: {digits}")?;
        }
        for event in &stream.events {
            match event {
                Event::Dtmf {
                    digit,
                    start_ms,
                    end_ms,
                    source,
                } => writeln!(
                    out,
                    "    {:>9}  {digit}  {} ms  ({})",
                    format_ms(*start_ms),
                    end_ms.saturating_sub(*start_ms),
                    match source {
                        DigitSource::Inband => "in-band",
                        DigitSource::Rfc4733 => "RFC 4733",
                    }
                )?,
            }
        }
    }
    Ok(())
}

/// `m:ss.mmm` for a media time.
fn format_ms(ms: u64) -> String {
    format!("{}:{:02}.{:03}", ms / 60_000, ms / 1000 % 60, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::StreamReport;

    fn report() -> FileReport {
        FileReport {
            file: "calls/a.pcap".into(),
            streams: vec![StreamReport {
                id: "ssrc=0x1234abcd".into(),
                duration_ms: 2000,
                events: vec![Event::Dtmf {
                    digit: '5',
                    start_ms: 1200,
                    end_ms: 1320,
                    source: DigitSource::Inband,
                }],
                stats: Default::default(),
            }],
        }
    }

    #[test]
    fn json_lines_follow_the_contract() {
        let mut out = Vec::new();
        write_json(&mut out, &report()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"file\":\"calls/a.pcap\",\"stream\":\"ssrc=0x1234abcd\",\"type\":\"dtmf\",\"digit\":\"5\",\"start_ms\":1200,\"end_ms\":1320,\"source\":\"inband\"}\n"
        );
    }

    #[test]
    fn text_names_stream_digits_and_times() {
        let mut out = Vec::new();
        write_text(&mut out, &report()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("stream ssrc=0x1234abcd: 2.00 s of audio"),
            "{text}"
        );
        assert!(text.contains("DTMF: 5"), "{text}");
        assert!(text.contains("0:01.200  5  120 ms  (in-band)"), "{text}");
    }
}
