//! The wire contract of the studio link (docs/studio-link.md, docs/studio-link/*.schema.json):
//! topics, the envelope every message shares, the parsing of a command into something
//! executable or a refusal, and the messages the appliance sends.

use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use vs_base::{Error, ErrorKind};

/// The envelope's `schema_version` the appliance writes; it accepts every `1.x` (a minor
/// version only adds optional fields).
pub const SCHEMA_VERSION: &str = "1.0";

/// The largest command accepted; a larger one gets a refusing ACK.
pub const MAX_COMMAND_BYTES: usize = 256 * 1024;

/// The first level of every topic.
pub const TOPIC_ROOT: &str = "vistter";

/// Every command type, as `type` names it.
pub const COMMANDS: &[&str] = &[
    "DEVICE_CONFIG",
    "CAMERA_ACTION",
    "TIMELINE_LOAD",
    "TIMELINE_EXECUTE",
    "OVERLAY_UPDATE",
    "STREAM_CONTROL",
];

/// The topics of one device: it reads `cmd` only and writes the four others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    pub cmd: String,
    /// ACK and PROGRESS.
    pub ack: String,
    pub event: String,
    pub metrics: String,
    /// Retained `online` / `offline` (the last will).
    pub status: String,
}

impl Topics {
    pub fn of(device_id: &str) -> Self {
        let t = |leaf: &str| format!("{TOPIC_ROOT}/{device_id}/{leaf}");
        Topics {
            cmd: t("cmd"),
            ack: t("ack"),
            event: t("event"),
            metrics: t("metrics"),
            status: t("status"),
        }
    }

    /// The topic of an outbox channel (`ack` or `event`).
    pub fn channel(&self, channel: &str) -> &str {
        if channel == "ack" {
            &self.ack
        } else {
            &self.event
        }
    }
}

/// Whether a device id can be used in topics and as the MQTT client id: letters, digits, `-`,
/// `_` and `.`, at most 64, starting with a letter or digit (no `/`, `+`, `#`, `$`).
pub fn valid_device_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && id.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A new message id: a UUID v4 in its usual text form.
pub fn new_message_id() -> String {
    let r: [u8; 16] = rand::random();
    let h = hex::encode(r);
    format!(
        "{}-{}-4{}-{}{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        ["8", "9", "a", "b"][usize::from(r[8] & 3)],
        &h[17..20],
        &h[20..32]
    )
}

/// Now as the envelope writes it (RFC 3339, UTC, milliseconds). Information only: the
/// appliance never compares a studio's timestamp with its own clock.
pub fn timestamp() -> String {
    vs_db::now()
}

/// A message from the appliance: the envelope around `payload`.
pub fn message(device_id: &str, kind: &str, correlation_id: Option<&str>, payload: Value) -> Value {
    json!({
        "schema_version": SCHEMA_VERSION,
        "message_id": new_message_id(),
        "correlation_id": correlation_id,
        "timestamp": timestamp(),
        "device_id": device_id,
        "type": kind,
        "payload": payload,
    })
}

/// The message as sent from the outbox: `seq` added after `device_id`.
pub fn with_seq(message: &str, seq: i64) -> Option<Vec<u8>> {
    let mut v: Map<String, Value> = serde_json::from_str(message).ok()?;
    let mut out = Map::with_capacity(v.len() + 1);
    for key in [
        "schema_version",
        "message_id",
        "correlation_id",
        "timestamp",
        "device_id",
    ] {
        if let Some(x) = v.remove(key) {
            out.insert(key.into(), x);
        }
    }
    out.insert("seq".into(), seq.into());
    out.extend(v);
    serde_json::to_vec(&Value::Object(out)).ok()
}

/// A refusal as the `error` of an ACK: the code and message the REST API answers with.
pub fn error_body(e: &Error) -> Value {
    let mut body = json!({"error": e.kind.code(), "message": e.message});
    if let Some(f) = &e.field {
        body["field"] = f.clone().into();
    }
    body
}

