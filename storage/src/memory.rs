//! An in-memory [`Store`] for tests and tools; same semantics as the durable backends.
//! Transactions hold the one lock for their whole run, so they are serial.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::tx::{Tx, Versioned};
use super::{Batch, Row, StorageError, Store};

type Key = (String, String);
/// Revision and bytes of each key.
type Map = BTreeMap<Key, (u64, Vec<u8>)>;

#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Map>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `counter` to `f(its value)` and returns the new value.
    fn update_counter(&self, counter: &str, f: impl Fn(u64) -> u64) -> Result<u64, StorageError> {
        let mut map = self.lock()?;
        let k = (super::COUNTER_TABLE.to_string(), counter.to_string());
        let cur = map
            .get(&k)
            .and_then(|(_, v)| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0);
        let n = f(cur);
        map.insert(k, (n, n.to_be_bytes().to_vec()));
        Ok(n)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Map>, StorageError> {
        self.inner
            .lock()
            .map_err(|_| StorageError::Backend("memory store lock poisoned".into()))
    }
}

/// A transaction over the map: writes are staged (`None` = deleted) and applied on success.
struct MemTx<'a> {
    map: &'a Map,
    staged: BTreeMap<Key, Option<(u64, Vec<u8>)>>,
}

impl MemTx<'_> {
    fn current(&self, k: &(String, String)) -> Option<(u64, Vec<u8>)> {
        match self.staged.get(k) {
            Some(v) => v.clone(),
            None => self.map.get(k).cloned(),
        }
    }
}

impl Tx for MemTx<'_> {
    fn get(&mut self, table: &str, key: &str) -> Result<Option<Versioned>, StorageError> {
        Ok(self
            .current(&(table.into(), key.into()))
            .map(|(revision, value)| Versioned { value, revision }))
    }
    fn put(&mut self, table: &str, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        let k = (table.to_string(), key.to_string());
        let rev = self.current(&k).map_or(0, |(r, _)| r) + 1;
        self.staged.insert(k, Some((rev, value)));
        Ok(())
    }
    fn insert(&mut self, table: &str, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        if self.current(&(table.into(), key.into())).is_some() {
            return Err(StorageError::Conflict {
                table: table.into(),
                key: key.into(),
            });
        }
        self.put(table, key, value)
    }
    fn delete(&mut self, table: &str, key: &str) -> Result<(), StorageError> {
        self.staged.insert((table.into(), key.into()), None);
        Ok(())
    }
}

impl Store for MemoryStore {
    fn get(&self, table: &str, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.get_versioned(table, key)?.map(|v| v.value))
    }

    fn get_versioned(&self, table: &str, key: &str) -> Result<Option<Versioned>, StorageError> {
        Ok(self
            .lock()?
            .get(&(table.into(), key.into()))
            .map(|(revision, value)| Versioned {
                value: value.clone(),
                revision: *revision,
            }))
    }

    fn scan(
        &self,
        table: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        use std::ops::Bound;
        let map = self.lock()?;
        let lower = match start_after {
            Some(a) if a >= prefix => Bound::Excluded((table.to_string(), a.to_string())),
            _ => Bound::Included((table.to_string(), prefix.to_string())),
        };
        Ok(map
            .range((lower, Bound::Unbounded))
            .take_while(|((t, k), _)| t == table && k.starts_with(prefix))
            .take(limit)
            .map(|((_, k), (_, v))| (k.clone(), v.clone()))
            .collect())
    }

    fn commit(&self, batch: Batch) -> Result<(), StorageError> {
        self.transact(&mut |tx| super::tx::apply(tx, &batch))
    }

    fn transact(
        &self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let mut map = self.lock()?;
        let mut tx = MemTx {
            map: &map,
            staged: BTreeMap::new(),
        };
        f(&mut tx)?;
        let staged = tx.staged;
        for (k, v) in staged {
            match v {
                Some(v) => map.insert(k, v),
                None => map.remove(&k),
            };
        }
        Ok(())
    }

    fn next_id(&self, counter: &str) -> Result<u64, StorageError> {
        self.update_counter(counter, |n| n + 1)
    }

    fn raise_id(&self, counter: &str, at_least: u64) -> Result<u64, StorageError> {
        self.update_counter(counter, |n| n.max(at_least))
    }

    fn flush(&self) -> Result<(), StorageError> {
        Ok(())
    }

    fn snapshot(&self) -> Result<Vec<Row>, StorageError> {
        Ok(self
            .lock()?
            .iter()
            .map(|((table, key), (revision, value))| Row {
                table: table.clone(),
                key: key.clone(),
                revision: *revision,
                value: value.clone(),
            })
            .collect())
    }

    fn load(&self, rows: &[Row]) -> Result<(), StorageError> {
        let mut map = self.lock()?;
        if !map.is_empty() {
            return Err(StorageError::NotEmpty);
        }
        for r in rows {
            map.insert(
                (r.table.clone(), r.key.clone()),
                (r.revision, r.value.clone()),
            );
        }
        Ok(())
    }
}
