//! Request bodies: the one table of body limits (one per route), the middleware that enforces
//! it whether the body declares its length or is sent chunked, the 413 every route answers
//! past its limit (JSON, stating that route's real limit), and the check of a body's media
//! type (415).

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use vs_base::ErrorKind;

use super::error::ErrorBody;
use crate::services::assets::MAX_ASSET_BYTES;
use crate::services::audio::MAX_BED_BYTES;

const MIB: usize = 1024 * 1024;

/// The body limit of every route the table below does not name.
pub const API_BODY_LIMIT: usize = MIB;

/// What one route accepts at most, and how its 413 explains it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit {
    /// Bytes of body, whether declared by Content-Length or counted as a chunked body arrives.
    pub bytes: usize,
    /// What fits under the limit, for the message of the 413.
    pub what: &'static str,
    /// The request field the size refers to, when there is one.
    pub field: Option<&'static str>,
}

/// The limit of the routes the table does not name: JSON bodies of at most 1 MiB.
pub const DEFAULT_LIMIT: BodyLimit = BodyLimit {
    bytes: API_BODY_LIMIT,
    what: "a JSON body",
    field: None,
};

/// Every route whose body may be larger than [`API_BODY_LIMIT`], by its path in the route table.
/// The only place a body limit is set: `limit_body` enforces it, the readers and the 413 read it.
pub const BODY_LIMITS: &[(&str, BodyLimit)] = &[
    (
        "/api/assets",
        BodyLimit {
            // The 10 MiB image, plus room for the envelope of a multipart form around it.
            bytes: MAX_ASSET_BYTES + 64 * 1024,
            what: "an image of at most 10 MiB, raw or in a multipart form",
            field: Some("file"),
        },
    ),
    (
        "/api/audio/beds",
        BodyLimit {
            bytes: MAX_BED_BYTES,
            what: "an audio file of at most 20 MiB, as the raw body",
            field: Some("file"),
        },
    ),
    (
        "/api/overlays/sync",
        BodyLimit {
            // A sync carries images as base64: several logos at the 10 MiB asset limit each.
            bytes: 48 * MIB,
            what: "a VistterStudio sync, its images in base64 included",
            field: None,
        },
    ),
];

/// The limit of the route registered under `path` (a route-table path such as `/api/assets`).
pub fn limit_of(path: &str) -> BodyLimit {
    BODY_LIMITS
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, l)| *l)
        .unwrap_or(DEFAULT_LIMIT)
}

fn mib(bytes: u64) -> String {
    let m = bytes as f64 / MIB as f64;
    if m.fract() == 0.0 {
        format!("{m:.0} MiB")
    } else {
        format!("{m:.2} MiB")
    }
}

/// The 413 of a body over `limit`, in the API's error shape; `size` when it is known.
pub fn too_large(limit: &BodyLimit, size: Option<u64>) -> Response {
    let size = match size {
        Some(s) => format!("the request body is {}", mib(s)),
        None => "the request body is too large".to_string(),
    };
    let body = ErrorBody {
        error: ErrorKind::Validation.code().to_string(),
        message: format!(
            "{size}; this route accepts at most {} ({})",
            mib(limit.bytes as u64),
            limit.what
        ),
        field: limit.field.map(str::to_string),
    };
    (StatusCode::PAYLOAD_TOO_LARGE, Json(body)).into_response()
}

/// The body length the request declares, if any.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Enforces the route's limit of `BODY_LIMITS` on every request: a declared length over it is
/// refused before a byte is read; a chunked body is cut off where it passes the limit (every
/// reader then answers `too_large`). The limit goes into the request's extensions for them.
pub async fn limit_body(matched: Option<MatchedPath>, req: Request, next: Next) -> Response {
    let limit = matched.map_or(DEFAULT_LIMIT, |m| limit_of(m.as_str()));
    let declared = declared_length(req.headers());
    if declared.is_some_and(|n| n > limit.bytes as u64) {
        return too_large(&limit, declared);
    }
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(limit);
    let body = Body::new(http_body_util::Limited::new(body, limit.bytes));
    let resp = next.run(Request::from_parts(parts, body)).await;
    // A reader that is not ours (axum's `Bytes`, `Multipart`) answers a plain 413: the table's
    // message replaces it, so every 413 states the route's real limit.
    let json = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE && !json {
        return too_large(&limit, declared);
    }
    resp
}

