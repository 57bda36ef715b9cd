//! The package store: content-addressed chunk store, streaming ingest/reassembly, archive validation and safe extraction.
//!
//! A package is uploaded once as a whole archive (`Acme.Web.1.2.3.tar.gz`), split by
//! content-defined chunking ([`ingest`]) into chunks kept in a [`ChunkStore`], and described by
//! a [`PackageManifest`]. Because chunk boundaries follow the content, a new version of a
//! package that differs in a few places shares almost all of its chunks with the previous one,
//! so both storage and transfer to agents only pay for what changed ([`ChunkStore::missing`]).
//! The original bytes come back through [`PackageReader`], verified chunk by chunk and, at
//! the end, against the whole-file SHA-256. Agents [`validate_archive`] and [`extract`] the
//! reassembled archive without ever writing outside the target directory.

mod archive;
mod chunks;
mod error;
mod extract;
mod gc;
mod ingest;
mod limits;
mod migrate;
mod open;
pub mod pack;
mod reader;
mod safety;
mod staging;
#[cfg(test)]
#[path = "tests/util.rs"]
mod testutil;
mod writer;

pub use archive::{validate_archive, validate_stream};
pub use chunks::{ChunkStore, MAX_CHUNK_LEN, StoreStats, ZSTD_LEVEL, chunk_hash};
pub use error::PackageError;
pub use extract::extract;
pub use gc::GcReport;
pub use ingest::{CHUNK_AVG, CHUNK_MAX, CHUNK_MIN, Ingested, ingest, ingest_staged};
pub use limits::{ExtractLimits, RATIO_FLOOR};
// Package identity lives in the domain; re-exported so users of the store need one import.
pub use domain::package::{
    ArchiveFormat, ChunkHash, ChunkRef, NameError, PackageManifest, format_from_file_name,
    parse_file_name, validate_id, validate_version,
};
pub use reader::PackageReader;
pub use staging::Staged;

pub mod transfer;
