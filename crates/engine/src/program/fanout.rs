//! Fan-out of the encoder's MPEG-TS to the egress processes: one bounded queue per
//! destination, filled without waiting, so a slow or dead destination loses data for itself
//! and never holds back the encoder or the other destinations.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{broadcast, mpsc};

use super::tsgop::TsGop;

/// MPEG-TS packet size: chunks are cut on packet boundaries, so a destination that loses a
/// chunk, or attaches mid-stream, still sees whole packets.
pub const TS_PACKET: usize = 188;

/// Counters of one destination's queue.
#[derive(Debug, Default)]
pub struct QueueStats {
    pub delivered_bytes: AtomicU64,
    pub dropped_bytes: AtomicU64,
    pub dropped_chunks: AtomicU64,
}

struct Subscriber {
    tx: mpsc::Sender<Bytes>,
    stats: Arc<QueueStats>,
}

/// What a tap of the program's MPEG-TS receives (see [`FanOut::tap`]).
#[derive(Debug, Clone)]
pub enum TapChunk {
    /// A new encoder run starts: its timestamps restart, so a reader must start over too.
    NewRun,
    /// Whole TS packets of the current run.
    Data(Bytes),
}

/// Chunks a tap may fall behind before it loses some (about 2 s at a few Mbit/s).
const TAP_CHUNKS: usize = 256;

pub struct FanOut {
    subs: Vec<Subscriber>,
    /// Dynamic readers (live previews of the program): a broadcast never waits and costs
    /// nothing while nobody listens.
    tap: broadcast::Sender<TapChunk>,
    /// Where a new tap can start; updated and sent to under this lock, so a tap's start and
    /// its first live chunk neither overlap nor leave a gap.
    join: Mutex<TsGop>,
}

impl Default for FanOut {
    fn default() -> Self {
        Self {
            subs: Vec::new(),
            tap: broadcast::channel(TAP_CHUNKS).0,
            join: Mutex::new(TsGop::new()),
        }
    }
}

impl FanOut {
    pub fn new() -> Self {
        Self::default()
    }

    /// A reader that may come and go while the program runs: the stream from its last
    /// keyframe (PAT, PMT, the GOP so far; empty before the first keyframe), then the live
    /// chunks. It lags (and is told so) rather than ever holding back the encoder or the
    /// destinations.
    pub fn tap(&self) -> (Vec<Bytes>, broadcast::Receiver<TapChunk>) {
        let join = self.join.lock().expect("fan-out lock");
        (join.start(), self.tap.subscribe())
    }

    /// Tells the taps that the encoder restarted.
    pub fn new_run(&self) {
        let mut join = self.join.lock().expect("fan-out lock");
        join.reset();
        let _ = self.tap.send(TapChunk::NewRun);
    }

    /// Adds a destination whose queue holds at most `capacity` chunks.
    pub fn subscribe(&mut self, capacity: usize) -> (mpsc::Receiver<Bytes>, Arc<QueueStats>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let stats = Arc::new(QueueStats::default());
        self.subs.push(Subscriber {
            tx,
            stats: stats.clone(),
        });
        (rx, stats)
    }

