//! Throughput of G.711 decode and DTMF detection, in 8 kHz channels per core,
//! side by side with spandsp's `dtmf_rx` (the peer users would otherwise
//! pick). See `benches/README.md`; run with `cargo bench --bench dtmf`.
//!
//! Every timed iteration is one media tick of a worker: [`CHANNELS`]
//! channels, each fed its next 20 ms frame (160 samples) round-robin, with
//! per-channel state (engine channel + `DtmfDetector`, or one spandsp
//! `dtmf_rx_state_t`). All channels play the same [`Input`] signal, each from
//! a different offset, looping.
//!
//! Groups (throughput in samples; channels per core = samples/s / 8000):
//!
//! - `g711_decode`: µ-law and A-law frame decode alone.
//! - `dtmf_detect_linear`: i16 frames in; ringwire (engine + detector) vs
//!   spandsp `dtmf_rx`.
//! - `dtmf_detect_g711`: µ-law bytes in; ringwire decode + ringwire detect vs
//!   the same ringwire decode + spandsp `dtmf_rx`.
//! - `dtmf_kernels`: the feature engine alone (no decisions) for every
//!   `KernelKind` this CPU runs, and ringwire engine + detector per kernel.
//! - `dtmf_split`: the decisions alone (`DtmfDetector::push` on precomputed
//!   feature blocks), to show where ringwire's time goes.
//!
//! Before timing, both detectors are checked on the input (ringwire must find
//! exactly the expected digits; spandsp's digits are printed). After the
//! criterion groups (only under `cargo bench`, i.e. with `--bench`), a plain
//! timed loop (best of 3) prints one `ratio` line per comparison.
use criterion::{BenchmarkId, Criterion, Throughput};
use ringwire_dsp::dtmf::DtmfDetector;
use ringwire_dsp::features::{
    ChannelId, FeatureBlock, FeatureEngine, KernelKind, SoftwareEngine, BLOCK_LEN,
};
use ringwire_dsp::g711::Law;
use ringwire_dsp::signal::{to_i16, DtmfTone, WhiteNoise};
use std::hint::black_box;
use std::time::{Duration, Instant};

#[path = "support/spandsp_ffi.rs"]
mod spandsp_ffi;
#[path = "support/speechlike.rs"]
mod speechlike;
use spandsp_ffi::DtmfRx;
use speechlike::{add_speech, rms_at, MS};

/// Channels processed per tick.
const CHANNELS: usize = 256;
/// Samples per frame (20 ms at 8 kHz).
const FRAME: usize = 160;
/// Length of the shared input signal: 6 s.
const INPUT_LEN: usize = 6 * 8000;
const NFRAMES: usize = INPUT_LEN / FRAME;
/// Samples processed per timed iteration (one tick of all channels).
const TICK_SAMPLES: usize = CHANNELS * FRAME;

/// The bench input: 6 s of 8 kHz audio, the same for every channel (each
/// channel starts at its own offset and loops):
///
/// - background white noise at -55 dBm0 throughout;
/// - 0.2 s noise only, then 10 DTMF digits `159#D*0372`, each 50-100 ms on
///   and 50-100 ms off, at -10..-25 dBm0 per tone;
/// - 1.2 s of speech-like sound: harmonic vowels (/a/ /i/ /u/ /e/ /o/
///   formants) with a gliding pitch (95-230 Hz), -16..-24 dBm0, separated by
///   fricative-like white noise bursts at -30 dBm0;
/// - 0.3 s of white noise at -30 dBm0;
/// - 7 more digits `48B6AC#` (one with 2 dB normal twist, one with 2 dB
///   reverse twist), same timing rules;
/// - 0.6 s more speech-like sound, then background noise to the end.
///
/// `pcm` is that signal as i16; `ulaw`/`alaw` are it encoded.
struct Input {
    pcm: Vec<i16>,
    ulaw: Vec<u8>,
    alaw: Vec<u8>,
    expected: String,
    /// Feature blocks of the whole (looped) µ-law-free linear input, for the
    /// decisions-alone bench.
    blocks: Vec<FeatureBlock>,
}

/// Adds digits from `t`; returns the new `t` and appends them to `expected`.
fn add_digits(
    sig: &mut [f64],
    mut t: usize,
    digits: &str,
    salt: usize,
    expected: &mut String,
) -> usize {
    for (i, d) in digits.chars().enumerate() {
        let k = i + salt;
        let on = (50 + (k * 13) % 51) * MS;
        let off = (50 + (k * 29) % 51) * MS;
        let level = -10.0 - ((k * 5) % 16) as f64;
        let mut tone = DtmfTone::new(d, level);
        match k % 7 {
            3 => tone.low_dbm0 -= 2.0,  // normal twist
            5 => tone.high_dbm0 -= 2.0, // reverse twist
            _ => {}
        }
        assert!(tone.add_to(&mut sig[t..t + on], 0.3 * k as f64));
        expected.push(d);
        t += on + off;
    }
    t
}

