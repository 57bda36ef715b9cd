//! The state of one ODCM, opened from (and created in) its data directory: the database, the CA
//! (`ca.key`, 0600), the API server's TLS identity (`tls.key`, 0600, signed by the CA), the admin
//! API key, the trust store its TLS verifier uses, and the change notifier that drives
//! `WatchTrustSet`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use net::pki::{CertificateAuthority, TrustSnapshot, TrustStore};
use net::tls::Identity;
use secrets::{random_bytes, write_private_file};
use storage::{Batch, Record, SledStore, Store, StoreExt, decode, key_of};

use crate::audit::{self, AuditEvent};
use crate::config::Config;
use crate::error::{OdcmError, OdcmResult};
use crate::records::{AUDIT_HEAD, MetaRecord, RemoteSpaceRecord, SpaceRecord, TRUST_VERSION};

/// Validity of the ODCM's own API server certificate.
const SERVER_CERT_DAYS: i64 = 10 * 365;

/// Limits taken from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub rotation_overlap_secs: i64,
    pub cert_validity_secs: i64,
    pub token_validity_secs: i64,
}

/// Everything an ODCM owns. Shared as `Arc<OdcmState>`.
pub struct OdcmState {
    pub name: String,
    pub data_dir: PathBuf,
    pub store: Arc<dyn Store>,
    pub ca: CertificateAuthority,
    pub identity: Identity,
    /// What the TLS verifier accepts client certificates from: this ODCM's CA.
    pub trust: TrustStore,
    pub settings: Settings,
    /// The trust-set version; bumped (and so announced) by every trust-relevant change.
    pub changes: tokio::sync::watch::Sender<u64>,
    /// The newest audit checkpoint Spaces presented since start (memory only, on purpose).
    pub checkpoints: crate::checkpoints::Collected,
}

/// What a planned write commits (see [`OdcmState::commit_planned`]).
pub struct Planned<T> {
    pub batch: Batch,
    pub events: Vec<AuditEvent>,
    pub trust_changed: bool,
    pub value: T,
}

const PLAN_ATTEMPTS: u32 = 50;

