//! Pack files: many chunks appended to one file, so storing a chunk costs a write, not a
//! file (issue 13 measured ~7 syscalls and an fsync per chunk-file).
//!
//! A pack starts with [`MAGIC`]; then records, each a 40-byte header — the chunk's BLAKE3
//! (32 bytes), the stored length (u32 LE), the first 4 bytes of BLAKE3(hash ‖ length) so a
//! damaged header is told from a record — followed by that many bytes of zstd. Records are
//! only ever appended; a pack is never changed in place (garbage collection writes the live
//! records elsewhere and deletes the pack). A crash can leave a torn last record, which the
//! scan stops before; the payload of every record is checked against its hash when read.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::ChunkHash;

/// The first bytes of every pack file (format version 1).
pub const MAGIC: &[u8; 8] = b"DPACK\x00\x00\x01";
/// Bytes before each record's payload.
pub const HEADER_LEN: u64 = 40;

/// A record found by [`scan`]: its chunk, where its payload starts and how long it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub hash: ChunkHash,
    pub offset: u64,
    pub len: u32,
}

/// What [`scan`] read from a pack.
#[derive(Debug, Default)]
pub struct Scanned {
    pub records: Vec<Record>,
    /// The length up to the end of the last whole record.
    pub valid_len: u64,
    /// Why the scan stopped before the end of the file, if it did.
    pub stopped: Option<String>,
}

fn check(hash: &ChunkHash, len: u32) -> [u8; 4] {
    let mut h = blake3::Hasher::new();
    h.update(hash);
    h.update(&len.to_le_bytes());
    let d = h.finalize();
    let mut out = [0; 4];
    out.copy_from_slice(&d.as_bytes()[..4]);
    out
}

/// The header of a record holding `len` bytes of chunk `hash`.
pub fn header(hash: &ChunkHash, len: u32) -> [u8; HEADER_LEN as usize] {
    let mut out = [0; HEADER_LEN as usize];
    out[..32].copy_from_slice(hash);
    out[32..36].copy_from_slice(&len.to_le_bytes());
    out[36..].copy_from_slice(&check(hash, len));
    out
}

/// Reads the records of a pack, stopping at the first header that is not whole or does not
/// check, or whose payload runs past the end (a torn write or damage: [`Scanned::stopped`]).
pub fn scan(file: &File, max_len: u32) -> io::Result<Scanned> {
    let size = file.metadata()?.len();
    let mut magic = [0; 8];
    if size < MAGIC.len() as u64 {
        return Ok(Scanned {
            stopped: (size > 0).then(|| "shorter than its header".to_string()),
            ..Scanned::default()
        });
    }
    file.read_exact_at(&mut magic, 0)?;
    if &magic != MAGIC {
        return Ok(Scanned {
            stopped: Some("not a pack file of this version".into()),
            ..Scanned::default()
        });
    }
    let mut out = Scanned {
        valid_len: MAGIC.len() as u64,
        ..Scanned::default()
    };
    let mut at = out.valid_len;
    // Headers are read through a buffer: a pack of 64 MiB holds thousands of them.
    let mut reader = io::BufReader::with_capacity(1 << 16, PositionedReader { file, at });
    while at < size {
        let mut h = [0; HEADER_LEN as usize];
        if size - at < HEADER_LEN {
            out.stopped = Some(format!("a record header cut short at byte {at}"));
            break;
        }
        reader.read_exact(&mut h)?;
        let mut hash = [0; 32];
        hash.copy_from_slice(&h[..32]);
        let len = u32::from_le_bytes([h[32], h[33], h[34], h[35]]);
        if h[36..] != check(&hash, len) || len > max_len {
            out.stopped = Some(format!("a damaged record header at byte {at}"));
            break;
        }
        let offset = at + HEADER_LEN;
        if size - offset < u64::from(len) {
            out.stopped = Some(format!("a record cut short at byte {at}"));
            break;
        }
        reader.seek_relative(i64::from(len))?;
        at = offset + u64::from(len);
        out.records.push(Record { hash, offset, len });
        out.valid_len = at;
    }
    Ok(out)
}

/// Sequential reads of a file from a position, without moving a shared cursor.
struct PositionedReader<'a> {
    file: &'a File,
    at: u64,
}

impl Read for PositionedReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

impl io::Seek for PositionedReader<'_> {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        self.at = match pos {
            io::SeekFrom::Start(n) => n,
            io::SeekFrom::Current(d) => self.at.saturating_add_signed(d),
            io::SeekFrom::End(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "seek from the end",
                ));
            }
        };
        Ok(self.at)
    }
}

/// The name of pack number `id` (sorting by name sorts by number).
pub fn file_name(id: u32) -> String {
    format!("pack-{id:08}.pack")
}

/// The number of a pack file named by [`file_name`].
pub fn id_of(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?;
    let digits = name.strip_prefix("pack-")?.strip_suffix(".pack")?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
#[path = "tests/pack.rs"]
mod tests;
