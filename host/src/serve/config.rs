//! The `ringwire serve` configuration: one TOML file, every key optional,
//! defaults that run out of the box. Unknown keys are errors that name the
//! key and its table, so a typo never silently falls back to a default.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

use ringwire_dsp::amd::{AmdConfig, AmdConfigError};
use ringwire_dsp::beep::{BeepConfig, BeepConfigError};
use ringwire_media::driver::DriverKind;
use ringwire_media::relay::RelayConfig;

use super::acl::Network;
use super::expiry::Expiry;
use crate::analyze::DspBackend;

/// Why a configuration could not be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The TOML is malformed, or a key is unknown or of the wrong type.
    #[error("bad config {path}{table}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// ` in [table]` when the error is inside one.
        table: String,
        /// toml's message (names the key, line and column).
        message: String,
    },
    /// A value is out of range.
    #[error("bad config {path}: `{key}`: {why}")]
    Invalid {
        /// The file.
        path: String,
        /// The key, dotted (`media.port_min`).
        key: String,
        /// What is wrong.
        why: String,
    },
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[control]`: the NG socket.
    pub control: ControlConfig,
    /// `[metrics]`: the Prometheus endpoint.
    pub metrics: MetricsConfig,
    /// `[media]`: addresses and ports of the media sockets.
    pub media: MediaConfig,
    /// `[workers]`: threads and IO driver.
    pub workers: WorkersConfig,
    /// `[timeouts]`: relay and shutdown timing.
    pub timeouts: TimeoutsConfig,
    /// `[detectors]`: which detectors run on live legs.
    pub detectors: DetectorsConfig,
    /// `[log]`: what the node logs.
    pub log: LogConfig,
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// What is logged, as `tracing` filter directives: `"info"`, `"warn"`,
    /// `"info,ringwire_host::serve::control=debug"`. Default `"info"`.
    /// `RINGWIRE_LOG`, where set, wins.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
        }
    }
}

/// `[control]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlConfig {
    /// Where the NG protocol listens (UDP). Default `127.0.0.1:2223`.
    pub ng: SocketAddr,
    /// Address blocks NG commands are taken from (`10.0.0.0/8`, an
    /// address, ...); others are dropped and counted. Default empty:
    /// anyone who reaches `ng`.
    pub allow: Vec<Network>,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            ng: SocketAddr::from(([127, 0, 0, 1], 2223)),
            allow: Vec::new(),
        }
    }
}

/// `[metrics]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve `/metrics` at all. Default true.
    pub enabled: bool,
    /// Where `/metrics` listens (HTTP). Default `127.0.0.1:9233`.
    pub listen: SocketAddr,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 9233)),
        }
    }
}

/// `[media]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// Address the media sockets bind on. Default `127.0.0.1`.
    pub address: IpAddr,
    /// Address written into SDP, when peers must use another one (NAT).
    /// Default: `address`.
    pub advertise: Option<IpAddr>,
    /// Lowest RTP port (RTP ports are even, RTCP the next odd one).
    pub port_min: u16,
    /// Highest port of the range.
    pub port_max: u16,
    /// Largest datagram accepted, in bytes.
    pub max_datagram: usize,
    /// Connect each leg's RTP socket to its remote once heard, so that
    /// sends skip the kernel's route lookup. Other sources are then
    /// dropped by the kernel, not counted as hijacks, until the remote has
    /// been quiet for `timeouts.quiet_window`. No effect when `address` is
    /// a wildcard. Default true.
    pub pin_remote: bool,
    /// The most calls at once: beyond it a new call's offer gets `load
    /// limit`, so the proxy tries its next node. 0 (the default): as many
    /// as the port range holds.
    pub max_calls: usize,
    /// `[media.interfaces]`: named addresses for SDP, one per network the
    /// node faces (`internal = "10.0.0.5"`, `external = "203.0.113.5"`);
    /// an offer's NG `direction` picks the one each side is sent. Empty
    /// (the default): every SDP gets `advertise` (or `address`).
    pub interfaces: BTreeMap<String, IpAddr>,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            advertise: None,
            port_min: 20000,
            port_max: 59999,
            max_datagram: 2048,
            pin_remote: true,
            max_calls: 0,
            interfaces: BTreeMap::new(),
        }
    }
}

