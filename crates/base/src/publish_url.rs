//! Destination publish addresses: a full URL pasted by a user (`rtmp://host/app/KEY`,
//! `srt://host:9000?streamid=K&passphrase=P`, `rtmp://user:pw@host/app/KEY`) is split into the
//! part that may be stored, shown and logged, and its secrets (the stream key and the
//! credentials), which are sealed. The publish URL is put back together only in memory, for
//! FFmpeg.
//!
//! The rule (docs/architecture.md, "Destinations"):
//! - userinfo (`user:password@`) is always a secret, whatever the scheme;
//! - RTMP(S): the stream name, i.e. the last path segment after the application, with the
//!   query that follows it, is the stream key. The application is every segment before it, so
//!   an address needs two segments to carry a key (`rtmp://host/app/KEY`); a URL that ends with
//!   `/` carries none (that is how an application of several segments is written:
//!   `rtmp://host/app/instance/`). When the key is given beside the URL, the whole path is the
//!   application (a last segment equal to that key is dropped: the key was pasted twice). A
//!   query with no stream name before it is sealed whole;
//! - SRT: the `streamid` value is the stream key; `passphrase` and the other secret parameters
//!   ([`PASSWORD_QUERY_PARAMS`], [`SECRET_QUERY_PARAMS`]) are credentials; the other parameters
//!   (`latency`, `mode`, ...) stay in the address.
//!
//! Secrets keep the exact text the user wrote (percent-encoding included), so the URL handed to
//! FFmpeg is the one that was pasted.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::stream_url::{percent_decode, PASSWORD_QUERY_PARAMS, SECRET_QUERY_PARAMS};
use crate::{Error, Protocol, Result, Secret, StreamUrl};

/// The secrets of a publish address other than its stream key. Sealed as one value.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlCredentials {
    /// From the userinfo, percent-decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Query parameters put back when publishing, each `name=value` exactly as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query: Vec<String>,
}

impl UrlCredentials {
    pub fn is_empty(&self) -> bool {
        self.username.is_none() && self.password.is_none() && self.query.is_empty()
    }
}

impl fmt::Debug for UrlCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UrlCredentials(***)")
    }
}

/// A publish address split into what can be stored and shown, and its secrets.
#[derive(Debug, Clone)]
pub struct SplitPublishUrl {
    /// No userinfo, no stream key, no secret parameter: safe to store, return and log.
    pub url: String,
    pub protocol: Protocol,
    /// The stream key the address carried (RTMP stream name with its query, SRT `streamid`).
    pub key: Option<Secret>,
    pub credentials: UrlCredentials,
}

impl SplitPublishUrl {
    /// Whether the address carried any secret at all.
    pub fn had_secrets(&self) -> bool {
        self.key.is_some() || !self.credentials.is_empty()
    }
}

fn is_secret_param(name: &str) -> bool {
    let name = percent_decode(name).to_ascii_lowercase();
    PASSWORD_QUERY_PARAMS
        .iter()
        .chain(SECRET_QUERY_PARAMS)
        .any(|p| *p == name)
}

