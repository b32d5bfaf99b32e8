//! `ringwire serve`: the live media node daemon.
//!
//! Threads: the caller's thread runs the NG control socket (UDP, one
//! datagram at a time through [`NgServer`], whose [`control::Node`] talks
//! to the relay workers); the relay workers of the media driver each own a
//! shard of calls and their sockets (and runs the detectors of their legs);
//! one thread serves `/metrics`; one logs relay events (and notes which
//! legs went quiet, for [`expiry`]: the control thread deletes calls nobody
//! deleted, looking once a second); one logs and keeps detector events;
//! one waits for SIGTERM/SIGINT, and SIGHUP, on which the control thread
//! reads the config again and takes its live settings ([`reload`]).
//!
//! ```no_run
//! # fn main() -> Result<(), ringwire_host::serve::ServeError> {
//! use ringwire_host::serve::{run, Config};
//! let config = Config::default(); // NG on 127.0.0.1:2223, /metrics on :9233
//! run(config, None, None) // returns after SIGTERM/SIGINT, once drained
//! # }
//! ```
//!
//! Map: [`config`] (the TOML file), [`ports`] (RTP/RTCP pair allocator),
//! [`control`] (the NG `CallControl` over the driver), [`detect`] (live
//! detector taps in the workers, their events: log, metrics, `query`),
//! [`metrics`] (Prometheus text), [`reload`] (what SIGHUP changes). Shutdown: a signal stops new offers
//! (answered `load limit`, so a proxy tries its next node); the NG socket
//! keeps answering (answers, deletes, queries) until no call is left (a
//! deleted call waits out its delete delay, as another branch of a forked
//! call may yet answer) or `timeouts.drain` has passed; then the remaining
//! calls are deleted and the workers stopped, and `run` returns `Ok`.

pub mod acl;
pub mod config;
pub mod control;
pub mod detect;
pub mod expiry;
pub mod limits;
pub mod metrics;
pub mod ports;
pub mod push;
pub mod quality;
pub mod reload;

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use thiserror::Error;

use ringwire_media::driver::{
    DriverConfig, DriverError, DriverHandle, DEFAULT_PACE, DEFAULT_PACE_MIN_BATCH,
};
use ringwire_media::relay::Event;

pub use config::{Config, ConfigError};
pub use reload::{ConfigSource, Reload};

use crate::logging::Logging;
use crate::ng::{NgConfig, NgServer};

