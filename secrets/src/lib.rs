//! The Space master key (encrypts sensitive values at rest) and API key generation/hashing.

use std::io::Write;
use std::path::Path;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

/// Version byte at the front of every sealed value, so the scheme can change later.
const SEAL_V1: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read or write key file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("key file {path} is not a valid master key (expected 32 bytes)")]
    BadKeyFile { path: String },
    #[error(
        "a sensitive value could not be decrypted: it was encrypted with another master key or was altered"
    )]
    Decrypt,
    #[error("the system random number generator failed")]
    Random,
    #[error("password hashing failed: {0}")]
    Crypto(String),
}

/// A symmetric key (AES-256-GCM) owned by one process, stored in a 0600 file in its data directory.
pub struct MasterKey {
    key: LessSafeKey,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(********)")
    }
}

impl MasterKey {
    /// Loads the key from `path`, creating it (mode 0600) if it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, SecretError> {
        let io = |source| SecretError::Io {
            path: path.display().to_string(),
            source,
        };
        if path.exists() {
            let bytes = std::fs::read(path).map_err(io)?;
            return Self::from_bytes(&bytes).ok_or(SecretError::BadKeyFile {
                path: path.display().to_string(),
            });
        }
        let mut bytes = [0u8; 32];
        random_bytes(&mut bytes)?;
        write_private_file(path, &bytes).map_err(io)?;
        Self::from_bytes(&bytes).ok_or(SecretError::BadKeyFile {
            path: path.display().to_string(),
        })
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 32 {
            return None;
        }
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).ok()?;
        Some(Self {
            key: LessSafeKey::new(unbound),
        })
    }

    /// Encrypts `plaintext`; `context` (e.g. the variable's project and name) is bound as
    /// associated data so a ciphertext cannot be moved to another record.
    pub fn seal(&self, plaintext: &str, context: &str) -> Result<Vec<u8>, SecretError> {
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce)?;
        let mut buf = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .map_err(|_| SecretError::Decrypt)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
        out.push(SEAL_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Decrypts a value produced by [`MasterKey::seal`] with the same `context`.
    pub fn open(&self, sealed: &[u8], context: &str) -> Result<String, SecretError> {
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != SEAL_V1 {
            return Err(SecretError::Decrypt);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&sealed[1..1 + NONCE_LEN]);
        let mut buf = sealed[1 + NONCE_LEN..].to_vec();
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .map_err(|_| SecretError::Decrypt)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SecretError::Decrypt)
    }
}

/// Fills `buf` from the system CSPRNG.
pub mod password;

pub fn random_bytes(buf: &mut [u8]) -> Result<(), SecretError> {
    SystemRandom::new()
        .fill(buf)
        .map_err(|_| SecretError::Random)
}

/// A new API key: `dk_` followed by 40 hex characters (160 random bits).
pub fn new_api_key() -> Result<String, SecretError> {
    let mut b = [0u8; 20];
    random_bytes(&mut b)?;
    Ok(format!("dk_{}", hex::encode(b)))
}

/// The stored form of an API key: hex SHA-256. Keys themselves are never stored.
pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Writes `bytes` to `path` atomically with mode 0600 (owner read/write only).
pub fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
#[path = "tests/secrets.rs"]
mod tests;
