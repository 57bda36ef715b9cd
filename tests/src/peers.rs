//! Helpers for Space-to-Space tests: `deploy space ping` through a Space's API, and raw peer
//! clients presenting crafted certificates (none, another CA's, an expired one).

use std::sync::Arc;
use std::time::Duration;

use net::pki::{PeerRole, TrustSnapshot, TrustStore, TrustVerifier, client_config, connect_mtls};
use net::tls::Identity;

use crate::Space;

/// `deploy space ping --peer PEER [--kind KIND]` run against `s`: stdout, or stderr on failure.
pub fn ping(s: &Space, peer: &str, kind: Option<&str>) -> Result<String, String> {
    let mut args = vec!["space", "ping", "--peer", peer];
    if let Some(k) = kind {
        args.extend(["--kind", k]);
    }
    let o = s.cli().run(&args);
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

/// An identity for Space `space` signed by `ca`, valid from `not_before` to `not_after`.
pub fn crafted_identity(
    ca: &net::pki::CertificateAuthority,
    space: &str,
    not_before: i64,
    not_after: i64,
) -> Identity {
    let pending = net::pki::new_csr(space, "").expect("csr");
    let signed = ca
        .sign_csr(&pending.csr_pem, space, not_before, not_after)
        .expect("sign");
    pending.into_identity(signed.pem)
}

/// Calls `WhoAmI` on the peer service at `address` presenting `identity` (or none); the
/// server's certificate is checked against `ca_pem`. Returns the status message on refusal.
pub fn who_am_i(
    address: &str,
    ca_pem: &str,
    identity: Option<&Identity>,
) -> Result<String, String> {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let mut snap = TrustSnapshot::default();
        snap.add_ca_pem("peer", ca_pem).expect("ca");
        let verifier = TrustVerifier::new(TrustStore::new(snap)).expecting(PeerRole::Space);
        let cfg = client_config(identity, Arc::new(verifier)).expect("client config");
        let ch = connect_mtls(address, cfg, Duration::from_secs(5))
            .await
            .map_err(|e| e.to_string())?;
        let mut req = tonic::Request::new(proto::peer::v1::Empty {});
        req.set_timeout(Duration::from_secs(5));
        proto::peer::v1::peer_client::PeerClient::new(ch)
            .who_am_i(req)
            .await
            .map(|r| r.into_inner().space)
            .map_err(|s| format!("{:?}: {}", s.code(), s.message()))
    })
}

/// The ODCM-issued identity a Space keeps in `<data>/identity/`, and its ODCM's CA (PEM).
pub fn space_identity(s: &Space) -> (Identity, String) {
    let dir = s.data_dir.join("identity");
    let read = |n: &str| std::fs::read_to_string(dir.join(n)).expect("identity file");
    (
        Identity {
            cert_pem: read("space.crt"),
            key_pem: read("space.key"),
        },
        read("ca.crt"),
    )
}

/// Calls `Promotions.FetchChunks` on `s`'s peer service presenting `identity`: the number of
/// chunks received, or the status on refusal.
pub fn fetch_chunks_as(
    s: &Space,
    ca_pem: &str,
    identity: &Identity,
    bundle_id: &str,
    hashes: Vec<Vec<u8>>,
) -> Result<usize, String> {
    fetch_chunks_with_bases(s, ca_pem, identity, bundle_id, hashes, Vec::new()).map(|r| r.len())
}

/// [`fetch_chunks_as`] proposing delta `bases`: for each chunk received, the base it came as a
/// delta against (empty: sent whole).
pub fn fetch_chunks_with_bases(
    s: &Space,
    ca_pem: &str,
    identity: &Identity,
    bundle_id: &str,
    hashes: Vec<Vec<u8>>,
    bases: Vec<Vec<u8>>,
) -> Result<Vec<Vec<u8>>, String> {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let mut snap = TrustSnapshot::default();
        snap.add_ca_pem("peer", ca_pem).expect("ca");
        let verifier = TrustVerifier::new(TrustStore::new(snap)).expecting(PeerRole::Space);
        let cfg = client_config(Some(identity), Arc::new(verifier)).expect("client config");
        let ch = connect_mtls(&s.peer_address, cfg, Duration::from_secs(5))
            .await
            .map_err(|e| e.to_string())?;
        let mut req = tonic::Request::new(proto::peer::v1::FetchChunksRequest {
            bundle_id: bundle_id.to_string(),
            hashes,
            bases,
        });
        req.set_timeout(Duration::from_secs(10));
        let mut stream = proto::peer::v1::promotions_client::PromotionsClient::new(ch)
            .fetch_chunks(req)
            .await
            .map_err(|s| format!("{:?}: {}", s.code(), s.message()))?
            .into_inner();
        let mut out = Vec::new();
        while let Some(c) = stream
            .message()
            .await
            .map_err(|s| format!("{:?}: {}", s.code(), s.message()))?
        {
            out.push(c.base);
        }
        Ok(out)
    })
}

/// Calls `CheckTrust` (releases) on the peer service at `address` presenting `identity` (or
/// none), offering `subject`. Returns the status code and message on refusal.
pub fn check_trust(
    address: &str,
    ca_pem: &str,
    identity: Option<&Identity>,
    subject: &str,
) -> Result<String, (tonic::Code, String)> {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let mut snap = TrustSnapshot::default();
        snap.add_ca_pem("peer", ca_pem).expect("ca");
        let verifier = TrustVerifier::new(TrustStore::new(snap)).expecting(PeerRole::Space);
        let cfg = client_config(identity, Arc::new(verifier)).expect("client config");
        let ch = connect_mtls(address, cfg, Duration::from_secs(5))
            .await
            .map_err(|e| (tonic::Code::Unavailable, e.to_string()))?;
        let mut req = tonic::Request::new(proto::peer::v1::CheckTrustRequest {
            kind: proto::peer::v1::TrustKind::Releases as i32,
            subject: subject.to_string(),
        });
        req.set_timeout(Duration::from_secs(5));
        proto::peer::v1::peer_client::PeerClient::new(ch)
            .check_trust(req)
            .await
            .map(|r| r.into_inner().trusted)
            .map_err(|s| (s.code(), s.message().to_string()))
    })
}

/// Bytes under `dir`, recursively.
pub fn dir_size(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
