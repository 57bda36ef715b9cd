//! The Space server's error type and its mapping to a small set of gRPC status codes.

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

impl From<ApiError> for tonic::Status {
    fn from(e: ApiError) -> Self {
        use package_store::PackageError as P;
        let msg = e.to_string();
        match e {
            ApiError::NotFound { .. } => tonic::Status::not_found(msg),
            ApiError::AlreadyExists { .. } => tonic::Status::already_exists(msg),
            ApiError::Invalid(_) | ApiError::Wire(_) => tonic::Status::invalid_argument(msg),
            ApiError::Precondition(_) => tonic::Status::failed_precondition(msg),
            ApiError::Storage(StorageError::Conflict { .. }) => tonic::Status::already_exists(msg),
            ApiError::Storage(StorageError::Changed { .. }) => tonic::Status::aborted(msg),
            ApiError::Package(P::Io(_)) => {
                tracing::error!(error = %msg, "package store failure");
                tonic::Status::internal(msg)
            }
            ApiError::Package(_) => tonic::Status::invalid_argument(msg),
            ApiError::Storage(_) | ApiError::Internal(_) => {
                tracing::error!(error = %msg, "internal error");
                tonic::Status::internal(msg)
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
