//! The command line: `serve` runs the appliance, `admin …` does maintenance on its data
//! directory (while it is stopped, except `backup`), `healthcheck` probes a running one,
//! `openapi` prints the API document (the web UI's TypeScript types are generated from it).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "vistterstream",
    version,
    about = "Local streaming appliance for IP cameras"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the appliance (web UI, API, streams).
    Serve(Config),
    /// Maintenance commands (run them while the appliance is stopped, except `backup`).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Exit 0 if the appliance answers GET /api/health (Docker's HEALTHCHECK: no curl needed).
    Healthcheck {
        #[arg(long, env = "VS_LISTEN", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
    },
    /// Print the OpenAPI document (JSON) to standard output; starts nothing.
    Openapi,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Set a user's password (creating the user if it does not exist). Reads the new password
    /// from the terminal, or from standard input with --password-stdin.
    ResetPassword {
        /// The user's name.
        #[arg(long, default_value = "admin")]
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[arg(long, env = "VS_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
    },
    /// Write a consistent backup (database, secret key, assets) to FILE, a .tar.gz. Safe while
    /// the appliance runs. The file holds the secret key: keep it private.
    Backup {
        file: PathBuf,
        #[arg(long, env = "VS_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
    },
    /// Restore a backup made by `admin backup` into the data directory (appliance stopped).
    Restore {
        file: PathBuf,
        /// Replace a data directory that is not empty (its contents are moved beside it).
        #[arg(long)]
        force: bool,
        #[arg(long, env = "VS_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
    },
}

pub fn run(cli: Cli) -> ExitCode {
    match &cli.command {
        // Before the runtime exists: the environment may only change while one thread runs.
        Command::Serve(config) => crate::orphans::mark_process(&config.data_dir),
        Command::Healthcheck { listen } => return healthcheck(*listen),
        Command::Openapi => return print_openapi(),
        Command::Admin { .. } => {}
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Serve(config) => serve(config).await,
            Command::Admin { command } => admin(command).await,
            Command::Healthcheck { .. } | Command::Openapi => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message);
            if e.source.is_some() {
                eprintln!("detail: {e:?}");
            }
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&config.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if config.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(config: Config) -> vs_base::Result<()> {
    init_logging(&config);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| {
            vs_base::Error::new(
                vs_base::ErrorKind::Unavailable,
                format!("cannot listen on {}: {e}", config.listen),
            )
        })?;
    let shutdown = CancellationToken::new();
    spawn_signal_handler(shutdown.clone());
    let app = crate::App::build(config, listener, shutdown.clone()).await?;
    tokio::spawn(release_code_pages(shutdown));
    app.wait().await?;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Lets go of the code pages start-up left mapped (see `vs_engine::memory::release_code_pages`):
/// 15 s after start, once the first round of every background loop has run, then every minute,
/// so what a program's start, a probe or a page view ran once does not stay resident either.
/// A release costs a read of smaps and, afterwards, a minor fault per 64 KiB of code that runs
/// again (about a hundred for the appliance's working set).
async fn release_code_pages(shutdown: CancellationToken) {
    let mut wait = std::time::Duration::from_secs(15);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        match tokio::task::spawn_blocking(vs_engine::memory::release_code_pages).await {
            Ok(Ok(r)) => tracing::debug!(
                mappings = r.mappings,
                resident_kib = r.resident_kib,
                "code pages released"
            ),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "code pages not released");
                return;
            }
            Err(_) => return,
        }
        wait = std::time::Duration::from_secs(60);
    }
}

/// The first SIGTERM/SIGINT stops gracefully; a second one exits at once.
fn spawn_signal_handler(shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut count = 0;
        loop {
            wait_for_signal().await;
            count += 1;
            if count == 1 {
                tracing::info!("stop requested; stopping streams and closing the database");
                shutdown.cancel();
            } else {
                eprintln!("second stop signal: exiting now");
                std::process::exit(130);
            }
        }
    });
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

async fn admin(command: AdminCommand) -> vs_base::Result<()> {
    match command {
        AdminCommand::ResetPassword {
            username,
            password_stdin,
            data_dir,
        } => {
            let password = read_password(password_stdin)?;
            let config = Config {
                data_dir,
                ..Config::for_tests(PathBuf::new())
            };
            let config = Config {
                bcrypt_cost: Config::default_bcrypt_cost(),
                ..config
            };
            let _lock = crate::datadir::prepare_and_lock(&config.data_dir)?;
            let db = vs_db::Db::open(&config.db_path()).await?;
            // The key is made (or checked) as `serve` does, so a reset on a fresh directory
            // leaves it complete.
            vs_base::SecretBox::load_or_create(&config.key_path())?;
            let auth =
                crate::services::auth::AuthService::new(db.clone(), std::sync::Arc::new(config));
            let created = auth.reset_password(&username, &password).await?;
            db.close().await;
            if created {
                println!("user '{username}' created");
            } else {
                println!("password of '{username}' changed; their sessions were ended");
            }
            Ok(())
        }
        AdminCommand::Backup { file, data_dir } => {
            crate::backup::run_backup(&data_dir, &file).await
        }
        AdminCommand::Restore {
            file,
            force,
            data_dir,
        } => crate::backup::run_restore(&file, &data_dir, force).await,
    }
}

/// The same document `/api/openapi.json` serves, without a data directory or a listener, so a
/// build step can read it from the binary.
fn print_openapi() -> ExitCode {
    use utoipa::OpenApi;
    let json = match crate::web::openapi::ApiDoc::openapi().to_pretty_json() {
        Ok(json) => json,
        Err(e) => {
            eprintln!("error: cannot serialize the OpenAPI document: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Not println!: it panics when the reader has gone (`vistterstream openapi | head`).
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{json}").and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write the OpenAPI document: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A plain HTTP/1.0 request over a std socket: the probe runs every 30 s in the container and
/// must not need an async runtime, curl, or anything but the binary.
fn healthcheck(mut addr: std::net::SocketAddr) -> ExitCode {
    use std::io::Read;
    use std::time::Duration;
    if addr.ip().is_unspecified() {
        // Listening on every address (0.0.0.0 / ::) is reachable on loopback.
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let timeout = Duration::from_secs(3);
    let probe = || -> std::io::Result<String> {
        let mut s = std::net::TcpStream::connect_timeout(&addr, timeout)?;
        s.set_read_timeout(Some(timeout))?;
        s.write_all(format!("GET /api/health HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())?;
        let mut head = [0u8; 32];
        let n = s.read(&mut head)?;
        Ok(String::from_utf8_lossy(&head[..n]).into_owned())
    };
    match probe() {
        Ok(head) if head.starts_with("HTTP/1.") && head.get(9..12) == Some("200") => {
            ExitCode::SUCCESS
        }
        Ok(head) => {
            eprintln!("unhealthy: {addr} answered {:?}", head.lines().next());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {addr}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read_password(from_stdin: bool) -> vs_base::Result<String> {
    let stdin = std::io::stdin();
    if !from_stdin && stdin.is_terminal() {
        eprint!("New password: ");
        std::io::stderr().flush()?;
        // Echo is not turned off: keep the dependency list short; use --password-stdin in scripts.
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let pw = line.trim_end_matches(['\r', '\n']).to_string();
    if pw.is_empty() {
        return Err(vs_base::Error::invalid("password", "is empty"));
    }
    Ok(pw)
}
