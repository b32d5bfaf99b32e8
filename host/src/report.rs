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

/// One JSON line: the stream's identity, then the event's own fields.
#[derive(Serialize)]
struct Line<'a, T: Serialize> {
    file: &'a str,
    stream: &'a str,
    #[serde(flatten)]
    event: T,
}

/// An event's own fields in the JSON contract (`type` and the detector's
/// fields), shared by `analyze` and the live event push.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub(crate) enum JsonEvent {
    Dtmf {
        digit: String,
        start_ms: u64,
        end_ms: u64,
        source: DigitSource,
    },
    Amd {
        verdict: &'static str,
        at_ms: u64,
        cause: &'static str,
        confidence: f32,
    },
    Beep {
        start_ms: u64,
        end_ms: u64,
        freq_hz: u32,
    },
}

impl From<&Event> for JsonEvent {
    fn from(e: &Event) -> Self {
        match e {
            Event::Dtmf {
                digit,
                start_ms,
                end_ms,
                source,
            } => JsonEvent::Dtmf {
                digit: digit.to_string(),
                start_ms: *start_ms,
                end_ms: *end_ms,
                source: *source,
            },
            Event::Amd {
                verdict,
                at_ms,
                cause,
                confidence,
            } => JsonEvent::Amd {
                verdict: verdict.as_str(),
                at_ms: *at_ms,
                cause,
                confidence: (confidence * 100.0).round() / 100.0,
            },
            Event::Beep {
                start_ms,
                end_ms,
                freq_hz,
            } => JsonEvent::Beep {
                start_ms: *start_ms,
                end_ms: *end_ms,
                freq_hz: freq_hz.round() as u32,
            },
        }
    }
}

/// Writes one file's events as JSON lines.
pub fn write_json(out: &mut dyn Write, report: &FileReport) -> io::Result<()> {
    for stream in &report.streams {
        for event in &stream.events {
            let line = Line {
                file: &report.file,
                stream: &stream.id,
                event: JsonEvent::from(event),
            };
            serde_json::to_writer(&mut *out, &line)?;
            out.write_all(b"\n")?;
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
            .filter_map(|e| match e {
                Event::Dtmf { digit, .. } => Some(*digit),
                _ => None,
            })
            .collect();
        if !digits.is_empty() {
            writeln!(out, "    DTMF: {digits}")?;
        }
        for event in &stream.events {
            write_text_event(out, event)?;
        }
        if stream.events.is_empty() {
            writeln!(out, "    nothing detected")?;
        }
    }
    Ok(())
}

fn write_text_event(out: &mut dyn Write, event: &Event) -> io::Result<()> {
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
        ),
        Event::Amd {
            verdict,
            at_ms,
            cause,
            confidence,
        } => writeln!(
            out,
            "    {:>9}  AMD: {} ({cause}, confidence {confidence:.2})",
            format_ms(*at_ms),
            verdict.as_str(),
        ),
        Event::Beep {
            start_ms,
            end_ms,
            freq_hz,
        } => writeln!(
            out,
            "    {:>9}  beep {freq_hz:.0} Hz, {} ms",
            format_ms(*start_ms),
            end_ms.saturating_sub(*start_ms)
        ),
    }
}

/// `m:ss.mmm` for a media time.
fn format_ms(ms: u64) -> String {
    format!("{}:{:02}.{:03}", ms / 60_000, ms / 1000 % 60, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::StreamReport;
    use ringwire_dsp::amd::AmdVerdict;

    fn report() -> FileReport {
        FileReport {
            file: "calls/a.pcap".into(),
            streams: vec![StreamReport {
                id: "ssrc=0x1234abcd".into(),
                duration_ms: 2000,
                events: vec![
                    Event::Dtmf {
                        digit: '5',
                        start_ms: 1200,
                        end_ms: 1320,
                        source: DigitSource::Inband,
                    },
                    Event::Amd {
                        verdict: AmdVerdict::Human,
                        at_ms: 2140,
                        cause: "short-greeting",
                        confidence: 0.9,
                    },
                    Event::Beep {
                        start_ms: 6120,
                        end_ms: 6620,
                        freq_hz: 999.6,
                    },
                ],
                stats: Default::default(),
                trace: None,
            }],
        }
    }

    #[test]
    fn json_lines_follow_the_contract() {
        let mut out = Vec::new();
        write_json(&mut out, &report()).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "{\"file\":\"calls/a.pcap\",\"stream\":\"ssrc=0x1234abcd\",\"type\":\"dtmf\",\"digit\":\"5\",\"start_ms\":1200,\"end_ms\":1320,\"source\":\"inband\"}"
        );
        assert_eq!(
            lines[1],
            "{\"file\":\"calls/a.pcap\",\"stream\":\"ssrc=0x1234abcd\",\"type\":\"amd\",\"verdict\":\"human\",\"at_ms\":2140,\"cause\":\"short-greeting\",\"confidence\":0.9}"
        );
        assert_eq!(
            lines[2],
            "{\"file\":\"calls/a.pcap\",\"stream\":\"ssrc=0x1234abcd\",\"type\":\"beep\",\"start_ms\":6120,\"end_ms\":6620,\"freq_hz\":1000}"
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
        assert!(
            text.contains("0:02.140  AMD: human (short-greeting, confidence 0.90)"),
            "{text}"
        );
        assert!(text.contains("0:06.120  beep 1000 Hz, 500 ms"), "{text}");
    }
}
