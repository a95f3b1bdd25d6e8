//! Live status pushed to browsers while a stream or a program runs: one task per running
//! resource watches the engine's status channels and publishes the resource, exactly as its
//! `GET` returns it, on the event stream when something a viewer acts on changes (a state, the
//! camera on air, a restart, an error; debounced) and at a steady pace for the counters that
//! change all the time (uptime, fps, bitrate). Pages then need no poll.

use std::future::Future;
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::Events;

/// Changes that come close together (an output restarting goes backoff, starting, running; a
/// take changes the pending and the on-air camera) are published once.
const DEBOUNCE: Duration = Duration::from_millis(150);

/// What one live feed publishes, and how often without a change.
pub struct Feed {
    /// The event name, e.g. `stream_status`.
    pub kind: &'static str,
    pub period: Duration,
}

/// Publishes `view()` as `feed.kind` whenever `signature()` differs from the one last
/// published (checked at each item of `changes`) and every `feed.period`. Ends when `stop` is
/// cancelled or `changes` ends. `view` returns `None` when there is nothing to publish now (a
/// failed read); the next change or period tries again.
pub async fn run<S, Sig, F>(
    feed: Feed,
    events: Events,
    mut changes: S,
    signature: impl Fn() -> Sig,
    view: impl Fn() -> F,
    stop: CancellationToken,
) where
    S: Stream + Unpin,
    Sig: PartialEq,
    F: Future<Output = Option<serde_json::Value>>,
{
    let mut last = signature();
    let mut tick = tokio::time::interval_at(Instant::now() + feed.period, feed.period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            change = changes.next() => {
                if change.is_none() {
                    return;
                }
                if signature() == last {
                    continue;
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(DEBOUNCE) => {}
                }
                tick.reset();
            }
            _ = tick.tick() => {}
        }
        last = signature();
        let Some(data) = view().await else { continue };
        // The owner publishes the final state itself when it stops the resource; a view read
        // just before that must not follow it.
        if stop.is_cancelled() {
            return;
        }
        events.publish(feed.kind, data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    use tokio::sync::watch;
    use tokio_stream::wrappers::WatchStream;

    /// A change of what matters is published once after the debounce; noise (a change the
    /// signature ignores) is not; the period republishes; cancelling ends the feed.
    #[tokio::test]
    async fn publishes_changes_once_and_on_the_period() {
        let events = Events::default();
        let mut rx = events.subscribe();
        let (tx, status) = watch::channel((0u32, 0u32)); // (what matters, noise)
        let views = Arc::new(AtomicU32::new(0));
        let stop = CancellationToken::new();
        let sig_rx = status.clone();
        let v = views.clone();
        let period = Duration::from_millis(1500);
        let task = tokio::spawn(run(
            Feed {
                kind: "thing_status",
                period,
            },
            events.clone(),
            WatchStream::from_changes(status),
            move || sig_rx.borrow().0,
            move || {
                let n = v.fetch_add(1, Ordering::SeqCst);
                async move { Some(serde_json::json!({ "n": n })) }
            },
            stop.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(20)).await;
        tx.send_modify(|s| s.1 += 1);
        tokio::time::sleep(DEBOUNCE * 2).await;
        assert!(rx.try_recv().is_err(), "noise is not published");
        let changed = Instant::now();
        tx.send_modify(|s| s.0 = 1);
        tx.send_modify(|s| s.0 = 2);
        let e = tokio::time::timeout(period / 2, rx.recv())
            .await
            .expect("the change is published before the period")
            .unwrap();
        assert_eq!((e.kind, e.data["n"].as_u64()), ("thing_status", Some(0)));
        assert!(
            changed.elapsed() >= DEBOUNCE,
            "published after the debounce"
        );
        tokio::time::sleep(DEBOUNCE * 2).await;
        assert!(rx.try_recv().is_err(), "two quick changes, one event");
        let e = tokio::time::timeout(period * 2, rx.recv())
            .await
            .expect("republished on the period")
            .unwrap();
        assert_eq!(e.data["n"], 1);
        assert!(
            changed.elapsed() >= period,
            "the period restarts at a change"
        );
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(1), task)
            .await
            .expect("the feed ends when stopped")
            .unwrap();
        assert_eq!(views.load(Ordering::SeqCst), 2);
    }
}
