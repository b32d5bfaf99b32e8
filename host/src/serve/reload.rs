//! SIGHUP: the settings a running node takes from its config file again,
//! with no call cut, and those that wait for a restart.
//!
//! Taken at once (as `rtpengine-ctl` sets them on a running rtpengine):
//! `[control] allow`, `[media] max_calls` and `interfaces`, every
//! `[timeouts]` key (the call timeouts, `drain`, and the media timeout and
//! latching windows, which every leg takes at once), which detectors new
//! calls get and how they are tuned (`[detectors] dtmf`, `amd`, `beep`,
//! the `amd_*` keys, `[detectors.amd_thresholds]` and
//! `[detectors.beep_thresholds]`), where detector events are pushed
//! (`event_dest`) and `[log] level` (unless `RINGWIRE_LOG` set it). Calls
//! under way keep the interfaces and detectors they were set up with.
//! Everything else (sockets, ports, workers, pinning, the DSP backend) is
//! bound at start: a change there is named in the log and waits for a
//! restart.

use super::config::{Config, ConfigError};

/// Reads the config again: its file, with the command line's overrides.
pub type ConfigSource = Box<dyn Fn() -> Result<Config, ConfigError> + Send>;

/// The outcome of a reload: the config to run on, what changed, and what
/// waits for a restart.
#[derive(Debug, Clone, PartialEq)]
pub struct Reload {
    /// The running config with the reloaded file's live settings.
    pub config: Config,
    /// The live keys whose value changed (`media.max_calls`, ...).
    pub applied: Vec<&'static str>,
    /// The sections where other keys changed (`[media]`, ...): they take
    /// effect at the next start.
    pub at_restart: Vec<&'static str>,
}

