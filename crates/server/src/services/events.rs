//! What browsers are told as it happens: every service publishes here, `/api/events` (SSE)
//! subscribes. Nobody listening is fine; a browser that falls behind is told it lagged.
//!
//! Beside the live stream sits the journal: a bounded ring of the things an operator looks
//! back on (a camera going offline and why, takes, the slate, a destination failing and
//! reconnecting, logins), served by `GET /api/events/recent` and pushed as `journal` events.
//! Its entries are derived here from the state snapshots the services already publish
//! (`camera_health`, `program_status`, `stream_status`), by comparing each snapshot with the
//! previous one of the same thing; so a service never has to report the same change twice,
//! and the journal cannot disagree with what the pages show.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast;
use utoipa::ToSchema;

/// How many journal entries are kept; older ones are forgotten.
pub const JOURNAL_CAPACITY: usize = 500;

/// Something that happened, pushed to browsers over the event stream.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Event {
    /// The SSE event name, e.g. `camera_health`.
    pub kind: &'static str,
    pub data: serde_json::Value,
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct JournalEntry {
    /// Increasing with every entry, never reused while the appliance runs.
    pub seq: u64,
    /// RFC 3339, UTC.
    pub at: String,
    /// info, warning or error
    #[schema(example = "error")]
    pub severity: String,
    /// What it is about: camera, program, stream, destination or user.
    #[schema(example = "camera")]
    pub subject_type: String,
    /// The id of the camera, program, stream, destination or user, when it has one.
    pub subject_id: Option<i64>,
    /// Its name, when the event carried it (the UI names cameras from their id otherwise).
    pub subject_name: Option<String>,
    /// What happened, in words: `offline`, `on_air`, `slate_on`, `output_failed`, `login`, …
    #[schema(example = "offline")]
    pub action: String,
    /// A sentence for people; never a secret (errors are redacted before they are published).
    pub message: String,
    /// The program or stream an output belongs to, for destination entries.
    pub context: Option<String>,
}

/// What the journal remembers of each thing, to notice what changed.
#[derive(Default)]
struct Seen {
    cameras: HashMap<i64, (String, Option<String>)>,
    programs: HashMap<i64, RunSeen>,
    streams: HashMap<i64, RunSeen>,
}

#[derive(Default, Clone)]
struct RunSeen {
    running: bool,
    on_air: Option<i64>,
    slate: bool,
    /// Per destination id: state and restart count.
    outputs: HashMap<i64, (String, i64)>,
}

struct Journal {
    entries: VecDeque<JournalEntry>,
    next_seq: u64,
    seen: Seen,
}

/// The publisher: cheap to clone, every clone sends to the same subscribers and journal.
#[derive(Clone)]
pub struct Events {
    tx: broadcast::Sender<Event>,
    journal: Arc<Mutex<Journal>>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            tx: broadcast::channel(256).0,
            journal: Arc::new(Mutex::new(Journal {
                entries: VecDeque::with_capacity(JOURNAL_CAPACITY),
                next_seq: 1,
                seen: Seen::default(),
            })),
        }
    }
}

/// A journal entry before it gets its number and time.
struct Draft {
    severity: &'static str,
    subject_type: &'static str,
    subject_id: Option<i64>,
    subject_name: Option<String>,
    action: &'static str,
    message: String,
    context: Option<String>,
}

impl Draft {
    fn new(
        severity: &'static str,
        subject_type: &'static str,
        subject_id: Option<i64>,
        action: &'static str,
        message: String,
    ) -> Self {
        Draft {
            severity,
            subject_type,
            subject_id,
            subject_name: None,
            action,
            message,
            context: None,
        }
    }
    fn named(mut self, name: Option<&str>) -> Self {
        self.subject_name = name.map(str::to_string);
        self
    }
    fn context(mut self, c: Option<String>) -> Self {
        self.context = c;
        self
    }
}

/// Filters of [`Events::recent`]; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct JournalFilter {
    pub subject_type: Option<String>,
    pub subject_id: Option<i64>,
    pub severity: Option<String>,
    /// Only entries after this sequence number (a client catching up).
    pub after: Option<u64>,
    pub limit: usize,
}

