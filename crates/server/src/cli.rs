//! The command line: `serve` runs the appliance, `admin …` does maintenance on its data
//! directory while it is stopped.

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
    /// Maintenance commands (run them while the appliance is stopped).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
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
}

pub fn run(cli: Cli) -> ExitCode {
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
    let app = crate::App::build(config, listener, shutdown).await?;
    app.wait().await?;
    tracing::info!("stopped cleanly");
    Ok(())
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
            let secrets = vs_base::SecretBox::load_or_create(&config.key_path())?;
            let ctl = crate::controller::Controller::new(
                db.clone(),
                secrets,
                std::sync::Arc::new(config),
                CancellationToken::new(),
            );
            let created = ctl.reset_password(&username, &password).await?;
            db.close().await;
            if created {
                println!("user '{username}' created");
            } else {
                println!("password of '{username}' changed; their sessions were ended");
            }
            Ok(())
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
