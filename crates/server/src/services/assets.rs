//! The image assets overlays show. Assets are stored once per content: the bytes under
//! `<data_dir>/assets/<sha256>`, written atomically, so the same logo uploaded twice or pushed
//! again by VistterStudio is one asset.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use vs_base::{Error, Result};
use vs_db::timelines::{AssetRow, AssetWrite};
use vs_db::Db;

use super::overlays::quoted;
use super::{validate, Infra};

/// Largest asset accepted: overlays are logos and banners, and every byte is decoded into the
/// program's memory on a Pi.
pub const MAX_ASSET_BYTES: usize = 10 * 1024 * 1024;

/// An uploaded file as the API shows it; `url` serves its bytes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Asset {
    pub id: i64,
    pub name: String,
    /// `image`
    pub kind: String,
    #[schema(example = "image/png")]
    pub mime: String,
    pub sha256: String,
    pub size: i64,
    pub created_at: String,
    #[schema(example = "/api/assets/1")]
    pub url: String,
}

impl From<AssetRow> for Asset {
    fn from(r: AssetRow) -> Self {
        Asset {
            url: format!("/api/assets/{}", r.id),
            id: r.id,
            name: r.name,
            kind: r.kind,
            mime: r.mime,
            sha256: r.sha256,
            size: r.size,
            created_at: r.created_at,
        }
    }
}

/// A file received by the web layer, not yet checked.
#[derive(Debug, Clone)]
pub struct AssetUpload {
    pub name: Option<String>,
    /// What the client said the file is; checked against the bytes.
    pub mime: Option<String>,
    pub bytes: bytes::Bytes,
}

/// An asset checked and hashed, ready to be stored.
#[derive(Debug, Clone)]
pub struct CheckedAsset {
    pub name: String,
    pub mime: &'static str,
    pub sha256: String,
    pub bytes: bytes::Bytes,
}

impl CheckedAsset {
    pub fn write(&self) -> AssetWrite {
        AssetWrite {
            name: self.name.clone(),
            kind: "image".into(),
            mime: self.mime.into(),
            sha256: self.sha256.clone(),
            size: self.bytes.len() as i64,
        }
    }
}

/// What the bytes are, from their first bytes: a client's Content-Type is only a claim, and
/// the program will decode whatever is stored.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some("image/png");
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some("image/jpeg");
    }
    let head = &bytes[..bytes.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if (t.starts_with("<?xml") || t.starts_with("<svg") || t.starts_with("<!--"))
        && text.contains("<svg")
    {
        return Some("image/svg+xml");
    }
    None
}

fn normalize_mime(m: &str) -> String {
    let m = m
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match m.as_str() {
        "image/jpg" | "image/pjpeg" => "image/jpeg".into(),
        "image/svg" => "image/svg+xml".into(),
        _ => m,
    }
}

fn extension(mime: &str) -> &'static str {
    match mime {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        _ => "svg",
    }
}

/// Checks an asset: size, type (declared and actual must agree), name. `field` names the part
/// of the request that carried the bytes.
pub fn check_asset(upload: AssetUpload, field: &str, name_field: &str) -> Result<CheckedAsset> {
    if upload.bytes.is_empty() {
        return Err(Error::invalid(field, "the file is empty"));
    }
    if upload.bytes.len() > MAX_ASSET_BYTES {
        return Err(Error::invalid(
            field,
            format!(
                "the file is {:.1} MiB; assets may be at most {} MiB",
                upload.bytes.len() as f64 / (1024.0 * 1024.0),
                MAX_ASSET_BYTES / (1024 * 1024)
            ),
        ));
    }
    let actual = sniff(&upload.bytes)
        .ok_or_else(|| Error::invalid(field, "must be a PNG, JPEG or SVG image"))?;
    if let Some(declared) = upload.mime.as_deref().map(normalize_mime) {
        let generic = declared.is_empty()
            || declared == "application/octet-stream"
            || declared == "multipart/form-data";
        if !generic && declared != actual {
            if !matches!(
                declared.as_str(),
                "image/png" | "image/jpeg" | "image/svg+xml"
            ) {
                return Err(Error::invalid(
                    field,
                    format!(
                        "'{declared}' is not accepted: send image/png, image/jpeg or image/svg+xml"
                    ),
                ));
            }
            return Err(Error::invalid(
                field,
                format!("the file is {actual} but was sent as {declared}"),
            ));
        }
    }
    let sha256 = hex::encode(Sha256::digest(&upload.bytes));
    let name = match upload
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        // A browser may send a full path as the file name; only the last part names it.
        Some(n) => validate::name(name_field, n.rsplit(['/', '\\']).next().unwrap_or(n), 200)?,
        None => format!("asset-{}.{}", &sha256[..8], extension(actual)),
    };
    Ok(CheckedAsset {
        name,
        mime: actual,
        sha256,
        bytes: upload.bytes,
    })
}

/// Where the bytes of assets live.
pub fn asset_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("assets")
}

fn asset_path(data_dir: &Path, sha256: &str) -> PathBuf {
    asset_dir(data_dir).join(sha256)
}

