//! Offline analysis: run the detectors over WAV files and packet captures.
//!
//! Each input is read into its streams ([`ringwire_media::input`]); each
//! stream runs through a feature engine and the chosen detectors; the
//! resulting events are sorted by media time within the stream.
use ringwire_dsp::dtmf::{DtmfConfig, DtmfDetector};
use ringwire_dsp::features::{FeatureEngine, SoftwareEngine, BLOCK_LEN, SAMPLE_RATE};
use ringwire_media::input::{read_input, InputError, MediaStream, StreamStats};
use std::path::Path;
use std::str::FromStr;

/// A detector that can be switched on with `--detect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Detector {
    /// DTMF: in-band tones and RFC 4733 telephone events.
    Dtmf,
}

impl FromStr for Detector {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "dtmf" => Ok(Detector::Dtmf),
            other => Err(format!("unknown detector '{other}' (known: dtmf)")),
        }
    }
}

/// Where a DTMF digit was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DigitSource {
    /// Detected in the audio.
    Inband,
    /// Carried as RFC 4733 telephone events.
    Rfc4733,
}

/// Something a detector found in a stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A DTMF digit.
    Dtmf {
        /// `0-9`, `*`, `#`, `A-D`.
        digit: char,
        /// Start, ms of media time.
        start_ms: u64,
        /// End, ms of media time.
        end_ms: u64,
        /// In-band or RFC 4733.
        source: DigitSource,
    },
}

impl Event {
    /// Media time at which the event begins, for ordering.
    pub fn start_ms(&self) -> u64 {
        match self {
            Event::Dtmf { start_ms, .. } => *start_ms,
        }
    }
}

/// The result of analysing one stream.
#[derive(Debug, Clone)]
pub struct StreamReport {
    /// The stream's id (WAV channel index or capture SSRC).
    pub id: String,
    /// Media duration in ms.
    pub duration_ms: u64,
    /// Events in media-time order.
    pub events: Vec<Event>,
    /// Transport counters of the stream.
    pub stats: StreamStats,
}

/// The result of analysing one input file.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// The path as given.
    pub file: String,
    /// Its streams, in the order the input lists them.
    pub streams: Vec<StreamReport>,
}

/// What to run over every stream.
#[derive(Debug, Clone)]
pub struct AnalyzeOptions {
    /// Detectors to run.
    pub detectors: Vec<Detector>,
    /// DTMF thresholds.
    pub dtmf: DtmfConfig,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        Self {
            detectors: vec![Detector::Dtmf],
            dtmf: DtmfConfig::default(),
        }
    }
}

/// Reads and analyses one file.
pub fn analyze_file(path: &Path, options: &AnalyzeOptions) -> Result<FileReport, InputError> {
    let streams = read_input(path)?;
    let mut engine = SoftwareEngine::new();
    let streams = streams
        .iter()
        .map(|s| analyze_stream(&mut engine, s, options))
        .collect();
    Ok(FileReport {
        file: path.display().to_string(),
        streams,
    })
}

/// Runs the detectors over one stream.
pub fn analyze_stream(
    engine: &mut dyn FeatureEngine,
    stream: &MediaStream,
    options: &AnalyzeOptions,
) -> StreamReport {
    let mut events = Vec::new();
    if options.detectors.contains(&Detector::Dtmf) {
        events.extend(stream.telephone_events.iter().map(|t| Event::Dtmf {
            digit: t.digit,
            start_ms: t.start_ms,
            end_ms: t.end_ms,
            source: DigitSource::Rfc4733,
        }));
        if !stream.samples.is_empty() {
            events.extend(inband_dtmf(engine, &stream.samples, &options.dtmf));
        }
    }
    events.sort_by_key(Event::start_ms);
    StreamReport {
        id: stream.id.clone(),
        duration_ms: samples_to_ms(stream.samples.len() as u64),
        events,
        stats: stream.stats.clone(),
    }
}

fn inband_dtmf(engine: &mut dyn FeatureEngine, samples: &[i16], cfg: &DtmfConfig) -> Vec<Event> {
    let channel = match engine.open_channel() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("feature engine refused a channel: {e}");
            return Vec::new();
        }
    };
    let mut detector = DtmfDetector::new(cfg.clone());
    let mut blocks = Vec::with_capacity(4096 / BLOCK_LEN);
    let mut events = Vec::new();
    let mut to_event = |e: ringwire_dsp::dtmf::DtmfEvent| Event::Dtmf {
        digit: e.digit,
        start_ms: samples_to_ms(e.start),
        end_ms: samples_to_ms(e.end),
        source: DigitSource::Inband,
    };
    for chunk in samples.chunks(4096) {
        blocks.clear();
        if let Err(e) = engine.process(channel, chunk, &mut blocks) {
            tracing::error!("feature engine failed: {e}");
            break;
        }
        events.extend(
            blocks
                .iter()
                .filter_map(|b| detector.push(b))
                .map(&mut to_event),
        );
    }
    events.extend(detector.finish().map(&mut to_event));
    if let Err(e) = engine.close_channel(channel) {
        tracing::warn!("closing feature channel: {e}");
    }
    events
}

/// Converts a sample count at the feature rate to whole milliseconds.
pub fn samples_to_ms(samples: u64) -> u64 {
    samples * 1000 / SAMPLE_RATE as u64
}
