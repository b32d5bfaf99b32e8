//! Offline analysis: run the detectors over WAV files and packet captures.
//!
//! Each input is read into its streams ([`ringwire_media::input`]); each
//! stream runs through a feature engine and the chosen detectors; the
//! resulting events are sorted by media time within the stream.
use ringwire_dsp::amd::vad::{Framer, Vad, VadFrame};
use ringwire_dsp::amd::{AmdConfig, AmdDetector, AmdVerdict, TONE_SOUNDING_MS};
use ringwire_dsp::beep::{BeepConfig, BeepDetector};
use ringwire_dsp::dtmf::{DtmfConfig, DtmfDetector};
use ringwire_dsp::features::{
    EngineError, FeatureBlock, FeatureEngine, SoftwareEngine, BLOCK_LEN, SAMPLE_RATE,
};
use ringwire_media::input::{read_input, InputError, MediaStream, StreamStats};
use std::path::Path;
use std::str::FromStr;

/// Which feature engine computes the detectors' features: `--dsp-backend`
/// of `ringwire analyze` and `ringwire serve`, `[detectors] dsp_backend`.
/// The decisions run in the same Rust on either, so events are identical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DspBackend {
    /// The CPU's fixed-point path (the software feature engine).
    #[default]
    Software,
    /// The FPGA block's RTL simulated in Verilator (needs the binary built
    /// with `--features fpga-sim`).
    FpgaSim,
}

/// Why a [`DspBackend`] gave no engine.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BackendError {
    /// The backend was not compiled into this binary.
    #[error(
        "this ringwire was built without the fpga-sim feature; \
         rebuild with --features fpga-sim (needs Verilator)"
    )]
    NotBuilt,
    /// The engine could not start, or cannot hold the channels asked for.
    #[error("{backend} backend: {source}")]
    Engine {
        /// The backend's name.
        backend: &'static str,
        /// What it said.
        source: EngineError,
    },
}

impl DspBackend {
    /// Whether this binary has the backend: [`BackendError::NotBuilt`] if
    /// not. Cheap: check it before starting work.
    pub fn check(self) -> Result<(), BackendError> {
        match self {
            DspBackend::Software => Ok(()),
            DspBackend::FpgaSim if cfg!(feature = "fpga-sim") => Ok(()),
            DspBackend::FpgaSim => Err(BackendError::NotBuilt),
        }
    }

    /// The name the engine reports (`FeatureEngine::name`).
    pub fn name(self) -> &'static str {
        match self {
            DspBackend::Software => "software",
            DspBackend::FpgaSim => "fpga-sim",
        }
    }

    /// A fresh engine that can hold `channels` open channels at once
    /// (`None`: as many as the backend has). The simulated block is
    /// configured (`CHAN_COUNT`) for exactly that many, so samples for any
    /// other channel slot would be dropped and counted by the block.
    pub fn engine(
        self,
        channels: Option<usize>,
    ) -> Result<Box<dyn FeatureEngine + Send>, BackendError> {
        self.check()?;
        match self {
            DspBackend::Software => Ok(Box::new(SoftwareEngine::new())),
            DspBackend::FpgaSim => fpga_sim_engine(channels),
        }
    }
}

#[cfg(feature = "fpga-sim")]
fn fpga_sim_engine(channels: Option<usize>) -> Result<Box<dyn FeatureEngine + Send>, BackendError> {
    use ringwire_fpga::{regs, FpgaSimEngine};
    let err = |source| BackendError::Engine {
        backend: "fpga-sim",
        source,
    };
    let mut engine = FpgaSimEngine::new().map_err(err)?;
    let capacity = engine.capacity();
    if let Some(n) = channels {
        let n = n.max(1);
        if n > capacity {
            return Err(err(EngineError::NoFreeChannel { capacity }));
        }
        engine
            .sim()
            .write32(regs::CHAN_COUNT, n as u32)
            .map_err(|e| err(EngineError::Backend(e.to_string())))?;
    }
    Ok(Box::new(engine))
}

#[cfg(not(feature = "fpga-sim"))]
fn fpga_sim_engine(_: Option<usize>) -> Result<Box<dyn FeatureEngine + Send>, BackendError> {
    Err(BackendError::NotBuilt)
}

/// Why [`analyze_file_with`] could not analyse a file.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// The input could not be read.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The feature engine could not be created.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// A detector that can be switched on with `--detect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Detector {
    /// DTMF: in-band tones and RFC 4733 telephone events.
    Dtmf,
    /// Answering-machine detection: one `human`/`machine`/`unknown` verdict.
    Amd,
    /// Voicemail beeps.
    Beep,
}

