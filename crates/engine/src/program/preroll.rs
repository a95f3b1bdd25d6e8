//! The pre-roll choice and what it costs here. In economy the program keeps only the on-air
//! camera decoded (plus the warm spare process, which decodes nothing): a pre-roll decodes
//! nothing and the camera taken from stops being decoded once the take is on air. What either
//! choice costs is measured on the running program, not guessed: the CPU of its decoder
//! processes (from `/proc/<pid>/stat`) and the take-to-air time of each kind of take.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, Weak};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::config::Preroll;
use super::handle::Inner;
use super::ingest::{stop_ingest, Ingest};

/// How often the decoders' CPU is sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(2);
/// How many samples the reported figure averages: the last ten seconds or so of decoding.
const WINDOW_SAMPLES: usize = 5;

/// The pre-roll choice and its measured cost, in the status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PrerollStatus {
    pub mode: Preroll,
    /// The CPU one decoded camera costs on this machine, in % of one core: the mean over the
    /// program's camera decoders that ran, over the last ten seconds or so that any ran.
    /// Null until measured (no decoder has run two samples yet).
    pub decoder_cpu_pct: Option<f64>,
    /// Take-to-air of the last take of a pre-rolled camera (decoded already).
    pub last_pre_rolled_take_ms: Option<f64>,
    /// Take-to-air of the last take of a camera that was not decoded: its decoder started
    /// from the hub's cached keyframe and caught up with live.
    pub last_cached_take_ms: Option<f64>,
}

/// The choice in force and the CPU measured, shared by the handle and the tasks below.
#[derive(Default)]
pub(super) struct PrerollShared {
    pub mode: Mutex<Preroll>,
    pub decoder_cpu_pct: Mutex<Option<f64>>,
}

impl PrerollShared {
    pub fn new(mode: Preroll) -> Self {
        PrerollShared {
            mode: Mutex::new(mode),
            decoder_cpu_pct: Mutex::new(None),
        }
    }

    pub fn mode(&self) -> Preroll {
        *self.mode.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_mode(&self, mode: Preroll) {
        *self.mode.lock().unwrap_or_else(|p| p.into_inner()) = mode;
    }

    pub fn cpu(&self) -> Option<f64> {
        *self
            .decoder_cpu_pct
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

/// Stops the decoders of every source that is neither on air nor being taken. Serialized with
/// takes, pre-rolls and the stop; does nothing once the program has stopped.
pub(super) async fn release_off_air(inner: &Inner) {
    let ops = inner.ops.lock().await;
    if *ops {
        return;
    }
    let keep: Vec<i64> = {
        let sel = inner.selection.lock().expect("selection lock");
        sel.on_air
            .iter()
            .map(|s| s.id)
            .chain(sel.pending.iter().map(|p| p.source.id))
            .collect()
    };
    let gone: Vec<Ingest> = {
        let mut ingests = inner.ingests.lock().expect("ingests lock");
        let ids: Vec<i64> = ingests
            .keys()
            .copied()
            .filter(|id| !keep.contains(id))
            .collect();
        ids.iter().filter_map(|id| ingests.remove(id)).collect()
    };
    if gone.is_empty() {
        return;
    }
    for ingest in gone {
        let id = ingest.spec.id;
        stop_ingest(ingest, &inner.audio).await;
        info!(program = %inner.config.name, source = id, "economy: off-air decoder released");
    }
    drop(ops);
    inner.status_kick.notify_one();
}

/// In economy, releases the off-air decoders whenever the status changes: the status is
/// published right after a take reaches air (and after a change of the choice), so the camera
/// taken from stops being decoded within a few milliseconds of the cut.
pub(super) async fn economy_task(inner: Weak<Inner>, cancel: CancellationToken) {
    let Some(mut rx) = inner.upgrade().map(|i| i.status_rx.clone()) else {
        return;
    };
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            changed = rx.changed() => if changed.is_err() { return },
        }
        let Some(inner) = inner.upgrade() else { return };
        if inner.preroll.mode() == Preroll::Economy {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = release_off_air(&inner) => {}
            }
        }
    }
}

/// utime + stime of a process, in clock ticks; `None` once it is gone.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ...": comm may hold spaces; it ends at the last ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat, counted from `state` as field 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn clock_ticks_per_s() -> f64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|&hz| hz > 0)
        .unwrap_or(100) as f64
}

/// The mean CPU, in % of one core, of the decoders seen in both samples.
fn interval_mean(
    before: &BTreeMap<u32, u64>,
    after: &BTreeMap<u32, u64>,
    elapsed: Duration,
    hz: f64,
) -> Option<f64> {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return None;
    }
    let per: Vec<f64> = after
        .iter()
        .filter_map(|(pid, t1)| {
            let t0 = before.get(pid)?;
            Some(t1.saturating_sub(*t0) as f64 / hz / secs * 100.0)
        })
        .collect();
    (!per.is_empty()).then(|| per.iter().sum::<f64>() / per.len() as f64)
}

/// Samples the CPU of the program's camera decoders every `SAMPLE_EVERY` and keeps the mean
/// of the last `WINDOW_SAMPLES` intervals in which any ran. The warm spare is not a camera
/// decoder (it waits on its empty stdin) and is not counted.
pub(super) async fn cost_task(inner: Weak<Inner>, cancel: CancellationToken) {
    let hz = clock_ticks_per_s();
    let mut last: Option<(Instant, BTreeMap<u32, u64>)> = None;
    let mut window: VecDeque<f64> = VecDeque::new();
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let now = strong.deps.clock.now();
        let pids: Vec<u32> = strong
            .ingests
            .lock()
            .expect("ingests lock")
            .values()
            .filter_map(|i| {
                let current = i.current.lock().expect("ingest lock");
                current.process.as_ref().and_then(|p| p.status().pid)
            })
            .collect();
        let sample: BTreeMap<u32, u64> = pids
            .into_iter()
            .filter_map(|pid| Some((pid, cpu_ticks(pid)?)))
            .collect();
        if let Some((at, before)) = &last {
            if let Some(mean) =
                interval_mean(before, &sample, now.saturating_duration_since(*at), hz)
            {
                window.push_back(mean);
                while window.len() > WINDOW_SAMPLES {
                    window.pop_front();
                }
                let avg = window.iter().sum::<f64>() / window.len() as f64;
                *strong
                    .preroll
                    .decoder_cpu_pct
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = Some((avg * 10.0).round() / 10.0);
            }
        }
        last = Some((now, sample));
        let clock = strong.deps.clock.clone();
        drop(strong);
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = clock.sleep(SAMPLE_EVERY) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_mean_counts_only_decoders_seen_twice() {
        let before = BTreeMap::from([(10, 100), (11, 500)]);
        // 12 started in between: not counted; 10 used 50 ticks and 11 used 30 in 2 s.
        let after = BTreeMap::from([(10, 150), (11, 530), (12, 900)]);
        let m = interval_mean(&before, &after, Duration::from_secs(2), 100.0).unwrap();
        assert!((m - 20.0).abs() < 1e-9, "{m}");
        assert_eq!(
            interval_mean(&before, &BTreeMap::new(), Duration::from_secs(2), 100.0),
            None
        );
    }

    #[test]
    fn a_process_own_cpu_is_read_from_proc() {
        let me = std::process::id();
        let t0 = cpu_ticks(me).expect("this process has a stat");
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(300) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let t1 = cpu_ticks(me).unwrap();
        assert!(t1 > t0, "300 ms of spinning shows in utime: {t0} -> {t1}");
        assert_eq!(cpu_ticks(u32::MAX), None);
    }
}
