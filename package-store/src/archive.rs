//! Reading archives entry by entry with safety checks shared by validation and extraction; `validate_archive`.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::limits::{Budget, Consumed, Counting, ExtractLimits};
use super::safety::{Checker, EscapingLink, Kind, sanitize, unsafe_link};
use super::{ArchiveFormat, PackageError};

/// Longest symlink target read from a zip entry.
const MAX_LINK_TARGET: u64 = 4096;

/// One checked entry handed to a visitor.
pub(crate) struct Entry<'a> {
    /// The name as stored in the archive, for messages.
    pub name: &'a str,
    /// Sanitised relative path (no `..`, no empty or `.` parts); empty for the root itself.
    pub parts: &'a [String],
    pub kind: &'a Kind,
    /// Unix permission bits when the archive records them.
    pub mode: Option<u32>,
    /// The entry's content (empty for everything but files).
    pub data: &'a mut dyn Read,
}

/// Result of [`walk`]: entries visited, and links that only turned out unsafe at the end.
pub(crate) struct Walked {
    pub count: u64,
    pub escaping_links: Vec<EscapingLink>,
}

fn unsupported(name: &str, kind: &str) -> PackageError {
    PackageError::UnsupportedEntry {
        entry: name.to_string(),
        kind: kind.to_string(),
    }
}

fn read_error(what: &str, err: impl std::fmt::Display) -> PackageError {
    PackageError::malformed(format!(
        "{what}: {err} (the file is truncated, corrupt or not a valid archive)"
    ))
}

/// Counts bytes read and remembers the first read error (archive corruption, as opposed to
/// errors the visitor hits writing).
struct Tracked<'a> {
    inner: &'a mut dyn Read,
    read: u64,
    error: Option<String>,
    budget: &'a mut Budget,
    /// The limit the entry went over (the read that crossed it fails).
    over: Option<PackageError>,
}

impl Read for Tracked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.read += n as u64;
                if let Err(e) = self.budget.unpacked(n as u64) {
                    let msg = e.to_string();
                    self.over = Some(e);
                    return Err(io::Error::other(msg));
                }
                Ok(n)
            }
            Err(e) => {
                self.error.get_or_insert_with(|| e.to_string());
                Err(e)
            }
        }
    }
}

type Visitor<'v> = dyn FnMut(Entry<'_>) -> Result<(), PackageError> + 'v;

/// Checks one entry, hands it to `visit`, then reads whatever it left to the end and checks
/// the size, so truncation and CRC/trailer errors surface even when the visitor skips data.
#[allow(clippy::too_many_arguments)] // one entry's facts, read by three walkers
fn visit_one(
    checker: &mut Checker,
    budget: &mut Budget,
    visit: &mut Visitor<'_>,
    name: &str,
    kind: Kind,
    mode: Option<u32>,
    declared: Option<u64>,
    data: &mut dyn Read,
) -> Result<(), PackageError> {
    let parts = sanitize(name)?;
    checker.check(name, &parts, &kind)?;
    budget.entry()?;
    let mut tracked = Tracked {
        inner: data,
        read: 0,
        error: None,
        budget,
        over: None,
    };
    let result = visit(Entry {
        name,
        parts: &parts,
        kind: &kind,
        mode,
        data: &mut tracked,
    });
    if let Some(over) = tracked.over.take() {
        return Err(over);
    }
    if let Some(err) = tracked.error.take() {
        return Err(read_error(&format!("cannot read entry '{name}'"), err));
    }
    result?;
    let rest = io::copy(&mut tracked, &mut io::sink());
    if let Some(over) = tracked.over.take() {
        return Err(over);
    }
    rest.map_err(|e| read_error(&format!("cannot read entry '{name}'"), e))?;
    if let Some(size) = declared
        && tracked.read != size
    {
        return Err(PackageError::malformed(format!(
            "entry '{name}' is truncated: {} of {size} bytes",
            tracked.read
        )));
    }
    Ok(())
}

/// Reads every entry of the archive at `path`, checking each, and calls `visit` for it.
pub(crate) fn walk(
    path: &Path,
    format: ArchiveFormat,
    limits: ExtractLimits,
    visit: &mut Visitor<'_>,
) -> Result<Walked, PackageError> {
    let file = File::open(path).map_err(|e| PackageError::io_at("cannot open archive", path, e))?;
    let mut checker = Checker::default();
    let count = match format {
        ArchiveFormat::TarGz => {
            let consumed = Consumed::default();
            let mut budget = Budget::streaming(limits, consumed.clone());
            let reader = Counting {
                inner: BufReader::new(file),
                consumed,
            };
            walk_tar(reader, &mut checker, &mut budget, visit)?
        }
        ArchiveFormat::Zip | ArchiveFormat::Nupkg => {
            let size = file
                .metadata()
                .map_err(|e| PackageError::io_at("cannot inspect archive", path, e))?
                .len();
            let mut budget = Budget::sized(limits, size);
            walk_zip(BufReader::new(file), &mut checker, &mut budget, visit)?
        }
    };
    Ok(Walked {
        count,
        escaping_links: checker.escaping_links(),
    })
}

fn utf8(bytes: &[u8], what: &str) -> Result<String, PackageError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| {
        PackageError::malformed(format!(
            "{what} '{}' is not valid UTF-8",
            String::from_utf8_lossy(bytes)
        ))
    })
}