impl Input {
    fn build() -> Self {
        let mut sig = vec![0.0f64; INPUT_LEN];
        WhiteNoise::new(rms_at(-55.0), 7).add_to(&mut sig);
        let mut expected = String::new();
        let mut t = 200 * MS;
        t = add_digits(&mut sig, t, "159#D*0372", 0, &mut expected);
        t = add_speech(&mut sig, t, 1200 * MS, 1);
        WhiteNoise::new(rms_at(-30.0), 11).add_to(&mut sig[t..t + 300 * MS]);
        t += 300 * MS + 50 * MS;
        t = add_digits(&mut sig, t, "48B6AC#", 10, &mut expected);
        t = add_speech(&mut sig, t, 600 * MS, 6);
        assert!(t < INPUT_LEN - 100 * MS, "input layout overflows: {t}");

        let pcm = to_i16(&sig);
        let mut ulaw = vec![0u8; INPUT_LEN];
        let mut alaw = vec![0u8; INPUT_LEN];
        Law::Ulaw.encode(&pcm, &mut ulaw);
        Law::Alaw.encode(&pcm, &mut alaw);
        let mut engine = SoftwareEngine::new();
        let ch = engine.open_channel().unwrap();
        let mut blocks = Vec::new();
        engine.process(ch, &pcm, &mut blocks).unwrap();
        assert_eq!(blocks.len(), INPUT_LEN / BLOCK_LEN);
        Self {
            pcm,
            ulaw,
            alaw,
            expected,
            blocks,
        }
    }

    /// First frame index of channel `ch` at tick 0.
    #[inline]
    fn frame_index(ch: usize, tick: usize) -> usize {
        (ch * 61 + tick) % NFRAMES
    }

    #[inline]
    fn pcm_frame(&self, ch: usize, tick: usize) -> &[i16] {
        let s = Self::frame_index(ch, tick) * FRAME;
        &self.pcm[s..s + FRAME]
    }

    #[inline]
    fn law_frame(&self, law: Law, ch: usize, tick: usize) -> &[u8] {
        let s = Self::frame_index(ch, tick) * FRAME;
        match law {
            Law::Ulaw => &self.ulaw[s..s + FRAME],
            Law::Alaw => &self.alaw[s..s + FRAME],
        }
    }

    #[inline]
    fn frame_blocks(&self, ch: usize, tick: usize) -> &[FeatureBlock] {
        let per = FRAME / BLOCK_LEN;
        let s = Self::frame_index(ch, tick) * per;
        &self.blocks[s..s + per]
    }
}

/// ringwire's side: one software engine holding every channel, and one
/// detector per channel.
struct Ringwire {
    engine: SoftwareEngine,
    chans: Vec<ChannelId>,
    dets: Vec<DtmfDetector>,
    blocks: Vec<FeatureBlock>,
    tick: usize,
    digits: u64,
}

impl Ringwire {
    fn new(kernel: KernelKind, channels: usize) -> Self {
        let mut engine = SoftwareEngine::with_kernel(kernel);
        assert_eq!(engine.kernel(), kernel);
        let chans = (0..channels)
            .map(|_| engine.open_channel().unwrap())
            .collect();
        Self {
            engine,
            chans,
            dets: (0..channels).map(|_| DtmfDetector::default()).collect(),
            blocks: Vec::with_capacity(16),
            tick: 0,
            digits: 0,
        }
    }

    #[inline]
    fn feed(&mut self, ch: usize, pcm: &[i16]) -> Option<char> {
        self.blocks.clear();
        self.engine
            .process(self.chans[ch], pcm, &mut self.blocks)
            .unwrap();
        self.decide(ch)
    }

    /// G.711 bytes in: the engine decodes while it assembles blocks.
    #[inline]
    fn feed_g711(&mut self, ch: usize, law: Law, payload: &[u8]) -> Option<char> {
        self.blocks.clear();
        self.engine
            .process_g711(self.chans[ch], law, payload, &mut self.blocks)
            .unwrap();
        self.decide(ch)
    }

    #[inline]
    fn decide(&mut self, ch: usize) -> Option<char> {
        let mut last = None;
        for b in &self.blocks {
            if let Some(ev) = self.dets[ch].push(b) {
                self.digits += 1;
                last = Some(ev.digit);
            }
        }
        last
    }

