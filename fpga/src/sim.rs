//! A safe handle on the Verilated block (`sim/rw_shim.cpp`): register
//! access, sample pushes and record drains, every wait bounded.
use std::ffi::c_void;

/// 32-bit words per feature record on the output stream.
pub const RECORD_WORDS: usize = 20;

/// Which Verilated build of the RTL a [`Sim`] runs (both are compiled in
/// by `build.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Model {
    /// `CH_BITS = 8` (256 channel slots), accumulator read latency 2: the
    /// build every driver test uses.
    #[default]
    Default,
    /// `CH_BITS = 15` (32,768 slots, the 250 MHz / 25,000-channel sizing):
    /// the accumulator RAM in 8 banks with a registered bank multiplexer,
    /// read latency 3 (register [`crate::regs::ACC_RD_LAT`] reads 3).
    Wide,
}

type PushFn = unsafe extern "C" fn(*mut c_void, u32, *const i16, usize, u64, *mut usize) -> i32;
type PushTaggedFn =
    unsafe extern "C" fn(*mut c_void, *const u32, *const i16, usize, u64, *mut usize) -> i32;

/// The shim's entry points for one model.
struct Api {
    create: unsafe extern "C" fn(u32) -> *mut c_void,
    free: unsafe extern "C" fn(*mut c_void),
    reset: unsafe extern "C" fn(*mut c_void, u64) -> i32,
    reg_read: unsafe extern "C" fn(*mut c_void, u32) -> u32,
    reg_write: unsafe extern "C" fn(*mut c_void, u32, u32) -> i32,
    run: unsafe extern "C" fn(*mut c_void, u64) -> i32,
    set_out_ready: unsafe extern "C" fn(*mut c_void, i32),
    push_samples: PushFn,
    push_tagged: PushTaggedFn,
    flush: unsafe extern "C" fn(*mut c_void, u64) -> i32,
    drain_records: unsafe extern "C" fn(*mut c_void, *mut u32, *mut u32, usize) -> usize,
    pending_records: unsafe extern "C" fn(*mut c_void) -> usize,
    cycles: unsafe extern "C" fn(*mut c_void) -> u64,
    attach_host: unsafe extern "C" fn(*mut c_void, *mut u32, usize),
    set_dma: unsafe extern "C" fn(*mut c_void, u32, u32),
    dma_faults: unsafe extern "C" fn(*mut c_void) -> u64,
    ring_run: unsafe extern "C" fn(*mut c_void, u64) -> i32,
}

/// The C symbols of one Verilated model (`build.rs` gives each its
/// prefix) as a module with an [`Api`] table.
macro_rules! model_api {
    ($module:ident, $prefix:literal) => {
        mod $module {
            use std::ffi::c_void;
            extern "C" {
                #[link_name = concat!($prefix, "create")]
                fn create(rand_seed: u32) -> *mut c_void;
                #[link_name = concat!($prefix, "free")]
                fn free(h: *mut c_void);
                #[link_name = concat!($prefix, "reset")]
                fn reset(h: *mut c_void, max_cycles: u64) -> i32;
                #[link_name = concat!($prefix, "reg_read")]
                fn reg_read(h: *mut c_void, addr: u32) -> u32;
                #[link_name = concat!($prefix, "reg_write")]
                fn reg_write(h: *mut c_void, addr: u32, value: u32) -> i32;
                #[link_name = concat!($prefix, "run")]
                fn run(h: *mut c_void, n: u64) -> i32;
                #[link_name = concat!($prefix, "set_out_ready")]
                fn set_out_ready(h: *mut c_void, ready: i32);
                #[link_name = concat!($prefix, "push_samples")]
                fn push_samples(
                    h: *mut c_void,
                    channel: u32,
                    samples: *const i16,
                    n: usize,
                    max_wait: u64,
                    pushed: *mut usize,
                ) -> i32;
                #[link_name = concat!($prefix, "push_tagged")]
                fn push_tagged(
                    h: *mut c_void,
                    channels: *const u32,
                    samples: *const i16,
                    n: usize,
                    max_wait: u64,
                    pushed: *mut usize,
                ) -> i32;
                #[link_name = concat!($prefix, "flush")]
                fn flush(h: *mut c_void, max_cycles: u64) -> i32;
                #[link_name = concat!($prefix, "drain_records")]
                fn drain_records(
                    h: *mut c_void,
                    channels: *mut u32,
                    words: *mut u32,
                    max: usize,
                ) -> usize;
                #[link_name = concat!($prefix, "pending_records")]
                fn pending_records(h: *mut c_void) -> usize;
                #[link_name = concat!($prefix, "cycles")]
                fn cycles(h: *mut c_void) -> u64;
                #[link_name = concat!($prefix, "attach_host")]
                fn attach_host(h: *mut c_void, mem: *mut u32, len: usize);
                #[link_name = concat!($prefix, "set_dma")]
                fn set_dma(h: *mut c_void, latency: u32, stall_seed: u32);
                #[link_name = concat!($prefix, "dma_faults")]
                fn dma_faults(h: *mut c_void) -> u64;
                #[link_name = concat!($prefix, "ring_run")]
                fn ring_run(h: *mut c_void, max_idle: u64) -> i32;
            }

            /// The entry points of this model.
            pub(super) const API: super::Api = super::Api {
                create,
                free,
                reset,
                reg_read,
                reg_write,
                run,
                set_out_ready,
                push_samples,
                push_tagged,
                flush,
                drain_records,
                pending_records,
                cycles,
                attach_host,
                set_dma,
                dma_faults,
                ring_run,
            };
        }
    };
}

