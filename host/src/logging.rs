//! Logs to stderr through `tracing`, at a level that can change while the
//! program runs: `ringwire serve` takes `[log] level` from its config at
//! start and again on SIGHUP, unless `RINGWIRE_LOG` names one, which wins.

use thiserror::Error;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// The environment variable whose level wins over any config's.
pub const ENV: &str = "RINGWIRE_LOG";

/// A level (filter directives) that does not read, or a logger gone.
#[derive(Debug, Error)]
pub enum LogError {
    /// The directives do not parse (`"info"`, `"warn,ringwire_host=debug"`).
    #[error("log level {level:?}: {why}")]
    Level {
        /// What was given.
        level: String,
        /// Why it does not read.
        why: String,
    },
    /// The logger is no longer installed.
    #[error("the log level cannot change: {0}")]
    Gone(String),
}

/// Whether `level` reads as filter directives (`info`, `warn`,
/// `info,ringwire_host::serve::control=debug`, ...).
pub fn check(level: &str) -> Result<(), LogError> {
    EnvFilter::try_new(level)
        .map(drop)
        .map_err(|e| LogError::Level {
            level: level.to_string(),
            why: e.to_string(),
        })
}

/// The installed logger's level.
pub struct Logging {
    handle: reload::Handle<EnvFilter, Registry>,
    /// `RINGWIRE_LOG` was set: its level stays.
    pinned: bool,
}

impl Logging {
    /// Installs the logger: `RINGWIRE_LOG`'s level if set (and readable),
    /// else `default`; colours only on a terminal.
    pub fn init(default: &str) -> Logging {
        let from_env = EnvFilter::try_from_env(ENV).ok();
        let pinned = from_env.is_some();
        let filter = from_env.unwrap_or_else(|| EnvFilter::new(default));
        let (filter, handle) = reload::Layer::new(filter);
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
        tracing_subscriber::registry().with(filter).with(fmt).init();
        Logging { handle, pinned }
    }

    /// Logs at `level` from now on; `Ok(false)` (and no change) where
    /// `RINGWIRE_LOG` set the level.
    pub fn set(&self, level: &str) -> Result<bool, LogError> {
        if self.pinned {
            return Ok(false);
        }
        check(level)?;
        self.handle
            .reload(EnvFilter::new(level))
            .map_err(|e| LogError::Gone(e.to_string()))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_read_as_filter_directives() {
        for good in ["info", "warn", "debug,ringwire_host::serve::control=trace"] {
            check(good).unwrap();
        }
        let e = check("info,=loud").unwrap_err().to_string();
        assert!(e.contains("info,=loud"), "{e}");
    }
}