/// Splits a publish address (rtmp://, rtmps:// or srt://). `separate_key` is the stream key
/// given beside the address, if any; an empty one means "a key is stored beside it, value
/// unknown" (the stored rows sealed at boot). `field` names the request field in errors, which
/// never quote the address.
pub fn split_publish_url(
    input: &str,
    field: &str,
    separate_key: Option<&str>,
) -> Result<SplitPublishUrl> {
    let input = input.trim();
    if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid(
            field,
            "must not contain spaces or control characters",
        ));
    }
    // FFmpeg reads everything after the first '?' as the query ('#' included: SRT stream ids
    // such as `#!::r=live/key,m=publish` are written raw), so the split is done on the text.
    let (head, query) = match input.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (input, None),
    };
    if head.contains('#') {
        return Err(Error::invalid(
            field,
            "must not contain '#' before the query; write it as %23",
        ));
    }
    let parsed = StreamUrl::parse(head, field)?;
    let protocol = parsed.url.protocol();
    let mut credentials = UrlCredentials {
        username: parsed.username,
        password: parsed.password.map(|p| p.expose().to_string()),
        query: Vec::new(),
    };
    let mut base = parsed.url.inner().clone();
    let pairs: Vec<&str> = query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .collect();
    let key;
    let url = match protocol {
        Protocol::Rtmp | Protocol::Rtmps => {
            let path = base.path().to_string();
            let mut segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            let names_a_stream = !path.ends_with('/') && segments.len() >= 2;
            let last = segments.last().copied().unwrap_or_default();
            key = match separate_key {
                Some(k) if !(names_a_stream && !k.is_empty() && last == k) => None,
                _ if names_a_stream => {
                    segments.pop();
                    let mut k = last.to_string();
                    if !pairs.is_empty() {
                        k.push('?');
                        k.push_str(&pairs.join("&"));
                    }
                    Some(Secret::new(k))
                }
                _ => None,
            };
            if key.is_none() {
                // A query with no stream name before it (`rtmp://host/app?token=...`): nothing
                // says which part is secret, so all of it is.
                credentials.query = pairs.iter().map(|p| p.to_string()).collect();
            }
            let mut new_path = format!("/{}", segments.join("/"));
            // Two segments or more without a key: the trailing '/' says "no key in here", so
            // the address shown round-trips through an edit unchanged.
            if segments.len() >= 2 {
                new_path.push('/');
            }
            base.set_path(&new_path);
            let s = base.as_str();
            if segments.is_empty() {
                s.trim_end_matches('/').to_string()
            } else {
                s.to_string()
            }
        }
        Protocol::Srt => {
            let mut stream_id = None;
            let mut kept = Vec::new();
            for pair in pairs {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                let lower = percent_decode(name).to_ascii_lowercase();
                if lower == "streamid" && stream_id.is_none() && !value.is_empty() {
                    match separate_key {
                        None => stream_id = Some(value.to_string()),
                        Some(k) if k == value => stream_id = Some(value.to_string()),
                        // A key stored beside it already: keep this one as a credential.
                        Some("") => credentials.query.push(pair.to_string()),
                        Some(_) => {
                            return Err(Error::invalid(
                                field,
                                "has a streamid and a different stream_key is given; give the key in one place",
                            ))
                        }
                    }
                } else if lower == "streamid" || is_secret_param(name) {
                    credentials.query.push(pair.to_string());
                } else {
                    kept.push(pair);
                }
            }
            key = stream_id.map(Secret::new);
            let mut s = base.as_str().trim_end_matches('/').to_string();
            if !kept.is_empty() {
                s.push('?');
                s.push_str(&kept.join("&"));
            }
            s
        }
        Protocol::Rtsp | Protocol::Rtsps => {
            return Err(Error::invalid(
                field,
                "must be an rtmp://, rtmps:// or srt:// address",
            ))
        }
    };
    Ok(SplitPublishUrl {
        url,
        protocol,
        key,
        credentials,
    })
}

/// The publish URL handed to FFmpeg: the stored address with its key and credentials put
/// back. Never store, return or log it.
pub fn join_publish_url(url: &str, key: Option<&Secret>, credentials: &UrlCredentials) -> String {
    let key = key.filter(|k| !k.is_empty());
    let mut out = with_userinfo(url, credentials);
    let mut params: Vec<&str> = Vec::new();
    if url.starts_with("srt://") {
        let stream_id = key.map(|k| format!("streamid={}", k.expose()));
        params.extend(stream_id.as_deref());
        params.extend(credentials.query.iter().map(String::as_str));
        append_query(&mut out, &params);
        return out;
    }
    let (head, kept) = match out.split_once('?') {
        Some((h, q)) => (h.to_string(), Some(q.to_string())),
        None => (out, None),
    };
    let mut out = head.trim_end_matches('/').to_string();
    if let Some(k) = key {
        out.push('/');
        out.push_str(k.expose());
    }
    if let Some(q) = &kept {
        params.push(q);
    }
    params.extend(credentials.query.iter().map(String::as_str));
    append_query(&mut out, &params);
    out
}

fn append_query(out: &mut String, params: &[&str]) {
    for p in params.iter().filter(|p| !p.is_empty()) {
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(p);
    }
}

