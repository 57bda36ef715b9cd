//! Backups of a server's data directory: [`write`] takes a consistent snapshot of the store
//! ([`storage::Store::snapshot`], so it runs while the server serves), the small files of the
//! data directory, private keys only when asked (marked in the header), and the chunk store
//! included or by reference; the file is signed with the server's own key. [`restore`] reads
//! a file once into a staging directory, checks the digest and signature at its end, and only
//! then moves the result into place: a changed file changes nothing.
//!
//! File: zstd of `MAGIC`, then frames `[tag u8][len u32 BE][payload]`: one `H` (header JSON),
//! `R` rows, `F` files, `L` chunk names kept by reference, and one `E` (end JSON: counts,
//! SHA-256 of everything before it, signature over that digest).

pub mod cli;
mod frame;
pub mod marker;
mod restore;
#[cfg(test)]
#[path = "../tests/backup.rs"]
mod tests;

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use storage::Store;

pub use restore::{From as RestoreFrom, Restored, restore};

/// The backup format this build writes and reads.
pub const VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"DPLYBKP1";
/// Directories and files of a data directory never copied as files: the database (its rows
/// are), its position (written anew), scratch space, the control socket.
const SKIPPED: &[&str] = &[
    "db",
    "db.position",
    "tmp",
    "control.sock",
    "chunks",
    marker::FILE,
];

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    #[error("the backup is damaged or was changed: {0}")]
    Damaged(String),
    #[error("{0}")]
    Refused(String),
}

pub(crate) fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.display().to_string();
    move |source| BackupError::Io { what, path, source }
}

/// How the chunk store travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Chunks {
    /// Every chunk file is in the backup.
    Included,
    /// Only the chunk names: copy the `chunks/` directory yourself (its files never change).
    Referenced,
}

/// What a backup holds, first in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// "space" or "odcm".
    pub kind: String,
    pub name: String,
    pub created_at: i64,
    /// True when the private keys are in the file: keep it like a key.
    pub keys_included: bool,
    /// The key files of the data directory left out (needed again at restore).
    pub keys_left_out: Vec<String>,
    pub chunks: Chunks,
    /// The certificate whose key signed the file.
    pub signer_cert_pem: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct End {
    rows: u64,
    files: u64,
    chunks: u64,
    sha256: String,
    signature: String,
}

/// What to back up and how to sign it.
pub struct Plan<'a> {
    pub kind: &'a str,
    pub name: &'a str,
    pub data_dir: &'a Path,
    pub store: &'a dyn Store,
    pub include_keys: bool,
    pub chunks: Chunks,
    /// The certificate and key the file is signed with (the server's own).
    pub signer_cert_pem: &'a str,
    pub signer_key_pem: &'a str,
}

/// What [`write`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub rows: u64,
    pub files: u64,
    pub chunks: u64,
    pub keys_included: bool,
    pub bytes: u64,
}

/// True for a private key file (`*.key`).
pub fn is_key(rel: &str) -> bool {
    rel.ends_with(".key")
}

/// Writes a backup of `plan` to `out` (0600; through a temporary file and a rename).
pub fn write(plan: &Plan<'_>, out: &Path) -> Result<Summary, BackupError> {
    let rows = plan.store.snapshot()?;
    let (files, left_out) = data_files(plan.data_dir, plan.include_keys)?;
    let chunk_root = plan.data_dir.join("chunks");
    let chunk_files = if chunk_root.is_dir() {
        walk(&chunk_root, &[])?
    } else {
        Vec::new()
    };
    let tmp = out.with_extension("partial");
    let file = secrets_file(&tmp)?;
    let mut w = frame::Writer::new(zstd::Encoder::new(file, 3).map_err(io("compress", &tmp))?);
    w.raw(MAGIC).map_err(io("write", &tmp))?;
    let header = Header {
        format: "deploy-backup".into(),
        version: VERSION,
        kind: plan.kind.into(),
        name: plan.name.into(),
        created_at: domain::model::now(),
        keys_included: plan.include_keys,
        keys_left_out: left_out,
        chunks: plan.chunks,
        signer_cert_pem: plan.signer_cert_pem.into(),
    };
    let e = io("write", &tmp);
    w.json(b'H', &header).map_err(e)?;
    for r in &rows {
        w.row(r).map_err(io("write", &tmp))?;
    }
    for rel in &files {
        let path = plan.data_dir.join(rel);
        let bytes = std::fs::read(&path).map_err(io("read", &path))?;
        w.file(rel, mode_of(&path), &bytes)
            .map_err(io("write", &tmp))?;
    }
    for rel in &chunk_files {
        match plan.chunks {
            Chunks::Included => {
                let path = chunk_root.join(rel);
                let bytes = std::fs::read(&path).map_err(io("read", &path))?;
                w.file(&format!("chunks/{rel}"), 0o644, &bytes)
                    .map_err(io("write", &tmp))?;
            }
            Chunks::Referenced => w.frame(b'L', rel.as_bytes()).map_err(io("write", &tmp))?,
        }
    }
    let digest = w.digest();
    let sig = net::pki::sign_with_key(plan.signer_key_pem, &digest)
        .map_err(|e| BackupError::Refused(format!("cannot sign the backup: {e}")))?;
    let end = End {
        rows: rows.len() as u64,
        files: files.len() as u64,
        chunks: chunk_files.len() as u64,
        sha256: hex::encode(digest),
        signature: hex::encode(sig),
    };
    w.json(b'E', &end).map_err(io("write", &tmp))?;
    let (enc, bytes) = w.finish();
    let f = enc.finish().map_err(io("write", &tmp))?;
    f.sync_all().map_err(io("sync", &tmp))?;
    std::fs::rename(&tmp, out).map_err(io("rename", out))?;
    Ok(Summary {
        rows: end.rows,
        files: end.files,
        chunks: end.chunks,
        keys_included: plan.include_keys,
        bytes,
    })
}

