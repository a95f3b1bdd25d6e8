//! Every VistterStudio file in the shared fixtures, imported as it is: detection, sources,
//! validation, byte-for-byte round trip, cues, and conformance to the studio's own schema.

use std::path::{Path, PathBuf};

use serde_json::Value;
use vs_timeline::{
    compile, export, export_pretty, validate, Action, ClipSource, CompileOptions, ExportOptions,
    Format, Import, MemoryCatalog, Missing, Playback, SourceRef,
};

/// CI lays `shared/` beside the repository clone, so the path is relative to the crate.
fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/vistterstudio")
}

struct Fixture {
    name: String,
    text: String,
    json: Value,
}

fn fixtures() -> Vec<Fixture> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture_dir())
        .expect("the shared fixtures directory is beside the repository")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            Fixture {
                name: p.file_name().unwrap().to_string_lossy().into_owned(),
                json: serde_json::from_str(&text).unwrap(),
                text,
            }
        })
        .collect()
}

fn is_schema(f: &Fixture) -> bool {
    f.json.get("$schema").is_some()
}

fn segments() -> Vec<Fixture> {
    let all = fixtures();
    let segments: Vec<Fixture> = all.into_iter().filter(|f| !is_schema(f)).collect();
    assert!(!segments.is_empty(), "no segment fixtures found");
    segments
}

fn schema() -> Value {
    let f = fixtures()
        .into_iter()
        .find(is_schema)
        .expect("schema-timeline.json");
    f.json
}

const STREAM: &str = "rtmp://test.example.com/live/stream";

fn catalog() -> MemoryCatalog {
    MemoryCatalog::default().with_camera(1, "Test stream", STREAM)
}

#[test]
fn every_file_is_either_a_segment_or_the_schema() {
    let all = fixtures();
    assert_eq!(
        all.len(),
        5,
        "fixtures changed: {:?}",
        all.iter().map(|f| &f.name).collect::<Vec<_>>()
    );
    for f in &all {
        match Import::parse(&f.text) {
            Ok(import) => {
                assert!(!is_schema(f));
                // The studio names each file after its segment id.
                assert_eq!(Some(f.name.trim_end_matches(".json")), import.id.as_deref());
            }
            Err(e) => {
                assert!(is_schema(f), "{}: {e}", f.name);
                assert_eq!(
                    e.message,
                    "this is a JSON Schema document, not a VistterStudio segment"
                );
            }
        }
    }
}

#[test]
fn segments_import_with_their_content() {
    for f in segments() {
        let import = Import::parse(&f.text).unwrap();
        assert_eq!(import.format, Format::Flat, "{}", f.name);
        assert_eq!(import.playback, Playback::Loop);
        assert_eq!(
            import.duration_ms,
            f.json["duration"].as_i64().unwrap() * 1000,
            "{}",
            f.name
        );
        assert!(import.api_keys.is_empty() && import.removed_credentials.is_empty());
        assert_eq!(import.tracks.len(), 1);
        let clip = &import.tracks[0].clips[0];
        assert_eq!((clip.start_ms, clip.end_ms), (0, import.duration_ms));
        let SourceRef::Url {
            url,
            username,
            password,
            preset,
            ..
        } = &clip.source
        else {
            panic!("{}: expected a stream address", f.name)
        };
        assert_eq!(url.as_str(), STREAM);
        assert!(username.is_none() && password.is_none() && preset.is_none());
        // Everything the model does not hold is kept for the way back.
        for key in ["created", "updated", "assets", "apiConfigs"] {
            assert_eq!(import.extra[key], f.json[key], "{}: {key}", f.name);
        }
    }
}

#[test]
fn without_the_camera_the_import_asks_for_it() {
    for f in segments() {
        let missing = Import::parse(&f.text)
            .unwrap()
            .resolve(&MemoryCatalog::default())
            .unwrap_err();
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].paths, vec!["tracks[0].clips[0]"]);
        let Missing::Camera {
            url,
            suggested_name,
            ..
        } = &missing[0].missing
        else {
            panic!("expected a missing camera")
        };
        assert_eq!(url.as_ref().unwrap().as_str(), STREAM);
        assert_eq!(suggested_name, "test.example.com stream");
    }
}

