//! The deployment journal (`work_dir/journal.json`) and retention of old extractions.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::ExecError;

/// File name of the journal inside the work directory.
const FILE: &str = "journal.json";

/// Version of the journal envelope this code reads and writes.
const VERSION: u32 = 1;

/// Serialises read-modify-write of journals within this process. One `work_dir` belongs to
/// one agent process, so no cross-process lock is needed.
static LOCK: Mutex<()> = Mutex::new(());

/// One extraction of a package: what was installed where, success or not, and when.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub deployment_id: String,
    pub project: String,
    pub environment: String,
    /// A tenant deployment's tenant (absent in entries written before tenants).
    #[serde(default)]
    pub tenant: Option<String>,
    pub step: String,
    pub package_id: String,
    pub version: String,
    pub path: PathBuf,
    pub success: bool,
    /// Unix seconds.
    pub at: i64,
    /// The directory was deleted (by retention, or because extraction failed).
    pub removed: bool,
}

#[derive(Deserialize)]
struct Envelope {
    v: u32,
    entries: Vec<JournalEntry>,
}

#[derive(Serialize)]
struct EnvelopeRef<'a> {
    v: u32,
    entries: &'a [JournalEntry],
}

fn lock() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The journal's entries in the order they were recorded (empty if there is no journal yet).
pub fn read_journal(work_dir: &Path) -> Result<Vec<JournalEntry>, ExecError> {
    let _guard = lock();
    load(work_dir)
}

fn load(work_dir: &Path) -> Result<Vec<JournalEntry>, ExecError> {
    let path = work_dir.join(FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ExecError::io("cannot read the journal", &path, e)),
    };
    let bad = |reason: String| ExecError::Journal {
        path: path.display().to_string(),
        reason,
    };
    let env: Envelope = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if env.v != VERSION {
        return Err(bad(format!(
            "format version {} is not supported (expected {VERSION})",
            env.v
        )));
    }
    Ok(env.entries)
}

/// Writes the journal atomically (temporary file in the same directory, then rename).
fn save(work_dir: &Path, entries: &[JournalEntry]) -> Result<(), ExecError> {
    let path = work_dir.join(FILE);
    let bytes = serde_json::to_vec_pretty(&EnvelopeRef {
        v: VERSION,
        entries,
    })
    .map_err(|e| ExecError::io("cannot encode the journal", &path, e.into()))?;
    secrets::write_private_file(&path, &bytes)
        .map_err(|e| ExecError::io("cannot write the journal", &path, e))
}

/// Appends one entry.
pub(crate) fn append(work_dir: &Path, entry: JournalEntry) -> Result<(), ExecError> {
    let _guard = lock();
    let mut entries = load(work_dir)?;
    entries.push(entry);
    save(work_dir, &entries)
}

/// What retention did, for the log.
pub(crate) struct Retained {
    pub removed: Vec<PathBuf>,
    pub warnings: Vec<String>,
}

/// Whose extractions retention counts: one package in one environment, for one tenant (or
/// none).
pub(crate) struct Scope<'a> {
    pub environment: &'a str,
    pub tenant: Option<&'a str>,
    pub package_id: &'a str,
}

/// Keeps the newest `keep` successful extractions in `scope` (counting `current`, which is
/// never removed) and deletes every other directory the journal records for them that lies
/// under `base`, marking those entries removed.
pub(crate) fn apply_retention(
    work_dir: &Path,
    scope: &Scope<'_>,
    keep: usize,
    current: &Path,
    base: &Path,
) -> Result<Retained, ExecError> {
    let _guard = lock();
    let mut entries = load(work_dir)?;
    let mut kept: Vec<PathBuf> = vec![current.to_path_buf()];
    let mut out = Retained {
        removed: Vec::new(),
        warnings: Vec::new(),
    };
    let mut changed = false;
    let current_idx = entries.iter().rposition(|e| e.path == current);
    for (i, e) in entries.iter_mut().enumerate().rev() {
        if Some(i) == current_idx
            || e.removed
            || !e.environment.eq_ignore_ascii_case(scope.environment)
            || !e.package_id.eq_ignore_ascii_case(scope.package_id)
            || !e
                .tenant
                .as_deref()
                .unwrap_or("")
                .eq_ignore_ascii_case(scope.tenant.unwrap_or(""))
        {
            continue;
        }
        if kept.contains(&e.path) {
            // An older installation in a directory that was deleted by hand and reused.
            e.removed = true;
            changed = true;
            continue;
        }
        if e.success && kept.len() < keep {
            kept.push(e.path.clone());
            continue;
        }
        if !e.path.starts_with(base) {
            out.warnings.push(format!(
                "retention: not deleting '{}' because it is outside '{}'",
                e.path.display(),
                base.display()
            ));
            continue;
        }
        match force_remove_dir(&e.path) {
            Ok(()) => {
                e.removed = true;
                changed = true;
                out.removed.push(e.path.clone());
            }
            Err(err) => out.warnings.push(format!(
                "retention: cannot delete '{}': {err}",
                e.path.display()
            )),
        }
    }
    if changed {
        save(work_dir, &entries)?;
    }
    Ok(out)
}

/// Deletes a directory tree (a missing one is fine), making read-only directories writable
/// first if a plain delete fails. Never follows symlinks.
pub(crate) fn force_remove_dir(path: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
        Ok(m) if !m.is_dir() => return fs::remove_file(path),
        Ok(_) => {}
    }
    if fs::remove_dir_all(path).is_ok() {
        return Ok(());
    }
    make_writable(path);
    fs::remove_dir_all(path)
}

fn make_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = fs::symlink_metadata(dir) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let mode = meta.permissions().mode() | 0o700;
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(mode));
    if let Ok(rd) = fs::read_dir(dir) {
        for entry in rd.flatten() {
            make_writable(&entry.path());
        }
    }
}