fn secrets_file(path: &Path) -> Result<std::fs::File, BackupError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io("create", path))
}

fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).map_or(0o600, |m| m.permissions().mode() & 0o777)
}

/// The data directory's own files (not the database, scratch or chunks), relative; keys
/// only when `keys`, else named in the second list.
fn data_files(dir: &Path, keys: bool) -> Result<(Vec<String>, Vec<String>), BackupError> {
    let mut files = Vec::new();
    let mut left_out = Vec::new();
    for rel in walk(dir, SKIPPED)? {
        if is_key(&rel) && !keys {
            left_out.push(rel);
        } else {
            files.push(rel);
        }
    }
    Ok((files, left_out))
}

/// Every regular file under `root`, relative, sorted; the entries of `root` named in `skip`
/// are left out.
fn walk(root: &Path, skip: &[&str]) -> Result<Vec<String>, BackupError> {
    let mut out = Vec::new();
    let mut todo: Vec<PathBuf> = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).map_err(io("read", &dir))? {
            let e = e.map_err(io("read", &dir))?;
            let path = e.path();
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            if dir == root && skip.contains(&rel.as_str()) {
                continue;
            }
            let ty = e.file_type().map_err(io("read", &path))?;
            if ty.is_dir() {
                todo.push(path);
            } else if ty.is_file() {
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Writes `bytes` as a new file of `mode` (for restore; parents created).
pub(crate) fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), BackupError> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io("create", parent))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode & 0o777)
        .open(path)
        .map_err(io("create", path))?;
    f.write_all(bytes).map_err(io("write", path))
}

/// The certificate and key a backup of `data_dir` is signed with: the first pair of
/// `candidates` (relative paths) present.
pub fn signer(
    data_dir: &Path,
    candidates: &[(&str, &str)],
) -> Result<(String, String), BackupError> {
    for (crt, key) in candidates {
        let (c, k) = (data_dir.join(crt), data_dir.join(key));
        if c.is_file() && k.is_file() {
            let cert = std::fs::read_to_string(&c).map_err(io("read", &c))?;
            let key = std::fs::read_to_string(&k).map_err(io("read", &k))?;
            return Ok((cert, key));
        }
    }
    Err(BackupError::Refused(format!(
        "{} holds no server key to sign the backup with: is it a data directory?",
        data_dir.display()
    )))
}

/// `space-server backup` / `odcm backup`: asks the server running on `data_dir` over the
/// control socket, or, with none running, opens the store itself.
pub fn command(
    kind: &str,
    name: &str,
    data_dir: &Path,
    candidates: &[(&str, &str)],
    req: &crate::control::BackupRequest,
) -> Result<Summary, BackupError> {
    let out = std::path::absolute(&req.out).map_err(io("resolve", &req.out))?;
    let req = crate::control::BackupRequest {
        out: out.clone(),
        ..req.clone()
    };
    match crate::control::request_backup(data_dir, &req)
        .map_err(io("ask the running server at", data_dir))?
    {
        Some(reply) if reply.error.is_empty() => Ok(Summary {
            rows: reply.rows,
            files: reply.files,
            chunks: reply.chunks,
            keys_included: req.include_keys,
            bytes: reply.bytes,
        }),
        Some(reply) => Err(BackupError::Refused(reply.error)),
        None => {
            let store = storage::SledStore::open(&data_dir.join("db"))?;
            run(kind, name, data_dir, &store, candidates, &req)
        }
    }
}

/// One backup of `store` as `req` asks (what the control socket's handler runs too).
pub fn run(
    kind: &str,
    name: &str,
    data_dir: &Path,
    store: &dyn Store,
    candidates: &[(&str, &str)],
    req: &crate::control::BackupRequest,
) -> Result<Summary, BackupError> {
    let (cert, key) = signer(data_dir, candidates)?;
    write(
        &Plan {
            kind,
            name,
            data_dir,
            store,
            include_keys: req.include_keys,
            chunks: req.chunks,
            signer_cert_pem: &cert,
            signer_key_pem: &key,
        },
        &req.out,
    )
}

/// A unix time as RFC 3339 UTC (for messages).
pub fn when(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}
