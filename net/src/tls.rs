//! TLS identities (self-signed ECDSA P-256 certificates made with rcgen), certificate
//! fingerprints, and gRPC client channels that pin the server's certificate by fingerprint.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create certificate: {0}")]
    Generate(String),
    #[error("{path} holds no valid PEM {what}")]
    BadPem { path: String, what: &'static str },
    #[error(transparent)]
    Endpoint(#[from] domain::endpoint::EndpointError),
    #[error("cannot connect to {address}: {reason}")]
    Connect { address: String, reason: String },
}

pub use domain::endpoint::{EndpointError, normalize_fingerprint, parse_address};

/// A certificate and its private key, as PEM.
#[derive(Clone)]
pub struct Identity {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("fingerprint", &self.fingerprint().unwrap_or_default())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Loads `tls.crt`/`tls.key` from `dir`, or creates a self-signed pair for `common_name`
    /// valid for localhost, 127.0.0.1 and `extra_names` (key file mode 0600).
    pub fn load_or_create(
        dir: &Path,
        common_name: &str,
        extra_names: &[String],
    ) -> Result<Self, TlsError> {
        let cert_path = dir.join("tls.crt");
        let key_path = dir.join("tls.key");
        let io = |p: &Path| {
            let path = p.display().to_string();
            move |source| TlsError::Io { path, source }
        };
        if cert_path.exists() && key_path.exists() {
            let cert_pem = std::fs::read_to_string(&cert_path).map_err(io(&cert_path))?;
            let key_pem = std::fs::read_to_string(&key_path).map_err(io(&key_path))?;
            let id = Self { cert_pem, key_pem };
            id.cert_der().map_err(|_| TlsError::BadPem {
                path: cert_path.display().to_string(),
                what: "certificate",
            })?;
            return Ok(id);
        }
        let id = Self::self_signed(common_name, extra_names)?;
        secrets::write_private_file(&key_path, id.key_pem.as_bytes()).map_err(io(&key_path))?;
        std::fs::write(&cert_path, &id.cert_pem).map_err(io(&cert_path))?;
        Ok(id)
    }

    /// A new self-signed identity (not written anywhere).
    pub fn self_signed(common_name: &str, extra_names: &[String]) -> Result<Self, TlsError> {
        let gen_err = |e: rcgen::Error| TlsError::Generate(e.to_string());
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(gen_err)?;
        let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        names.extend(extra_names.iter().cloned());
        let mut params = rcgen::CertificateParams::new(names).map_err(gen_err)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
        params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(3650);
        let cert = params.self_signed(&key).map_err(gen_err)?;
        Ok(Self {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    pub fn cert_der(&self) -> Result<CertificateDer<'static>, TlsError> {
        CertificateDer::from_pem_slice(self.cert_pem.as_bytes()).map_err(|_| TlsError::BadPem {
            path: "certificate".into(),
            what: "certificate",
        })
    }

    /// `sha256:<hex>` of the certificate's DER encoding.
    pub fn fingerprint(&self) -> Result<String, TlsError> {
        Ok(fingerprint(&self.cert_der()?))
    }

    /// The tonic server TLS configuration presenting this identity.
    pub fn server_tls(&self) -> tonic::transport::ServerTlsConfig {
        tonic::transport::ServerTlsConfig::new().identity(tonic::transport::Identity::from_pem(
            &self.cert_pem,
            &self.key_pem,
        ))
    }

    /// The private key, parsed.
    pub fn private_key(&self) -> Result<PrivateKeyDer<'static>, TlsError> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).map_err(|_| TlsError::BadPem {
            path: "key".into(),
            what: "private key",
        })
    }
}

/// `sha256:<64 hex>` of a DER certificate.
pub fn fingerprint(der: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(der)))
}

/// Implements a rustls verifier's signature checks (TLS 1.2, TLS 1.3, supported schemes) with
/// the verifier's `provider` field: every verifier here differs only in which certificates it
/// accepts, never in how signatures are checked.
#[macro_export]
macro_rules! verify_signatures_with_provider {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    };
}

/// Accepts exactly one server certificate, identified by its fingerprint (like an SSH host key).
#[derive(Debug)]
struct PinnedServer {
    fingerprint: String,
    /// Who trusts it and what to do when another certificate answers (ends the refusal).
    advice: String,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = fingerprint(end_entity);
        if secrets::constant_time_eq(got.as_bytes(), self.fingerprint.as_bytes()) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the server presented certificate {got}, but {} is trusted here; {}",
                self.fingerprint, self.advice
            )))
        }
    }

    crate::verify_signatures_with_provider!();
}

/// What a CLI context advises when its pinned server answers with another certificate.
pub const CONTEXT_ADVICE: &str = "this context trusts it: if the server was re-created, check the new fingerprint and update the context";

/// A server-certificate verifier that trusts only the certificate with `fingerprint`;
/// `advice` ends the refusal of any other (who pinned it, what to do).
pub fn pinned_server_verifier(
    fingerprint: &str,
    advice: &str,
) -> Result<Arc<dyn ServerCertVerifier>, TlsError> {
    Ok(Arc::new(PinnedServer {
        fingerprint: normalize_fingerprint(fingerprint)?,
        advice: advice.to_string(),
        provider: Arc::new(rustls::crypto::ring::default_provider()),
    }))
}

/// A rustls client configuration that trusts only the certificate with `fingerprint`.
pub fn pinned_client_config(fingerprint: &str) -> Result<rustls::ClientConfig, TlsError> {
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| TlsError::Generate(e.to_string()))?
    .dangerous()
    .with_custom_certificate_verifier(pinned_server_verifier(fingerprint, CONTEXT_ADVICE)?)
    .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(cfg)
}

/// Opens a gRPC channel to `address` (https://host:port) over TLS, trusting only the server
/// certificate whose fingerprint is `fingerprint`. `timeout` bounds connecting; each call sets
/// its own deadline (a channel-wide one would cut long transfers short).
pub async fn connect_pinned(
    address: &str,
    fingerprint: &str,
    timeout: Duration,
) -> Result<tonic::transport::Channel, TlsError> {
    let cfg = Arc::new(pinned_client_config(fingerprint)?);
    crate::transport::connect(address, cfg, timeout).await
}

/// The innermost cause of an error: usually the one that says what actually went wrong.
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(s) = cur.source() {
        cur = s;
    }
    cur.to_string()
}

/// Joins an error and its sources into one line.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        cur = s.source();
    }
    out
}

#[cfg(test)]
#[path = "tests/tls.rs"]
mod tests;