model_api!(ffi, "rwf_");
model_api!(ffi_wide, "rwf_wide_");

/// Why a simulation call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimError {
    /// The block did not become ready within the cycle bound.
    Timeout {
        /// Samples accepted before the stall (for pushes).
        pushed: usize,
    },
    /// The model stopped (`$finish`, `$stop` or an assertion).
    Stopped,
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimError::Timeout { pushed } => {
                write!(f, "simulated block stalled (after {pushed} samples)")
            }
            SimError::Stopped => f.write_str("simulation stopped"),
        }
    }
}

impl std::error::Error for SimError {}

fn check(rc: i32, pushed: usize) -> Result<(), SimError> {
    match rc {
        0 => Ok(()),
        -1 => Err(SimError::Timeout { pushed }),
        _ => Err(SimError::Stopped),
    }
}

/// One record from the output stream: the channel id and the 20 words
/// (`re0, im0, ..., re7, im7, energy, lag1, lag2, zero_crossings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// The RTL channel id (`m_tuser`).
    pub channel: u32,
    /// The record words.
    pub words: [u32; RECORD_WORDS],
}

/// Host memory the block's DMA port reaches: a word buffer owned here and
/// handed to the shim as a raw pointer, so that Rust's references to it
/// (tied to `&Sim` / `&mut Sim`) never overlap a simulation call.
struct HostBuf {
    ptr: *mut u32,
    len: usize,
}

impl HostBuf {
    fn zeroed(len: usize) -> Self {
        let b: Box<[u32]> = vec![0; len].into_boxed_slice();
        HostBuf {
            len: b.len(),
            ptr: Box::into_raw(b).cast::<u32>(),
        }
    }
}

impl Drop for HostBuf {
    fn drop(&mut self) {
        // SAFETY: ptr/len came from Box::into_raw of a boxed slice of len
        // words, freed once.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.ptr, self.len)) });
    }
}

/// A simulated feature block with its own Verilator context.
pub struct Sim {
    handle: *mut c_void,
    api: &'static Api,
    model: Model,
    // after `handle` in drop order: the shim holds a pointer into it
    host: HostBuf,
}

// SAFETY: the handle owns its VerilatedContext and model; nothing is shared
// between handles, and `&mut self` serialises every call on one handle.
unsafe impl Send for Sim {}

impl Sim {
    /// Cycles a reset sweep may take at most (65,536 channel slots).
    pub const RESET_BOUND: u64 = (1 << 16) + 16;

    /// A block after its hardware reset, registers starting at zero.
    pub fn new() -> Result<Self, SimError> {
        Self::with_random_init(0)
    }

    /// A block whose registers start at random values from `seed` (0: at
    /// zero) before its reset: shows that the reset clears all state.
    pub fn with_random_init(seed: u32) -> Result<Self, SimError> {
        Self::with_model(Model::Default, seed)
    }

