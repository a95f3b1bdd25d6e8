//! Waiting until a camera has arrived: after a preset or absolute move, poll GetStatus until the
//! head is idle at the target, so the program does not cut to a camera that is still swinging.

use std::time::Duration;

use serde::Serialize;
use tokio::time::{sleep_until, timeout_at, Instant};

use crate::error::{OnvifError, Result};
use crate::ptz::Ptz;
use crate::types::{MoveStatus, PtzVector};

/// Where to move.
#[derive(Debug, Clone, PartialEq)]
pub enum MoveTarget {
    /// A camera-side preset; `position` is where it is, when known (the Sunba does not say).
    Preset {
        token: String,
        position: Option<PtzVector>,
        speed: Option<PtzVector>,
    },
    Absolute {
        position: PtzVector,
        speed: Option<PtzVector>,
    },
    /// A RelativeMove by `translation`; `expected` is where that should end, when the
    /// position before the move was known.
    Relative {
        translation: PtzVector,
        expected: Option<PtzVector>,
        speed: Option<PtzVector>,
    },
}

impl MoveTarget {
    fn position(&self) -> Option<PtzVector> {
        match self {
            MoveTarget::Preset { position, .. } => *position,
            MoveTarget::Absolute { position, .. } => Some(*position),
            MoveTarget::Relative { expected, .. } => *expected,
        }
    }
}

/// How to decide that the camera has settled.
#[derive(Debug, Clone, PartialEq)]
pub struct SettlePolicy {
    pub poll_interval: Duration,
    /// Largest per-axis distance from the target that counts as arrived (ONVIF units).
    pub tolerance: f64,
    /// Give up after this long, counted from sending the move.
    pub timeout: Duration,
    /// For cameras that never report IDLE (or have no GetStatus): how long a move takes.
    pub settle_time: Option<Duration>,
    /// Many cameras still report IDLE for a moment after accepting a move; an IDLE seen before
    /// any MOVING is only believed after this long (unless the position shows arrival).
    pub idle_grace: Duration,
}

impl Default for SettlePolicy {
    fn default() -> Self {
        SettlePolicy {
            poll_interval: Duration::from_millis(200),
            tolerance: 0.01,
            timeout: Duration::from_secs(30),
            settle_time: None,
            idle_grace: Duration::from_secs(1),
        }
    }
}

/// What told us the camera had arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SettledBy {
    /// The camera reported IDLE (at the target, when the target is known).
    Idle,
    /// The position reached the target and stopped changing, whatever the status said.
    PositionReached,
    /// No status and no known target: the position stopped changing.
    PositionStable,
    /// The configured settle time passed (the camera gives no usable status).
    SettleTime,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettleReport {
    /// From sending the move to deciding it had settled.
    pub elapsed_ms: u64,
    pub position: Option<PtzVector>,
    pub settled_by: SettledBy,
    pub polls: u32,
}

/// Sends the move, then waits until the camera has settled according to `policy`.
pub async fn move_and_settle(
    ptz: &dyn Ptz,
    profile: &str,
    target: &MoveTarget,
    policy: &SettlePolicy,
) -> Result<SettleReport> {
    let start = Instant::now();
    let deadline = start + policy.timeout;
    let send = async {
        match target {
            MoveTarget::Preset { token, speed, .. } => {
                ptz.goto_preset(profile, token, *speed).await
            }
            MoveTarget::Absolute { position, speed } => {
                ptz.absolute_move(profile, *position, *speed).await
            }
            MoveTarget::Relative {
                translation, speed, ..
            } => ptz.relative_move(profile, *translation, *speed).await,
        }
    };
    let sent = timeout_at(deadline, send).await;
    sent.map_err(|_| settle_timeout(policy, None, None))??;

    let goal = target.position();
    let stable_eps = policy.tolerance / 10.0;
    let report = |settled_by, position, polls| SettleReport {
        elapsed_ms: start.elapsed().as_millis() as u64,
        position,
        settled_by,
        polls,
    };

    let mut polls = 0u32;
    let mut seen_moving = false;
    let mut last_pos: Option<PtzVector> = None;
    let mut last_status = None;
    loop {
        let next = (Instant::now() + policy.poll_interval).min(deadline);
        sleep_until(next).await;
        if Instant::now() >= deadline {
            return Err(settle_timeout(policy, last_pos, last_status));
        }

        let st = match timeout_at(deadline, ptz.status(profile)).await {
            Err(_) => return Err(settle_timeout(policy, last_pos, last_status)),
            Ok(Err(OnvifError::NotSupported { .. })) => {
                // Nothing to poll: the settle time is all we have.
                let wait = policy.settle_time.unwrap_or(Duration::from_secs(3));
                let until = start + wait;
                if until > deadline {
                    sleep_until(deadline).await;
                    return Err(settle_timeout(policy, None, None));
                }
                sleep_until(until).await;
                return Ok(report(SettledBy::SettleTime, None, polls));
            }
            Ok(r) => r?,
        };
        polls += 1;
        let elapsed = start.elapsed();
        let ms = st.move_status();
        seen_moving |= ms == MoveStatus::Moving;
        let pos = st.position;
        let at_target = match (goal, pos) {
            (Some(g), Some(p)) => Some(p.max_abs_diff(&g) <= policy.tolerance),
            _ => None,
        };
        let stable =
            matches!((last_pos, pos), (Some(a), Some(b)) if a.max_abs_diff(&b) <= stable_eps);
        last_pos = pos;
        last_status = Some(ms);

        if ms == MoveStatus::Idle
            && at_target != Some(false)
            && (seen_moving || at_target == Some(true) || elapsed >= policy.idle_grace)
        {
            return Ok(report(SettledBy::Idle, pos, polls));
        }
        if at_target == Some(true) && stable {
            return Ok(report(SettledBy::PositionReached, pos, polls));
        }
        if ms != MoveStatus::Idle {
            if let Some(wait) = policy.settle_time {
                if elapsed >= wait && (pos.is_none() || stable) {
                    return Ok(report(SettledBy::SettleTime, pos, polls));
                }
            }
        }
        if ms == MoveStatus::Unknown
            && policy.settle_time.is_none()
            && at_target.is_none()
            && stable
            && elapsed >= policy.idle_grace
        {
            return Ok(report(SettledBy::PositionStable, pos, polls));
        }
    }
}

fn settle_timeout(
    policy: &SettlePolicy,
    last: Option<PtzVector>,
    status: Option<MoveStatus>,
) -> OnvifError {
    let mut m = format!(
        "the camera did not settle within {:.1} s",
        policy.timeout.as_secs_f64()
    );
    if let Some(s) = status {
        m.push_str(&format!("; it last reported {}", s.as_onvif()));
    }
    if let Some(p) = last {
        m.push_str(&format!(
            " at pan {:.3}, tilt {:.3}, zoom {:.3}",
            p.pan, p.tilt, p.zoom
        ));
    }
    OnvifError::Timeout(m)
}
