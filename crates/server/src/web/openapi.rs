//! The OpenAPI document, generated from the Rust types and handler annotations, and the route
//! that serves it. The statuses every operation shares by its shape (401 behind auth, 400 for
//! a malformed id, query or JSON body, 413 for a body over the limit) are added here, in one
//! place; each annotation lists what its service call can answer.

use std::sync::LazyLock;

use axum::routing::get;
use axum::Json;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, RefOr, Response, ResponseBuilder, Schema};
use utoipa::{Modify, OpenApi};

use super::{
    assets, audio, auth, cameras, destinations, error, link, overlays, preview, programs, ptz,
    status, streams, studio, system, timelines, Routes,
};
use crate::services;

/// Where the document is served (and where the Swagger UI at `/api/docs` reads it).
pub const DOCUMENT_PATH: &str = "/api/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(title = "VistterStream API", description = "Local streaming appliance: cameras, PTZ presets, streams, programs and timelines."),
    paths(
        openapi_document,
        system::health, system::metrics,
        auth::auth_state, auth::setup, auth::login, auth::logout, auth::change_password,
        auth::list_tokens, auth::create_token, auth::revoke_token,
        cameras::list, cameras::create, cameras::read, cameras::update, cameras::remove, cameras::session,
        cameras::list_presets, cameras::create_preset,
        cameras::read_camera_preset, cameras::update_camera_preset, cameras::remove_camera_preset,
        cameras::read_preset, cameras::update_preset, cameras::remove_preset,
        preview::live, preview::stats, preview::program_live, preview::program_stats,
        status::status, status::events, status::recent_events, status::cameras_health, status::camera_health,
        status::test_camera, status::test_unsaved, status::snapshot,
        destinations::list, destinations::create, destinations::read, destinations::update, destinations::remove, destinations::test,
        ptz::move_preset, ptz::move_camera_preset, ptz::capture, ptz::import, ptz::state, ptz::start_move, ptz::stop, ptz::step,
        programs::list, programs::create, programs::read, programs::update, programs::remove,
        programs::start, programs::stop, programs::take, programs::slate, programs::preroll, programs::preroll_mode, programs::overlays, programs::encoders,
        streams::list, streams::create, streams::read, streams::update, streams::remove, streams::start, streams::stop,
        timelines::list, timelines::create, timelines::validate, timelines::read, timelines::update, timelines::remove,
        timelines::cues, timelines::import, timelines::export, timelines::set_schedule, timelines::clear_schedule,
        timelines::start, timelines::stop, timelines::jump,
        timelines::plan_import,
        overlays::list_overlays, overlays::create_overlay, overlays::read_overlay, overlays::update_overlay, overlays::remove_overlay,
        assets::list_assets, assets::upload_asset, assets::read_asset, assets::remove_asset,
        studio::sync, studio::segments, studio::segment, studio::start, studio::stop, studio::status,
        crate::web::youtube::read_link, crate::web::youtube::sign_in, crate::web::youtube::sign_out, crate::web::youtube::list_settings,
        crate::web::youtube::put_settings, crate::web::youtube::remove_settings, crate::web::youtube::list_broadcasts,
        audio::list_beds, audio::upload_bed, audio::remove_bed, audio::camera_audio, audio::set_camera_audio,
        audio::program_audio, audio::set_program_audio,
        link::read, link::update, link::status,
    ),
    components(schemas(error::ErrorBody, services::auth::UserInfo, timelines::ExportFormat,
        services::timelines::ImportWithChoices,
    )),
    modifiers(&Security, &SharedResponses),
    security(("session" = []), ("bearer" = [])),
    tags(
        (name = "auth", description = "Set-up, login, sessions and API tokens"),
        (name = "cameras", description = "IP cameras"),
        (name = "presets", description = "PTZ presets of a camera"),
        (name = "destinations", description = "YouTube, Facebook, Twitch and custom RTMP(S)/SRT destinations"),
        (name = "streams", description = "Camera-to-destination streams (video copied, AAC always present)"),
        (name = "programs", description = "The program feed: one continuous output with live switching, slate and overlays"),
        (name = "ptz", description = "PTZ control over ONVIF"),
        (name = "system", description = "Health, status and metrics"),
        (name = "timelines", description = "Timelines: tracks of camera and overlay clips, VistterStudio import/export, schedule, playback"),
        (name = "overlays", description = "Overlays and the image assets they show"),
        (name = "vistterstudio", description = "VistterStudio sync and the endpoints of a broadcast node"),
        (name = "audio", description = "Program audio: camera gains, master gain, audio beds"),
        (name = "link", description = "The VistterStudio link: an outbound MQTT connection to a studio's broker (docs/studio-link.md)"),
    )
)]
pub struct ApiDoc;

