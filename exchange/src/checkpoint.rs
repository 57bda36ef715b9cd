//! Audit checkpoints: an ODCM's signed statement "my audit log had `entries` entries ending in
//! `head_hash` at `issued_at`". Every enrolled Space keeps the newest it was given, so an ODCM
//! whose log was later cut short or rewritten can be caught: `audit verify` compares the log
//! with the newest checkpoint it is given or collects.
//!
//! The file is JSON (`format` [`FORMAT`], `version` [`VERSION`]); the signature is the ODCM CA's
//! ECDSA P-256 signature over the JSON of every other field in fixed order.

use serde::{Deserialize, Serialize};

/// `format` of a checkpoint file.
pub const FORMAT: &str = "odcm-audit-checkpoint";
/// The checkpoint version this build writes and reads.
pub const VERSION: u32 = 1;
/// The most bytes a checkpoint file may have.
pub const MAX_BYTES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub format: String,
    pub version: u32,
    /// The ODCM's name.
    pub odcm: String,
    /// SHA-256 fingerprint of the ODCM CA certificate whose key signed.
    pub ca_fingerprint: String,
    /// How many entries the log had.
    pub entries: u64,
    /// The hash of entry `entries` (empty for an empty log).
    pub head_hash: String,
    pub issued_at: i64,
    /// Hex of the CA's signature over [`Checkpoint::body_bytes`].
    pub signature: String,
}

#[derive(Serialize)]
struct Body<'a> {
    format: &'a str,
    version: u32,
    odcm: &'a str,
    ca_fingerprint: &'a str,
    entries: u64,
    head_hash: &'a str,
    issued_at: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckpointError {
    #[error("the checkpoint is larger than {MAX_BYTES} bytes")]
    TooLarge,
    #[error("the checkpoint is not readable: {0}")]
    Unreadable(String),
    #[error("this is not an audit checkpoint (format '{0}')")]
    NotACheckpoint(String),
    #[error("the checkpoint has version {0}; this build reads version {VERSION}")]
    Version(u32),
    #[error(
        "the checkpoint was signed by another ODCM ('{odcm}', CA {fingerprint}), not this one (CA {expected})"
    )]
    OtherOdcm {
        odcm: String,
        fingerprint: String,
        expected: String,
    },
    #[error("the checkpoint's signature does not verify with the ODCM CA: it was altered")]
    BadSignature,
    #[error("the checkpoint cannot be signed: {0}")]
    Sign(String),
}

/// How a checkpoint stands against another one from the same ODCM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Same,
    Newer,
    Older,
    /// Same length, different head: the log was rewritten.
    Fork,
}

impl Checkpoint {
    /// Builds and signs a checkpoint with `sign` (the CA's signing function).
    pub fn issue(
        odcm: &str,
        ca_fingerprint: &str,
        entries: u64,
        head_hash: &str,
        issued_at: i64,
        sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, String>,
    ) -> Result<Self, CheckpointError> {
        let mut c = Self {
            format: FORMAT.into(),
            version: VERSION,
            odcm: odcm.into(),
            ca_fingerprint: ca_fingerprint.into(),
            entries,
            head_hash: head_hash.into(),
            issued_at,
            signature: String::new(),
        };
        c.signature = hex::encode(sign(&c.body_bytes()).map_err(CheckpointError::Sign)?);
        Ok(c)
    }

    /// The bytes the signature covers.
    pub fn body_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&Body {
            format: &self.format,
            version: self.version,
            odcm: &self.odcm,
            ca_fingerprint: &self.ca_fingerprint,
            entries: self.entries,
            head_hash: &self.head_hash,
            issued_at: self.issued_at,
        })
        .unwrap_or_default()
    }

    /// Reads a checkpoint file (no signature check: see [`Checkpoint::verify`]).
    pub fn parse(bytes: &[u8]) -> Result<Self, CheckpointError> {
        if bytes.len() > MAX_BYTES {
            return Err(CheckpointError::TooLarge);
        }
        let c: Self = serde_json::from_slice(bytes)
            .map_err(|e| CheckpointError::Unreadable(e.to_string()))?;
        if c.format != FORMAT {
            return Err(CheckpointError::NotACheckpoint(domain::text::clean(
                &c.format, 64,
            )));
        }
        if c.version != VERSION {
            return Err(CheckpointError::Version(c.version));
        }
        Ok(c)
    }

    /// Checks that the CA certificate `ca_der` signed this checkpoint.
    pub fn verify(&self, ca_der: &[u8]) -> Result<(), CheckpointError> {
        let expected = net::tls::fingerprint(ca_der);
        if self.ca_fingerprint != expected {
            return Err(CheckpointError::OtherOdcm {
                odcm: domain::text::clean(&self.odcm, 100),
                fingerprint: domain::text::clean(&self.ca_fingerprint, 100),
                expected,
            });
        }
        let sig = hex::decode(&self.signature).map_err(|_| CheckpointError::BadSignature)?;
        if !net::pki::verify_signature(ca_der, &self.body_bytes(), &sig) {
            return Err(CheckpointError::BadSignature);
        }
        Ok(())
    }

    /// Parses and verifies in one step: what callers outside tests use.
    pub fn read_verified(bytes: &[u8], ca_der: &[u8]) -> Result<Self, CheckpointError> {
        let c = Self::parse(bytes)?;
        c.verify(ca_der)?;
        Ok(c)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    /// Where `self` stands against `held`, both from the same ODCM.
    pub fn order(&self, held: &Checkpoint) -> Order {
        use std::cmp::Ordering::*;
        match self.entries.cmp(&held.entries) {
            Greater => Order::Newer,
            Less => Order::Older,
            Equal if self.head_hash == held.head_hash => Order::Same,
            Equal => Order::Fork,
        }
    }
}

#[cfg(test)]
#[path = "tests/checkpoint.rs"]
mod tests;
