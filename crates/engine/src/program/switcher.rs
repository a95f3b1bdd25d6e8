//! What goes on air at each tick of the program clock: the newest frame of the on-air source,
//! the same frame again, or the slate, with the overlays blended into a copy of the rows they
//! cover (the rest of the frame goes to the encoder as is, see [`OutFrame`]). Also commits
//! takes (a source goes on air at the first tick at which its slot has a fresh frame — slots
//! only ever hold live frames, see `ingest` — so a cut never shows black nor a picture older
//! than the take) and keeps the counters the status reports.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::overlay::OverlaySet;
use super::slot::{FrameData, FrameSlot};

/// A program frame as the encoder gets it: pieces that together make one yuv420p frame,
/// slices of the source frame where nothing is drawn and of a buffer holding the rows the
/// overlays cover, blended. Nothing copies the rows no overlay touches: the frame pipe hands
/// every piece to the encoder by reference (`vs_engine::framepipe`).
#[derive(Clone, Debug)]
pub struct OutFrame {
    pieces: Arc<Vec<FrameData>>,
}

impl OutFrame {
    /// A frame in one piece.
    pub fn whole(frame: FrameData) -> Self {
        Self::from_pieces(vec![frame])
    }

    fn from_pieces(pieces: Vec<FrameData>) -> Self {
        OutFrame {
            pieces: Arc::new(pieces),
        }
    }

    pub fn pieces(&self) -> &[FrameData] {
        &self.pieces
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.pieces.iter().map(|p| p.len()).sum()
    }

    /// The same composition (not only the same bytes).
    #[cfg(test)]
    pub fn same(a: &OutFrame, b: &OutFrame) -> bool {
        Arc::ptr_eq(&a.pieces, &b.pieces)
    }

    /// The whole frame in one buffer.
    #[cfg(test)]
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        for p in self.pieces.iter() {
            out.extend_from_slice(p);
        }
        out
    }
}

impl std::ops::Index<usize> for OutFrame {
    type Output = u8;

    fn index(&self, mut i: usize) -> &u8 {
        for p in self.pieces.iter() {
            if i < p.len() {
                return &p[i];
            }
            i -= p.len();
        }
        panic!("index out of the frame")
    }
}

/// The byte ranges of a frame of `len` bytes that the overlays may change, sorted and merged.
fn touched_ranges(len: usize, overlays: &OverlaySet) -> Vec<std::ops::Range<usize>> {
    let mut ranges: Vec<std::ops::Range<usize>> = overlays
        .items
        .iter()
        .filter_map(|o| o.rows_touched(len))
        .flatten()
        .filter(|r| !r.is_empty())
        .collect();
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<std::ops::Range<usize>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

#[derive(Clone, Debug)]
pub struct Source {
    pub id: i64,
    pub slot: Arc<FrameSlot>,
}

#[derive(Debug)]
pub struct Pending {
    pub source: Source,
    pub since: Instant,
    /// The source had a fresh frame when it was taken.
    pub pre_rolled: bool,
}

/// The last take that reached air.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TakeRecord {
    pub source: i64,
    /// The tick (counted from 0 at the program's start) whose frame was the source's first.
    pub tick: u64,
    /// From the `take` call to that tick.
    pub latency: Duration,
    /// How long before that tick the session received the packet of that first frame.
    pub frame_age: Duration,
    pub pre_rolled: bool,
}

/// Which source is on air and which one was asked for; shared with the program handle.
#[derive(Debug, Default)]
pub struct Selection {
    pub on_air: Option<Source>,
    pub pending: Option<Pending>,
    pub take_latency: Option<Duration>,
    pub switch_gap_frames: Option<u64>,
    pub last_take: Option<TakeRecord>,
    /// Take-to-air of the last take of a pre-rolled source, and of the last one of a source
    /// that was not (its decoder started from the session's cached keyframe): what each
    /// pre-roll choice costs in time, measured.
    pub last_pre_rolled_latency: Option<Duration>,
    pub last_cached_latency: Option<Duration>,
    /// Until then the picture on air is frozen (e.g. while the on-air camera moves to a
    /// preset).
    pub hold_until: Option<Instant>,
}

