//! Fake YouTube: nginx with the RTMP module, recording each publish session to its own FLV.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;

use crate::child::{GroupChild, OutputTail};

const TEMPLATE: &str = include_str!("../../../testrig/nginx-rtmp.conf.template");
const DEFAULT_MODULE: &str = "/usr/lib/nginx/modules/ngx_rtmp_module.so";

/// Options of [`RtmpServer::start_with`]; the default is application `live2` on a free port,
/// accepting every stream key.
#[derive(Debug, Clone)]
pub struct RtmpOptions {
    /// Application name (YouTube's is `live2`).
    pub app: String,
    pub port: Option<u16>,
    /// `Some(keys)`: publishing with another stream key is refused (like a wrong YouTube key).
    pub allowed_keys: Option<Vec<String>>,
}

impl Default for RtmpOptions {
    fn default() -> Self {
        Self {
            app: "live2".into(),
            port: None,
            allowed_keys: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtmpEventKind {
    /// A client started publishing (`accepted` says whether the key was allowed).
    Publish,
    /// A publishing client went away.
    PublishDone,
    /// A recording file was closed.
    RecordDone { path: PathBuf },
}

/// One notification from nginx, in arrival order.
#[derive(Debug, Clone)]
pub struct RtmpEvent {
    pub kind: RtmpEventKind,
    /// The stream key.
    pub key: String,
    pub addr: String,
    pub at: Instant,
    /// For `Publish`: whether the key was accepted. Always true for the other kinds.
    pub accepted: bool,
}

#[derive(Default)]
struct Shared {
    events: Mutex<Vec<RtmpEvent>>,
    allowed: Mutex<Option<HashSet<String>>>,
}

/// nginx-rtmp on 127.0.0.1, all its files in a temporary directory that lives as long as
/// this value. Dropping it kills nginx.
pub struct RtmpServer {
    opts: RtmpOptions,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<GroupChild>,
    stderr: OutputTail,
    shared: Arc<Shared>,
    notify_port: u16,
    notify_task: tokio::task::JoinHandle<()>,
}

impl RtmpServer {
    /// nginx on a free port, application `live2`, every key accepted.
    pub async fn start() -> Result<Self> {
        Self::start_with(RtmpOptions::default()).await
    }

    pub async fn start_with(opts: RtmpOptions) -> Result<Self> {
        let nginx = crate::require("nginx");
        let module = module_path();
        if !module.is_file() {
            panic!(
                "{} is missing (libnginx-mod-rtmp): {}",
                module.display(),
                crate::INSTALL_HINT
            );
        }
        let dir = tempfile::Builder::new().prefix("vs-rtmp-").tempdir()?;
        std::fs::create_dir(dir.path().join("recordings"))?;

        let shared = Arc::new(Shared::default());
        *shared.allowed.lock().unwrap() = opts
            .allowed_keys
            .as_ref()
            .map(|k| k.iter().cloned().collect());
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let notify_port = listener.local_addr()?.port();
        let notify_task = tokio::spawn(serve_notifications(listener, shared.clone()));

        let mut server = Self {
            port: opts.port.unwrap_or(0),
            opts,
            dir,
            child: None,
            stderr: OutputTail::default(),
            shared,
            notify_port,
            notify_task,
        };
        let fixed = server.opts.port.is_some();
        let mut attempt = 0;
        loop {
            if !fixed {
                server.port = crate::free_port();
            }
            match server.spawn(&nginx, &module).await {
                Ok(()) => return Ok(server),
                // Someone took the free port between our probe and nginx's bind: try another.
                Err(e)
                    if !fixed
                        && attempt < 4
                        && format!("{e:#}").contains("Address already in use") =>
                {
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `rtmp://127.0.0.1:PORT/live2`
    pub fn base_url(&self) -> String {
        format!("rtmp://127.0.0.1:{}/{}", self.port, self.opts.app)
    }

    /// `rtmp://127.0.0.1:PORT/live2/KEY`
    pub fn publish_url(&self, stream_key: &str) -> String {
        format!("{}/{stream_key}", self.base_url())
    }

    /// The temporary directory (config, `error.log`, `recordings/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn recordings_dir(&self) -> PathBuf {
        self.dir.path().join("recordings")
    }

    /// Recorded files, one per publish session (`KEY-UNIXSECONDS.flv`), oldest first.
    pub fn recordings(&self) -> Vec<PathBuf> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> =
            std::fs::read_dir(self.recordings_dir())
                .map(|rd| {
                    rd.filter_map(|e| e.ok())
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|x| x == "flv"))
                        .map(|p| {
                            (
                                p.metadata()
                                    .and_then(|m| m.modified())
                                    .unwrap_or(std::time::UNIX_EPOCH),
                                p,
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
        files.sort();
        files.into_iter().map(|(_, p)| p).collect()
    }

    /// Recordings of one stream key, oldest first.
    pub fn recordings_for(&self, stream_key: &str) -> Vec<PathBuf> {
        let prefix = format!("{stream_key}-");
        self.recordings()
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix))
            })
            .collect()
    }

    /// Every notification so far (survives [`Self::restart`]).
    pub fn events(&self) -> Vec<RtmpEvent> {
        self.shared.events.lock().unwrap().clone()
    }

    /// Accepted publish sessions so far (exact, unlike counting recordings).
    pub fn publish_count(&self) -> usize {
        self.count(|e| e.kind == RtmpEventKind::Publish && e.accepted)
    }

    /// Publish attempts refused because of their stream key.
    pub fn rejected_count(&self) -> usize {
        self.count(|e| e.kind == RtmpEventKind::Publish && !e.accepted)
    }

    pub fn publish_done_count(&self) -> usize {
        self.count(|e| e.kind == RtmpEventKind::PublishDone)
    }

    fn count(&self, f: impl Fn(&RtmpEvent) -> bool) -> usize {
        self.shared
            .events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| f(e))
            .count()
    }

    /// Waits until at least `n` publish sessions were accepted.
    pub async fn wait_for_publishes(&self, n: usize, timeout: Duration) -> Result<()> {
        self.wait_until(timeout, || self.publish_count() >= n)
            .await
            .with_context(|| {
                format!(
                    "{} accepted publish session(s), wanted {n}",
                    self.publish_count()
                )
            })
    }

    /// Waits until at least `n` publish sessions have ended (their recordings are then
    /// closed and complete).
    pub async fn wait_for_publish_done(&self, n: usize, timeout: Duration) -> Result<()> {
        self.wait_until(timeout, || self.publish_done_count() >= n)
            .await
            .with_context(|| {
                format!(
                    "{} publish session(s) ended, wanted {n}",
                    self.publish_done_count()
                )
            })
    }

    async fn wait_until(&self, timeout: Duration, f: impl Fn() -> bool) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while !f() {
            if Instant::now() >= deadline {
                bail!("timed out after {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Changes which stream keys are accepted from now on (`None`: all).
    pub fn set_allowed_keys(&self, keys: Option<Vec<String>>) {
        *self.shared.allowed.lock().unwrap() = keys.map(|k| k.into_iter().collect());
    }

    /// nginx's error log (connections, publishes, errors).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_exited().is_none())
    }

    /// Stops nginx: publishers see their connection drop, new ones are refused. Recordings
    /// and events stay. No-op when already stopped.
    pub async fn stop(&mut self) -> Result<()> {
        if let Some(child) = self.child.take() {
            child.stop(Duration::from_secs(3)).await?;
        }
        Ok(())
    }

    /// Starts nginx again on the same port (stopping it first if it runs).
    pub async fn restart(&mut self) -> Result<()> {
        self.stop().await?;
        self.spawn(&crate::require("nginx"), &module_path()).await
    }

    async fn spawn(&mut self, nginx: &Path, module: &Path) -> Result<()> {
        let dir = self.dir.path();
        let conf = TEMPLATE
            .replace("{{MODULE}}", &module.display().to_string())
            .replace("{{DIR}}", &dir.display().to_string())
            .replace("{{PORT}}", &self.port.to_string())
            .replace("{{APP}}", &self.opts.app)
            .replace(
                "{{NOTIFY}}",
                &format!("http://127.0.0.1:{}", self.notify_port),
            );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf)?;
        let log_len = std::fs::metadata(dir.join("error.log"))
            .map(|m| m.len())
            .unwrap_or(0);

        let mut cmd = Command::new(nginx);
        cmd.arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // If the test process dies without running Drop (SIGKILL, abort), nginx goes too.
        crate::child::die_with_parent(&mut cmd);
        let mut child = GroupChild::spawn(cmd, "nginx")?;
        self.stderr = OutputTail::default();
        self.stderr
            .collect(child.child_mut().stderr.take().expect("piped stderr"), None);

        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_exited() {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let log = self.log();
                let new_log = log.get(log_len as usize..).unwrap_or(&log);
                bail!(
                    "nginx exited ({status}) on port {}:\n{}\n{new_log}",
                    self.port,
                    self.stderr.text()
                );
            }
            if TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                break;
            }
            if Instant::now() >= deadline {
                let _ = child.stop(Duration::from_millis(200)).await;
                bail!(
                    "nginx does not listen on {} after 10 s:\n{}",
                    self.port,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.child = Some(child);
        Ok(())
    }
}

impl Drop for RtmpServer {
    fn drop(&mut self) {
        self.notify_task.abort();
    }
}

fn module_path() -> PathBuf {
    std::env::var_os("VS_TESTRIG_RTMP_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| DEFAULT_MODULE.into())
}

/// The HTTP side of nginx-rtmp's `on_*` notifications: one form-encoded POST per event;
/// a non-2xx answer to `publish` refuses the stream.
async fn serve_notifications(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            if let Err(e) = handle_notification(stream, &shared).await {
                tracing::warn!("rtmp notification: {e:#}");
            }
        });
    }
}

async fn handle_notification(mut stream: TcpStream, shared: &Shared) -> Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_end, content_length) = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection closed inside the request head");
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_string();
            let len = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (i + 4, len);
        }
    };
    while buf.len() < head_end + content_length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let target = head.split_whitespace().nth(1).unwrap_or("").to_owned();
    let body = &buf[head_end..buf.len().min(head_end + content_length)];
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let key = field("name");

    let (kind, accepted) = match target.as_str() {
        "/publish" => {
            let ok = shared
                .allowed
                .lock()
                .unwrap()
                .as_ref()
                .is_none_or(|keys| keys.contains(&key));
            (RtmpEventKind::Publish, ok)
        }
        "/publish_done" => (RtmpEventKind::PublishDone, true),
        "/record_done" => (
            RtmpEventKind::RecordDone {
                path: field("path").into(),
            },
            true,
        ),
        _ => {
            stream
                .write_all(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                .await?;
            return Ok(());
        }
    };
    shared.events.lock().unwrap().push(RtmpEvent {
        kind,
        key,
        addr: field("addr"),
        at: Instant::now(),
        accepted,
    });
    let reply: &[u8] = if accepted {
        b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    } else {
        b"HTTP/1.0 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    };
    stream.write_all(reply).await?;
    stream.shutdown().await.ok();
    Ok(())
}