#[test]
fn segments_validate_compile_and_round_trip_byte_for_byte() {
    let catalog = catalog();
    for f in segments() {
        let timeline = Import::parse(&f.text).unwrap().resolve(&catalog).unwrap();
        assert_eq!(
            timeline.tracks[0].clips[0].source,
            ClipSource::Camera {
                camera_id: 1,
                preset_id: None
            }
        );
        let report = validate(&timeline, &catalog);
        assert!(
            report.errors.is_empty() && report.warnings.is_empty(),
            "{}: {report:?}",
            f.name
        );

        let cues = compile(&timeline, &CompileOptions::default());
        assert_eq!(cues.cues.len(), 1);
        assert_eq!(cues.cues[0].at_ms, 0);
        assert_eq!(
            cues.cues[0].action,
            Action::Take {
                camera_id: 1,
                preset_id: None
            }
        );

        // The appliance stores the timeline as JSON; reading it back changes nothing.
        let stored = serde_json::to_string(&timeline).unwrap();
        assert_eq!(
            serde_json::from_str::<vs_timeline::Timeline>(&stored).unwrap(),
            timeline
        );

        let out = export(&timeline, &catalog, &ExportOptions::default()).unwrap();
        assert_eq!(out, f.json, "{}", f.name);
        // Same text too, up to the blank lines segment_001.json has at its end.
        let text = export_pretty(&timeline, &catalog, &ExportOptions::default()).unwrap();
        assert_eq!(text.trim_end(), f.text.trim_end(), "{}", f.name);
    }
}

#[test]
fn declared_export_satisfies_the_studio_schema_and_comes_back() {
    let schema = schema();
    let catalog = catalog();
    for f in segments() {
        // The editor's files do not follow the schema published next to them.
        let problems = schema_errors(&schema, &f.json, "$");
        assert!(
            problems.contains(&"$: version is required".to_string())
                && problems.contains(&"$: metadata is required".to_string()),
            "{}: {problems:?}",
            f.name
        );

        let timeline = Import::parse(&f.text).unwrap().resolve(&catalog).unwrap();
        let declared = export(
            &timeline,
            &catalog,
            &ExportOptions {
                format: Some(Format::Declared),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            schema_errors(&schema, &declared, "$"),
            Vec::<String>::new(),
            "{}",
            f.name
        );
        assert_eq!(declared["metadata"]["id"], f.json["id"]);
        assert_eq!(declared["metadata"]["created"], f.json["created"]);

        let again = Import::from_value(declared).unwrap();
        assert_eq!(again.format, Format::Declared);
        let again = again.resolve(&catalog).unwrap();
        assert_eq!(again.tracks, timeline.tracks);
        assert_eq!(
            export(
                &again,
                &catalog,
                &ExportOptions {
                    format: Some(Format::Flat),
                    ..Default::default()
                }
            )
            .unwrap(),
            f.json,
            "{}",
            f.name
        );
    }
}

/// The subset of JSON Schema that schema-timeline.json uses: type, properties, required,
/// items, enum.
fn schema_errors(schema: &Value, value: &Value, path: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        let ok = match t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "number" => value.is_number(),
            other => panic!("schema type {other} not handled"),
        };
        if !ok {
            errors.push(format!("{path}: must be of type {t}"));
            return errors;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            errors.push(format!("{path}: {value} is not one of {allowed:?}"));
        }
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for r in required {
            let r = r.as_str().unwrap();
            if value.get(r).is_none() {
                errors.push(format!("{path}: {r} is required"));
            }
        }
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, sub) in props {
            if let Some(v) = value.get(k) {
                errors.extend(schema_errors(sub, v, &format!("{path}.{k}")));
            }
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
        for (i, v) in list.iter().enumerate() {
            errors.extend(schema_errors(items, v, &format!("{path}[{i}]")));
        }
    }
    errors
}
