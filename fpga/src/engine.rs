//! [`FpgaSimEngine`]: the [`FeatureEngine`] trait on the simulated block.
use crate::regs;
use crate::ring::{Completion, Ring, Status};
use crate::sim::{Sim, SimError};
use ringwire_dsp::features::{
    ChannelId, EngineError, FeatureBlock, FeatureEngine, BINS, BLOCK_LEN,
};

/// Submission ring entries.
const SQ_SIZE: u32 = 8;
/// Completion ring entries (room for several full descriptors).
const CQ_SIZE: u32 = 128;

fn backend(e: SimError) -> EngineError {
    EngineError::Backend(e.to_string())
}

/// Converts a record's words into a [`FeatureBlock`].
pub fn feature_block(words: &[u32; crate::sim::RECORD_WORDS]) -> FeatureBlock {
    let mut b = FeatureBlock::default();
    for k in 0..BINS {
        b.dft[k] = [words[2 * k] as i32, words[2 * k + 1] as i32];
    }
    b.energy = words[16];
    b.acf = [words[17] as i32, words[18] as i32];
    b.zero_crossings = words[19];
    b
}

/// Features computed by the Verilated RTL. Channel ids are the RTL's
/// channel ids (its `s_tuser`), `0..capacity`. Samples go to the block
/// through the descriptor ring ([`Ring`]); records come back as
/// completions.
pub struct FpgaSimEngine {
    ring: Ring,
    open: Vec<bool>,
    done: Vec<Completion>,
}

impl FpgaSimEngine {
    /// A freshly reset, enabled block with all its channel slots usable.
    pub fn new() -> Result<Self, EngineError> {
        Self::from_sim(Sim::new().map_err(backend)?)
    }

    /// Drives an existing (reset) simulation.
    pub fn from_sim(mut sim: Sim) -> Result<Self, EngineError> {
        let id = sim.read32(regs::ID);
        let version = sim.read32(regs::VERSION);
        if id != regs::ID_VALUE || version >> 16 != regs::VERSION_VALUE >> 16 {
            return Err(EngineError::Backend(format!(
                "not a ringwire feature block (id {id:#010x}, version {version:#010x})"
            )));
        }
        let block = sim.read32(regs::BLOCK_LEN);
        if block as usize != BLOCK_LEN || sim.read32(regs::BINS) as usize != BINS {
            return Err(EngineError::Backend(format!(
                "block length {block} does not match the software's {BLOCK_LEN}"
            )));
        }
        let capacity = sim.read32(regs::CAPACITY);
        sim.write32(regs::CHAN_COUNT, capacity).map_err(backend)?;
        sim.write32(regs::CTRL, regs::CTRL_ENABLE)
            .map_err(backend)?;
        Ok(Self {
            ring: Ring::new(sim, SQ_SIZE, CQ_SIZE)?,
            open: vec![false; capacity as usize],
            done: Vec::new(),
        })
    }

    /// How many channels the block holds.
    pub fn capacity(&self) -> usize {
        self.open.len()
    }

    /// The simulation underneath (registers, cycle counts).
    pub fn sim(&mut self) -> &mut Sim {
        self.ring.card().sim()
    }

    /// The descriptor ring (driver side; its card holds the registers).
    pub fn ring(&mut self) -> &mut Ring {
        &mut self.ring
    }

    /// Soft reset through the control register: every channel's state and
    /// the counters are cleared; open channels stay open and start a new
    /// block at their next sample.
    pub fn soft_reset(&mut self) -> Result<(), EngineError> {
        let card = self.ring.card();
        card.write32(regs::CTRL, regs::CTRL_ENABLE | regs::CTRL_SOFT_RESET)
            .map_err(backend)?;
        for _ in 0..Sim::RESET_BOUND {
            if card.read32(regs::STATUS) & (regs::STATUS_BUSY | regs::STATUS_IN_FLIGHT) == 0 {
                let mut stale = Vec::new();
                card.sim().drain(&mut stale);
                self.ring.after_reset();
                return Ok(());
            }
            card.sim().run(1).map_err(backend)?;
        }
        Err(EngineError::Backend("soft reset did not finish".into()))
    }

    /// Turns polled completions into blocks; returns the descriptors done.
    fn collect(
        &mut self,
        channel: ChannelId,
        out: &mut Vec<FeatureBlock>,
    ) -> Result<usize, EngineError> {
        let mut done = 0;
        for c in self.done.drain(..) {
            match c {
                Completion::Record {
                    channel: ch, words, ..
                } => {
                    if ch != channel.0 {
                        return Err(EngineError::Backend(format!(
                            "record for channel {ch} while feeding channel {}",
                            channel.0
                        )));
                    }
                    out.push(feature_block(&words));
                }
                Completion::Done { status, .. } => {
                    if status != Status::Ok {
                        return Err(EngineError::Backend(format!(
                            "descriptor for channel {} failed: {status:?}",
                            channel.0
                        )));
                    }
                    done += 1;
                }
            }
        }
        Ok(done)
    }

    fn check_open(&self, channel: ChannelId) -> Result<(), EngineError> {
        match self.open.get(channel.0 as usize) {
            Some(true) => Ok(()),
            _ => Err(EngineError::UnknownChannel(channel.0)),
        }
    }
}

impl FeatureEngine for FpgaSimEngine {
    fn open_channel(&mut self) -> Result<ChannelId, EngineError> {
        let Some(id) = self.open.iter().position(|&o| !o) else {
            return Err(EngineError::NoFreeChannel {
                capacity: self.capacity(),
            });
        };
        self.ring
            .card()
            .write32(regs::CHAN_CLEAR, id as u32)
            .map_err(backend)?;
        self.open[id] = true;
        Ok(ChannelId(id as u32))
    }

    fn close_channel(&mut self, channel: ChannelId) -> Result<(), EngineError> {
        self.check_open(channel)?;
        self.open[channel.0 as usize] = false;
        Ok(())
    }

    fn process(
        &mut self,
        channel: ChannelId,
        samples: &[i16],
        out: &mut Vec<FeatureBlock>,
    ) -> Result<(), EngineError> {
        self.check_open(channel)?;
        let mut pending = 0usize;
        for chunk in samples.chunks(Ring::SLOT_SAMPLES) {
            self.ring.submit(channel.0, chunk)?;
            self.ring.doorbell()?;
            pending += 1;
            // the device runs at the doorbell; take what it completed
            self.ring.poll_completions(&mut self.done, usize::MAX)?;
            pending -= self.collect(channel, out)?;
        }
        if pending != 0 {
            return Err(EngineError::Backend(format!(
                "{pending} descriptors not completed"
            )));
        }
        Ok(())
    }

    fn name(&self) -> &'static str {
        "fpga-sim"
    }
}
