//! Reusable raw-frame buffers. A 1080p yuv420p frame is 3 MB, and the program makes two a
//! frame interval (the decoder's read, the composition with overlays): allocated afresh, each
//! one is either a new mapping (a page fault per 4 KiB, the kernel zeroing 3 MB) or a chunk
//! that glibc's arenas keep resident long after it was freed. Buffers handed out here go back
//! to a small free list when the last reference to them drops, so the program reuses the same
//! few frames: no faults, no zeroing, and a resident size that follows the live frames.

use std::sync::Mutex;

use bytes::Bytes;

/// Free buffers kept at most (of any size: the newest sizes win). The program's live frames
/// are a handful (decoder queue, slots, the composed frame, the encoder's queue); this is the
/// slack between its busiest and quietest moments.
const MAX_FREE: usize = 6;

static FREE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// Buffers allocated because none of the size was free (the pool's misses).
static ALLOCATED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A frame buffer that returns to the pool when dropped.
pub struct PooledFrame(Vec<u8>);

impl PooledFrame {
    /// A buffer of exactly `len` bytes: a reused one (holding an old frame: the caller
    /// overwrites all of it) or a new zeroed one.
    pub fn take(len: usize) -> Self {
        let reused = {
            let mut free = FREE.lock().unwrap_or_else(|p| p.into_inner());
            free.iter()
                .position(|b| b.len() == len)
                .map(|i| free.swap_remove(i))
        };
        PooledFrame(reused.unwrap_or_else(|| {
            ALLOCATED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            vec![0; len]
        }))
    }

    /// Shares the buffer as `Bytes` (cheap clones); it returns to the pool after the last one.
    pub fn into_bytes(self) -> Bytes {
        Bytes::from_owner(self)
    }
}

impl AsRef<[u8]> for PooledFrame {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl AsMut<[u8]> for PooledFrame {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

impl Drop for PooledFrame {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        if buf.is_empty() {
            return;
        }
        let mut free = FREE.lock().unwrap_or_else(|p| p.into_inner());
        if free.len() >= MAX_FREE {
            // The oldest goes: after a size change the old size's buffers leave first.
            free.remove(0);
        }
        free.push(buf);
    }
}

/// Buffers allocated since start because none was free (for the benchmarks: a program in
/// steady state allocates none).
pub fn allocated() -> u64 {
    ALLOCATED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Free buffers held now (for tests and the memory benchmark).
pub fn free_buffers() -> usize {
    FREE.lock().unwrap_or_else(|p| p.into_inner()).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer comes back after its last `Bytes` clone is gone and is handed out again (same
    /// memory, its old content still there: takers overwrite it), only for its own size; the
    /// free list stays bounded.
    #[test]
    fn buffers_are_reused_after_their_last_reference() {
        // A size no other test uses, so the shared pool's other buffers do not interfere.
        const LEN: usize = 123_457;
        let mut a = PooledFrame::take(LEN);
        a.as_mut()[0] = 7;
        let ptr = a.as_ref().as_ptr();
        let shared = a.into_bytes();
        let clone = shared.clone();
        drop(shared);
        let b = PooledFrame::take(LEN);
        assert_ne!(b.as_ref().as_ptr(), ptr, "still referenced: not reused");
        drop(clone);
        let c = PooledFrame::take(LEN);
        assert_eq!(c.as_ref().as_ptr(), ptr, "reused once free");
        assert_eq!(c.as_ref()[0], 7);
        assert_eq!(PooledFrame::take(LEN + 2).as_ref().len(), LEN + 2);
        let many: Vec<_> = (0..3 * MAX_FREE).map(|_| PooledFrame::take(LEN)).collect();
        drop((b, c, many));
        assert!(free_buffers() <= MAX_FREE);
    }
}
