//! A drop read once. The folder may still be writable by others after it was checked (a
//! script swapped between verification and execution ran with the decrypted secrets), so
//! every file the runner uses is read into private storage and checked there, and only that
//! copy is used: small files (definition, variables, scripts, sensitive values) into memory,
//! packages into a private directory, each hashed while it is read.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::manifest::{hash_file, listing_problems, parse_manifest};
use super::signature::SIGNATURE_FILE;
use super::{DropError, MANIFEST_FILE, Manifest, RUNNER_FILE, sha256_hex};

/// Largest non-package file the runner reads into memory.
const MAX_SMALL: u64 = 64 << 20;

/// Decides whether the drop whose `manifest.json` and `manifest.sig` bytes it is given may run.
pub(crate) type TrustFn<'a> = dyn FnMut(&[u8], Option<&[u8]>) -> Result<(), DropError> + 'a;

pub(crate) struct Snapshot {
    pub manifest: Manifest,
    /// SHA-256 (hex) of the `manifest.json` bytes read.
    pub manifest_sha256: String,
    files: BTreeMap<String, Vec<u8>>,
    packages: BTreeMap<String, PathBuf>,
    /// Holds the package copies; removed when the snapshot is dropped.
    _private: tempfile::TempDir,
}

/// Whether the runner itself uses `path` (the runner copy and launchers it does not).
fn used(path: &str) -> bool {
    let top = !path.contains('/');
    !(top
        && (path == RUNNER_FILE
            || path == format!("{RUNNER_FILE}.exe")
            || path.ends_with(".sh")
            || path.ends_with(".cmd")
            || path.ends_with(".ps1")))
}

impl Snapshot {
    /// Reads `manifest.json` and `manifest.sig` once and hands them to `trust` (which refuses
    /// a drop it cannot trust) before reading anything else; then reads and checks every
    /// file the manifest lists.
    pub fn take(dir: &Path, trust: &mut TrustFn<'_>) -> Result<Self, DropError> {
        let tampered = |problems: String| DropError::Tampered {
            dir: dir.display().to_string(),
            problems,
        };
        let mp = dir.join(MANIFEST_FILE);
        let bytes = std::fs::read(&mp).map_err(|e| DropError::io("cannot read", &mp, e))?;
        let sp = dir.join(SIGNATURE_FILE);
        let signature = match std::fs::read(&sp) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(DropError::io("cannot read", &sp, e)),
        };
        trust(&bytes, signature.as_deref())?;
        let manifest = parse_manifest(&bytes, &mp)?;
        let problems = listing_problems(dir, &manifest)?;
        if !problems.is_empty() {
            return Err(tampered(problems.join(", ")));
        }
        let private = tempfile::tempdir()
            .map_err(|e| DropError::io("cannot create", Path::new("a temporary directory"), e))?;
        let mut files = BTreeMap::new();
        let mut packages = BTreeMap::new();
        let mut problems = Vec::new();
        for (i, e) in manifest.files.iter().enumerate() {
            let src = dir.join(&e.path);
            let ok = if e.path.starts_with("packages/") {
                let copy = private.path().join(format!("{i}.pkg"));
                let got = copy_hashed(&src, &copy)?;
                packages.insert(e.path.clone(), copy);
                got == e.sha256
            } else if used(&e.path) {
                if e.size > MAX_SMALL {
                    return Err(tampered(format!("'{}' is too large", e.path)));
                }
                let b =
                    std::fs::read(&src).map_err(|err| DropError::io("cannot read", &src, err))?;
                let ok = sha256_hex(&b) == e.sha256;
                files.insert(e.path.clone(), b);
                ok
            } else {
                hash_file(&src)? == e.sha256
            };
            if !ok {
                problems.push(format!("'{}' was changed", e.path));
            }
        }
        if !problems.is_empty() {
            return Err(tampered(problems.join(", ")));
        }
        Ok(Self {
            manifest,
            manifest_sha256: sha256_hex(&bytes),
            files,
            packages,
            _private: private,
        })
    }

    /// The checked bytes of a file the manifest lists.
    pub fn bytes(&self, rel: &str) -> Result<&[u8], DropError> {
        self.files
            .get(rel)
            .map(Vec::as_slice)
            .ok_or_else(|| DropError::Invalid(format!("the drop's manifest does not list '{rel}'")))
    }

    /// The checked private copy of a package file the manifest lists.
    pub fn package(&self, rel: &str) -> Result<&Path, DropError> {
        self.packages
            .get(rel)
            .map(PathBuf::as_path)
            .ok_or_else(|| DropError::Invalid(format!("the drop's manifest does not list '{rel}'")))
    }
}

/// Copies `src` to `dst`, returning the SHA-256 (hex) of what it copied.
fn copy_hashed(src: &Path, dst: &Path) -> Result<String, DropError> {
    use sha2::{Digest, Sha256};
    let mut from = std::fs::File::open(src).map_err(|e| DropError::io("cannot read", src, e))?;
    let mut to = std::fs::File::create(dst).map_err(|e| DropError::io("cannot write", dst, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = from
            .read(&mut buf)
            .map_err(|e| DropError::io("cannot read", src, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        to.write_all(&buf[..n])
            .map_err(|e| DropError::io("cannot write", dst, e))?;
    }
    Ok(hex::encode(hasher.finalize()))
}