pub struct Opened {
    pub state: Arc<OdcmState>,
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
    Pki(#[from] net::pki::PkiError),
    #[error(transparent)]
    Odcm(#[from] OdcmError),
    #[error(transparent)]
    Bootstrap(#[from] runtime::datadir::BootstrapError),
}

fn load_or_issue_identity(
    dir: &Path,
    ca: &CertificateAuthority,
    names: &[String],
) -> Result<Identity, OpenError> {
    let (cert_path, key_path) = (dir.join("tls.crt"), dir.join("tls.key"));
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |source| OpenError::Dir { path, source }
    };
    if cert_path.exists() && key_path.exists() {
        return Ok(Identity {
            cert_pem: std::fs::read_to_string(&cert_path).map_err(io(&cert_path))?,
            key_pem: std::fs::read_to_string(&key_path).map_err(io(&key_path))?,
        });
    }
    let not_after = net::pki::unix_now() + SERVER_CERT_DAYS * 86_400;
    let id = ca.issue_server_identity(names, not_after)?;
    write_private_file(&key_path, id.key_pem.as_bytes()).map_err(io(&key_path))?;
    std::fs::write(&cert_path, &id.cert_pem).map_err(io(&cert_path))?;
    Ok(id)
}

impl OdcmState {
    /// Opens the ODCM in `config.data_dir`, creating the directory (0700), the database, the
    /// CA, the TLS identity and the admin API key on first start.
    pub fn open(config: &Config) -> Result<Opened, OpenError> {
        let dir = &config.data_dir;
        let dir_err = |source| OpenError::Dir {
            path: dir.display().to_string(),
            source,
        };
        runtime::datadir::create_private(dir).map_err(dir_err)?;
        let store: Arc<dyn Store> = Arc::new(SledStore::open(&dir.join("db"))?);
        let ca = CertificateAuthority::load_or_create(dir, &config.name)?;
        let identity = load_or_issue_identity(dir, &ca, &config.tls_names)?;
        let mut snap = TrustSnapshot::default();
        snap.add_ca_pem(&config.name, &ca.cert_pem())?;
        let new_admin_key =
            if let Some((key, mut b)) = runtime::datadir::admin_key_batch(store.as_ref())? {
                let ev = AuditEvent::new(
                    "odcm_created",
                    "odcm",
                    &config.name,
                    ca.cert().fingerprint.clone(),
                );
                audit::append(store.as_ref(), &ca, &mut b, &[ev])?;
                store.commit(b)?;
                store.flush()?;
                Some(key)
            } else {
                None
            };
        let version = meta(store.as_ref(), TRUST_VERSION)?.value;
        let (changes, _) = tokio::sync::watch::channel(version);
        let days = |d: u64| i64::try_from(d).unwrap_or(i64::MAX / 86_400);
        Ok(Opened {
            state: Arc::new(OdcmState {
                name: config.name.clone(),
                data_dir: dir.clone(),
                store,
                ca,
                identity,
                trust: TrustStore::new(snap),
                settings: Settings {
                    rotation_overlap_secs: days(config.rotation_overlap_secs),
                    cert_validity_secs: days(config.cert_validity_days) * 86_400,
                    token_validity_secs: days(config.token_validity_secs),
                },
                changes,
                checkpoints: Default::default(),
            }),
            new_admin_key,
        })
    }

    pub fn space(&self, name: &str) -> OdcmResult<SpaceRecord> {
        self.store
            .get_record::<SpaceRecord>(&key_of(&[name]))?
            .ok_or_else(|| OdcmError::not_found("Space", name))
    }

    pub fn remote_space(&self, name: &str) -> OdcmResult<Option<RemoteSpaceRecord>> {
        Ok(self
            .store
            .get_record::<RemoteSpaceRecord>(&key_of(&[name]))?)
    }

    /// Commits what `plan` decides, with its audit entries, optimistically: the batch commits
    /// only if the audit head is still the one read before `plan` ran (every write appends to
    /// the audit log, so any other write since moved it); otherwise `plan` runs again on what
    /// is there now. Read-modify-writes without a lock. `plan` must have no other effects.
    pub async fn commit_planned<T>(
        &self,
        mut plan: impl FnMut() -> OdcmResult<Planned<T>>,
    ) -> OdcmResult<T> {
        for attempt in 0..PLAN_ATTEMPTS {
            let seen = self.store.get(MetaRecord::TABLE, AUDIT_HEAD)?;
            let Planned {
                mut batch,
                events,
                trust_changed,
                value,
            } = plan()?;
            if events.is_empty() {
                return Err(OdcmError::Internal(
                    "a planned write records no audit event".into(),
                ));
            }
            batch.require(MetaRecord::TABLE, AUDIT_HEAD, seen);
            match self.commit(batch, &events, trust_changed).await {
                Ok(()) => return Ok(value),
                Err(OdcmError::Storage(storage::StorageError::Changed { table, key }))
                    if table == MetaRecord::TABLE && key == AUDIT_HEAD =>
                {
                    tracing::debug!(attempt, "concurrent change: planning again");
                    tokio::time::sleep(std::time::Duration::from_millis(attempt as u64)).await;
                }
                Err(e) => return Err(e),
            }
        }
        Err(OdcmError::Unavailable(
            "the ODCM kept changing while this change was checked: try again".into(),
        ))
    }

    /// Commits `batch` with audit entries for `events` (atomically) and makes it durable,
    /// bumping the trust-set version when `trust_changed`, and wakes every `WatchTrustSet`
    /// stream. A read-modify-write goes through [`OdcmState::commit_planned`] instead.
    pub async fn commit(
        &self,
        mut batch: Batch,
        events: &[AuditEvent],
        trust_changed: bool,
    ) -> OdcmResult<()> {
        audit::append(self.store.as_ref(), &self.ca, &mut batch, events)?;
        let mut version = None;
        if trust_changed {
            let mut m = meta(self.store.as_ref(), TRUST_VERSION)?;
            m.value += 1;
            batch.put_record(&m)?;
            version = Some(m.value);
        }
        // The write and its disk sync run on the blocking pool: acknowledged means durable.
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            store.commit(batch)?;
            store.flush()
        })
        .await
        .map_err(|e| OdcmError::Internal(format!("commit task failed: {e}")))??;
        if let Some(v) = version {
            self.changes.send_replace(v);
        }
        Ok(())
    }

    /// The current trust-set version.
    pub fn trust_version(&self) -> OdcmResult<u64> {
        Ok(meta(self.store.as_ref(), TRUST_VERSION)?.value)
    }
}

fn meta(store: &dyn Store, name: &str) -> OdcmResult<MetaRecord> {
    Ok(match store.get(MetaRecord::TABLE, name)? {
        Some(b) => decode::<MetaRecord>(name, &b)?,
        None => MetaRecord {
            name: name.into(),
            value: 0,
            hash: String::new(),
        },
    })
}

/// A new one-time enrolment token: `et_` and 64 hex characters (256 random bits).
pub fn new_token() -> OdcmResult<String> {
    let mut b = [0u8; 32];
    random_bytes(&mut b)?;
    Ok(format!("et_{}", hex::encode(b)))
}

/// Refuses empty, over-long or control-character names.
pub fn check_name(what: &str, name: &str) -> OdcmResult<String> {
    let n = name.trim();
    if n.is_empty() || n.len() > 100 || n.chars().any(char::is_control) {
        return Err(OdcmError::Invalid(format!(
            "{what} name '{name}' is invalid: use 1 to 100 printable characters"
        )));
    }
    Ok(n.to_string())
}

/// Refuses endpoints that are not `https://host:port` (empty is allowed).
pub fn check_endpoint(endpoint: &str) -> OdcmResult<String> {
    let e = endpoint.trim();
    if !e.is_empty() {
        net::tls::parse_address(e).map_err(|err| OdcmError::Invalid(err.to_string()))?;
    }
    Ok(e.to_string())
}
