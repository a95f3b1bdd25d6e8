//! What the studio is told without asking: the services' events (the same ones browsers get)
//! turned into EVENT messages — a camera going offline or online, a take, the slate, a
//! destination's error, a timeline starting or ending — and the position of a timeline the
//! studio started as PROGRESS. Both are queued, so they reach the studio in order even when
//! the broker was away. METRICS is a periodic snapshot built here too.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::broadcast;
use vs_base::{Error, Result};

use super::contract;
use super::LinkService;
use crate::services::Event;

#[derive(Debug, Default, Clone, PartialEq)]
struct ProgramSeen {
    on_air: Option<i64>,
    slate: bool,
}

/// What was last seen of each thing, so only changes become events.
#[derive(Debug, Default)]
struct Seen {
    programs: HashMap<i64, ProgramSeen>,
    /// (program|stream, its id, destination id) → last error.
    outputs: HashMap<(&'static str, i64, i64), Option<String>>,
    /// (state, timeline id).
    timeline: Option<(String, Option<String>)>,
}

/// A PROGRESS payload from the player's status (`PlayerStatus` as JSON).
pub(super) fn progress_of(status: &Value) -> Value {
    let position = status["position_ms"].as_i64().unwrap_or(0);
    let duration = status["duration_ms"].as_i64().unwrap_or(0);
    let percent = if duration > 0 {
        (position.clamp(0, duration) * 100 / duration) as u64
    } else {
        0
    };
    json!({
        "state": status["state"].as_str().unwrap_or("stopped"),
        "percent_complete": percent,
        "detail": {
            "timeline_id": status["timeline_id"],
            "position_ms": position,
            "duration_ms": duration,
            "loop_index": status["loop_index"].as_u64().unwrap_or(0),
            "on_air_clip": status["on_air_clip"],
        },
    })
}

/// What makes a new PROGRESS worth sending: the state, the clip on air, the pass.
pub(super) fn progress_key(status: &Value) -> (String, Option<String>, u64) {
    (
        status["state"].as_str().unwrap_or("stopped").to_string(),
        status["on_air_clip"].as_str().map(str::to_string),
        status["loop_index"].as_u64().unwrap_or(0),
    )
}

fn event(kind: &str, severity: &str, context: Value) -> (String, &'static str, Value) {
    let severity = match severity {
        "error" => "error",
        "warning" => "warning",
        _ => "info",
    };
    (kind.to_string(), severity, context)
}

impl Seen {
    /// The events a program's status brings (`ProgramView` as JSON).
    fn program(&mut self, v: &Value) -> Vec<(String, &'static str, Value)> {
        let mut out = Vec::new();
        let Some(id) = v["id"].as_i64() else {
            return out;
        };
        let live = &v["live"];
        let now = ProgramSeen {
            on_air: live["on_air_camera_id"].as_i64(),
            slate: live["slate_active"].as_bool().unwrap_or(false),
        };
        let before = self.programs.insert(id, now.clone()).unwrap_or_default();
        if now.on_air.is_some() && now.on_air != before.on_air {
            out.push(event(
                "take",
                "info",
                json!({"program_id": id, "camera_id": now.on_air, "previous_camera_id": before.on_air}),
            ));
        }
        if now.slate && !before.slate {
            out.push(event(
                "slate",
                "warning",
                json!({"program_id": id, "on_air_camera_id": now.on_air}),
            ));
        }
        out.extend(self.outputs("program", id, &live["outputs"]));
        out
    }

    /// A stream's status (`Stream` as JSON): only its destinations' errors.
    fn stream(&mut self, v: &Value) -> Vec<(String, &'static str, Value)> {
        match v["id"].as_i64() {
            Some(id) => self.outputs("stream", id, &v["status"]["outputs"]),
            None => Vec::new(),
        }
    }

    fn outputs(
        &mut self,
        owner: &'static str,
        id: i64,
        outputs: &Value,
    ) -> Vec<(String, &'static str, Value)> {
        let mut out = Vec::new();
        for o in outputs.as_array().into_iter().flatten() {
            let Some(dest) = o["destination_id"].as_i64() else {
                continue;
            };
            let error = o["last_error"].as_str().map(str::to_string);
            let before = self.outputs.insert((owner, id, dest), error.clone());
            if error.is_some() && before.as_ref() != Some(&error) {
                out.push(event(
                    "destination_error",
                    "error",
                    json!({
                        format!("{owner}_id"): id,
                        "destination_id": dest,
                        "destination": o["destination"],
                        "state": o["state"],
                        "message": error,
                    }),
                ));
            }
        }
        out
    }

