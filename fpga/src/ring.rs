//! The host descriptor ring, as a PCIe card exposes it: a submission ring
//! of sample descriptors and a completion ring of feature records with a
//! phase bit, both in host memory, with producer/consumer index registers.
//!
//! Where it lives: the ring engine ([`Card`]) is a **Rust device model in
//! front of the RTL**, the part a DMA shell (XDMA/QDMA, Corundum) plus a
//! small queue manager would be on a card. It owns the ring registers
//! (`0x40..0x64`, [`regs`](crate::regs)), reads descriptors and samples
//! from [`HostMem`] (the buffer the harness owns, standing in for host
//! memory reached by DMA), feeds the samples to the Verilated block's input
//! stream and writes its output records to the completion ring. Registers
//! below `0x40` are the RTL's own. [`Ring`] is the driver side: `submit`,
//! `doorbell`, `poll_completions`.
//!
//! Host memory layout (32-bit words, addresses are word indices):
//! - descriptor ([`DESC_WORDS`] words): channel id, sample count, address
//!   of the samples (two 16-bit samples a word, low half first), tag;
//! - completion ([`CQE_WORDS`] words): flags (bit 0 phase, bit 1
//!   descriptor done, bits 8..15 [`Status`]), channel id, tag, records
//!   produced (done entries), then the 20 record words (record entries).
//!
//! The device starts a descriptor only when the completion ring has room
//! for every record it can produce plus its done entry; otherwise it
//! stalls (its consumer index stays put) until the host frees completion
//! slots (`CQ_HEAD`). A full submission ring is an error to `submit`,
//! never a wait.
use crate::regs;
use crate::sim::{Record, Sim, SimError, RECORD_WORDS};
use ringwire_dsp::features::{EngineError, BLOCK_LEN};

/// Words per submission descriptor.
pub const DESC_WORDS: usize = 4;
/// Words per completion entry.
pub const CQE_WORDS: usize = 4 + RECORD_WORDS;
/// Completion flag: the phase bit.
pub const CQE_PHASE: u32 = 1 << 0;
/// Completion flag: a descriptor's done entry (else a feature record).
pub const CQE_DONE: u32 = 1 << 1;

/// Cycles a sample may wait for the block's input.
const MAX_WAIT: u64 = 1024;
/// Cycles the pipeline may take to drain.
const MAX_FLUSH: u64 = 1024;

/// How a descriptor ended (bits 8..15 of a done entry's flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Processed.
    Ok,
    /// Channel id at or above `CHAN_COUNT`: nothing processed.
    BadChannel,
    /// More samples than the completion ring could ever take records for.
    Overflow,
    /// Sample address outside host memory.
    DmaError,
    /// The block stalled or the simulation stopped.
    Backend,
}

impl Status {
    fn code(self) -> u32 {
        match self {
            Status::Ok => 0,
            Status::BadChannel => 1,
            Status::Overflow => 2,
            Status::DmaError => 3,
            Status::Backend => 4,
        }
    }
    fn from_code(c: u32) -> Status {
        match c {
            0 => Status::Ok,
            1 => Status::BadChannel,
            2 => Status::Overflow,
            3 => Status::DmaError,
            _ => Status::Backend,
        }
    }
}

/// Host memory: the buffer the harness owns, reached by the card's DMA.
#[derive(Debug, Clone, Default)]
pub struct HostMem {
    /// The words.
    pub words: Vec<u32>,
}

impl HostMem {
    fn get(&self, addr: u32) -> Option<u32> {
        self.words.get(addr as usize).copied()
    }
}

/// The simulated card: the RTL block behind the ring engine (device model).
pub struct Card {
    sim: Sim,
    /// Host memory (the harness's buffer).
    pub host: HostMem,
    sq_base: u32,
    sq_size: u32,
    sq_tail: u32,
    sq_head: u32,
    cq_base: u32,
    cq_size: u32,
    cq_tail: u32,
    cq_head: u32,
    phase: bool,
    ring_errors: u32,
    descriptors: u32,
}