    /// A block of the given [`Model`] after its hardware reset, registers
    /// starting at random values from `seed` (0: at zero).
    pub fn with_model(model: Model, seed: u32) -> Result<Self, SimError> {
        let api: &'static Api = match model {
            Model::Default => &ffi::API,
            Model::Wide => &ffi_wide::API,
        };
        // SAFETY: create returns an owned handle, freed in Drop.
        let handle = unsafe { (api.create)(seed) };
        assert!(!handle.is_null(), "rwf_create failed");
        let mut sim = Sim {
            handle,
            api,
            model,
            host: HostBuf::zeroed(0),
        };
        sim.reset()?;
        Ok(sim)
    }

    /// The Verilated build this block runs.
    pub fn model(&self) -> Model {
        self.model
    }

    /// Pulses the hardware reset and waits for the state sweep.
    pub fn reset(&mut self) -> Result<(), SimError> {
        // SAFETY: valid handle (all calls below likewise).
        check(
            unsafe { (self.api.reset)(self.handle, Self::RESET_BOUND) },
            0,
        )
    }

    /// Reads a register.
    pub fn read32(&mut self, addr: u32) -> u32 {
        unsafe { (self.api.reg_read)(self.handle, addr) }
    }

    /// Writes a register (one clock cycle).
    pub fn write32(&mut self, addr: u32, value: u32) -> Result<(), SimError> {
        check(unsafe { (self.api.reg_write)(self.handle, addr, value) }, 0)
    }

    /// Runs idle clock cycles.
    pub fn run(&mut self, cycles: u64) -> Result<(), SimError> {
        check(unsafe { (self.api.run)(self.handle, cycles) }, 0)
    }

    /// Sets the output stream's ready (back-pressure when false).
    pub fn set_out_ready(&mut self, ready: bool) {
        unsafe { (self.api.set_out_ready)(self.handle, ready as i32) }
    }

    /// Pushes samples of one channel, waiting at most `max_wait` cycles for
    /// each to be accepted.
    pub fn push(&mut self, channel: u32, samples: &[i16], max_wait: u64) -> Result<(), SimError> {
        let mut pushed = 0usize;
        // SAFETY: `samples` is valid for `len` reads; `pushed` for a write.
        let rc = unsafe {
            (self.api.push_samples)(
                self.handle,
                channel,
                samples.as_ptr(),
                samples.len(),
                max_wait,
                &mut pushed,
            )
        };
        check(rc, pushed)
    }

    /// Pushes samples each tagged with its channel, in order (any
    /// interleaving of channels), waiting at most `max_wait` cycles each.
    ///
    /// # Panics
    /// If the slices differ in length.
    pub fn push_tagged(
        &mut self,
        channels: &[u32],
        samples: &[i16],
        max_wait: u64,
    ) -> Result<(), SimError> {
        assert_eq!(channels.len(), samples.len());
        let mut pushed = 0usize;
        // SAFETY: both slices are valid for `len` reads; `pushed` for a write.
        let rc = unsafe {
            (self.api.push_tagged)(
                self.handle,
                channels.as_ptr(),
                samples.as_ptr(),
                samples.len(),
                max_wait,
                &mut pushed,
            )
        };
        check(rc, pushed)
    }

    /// Clocks until the pipeline and the output FIFO are empty (at most `max_cycles`).
    pub fn flush(&mut self, max_cycles: u64) -> Result<(), SimError> {
        check(unsafe { (self.api.flush)(self.handle, max_cycles) }, 0)
    }

    /// Moves every queued record into `out`.
    pub fn drain(&mut self, out: &mut Vec<Record>) {
        let mut channels = [0u32; 16];
        let mut words = [0u32; 16 * RECORD_WORDS];
        loop {
            // SAFETY: buffers hold 16 channels and 16 records of words.
            let n = unsafe {
                (self.api.drain_records)(
                    self.handle,
                    channels.as_mut_ptr(),
                    words.as_mut_ptr(),
                    channels.len(),
                )
            };
            for i in 0..n {
                let mut w = [0u32; RECORD_WORDS];
                w.copy_from_slice(&words[i * RECORD_WORDS..(i + 1) * RECORD_WORDS]);
                out.push(Record {
                    channel: channels[i],
                    words: w,
                });
            }
            if n < channels.len() {
                return;
            }
        }
    }

    /// Records queued by the harness, not yet drained.
    pub fn pending_records(&mut self) -> usize {
        unsafe { (self.api.pending_records)(self.handle) }
    }

    /// Gives the block `words` of zeroed host memory for its DMA port (the
    /// previous memory is dropped).
    pub fn set_host_words(&mut self, words: usize) {
        let buf = HostBuf::zeroed(words);
        // SAFETY: the buffer lives in `self.host` until replaced here again
        // (after the shim has the new pointer) or until the handle is freed
        // (Drop frees the handle first); the shim touches it only inside
        // calls on `&mut self`, when no Rust reference to it exists.
        unsafe { (self.api.attach_host)(self.handle, buf.ptr, buf.len) };
        self.host = buf;
    }

    /// Host memory (what the DMA port reads and writes).
    pub fn host(&self) -> &[u32] {
        // SAFETY: ptr/len describe the live buffer; the borrow of `self`
        // keeps the shim from running while the slice lives.
        unsafe { std::slice::from_raw_parts(self.host.ptr, self.host.len) }
    }

    /// Host memory, writable (the driver's side of the rings).
    pub fn host_mut(&mut self) -> &mut [u32] {
        // SAFETY: as in `host`, with the unique borrow of `self`.
        unsafe { std::slice::from_raw_parts_mut(self.host.ptr, self.host.len) }
    }

    /// The host's answer to DMA reads: `latency` cycles (at least 1); with
    /// a nonzero `stall_seed` the host's ready signals follow a
    /// pseudo-random pattern (back-pressure on reads and writes).
    pub fn set_dma(&mut self, latency: u32, stall_seed: u32) {
        unsafe { (self.api.set_dma)(self.handle, latency, stall_seed) }
    }

    /// DMA reads and writes that fell outside host memory.
    pub fn dma_faults(&mut self) -> u64 {
        unsafe { (self.api.dma_faults)(self.handle) }
    }

    /// Clocks until the ring engine is quiet: nothing left to do, or
    /// stalled on completion room. [`SimError::Timeout`] after `max_idle`
    /// cycles in a row without a DMA beat.
    pub fn ring_run(&mut self, max_idle: u64) -> Result<(), SimError> {
        check(unsafe { (self.api.ring_run)(self.handle, max_idle) }, 0)
    }

    /// Clock cycles simulated so far.
    pub fn cycles(&mut self) -> u64 {
        unsafe { (self.api.cycles)(self.handle) }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        // SAFETY: the handle came from rwf_create and is freed once.
        unsafe { (self.api.free)(self.handle) }
    }
}
