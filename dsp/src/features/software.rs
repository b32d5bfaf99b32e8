//! The software feature engine: per-channel block assembly around the
//! SIMD kernels.
use super::{
    kernel::feature_block_into, BlockSource, ChannelId, EngineError, FeatureBlock, FeatureEngine,
    KernelKind, BLOCK_LEN, INPUT_SHIFT,
};
use crate::g711::Law;

/// A channel's partial block (already on the 13-bit input scale), carried
/// between calls.
#[derive(Clone)]
struct Channel {
    pending: [i16; BLOCK_LEN],
    filled: usize,
    /// The last two samples of the previous block (lag products across
    /// the boundary).
    history: [i16; 2],
}

/// Computes features on the CPU with the fastest kernel it supports.
pub struct SoftwareEngine {
    kernel: KernelKind,
    channels: Vec<Option<Channel>>,
    free: Vec<u32>,
}

impl Default for SoftwareEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl SoftwareEngine {
    /// An engine using the fastest kernel of this CPU.
    pub fn new() -> Self {
        Self::with_kernel(KernelKind::detect())
    }

    /// An engine using a given kernel (the scalar one if the CPU lacks it).
    pub fn with_kernel(kernel: KernelKind) -> Self {
        let kernel = if kernel.is_supported() {
            kernel
        } else {
            KernelKind::Scalar
        };
        Self {
            kernel,
            channels: Vec::new(),
            free: Vec::new(),
        }
    }

    /// The kernel in use.
    pub fn kernel(&self) -> KernelKind {
        self.kernel
    }

    /// Cuts `input` into blocks, carrying the channel's partial block
    /// (converted to the 13-bit scale with `to_scaled`); full blocks go to
    /// the kernel straight from `input`, described by `source`.
    #[inline(always)]
    fn assemble<T: Copy>(
        &mut self,
        channel: ChannelId,
        mut input: &[T],
        to_scaled: impl Fn(T) -> i16,
        source: impl for<'a> Fn(&'a [T; BLOCK_LEN]) -> BlockSource<'a>,
        out: &mut Vec<FeatureBlock>,
    ) -> Result<(), EngineError> {
        let kernel = self.kernel;
        let ch = self.channel_mut(channel)?;
        if ch.filled > 0 {
            let take = (BLOCK_LEN - ch.filled).min(input.len());
            for (d, &s) in ch.pending[ch.filled..ch.filled + take]
                .iter_mut()
                .zip(&input[..take])
            {
                *d = to_scaled(s);
            }
            ch.filled += take;
            input = &input[take..];
            if ch.filled < BLOCK_LEN {
                return Ok(());
            }
            emit(
                kernel,
                BlockSource::Scaled(&ch.pending),
                &mut ch.history,
                out,
            );
            ch.filled = 0;
        }
        let mut blocks = input.chunks_exact(BLOCK_LEN);
        for block in &mut blocks {
            let block: &[T; BLOCK_LEN] = block.try_into().expect("chunks_exact gives BLOCK_LEN");
            emit(kernel, source(block), &mut ch.history, out);
        }
        let rest = blocks.remainder();
        for (d, &s) in ch.pending.iter_mut().zip(rest) {
            *d = to_scaled(s);
        }
        ch.filled = rest.len();
        Ok(())
    }

    fn channel_mut(&mut self, channel: ChannelId) -> Result<&mut Channel, EngineError> {
        self.channels
            .get_mut(channel.0 as usize)
            .and_then(Option::as_mut)
            .ok_or(EngineError::UnknownChannel(channel.0))
    }
}

/// Appends one block's features to `out`, computed in place.
#[inline(always)]
fn emit(
    kernel: KernelKind,
    source: BlockSource,
    history: &mut [i16; 2],
    out: &mut Vec<FeatureBlock>,
) {
    out.push(FeatureBlock::default());
    let slot = out.last_mut().expect("just pushed");
    // SAFETY: a SoftwareEngine only holds kernels this CPU supports
    // (`with_kernel` falls back to the scalar one).
    unsafe { feature_block_into(kernel, source, *history, slot) };
    *history = source.last_two();
}

impl FeatureEngine for SoftwareEngine {
    fn open_channel(&mut self) -> Result<ChannelId, EngineError> {
        let fresh = Channel {
            pending: [0; BLOCK_LEN],
            filled: 0,
            history: [0; 2],
        };
        if let Some(id) = self.free.pop() {
            self.channels[id as usize] = Some(fresh);
            return Ok(ChannelId(id));
        }
        let id = u32::try_from(self.channels.len()).map_err(|_| EngineError::NoFreeChannel {
            capacity: u32::MAX as usize,
        })?;
        self.channels.push(Some(fresh));
        Ok(ChannelId(id))
    }