fn with_userinfo(url: &str, credentials: &UrlCredentials) -> String {
    if credentials.username.is_none() && credentials.password.is_none() {
        return url.to_string();
    }
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let Ok(parsed) = StreamUrl::parse(head, "url") else {
        return url.to_string();
    };
    let password = credentials.password.clone().map(Secret::new);
    let mut out = parsed.url.with_credentials(
        Some(credentials.username.as_deref().unwrap_or_default()),
        password.as_ref(),
    );
    // `with_credentials` needs a user name to place a password: `rtmp://:pw@host` has none.
    if credentials.username.is_none() {
        if let Some(pw) = &password {
            let mut u = parsed.url.inner().clone();
            let _ = u.set_password(Some(pw.expose()));
            out = u.to_string();
        }
    }
    // `Url` gives a bare host a '/' path; the stored text decides whether there is one.
    if !head.ends_with('/') && out.ends_with('/') && !parsed.url.inner().path().ends_with('/') {
        out.pop();
    }
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Every value FFmpeg might print that must be masked in its output: the key, the key's stream
/// name without its query, the query values, the password, the secret parameters' values, each
/// also percent-decoded. Longest first, so a value is masked before a part of it. Values of
/// fewer than four characters (`s_bl=1`) are left out: masking every `1` of a log says nothing.
pub fn publish_secrets(key: Option<&Secret>, credentials: &UrlCredentials) -> Vec<Secret> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |v: &str, always: bool| {
        for v in [v.to_string(), percent_decode(v)] {
            if !v.is_empty() && (always || v.len() >= 4) && !out.contains(&v) {
                out.push(v);
            }
        }
    };
    let query_values = |q: &str| -> Vec<String> {
        q.split('&')
            .filter_map(|p| p.split_once('=').map(|(_, v)| v.to_string()))
            .collect()
    };
    if let Some(k) = key.filter(|k| !k.is_empty()) {
        add(k.expose(), true);
        if let Some((name, q)) = k.expose().split_once('?') {
            add(name, true);
            for v in query_values(q) {
                add(&v, false);
            }
        }
    }
    if let Some(pw) = &credentials.password {
        add(pw, true);
    }
    for p in &credentials.query {
        match p.split_once('=') {
            Some((name, v)) => add(v, is_secret_param(name)),
            None => add(p, false),
        }
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.into_iter().map(Secret::new).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(url: &str) -> SplitPublishUrl {
        split_publish_url(url, "url", None).unwrap()
    }

    fn key(s: &SplitPublishUrl) -> Option<&str> {
        s.key.as_ref().map(Secret::expose)
    }

    /// Splitting then joining gives back the URL that was pasted (scheme and host as `Url`
    /// writes them), and the stored part holds none of the secrets.
    fn round_trip(pasted: &str, stored: &str, secrets: &[&str]) {
        let s = split(pasted);
        assert_eq!(s.url, stored, "{pasted}");
        for secret in secrets {
            assert!(!s.url.contains(secret), "{secret} left in {}", s.url);
        }
        assert_eq!(
            join_publish_url(&s.url, s.key.as_ref(), &s.credentials),
            pasted
        );
        // The stored part is split again into itself: nothing more to seal, idempotent.
        let again = split_publish_url(&s.url, "url", Some("")).unwrap();
        assert_eq!(again.url, s.url);
        assert!(!again.had_secrets(), "{}", s.url);
    }

    #[test]
    fn rtmp_stream_name_is_the_key() {
        let s = split("rtmp://live.example.com/app/SECRETKEY");
        assert_eq!(s.url, "rtmp://live.example.com/app");
        assert_eq!(key(&s), Some("SECRETKEY"));
        assert!(s.credentials.is_empty());
        round_trip(
            "rtmp://live.example.com/app/SECRETKEY",
            "rtmp://live.example.com/app",
            &["SECRETKEY"],
        );
        round_trip(
            "rtmps://live-api-s.facebook.com:443/rtmp/FB-123-abc?s_bl=1&s_sc=xyz123&a=b",
            "rtmps://live-api-s.facebook.com:443/rtmp",
            &["FB-123-abc", "xyz123", "s_bl"],
        );
        assert_eq!(
            key(&split("rtmps://h:443/rtmp/FB-1?s_bl=1&s_sc=z")),
            Some("FB-1?s_bl=1&s_sc=z")
        );
        // An application of several segments keeps a trailing '/': the key's place.
        round_trip("rtmp://h/app/inst/KEY", "rtmp://h/app/inst/", &["KEY"]);
    }

    #[test]
    fn rtmp_without_a_stream_name_carries_no_key() {
        for (url, stored) in [
            ("rtmp://h/live2", "rtmp://h/live2"),
            ("rtmp://h/live2/", "rtmp://h/live2"),
            ("rtmp://h:1935/app/inst/", "rtmp://h:1935/app/inst/"),
            ("rtmp://h", "rtmp://h"),
            (
                "rtmps://a.rtmps.youtube.com:443/live2",
                "rtmps://a.rtmps.youtube.com:443/live2",
            ),
        ] {
            let s = split(url);
            assert_eq!(s.url, stored, "{url}");
            assert!(!s.had_secrets(), "{url}");
        }
        // A query with no stream name is sealed whole.
        let s = split("rtmp://h/app?token=abcdef");
        assert_eq!(s.url, "rtmp://h/app");
        assert_eq!(key(&s), None);
        assert_eq!(s.credentials.query, ["token=abcdef"]);
        assert_eq!(
            join_publish_url(&s.url, Some(&Secret::new("K")), &s.credentials),
            "rtmp://h/app/K?token=abcdef"
        );
    }

    #[test]
    fn a_key_given_beside_the_url_makes_the_path_the_application() {
        let s = split_publish_url("rtmp://h/app/inst", "url", Some("K")).unwrap();
        assert_eq!(s.url, "rtmp://h/app/inst/");
        assert_eq!(key(&s), None);
        // Pasted twice: the URL's copy is the key, not a second segment.
        let s = split_publish_url("rtmp://h/app/K", "url", Some("K")).unwrap();
        assert_eq!(s.url, "rtmp://h/app");
        assert_eq!(key(&s), Some("K"));
        // A stored key of unknown value: never taken for a duplicate.
        let s = split_publish_url("rtmp://h/app/inst", "url", Some("")).unwrap();
        assert_eq!(s.url, "rtmp://h/app/inst/");
        assert!(!s.had_secrets());
    }

    #[test]
    fn srt_streamid_is_the_key_and_passphrase_a_credential() {
        let s = split("srt://h:9000?streamid=SID-1&passphrase=longpassphrase&latency=200");
        assert_eq!(s.url, "srt://h:9000?latency=200");
        assert_eq!(key(&s), Some("SID-1"));
        assert_eq!(s.credentials.query, ["passphrase=longpassphrase"]);
        assert_eq!(
            join_publish_url(&s.url, s.key.as_ref(), &s.credentials),
            "srt://h:9000?latency=200&streamid=SID-1&passphrase=longpassphrase"
        );
        // Raw access-control stream ids ('#', '/', ':' unencoded) as SRT servers document them.
        let s = split("srt://h:9000?streamid=#!::r=live/k9,m=publish&mode=caller");
        assert_eq!(s.url, "srt://h:9000?mode=caller");
        assert_eq!(key(&s), Some("#!::r=live/k9,m=publish"));
        let again = split_publish_url(&s.url, "url", Some("")).unwrap();
        assert!(!again.had_secrets());
        // A different key beside it is refused without quoting either.
        let e = split_publish_url("srt://h:9000?streamid=AAA", "url", Some("BBB")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("url"));
        assert!(!e.message.contains("AAA") && !e.message.contains("BBB"));
        assert!(
            split_publish_url("srt://h:9000?streamid=AAA", "url", Some("AAA"))
                .unwrap()
                .key
                .is_some()
        );
    }

    #[test]
    fn userinfo_is_always_split_off() {
        let s = split("rtmp://user:p%40ss@host/app/key1");
        assert_eq!(s.url, "rtmp://host/app");
        assert_eq!(key(&s), Some("key1"));
        assert_eq!(s.credentials.username.as_deref(), Some("user"));
        assert_eq!(s.credentials.password.as_deref(), Some("p@ss"));
        assert_eq!(
            join_publish_url(&s.url, s.key.as_ref(), &s.credentials),
            "rtmp://user:p%40ss@host/app/key1"
        );
        let s = split("srt://u:pw@h:9000?streamid=x1");
        assert_eq!(s.url, "srt://h:9000");
        assert_eq!(
            join_publish_url(&s.url, s.key.as_ref(), &s.credentials),
            "srt://u:pw@h:9000?streamid=x1"
        );
    }

    #[test]
    fn bad_addresses_are_refused_without_being_quoted() {
        for bad in [
            "http://h/app/KEYZ",
            "rtsp://h/app/KEYZ",
            "rtmp://h/app/KE YZ",
            "rtmp://h/app#KEYZ",
            "rtmp:///app/KEYZ",
        ] {
            let e = split_publish_url(bad, "url", None).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("url"), "{bad}");
            assert!(!e.message.contains("KEYZ"), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn secrets_for_ffmpeg_cover_every_printed_form() {
        let s = split("rtmps://h/rtmp/FB-123-abc?s_bl=1&s_sc=xyz123");
        let list: Vec<String> = publish_secrets(s.key.as_ref(), &s.credentials)
            .iter()
            .map(|k| k.expose().to_string())
            .collect();
        assert_eq!(list[0], "FB-123-abc?s_bl=1&s_sc=xyz123", "longest first");
        assert!(list.contains(&"FB-123-abc".to_string()));
        assert!(list.contains(&"xyz123".to_string()));
        assert!(
            !list.contains(&"1".to_string()),
            "short values are not masked"
        );
        let s = split("srt://u:pw@h:9000?streamid=%23live&passphrase=abcdefghij");
        let list: Vec<String> = publish_secrets(s.key.as_ref(), &s.credentials)
            .iter()
            .map(|k| k.expose().to_string())
            .collect();
        for v in ["%23live", "#live", "pw", "abcdefghij"] {
            assert!(list.contains(&v.to_string()), "{v}: {list:?}");
        }
        assert!(!list.contains(&"u".to_string()));
    }

    #[test]
    fn debug_never_shows_credentials() {
        let s = split("rtmp://user:hunter22@host/app/key1");
        let d = format!("{s:?}");
        assert!(!d.contains("hunter22") && !d.contains("key1"), "{d}");
    }
}
