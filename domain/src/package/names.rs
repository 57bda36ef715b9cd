//! Package file names (`<id>.<version>.<ext>`) and validation of ids and versions.

use super::{ArchiveFormat, NameError};

/// Longest id accepted (NuGet's limit).
const MAX_ID_LEN: usize = 100;
/// Longest version accepted.
const MAX_VERSION_LEN: usize = 128;

/// Known extensions, longest first so `.tar.gz` wins over anything shorter.
const EXTENSIONS: [(&str, ArchiveFormat); 4] = [
    (".tar.gz", ArchiveFormat::TarGz),
    (".nupkg", ArchiveFormat::Nupkg),
    (".zip", ArchiveFormat::Zip),
    (".tgz", ArchiveFormat::TarGz),
];

/// The name without its archive extension, and the format that extension means.
fn split_extension(file_name: &str) -> Result<(&str, ArchiveFormat), NameError> {
    let lower = file_name.to_ascii_lowercase();
    for (ext, format) in EXTENSIONS {
        if lower.ends_with(ext) {
            // ASCII lowercasing keeps byte offsets, so this slices at a char boundary.
            return Ok((&file_name[..file_name.len() - ext.len()], format));
        }
    }
    Err(NameError::UnknownFormat {
        name: file_name.to_string(),
    })
}

/// The archive format a file name's extension says (`.zip`, `.nupkg`, `.tar.gz`, `.tgz`; any case).
pub fn format_from_file_name(file_name: &str) -> Result<ArchiveFormat, NameError> {
    split_extension(file_name).map(|(_, f)| f)
}

/// Parses "Acme.Web.1.2.3.tar.gz" -> ("Acme.Web", "1.2.3", TarGz). Version starts at the first
/// '.'-separated segment that begins with a digit; supports .zip .nupkg .tar.gz .tgz;
/// pre-release suffixes like 1.2.3-beta.1 kept in version.
///
/// Any directory part (`/` or `\`, as some browsers send) is ignored; the id and version must
/// then pass [`validate_id`] and [`validate_version`].
pub fn parse_file_name(file_name: &str) -> Result<(String, String, ArchiveFormat), NameError> {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let bad = |reason: String| NameError::BadFileName {
        name: file_name.to_string(),
        reason,
    };
    let (stem, format) = split_extension(base)?;
    let segments: Vec<&str> = stem.split('.').collect();
    let Some(at) = segments
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, s)| s.starts_with(|c: char| c.is_ascii_digit()))
        .map(|(i, _)| i)
    else {
        return Err(bad(
            "no version found (a version is the first '.'-separated part starting with a digit)"
                .into(),
        ));
    };
    let id = segments[..at].join(".");
    let version = segments[at..].join(".");
    validate_id(&id).map_err(|e| bad(e.to_string()))?;
    validate_version(&version).map_err(|e| bad(e.to_string()))?;
    Ok((id, version, format))
}

/// Checks a package id: 1–100 chars of ASCII letters, digits, `.`, `-`, `_`, starting with a
/// letter or digit, no `..`, not ending in `.`; so it is always safe as a file name component.
pub fn validate_id(s: &str) -> Result<(), NameError> {
    check(s, MAX_ID_LEN, |_| false).map_err(|reason| NameError::InvalidId {
        id: s.to_string(),
        reason,
    })?;
    if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(NameError::InvalidId {
            id: s.to_string(),
            reason: "must start with a letter or digit".into(),
        });
    }
    Ok(())
}

/// Checks a version: 1–128 chars of ASCII letters, digits, `.`, `-`, `_`, `+`, starting with a
/// digit (e.g. `1.2.3`, `2024.1.0-beta.1+build.5`), no `..`, not ending in `.`.
pub fn validate_version(s: &str) -> Result<(), NameError> {
    check(s, MAX_VERSION_LEN, |c| c == '+').map_err(|reason| NameError::InvalidVersion {
        version: s.to_string(),
        reason,
    })?;
    if !s.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(NameError::InvalidVersion {
            version: s.to_string(),
            reason: "must start with a digit".into(),
        });
    }
    Ok(())
}

/// Shared rules; `extra` allows additional characters. Returns the reason on failure.
fn check(s: &str, max_len: usize, extra: impl Fn(char) -> bool) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > max_len {
        return Err(format!("is longer than {max_len} characters"));
    }
    if let Some(c) = s.chars().find(|c| *c == '/' || *c == '\\') {
        return Err(format!("must not contain a path separator ('{c}')"));
    }
    if let Some(c) = s
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') || extra(c)))
    {
        return Err(format!(
            "contains {c:?}; only ASCII letters, digits and {} are allowed",
            if extra('+') {
                "'.', '-', '_', '+'"
            } else {
                "'.', '-', '_'"
            }
        ));
    }
    if s.contains("..") {
        return Err("must not contain '..'".into());
    }
    if s.ends_with('.') {
        return Err("must not end with '.'".into());
    }
    Ok(())
}

#[cfg(test)]
#[path = "tests/names.rs"]
mod tests;
