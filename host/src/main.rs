//! The `ringwire` binary: `analyze` (detectors over files), `serve` (the
//! live media node), `load` (the load generator), `corpus` and `evaluate`
//! (the AMD corpus and its evaluation).
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use ringwire_dsp::amd::{AmdConfig, AmdConfigError};
use ringwire_dsp::beep::BeepConfig;
use ringwire_host::analyze::{analyze_file_with, AnalyzeOptions, Detector, DspBackend};
use ringwire_host::plot::write_plots;
use ringwire_host::report::{write_json, write_text, Format};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// ringwire: a carrier-grade media node for call centers (RTP relay, DTMF,
/// answering-machine and voicemail-beep detection).
#[derive(Parser)]
#[command(name = "ringwire", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run detectors offline over WAV files and packet captures (pcap, pcapng).
    Analyze {
        /// Detectors to run, comma-separated: dtmf, amd, beep.
        #[arg(long, value_delimiter = ',', default_value = "dtmf")]
        detect: Vec<Detector>,
        /// Output: a summary for people, or JSON lines for programs.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Write one SVG per stream into DIR: envelope, voice activity,
        /// tones, beeps and the AMD decision.
        #[arg(long, value_name = "DIR")]
        plot: Option<PathBuf>,
        /// Feature engine: the software path, or the FPGA block simulated
        /// in Verilator (a binary built with `--features fpga-sim`).
        #[arg(long, value_enum, default_value = "software")]
        dsp_backend: DspBackend,
        /// AMD: the longest audio analysed before giving up, ms.
        #[arg(long, value_name = "MS", default_value_t = AmdConfig::default().max_analysis_ms)]
        amd_max_analysis_ms: u32,
        /// AMD: -1 favours "human" (fewer live people lost), +1 favours
        /// "machine" (earlier, more machines caught); 0 is the tuned point.
        #[arg(
            long,
            value_name = "B",
            default_value_t = 0.0,
            allow_negative_numbers = true
        )]
        amd_bias: f32,
        /// AMD: leave out the voicemail-phrase spotter (trained on English:
        /// for calls in other languages).
        #[arg(long)]
        amd_no_voicemail_phrases: bool,
        /// AMD: set a threshold, e.g. `human_silence_ms=450` (repeatable;
        /// the names, units and ranges are in ringwire.example.toml's
        /// `[detectors.amd_thresholds]`).
        #[arg(long, value_name = "NAME=VALUE", value_parser = parse_threshold)]
        amd_threshold: Vec<(String, f64)>,
        /// Beeps: set a threshold, e.g. `min_freq_hz=300` (repeatable; the
        /// names, units and ranges are in ringwire.example.toml's
        /// `[detectors.beep_thresholds]`).
        #[arg(long, value_name = "NAME=VALUE", value_parser = parse_threshold)]
        beep_threshold: Vec<(String, f64)>,
        /// Input files (WAV, pcap, pcapng); analysed in parallel on all cores.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
    /// Generate an AMD corpus (espeak-ng speech, tones, noise, G.711) with ground truth.
    Corpus {
        /// Output directory: cases.jsonl and wav/.
        #[arg(long)]
        out: PathBuf,
        /// Voices and texts: tune, or the disjoint held-out set.
        #[arg(long, value_enum)]
        split: ringwire_host::corpus::Split,
        /// Number of cases.
        #[arg(long, default_value_t = 60)]
        cases: usize,
        /// Seed (same seed, split and count: same corpus).
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Evaluate ringwire's AMD and beep detection, beside the classic app_amd, on a corpus.
    Evaluate {
        /// Corpus directory (from `ringwire corpus`).
        #[arg(long)]
        corpus: PathBuf,
        /// Only cases of this split.
        #[arg(long, value_enum)]
        split: Option<ringwire_host::corpus::Split>,
        /// Print the metrics as one JSON object.
        #[arg(long)]
        json: bool,
        /// Cases re-run cut at the decision (causality check).
        #[arg(long, default_value_t = 40)]
        causality: usize,
        /// AMD: set a threshold under trial, e.g. `sentence_pause_ms=400`
        /// (repeatable; as for `analyze`).
        #[arg(long, value_name = "NAME=VALUE", value_parser = parse_threshold)]
        amd_threshold: Vec<(String, f64)>,
        /// Beeps: set a threshold under trial (repeatable; as for `analyze`).
        #[arg(long, value_name = "NAME=VALUE", value_parser = parse_threshold)]
        beep_threshold: Vec<(String, f64)>,
    },
    /// Drive an NG-protocol node (ringwire, rtpengine) with calls and RTP; measure the relay.
    Load(ringwire_host::load::LoadArgs),
    /// Run the live media node: NG control socket, relay workers, /metrics; SIGTERM drains.
    Serve {
        /// TOML config (see ringwire.example.toml); defaults run out of the box.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// NG control address (UDP), overriding the config [default: 127.0.0.1:2223].
        #[arg(long, value_name = "ADDR")]
        ng: Option<std::net::SocketAddr>,
        /// Feature engine of the live detectors, overriding the config's
        /// `[detectors] dsp_backend` [default: software].
        #[arg(long, value_enum)]
        dsp_backend: Option<DspBackend>,
        /// Check the config (and the flags above) and exit: 0 and a summary
        /// when the node would start with it, else the error.
        #[arg(long)]
        check: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The daemon says what it does (start, calls it deletes, detector
    // events, drain); the one-shot commands speak only of problems.
    let default_level = match cli.command {
        Command::Serve { .. } => "info",
        _ => "warn",
    };
    let log = ringwire_host::logging::Logging::init(default_level);
    match run(cli, &log) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ringwire: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli, log: &ringwire_host::logging::Logging) -> Result<ExitCode> {
    match cli.command {
        Command::Analyze {
            detect,
            format,
            plot,
            dsp_backend,
            amd_max_analysis_ms,
            amd_bias,
            amd_no_voicemail_phrases,
            amd_threshold,
            beep_threshold,
            inputs,
        } => {
            let amd = AmdConfig {
                voicemail_phrases: !amd_no_voicemail_phrases,
                ..amd_config(amd_max_analysis_ms, amd_bias)?
            };
            let amd = with_thresholds(amd, amd_threshold)?;
            let beep = beep_with_thresholds(beep_threshold)?;
            analyze(detect, format, plot, dsp_backend, amd, beep, inputs)
        }
        Command::Corpus {
            out,
            split,
            cases,
            seed,
        } => ringwire_host::corpus::run_command(out, split, cases, seed),
        Command::Evaluate {
            corpus,
            split,
            json,
            causality,
            amd_threshold,
            beep_threshold,
        } => {
            let amd = with_thresholds(AmdConfig::default(), amd_threshold)?;
            let beep = beep_with_thresholds(beep_threshold)?;
            ringwire_host::evaluate::run_command(corpus, split, json, causality, amd, beep)
        }
        Command::Load(args) => {
            ringwire_host::load::run_command(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve {
            config,
            ng,
            dsp_backend,
            check,
        } => serve(config, ng, dsp_backend, check, log),
    }
}

fn serve(
    config: Option<PathBuf>,
    ng: Option<std::net::SocketAddr>,
    dsp_backend: Option<DspBackend>,
    check: bool,
    log: &ringwire_host::logging::Logging,
) -> Result<ExitCode> {
    use ringwire_host::serve::{run, Config, ConfigSource};
    // the file with the command line's overrides, at start and on SIGHUP
    let overridden = move |mut config: Config| {
        if let Some(ng) = ng {
            config.control.ng = ng;
        }
        if let Some(backend) = dsp_backend {
            config.detectors.dsp_backend = backend;
        }
        config
    };
    let config_now = match &config {
        Some(path) => overridden(Config::load(path)?),
        None => overridden(Config::default()),
    };
    let source = config
        .map(|path| -> ConfigSource { Box::new(move || Config::load(&path).map(overridden)) });
    let config = config_now;
    if check {
        config.detectors.dsp_backend.check()?;
        println!("config OK: {}", config.summary());
        return Ok(ExitCode::SUCCESS);
    }
    run(config, source, Some(log))?;
    Ok(ExitCode::SUCCESS)
}

/// The AMD parameters `analyze` was given, checked.
fn amd_config(max_analysis_ms: u32, bias: f32) -> Result<AmdConfig> {
    AmdConfig::with_knobs(max_analysis_ms, bias).map_err(|e| {
        let flag = match e {
            AmdConfigError::Bias(_) => "--amd-bias",
            AmdConfigError::MaxAnalysis(_) => "--amd-max-analysis-ms",
            _ => "--amd-threshold",
        };
        anyhow::anyhow!("{flag}: {e}")
    })
}

/// `amd` with the `--amd-threshold` settings applied, or the first bad one.
fn with_thresholds(mut amd: AmdConfig, settings: Vec<(String, f64)>) -> Result<AmdConfig> {
    for (name, value) in settings {
        amd.set_threshold(&name, value)
            .map_err(|e| anyhow::anyhow!("--amd-threshold {name}={value}: {e}"))?;
    }
    Ok(amd)
}

/// The beep parameters with the `--beep-threshold` settings applied, or
/// the first bad one.
fn beep_with_thresholds(settings: Vec<(String, f64)>) -> Result<BeepConfig> {
    let mut beep = BeepConfig::default();
    for (name, value) in settings {
        beep.set_threshold(&name, value)
            .map_err(|e| anyhow::anyhow!("--beep-threshold {name}={value}: {e}"))?;
    }
    beep.check()
        .map_err(|e| anyhow::anyhow!("--beep-threshold: {e}"))?;
    Ok(beep)
}

/// `NAME=VALUE` of `--amd-threshold` and `--beep-threshold` (the name and
/// range are checked against the detector's table afterwards).
fn parse_threshold(arg: &str) -> Result<(String, f64), String> {
    let (name, value) = arg
        .split_once('=')
        .ok_or_else(|| format!("`{arg}` is not NAME=VALUE"))?;
    let value = value
        .trim()
        .parse::<f64>()
        .map_err(|_| format!("`{value}` is not a number"))?;
    Ok((name.trim().to_string(), value))
}

fn analyze(
    detectors: Vec<Detector>,
    format: Format,
    plot: Option<PathBuf>,
    backend: DspBackend,
    amd: AmdConfig,
    beep: BeepConfig,
    inputs: Vec<PathBuf>,
) -> Result<ExitCode> {
    backend.check()?;
    let options = AnalyzeOptions {
        detectors,
        amd,
        beep,
        trace: plot.is_some(),
        ..Default::default()
    };
    let progress = if std::io::stderr().is_terminal() && inputs.len() > 1 {
        let bar = ProgressBar::new(inputs.len() as u64);
        bar.set_style(ProgressStyle::with_template(
            "{bar:40} {pos}/{len} files {elapsed} {msg}",
        )?);
        bar
    } else {
        ProgressBar::hidden()
    };
    // Analyse in parallel, print in the order given.
    let results: Vec<_> = inputs
        .par_iter()
        .map(|path| {
            let r = analyze_file_with(path, &options, backend);
            progress.inc(1);
            r
        })
        .collect();
    progress.finish_and_clear();

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = 0usize;
    for result in results {
        match result {
            Ok(report) => {
                match format {
                    Format::Json => write_json(&mut out, &report)?,
                    Format::Text => write_text(&mut out, &report)?,
                }
                if let Some(dir) = &plot {
                    write_plots(dir, &report)
                        .with_context(|| format!("writing plots into {}", dir.display()))?;
                }
            }
            Err(e) => {
                out.flush()?;
                eprintln!("ringwire: error: {e}");
                failed += 1;
            }
        }
    }
    out.flush()?;
    if failed > 0 {
        eprintln!(
            "ringwire: {failed} of {} inputs could not be analysed",
            inputs.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
