//! Time as a dependency, so supervision timing (stall, startup, backoff, stop timeouts) can be
//! driven by tests instead of waited for.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::time::Instant;

#[async_trait]
pub trait Clock: Send + Sync + 'static {
    /// Monotonic time; all deadlines are computed from it.
    fn now(&self) -> Instant;
    /// Wall time, only for display (`Status::since`).
    fn wall(&self) -> SystemTime;
    /// Returns once `now() >= deadline`. Must be cancel-safe (it is raced in `select!`).
    async fn sleep_until(&self, deadline: Instant);

    async fn sleep(&self, d: Duration) {
        let deadline = self.now() + d;
        self.sleep_until(deadline).await
    }
}

/// The real clock. Under `tokio::time::pause()` it becomes virtual, which is how most
/// supervisor tests run.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

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