fn walk_tar<R: Read>(
    file: R,
    checker: &mut Checker,
    budget: &mut Budget,
    visit: &mut Visitor<'_>,
) -> Result<u64, PackageError> {
    let mut archive = tar::Archive::new(MultiGzDecoder::new(file));
    let mut count = 0;
    let entries = archive
        .entries()
        .map_err(|e| read_error("cannot read archive", e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| read_error("cannot read archive", e))?;
        let header = entry.header();
        let ty = header.entry_type();
        if ty.is_pax_global_extensions() {
            continue; // e.g. `git archive`'s commit id; metadata only
        }
        let name = utf8(&entry.path_bytes(), "entry name")?;
        let link = || -> Result<String, PackageError> {
            let bytes = entry.link_name_bytes().ok_or_else(|| {
                PackageError::malformed(format!("link entry '{name}' has no target"))
            })?;
            utf8(&bytes, "link target")
        };
        let mode = header.mode().ok().map(|m| m & 0o7777);
        let mut declared = Some(entry.size());
        let kind = match ty {
            tar::EntryType::Regular | tar::EntryType::Continuous if name.ends_with('/') => {
                Kind::Dir
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File,
            tar::EntryType::GNUSparse => {
                declared = None;
                Kind::File
            }
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Symlink => Kind::Symlink(link()?),
            tar::EntryType::Link => {
                let target = link()?;
                let parts = sanitize(&target).map_err(|_| unsafe_link(&name, &target))?;
                Kind::Hardlink(target, parts)
            }
            tar::EntryType::Char => return Err(unsupported(&name, "character device")),
            tar::EntryType::Block => return Err(unsupported(&name, "block device")),
            tar::EntryType::Fifo => return Err(unsupported(&name, "FIFO (named pipe)")),
            other => return Err(unsupported(&name, &format!("tar entry of type {other:?}"))),
        };
        visit_one(
            checker, budget, visit, &name, kind, mode, declared, &mut entry,
        )?;
        count += 1;
    }
    // Read to the end of the gzip stream so its CRC/length trailer is checked too.
    io::copy(&mut archive.into_inner(), &mut io::sink())
        .map_err(|e| read_error("cannot read the end of the archive", e))?;
    Ok(count)
}

fn walk_zip(
    file: BufReader<File>,
    checker: &mut Checker,
    budget: &mut Budget,
    visit: &mut Visitor<'_>,
) -> Result<u64, PackageError> {
    let mut archive = zip::ZipArchive::new(file).map_err(|e| read_error("cannot read zip", e))?;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| read_error(&format!("cannot read zip entry #{i}"), e))?;
        let name = entry.name().to_string();
        let mode = entry.unix_mode();
        let declared = Some(entry.size());
        let kind = match mode.unwrap_or(0) & 0o170000 {
            _ if entry.is_dir() => Kind::Dir,
            0o040000 => Kind::Dir,
            0 | 0o100000 => Kind::File,
            0o120000 => {
                let mut target = Vec::new();
                (&mut entry)
                    .take(MAX_LINK_TARGET + 1)
                    .read_to_end(&mut target)
                    .map_err(|e| read_error(&format!("cannot read entry '{name}'"), e))?;
                if target.len() as u64 > MAX_LINK_TARGET {
                    return Err(PackageError::malformed(format!(
                        "symlink '{name}' has a target longer than {MAX_LINK_TARGET} bytes"
                    )));
                }
                let target = utf8(&target, "link target")?;
                visit_one(
                    checker,
                    budget,
                    visit,
                    &name,
                    Kind::Symlink(target),
                    mode,
                    None,
                    &mut entry,
                )?;
                continue;
            }
            0o020000 => return Err(unsupported(&name, "character device")),
            0o060000 => return Err(unsupported(&name, "block device")),
            0o010000 => return Err(unsupported(&name, "FIFO (named pipe)")),
            0o140000 => return Err(unsupported(&name, "socket")),
            _ => return Err(unsupported(&name, "file of unknown type")),
        };
        visit_one(
            checker,
            budget,
            visit,
            &name,
            kind,
            mode.map(|m| m & 0o7777),
            declared,
            &mut entry,
        )?;
    }
    Ok(archive.len() as u64)
}

/// Reads the whole archive at `path` and checks it is well formed and safe: every entry
/// readable to its end (detects truncation/corruption: CRC for zip, gzip trailer for tar.gz),
/// no absolute paths, no `..` components, no symlink/hardlink whose target escapes, no device
/// files. Returns the entry count.
pub fn validate_archive(
    path: &Path,
    format: ArchiveFormat,
    limits: ExtractLimits,
) -> Result<u64, PackageError> {
    let walked = walk(path, format, limits, &mut |_| Ok(()))?;
    if let Some(link) = walked.escaping_links.first() {
        return Err(link.to_error());
    }
    tracing::debug!(path = %path.display(), %format, entries = walked.count, "archive validated");
    Ok(walked.count)
}

/// Validates a `.tar.gz` read from a stream (e.g. while an upload is still arriving), with
/// the same checks as [`validate_archive`]. Zip archives need a file (their index is at the
/// end), so they are refused here.
pub fn validate_stream(
    reader: impl Read,
    format: ArchiveFormat,
    limits: ExtractLimits,
) -> Result<u64, PackageError> {
    if format != ArchiveFormat::TarGz {
        return Err(PackageError::malformed(format!(
            "{format} archives can only be validated from a file"
        )));
    }
    let mut checker = Checker::default();
    let consumed = Consumed::default();
    let mut budget = Budget::streaming(limits, consumed.clone());
    let reader = Counting {
        inner: reader,
        consumed,
    };
    let count = walk_tar(reader, &mut checker, &mut budget, &mut |_| Ok(()))?;
    if let Some(link) = checker.escaping_links().first() {
        return Err(link.to_error());
    }
    Ok(count)
}

#[cfg(test)]
#[path = "tests/archive.rs"]
mod tests;
