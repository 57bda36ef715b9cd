//! The ODCM's error type and its mapping to a few gRPC status codes.

use storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum OdcmError {
    #[error("{kind} '{name}' does not exist")]
    NotFound { kind: &'static str, name: String },
    #[error("{kind} '{name}' already exists")]
    AlreadyExists { kind: &'static str, name: String },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Precondition(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl OdcmError {
    pub fn not_found(kind: &'static str, name: impl Into<String>) -> Self {
        OdcmError::NotFound {
            kind,
            name: name.into(),
        }
    }
    pub fn exists(kind: &'static str, name: impl Into<String>) -> Self {
        OdcmError::AlreadyExists {
            kind,
            name: name.into(),
        }
    }
}

impl From<secrets::SecretError> for OdcmError {
    fn from(e: secrets::SecretError) -> Self {
        OdcmError::Internal(e.to_string())
    }
}

impl From<net::pki::PkiError> for OdcmError {
    fn from(e: net::pki::PkiError) -> Self {
        use net::pki::PkiError as P;
        match e {
            P::BadCertificate { .. } | P::BadCsr(_) => OdcmError::Invalid(e.to_string()),
            _ => OdcmError::Internal(e.to_string()),
        }
    }
}

impl From<OdcmError> for tonic::Status {
    fn from(e: OdcmError) -> Self {
        let msg = e.to_string();
        match e {
            OdcmError::NotFound { .. } => tonic::Status::not_found(msg),
            OdcmError::AlreadyExists { .. } => tonic::Status::already_exists(msg),
            OdcmError::Invalid(_) => tonic::Status::invalid_argument(msg),
            OdcmError::Precondition(_) => tonic::Status::failed_precondition(msg),
            OdcmError::Unauthenticated(_) => tonic::Status::unauthenticated(msg),
            OdcmError::Storage(StorageError::Conflict { .. }) => tonic::Status::already_exists(msg),
            OdcmError::Storage(StorageError::Changed { .. }) => tonic::Status::aborted(msg),
            OdcmError::Storage(_) | OdcmError::Internal(_) => {
                tracing::error!(error = %msg, "internal error");
                tonic::Status::internal(msg)
            }
        }
    }
}

pub type OdcmResult<T> = Result<T, OdcmError>;