impl Card {
    /// A card around a (reset) simulation, with `host_words` of host memory.
    pub fn new(sim: Sim, host_words: usize) -> Self {
        Card {
            sim,
            host: HostMem {
                words: vec![0; host_words],
            },
            sq_base: 0,
            sq_size: 0,
            sq_tail: 0,
            sq_head: 0,
            cq_base: 0,
            cq_size: 0,
            cq_tail: 0,
            cq_head: 0,
            phase: true,
            ring_errors: 0,
            descriptors: 0,
        }
    }

    /// The simulated RTL block.
    pub fn sim(&mut self) -> &mut Sim {
        &mut self.sim
    }

    fn reset_rings(&mut self) {
        self.sq_tail = 0;
        self.sq_head = 0;
        self.cq_tail = 0;
        self.cq_head = 0;
        self.phase = true;
        self.ring_errors = 0;
        self.descriptors = 0;
    }

    /// Hardware reset: the block and the ring engine (bases and sizes too).
    pub fn reset(&mut self) -> Result<(), SimError> {
        self.reset_rings();
        self.sq_base = 0;
        self.sq_size = 0;
        self.cq_base = 0;
        self.cq_size = 0;
        self.sim.reset()
    }

    /// Reads a register.
    pub fn read32(&mut self, addr: u32) -> u32 {
        match addr {
            regs::SQ_BASE => self.sq_base,
            regs::SQ_SIZE => self.sq_size,
            regs::SQ_TAIL => self.sq_tail,
            regs::SQ_HEAD => self.sq_head,
            regs::CQ_BASE => self.cq_base,
            regs::CQ_SIZE => self.cq_size,
            regs::CQ_TAIL => self.cq_tail | (self.phase as u32) << 31,
            regs::CQ_HEAD => self.cq_head,
            regs::RING_ERRORS => self.ring_errors,
            regs::RING_DESCRIPTORS => self.descriptors,
            a if a < regs::SQ_BASE => self.sim.read32(a),
            _ => 0,
        }
    }

    /// Writes a register; a doorbell (`SQ_TAIL`) or a freed completion
    /// slot (`CQ_HEAD`) lets the ring engine run until it has nothing to
    /// do or must stall.
    pub fn write32(&mut self, addr: u32, value: u32) -> Result<(), SimError> {
        match addr {
            regs::SQ_BASE => self.sq_base = value,
            regs::CQ_BASE => self.cq_base = value,
            regs::SQ_SIZE | regs::CQ_SIZE => {
                if !(2..=1 << 16).contains(&value) {
                    self.ring_errors += 1;
                    return Ok(());
                }
                if addr == regs::SQ_SIZE {
                    self.sq_size = value;
                } else {
                    self.cq_size = value;
                }
                self.reset_rings();
            }
            regs::SQ_TAIL => {
                if value >= self.sq_size {
                    self.ring_errors += 1;
                } else {
                    self.sq_tail = value;
                }
                return self.service();
            }
            regs::CQ_HEAD => {
                // the head may only move over entries the device wrote
                let used = (self.cq_tail + self.cq_size - self.cq_head) % self.cq_size.max(1);
                let step = (value + self.cq_size - self.cq_head) % self.cq_size.max(1);
                if value >= self.cq_size || step > used {
                    self.ring_errors += 1;
                } else {
                    self.cq_head = value;
                }
                return self.service();
            }
            regs::SQ_HEAD | regs::CQ_TAIL | regs::RING_ERRORS | regs::RING_DESCRIPTORS => {
                self.ring_errors += 1;
            }
            regs::CTRL => {
                if value & regs::CTRL_SOFT_RESET != 0 {
                    self.reset_rings();
                }
                return self.sim.write32(addr, value);
            }
            a if a < regs::SQ_BASE => return self.sim.write32(a, value),
            _ => self.ring_errors += 1,
        }
        Ok(())
    }

