//! The embedded [`Store`] backend: one sled tree, keys `table \0 key`, atomic batches as sled
//! transactions.

use std::path::Path;

use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::{Batch, Op, StorageError, Store};

pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
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
            .open()
            .map_err(|e| {
                StorageError::Backend(format!(
                    "cannot open database at {}: {e} (is another process using this data directory?)",
                    path.display()
                ))
            })?;
        let tree = db.open_tree("records").map_err(backend)?;
        Ok(Self { db, tree })
    }
}

impl Store for SledStore {
    fn get(&self, table: &str, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .tree
            .get(full_key(table, key))
            .map_err(backend)?
            .map(|v| v.to_vec()))
    }

    fn scan(
        &self,
        table: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        let head = table.len() + 1;
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(full_key(table, prefix)) {
            let (k, v) = item.map_err(backend)?;
            let key = String::from_utf8_lossy(&k[head..]).into_owned();
            if start_after.is_some_and(|a| key.as_str() <= a) {
                continue;
            }
            out.push((key, v.to_vec()));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn commit(&self, batch: Batch) -> Result<(), StorageError> {
        let result = self.tree.transaction(|tx| {
            for op in &batch.ops {
                match op {
                    Op::Insert { table, key, .. } if tx.get(full_key(table, key))?.is_some() => {
                        return Err(ConflictableTransactionError::Abort(
                            StorageError::Conflict {
                                table: table.clone(),
                                key: key.clone(),
                            },
                        ));
                    }
                    Op::Expect { table, key, value } => {
                        let cur = tx.get(full_key(table, key))?;
                        if cur.as_deref() != value.as_deref() {
                            return Err(ConflictableTransactionError::Abort(
                                StorageError::Changed {
                                    table: table.clone(),
                                    key: key.clone(),
                                },
                            ));
                        }
                    }
                    _ => {}
                }
            }
            for op in &batch.ops {
                match op {
                    Op::Put { table, key, value } | Op::Insert { table, key, value } => {
                        tx.insert(full_key(table, key), value.as_slice())?;
                    }
                    Op::Delete { table, key } => {
                        tx.remove(full_key(table, key))?;
                    }
                    Op::Expect { .. } => {}
                }
            }
            Ok(())
        });
        match result {
            Ok(()) => Ok(()),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(backend(e)),
        }
    }

    fn next_id(&self, counter: &str) -> Result<u64, StorageError> {
        let key = full_key("\u{0}counter", counter);
        let result = self.tree.transaction(
            |tx| -> Result<u64, ConflictableTransactionError<StorageError>> {
                let cur = tx
                    .get(&key)?
                    .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
                    .map(u64::from_be_bytes)
                    .unwrap_or(0);
                let n = cur + 1;
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

    fn flush(&self) -> Result<(), StorageError> {
        self.db.flush().map_err(backend).map(|_| ())
    }
}
