//! One session's fan-out: a bounded ring of recent packets that every consumer reads at its
//! own pace, which doubles as the keyframe cache.
//!
//! The session pushes each packet once; a push never waits for a consumer. Each subscriber
//! holds a cursor into the ring. A subscriber that falls behind — its next packet was evicted,
//! or is older than its `max_delay` while a newer keyframe is in the ring — is moved to the
//! newest keyframe (or, if that was evicted too, waits for the next one): it loses pictures but
//! never slows the session or the other subscribers, and resumes on a decodable frame.
//!
//! The ring always keeps everything since the newest video keyframe (up to a hard cap), so a
//! new subscriber gets that keyframe and the packets after it at once ([`Subscription`]'s
//! backlog), with the parameters they belong to.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use tokio::time::Instant;

use super::packet::{Packet, Shared, StreamInfo};
use super::stats::ConsumerGuard;

/// Why a subscription ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason", content = "detail")]
pub enum End {
    /// The camera's source settings changed (address, credentials, protocol): subscribe again
    /// to get the new source, whose parameters may differ.
    SourceChanged,
    /// The session was stopped (camera disabled or removed, hub shut down).
    Stopped,
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::SourceChanged => f.write_str("source changed"),
            End::Stopped => f.write_str("session stopped"),
        }
    }
}

/// Sizes of a ring.
#[derive(Debug, Clone)]
pub struct RingLimits {
    /// Packets kept before the newest keyframe, for subscribers that are a little behind.
    pub keep_before_keyframe: usize,
    /// ... and only while they arrived at most this long before the newest packet: a
    /// subscriber later than its `max_delay` jumps to the newest keyframe anyway, so packets
    /// older than the largest one in use (copy streams: 2 s) are kept for nobody (at 1080p,
    /// megabytes per camera).
    pub keep_before_keyframe_for: Duration,
    /// Hard cap on packets (a camera with a 20 s GOP must not grow the cache without bound).
    pub max_packets: usize,
    /// Hard cap on payload bytes.
    pub max_bytes: usize,
}

impl Default for RingLimits {
    fn default() -> Self {
        RingLimits {
            keep_before_keyframe: 256,
            keep_before_keyframe_for: Duration::from_secs(2),
            max_packets: 4096,
            max_bytes: 64 << 20,
        }
    }
}

struct Entry {
    seq: u64,
    item: Shared,
}

struct RingState {
    entries: VecDeque<Entry>,
    /// Sequence number of the next pushed packet.
    next_seq: u64,
    /// Sequence number of the newest video keyframe still in the ring.
    last_key: Option<u64>,
    bytes: usize,
    ended: Option<End>,
}

impl RingState {
    fn first_seq(&self) -> u64 {
        self.entries.front().map(|e| e.seq).unwrap_or(self.next_seq)
    }

    fn get(&self, seq: u64) -> Option<&Entry> {
        let first = self.first_seq();
        if seq < first {
            return None;
        }
        self.entries.get((seq - first) as usize)
    }
}

/// The ring of one session (one source configuration: a config change ends it and starts a
/// new one).
pub(crate) struct Ring {
    limits: RingLimits,
    state: Mutex<RingState>,
    /// The next sequence number, published after every push so readers wake up.
    notify: watch::Sender<u64>,
}

