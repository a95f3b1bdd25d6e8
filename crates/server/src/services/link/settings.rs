//! The link's settings: what the API takes and shows (never a password or a private key),
//! their validation, and what a connection is made from (TLS verifying the broker with the CA
//! given or the system's roots; rustls with ring, never OpenSSL).

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vs_base::{Error, Result, Secret, SecretBox};
use vs_db::link::LinkSettingsRow;

use super::contract::{valid_device_id, Topics};

pub const DEFAULT_METRICS_INTERVAL_S: i64 = 30;

/// The body of `PUT /api/link`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkInput {
    /// Connect to the broker (true) or stay off (false).
    pub enabled: bool,
    /// `mqtts://host[:port]` (TLS, port 8883 by default) or `mqtt://host[:port]` (plain, 1883).
    /// Without credentials: they go in `username` / `password`.
    #[schema(example = "mqtts://broker.example.com:8883")]
    pub broker_url: String,
    /// This appliance's name on the broker (its topics and MQTT client id): letters, digits,
    /// `-`, `_`, `.`; at most 64.
    #[schema(example = "marina-dock-1")]
    pub device_id: String,
    #[serde(default)]
    pub username: Option<String>,
    /// Write-only. Absent or null keeps the stored password, "" removes it.
    #[serde(default)]
    pub password: Option<String>,
    /// A client certificate (PEM), for brokers that authenticate devices by certificate.
    /// Absent or null keeps the stored one, "" removes it (and the key).
    #[serde(default)]
    pub client_cert_pem: Option<String>,
    /// Write-only: the client certificate's private key (PEM). Absent or null keeps the stored
    /// key, "" removes it.
    #[serde(default)]
    pub client_key_pem: Option<String>,
    /// The CA that signed the broker's certificate (PEM), when it is not one of the system's
    /// roots. "" or null: the system's roots.
    #[serde(default)]
    pub ca_cert_pem: Option<String>,
    /// Seconds between two METRICS messages (1 to 3600; 30 when absent).
    #[serde(default)]
    pub metrics_interval_s: Option<i64>,
}

/// The link's settings as the API shows them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinkSettingsView {
    pub enabled: bool,
    pub broker_url: String,
    pub device_id: String,
    pub username: Option<String>,
    /// A password is stored (never shown).
    pub has_password: bool,
    pub client_cert_pem: Option<String>,
    /// A client key is stored (never shown).
    pub has_client_key: bool,
    pub ca_cert_pem: Option<String>,
    pub metrics_interval_s: i64,
    /// The device's topics, from its id.
    pub topics: Option<LinkTopics>,
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinkTopics {
    /// Commands from the studio (the only topic the appliance subscribes to).
    pub cmd: String,
    /// ACK and PROGRESS replies.
    pub ack: String,
    pub event: String,
    pub metrics: String,
    /// Retained online/offline.
    pub status: String,
}

impl LinkSettingsView {
    pub fn of(row: Option<&LinkSettingsRow>) -> Self {
        let Some(r) = row else {
            return LinkSettingsView {
                enabled: false,
                broker_url: String::new(),
                device_id: String::new(),
                username: None,
                has_password: false,
                client_cert_pem: None,
                has_client_key: false,
                ca_cert_pem: None,
                metrics_interval_s: DEFAULT_METRICS_INTERVAL_S,
                topics: None,
                updated_at: None,
            };
        };
        let topics = (!r.device_id.is_empty()).then(|| {
            let t = Topics::of(&r.device_id);
            LinkTopics {
                cmd: t.cmd,
                ack: t.ack,
                event: t.event,
                metrics: t.metrics,
                status: t.status,
            }
        });
        LinkSettingsView {
            enabled: r.enabled,
            broker_url: r.broker_url.clone(),
            device_id: r.device_id.clone(),
            username: r.username.clone(),
            has_password: r.password_enc.is_some(),
            client_cert_pem: r.client_cert_pem.clone(),
            has_client_key: r.client_key_enc.is_some(),
            ca_cert_pem: r.ca_cert_pem.clone(),
            metrics_interval_s: r.metrics_interval_s,
            topics,
            updated_at: Some(r.updated_at.clone()),
        }
    }
}

