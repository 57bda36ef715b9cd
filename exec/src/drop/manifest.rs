//! `manifest.json`: SHA-256, size and mode of every file of a drop, and its verification.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{DropError, FORMAT_VERSION, MANIFEST_FILE, sha256_hex};

const KIND: &str = "offline-drop-manifest";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub kind: String,
    pub version: u32,
    /// Sorted by path.
    pub files: Vec<ManifestEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Relative, `/`-separated.
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub executable: bool,
}

struct Found {
    size: u64,
    executable: bool,
    symlink: bool,
}

/// Every file under `dir` (relative `/`-separated path -> facts), `manifest.json` left out.
fn walk(dir: &Path) -> Result<BTreeMap<String, Found>, DropError> {
    let mut out = BTreeMap::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((abs, rel)) = stack.pop() {
        let entries = std::fs::read_dir(&abs).map_err(|e| DropError::io("cannot list", &abs, e))?;
        for e in entries {
            let e = e.map_err(|e| DropError::io("cannot list", &abs, e))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let meta = std::fs::symlink_metadata(e.path())
                .map_err(|err| DropError::io("cannot read", &e.path(), err))?;
            if meta.is_dir() {
                stack.push((e.path(), path));
                continue;
            }
            if path == MANIFEST_FILE {
                continue;
            }
            #[cfg(unix)]
            let executable = {
                use std::os::unix::fs::PermissionsExt;
                meta.permissions().mode() & 0o111 != 0
            };
            #[cfg(not(unix))]
            let executable = false;
            out.insert(
                path,
                Found {
                    size: meta.len(),
                    executable,
                    symlink: meta.file_type().is_symlink(),
                },
            );
        }
    }
    Ok(out)
}

pub(crate) fn hash_file(path: &Path) -> Result<String, DropError> {
    use sha2::Digest;
    let mut f = std::fs::File::open(path).map_err(|e| DropError::io("cannot read", path, e))?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| DropError::io("cannot read", path, e))?;
        if n == 0 {
            return Ok(hex::encode(h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

/// Describes every file under `dir` (except `manifest.json`).
pub fn build_manifest(dir: &Path) -> Result<Manifest, DropError> {
    let mut files = Vec::new();
    for (path, f) in walk(dir)? {
        if f.symlink {
            return Err(DropError::Invalid(format!(
                "a drop holds no symbolic links: '{path}'"
            )));
        }
        files.push(ManifestEntry {
            sha256: hash_file(&dir.join(&path))?,
            path,
            size: f.size,
            executable: f.executable,
        });
    }
    Ok(Manifest {
        kind: KIND.into(),
        version: FORMAT_VERSION,
        files,
    })
}

/// Parses `manifest.json` (read from `path`), refusing another kind or a newer version.
pub(crate) fn parse_manifest(bytes: &[u8], path: &Path) -> Result<Manifest, DropError> {
    let manifest: Manifest = serde_json::from_slice(bytes).map_err(|e| DropError::Format {
        what: "drop manifest",
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    if manifest.kind != KIND || manifest.version > FORMAT_VERSION {
        return Err(DropError::Format {
            what: "drop manifest",
            path: path.display().to_string(),
            reason: format!(
                "kind '{}' version {} (expected '{KIND}' up to {FORMAT_VERSION})",
                manifest.kind, manifest.version
            ),
        });
    }
    Ok(manifest)
}

/// What in the folder disagrees with the manifest's list of files, without reading contents:
/// a listed file missing, of another size or a symbolic link, a path that leaves the drop, or
/// an executable file or symbolic link the manifest does not list (other extra files, like
/// `result.json` or `manifest.sig`, are allowed).
pub(crate) fn listing_problems(dir: &Path, manifest: &Manifest) -> Result<Vec<String>, DropError> {
    let mut found = walk(dir)?;
    let mut problems = Vec::new();
    for e in &manifest.files {
        if e.path.split('/').any(|s| s.is_empty() || s == "..") {
            problems.push(format!("'{}' is not a path inside the drop", e.path));
            continue;
        }
        match found.remove(&e.path) {
            None => problems.push(format!("'{}' is missing", e.path)),
            Some(f) if f.symlink => problems.push(format!("'{}' is a symbolic link", e.path)),
            Some(f) if f.size != e.size => problems.push(format!("'{}' was changed", e.path)),
            Some(_) => {}
        }
    }
    for (path, f) in found {
        if f.symlink {
            problems.push(format!(
                "'{path}' is a symbolic link the drop does not list"
            ));
        } else if f.executable {
            problems.push(format!(
                "'{path}' is an executable file the drop does not list"
            ));
        }
    }
    Ok(problems)
}

/// Checks every file of the drop in `dir` against its `manifest.json` (see
/// [`listing_problems`]; every listed file's content is hashed too). Returns the manifest and
/// the SHA-256 of `manifest.json`. The runner does not use this: it reads each file once
/// into private storage and checks that copy (`snapshot`).
pub fn verify(dir: &Path) -> Result<(Manifest, String), DropError> {
    let mp = dir.join(MANIFEST_FILE);
    let bytes = std::fs::read(&mp).map_err(|e| DropError::io("cannot read", &mp, e))?;
    let manifest = parse_manifest(&bytes, &mp)?;
    let mut problems = listing_problems(dir, &manifest)?;
    if problems.is_empty() {
        for e in &manifest.files {
            if hash_file(&dir.join(&e.path))? != e.sha256 {
                problems.push(format!("'{}' was changed", e.path));
            }
        }
    }
    if !problems.is_empty() {
        return Err(DropError::Tampered {
            dir: dir.display().to_string(),
            problems: problems.join(", "),
        });
    }
    Ok((manifest, sha256_hex(&bytes)))
}
