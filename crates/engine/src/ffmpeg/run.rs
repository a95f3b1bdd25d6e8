//! The one way the appliance runs a short-lived FFmpeg/ffprobe (a probe, a snapshot, `-version`,
//! an encoder test): in its own process group, output collected, and the whole group killed
//! when the deadline passes. A camera that never answers, or a wedged hardware encoder, must
//! not hold a request or the appliance's startup.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::spawner::Exit;

/// What a bounded run produced. Neither stream is redacted: callers redact before they log.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub exit: Exit,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Why a bounded run produced no output.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The program could not be started; `NotFound` means it is not installed.
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    /// Waiting for the child failed (should not happen).
    #[error("waiting for {program} failed: {source}")]
    Wait {
        program: String,
        source: std::io::Error,
    },
    /// The deadline passed; the process group was killed.
    #[error("{program} did not finish within {} ms", .deadline.as_millis())]
    TimedOut { program: String, deadline: Duration },
}

impl RunError {
    /// Whether the program is missing (as opposed to failing or slow).
    pub fn is_not_found(&self) -> bool {
        matches!(self, RunError::Spawn { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Runs `program args…` with stdin on `/dev/null`, collecting stdout and stderr, for at most
/// `deadline`. On timeout the child's process group is SIGKILLed before the child is reaped
/// (so the group id cannot have been reused), which also ends any helper it forked.
pub async fn run_bounded(
    program: &Path,
    args: &[String],
    deadline: Duration,
) -> Result<RunOutput, RunError> {
    run_bounded_with_input(program, args, None, deadline).await
}

/// [`run_bounded`] with `input` written to the child's stdin (then closed): how an address
/// with credentials reaches FFmpeg without being on its command line
/// ([`super::StdinInput`]).
pub async fn run_bounded_with_input(
    program: &Path,
    args: &[String],
    input: Option<&[u8]>,
    deadline: Duration,
) -> Result<RunOutput, RunError> {
    let name = || program.display().to_string();
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let mut child = cmd.spawn().map_err(|source| RunError::Spawn {
        program: name(),
        source,
    })?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        let input = input.to_vec();
        // Its own task: a child that exits without reading must not block the wait below; a
        // failed write shows as the child's own error (it read nothing).
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let _ = stdin.write_all(&input).await;
            let _ = stdin.shutdown().await;
        });
    }
    let pid = child.id();
    // `wait_with_output` reads both pipes while it waits, so a chatty child cannot block on a
    // full pipe.
    let output = child.wait_with_output();
    tokio::pin!(output);
    tokio::select! {
        out = &mut output => match out {
            Ok(out) => Ok(RunOutput {
                exit: out.status.into(),
                stdout: out.stdout,
                stderr: out.stderr,
            }),
            Err(source) => Err(RunError::Wait { program: name(), source }),
        },
        _ = tokio::time::sleep(deadline) => {
            if let Some(pid) = pid {
                // The child is not reaped yet (the future above owns it), so its pid still
                // names our group.
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            // Reap it; the pipes close with the group. A bound in case something outside the
            // group still holds them: dropping the future then leaves the reaping to tokio.
            let _ = tokio::time::timeout(Duration::from_secs(2), &mut output).await;
            Err(RunError::TimedOut { program: name(), deadline })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["-c".into(), script.into()]
    }

    #[tokio::test]
    async fn input_reaches_stdin_and_then_it_is_closed() {
        let out = run_bounded_with_input(
            Path::new("/bin/sh"),
            &sh("cat; echo end"),
            Some(b"from stdin\n"),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(out.stdout, b"from stdin\nend\n");
    }

    #[tokio::test]
    async fn collects_output_and_exit() {
        let out = run_bounded(
            Path::new("/bin/sh"),
            &sh("echo out; echo err >&2; exit 3"),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(out.exit, Exit::Code(3));
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
    }

    #[tokio::test]
    async fn a_missing_program_is_not_found() {
        let e = run_bounded(
            Path::new("/nonexistent/ffmpeg"),
            &[],
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
        assert!(e.is_not_found(), "{e}");
    }

    #[tokio::test]
    async fn the_whole_group_is_killed_at_the_deadline() {
        let marker = format!("/tmp/vs-run-bounded-{}", std::process::id());
        let _ = std::fs::remove_file(&marker);
        // The grandchild writes its pid, then would outlive its parent's kill if only the
        // parent were signalled.
        let script = format!("sh -c 'echo $$ > {marker}; exec sleep 30' & wait");
        let started = std::time::Instant::now();
        let e = run_bounded(
            Path::new("/bin/sh"),
            &sh(&script),
            Duration::from_millis(500),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, RunError::TimedOut { .. }), "{e}");
        assert!(started.elapsed() < Duration::from_secs(3));
        let pid: i32 = std::fs::read_to_string(&marker)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let _ = std::fs::remove_file(&marker);
        let alive = || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| !s.contains(") Z "))
                .unwrap_or(false)
        };
        let until = std::time::Instant::now() + Duration::from_secs(2);
        while alive() && std::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!alive(), "the grandchild {pid} survived the deadline");
    }
}