/// Counters since the program started.
#[derive(Debug, Default)]
pub struct Stats {
    pub ticks: AtomicU64,
    /// Ticks that repeated the on-air source's previous frame (none newer had arrived).
    pub duplicated: AtomicU64,
    pub slate_frames: AtomicU64,
    /// Frames not delivered to the encoder: its writer was behind or it was restarting, or
    /// the clock itself had to skip ticks.
    pub dropped: AtomicU64,
    /// Frames written to the encoder.
    pub written: AtomicU64,
    pub slate_active: AtomicBool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BaseKey {
    Slate,
    Frame { source: i64, seq: u64 },
}

pub struct Switcher {
    selection: Arc<Mutex<Selection>>,
    stats: Arc<Stats>,
    slate: FrameData,
    source_timeout: Duration,
    take_timeout: Duration,
    take_max_age: Duration,
    last: Option<BaseKey>,
    /// Ticks since the last new source frame.
    repeats: u64,
    /// A committed take whose source has not shown a frame yet.
    awaiting_first: Option<(i64, Instant, bool)>,
    composed: Option<(BaseKey, u64, OutFrame)>,
    last_base: Option<FrameData>,
    slate_was: bool,
    /// Wakes the status publisher when something an operator watches changes.
    kick: Arc<Notify>,
}

impl Switcher {
    pub fn new(
        selection: Arc<Mutex<Selection>>,
        stats: Arc<Stats>,
        slate: FrameData,
        source_timeout: Duration,
        take_timeout: Duration,
        take_max_age: Duration,
        kick: Arc<Notify>,
    ) -> Self {
        Switcher {
            selection,
            stats,
            slate,
            source_timeout,
            take_timeout,
            take_max_age,
            last: None,
            repeats: 0,
            awaiting_first: None,
            composed: None,
            last_base: None,
            slate_was: false,
            kick,
        }
    }

    /// Whose sound goes with the last tick's picture: the camera whose frame it was (also
    /// while held), `None` for the slate. The audio cuts on the same tick as the picture.
    pub fn sound_source(&self) -> Option<i64> {
        match self.last {
            Some(BaseKey::Frame { source, .. }) => Some(source),
            _ => None,
        }
    }

