//! Time as a dependency: the one clock every crate asks for the time and sleeps on, so the
//! FFmpeg supervisor's timeouts and the timeline executor's cues can be driven by a test
//! instead of waited for.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::time::Instant;

#[async_trait]
pub trait Clock: Send + Sync + 'static {
    /// Monotonic time; all deadlines are computed from it.
    fn now(&self) -> Instant;
    /// Wall time, only for display (a status's `since`, a log's timestamp).
    fn wall(&self) -> SystemTime;
    /// Returns once `now() >= deadline` (possibly later; never earlier). Must be cancel-safe
    /// (it is raced in `select!`).
    async fn sleep_until(&self, deadline: Instant);

    async fn sleep(&self, d: Duration) {
        let deadline = self.now() + d;
        self.sleep_until(deadline).await
    }
}

/// The real clock: tokio's monotonic instant, which `tokio::time::pause()` turns into a
/// virtual one in tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl TokioClock {
    pub fn new() -> Self {
        TokioClock
    }
}

#[async_trait]
impl Clock for TokioClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }

    async fn sleep_until(&self, deadline: Instant) {
        tokio::time::sleep_until(deadline).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sleeps_until_the_deadline_and_not_before() {
        let clock = TokioClock::new();
        let start = clock.now();
        clock.sleep(Duration::from_secs(3)).await;
        assert!(clock.now() - start >= Duration::from_secs(3));
        let deadline = clock.now() + Duration::from_millis(250);
        clock.sleep_until(deadline).await;
        assert!(clock.now() >= deadline);
    }
}