    fn close_channel(&mut self, channel: ChannelId) -> Result<(), EngineError> {
        let slot = self
            .channels
            .get_mut(channel.0 as usize)
            .filter(|c| c.is_some())
            .ok_or(EngineError::UnknownChannel(channel.0))?;
        *slot = None;
        self.free.push(channel.0);
        Ok(())
    }

    fn process(
        &mut self,
        channel: ChannelId,
        samples: &[i16],
        out: &mut Vec<FeatureBlock>,
    ) -> Result<(), EngineError> {
        self.assemble(
            channel,
            samples,
            |s| s >> INPUT_SHIFT,
            |b| BlockSource::Linear(b),
            out,
        )
    }

    fn process_g711(
        &mut self,
        channel: ChannelId,
        law: Law,
        payload: &[u8],
        out: &mut Vec<FeatureBlock>,
    ) -> Result<(), EngineError> {
        self.assemble(
            channel,
            payload,
            |code| law.decode_one(code) >> INPUT_SHIFT,
            |codes| BlockSource::G711(law, codes),
            out,
        )
    }

    fn name(&self) -> &'static str {
        "software"
    }
}

#[cfg(test)]
mod tests {
    use super::super::dft_block_scalar;
    use super::*;

    fn shifted(samples: &[i16]) -> [i16; BLOCK_LEN] {
        let mut x = [0i16; BLOCK_LEN];
        for (d, &s) in x.iter_mut().zip(samples) {
            *d = s >> INPUT_SHIFT;
        }
        x
    }

    #[test]
    fn blocks_do_not_depend_on_how_input_is_split() {
        let signal: Vec<i16> = (0..1000)
            .map(|n| ((n * 7919) % 20000 - 10000) as i16)
            .collect();
        let mut whole = Vec::new();
        let mut engine = SoftwareEngine::new();
        let a = engine.open_channel().unwrap();
        engine.process(a, &signal, &mut whole).unwrap();
        assert_eq!(whole.len(), 1000 / BLOCK_LEN);

        let b = engine.open_channel().unwrap();
        let mut pieces = Vec::new();
        let mut rest = &signal[..];
        for size in [1usize, 39, 41, 7, 160, 3, 80].iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let n = (*size).min(rest.len());
            engine.process(b, &rest[..n], &mut pieces).unwrap();
            rest = &rest[n..];
        }
        assert_eq!(whole, pieces);
        let history = [signal[118] >> INPUT_SHIFT, signal[119] >> INPUT_SHIFT];
        assert_eq!(
            whole[3],
            dft_block_scalar(&shifted(&signal[120..160]), history)
        );
    }

    #[test]
    fn fused_g711_input_equals_decode_then_process() {
        let payload: Vec<u8> = (0..999u32).map(|n| (n * 37 % 256) as u8).collect();
        for law in [Law::Ulaw, Law::Alaw] {
            let mut engine = SoftwareEngine::new();
            let (a, b) = (
                engine.open_channel().unwrap(),
                engine.open_channel().unwrap(),
            );
            let mut pcm = vec![0i16; payload.len()];
            law.decode(&payload, &mut pcm);
            let (mut fused, mut plain) = (Vec::new(), Vec::new());
            for chunk in payload.chunks(77) {
                engine.process_g711(a, law, chunk, &mut fused).unwrap();
            }
            engine.process(b, &pcm, &mut plain).unwrap();
            assert_eq!(fused, plain, "{law:?}");
        }
    }

    #[test]
    fn unknown_and_closed_channels_are_errors() {
        let mut engine = SoftwareEngine::new();
        let mut out = Vec::new();
        assert_eq!(
            engine.process(ChannelId(3), &[0; 40], &mut out),
            Err(EngineError::UnknownChannel(3))
        );
        let c = engine.open_channel().unwrap();
        engine.close_channel(c).unwrap();
        assert_eq!(
            engine.close_channel(c),
            Err(EngineError::UnknownChannel(c.0))
        );
        assert!(engine.process(c, &[0; 40], &mut out).is_err());
        assert!(engine
            .process_g711(c, Law::Ulaw, &[0; 40], &mut out)
            .is_err());
        assert_eq!(engine.open_channel().unwrap(), c, "ids are reused");
    }
}
