//! Helpers shared by the workspace's integration tests and benches: signal
//! construction with a G.711 round trip, speech from espeak-ng, and small
//! assertions.
use ringwire_dsp::dtmf::{detect_all, DtmfConfig, DtmfEvent};
use ringwire_dsp::g711::Law;
use ringwire_dsp::signal::{to_i16, DtmfTone, WhiteNoise};

/// Both G.711 laws, for tests that must hold for each.
pub const LAWS: [Law; 2] = [Law::Ulaw, Law::Alaw];

/// A signal under construction at 8 kHz, in 16-bit units (floating point).
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// The samples so far.
    pub samples: Vec<f64>,
}

impl Timeline {
    /// An empty signal.
    pub fn new() -> Self {
        Self::default()
    }

    /// Current length in samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether nothing has been added.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Appends `n` samples of silence.
    pub fn silence(&mut self, n: usize) -> &mut Self {
        self.samples.resize(self.samples.len() + n, 0.0);
        self
    }

    /// Appends a tone pair lasting `n` samples; returns its start sample.
    pub fn tone(&mut self, tone: DtmfTone, n: usize) -> usize {
        let start = self.samples.len();
        self.silence(n);
        let phase = (start as f64 * 0.37).sin() * 3.0;
        assert!(
            tone.add_to(&mut self.samples[start..], phase),
            "not a digit: {}",
            tone.digit
        );
        start
    }

    /// Adds white noise whose power is `snr_db` below `signal_power`.
    pub fn add_noise(&mut self, signal_power: f64, snr_db: f64, seed: u64) -> &mut Self {
        let rms = (signal_power / 10f64.powf(snr_db / 10.0)).sqrt();
        WhiteNoise::new(rms, seed).add_to(&mut self.samples);
        self
    }

    /// The signal after a G.711 encode/decode round trip in `law`.
    pub fn through(&self, law: Law) -> Vec<i16> {
        to_i16(&self.samples)
            .into_iter()
            .map(|s| law.decode_one(law.encode_one(s)))
            .collect()
    }
}

/// Power (mean square) of a sine with the given peak.
pub fn sine_power(peak: f64) -> f64 {
    peak * peak / 2.0
}

/// Detects with the default configuration.
pub fn detect(samples: &[i16]) -> Vec<DtmfEvent> {
    detect_all(samples, &DtmfConfig::default())
}

/// The digits of a list of events, as a string.
pub fn digits(events: &[DtmfEvent]) -> String {
    events.iter().map(|e| e.digit).collect()
}

/// Speaks `text` with espeak-ng (Debian package `espeak-ng`; the README's
/// test command installs it) into the WAV file `path`; `pitch` is 0-99.
pub fn espeak(voice: &str, wpm: u32, pitch: u32, text: &str, path: &std::path::Path) {
    let status = std::process::Command::new("espeak-ng")
        .args([
            "-v",
            voice,
            "-s",
            &wpm.to_string(),
            "-p",
            &pitch.to_string(),
            "-w",
        ])
        .arg(path)
        .arg(text)
        .status()
        .expect("espeak-ng is needed for this test: apt-get install espeak-ng");
    assert!(status.success(), "espeak-ng failed for voice {voice}");
}
