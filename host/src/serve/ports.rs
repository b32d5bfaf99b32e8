//! The RTP port allocator: even RTP ports with the next odd port for RTCP,
//! handed out oldest-freed first (so a port just released is not reused at
//! once, while late packets of the old call may still arrive).

use std::collections::{HashSet, VecDeque};

use thiserror::Error;

/// Every pair of the range is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("ran out of ports ({pairs} RTP/RTCP pairs in use)")]
pub struct OutOfPorts {
    /// Pairs in the range.
    pub pairs: usize,
}

/// Hands out RTP/RTCP port pairs from a range.
#[derive(Debug, Clone)]
pub struct PortAllocator {
    free: VecDeque<u16>,
    used: HashSet<u16>,
}

impl PortAllocator {
    /// All pairs `(even, even + 1)` that fit in `min..=max`.
    pub fn new(min: u16, max: u16) -> Self {
        let first = (min as u32 + 1) & !1;
        let free = (first..max as u32)
            .step_by(2)
            .filter(|&p| p > 0)
            .map(|p| p as u16)
            .collect();
        PortAllocator {
            free,
            used: HashSet::new(),
        }
    }

    /// The same without the pair that holds `port` (a socket of the node's
    /// own, such as the NG control socket, inside the range), so that no
    /// call is offered a port that cannot be bound.
    pub fn without(mut self, port: u16) -> Self {
        let rtp = port & !1;
        self.free.retain(|&p| p != rtp);
        self
    }

    /// Pairs in the range.
    pub fn capacity(&self) -> usize {
        self.free.len() + self.used.len()
    }

    /// Pairs in use.
    pub fn in_use(&self) -> usize {
        self.used.len()
    }

    /// Takes a pair: returns its RTP port (RTCP is the next one).
    pub fn allocate(&mut self) -> Result<u16, OutOfPorts> {
        let p = self.free.pop_front().ok_or(OutOfPorts {
            pairs: self.used.len(),
        })?;
        self.used.insert(p);
        Ok(p)
    }

    /// Gives a pair back (by its RTP port); unknown ports are ignored.
    pub fn free(&mut self, rtp: u16) {
        if self.used.remove(&rtp) {
            self.free.push_back(rtp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_left_out_is_never_handed_out() {
        // 30005 is the RTCP port of the pair at 30004
        let mut a = PortAllocator::new(30002, 30007)
            .without(30005)
            .without(40000);
        assert_eq!(a.capacity(), 2);
        assert_eq!(a.allocate(), Ok(30002));
        assert_eq!(a.allocate(), Ok(30006));
        assert!(a.allocate().is_err());
        assert_eq!(a.in_use(), 2);
    }

    #[test]
    fn pairs_are_even_odd_and_run_out() {
        let mut a = PortAllocator::new(30001, 30008);
        assert_eq!(a.capacity(), 3); // 30002, 30004, 30006 (30008 has no 30009)
        let got: Vec<u16> = (0..3).map(|_| a.allocate().unwrap()).collect();
        assert_eq!(got, [30002, 30004, 30006]);
        assert_eq!(a.allocate(), Err(OutOfPorts { pairs: 3 }));
        a.free(30004);
        a.free(30004);
        a.free(1234);
        assert_eq!(a.in_use(), 2);
        assert_eq!(a.allocate(), Ok(30004));
    }

    #[test]
    fn freed_ports_wait_their_turn() {
        let mut a = PortAllocator::new(40000, 40009);
        let p = a.allocate().unwrap();
        a.free(p);
        assert_ne!(a.allocate().unwrap(), p);
    }

    #[test]
    fn top_of_the_port_space() {
        let mut a = PortAllocator::new(65534, 65535);
        assert_eq!(a.allocate(), Ok(65534));
        assert!(PortAllocator::new(65535, 65535).allocate().is_err());
    }
}
