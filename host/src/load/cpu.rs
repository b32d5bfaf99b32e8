//! The node's CPU time from `/proc`: `utime + stime` of a process (all its
//! threads), and the process that owns a UDP port (the NG listener), found
//! through `/proc/net/udp{,6}` (port -> socket inode) and `/proc/*/fd`
//! (inode -> process).

use std::fs;
use std::io;
use std::path::Path;

use thiserror::Error;

/// Why the CPU time could not be read.
#[derive(Debug, Error)]
pub enum CpuError {
    /// `/proc/PID/stat` could not be read.
    #[error("reading /proc/{pid}/stat: {source}")]
    Read {
        /// The process.
        pid: u32,
        /// What failed.
        source: io::Error,
    },
    /// `/proc/PID/stat` did not have the expected fields.
    #[error("unexpected /proc/{pid}/stat format")]
    Format {
        /// The process.
        pid: u32,
    },
}

/// Clock ticks per second of `/proc` times (`sysconf(_SC_CLK_TCK)`).
pub fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions and only reads a constant.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// CPU seconds (user + system, all threads) used so far by process `pid`.
pub fn process_cpu_seconds(pid: u32) -> Result<f64, CpuError> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|source| CpuError::Read { pid, source })?;
    parse_stat(&text)
        .map(|ticks| ticks as f64 / clock_ticks())
        .ok_or(CpuError::Format { pid })
}

/// `utime + stime` in clock ticks from the text of `/proc/PID/stat`.
pub fn parse_stat(text: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces and parentheses: the
    // fields after it start at the last ')'. Field 3 is the state, so
    // utime (14) and stime (15) are the 12th and 13th after it.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The inodes of the UDP sockets bound to local `port`, from the text of
/// `/proc/net/udp` or `/proc/net/udp6`.
pub fn udp_inodes(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_ascii_whitespace().collect();
            let local = cols.get(1)?;
            let p = u16::from_str_radix(local.rsplit(':').next()?, 16).ok()?;
            (p == port).then(|| cols.get(9)?.parse().ok()).flatten()
        })
        .filter(|&inode| inode != 0)
        .collect()
}

/// The process (other than this one) holding a UDP socket bound to `port`,
/// if one can be seen (needs permission to read other processes' `fd/`).
pub fn find_udp_owner(port: u16) -> Option<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        if let Ok(text) = fs::read_to_string(table) {
            inodes.extend(udp_inodes(&text, port));
        }
    }
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    let me = std::process::id();
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        if owns_socket(&entry.path().join("fd"), &wanted) {
            return Some(pid);
        }
    }
    None
}

fn owns_socket(fd_dir: &Path, wanted: &[String]) -> bool {
    let Ok(fds) = fs::read_dir(fd_dir) else {
        return false;
    };
    fds.flatten().any(|fd| {
        fs::read_link(fd.path())
            .ok()
            .and_then(|l| l.to_str().map(|s| wanted.iter().any(|w| w == s)))
            .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_a_name_with_spaces() {
        let s = "1234 (rtp engine) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0";
        assert_eq!(parse_stat(s), Some(325));
    }

    #[test]
    fn udp_table_port_to_inode() {
        let t = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
                 12: 0100007F:08B0 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 55123 2 0000000000000000 0\n\
                 13: 0100007F:08B1 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 55124 2 0000000000000000 0\n";
        assert_eq!(udp_inodes(t, 2224), vec![55123]);
        assert!(udp_inodes(t, 9).is_empty());
    }

    #[test]
    fn own_cpu_time_reads() {
        assert!(process_cpu_seconds(std::process::id()).unwrap() >= 0.0);
    }
}
