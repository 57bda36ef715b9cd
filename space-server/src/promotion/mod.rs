//! Promotion between Spaces by file: Release Bundles out ([`promote`]) and in ([`bundles`]),
//! packages by chunk inventory and transfer archive ([`packages`]), template values still
//! missing ([`missing`]) and Deployment Receipts both ways ([`receipts`]); [`api`] serves them
//! as `space.v1.Promotion`. Signing and decryption use this Space's ODCM identity, which never
//! leaves this process; trust comes from the trust set its ODCM sends.

pub mod api;
mod api_auto;
pub(crate) mod api_wire;
pub mod bundles;
pub mod fetch;
pub mod import;
pub mod index;
pub mod missing;
pub mod packages;
pub mod peer;
pub mod promote;
pub mod receipts;
pub mod receipts_in;
pub mod relay;
pub mod remote_index;
pub mod restored;
pub mod service;
pub mod staging;
pub mod verified;

use std::sync::Arc;

use exchange::bundle::{BundleError, SigningIdentity};
use net::pki::{CertInfo, allows};
use proto::odcm::v1 as odcm_pb;
use proto::space::v1 as pb;
use tokio_stream::StreamExt;

use crate::error::{ApiError, ApiResult};
use crate::peering::Peering;
use crate::state::SpaceState;

pub use api::PromotionApi;

/// Largest bundle or receipts file accepted (they carry no package bytes).
pub const MAX_FILE: usize = 256 << 20;

/// This Space's peering state, or why it cannot sign, encrypt or verify.
pub fn peering(state: &SpaceState) -> ApiResult<&Arc<Peering>> {
    state.peering.get().ok_or_else(|| {
        ApiError::Precondition(format!(
            "Space '{}' is not enrolled with an ODCM, so it has no identity to sign or decrypt with and trusts no Space: start it once with --odcm-url, --odcm-fingerprint and --enrolment-token",
            state.name
        ))
    })
}

/// The identity bundles and receipts are signed with.
pub fn signer(p: &Peering) -> ApiResult<SigningIdentity> {
    SigningIdentity::from_pem(&p.identity.cert_pem, &p.identity.key_pem)
        .map_err(|e| ApiError::Internal(format!("this Space's ODCM identity: {e}")))
}

/// The certificates of Spaces this one trusts for `kind`, by key id (certificate
/// fingerprint): a peer's pinned certificates that are still accepted, or an own-ODCM peer's.
pub fn trusted_for(
    p: &Peering,
    kind: odcm_pb::TrustKind,
) -> impl Fn(&str) -> Option<CertInfo> + use<> {
    let set = p.trust_set();
    let me = p.me.clone();
    let now = net::pki::unix_now();
    move |keyid: &str| {
        if set
            .retired
            .iter()
            .any(|r| r.fingerprint == keyid && now >= r.refuse_after)
        {
            return None;
        }
        set.peers.iter().find_map(|peer| {
            if !allows(&set, &me, &peer.name, kind) {
                return None;
            }
            let c = peer.certs.iter().find(|c| c.fingerprint == keyid)?;
            if c.accept_until > 0 && now > c.accept_until {
                return None;
            }
            let info = CertInfo::from_pem(&c.cert_pem).ok()?;
            (info.fingerprint == keyid
                && info.common_name.eq_ignore_ascii_case(&peer.name)
                && info.validity_problem(now).is_none())
            .then_some(info)
        })
    }
}

/// The certificate to encrypt for when promoting to `space`: its newest one in the trust set.
pub fn peer_cert(p: &Peering, space: &str) -> ApiResult<CertInfo> {
    let set = p.trust_set();
    let peer = set
        .peers
        .iter()
        .find(|x| x.name.eq_ignore_ascii_case(space))
        .ok_or_else(|| {
            ApiError::Precondition(format!(
                "space '{space}' is not in the trust set of Space '{}': register it as a Remote Space in this Space's ODCM (deploy odcm remote add) and add a trust with it (e.g. receipts from '{space}')",
                p.me
            ))
        })?;
    let now = net::pki::unix_now();
    peer.certs
        .iter()
        .filter(|c| c.accept_until == 0 || now <= c.accept_until)
        .filter(|c| {
            !set.retired
                .iter()
                .any(|r| r.fingerprint == c.fingerprint && now >= r.refuse_after)
        })
        .filter_map(|c| CertInfo::from_pem(&c.cert_pem).ok())
        .filter(|c| c.validity_problem(now).is_none())
        .max_by_key(|c| c.not_after)
        .ok_or_else(|| {
            ApiError::Precondition(format!(
                "space '{}' has no valid certificate in the trust set; register its current certificate in the ODCM",
                peer.name
            ))
        })
}

/// Reports an event to the ODCM's audit log (in the background; never fails the call).
pub fn audit(
    state: &SpaceState,
    kind: odcm_pb::EventKind,
    peer: &str,
    subject: &str,
    detail: &str,
) {
    if let Some(p) = state.peering.get() {
        crate::peering::watch::report(
            p.clone(),
            kind,
            peer.to_string(),
            subject.to_string(),
            detail.to_string(),
        );
    }
}

/// Who a refused file says it comes from (unverified; for the audit log only), by a JSON
/// pointer into its DSSE payload; "unknown" when it cannot be read.
pub fn claimed_sender(bytes: &[u8], pointer: &str) -> String {
    exchange::bundle::envelope_parts(bytes)
        .ok()
        .and_then(|d| serde_json::from_slice::<serde_json::Value>(&d.payload).ok())
        .and_then(|v| {
            v.pointer(pointer)
                .and_then(|x| x.as_str())
                .map(str::to_string)
        })
        .map(|s| {
            s.chars()
                .filter(|c| !c.is_control())
                .take(100)
                .collect::<String>()
        })
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Maps a bundle refusal to the API: trust problems are preconditions, the rest bad input.
pub fn bundle_error(e: BundleError) -> ApiError {
    match e {
        BundleError::Untrusted { .. }
        | BundleError::WrongTarget { .. }
        | BundleError::WrongKey { .. }
        | BundleError::SchemaTooNew { .. }
        | BundleError::SchemaTooOld { .. } => ApiError::Precondition(e.to_string()),
        BundleError::Key(_) | BundleError::Build(_) => ApiError::Internal(e.to_string()),
        _ => ApiError::Invalid(e.to_string()),
    }
}

/// Reads a whole client-streamed file into memory, refusing more than [`MAX_FILE`] bytes.
pub async fn collect(mut stream: tonic::Streaming<pb::FileData>, what: &str) -> ApiResult<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(m) = stream.next().await {
        let m =
            m.map_err(|s| ApiError::Invalid(format!("receiving the {what}: {}", s.message())))?;
        if out.len() + m.data.len() > MAX_FILE {
            return Err(ApiError::Invalid(format!(
                "the {what} is larger than {} MiB, which no {what} is",
                MAX_FILE >> 20
            )));
        }
        out.extend_from_slice(&m.data);
    }
    if out.is_empty() {
        return Err(ApiError::Invalid(format!("the {what} is empty")));
    }
    Ok(out)
}

#[cfg(test)]
#[path = "tests/roundtrip.rs"]
mod tests;
