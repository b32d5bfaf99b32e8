//! The host descriptor ring, as a PCIe card exposes it: a submission ring
//! of sample descriptors and a completion ring of feature records with a
//! phase bit, both in host memory, with producer/consumer index registers.
//!
//! The ring engine is RTL (`rtl/rw_ring.v`: the queue manager and DMA
//! master a card puts behind its DMA shell). It owns the ring registers
//! (`0x40..0x6C`, [`regs`](crate::regs)), fetches descriptors and samples
//! through its DMA port, feeds the samples to the feature core and writes
//! the records and a done entry into the completion ring. [`Card`] is the
//! simulated card with its host memory (the shim answers the DMA port from
//! it); [`Ring`] is the driver side: `submit`, `doorbell`,
//! `poll_completions`.
//!
//! Host memory layout (32-bit words, addresses are word indices):
//! - descriptor ([`DESC_WORDS`] words): channel id, sample count, address
//!   of the samples (two 16-bit samples a word, low half first), tag;
//! - completion ([`CQE_WORDS`] words): flags (bit 0 phase, bit 1
//!   descriptor done, bits 8..15 [`Status`]), channel id, tag, records
//!   produced (done entries), then the 20 record words (record entries).
//!
//! The engine starts a descriptor only when the completion ring has room
//! for every record it can produce plus its done entry; otherwise it
//! stalls (its consumer index stays put) until the host frees completion
//! slots (`CQ_HEAD`). A full submission ring is an error to `submit`,
//! never a wait.
use crate::regs;
use crate::sim::{Sim, SimError, RECORD_WORDS};
use ringwire_dsp::features::{EngineError, BLOCK_LEN};

/// Words per submission descriptor.
pub const DESC_WORDS: usize = 4;
/// Words per completion entry.
pub const CQE_WORDS: usize = 4 + RECORD_WORDS;
/// Completion flag: the phase bit.
pub const CQE_PHASE: u32 = 1 << 0;
/// Completion flag: a descriptor's done entry (else a feature record).
pub const CQE_DONE: u32 = 1 << 1;

/// Cycles in a row without a DMA beat after which a doorbell's run is a
/// stall (the engine's own watchdog ends a stuck descriptor after 4,096).
const MAX_IDLE: u64 = 16_384;

/// How a descriptor ended (bits 8..15 of a done entry's flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Processed.
    Ok,
    /// Channel id at or above `CHAN_COUNT`: nothing processed.
    BadChannel,
    /// More samples than the completion ring could ever take records for.
    Overflow,
    /// Descriptor or samples outside the host window (`HOST_WORDS`), or a
    /// DMA read answered with an error.
    DmaError,
    /// The core took no sample and gave no record for 4,096 cycles.
    Backend,
}

impl Status {
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

/// The simulated card: the RTL block (feature core and ring engine) and
/// the host memory its DMA port reaches.
pub struct Card {
    sim: Sim,
}

impl Card {
    /// A card around a (reset) simulation, with `host_words` of zeroed host
    /// memory.
    pub fn new(mut sim: Sim, host_words: usize) -> Self {
        sim.set_host_words(host_words);
        Card { sim }
    }

    /// The simulated RTL block.
    pub fn sim(&mut self) -> &mut Sim {
        &mut self.sim
    }

    /// Host memory.
    pub fn host(&self) -> &[u32] {
        self.sim.host()
    }

    /// Host memory, writable.
    pub fn host_mut(&mut self) -> &mut [u32] {
        self.sim.host_mut()
    }

    /// Hardware reset: the block and the ring engine (bases and sizes too).
    pub fn reset(&mut self) -> Result<(), SimError> {
        self.sim.reset()
    }

    /// Reads a register.
    pub fn read32(&mut self, addr: u32) -> u32 {
        self.sim.read32(addr)
    }

    /// Writes a register; after a doorbell (`SQ_TAIL`) or freed completion
    /// slots (`CQ_HEAD`) the clock runs until the ring engine has nothing
    /// to do or must stall.
    pub fn write32(&mut self, addr: u32, value: u32) -> Result<(), SimError> {
        self.sim.write32(addr, value)?;
        if addr == regs::SQ_TAIL || addr == regs::CQ_HEAD {
            self.sim.ring_run(MAX_IDLE)?;
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
        let words = c.host().len() as u32;
        c.write32(regs::HOST_WORDS, words)?;
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
        self.card.host_mut()[cq].fill(0);
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
        let mem = self.card.host_mut();
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
        self.card.host_mut()[d..d + DESC_WORDS].copy_from_slice(&desc);
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
            let e = &self.card.host()[at..at + CQE_WORDS];
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
