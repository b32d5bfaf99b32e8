//! The receive buffer pool: one slab of fixed-size buffers, the provided-buffer
//! ring the kernel picks them from, and [`RecvBuf`], the guard that hands a
//! filled buffer to the caller and gives it back when dropped.
//!
//! Ownership of a buffer id moves in a circle: ring (kernel may write it) ->
//! completion (exclusively ours) -> [`RecvBuf`] (exclusively the caller's) ->
//! `returned` bitmap (nobody's) -> ring again, re-published by the owner of the
//! [`super::UringSockets`] on its next poll. At every step exactly one party may
//! touch the bytes, which is what makes the raw accesses below sound.

use std::alloc::{self, Layout};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

/// The slab of receive buffers, shared by the ring owner and every live
/// [`RecvBuf`] (so the memory outlives both).
pub(crate) struct Pool {
    base: NonNull<u8>,
    layout: Layout,
    buf_size: usize,
    count: u16,
    /// One bit per buffer id: set by [`RecvBuf::drop`] (any thread), taken by
    /// [`Pool::take_returned`] (the ring owner).
    returned: Box<[AtomicU64]>,
}

// SAFETY: the slab is plain memory; each buffer is accessed only by the single
// party that currently owns its id (see the module doc), and the bitmap is
// atomic. Nothing in `Pool` is tied to a thread.
unsafe impl Send for Pool {}
// SAFETY: as above; shared access goes through the atomics only.
unsafe impl Sync for Pool {}

impl Pool {
    /// Allocates `count` zeroed buffers of `buf_size` bytes, page aligned.
    pub(crate) fn new(buf_size: usize, count: u16) -> Option<Arc<Pool>> {
        let size = buf_size.checked_mul(count as usize)?;
        let layout = Layout::from_size_align(size.max(1), 4096).ok()?;
        // SAFETY: `layout` has a non-zero size.
        let base = NonNull::new(unsafe { alloc::alloc_zeroed(layout) })?;
        let words = (count as usize).div_ceil(64);
        let returned = (0..words).map(|_| AtomicU64::new(0)).collect();
        Some(Arc::new(Pool {
            base,
            layout,
            buf_size,
            count,
            returned,
        }))
    }

    /// The address of buffer `bid`.
    pub(crate) fn addr(&self, bid: u16) -> *mut u8 {
        debug_assert!(bid < self.count);
        // SAFETY: `bid < count`, so the offset stays inside the slab allocation.
        unsafe { self.base.as_ptr().add(bid as usize * self.buf_size) }
    }

    /// Size of one buffer in bytes.
    pub(crate) fn buf_size(&self) -> usize {
        self.buf_size
    }

    /// Number of buffers.
    pub(crate) fn count(&self) -> u16 {
        self.count
    }

    /// The whole of buffer `bid`, to parse a completion.
    ///
    /// # Safety
    ///
    /// The caller must own `bid` (the kernel handed it over in a completion and
    /// it has not been given out or returned since).
    pub(crate) unsafe fn buffer(&self, bid: u16) -> &[u8] {
        // SAFETY: in bounds (see `addr`), initialised (zeroed at allocation),
        // and exclusively owned by the caller per this function's contract.
        unsafe { std::slice::from_raw_parts(self.addr(bid), self.buf_size) }
    }

    /// Collects every buffer id given back since the last call.
    pub(crate) fn take_returned(&self, mut f: impl FnMut(u16)) {
        for (w, word) in self.returned.iter().enumerate() {
            if word.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let mut bits = word.swap(0, Ordering::Acquire);
            while bits != 0 {
                let b = bits.trailing_zeros();
                bits &= bits - 1;
                f((w * 64) as u16 + b as u16);
            }
        }
    }

    fn give_back(&self, bid: u16) {
        let word = &self.returned[bid as usize / 64];
        word.fetch_or(1 << (bid % 64), Ordering::Release);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this very layout; the last `Arc`
        // is going away, so no guard and no ring refers to the memory.
        unsafe { alloc::dealloc(self.base.as_ptr(), self.layout) }
    }
}