/// The ACK of a command: accepted with what it did, or refused with why.
pub fn ack(
    device_id: &str,
    command_id: Option<&str>,
    command: Option<&str>,
    outcome: &Result<Value, Error>,
) -> Value {
    let payload = match outcome {
        Ok(result) => {
            json!({"command": command, "status": "accepted", "result": result, "error": null})
        }
        Err(e) => {
            json!({"command": command, "status": "refused", "result": null, "error": error_body(e)})
        }
    };
    message(device_id, "ACK", command_id, payload)
}

/// A command ready to execute.
#[derive(Debug, Clone)]
pub struct Command {
    pub message_id: String,
    /// One of [`COMMANDS`].
    pub kind: String,
    pub payload: Value,
}

/// A message on the command topic that cannot be executed, and why.
#[derive(Debug)]
pub struct Refusal {
    /// The message id, when the message had a usable one (the ACK correlates to it).
    pub message_id: Option<String>,
    pub command: Option<String>,
    pub error: Error,
}

fn refuse(message_id: Option<&str>, command: Option<&str>, message: impl Into<String>) -> Refusal {
    Refusal {
        message_id: message_id.map(str::to_string),
        command: command.map(str::to_string),
        error: Error::new(ErrorKind::Validation, message),
    }
}

fn usable_id(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 128 && !s.chars().any(char::is_control))
}

/// Checks the envelope of a message received on the command topic. The payload is checked
/// by the command itself, with the same types as the matching API call.
pub fn parse_command(bytes: &[u8], device_id: &str) -> Result<Command, Refusal> {
    let parsed: Option<Map<String, Value>> = serde_json::from_slice(bytes).ok();
    let id = parsed.as_ref().and_then(|m| usable_id(m.get("message_id")));
    let kind = parsed
        .as_ref()
        .and_then(|m| m.get("type"))
        .and_then(Value::as_str)
        .filter(|t| COMMANDS.contains(t));
    if bytes.len() > MAX_COMMAND_BYTES {
        return Err(refuse(
            id,
            kind,
            format!(
                "the command is {} bytes; at most {MAX_COMMAND_BYTES} are accepted",
                bytes.len()
            ),
        ));
    }
    let m = match serde_json::from_slice::<Value>(bytes) {
        Err(e) => {
            return Err(refuse(
                None,
                None,
                format!("the command is not valid JSON: {e}"),
            ))
        }
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err(refuse(None, None, "the command is not a JSON object")),
    };
    let Some(id) = usable_id(m.get("message_id")) else {
        return Err(refuse(
            None,
            kind,
            "message_id must be a string of 1 to 128 characters",
        ));
    };
    let version = m.get("schema_version").and_then(Value::as_str);
    match version {
        Some(v) if v == "1" || v.starts_with("1.") => {}
        Some(v) => {
            return Err(refuse(
                Some(id),
                kind,
                format!("schema_version '{v}' is not supported; this appliance speaks 1.x"),
            ))
        }
        None => return Err(refuse(Some(id), kind, "schema_version is missing")),
    }
    match m.get("device_id").and_then(Value::as_str) {
        Some(d) if d == device_id => {}
        Some(d) => {
            return Err(refuse(
                Some(id),
                kind,
                format!("the command is for device '{d}'; this is '{device_id}'"),
            ))
        }
        None => return Err(refuse(Some(id), kind, "device_id is missing")),
    }
    // Information only (clock skew is normal), but it must be a time.
    match m.get("timestamp").and_then(Value::as_str) {
        Some(t) if chrono::DateTime::parse_from_rfc3339(t).is_ok() => {}
        _ => {
            return Err(refuse(
                Some(id),
                kind,
                "timestamp must be an RFC 3339 date-time",
            ))
        }
    }
    if !matches!(m.get("correlation_id"), None | Some(Value::Null))
        && usable_id(m.get("correlation_id")).is_none()
    {
        return Err(refuse(
            Some(id),
            kind,
            "correlation_id must be null or a string of 1 to 128 characters",
        ));
    }
    let Some(kind) = kind else {
        let t = m.get("type").map(|t| match t {
            Value::String(s) => s.chars().take(64).collect(),
            other => other.to_string().chars().take(64).collect::<String>(),
        });
        return Err(refuse(
            Some(id),
            None,
            match t {
                Some(t) => format!("unknown command type {t}; known: {}", COMMANDS.join(", ")),
                None => "type is missing".into(),
            },
        ));
    };
    let payload = match m.get("payload") {
        Some(p @ Value::Object(_)) => p.clone(),
        _ => {
            return Err(refuse(
                Some(id),
                Some(kind),
                "payload must be a JSON object",
            ))
        }
    };
    Ok(Command {
        message_id: id.to_string(),
        kind: kind.to_string(),
        payload,
    })
}

