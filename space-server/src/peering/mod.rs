//! Space-to-Space peering: the identity this Space's ODCM issued (enrolment and rotation in
//! [`files`]), the trust set kept current from the ODCM ([`watch`]) and the audit checkpoint
//! held from it ([`checkpoint`]), the `peer.v1` service other
//! Spaces call ([`service`]), the calls this Space makes ([`client`]) and the `space.v1.Peers`
//! API that drives them ([`api`]). The self-signed `tls.crt` of the API and agent endpoints is
//! not involved: peers see only the ODCM-issued certificate.

pub mod api;
pub mod checkpoint;
pub mod client;
pub mod files;
pub mod gate;
pub mod promotions;
pub mod service;
pub mod watch;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use net::pki::{CertInfo, PkiError, TrustSnapshot, TrustStore};
use net::tls::Identity;
use proto::odcm::v1 as odcm_pb;

pub use files::{EnrolOptions, Enrolled};

#[derive(Debug, thiserror::Error)]
pub enum PeeringError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error(transparent)]
    Tls(#[from] net::tls::TlsError),
    #[error("{0}")]
    Config(String),
    #[error("{what} failed at ODCM {url}: {message}")]
    Odcm {
        what: &'static str,
        url: String,
        message: String,
    },
    #[error("{path} is damaged: {reason}")]
    Damaged { path: String, reason: String },
}

pub(crate) fn io_err(p: &Path) -> impl FnOnce(std::io::Error) -> PeeringError {
    let path = p.display().to_string();
    move |source| PeeringError::Io { path, source }
}

/// An enrolled Space's peering state. Shared as `Arc<Peering>`.
pub struct Peering {
    /// This Space's name as its certificate states it (`CN`).
    pub me: String,
    pub enrolled: Enrolled,
    /// The ODCM-issued identity presented to peers and to the ODCM.
    pub identity: Identity,
    pub cert: CertInfo,
    /// Whom peers are accepted from (own ODCM's CA, pinned Remote Spaces, retired certs).
    pub store: TrustStore,
    set: RwLock<Arc<odcm_pb::TrustSet>>,
    odcm_connected: AtomicBool,
    /// The newest audit checkpoint the ODCM gave (see [`checkpoint`]).
    pub checkpoint: checkpoint::Held,
    dir: PathBuf,
}

impl std::fmt::Debug for Peering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peering")
            .field("me", &self.me)
            .field("odcm", &self.enrolled.odcm)
            .field("fingerprint", &self.cert.fingerprint)
            .finish_non_exhaustive()
    }
}

impl Peering {
    /// Loads the identity in `data_dir/identity`; `None` if this Space never enrolled. Starts
    /// from the last stored trust set (or, without one, from the CA alone: no trusts).
    pub fn load(data_dir: &Path) -> Result<Option<Self>, PeeringError> {
        let dir = files::dir(data_dir);
        let Some((enrolled, identity)) = files::load(&dir)? else {
            return Ok(None);
        };
        let cert = CertInfo::from_pem(&identity.cert_pem)?;
        let set = match files::load_trust_set(&dir) {
            Ok(Some(s)) if s.odcm == enrolled.odcm => s,
            Ok(_) => odcm_pb::TrustSet::default(),
            Err(e) => {
                tracing::warn!(error = %e, "the stored trust set cannot be used; starting with no trusts");
                odcm_pb::TrustSet::default()
            }
        };
        let snapshot = snapshot_of(&set, &enrolled)?;
        let checkpoint = checkpoint::Held::load(&dir, &enrolled.ca_pem);
        Ok(Some(Self {
            me: cert.common_name.clone(),
            enrolled,
            identity,
            cert,
            store: TrustStore::new(snapshot),
            set: RwLock::new(Arc::new(set)),
            odcm_connected: AtomicBool::new(false),
            checkpoint,
            dir,
        }))
    }

    /// The trust set in force.
    pub fn trust_set(&self) -> Arc<odcm_pb::TrustSet> {
        match self.set.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Enforces `set` from now on (next handshake, next call) and stores it for the next start.
    pub fn apply(&self, set: odcm_pb::TrustSet) -> Result<(), PeeringError> {
        if set.odcm != self.enrolled.odcm || !set.space.eq_ignore_ascii_case(&self.me) {
            return Err(PeeringError::Config(format!(
                "the ODCM sent the trust set of Space '{}' of ODCM '{}'; this is Space '{}' of ODCM '{}'",
                set.space, set.odcm, self.me, self.enrolled.odcm
            )));
        }
        let snapshot = TrustSnapshot::from_trust_set(&set)?;
        self.store.replace(snapshot);
        let version = set.version;
        let set = Arc::new(set);
        match self.set.write() {
            Ok(mut g) => *g = set.clone(),
            Err(p) => *p.into_inner() = set.clone(),
        }
        files::store_trust_set(&self.dir, &set)?;
        tracing::info!(
            version,
            peers = set.peers.len(),
            trusts = set.trusts.len(),
            "trust set applied"
        );
        Ok(())
    }

    /// A store trusting only this Space's ODCM CA (to check the ODCM's server certificate).
    pub fn odcm_store(&self) -> Result<TrustStore, PeeringError> {
        let mut s = TrustSnapshot::default();
        s.add_ca_pem(&self.enrolled.odcm, &self.enrolled.ca_pem)?;
        Ok(TrustStore::new(s))
    }

    pub fn odcm_connected(&self) -> bool {
        self.odcm_connected.load(Ordering::Relaxed)
    }

    pub(crate) fn set_odcm_connected(&self, v: bool) {
        self.odcm_connected.store(v, Ordering::Relaxed);
    }
}

/// What a trust set enforces; an empty (never received) set trusts the own CA and nothing else.
fn snapshot_of(set: &odcm_pb::TrustSet, e: &Enrolled) -> Result<TrustSnapshot, PeeringError> {
    if set.ca_pem.is_empty() {
        let mut s = TrustSnapshot::default();
        s.add_ca_pem(&e.odcm, &e.ca_pem)?;
        return Ok(s);
    }
    Ok(TrustSnapshot::from_trust_set(set)?)
}

/// True if this Space serves peers: it enrolled already, or a token asks it to enrol now.
pub fn wanted(data_dir: &Path, token: &str) -> bool {
    !token.trim().is_empty() || files::dir(data_dir).join("space.crt").exists()
}

/// The stored identity, or (first start with a token) a new one enrolled with the ODCM. A
/// token given again after enrolment is not used.
pub async fn open_or_enrol(
    data_dir: &Path,
    o: &EnrolOptions<'_>,
) -> Result<Option<Peering>, PeeringError> {
    if let Some(p) = Peering::load(data_dir)? {
        if !o.token.trim().is_empty() {
            tracing::info!(space = %p.me, odcm = %p.enrolled.odcm, "already enrolled: the enrolment token is not used again");
        }
        if !o.endpoint.is_empty() && o.endpoint != p.enrolled.endpoint {
            tracing::warn!(enrolled = %p.enrolled.endpoint, now = %o.endpoint, "the peer endpoint differs from the one announced at enrolment; other Spaces call the announced one");
        }
        return Ok(Some(p));
    }
    if o.token.trim().is_empty() {
        if !o.odcm_url.is_empty() {
            tracing::warn!(odcm = %o.odcm_url, "not enrolled: give --enrolment-token once to enrol with the ODCM");
        }
        return Ok(None);
    }
    files::enrol(data_dir, o).await?;
    Peering::load(data_dir)
}