/// A received datagram in a pooled buffer (zero copy).
///
/// The guard owns one buffer of the ring: read it through `Deref<[u8]>`,
/// rewrite it in place through `DerefMut` (e.g. an RTP header), grow or shrink
/// it within [`RecvBuf::capacity`], send it with
/// [`super::UringSockets::send`] from the same memory. Dropping it (on any
/// thread) gives the buffer back; the ring owner re-publishes it to the kernel
/// on its next poll.
///
/// Conversions and their costs:
///
/// - [`RecvBuf::into_bytes`]: zero copy, keeps the buffer until the last
///   `Bytes` clone is dropped; one small allocation for the shared owner
///   (`Bytes::from_owner`), and the bytes become read-only.
/// - [`RecvBuf::into_bytes_mut`]: a copy into a fresh `BytesMut` (one
///   allocation plus a memcpy), and the buffer goes back to the ring at once.
///   `BytesMut` cannot wrap foreign memory, so a zero-copy `BytesMut` does not
///   exist; prefer `DerefMut` on the guard itself for in-place rewriting.
///
/// Holding many guards for long starves the ring: receive then stops with
/// counted `ENOBUFS` drops until buffers come back.
pub struct RecvBuf {
    pool: Arc<Pool>,
    bid: u16,
    start: u32,
    len: u32,
}

impl RecvBuf {
    /// Wraps buffer `bid`, whose payload is `start..start + len`.
    ///
    /// # Safety
    ///
    /// The caller must own `bid` and hand that ownership to the guard, and
    /// `start + len <= buf_size`.
    pub(crate) unsafe fn new(pool: Arc<Pool>, bid: u16, start: usize, len: usize) -> RecvBuf {
        debug_assert!(start + len <= pool.buf_size);
        RecvBuf {
            pool,
            bid,
            start: start as u32,
            len: len as u32,
        }
    }

    /// The id of the pooled buffer (for diagnostics and tests).
    pub fn buffer_id(&self) -> u16 {
        self.bid
    }

    /// The largest length [`RecvBuf::set_len`] accepts: the buffer's size minus
    /// the receive header in front of the payload.
    pub fn capacity(&self) -> usize {
        self.pool.buf_size - self.start as usize
    }

    /// Sets the payload length (bytes past the old end keep whatever the
    /// buffer held: write them before sending). Returns `false`, changing
    /// nothing, when `len > capacity()`.
    pub fn set_len(&mut self, len: usize) -> bool {
        if len > self.capacity() {
            return false;
        }
        self.len = len as u32;
        true
    }

    /// Zero-copy, read-only `Bytes` over this buffer (one small allocation
    /// for the shared owner); the buffer returns when the last clone drops.
    pub fn into_bytes(self) -> Bytes {
        Bytes::from_owner(self)
    }

    /// Copies the payload into a new `BytesMut` and returns the buffer to the
    /// ring at once (see the type's doc for the trade-off).
    pub fn into_bytes_mut(self) -> BytesMut {
        BytesMut::from(&self[..])
    }
}

impl Deref for RecvBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: the guard owns buffer `bid` exclusively (type invariant),
        // `start + len <= buf_size` (checked by `new` and `set_len`), and the
        // slab is initialised and kept alive by `self.pool`.
        unsafe {
            std::slice::from_raw_parts(
                self.pool.addr(self.bid).add(self.start as usize),
                self.len as usize,
            )
        }
    }
}