    fn camera(&mut self, v: &Value) -> Vec<(String, &'static str, Value)> {
        let (kind, severity) = match v["state"].as_str() {
            Some("online") => ("camera_online", "info"),
            Some("offline") => ("camera_offline", "warning"),
            Some("degraded") => ("camera_degraded", "warning"),
            _ => return Vec::new(),
        };
        vec![event(
            kind,
            severity,
            json!({"camera_id": v["camera_id"], "message": v["last_error"]}),
        )]
    }

    fn timeline(&mut self, v: &Value) -> Vec<(String, &'static str, Value)> {
        let now = (
            v["state"].as_str().unwrap_or("stopped").to_string(),
            v["timeline_id"].as_str().map(str::to_string),
        );
        let before = self.timeline.replace(now.clone());
        // A stopped player may forget its timeline's id a moment later: the same news.
        let same = before
            .as_ref()
            .is_some_and(|b| b.0 == now.0 && (b.1 == now.1 || now.1.is_none()));
        if same || (before.is_none() && now.0 == "stopped") {
            if now.1.is_none() {
                self.timeline = before;
            }
            return Vec::new();
        }
        let id = now.1.or_else(|| before.and_then(|b| b.1));
        vec![event(
            "timeline",
            "info",
            json!({"state": now.0, "timeline_id": id, "timeline_name": v["timeline_name"]}),
        )]
    }
}

impl LinkService {
    /// Turns the services' events into EVENT and PROGRESS messages while the link is on.
    pub(super) async fn run_watch(self: Arc<Self>, mut rx: broadcast::Receiver<Event>) {
        let mut seen = Seen::default();
        // What runs already is not news.
        if let Ok(programs) = self.targets.programs.list().await {
            for p in programs {
                if let Ok(v) = serde_json::to_value(&p) {
                    seen.program(&v);
                }
            }
        }
        loop {
            let event = tokio::select! {
                _ = self.shutdown.cancelled() => return,
                e = rx.recv() => match e {
                    Ok(e) => e,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "studio link fell behind the appliance's events");
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            };
            let found = match event.kind {
                "camera_health" => seen.camera(&event.data),
                "program_status" => seen.program(&event.data),
                "stream_status" => seen.stream(&event.data),
                "timeline_position" => {
                    if let Err(e) = self.follow_execution(&event.data).await {
                        tracing::warn!(error = ?e, "studio link: PROGRESS not queued");
                    }
                    seen.timeline(&event.data)
                }
                _ => Vec::new(),
            };
            let Some(device) = self.active_device() else {
                continue;
            };
            for (kind, severity, context) in found {
                let m = contract::message(
                    &device,
                    "EVENT",
                    None,
                    json!({"event_type": kind, "severity": severity, "context": context}),
                );
                if let Err(e) = self.enqueue("event", &m).await {
                    tracing::warn!(error = ?e, "studio link: EVENT not queued");
                }
            }
        }
    }

    /// PROGRESS of the timeline a TIMELINE_EXECUTE started, until it ends or another replaces it.
    async fn follow_execution(&self, status: &Value) -> Result<()> {
        let Some(device) = self.active_device() else {
            return Ok(());
        };
        let message = {
            let mut guard = self.execution.lock().expect("execution lock");
            let Some(exec) = guard.as_mut() else {
                return Ok(());
            };
            let id = status["timeline_id"].as_str();
            let (payload, done) = match id {
                Some(other) if other != exec.timeline_id => (
                    json!({"state": "stopped", "percent_complete": 0,
                           "detail": {"timeline_id": exec.timeline_id, "replaced_by": other}}),
                    true,
                ),
                _ => {
                    let key = progress_key(status);
                    if exec.last.as_ref() == Some(&key) {
                        return Ok(());
                    }
                    let done = key.0 != "playing";
                    exec.last = Some(key);
                    let mut p = progress_of(status);
                    p["detail"]["timeline_id"] = exec.timeline_id.clone().into();
                    (p, done)
                }
            };
            let m = contract::message(&device, "PROGRESS", Some(&exec.message_id), payload);
            if done {
                *guard = None;
            }
            m
        };
        self.enqueue("ack", &message).await
    }

