//! The state of one Space: its database, master key, package chunk store and TLS identity,
//! opened from (and created in) its data directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use domain::model::{Environment, Lifecycle, Project, Timestamp};
use net::tls::Identity;
use package_store::ChunkStore;
use secrets::MasterKey;
use storage::{Batch, SledStore, Store, StoreExt, Tx, key_of};

use crate::error::{ApiError, ApiResult};

/// Everything a Space server owns. Cheap to share (`Arc`).
pub struct SpaceState {
    pub name: String,
    pub data_dir: PathBuf,
    pub store: Arc<dyn Store>,
    pub master: MasterKey,
    pub chunks: ChunkStore,
    pub identity: Identity,
    /// This Space's ODCM identity and trust set, once it is enrolled (set by `serve`).
    pub peering: std::sync::OnceLock<Arc<crate::peering::Peering>>,
    /// Size caps (set by `serve` from the configuration; the defaults until then).
    pub limits: std::sync::OnceLock<crate::limits::Limits>,
    /// Wakes the automation loop (a promotion queued, a bundle offered or fetched, a
    /// deployment ended): see `crate::automation`.
    pub wake: Arc<tokio::sync::Notify>,
    /// Set when a deployment ends: its receipt may be due upstream (the outbox looks then,
    /// after a failed delivery when its backoff ends, and at least every minute).
    pub outbox_due: std::sync::atomic::AtomicBool,
    /// Every deployment numbered up to this is settled for the receipt outbox (finished, and
    /// its receipt sent or none due): outbox passes read only the deployments after it. In
    /// memory: the first pass after a start reads them all.
    pub outbox_floor: std::sync::atomic::AtomicU64,
    /// Bundles whose packages are being fetched now (one fetch per bundle at a time).
    pub fetching: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Received bundles as verified when they arrived, by id (see `promotion::bundles::load`).
    pub verified_bundles: std::sync::Mutex<
        std::collections::HashMap<String, std::sync::Arc<exchange::bundle::VerifiedBundle>>,
    >,
    /// Packages of received bundles checked whole (see `promotion::verified`).
    pub checked_packages: crate::promotion::verified::Checked,
    /// The chunk sets of bundles peers are fetching, by caller and bundle, with when they
    /// were read (see `promotion::peer::allowed_chunks`).
    pub served_chunks: crate::promotion::peer::ServedChunks,
    /// How far each running fetch is (see `promotion::fetch`).
    pub fetch_progress:
        std::sync::Mutex<std::collections::HashMap<String, crate::promotion::fetch::Progress>>,
    /// When each peer Space was last heard from, and when that was last stored (see
    /// `crate::contacts`).
    pub contacts: std::sync::Mutex<std::collections::HashMap<String, (i64, i64)>>,
    /// Seconds of silence after which a peer's results show as stale (set by `serve`).
    pub stale_after: std::sync::OnceLock<i64>,
    /// Teams and roles as last read, with the revision of the record every change to them
    /// bumps (see `services::teams`): one small read per call instead of two scans.
    pub policy: std::sync::Mutex<Option<(Option<u64>, Arc<domain::access::Policy>)>>,
    /// Told when what the dashboard shows changed (a deployment was stored, receipts were
    /// applied): the web UI's live pages listen (see [`SpaceState::changed`]).
    pub changes: tokio::sync::broadcast::Sender<()>,
    /// Held shared by whatever writes chunks before a record refers to them (an upload, a
    /// transfer archive import, a fetch), alone by a garbage collection
    /// (`services::package_gc`).
    pub gc_lock: tokio::sync::RwLock<()>,
}