    /// One tick, linear frames in.
    fn tick_linear(&mut self, input: &Input) {
        for ch in 0..self.chans.len() {
            self.feed(ch, input.pcm_frame(ch, self.tick));
        }
        self.tick += 1;
    }

    /// One tick, G.711 frames in: decode (fused into the engine), detect.
    fn tick_g711(&mut self, input: &Input, law: Law) {
        for ch in 0..self.chans.len() {
            self.feed_g711(ch, law, input.law_frame(law, ch, self.tick));
        }
        self.tick += 1;
    }

    /// One tick of the feature engine alone (no decisions).
    fn tick_engine(&mut self, input: &Input) {
        for ch in 0..self.chans.len() {
            self.blocks.clear();
            self.engine
                .process(
                    self.chans[ch],
                    input.pcm_frame(ch, self.tick),
                    &mut self.blocks,
                )
                .unwrap();
            black_box(&self.blocks);
        }
        self.tick += 1;
    }

    /// One tick of the decisions alone, on precomputed feature blocks.
    fn tick_decisions(&mut self, input: &Input) {
        for ch in 0..self.dets.len() {
            for b in input.frame_blocks(ch, self.tick) {
                if self.dets[ch].push(b).is_some() {
                    self.digits += 1;
                }
            }
        }
        self.tick += 1;
    }
}

/// spandsp's side: one `dtmf_rx` per channel.
struct Spandsp {
    rx: Vec<DtmfRx>,
    pcm: [i16; FRAME],
    tick: usize,
}

impl Spandsp {
    fn new(channels: usize) -> Self {
        Self {
            rx: (0..channels).map(|_| DtmfRx::new()).collect(),
            pcm: [0; FRAME],
            tick: 0,
        }
    }

    fn tick_linear(&mut self, input: &Input) {
        for (ch, rx) in self.rx.iter_mut().enumerate() {
            rx.process(input.pcm_frame(ch, self.tick));
        }
        self.tick += 1;
    }

    fn tick_g711(&mut self, input: &Input, law: Law) {
        for (ch, rx) in self.rx.iter_mut().enumerate() {
            let mut pcm = self.pcm;
            law.decode(input.law_frame(law, ch, self.tick), &mut pcm);
            rx.process(&pcm);
        }
        self.tick += 1;
    }

    fn digits(&self) -> u64 {
        self.rx.iter().map(|r| r.digits().count).sum()
    }
}

/// One tick of G.711 decode alone.
fn tick_decode(input: &Input, law: Law, tick: usize, pcm: &mut [i16; FRAME]) {
    for ch in 0..CHANNELS {
        law.decode(input.law_frame(law, ch, tick), pcm);
        black_box(&*pcm);
    }
}

fn kernels() -> Vec<KernelKind> {
    [KernelKind::Scalar, KernelKind::Avx2, KernelKind::Avx512Vnni]
        .into_iter()
        .filter(|k| k.is_supported())
        .collect()
}

fn kernel_name(k: KernelKind) -> &'static str {
    match k {
        KernelKind::Scalar => "scalar",
        KernelKind::Avx2 => "avx2",
        KernelKind::Avx512Vnni => "avx512vnni",
    }
}

/// Checks that both detectors work on the bench input before timing.
fn verify(input: &Input) {
    // One channel from offset 0, one full pass, 20 ms frames.
    for (what, law) in [
        ("linear", None),
        ("µ-law", Some(Law::Ulaw)),
        ("A-law", Some(Law::Alaw)),
    ] {
        let mut rw = Ringwire::new(KernelKind::detect(), 1);
        let mut sp = DtmfRx::new();
        let mut got = String::new();
        for f in 0..NFRAMES {
            let mut pcm = [0i16; FRAME];
            let digit = match law {
                None => {
                    pcm.copy_from_slice(&input.pcm[f * FRAME..(f + 1) * FRAME]);
                    rw.feed(0, &pcm)
                }
                Some(l) => {
                    let src = match l {
                        Law::Ulaw => &input.ulaw,
                        Law::Alaw => &input.alaw,
                    };
                    let payload = &src[f * FRAME..(f + 1) * FRAME];
                    l.decode(payload, &mut pcm);
                    rw.feed_g711(0, l, payload)
                }
            };
            if let Some(d) = digit {
                got.push(d);
            }
            sp.process(&pcm);
        }
        if let Some(ev) = rw.dets[0].finish() {
            got.push(ev.digit);
        }
        assert_eq!(
            got, input.expected,
            "ringwire missed or added digits on the {what} bench input"
        );
        let sp_digits = &sp.digits().text;
        println!(
            "check ({what}): expected {:>17}  ringwire {:>17} ok  spandsp {:>17} {}",
            input.expected,
            got,
            sp_digits,
            if *sp_digits == input.expected {
                "ok"
            } else {
                "DIFFERS"
            }
        );
    }
    // All channels, one full loop of the input each (a digit cut by a
    // channel's start offset may be lost or split: counts are approximate).
    let mut rw = Ringwire::new(KernelKind::detect(), CHANNELS);
    let mut sp = Spandsp::new(CHANNELS);
    for _ in 0..NFRAMES {
        rw.tick_linear(input);
        sp.tick_linear(input);
    }
    println!(
        "check ({CHANNELS} channels x {} s): expected ~{} digits, ringwire {}, spandsp {}",
        INPUT_LEN / 8000,
        CHANNELS * input.expected.len(),
        rw.digits,
        sp.digits()
    );
    let want = (CHANNELS * input.expected.len()) as u64;
    assert!(
        rw.digits.abs_diff(want) <= CHANNELS as u64,
        "ringwire digit count off on the multichannel run"
    );
}

