//! TIMELINE_LOAD: the images its manifest lists are fetched over HTTP(S), each checked against
//! its SHA-256 (and size) before anything is stored, then everything goes through the same
//! sync as `POST /api/overlays/sync` (one transaction, all or nothing). Errors name the element
//! of the command (`segments[0].tracks[1]…`, `assets_manifest[2].sha256`).

use std::time::Duration;

use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use vs_base::{Error, Result};

use super::commands::TimelineLoad;
use super::contract;
use super::LinkService;
use crate::services::assets::MAX_ASSET_BYTES;
use crate::services::timelines::{SyncAsset, SyncInput};

/// One image of a TIMELINE_LOAD: where to fetch it and what it must be.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    /// The studio's asset id (what segments put in `asset.path`).
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub mime: Option<String>,
    /// The studio's path of the file (`/uploads/logo.png`), another name segments use.
    #[serde(default)]
    pub path: Option<String>,
    /// http:// or https:// (verified like the broker: the link's CA, else the system's roots).
    pub url: String,
    /// Lowercase or uppercase hex SHA-256 of the file.
    pub sha256: String,
    #[serde(default)]
    pub size: Option<u64>,
}

const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

fn check_entry(i: usize, e: &ManifestEntry) -> Result<url::Url> {
    let url = url::Url::parse(e.url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| {
            Error::invalid(
                format!("assets_manifest[{i}].url"),
                "must be an http:// or https:// URL",
            )
        })?;
    if e.sha256.len() != 64 || !e.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::invalid(
            format!("assets_manifest[{i}].sha256"),
            "must be the 64 hex digits of the file's SHA-256",
        ));
    }
    if e.size.is_some_and(|s| s as usize > MAX_ASSET_BYTES) {
        return Err(Error::invalid(
            format!("assets_manifest[{i}].size"),
            format!(
                "assets may be at most {} MiB",
                MAX_ASSET_BYTES / (1024 * 1024)
            ),
        ));
    }
    Ok(url)
}

/// Renames the fields of a sync error to the command's: segments for timelines, the manifest
/// for assets (whose bytes came from its URL).
fn command_field(field: &str) -> String {
    if let Some(rest) = field.strip_prefix("timelines[") {
        return format!("segments[{rest}");
    }
    if let Some(rest) = field.strip_prefix("assets[") {
        let rest = rest.replace("].data_base64", "].url");
        return format!("assets_manifest[{rest}");
    }
    field.to_string()
}

impl LinkService {
    pub(super) async fn timeline_load(
        &self,
        message_id: &str,
        load: TimelineLoad,
    ) -> Result<Value> {
        let urls = load
            .assets_manifest
            .iter()
            .enumerate()
            .map(|(i, e)| check_entry(i, e))
            .collect::<Result<Vec<_>>>()?;
        let mut assets = Vec::with_capacity(urls.len());
        if !urls.is_empty() {
            let client = self.http_client()?;
            let total = urls.len();
            for (i, (url, entry)) in urls.into_iter().zip(&load.assets_manifest).enumerate() {
                let bytes = fetch(&client, url, entry, i).await?;
                assets.push(SyncAsset {
                    id: entry.id.clone(),
                    name: entry.name.clone(),
                    mime: entry.mime.clone(),
                    data_base64: base64::engine::general_purpose::STANDARD.encode(&bytes),
                    path: entry.path.clone(),
                });
                self.progress(
                    message_id,
                    json!({"state": "fetching_assets", "percent_complete": ((i + 1) * 100 / total) as u64,
                           "detail": {"fetched": i + 1, "total": total}}),
                )
                .await?;
            }
        }
        let input = SyncInput {
            assets,
            overlays: load.overlays,
            timelines: load.segments,
        };
        let result = self
            .targets
            .timelines
            .sync(input, load.create_cameras, None)
            .await
            .map_err(|mut e| {
                e.field = e.field.as_deref().map(command_field);
                if let Some(f) = &e.field {
                    tracing::debug!(field = %f, "TIMELINE_LOAD refused");
                }
                e
            })?;
        serde_json::to_value(&result).map_err(Error::internal)
    }