/// Which IO driver, as written in the config.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriverChoice {
    /// The best available.
    #[default]
    Auto,
    /// epoll + recvmmsg/sendmmsg.
    Portable,
    /// io_uring (falls back to portable while it is not available).
    IoUring,
}

impl DriverChoice {
    /// As written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            DriverChoice::Auto => "auto",
            DriverChoice::Portable => "portable",
            DriverChoice::IoUring => "io_uring",
        }
    }
}

impl From<DriverChoice> for DriverKind {
    fn from(c: DriverChoice) -> Self {
        match c {
            DriverChoice::Auto => DriverKind::Auto,
            DriverChoice::Portable => DriverKind::Portable,
            DriverChoice::IoUring => DriverKind::IoUring,
        }
    }
}

/// `[workers]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkersConfig {
    /// Shard worker threads; 0: one per core. Default 0. At most
    /// [`MAX_WORKER_THREADS`]: each worker holds up to about 18 MB of
    /// receive buffers, and more workers than cores only queue.
    pub threads: usize,
    /// `auto`, `portable` or `io_uring`. Default `auto`.
    pub driver: DriverChoice,
    /// Datagrams per send system call (portable driver). Default 32.
    pub batch: Option<usize>,
    /// Wakeup pacing window in microseconds: under load a worker sleeps up
    /// to this long between wakeups so each serves many datagrams (each may
    /// wait that long); 0 wakes at every arrival. Default 0 (see
    /// `benches/RELAY.md`: no gain where arrivals already come in bursts).
    pub pace_us: Option<u64>,
}

/// The most worker threads a config may ask for (a typo of `threads =
/// 5000` would otherwise reserve about 90 GB of receive buffers).
pub const MAX_WORKER_THREADS: usize = 256;

/// `[timeouts]`, in seconds (fractions allowed).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeoutsConfig {
    /// A leg without RTP this long raises a media timeout. Default 30.
    pub media: f64,
    /// After setup, any valid RTP source may latch the leg this long.
    /// Default 2.
    pub setup_window: f64,
    /// A remote quiet this long may be replaced by latching. Default 5.
    pub quiet_window: f64,
    /// On SIGTERM, how long to wait for calls to end while new offers get
    /// `load limit` (the proxy tries another node). Default 0 (stop at
    /// once).
    pub drain: f64,
    /// An answered call with no RTP on any leg this long is deleted by
    /// the node (a lost BYE must not hold its ports for good); 0: never,
    /// else at least `media`. Default 60 (rtpengine's `timeout`).
    pub call: f64,
    /// A call offered and never answered is deleted this long after its
    /// first offer; 0: never. Default 3600 (rtpengine's `offer-timeout`).
    pub offer: f64,
    /// `call` for a call whose SDPs hold media back in some direction
    /// (`a=sendonly`, `recvonly`, `inactive`, or `c=` 0.0.0.0: hold, mute),
    /// where quiet is expected; 0: never, else at least `media`. Default
    /// 3600 (rtpengine's `silent-timeout`).
    pub silent: f64,
    /// A call the proxy deletes stays this long, media and all, and an
    /// offer or answer in that time brings it back (a forked INVITE's
    /// next branch after the first one failed); 0: a delete ends the call
    /// at once. A delete's own `delete-delay` wins. Default 30
    /// (rtpengine's `delete-delay`).
    pub delete_delay: f64,
}

impl Default for TimeoutsConfig {
    fn default() -> Self {
        TimeoutsConfig {
            media: 30.0,
            setup_window: 2.0,
            quiet_window: 5.0,
            drain: 0.0,
            call: 60.0,
            offer: 3600.0,
            silent: 3600.0,
            delete_delay: 30.0,
        }
    }
}