impl DerefMut for RecvBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`; `&mut self` makes this the only view.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.pool.addr(self.bid).add(self.start as usize),
                self.len as usize,
            )
        }
    }
}

impl AsRef<[u8]> for RecvBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl AsMut<[u8]> for RecvBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        self
    }
}

impl std::fmt::Debug for RecvBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvBuf")
            .field("buffer_id", &self.bid)
            .field("len", &self.len)
            .finish()
    }
}

impl Drop for RecvBuf {
    fn drop(&mut self) {
        self.pool.give_back(self.bid);
    }
}

/// One entry of the kernel's provided-buffer ring (`struct io_uring_buf`).
#[repr(C)]
struct RawBuf {
    addr: u64,
    len: u32,
    bid: u16,
    /// In entry 0 this field is the ring's tail, written by us, read by the
    /// kernel.
    resv: u16,
}

const _: () = assert!(std::mem::size_of::<RawBuf>() == 16);

/// The provided-buffer ring memory registered with `IORING_REGISTER_PBUF_RING`.
pub(crate) struct BufRing {
    entries: NonNull<RawBuf>,
    layout: Layout,
    mask: u16,
    /// Our tail, published to the kernel by [`BufRing::publish`].
    tail: u16,
    /// Buffers currently in the ring (pushed minus consumed by completions).
    in_ring: usize,
    /// Set when the ring memory must never be freed (the kernel may still
    /// read it after a failed shutdown).
    pub(crate) leak: bool,
}

// SAFETY: the ring memory is only written through `&mut BufRing` (one owner)
// and read by the kernel; it is not tied to a thread.
unsafe impl Send for BufRing {}

impl BufRing {
    /// Allocates a zeroed ring of `entries` (a power of two), page aligned.
    pub(crate) fn new(entries: u16) -> Option<BufRing> {
        debug_assert!(entries.is_power_of_two());
        let size = (entries as usize * std::mem::size_of::<RawBuf>()).max(4096);
        let layout = Layout::from_size_align(size, 4096).ok()?;
        // SAFETY: non-zero size.
        let ptr = unsafe { alloc::alloc_zeroed(layout) };
        Some(BufRing {
            entries: NonNull::new(ptr.cast())?,
            layout,
            mask: entries - 1,
            tail: 0,
            in_ring: 0,
            leak: false,
        })
    }

    /// The ring's address, for registration.
    pub(crate) fn addr(&self) -> u64 {
        self.entries.as_ptr() as u64
    }

    /// Buffers the kernel can pick from now (as far as we know).
    pub(crate) fn in_ring(&self) -> usize {
        self.in_ring
    }

    /// A completion consumed one buffer.
    pub(crate) fn consumed(&mut self) {
        self.in_ring = self.in_ring.saturating_sub(1);
    }

    /// Adds buffer `bid` behind the published tail (visible after `publish`).
    pub(crate) fn push(&mut self, pool: &Pool, bid: u16) {
        let idx = (self.tail & self.mask) as usize;
        // SAFETY: `idx <= mask` is inside the allocation. The slot lies at or
        // past the published tail, so the kernel does not read it yet; the
        // writes go through raw field pointers so that the tail field of
        // entry 0 is never covered by a reference.
        unsafe {
            let e = self.entries.as_ptr().add(idx);
            std::ptr::addr_of_mut!((*e).addr).write(pool.addr(bid) as u64);
            std::ptr::addr_of_mut!((*e).len).write(pool.buf_size() as u32);
            std::ptr::addr_of_mut!((*e).bid).write(bid);
        }
        self.tail = self.tail.wrapping_add(1);
        self.in_ring += 1;
    }

    /// Makes every pushed entry visible to the kernel.
    pub(crate) fn publish(&self) {
        // SAFETY: the tail is the `resv` field of entry 0: in bounds, 2-byte
        // aligned (the allocation is page aligned) and only ever accessed
        // atomically by us and by the kernel (`smp_load_acquire`), so viewing
        // it as an `AtomicU16` (same layout as `u16`) is sound.
        let tail = unsafe {
            &*(std::ptr::addr_of_mut!((*self.entries.as_ptr()).resv) as *const AtomicU16)
        };
        tail.store(self.tail, Ordering::Release);
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        if self.leak {
            return;
        }
        // SAFETY: allocated in `new` with this layout; the io_uring that
        // registered it is dropped before us (field order of `UringSockets`).
        unsafe { alloc::dealloc(self.entries.as_ptr().cast(), self.layout) }
    }
}
