//! Secrets at rest: camera passwords and stream keys are sealed with XChaCha20-Poly1305 under a
//! key file kept in the data directory (mode 0600). `Secret` never prints its content, so a
//! secret cannot leak through `Debug` or a log line by accident.

use std::fmt;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::{Error, Result};

/// A secret value in memory. `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The clear text, for the one place that needs it (building an FFmpeg URL, signing SOAP).
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
/// Prefix of sealed values, so the format can change later without guessing.
const PREFIX: &str = "v1:";

/// Seals and opens secrets with the appliance's key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBox(***)")
    }
}

impl SecretBox {
    pub fn from_key(key: &[u8; KEY_LEN]) -> Self {
        SecretBox {
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// Loads the key file, creating it (mode 0600) with a fresh random key on first run.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        match std::fs::read(path) {
            Ok(bytes) => {
                let key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
                    Error::internal(anyhow::anyhow!(
                        "secret key file {} must hold exactly {KEY_LEN} bytes",
                        path.display()
                    ))
                })?;
                Ok(Self::from_key(&key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; KEY_LEN];
                rand::rngs::OsRng.fill_bytes(&mut key);
                write_private(path, &key)?;
                Ok(Self::from_key(&key))
            }
            Err(e) => Err(Error::internal(e)),
        }
    }

    /// Seals a secret into printable text for a database column.
    pub fn seal(&self, secret: &Secret) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), secret.expose().as_bytes())
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory buffers");
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        format!("{PREFIX}{}", B64.encode(out))
    }

    /// Opens a sealed value. Fails (without revealing anything) if the key is wrong.
    pub fn open(&self, sealed: &str) -> Result<Secret> {
        let fail = || {
            Error::internal(anyhow::anyhow!(
                "a stored secret cannot be decrypted (was the key file replaced?)"
            ))
        };
        let body = sealed.strip_prefix(PREFIX).ok_or_else(fail)?;
        let raw = B64.decode(body).map_err(|_| fail())?;
        if raw.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| fail())?;
        String::from_utf8(plain).map(Secret).map_err(|_| fail())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_nonce_is_fresh() {
        let b = SecretBox::from_key(&[7u8; 32]);
        let s = Secret::new("hunter2");
        let a = b.seal(&s);
        let c = b.seal(&s);
        assert_ne!(a, c, "each seal uses a fresh nonce");
        assert!(!a.contains("hunter2"));
        assert_eq!(b.open(&a).unwrap(), s);
    }

    #[test]
    fn wrong_key_fails_without_leaking() {
        let sealed = SecretBox::from_key(&[1u8; 32]).seal(&Secret::new("topsecret"));
        let err = SecretBox::from_key(&[2u8; 32]).open(&sealed).unwrap_err();
        assert!(!format!("{err:?}").contains("topsecret"));
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let b1 = SecretBox::load_or_create(&path).unwrap();
        let sealed = b1.seal(&Secret::new("x"));
        let b2 = SecretBox::load_or_create(&path).unwrap();
        assert_eq!(b2.open(&sealed).unwrap().expose(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn debug_never_shows_secret() {
        assert_eq!(format!("{:?}", Secret::new("pw")), "Secret(***)");
        assert_eq!(format!("{}", Secret::new("pw")), "***");
    }
}
