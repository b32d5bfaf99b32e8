//! The systemd unit shipped in `host/dist/ringwire.service`: systemd
//! reads it without a warning (`systemd-analyze verify`, from Debian's
//! `systemd`, which `scripts/test.sh` installs), its `ExecStartPre` check
//! passes on the example config, and its descriptor limit holds the
//! default port range.

mod common;

use std::process::Command;

use ringwire_host::serve::Config;

const UNIT: &str = include_str!("../dist/ringwire.service");
const INSTALLED_BIN: &str = "/usr/local/bin/ringwire";
const INSTALLED_CONFIG: &str = "/etc/ringwire/ringwire.toml";

/// The unit's value of `key` (its first line `key=value`).
fn value<'a>(unit: &'a str, key: &str) -> &'a str {
    unit.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key}= in the unit"))
}

/// The unit as installed here: this build's binary and the example config.
fn local_unit() -> String {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../ringwire.example.toml");
    UNIT.replace(INSTALLED_BIN, env!("CARGO_BIN_EXE_ringwire"))
        .replace(INSTALLED_CONFIG, example)
}

#[test]
fn systemd_reads_the_unit_without_a_warning() {
    let dir = common::temp_path("systemd-unit");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ringwire.service");
    std::fs::write(&path, local_unit()).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze (Debian package systemd) is installed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // an unknown key or a bad value is only a warning to systemd
    assert!(
        !stderr.contains("ringwire.service"),
        "systemd warns about the unit:\n{stderr}"
    );
}

#[test]
fn the_units_start_check_passes_on_the_example_config() {
    let unit = local_unit();
    let pre: Vec<&str> = value(&unit, "ExecStartPre").split_whitespace().collect();
    let out = Command::new(pre[0]).args(&pre[1..]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("config OK"), "{stdout}");
    let start: Vec<&str> = value(&unit, "ExecStart").split_whitespace().collect();
    assert_eq!(&pre[..2], &start[..2], "both run the same binary's serve");
    assert_eq!(pre[3..], start[2..], "both read the same config");
}

#[test]
fn the_units_limits_fit_the_default_node() {
    // two sockets (RTP, RTCP) per port pair, and room for the rest
    let media = Config::default().media;
    let sockets = u64::from(media.port_max - media.port_min + 1);
    let nofile: u64 = value(UNIT, "LimitNOFILE").parse().unwrap();
    assert!(nofile >= sockets + 1024, "{nofile} descriptors");
    assert_eq!(value(UNIT, "KillSignal"), "SIGTERM", "SIGTERM drains");
    let stop: u64 = value(UNIT, "TimeoutStopSec").parse().unwrap();
    let drain = Config::default().timeouts.drain;
    assert!(stop as f64 >= drain + 30.0, "room to drain before SIGKILL");
}

#[test]
fn the_units_reload_checks_the_config_then_signals_the_node() {
    let unit = local_unit();
    let reloads: Vec<&str> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("ExecReload="))
        .collect();
    assert_eq!(reloads.len(), 2, "{reloads:?}");
    // first the check the start makes, so a bad file fails the reload ...
    assert_eq!(reloads[0], value(&unit, "ExecStartPre"));
    // ... then SIGHUP, on which the node reads the file again
    assert_eq!(reloads[1], "/bin/kill -HUP $MAINPID");
}