/// `[detectors]`: enabled on every live leg (a call's first offer may
/// change them with NG flags: `detect-amd`, `detect-beep`, `detect-dtmf`,
/// `no-detect-dtmf`, ..., `no-detect`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorsConfig {
    /// In-band DTMF and RFC 4733. Default true.
    pub dtmf: bool,
    /// Answering-machine detection. Default false.
    pub amd: bool,
    /// Voicemail beep. Default false.
    pub beep: bool,
    /// AMD: the most audio analysed before giving up, ms. Default 8000.
    pub amd_max_analysis_ms: u32,
    /// AMD: -1 favours "human" (fewer live people lost), +1 "machine"
    /// (sooner, more machines caught). Default 0, the tuned point.
    pub amd_bias: f32,
    /// AMD: run the voicemail-phrase spotter ("leave a message", "after the
    /// tone"; trained on English speech). Default true.
    pub amd_voicemail_phrases: bool,
    /// `[detectors.amd_thresholds]`: AMD thresholds by name
    /// ([`ringwire_dsp::amd::thresholds::THRESHOLDS`]), each replacing its
    /// tuned default. Default: none.
    pub amd_thresholds: BTreeMap<String, f64>,
    /// `[detectors.beep_thresholds]`: beep detection thresholds by name
    /// ([`ringwire_dsp::beep::thresholds::THRESHOLDS`]: band, lengths,
    /// floors), each replacing its default. Default: none.
    pub beep_thresholds: BTreeMap<String, f64>,
    /// Feature engine of each worker's live tap: `"software"` (default) or
    /// `"fpga-sim"` (the FPGA block simulated in Verilator; needs a binary
    /// built with `--features fpga-sim`).
    pub dsp_backend: DspBackend,
    /// UDP addresses each detector event is pushed to as it is found, one
    /// JSON datagram per event ([`super::push`]). Default: none.
    pub event_dest: Vec<std::net::SocketAddr>,
}

impl Default for DetectorsConfig {
    fn default() -> Self {
        DetectorsConfig {
            dtmf: true,
            amd: false,
            beep: false,
            amd_max_analysis_ms: AmdConfig::default().max_analysis_ms,
            amd_bias: 0.0,
            amd_voicemail_phrases: true,
            amd_thresholds: BTreeMap::new(),
            beep_thresholds: BTreeMap::new(),
            dsp_backend: DspBackend::Software,
            event_dest: Vec::new(),
        }
    }
}

impl DetectorsConfig {
    /// The detectors every new call's legs get (before its offer's flags).
    pub fn defaults(&self) -> crate::live::DetectorSet {
        crate::live::DetectorSet {
            dtmf: self.dtmf,
            amd: self.amd,
            beep: self.beep,
        }
    }

    /// The AMD parameters these keys give, or the first one out of range.
    pub fn amd_config(&self) -> Result<AmdConfig, AmdConfigError> {
        let mut amd = AmdConfig {
            max_analysis_ms: self.amd_max_analysis_ms,
            bias: self.amd_bias,
            voicemail_phrases: self.amd_voicemail_phrases,
            ..AmdConfig::default()
        };
        for (name, &value) in &self.amd_thresholds {
            amd.set_threshold(name, value)?;
        }
        amd.check()?;
        Ok(amd)
    }

    /// The beep detection parameters these keys give, or the first one
    /// refused.
    pub fn beep_config(&self) -> Result<BeepConfig, BeepConfigError> {
        let mut beep = BeepConfig::default();
        for (name, &value) in &self.beep_thresholds {
            beep.set_threshold(name, value)?;
        }
        beep.check()?;
        Ok(beep)
    }
}

