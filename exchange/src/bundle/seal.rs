//! HPKE sealing of sensitive values for the target Space: base mode, DHKEM(P-256, HKDF-SHA256),
//! HKDF-SHA256, AES-128-GCM. The recipient key is the SEC1 point in the target certificate.

use base64::Engine;
use hpke::aead::AesGcm128;
use hpke::kdf::HkdfSha256;
use hpke::kem::DhP256HkdfSha256;
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};
use p256::pkcs8::DecodePrivateKey;
use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::BundleError;

type KemP256 = DhP256HkdfSha256;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A public key values are sealed for.
pub(super) struct Recipient {
    key: <KemP256 as Kem>::PublicKey,
    pub(super) key_id: String,
}

/// The target Space's private key, for opening.
pub(super) struct Opener {
    key: <KemP256 as Kem>::PrivateKey,
    pub(super) key_id: String,
}

/// `sha256:<hex>` of a 65-byte SEC1 public key.
fn key_id(sec1: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(sec1)))
}

/// The SEC1 public key bytes in a DER certificate's SubjectPublicKeyInfo.
pub(super) fn cert_public_key(cert_der: &[u8]) -> Result<Vec<u8>, BundleError> {
    let (_, cert) = X509Certificate::from_der(cert_der)
        .map_err(|e| BundleError::Key(format!("cannot read the certificate: {e}")))?;
    Ok(cert.public_key().subject_public_key.data.to_vec())
}

impl Recipient {
    pub(super) fn from_cert_der(cert_der: &[u8]) -> Result<Self, BundleError> {
        let sec1 = cert_public_key(cert_der)?;
        let key = <KemP256 as Kem>::PublicKey::from_bytes(&sec1).map_err(|_| {
            BundleError::Key("the target certificate does not hold an ECDSA P-256 key".into())
        })?;
        Ok(Self {
            key,
            key_id: key_id(&sec1),
        })
    }
}

impl Opener {
    /// From the PKCS#8 PEM private key (`identity/space.key`).
    pub(super) fn from_pkcs8_pem(pem: &str) -> Result<Self, BundleError> {
        let sk = p256::SecretKey::from_pkcs8_pem(pem)
            .map_err(|_| BundleError::Key("the private key is not a PKCS#8 P-256 key".into()))?;
        let key = <KemP256 as Kem>::PrivateKey::from_bytes(&sk.to_bytes())
            .map_err(|_| BundleError::Key("the private key is not a valid P-256 scalar".into()))?;
        let public = KemP256::sk_to_pk(&key).to_bytes();
        Ok(Self {
            key,
            key_id: key_id(&public),
        })
    }
}

/// `info` binds the target Space; `aad` binds the bundle and the variable.
fn context(target_space: &str, bundle_id: &str, variable_id: &str) -> (Vec<u8>, Vec<u8>) {
    let info = format!("deploy release-bundle v1 sensitive variable\0{target_space}").into_bytes();
    let aad = format!("{bundle_id}\0{variable_id}").into_bytes();
    (info, aad)
}

/// Seals `plaintext`; returns base64 `(enc, ciphertext)`.
pub(super) fn seal(
    to: &Recipient,
    target_space: &str,
    bundle_id: &str,
    variable_id: &str,
    plaintext: &str,
) -> Result<(String, String), BundleError> {
    let (info, aad) = context(target_space, bundle_id, variable_id);
    let (enc, ct) = hpke::single_shot_seal::<AesGcm128, HkdfSha256, KemP256>(
        &OpModeS::Base,
        &to.key,
        &info,
        plaintext.as_bytes(),
        &aad,
    )
    .map_err(|e| BundleError::Build(format!("cannot encrypt variable {variable_id}: {e}")))?;
    Ok((B64.encode(enc.to_bytes()), B64.encode(ct)))
}

/// Opens a value sealed by [`seal`]; `None` if anything does not match.
pub(super) fn open(
    with: &Opener,
    target_space: &str,
    bundle_id: &str,
    variable_id: &str,
    enc: &str,
    ciphertext: &str,
) -> Option<String> {
    let (info, aad) = context(target_space, bundle_id, variable_id);
    let enc = B64.decode(enc).ok()?;
    let enc = <KemP256 as Kem>::EncappedKey::from_bytes(&enc).ok()?;
    let ct = B64.decode(ciphertext).ok()?;
    let pt = hpke::single_shot_open::<AesGcm128, HkdfSha256, KemP256>(
        &OpModeR::Base,
        &with.key,
        &enc,
        &info,
        &ct,
        &aad,
    )
    .ok()?;
    String::from_utf8(pt).ok()
}
