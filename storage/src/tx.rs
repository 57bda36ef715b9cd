//! Transactions: a closure that reads and writes, committed as a whole or not at all. This is
//! how read-modify-write happens without a process-wide lock: the backend detects a concurrent
//! change and runs the closure again (sled) or serialises it (memory, PostgreSQL with
//! `SELECT ... FOR UPDATE`). The closure may therefore run more than once: it must not have
//! effects outside the transaction.

use super::{Batch, Op, Record, StorageError, decode, encode};

/// A value and its revision: 1 when first written, +1 on every write of the key. Records
/// written before revisions existed read as revision 0 until their next write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    pub value: Vec<u8>,
    pub revision: u64,
}

/// What a transaction closure may do. Reads see the transaction's own earlier writes.
pub trait Tx {
    fn get(&mut self, table: &str, key: &str) -> Result<Option<Versioned>, StorageError>;
    /// Create or replace; the revision becomes the previous one + 1.
    fn put(&mut self, table: &str, key: &str, value: Vec<u8>) -> Result<(), StorageError>;
    /// Create; fails with [`StorageError::Conflict`] if the key exists.
    fn insert(&mut self, table: &str, key: &str, value: Vec<u8>) -> Result<(), StorageError>;
    fn delete(&mut self, table: &str, key: &str) -> Result<(), StorageError>;
}

/// Typed reads and writes inside a transaction.
pub trait TxExt: Tx {
    fn get_record<R: Record>(&mut self, key: &str) -> Result<Option<R>, StorageError> {
        Ok(self.get_record_versioned::<R>(key)?.map(|(r, _)| r))
    }
    /// The record and its revision.
    fn get_record_versioned<R: Record>(
        &mut self,
        key: &str,
    ) -> Result<Option<(R, u64)>, StorageError> {
        match self.get(R::TABLE, key)? {
            Some(v) => Ok(Some((decode(key, &v.value)?, v.revision))),
            None => Ok(None),
        }
    }
    fn put_record<R: Record>(&mut self, r: &R) -> Result<(), StorageError> {
        let v = encode(r)?;
        self.put(R::TABLE, &r.key(), v)
    }
    fn insert_record<R: Record>(&mut self, r: &R) -> Result<(), StorageError> {
        let v = encode(r)?;
        self.insert(R::TABLE, &r.key(), v)
    }
}

impl<T: Tx + ?Sized> TxExt for T {}

/// Applies a batch inside a transaction: preconditions first, then the writes.
pub(crate) fn apply(tx: &mut dyn Tx, batch: &Batch) -> Result<(), StorageError> {
    for op in &batch.ops {
        match op {
            Op::Expect { table, key, value } => {
                let cur = tx.get(table, key)?.map(|v| v.value);
                if cur.as_deref() != value.as_deref() {
                    return Err(StorageError::Changed {
                        table: table.clone(),
                        key: key.clone(),
                    });
                }
            }
            Op::ExpectRevision {
                table,
                key,
                revision,
            } => {
                let cur = tx.get(table, key)?.map(|v| v.revision);
                if cur != *revision {
                    return Err(StorageError::Changed {
                        table: table.clone(),
                        key: key.clone(),
                    });
                }
            }
            _ => {}
        }
    }
    for op in &batch.ops {
        match op {
            Op::Put { table, key, value } => tx.put(table, key, value.clone())?,
            Op::Insert { table, key, value } => tx.insert(table, key, value.clone())?,
            Op::Delete { table, key } => tx.delete(table, key)?,
            Op::Expect { .. } | Op::ExpectRevision { .. } => {}
        }
    }
    Ok(())
}

/// Carries a caller's own error out of a transaction closure (the backend sees only
/// [`StorageError::Aborted`]).
pub(crate) fn run<T, E: From<StorageError>>(
    transact: impl FnOnce(
        &mut dyn FnMut(&mut dyn Tx) -> Result<(), StorageError>,
    ) -> Result<(), StorageError>,
    mut f: impl FnMut(&mut dyn Tx) -> Result<T, E>,
) -> Result<T, E> {
    let mut out: Option<Result<T, E>> = None;
    let result = transact(&mut |tx| match f(tx) {
        Ok(v) => {
            out = Some(Ok(v));
            Ok(())
        }
        Err(e) => {
            out = Some(Err(e));
            Err(StorageError::Aborted)
        }
    });
    match (result, out) {
        (Ok(()), Some(Ok(v))) => Ok(v),
        (Err(StorageError::Aborted), Some(Err(e))) => Err(e),
        (Err(e), _) => Err(e.into()),
        (Ok(()), _) => {
            Err(StorageError::Backend("the transaction closure did not run".into()).into())
        }
    }
}

/// Stored value framing shared by the backends: `0x01`, the revision (u64 big-endian), the
/// bytes. Values without the frame (written before revisions existed: JSON, starting with
/// `{`) read as revision 0.
pub(crate) mod frame {
    use super::Versioned;

    const TAG: u8 = 1;

    pub fn wrap(revision: u64, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 + value.len());
        out.push(TAG);
        out.extend_from_slice(&revision.to_be_bytes());
        out.extend_from_slice(value);
        out
    }

    pub fn unwrap(stored: &[u8]) -> Versioned {
        match stored.split_first() {
            Some((&TAG, rest)) if rest.len() >= 8 => {
                let (rev, value) = rest.split_at(8);
                let mut b = [0u8; 8];
                b.copy_from_slice(rev);
                Versioned {
                    value: value.to_vec(),
                    revision: u64::from_be_bytes(b),
                }
            }
            _ => Versioned {
                value: stored.to_vec(),
                revision: 0,
            },
        }
    }
}
