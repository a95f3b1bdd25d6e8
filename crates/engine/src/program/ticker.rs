//! The program clock's schedule: tick `n` is due at `origin + n / fps`, computed from one
//! monotonic origin in integer nanoseconds, so rounding never accumulates and late wake-ups do
//! not shift later ticks.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct Ticker {
    origin: Instant,
    fps: u32,
    next: u64,
}

impl Ticker {
    pub fn new(origin: Instant, fps: u32) -> Self {
        assert!(fps > 0, "fps must be positive");
        Ticker {
            origin,
            fps,
            next: 0,
        }
    }

    /// When tick `n` is due.
    pub fn deadline(&self, n: u64) -> Instant {
        let nanos = n as u128 * 1_000_000_000 / self.fps as u128;
        self.origin + Duration::from_nanos(nanos as u64)
    }

    /// Index of the next tick to run.
    #[cfg(test)]
    pub fn next_index(&self) -> u64 {
        self.next
    }

    pub fn next_deadline(&self) -> Instant {
        self.deadline(self.next)
    }

    /// Marks the next tick as done at `now`. A late tick is normally caught up (the following
    /// ones are already due, so the output keeps its frame count); when the clock is more than
    /// `max_lag` behind (the machine was suspended or starved), the missed ticks are skipped
    /// instead of being sent in a burst. Returns how many were skipped.
    pub fn advance(&mut self, now: Instant, max_lag: Duration) -> u64 {
        self.next += 1;
        let due = self.deadline(self.next);
        if now <= due + max_lag {
            return 0;
        }
        let elapsed = now.saturating_duration_since(self.origin).as_nanos();
        let first_future = (elapsed * self.fps as u128 / 1_000_000_000) as u64 + 1;
        let skipped = first_future.saturating_sub(self.next);
        self.next = first_future;
        skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_are_exact_fractions_of_a_second() {
        let t0 = Instant::now();
        let t = Ticker::new(t0, 30);
        assert_eq!(t.deadline(0), t0);
        assert_eq!(t.deadline(30), t0 + Duration::from_secs(1));
        assert_eq!(t.deadline(3), t0 + Duration::from_nanos(100_000_000));
        // After a day at 29.97-ish rounding would have drifted; integer math does not.
        assert_eq!(t.deadline(30 * 86_400), t0 + Duration::from_secs(86_400));
        assert_eq!(t.deadline(1), t0 + Duration::from_nanos(33_333_333));
    }

    #[tokio::test(start_paused = true)]
    async fn ticks_do_not_drift_when_work_takes_time() {
        let t0 = Instant::now();
        let mut t = Ticker::new(t0, 25);
        let mut fired = Vec::new();
        for i in 0..1000u64 {
            tokio::time::sleep_until(t.next_deadline()).await;
            fired.push(Instant::now());
            // Work of varying length, sometimes longer than a frame interval.
            let work = Duration::from_millis([3, 17, 45, 1][i as usize % 4]);
            tokio::time::sleep(work).await;
            assert_eq!(t.advance(Instant::now(), Duration::from_secs(1)), 0);
        }
        // Late ticks fire late, but the schedule itself never moves: tick 999 is due at
        // 39.96 s and the 1000th is due at exactly 40 s.
        assert_eq!(t.next_deadline(), t0 + Duration::from_secs(40));
        let last = *fired.last().unwrap();
        assert!(
            last - t0 < Duration::from_millis(39_960 + 50),
            "{:?}",
            last - t0
        );
        for (n, at) in fired.iter().enumerate() {
            assert!(*at >= t.deadline(n as u64), "tick {n} early");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn far_behind_skips_instead_of_bursting() {
        let t0 = Instant::now();
        let mut t = Ticker::new(t0, 10);
        tokio::time::sleep(Duration::from_millis(5_050)).await;
        let skipped = t.advance(Instant::now(), Duration::from_secs(1));
        // Ticks 1..=50 are in the past: the next one is 51 (due at 5.1 s).
        assert_eq!(t.next_index(), 51);
        assert_eq!(skipped, 50);
        assert_eq!(t.next_deadline(), t0 + Duration::from_millis(5_100));
    }
}
