//! Credentials inside stream addresses. VistterStudio keeps a camera's address as one string,
//! and cameras put the login in two places: the userinfo (`rtsp://user:pw@host/...`) or, for
//! Reolink's RTMP, the query (`...main.bcs?channel=0&stream=0&user=U&password=P`). Both are
//! split off so the address can be stored and shown while the secret goes to the sealed store.

use vs_base::{Result, Secret, StreamUrl, PASSWORD_QUERY_PARAMS};

/// Where a camera expects its login inside the address; kept so an explicit export with
/// credentials writes them back where the camera reads them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CredentialPlacement {
    /// `scheme://user:password@host/...`
    #[default]
    UserInfo,
    /// `...?user=U&password=P`, with the parameter names the address used.
    Query {
        user_param: String,
        password_param: String,
    },
}

/// An address split into its credential-free part and its credentials.
#[derive(Debug, Clone)]
pub struct SplitUrl {
    pub url: StreamUrl,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub placement: CredentialPlacement,
}

impl SplitUrl {
    pub fn has_credentials(&self) -> bool {
        self.username.is_some() || self.password.is_some()
    }
}

const USER_PARAMS: &[&str] = &["user", "username", "usr", "login"];

/// Parses a stream address and removes credentials from its userinfo and its query.
/// `field` names the offending element in errors.
pub fn split_credentials(input: &str, field: &str) -> Result<SplitUrl> {
    let parsed = StreamUrl::parse(input, field)?;
    let mut username = parsed.username;
    let mut password = parsed.password;
    let mut placement = CredentialPlacement::UserInfo;
    let clean = parsed.url.as_str().to_string();

    let (before_fragment, fragment) = match clean.find('#') {
        Some(i) => clean.split_at(i),
        None => (clean.as_str(), ""),
    };
    let Some((base, query)) = before_fragment.split_once('?') else {
        return Ok(SplitUrl {
            url: parsed.url,
            username,
            password,
            placement,
        });
    };
    let from_userinfo = username.is_some() || password.is_some();
    let mut kept = Vec::new();
    let (mut user_param, mut password_param) = (None, None);
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key_lower = percent_decode(key).to_ascii_lowercase();
        if USER_PARAMS.contains(&key_lower.as_str()) {
            user_param = Some(key.to_string());
            if !from_userinfo {
                username = Some(percent_decode(value)).filter(|v| !v.is_empty());
            }
        } else if PASSWORD_QUERY_PARAMS.contains(&key_lower.as_str()) {
            password_param = Some(key.to_string());
            if !from_userinfo {
                password = Some(Secret::new(percent_decode(value))).filter(|v| !v.is_empty());
            }
        } else {
            kept.push(pair);
        }
    }
    if user_param.is_none() && password_param.is_none() {
        return Ok(SplitUrl {
            url: parsed.url,
            username,
            password,
            placement,
        });
    }
    if !from_userinfo {
        placement = CredentialPlacement::Query {
            user_param: user_param.unwrap_or_else(|| "user".into()),
            password_param: password_param.unwrap_or_else(|| "password".into()),
        };
    }
    let mut rebuilt = base.to_string();
    if !kept.is_empty() {
        rebuilt.push('?');
        rebuilt.push_str(&kept.join("&"));
    }
    rebuilt.push_str(fragment);
    let url = StreamUrl::parse(&rebuilt, field)?.url;
    Ok(SplitUrl {
        url,
        username,
        password,
        placement,
    })
}

/// The address with credentials put back where the camera expects them. Only for an export
/// the caller explicitly asked to carry secrets.
pub fn join_credentials(
    url: &StreamUrl,
    username: Option<&str>,
    password: Option<&Secret>,
    placement: &CredentialPlacement,
) -> String {
    match placement {
        CredentialPlacement::UserInfo => url.with_credentials(username, password),
        CredentialPlacement::Query {
            user_param,
            password_param,
        } => {
            let mut out = url.as_str().to_string();
            let fragment = match out.find('#') {
                Some(i) => out.split_off(i),
                None => String::new(),
            };
            let mut sep = if out.contains('?') { '&' } else { '?' };
            let params = [
                (user_param, username.map(str::to_string)),
                (password_param, password.map(|p| p.expose().to_string())),
            ];
            for (name, value) in params {
                if let Some(v) = value.filter(|v| !v.is_empty()) {
                    out.push(sep);
                    out.push_str(name);
                    out.push('=');
                    out.push_str(&query_escape(&v));
                    sep = '&';
                }
            }
            out.push_str(&fragment);
            out
        }
    }
}

