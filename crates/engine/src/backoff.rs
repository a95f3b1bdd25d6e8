//! Restart delays: capped exponential growth with jitter, so a dead camera is retried often at
//! first and then politely, and many supervisors failing together do not retry in lockstep.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone, PartialEq)]
pub struct BackoffPolicy {
    /// Delay after the first failure.
    pub initial: Duration,
    /// Upper bound of the delay before jitter.
    pub max: Duration,
    pub multiplier: f64,
    /// Relative jitter: 0.2 means the delay is drawn from ±20 % of the nominal value.
    pub jitter: f64,
    /// A run that lasts this long counts as stable: the failure count starts over.
    pub reset_after: Duration,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            multiplier: 2.0,
            jitter: 0.2,
            reset_after: Duration::from_secs(30),
        }
    }
}

impl BackoffPolicy {
    /// The delay before retry number `failures` (1 = after the first failure), without jitter.
    pub fn nominal(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(64) as i32;
        let secs = self.initial.as_secs_f64() * self.multiplier.max(1.0).powi(exp);
        Duration::from_secs_f64(secs.min(self.max.as_secs_f64()))
    }

    /// The nominal delay scaled by `unit`, a number in [-1, 1] (the jitter draw).
    pub fn with_jitter(&self, failures: u32, unit: f64) -> Duration {
        let factor = 1.0 + self.jitter.clamp(0.0, 1.0) * unit.clamp(-1.0, 1.0);
        self.nominal(failures).mul_f64(factor)
    }

    /// The delay to use, with a random jitter draw.
    pub fn delay(&self, failures: u32) -> Duration {
        let unit = if self.jitter > 0.0 {
            rand::thread_rng().gen_range(-1.0..=1.0)
        } else {
            0.0
        };
        self.with_jitter(failures, unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_then_caps() {
        let p = BackoffPolicy::default();
        let got: Vec<f64> = (1..=10).map(|n| p.nominal(n).as_secs_f64()).collect();
        assert_eq!(got, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0]);
        assert_eq!(p.nominal(u32::MAX), Duration::from_secs(30));
        assert_eq!(p.nominal(0), Duration::from_millis(500));
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let p = BackoffPolicy::default();
        assert_eq!(p.with_jitter(3, -1.0), Duration::from_secs_f64(1.6));
        assert_eq!(p.with_jitter(3, 1.0), Duration::from_secs_f64(2.4));
        for _ in 0..1000 {
            let d = p.delay(20).as_secs_f64();
            assert!((24.0..=36.0).contains(&d), "{d}");
        }
        let spread: std::collections::HashSet<_> = (0..50).map(|_| p.delay(4)).collect();
        assert!(spread.len() > 1, "jitter actually varies");
    }

    #[test]
    fn zero_jitter_is_exact() {
        let p = BackoffPolicy {
            jitter: 0.0,
            ..Default::default()
        };
        assert_eq!(p.delay(2), Duration::from_secs(1));
    }
}
