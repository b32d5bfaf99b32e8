//! scratch: per-10ms features of every case (binary f32 rows)
use ringwire_dsp::features::{FeatureBlock, FeatureEngine, SoftwareEngine, BINS};
use ringwire_host::corpus::read_cases;
use std::io::Write;
use std::path::Path;
fn main() {
    let dir = std::env::args().nth(1).unwrap();
    let out = std::env::args().nth(2).unwrap();
    let dir = Path::new(&dir);
    let mut f = std::io::BufWriter::new(std::fs::File::create(&out).unwrap());
    let mut idx = std::io::BufWriter::new(std::fs::File::create(format!("{out}.idx")).unwrap());
    for case in read_cases(dir).unwrap() {
        let s = &ringwire_media::input::read_input(&dir.join(&case.wav)).unwrap()[0];
        let mut e = SoftwareEngine::new();
        let ch = e.open_channel().unwrap();
        let mut blocks: Vec<FeatureBlock> = Vec::new();
        e.process(ch, &s.samples, &mut blocks).unwrap();
        let frames = blocks.len() / 2;
        writeln!(
            idx,
            "{}\t{}\t{}\t{}\t{}\t{}",
            case.id, case.kind, case.greeting_start_ms, case.greeting_end_ms, frames, case.noise
        )
        .unwrap();
        for fr in blocks.chunks_exact(2) {
            let mut row = [0f32; 4 + BINS];
            for b in fr {
                row[0] += b.energy as f32;
                row[1] += b.acf[0] as f32;
                row[2] += b.acf[1] as f32;
                row[3] += b.zero_crossings as f32;
                for k in 0..BINS {
                    row[4 + k] += b.power(k) as f32;
                }
            }
            for v in row {
                f.write_all(&v.to_le_bytes()).unwrap();
            }
        }
    }
}