    /// A METRICS message: the machine, the cameras, the programs, the timeline and the link.
    pub(super) async fn metrics_message(&self, device: &str) -> Result<Value> {
        let t = &self.targets;
        let sys = t.status.system().await?;
        let programs: Vec<Value> = t
            .programs
            .list()
            .await?
            .iter()
            .map(|p| {
                let live = p.live.as_ref();
                json!({
                    "id": p.id,
                    "name": p.name,
                    "running": live.is_some(),
                    "on_air_camera_id": live.and_then(|l| l.on_air_camera_id),
                    "slate_active": live.is_some_and(|l| l.slate_active),
                    "fps": live.map(|l| l.fps_measured),
                    "bitrate_kbps": live.and_then(|l| l.bitrate_kbps),
                    "speed": live.and_then(|l| l.speed),
                    "outputs": live.map(|l| l.outputs.iter()
                        .map(|o| json!({"destination_id": o.destination_id, "state": o.state}))
                        .collect::<Vec<_>>()).unwrap_or_default(),
                })
            })
            .collect();
        let player = t.timelines.player_status().await?;
        let link = self.status().await?;
        let payload = json!({
            "uptime_s": sys.uptime_s,
            "cpu_percent": sys.cpu_percent,
            "memory": {"used_bytes": sys.memory.used_bytes, "total_bytes": sys.memory.total_bytes},
            "temperature_c": sys.temperature_c,
            "disk_free_bytes": sys.disk.free_bytes,
            "cameras": serde_json::to_value(&sys.cameras).map_err(Error::internal)?,
            "programs": programs,
            "timeline": {"state": player.state, "timeline_id": player.timeline_id, "position_ms": player.position_ms},
            "link": {"messages_in": link.messages_in, "messages_out": link.messages_out,
                     "queue_length": link.queue_length, "dropped": link.dropped, "connections": link.connections},
        });
        Ok(contract::message(device, "METRICS", None, payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(on_air: Option<i64>, slate: bool, error: Option<&str>) -> Value {
        json!({"id": 3, "live": {"on_air_camera_id": on_air, "slate_active": slate,
               "outputs": [{"destination_id": 9, "destination": "YT", "state": "backoff", "last_error": error}]}})
    }

    #[test]
    fn only_changes_become_events() {
        let mut s = Seen::default();
        let kinds = |v: Vec<(String, &'static str, Value)>| -> Vec<String> {
            v.into_iter().map(|e| e.0).collect()
        };
        assert_eq!(kinds(s.program(&program(Some(1), false, None))), ["take"]);
        // The periodic push of the same status says nothing new.
        assert!(s.program(&program(Some(1), false, None)).is_empty());
        assert_eq!(kinds(s.program(&program(Some(2), false, None))), ["take"]);
        assert_eq!(kinds(s.program(&program(Some(2), true, None))), ["slate"]);
        assert_eq!(
            kinds(s.program(&program(Some(2), true, Some("refused")))),
            ["destination_error"]
        );
        assert!(s
            .program(&program(Some(2), true, Some("refused")))
            .is_empty());
        let e = s.camera(&json!({"camera_id": 4, "state": "offline", "last_error": "timeout"}));
        assert_eq!(e[0].0, "camera_offline");
        assert_eq!(e[0].2["camera_id"], 4);
        assert!(s
            .camera(&json!({"camera_id": 4, "state": "unknown"}))
            .is_empty());
        assert!(s.timeline(&json!({"state": "stopped"})).is_empty());
        let t = s.timeline(&json!({"state": "playing", "timeline_id": "t1"}));
        assert_eq!(t[0].2["state"], "playing");
        assert!(s
            .timeline(&json!({"state": "playing", "timeline_id": "t1", "position_ms": 5}))
            .is_empty());
        let t = s.timeline(&json!({"state": "stopped", "timeline_id": null}));
        assert_eq!(t[0].2["timeline_id"], "t1");
    }

    #[test]
    fn progress_counts_in_percent() {
        let p = progress_of(
            &json!({"state": "playing", "position_ms": 2500, "duration_ms": 10000,
                                    "timeline_id": "t", "on_air_clip": "c1", "loop_index": 0}),
        );
        assert_eq!(p["percent_complete"], 25);
        assert_eq!(p["detail"]["on_air_clip"], "c1");
    }
}
