//! System status for the dashboard and `/api/status`: CPU, memory, the data directory's disk,
//! the board's temperature where it exposes one (Raspberry Pi thermal zone), uptime, versions
//! and a summary of camera health.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};
use utoipa::ToSchema;
use vs_base::Result;

use super::health::{HealthService, HealthState};
use crate::config::Config;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemoryStatus {
    pub total_bytes: u64,
    pub used_bytes: u64,
    /// Resident memory of the appliance process itself (FFmpeg children not included).
    pub process_rss_bytes: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DiskStatus {
    pub path: String,
    pub total_bytes: u64,
    pub free_bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct CameraSummary {
    pub total: usize,
    pub online: usize,
    pub offline: usize,
    pub degraded: usize,
    pub unknown: usize,
    pub disabled: usize,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SystemStatus {
    pub version: String,
    pub ffmpeg_version: Option<String>,
    /// Seconds since the appliance started.
    pub uptime_s: u64,
    /// Seconds since the machine booted.
    pub system_uptime_s: u64,
    /// Whole-machine CPU use, percent of all cores.
    pub cpu_percent: f32,
    /// CPU use of the appliance process itself, percent of one core.
    pub process_cpu_percent: f32,
    pub cpu_count: usize,
    pub memory: MemoryStatus,
    pub disk: DiskStatus,
    pub temperature_c: Option<f64>,
    pub load_average: [f64; 3],
    pub cameras: CameraSummary,
}

/// The sampler keeps a `System` between calls: CPU use is a difference of two samples.
pub struct Sampler {
    sys: Mutex<System>,
    pid: Pid,
}

impl Default for Sampler {
    fn default() -> Self {
        let mut sys = System::new();
        sys.refresh_cpu_usage();
        Sampler {
            sys: Mutex::new(sys),
            pid: Pid::from_u32(std::process::id()),
        }
    }
}

impl Sampler {
    fn sample(&self) -> (f32, f32, usize, MemoryStatus) {
        let mut sys = self.sys.lock().expect("sampler lock");
        sys.refresh_cpu_usage();
        sys.refresh_memory();
        sys.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[self.pid]),
            true,
            ProcessRefreshKind::nothing().with_cpu().with_memory(),
        );
        let (rss, pcpu) = sys
            .process(self.pid)
            .map(|p| (p.memory(), p.cpu_usage()))
            .unwrap_or((0, 0.0));
        (
            sys.global_cpu_usage(),
            pcpu,
            sys.cpus().len(),
            MemoryStatus {
                total_bytes: sys.total_memory(),
                used_bytes: sys.used_memory(),
                process_rss_bytes: rss,
            },
        )
    }
}

/// Free and total bytes of the file system holding `path`.
pub fn disk_of(path: &Path) -> DiskStatus {
    let (total, free) = statvfs(path).unwrap_or((0, 0));
    DiskStatus {
        path: path.display().to_string(),
        total_bytes: total,
        free_bytes: free,
    }
}

#[cfg(unix)]
fn statvfs(path: &Path) -> Option<(u64, u64)> {
    let st = nix::sys::statvfs::statvfs(path).ok()?;
    let frsize = st.fragment_size() as u64;
    Some((
        st.blocks() as u64 * frsize,
        st.blocks_available() as u64 * frsize,
    ))
}

#[cfg(not(unix))]
fn statvfs(_: &Path) -> Option<(u64, u64)> {
    None
}

/// The SoC temperature: the thermal zone named like the CPU/SoC, else the first one.
pub fn temperature_c(root: &Path) -> Option<f64> {
    let mut zones: Vec<_> = std::fs::read_dir(root)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("thermal_zone"))
        .map(|e| e.path())
        .collect();
    zones.sort();
    let read = |p: &Path| -> Option<f64> {
        let raw = std::fs::read_to_string(p.join("temp")).ok()?;
        let milli: f64 = raw.trim().parse().ok()?;
        Some((milli / 100.0).round() / 10.0)
    };
    let preferred = zones.iter().find(|z| {
        std::fs::read_to_string(z.join("type"))
            .map(|t| {
                let t = t.to_ascii_lowercase();
                t.contains("cpu") || t.contains("soc") || t.contains("x86_pkg")
            })
            .unwrap_or(false)
    });
    preferred
        .and_then(|z| read(z))
        .or_else(|| zones.iter().find_map(|z| read(z)))
}

