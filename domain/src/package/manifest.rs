//! Package metadata types: chunk references, archive formats and the package manifest.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::NameError;

/// BLAKE3 hash of an uncompressed chunk; a chunk's name in the store.
pub type ChunkHash = [u8; 32];

/// One chunk of a package, in order: its hash and uncompressed length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChunkRef {
    pub hash: ChunkHash,
    pub length: u32,
}

impl ChunkRef {
    /// The hash as 64 lowercase hex characters (as used in the store and in messages).
    pub fn hash_hex(&self) -> String {
        hex::encode(self.hash)
    }
}

/// The archive formats packages may be uploaded as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArchiveFormat {
    Zip,
    Nupkg,
    TarGz,
}

impl ArchiveFormat {
    /// Canonical file extension, without the leading dot.
    pub fn extension(&self) -> &'static str {
        match self {
            ArchiveFormat::Zip => "zip",
            ArchiveFormat::Nupkg => "nupkg",
            ArchiveFormat::TarGz => "tar.gz",
        }
    }

    /// Whether the archive is a zip container (`.zip` and `.nupkg`).
    pub fn is_zip(&self) -> bool {
        matches!(self, ArchiveFormat::Zip | ArchiveFormat::Nupkg)
    }
}

impl fmt::Display for ArchiveFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

impl FromStr for ArchiveFormat {
    type Err = NameError;

    /// Accepts `zip`, `nupkg`, `tar.gz`, `tgz` (any case, optional leading dot).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().trim_start_matches('.').to_ascii_lowercase();
        match lower.as_str() {
            "zip" => Ok(ArchiveFormat::Zip),
            "nupkg" => Ok(ArchiveFormat::Nupkg),
            "tar.gz" | "tgz" | "targz" => Ok(ArchiveFormat::TarGz),
            _ => Err(NameError::UnknownFormat {
                name: s.to_string(),
            }),
        }
    }
}

/// Everything needed to reassemble and identify one uploaded package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageManifest {
    pub id: String,
    pub version: String,
    /// Size of the whole archive in bytes.
    pub size: u64,
    /// Lowercase hex SHA-256 of the whole archive.
    pub sha256: String,
    pub format: ArchiveFormat,
    /// The archive's chunks, in order.
    pub chunks: Vec<ChunkRef>,
    /// Unix seconds.
    pub uploaded_at: i64,
}

impl PackageManifest {
    /// `<id>.<version>.<ext>`, the name the package was (or would be) uploaded under.
    pub fn file_name(&self) -> String {
        format!("{}.{}.{}", self.id, self.version, self.format.extension())
    }
}

#[cfg(test)]
#[path = "tests/manifest.rs"]
mod tests;