/// The limit `limit_body` set for this request (the default outside the router, in unit tests).
pub fn limit_in(req: &Request) -> BodyLimit {
    req.extensions()
        .get::<BodyLimit>()
        .copied()
        .unwrap_or(DEFAULT_LIMIT)
}

/// Reads a whole request body under the route's limit; past it, the route's 413.
pub async fn read_body(req: Request) -> Result<Bytes, Response> {
    let limit = limit_in(&req);
    let declared = declared_length(req.headers());
    if declared.is_some_and(|n| n > limit.bytes as u64) {
        return Err(too_large(&limit, declared));
    }
    axum::body::to_bytes(req.into_body(), limit.bytes)
        .await
        .map_err(|e| {
            if is_length_limit(&e) {
                too_large(&limit, declared)
            } else {
                super::error::ApiError(vs_base::Error::new(
                    ErrorKind::Validation,
                    format!("cannot read the request body: {e}"),
                ))
                .into_response()
            }
        })
}

/// Whether a body error is a length limit's (ours or axum's), however deeply it is wrapped.
fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// The kinds of body a route reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// `application/json` only.
    Json,
    /// A file upload: `multipart/form-data`, or a raw image (`image/*`).
    Upload,
}

/// The media type (essence, lower case) of the request's body, if it declares one.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|v| !v.is_empty())
}

/// Refuses (415) a body whose Content-Type is not what the route reads. Browsers send
/// `text/plain`, `application/x-www-form-urlencoded` and `multipart/form-data` across sites
/// without asking first; no JSON route takes them.
pub fn require_media(headers: &HeaderMap, media: Media) -> Result<(), UnsupportedMedia> {
    let got = media_type(headers);
    let ok = match (media, got.as_deref()) {
        (Media::Json, Some("application/json")) => true,
        (Media::Upload, Some(t)) => t == "multipart/form-data" || t.starts_with("image/"),
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let wanted = match media {
        Media::Json => "a JSON body with the header Content-Type: application/json",
        Media::Upload => {
            "an image as multipart/form-data (field `file`) or raw with its own Content-Type \
             (image/png, image/jpeg, image/svg+xml)"
        }
    };
    let got = match got {
        Some(t) => format!("Content-Type {t}"),
        None => "no Content-Type".to_string(),
    };
    Err(UnsupportedMedia(format!(
        "this route reads {wanted}; the request has {got}"
    )))
}

/// A body of a type the route does not read: 415 in the API's error shape.
#[derive(Debug)]
pub struct UnsupportedMedia(pub String);

impl IntoResponse for UnsupportedMedia {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: "unsupported_media_type".to_string(),
            message: self.0,
            field: None,
        };
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_limit_per_route() {
        assert_eq!(limit_of("/api/cameras").bytes, MIB);
        assert_eq!(limit_of("/api/overlays/sync").bytes, 48 * MIB);
        assert!(limit_of("/api/assets").bytes > MAX_ASSET_BYTES);
        let paths: std::collections::BTreeSet<_> = BODY_LIMITS.iter().map(|(p, _)| p).collect();
        assert_eq!(paths.len(), BODY_LIMITS.len(), "a route is listed twice");
        for (p, _) in BODY_LIMITS {
            assert!(super::super::api_paths().contains(p), "{p} is not a route");
        }
    }

    #[test]
    fn media_types() {
        let h = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, v.parse().unwrap());
            h
        };
        assert!(require_media(&h("application/json"), Media::Json).is_ok());
        assert!(require_media(&h("Application/JSON; charset=utf-8"), Media::Json).is_ok());
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonp",
        ] {
            assert_eq!(
                require_media(&h(bad), Media::Json)
                    .unwrap_err()
                    .into_response()
                    .status(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{bad}"
            );
        }
        assert!(require_media(&HeaderMap::new(), Media::Json).is_err());
        assert!(require_media(&h("multipart/form-data; boundary=x"), Media::Upload).is_ok());
        assert!(require_media(&h("image/png"), Media::Upload).is_ok());
        assert!(require_media(&h("text/plain"), Media::Upload).is_err());
        assert!(require_media(&HeaderMap::new(), Media::Upload).is_err());
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(mib(MIB as u64), "1 MiB");
        assert_eq!(mib(48 * MIB as u64), "48 MiB");
        assert_eq!(mib((10 * MIB + 64 * 1024) as u64), "10.06 MiB");
    }
}
