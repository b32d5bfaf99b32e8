//! The process's limit on open descriptors: every RTP and RTCP port of a
//! call is a socket, so a node with the common default soft limit of 1024
//! refuses calls after about 250. At start the soft limit is raised to the
//! hard one and compared with what the configured port range can open.

use std::io;

/// Descriptors the node holds besides media sockets (control and metrics
/// sockets, epoll, eventfds, rings, log files), with a margin.
pub const RESERVED_DESCRIPTORS: u64 = 64;

/// The open-descriptor limit after [`raise_descriptor_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DescriptorLimit {
    /// The soft limit now in force.
    pub soft: u64,
    /// The hard limit (the most the soft one may be raised to).
    pub hard: u64,
    /// The soft limit before, when it was raised.
    pub raised_from: Option<u64>,
}

impl DescriptorLimit {
    /// Calls of two legs (four sockets each) the limit leaves room for,
    /// about (the reserve shrinks with a tiny limit).
    pub fn calls(&self) -> u64 {
        let reserve = RESERVED_DESCRIPTORS.min(self.soft / 2);
        (self.soft - reserve) / 4
    }

    /// Whether the limit is below the sockets of `ports` media ports
    /// (one socket a port) and the reserve.
    pub fn short_of(&self, ports: u64) -> bool {
        self.soft < ports + RESERVED_DESCRIPTORS
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (a no-op when it is
/// there already) and returns the limit in force.
pub fn raise_descriptor_limit() -> io::Result<DescriptorLimit> {
    let (soft, hard) = ringwire_media::driver::open_file_limit()?;
    if soft >= hard {
        return Ok(DescriptorLimit {
            soft,
            hard,
            raised_from: None,
        });
    }
    let raised = libc::rlimit {
        rlim_cur: hard,
        rlim_max: hard,
    };
    // SAFETY: `raised` is a valid rlimit; raising the soft limit up to the
    // hard one needs no privilege.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(DescriptorLimit {
        soft: hard,
        hard,
        raised_from: Some(soft),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let l = raise_descriptor_limit().unwrap();
        assert_eq!(l.soft, l.hard);
        // a second call finds nothing to raise
        let again = raise_descriptor_limit().unwrap();
        assert_eq!((again.soft, again.raised_from), (l.soft, None));
    }

    #[test]
    fn room_for_calls_and_the_port_range() {
        let l = DescriptorLimit {
            soft: 1024,
            hard: 1024,
            raised_from: None,
        };
        assert_eq!(l.calls(), 240);
        let tiny = DescriptorLimit { soft: 40, ..l };
        assert_eq!(tiny.calls(), 5);
        assert!(l.short_of(40_000));
        assert!(!l.short_of(960));
        assert!(l.short_of(961));
    }
}
