//! Storage behind a trait: an ordered key-value store with atomic batches, transactions
//! (closures that read and write), a revision per value for compare-and-swap, plus a typed,
//! versioned record layer on top. sled is the embedded backend; memory serves tests.
//!
//! The trait is blocking, on purpose: sled is, and so is a PostgreSQL client inside
//! `spawn_blocking`. Async code never calls it on a runtime worker for anything that waits on
//! the disk: writes and flushes go through `spawn_blocking` (`SpaceState::commit`,
//! `OdcmState::commit`); short reads of the page cache are called directly.

mod memory;
pub mod position;
pub mod records;
mod sled_store;
#[cfg(test)]
#[path = "tests/suite.rs"]
mod suite;
mod tx;

pub use memory::MemoryStore;
pub use sled_store::SledStore;
pub use tx::{Tx, TxExt, Versioned};

use serde::{Serialize, de::DeserializeOwned};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A transaction closure gave up (with its own error, which the caller receives instead).
    #[error("the transaction was abandoned")]
    Aborted,
    #[error("storage backend failed: {0}")]
    Backend(String),
    #[error("{table} '{key}' already exists")]
    Conflict { table: String, key: String },
    #[error("{table} '{key}' was changed by someone else; retry")]
    Changed { table: String, key: String },
    #[error("stored {table} record '{key}' is unreadable: {reason}")]
    Corrupt {
        table: String,
        key: String,
        reason: String,
    },
    #[error(
        "stored {table} record '{key}' has format version {found}, newer than this build understands ({supported}); upgrade the server"
    )]
    TooNew {
        table: String,
        key: String,
        found: u32,
        supported: u32,
    },
    /// The database lost commits it had made durable (damaged or replaced by an older copy).
    #[error(
        "the database {path} is behind what this server last committed: the newest {missing} commit(s), made up to {} (unix time {since}), are missing (a damaged or older copy of the database). Refusing to start on a rolled-back store: restore the data directory from a backup; to accept the loss instead, delete {position} and start again",
        crate::position_time(*since)
    )]
    RolledBack {
        path: String,
        missing: u64,
        since: i64,
        position: String,
    },
    /// [`Store::load`] into a store that already holds data.
    #[error("the database already holds data: restore only into a new, empty data directory")]
    NotEmpty,
}

/// A unix time as RFC 3339 (for messages).
fn position_time(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

impl domain::error::ServiceError for StorageError {
    fn code(&self) -> domain::error::ErrorCode {
        use domain::error::ErrorCode as C;
        match self {
            StorageError::Conflict { .. } => C::AlreadyExists,
            StorageError::Changed { .. } | StorageError::Aborted => C::Aborted,
            // "upgrade the server" is something the operator can act on.
            StorageError::TooNew { .. }
            | StorageError::RolledBack { .. }
            | StorageError::NotEmpty => C::FailedPrecondition,
            StorageError::Backend(_) | StorageError::Corrupt { .. } => C::Internal,
        }
    }
}

/// One write in an atomic [`Batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Create or replace.
    Put {
        table: String,
        key: String,
        value: Vec<u8>,
    },
    /// Create; the whole batch fails with [`StorageError::Conflict`] if the key exists.
    Insert {
        table: String,
        key: String,
        value: Vec<u8>,
    },
    /// Remove if present.
    Delete { table: String, key: String },
    /// Precondition: the key currently holds exactly this value (`None`: is absent),
    /// otherwise the batch fails with [`StorageError::Changed`].
    Expect {
        table: String,
        key: String,
        value: Option<Vec<u8>>,
    },
    /// Precondition: the key's revision is exactly this (`None`: the key is absent), otherwise
    /// the batch fails with [`StorageError::Changed`]. Compare-and-swap without the old bytes.
    ExpectRevision {
        table: String,
        key: String,
        revision: Option<u64>,
    },
}