/// Stores the bytes under their checksum unless they are already there. Returns whether a file
/// was written, so a caller whose transaction fails can remove what it added. The temporary
/// file and the rename keep a reader (or a crash) from ever seeing half a file.
pub async fn store_asset_file(data_dir: &Path, asset: &CheckedAsset) -> Result<bool> {
    let dir = asset_dir(data_dir);
    let path = asset_path(data_dir, &asset.sha256);
    let bytes = asset.bytes.clone();
    let sha = asset.sha256.clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<bool> {
        use std::io::Write;
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64) {
            return Ok(false);
        }
        std::fs::create_dir_all(&dir)?;
        let tmp = dir.join(format!(".{sha}.{:016x}.tmp", rand::random::<u64>()));
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            // The rename is durable only once the directory is.
            if let Ok(d) = std::fs::File::open(&dir) {
                let _ = d.sync_all();
            }
            Ok(true)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    })
    .await
    .map_err(Error::internal)?
    .map_err(Error::internal)
}

/// Uploaded images, stored once per content under `<data_dir>/assets/<sha256>`.
pub struct AssetService {
    db: Db,
    data_dir: PathBuf,
}

impl AssetService {
    pub fn new(infra: &Infra) -> Self {
        AssetService {
            db: infra.db.clone(),
            data_dir: infra.config.data_dir.clone(),
        }
    }

    /// Stores the bytes of a checked asset unless they are there already; `true` when a file
    /// was written (see [`store_asset_file`]).
    pub async fn store_file(&self, asset: &CheckedAsset) -> Result<bool> {
        store_asset_file(&self.data_dir, asset).await
    }

    pub async fn list(&self) -> Result<Vec<Asset>> {
        Ok(self
            .db
            .list_assets()
            .await?
            .into_iter()
            .map(Asset::from)
            .collect())
    }

    /// An asset and its bytes.
    pub async fn content(&self, id: i64) -> Result<(Asset, Vec<u8>)> {
        let row = self.db.asset(id).await?;
        let path = asset_path(&self.data_dir, &row.sha256);
        let bytes = tokio::fs::read(&path).await.map_err(|e| {
            Error::internal(anyhow::Error::new(e).context(format!("reading {}", path.display())))
        })?;
        Ok((row.into(), bytes))
    }

    /// Stores an upload; the same bytes again give the same asset (`false`: nothing new).
    pub async fn upload(&self, upload: AssetUpload, user_id: Option<i64>) -> Result<(Asset, bool)> {
        let asset = check_asset(upload, "file", "name")?;
        let wrote = self.store_file(&asset).await?;
        let stored = async {
            let mut tx = self.db.catalog_tx().await?;
            let (row, created) = tx.insert_asset(&asset.write()).await?;
            if created {
                tx.audit(user_id, "asset_created", Some(&row.name), Some(&row.sha256))
                    .await?;
            }
            tx.commit().await?;
            Ok::<_, Error>((row, created))
        }
        .await;
        match stored {
            Ok((row, created)) => Ok((row.into(), created)),
            Err(e) => {
                if wrote {
                    self.remove_unreferenced_file(&asset.sha256).await;
                }
                Err(e)
            }
        }
    }

    /// Removes an asset file that no row refers to (after a failed write, or a delete).
    pub async fn remove_unreferenced_file(&self, sha256: &str) {
        if matches!(self.db.asset_by_sha256(sha256).await, Ok(None)) {
            let path = asset_path(&self.data_dir, sha256);
            if let Err(e) = tokio::fs::remove_file(&path).await {
                tracing::warn!(error = %e, path = %path.display(), "could not remove an asset file");
            }
        }
    }

    /// Deletes an asset no overlay shows (409 otherwise, naming the overlays).
    pub async fn delete(&self, id: i64, user_id: Option<i64>) -> Result<()> {
        let users = self.db.overlays_using_asset(id).await?;
        if !users.is_empty() {
            return Err(Error::conflict(format!(
                "the asset is shown by the overlay{} {}; change or delete {} first",
                if users.len() == 1 { "" } else { "s" },
                quoted(&users),
                if users.len() == 1 { "it" } else { "them" }
            )));
        }
        let row = self.db.delete_asset(id).await?;
        self.remove_unreferenced_file(&row.sha256).await;
        self.db
            .audit(user_id, "asset_deleted", Some(&row.name), Some(&row.sha256))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    fn upload(bytes: &[u8], mime: Option<&str>) -> AssetUpload {
        AssetUpload {
            name: Some("C:\\logos\\marina.png".into()),
            mime: mime.map(str::to_string),
            bytes: bytes::Bytes::copy_from_slice(bytes),
        }
    }

    #[test]
    fn the_bytes_decide_the_type() {
        let a = check_asset(upload(PNG, Some("image/png")), "file", "name").unwrap();
        assert_eq!(a.mime, "image/png");
        assert_eq!(a.name, "marina.png");
        assert_eq!(a.sha256.len(), 64);
        let a = check_asset(upload(PNG, None), "file", "name").unwrap();
        assert_eq!(a.mime, "image/png");
        let e = check_asset(upload(PNG, Some("image/jpeg")), "file", "name").unwrap_err();
        assert!(e.message.contains("was sent as image/jpeg"), "{e}");
        let e = check_asset(upload(b"GIF89a", Some("image/gif")), "file", "name").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("file"));
        let svg = b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>";
        assert_eq!(
            check_asset(upload(svg, Some("image/svg+xml")), "f", "n")
                .unwrap()
                .mime,
            "image/svg+xml"
        );
        let big = vec![0u8; MAX_ASSET_BYTES + 1];
        assert!(check_asset(upload(&big, None), "file", "name").is_err());
    }
}
