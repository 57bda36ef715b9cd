//! The gRPC edge of the error vocabulary: the one place an [`ErrorCode`] becomes a
//! `tonic::Status`. Internal errors are logged with a fresh id; the caller gets the id, never
//! the internal text.

use std::hash::{BuildHasher, Hasher};

use domain::error::{ErrorCode, ServiceError};

/// Metadata key on an UNAVAILABLE status that a server sent itself (a peer or service it
/// called is unreachable), unlike one a client's transport makes when the server is down.
pub const ANSWERED: &str = "deploy-answered";

/// The status a caller receives for `err`.
pub fn status_of<E: ServiceError + ?Sized>(err: &E) -> tonic::Status {
    to_status(err.code(), err.to_string())
}

/// The status for a code and the message a user reads.
pub fn to_status(code: ErrorCode, message: String) -> tonic::Status {
    use tonic::Status as S;
    match code {
        ErrorCode::NotFound => S::not_found(message),
        ErrorCode::AlreadyExists => S::already_exists(message),
        ErrorCode::Invalid => S::invalid_argument(message),
        ErrorCode::FailedPrecondition => S::failed_precondition(message),
        ErrorCode::Aborted => S::aborted(message),
        ErrorCode::Unauthenticated => S::unauthenticated(message),
        ErrorCode::PermissionDenied => S::permission_denied(message),
        ErrorCode::Unavailable => {
            // Marked as this server's answer (something it called is unreachable), so a
            // client does not take it for the server itself being down.
            let mut s = S::unavailable(message);
            s.metadata_mut()
                .insert(ANSWERED, tonic::metadata::MetadataValue::from_static("1"));
            s
        }
        ErrorCode::Internal => {
            let id = error_id();
            tracing::error!(error_id = %id, error = %message, "internal error");
            S::internal(format!(
                "internal error (id {id}): the server's log has the details under this id"
            ))
        }
    }
}

/// A refusal or failure decided at a gRPC edge (an interceptor, a stream, a peer call):
/// the status for `code` with a message a user can act on (internal text is logged, not sent).
pub fn refuse(code: ErrorCode, message: impl Into<String>) -> tonic::Status {
    to_status(code, message.into())
}

/// A short random id that ties a client's report to one server log line.
fn error_id() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    format!("{:012x}", h.finish() & 0xffff_ffff_ffff)
}

#[cfg(test)]
#[path = "tests/status.rs"]
mod tests;