    /// The frame for the tick at `now`.
    pub fn tick(&mut self, now: Instant, overlays: &OverlaySet) -> OutFrame {
        let (on_air, held) = {
            let mut sel = self.selection.lock().expect("selection lock");
            if let Some(p) = &sel.pending {
                // As new as the take: a decoder still catching up (or lagging) is waited for.
                let fresh = p.source.slot.latest().is_some_and(|f| {
                    now.saturating_duration_since(f.at) <= self.source_timeout
                        && p.since.saturating_duration_since(f.at) <= self.take_max_age
                });
                // A source that never delivers goes on air anyway after a while (showing the
                // slate): the operator asked for it and must see that it does not work.
                if fresh || now.saturating_duration_since(p.since) >= self.take_timeout {
                    let p = sel.pending.take().expect("checked above");
                    self.awaiting_first = Some((p.source.id, p.since, p.pre_rolled));
                    sel.on_air = Some(p.source);
                    // A cut replaces a frozen picture.
                    sel.hold_until = None;
                    self.kick.notify_one();
                }
            }
            if sel.hold_until.is_some_and(|until| now >= until) {
                sel.hold_until = None;
            }
            (sel.on_air.clone(), sel.hold_until.is_some())
        };

        let tick = self.stats.ticks.load(Ordering::Relaxed);
        let (key, base, frame_at) = match (&self.last, &self.last_base) {
            (Some(key), Some(base)) if held => (*key, base.clone(), None),
            _ => {
                let frame = on_air.as_ref().and_then(|src| {
                    src.slot
                        .latest()
                        .filter(|f| now.saturating_duration_since(f.at) <= self.source_timeout)
                        .map(|f| {
                            (
                                BaseKey::Frame {
                                    source: src.id,
                                    seq: f.seq,
                                },
                                f.data,
                                Some(f.at),
                            )
                        })
                });
                frame.unwrap_or((BaseKey::Slate, self.slate.clone(), None))
            }
        };
        let slate = key == BaseKey::Slate;
        if slate != self.slate_was {
            self.slate_was = slate;
            self.kick.notify_one();
        }

        self.stats.ticks.fetch_add(1, Ordering::Relaxed);
        self.stats
            .slate_active
            .store(key == BaseKey::Slate, Ordering::Relaxed);
        let is_new = matches!(key, BaseKey::Frame { .. }) && self.last != Some(key);
        match key {
            BaseKey::Slate => {
                self.stats.slate_frames.fetch_add(1, Ordering::Relaxed);
            }
            BaseKey::Frame { .. } if !is_new => {
                self.stats.duplicated.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        if is_new {
            if let Some((source, since, pre_rolled)) = self.awaiting_first.take() {
                let latency = now.saturating_duration_since(since);
                let mut sel = self.selection.lock().expect("selection lock");
                sel.take_latency = Some(latency);
                sel.switch_gap_frames = Some(self.repeats);
                sel.last_take = Some(TakeRecord {
                    source,
                    tick,
                    latency,
                    frame_age: frame_at
                        .map(|at| now.saturating_duration_since(at))
                        .unwrap_or_default(),
                    pre_rolled,
                });
                if pre_rolled {
                    sel.last_pre_rolled_latency = Some(latency);
                } else {
                    sel.last_cached_latency = Some(latency);
                }
                self.kick.notify_one();
            }
            self.repeats = 0;
        } else {
            self.repeats += 1;
        }
        self.last = Some(key);
        self.last_base = Some(base.clone());
        self.compose(key, base, overlays)
    }

    fn compose(&mut self, key: BaseKey, base: FrameData, overlays: &OverlaySet) -> OutFrame {
        if let Some((k, v, f)) = &self.composed {
            if *k == key && *v == overlays.version {
                return f.clone();
            }
        }
        let touched = touched_ranges(base.len(), overlays);
        let frame = if touched.is_empty() {
            OutFrame::whole(base)
        } else {
            // Only the rows the overlays cover are copied (into a pooled frame-sized buffer, at
            // their own offsets, so the overlays blend as into a whole frame); the pieces in
            // between are the source frame itself.
            let mut buf = crate::framepool::PooledFrame::take(base.len());
            for r in &touched {
                buf.as_mut()[r.clone()].copy_from_slice(&base[r.clone()]);
            }
            for o in &overlays.items {
                o.blend(buf.as_mut());
            }
            let patch = buf.into_bytes();
            let mut pieces = Vec::with_capacity(2 * touched.len() + 1);
            let mut at = 0;
            for r in touched {
                if r.start > at {
                    pieces.push(base.slice(at..r.start));
                }
                at = r.end;
                pieces.push(patch.slice(r));
            }
            if at < base.len() {
                pieces.push(base.slice(at..));
            }
            OutFrame::from_pieces(pieces)
        };
        self.composed = Some((key, overlays.version, frame.clone()));
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::pixels::{solid_frame, Rgba, RgbaImage, YuvOverlay};

    const W: u32 = 16;
    const H: u32 = 16;

    fn switcher() -> (Switcher, Arc<Mutex<Selection>>, Arc<Stats>) {
        let sel = Arc::new(Mutex::new(Selection::default()));
        let stats = Arc::new(Stats::default());
        let slate = FrameData::from(solid_frame(W, H, Rgba::rgb(0, 0, 255)));
        let sw = Switcher::new(
            sel.clone(),
            stats.clone(),
            slate,
            Duration::from_secs(1),
            Duration::from_secs(5),
            Duration::from_millis(200),
            Arc::new(Notify::new()),
        );
        (sw, sel, stats)
    }

    fn frame(v: u8) -> FrameData {
        FrameData::from(vec![v; super::super::pixels::frame_len(W, H)])
    }

    fn take(sel: &Mutex<Selection>, src: &Source, at: Instant) {
        sel.lock().unwrap().pending = Some(Pending {
            source: src.clone(),
            since: at,
            pre_rolled: false,
        });
    }

    #[tokio::test(start_paused = true)]
    async fn slate_then_source_then_repeat_then_slate_again() {
        let (mut sw, sel, stats) = switcher();
        let none = OverlaySet::default();
        let t0 = Instant::now();
        let slate = sw.tick(t0, &none);
        assert_eq!(slate[0], 41, "blue slate before any take");

        let a = Source {
            id: 1,
            slot: Arc::new(FrameSlot::new()),
        };
        take(&sel, &a, t0);
        // No frame yet: the slate stays, the take is pending.
        assert_eq!(sw.tick(t0, &none)[0], 41);
        assert!(sel.lock().unwrap().pending.is_some());

        let t1 = t0 + Duration::from_millis(300);
        a.slot.put(frame(100), t1);
        assert_eq!(sw.tick(t1, &none)[0], 100);
        assert_eq!(sel.lock().unwrap().on_air.as_ref().unwrap().id, 1);
        assert_eq!(
            sel.lock().unwrap().take_latency,
            Some(Duration::from_millis(300))
        );
        // Nothing new: the same frame again, counted as a duplicate.
        assert_eq!(sw.tick(t1 + Duration::from_millis(40), &none)[0], 100);
        assert_eq!(stats.duplicated.load(Ordering::Relaxed), 1);
        // Silence for longer than the source timeout: slate.
        assert_eq!(sw.tick(t1 + Duration::from_millis(1100), &none)[0], 41);
        assert!(stats.slate_active.load(Ordering::Relaxed));
        // The camera comes back: on air by itself.
        let t2 = t1 + Duration::from_secs(3);
        a.slot.put(frame(101), t2);
        assert_eq!(sw.tick(t2, &none)[0], 101);
        assert!(!stats.slate_active.load(Ordering::Relaxed));
        assert_eq!(stats.ticks.load(Ordering::Relaxed), 6);
        assert_eq!(stats.slate_frames.load(Ordering::Relaxed), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_take_keeps_the_previous_source_live_until_the_new_one_delivers() {
        let (mut sw, sel, _) = switcher();
        let none = OverlaySet::default();
        let t0 = Instant::now();
        let a = Source {
            id: 1,
            slot: Arc::new(FrameSlot::new()),
        };
        let b = Source {
            id: 2,
            slot: Arc::new(FrameSlot::new()),
        };
        a.slot.put(frame(10), t0);
        take(&sel, &a, t0);
        assert_eq!(sw.tick(t0, &none)[0], 10);

        let t1 = t0 + Duration::from_millis(40);
        take(&sel, &b, t1);
        a.slot.put(frame(11), t1);
        assert_eq!(sw.tick(t1, &none)[0], 11, "A stays live while B connects");
        let t2 = t1 + Duration::from_millis(40);
        b.slot.put(frame(20), t2);
        assert_eq!(sw.tick(t2, &none)[0], 20);
        let s = sel.lock().unwrap();
        assert_eq!(s.on_air.as_ref().unwrap().id, 2);
        assert_eq!(s.take_latency, Some(Duration::from_millis(40)));
        assert_eq!(s.switch_gap_frames, Some(0));
    }

    #[tokio::test(start_paused = true)]
    async fn hold_freezes_the_picture_until_released_or_expired() {
        let (mut sw, sel, stats) = switcher();
        let none = OverlaySet::default();
        let t0 = Instant::now();
        let a = Source {
            id: 1,
            slot: Arc::new(FrameSlot::new()),
        };
        a.slot.put(frame(10), t0);
        take(&sel, &a, t0);
        assert_eq!(sw.tick(t0, &none)[0], 10);
        sel.lock().unwrap().hold_until = Some(t0 + Duration::from_secs(3));
        // The camera moves: new frames (and even silence beyond the source timeout) are not
        // shown while held.
        a.slot.put(frame(11), t0 + Duration::from_millis(40));
        assert_eq!(sw.tick(t0 + Duration::from_millis(40), &none)[0], 10);
        assert_eq!(sw.tick(t0 + Duration::from_millis(2000), &none)[0], 10);
        assert!(!stats.slate_active.load(Ordering::Relaxed));
        // Expired: live again.
        a.slot.put(frame(12), t0 + Duration::from_millis(3000));
        assert_eq!(sw.tick(t0 + Duration::from_millis(3000), &none)[0], 12);
        assert!(sel.lock().unwrap().hold_until.is_none());
        // A take ends a hold.
        sel.lock().unwrap().hold_until = Some(t0 + Duration::from_secs(60));
        let b = Source {
            id: 2,
            slot: Arc::new(FrameSlot::new()),
        };
        b.slot.put(frame(20), t0 + Duration::from_millis(3040));
        take(&sel, &b, t0 + Duration::from_millis(3040));
        assert_eq!(sw.tick(t0 + Duration::from_millis(3040), &none)[0], 20);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pre_rolled_source_goes_on_air_at_the_next_tick() {
        let (mut sw, sel, _) = switcher();
        let none = OverlaySet::default();
        let t0 = Instant::now();
        let b = Source {
            id: 2,
            slot: Arc::new(FrameSlot::new()),
        };
        b.slot.put(frame(20), t0);
        take(&sel, &b, t0 + Duration::from_millis(10));
        assert_eq!(sw.tick(t0 + Duration::from_millis(40), &none)[0], 20);
        assert_eq!(
            sel.lock().unwrap().take_latency,
            Some(Duration::from_millis(30))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_take_records_its_tick_latency_and_the_age_of_its_first_frame() {
        let (mut sw, sel, _) = switcher();
        let none = OverlaySet::default();
        let t0 = Instant::now();
        assert_eq!(sw.tick(t0, &none)[0], 41);
        let b = Source {
            id: 2,
            slot: Arc::new(FrameSlot::new()),
        };
        take(&sel, &b, t0 + Duration::from_millis(10));
        assert_eq!(sw.tick(t0 + Duration::from_millis(40), &none)[0], 41);
        assert!(sel.lock().unwrap().last_take.is_none());
        // The session received the frame's packet at 60 ms; it is on air at the tick of 80.
        b.slot.put(frame(20), t0 + Duration::from_millis(60));
        assert_eq!(sw.tick(t0 + Duration::from_millis(80), &none)[0], 20);
        let t = sel.lock().unwrap().last_take.unwrap();
        assert_eq!(
            t,
            TakeRecord {
                source: 2,
                tick: 2,
                latency: Duration::from_millis(70),
                frame_age: Duration::from_millis(20),
                pre_rolled: false,
            }
        );
        // Kept by kind: a later pre-rolled take does not overwrite the cached take's time.
        assert_eq!(
            sel.lock().unwrap().last_cached_latency,
            Some(Duration::from_millis(70))
        );
        assert_eq!(sel.lock().unwrap().last_pre_rolled_latency, None);
        let c = Source {
            id: 3,
            slot: Arc::new(FrameSlot::new()),
        };
        c.slot.put(frame(30), t0 + Duration::from_millis(100));
        sel.lock().unwrap().pending = Some(Pending {
            source: c.clone(),
            since: t0 + Duration::from_millis(110),
            pre_rolled: true,
        });
        assert_eq!(sw.tick(t0 + Duration::from_millis(120), &none)[0], 30);
        let s = sel.lock().unwrap();
        assert_eq!(s.last_pre_rolled_latency, Some(Duration::from_millis(10)));
        assert_eq!(s.last_cached_latency, Some(Duration::from_millis(70)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_take_waits_for_a_frame_as_new_as_itself() {
        let (mut sw, sel, _) = switcher();
        let none = OverlaySet::default();
        let t0 = Instant::now();
        let a = Source {
            id: 1,
            slot: Arc::new(FrameSlot::new()),
        };
        a.slot.put(frame(10), t0);
        take(&sel, &a, t0);
        assert_eq!(sw.tick(t0, &none)[0], 10);
        // B's decoder lags: its newest frame's packet arrived 300 ms before the take.
        let b = Source {
            id: 2,
            slot: Arc::new(FrameSlot::new()),
        };
        let t1 = t0 + Duration::from_millis(500);
        b.slot.put(frame(20), t1 - Duration::from_millis(300));
        take(&sel, &b, t1);
        a.slot.put(frame(11), t1);
        assert_eq!(sw.tick(t1, &none)[0], 11, "not on the lagging picture");
        assert!(sel.lock().unwrap().pending.is_some());
        b.slot.put(frame(21), t1 - Duration::from_millis(150));
        let t2 = t1 + Duration::from_millis(40);
        assert_eq!(sw.tick(t2, &none)[0], 21);
        assert_eq!(sel.lock().unwrap().on_air.as_ref().unwrap().id, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_dead_source_goes_on_air_after_the_take_timeout() {
        let (mut sw, sel, _) = switcher();
        let none = OverlaySet::default();
        let t0 = Instant::now();
        let a = Source {
            id: 1,
            slot: Arc::new(FrameSlot::new()),
        };
        a.slot.put(frame(10), t0);
        take(&sel, &a, t0);
        sw.tick(t0, &none);
        let dead = Source {
            id: 3,
            slot: Arc::new(FrameSlot::new()),
        };
        take(&sel, &dead, t0);
        a.slot.put(frame(11), t0 + Duration::from_secs(4));
        assert_eq!(sw.tick(t0 + Duration::from_secs(4), &none)[0], 11);
        assert_eq!(sw.tick(t0 + Duration::from_secs(5), &none)[0], 41);
        assert_eq!(sel.lock().unwrap().on_air.as_ref().unwrap().id, 3);
    }

    /// The composed frame equals the source with every overlay blended over it, yet only the
    /// rows the overlays cover are new bytes: the rest are the source frame's own.
    #[tokio::test(start_paused = true)]
    async fn only_the_rows_the_overlays_cover_are_copied() {
        let (mut sw, sel, _) = switcher();
        let t0 = Instant::now();
        let a = Source {
            id: 1,
            slot: Arc::new(FrameSlot::new()),
        };
        let len = super::super::pixels::frame_len(W, H);
        let original = FrameData::from((0..len).map(|i| (i * 7 % 251) as u8).collect::<Vec<_>>());
        a.slot.put(original.clone(), t0);
        take(&sel, &a, t0);
        let half = RgbaImage::filled(3, 3, Rgba::new(200, 30, 90, 128));
        let white = RgbaImage::filled(2, 5, Rgba::WHITE);
        let items = vec![
            Arc::new(YuvOverlay::prepare(&half, 5, 3, W, H).unwrap()),
            Arc::new(YuvOverlay::prepare(&white, 9, 11, W, H).unwrap()),
            // Overlapping the first one's rows.
            Arc::new(YuvOverlay::prepare(&white, 1, 4, W, H).unwrap()),
        ];
        let mut expected = original.to_vec();
        for o in &items {
            o.blend(&mut expected);
        }
        let set = OverlaySet { version: 1, items };
        let out = sw.tick(t0, &set);
        assert_eq!(out.len(), len);
        assert!(
            out.to_vec() == expected,
            "same pixels as a blend into a copy"
        );
        let base = original.as_ptr_range();
        let (shared, copied): (Vec<&FrameData>, Vec<&FrameData>) = out
            .pieces()
            .iter()
            .partition(|p| base.contains(&p.as_ptr()));
        let copied: usize = copied.iter().map(|p| p.len()).sum();
        // Luma rows 3..9 and 11..16; chroma rows 1..8 of each plane (1..3, 2..5 and 5..8
        // merged).
        let w = W as usize;
        assert_eq!(copied, (6 + 5) * w + 2 * 7 * (w / 2));
        // Luma 0..3 and 9..11, chroma row 0 of U and of V.
        assert_eq!(shared.len(), 4, "the untouched stretches between them");
    }

    #[tokio::test(start_paused = true)]
    async fn overlays_are_blended_into_a_copy_and_reused_while_nothing_changes() {
        let (mut sw, sel, _) = switcher();
        let t0 = Instant::now();
        let a = Source {
            id: 1,
            slot: Arc::new(FrameSlot::new()),
        };
        let original = frame(16);
        a.slot.put(original.clone(), t0);
        take(&sel, &a, t0);
        let white = RgbaImage::filled(2, 2, Rgba::WHITE);
        let set = OverlaySet {
            version: 1,
            items: vec![Arc::new(YuvOverlay::prepare(&white, 0, 0, W, H).unwrap())],
        };
        let out = sw.tick(t0, &set);
        assert_eq!(out[0], 235);
        assert_eq!(out[2], 16);
        assert_eq!(original[0], 16, "the source frame itself is untouched");
        let again = sw.tick(t0 + Duration::from_millis(40), &set);
        assert!(
            OutFrame::same(&out, &again),
            "same frame, same overlays: no new composition"
        );
        let v2 = OverlaySet {
            version: 2,
            items: vec![],
        };
        let plain = sw.tick(t0 + Duration::from_millis(80), &v2);
        assert_eq!(plain.pieces().len(), 1);
        assert!(
            plain.pieces()[0].as_ptr() == original.as_ptr(),
            "no overlay: the frame goes out as is"
        );
    }
}
