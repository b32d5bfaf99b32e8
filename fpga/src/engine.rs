//! [`FpgaSimEngine`]: the [`FeatureEngine`] trait on the simulated block.
use crate::regs;
use crate::sim::{Record, Sim, SimError};
use ringwire_dsp::features::{
    ChannelId, EngineError, FeatureBlock, FeatureEngine, BINS, BLOCK_LEN,
};

/// Cycles a sample may wait for `s_tready`. The block accepts one sample
/// per clock while its output drains (the harness always takes records),
/// so anything near this bound is a hang.
const MAX_WAIT: u64 = 1024;
/// Cycles the output register may take to empty.
const MAX_FLUSH: u64 = 1024;

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
/// channel ids (its `s_tuser`), `0..capacity`.
pub struct FpgaSimEngine {
    sim: Sim,
    open: Vec<bool>,
    records: Vec<Record>,
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
            sim,
            open: vec![false; capacity as usize],
            records: Vec::new(),
        })
    }

    /// How many channels the block holds.
    pub fn capacity(&self) -> usize {
        self.open.len()
    }

    /// The simulation underneath (registers, cycle counts).
    pub fn sim(&mut self) -> &mut Sim {
        &mut self.sim
    }

    /// Soft reset through the control register: every channel's state and
    /// the counters are cleared; open channels stay open and start a new
    /// block at their next sample.
    pub fn soft_reset(&mut self) -> Result<(), EngineError> {
        self.sim
            .write32(regs::CTRL, regs::CTRL_ENABLE | regs::CTRL_SOFT_RESET)
            .map_err(backend)?;
        for _ in 0..Sim::RESET_BOUND {
            if self.sim.read32(regs::STATUS) & (regs::STATUS_BUSY | regs::STATUS_IN_FLIGHT) == 0 {
                self.sim.drain(&mut self.records);
                self.records.clear();
                return Ok(());
            }
            self.sim.run(1).map_err(backend)?;
        }
        Err(EngineError::Backend("soft reset did not finish".into()))
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
        self.sim
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
        self.sim
            .push(channel.0, samples, MAX_WAIT)
            .map_err(backend)?;
        self.sim.flush(MAX_FLUSH).map_err(backend)?;
        self.records.clear();
        self.sim.drain(&mut self.records);
        for r in &self.records {
            if r.channel != channel.0 {
                return Err(EngineError::Backend(format!(
                    "record for channel {} while feeding channel {}",
                    r.channel, channel.0
                )));
            }
            out.push(feature_block(&r.words));
        }
        Ok(())
    }

    fn name(&self) -> &'static str {
        "fpga-sim"
    }
}
