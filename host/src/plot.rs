//! `ringwire analyze --plot DIR`: one SVG per stream showing why it was
//! classed as it was: the signal envelope and noise floor, voice activity,
//! DTMF digits and beeps, and the AMD decision with its time.
//!
//! Plain SVG written by hand: no plotting dependency, opens in any browser.
use crate::analyze::{Event, FileReport, StreamReport};
use ringwire_dsp::amd::vad::VadFrame;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const WIDTH: f64 = 1200.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 20.0;
const ENVELOPE_TOP: f64 = 40.0;
const ENVELOPE_HEIGHT: f64 = 200.0;
const VAD_TOP: f64 = 260.0;
const VAD_HEIGHT: f64 = 24.0;
const EVENTS_TOP: f64 = 300.0;
const HEIGHT: f64 = 380.0;
/// dB range shown (13-bit scale: full scale is about 69 dB).
const DB_MIN: f64 = 0.0;
const DB_MAX: f64 = 75.0;

/// Writes one SVG per stream of `report` into `dir`; returns the paths.
pub fn write_plots(dir: &Path, report: &FileReport) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let stem = Path::new(&report.file)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut written = Vec::new();
    for stream in &report.streams {
        let path = dir.join(format!("{}.{}.svg", sanitize(&stem), sanitize(&stream.id)));
        std::fs::write(&path, render(&report.file, stream))?;
        written.push(path);
    }
    Ok(written)
}

/// File-name-safe version of an id.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// XML-escapes text.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A property of a frame (speech, tone).
type FrameTest = fn(&VadFrame) -> bool;

/// The `[start, end)` frame ranges where `is_on` holds.
fn runs(frames: &[VadFrame], is_on: FrameTest) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, f) in frames.iter().enumerate() {
        match (is_on(f), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, frames.len()));
    }
    out
}