/// Reads a command's payload into the type of the matching API call's body, with the path of
/// the field at fault in the message, as the API's 400 says it.
pub fn payload<T: DeserializeOwned>(v: Value) -> Result<T, Error> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if path == "." {
            format!("the payload has the wrong shape: {inner}")
        } else {
            format!("the payload has the wrong shape: {path}: {inner}")
        };
        Error::new(ErrorKind::Validation, message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    fn good() -> Value {
        json!({"schema_version": "1.0", "message_id": "m-1", "correlation_id": null,
               "timestamp": "1999-01-01T00:00:00Z", "device_id": "dock", "type": "STREAM_CONTROL",
               "payload": {"program_id": 1, "command": "start"}})
    }

    #[test]
    fn a_good_command_parses_whatever_its_timestamp() {
        let c = parse_command(&cmd(good()), "dock").unwrap();
        assert_eq!(c.message_id, "m-1");
        assert_eq!(c.kind, "STREAM_CONTROL");
        let mut future = good();
        future["timestamp"] = json!("2099-12-31T23:59:59.999+05:00");
        future["schema_version"] = json!("1.7");
        future["extra"] = json!("ignored");
        assert!(parse_command(&cmd(future), "dock").is_ok());
    }

    #[test]
    fn every_flaw_is_refused_with_why() {
        let case = |f: &dyn Fn(&mut Value), want: &str, has_id: bool| {
            let mut v = good();
            f(&mut v);
            let r = parse_command(&cmd(v), "dock").unwrap_err();
            assert!(r.error.message.contains(want), "{}", r.error.message);
            assert_eq!(r.message_id.is_some(), has_id, "{want}");
        };
        case(
            &|v| v["device_id"] = json!("other"),
            "for device 'other'",
            true,
        );
        case(
            &|v| v["schema_version"] = json!("2.0"),
            "not supported",
            true,
        );
        case(
            &|v| v["type"] = json!("SELF_DESTRUCT"),
            "unknown command type",
            true,
        );
        case(&|v| v["payload"] = json!([1]), "payload must be", true);
        case(&|v| v["timestamp"] = json!("yesterday"), "timestamp", true);
        case(&|v| v["message_id"] = json!(""), "message_id", false);
        case(&|v| v["message_id"] = json!(7), "message_id", false);
        case(&|v| v["correlation_id"] = json!(3), "correlation_id", true);
        for bad in [&b"not json"[..], b"[1,2]", b"\xff\xfe", b"", b"null"] {
            let r = parse_command(bad, "dock").unwrap_err();
            assert_eq!(r.message_id, None);
        }
        let mut big = good();
        big["payload"]["pad"] = json!("x".repeat(MAX_COMMAND_BYTES));
        let r = parse_command(&cmd(big), "dock").unwrap_err();
        assert!(
            r.error.message.contains("at most 262144"),
            "{}",
            r.error.message
        );
        assert_eq!(r.message_id.as_deref(), Some("m-1"));
    }

    #[test]
    fn device_ids_are_safe_in_topics() {
        for ok in ["dock", "venue-12", "a.b_c", "X"] {
            assert!(valid_device_id(ok), "{ok}");
        }
        for bad in ["", "a/b", "a+", "#", "$SYS", "-x", "é", &"a".repeat(65)] {
            assert!(!valid_device_id(bad), "{bad}");
        }
        assert_eq!(Topics::of("dock").cmd, "vistter/dock/cmd");
    }

    #[test]
    fn the_seq_goes_into_the_envelope() {
        let m = message("dock", "EVENT", None, json!({"event_type": "take"}));
        let out: Value = serde_json::from_slice(&with_seq(&m.to_string(), 42).unwrap()).unwrap();
        assert_eq!(out["seq"], 42);
        assert_eq!(out["payload"]["event_type"], "take");
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(keys[5], "seq");
        assert_eq!(new_message_id().len(), 36);
    }
}