impl Config {
    /// Parses TOML text; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_string(),
            table: e
                .span()
                .and_then(|s| table_at(text, s.start))
                .map(|t| format!(" in [{t}]"))
                .unwrap_or_default(),
            message: e.to_string().trim_end().to_string(),
        })?;
        config.validate(path)?;
        Ok(config)
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: name.clone(),
            source,
        })?;
        Self::parse(&text, &name)
    }

    /// Checks the values that parse but do not fit (ranges, addresses of
    /// the wrong family, ...); `path` names the config in errors.
    pub fn validate(&self, path: &str) -> Result<(), ConfigError> {
        let bad = |key: &str, why: String| ConfigError::Invalid {
            path: path.to_string(),
            key: key.to_string(),
            why,
        };
        crate::logging::check(&self.log.level).map_err(|e| bad("log.level", e.to_string()))?;
        let m = &self.media;
        if m.port_min == 0 || m.port_min > m.port_max {
            return Err(bad(
                "media.port_min",
                format!(
                    "the port range {}-{} is empty or starts at 0",
                    m.port_min, m.port_max
                ),
            ));
        }
        if (m.port_min as u32 + 1) & !1 >= m.port_max as u32 {
            return Err(bad(
                "media.port_max",
                "the range holds no even/odd RTP/RTCP port pair".into(),
            ));
        }
        // an address written into SDP: one peers can send to, of a family
        // the sockets take
        let check_sdp_address = |key: &str, v: IpAddr| match (m.address, v) {
            (_, v) if v.is_unspecified() => {
                Err(bad(key, format!("{v} is no address peers can send to")))
            }
            (IpAddr::V4(a), IpAddr::V6(_)) => Err(bad(
                key,
                format!(
                    "{v} is IPv6, but media.address {a} binds IPv4 sockets \
                     (bind \"::\" for both families)"
                ),
            )),
            _ => Ok(()),
        };
        match (m.address, m.advertise) {
            (a, None) if a.is_unspecified() => {
                return Err(bad(
                    "media.advertise",
                    format!(
                        "must be set when media.address is the wildcard {a}: \
                         SDP needs an address peers can send to"
                    ),
                ))
            }
            (_, Some(v)) => check_sdp_address("media.advertise", v)?,
            _ => {}
        }
        for (name, &v) in &m.interfaces {
            check_sdp_address(&format!("media.interfaces.{name}"), v)?;
        }
        if !(64..=65535).contains(&m.max_datagram) {
            return Err(bad("media.max_datagram", "must be 64..=65535".into()));
        }
        if self.workers.threads > MAX_WORKER_THREADS {
            return Err(bad(
                "workers.threads",
                format!("must be 0..={MAX_WORKER_THREADS} (0: one per core)"),
            ));
        }
        if self.workers.batch.is_some_and(|b| !(1..=1024).contains(&b)) {
            return Err(bad("workers.batch", "must be 1..=1024".into()));
        }
        if let Err(e) = self.detectors.amd_config() {
            let key = match &e {
                AmdConfigError::Bias(_) => "detectors.amd_bias".to_string(),
                AmdConfigError::MaxAnalysis(_) => "detectors.amd_max_analysis_ms".to_string(),
                AmdConfigError::UnknownThreshold(name) => {
                    format!("detectors.amd_thresholds.{name}")
                }
                AmdConfigError::Threshold { name, .. } => {
                    format!("detectors.amd_thresholds.{name}")
                }
            };
            return Err(bad(&key, e.to_string()));
        }
        if let Err(e) = self.detectors.beep_config() {
            let key = match &e {
                BeepConfigError::UnknownThreshold(name) => name.clone(),
                BeepConfigError::Threshold { name, .. } => name.to_string(),
                BeepConfigError::Order { low, .. } => low.to_string(),
            };
            return Err(bad(
                &format!("detectors.beep_thresholds.{key}"),
                e.to_string(),
            ));
        }
        if self.workers.pace_us.is_some_and(|p| p > 10_000) {
            return Err(bad("workers.pace_us", "must be 0..=10000".into()));
        }
        for (key, v) in [
            ("timeouts.media", self.timeouts.media),
            ("timeouts.setup_window", self.timeouts.setup_window),
            ("timeouts.quiet_window", self.timeouts.quiet_window),
            ("timeouts.drain", self.timeouts.drain),
            ("timeouts.call", self.timeouts.call),
            ("timeouts.offer", self.timeouts.offer),
            ("timeouts.silent", self.timeouts.silent),
            ("timeouts.delete_delay", self.timeouts.delete_delay),
        ] {
            if !(v.is_finite() && (0.0..=86_400.0).contains(&v)) {
                return Err(bad(
                    key,
                    format!("{v} is not a number of seconds in 0..=86400"),
                ));
            }
        }
        let t = &self.timeouts;
        for (key, v) in [("timeouts.call", t.call), ("timeouts.silent", t.silent)] {
            if v > 0.0 && v < t.media {
                return Err(bad(
                    key,
                    format!(
                        "{v} is shorter than timeouts.media ({}): a call is deleted only \
                         after its legs' media timeouts (0: never)",
                        t.media
                    ),
                ));
            }
        }
        Ok(())
    }

    /// One line on what the node would run with (`serve --check`).
    pub fn summary(&self) -> String {
        let m = &self.media;
        let d = &self.detectors;
        let detectors: Vec<&str> = [("dtmf", d.dtmf), ("amd", d.amd), ("beep", d.beep)]
            .into_iter()
            .filter_map(|(name, on)| on.then_some(name))
            .collect();
        format!(
            "NG on {} from {}; media on {} (SDP {}), ports {}-{} ({} calls{}); metrics {}; \
             {} worker thread(s), driver {}; detectors {}",
            self.control.ng,
            if self.control.allow.is_empty() {
                "anyone".to_string()
            } else {
                self.control
                    .allow
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            m.address,
            std::iter::once(self.advertised_address().to_string())
                .chain(m.interfaces.iter().map(|(name, a)| format!("{name} {a}")))
                .collect::<Vec<_>>()
                .join(", "),
            m.port_min,
            m.port_max,
            (u32::from(m.port_max) + 1 - u32::from(m.port_min)) / 4,
            match m.max_calls {
                0 => String::new(),
                n => format!("; max_calls {n}"),
            },
            if self.metrics.enabled {
                self.metrics.listen.to_string()
            } else {
                "off".into()
            },
            self.threads(),
            self.workers.driver.as_str(),
            if detectors.is_empty() {
                "none".to_string()
            } else {
                detectors.join(", ")
            },
        )
    }

    /// When the node deletes calls on its own (`timeouts.call`,
    /// `timeouts.silent`, `timeouts.offer`).
    pub fn expiry(&self) -> Expiry {
        let t = &self.timeouts;
        Expiry {
            after_media_timeout: (t.call > 0.0).then(|| secs(t.call - t.media)),
            after_media_timeout_held: (t.silent > 0.0).then(|| secs(t.silent - t.media)),
            unanswered: (t.offer > 0.0).then(|| secs(t.offer)),
        }
    }

    /// The relay core's settings: the latching windows and media timeout
    /// (`[timeouts]`, live on reload) and pinning (`[media] pin_remote`).
    pub fn relay(&self) -> RelayConfig {
        RelayConfig {
            setup_window: secs(self.timeouts.setup_window),
            quiet_window: secs(self.timeouts.quiet_window),
            media_timeout: secs(self.timeouts.media),
            pin_remote: self.media.pin_remote,
            ..RelayConfig::default()
        }
    }

    /// Worker threads to run: the configured number, or one per core.
    pub fn threads(&self) -> usize {
        match self.workers.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    /// The address written into SDP.
    pub fn advertised_address(&self) -> IpAddr {
        self.media.advertise.unwrap_or(self.media.address)
    }
}

/// Seconds as a [`Duration`] (validated finite and non-negative).
pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

/// The `[table]` whose body holds byte `offset` of `text`, if any.
fn table_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset.min(text.len()))?;
    before.lines().rev().find_map(|line| {
        let l = line.trim();
        (l.starts_with('[') && l.ends_with(']'))
            .then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_defaults() {
        let c = Config::parse("", "x.toml").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.control.ng, "127.0.0.1:2223".parse().unwrap());
        assert_eq!(c.metrics.listen, "127.0.0.1:9233".parse().unwrap());
        assert_eq!((c.media.port_min, c.media.port_max), (20000, 59999));
        assert!(c.threads() >= 1);
    }

    #[test]
    fn example_file_parses() {
        let text = include_str!("../../../ringwire.example.toml");
        Config::parse(text, "ringwire.example.toml").unwrap();
    }

    #[test]
    fn unknown_key_names_key_and_table() {
        let e = Config::parse("[media]\nport_min = 30000\nport_maxx = 2\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("port_maxx"), "{e}");
        assert!(e.contains("[media]"), "{e}");
        assert!(e.contains("c.toml"), "{e}");
        let e = Config::parse("bogus = 1\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bogus"), "{e}");
    }

    #[test]
    fn worker_threads_are_bounded() {
        // a typo of 5000 would reserve about 90 GB of receive buffers
        let e = Config::parse("[workers]\nthreads = 5000\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("workers.threads") && e.contains("0..=256"),
            "{e}"
        );
        let c = Config::parse("[workers]\nthreads = 256\n", "c.toml").unwrap();
        assert_eq!(c.threads(), 256);
    }

    #[test]
    fn control_allow_list() {
        let c = Config::parse(
            "[control]\nallow = [\"10.0.0.0/8\", \"192.0.2.7\"]\n",
            "c.toml",
        )
        .unwrap();
        let shown: Vec<String> = c.control.allow.iter().map(|n| n.to_string()).collect();
        assert_eq!(shown, ["10.0.0.0/8", "192.0.2.7/32"]);
        let e = Config::parse("[control]\nallow = [\"10.0.0.0/40\"]\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("allow") && e.contains("0..=32"), "{e}");
    }

    #[test]
    fn max_calls_is_read_and_summarised() {
        let c = Config::parse("[media]\nmax_calls = 50\n", "c.toml").unwrap();
        assert_eq!(c.media.max_calls, 50);
        assert!(
            c.summary().contains("(10000 calls; max_calls 50)"),
            "{}",
            c.summary()
        );
        assert!(Config::default().summary().contains("(10000 calls)"));
        let e = Config::parse("[media]\nmax_calls = -1\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_calls"), "{e}");
    }

    #[test]
    fn call_and_offer_timeouts() {
        let c = Config::parse("", "c.toml").unwrap();
        assert_eq!(
            c.expiry(),
            Expiry {
                after_media_timeout: Some(Duration::from_secs(30)),
                after_media_timeout_held: Some(Duration::from_secs(3570)),
                unanswered: Some(Duration::from_secs(3600)),
            }
        );
        let c = Config::parse("[timeouts]\ncall = 0\noffer = 0\nsilent = 0\n", "c.toml").unwrap();
        assert_eq!(c.expiry(), Expiry::default(), "0: never");
        let e = Config::parse("[timeouts]\nmedia = 30\nsilent = 10\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("timeouts.silent"), "{e}");
        let e = Config::parse("[timeouts]\nmedia = 30\ncall = 10\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("timeouts.call") && e.contains("timeouts.media"),
            "{e}"
        );
    }

    #[test]
    fn media_addresses_peers_can_reach() {
        let e = |toml: &str| Config::parse(toml, "c.toml").unwrap_err().to_string();
        for wildcard in ["0.0.0.0", "::"] {
            let why = e(&format!("[media]\naddress = \"{wildcard}\"\n"));
            assert!(
                why.contains("media.advertise") && why.contains("wildcard"),
                "{why}"
            );
        }
        let why = e("[media]\naddress = \"0.0.0.0\"\nadvertise = \"0.0.0.0\"\n");
        assert!(why.contains("media.advertise"), "{why}");
        let why = e("[media]\naddress = \"192.0.2.1\"\nadvertise = \"2001:db8::1\"\n");
        assert!(
            why.contains("media.advertise") && why.contains("IPv6"),
            "{why}"
        );
        for ok in [
            "address = \"::\"\nadvertise = \"192.0.2.1\"",
            "address = \"::\"\nadvertise = \"2001:db8::1\"",
            "address = \"0.0.0.0\"\nadvertise = \"203.0.113.7\"",
            "address = \"::1\"",
        ] {
            let c = Config::parse(&format!("[media]\n{ok}\n"), "c.toml").unwrap();
            assert!(!c.advertised_address().is_unspecified(), "{ok}");
        }
    }

    #[test]
    fn named_interfaces_are_addresses_peers_can_reach() {
        let c = Config::parse(
            "[media]\naddress = \"0.0.0.0\"\nadvertise = \"10.0.0.5\"\n\
             [media.interfaces]\ninternal = \"10.0.0.5\"\nexternal = \"203.0.113.5\"\n",
            "c.toml",
        )
        .unwrap();
        assert!(
            c.summary()
                .contains("(SDP 10.0.0.5, external 203.0.113.5, internal 10.0.0.5)"),
            "{}",
            c.summary()
        );
        let names: Vec<(&str, IpAddr)> = c
            .media
            .interfaces
            .iter()
            .map(|(n, a)| (n.as_str(), *a))
            .collect();
        assert_eq!(
            names,
            [
                ("external", "203.0.113.5".parse().unwrap()),
                ("internal", "10.0.0.5".parse().unwrap())
            ]
        );
        let e = |toml: &str| Config::parse(toml, "c.toml").unwrap_err().to_string();
        let why = e("[media.interfaces]\nlan = \"0.0.0.0\"\n");
        assert!(why.contains("media.interfaces.lan"), "{why}");
        let why = e("[media.interfaces]\nwan = \"2001:db8::5\"\n");
        assert!(
            why.contains("media.interfaces.wan") && why.contains("IPv6"),
            "{why}"
        );
        let why = e("[media.interfaces]\nwan = \"somewhere\"\n");
        assert!(why.contains("interfaces"), "{why}");
    }

    #[test]
    fn amd_keys() {
        let c = Config::parse(
            "[detectors]\namd_bias = 0.5\namd_max_analysis_ms = 5000\namd_voicemail_phrases = false\n",
            "c.toml",
        )
        .unwrap();
        let amd = c.detectors.amd_config().unwrap();
        assert_eq!(
            (amd.bias, amd.max_analysis_ms, amd.voicemail_phrases),
            (0.5, 5000, false)
        );
        assert_eq!(
            Config::default().detectors.amd_config(),
            Ok(AmdConfig::default())
        );
        for (text, key) in [
            ("amd_bias = 2.0", "detectors.amd_bias"),
            ("amd_bias = nan", "detectors.amd_bias"),
            ("amd_max_analysis_ms = 10", "detectors.amd_max_analysis_ms"),
        ] {
            let e = Config::parse(&format!("[detectors]\n{text}\n"), "c.toml")
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn amd_thresholds_table() {
        let c = Config::parse(
            "[detectors]\namd = true\n[detectors.amd_thresholds]\nhuman_silence_ms = 450\nvoicemail_phrase_score = 0.95\nmin_talker_dbfs = -40\n",
            "c.toml",
        )
        .unwrap();
        let amd = c.detectors.amd_config().unwrap();
        assert_eq!(
            (
                amd.human_silence_ms,
                amd.voicemail_phrase_score,
                amd.min_talker_dbfs
            ),
            (450, 0.95, -40.0)
        );
        assert_eq!(
            AmdConfig {
                human_silence_ms: 380,
                voicemail_phrase_score: 0.93,
                min_talker_dbfs: -34.0,
                ..amd
            },
            AmdConfig::default(),
            "the other parameters keep their defaults"
        );
        for (text, key, says) in [
            (
                "human_silence = 400",
                "detectors.amd_thresholds.human_silence",
                "no AMD threshold",
            ),
            (
                "human_silence_ms = 20",
                "detectors.amd_thresholds.human_silence_ms",
                "100..=5000 ms",
            ),
            (
                "human_silence_ms = 400.5",
                "detectors.amd_thresholds.human_silence_ms",
                "whole",
            ),
            (
                "voicemail_phrase_score = 2",
                "detectors.amd_thresholds.voicemail_phrase_score",
                "0..=1",
            ),
        ] {
            let e = Config::parse(&format!("[detectors.amd_thresholds]\n{text}\n"), "c.toml")
                .unwrap_err()
                .to_string();
            assert!(e.contains(key) && e.contains(says), "{text}: {e}");
        }
        let e = Config::parse(
            "[detectors.amd_thresholds]\nhuman_silence_ms = \"long\"\n",
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("amd_thresholds"), "{e}");
    }

    /// Every threshold of `table` is a key of `keys` with its doc line
    /// (unit and range) in `text`.
    fn assert_listed<C>(
        text: &str,
        keys: &BTreeMap<String, f64>,
        table: &[ringwire_dsp::tunable::Threshold<C>],
    ) {
        for t in table {
            assert!(
                keys.contains_key(t.name),
                "{} is not in ringwire.example.toml",
                t.name
            );
            let doc = format!("# {} ({}, {}..={})", t.doc, t.unit.as_str(), t.min, t.max);
            assert!(
                text.lines().any(|l| l == doc),
                "ringwire.example.toml does not say `{doc}` above {}",
                t.name
            );
        }
    }

    #[test]
    fn the_example_file_lists_every_threshold_at_its_default() {
        let text = include_str!("../../../ringwire.example.toml");
        let c = Config::parse(text, "ringwire.example.toml").unwrap();
        let d = &c.detectors;
        assert_listed(
            text,
            &d.amd_thresholds,
            ringwire_dsp::amd::thresholds::THRESHOLDS,
        );
        assert_eq!(d.amd_config(), Ok(AmdConfig::default()));
        assert_listed(
            text,
            &d.beep_thresholds,
            ringwire_dsp::beep::thresholds::THRESHOLDS,
        );
        assert_eq!(d.beep_config(), Ok(BeepConfig::default()));
    }

    #[test]
    fn beep_thresholds_table() {
        let c = Config::parse(
            "[detectors.beep_thresholds]\nmin_freq_hz = 300\nholdoff_ms = 500\n",
            "c.toml",
        )
        .unwrap();
        let beep = c.detectors.beep_config().unwrap();
        assert_eq!((beep.min_freq_hz, beep.holdoff_ms), (300.0, 500));
        for (text, key, says) in [
            (
                "min_freq = 300",
                "detectors.beep_thresholds.min_freq",
                "known:",
            ),
            (
                "holdoff_ms = 500.5",
                "detectors.beep_thresholds.holdoff_ms",
                "whole",
            ),
            (
                "min_freq_hz = 2500",
                "detectors.beep_thresholds.min_freq_hz",
                "below `max_freq_hz`",
            ),
        ] {
            let e = Config::parse(&format!("[detectors.beep_thresholds]\n{text}\n"), "c.toml")
                .unwrap_err()
                .to_string();
            assert!(e.contains(key) && e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn dsp_backend_key() {
        let c = Config::parse("[detectors]\ndsp_backend = \"fpga-sim\"\n", "c.toml").unwrap();
        assert_eq!(c.detectors.dsp_backend, DspBackend::FpgaSim);
        let c = Config::parse("[detectors]\ndsp_backend = \"software\"\n", "c.toml").unwrap();
        assert_eq!(c.detectors.dsp_backend, DspBackend::Software);
        let e = Config::parse("[detectors]\ndsp_backend = \"gpu\"\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("gpu") && e.contains("[detectors]"), "{e}");
    }

    #[test]
    fn wrong_type_and_bad_values_are_named() {
        let e = Config::parse("[workers]\ndriver = \"dpdk\"\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("dpdk") && e.contains("[workers]"), "{e}");
        let e = Config::parse("[media]\nport_min = 40000\nport_max = 30000\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("media.port_min"), "{e}");
        let e = Config::parse("[timeouts]\nmedia = -1.0\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("timeouts.media"), "{e}");
        let e = Config::parse("[control]\nng = \"nowhere\"\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("ng") && e.contains("[control]"), "{e}");
    }
}
