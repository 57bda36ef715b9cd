//! The store's last committed position, kept outside it: every flush of the sled store bumps a
//! counter inside the database and then records the same number, fsynced, in a small file next
//! to it (`<db>.position`). sled treats a damaged record as the end of its log and silently
//! drops everything after it; a database whose counter is behind the file's number lost
//! commits, and opening it is refused with what is missing and how to recover.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::StorageError;

/// The counter's key in sled's default tree (not the records tree: scans never see it).
pub const SEQ_KEY: &[u8] = b"\0meta\0flush-seq";

/// The position file of the database in `db`.
pub fn path_for(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".position");
    db.with_file_name(name)
}

/// What the file says: the counter at the last flush, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub seq: u64,
    pub at: i64,
}

fn checksum(seq: u64, at: i64) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in seq.to_le_bytes().iter().chain(at.to_le_bytes().iter()) {
        h = (h ^ u32::from(*b)).wrapping_mul(0x0100_0193);
    }
    h
}

/// One line, padded to a fixed length so an overwrite in place never leaves old bytes.
fn render(p: Position) -> Vec<u8> {
    let line = format!("v1 {} {} {:08x}", p.seq, p.at, checksum(p.seq, p.at));
    format!("{line:<63}\n").into_bytes()
}

fn parse(text: &str) -> Option<Position> {
    let mut w = text.split_whitespace();
    if w.next()? != "v1" {
        return None;
    }
    let seq: u64 = w.next()?.parse().ok()?;
    let at: i64 = w.next()?.parse().ok()?;
    let sum = u32::from_str_radix(w.next()?, 16).ok()?;
    (sum == checksum(seq, at)).then_some(Position { seq, at })
}

/// The file, open for the flushes to come.
pub struct PositionFile {
    path: PathBuf,
    file: File,
}

impl PositionFile {
    /// Opens (creating) the position file of `db`; refuses a store whose counter `store_seq`
    /// is behind the recorded position.
    pub fn open(db: &Path, store_seq: u64) -> Result<Self, StorageError> {
        let path = path_for(db);
        let io = |what: &str, e: std::io::Error| {
            StorageError::Backend(format!("cannot {what} {}: {e}", path.display()))
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io("open", e))?;
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(|e| io("read", e))?;
        if !text.trim().is_empty() {
            let Some(p) = parse(&text) else {
                return Err(StorageError::Backend(format!(
                    "{} is damaged: it cannot say whether the database is complete; restore the data directory from a backup (or, to accept the database as it is, delete the file and start again)",
                    path.display()
                )));
            };
            if store_seq < p.seq {
                return Err(StorageError::RolledBack {
                    path: db.display().to_string(),
                    missing: p.seq - store_seq,
                    since: p.at,
                    position: path.display().to_string(),
                });
            }
        }
        Ok(Self { path, file })
    }

    /// Records `seq` (after the database flushed it), fsynced.
    pub fn record(&mut self, seq: u64) -> Result<(), StorageError> {
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let bytes = render(Position { seq, at });
        let io = |e: std::io::Error| {
            StorageError::Backend(format!("cannot write {}: {e}", self.path.display()))
        };
        self.file.seek(SeekFrom::Start(0)).map_err(io)?;
        self.file.write_all(&bytes).map_err(io)?;
        self.file.set_len(bytes.len() as u64).map_err(io)?;
        self.file.sync_data().map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_and_damage_is_seen() {
        let p = Position {
            seq: 42,
            at: 1_700_000_000,
        };
        let text = String::from_utf8(render(p)).unwrap();
        assert_eq!(text.len(), 64);
        assert_eq!(parse(&text), Some(p));
        assert_eq!(
            parse(&text.replace("42", "41")),
            None,
            "the checksum catches an edit"
        );
        assert_eq!(parse("v2 1 2 3"), None);
        assert_eq!(
            path_for(Path::new("/data/db")),
            PathBuf::from("/data/db.position")
        );
    }
}
