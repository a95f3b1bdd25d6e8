//! The two authentication schemes ONVIF cameras use, for both sides: WS-Security
//! UsernameToken with PasswordDigest inside the SOAP header, and HTTP Digest (RFC 2617/7616).

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use md5::Md5;
use rand::RngCore;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::xml::escape;

pub const WSSE_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
pub const WSU_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
pub const PASSWORD_DIGEST: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";
pub const PASSWORD_TEXT: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText";
const BASE64_BINARY: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";

/// Base64(SHA1(nonce + created + password)), the ONVIF PasswordDigest.
pub fn password_digest(nonce: &[u8], created: &str, password: &str) -> String {
    let mut h = Sha1::new();
    h.update(nonce);
    h.update(created.as_bytes());
    h.update(password.as_bytes());
    B64.encode(h.finalize())
}

/// The `Created` text: whole seconds, because some firmwares reject fractional seconds.
pub fn created_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A `wsse:Security` header with a fresh nonce, timestamped at `created` (camera time).
pub fn ws_security_header(username: &str, password: &str, created: DateTime<Utc>) -> String {
    let mut nonce = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut nonce);
    ws_security_header_with(username, password, &nonce, &created_text(created))
}

pub fn ws_security_header_with(
    username: &str,
    password: &str,
    nonce: &[u8],
    created: &str,
) -> String {
    format!(
        concat!(
            r#"<wsse:Security s:mustUnderstand="1" xmlns:wsse="{wsse}" xmlns:wsu="{wsu}">"#,
            "<wsse:UsernameToken><wsse:Username>{user}</wsse:Username>",
            r#"<wsse:Password Type="{ptype}">{digest}</wsse:Password>"#,
            r#"<wsse:Nonce EncodingType="{b64}">{nonce}</wsse:Nonce>"#,
            "<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"
        ),
        wsse = WSSE_NS,
        wsu = WSU_NS,
        user = escape(username),
        ptype = PASSWORD_DIGEST,
        digest = password_digest(nonce, created, password),
        b64 = BASE64_BINARY,
        nonce = B64.encode(nonce),
        created = escape(created),
    )
}

/// A parsed HTTP Digest challenge (`WWW-Authenticate: Digest ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestChallenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: DigestAlgorithm,
    /// Whether the server offered qop=auth; without it the RFC 2069 form is used.
    pub qop_auth: bool,
    pub stale: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
}

