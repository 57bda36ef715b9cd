//! The embedded [`Store`] backend: one sled tree, keys `table \0 key`, values framed with their
//! revision, atomic batches and transactions as sled transactions (optimistic: sled runs a
//! closure again when a concurrent transaction touched the same keys).

use std::cell::RefCell;
use std::path::Path;

use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};

use super::tx::{Tx, Versioned, frame};
use super::{Batch, Row, StorageError, Store};

/// The most bytes of pages sled keeps in memory (its default, 1 GiB, let a busy server's
/// resident memory grow with every write until it got there: measured by the soak,
/// `tests/src/bin/soak.rs`).
const CACHE_BYTES: u64 = 32 << 20;

pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
    /// The last committed position, outside the database (see `crate::position`); held while
    /// a flush bumps the counter, flushes and records it, so positions are written in order.
    position: std::sync::Mutex<(u64, crate::position::PositionFile)>,
    /// Writers (transactions, counters) share it; a snapshot takes it alone, so it sees no
    /// write half done.
    gate: std::sync::RwLock<()>,
}

fn backend(e: sled::Error) -> StorageError {
    StorageError::Backend(e.to_string())
}

fn full_key(table: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(table.len() + 1 + key.len());
    k.extend_from_slice(table.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

impl SledStore {
    /// Opens (creating if needed) the database in directory `path`.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let db = sled::Config::new()
            .path(path)
            .flush_every_ms(Some(200))
            .cache_capacity(CACHE_BYTES)
            .open()
            .map_err(|e| {
                StorageError::Backend(format!(
                    "cannot open database at {}: {e} (is another process using this data directory?)",
                    path.display()
                ))
            })?;
        let tree = db.open_tree("records").map_err(backend)?;
        let seq = db
            .get(crate::position::SEQ_KEY)
            .map_err(backend)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map_or(0, u64::from_be_bytes);
        let file = crate::position::PositionFile::open(path, seq)?;
        Ok(Self {
            db,
            tree,
            position: std::sync::Mutex::new((seq, file)),
            gate: std::sync::RwLock::new(()),
        })
    }

    /// Sets `counter` to `f(its value)` in one transaction and returns the new value.
    fn update_counter(&self, counter: &str, f: impl Fn(u64) -> u64) -> Result<u64, StorageError> {
        let _writing = self.gate.read().unwrap_or_else(|p| p.into_inner());
        let key = full_key(super::COUNTER_TABLE, counter);
        let result = self.tree.transaction(
            |tx| -> Result<u64, ConflictableTransactionError<StorageError>> {
                let cur = tx
                    .get(&key)?
                    .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
                    .map(u64::from_be_bytes)
                    .unwrap_or(0);
                let n = f(cur);
                tx.insert(key.as_slice(), &n.to_be_bytes())?;
                Ok(n)
            },
        );
        match result {
            Ok(n) => Ok(n),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(backend(e)),
        }
    }

    /// Writes raw bytes without the revision frame, as builds before revisions did (for
    /// migration tests).
    #[cfg(test)]
    pub(crate) fn put_legacy(&self, table: &str, key: &str, value: &[u8]) {
        let _ = self.tree.insert(full_key(table, key), value);
    }
}

/// One sled transaction seen through [`Tx`]. A sled conflict is carried in `conflict` so the
/// closure's own result type stays [`StorageError`].
struct SledTx<'a> {
    tree: &'a TransactionalTree,
    conflict: Option<UnabortableTransactionError>,
}

impl SledTx<'_> {
    fn check<T>(&mut self, r: Result<T, UnabortableTransactionError>) -> Result<T, StorageError> {
        r.map_err(|e| {
            let msg = e.to_string();
            self.conflict = Some(e);
            StorageError::Backend(msg)
        })
    }

    fn current(&mut self, k: &[u8]) -> Result<Option<Versioned>, StorageError> {
        let r = self.tree.get(k);
        Ok(self.check(r)?.map(|v| frame::unwrap(&v)))
    }

    fn write(&mut self, k: Vec<u8>, value: &[u8]) -> Result<(), StorageError> {
        let rev = self.current(&k)?.map_or(0, |v| v.revision) + 1;
        let r = self.tree.insert(k, frame::wrap(rev, value));
        self.check(r).map(|_| ())
    }
}

impl Tx for SledTx<'_> {
    fn get(&mut self, table: &str, key: &str) -> Result<Option<Versioned>, StorageError> {
        self.current(&full_key(table, key))
    }
    fn put(&mut self, table: &str, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        self.write(full_key(table, key), &value)
    }
    fn insert(&mut self, table: &str, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        let k = full_key(table, key);
        if self.current(&k)?.is_some() {
            return Err(StorageError::Conflict {
                table: table.into(),
                key: key.into(),
            });
        }
        self.write(k, &value)
    }
    fn delete(&mut self, table: &str, key: &str) -> Result<(), StorageError> {
        let r = self.tree.remove(full_key(table, key));
        self.check(r).map(|_| ())
    }
}

