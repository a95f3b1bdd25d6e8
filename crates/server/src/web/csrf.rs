//! Refuses cross-origin requests that would act with the browser's session cookie (CSRF). The
//! cookie is SameSite=Strict, but "site" is wider than "origin": a page on another port of the
//! same host, or on a sibling host name, is same-site and gets the cookie sent along. So every
//! state-changing request (POST, PUT, PATCH, DELETE) and every WebSocket handshake that is not
//! authenticated by a bearer token — which a page cannot attach to a cross-origin request
//! without a CORS preflight this appliance never grants — must come from the appliance's own
//! origin. Login and set-up are included: they have no cookie to ride, but a cross-site form
//! post to them would log the victim's browser into an account of the attacker's choosing.
//!
//! The rule, from the headers browsers set and pages cannot:
//! - `Sec-Fetch-Site: cross-site` is refused; `same-site` too unless the origin below is one of
//!   the appliance's own;
//! - `Origin` (else the origin of `Referer`) must be the appliance's own: the scheme-less
//!   authority of the request's Host header with `http` or `https` (only `https` when the
//!   cookie is marked Secure), or one configured with `--allowed-origin`; `Origin: null`
//!   (sandboxed frames, some redirects) never is;
//! - with neither Origin nor Referer, the request passes only when `Sec-Fetch-Site` is absent
//!   too: that is a client that is not a browser (curl, a script) holding the cookie, which it
//!   can only have been given. Every browser that sends `Sec-Fetch-Site` also sends `Origin`
//!   with a POST, so a browser request without both is refused.

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, HOST, ORIGIN, REFERER, UPGRADE};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use vs_base::{Error, ErrorKind};

use super::error::ApiError;
use crate::state::AppState;

const SEC_FETCH_SITE: &str = "sec-fetch-site";

/// `scheme://host[:port]` of a URL or origin, lower case, the default port left out; `None`
/// for anything that is not an http(s) URL (`null`, garbage).
pub fn origin_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url.trim()).ok()?;
    if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
        return None;
    }
    Some(u.origin().ascii_serialization())
}

/// What the check needs from the configuration.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    /// Only `https` origins are the appliance's own (the cookie is marked Secure).
    pub https_only: bool,
    /// Origins allowed besides the request's own, already in `origin_of` form.
    pub allowed: Vec<String>,
}

/// Whether the request needs the check: it changes state (or opens a WebSocket) and does not
/// carry a bearer token.
fn needs_check(method: &Method, headers: &HeaderMap) -> bool {
    let changes_state = matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let websocket = *method == Method::GET
        && headers
            .get(UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"));
    (changes_state || websocket) && !bearer
}

/// The origins that are this appliance's own for a request addressed to `host`.
fn own_origins(host: Option<&str>, policy: &OriginPolicy) -> Vec<String> {
    let mut own = policy.allowed.clone();
    if let Some(host) = host {
        let schemes: &[&str] = if policy.https_only {
            &["https"]
        } else {
            &["http", "https"]
        };
        own.extend(
            schemes
                .iter()
                .filter_map(|s| origin_of(&format!("{s}://{host}"))),
        );
    }
    own
}

/// Checks one request's headers; `Err` says why it is refused.
pub fn check(
    method: &Method,
    headers: &HeaderMap,
    host: Option<&str>,
    policy: &OriginPolicy,
) -> Result<(), String> {
    if !needs_check(method, headers) {
        return Ok(());
    }
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
            .map(|v| v.trim().to_string())
    };
    let site = header(SEC_FETCH_SITE).map(|s| s.to_ascii_lowercase());
    let (source, from) = match (header(ORIGIN.as_str()), header(REFERER.as_str())) {
        (Some(o), _) => (Some(o), "Origin"),
        (None, Some(r)) => (Some(r), "Referer"),
        (None, None) => (None, ""),
    };
    let own = own_origins(host, policy);
    let here = host.unwrap_or("(no Host header)");
    if site.as_deref() == Some("cross-site") {
        return Err(format!(
            "the browser marks it cross-site (Sec-Fetch-Site: cross-site); only pages of this \
             appliance ({here}) may change its state"
        ));
    }
    match source {
        Some(s) => {
            let Some(origin) = origin_of(&s) else {
                return Err(format!(
                    "its {from} ({s}) is not an http(s) origin; only pages of this appliance \
                     ({here}) may change its state"
                ));
            };
            if !own.contains(&origin) {
                return Err(format!(
                    "it comes from {origin} ({from}), not from this appliance ({here}); a proxy \
                     that rewrites the Host header needs --allowed-origin {origin}"
                ));
            }
            Ok(())
        }
        None if site.is_some() => Err(format!(
            "a browser request (Sec-Fetch-Site: {}) without Origin or Referer",
            site.unwrap_or_default()
        )),
        None => Ok(()),
    }
}