/// What opening a data directory produced.
pub struct Opened {
    pub state: Arc<SpaceState>,
    /// The admin API key, present only when this call created it.
    pub new_admin_key: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create data directory {path}: {source}")]
    Dir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    #[error(transparent)]
    Secret(#[from] secrets::SecretError),
    #[error(transparent)]
    Tls(#[from] net::tls::TlsError),
    #[error(transparent)]
    Package(#[from] package_store::PackageError),
    #[error(transparent)]
    Bootstrap(#[from] runtime::datadir::BootstrapError),
}

impl SpaceState {
    /// Asks the automation loop to work the receipt outbox now (something may be due upstream).
    pub fn outbox_now(&self) {
        self.outbox_due
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Opens the Space in `data_dir`, creating the directory, the database, the master key
    /// (0600), the TLS identity and the admin API key on first start. Partial uploads left by
    /// a crash are removed.
    pub fn open(data_dir: &Path, name: &str, tls_names: &[String]) -> Result<Opened, OpenError> {
        let db = data_dir.join("db");
        Self::open_with(data_dir, name, tls_names, |_| {
            Ok(Arc::new(SledStore::open(&db)?) as Arc<dyn Store>)
        })
    }

    /// [`SpaceState::open`] with the store `make_store` returns (a memory store in unit tests).
    pub fn open_with(
        data_dir: &Path,
        name: &str,
        tls_names: &[String],
        make_store: impl FnOnce(&Path) -> Result<Arc<dyn Store>, storage::StorageError>,
    ) -> Result<Opened, OpenError> {
        let dir_err = |p: &Path| {
            let path = p.display().to_string();
            move |source| OpenError::Dir { path, source }
        };
        runtime::datadir::create_private(data_dir).map_err(dir_err(data_dir))?;
        let tmp = data_dir.join("tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(dir_err(&tmp))?;
        }
        std::fs::create_dir_all(&tmp).map_err(dir_err(&tmp))?;
        let store = make_store(data_dir)?;
        let master = MasterKey::load_or_create(&data_dir.join("master.key"))?;
        let identity = Identity::load_or_create(data_dir, name, tls_names)?;
        let chunks = ChunkStore::open(data_dir.join("chunks"))?;
        let new_admin_key = match runtime::datadir::admin_key_batch(store.as_ref())? {
            Some((key, b)) => {
                store.commit(b)?;
                store.flush()?;
                Some(key)
            }
            None => None,
        };
        Ok(Opened {
            state: Arc::new(SpaceState {
                name: name.to_string(),
                data_dir: data_dir.to_path_buf(),
                store,
                master,
                chunks,
                identity,
                peering: std::sync::OnceLock::new(),
                limits: std::sync::OnceLock::new(),
                wake: Arc::new(tokio::sync::Notify::new()),
                outbox_due: std::sync::atomic::AtomicBool::new(true),
                outbox_floor: Default::default(),
                fetching: Default::default(),
                fetch_progress: Default::default(),
                served_chunks: Default::default(),
                verified_bundles: Default::default(),
                checked_packages: Default::default(),
                contacts: Default::default(),
                stale_after: std::sync::OnceLock::new(),
                policy: Default::default(),
                changes: tokio::sync::broadcast::channel(16).0,
                gc_lock: tokio::sync::RwLock::new(()),
            }),
            new_admin_key,
        })
    }

    /// The size caps in force.
    pub fn limits(&self) -> crate::limits::Limits {
        self.limits.get().copied().unwrap_or_default()
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.data_dir.join("tmp")
    }

    pub fn environment(&self, name: &str) -> ApiResult<Environment> {
        self.store
            .get_record::<Environment>(&key_of(&[name]))?
            .ok_or_else(|| ApiError::not_found("environment", name))
    }

    pub fn lifecycle(&self, name: &str) -> ApiResult<Lifecycle> {
        self.store
            .get_record::<Lifecycle>(&key_of(&[name]))?
            .ok_or_else(|| ApiError::not_found("lifecycle", name))
    }

    pub fn project(&self, name: &str) -> ApiResult<Project> {
        self.store
            .get_record::<Project>(&key_of(&[name]))?
            .ok_or_else(|| ApiError::not_found("project", name))
    }

    /// Commits a batch and makes it durable before returning: what the API acknowledges
    /// survives a crash (the database otherwise flushes on a timer). The write and the disk
    /// sync run on the blocking pool, never on a runtime worker.
    /// Tells the live pages that what the dashboard shows changed (nobody listening is fine).
    pub fn changed(&self) {
        let _ = self.changes.send(());
    }

    pub async fn commit(&self, b: Batch) -> Result<(), storage::StorageError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            store.commit(b)?;
            store.flush()
        })
        .await
        .map_err(|e| storage::StorageError::Backend(format!("commit task failed: {e}")))?
    }

    /// Commits what `plan` decides, optimistically: `plan` reads (scans included) and returns
    /// a batch; the batch commits only if no other guarded write committed since `plan` began
    /// (every guarded batch checks and bumps the revision of one record), otherwise `plan`
    /// runs again on what is there now. This keeps rules like "no lifecycle uses this
    /// environment" true without a lock, across processes sharing one database too. `plan`
    /// must have no effects outside its batch.
    pub async fn commit_guarded<T>(
        &self,
        mut plan: impl FnMut() -> ApiResult<(Batch, T)>,
    ) -> ApiResult<T> {
        let (table, key) = GUARD;
        for attempt in 0..GUARD_ATTEMPTS {
            let seen = self.store.get_versioned(table, key)?.map(|v| v.revision);
            let (mut b, v) = plan()?;
            b.require_revision(table, key, seen);
            b.put(table, key, Vec::new());
            match self.commit(b).await {
                Ok(()) => return Ok(v),
                Err(storage::StorageError::Changed { table: t, key: k })
                    if t == table && k == key =>
                {
                    tracing::debug!(attempt, "concurrent configuration change: planning again");
                    tokio::time::sleep(std::time::Duration::from_millis(attempt as u64)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::Unavailable(
            "the Space's configuration kept changing while this change was checked: try again"
                .into(),
        ))
    }

    /// [`SpaceState::commit`] for synchronous code (the deployment engine saving under a
    /// deployment's lock, work on the blocking pool): the write and the disk sync run in
    /// place, with a runtime worker's other tasks handed elsewhere first.
    pub fn commit_blocking(&self, b: Batch) -> Result<(), storage::StorageError> {
        runtime::blocking::in_place(|| {
            self.store.commit(b)?;
            self.store.flush()
        })
    }

    /// The project, if what built its releases may be changed here: refused for a Remote
    /// Project, whose `what` comes from the Release Bundles of the Space that owns it.
    pub fn editable_project(&self, name: &str, what: &str) -> ApiResult<Project> {
        editable(self.project(name)?, what)
    }

    /// Runs `f` as one storage transaction on the blocking pool and makes it durable before
    /// returning: a read-modify-write without the write lock (sled runs `f` again when a
    /// concurrent writer touched the same records, so `f` must have no other effects).
    pub async fn transaction<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnMut(&mut dyn Tx) -> ApiResult<T> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let v = store.transaction(f)?;
            store.flush()?;
            Ok(v)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("transaction task failed: {e}")))?
    }

    /// Whether `name` is another Space this one knows: the owner of a remote environment, or
    /// a peer in its trust set.
    pub fn is_known_space(&self, name: &str) -> ApiResult<bool> {
        if name.eq_ignore_ascii_case(&self.name) {
            return Ok(false);
        }
        let by_env = self.store.all_records::<Environment>("")?.iter().any(|e| {
            e.remote_space
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(name))
        });
        let by_peer = self.peering.get().is_some_and(|p| {
            p.trust_set()
                .peers
                .iter()
                .any(|x| x.name.eq_ignore_ascii_case(name))
        });
        Ok(by_env || by_peer)
    }

    /// The remote environments this Space holds for `space`.
    pub fn remote_environments(&self, space: &str) -> ApiResult<Vec<Environment>> {
        Ok(self
            .store
            .all_records::<Environment>("")?
            .into_iter()
            .filter(|e| {
                e.remote_space
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case(space))
            })
            .collect())
    }

    /// The associated data binding a sealed variable value to its project and id.
    pub fn seal_context(project: &str, var_id: &str) -> String {
        format!("variable:{}:{}", project.to_lowercase(), var_id)
    }
}

/// The record every [`SpaceState::commit_guarded`] batch checks and bumps.
const GUARD: (&str, &str) = ("meta", "config-guard");
const GUARD_ATTEMPTS: u32 = 50;

/// `p`, if what built its releases may be changed here (see [`SpaceState::editable_project`]).
pub fn editable(p: Project, what: &str) -> ApiResult<Project> {
    if let Some(o) = &p.remote {
        return Err(ApiError::Precondition(format!(
            "project '{}' is a Remote Project imported from space '{}': its {what} cannot be changed here; change it in '{}' and promote a new release (here you can set values for its variable templates and change its lifecycle)",
            p.name, o.space, o.space
        )));
    }
    Ok(p)
}

pub fn now() -> Timestamp {
    domain::model::now()
}
