//! The web UI, embedded in the binary (release builds) or read from `web/dist` (debug builds).
//! Paths that are not files fall back to `index.html` so browser routes work on reload.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use rust_embed::RustEmbed;
use vs_base::Error;

use super::error::ApiError;

#[derive(RustEmbed)]
#[folder = "$CARGO_MANIFEST_DIR/../../web/dist"]
#[allow_missing = true]
struct Assets;

const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>VistterStream</title>\
<body style=\"font-family:sans-serif;max-width:40em;margin:4em auto\"><h1>VistterStream</h1>\
<p>The web UI is not built into this binary. Run <code>make run</code> (it builds the UI), \
or <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code> and rebuild.</p>\
<p>The API is up: <a href=\"/api/docs/\">API documentation</a>.</p></body>";

pub async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path.starts_with("api/") || path == "api" {
        return ApiError(Error::not_found(format!("the route {}", uri.path()))).into_response();
    }
    if !path.is_empty() {
        if let Some(file) = Assets::get(path) {
            let mime = mime_guess::from_path(path).first_or_octet_stream();
            // Vite puts a content hash in every asset name: cache those for a year.
            let cache = if path.starts_with("assets/") {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            };
            return (
                [
                    (CONTENT_TYPE, mime.as_ref().to_string()),
                    (CACHE_CONTROL, cache.to_string()),
                ],
                file.data,
            )
                .into_response();
        }
    }
    match Assets::get("index.html") {
        Some(index) => (
            [
                (CONTENT_TYPE, "text/html; charset=utf-8"),
                (CACHE_CONTROL, "no-cache"),
            ],
            index.data,
        )
            .into_response(),
        None => (StatusCode::OK, Html(NOT_BUILT)).into_response(),
    }
}
