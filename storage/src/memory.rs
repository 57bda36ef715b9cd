//! An in-memory [`Store`] for tests and tools; same semantics as the durable backends.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{Batch, Op, StorageError, Store};

type Map = BTreeMap<(String, String), Vec<u8>>;

#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Map>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Map>, StorageError> {
        self.inner
            .lock()
            .map_err(|_| StorageError::Backend("memory store lock poisoned".into()))
    }
}

impl Store for MemoryStore {
    fn get(&self, table: &str, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.lock()?.get(&(table.into(), key.into())).cloned())
    }

    fn scan(
        &self,
        table: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        let map = self.lock()?;
        let start = (table.to_string(), prefix.to_string());
        Ok(map
            .range(start..)
            .take_while(|((t, k), _)| t == table && k.starts_with(prefix))
            .filter(|((_, k), _)| start_after.is_none_or(|a| k.as_str() > a))
            .take(limit)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }

    fn commit(&self, batch: Batch) -> Result<(), StorageError> {
        let mut map = self.lock()?;
        for op in &batch.ops {
            match op {
                Op::Insert { table, key, .. }
                    if map.contains_key(&(table.clone(), key.clone())) =>
                {
                    return Err(StorageError::Conflict {
                        table: table.clone(),
                        key: key.clone(),
                    });
                }
                Op::Expect { table, key, value }
                    if map.get(&(table.clone(), key.clone())) != value.as_ref() =>
                {
                    return Err(StorageError::Changed {
                        table: table.clone(),
                        key: key.clone(),
                    });
                }
                _ => {}
            }
        }
        for op in batch.ops {
            match op {
                Op::Put { table, key, value } | Op::Insert { table, key, value } => {
                    map.insert((table, key), value);
                }
                Op::Delete { table, key } => {
                    map.remove(&(table, key));
                }
                Op::Expect { .. } => {}
            }
        }
        Ok(())
    }

    fn next_id(&self, counter: &str) -> Result<u64, StorageError> {
        let mut map = self.lock()?;
        let k = ("\u{0}counter".to_string(), counter.to_string());
        let n = map
            .get(&k)
            .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0)
            + 1;
        map.insert(k, n.to_be_bytes().to_vec());
        Ok(n)
    }

    fn flush(&self) -> Result<(), StorageError> {
        Ok(())
    }
}