impl FromStr for Detector {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "dtmf" => Ok(Detector::Dtmf),
            "amd" => Ok(Detector::Amd),
            "beep" => Ok(Detector::Beep),
            other => Err(format!(
                "unknown detector '{other}' (known: dtmf, amd, beep)"
            )),
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
    /// The answering-machine verdict (exactly one per stream with AMD on).
    Amd {
        /// human, machine or unknown.
        verdict: AmdVerdict,
        /// Media time of the decision, ms: only audio before it was used.
        at_ms: u64,
        /// The rule that decided.
        cause: &'static str,
        /// 0..1.
        confidence: f32,
    },
    /// A voicemail beep.
    Beep {
        /// Start, ms of media time.
        start_ms: u64,
        /// End, ms of media time.
        end_ms: u64,
        /// Frequency, Hz.
        freq_hz: f32,
    },
}

impl Event {
    /// Media time at which the event happens, for ordering.
    pub fn time_ms(&self) -> u64 {
        match self {
            Event::Dtmf { start_ms, .. } | Event::Beep { start_ms, .. } => *start_ms,
            Event::Amd { at_ms, .. } => *at_ms,
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
    /// Level and voice activity per 10 ms, when asked for.
    pub trace: Option<Trace>,
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
    /// AMD parameters.
    pub amd: AmdConfig,
    /// Beep parameters.
    pub beep: BeepConfig,
    /// Record a [`Trace`] of every stream (for `--plot`).
    pub trace: bool,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        Self {
            detectors: vec![Detector::Dtmf],
            dtmf: DtmfConfig::default(),
            amd: AmdConfig::default(),
            beep: BeepConfig::default(),
            trace: false,
        }
    }
}

/// What a stream looked like to the detectors, per 10 ms frame: for plots.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// One entry per 10 ms of media time.
    pub frames: Vec<VadFrame>,
}

/// Records a [`Trace`] from feature blocks with the AMD detector's VAD.
struct Tracer {
    vad: Vad,
    framer: Framer,
    trace: Trace,
}

impl Tracer {
    fn new(amd: &AmdConfig) -> Self {
        Self {
            vad: AmdDetector::vad_for(amd),
            framer: Framer::default(),
            trace: Trace::default(),
        }
    }

    fn push(&mut self, block: &FeatureBlock) {
        if let Some(frame) = self.framer.push(block) {
            self.trace.frames.push(self.vad.push_frame(frame));
        }
    }
}

impl AnalyzeOptions {
    /// Options running the given detectors with default parameters.
    pub fn with_detectors(detectors: &[Detector]) -> Self {
        Self {
            detectors: detectors.to_vec(),
            ..Self::default()
        }
    }

    fn wants(&self, d: Detector) -> bool {
        self.detectors.contains(&d)
    }
}

/// Reads and analyses one file with the software engine.
pub fn analyze_file(path: &Path, options: &AnalyzeOptions) -> Result<FileReport, InputError> {
    let streams = read_input(path)?;
    let mut engine = SoftwareEngine::new();
    Ok(report_streams(path, &streams, &mut engine, options))
}

/// Reads and analyses one file with a fresh engine of `backend`, sized for
/// the file's streams (they run one after the other, each on its own
/// channel, closed before the next opens).
pub fn analyze_file_with(
    path: &Path,
    options: &AnalyzeOptions,
    backend: DspBackend,
) -> Result<FileReport, AnalyzeError> {
    backend.check()?;
    let streams = read_input(path)?;
    let mut engine = backend.engine(Some(streams.len().max(1)))?;
    tracing::debug!(file = %path.display(), engine = engine.name(), streams = streams.len(), "analyze");
    Ok(report_streams(path, &streams, engine.as_mut(), options))
}

fn report_streams(
    path: &Path,
    streams: &[MediaStream],
    engine: &mut dyn FeatureEngine,
    options: &AnalyzeOptions,
) -> FileReport {
    let streams = streams
        .iter()
        .map(|s| analyze_stream(engine, s, options))
        .collect();
    FileReport {
        file: path.display().to_string(),
        streams,
    }
}