/// The middleware: 403 `forbidden` for a request `check` refuses.
pub async fn refuse_cross_origin(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let policy = OriginPolicy {
        https_only: state.config.secure_cookie,
        allowed: state
            .config
            .allowed_origins
            .iter()
            .filter_map(|o| origin_of(o))
            .collect(),
    };
    let host = req
        .headers()
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        // HTTP/2 carries it in the request line (`:authority`).
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    if let Err(why) = check(req.method(), req.headers(), host.as_deref(), &policy) {
        tracing::warn!(method = %req.method(), path = %req.uri().path(), reason = %why, "cross-origin request refused");
        return ApiError(Error::new(
            ErrorKind::Forbidden,
            format!("cross-origin request refused: {why}"),
        ))
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    const HOST_: Option<&str> = Some("192.168.1.20:8080");

    fn post(pairs: &[(&str, &str)]) -> Result<(), String> {
        check(
            &Method::POST,
            &headers(pairs),
            HOST_,
            &OriginPolicy::default(),
        )
    }

    #[test]
    fn own_origin_passes() {
        assert!(post(&[("origin", "http://192.168.1.20:8080")]).is_ok());
        assert!(post(&[
            ("origin", "http://192.168.1.20:8080"),
            ("sec-fetch-site", "same-origin")
        ])
        .is_ok());
        assert!(post(&[("referer", "http://192.168.1.20:8080/cameras/new")]).is_ok());
        // Behind a TLS proxy that keeps the Host header.
        assert!(post(&[("origin", "https://192.168.1.20:8080")]).is_ok());
    }

    #[test]
    fn other_origins_are_refused() {
        for pairs in [
            vec![("origin", "http://evil.example")],
            vec![("origin", "http://192.168.1.20:9000")],
            vec![("origin", "http://192.168.1.20")],
            vec![("origin", "null")],
            vec![("referer", "http://evil.example/form.html")],
            vec![("sec-fetch-site", "cross-site")],
            vec![
                ("sec-fetch-site", "same-site"),
                ("origin", "http://192.168.1.20:9000"),
            ],
            vec![("sec-fetch-site", "same-origin")],
            vec![
                ("sec-fetch-site", "cross-site"),
                ("origin", "http://192.168.1.20:8080"),
            ],
        ] {
            assert!(post(&pairs).is_err(), "{pairs:?}");
        }
    }

    #[test]
    fn what_is_not_checked() {
        // Not a browser: no Origin, Referer or Sec-Fetch-Site.
        assert!(post(&[]).is_ok());
        // A bearer token is no ambient credential.
        assert!(post(&[
            ("origin", "http://evil.example"),
            ("authorization", "Bearer vst_x")
        ])
        .is_ok());
        // Reads change nothing (and are not readable across origins without CORS).
        let h = headers(&[("origin", "http://evil.example")]);
        assert!(check(&Method::GET, &h, HOST_, &OriginPolicy::default()).is_ok());
        // A WebSocket handshake is checked like a write: it would stream the cameras.
        let ws = headers(&[("origin", "http://evil.example"), ("upgrade", "websocket")]);
        assert!(check(&Method::GET, &ws, HOST_, &OriginPolicy::default()).is_err());
    }

    #[test]
    fn configured_origins_and_secure_cookies() {
        let policy = OriginPolicy {
            https_only: true,
            allowed: vec![origin_of("https://Cams.Example.org/").unwrap()],
        };
        let with = |o: &str| check(&Method::POST, &headers(&[("origin", o)]), HOST_, &policy);
        assert!(with("https://cams.example.org").is_ok());
        assert!(with("https://192.168.1.20:8080").is_ok());
        assert!(with("http://192.168.1.20:8080").is_err());
        assert!(with("http://cams.example.org").is_err());
    }
}
