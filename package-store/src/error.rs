//! The error type shared by everything in the packages module.

use std::path::Path;

/// Everything that can go wrong storing, reassembling, validating or extracting a package.
/// Messages name the offending value and, where there is one, what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// Reading or writing the disk failed (the message names the path where known).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    /// A package file name, id, version or format is not acceptable.
    #[error(transparent)]
    Name(#[from] domain::package::NameError),

    /// The archive is truncated, corrupt or internally inconsistent.
    #[error("package archive is malformed: {reason}")]
    Malformed { reason: String },

    /// The archive unpacks to more than an extraction limit allows.
    #[error(
        "package refused: {reason}; nothing was kept (limits: [limits] in the Space configuration, PACKAGE_EXTRACT_* on agents and drop runs)"
    )]
    LimitExceeded { reason: String },

    /// An entry (or a link's target) would land outside the extraction directory.
    #[error("archive entry '{entry}' would be written outside the extraction directory")]
    UnsafePath { entry: String },

    /// An entry of a kind packages may not contain (device, fifo, socket, ...).
    #[error("archive entry '{entry}' is a {kind}, which packages may not contain")]
    UnsupportedEntry { entry: String, kind: String },

    /// Reassembled content does not match the manifest's SHA-256.
    #[error(
        "package content does not match its SHA-256: expected {expected}, got {actual}; the stored package is corrupt, upload it again"
    )]
    HashMismatch { expected: String, actual: String },

    /// Reassembled content does not have the manifest's size.
    #[error(
        "package content is {actual} bytes but the manifest says {expected}; the stored package is corrupt, upload it again"
    )]
    SizeMismatch { expected: u64, actual: u64 },

    /// A stored (or received) chunk does not decompress or does not match its hash.
    #[error(
        "chunk {hash} is corrupt (its content does not match its hash); delete it from the chunk store and upload the package again"
    )]
    ChunkCorrupt { hash: String },

    /// A chunk the manifest needs is not in the store.
    #[error(
        "chunk {hash} is missing from the chunk store; upload the package again (or re-sync it to this machine)"
    )]
    ChunkMissing { hash: String },

    /// A chunk is larger than the store accepts.
    #[error("chunk of {len} bytes is larger than the {max}-byte limit")]
    ChunkTooLarge { len: usize, max: usize },
}

impl PackageError {
    /// Builds a [`PackageError::Malformed`].
    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        PackageError::Malformed {
            reason: reason.into(),
        }
    }

    /// Recovers the [`PackageError`] carried inside an `io::Error` (as [`PackageReader`]
    /// returns them through `Read`), or wraps a plain I/O error as [`PackageError::Io`].
    ///
    /// [`PackageReader`]: super::PackageReader
    pub fn from_io(err: std::io::Error) -> Self {
        if !err
            .get_ref()
            .is_some_and(|inner| inner.is::<PackageError>())
        {
            return PackageError::Io(err);
        }
        match err
            .into_inner()
            .map(|inner| inner.downcast::<PackageError>())
        {
            Some(Ok(pe)) => *pe,
            // Unreachable: the type was just checked.
            _ => PackageError::malformed("unexpected error wrapping"),
        }
    }

    /// Converts into an `io::Error` (kind `NotFound` for missing chunks, `InvalidData` for
    /// content problems) that [`from_io`](Self::from_io) turns back into this error.
    pub fn into_io(self) -> std::io::Error {
        let kind = match &self {
            PackageError::Io(e) => e.kind(),
            PackageError::ChunkMissing { .. } => std::io::ErrorKind::NotFound,
            _ => std::io::ErrorKind::InvalidData,
        };
        std::io::Error::new(kind, self)
    }

    /// Wraps an I/O error with the path it happened on, so the message says where.
    pub(crate) fn io_at(what: &str, path: &Path, err: std::io::Error) -> Self {
        PackageError::Io(std::io::Error::new(
            err.kind(),
            format!("{what} '{}': {err}", path.display()),
        ))
    }
}
