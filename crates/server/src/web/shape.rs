//! A JSON body held against the schema the OpenAPI document gives its type, before serde reads
//! it: serde builds a struct from an array as readily as from an object (`[null, null]` becomes
//! a struct with its fields left at their defaults), so every place the document says
//! "object" must hold an object, and every place it says "array" an array. Scalars are left to
//! serde, which refuses a wrong one with a precise message.

use std::sync::LazyLock;

use serde_json::{Map, Value};

/// The named schemas of the document, where `$ref`s point.
static COMPONENTS: LazyLock<Map<String, Value>> = LazyLock::new(|| {
    serde_json::to_value(&super::openapi::document().components)
        .ok()
        .and_then(|c| c.get("schemas").cloned())
        .and_then(|s| match s {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default()
});

/// The schema of a request body type, as the document has it.
pub fn schema_of<T: utoipa::PartialSchema>() -> Value {
    serde_json::to_value(T::schema()).unwrap_or(Value::Bool(true))
}

/// Refuses a value with an array, object or scalar where the schema has a container of the
/// other kind; the message names the place (`definition`, `tracks[0].clips[2].source`).
pub fn check(value: &Value, schema: &Value) -> Result<(), String> {
    walk(value, schema, &mut String::new(), 0).map_err(|m| m.to_string())
}

/// Where the value did not fit, and what was expected there.
#[derive(Debug)]
struct Mismatch {
    path: String,
    expected: Vec<String>,
    found: &'static str,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut expected: Vec<String> = Vec::new();
        for e in &self.expected {
            if !expected.contains(e) {
                expected.push(e.clone());
            }
        }
        let expected = expected
            .iter()
            .map(|t| article(t))
            .collect::<Vec<_>>()
            .join(" or ");
        if self.path.is_empty() {
            write!(
                f,
                "the body must be {expected}, not {}",
                article(self.found)
            )
        } else {
            write!(
                f,
                "`{}` must be {expected}, not {}",
                self.path,
                article(self.found)
            )
        }
    }
}

fn article(t: &str) -> String {
    match t {
        "null" => "null".to_string(),
        "object" => "a JSON object".to_string(),
        "array" => "an array".to_string(),
        "integer" => "an integer".to_string(),
        other => format!("a {other}"),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The schema a `$ref` names (itself when it is not one, or names nothing known).
fn resolve(schema: &Value) -> &Value {
    let mut s = schema;
    for _ in 0..16 {
        match s
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .and_then(|name| COMPONENTS.get(name))
        {
            Some(next) => s = next,
            None => break,
        }
    }
    s
}

fn types(schema: &Value) -> Vec<String> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// The properties an alternative fixes to one value (serde's `"type": "camera"` tag).
fn tags(alt: &Value) -> Vec<(&String, &Value)> {
    resolve(alt)
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, p)| {
            let only = p.get("enum")?.as_array().filter(|e| e.len() == 1)?;
            Some((k, &only[0]))
        })
        .collect()
}

/// The alternatives of a `oneOf`/`anyOf` a value can be: when it carries a tag, those whose
/// tag it has; else all of them.
fn candidates<'a>(value: &Value, alternatives: &'a [Value]) -> Vec<&'a Value> {
    let mut tagged = Vec::new();
    let mut tag_given = false;
    for alt in alternatives {
        let tags = tags(alt);
        if tags.iter().any(|(k, _)| value.get(k.as_str()).is_some()) {
            tag_given = true;
            if tags
                .iter()
                .all(|(k, v)| value.get(k.as_str()).is_none_or(|x| x == *v))
            {
                tagged.push(alt);
            }
        }
    }
    if tag_given {
        tagged
    } else {
        alternatives.iter().collect()
    }
}

