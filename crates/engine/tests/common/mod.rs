//! Helpers shared by the engine's program test files (`program.rs`, `program_audio.rs`).

use std::time::Duration;

use tokio::sync::watch;
use vs_engine::ProgramStatus;

/// Waits until the program's status satisfies `pred`; past `within`, fails naming `what` and
/// showing the last status.
pub async fn wait_status(
    rx: &mut watch::Receiver<ProgramStatus>,
    within: Duration,
    what: &str,
    pred: impl FnMut(&ProgramStatus) -> bool,
) -> ProgramStatus {
    let got = tokio::time::timeout(within, rx.wait_for(pred))
        .await
        .map(|r| r.map(|s| s.clone()));
    match got {
        Ok(Ok(s)) => s,
        _ => panic!(
            "{what}: not within {within:?}; status: {:#?}",
            rx.borrow().clone()
        ),
    }
}