/// Runs the detectors over one stream.
pub fn analyze_stream(
    engine: &mut dyn FeatureEngine,
    stream: &MediaStream,
    options: &AnalyzeOptions,
) -> StreamReport {
    let mut events = Vec::new();
    if options.wants(Detector::Dtmf) {
        events.extend(stream.telephone_events.iter().map(|t| Event::Dtmf {
            digit: t.digit,
            start_ms: t.start_ms,
            end_ms: t.end_ms,
            source: DigitSource::Rfc4733,
        }));
    }
    let in_audio = options.wants(Detector::Dtmf)
        || options.wants(Detector::Amd)
        || options.wants(Detector::Beep);
    let mut tracer = options.trace.then(|| Tracer::new(&options.amd));
    if in_audio || tracer.is_some() {
        events.extend(run_detectors(
            engine,
            &stream.samples,
            options,
            tracer.as_mut(),
        ));
    }
    events.sort_by_key(Event::time_ms);
    StreamReport {
        id: stream.id.clone(),
        duration_ms: samples_to_ms(stream.samples.len() as u64),
        events,
        stats: stream.stats.clone(),
        trace: tracer.map(|t| t.trace),
    }
}

/// Runs the in-audio detectors (in-band DTMF, AMD, beep) over 8 kHz
/// samples, in one pass of the feature engine; events in media-time order.
/// With AMD on there is exactly one `Event::Amd`.
pub fn analyze_samples(
    engine: &mut dyn FeatureEngine,
    samples: &[i16],
    options: &AnalyzeOptions,
) -> Vec<Event> {
    run_detectors(engine, samples, options, None)
}

fn run_detectors(
    engine: &mut dyn FeatureEngine,
    samples: &[i16],
    options: &AnalyzeOptions,
    mut tracer: Option<&mut Tracer>,
) -> Vec<Event> {
    let mut events = Vec::new();
    let channel = match engine.open_channel() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("feature engine refused a channel: {e}");
            return events;
        }
    };
    let mut call = CallDetectors::new(options);
    let mut blocks = Vec::with_capacity(4096 / BLOCK_LEN);
    for chunk in samples.chunks(4096) {
        blocks.clear();
        if let Err(e) = engine.process(channel, chunk, &mut blocks) {
            tracing::error!("feature engine failed: {e}");
            break;
        }
        for block in &blocks {
            call.push(block, &mut events);
            if let Some(t) = tracer.as_deref_mut() {
                t.push(block);
            }
        }
    }
    call.finish(&mut events);
    if let Err(e) = engine.close_channel(channel) {
        tracing::warn!("closing feature channel: {e}");
    }
    events.sort_by_key(Event::time_ms);
    events
}

/// The detectors of one stream, fed the same feature blocks.
///
/// Beeps are reported only in context: after the greeting and not
/// overlapping speech (so ring-back, busy and information tones before an
/// answer, and held vowels, are not beeps). A beep after a "human" verdict
/// is still reported: a short machine greeting can be judged live before
/// its beep sounds, and the beep is then what tells the dialer. (Live
/// calls' call-waiting and recorder tones are rejected by the beep
/// detector itself, by their signatures.) The AMD detector runs whenever
/// beeps are asked for, and its verdict is reported only when AMD is asked
/// for too.
///
/// Beeps are listened for while they can mean a voicemail prompt: until
/// AMD decides, for the 10 s after a "human" or "unknown" verdict in which
/// AMD still follows the talker (a beep a wrong "human" missed comes
/// within a second or two of the greeting), and for
/// [`BEEP_AFTER_MACHINE_MS`] after a "machine" verdict (the rest of the
/// greeting). After that, with the beep detector idle, it is fed no more:
/// a tone minutes into a conversation is no voicemail beep, and a
/// carrier-scale node spends nothing on it.
pub struct CallDetectors {
    dtmf: Option<DtmfDetector>,
    amd: Option<AmdDetector>,
    report_amd: bool,
    beep: Option<BeepDetector>,
    /// Media time (samples) of a "machine" verdict, once made.
    machine_at: Option<u64>,
    /// Media time (samples) of the blocks fed so far.
    position: u64,
    /// Whether beep listening has ended (for good).
    beep_done: bool,
}

/// How long after a "machine" verdict a voicemail beep is still listened
/// for, ms: the greeting may go on after the verdict (a long one is called
/// at its first sentence pause, or after 4.8 s of it).
pub const BEEP_AFTER_MACHINE_MS: u64 = 60_000;

impl CallDetectors {
    /// The detectors `options` asks for.
    pub fn new(options: &AnalyzeOptions) -> Self {
        let beep = options.wants(Detector::Beep);
        let report_amd = options.wants(Detector::Amd);
        Self {
            dtmf: options
                .wants(Detector::Dtmf)
                .then(|| DtmfDetector::new(options.dtmf.clone())),
            amd: (report_amd || beep).then(|| AmdDetector::new(options.amd.clone())),
            report_amd,
            // signalling-like tones come flagged; `on_beep` takes them
            // only on a line already known to be a machine
            beep: beep.then(|| {
                BeepDetector::new(BeepConfig {
                    report_signalling: true,
                    ..options.beep.clone()
                })
            }),
            machine_at: None,
            position: 0,
            beep_done: false,
        }
    }