fn bench_g711(c: &mut Criterion, input: &Input) {
    let mut g = c.benchmark_group("g711_decode");
    g.throughput(Throughput::Elements(TICK_SAMPLES as u64));
    for (name, law) in [("ulaw", Law::Ulaw), ("alaw", Law::Alaw)] {
        g.bench_function(name, |b| {
            let (mut tick, mut pcm) = (0usize, [0i16; FRAME]);
            b.iter(|| {
                tick_decode(input, law, tick, &mut pcm);
                tick += 1;
            })
        });
    }
    g.finish();
}

fn bench_linear(c: &mut Criterion, input: &Input) {
    let mut g = c.benchmark_group("dtmf_detect_linear");
    g.throughput(Throughput::Elements(TICK_SAMPLES as u64));
    let kernel = KernelKind::detect();
    g.bench_function(BenchmarkId::new("ringwire", kernel_name(kernel)), |b| {
        let mut rw = Ringwire::new(kernel, CHANNELS);
        b.iter(|| rw.tick_linear(input))
    });
    g.bench_function("spandsp", |b| {
        let mut sp = Spandsp::new(CHANNELS);
        b.iter(|| sp.tick_linear(input))
    });
    g.finish();
}

fn bench_g711_detect(c: &mut Criterion, input: &Input) {
    let mut g = c.benchmark_group("dtmf_detect_g711");
    g.throughput(Throughput::Elements(TICK_SAMPLES as u64));
    let kernel = KernelKind::detect();
    g.bench_function(
        BenchmarkId::new("ringwire_ulaw", kernel_name(kernel)),
        |b| {
            let mut rw = Ringwire::new(kernel, CHANNELS);
            b.iter(|| rw.tick_g711(input, Law::Ulaw))
        },
    );
    g.bench_function("spandsp_ulaw", |b| {
        let mut sp = Spandsp::new(CHANNELS);
        b.iter(|| sp.tick_g711(input, Law::Ulaw))
    });
    g.finish();
}