/// A broker address, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

pub fn parse_broker_url(text: &str) -> Result<Broker> {
    let field = "broker_url";
    let url = url::Url::parse(text.trim()).map_err(|_| {
        Error::invalid(
            field,
            "must be a URL such as mqtts://broker.example.com:8883",
        )
    })?;
    let tls = match url.scheme() {
        "mqtts" => true,
        "mqtt" => false,
        other => {
            return Err(Error::invalid(
                field,
                format!("must start with mqtts:// (TLS) or mqtt://, not {other}://"),
            ))
        }
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid(
            field,
            "must not hold credentials: put them in the user name and password fields",
        ));
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| Error::invalid(field, "must name the broker's host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid(
            field,
            "must be only the broker's address (scheme, host and port), without a path",
        ));
    }
    let port = url.port().unwrap_or(if tls { 8883 } else { 1883 });
    Ok(Broker { tls, host, port })
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn certs_of(pem: &str, field: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::invalid(field, "is not a PEM certificate"))?;
    if certs.is_empty() {
        return Err(Error::invalid(
            field,
            "holds no certificate (-----BEGIN CERTIFICATE-----)",
        ));
    }
    Ok(certs)
}

fn key_of(pem: &str, field: &str) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|_| {
        Error::invalid(
            field,
            "is not a PEM private key (PKCS#8, PKCS#1 or SEC1); an encrypted key must be decrypted first",
        )
    })
}

