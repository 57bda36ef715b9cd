//! Restoring a backup into a new data directory: read once into a staging directory beside
//! the target, check the end frame's digest and signature, then move into place. Nothing is
//! left behind when the file is refused.

use std::path::{Component, Path, PathBuf};

use storage::{Row, SledStore, Store};

use super::frame::{self, Reader};
use super::{BackupError, End, Header, MAGIC, VERSION, io, write_new};

/// What [`restore`] brought back.
#[derive(Debug, Clone)]
pub struct Restored {
    pub header: Header,
    pub signer_fingerprint: String,
    pub rows: u64,
    pub files: u64,
    pub chunks: u64,
    /// Chunks kept by reference that `chunks_from` did not have (or all, without it).
    pub missing_chunks: Vec<String>,
}

/// Where the key files, the referenced chunks and the signer to expect come from.
#[derive(Debug, Clone, Default)]
pub struct From<'a> {
    /// A directory holding the private keys the backup left out (same relative paths).
    pub keys: Option<&'a Path>,
    /// A copy of the old `chunks/` directory, for chunks kept by reference.
    pub chunks: Option<&'a Path>,
    /// The signer's certificate fingerprint to insist on.
    pub signer: Option<&'a str>,
}

fn damaged(what: impl Into<String>) -> BackupError {
    BackupError::Damaged(what.into())
}

/// A relative path that stays inside the directory it is joined to.
fn safe(rel: &str) -> Result<PathBuf, BackupError> {
    let p = Path::new(rel);
    if rel.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(damaged(format!(
            "it names a file outside the data directory: {}",
            domain::text::clean(rel, 200)
        )));
    }
    Ok(p.to_path_buf())
}

/// Restores `file` into `target` (which must not exist, or be empty).
pub fn restore(file: &Path, target: &Path, from: &From<'_>) -> Result<Restored, BackupError> {
    if target.exists()
        && std::fs::read_dir(target)
            .map_err(io("read", target))?
            .next()
            .is_some()
    {
        return Err(BackupError::Refused(format!(
            "{} holds data already: restore into a new data directory",
            target.display()
        )));
    }
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    let staging = target.with_file_name(format!(".{name}.restoring"));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io("remove", &staging))?;
    }
    crate::datadir::create_private(&staging).map_err(io("create", &staging))?;
    let r = unpack(file, &staging, from).and_then(|r| {
        if target.exists() {
            std::fs::remove_dir(target).map_err(io("replace", target))?;
        }
        std::fs::rename(&staging, target).map_err(io("move into place", target))?;
        Ok(r)
    });
    if r.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    r
}