/// A set of writes applied all together or not at all (also across a crash).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub ops: Vec<Op>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn put(&mut self, table: &str, key: &str, value: Vec<u8>) -> &mut Self {
        self.ops.push(Op::Put {
            table: table.into(),
            key: key.into(),
            value,
        });
        self
    }
    pub fn insert(&mut self, table: &str, key: &str, value: Vec<u8>) -> &mut Self {
        self.ops.push(Op::Insert {
            table: table.into(),
            key: key.into(),
            value,
        });
        self
    }
    pub fn delete(&mut self, table: &str, key: &str) -> &mut Self {
        self.ops.push(Op::Delete {
            table: table.into(),
            key: key.into(),
        });
        self
    }
    pub fn require(&mut self, table: &str, key: &str, value: Option<Vec<u8>>) -> &mut Self {
        self.ops.push(Op::Expect {
            table: table.into(),
            key: key.into(),
            value,
        });
        self
    }
    pub fn require_revision(&mut self, table: &str, key: &str, revision: Option<u64>) -> &mut Self {
        self.ops.push(Op::ExpectRevision {
            table: table.into(),
            key: key.into(),
            revision,
        });
        self
    }
    /// Adds a typed record (create or replace).
    pub fn put_record<R: Record>(&mut self, r: &R) -> Result<&mut Self, StorageError> {
        let v = encode(r)?;
        Ok(self.put(R::TABLE, &r.key(), v))
    }
    /// Adds a typed record that must not exist yet.
    pub fn insert_record<R: Record>(&mut self, r: &R) -> Result<&mut Self, StorageError> {
        let v = encode(r)?;
        Ok(self.insert(R::TABLE, &r.key(), v))
    }
}

/// The storage interface every backend implements (sled now; PostgreSQL next). Keys are
/// ordered by their UTF-8 bytes within a table. Blocking: see the module documentation.
pub trait Store: Send + Sync + 'static {
    fn get(&self, table: &str, key: &str) -> Result<Option<Vec<u8>>, StorageError>;
    /// The value and its revision.
    fn get_versioned(&self, table: &str, key: &str) -> Result<Option<Versioned>, StorageError>;
    /// Up to `limit` entries whose key starts with `prefix` and sorts after `start_after`,
    /// read from `start_after` on (a page never re-walks the pages before it).
    fn scan(
        &self,
        table: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StorageError>;
    /// Applies every op atomically, checking `Insert` and `Expect` preconditions first.
    fn commit(&self, batch: Batch) -> Result<(), StorageError>;
    /// Runs `f` as one serializable transaction: all its writes or none. `f` may run more than
    /// once (when a concurrent writer touched the same keys); an error from `f` aborts.
    /// Callers use [`StoreExt::transaction`], which carries their own result and error type.
    fn transact(
        &self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<(), StorageError>,
    ) -> Result<(), StorageError>;
    /// The next value (starting at 1) of a named, durable, strictly increasing counter.
    fn next_id(&self, counter: &str) -> Result<u64, StorageError>;
    /// Moves a counter up to at least `at_least` (never down), so the next [`Store::next_id`]
    /// is past it; returns the counter's value now.
    fn raise_id(&self, counter: &str, at_least: u64) -> Result<u64, StorageError>;
    /// Makes every committed write durable.
    fn flush(&self) -> Result<(), StorageError>;
    /// Every row, records and counters, as one consistent snapshot: no batch, transaction or
    /// counter step is half in it (writers wait while it is read). For online backups.
    fn snapshot(&self) -> Result<Vec<Row>, StorageError>;
    /// Writes `rows` (a [`Store::snapshot`]) into this store, which must hold nothing yet,
    /// with their revisions and counters as they were, and makes them durable.
    fn load(&self, rows: &[Row]) -> Result<(), StorageError>;
}

/// The table [`Store::next_id`] counters live in; a [`Row`] of it holds the counter's value
/// as its revision (and as 8 big-endian bytes).
pub const COUNTER_TABLE: &str = "\u{0}counter";

