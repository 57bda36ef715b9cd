//! The ODCM's certificate authority (ECDSA P-256 with rcgen): creation, persistence (key file
//! 0600), CSR signing, identities for the ODCM's own server, and ECDSA signatures over arbitrary
//! bytes (the audit log). Also the requester's side: [`new_csr`] keeps the private key local.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    SanType,
};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, UnparsedPublicKey,
};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::cert::CertInfo;
use super::{PeerRole, PkiError};
use crate::tls::Identity;

/// How long the CA certificate itself is valid.
const CA_VALIDITY_DAYS: i64 = 20 * 365;

/// A certificate an authority issued.
#[derive(Debug, Clone)]
pub struct SignedCert {
    pub pem: String,
    pub info: CertInfo,
}

/// An ODCM's CA: its certificate and private key (which never leaves the ODCM).
pub struct CertificateAuthority {
    odcm: String,
    cert: CertInfo,
    key: KeyPair,
    signer: EcdsaKeyPair,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("odcm", &self.odcm)
            .field("fingerprint", &self.cert.fingerprint)
            .finish_non_exhaustive()
    }
}

fn gen_err(e: rcgen::Error) -> PkiError {
    PkiError::Generate(e.to_string())
}

fn dn(params: &mut CertificateParams, cn: &str, odcm: &str, role: PeerRole) {
    params.distinguished_name.push(DnType::CommonName, cn);
    params
        .distinguished_name
        .push(DnType::OrganizationName, odcm);
    params
        .distinguished_name
        .push(DnType::OrganizationalUnitName, role.as_str());
}

fn at(secs: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

impl CertificateAuthority {
    /// A new CA for the ODCM named `odcm` (not written anywhere).
    pub fn create(odcm: &str) -> Result<Self, PkiError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(gen_err)?;
        let mut params = CertificateParams::default();
        dn(&mut params, &format!("{odcm} CA"), odcm, PeerRole::Ca);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::days(CA_VALIDITY_DAYS);
        let cert = params.self_signed(&key).map_err(gen_err)?;
        Self::from_parts(odcm, &cert.pem(), key)
    }

    /// Loads `ca.crt`/`ca.key` from `dir`, or creates them (key file mode 0600).
    pub fn load_or_create(dir: &Path, odcm: &str) -> Result<Self, PkiError> {
        let cert_path = dir.join("ca.crt");
        let key_path = dir.join("ca.key");
        let io = |p: &Path| {
            let path = p.display().to_string();
            move |source| PkiError::Io { path, source }
        };
        if cert_path.exists() && key_path.exists() {
            let cert_pem = std::fs::read_to_string(&cert_path).map_err(io(&cert_path))?;
            let key_pem = std::fs::read_to_string(&key_path).map_err(io(&key_path))?;
            let key = KeyPair::from_pem(&key_pem)
                .map_err(|_| PkiError::BadKey(key_path.display().to_string()))?;
            return Self::from_parts(odcm, &cert_pem, key);
        }
        let ca = Self::create(odcm)?;
        secrets::write_private_file(&key_path, ca.key.serialize_pem().as_bytes())
            .map_err(io(&key_path))?;
        std::fs::write(&cert_path, ca.cert_pem()).map_err(io(&cert_path))?;
        Ok(ca)
    }

    fn from_parts(odcm: &str, cert_pem: &str, key: KeyPair) -> Result<Self, PkiError> {
        let cert = CertInfo::from_pem(cert_pem)?;
        let signer = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.serialize_der(),
            &SystemRandom::new(),
        )
        .map_err(|e| PkiError::BadKey(format!("the CA key ({e})")))?;
        Ok(Self {
            odcm: odcm.to_string(),
            cert,
            key,
            signer,
        })
    }

    pub fn odcm(&self) -> &str {
        &self.odcm
    }
    pub fn cert(&self) -> &CertInfo {
        &self.cert
    }
    pub fn cert_pem(&self) -> String {
        self.cert.to_pem()
    }

    fn issuer(&self) -> Result<Issuer<'_, &KeyPair>, PkiError> {
        Issuer::from_ca_cert_der(&self.cert.der.clone().into(), &self.key).map_err(gen_err)
    }

    fn leaf_params(
        &self,
        cn: &str,
        role: PeerRole,
        not_before: i64,
        not_after: i64,
        names: &[String],
    ) -> Result<CertificateParams, PkiError> {
        let mut params = CertificateParams::new(names.to_vec()).map_err(gen_err)?;
        dn(&mut params, cn, &self.odcm, role);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        params.not_before = at(not_before);
        params.not_after = at(not_after);
        let mut serial = [0u8; 16];
        secrets::random_bytes(&mut serial).map_err(|e| PkiError::Sign(e.to_string()))?;
        serial[0] &= 0x7f;
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
        Ok(params)
    }

    /// Signs a Space's CSR. The certificate's subject comes from the CA (`CN = space`,
    /// `O = this ODCM`, `OU = space`), never from the request; the request only contributes its
    /// public key, whose possession its signature proves.
    pub fn sign_csr(
        &self,
        csr_pem: &str,
        space: &str,
        not_before: i64,
        not_after: i64,
    ) -> Result<SignedCert, PkiError> {
        let csr = CertificateSigningRequestParams::from_pem(csr_pem)
            .map_err(|e| PkiError::BadCsr(e.to_string()))?;
        if csr.public_key.algorithm() != &PKCS_ECDSA_P256_SHA256 {
            return Err(PkiError::BadCsr(
                "the key must be ECDSA P-256 (signature ecdsa-with-SHA256)".into(),
            ));
        }
        let params = self.leaf_params(space, PeerRole::Space, not_before, not_after, &[])?;
        let cert = params
            .signed_by(&csr.public_key, &self.issuer()?)
            .map_err(gen_err)?;
        let pem = cert.pem();
        Ok(SignedCert {
            info: CertInfo::from_der(cert.der())?,
            pem,
        })
    }

    /// A key pair and certificate for this ODCM's own API server (`OU = odcm`), valid for
    /// localhost, 127.0.0.1 and `names`.
    pub fn issue_server_identity(
        &self,
        names: &[String],
        not_after: i64,
    ) -> Result<Identity, PkiError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(gen_err)?;
        let mut all = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        all.extend(names.iter().cloned());
        let mut params = self.leaf_params(
            &self.odcm,
            PeerRole::Odcm,
            super::unix_now() - 3600,
            not_after,
            &[],
        )?;
        for n in all {
            let san = match n.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(n.try_into().map_err(gen_err)?),
            };
            params.subject_alt_names.push(san);
        }
        let cert = params.signed_by(&key, &self.issuer()?).map_err(gen_err)?;
        Ok(Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// ECDSA P-256 / SHA-256 signature (fixed-width r||s) over `msg` with the CA key.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, PkiError> {
        self.signer
            .sign(&SystemRandom::new(), msg)
            .map(|s| s.as_ref().to_vec())
            .map_err(|e| PkiError::Sign(e.to_string()))
    }
}

