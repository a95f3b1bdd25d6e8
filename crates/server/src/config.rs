//! Configuration of the appliance, from flags and `VS_*` environment variables, with defaults
//! that work with none of them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "VS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Directory for the database, the secret key and assets.
    #[arg(long, env = "VS_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Log filter, e.g. `info` or `vistterstream=debug,info`.
    #[arg(long, env = "VS_LOG", default_value = "info")]
    pub log_level: String,

    /// Log as JSON lines (for journald/containers) instead of text.
    #[arg(long, env = "VS_LOG_JSON", default_value_t = false)]
    pub log_json: bool,

    /// bcrypt cost for new password hashes (10–14; lower only for tests).
    #[arg(long, env = "VS_BCRYPT_COST", default_value_t = 11)]
    pub bcrypt_cost: u32,

    /// Mark the session cookie `Secure` (set when served over HTTPS by a proxy).
    #[arg(long, env = "VS_SECURE_COOKIE", default_value_t = false)]
    pub secure_cookie: bool,

    /// Origins besides the appliance's own (the scheme, host and port of the request's Host
    /// header) whose pages may send state-changing requests with the session cookie, e.g.
    /// `https://cams.example.org` when a proxy in front rewrites the Host header. Comma-separated.
    #[arg(long = "allowed-origin", env = "VS_ALLOWED_ORIGINS", value_delimiter = ',',
        value_parser = parse_origin)]
    pub allowed_origins: Vec<String>,

    /// How long a browser session lasts, in hours.
    #[arg(long, env = "VS_SESSION_HOURS", default_value_t = 24 * 14)]
    pub session_hours: u64,

    /// Seconds between two health checks of a camera.
    #[arg(long, env = "VS_HEALTH_INTERVAL", default_value_t = 15)]
    pub health_interval_s: u64,

    /// Seconds without progress after which an FFmpeg child is judged stalled and restarted.
    #[arg(long, env = "VS_STALL_TIMEOUT", default_value_t = 10)]
    pub stall_timeout_s: u64,

    /// The ffmpeg binary.
    #[arg(long, env = "VS_FFMPEG", default_value = "ffmpeg")]
    pub ffmpeg: PathBuf,

    /// The ffprobe binary.
    #[arg(long, env = "VS_FFPROBE", default_value = "ffprobe")]
    pub ffprobe: PathBuf,

    /// Start simulated cameras when none is configured (needs the test rig: GStreamer).
    #[arg(long, env = "VS_DEMO", default_value_t = false)]
    pub demo: bool,

    /// Where the test rig's `fake_camera.py` is, for demo mode (default: ./testrig, or the
    /// repository the binary was built in).
    #[arg(long, env = "VS_TESTRIG_DIR")]
    pub testrig_dir: Option<PathBuf>,
}

/// An origin as a browser sends it (`https://cams.example.org`, `http://10.0.0.5:8080`).
fn parse_origin(value: &str) -> Result<String, String> {
    crate::web::csrf::origin_of(value).ok_or_else(|| {
        format!(
            "'{value}' is not an origin: write scheme://host[:port], e.g. https://cams.example.org"
        )
    })
}

impl Config {
    /// A configuration for tests: a given data directory, fast hashing, fast health checks.
    pub fn for_tests(data_dir: PathBuf) -> Config {
        Config {
            listen: "127.0.0.1:0".parse().expect("literal address"),
            data_dir,
            log_level: "warn".into(),
            log_json: false,
            bcrypt_cost: 4,
            secure_cookie: false,
            allowed_origins: Vec::new(),
            session_hours: 1,
            health_interval_s: 1,
            stall_timeout_s: 4,
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
            demo: false,
            testrig_dir: None,
        }
    }

    /// The bcrypt cost used when none is configured.
    pub fn default_bcrypt_cost() -> u32 {
        11
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("vistterstream.db")
    }

    pub fn key_path(&self) -> PathBuf {
        self.data_dir.join("secret.key")
    }

    pub fn session_ttl(&self) -> Duration {
        Duration::from_secs(self.session_hours * 3600)
    }
}
