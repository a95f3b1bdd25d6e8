//! The newest-frame slot between an ingest and the program clock: holds at most one decoded
//! frame, and a new frame replaces an unread one. A camera that delivers faster than the
//! program, or a program that lags, therefore never builds a queue (nor latency).

use std::sync::Mutex;

use tokio::time::Instant;

/// One decoded yuv420p frame, shared without copying between the slot, the clock and the
/// encoder writer (a [`crate::framepool`] buffer, back in the pool after the last clone).
pub type FrameData = bytes::Bytes;

/// A frame as it left the slot.
#[derive(Clone, Debug)]
pub struct SlotFrame {
    /// Counts frames put into this slot (1 for the first): a changed number means a new frame.
    pub seq: u64,
    /// When the camera's session received the packet of this frame.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_newest_frame() {
        let slot = FrameSlot::new();
        assert!(slot.latest().is_none());
        let t = Instant::now();
        for i in 0..5u8 {
            slot.put(FrameData::from(vec![i; 4]), t);
        }
        let f = slot.latest().unwrap();
        assert_eq!(f.seq, 5);
        assert_eq!(f.data, vec![4; 4]);
        // Reading does not consume.
        assert_eq!(slot.latest().unwrap().seq, 5);
        assert_eq!(slot.count(), 5);
    }
}
