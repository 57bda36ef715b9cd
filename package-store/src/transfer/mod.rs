//! The sneakernet package path: a target Space's chunk [`Inventory`], and transfer archives
//! holding only the chunks a bundle's packages need that the target lacks.
//!
//! Inventory file (`deploy package inventory`): `DPLYINVT`, major u16, minor u16 (big-endian),
//! the Space name (u16 length + UTF-8); since 1.1 a u64 count of packages held whole, each its
//! id and version (u16 length + UTF-8 each) and the SHA-256 of its chunk list
//! ([`chunks_digest`]), sorted; then a u64 count and the BLAKE3 hashes of the chunks no listed
//! package covers, sorted ascending (32 bytes each); then the SHA-256 of everything before it.
//! The set is exact (no Bloom/fuse filter: a false positive would leave a needed chunk
//! behind). A package counts only where the source holds the same id and version with the
//! same chunk list, so the file costs about 60 bytes per package held, not 32 per chunk
//! (which 1.0 files, still read, cost: about 2 MiB per GiB of packages at 16 KiB chunks).
//!
//! Transfer archive (`deploy package export`): `DPLYXFER`, major u16, minor u16, then records:
//! `0x01` chunk: hash (32), u32 length, the zstd bytes exactly as the store keeps them;
//! `0x02` delta: hash (32), base hash (32), u32 length, zstd compressed with the base chunk
//! (which the target holds, by its inventory) as dictionary; `0xFF` end: u64 record count and
//! the SHA-256 of every byte before it. Written as a stream (one chunk in memory at a time);
//! [`import`] checks every chunk against its hash before storing it and the trailer at the end,
//! and is idempotent. A refused archive can only have left verified chunks behind.

mod archive;
mod bases;
pub mod delta;
mod inventory;
#[cfg(test)]
mod tests;

pub use archive::{ExportOptions, ExportStats, ImportStats, export, import};
pub use inventory::{HeldPackage, INVENTORY_MINOR, Inventory, Resolved, chunks_digest};

use crate::PackageError;

/// Format version of archives this build writes and the newest it reads (the major also of
/// inventories, whose minor is [`INVENTORY_MINOR`]).
pub const FORMAT_MAJOR: u16 = 1;
pub const FORMAT_MINOR: u16 = 0;

/// Why an inventory or archive could not be written or read. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a chunk inventory: {0}")]
    NotInventory(String),
    #[error("not a transfer archive: {0}")]
    NotArchive(String),
    #[error(
        "{what} format {found} is newer than this build understands ({supported}); upgrade deploy"
    )]
    TooNew {
        what: &'static str,
        found: String,
        supported: String,
    },
    #[error(
        "chunk {hash} (record {record}) in the archive does not match its hash: the archive was changed or damaged; export it again"
    )]
    CorruptChunk { hash: String, record: u64 },
    #[error(
        "delta chunk {hash} needs base chunk {base}, which this Space does not hold; export again with this Space's current inventory"
    )]
    MissingBase { hash: String, base: String },
    #[error(
        "the archive ends early after {records} records: it was cut short while copying; copy it again"
    )]
    Truncated { records: u64 },
    #[error("the archive's checksum does not match: it was changed or damaged; export it again")]
    BadChecksum,
    #[error(
        "chunk {hash} of package {package} is missing from this Space's chunk store; upload the package again"
    )]
    MissingSource { package: String, hash: String },
    #[error(transparent)]
    Store(#[from] PackageError),
}

/// Maps an unexpected EOF to [`TransferError::Truncated`].
fn eof_as_truncated(records: u64) -> impl Fn(std::io::Error) -> TransferError {
    move |e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            TransferError::Truncated { records }
        } else {
            TransferError::Io(e)
        }
    }
}
