//! Package identity: manifests (what a stored package is made of) and file names, ids and
//! versions, with their validation. The chunk store and archives live in `package-store`.

mod error;
mod manifest;
mod names;

pub use error::NameError;
pub use manifest::{ArchiveFormat, ChunkHash, ChunkRef, PackageManifest};
pub use names::{format_from_file_name, parse_file_name, validate_id, validate_version};
