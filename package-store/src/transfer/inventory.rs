//! The exact set of chunk hashes a Space holds, built from its chunk store's directory layout
//! (`<root>/<2 hex>/<64 hex>.zst`), written and read in the versioned inventory format.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use super::{FORMAT_MAJOR, FORMAT_MINOR, TransferError};
use crate::{ChunkHash, ChunkStore};

const MAGIC: &[u8; 8] = b"DPLYINVT";
/// Refuse inventories claiming more chunks than this (64 TiB of 16 KiB chunks).
const MAX_COUNT: u64 = 1 << 32;

/// The chunk hashes a Space holds, sorted and distinct.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Inventory {
    pub space: String,
    hashes: Vec<ChunkHash>,
}

impl Inventory {
    /// An inventory of exactly `hashes`.
    pub fn new(space: impl Into<String>, hashes: impl IntoIterator<Item = ChunkHash>) -> Self {
        let mut hashes: Vec<ChunkHash> = hashes.into_iter().collect();
        hashes.sort_unstable();
        hashes.dedup();
        Self {
            space: space.into(),
            hashes,
        }
    }

    /// Every chunk in `store` (by its index; content is verified when a chunk is read).
    pub fn from_store(store: &ChunkStore, space: &str) -> Result<Self, TransferError> {
        Ok(Self::new(space, store.hashes()?))
    }

    pub fn contains(&self, h: &ChunkHash) -> bool {
        self.hashes.binary_search(h).is_ok()
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Writes the inventory file.
    pub fn write_to(&self, out: impl Write) -> Result<(), TransferError> {
        let mut out = io::BufWriter::new(out);
        let mut sha = Sha256::new();
        let name = self.space.as_bytes();
        let name_len = u16::try_from(name.len())
            .map_err(|_| TransferError::NotInventory("the Space name is too long".into()))?;
        let mut head = Vec::with_capacity(24 + name.len());
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&FORMAT_MAJOR.to_be_bytes());
        head.extend_from_slice(&FORMAT_MINOR.to_be_bytes());
        head.extend_from_slice(&name_len.to_be_bytes());
        head.extend_from_slice(name);
        head.extend_from_slice(&(self.hashes.len() as u64).to_be_bytes());
        sha.update(&head);
        out.write_all(&head)?;
        for h in &self.hashes {
            sha.update(h);
            out.write_all(h)?;
        }
        out.write_all(&sha.finalize())?;
        out.flush()?;
        Ok(())
    }

    /// Reads an inventory file, refusing anything damaged, unsorted or of a newer format.
    pub fn read_from(input: impl Read) -> Result<Self, TransferError> {
        let mut input = io::BufReader::new(input);
        let bad = |m: &str| TransferError::NotInventory(m.to_string());
        let mut sha = Sha256::new();
        let mut read = |buf: &mut [u8], sha: &mut Sha256| -> Result<(), TransferError> {
            input.read_exact(buf).map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => bad("the file ends early; copy it again"),
                _ => TransferError::Io(e),
            })?;
            sha.update(&*buf);
            Ok(())
        };
        let mut head = [0u8; 14];
        read(&mut head, &mut sha)?;
        if &head[..8] != MAGIC {
            return Err(bad("it does not start with DPLYINVT"));
        }
        let major = u16::from_be_bytes([head[8], head[9]]);
        let minor = u16::from_be_bytes([head[10], head[11]]);
        if major != FORMAT_MAJOR || minor > FORMAT_MINOR {
            return Err(TransferError::TooNew {
                what: "inventory",
                found: format!("{major}.{minor}"),
            });
        }
        let mut name = vec![0u8; usize::from(u16::from_be_bytes([head[12], head[13]]))];
        read(&mut name, &mut sha)?;
        let space = String::from_utf8(name).map_err(|_| bad("the Space name is not UTF-8"))?;
        let mut count = [0u8; 8];
        read(&mut count, &mut sha)?;
        let count = u64::from_be_bytes(count);
        if count > MAX_COUNT {
            return Err(bad("it claims an impossible number of chunks"));
        }
        // Grow with what actually arrives: a few bytes claiming a million hashes must not
        // cost 32 MiB up front (found by fuzzing: `fuzz/fuzz_targets/inventory_parse.rs`).
        let mut hashes: Vec<ChunkHash> = Vec::with_capacity(count.min(4096) as usize);
        for _ in 0..count {
            let mut h = [0u8; 32];
            read(&mut h, &mut sha)?;
            if hashes.last().is_some_and(|last| *last >= h) {
                return Err(bad("its hashes are not sorted"));
            }
            hashes.push(h);
        }
        let expected = sha.finalize();
        let mut trailer = [0u8; 32];
        read(&mut trailer, &mut Sha256::new())?;
        if trailer[..] != expected[..] {
            return Err(bad(
                "its checksum does not match: it was changed or damaged",
            ));
        }
        let mut extra = [0u8; 1];
        if input.read(&mut extra)? != 0 {
            return Err(bad("it has data after its checksum"));
        }
        Ok(Self { space, hashes })
    }
}