    fn cq_free(&self) -> u32 {
        self.cq_size - 1 - (self.cq_tail + self.cq_size - self.cq_head) % self.cq_size
    }

    fn write_cqe(&mut self, flags: u32, channel: u32, tag: u32, n: u32, words: &[u32]) {
        let at = (self.cq_base + self.cq_tail * CQE_WORDS as u32) as usize;
        if let Some(e) = self.host.words.get_mut(at..at + CQE_WORDS) {
            e[1] = channel;
            e[2] = tag;
            e[3] = n;
            e[4..4 + words.len()].copy_from_slice(words);
            e[4 + words.len()..].fill(0);
            // the flags (with the phase) last, as a DMA engine orders it
            e[0] = flags | self.phase as u32;
        } else {
            self.ring_errors += 1;
        }
        self.cq_tail += 1;
        if self.cq_tail == self.cq_size {
            self.cq_tail = 0;
            self.phase = !self.phase;
        }
    }

    /// Runs descriptors from `SQ_HEAD` to `SQ_TAIL`, stalling when the
    /// completion ring lacks room.
    fn service(&mut self) -> Result<(), SimError> {
        if self.sq_size == 0 || self.cq_size == 0 {
            return Ok(());
        }
        while self.sq_head != self.sq_tail {
            let at = self.sq_base + self.sq_head * DESC_WORDS as u32;
            let d: Vec<Option<u32>> = (0..DESC_WORDS as u32)
                .map(|i| self.host.get(at + i))
                .collect();
            let desc = match d[..] {
                [Some(c), Some(n), Some(a), Some(t)] => Some((c, n, a, t)),
                _ => None,
            };
            let (channel, count, addr, tag) = desc.unwrap_or((u32::MAX, 0, 0, 0));
            // records this descriptor can produce, plus its done entry
            let need = (count as u64).div_ceil(BLOCK_LEN as u64) + 1;
            let status = if desc.is_none() {
                Status::DmaError
            } else if channel >= self.sim.read32(regs::CHAN_COUNT) {
                Status::BadChannel
            } else if need > (self.cq_size - 1) as u64 {
                Status::Overflow
            } else if addr as u64 + (count as u64).div_ceil(2) > self.host.words.len() as u64 {
                Status::DmaError
            } else {
                Status::Ok
            };
            if status == Status::Ok && (self.cq_free() as u64) < need {
                return Ok(()); // stall: wait for the host to free completions
            }
            if self.cq_free() == 0 {
                return Ok(());
            }
            let mut produced = 0;
            let mut status = status;
            if status == Status::Ok {
                let samples: Vec<i16> = (0..count)
                    .map(|i| {
                        (self.host.words[(addr + i / 2) as usize] >> (16 * (i & 1))) as u16 as i16
                    })
                    .collect();
                let mut recs: Vec<Record> = Vec::new();
                let r = self
                    .sim
                    .push(channel, &samples, MAX_WAIT)
                    .and_then(|_| self.sim.flush(MAX_FLUSH));
                self.sim.drain(&mut recs);
                if let Err(e) = r {
                    if e == SimError::Stopped {
                        return Err(e);
                    }
                    status = Status::Backend;
                }
                for rec in recs.iter().take(need as usize - 1) {
                    self.write_cqe(0, rec.channel, tag, 0, &rec.words);
                    produced += 1;
                }
            }
            if status != Status::Ok {
                self.ring_errors += 1;
            }
            self.write_cqe(CQE_DONE | status.code() << 8, channel, tag, produced, &[]);
            self.descriptors += 1;
            self.sq_head = (self.sq_head + 1) % self.sq_size;
        }
        Ok(())
    }
}

