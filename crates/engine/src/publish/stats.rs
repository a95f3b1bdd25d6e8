//! What a publisher shows about its uplink: the rate the socket really takes, what waits in
//! the queue, what was dropped, and whether the destination is `congested` (for a while the
//! socket took less than the stream produces, the queue kept growing or frames were dropped),
//! with the measured rate that would fit.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::time::Instant;

use super::error::PublishError;

/// Where a publisher is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PublisherState {
    /// Opening the connection (TCP, TLS, RTMP handshake, publish request).
    Connecting,
    /// The server accepted the stream; frames flow.
    Publishing,
    /// Waiting before the next attempt (see `retry_in_ms`).
    Backoff,
    /// Stopped by its owner.
    Stopped,
}

/// Why a destination is marked congested, with the figures behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Congestion {
    /// In plain words, e.g. "the uplink takes 1.4 Mb/s of a 2.6 Mb/s stream".
    pub reason: String,
    /// What the socket took over the last seconds, bits per second: the stream's bitrate
    /// must fit under this.
    pub measured_bps: u64,
    /// What the stream produces, bits per second.
    pub input_bps: u64,
    pub since: SystemTime,
}

/// A publisher's state and uplink figures, published on a watch channel about once a second
/// and at every state change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublisherStats {
    pub state: PublisherState,
    /// Publish sessions the server accepted so far.
    pub sessions: u32,
    /// Failed attempts in a row (reset by a session that lasted).
    pub failures: u32,
    /// Why the last attempt or session ended; kept while a later session runs.
    pub last_error: Option<PublishError>,
    /// The current backoff's wait.
    pub retry_in_ms: Option<u64>,
    /// Since when the current session publishes.
    pub publishing_since: Option<SystemTime>,
    /// Bytes per second actually written to the socket (RTMP chunks, headers included).
    pub send_bytes_per_sec: u64,
    /// Bytes per second of media handed to the publisher.
    pub input_bytes_per_sec: u64,
    /// Media waiting in the queue.
    pub queue_bytes: u64,
    pub queue_ms: u64,
    pub queue_frames: u64,
    pub sent_bytes: u64,
    pub sent_frames: u64,
    /// Media dropped: by the queue bound on a slow uplink, or while the destination was down.
    pub dropped_bytes: u64,
    pub dropped_frames: u64,
    /// How old the newest frame written was when it was written (arrival to socket), ms.
    pub lag_ms: u64,
    pub congested: bool,
    pub congestion: Option<Congestion>,
}

impl Default for PublisherStats {
    fn default() -> Self {
        PublisherStats {
            state: PublisherState::Connecting,
            sessions: 0,
            failures: 0,
            last_error: None,
            retry_in_ms: None,
            publishing_since: None,
            send_bytes_per_sec: 0,
            input_bytes_per_sec: 0,
            queue_bytes: 0,
            queue_ms: 0,
            queue_frames: 0,
            sent_bytes: 0,
            sent_frames: 0,
            dropped_bytes: 0,
            dropped_frames: 0,
            lag_ms: 0,
            congested: false,
            congestion: None,
        }
    }
}

impl PublisherStats {
    /// The session shown as a supervised process's status (what the rest of the appliance
    /// lists for every output): `running` while publishing, a run per accepted session,
    /// `restarts` counting reconnects.
    pub fn as_status(&self, name: &str) -> crate::supervisor::Status {
        use crate::supervisor::State;
        let mut st = crate::supervisor::Status::new(format!("publisher {name}"));
        st.state = match self.state {
            PublisherState::Connecting if self.failures > 0 => State::Backoff,
            PublisherState::Connecting => State::Starting,
            PublisherState::Publishing => State::Running,
            PublisherState::Backoff => State::Backoff,
            PublisherState::Stopped => State::Stopped,
        };
        st.since = self.publishing_since;
        st.uptime = self
            .publishing_since
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .unwrap_or_default();
        st.restarts = self.sessions.saturating_sub(1);
        st.run = u64::from(self.sessions);
        st.consecutive_failures = self.failures;
        st.last_error = self.last_error.as_ref().map(|e| e.message.clone());
        st.backoff = self.retry_in_ms.map(Duration::from_millis);
        if self.state == PublisherState::Publishing {
            st.progress = Some(crate::progress::Progress {
                bitrate_kbps: Some(self.send_bytes_per_sec as f64 * 8.0 / 1000.0),
                total_size: Some(self.sent_bytes),
                ..Default::default()
            });
        }
        st
    }
}

/// A byte rate over a sliding window of whole samples of a running total.
#[derive(Debug)]
pub struct RateMeter {
    window: Duration,
    samples: VecDeque<(Instant, u64)>,
}

impl RateMeter {
    pub fn new(window: Duration) -> Self {
        RateMeter {
            window,
            samples: VecDeque::new(),
        }
    }

    /// Records the running total `total` at `now`; returns bytes per second over the window.
    pub fn sample(&mut self, now: Instant, total: u64) -> u64 {
        self.samples.push_back((now, total));
        while self.samples.len() > 2 && now.duration_since(self.samples[1].0) >= self.window {
            self.samples.pop_front();
        }
        let (t0, b0) = self.samples[0];
        let dt = now.duration_since(t0).as_secs_f64();
        if dt < 0.2 {
            return 0;
        }
        (total.saturating_sub(b0) as f64 / dt) as u64
    }

    pub fn reset(&mut self) {
        self.samples.clear();
    }
}