/// One stored row, as [`Store::snapshot`] reads it and [`Store::load`] writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub table: String,
    pub key: String,
    pub revision: u64,
    pub value: Vec<u8>,
}

/// A typed record with a table, a key and a format version.
pub trait Record: Serialize + DeserializeOwned {
    const TABLE: &'static str;
    /// Bump when the stored shape changes; older versions must stay readable.
    const VERSION: u32;
    fn key(&self) -> String;
}

#[derive(Serialize, serde::Deserialize)]
struct Envelope<T> {
    v: u32,
    data: T,
}

/// Serialises a record inside its versioned envelope.
pub fn encode<R: Record>(r: &R) -> Result<Vec<u8>, StorageError> {
    serde_json::to_vec(&Envelope {
        v: R::VERSION,
        data: r,
    })
    .map_err(|e| StorageError::Backend(format!("cannot encode {}: {e}", R::TABLE)))
}

/// Reads a record from its envelope, refusing versions newer than this build.
pub fn decode<R: Record>(key: &str, bytes: &[u8]) -> Result<R, StorageError> {
    #[derive(serde::Deserialize)]
    struct Head {
        v: u32,
    }
    let corrupt = |e: serde_json::Error| StorageError::Corrupt {
        table: R::TABLE.into(),
        key: key.into(),
        reason: e.to_string(),
    };
    let head: Head = serde_json::from_slice(bytes).map_err(corrupt)?;
    if head.v > R::VERSION {
        return Err(StorageError::TooNew {
            table: R::TABLE.into(),
            key: key.into(),
            found: head.v,
            supported: R::VERSION,
        });
    }
    let env: Envelope<R> = serde_json::from_slice(bytes).map_err(corrupt)?;
    Ok(env.data)
}

/// Typed helpers over any [`Store`].
pub trait StoreExt: Store {
    /// Runs `f` as one transaction (see [`Store::transact`]) and returns what it returned;
    /// an `Err` from `f` writes nothing and is returned as is.
    fn transaction<T, E: From<StorageError>>(
        &self,
        f: impl FnMut(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        tx::run(|g| self.transact(g), f)
    }
    /// The record and its revision.
    fn get_record_versioned<R: Record>(&self, key: &str) -> Result<Option<(R, u64)>, StorageError> {
        match self.get_versioned(R::TABLE, key)? {
            Some(v) => Ok(Some((decode(key, &v.value)?, v.revision))),
            None => Ok(None),
        }
    }
    fn get_record<R: Record>(&self, key: &str) -> Result<Option<R>, StorageError> {
        match self.get(R::TABLE, key)? {
            Some(b) => decode(key, &b).map(Some),
            None => Ok(None),
        }
    }
    /// A page of records under `prefix`; returns the records and the key to continue after.
    fn list_records<R: Record>(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<R>, Option<String>), StorageError> {
        let rows = self.scan(R::TABLE, prefix, start_after, limit + 1)?;
        let more = rows.len() > limit;
        let mut out = Vec::with_capacity(rows.len().min(limit));
        let mut last = None;
        for (k, v) in rows.into_iter().take(limit) {
            out.push(decode(&k, &v)?);
            last = Some(k);
        }
        Ok((out, if more { last } else { None }))
    }
    /// Every record under `prefix`.
    fn all_records<R: Record>(&self, prefix: &str) -> Result<Vec<R>, StorageError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let (page, next) = self.list_records::<R>(prefix, after.as_deref(), 500)?;
            out.extend(page);
            match next {
                Some(n) => after = Some(n),
                None => return Ok(out),
            }
        }
    }
}

impl<S: Store + ?Sized> StoreExt for S {}

/// Builds a case-insensitive key from name parts (joined by U+001F, which names never contain).
pub fn key_of(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| p.to_lowercase())
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

/// The prefix under which every key starting with these parts lies.
pub fn prefix_of(parts: &[&str]) -> String {
    let mut k = key_of(parts);
    k.push('\u{1f}');
    k
}