/// Why a ring operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RingError {
    /// The submission ring is full: poll completions, then submit again.
    Full,
    /// More samples than one descriptor's slot holds.
    TooLong {
        /// Samples offered.
        len: usize,
        /// The most a descriptor takes.
        max: usize,
    },
    /// The simulation failed.
    Sim(SimError),
}

impl std::fmt::Display for RingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RingError::Full => f.write_str("submission ring full"),
            RingError::TooLong { len, max } => {
                write!(f, "{len} samples in one descriptor (at most {max})")
            }
            RingError::Sim(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RingError {}

impl From<SimError> for RingError {
    fn from(e: SimError) -> Self {
        RingError::Sim(e)
    }
}

impl From<RingError> for EngineError {
    fn from(e: RingError) -> Self {
        EngineError::Backend(e.to_string())
    }
}

/// One completion entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// A feature record.
    Record {
        /// Channel id.
        channel: u32,
        /// Tag of the descriptor that produced it.
        tag: u32,
        /// The 20 record words.
        words: [u32; RECORD_WORDS],
    },
    /// A descriptor finished.
    Done {
        /// Channel id (as submitted).
        channel: u32,
        /// Its tag.
        tag: u32,
        /// How it ended.
        status: Status,
        /// Records it produced.
        records: u32,
    },
}

/// The driver side of the ring, owning the card.
pub struct Ring {
    card: Card,
    sq_size: u32,
    cq_size: u32,
    slot: u32,
    sq_tail: u32,
    cq_head: u32,
    phase: bool,
    next_tag: u32,
}

impl Ring {
    /// Samples a descriptor takes at most (its sample slot).
    pub const SLOT_SAMPLES: usize = 1024;

    /// Sets up rings of `sq_size` descriptors and `cq_size` completions in
    /// fresh host memory and programs the ring registers.
    ///
    /// # Panics
    /// If `sq_size < 2` or `cq_size` cannot hold one full descriptor's
    /// records plus its done entry (`SLOT_SAMPLES / 40 + 3`).
    pub fn new(sim: Sim, sq_size: u32, cq_size: u32) -> Result<Self, RingError> {
        assert!(sq_size >= 2);
        assert!(cq_size as usize >= Self::SLOT_SAMPLES / BLOCK_LEN + 3);
        let sq = sq_size as usize * DESC_WORDS;
        let cq = cq_size as usize * CQE_WORDS;
        let slots = sq_size as usize * Self::SLOT_SAMPLES / 2;
        let card = Card::new(sim, sq + cq + slots);
        let mut ring = Ring {
            card,
            sq_size,
            cq_size,
            slot: (sq + cq) as u32,
            sq_tail: 0,
            cq_head: 0,
            phase: true,
            next_tag: 0,
        };
        ring.program()?;
        Ok(ring)
    }

    fn program(&mut self) -> Result<(), RingError> {
        let c = &mut self.card;
        c.write32(regs::SQ_BASE, 0)?;
        c.write32(regs::SQ_SIZE, self.sq_size)?;
        c.write32(regs::CQ_BASE, self.sq_size * DESC_WORDS as u32)?;
        c.write32(regs::CQ_SIZE, self.cq_size)?;
        self.after_reset();
        Ok(())
    }

    /// Resets the driver's indices after the card's rings were reset (soft
    /// reset): the completion memory is cleared, the phase starts at 1.
    pub fn after_reset(&mut self) {
        self.sq_tail = 0;
        self.cq_head = 0;
        self.phase = true;
        let cq = (self.sq_size as usize * DESC_WORDS)..self.slot as usize;
        self.card.host.words[cq].fill(0);
    }

    /// Hardware reset of the card, then the ring registers programmed again.
    pub fn hard_reset(&mut self) -> Result<(), RingError> {
        self.card.reset()?;
        self.program()
    }

    /// The card (registers, host memory, the simulation).
    pub fn card(&mut self) -> &mut Card {
        &mut self.card
    }