/// Why the node could not start (once running, it only stops on a signal).
#[derive(Debug, Error)]
pub enum ServeError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A listening socket could not be opened.
    #[error("cannot listen on {addr} ({what})")]
    Listen {
        /// Which socket.
        what: &'static str,
        /// Where.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The media driver could not start.
    #[error("media driver: {0}")]
    Driver(#[from] DriverError),
    /// The detectors' feature engine is unavailable.
    #[error(transparent)]
    Backend(#[from] crate::analyze::BackendError),
    /// The AMD parameters are out of range (a config that was not
    /// validated, e.g. built in code).
    #[error("AMD configuration: {0}")]
    Amd(#[from] ringwire_dsp::amd::AmdConfigError),
    /// The beep parameters are out of range (a config that was not
    /// validated, e.g. built in code).
    #[error("beep configuration: {0}")]
    Beep(#[from] ringwire_dsp::beep::BeepConfigError),
    /// Signal handling could not be set up.
    #[error("signal handling: {0}")]
    Signals(std::io::Error),
}

/// Counts of relay events, for metrics.
#[derive(Debug, Default)]
pub struct EventCounters {
    /// Media timeouts raised on calls not on hold.
    pub timeouts: AtomicU64,
    /// Media timeouts raised on calls on hold, where quiet is expected.
    pub timeouts_held: AtomicU64,
    /// Remotes moved by latching.
    pub latches: AtomicU64,
}

/// How often the NG loop looks at the stop flag while idle.
const TICK: Duration = Duration::from_millis(100);

/// How often calls nobody deleted are looked for ([`expiry`]).
const SWEEP: Duration = Duration::from_secs(1);

/// Raises the descriptor limit as far as it goes and says (log) how many
/// calls it leaves room for when that is fewer than the port range holds.
fn check_descriptor_limit(config: &Config) {
    let ports = (config.media.port_max as u64 + 1).saturating_sub(config.media.port_min as u64);
    match limits::raise_descriptor_limit() {
        Ok(l) => {
            if let Some(before) = l.raised_from {
                tracing::info!(
                    from = before,
                    to = l.soft,
                    "raised the open-descriptor limit"
                );
            }
            if l.short_of(ports) {
                tracing::warn!(
                    limit = l.soft,
                    ports,
                    calls = l.calls(),
                    "the open-descriptor limit is below the {ports} sockets of the RTP port \
                     range: offers beyond about {} calls will fail; raise the hard limit \
                     (systemd LimitNOFILE=, or ulimit -Hn)",
                    l.calls()
                );
            }
        }
        Err(e) => tracing::warn!("cannot read or raise the open-descriptor limit: {e}"),
    }
}

/// Runs the node with `config` until SIGTERM or SIGINT; on SIGHUP, takes
/// the live settings of the config `source` reads (none: there is no
/// file to read again). `log`, where given, is set to `[log] level` at
/// start and on each reload. See the [module documentation](self).
pub fn run(
    mut config: Config,
    source: Option<ConfigSource>,
    log: Option<&Logging>,
) -> Result<(), ServeError> {
    if let Some(log) = log {
        set_log_level(log, &config.log.level);
    }
    config.detectors.dsp_backend.check()?;
    // Before any thread exists, so that every thread inherits the mask and
    // only the signal thread ever sees SIGTERM, SIGINT and SIGHUP.
    let signals = block_signals().map_err(ServeError::Signals)?;
    let stop = Arc::new(AtomicBool::new(false));
    let hangup = Arc::new(AtomicBool::new(false));
    {
        let (stop, hangup) = (stop.clone(), hangup.clone());
        std::thread::Builder::new()
            .name("ringwire-signals".into())
            .spawn(move || wait_for_signal(signals, &stop, &hangup))
            .map_err(ServeError::Signals)?;
    }

    check_descriptor_limit(&config);

    let ng_socket = UdpSocket::bind(config.control.ng).map_err(|source| ServeError::Listen {
        what: "NG control",
        addr: config.control.ng,
        source,
    })?;
    ng_socket
        .set_read_timeout(Some(TICK))
        .map_err(ServeError::Signals)?;
    let metrics_listener = if config.metrics.enabled {
        Some(
            TcpListener::bind(config.metrics.listen).map_err(|source| ServeError::Listen {
                what: "metrics",
                addr: config.metrics.listen,
                source,
            })?,
        )
    } else {
        None
    };

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if config.threads() > cores {
        tracing::warn!(
            threads = config.threads(),
            cores,
            "more worker threads than cores: they take turns on the cores, \
             and each holds its own receive buffers"
        );
    }
    let (events_tx, events_rx) = mpsc::sync_channel(65_536);
    let driver_config = DriverConfig {
        threads: config.threads(),
        bind: config.media.address,
        relay: config.relay(),
        batch: config.workers.batch.unwrap_or(32),
        buffer_size: config.media.max_datagram,
        events: Some(events_tx),
        pace: config
            .workers
            .pace_us
            .map_or(DEFAULT_PACE, Duration::from_micros),
        pace_min_batch: DEFAULT_PACE_MIN_BATCH,
    };
    let driver = Arc::new(DriverHandle::start(
        config.workers.driver.into(),
        driver_config,
    )?);

    let event_counts = Arc::new(EventCounters::default());
    let media_idle = Arc::new(expiry::MediaIdle::default());
    {
        let counts = event_counts.clone();
        let idle = media_idle.clone();
        std::thread::Builder::new()
            .name("ringwire-events".into())
            .spawn(move || log_events(events_rx, &counts, &idle))
            .map_err(ServeError::Signals)?;
    }

    let (live, detect_events) = detect::start(
        &driver,
        config.detectors.dsp_backend,
        &config.detectors.amd_config()?,
        &config.detectors.beep_config()?,
        &config.detectors.event_dest,
    )?;
    let defaults = config.detectors.defaults();

    let draining = Arc::new(AtomicBool::new(false));
    let node = control::Node::new(
        driver.clone(),
        media_ports(&config),
        config.advertised_address(),
        draining.clone(),
    )
    .with_detectors(live, detect_events.clone(), defaults)
    .with_expiry(media_idle, config.expiry())
    .with_max_calls(config.media.max_calls)
    .with_delete_delay(config::secs(config.timeouts.delete_delay))
    .with_interfaces(config.media.interfaces.clone());
    let ng_stats = Arc::new(Mutex::new(Default::default()));
    if let Some(listener) = metrics_listener {
        let src = metrics::Sources {
            driver: driver.clone(),
            node: node.gauges(),
            ng: ng_stats.clone(),
            events: event_counts.clone(),
            detect: Some(detect_events.clone()),
        };
        std::thread::Builder::new()
            .name("ringwire-metrics".into())
            .spawn(move || metrics::serve(listener, src))
            .map_err(ServeError::Signals)?;
    }
    let d = &config.detectors;
    tracing::info!(
        ng = %config.control.ng,
        metrics = %if config.metrics.enabled { config.metrics.listen.to_string() } else { "off".into() },
        media = %config.media.address,
        ports = %format!("{}-{}", config.media.port_min, config.media.port_max),
        driver = driver.name(),
        shards = driver.shards(),
        dtmf = d.dtmf, amd = d.amd, beep = d.beep, dsp_backend = d.dsp_backend.name(),
        "ringwire serve started"
    );

    let gauges = node.gauges();
    if config.control.allow.is_empty() && !config.control.ng.ip().is_loopback() {
        tracing::warn!(
            ng = %config.control.ng,
            "the NG control socket takes commands from anyone who reaches it: \
             list the proxies in [control] allow"
        );
    }
    let mut server = NgServer::with_config(node, NgConfig::default());
    let mut buf = vec![0u8; 65_536];
    let mut reply = Vec::with_capacity(65_536);
    let mut drain_since: Option<Instant> = None;
    let mut next_sweep = Instant::now() + SWEEP;
    loop {
        let now = Instant::now();
        if now >= next_sweep {
            server.control_mut().expire(now);
            next_sweep = now + SWEEP;
        }
        if hangup.swap(false, Ordering::Relaxed) {
            reload_config(&mut config, source.as_ref(), server.control_mut(), log);
        }
        if stop.load(Ordering::Relaxed) {
            let since = *drain_since.get_or_insert_with(|| {
                draining.store(true, Ordering::Relaxed);
                tracing::info!(
                    calls = server.control().call_count(),
                    deleting = server.control().deleting_count(),
                    "signal: draining (no new calls)"
                );
                Instant::now()
            });
            // from the config as it is now: a reload during the drain
            // lengthens or shortens it
            let deadline = since + config::secs(config.timeouts.drain);
            if server.control().call_count() == 0 || Instant::now() >= deadline {
                break;
            }
        }
        match ng_socket.recv_from(&mut buf) {
            Ok((_, peer)) if !acl::permits(&config.control.allow, peer.ip()) => {
                gauges.ng_refused_source.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, "NG datagram from outside [control] allow dropped");
            }
            Ok((n, peer)) => {
                reply.clear();
                if server.handle(Instant::now(), &buf[..n], &mut reply).is_ok() {
                    if let Err(e) = ng_socket.send_to(&reply, peer) {
                        tracing::warn!(%peer, "NG reply not sent: {e}");
                    }
                } else {
                    tracing::debug!(%peer, "NG datagram without a cookie dropped");
                }
                if let Ok(mut g) = ng_stats.lock() {
                    *g = server.stats();
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => tracing::warn!("NG socket: {e}"),
        }
    }
    let left = server.control().call_count();
    let deleting = server.control().deleting_count();
    server.control_mut().delete_all();
    driver.shutdown();
    tracing::info!(
        calls_cut = left - deleting,
        deleted_in_delay = deleting,
        "ringwire serve stopped"
    );
    Ok(())
}

fn log_events(
    rx: mpsc::Receiver<(usize, Event)>,
    counts: &EventCounters,
    idle: &expiry::MediaIdle,
) {
    for (shard, e) in rx {
        idle.on_event(&e, Instant::now());
        match e {
            // a call's media is over once the proxy deleted it; the call
            // only waits out its delete delay
            Event::MediaTimeout { call, leg, .. } if idle.is_deleted(call) => {
                tracing::debug!(
                    shard,
                    call = call.0,
                    leg = leg.0,
                    "media timeout (call deleted, in its delete delay)"
                );
            }
            // a held call's quiet is expected (it expires after
            // `timeouts.silent`): no trouble to report
            Event::MediaTimeout { call, leg, .. } if idle.is_held(call) => {
                counts.timeouts_held.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    shard,
                    call = call.0,
                    leg = leg.0,
                    "media timeout (call on hold)"
                );
            }
            Event::MediaTimeout { call, leg, .. } => {
                counts.timeouts.fetch_add(1, Ordering::Relaxed);
                tracing::info!(shard, call = call.0, leg = leg.0, "media timeout");
            }
            Event::Latched {
                call,
                leg,
                old,
                new,
                ..
            } => {
                counts.latches.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(shard, call = call.0, leg = leg.0, ?old, %new, "latched");
            }
            Event::MediaResumed { call, leg } => {
                tracing::info!(shard, call = call.0, leg = leg.0, "media resumed");
            }
            Event::LegClosed { call, leg, stats } => {
                tracing::debug!(shard, call = call.0, leg = leg.0, ?stats, "leg closed");
            }
        }
    }
}

/// Blocks SIGTERM, SIGINT and SIGHUP in this thread (and the threads it
/// spawns later); returns the set for `sigwait`. SIGHUP's default action
/// would end the node at once, every call cut; here it reloads the config
/// (`systemctl reload`), which a shell hanging up does harmlessly too.
fn block_signals() -> std::io::Result<libc::sigset_t> {
    // SAFETY: sigset_t is a plain C struct initialised by sigemptyset
    // before use; pthread_sigmask only reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGHUP);
        let r = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if r != 0 {
            return Err(std::io::Error::from_raw_os_error(r));
        }
        Ok(set)
    }
}

/// The media port pairs of the configured range, less the one that holds
/// the NG control port where that lies in the range: the node's own
/// socket would make its pair unusable for every call offered it.
fn media_ports(config: &Config) -> ports::PortAllocator {
    let all = ports::PortAllocator::new(config.media.port_min, config.media.port_max);
    let ng = config.control.ng.port();
    if (config.media.port_min..=config.media.port_max).contains(&ng) {
        tracing::info!(
            port = ng,
            "the NG control port lies in the media port range: its pair is left out"
        );
        return all.without(ng);
    }
    all
}

/// Reads the config again from `source` and has the node take its live
/// settings; a file that does not read, or no file, changes nothing.
fn reload_config(
    config: &mut Config,
    source: Option<&ConfigSource>,
    node: &mut control::Node,
    log: Option<&Logging>,
) {
    let gauges = node.gauges();
    let outcome = |ok: bool| {
        let counter = if ok {
            &gauges.reloads_ok
        } else {
            &gauges.reloads_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
        gauges.last_reload_failed.store(!ok, Ordering::Relaxed);
    };
    let Some(source) = source else {
        tracing::warn!("SIGHUP: no config file (--config) to read again; nothing changed");
        outcome(false);
        return;
    };
    let read = source().and_then(|file| Reload::of(config, &file));
    let reload = match read {
        Ok(reload) => reload,
        Err(e) => {
            tracing::error!("SIGHUP: the config was not reloaded, nothing changed: {e}");
            outcome(false);
            return;
        }
    };
    outcome(true);
    if reload.applied.is_empty() && reload.at_restart.is_empty() {
        tracing::info!("SIGHUP: config read again, nothing changed");
        return;
    }
    *config = reload.config;
    node.reconfigure(config);
    if let (Some(log), true) = (log, reload.applied.contains(&"log.level")) {
        set_log_level(log, &config.log.level);
    }
    if !reload.applied.is_empty() {
        tracing::info!(changed = ?reload.applied, "config reloaded");
    }
    if !reload.at_restart.is_empty() {
        tracing::warn!(
            sections = ?reload.at_restart,
            "config changes that take a restart (sockets, ports, workers, \
             pinning, DSP backend) were left as they run"
        );
    }
}

/// Logs at `level` from now on, unless `RINGWIRE_LOG` set the level.
fn set_log_level(log: &Logging, level: &str) {
    match log.set(level) {
        Ok(true) => {}
        Ok(false) => tracing::debug!(
            level,
            "[log] level not taken: {} sets the level",
            crate::logging::ENV
        ),
        // the config was checked: only a logger gone gets here
        Err(e) => tracing::warn!("{e}"),
    }
}

fn wait_for_signal(set: libc::sigset_t, stop: &AtomicBool, hangup: &AtomicBool) {
    loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: `set` is an initialised signal set and `sig` a live int.
        let r = unsafe { libc::sigwait(&set, &mut sig) };
        if r == 0 && sig == libc::SIGHUP {
            tracing::info!("SIGHUP: reloading the config");
            hangup.store(true, Ordering::Relaxed);
        } else if r == 0 {
            tracing::info!(signal = sig, "stop requested");
            stop.store(true, Ordering::Relaxed);
        }
    }
}
