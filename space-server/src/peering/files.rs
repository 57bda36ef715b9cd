//! The files of a Space's ODCM identity, in `<data dir>/identity/`: `space.key` (0600, never
//! sent), `space.crt` (issued by the ODCM, written last: its presence means "enrolled"),
//! `ca.crt`, `odcm.json` (the ODCM's name, address and fingerprint) and `trustset.pb` (the last
//! trust set received). Also enrolment with a one-time token and certificate rotation.

use std::path::{Path, PathBuf};
use std::time::Duration;

use net::pki::new_csr;
use net::tls::Identity;
use prost::Message;
use proto::odcm::v1 as pb;
use secrets::write_private_file;
use serde::{Deserialize, Serialize};

use super::{PeeringError, io_err};

/// Deadline of enrolment and rotation calls.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// Who enrolled this Space, and where it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Enrolled {
    pub odcm: String,
    pub odcm_url: String,
    pub odcm_fingerprint: String,
    /// The peer endpoint announced at enrolment.
    pub endpoint: String,
    #[serde(skip)]
    pub ca_pem: String,
}

/// What enrolment needs (the token is a secret: never logged).
pub struct EnrolOptions<'a> {
    pub name: &'a str,
    pub odcm_url: &'a str,
    pub odcm_fingerprint: &'a str,
    pub token: &'a str,
    pub endpoint: &'a str,
}

pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("identity")
}

/// Writes `bytes` to `path` through a synced temporary file and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PeeringError> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

fn read(path: &Path) -> Result<String, PeeringError> {
    std::fs::read_to_string(path).map_err(io_err(path))
}

/// The stored identity, if this Space enrolled.
pub fn load(dir: &Path) -> Result<Option<(Enrolled, Identity)>, PeeringError> {
    let crt = dir.join("space.crt");
    if !crt.exists() {
        return Ok(None);
    }
    let meta = dir.join("odcm.json");
    let mut e: Enrolled =
        serde_json::from_str(&read(&meta)?).map_err(|e| PeeringError::Damaged {
            path: meta.display().to_string(),
            reason: e.to_string(),
        })?;
    e.ca_pem = read(&dir.join("ca.crt"))?;
    let id = Identity {
        cert_pem: read(&crt)?,
        key_pem: read(&dir.join("space.key"))?,
    };
    id.private_key()?;
    Ok(Some((e, id)))
}

pub fn load_trust_set(dir: &Path) -> Result<Option<pb::TrustSet>, PeeringError> {
    let p = dir.join("trustset.pb");
    if !p.exists() {
        return Ok(None);
    }
    let bytes = std::fs::read(&p).map_err(io_err(&p))?;
    pb::TrustSet::decode(bytes.as_slice())
        .map(Some)
        .map_err(|e| PeeringError::Damaged {
            path: p.display().to_string(),
            reason: e.to_string(),
        })
}

pub fn store_trust_set(dir: &Path, set: &pb::TrustSet) -> Result<(), PeeringError> {
    write_atomic(&dir.join("trustset.pb"), &set.encode_to_vec())
}

/// One line from an ODCM's answer.
fn odcm_err(what: &'static str, url: &str, s: &tonic::Status) -> PeeringError {
    PeeringError::Odcm {
        what,
        url: url.to_string(),
        message: super::client::explain(s),
    }
}

