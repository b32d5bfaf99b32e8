//! Prints what the beep detector reports on a WAV file, without the call
//! context gating (for tuning): `cargo run --example beep_probe -- FILE`.
use ringwire_dsp::beep::{BeepConfig, BeepDetector};
use ringwire_dsp::features::{FeatureEngine, SoftwareEngine};

fn main() {
    for path in std::env::args().skip(1) {
        let streams = ringwire_media::input::read_input(path.as_ref()).expect("readable input");
        for s in streams {
            let mut engine = SoftwareEngine::new();
            let ch = engine.open_channel().unwrap();
            let mut blocks = Vec::new();
            engine.process(ch, &s.samples, &mut blocks).unwrap();
            let mut det = BeepDetector::new(BeepConfig::default());
            for b in &blocks {
                if let Some(e) = det.push(b) {
                    println!(
                        "{path} {}: beep {:.0} Hz {}..{} ms",
                        s.id,
                        e.freq_hz,
                        e.start / 8,
                        e.end / 8
                    );
                }
            }
        }
    }
}