/// Whether two credential-free addresses name the same stream: same transport, host (case
/// does not matter), port (defaults filled in), path and query.
pub fn same_address(a: &StreamUrl, b: &StreamUrl) -> bool {
    a.protocol() == b.protocol()
        && a.host().eq_ignore_ascii_case(b.host())
        && a.port() == b.port()
        && path_and_query(a) == path_and_query(b)
}

fn path_and_query(u: &StreamUrl) -> &str {
    let s = u.as_str();
    let after_scheme = s.find("://").map(|i| &s[i + 3..]).unwrap_or(s);
    match after_scheme.find(['/', '?', '#']) {
        Some(i) => after_scheme[i..].trim_end_matches('/'),
        None => "",
    }
}

/// Removes `user:password@` from any `scheme://` address, for fields that are not stream
/// addresses (an image URL) but must not carry secrets either. Returns whether it removed any.
pub fn strip_userinfo(text: &str) -> Option<String> {
    let start = text.find("://")? + 3;
    let rest = &text[start..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..end].rfind('@')?;
    Some(format!("{}{}", &text[..start], &rest[at + 1..]))
}

fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        // Only what would end or confuse a query value is escaped: cameras compare the value
        // byte for byte and some do not decode anything else.
        if b.is_ascii_graphic() && !matches!(b, b'&' | b'=' | b'#' | b'%' | b'+') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(v) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_credentials_are_split() {
        let s = split_credentials("rtsp://admin:p%40ss@10.0.0.5:554/h264", "path").unwrap();
        assert_eq!(s.url.as_str(), "rtsp://10.0.0.5:554/h264");
        assert_eq!(s.username.as_deref(), Some("admin"));
        assert_eq!(s.password.as_ref().unwrap().expose(), "p@ss");
        assert_eq!(s.placement, CredentialPlacement::UserInfo);
        let back = join_credentials(
            &s.url,
            s.username.as_deref(),
            s.password.as_ref(),
            &s.placement,
        );
        assert_eq!(back, "rtsp://admin:p%40ss@10.0.0.5:554/h264");
    }

    #[test]
    fn reolink_query_credentials_are_split_and_put_back() {
        let original = "rtmp://10.0.0.9:1935/bcs/channel0_main.bcs?channel=0&stream=0&user=Dock&password=Sea2025!!";
        let s = split_credentials(original, "path").unwrap();
        assert_eq!(
            s.url.as_str(),
            "rtmp://10.0.0.9:1935/bcs/channel0_main.bcs?channel=0&stream=0"
        );
        assert_eq!(s.username.as_deref(), Some("Dock"));
        assert_eq!(s.password.as_ref().unwrap().expose(), "Sea2025!!");
        assert_eq!(
            s.placement,
            CredentialPlacement::Query {
                user_param: "user".into(),
                password_param: "password".into()
            }
        );
        let back = join_credentials(
            &s.url,
            s.username.as_deref(),
            s.password.as_ref(),
            &s.placement,
        );
        assert_eq!(back, original);
    }

    #[test]
    fn query_with_only_credentials_loses_its_question_mark() {
        let s = split_credentials("rtmp://cam/live?user=a&pwd=b%26c", "path").unwrap();
        assert_eq!(s.url.as_str(), "rtmp://cam/live");
        assert_eq!(s.password.unwrap().expose(), "b&c");
    }

    #[test]
    fn addresses_compare_by_meaning() {
        let a = split_credentials("rtsp://CAM.local/s1", "a").unwrap().url;
        let b = split_credentials("rtsp://u:p@cam.local:554/s1/", "b")
            .unwrap()
            .url;
        let c = split_credentials("rtsp://cam.local:8554/s1", "c")
            .unwrap()
            .url;
        let d = split_credentials("rtsps://cam.local/s1", "d").unwrap().url;
        assert!(same_address(&a, &b));
        assert!(!same_address(&a, &c));
        assert!(!same_address(&a, &d));
    }

    #[test]
    fn userinfo_is_stripped_from_other_urls() {
        assert_eq!(
            strip_userinfo("https://u:p@cdn.example/x@2.png").as_deref(),
            Some("https://cdn.example/x@2.png")
        );
        assert_eq!(strip_userinfo("https://cdn.example/x@2.png"), None);
        assert_eq!(strip_userinfo("logo.png"), None);
    }
}