/// The dashboard's system status and the gauges computed at scrape time.
pub struct StatusService {
    config: Arc<Config>,
    health: Arc<HealthService>,
    /// The camera sessions, whose per-camera figures `/metrics` shows.
    hub: Arc<super::hub::HubService>,
    started: Instant,
    sampler: Sampler,
    ffmpeg_version: tokio::sync::OnceCell<Option<String>>,
}

impl StatusService {
    pub fn new(
        config: Arc<Config>,
        health: Arc<HealthService>,
        hub: Arc<super::hub::HubService>,
    ) -> Self {
        StatusService {
            config,
            health,
            hub,
            started: Instant::now(),
            sampler: Sampler::default(),
            ffmpeg_version: Default::default(),
        }
    }

    /// Refreshes the gauges that are computed rather than counted, just before a scrape.
    pub fn update_gauges(&self) {
        metrics::gauge!("vistterstream_uptime_seconds").set(self.started.elapsed().as_secs_f64());
        // Raw-frame buffers: allocated since start (a running program in steady state adds
        // none) and kept free for reuse.
        metrics::gauge!("vistterstream_frame_buffers_allocated")
            .set(vs_engine::framepool::allocated() as f64);
        metrics::gauge!("vistterstream_frame_buffers_free")
            .set(vs_engine::framepool::free_buffers() as f64);
        self.hub.export_metrics();
    }

    pub async fn system(&self) -> Result<SystemStatus> {
        let health = self.health.all().await?;
        let mut cams = CameraSummary {
            total: health.len(),
            ..Default::default()
        };
        for h in &health {
            match h.state {
                HealthState::Online => cams.online += 1,
                HealthState::Offline => cams.offline += 1,
                HealthState::Degraded => cams.degraded += 1,
                HealthState::Unknown => cams.unknown += 1,
                HealthState::Disabled => cams.disabled += 1,
            }
        }
        let (cpu, pcpu, cpu_count, memory) = self.sampler.sample();
        let load = System::load_average();
        let ffmpeg_version = self
            .ffmpeg_version
            .get_or_init(|| async { vs_engine::ffmpeg_version(&self.config.ffmpeg).await.ok() })
            .await
            .clone();
        Ok(SystemStatus {
            version: env!("CARGO_PKG_VERSION").to_string(),
            ffmpeg_version,
            uptime_s: self.started.elapsed().as_secs(),
            system_uptime_s: System::uptime(),
            cpu_percent: (cpu * 10.0).round() / 10.0,
            process_cpu_percent: (pcpu * 10.0).round() / 10.0,
            cpu_count,
            memory,
            disk: disk_of(&self.config.data_dir),
            temperature_c: temperature_c(Path::new("/sys/class/thermal")),
            load_average: [load.one, load.five, load.fifteen],
            cameras: cams,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperature_prefers_the_cpu_zone() {
        let dir = tempfile::tempdir().unwrap();
        for (zone, kind, temp) in [
            ("thermal_zone0", "acpitz", "27800"),
            ("thermal_zone1", "cpu-thermal", "48312"),
        ] {
            let z = dir.path().join(zone);
            std::fs::create_dir(&z).unwrap();
            std::fs::write(z.join("type"), format!("{kind}\n")).unwrap();
            std::fs::write(z.join("temp"), format!("{temp}\n")).unwrap();
        }
        assert_eq!(temperature_c(dir.path()), Some(48.3));
        assert_eq!(temperature_c(&dir.path().join("missing")), None);
    }

    #[test]
    fn disk_of_a_real_directory() {
        let d = disk_of(Path::new("/"));
        assert!(d.total_bytes > 0 && d.free_bytes <= d.total_bytes);
    }
}