/// When a destination counts as congested: evaluated once a tick while publishing.
#[derive(Debug, Clone)]
pub struct CongestionPolicy {
    /// How long the uplink must be behind before the flag is raised (and be fine before it
    /// is lowered).
    pub after: Duration,
    /// The socket counts as behind when it takes less than this share of the input.
    pub min_share: f64,
}

impl Default for CongestionPolicy {
    fn default() -> Self {
        CongestionPolicy {
            after: Duration::from_secs(3),
            min_share: 0.9,
        }
    }
}

/// The flag's hysteresis: raised after `after` of trouble, lowered after `after` without.
#[derive(Debug)]
pub struct CongestionDetector {
    policy: CongestionPolicy,
    bad_since: Option<Instant>,
    good_since: Option<Instant>,
    last_queue_ms: u64,
    last_dropped: u64,
    current: Option<Congestion>,
}

/// One tick's figures.
#[derive(Debug, Clone, Copy)]
pub struct Tick {
    pub send_bps: u64,
    pub input_bps: u64,
    pub queue_ms: u64,
    pub dropped_frames: u64,
}

fn mbps(bits: u64) -> String {
    format!("{:.1} Mb/s", bits as f64 / 1e6)
}

impl CongestionDetector {
    pub fn new(policy: CongestionPolicy) -> Self {
        CongestionDetector {
            policy,
            bad_since: None,
            good_since: None,
            last_queue_ms: 0,
            last_dropped: 0,
            current: None,
        }
    }

    /// Forgets the trend (a new session starts, or the destination is down: a dead link is
    /// reported as an error, not as congestion).
    pub fn reset(&mut self) {
        self.bad_since = None;
        self.good_since = None;
        self.last_queue_ms = 0;
        self.current = None;
    }

    pub fn current(&self) -> Option<&Congestion> {
        self.current.as_ref()
    }

    /// Takes one tick's figures; returns the current congestion, if any.
    pub fn tick(&mut self, now: Instant, t: Tick) -> Option<&Congestion> {
        let dropped_now = t.dropped_frames > self.last_dropped;
        let slow = (t.send_bps as f64) < (t.input_bps as f64) * self.policy.min_share;
        let growing = t.queue_ms > self.last_queue_ms + 100;
        // A queue more than half a second deep that keeps growing, or drops: the socket does
        // not keep up. A slow tick with an empty queue is just a quiet stream.
        let bad = dropped_now || (slow && (growing || t.queue_ms > 500));
        self.last_dropped = t.dropped_frames;
        self.last_queue_ms = t.queue_ms;
        if bad {
            self.good_since = None;
            let since = *self.bad_since.get_or_insert(now);
            if now.duration_since(since) >= self.policy.after {
                let input = t.input_bps.max(1);
                let reason = format!(
                    "the uplink takes {} of a {} stream ({} queued{})",
                    mbps(t.send_bps),
                    mbps(input),
                    if t.queue_ms >= 1000 {
                        format!("{:.1} s", t.queue_ms as f64 / 1000.0)
                    } else {
                        format!("{} ms", t.queue_ms)
                    },
                    if dropped_now {
                        ", frames dropped to stay live"
                    } else {
                        ""
                    }
                );
                let started = self
                    .current
                    .as_ref()
                    .map(|c| c.since)
                    .unwrap_or_else(SystemTime::now);
                self.current = Some(Congestion {
                    reason,
                    measured_bps: t.send_bps,
                    input_bps: t.input_bps,
                    since: started,
                });
            }
        } else {
            self.bad_since = None;
            let since = *self.good_since.get_or_insert(now);
            if now.duration_since(since) >= self.policy.after {
                self.current = None;
            }
        }
        self.current.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_is_bytes_over_the_window() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(Duration::from_secs(2));
        assert_eq!(m.sample(t0, 0), 0);
        let mut total = 0;
        let mut r = 0;
        for i in 1..=10 {
            total += 1000;
            r = m.sample(t0 + Duration::from_millis(500 * i), total);
        }
        assert_eq!(r, 2000);
    }

    #[test]
    fn congestion_needs_a_sustained_shortfall_and_clears_after_recovery() {
        let t0 = Instant::now();
        let mut d = CongestionDetector::new(CongestionPolicy {
            after: Duration::from_secs(3),
            min_share: 0.9,
        });
        let at = |s: u64| t0 + Duration::from_secs(s);
        let fine = Tick {
            send_bps: 2_500_000,
            input_bps: 2_500_000,
            queue_ms: 50,
            dropped_frames: 0,
        };
        for s in 0..5 {
            assert!(d.tick(at(s), fine).is_none());
        }
        // 1.5 Mb/s for a 2.5 Mb/s stream: the queue grows.
        let mut queue = 0;
        for s in 5..8 {
            queue += 400;
            let t = Tick {
                send_bps: 1_500_000,
                queue_ms: queue,
                ..fine
            };
            assert!(d.tick(at(s), t).is_none(), "not yet at {s}");
        }
        let t = Tick {
            send_bps: 1_500_000,
            queue_ms: 2000,
            dropped_frames: 20,
            ..fine
        };
        let c = d.tick(at(8), t).cloned().expect("congested after 3 s");
        assert_eq!(c.measured_bps, 1_500_000);
        assert!(c.reason.contains("1.5 Mb/s of a 2.5 Mb/s"), "{}", c.reason);
        assert!(c.reason.contains("frames dropped"), "{}", c.reason);
        // Recovered: the flag stays for the hysteresis, then clears.
        let t = Tick {
            dropped_frames: 20,
            ..fine
        };
        assert!(d.tick(at(9), t).is_some());
        assert!(d.tick(at(11), t).is_some());
        assert!(d.tick(at(12), t).is_none());
    }
}