/// Checks a [`CertificateAuthority::sign`] signature against the CA certificate `ca_der`.
pub fn verify_signature(ca_der: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    let Ok((_, ca)) = X509Certificate::from_der(ca_der) else {
        return false;
    };
    let spki = &ca.public_key().subject_public_key.data;
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, spki.as_ref())
        .verify(msg, sig)
        .is_ok()
}

/// A private key kept by the requester and the CSR to send for it.
pub struct PendingIdentity {
    key_pem: String,
    pub csr_pem: String,
}

impl std::fmt::Debug for PendingIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingIdentity(key: ********)")
    }
}

impl PendingIdentity {
    /// The identity once the CA returned `cert_pem` for this key.
    pub fn into_identity(self, cert_pem: String) -> Identity {
        Identity {
            cert_pem,
            key_pem: self.key_pem,
        }
    }
    /// The private key (PEM, PKCS#8), e.g. to write it to a 0600 file before enrolling.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }
}

/// Generates a P-256 key pair where it will be used and a CSR naming `space` of `odcm`.
pub fn new_csr(space: &str, odcm: &str) -> Result<PendingIdentity, PkiError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(gen_err)?;
    let mut params = CertificateParams::default();
    dn(&mut params, space, odcm, PeerRole::Space);
    let csr = params.serialize_request(&key).map_err(gen_err)?;
    Ok(PendingIdentity {
        key_pem: key.serialize_pem(),
        csr_pem: csr.pem().map_err(gen_err)?,
    })
}

/// Signs `msg` with the ECDSA P-256 key `key_pem` (PKCS#8 PEM): the fixed-width signature
/// [`verify_signature`] checks against the key's certificate.
pub fn sign_with_key(key_pem: &str, msg: &[u8]) -> Result<Vec<u8>, PkiError> {
    let der = rcgen::KeyPair::from_pem(key_pem)
        .map_err(|_| PkiError::Sign("the signing key is not a PEM private key".into()))?
        .serialize_der();
    let rng = SystemRandom::new();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &rng)
        .map_err(|_| PkiError::Sign("the signing key is not an ECDSA P-256 key".into()))?;
    key.sign(&rng, msg)
        .map(|s| s.as_ref().to_vec())
        .map_err(|e| PkiError::Sign(e.to_string()))
}

/// Checks that `sig` over `msg` was made by the key of certificate `cert_pem`; returns the
/// certificate's `sha256:` fingerprint (for the caller to compare with the one it pins).
pub fn verify_with_cert(cert_pem: &str, msg: &[u8], sig: &[u8]) -> Result<String, String> {
    let der = super::cert::pem_to_der(cert_pem).map_err(|e| format!("the certificate: {e}"))?;
    if !verify_signature(&der, msg, sig) {
        return Err("the signature does not match the certificate".into());
    }
    Ok(crate::tls::fingerprint(&der))
}
