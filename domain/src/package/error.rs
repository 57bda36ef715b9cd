//! Errors about package names: file names, ids, versions and formats.

/// A package file name, id, version or format that is not acceptable. Messages name the
/// offending value and what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// A package file name is not `<id>.<version>.<ext>`.
    #[error(
        "bad package file name '{name}': {reason} (expected '<id>.<version>.<ext>', e.g. 'Acme.Web.1.2.3.zip')"
    )]
    BadFileName { name: String, reason: String },

    /// A package id has characters or a shape that is not allowed.
    #[error("invalid package id '{id}': {reason}")]
    InvalidId { id: String, reason: String },

    /// A package version has characters or a shape that is not allowed.
    #[error("invalid package version '{version}': {reason}")]
    InvalidVersion { version: String, reason: String },

    /// The file extension / format name is not one we handle.
    #[error("'{name}' is not a supported package format (use .zip, .nupkg, .tar.gz or .tgz)")]
    UnknownFormat { name: String },
}