fn walk(value: &Value, schema: &Value, path: &mut String, depth: usize) -> Result<(), Mismatch> {
    if depth > 64 {
        return Ok(());
    }
    let schema = resolve(schema);
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            walk(value, s, path, depth + 1)?;
        }
    }
    for key in ["oneOf", "anyOf"] {
        let Some(alternatives) = schema.get(key).and_then(Value::as_array) else {
            continue;
        };
        let mut errors = Vec::new();
        for alt in candidates(value, alternatives) {
            match walk(value, alt, &mut path.clone(), depth + 1) {
                Ok(()) => {
                    errors.clear();
                    break;
                }
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            // Every alternative refused: at this very place, list what each wanted; deeper,
            // the mismatch that went furthest says the most.
            if errors.iter().all(|e| e.path == *path) {
                let found = errors[0].found;
                return Err(Mismatch {
                    path: path.clone(),
                    expected: errors.into_iter().flat_map(|e| e.expected).collect(),
                    found,
                });
            }
            return Err(errors
                .into_iter()
                .max_by_key(|e| e.path.len())
                .expect("not empty"));
        }
    }
    let allowed = types(schema);
    let found = kind(value);
    let container = matches!(value, Value::Array(_) | Value::Object(_));
    let fits = allowed.is_empty()
        || allowed.iter().any(|t| t == found)
        || (found == "number" && allowed.iter().any(|t| t == "integer"));
    let wants_container = allowed.iter().any(|t| t == "array" || t == "object");
    if !fits && (container || wants_container) {
        return Err(Mismatch {
            path: path.clone(),
            expected: allowed,
            found,
        });
    }
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let extra = schema.get("additionalProperties").filter(|a| a.is_object());
            for (k, v) in map {
                let Some(s) = props.and_then(|p| p.get(k)).or(extra) else {
                    continue;
                };
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                walk(v, s, path, depth + 1)?;
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items").filter(|i| i.is_object()) {
                for (i, v) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(v, s, path, depth + 1)?;
                    path.truncate(len);
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::services::cameras::CameraInput;
    use crate::services::overlays::OverlayInput;

    #[test]
    fn objects_must_be_objects() {
        let overlay = schema_of::<OverlayInput>();
        assert!(check(&json!({"name": "L", "kind": "text"}), &overlay).is_ok());
        assert!(check(
            &json!({"name": "L", "kind": "text", "definition": {"text": "hi"}}),
            &overlay
        )
        .is_ok());
        assert_eq!(
            check(
                &json!({"name": "L", "kind": "text", "definition": [null, null]}),
                &overlay
            )
            .unwrap_err(),
            "`definition` must be a JSON object, not an array"
        );
        assert_eq!(
            check(&json!(["L", "text"]), &overlay).unwrap_err(),
            "the body must be a JSON object, not an array"
        );
        assert_eq!(
            check(&json!("L"), &schema_of::<CameraInput>()).unwrap_err(),
            "the body must be a JSON object, not a string"
        );
        // Scalars of the wrong type are serde's to refuse, with its own message.
        assert!(check(&json!({"name": 5}), &overlay).is_ok());
        assert!(
            check(&json!({"name": "L", "studio_keys": {"a": 1}}), &overlay)
                .unwrap_err()
                .contains("`studio_keys` must be an array or null, not a JSON object"),
        );
    }

    #[test]
    fn nested_and_tagged() {
        let timeline = schema_of::<vs_timeline::Timeline>();
        let clip = |source: Value| {
            json!({"name": "T", "duration_ms": 1000, "tracks": [
                {"kind": "video", "clips": [{"id": "a", "start_ms": 0, "end_ms": 10, "source": source}]}
            ]})
        };
        assert!(check(&clip(json!({"type": "camera", "camera_id": 1})), &timeline).is_ok());
        assert!(check(
            &clip(
                json!({"type": "overlay", "overlay_id": 1, "x": 0, "y": 0, "width": 1, "height": 1})
            ),
            &timeline
        )
        .is_ok());
        assert_eq!(
            check(&clip(json!(["camera", 1])), &timeline).unwrap_err(),
            "`tracks[0].clips[0].source` must be a JSON object, not an array"
        );
        assert_eq!(
            check(
                &json!({"name": "T", "duration_ms": 1, "tracks": [[]]}),
                &timeline
            )
            .unwrap_err(),
            "`tracks[0]` must be a JSON object, not an array"
        );
        // Unknown fields (kept by the timeline as they are) may hold anything.
        assert!(check(
            &json!({"name": "T", "duration_ms": 1, "studio": [1, {"a": []}]}),
            &timeline
        )
        .is_ok());
    }
}