impl Reload {
    /// Takes from `file` (the config just read) the live settings, keeping
    /// the rest of `running`; an error where they do not fit what runs (an
    /// IPv6 interface over the IPv4 sockets the node started with).
    pub fn of(running: &Config, file: &Config) -> Result<Reload, ConfigError> {
        let mut config = running.clone();
        // the file, but for its live settings: what is left to compare
        let mut rest = file.clone();
        let mut applied = Vec::new();
        macro_rules! live {
            ($name:literal, $($key:ident).+) => {
                if running.$($key).+ != file.$($key).+ {
                    applied.push($name);
                    config.$($key).+ = file.$($key).+.clone();
                    rest.$($key).+ = running.$($key).+.clone();
                }
            };
        }
        live!("control.allow", control.allow);
        live!("media.max_calls", media.max_calls);
        live!("media.interfaces", media.interfaces);
        live!("timeouts.media", timeouts.media);
        live!("timeouts.setup_window", timeouts.setup_window);
        live!("timeouts.quiet_window", timeouts.quiet_window);
        live!("timeouts.call", timeouts.call);
        live!("timeouts.offer", timeouts.offer);
        live!("timeouts.silent", timeouts.silent);
        live!("timeouts.delete_delay", timeouts.delete_delay);
        live!("timeouts.drain", timeouts.drain);
        live!("detectors.dtmf", detectors.dtmf);
        live!("detectors.amd", detectors.amd);
        live!("detectors.beep", detectors.beep);
        live!(
            "detectors.amd_max_analysis_ms",
            detectors.amd_max_analysis_ms
        );
        live!("detectors.amd_bias", detectors.amd_bias);
        live!(
            "detectors.amd_voicemail_phrases",
            detectors.amd_voicemail_phrases
        );
        live!("detectors.amd_thresholds", detectors.amd_thresholds);
        live!("detectors.beep_thresholds", detectors.beep_thresholds);
        live!("detectors.event_dest", detectors.event_dest);
        live!("log.level", log.level);
        let sections = [
            ("[control]", rest.control != running.control),
            ("[metrics]", rest.metrics != running.metrics),
            ("[media]", rest.media != running.media),
            ("[workers]", rest.workers != running.workers),
            ("[timeouts]", rest.timeouts != running.timeouts),
            ("[detectors]", rest.detectors != running.detectors),
            ("[log]", rest.log != running.log),
        ];
        let at_restart = sections
            .into_iter()
            .filter_map(|(name, changed)| changed.then_some(name))
            .collect();
        config.validate("(its live settings over the running config)")?;
        Ok(Reload {
            config,
            applied,
            at_restart,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::parse(text, "test.toml").unwrap()
    }

    #[test]
    fn the_same_file_changes_nothing() {
        let c = config("[media]\nmax_calls = 10\n");
        let r = Reload::of(&c, &c).unwrap();
        assert_eq!(r.config, c);
        assert!(r.applied.is_empty() && r.at_restart.is_empty());
    }

    #[test]
    fn live_settings_are_taken_and_the_rest_named_for_a_restart() {
        let running = config("[media]\nmax_calls = 10\nport_min = 30000\nport_max = 30099\n");
        let file = config(
            "[control]\nallow = [\"10.0.0.0/8\"]\n\
             [media]\nmax_calls = 20\nport_min = 31000\nport_max = 31099\n\
             [media.interfaces]\nlan = \"127.0.0.2\"\n\
             [timeouts]\ndelete_delay = 5\nmedia = 20\n\
             [workers]\nthreads = 3\n\
             [detectors]\namd = true\n",
        );
        let r = Reload::of(&running, &file).unwrap();
        assert_eq!(
            r.applied,
            [
                "control.allow",
                "media.max_calls",
                "media.interfaces",
                "timeouts.media",
                "timeouts.delete_delay",
                "detectors.amd"
            ]
        );
        assert_eq!(r.at_restart, ["[media]", "[workers]"]);
        let c = &r.config;
        assert_eq!(c.media.max_calls, 20);
        assert_eq!(c.control.allow, file.control.allow);
        assert_eq!(c.media.interfaces, file.media.interfaces);
        assert_eq!((c.timeouts.delete_delay, c.timeouts.media), (5.0, 20.0));
        assert!(c.detectors.amd);
        // what is bound at start stays as it runs
        assert_eq!((c.media.port_min, c.media.port_max), (30000, 30099));
        assert_eq!(c.workers.threads, running.workers.threads);
    }

    #[test]
    fn every_live_key_is_taken() {
        let running = Config::default();
        let file = config(
            "[control]\nallow = [\"192.0.2.0/24\"]\n\
             [media]\nmax_calls = 7\n[media.interfaces]\nwan = \"192.0.2.1\"\n\
             [timeouts]\ncall = 7200\noffer = 60\nsilent = 600\ndelete_delay = 3\ndrain = 9\n\
             media = 45\nsetup_window = 1\nquiet_window = 8\n\
             [detectors]\ndtmf = false\namd = true\nbeep = true\n\
             amd_max_analysis_ms = 5000\namd_bias = -0.5\namd_voicemail_phrases = false\n\
             event_dest = [\"127.0.0.1:9999\"]\n\
             [detectors.amd_thresholds]\nhuman_silence_ms = 450\n\
             [detectors.beep_thresholds]\nmin_duration_ms = 150\n\
             [log]\nlevel = \"debug\"\n",
        );
        let r = Reload::of(&running, &file).unwrap();
        assert_eq!(r.config, file, "a live key was left out");
        assert!(r.at_restart.is_empty(), "{:?}", r.at_restart);
        assert_eq!(r.applied.len(), 21);
    }

    #[test]
    fn live_settings_that_do_not_fit_what_runs_are_refused() {
        // the file moves the sockets to both families and names an IPv6
        // interface; the sockets stay IPv4 until a restart
        let running = Config::default();
        let file = config(
            "[media]\naddress = \"::\"\nadvertise = \"::1\"\n[media.interfaces]\nlan6 = \"::1\"\n",
        );
        let why = Reload::of(&running, &file).unwrap_err().to_string();
        assert!(
            why.contains("media.interfaces.lan6") && why.contains("IPv6"),
            "{why}"
        );
    }
}