    /// Whether any detector still has a use for the stream's audio: DTMF
    /// for the whole call; AMD until it decides and for its 10 s of
    /// tracking after; beeps while they are listened for (see the type's
    /// doc). A live leg whose detectors are done is fed no more audio.
    pub fn wants_audio(&self) -> bool {
        self.dtmf.is_some()
            || self.amd.as_ref().is_some_and(AmdDetector::is_tracking)
            || (self.beep.is_some() && !self.beep_done)
    }

    /// Whether a beep could still be a voicemail prompt at the current
    /// position (see the type's doc).
    fn beep_listening(&self) -> bool {
        let Some(amd) = &self.amd else {
            return true;
        };
        match self.machine_at {
            Some(at) => self.position < at + BEEP_AFTER_MACHINE_MS * SAMPLE_RATE as u64 / 1000,
            None => amd.is_tracking(),
        }
    }

    /// Feeds one block; appends what ended with it.
    pub fn push(&mut self, block: &FeatureBlock, events: &mut Vec<Event>) {
        if let Some(d) = self.dtmf.as_mut().and_then(|d| d.push(block)) {
            events.push(dtmf_event(d));
        }
        self.position += BLOCK_LEN as u64;
        if !self.beep_done && !self.beep_listening() {
            self.beep_done = self.beep.as_ref().is_none_or(BeepDetector::is_idle);
        }
        let beep = self.beep.as_mut().filter(|_| !self.beep_done);
        if let Some(b) = beep.and_then(|b| b.push(block)) {
            self.on_beep(b, events);
        }
        if let (Some(beep), Some(amd)) = (self.beep.as_mut(), self.amd.as_mut()) {
            if beep.take_sit().is_some() {
                amd.note_sit();
            }
            amd.note_beep_in_flight(beep.beep_in_flight());
            amd.note_tone_sounding(beep.tone_sounding(TONE_SOUNDING_MS));
        }
        if let Some(a) = self.amd.as_mut().and_then(|a| a.push(block)) {
            self.on_amd(a, events);
        }
    }

    fn on_amd(&mut self, a: ringwire_dsp::amd::AmdDecision, events: &mut Vec<Event>) {
        if a.verdict == AmdVerdict::Machine {
            self.machine_at = Some(a.at);
        }
        if self.report_amd {
            events.push(amd_event(a));
        }
    }

    /// A beep counts only after the greeting (not overlapping speech). A
    /// tone like a live call's signalling tone (the 1400 Hz recorder
    /// warning, call waiting) counts only on a line AMD had already called
    /// a machine when the tone began: there it is the voicemail's beep.
    fn on_beep(&mut self, b: ringwire_dsp::beep::BeepEvent, events: &mut Vec<Event>) {
        let Some(amd) = &mut self.amd else { return };
        if b.signalling && self.machine_at.is_none_or(|at| at > b.start) {
            return;
        }
        if amd.note_beep(b.start, b.end) {
            events.push(beep_event(b));
        }
    }

    /// Ends the stream.
    pub fn finish(&mut self, events: &mut Vec<Event>) {
        if let Some(d) = self.dtmf.as_mut().and_then(DtmfDetector::finish) {
            events.push(dtmf_event(d));
        }
        // (the beep detector reports nothing at the end: a candidate still
        // in its hold-off may be a cadence's burst; see BeepDetector::finish)
        if let Some(a) = self.amd.as_mut().and_then(AmdDetector::finish) {
            self.on_amd(a, events);
        }
    }
}

fn dtmf_event(e: ringwire_dsp::dtmf::DtmfEvent) -> Event {
    Event::Dtmf {
        digit: e.digit,
        start_ms: samples_to_ms(e.start),
        end_ms: samples_to_ms(e.end),
        source: DigitSource::Inband,
    }
}

fn beep_event(b: ringwire_dsp::beep::BeepEvent) -> Event {
    Event::Beep {
        start_ms: samples_to_ms(b.start),
        end_ms: samples_to_ms(b.end),
        freq_hz: b.freq_hz,
    }
}

fn amd_event(a: ringwire_dsp::amd::AmdDecision) -> Event {
    Event::Amd {
        verdict: a.verdict,
        at_ms: samples_to_ms(a.at),
        cause: a.cause,
        confidence: a.confidence,
    }
}

/// Converts a sample count at the feature rate to whole milliseconds.
pub fn samples_to_ms(samples: u64) -> u64 {
    samples * 1000 / SAMPLE_RATE as u64
}