/// The bytes of a file (an image), in a request or a response body; for the document only.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct Binary(Vec<u8>);

static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(ApiDoc::openapi);

/// The document the appliance serves, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    &DOCUMENT
}

pub fn router() -> Routes {
    Routes::new().route(DOCUMENT_PATH, get(openapi_document))
}

/// This document (OpenAPI 3.1).
#[utoipa::path(get, path = "/api/openapi.json", tag = "system", operation_id = "get_openapi", security(()),
    responses((status = 200, body = Object, description = "The OpenAPI document")))]
async fn openapi_document() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(&DOCUMENT)
}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                super::extract::SESSION_COOKIE,
            ))),
        );
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The statuses an operation can answer because of its shape rather than its service call:
/// - 401 from `require_auth` on every operation that does not opt out of the global security;
/// - 400 from `ApiPath` (an integer id that is not one), `ApiQuery` and `ApiJson` (malformed
///   JSON, wrong shape);
/// - 413 for a JSON body over the route's limit and 415 for one that is not
///   `application/json` (`ApiJson`, `body::limit_body`);
/// - 403 for a state-changing request from another origin with the session cookie (`csrf`).
///
/// An annotation that documents one of these itself (with a more precise description) keeps it.
struct SharedResponses;

impl Modify for SharedResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let read = item.get.iter_mut().map(|op| (false, op));
            let writes = [
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            .map(|op| (true, op));
            for (changes_state, op) in read.chain(writes) {
                add_shared_responses(op, changes_state);
            }
        }
    }
}

fn error_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                Content::new(Some(RefOr::<Schema>::Ref(
                    utoipa::openapi::Ref::from_schema_name("ErrorBody"),
                ))),
            )
            .build(),
    )
}

fn add_shared_responses(op: &mut Operation, changes_state: bool) {
    let protected = op.security.is_none();
    let params = op.parameters.as_deref().unwrap_or_default();
    let bad_param = params.iter().any(|p| {
        p.parameter_in == ParameterIn::Query
            || (p.parameter_in == ParameterIn::Path && is_integer(p.schema.as_ref()))
    });
    let json_body = op.request_body.as_ref().is_some_and(has_json);
    let responses = &mut op.responses.responses;
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status.to_string())
            .or_insert_with(|| error_response(description));
    };
    if protected {
        add(
            "401",
            "No live session cookie or valid API token (`Authorization: Bearer …`)",
        );
    }
    if changes_state {
        add(
            "403",
            "Cross-origin request refused: sent with the session cookie from a page that is not this appliance's (Origin, Referer, Sec-Fetch-Site)",
        );
    }
    if bad_param || json_body {
        add(
            "400",
            "A malformed request: an id that is not a number, a bad query parameter, or a body that is not JSON of the expected shape",
        );
    }
    if json_body {
        add(
            "413",
            "The body is larger than the route accepts (1 MiB unless stated)",
        );
        add("415", "The body's Content-Type is not application/json");
    }
}

fn is_integer(schema: Option<&RefOr<Schema>>) -> bool {
    use utoipa::openapi::schema::{SchemaType, Type};
    match schema {
        Some(RefOr::T(Schema::Object(o))) => match &o.schema_type {
            SchemaType::Type(Type::Integer) => true,
            SchemaType::Array(types) => types.contains(&Type::Integer),
            _ => false,
        },
        _ => false,
    }
}

