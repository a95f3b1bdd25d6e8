//! The newest-frame slot between an ingest's reader and the program clock: holds at most one
//! decoded frame, and a new frame replaces an unread one. A camera that delivers faster than the
//! program, or a program that lags, therefore never builds a queue (nor latency).

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

/// One decoded yuv420p frame, shared without copying between the slot, the clock and the
/// encoder writer.
pub type FrameData = Arc<Vec<u8>>;

/// A frame as it left the slot.
#[derive(Clone, Debug)]
pub struct SlotFrame {
    /// Counts frames put into this slot (1 for the first): a changed number means a new frame.
    pub seq: u64,
    /// When the reader completed it.
    pub at: Instant,
    pub data: FrameData,
}

#[derive(Debug, Default)]
pub struct FrameSlot {
    inner: Mutex<Option<SlotFrame>>,
}

impl FrameSlot {
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the frame; returns the one replaced, whether or not it was ever read.
    pub fn put(&self, data: FrameData, at: Instant) -> Option<SlotFrame> {
        let mut g = self.inner.lock().expect("slot lock");
        let seq = g.as_ref().map_or(0, |f| f.seq) + 1;
        g.replace(SlotFrame { seq, at, data })
    }

    /// The newest frame (it stays in the slot: the clock may show it again).
    pub fn latest(&self) -> Option<SlotFrame> {
        self.inner.lock().expect("slot lock").clone()
    }

    /// Frames put so far.
    pub fn count(&self) -> u64 {
        self.inner
            .lock()
            .expect("slot lock")
            .as_ref()
            .map_or(0, |f| f.seq)
    }
}

/// Reads whole frames of `frame_len` bytes from `r` into `slot` until EOF or an error; a
/// partial last frame is discarded. Returns the number of frames read.
pub async fn read_frames<R: AsyncRead + Unpin>(
    mut r: R,
    frame_len: usize,
    slot: &FrameSlot,
    now: impl Fn() -> Instant,
) -> u64 {
    let mut n = 0;
    // Reuse the buffer of a replaced frame when nobody else holds it: at 720p30 this saves
    // 41 MB/s of allocation per camera.
    let mut spare: Option<Vec<u8>> = None;
    loop {
        let mut buf = spare.take().unwrap_or_else(|| vec![0u8; frame_len]);
        buf.resize(frame_len, 0);
        if r.read_exact(&mut buf).await.is_err() {
            return n;
        }
        n += 1;
        if let Some(old) = slot.put(Arc::new(buf), now()) {
            spare = Arc::try_unwrap(old.data).ok();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_newest_frame() {
        let slot = FrameSlot::new();
        assert!(slot.latest().is_none());
        let t = Instant::now();
        for i in 0..5u8 {
            slot.put(Arc::new(vec![i; 4]), t);
        }
        let f = slot.latest().unwrap();
        assert_eq!(f.seq, 5);
        assert_eq!(*f.data, vec![4; 4]);
        // Reading does not consume.
        assert_eq!(slot.latest().unwrap().seq, 5);
        assert_eq!(slot.count(), 5);
    }

    #[tokio::test]
    async fn reader_splits_a_byte_stream_into_frames_and_drops_a_partial_tail() {
        let slot = FrameSlot::new();
        let mut bytes = Vec::new();
        for i in 0..3u8 {
            bytes.extend(std::iter::repeat_n(i, 6));
        }
        bytes.extend([9, 9]);
        let (mut w, r) = tokio::io::duplex(4);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            w.write_all(&bytes).await.unwrap();
        });
        let n = read_frames(r, 6, &slot, Instant::now).await;
        writer.await.unwrap();
        assert_eq!(n, 3);
        let f = slot.latest().unwrap();
        assert_eq!((f.seq, f.data.as_slice()), (3, &[2u8; 6][..]));
    }
}