impl DigestAlgorithm {
    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "MD5" => Some(Self::Md5),
            "MD5-SESS" => Some(Self::Md5Sess),
            "SHA-256" => Some(Self::Sha256),
            "SHA-256-SESS" => Some(Self::Sha256Sess),
            _ => None,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Md5Sess => "MD5-sess",
            Self::Sha256 => "SHA-256",
            Self::Sha256Sess => "SHA-256-sess",
        }
    }
    fn hash(self, s: &str) -> String {
        match self {
            Self::Md5 | Self::Md5Sess => hex(&Md5::digest(s.as_bytes())),
            Self::Sha256 | Self::Sha256Sess => hex(&Sha256::digest(s.as_bytes())),
        }
    }
    fn is_sess(self) -> bool {
        matches!(self, Self::Md5Sess | Self::Sha256Sess)
    }
    fn strength(self) -> u8 {
        match self {
            Self::Md5 | Self::Md5Sess => 1,
            Self::Sha256 | Self::Sha256Sess => 2,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl DigestChallenge {
    /// Parses one `WWW-Authenticate` value; `None` if it is not a Digest challenge we can answer.
    pub fn parse(header: &str) -> Option<Self> {
        let idx = header.to_ascii_lowercase().find("digest ")?;
        let params = parse_params(&header[idx + 7..]);
        let algorithm = match params.get("algorithm") {
            Some(a) => DigestAlgorithm::parse(a)?,
            None => DigestAlgorithm::Md5,
        };
        let qop = params.get("qop").map(|q| q.to_ascii_lowercase());
        let qop_auth = match &qop {
            Some(q) => q.split(',').any(|t| t.trim() == "auth"),
            None => false,
        };
        if qop.is_some() && !qop_auth {
            return None; // auth-int only: we would have to hash the body; no camera needs it
        }
        Some(DigestChallenge {
            realm: params.get("realm").cloned().unwrap_or_default(),
            nonce: params.get("nonce")?.clone(),
            opaque: params.get("opaque").cloned(),
            algorithm,
            qop_auth,
            stale: params
                .get("stale")
                .is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// The strongest challenge we can answer among several headers.
    pub fn pick<'a>(headers: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        headers
            .into_iter()
            .filter_map(Self::parse)
            .max_by_key(|c| c.algorithm.strength())
    }

    /// The `Authorization` header value for one request.
    pub fn authorization(
        &self,
        username: &str,
        password: &str,
        method: &str,
        uri: &str,
        nc: u32,
        cnonce: &str,
    ) -> String {
        let nc = format!("{nc:08x}");
        let response = digest_response(
            self.algorithm,
            username,
            &self.realm,
            password,
            method,
            uri,
            &self.nonce,
            self.qop_auth.then_some((nc.as_str(), cnonce)),
        );
        let mut h = format!(
            r#"Digest username="{}", realm="{}", nonce="{}", uri="{}", algorithm={}, response="{}""#,
            quote(username),
            quote(&self.realm),
            quote(&self.nonce),
            quote(uri),
            self.algorithm.name(),
            response
        );
        if self.qop_auth {
            h.push_str(&format!(
                r#", qop=auth, nc={nc}, cnonce="{}""#,
                quote(cnonce)
            ));
        }
        if let Some(o) = &self.opaque {
            h.push_str(&format!(r#", opaque="{}""#, quote(o)));
        }
        h
    }
}

/// A fresh client nonce.
pub fn cnonce() -> String {
    let mut b = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut b);
    hex(&b)
}

/// The digest `response` value; `qop` is `(nc, cnonce)` when qop=auth is in use.
#[allow(clippy::too_many_arguments)]
pub fn digest_response(
    algorithm: DigestAlgorithm,
    username: &str,
    realm: &str,
    password: &str,
    method: &str,
    uri: &str,
    nonce: &str,
    qop: Option<(&str, &str)>,
) -> String {
    let mut ha1 = algorithm.hash(&format!("{username}:{realm}:{password}"));
    if algorithm.is_sess() {
        let cn = qop.map(|(_, c)| c).unwrap_or("");
        ha1 = algorithm.hash(&format!("{ha1}:{nonce}:{cn}"));
    }
    let ha2 = algorithm.hash(&format!("{method}:{uri}"));
    match qop {
        Some((nc, cn)) => algorithm.hash(&format!("{ha1}:{nonce}:{nc}:{cn}:auth:{ha2}")),
        None => algorithm.hash(&format!("{ha1}:{nonce}:{ha2}")),
    }
}

/// Checks an `Authorization: Digest` header against the expected credentials (server side).
/// Returns the nonce it used when valid, so the caller can check it issued that nonce.
pub fn verify_digest_authorization(
    header: &str,
    username: &str,
    password: &str,
    realm: &str,
    method: &str,
) -> Option<String> {
    let rest = header
        .trim_start()
        .strip_prefix("Digest ")
        .or_else(|| header.trim_start().strip_prefix("digest "))?;
    let p = parse_params(rest);
    if p.get("username")? != username || p.get("realm")? != realm {
        return None;
    }
    let algorithm = match p.get("algorithm") {
        Some(a) => DigestAlgorithm::parse(a)?,
        None => DigestAlgorithm::Md5,
    };
    let nonce = p.get("nonce")?;
    let qop = match p.get("qop") {
        Some(q) if q == "auth" => Some((p.get("nc")?.as_str(), p.get("cnonce")?.as_str())),
        Some(_) => return None,
        None => None,
    };
    let expected = digest_response(
        algorithm,
        username,
        realm,
        password,
        method,
        p.get("uri")?,
        nonce,
        qop,
    );
    (p.get("response")?.eq_ignore_ascii_case(&expected)).then(|| nonce.clone())
}

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Parses `k=v, k="quoted, with commas"` lists; keys are lowercased.
fn parse_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                value.push(n);
                            }
                        }
                        '"' => break,
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
        }
        out.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    out
}

/// A UsernameToken found in a request's header (server side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsernameToken {
    pub username: String,
    pub password: String,
    pub password_type_digest: bool,
    pub nonce: Vec<u8>,
    pub created: String,
}