fn has_json(body: &RequestBody) -> bool {
    body.content.keys().any(|k| k == "application/json")
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet, HashSet};

    use serde_json::Value;

    use super::*;

    fn document() -> Value {
        serde_json::to_value(ApiDoc::openapi()).unwrap()
    }

    const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

    /// (method, path, operation) of every operation in the document.
    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for m in METHODS {
                if let Some(op) = item.get(m) {
                    out.push((m.to_string(), path.clone(), op.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn operation_ids_are_unique() {
        let doc = document();
        let ops = operations(&doc);
        let mut seen = HashSet::new();
        for (m, p, op) in &ops {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{m} {p} has no operationId"));
            assert!(
                seen.insert(id.to_string()),
                "operationId {id} is used twice"
            );
        }
        assert!(ops.len() >= 95, "only {} operations", ops.len());
    }

    #[test]
    fn every_path_parameter_is_declared() {
        let doc = document();
        for (m, p, op) in operations(&doc) {
            let in_path: BTreeSet<String> = p
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .map(str::to_string)
                .collect();
            let declared: BTreeSet<String> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|q| q["in"] == "path")
                .map(|q| {
                    assert_eq!(q["required"], true, "{m} {p}: path parameters are required");
                    q["name"].as_str().unwrap().to_string()
                })
                .collect();
            assert_eq!(in_path, declared, "{m} {p}");
        }
    }

    /// Every `$ref` in the document names a schema of its components.
    #[test]
    fn every_reference_resolves() {
        fn walk(v: &Value, refs: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        refs.push(r.clone());
                    }
                    m.values().for_each(|v| walk(v, refs));
                }
                Value::Array(a) => a.iter().for_each(|v| walk(v, refs)),
                _ => {}
            }
        }
        let doc = document();
        let mut refs = Vec::new();
        walk(&doc, &mut refs);
        assert!(!refs.is_empty());
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for r in refs {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected reference {r}"));
            assert!(schemas.contains_key(name), "{r} does not exist");
        }
    }

    /// The routes that answer without credentials are exactly those the document marks public.
    #[test]
    fn public_operations_need_no_credentials() {
        let doc = document();
        assert_eq!(
            doc["security"],
            serde_json::json!([{"session": []}, {"bearer": []}])
        );
        let public: BTreeSet<String> = operations(&doc)
            .into_iter()
            .filter(|(_, _, op)| op.get("security").is_some())
            .map(|(m, p, op)| {
                assert_eq!(op["security"], serde_json::json!([{}]), "{m} {p}");
                assert!(op["responses"].get("401").is_none() || p == "/api/auth/login");
                format!("{m} {p}")
            })
            .collect();
        let expected: BTreeSet<String> = [
            "get /api/health",
            "get /api/openapi.json",
            "get /api/auth/state",
            "post /api/auth/setup",
            "post /api/auth/login",
            "post /api/auth/logout",
        ]
        .map(str::to_string)
        .into();
        assert_eq!(public, expected);
    }

    /// Each route the router registers, with the methods it answers, is in the document, and
    /// nothing else is. The methods are found by asking the running app, with a token: a method
    /// a path does not have answers 405 (without credentials the auth layer answers 401 first).
    #[tokio::test]
    async fn the_document_matches_the_route_table() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::Config::for_tests(dir.path().to_path_buf());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let shutdown = tokio_util::sync::CancellationToken::new();
        let app = crate::App::build(config, listener, shutdown.clone())
            .await
            .unwrap();
        let base = format!("http://{}", app.addr());
        let client = reqwest::Client::new();
        let r = client
            .post(format!("{base}/api/auth/setup"))
            .json(&serde_json::json!({"username": "admin", "password": "correct horse"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let cookie = r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        // A token, not the session: the probe of POST /api/auth/logout ends the session.
        let token: Value = client
            .post(format!("{base}/api/auth/tokens"))
            .header("cookie", &cookie)
            .json(&serde_json::json!({"name": "probe"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let bearer = format!("Bearer {}", token["token"].as_str().unwrap());

        let doc = document();
        let paths = super::super::api_paths();
        let unique: BTreeSet<&str> = paths.iter().copied().collect();
        assert_eq!(unique.len(), paths.len(), "a path is registered twice");
        let mut routed = BTreeMap::<String, BTreeSet<String>>::new();
        for path in &unique {
            // An id that parses (so a 400 cannot hide a 405) and leads nowhere.
            let url: String = path
                .split('/')
                .map(|s| if s.starts_with('{') { "999999" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            for m in METHODS {
                let method = reqwest::Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
                // No body: whatever the route does, it refuses the request (400, 404, 422),
                // except the few that need none (a stop of nothing, the event stream: only
                // its headers are read).
                let r = client
                    .request(method, format!("{base}{url}"))
                    .header("authorization", &bearer)
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                assert_ne!(status, 401, "{m} {path}");
                if status != 405 {
                    // What it answered is documented, with the content type it came with.
                    let documented = &doc["paths"][*path][m]["responses"][status.to_string()];
                    assert!(
                        documented.is_object(),
                        "{m} {path}: {status} is not documented"
                    );
                    let media = r
                        .headers()
                        .get("content-type")
                        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
                    if let Some(media) = media {
                        assert!(
                            documented["content"].get(&media).is_some(),
                            "{m} {path}: {status} {media} is not documented: {documented}"
                        );
                    }
                }
                if status == 404 {
                    let e: Value = r.json().await.unwrap();
                    let unknown = format!("the route {url} was not found");
                    assert_ne!(e["message"], unknown.as_str(), "{m} {path}: not routed");
                }
                if status != 405 {
                    routed.entry(path.to_string()).or_default().insert(m.into());
                }
            }
        }

        let mut documented = BTreeMap::<String, BTreeSet<String>>::new();
        for (m, p, _) in operations(&doc) {
            documented.entry(p).or_default().insert(m);
        }
        assert_eq!(routed, documented);
        // What the running app serves is this document.
        let served: Value = client
            .get(format!("{base}{DOCUMENT_PATH}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(served, doc);

        shutdown.cancel();
        app.wait().await.unwrap();
    }
}