    /// Descriptors submitted and not yet consumed by the device.
    pub fn in_flight(&mut self) -> u32 {
        let head = self.card.read32(regs::SQ_HEAD);
        (self.sq_tail + self.sq_size - head) % self.sq_size
    }

    /// Writes a descriptor for `samples` of `channel` into the next slot
    /// (not yet visible to the device: see [`doorbell`](Self::doorbell)).
    /// Returns its tag. [`RingError::Full`] when no slot is free.
    pub fn submit(&mut self, channel: u32, samples: &[i16]) -> Result<u32, RingError> {
        if samples.len() > Self::SLOT_SAMPLES {
            return Err(RingError::TooLong {
                len: samples.len(),
                max: Self::SLOT_SAMPLES,
            });
        }
        let head = self.card.read32(regs::SQ_HEAD);
        if (self.sq_tail + 1) % self.sq_size == head {
            return Err(RingError::Full);
        }
        let i = self.sq_tail;
        let addr = self.slot + i * (Self::SLOT_SAMPLES / 2) as u32;
        let mem = &mut self.card.host.words;
        for (k, pair) in samples.chunks(2).enumerate() {
            let lo = pair[0] as u16 as u32;
            let hi = pair.get(1).map_or(0, |&s| s as u16 as u32);
            mem[addr as usize + k] = lo | hi << 16;
        }
        let tag = self.next_tag;
        self.next_tag = self.next_tag.wrapping_add(1);
        let d = (i as usize) * DESC_WORDS;
        mem[d..d + DESC_WORDS].copy_from_slice(&[channel, samples.len() as u32, addr, tag]);
        self.sq_tail = (i + 1) % self.sq_size;
        Ok(tag)
    }

    /// Writes a raw descriptor (tests: malformed driver input).
    pub fn submit_raw(&mut self, desc: [u32; DESC_WORDS]) -> Result<(), RingError> {
        let head = self.card.read32(regs::SQ_HEAD);
        if (self.sq_tail + 1) % self.sq_size == head {
            return Err(RingError::Full);
        }
        let d = self.sq_tail as usize * DESC_WORDS;
        self.card.host.words[d..d + DESC_WORDS].copy_from_slice(&desc);
        self.sq_tail = (self.sq_tail + 1) % self.sq_size;
        Ok(())
    }

    /// Rings the doorbell: writes the producer index to `SQ_TAIL`.
    pub fn doorbell(&mut self) -> Result<(), RingError> {
        self.card.write32(regs::SQ_TAIL, self.sq_tail)?;
        Ok(())
    }

    /// Takes at most `max` completions whose phase bit is the expected one,
    /// flipping the expected phase at each wrap, and frees their slots
    /// (`CQ_HEAD`). Returns how many were taken.
    pub fn poll_completions(
        &mut self,
        out: &mut Vec<Completion>,
        max: usize,
    ) -> Result<usize, RingError> {
        let base = self.sq_size as usize * DESC_WORDS;
        let mut n = 0;
        while n < max {
            let at = base + self.cq_head as usize * CQE_WORDS;
            let e = &self.card.host.words[at..at + CQE_WORDS];
            if (e[0] & CQE_PHASE != 0) != self.phase {
                break;
            }
            out.push(if e[0] & CQE_DONE != 0 {
                Completion::Done {
                    channel: e[1],
                    tag: e[2],
                    status: Status::from_code(e[0] >> 8 & 0xff),
                    records: e[3],
                }
            } else {
                let mut words = [0; RECORD_WORDS];
                words.copy_from_slice(&e[4..]);
                Completion::Record {
                    channel: e[1],
                    tag: e[2],
                    words,
                }
            });
            n += 1;
            self.cq_head += 1;
            if self.cq_head == self.cq_size {
                self.cq_head = 0;
                self.phase = !self.phase;
            }
        }
        if n > 0 {
            self.card.write32(regs::CQ_HEAD, self.cq_head)?;
        }
        Ok(n)
    }
}
