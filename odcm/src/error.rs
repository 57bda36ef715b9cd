//! The ODCM's error type. Each variant has one [`ErrorCode`] (the vocabulary every service
//! shares); `runtime::status` turns codes into gRPC statuses, once, at the edge.

use domain::error::{ErrorCode, ServiceError};
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
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Unavailable(String),
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

impl ServiceError for OdcmError {
    fn code(&self) -> ErrorCode {
        match self {
            OdcmError::NotFound { .. } => ErrorCode::NotFound,
            OdcmError::AlreadyExists { .. } => ErrorCode::AlreadyExists,
            OdcmError::Invalid(_) => ErrorCode::Invalid,
            OdcmError::Precondition(_) => ErrorCode::FailedPrecondition,
            OdcmError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            OdcmError::PermissionDenied(_) => ErrorCode::PermissionDenied,
            OdcmError::Unavailable(_) => ErrorCode::Unavailable,
            OdcmError::Storage(e) => e.code(),
            OdcmError::Internal(_) => ErrorCode::Internal,
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

/// The gRPC edge: the one conversion to a status.
impl From<OdcmError> for tonic::Status {
    fn from(e: OdcmError) -> Self {
        runtime::status::status_of(&e)
    }
}

pub type OdcmResult<T> = Result<T, OdcmError>;
