//! Writing a backup: a consistent snapshot of the database (`VACUUM INTO`), the key and the
//! assets in a `.tar.gz` whose first entry is the manifest, written under a temporary name and
//! renamed once complete.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use vs_base::{Error, Result};
use vs_db::sqlx::Connection;

use super::{
    check_database, fail, io_fail, open_read_only, sha256_file, sync_dir, Manifest, ASSETS_DIR,
    DB_NAME, FORMAT, FORMAT_VERSION, KEY_NAME, MANIFEST_NAME,
};

/// Writes a backup of `data_dir` to `out`. Safe while the appliance runs: takes no lock and
/// only reads. The archive appears under its final name only once complete.
pub async fn backup(data_dir: &Path, out: &Path) -> Result<Manifest> {
    let db_path = data_dir.join(DB_NAME);
    if !db_path.is_file() {
        return Err(fail(format!(
            "no database at {}: is the data directory right (--data-dir or VS_DATA_DIR)?",
            db_path.display()
        )));
    }
    let out_dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // The snapshot is staged beside the output, not in /tmp: on a Pi /tmp may be a small tmpfs.
    let staging = tempfile::Builder::new()
        .prefix(".vistterstream-backup-")
        .tempdir_in(&out_dir)
        .map_err(|e| io_fail(format!("cannot write in {}", out_dir.display()), e))?;
    let snapshot = staging.path().join(DB_NAME);

    let mut conn = open_read_only(&db_path).await?;
    vs_db::sqlx::query("VACUUM INTO ?")
        .bind(snapshot.to_string_lossy().into_owned())
        .execute(&mut conn)
        .await
        .map_err(|e| fail(format!("the database snapshot failed: {e}")))?;
    let _ = conn.close().await;
    let schema_version = check_database(&snapshot).await?;

    // The key is read once into memory: what is hashed is what is archived.
    let key = match fs::read(data_dir.join(KEY_NAME)) {
        Ok(k) => Some(k),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            tracing::warn!("no secret key in the data directory; stored secrets will not decrypt");
            None
        }
        Err(e) => return Err(io_fail("cannot read the secret key", e)),
    };
    let assets = list_assets(&data_dir.join(ASSETS_DIR))?;
    let manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        app_version: env!("CARGO_PKG_VERSION").into(),
        schema_version,
        created_at: vs_db::now(),
        database_sha256: sha256_file(&snapshot)?,
        has_secret_key: key.is_some(),
        asset_files: assets.len() as u64,
    };

    let partial = staging.path().join("archive.partial");
    write_archive(
        &partial,
        &manifest,
        &snapshot,
        key.as_deref(),
        data_dir,
        &assets,
    )?;
    fs::rename(&partial, out)
        .map_err(|e| io_fail(format!("cannot create {}", out.display()), e))?;
    sync_dir(&out_dir);
    Ok(manifest)
}

/// Every regular file under `assets/`, as paths relative to the data directory. Symlinks are
/// skipped: a backup must not pull in files from outside the data directory.
fn list_assets(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    let mut stack = vec![PathBuf::from(ASSETS_DIR)];
    let root = dir.parent().unwrap_or(Path::new("."));
    while let Some(rel) = stack.pop() {
        let entries = fs::read_dir(root.join(&rel))
            .map_err(|e| io_fail(format!("cannot list {}", rel.display()), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_fail("cannot list the assets", e))?;
            let kind = entry
                .file_type()
                .map_err(|e| io_fail("cannot list the assets", e))?;
            let child = rel.join(entry.file_name());
            if kind.is_dir() {
                stack.push(child);
            } else if kind.is_file() {
                out.push(child);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn write_archive(
    path: &Path,
    manifest: &Manifest,
    snapshot: &Path,
    key: Option<&[u8]>,
    data_dir: &Path,
    assets: &[PathBuf],
) -> Result<()> {
    let file = private_file(path)?;
    let gz = GzEncoder::new(BufWriter::new(file), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let err = |e: io::Error| io_fail("cannot write the backup", e);

    let json = serde_json::to_vec_pretty(manifest).map_err(Error::internal)?;
    append_bytes(&mut tar, MANIFEST_NAME, &json, 0o644).map_err(err)?;
    let mut db = File::open(snapshot).map_err(err)?;
    tar.append_file(DB_NAME, &mut db).map_err(err)?;
    if let Some(key) = key {
        append_bytes(&mut tar, KEY_NAME, key, 0o600).map_err(err)?;
    }
    for rel in assets {
        append_asset(&mut tar, data_dir, rel)?;
    }
    let gz = tar.into_inner().map_err(err)?;
    let buf = gz.finish().map_err(err)?;
    let file = buf.into_inner().map_err(|e| err(e.into_error()))?;
    file.sync_all().map_err(err)?;
    Ok(())
}

pub(super) fn append_bytes<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    data: &[u8],
    mode: u32,
) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    );
    h.set_cksum();
    tar.append_data(&mut h, name, data)
}

/// An asset may be replaced while the appliance runs; the size is taken from the open file and
/// exactly that many bytes are archived, so a file that shrinks fails the backup instead of
/// producing a corrupt archive. A file removed meanwhile is skipped.
fn append_asset<W: Write>(tar: &mut tar::Builder<W>, data_dir: &Path, rel: &Path) -> Result<()> {
    let file = match File::open(data_dir.join(rel)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_fail(format!("cannot read {}", rel.display()), e)),
    };
    let meta = file.metadata().map_err(|e| io_fail(rel.display(), e))?;
    let mut h = tar::Header::new_gnu();
    h.set_metadata(&meta);
    h.set_size(meta.len());
    let mut reader = ExactReader {
        inner: file.take(meta.len()),
        left: meta.len(),
    };
    tar.append_data(&mut h, rel, &mut reader).map_err(|e| {
        io_fail(
            format!("{} changed during the backup; run it again", rel.display()),
            e,
        )
    })
}

/// Fails instead of ending early, so the archive never holds fewer bytes than its header says.
struct ExactReader<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while being read",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn private_file(path: &Path) -> Result<File> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
        .map_err(|e| io_fail(format!("cannot create {}", path.display()), e))
}