impl UsernameToken {
    /// Extracts the token from a parsed envelope, if any.
    pub fn from_envelope(envelope: &crate::xml::Element) -> Option<Self> {
        let token = envelope.child("Header")?.find("UsernameToken")?;
        let password = token.child("Password")?;
        let nonce = match token.child_text("Nonce") {
            Some(n) => B64.decode(n).ok()?,
            None => Vec::new(),
        };
        Some(UsernameToken {
            username: token.child_text("Username")?.to_string(),
            password: password.text().to_string(),
            password_type_digest: password
                .attr("Type")
                .is_none_or(|t| t.ends_with("#PasswordDigest")),
            nonce,
            created: token.child_text("Created").unwrap_or_default().to_string(),
        })
    }

    /// Whether the token proves knowledge of `password`.
    pub fn password_matches(&self, password: &str) -> bool {
        if self.password_type_digest {
            password_digest(&self.nonce, &self.created, password) == self.password
        } else {
            self.password == password
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the ONVIF Application Programmer's Guide (§6.1.1.3).
    #[test]
    fn ws_security_digest_matches_the_onvif_guide_vector() {
        let nonce = B64.decode("LKqI6G/AikKCQrN0zqZFlg==").unwrap();
        assert_eq!(
            password_digest(&nonce, "2010-09-16T07:50:45Z", "userpassword"),
            "tuOSpGlFlIXsozq4HFNeeGeFLEI="
        );
        let header =
            ws_security_header_with("user", "userpassword", &nonce, "2010-09-16T07:50:45Z");
        assert!(header.contains(">tuOSpGlFlIXsozq4HFNeeGeFLEI=<"));
        assert!(header.contains(">LKqI6G/AikKCQrN0zqZFlg==<"));
    }

    /// RFC 2617 §3.5.
    #[test]
    fn http_digest_matches_rfc2617_example() {
        let c = DigestChallenge::parse(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        assert!(c.qop_auth);
        let h = c.authorization(
            "Mufasa",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            1,
            "0a4f113b",
        );
        assert!(
            h.contains(r#"response="6629fae49393a05397450978507c4ef1""#),
            "{h}"
        );
        assert!(h.contains("nc=00000001"));
        assert!(h.contains(r#"opaque="5ccc069c403ebaf9f0171e9517f40e41""#));
        let nonce = verify_digest_authorization(
            &h,
            "Mufasa",
            "Circle Of Life",
            "testrealm@host.com",
            "GET",
        );
        assert_eq!(nonce.as_deref(), Some("dcd98b7102dd2f0e8b11d0f600bfb0c093"));
        assert!(
            verify_digest_authorization(&h, "Mufasa", "wrong", "testrealm@host.com", "GET")
                .is_none()
        );
    }

    #[test]
    fn picks_the_strongest_challenge() {
        let c = DigestChallenge::pick([
            r#"Digest realm="r", nonce="n1", qop="auth", algorithm=MD5"#,
            r#"Digest realm="r", nonce="n2", qop="auth", algorithm=SHA-256"#,
            r#"Basic realm="r""#,
        ])
        .unwrap();
        assert_eq!(c.algorithm, DigestAlgorithm::Sha256);
        assert!(DigestChallenge::parse(r#"Basic realm="r""#).is_none());
    }
}