fn text(v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Checks `input` against what is stored and returns the row to store (secrets sealed).
pub fn validate(
    input: &LinkInput,
    stored: Option<&LinkSettingsRow>,
    secrets: &SecretBox,
) -> Result<LinkSettingsRow> {
    let broker_url = input.broker_url.trim().to_string();
    let device_id = input.device_id.trim().to_string();
    let broker = if broker_url.is_empty() {
        if input.enabled {
            return Err(Error::invalid("broker_url", "is required to connect"));
        }
        None
    } else {
        Some(parse_broker_url(&broker_url)?)
    };
    if device_id.is_empty() {
        if input.enabled {
            return Err(Error::invalid("device_id", "is required to connect"));
        }
    } else if !valid_device_id(&device_id) {
        return Err(Error::invalid(
            "device_id",
            "may hold only letters, digits, '-', '_' and '.', start with a letter or digit, and be at most 64 long",
        ));
    }
    let username = text(input.username.as_deref());
    if username.as_ref().is_some_and(|u| u.len() > 256) {
        return Err(Error::invalid("username", "is longer than 256 characters"));
    }
    let password_enc = match input.password.as_deref() {
        None => stored.and_then(|s| s.password_enc.clone()),
        Some("") => None,
        Some(p) if p.len() > 1024 => {
            return Err(Error::invalid("password", "is longer than 1024 characters"))
        }
        Some(p) => Some(secrets.seal(&Secret::new(p))),
    };
    if password_enc.is_some() && username.is_none() {
        return Err(Error::invalid(
            "username",
            "is required with a password (MQTT sends no password without a user name)",
        ));
    }
    let (client_cert_pem, client_key_enc) = match input.client_cert_pem.as_deref() {
        Some(c) if c.trim().is_empty() => (None, None),
        Some(c) => {
            certs_of(c, "client_cert_pem")?;
            let key = match input.client_key_pem.as_deref().map(str::trim) {
                Some(k) if !k.is_empty() => {
                    key_of(k, "client_key_pem")?;
                    Some(secrets.seal(&Secret::new(k)))
                }
                _ => stored.and_then(|s| s.client_key_enc.clone()),
            };
            (Some(c.trim().to_string()), key)
        }
        None => {
            let cert = stored.and_then(|s| s.client_cert_pem.clone());
            let key = match input.client_key_pem.as_deref().map(str::trim) {
                Some("") => None,
                Some(k) => {
                    key_of(k, "client_key_pem")?;
                    Some(secrets.seal(&Secret::new(k)))
                }
                None => stored.and_then(|s| s.client_key_enc.clone()),
            };
            (cert, key)
        }
    };
    match (&client_cert_pem, &client_key_enc) {
        (Some(_), None) => {
            return Err(Error::invalid(
                "client_key_pem",
                "is required with a client certificate",
            ))
        }
        (None, Some(_)) => {
            return Err(Error::invalid(
                "client_cert_pem",
                "is required with a client key",
            ))
        }
        _ => {}
    }
    let ca_cert_pem = text(input.ca_cert_pem.as_deref());
    if let Some(ca) = &ca_cert_pem {
        // Parsed as X.509 now, not at the first connection: a PEM armour around anything
        // else is refused here with the field.
        let mut roots = rustls::RootCertStore::empty();
        for c in certs_of(ca, "ca_cert_pem")? {
            roots
                .add(c)
                .map_err(|_| Error::invalid("ca_cert_pem", "is not a usable CA certificate"))?;
        }
    }
    if let Some(b) = &broker {
        if !b.tls {
            if client_cert_pem.is_some() || ca_cert_pem.is_some() {
                return Err(Error::invalid(
                    "broker_url",
                    "must be mqtts:// to use certificates",
                ));
            }
            if password_enc.is_some() && !is_loopback(&b.host) {
                return Err(Error::invalid(
                    "broker_url",
                    "must be mqtts:// to send a password: mqtt:// would send it in clear",
                ));
            }
        }
    }
    let metrics_interval_s = input
        .metrics_interval_s
        .unwrap_or(DEFAULT_METRICS_INTERVAL_S);
    if !(1..=3600).contains(&metrics_interval_s) {
        return Err(Error::invalid(
            "metrics_interval_s",
            "must be between 1 and 3600 seconds",
        ));
    }
    Ok(LinkSettingsRow {
        enabled: input.enabled,
        broker_url,
        device_id,
        username,
        password_enc,
        client_cert_pem,
        client_key_enc,
        ca_cert_pem,
        metrics_interval_s,
        updated_at: String::new(),
    })
}

/// Everything one connection is made from, secrets opened.
pub struct ConnectConfig {
    pub broker: Broker,
    pub device_id: String,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Present for mqtts://.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub metrics_interval_s: u64,
}

/// Builds what a connection needs from the stored settings; fails with a message that can be
/// shown (never a secret).
pub fn connect_config(row: &LinkSettingsRow, secrets: &SecretBox) -> Result<ConnectConfig> {
    let broker = parse_broker_url(&row.broker_url)?;
    let password = row
        .password_enc
        .as_deref()
        .map(|p| secrets.open(p))
        .transpose()?;
    let tls = if broker.tls {
        let key = row
            .client_key_enc
            .as_deref()
            .map(|k| secrets.open(k))
            .transpose()?;
        Some(Arc::new(tls_config(
            row.ca_cert_pem.as_deref(),
            row.client_cert_pem.as_deref().zip(key.as_ref()),
        )?))
    } else {
        None
    };
    Ok(ConnectConfig {
        broker,
        device_id: row.device_id.clone(),
        username: row.username.clone(),
        password,
        tls,
        metrics_interval_s: row.metrics_interval_s.clamp(1, 3600) as u64,
    })
}

/// TLS 1.2+ verifying the broker's certificate and name against `ca` (else the system's root
/// certificates), with a client certificate when one is given.
pub fn tls_config(
    ca: Option<&str>,
    client: Option<(&str, &Secret)>,
) -> Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(pem) => {
            for c in certs_of(pem, "ca_cert_pem")? {
                roots
                    .add(c)
                    .map_err(|_| Error::invalid("ca_cert_pem", "is not a usable CA certificate"))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(Error::invalid(
                    "ca_cert_pem",
                    "this system has no root certificates (install ca-certificates) and no CA certificate is set",
                ));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(Error::internal)?
        .with_root_certificates(roots);
    match client {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                certs_of(cert, "client_cert_pem")?,
                key_of(key.expose(), "client_key_pem")?,
            )
            .map_err(|_| {
                Error::invalid(
                    "client_key_pem",
                    "does not go with the client certificate, or is of a kind TLS cannot use",
                )
            }),
        None => Ok(builder.with_no_client_auth()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(url: &str) -> LinkInput {
        LinkInput {
            enabled: true,
            broker_url: url.into(),
            device_id: "dock".into(),
            username: None,
            password: None,
            client_cert_pem: None,
            client_key_pem: None,
            ca_cert_pem: None,
            metrics_interval_s: None,
        }
    }

    #[test]
    fn broker_urls_are_checked() {
        assert_eq!(
            parse_broker_url("mqtts://b.example").unwrap(),
            Broker {
                tls: true,
                host: "b.example".into(),
                port: 8883
            }
        );
        assert_eq!(
            parse_broker_url("mqtt://127.0.0.1:1999").unwrap().port,
            1999
        );
        assert_eq!(parse_broker_url("mqtts://[::1]:8884").unwrap().host, "::1");
        for (bad, want) in [
            ("https://b", "must start with mqtts://"),
            ("mqtts://u:p@b", "credentials"),
            ("mqtts://b/topic", "without a path"),
            ("b.example", "must be a URL"),
        ] {
            let e = parse_broker_url(bad).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("broker_url"));
            assert!(e.message.contains(want), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn secrets_are_sealed_kept_and_removed() {
        let sb = SecretBox::from_key(&[7; 32]);
        let mut i = input("mqtts://b");
        i.username = Some("dock".into());
        i.password = Some("pw-123".into());
        let row = validate(&i, None, &sb).unwrap();
        let sealed = row.password_enc.clone().unwrap();
        assert!(!sealed.contains("pw-123"));
        assert_eq!(sb.open(&sealed).unwrap().expose(), "pw-123");
        i.password = None;
        assert_eq!(
            validate(&i, Some(&row), &sb).unwrap().password_enc,
            Some(sealed)
        );
        i.password = Some(String::new());
        assert_eq!(validate(&i, Some(&row), &sb).unwrap().password_enc, None);
        // Without a user name, or in clear to another host: refused.
        let mut i = input("mqtts://b");
        i.password = Some("x".into());
        assert_eq!(
            validate(&i, None, &sb).unwrap_err().field.as_deref(),
            Some("username")
        );
        let mut i = input("mqtt://b");
        i.username = Some("u".into());
        i.password = Some("x".into());
        assert_eq!(
            validate(&i, None, &sb).unwrap_err().field.as_deref(),
            Some("broker_url")
        );
        let mut i = input("mqtt://127.0.0.1");
        i.username = Some("u".into());
        i.password = Some("x".into());
        assert!(validate(&i, None, &sb).is_ok());
    }

    #[test]
    fn other_fields_are_checked() {
        let sb = SecretBox::from_key(&[7; 32]);
        let mut i = input("mqtts://b");
        i.device_id = "a/b".into();
        assert_eq!(
            validate(&i, None, &sb).unwrap_err().field.as_deref(),
            Some("device_id")
        );
        let mut i = input("mqtts://b");
        i.ca_cert_pem = Some("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----".into());
        assert_eq!(
            validate(&i, None, &sb).unwrap_err().field.as_deref(),
            Some("ca_cert_pem")
        );
        let mut i = input("mqtts://b");
        i.metrics_interval_s = Some(0);
        assert_eq!(
            validate(&i, None, &sb).unwrap_err().field.as_deref(),
            Some("metrics_interval_s")
        );
        let mut i = input("");
        assert_eq!(
            validate(&i, None, &sb).unwrap_err().field.as_deref(),
            Some("broker_url")
        );
        i.enabled = false;
        i.device_id = String::new();
        assert!(
            validate(&i, None, &sb).is_ok(),
            "an empty form can be saved switched off"
        );
    }
}