impl Events {
    /// Sends an event to every connected browser; nobody listening is fine. State snapshots
    /// that differ from the last one of the same thing also land in the journal.
    pub fn publish(&self, kind: &'static str, data: serde_json::Value) {
        let drafts = {
            let mut j = self.journal.lock().expect("journal lock");
            derive(&mut j.seen, kind, &data)
        };
        let _ = self.tx.send(Event { kind, data });
        for d in drafts {
            self.record(d);
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// A successful login (`ok`) or a refused one. The username of a refused login is only
    /// written when it names a user: people type their password into the username field.
    pub fn login(&self, user: Option<(i64, &str)>, ok: bool, client: &str) {
        let d = match (ok, user) {
            (true, Some((id, name))) => Draft::new(
                "info",
                "user",
                Some(id),
                "login",
                format!("signed in from {client}"),
            )
            .named(Some(name)),
            (false, Some((id, name))) => Draft::new(
                "warning",
                "user",
                Some(id),
                "login_failed",
                format!("wrong password from {client}"),
            )
            .named(Some(name)),
            _ => Draft::new(
                "warning",
                "user",
                None,
                "login_failed",
                format!("login with an unknown username from {client}"),
            ),
        };
        self.record(d);
    }

    fn record(&self, d: Draft) {
        let entry = {
            let mut j = self.journal.lock().expect("journal lock");
            let entry = JournalEntry {
                seq: j.next_seq,
                at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                severity: d.severity.into(),
                subject_type: d.subject_type.into(),
                subject_id: d.subject_id,
                subject_name: d.subject_name,
                action: d.action.into(),
                message: d.message,
                context: d.context,
            };
            j.next_seq += 1;
            if j.entries.len() == JOURNAL_CAPACITY {
                j.entries.pop_front();
            }
            j.entries.push_back(entry.clone());
            entry
        };
        let data = serde_json::to_value(&entry).unwrap_or_default();
        let _ = self.tx.send(Event {
            kind: "journal",
            data,
        });
    }

    /// The newest entries first, at most `limit`.
    pub fn recent(&self, f: &JournalFilter) -> Vec<JournalEntry> {
        let j = self.journal.lock().expect("journal lock");
        j.entries
            .iter()
            .rev()
            .filter(|e| f.after.is_none_or(|a| e.seq > a))
            .filter(|e| {
                f.subject_type
                    .as_deref()
                    .is_none_or(|t| e.subject_type == t)
            })
            .filter(|e| f.subject_id.is_none_or(|id| e.subject_id == Some(id)))
            .filter(|e| f.severity.as_deref().is_none_or(|s| e.severity == s))
            .take(f.limit)
            .cloned()
            .collect()
    }
}

fn int(v: &Value, k: &str) -> Option<i64> {
    v.get(k).and_then(Value::as_i64)
}

fn text<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// The journal entries a published snapshot implies, given what was seen before.
fn derive(seen: &mut Seen, kind: &str, data: &Value) -> Vec<Draft> {
    match kind {
        "camera_health" => camera_health(seen, data).into_iter().collect(),
        "camera_changed" => {
            // A deleted or changed camera starts afresh: its next health is news again.
            if let Some(id) = int(data, "id") {
                seen.cameras.remove(&id);
            }
            vec![]
        }
        "program_status" => run_status(&mut seen.programs, "program", data),
        "stream_status" => run_status(&mut seen.streams, "stream", data),
        _ => vec![],
    }
}

fn camera_health(seen: &mut Seen, h: &Value) -> Option<Draft> {
    let id = int(h, "camera_id")?;
    let state = text(h, "state")?.to_string();
    let error = text(h, "last_error").map(str::to_string);
    // Compared without its figures: "low frame rate (9.8 fps)" then "(9.6 fps)" is one story.
    let gist = error
        .as_deref()
        .map(|e| e.replace(|c: char| c.is_ascii_digit(), "#"));
    let before = seen.cameras.insert(id, (state.clone(), gist.clone()));
    if before.as_ref() == Some(&(state.clone(), gist)) {
        return None;
    }
    let because = |e: &Option<String>| e.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
    Some(match state.as_str() {
        "online" => {
            let was_down = before.is_some_and(|(s, _)| s == "offline" || s == "degraded");
            Draft::new(
                "info",
                "camera",
                Some(id),
                "online",
                if was_down { "back online" } else { "online" }.to_string(),
            )
        }
        "offline" => Draft::new(
            "error",
            "camera",
            Some(id),
            "offline",
            format!("offline{}", because(&error)),
        ),
        "degraded" => Draft::new(
            "warning",
            "camera",
            Some(id),
            "degraded",
            format!("degraded{}", because(&error)),
        ),
        "disabled" => Draft::new("info", "camera", Some(id), "disabled", "disabled".into()),
        _ => return None,
    })
}

/// Programs and streams: started, stopped, takes and slate (programs), and every output's
/// failures and reconnects.
fn run_status(map: &mut HashMap<i64, RunSeen>, what: &'static str, v: &Value) -> Vec<Draft> {
    let Some(id) = int(v, "id") else {
        return vec![];
    };
    let Some(name) = text(v, "name") else {
        // Only `{id}`: deleted.
        map.remove(&id);
        return vec![];
    };
    let mut out = vec![];
    let before = map.get(&id).cloned();
    let mut now = RunSeen::default();
    // A program's live part, or a stream's status.
    let (running, outputs) = match what {
        "program" => match v.get("live").filter(|l| !l.is_null()) {
            Some(live) => {
                now.on_air = int(live, "on_air_camera_id");
                now.slate = live.get("slate_active").and_then(Value::as_bool) == Some(true);
                (true, live.get("outputs"))
            }
            None => (false, None),
        },
        _ => {
            let status = v.get("status");
            let state = status.and_then(|s| text(s, "state")).unwrap_or("stopped");
            (state != "stopped", status.and_then(|s| s.get("outputs")))
        }
    };
    now.running = running;
    let was = before.clone().unwrap_or_default();
    let draft =
        |sev, action, msg: String| Draft::new(sev, what, Some(id), action, msg).named(Some(name));
    if running && !was.running {
        out.push(draft("info", "started", "started".into()));
    } else if !running && was.running {
        let why = v
            .get("status")
            .and_then(|s| text(s, "last_error"))
            .map(|e| format!(" (last error: {e})"))
            .unwrap_or_default();
        out.push(draft("info", "stopped", format!("stopped{why}")));
    }
    if running && what == "program" {
        if now.on_air != was.on_air {
            if let Some(cam) = now.on_air {
                let cam_name = v
                    .get("live")
                    .and_then(|l| l.get("ingests"))
                    .and_then(Value::as_array)
                    .and_then(|a| a.iter().find(|i| int(i, "camera_id") == Some(cam)))
                    .and_then(|i| text(i, "camera"))
                    .map(|n| format!("“{n}”"))
                    .unwrap_or_else(|| format!("camera {cam}"));
                out.push(draft("info", "on_air", format!("took {cam_name}: on air")));
            }
        }
        if now.slate && !was.slate {
            out.push(draft("warning", "slate_on", "the slate is on air".into()));
        } else if !now.slate && was.slate && was.running {
            out.push(draft("info", "slate_off", "the slate is off air".into()));
        }
    }
    for o in outputs.and_then(Value::as_array).into_iter().flatten() {
        let Some(dest) = int(o, "destination_id") else {
            continue;
        };
        let state = text(o, "state").unwrap_or("").to_string();
        let restarts = int(o, "restarts").unwrap_or(0);
        let prev = was.outputs.get(&dest).cloned();
        now.outputs.insert(dest, (state.clone(), restarts));
        if !running || prev.as_ref() == Some(&(state.clone(), restarts)) {
            continue;
        }
        let (prev_state, prev_restarts) = prev.unwrap_or_default();
        let err = text(o, "last_error")
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        let dest_draft = |sev, action, msg: String| {
            Draft::new(sev, "destination", Some(dest), action, msg)
                .named(text(o, "destination"))
                .context(Some(format!("{what} “{name}”")))
        };
        let failing = |s: &str| s == "backoff" || s == "failed";
        if failing(&state) && (!failing(&prev_state) || restarts > prev_restarts) {
            let action = if state == "failed" {
                "output_failed"
            } else {
                "output_error"
            };
            let how = if state == "failed" {
                "gave up"
            } else {
                "lost, reconnecting"
            };
            out.push(dest_draft("error", action, format!("{how}{err}")));
        } else if state == "running" && (failing(&prev_state) || restarts > prev_restarts) {
            out.push(dest_draft(
                "info",
                "output_reconnected",
                "reconnected".into(),
            ));
        }
    }
    map.insert(id, now);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn all(e: &Events) -> Vec<JournalEntry> {
        e.recent(&JournalFilter {
            limit: 1000,
            ..Default::default()
        })
    }

    #[test]
    fn camera_health_changes_become_entries_once() {
        let e = Events::default();
        let h = |state: &str, err: Option<&str>| json!({"camera_id": 3, "state": state, "last_error": err});
        e.publish("camera_health", h("online", None));
        e.publish("camera_health", h("online", None));
        e.publish("camera_health", h("offline", Some("connection refused")));
        e.publish("camera_health", h("online", None));
        // Only the figures of the reason changed: not news.
        e.publish(
            "camera_health",
            h("degraded", Some("low frame rate (9.8 fps)")),
        );
        e.publish(
            "camera_health",
            h("degraded", Some("low frame rate (9.6 fps)")),
        );
        e.publish("camera_health", h("online", None));
        let got = all(&e);
        let words: Vec<_> = got.iter().rev().map(|e| e.message.as_str()).collect();
        assert_eq!(
            words,
            [
                "online",
                "offline: connection refused",
                "back online",
                "degraded: low frame rate (9.8 fps)",
                "back online"
            ]
        );
        assert_eq!(got[3].severity, "error");
        assert_eq!(got[1].severity, "warning");
        assert!(got[0].seq > got[1].seq);
    }

    #[test]
    fn takes_slate_and_destination_errors_of_a_program() {
        let e = Events::default();
        let p = |on_air: i64, slate: bool, state: &str, restarts: i64| {
            json!({"id": 1, "name": "Main", "live": {
                "on_air_camera_id": on_air, "slate_active": slate,
                "ingests": [{"camera_id": 2, "camera": "Dock"}],
                "outputs": [{"destination_id": 9, "destination": "YouTube", "state": state,
                    "restarts": restarts, "last_error": if state == "backoff" { Some("Connection refused") } else { None }}]
            }})
        };
        e.publish("program_status", p(2, false, "running", 0));
        e.publish("program_status", p(2, false, "running", 0));
        e.publish("program_status", p(2, true, "backoff", 1));
        e.publish("program_status", p(2, false, "running", 1));
        e.publish(
            "program_status",
            json!({"id": 1, "name": "Main", "live": null}),
        );
        let actions: Vec<_> = all(&e).iter().rev().map(|e| e.action.clone()).collect();
        assert_eq!(
            actions,
            [
                "started",
                "on_air",
                "slate_on",
                "output_error",
                "slate_off",
                "output_reconnected",
                "stopped"
            ]
        );
        let err = all(&e)
            .into_iter()
            .find(|e| e.action == "output_error")
            .unwrap();
        assert_eq!(err.subject_type, "destination");
        assert_eq!(err.subject_id, Some(9));
        assert_eq!(err.subject_name.as_deref(), Some("YouTube"));
        assert!(
            err.message.contains("Connection refused"),
            "{}",
            err.message
        );
        assert_eq!(err.context.as_deref(), Some("program “Main”"));
    }

    #[test]
    fn the_ring_is_bounded_and_filters() {
        let e = Events::default();
        for i in 0..(JOURNAL_CAPACITY as i64 + 20) {
            e.login(Some((i, "admin")), i % 2 == 0, "127.0.0.1");
        }
        let got = all(&e);
        assert_eq!(got.len(), JOURNAL_CAPACITY);
        assert_eq!(got[0].seq, JOURNAL_CAPACITY as u64 + 20);
        let failed = e.recent(&JournalFilter {
            severity: Some("warning".into()),
            limit: 5,
            ..Default::default()
        });
        assert_eq!(failed.len(), 5);
        assert!(failed.iter().all(|e| e.action == "login_failed"));
        let one = e.recent(&JournalFilter {
            subject_type: Some("user".into()),
            subject_id: Some(300),
            limit: 10,
            ..Default::default()
        });
        assert_eq!(one.len(), 1);
    }

    #[test]
    fn an_unknown_username_is_not_written() {
        let e = Events::default();
        e.login(None, false, "10.0.0.2");
        let got = all(&e);
        assert_eq!(
            (got[0].subject_id, got[0].subject_name.as_deref()),
            (None, None)
        );
        assert_eq!(got[0].severity, "warning");
    }
}
