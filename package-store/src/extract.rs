//! Safe extraction of a package archive into a directory (never writes outside it).

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::archive::{Entry, walk};
use super::safety::Kind;
use super::{ArchiveFormat, ExtractLimits, PackageError};

/// Extracts into `dest` (created if needed). Re-checks every entry and never writes outside
/// `dest` even if validation was skipped; refuses unsafe entries with UnsafePath before writing
/// anything of that entry. Preserves unix file modes (executable scripts must stay executable).
///
/// Never follows a symlink while writing, including symlinks already in `dest`. Files already
/// present are replaced; a failed extraction can leave earlier entries behind, so extract into
/// a fresh directory and discard it on error. Returns the entry count.
pub fn extract(
    archive: &Path,
    format: ArchiveFormat,
    dest: &Path,
    limits: ExtractLimits,
) -> Result<u64, PackageError> {
    fs::create_dir_all(dest)
        .map_err(|e| PackageError::io_at("cannot create extraction directory", dest, e))?;
    let mut ex = Extractor {
        dest,
        verified: HashSet::new(),
        dir_modes: Vec::new(),
    };
    let walked = walk(archive, format, limits, &mut |e| ex.entry(e))?;
    if let Some(first) = walked.escaping_links.first() {
        for link in &walked.escaping_links {
            let path = join(dest, &link.parts);
            if fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
                fs::remove_file(&path)
                    .map_err(|e| PackageError::io_at("cannot remove unsafe symlink", &path, e))?;
            }
        }
        return Err(first.to_error());
    }
    ex.apply_dir_modes()?;
    tracing::debug!(archive = %archive.display(), dest = %dest.display(), entries = walked.count, "archive extracted");
    Ok(walked.count)
}

fn join(dest: &Path, parts: &[String]) -> PathBuf {
    let mut p = dest.to_path_buf();
    p.extend(parts);
    p
}

struct Extractor<'a> {
    dest: &'a Path,
    /// Relative directories known to be real directories (we never replace directories).
    verified: HashSet<Vec<String>>,
    /// Directory permissions to apply last, so a read-only directory cannot block its content.
    dir_modes: Vec<(PathBuf, u32)>,
}

impl Extractor<'_> {
    fn entry(&mut self, e: Entry<'_>) -> Result<(), PackageError> {
        let Some((last, parent)) = e.parts.split_last() else {
            return Ok(()); // the root directory itself
        };
        if let Kind::Dir = e.kind {
            let path = self.ensure_dir(e.name, e.parts)?;
            if let Some(mode) = e.mode {
                self.dir_modes.push((path, mode));
            }
            return Ok(());
        }
        let path = self.ensure_dir(e.name, parent)?.join(last);
        clear(e.name, &path)?;
        match e.kind {
            Kind::Dir => Ok(()),
            Kind::File => write_file(&path, e.data, e.mode),
            Kind::Symlink(target) => make_symlink(e.name, target, &path),
            Kind::Hardlink(target, tparts) => {
                let src = self.existing_file(e.name, target, tparts)?;
                fs::hard_link(&src, &path)
                    .map_err(|err| PackageError::io_at("cannot create hard link", &path, err))
            }
        }
    }

    /// Makes `dest/parts` a directory, creating what is missing and refusing to pass through
    /// a symlink or a file.
    fn ensure_dir(&mut self, name: &str, parts: &[String]) -> Result<PathBuf, PackageError> {
        let mut path = self.dest.to_path_buf();
        for i in 0..parts.len() {
            path.push(&parts[i]);
            let prefix = &parts[..=i];
            if self.verified.contains(prefix) {
                continue;
            }
            match fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(PackageError::UnsafePath {
                        entry: name.to_string(),
                    });
                }
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(PackageError::malformed(format!(
                        "entry '{name}' needs '{}' to be a directory, but it is a file",
                        prefix.join("/")
                    )));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir(&path)
                    .map_err(|e| PackageError::io_at("cannot create directory", &path, e))?,
                Err(e) => return Err(PackageError::io_at("cannot inspect", &path, e)),
            }
            self.verified.insert(prefix.to_vec());
        }
        Ok(path)
    }

    /// The path of an already extracted regular file a hard link may point at, reached
    /// without passing through symlinks.
    fn existing_file(
        &mut self,
        name: &str,
        target: &str,
        tparts: &[String],
    ) -> Result<PathBuf, PackageError> {
        let unsafe_link = || PackageError::UnsafePath {
            entry: format!("{name} -> {target}"),
        };
        let mut path = self.dest.to_path_buf();
        for (i, part) in tparts.iter().enumerate() {
            path.push(part);
            let m = fs::symlink_metadata(&path).map_err(|_| {
                PackageError::malformed(format!(
                    "hard link '{name}' points to '{target}', which does not exist"
                ))
            })?;
            let is_last = i + 1 == tparts.len();
            if m.file_type().is_symlink() {
                return Err(unsafe_link());
            }
            if (is_last && !m.is_file()) || (!is_last && !m.is_dir()) {
                return Err(PackageError::malformed(format!(
                    "hard link '{name}' points to '{target}', which is not a file"
                )));
            }
        }
        Ok(path)
    }

    fn apply_dir_modes(&self) -> Result<(), PackageError> {
        for (path, mode) in &self.dir_modes {
            // Always keep the directory usable by its owner.
            set_mode(path, (mode & 0o777) | 0o700)?;
        }
        Ok(())
    }
}

/// Removes a file or symlink at `path` so the entry can take its place; refuses directories.
fn clear(name: &str, path: &Path) -> Result<(), PackageError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Err(PackageError::malformed(format!(
            "entry '{name}' would replace the directory '{}'",
            path.display()
        ))),
        Ok(_) => fs::remove_file(path).map_err(|e| PackageError::io_at("cannot replace", path, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(PackageError::io_at("cannot inspect", path, e)),
    }
}

fn write_file(path: &Path, data: &mut dyn io::Read, mode: Option<u32>) -> Result<(), PackageError> {
    let mut opts = OpenOptions::new();
    // create_new never follows a symlink (one appearing concurrently makes this fail).
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let file: File = opts
        .open(path)
        .map_err(|e| PackageError::io_at("cannot create", path, e))?;
    let mut out = BufWriter::with_capacity(64 * 1024, file);
    io::copy(data, &mut out).map_err(|e| PackageError::io_at("cannot write", path, e))?;
    out.flush()
        .map_err(|e| PackageError::io_at("cannot write", path, e))?;
    // Exact bits from the archive (not reduced by the umask), minus setuid/setgid/sticky.
    set_mode(path, mode.map_or(0o644, |m| m & 0o777))
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<(), PackageError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| PackageError::io_at("cannot set permissions of", path, e))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<(), PackageError> {
    Ok(())
}

#[cfg(unix)]
fn make_symlink(_name: &str, target: &str, path: &Path) -> Result<(), PackageError> {
    std::os::unix::fs::symlink(target, path)
        .map_err(|e| PackageError::io_at("cannot create symlink", path, e))
}

#[cfg(not(unix))]
fn make_symlink(name: &str, _target: &str, _path: &Path) -> Result<(), PackageError> {
    Err(PackageError::UnsupportedEntry {
        entry: name.to_string(),
        kind: "symbolic link (not supported on this platform)".to_string(),
    })
}

#[cfg(test)]
#[cfg(unix)]
#[path = "tests/extract.rs"]
mod tests;