impl Store for SledStore {
    fn get(&self, table: &str, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.get_versioned(table, key)?.map(|v| v.value))
    }

    fn get_versioned(&self, table: &str, key: &str) -> Result<Option<Versioned>, StorageError> {
        Ok(self
            .tree
            .get(full_key(table, key))
            .map_err(backend)?
            .map(|v| frame::unwrap(&v)))
    }

    fn scan(
        &self,
        table: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        let head = table.len() + 1;
        let lower = full_key(table, prefix);
        // Start right after `start_after` (when it lies within the prefix) instead of walking
        // the prefix from its beginning: every page costs only its own entries.
        let iter = match start_after {
            Some(a) if a.as_bytes() >= prefix.as_bytes() => {
                let mut from = full_key(table, a);
                from.push(0);
                self.tree.range(from..)
            }
            _ => self.tree.range(lower.clone()..),
        };
        let mut out = Vec::new();
        for item in iter {
            let (k, v) = item.map_err(backend)?;
            if !k.starts_with(&lower) {
                break;
            }
            let key = String::from_utf8_lossy(&k[head..]).into_owned();
            out.push((key, frame::unwrap(&v).value));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn commit(&self, batch: Batch) -> Result<(), StorageError> {
        self.transact(&mut |tx| super::tx::apply(tx, &batch))
    }

    fn transact(
        &self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let _writing = self.gate.read().unwrap_or_else(|p| p.into_inner());
        let f = RefCell::new(f);
        let result = self.tree.transaction(|t| {
            let mut tx = SledTx {
                tree: t,
                conflict: None,
            };
            let mut f = f.borrow_mut();
            match (*f)(&mut tx) {
                Ok(()) => Ok(()),
                // A sled conflict must reach sled, which then runs the closure again.
                Err(_) if tx.conflict.is_some() => match tx.conflict.take() {
                    Some(c) => Err(c.into()),
                    None => Err(ConflictableTransactionError::Abort(StorageError::Aborted)),
                },
                Err(e) => Err(ConflictableTransactionError::Abort(e)),
            }
        });
        match result {
            Ok(()) => Ok(()),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(backend(e)),
        }
    }

    fn next_id(&self, counter: &str) -> Result<u64, StorageError> {
        self.update_counter(counter, |n| n + 1)
    }

    fn raise_id(&self, counter: &str, at_least: u64) -> Result<u64, StorageError> {
        self.update_counter(counter, |n| n.max(at_least))
    }

    /// Makes every commit so far durable, and records the position reached outside the
    /// database (a later open refuses a database behind it).
    fn flush(&self) -> Result<(), StorageError> {
        let mut held = self
            .position
            .lock()
            .map_err(|_| StorageError::Backend("the position lock is poisoned".into()))?;
        let next = held.0 + 1;
        self.db
            .insert(crate::position::SEQ_KEY, &next.to_be_bytes())
            .map_err(backend)?;
        self.db.flush().map_err(backend)?;
        held.0 = next;
        held.1.record(next)
    }

    fn snapshot(&self) -> Result<Vec<Row>, StorageError> {
        let _alone = self.gate.write().unwrap_or_else(|p| p.into_inner());
        let counters = full_key(super::COUNTER_TABLE, "");
        let mut rows = Vec::new();
        for item in self.tree.iter() {
            let (k, v) = item.map_err(backend)?;
            let row = if let Some(name) = k.strip_prefix(counters.as_slice()) {
                let n = <[u8; 8]>::try_from(v.as_ref()).map_or(0, u64::from_be_bytes);
                Row {
                    table: super::COUNTER_TABLE.into(),
                    key: String::from_utf8_lossy(name).into_owned(),
                    revision: n,
                    value: n.to_be_bytes().to_vec(),
                }
            } else {
                let at = k.iter().position(|b| *b == 0).unwrap_or(k.len());
                let Versioned { value, revision } = frame::unwrap(&v);
                Row {
                    table: String::from_utf8_lossy(&k[..at]).into_owned(),
                    key: String::from_utf8_lossy(k.get(at + 1..).unwrap_or_default()).into_owned(),
                    revision,
                    value,
                }
            };
            rows.push(row);
        }
        Ok(rows)
    }

    fn load(&self, rows: &[Row]) -> Result<(), StorageError> {
        let _alone = self.gate.write().unwrap_or_else(|p| p.into_inner());
        if !self.tree.is_empty() {
            return Err(StorageError::NotEmpty);
        }
        let mut batch = sled::Batch::default();
        for r in rows {
            let k = full_key(&r.table, &r.key);
            if r.table == super::COUNTER_TABLE {
                batch.insert(k, &r.revision.to_be_bytes());
            } else {
                batch.insert(k, frame::wrap(r.revision, &r.value));
            }
        }
        self.tree.apply_batch(batch).map_err(backend)?;
        drop(_alone);
        self.flush()
    }
}