/// First start with a token: generate the key here (written 0600 before anything is sent),
/// send the CSR, store the certificate, the CA and the ODCM's address.
pub async fn enrol(data_dir: &Path, o: &EnrolOptions<'_>) -> Result<Enrolled, PeeringError> {
    if o.odcm_url.is_empty() || o.odcm_fingerprint.is_empty() {
        return Err(PeeringError::Config(
            "enrolling needs the ODCM's address and fingerprint: give --odcm-url and --odcm-fingerprint (or SPACE_ODCM_URL, SPACE_ODCM_FINGERPRINT) with the token".into(),
        ));
    }
    let dir = dir(data_dir);
    std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let pending = new_csr(o.name, "")?;
    let key = dir.join("space.key");
    write_private_file(&key, pending.key_pem().as_bytes()).map_err(io_err(&key))?;
    let ch =
        net::tls::connect_pinned(o.odcm_url, o.odcm_fingerprint, Duration::from_secs(10)).await?;
    let mut req = tonic::Request::new(pb::EnrolRequest {
        token: o.token.trim().to_string(),
        csr_pem: pending.csr_pem.clone(),
        endpoint: o.endpoint.to_string(),
    });
    req.set_timeout(CALL_TIMEOUT);
    let r = pb::enrolment_client::EnrolmentClient::new(ch)
        .enrol(req)
        .await
        .map_err(|s| odcm_err("enrolment", o.odcm_url, &s))?
        .into_inner();
    let e = Enrolled {
        odcm: r.odcm.clone(),
        odcm_url: o.odcm_url.to_string(),
        odcm_fingerprint: o.odcm_fingerprint.to_string(),
        endpoint: o.endpoint.to_string(),
        ca_pem: r.ca_pem.clone(),
    };
    write_atomic(&dir.join("ca.crt"), r.ca_pem.as_bytes())?;
    let meta =
        serde_json::to_vec_pretty(&e).map_err(|err| PeeringError::Config(err.to_string()))?;
    write_atomic(&dir.join("odcm.json"), &meta)?;
    write_atomic(&dir.join("space.crt"), r.cert_pem.as_bytes())?;
    tracing::info!(space = %r.space, odcm = %r.odcm, fingerprint = %r.fingerprint, "enrolled with the ODCM");
    Ok(e)
}

/// What a rotation produced.
#[derive(Debug)]
pub struct Rotated {
    pub fingerprint: String,
    pub not_after: i64,
    pub previous_fingerprint: String,
    pub previous_accepted_until: i64,
}

/// Asks the ODCM for a new certificate for a new key (authenticated by the current one) and
/// stores both. A running server keeps presenting the old certificate until it restarts; the
/// ODCM keeps accepting it for its rotation overlap.
pub async fn rotate(data_dir: &Path) -> Result<Rotated, PeeringError> {
    let Some(p) = super::Peering::load(data_dir)? else {
        return Err(PeeringError::Config(format!(
            "the Space in {} has not enrolled with an ODCM: start it once with --enrolment-token",
            data_dir.display()
        )));
    };
    let dir = dir(data_dir);
    let pending = new_csr(&p.me, "")?;
    let next_key = dir.join("space.key.next");
    write_private_file(&next_key, pending.key_pem().as_bytes()).map_err(io_err(&next_key))?;
    let url = p.enrolled.odcm_url.clone();
    let ch = super::watch::connect_odcm(&p).await?;
    let mut req = tonic::Request::new(pb::RotateRequest {
        csr_pem: pending.csr_pem.clone(),
    });
    req.set_timeout(CALL_TIMEOUT);
    let r = pb::enrolment_client::EnrolmentClient::new(ch)
        .rotate(req)
        .await
        .map_err(|s| odcm_err("certificate rotation", &url, &s))?
        .into_inner();
    let next_crt = dir.join("space.crt.next");
    std::fs::write(&next_crt, r.cert_pem.as_bytes()).map_err(io_err(&next_crt))?;
    let key = dir.join("space.key");
    std::fs::rename(&next_key, &key).map_err(io_err(&key))?;
    let crt = dir.join("space.crt");
    std::fs::rename(&next_crt, &crt).map_err(io_err(&crt))?;
    tracing::info!(space = %p.me, old = %p.cert.fingerprint, new = %r.fingerprint, "certificate rotated");
    Ok(Rotated {
        fingerprint: r.fingerprint,
        not_after: r.not_after,
        previous_fingerprint: p.cert.fingerprint.clone(),
        previous_accepted_until: r.previous_accepted_until,
    })
}