    /// Offers a chunk to every destination; never waits.
    pub fn push(&self, chunk: &Bytes) {
        {
            let mut join = self.join.lock().expect("fan-out lock");
            join.push(chunk);
            if self.tap.receiver_count() > 0 {
                let _ = self.tap.send(TapChunk::Data(chunk.clone()));
            }
        }
        for s in &self.subs {
            let len = chunk.len() as u64;
            match s.tx.try_send(chunk.clone()) {
                Ok(()) => {
                    s.stats.delivered_bytes.fetch_add(len, Ordering::Relaxed);
                }
                Err(_) => {
                    s.stats.dropped_bytes.fetch_add(len, Ordering::Relaxed);
                    s.stats.dropped_chunks.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Reads one encoder run's TS output and pushes it in chunks of whole packets until EOF.
/// Returns the bytes forwarded.
pub async fn pump_ts<R: AsyncRead + Unpin>(mut r: R, fanout: &FanOut) -> u64 {
    const CHUNK: usize = TS_PACKET * 256;
    let mut buf = BytesMut::with_capacity(CHUNK * 2);
    let mut total = 0;
    loop {
        if buf.capacity() - buf.len() < CHUNK {
            buf.reserve(CHUNK);
        }
        match r.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return total,
            Ok(_) => {}
        }
        let whole = buf.len() / TS_PACKET * TS_PACKET;
        if whole > 0 {
            let chunk = buf.split_to(whole).freeze();
            total += chunk.len() as u64;
            fanout.push(&chunk);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slow_consumer_loses_data_only_for_itself() {
        let mut fan = FanOut::new();
        let (mut fast, fast_stats) = fan.subscribe(4);
        let (mut slow, slow_stats) = fan.subscribe(4);
        let consumer = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(c) = fast.recv().await {
                got.push(c[0]);
            }
            got
        });
        for i in 0..100u8 {
            fan.push(&Bytes::from(vec![i; TS_PACKET]));
            // Let the fast consumer keep up, as a live egress does between encoder writes.
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
        }
        drop(fan);
        let got = consumer.await.unwrap();
        assert_eq!(
            got,
            (0..100).collect::<Vec<u8>>(),
            "the fast one got everything in order"
        );
        assert_eq!(fast_stats.dropped_chunks.load(Ordering::Relaxed), 0);
        // The slow one kept its first 4 chunks and lost the rest.
        let mut kept = Vec::new();
        while let Some(c) = slow.recv().await {
            kept.push(c[0]);
        }
        assert_eq!(kept, vec![0, 1, 2, 3]);
        assert_eq!(slow_stats.dropped_chunks.load(Ordering::Relaxed), 96);
        assert_eq!(
            slow_stats.dropped_bytes.load(Ordering::Relaxed),
            96 * TS_PACKET as u64
        );
    }

    #[tokio::test]
    async fn a_tap_that_stops_reading_lags_alone_and_sees_new_runs() {
        let mut fan = FanOut::new();
        let (mut dest, stats) = fan.subscribe(1000);
        let (start, mut tap) = fan.tap();
        assert!(start.is_empty(), "no keyframe yet");
        fan.new_run();
        for i in 0..(TAP_CHUNKS as u32 + 10) {
            fan.push(&Bytes::from(vec![i as u8; TS_PACKET]));
        }
        // The destination got every chunk although the tap read nothing.
        assert_eq!(stats.dropped_chunks.load(Ordering::Relaxed), 0);
        let mut n = 0;
        while dest.try_recv().is_ok() {
            n += 1;
        }
        assert_eq!(n, TAP_CHUNKS + 10);
        // The tap is told what it lost, then resumes with the newest chunks.
        match tap.recv().await {
            Err(broadcast::error::RecvError::Lagged(k)) => assert_eq!(k, 11),
            other => panic!("expected a lag, got {other:?}"),
        }
        match tap.recv().await {
            Ok(TapChunk::Data(b)) => assert_eq!(b[0], 10),
            other => panic!("expected data, got {other:?}"),
        }
        let (_, mut fresh) = fan.tap();
        fan.new_run();
        assert!(matches!(fresh.recv().await, Ok(TapChunk::NewRun)));
    }

    #[tokio::test]
    async fn pump_cuts_on_packet_boundaries() {
        let mut fan = FanOut::new();
        let (mut rx, _) = fan.subscribe(1000);
        let (mut w, r) = tokio::io::duplex(1000);
        let data: Vec<u8> = (0..(TS_PACKET * 10 + 50)).map(|i| i as u8).collect();
        let expected = data[..TS_PACKET * 10].to_vec();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for part in data.chunks(77) {
                w.write_all(part).await.unwrap();
            }
        });
        let total = pump_ts(r, &fan).await;
        drop(fan);
        assert_eq!(total, (TS_PACKET * 10) as u64);
        let mut got = Vec::new();
        while let Some(c) = rx.recv().await {
            assert_eq!(c.len() % TS_PACKET, 0);
            got.extend_from_slice(&c);
        }
        assert_eq!(got, expected);
    }
}
