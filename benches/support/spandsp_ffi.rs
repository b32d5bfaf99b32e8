//! A minimal FFI to spandsp's DTMF receiver (Debian `libspandsp-dev`), the
//! peer the `dtmf` bench measures ringwire against.
//!
//! Signatures from `/usr/include/spandsp/dtmf.h` (spandsp 0.0.6):
//!
//! ```c
//! typedef void (*digits_rx_callback_t)(void *user_data, const char *digits, int len);
//! dtmf_rx_state_t *dtmf_rx_init(dtmf_rx_state_t *s, digits_rx_callback_t callback, void *user_data);
//! int dtmf_rx(dtmf_rx_state_t *s, const int16_t amp[], int samples);
//! int dtmf_rx_free(dtmf_rx_state_t *s);
//! ```
//!
//! Lives in `benches/support/` (not `benches/`) so that cargo does not
//! auto-discover it as a bench target of its own.
use std::ffi::{c_char, c_int, c_void};

/// Opaque `dtmf_rx_state_t`.
#[repr(C)]
pub struct DtmfRxStateT {
    _opaque: [u8; 0],
}

type DigitsRxCallback = extern "C" fn(user_data: *mut c_void, digits: *const c_char, len: c_int);

#[link(name = "spandsp")]
extern "C" {
    fn dtmf_rx_init(
        s: *mut DtmfRxStateT,
        callback: Option<DigitsRxCallback>,
        user_data: *mut c_void,
    ) -> *mut DtmfRxStateT;
    fn dtmf_rx(s: *mut DtmfRxStateT, amp: *const i16, samples: c_int) -> c_int;
    fn dtmf_rx_free(s: *mut DtmfRxStateT) -> c_int;
}

/// Digits reported by one receiver (written by the callback).
#[derive(Default)]
pub struct Digits {
    /// How many digits were reported.
    pub count: u64,
    /// The first digits reported, for checking (capped so the timed loops
    /// never allocate).
    pub text: String,
}

const TEXT_CAP: usize = 256;

extern "C" fn on_digits(user_data: *mut c_void, digits: *const c_char, len: c_int) {
    // SAFETY: user_data is the `Digits` boxed by the owning `DtmfRx`, which
    // outlives the receiver state; spandsp passes `len` valid chars.
    let sink = unsafe { &mut *(user_data as *mut Digits) };
    let bytes = unsafe { std::slice::from_raw_parts(digits as *const u8, len.max(0) as usize) };
    sink.count += bytes.len() as u64;
    for &b in bytes {
        if sink.text.len() < TEXT_CAP {
            sink.text.push(b as char);
        }
    }
}

/// One spandsp DTMF receiver with default parameters (one channel).
pub struct DtmfRx {
    state: *mut DtmfRxStateT,
    digits: Box<Digits>,
}

impl DtmfRx {
    pub fn new() -> Self {
        let mut digits = Box::<Digits>::default();
        let user = &mut *digits as *mut Digits as *mut c_void;
        // SAFETY: a null state asks spandsp to allocate one; the callback
        // and its user data stay valid until `drop` frees the state.
        let state = unsafe { dtmf_rx_init(std::ptr::null_mut(), Some(on_digits), user) };
        assert!(!state.is_null(), "dtmf_rx_init failed");
        Self { state, digits }
    }

    /// Feeds samples; digits go to [`DtmfRx::digits`].
    #[inline]
    pub fn process(&mut self, amp: &[i16]) {
        // SAFETY: state is live; amp is valid for amp.len() samples.
        unsafe {
            dtmf_rx(self.state, amp.as_ptr(), amp.len() as c_int);
        }
    }

    pub fn digits(&self) -> &Digits {
        &self.digits
    }
}

impl Drop for DtmfRx {
    fn drop(&mut self) {
        // SAFETY: state came from dtmf_rx_init and is freed once.
        unsafe {
            dtmf_rx_free(self.state);
        }
    }
}