/// The SVG document for one stream.
pub fn render(file: &str, stream: &StreamReport) -> String {
    let frames = stream
        .trace
        .as_ref()
        .map(|t| t.frames.as_slice())
        .unwrap_or(&[]);
    let duration_ms = (stream.duration_ms.max(frames.len() as u64 * 10)).max(1) as f64;
    let x = |ms: f64| LEFT + (WIDTH - LEFT - RIGHT) * ms / duration_ms;
    let y = |db: f64| {
        ENVELOPE_TOP + ENVELOPE_HEIGHT * (1.0 - ((db - DB_MIN) / (DB_MAX - DB_MIN)).clamp(0.0, 1.0))
    };
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="20" font-size="14">{} / stream {}</text>"#,
        escape(file),
        escape(&stream.id)
    );
    // time grid, every second
    let mut t = 0.0;
    while t <= duration_ms {
        let px = x(t);
        let _ = writeln!(
            svg,
            r##"<line x1="{px:.1}" y1="{ENVELOPE_TOP}" x2="{px:.1}" y2="{}" stroke="#eee"/>"##,
            EVENTS_TOP + 50.0
        );
        let _ = writeln!(
            svg,
            r##"<text x="{px:.1}" y="{}" fill="#666" text-anchor="middle">{:.0} s</text>"##,
            HEIGHT - 8.0,
            t / 1000.0
        );
        t += 1000.0;
    }
    // dB axis
    for db in [0.0, 20.0, 40.0, 60.0] {
        let py = y(db);
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{:.1}" fill="#666" text-anchor="end">{:.0} dBFS</text>"##,
            LEFT - 4.0,
            py + 4.0,
            db - 69.2
        );
    }
    let _ = writeln!(
        svg,
        r##"<text x="{}" y="{}" fill="#444">envelope (black), noise floor (grey)</text>"##,
        LEFT + 4.0,
        ENVELOPE_TOP + 12.0
    );
    if !frames.is_empty() {
        let level: Vec<String> = frames
            .iter()
            .enumerate()
            .map(|(i, f)| format!("{:.1},{:.1}", x(i as f64 * 10.0), y(f.level_db as f64)))
            .collect();
        let floor: Vec<String> = frames
            .iter()
            .enumerate()
            .map(|(i, f)| {
                format!(
                    "{:.1},{:.1}",
                    x(i as f64 * 10.0),
                    y(f.floor_db.min(100.0) as f64)
                )
            })
            .collect();
        let _ = writeln!(
            svg,
            r##"<polyline fill="none" stroke="#999" stroke-width="1" points="{}"/>"##,
            floor.join(" ")
        );
        let _ = writeln!(
            svg,
            r##"<polyline fill="none" stroke="black" stroke-width="1" points="{}"/>"##,
            level.join(" ")
        );
        // voice activity strip: speech in blue; frames a little short of
        // it, which carry on a greeting's speech (the VAD's hold), in light
        // blue; steady tones in amber
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" fill="#444" text-anchor="end">voice/tone</text>"##,
            LEFT - 4.0,
            VAD_TOP + 16.0
        );
        let kinds: [(FrameTest, &str); 3] = [
            (|f| f.held, "#b7d3f2"),
            (|f| f.speech, "#4a90d9"),
            (|f| f.tone, "#f4b400"),
        ];
        for (is_on, color) in kinds {
            for (s0, s1) in runs(frames, is_on) {
                let (x0, x1) = (x(s0 as f64 * 10.0), x(s1 as f64 * 10.0));
                let _ = writeln!(
                    svg,
                    r##"<rect x="{x0:.1}" y="{VAD_TOP}" width="{:.1}" height="{VAD_HEIGHT}" fill="{color}"/>"##,
                    (x1 - x0).max(0.5)
                );
            }
        }
    }
    // events
    let _ = writeln!(
        svg,
        r##"<text x="{}" y="{}" fill="#444" text-anchor="end">events</text>"##,
        LEFT - 4.0,
        EVENTS_TOP + 16.0
    );
    for event in &stream.events {
        match event {
            Event::Dtmf {
                digit,
                start_ms,
                end_ms,
                ..
            } => {
                let (x0, x1) = (x(*start_ms as f64), x(*end_ms as f64));
                let _ = writeln!(
                    svg,
                    r##"<rect x="{x0:.1}" y="{EVENTS_TOP}" width="{:.1}" height="20" fill="#7cb342"/>"##,
                    (x1 - x0).max(1.0)
                );
                let _ = writeln!(
                    svg,
                    r##"<text x="{x0:.1}" y="{}" fill="#33691e">DTMF {}</text>"##,
                    EVENTS_TOP + 34.0,
                    escape(&digit.to_string())
                );
            }
            Event::Beep {
                start_ms,
                end_ms,
                freq_hz,
            } => {
                let (x0, x1) = (x(*start_ms as f64), x(*end_ms as f64));
                let _ = writeln!(
                    svg,
                    r##"<rect x="{x0:.1}" y="{EVENTS_TOP}" width="{:.1}" height="20" fill="#fb8c00"/>"##,
                    (x1 - x0).max(1.0)
                );
                let _ = writeln!(
                    svg,
                    r##"<text x="{x0:.1}" y="{}" fill="#e65100">beep {freq_hz:.0} Hz</text>"##,
                    EVENTS_TOP + 34.0
                );
            }
            Event::Amd {
                verdict,
                at_ms,
                cause,
                confidence,
            } => {
                let px = x(*at_ms as f64);
                let color = match verdict.as_str() {
                    "human" => "#2e7d32",
                    "machine" => "#c62828",
                    _ => "#616161",
                };
                let _ = writeln!(
                    svg,
                    r##"<line x1="{px:.1}" y1="{ENVELOPE_TOP}" x2="{px:.1}" y2="{}" stroke="{color}" stroke-width="2" stroke-dasharray="6 3"/>"##,
                    EVENTS_TOP + 20.0
                );
                let _ = writeln!(
                    svg,
                    r##"<text x="{:.1}" y="{}" fill="{color}" font-weight="bold">AMD: {} at {:.2} s ({}, {:.2})</text>"##,
                    px + 4.0,
                    ENVELOPE_TOP + 28.0,
                    verdict.as_str(),
                    *at_ms as f64 / 1000.0,
                    escape(cause),
                    confidence
                );
            }
        }
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{DigitSource, Trace};
    use ringwire_dsp::amd::vad::VadFrame;
    use ringwire_dsp::amd::AmdVerdict;

    #[test]
    fn svg_shows_envelope_voice_events_and_decision() {
        let frames = (0..300)
            .map(|i| VadFrame {
                level_db: if (50..120).contains(&i) { 55.0 } else { 20.0 },
                floor_db: 20.0,
                speech: (50..120).contains(&i),
                tone: (200..230).contains(&i),
                tone_hz: if (200..230).contains(&i) { 1000.0 } else { 0.0 },
                tone_snr_db: if (200..230).contains(&i) { 30.0 } else { 0.0 },
                held: (120..135).contains(&i),
                call_progress: false,
                call_progress_hz: 0.0,
            })
            .collect();
        let stream = StreamReport {
            id: "ssrc=0x1<2>".into(),
            duration_ms: 3000,
            events: vec![
                Event::Dtmf {
                    digit: '#',
                    start_ms: 2000,
                    end_ms: 2100,
                    source: DigitSource::Inband,
                },
                Event::Beep {
                    start_ms: 2500,
                    end_ms: 2700,
                    freq_hz: 1000.0,
                },
                Event::Amd {
                    verdict: AmdVerdict::Human,
                    at_ms: 1650,
                    cause: "greeting-then-silence",
                    confidence: 0.85,
                },
            ],
            stats: Default::default(),
            trace: Some(Trace { frames }),
        };
        let svg = render("a&b.wav", &stream);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("a&amp;b.wav / stream ssrc=0x1&lt;2&gt;"));
        assert!(svg.contains("AMD: human at 1.65 s (greeting-then-silence, 0.85)"));
        assert!(svg.contains("beep 1000 Hz"));
        assert!(svg.contains("DTMF #"));
        assert_eq!(
            svg.matches(r##"fill="#4a90d9""##).count(),
            1,
            "one voice segment"
        );
        assert_eq!(
            svg.matches(r##"fill="#f4b400""##).count(),
            1,
            "one tone segment"
        );
        assert_eq!(
            svg.matches(r##"fill="#b7d3f2""##).count(),
            1,
            "one held segment"
        );
        assert!(svg.contains("<polyline"));
    }
}
