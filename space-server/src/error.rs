//! The Space server's error type. Each variant has one [`ErrorCode`] (the vocabulary every
//! front end shares); `runtime::status` turns codes into gRPC statuses, once, at the edge.

use domain::error::{ErrorCode, ServiceError};
use storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
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
    #[error(transparent)]
    Package(#[from] package_store::PackageError),
    #[error(transparent)]
    Wire(#[from] proto::wire::WireError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn not_found(kind: &'static str, name: impl Into<String>) -> Self {
        ApiError::NotFound {
            kind,
            name: name.into(),
        }
    }
    pub fn exists(kind: &'static str, name: impl Into<String>) -> Self {
        ApiError::AlreadyExists {
            kind,
            name: name.into(),
        }
    }
}

impl ServiceError for ApiError {
    fn code(&self) -> ErrorCode {
        use package_store::PackageError as P;
        match self {
            ApiError::NotFound { .. } => ErrorCode::NotFound,
            ApiError::AlreadyExists { .. } => ErrorCode::AlreadyExists,
            ApiError::Invalid(_) | ApiError::Wire(_) => ErrorCode::Invalid,
            ApiError::Precondition(_) => ErrorCode::FailedPrecondition,
            ApiError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            ApiError::PermissionDenied(_) => ErrorCode::PermissionDenied,
            ApiError::Unavailable(_) => ErrorCode::Unavailable,
            ApiError::Storage(e) => e.code(),
            ApiError::Package(P::Io(_)) => ErrorCode::Internal,
            ApiError::Package(_) => ErrorCode::Invalid,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<domain::package::NameError> for ApiError {
    fn from(e: domain::package::NameError) -> Self {
        ApiError::Invalid(e.to_string())
    }
}

impl From<secrets::SecretError> for ApiError {
    fn from(e: secrets::SecretError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

/// The gRPC edge: the one conversion to a status.
impl From<ApiError> for tonic::Status {
    fn from(e: ApiError) -> Self {
        runtime::status::status_of(&e)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
