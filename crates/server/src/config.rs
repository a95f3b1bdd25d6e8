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

    /// The decoder of the program's cameras: the path of `vistterstream-decoder` (libav,
    /// pictures in shared memory), or `ffmpeg` for FFmpeg through pipes. Default: the
    /// `vistterstream-decoder` beside this binary, else FFmpeg.
    #[arg(long, env = "VS_DECODER")]
    pub decoder: Option<String>,

    /// Start simulated cameras when none is configured (needs the test rig: GStreamer).
    #[arg(long, env = "VS_DEMO", default_value_t = false)]
    pub demo: bool,

    /// Where the test rig's `fake_camera.py` is, for demo mode (default: ./testrig, or the
    /// repository the binary was built in).
    #[arg(long, env = "VS_TESTRIG_DIR")]
    pub testrig_dir: Option<PathBuf>,

    /// Google's endpoints for appliance-made YouTube broadcasts (tests point them at a fake).
    /// Boxed, so that `Command::Serve` stays small.
    #[command(flatten)]
    pub youtube: Box<YoutubeConfig>,
}

/// Where the appliance reaches Google for YouTube broadcasts, and how often it acts on them.
#[derive(Debug, Clone, Args)]
pub struct YoutubeConfig {
    /// OAuth 2.0 device code endpoint (limited-input devices).
    #[arg(
        long = "youtube-device-url",
        env = "VS_YOUTUBE_DEVICE_URL",
        default_value = "https://oauth2.googleapis.com/device/code"
    )]
    pub device_url: String,
    /// OAuth 2.0 token endpoint.
    #[arg(
        long = "youtube-token-url",
        env = "VS_YOUTUBE_TOKEN_URL",
        default_value = "https://oauth2.googleapis.com/token"
    )]
    pub token_url: String,
    /// YouTube Data API v3 base.
    #[arg(
        long = "youtube-api-base",
        env = "VS_YOUTUBE_API_BASE",
        default_value = "https://www.googleapis.com/youtube/v3"
    )]
    pub api_base: String,
    /// YouTube Data API v3 upload base (thumbnails).
    #[arg(
        long = "youtube-upload-base",
        env = "VS_YOUTUBE_UPLOAD_BASE",
        default_value = "https://www.googleapis.com/upload/youtube/v3"
    )]
    pub upload_base: String,
    /// Milliseconds between two looks at the open broadcasts (stream active? window over?).
    #[arg(
        long = "youtube-tick-ms",
        env = "VS_YOUTUBE_TICK_MS",
        default_value_t = 5000
    )]
    pub tick_ms: u64,
    /// Milliseconds before a failed broadcast step is tried again; doubles up to 5 minutes.
    #[arg(
        long = "youtube-retry-ms",
        env = "VS_YOUTUBE_RETRY_MS",
        default_value_t = 5000
    )]
    pub retry_ms: u64,
}

impl Default for YoutubeConfig {
    fn default() -> Self {
        YoutubeConfig {
            device_url: "https://oauth2.googleapis.com/device/code".into(),
            token_url: "https://oauth2.googleapis.com/token".into(),
            api_base: "https://www.googleapis.com/youtube/v3".into(),
            upload_base: "https://www.googleapis.com/upload/youtube/v3".into(),
            tick_ms: 5000,
            retry_ms: 5000,
        }
    }
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
            decoder: None,
            demo: false,
            testrig_dir: None,
            youtube: Box::default(),
        }
    }

    /// The shared-memory decoder to use for the program's cameras, `None` for FFmpeg (see
    /// [`Config::decoder`]).
    pub fn decode_worker(&self) -> Option<PathBuf> {
        match self.decoder.as_deref() {
            Some("ffmpeg") => None,
            Some(path) => Some(PathBuf::from(path)),
            // Beside this binary; for cargo's test binaries (target/<profile>/deps/), beside
            // the binaries one directory up.
            None => {
                let exe = std::env::current_exe().ok()?;
                let dir = exe.parent()?;
                let mut places = vec![dir.join("vistterstream-decoder")];
                if dir.file_name().is_some_and(|n| n == "deps") {
                    places.extend(dir.parent().map(|d| d.join("vistterstream-decoder")));
                }
                places.into_iter().find(|p| p.is_file())
            }
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