fn bench_kernels(c: &mut Criterion, input: &Input) {
    let mut g = c.benchmark_group("dtmf_kernels");
    g.throughput(Throughput::Elements(TICK_SAMPLES as u64));
    for k in kernels() {
        g.bench_function(BenchmarkId::new("engine", kernel_name(k)), |b| {
            let mut rw = Ringwire::new(k, CHANNELS);
            b.iter(|| rw.tick_engine(input))
        });
        g.bench_function(BenchmarkId::new("engine+detector", kernel_name(k)), |b| {
            let mut rw = Ringwire::new(k, CHANNELS);
            b.iter(|| rw.tick_linear(input))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("dtmf_split");
    g.throughput(Throughput::Elements(TICK_SAMPLES as u64));
    g.bench_function("decisions_only", |b| {
        let mut rw = Ringwire::new(KernelKind::Scalar, CHANNELS);
        b.iter(|| rw.tick_decisions(input))
    });
    g.finish();
}

/// Samples per second of each tick function (TICK_SAMPLES samples per
/// call). The machine is shared and noisy, so the functions run interleaved
/// in short slices (`rounds` rounds of `slice` each, after one warm-up
/// round): every side sees the same background load, and the best slice of
/// each (the least disturbed) is kept.
fn rates(rounds: usize, slice: Duration, ticks: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    let mut best = vec![0f64; ticks.len()];
    for round in 0..=rounds {
        for (i, tick) in ticks.iter_mut().enumerate() {
            let start = Instant::now();
            let mut n = 0u64;
            while start.elapsed() < slice {
                tick();
                n += 1;
            }
            if round > 0 {
                let r = (n * TICK_SAMPLES as u64) as f64 / start.elapsed().as_secs_f64();
                best[i] = best[i].max(r);
            }
        }
    }
    best
}

fn chans(samples_per_s: f64) -> f64 {
    samples_per_s / 8000.0
}

fn ratio_line(what: &str, rw: f64, sp: f64) {
    println!(
        "ratio {what:<26} ringwire {:>7.0} channels/core, spandsp {:>6.0} channels/core, ratio {:.2}x (target >= 5x)",
        chans(rw),
        chans(sp),
        rw / sp
    );
}

/// The plain timed loops behind the README's ratio lines.
fn summary(input: &Input) {
    let (rounds, slice) = (8, Duration::from_millis(150));
    let best = KernelKind::detect();
    let ks = kernels();
    println!(
        "\n== summary: {CHANNELS} channels x 20 ms frames; interleaved, best of {rounds} x {slice:?} =="
    );

    let mut sp_lin = Spandsp::new(CHANNELS);
    let mut sp_ulaw = Spandsp::new(CHANNELS);
    let mut rw_ulaw = Ringwire::new(best, CHANNELS);
    let mut rw_lin: Vec<Ringwire> = ks.iter().map(|&k| Ringwire::new(k, CHANNELS)).collect();
    let mut rw_eng: Vec<Ringwire> = ks.iter().map(|&k| Ringwire::new(k, CHANNELS)).collect();
    let mut rw_dec = Ringwire::new(best, CHANNELS);
    let (mut tick, mut pcm) = (0usize, [0i16; FRAME]);

    let mut f_sp_lin = || sp_lin.tick_linear(input);
    let mut f_sp_ulaw = || sp_ulaw.tick_g711(input, Law::Ulaw);
    let mut f_rw_ulaw = || rw_ulaw.tick_g711(input, Law::Ulaw);
    let mut f_dec = || rw_dec.tick_decisions(input);
    let mut f_decode = || {
        tick_decode(input, Law::Ulaw, tick, &mut pcm);
        tick += 1;
    };
    let mut f_lin: Vec<_> = rw_lin
        .iter_mut()
        .map(|rw| move || rw.tick_linear(input))
        .collect();
    let mut f_eng: Vec<_> = rw_eng
        .iter_mut()
        .map(|rw| move || rw.tick_engine(input))
        .collect();
    let mut ticks: Vec<&mut dyn FnMut()> = vec![
        &mut f_sp_lin,
        &mut f_sp_ulaw,
        &mut f_rw_ulaw,
        &mut f_dec,
        &mut f_decode,
    ];
    for f in f_lin.iter_mut() {
        ticks.push(f);
    }
    for f in f_eng.iter_mut() {
        ticks.push(f);
    }
    let r = rates(rounds, slice, &mut ticks);
    let (sp_lin, sp_ulaw, rw_ulaw, decisions, decode) = (r[0], r[1], r[2], r[3], r[4]);
    let lin = &r[5..5 + ks.len()];
    let eng = &r[5 + ks.len()..];

    let ib = ks.iter().position(|&k| k == best).unwrap();
    ratio_line(&format!("linear ({})", kernel_name(best)), lin[ib], sp_lin);
    ratio_line(
        &format!("µ-law in ({})", kernel_name(best)),
        rw_ulaw,
        sp_ulaw,
    );
    for (i, &k) in ks.iter().enumerate() {
        ratio_line(
            &format!("linear, kernel {}", kernel_name(k)),
            lin[i],
            sp_lin,
        );
    }
    println!("-- where ringwire's time goes (channels/core of each part alone) --");
    for (i, &k) in ks.iter().enumerate() {
        println!(
            "  {:<11} engine alone {:>7.0}  engine+detector {:>7.0}",
            kernel_name(k),
            chans(eng[i]),
            chans(lin[i])
        );
    }
    println!(
        "  decisions alone (DtmfDetector::push on precomputed blocks) {:>7.0}",
        chans(decisions)
    );
    println!(
        "  µ-law decode alone                                         {:>7.0}",
        chans(decode)
    );
}

fn main() {
    let input = Input::build();
    verify(&input);

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(800))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .configure_from_args();
    bench_g711(&mut c, &input);
    bench_linear(&mut c, &input);
    bench_g711_detect(&mut c, &input);
    bench_kernels(&mut c, &input);
    c.final_summary();

    // `cargo bench` passes --bench; `cargo test --benches` does not (quick
    // check mode): skip the extra timed loops there.
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--list") {
        summary(&input);
    }
}