impl Ring {
    pub fn new(limits: RingLimits) -> Arc<Self> {
        Arc::new(Ring {
            limits,
            state: Mutex::new(RingState {
                entries: VecDeque::new(),
                next_seq: 0,
                last_key: None,
                bytes: 0,
                ended: None,
            }),
            notify: watch::Sender::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RingState> {
        // A panic while holding the lock leaves consistent data (every update is a push or a
        // pop): keep serving.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn push(&self, item: Shared) {
        let next = {
            let mut st = self.lock();
            if st.ended.is_some() {
                return;
            }
            let seq = st.next_seq;
            st.next_seq += 1;
            if item.packet.is_video_keyframe() {
                st.last_key = Some(seq);
            }
            st.bytes += item.packet.data.len();
            st.entries.push_back(Entry { seq, item });
            self.evict(&mut st);
            st.next_seq
        };
        self.notify.send_replace(next);
    }

    fn evict(&self, st: &mut RingState) {
        while let Some(front) = st.entries.front() {
            let before_key = st.last_key.is_some_and(|k| front.seq < k);
            let keep_behind = st
                .last_key
                .map(|k| (k - st.first_seq()) as usize)
                .unwrap_or(st.entries.len());
            let over_cap =
                st.entries.len() > self.limits.max_packets || st.bytes > self.limits.max_bytes;
            let aged = st.entries.back().is_some_and(|newest| {
                newest
                    .item
                    .arrival
                    .saturating_duration_since(front.item.arrival)
                    > self.limits.keep_before_keyframe_for
            });
            let too_old = before_key && (keep_behind > self.limits.keep_before_keyframe || aged);
            // Without a keyframe in the ring nothing is decodable: keep only the cap.
            if !(over_cap || too_old) {
                break;
            }
            let e = st.entries.pop_front().expect("front exists");
            st.bytes -= e.item.packet.data.len();
            if st.last_key == Some(e.seq) {
                st.last_key = None;
            }
        }
    }

    /// Ends every subscription (they see `reason` on their next read).
    pub fn end(&self, reason: End) {
        let next = {
            let mut st = self.lock();
            if st.ended.is_none() {
                st.ended = Some(reason);
            }
            st.next_seq
        };
        // Wake everyone even though nothing new was pushed.
        self.notify.send_modify(|v| *v = next);
    }

    /// Wakes on every push and at the end.
    pub(crate) fn watch(&self) -> watch::Receiver<u64> {
        self.notify.subscribe()
    }

    pub fn ended(&self) -> Option<End> {
        self.lock().ended.clone()
    }

    /// The packets from the newest keyframe on, and the parameters of that keyframe.
    pub fn cached(&self) -> Option<(Arc<StreamInfo>, Vec<Packet>)> {
        let st = self.lock();
        let key = st.last_key?;
        let first = st.get(key)?;
        let info = first.item.info.clone();
        let start = (key - st.first_seq()) as usize;
        let packets = st
            .entries
            .range(start..)
            .map(|e| e.item.packet.clone())
            .collect();
        Some((info, packets))
    }

    /// A subscription starting at the newest keyframe; `None` while there is none.
    pub fn subscribe(
        self: &Arc<Self>,
        max_delay: Duration,
        guard: ConsumerGuard,
    ) -> Result<Option<Subscription>, End> {
        let st = self.lock();
        if let Some(end) = &st.ended {
            return Err(end.clone());
        }
        let Some(key) = st.last_key else {
            return Ok(None);
        };
        let start = (key - st.first_seq()) as usize;
        let info = st.entries[start].item.info.clone();
        let mut backlog = Vec::with_capacity(st.entries.len() - start);
        let mut backlog_arrivals = Vec::with_capacity(st.entries.len() - start);
        let mut last_info = info.clone();
        for e in st.entries.range(start..) {
            if !Arc::ptr_eq(&e.item.info, &last_info) {
                // Parameters changed inside the backlog (rare): stop there, the live reader
                // announces the change.
                break;
            }
            last_info = e.item.info.clone();
            backlog.push(e.item.packet.clone());
            backlog_arrivals.push(e.item.arrival);
        }
        let cursor = key + backlog.len() as u64;
        let newest_arrival = st
            .entries
            .back()
            .map(|e| e.item.arrival)
            .unwrap_or_else(Instant::now);
        let oldest_arrival = st.entries[start].item.arrival;
        drop(st);
        Ok(Some(Subscription {
            backlog_age: newest_arrival.saturating_duration_since(oldest_arrival),
            info: info.clone(),
            backlog,
            backlog_arrivals,
            live: Receiver {
                ring: self.clone(),
                cursor,
                arrival: None,
                info,
                max_delay,
                wake: self.notify.subscribe(),
                skipped: 0,
                waiting_for_key: false,
                _guard: guard,
            },
        }))
    }
}

/// What a consumer gets from `CameraSession::subscribe`: the parameters, the packets since
/// the newest keyframe (its first packet is that keyframe), and the live packets after them.
pub struct Subscription {
    pub info: Arc<StreamInfo>,
    pub backlog: Vec<Packet>,
    /// When the session received each packet of `backlog`: a backlog whose newest packet is
    /// old means the camera has been silent since (an outage), not that it is live.
    pub backlog_arrivals: Vec<Instant>,
    /// Arrival time of the newest backlog packet minus that of the keyframe: how far behind
    /// live the keyframe is.
    pub backlog_age: Duration,
    pub live: Receiver,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("info", &self.info)
            .field("backlog", &self.backlog.len())
            .field("backlog_age", &self.backlog_age)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// Number of video frames in the backlog (the keyframe included).
    pub fn backlog_video_frames(&self) -> usize {
        self.backlog.iter().filter(|p| p.is_video()).count()
    }
}

/// What [`Receiver::recv`] yields.
#[derive(Debug, Clone)]
pub enum Event {
    /// The next packet.
    Packet(Packet),
    /// The parameters changed; the packets that follow use these. Always followed by a video
    /// keyframe.
    Info(Arc<StreamInfo>),
}

/// The live part of a subscription. Dropping it unsubscribes.
pub struct Receiver {
    ring: Arc<Ring>,
    cursor: u64,
    /// When the session received the packet last returned.
    arrival: Option<Instant>,
    info: Arc<StreamInfo>,
    max_delay: Duration,
    wake: watch::Receiver<u64>,
    skipped: u64,
    waiting_for_key: bool,
    _guard: ConsumerGuard,
}

impl Receiver {
    /// Packets skipped so far because this subscriber fell behind.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// When the session received the packet [`recv`](Self::recv) returned last.
    pub fn arrival(&self) -> Option<Instant> {
        self.arrival
    }

    /// The parameters of the packets being delivered.
    pub fn info(&self) -> &Arc<StreamInfo> {
        &self.info
    }

    /// The next event; waits for one. Cancel-safe.
    pub async fn recv(&mut self) -> Result<Event, End> {
        loop {
            if let Some(ev) = self.try_next()? {
                return Ok(ev);
            }
            if self.wake.changed().await.is_err() {
                return Err(self.ring.ended().unwrap_or(End::Stopped));
            }
        }
    }

    /// The next event if one is ready.
    pub fn try_recv(&mut self) -> Result<Option<Event>, End> {
        self.try_next()
    }

    fn try_next(&mut self) -> Result<Option<Event>, End> {
        let ring = self.ring.clone();
        let st = ring.lock();
        if let Some(end) = &st.ended {
            return Err(end.clone());
        }
        let first = st.first_seq();
        if self.cursor < first {
            // Overrun: what we were to read is gone.
            self.jump(&st, first);
        } else if let Some(e) = st.get(self.cursor) {
            let late = e.item.arrival.elapsed() > self.max_delay;
            if late && st.last_key.is_some_and(|k| k > self.cursor) {
                self.jump(&st, first);
            }
        }
        loop {
            let Some(e) = st.get(self.cursor) else {
                return Ok(None);
            };
            if self.waiting_for_key && !e.item.packet.is_video_keyframe() {
                self.cursor += 1;
                self.skipped += 1;
                continue;
            }
            self.waiting_for_key = false;
            if !Arc::ptr_eq(&e.item.info, &self.info) {
                // The cursor stays: the packet itself comes with the next call.
                self.info = e.item.info.clone();
                return Ok(Some(Event::Info(self.info.clone())));
            }
            self.cursor += 1;
            self.arrival = Some(e.item.arrival);
            return Ok(Some(Event::Packet(e.item.packet.clone())));
        }
    }

    /// Moves to the newest keyframe, or waits for the next one when none is in the ring.
    fn jump(&mut self, st: &RingState, first: u64) {
        let from = self.cursor;
        match st.last_key {
            Some(k) if k >= first => {
                self.cursor = k;
                self.waiting_for_key = false;
            }
            _ => {
                self.cursor = self.cursor.max(first);
                self.waiting_for_key = true;
            }
        }
        self.skipped += self.cursor.saturating_sub(from);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::packet::{StreamKind, VideoInfo};
    use crate::hub::stats::{ConsumerKind, Consumers};
    use bytes::Bytes;

    fn info(w: u32) -> Arc<StreamInfo> {
        Arc::new(StreamInfo {
            video: VideoInfo {
                width: w,
                height: 360,
                sps: Bytes::from_static(&[0x67, 0x42, 0xc0, 0x1e]),
                pps: Bytes::from_static(&[0x68]),
                fps: None,
            },
            audio: None,
        })
    }

    fn pkt(n: i64, key: bool) -> Packet {
        Packet {
            stream: StreamKind::Video,
            pts: n * 3000,
            dts: n * 3000,
            keyframe: key,
            data: Bytes::from(vec![0u8; 10]),
        }
    }

    fn shared(n: i64, key: bool, info: &Arc<StreamInfo>, arrival: Instant) -> Shared {
        Shared {
            packet: pkt(n, key),
            info: info.clone(),
            arrival,
        }
    }

    fn guard() -> ConsumerGuard {
        Consumers::default().enter(ConsumerKind::Other)
    }

    fn next_packet(rx: &mut Receiver) -> Option<Packet> {
        match rx.try_recv().unwrap() {
            Some(Event::Packet(p)) => Some(p),
            Some(Event::Info(_)) => next_packet(rx),
            None => None,
        }
    }

    #[test]
    fn a_new_subscriber_starts_at_the_newest_keyframe() {
        let ring = Ring::new(RingLimits::default());
        let i = info(640);
        let now = Instant::now();
        assert!(ring
            .subscribe(Duration::from_secs(1), guard())
            .unwrap()
            .is_none());
        for n in 0..10 {
            ring.push(shared(n, n % 4 == 0, &i, now));
        }
        let sub = ring
            .subscribe(Duration::from_secs(1), guard())
            .unwrap()
            .unwrap();
        // Keyframes at 0, 4, 8: the backlog is 8 and 9.
        assert_eq!(sub.backlog.len(), 2);
        assert!(sub.backlog[0].is_video_keyframe());
        assert_eq!(sub.backlog[0].dts, 8 * 3000);
        assert_eq!(sub.backlog_video_frames(), 2);
        let mut live = sub.live;
        assert!(live.try_recv().unwrap().is_none());
        ring.push(shared(10, false, &i, now));
        assert_eq!(next_packet(&mut live).unwrap().dts, 30000);
        let (ci, cached) = ring.cached().unwrap();
        assert!(Arc::ptr_eq(&ci, &i));
        assert_eq!(cached.len(), 3);
    }

    #[test]
    fn the_ring_keeps_the_gop_and_evicts_older_packets() {
        let limits = RingLimits {
            keep_before_keyframe: 3,
            keep_before_keyframe_for: Duration::from_secs(3600),
            max_packets: 100,
            max_bytes: 1 << 20,
        };
        let ring = Ring::new(limits);
        let i = info(640);
        let now = Instant::now();
        for n in 0..50 {
            ring.push(shared(n, n % 20 == 0, &i, now));
        }
        // Newest keyframe 40; 3 packets kept before it.
        let st = ring.lock();
        assert_eq!(st.first_seq(), 37);
        assert_eq!(st.entries.len(), 13);
        drop(st);
        // Without keyframes the hard cap applies.
        let ring = Ring::new(RingLimits {
            keep_before_keyframe: 3,
            keep_before_keyframe_for: Duration::from_secs(3600),
            max_packets: 10,
            max_bytes: 1 << 20,
        });
        for n in 0..50 {
            ring.push(shared(n, n == 0, &i, now));
        }
        assert_eq!(ring.lock().entries.len(), 10);
        assert!(
            ring.cached().is_none(),
            "the keyframe was evicted by the cap"
        );
    }

    #[test]
    fn packets_before_the_keyframe_are_kept_for_a_while_only() {
        let ring = Ring::new(RingLimits {
            keep_before_keyframe_for: Duration::from_secs(1),
            ..RingLimits::default()
        });
        let i = info(640);
        let t0 = Instant::now();
        // 30 fps, a keyframe every 2 s: 60 packets a GOP.
        let at = |n: i64| t0 + Duration::from_millis(n as u64 * 1000 / 30);
        for n in 0..=70 {
            ring.push(shared(n, n % 60 == 0, &i, at(n)));
        }
        // Newest keyframe 60, newest packet 70 (at 2.333 s): before the keyframe, what arrived
        // within 1 s of the newest stays, i.e. from packet 40 (1.333 s) on.
        let st = ring.lock();
        assert_eq!(st.first_seq(), 40);
        assert_eq!(st.entries.len(), 31);
        drop(st);
        // The keyframe's GOP itself is never aged out.
        for n in 71..=119 {
            ring.push(shared(n, false, &i, at(n)));
        }
        let st = ring.lock();
        assert_eq!(st.first_seq(), 60, "from the keyframe on, whatever its age");
        drop(st);
        assert_eq!(ring.cached().unwrap().1.len(), 60);
    }

    #[test]
    fn an_overrun_subscriber_resumes_at_a_keyframe() {
        let ring = Ring::new(RingLimits {
            keep_before_keyframe: 2,
            keep_before_keyframe_for: Duration::from_secs(3600),
            max_packets: 20,
            max_bytes: 1 << 20,
        });
        let i = info(640);
        let now = Instant::now();
        ring.push(shared(0, true, &i, now));
        let mut slow = ring
            .subscribe(Duration::from_secs(3600), guard())
            .unwrap()
            .unwrap()
            .live;
        let mut fast = ring
            .subscribe(Duration::from_secs(3600), guard())
            .unwrap()
            .unwrap()
            .live;
        for n in 1..100 {
            ring.push(shared(n, n % 30 == 0, &i, now));
            assert_eq!(
                next_packet(&mut fast).unwrap().dts,
                n * 3000,
                "fast never skips"
            );
        }
        let p = next_packet(&mut slow).unwrap();
        assert!(p.is_video_keyframe());
        assert_eq!(p.dts, 90 * 3000);
        assert_eq!(slow.skipped(), 89);
        assert_eq!(fast.skipped(), 0);
    }

    #[test]
    fn a_late_subscriber_jumps_to_a_newer_keyframe() {
        let ring = Ring::new(RingLimits::default());
        let i = info(640);
        let old = Instant::now() - Duration::from_secs(5);
        ring.push(shared(0, true, &i, old));
        let mut rx = ring
            .subscribe(Duration::from_millis(500), guard())
            .unwrap()
            .unwrap()
            .live;
        for n in 1..10 {
            ring.push(shared(n, false, &i, old));
        }
        // Late, but no newer keyframe: keep reading in order.
        assert_eq!(next_packet(&mut rx).unwrap().dts, 3000);
        ring.push(shared(10, true, &i, Instant::now()));
        ring.push(shared(11, false, &i, Instant::now()));
        assert_eq!(next_packet(&mut rx).unwrap().dts, 30000);
        assert_eq!(next_packet(&mut rx).unwrap().dts, 33000);
        assert_eq!(rx.skipped(), 8);
    }

    #[test]
    fn a_parameter_change_is_announced_before_its_keyframe() {
        let ring = Ring::new(RingLimits::default());
        let a = info(640);
        let b = info(1280);
        let now = Instant::now();
        ring.push(shared(0, true, &a, now));
        let mut rx = ring
            .subscribe(Duration::from_secs(1), guard())
            .unwrap()
            .unwrap()
            .live;
        ring.push(shared(1, true, &b, now));
        match rx.try_recv().unwrap() {
            Some(Event::Info(i)) => assert_eq!(i.video.width, 1280),
            other => panic!("{other:?}"),
        }
        assert_eq!(next_packet(&mut rx).unwrap().dts, 3000);
        assert_eq!(rx.info().video.width, 1280);
    }

    #[tokio::test]
    async fn ending_the_ring_ends_every_reader() {
        let ring = Ring::new(RingLimits::default());
        let i = info(640);
        ring.push(shared(0, true, &i, Instant::now()));
        let mut rx = ring
            .subscribe(Duration::from_secs(1), guard())
            .unwrap()
            .unwrap()
            .live;
        let waiter = tokio::spawn(async move { rx.recv().await });
        tokio::task::yield_now().await;
        ring.end(End::SourceChanged);
        assert_eq!(waiter.await.unwrap().unwrap_err(), End::SourceChanged);
        assert_eq!(
            ring.subscribe(Duration::from_secs(1), guard()).err(),
            Some(End::SourceChanged)
        );
        // Pushing after the end is ignored.
        ring.push(shared(1, true, &i, Instant::now()));
    }
}