fn unpack(file: &Path, staging: &Path, from: &From<'_>) -> Result<Restored, BackupError> {
    let f = std::fs::File::open(file).map_err(io("open", file))?;
    let dec = zstd::Decoder::new(f).map_err(io("read", file))?;
    let mut r = Reader::new(dec);
    let cut = |e: std::io::Error| damaged(format!("it cannot be read to its end ({e})"));
    if r.raw(MAGIC.len()).map_err(cut)? != MAGIC {
        return Err(damaged("it is not a backup file"));
    }
    let (tag, p, _) = r.next().map_err(cut)?;
    let header: Header = match tag {
        b'H' => serde_json::from_slice(&p).map_err(|e| damaged(format!("its header: {e}")))?,
        _ => return Err(damaged("it has no header")),
    };
    if header.format != "deploy-backup" || header.version != VERSION {
        return Err(BackupError::Refused(format!(
            "the backup has format version {}; this build reads {VERSION}",
            header.version
        )));
    }
    let (mut rows, mut files, mut included, mut referenced) =
        (Vec::<Row>::new(), 0u64, 0u64, Vec::new());
    let (end, digest) = loop {
        let (tag, p, before) = r.next().map_err(cut)?;
        match tag {
            b'R' => rows.push(frame::parse_row(&p).ok_or_else(|| damaged("a row is malformed"))?),
            b'F' => {
                let (rel, mode, bytes) =
                    frame::parse_file(&p).ok_or_else(|| damaged("a file entry is malformed"))?;
                // Private keys are 0600 whatever mode they had.
                let mode = if super::is_key(&rel) { 0o600 } else { mode };
                write_new(&staging.join(safe(&rel)?), bytes, mode)?;
                if rel.starts_with("chunks/") {
                    included += 1;
                } else {
                    files += 1;
                }
            }
            b'L' => {
                let rel = String::from_utf8(p).map_err(|_| damaged("a chunk name is malformed"))?;
                safe(&rel)?;
                referenced.push(rel);
            }
            b'E' => {
                let end: End =
                    serde_json::from_slice(&p).map_err(|e| damaged(format!("its end: {e}")))?;
                break (end, before);
            }
            t => return Err(damaged(format!("unknown entry type {t}"))),
        }
    };
    if r.raw(1).is_ok() {
        return Err(damaged("there is data after its end"));
    }
    if end.sha256 != hex::encode(digest) {
        return Err(damaged("its contents do not match the digest at its end"));
    }
    let sig = hex::decode(&end.signature).map_err(|_| damaged("its signature is malformed"))?;
    let signer = net::pki::verify_with_cert(&header.signer_cert_pem, &digest, &sig)
        .map_err(|e| damaged(format!("its signature does not verify: {e}")))?;
    if let Some(want) = from.signer
        && !want.eq_ignore_ascii_case(&signer)
    {
        return Err(BackupError::Refused(format!(
            "the backup was signed by {signer}, not by {want}"
        )));
    }
    if end.rows != rows.len() as u64
        || end.files != files
        || end.chunks != included + referenced.len() as u64
    {
        return Err(damaged("its entry counts do not match its end"));
    }
    copy_keys(&header, staging, from.keys)?;
    let missing_chunks = copy_chunks(&referenced, staging, from.chunks)?;
    let store = SledStore::open(&staging.join("db"))?;
    store.load(&rows)?;
    super::marker::Restored::new(header.created_at).save(staging)?;
    Ok(Restored {
        signer_fingerprint: signer,
        rows: end.rows,
        files,
        chunks: end.chunks,
        missing_chunks,
        header,
    })
}

/// Brings the key files a backup left out from `keys`; all of them, or a refusal naming them.
fn copy_keys(header: &Header, staging: &Path, keys: Option<&Path>) -> Result<(), BackupError> {
    if header.keys_left_out.is_empty() {
        return Ok(());
    }
    let missing: Vec<&String> = header
        .keys_left_out
        .iter()
        .filter(|k| keys.is_none_or(|d| !d.join(k).is_file()))
        .collect();
    if !missing.is_empty() {
        return Err(BackupError::Refused(format!(
            "the backup holds no private keys; give --keys-from DIR with {} (the files of the old data directory)",
            missing
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    for k in &header.keys_left_out {
        let (src, dst) = (keys.unwrap_or(staging).join(safe(k)?), staging.join(k));
        let bytes = std::fs::read(&src).map_err(io("read", &src))?;
        write_new(&dst, &bytes, 0o600)?;
    }
    Ok(())
}

/// Copies the chunks kept by reference from `from`; returns those it did not find.
fn copy_chunks(
    names: &[String],
    staging: &Path,
    from: Option<&Path>,
) -> Result<Vec<String>, BackupError> {
    let Some(from) = from else {
        return Ok(names.to_vec());
    };
    let mut missing = Vec::new();
    for n in names {
        let src = from.join(safe(n)?);
        match std::fs::read(&src) {
            Ok(bytes) => write_new(&staging.join("chunks").join(n), &bytes, 0o644)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => missing.push(n.clone()),
            Err(e) => return Err(io("read", &src)(e)),
        }
    }
    Ok(missing)
}