    /// A PROGRESS reply to `message_id`.
    async fn progress(&self, message_id: &str, payload: Value) -> Result<()> {
        let Some(device) = self.active_device() else {
            return Ok(());
        };
        let m = contract::message(&device, "PROGRESS", Some(message_id), payload);
        self.enqueue("ack", &m).await
    }

    /// The client assets are fetched with: the link's CA trusted too (a studio's asset server
    /// may be signed by the same private CA as its broker), no proxy, bounded redirects.
    fn http_client(&self) -> Result<reqwest::Client> {
        let mut b = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::limited(3))
            .no_proxy();
        let ca = self
            .current
            .read()
            .expect("link settings lock")
            .as_ref()
            .and_then(|c| c.ca_cert_pem.clone());
        if let Some(pem) = ca {
            for cert in reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|_| Error::invalid("ca_cert_pem", "is not a PEM certificate"))?
            {
                b = b.add_root_certificate(cert);
            }
        }
        b.build().map_err(Error::internal)
    }
}

async fn fetch(
    client: &reqwest::Client,
    url: url::Url,
    entry: &ManifestEntry,
    i: usize,
) -> Result<Vec<u8>> {
    let field = format!("assets_manifest[{i}].url");
    let shown = {
        // Only scheme, host and path: a signed URL's query is a credential.
        let mut u = url.clone();
        u.set_query(None);
        let _ = u.set_username("");
        let _ = u.set_password(None);
        u.to_string()
    };
    let fail =
        |what: String| Error::invalid(&field, format!("{shown} could not be fetched: {what}"));
    let mut resp = client.get(url).send().await.map_err(|e| {
        fail(if e.is_timeout() {
            "timed out".into()
        } else if e.is_connect() {
            "no connection".into()
        } else {
            "request failed".into()
        })
    })?;
    if !resp.status().is_success() {
        return Err(fail(format!("HTTP {}", resp.status().as_u16())));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|_| fail("the transfer broke off".into()))?
    {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_ASSET_BYTES {
            return Err(fail(format!(
                "larger than {} MiB",
                MAX_ASSET_BYTES / (1024 * 1024)
            )));
        }
    }
    if let Some(size) = entry.size {
        if size != bytes.len() as u64 {
            return Err(Error::invalid(
                format!("assets_manifest[{i}].size"),
                format!("is {size} but {} bytes were fetched", bytes.len()),
            ));
        }
    }
    let got = hex::encode(Sha256::digest(&bytes));
    if !got.eq_ignore_ascii_case(&entry.sha256) {
        return Err(Error::invalid(
            format!("assets_manifest[{i}].sha256"),
            format!(
                "does not match the file fetched from {shown} (its SHA-256 is {got}): nothing was stored"
            ),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_fields_become_the_commands() {
        assert_eq!(
            command_field("timelines[0].tracks[1].clips[1].endTime"),
            "segments[0].tracks[1].clips[1].endTime"
        );
        assert_eq!(
            command_field("assets[2].data_base64"),
            "assets_manifest[2].url"
        );
        assert_eq!(command_field("assets[2].name"), "assets_manifest[2].name");
        assert_eq!(command_field("overlays[0].kind"), "overlays[0].kind");
    }

    #[test]
    fn manifest_entries_are_checked_before_any_fetch() {
        let e = |url: &str, sha: &str| ManifestEntry {
            id: None,
            name: "a.png".into(),
            mime: None,
            path: None,
            url: url.into(),
            sha256: sha.into(),
            size: None,
        };
        let sha = "a".repeat(64);
        assert!(check_entry(0, &e("https://cdn.example/a.png", &sha)).is_ok());
        assert_eq!(
            check_entry(1, &e("file:///etc/passwd", &sha))
                .unwrap_err()
                .field
                .as_deref(),
            Some("assets_manifest[1].url")
        );
        assert_eq!(
            check_entry(0, &e("https://cdn.example/a.png", "abc"))
                .unwrap_err()
                .field
                .as_deref(),
            Some("assets_manifest[0].sha256")
        );
    }
}
