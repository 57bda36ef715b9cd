//! The one small vocabulary of error codes every service speaks. Library errors say which code
//! they are ([`ServiceError::code`]); the edges (gRPC today, the web UI's JSON later) translate
//! the code once, never the message text.

/// What kind of failure an error is, as a caller can act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The named thing does not exist.
    NotFound,
    /// A thing with that name or id already exists.
    AlreadyExists,
    /// The request itself is wrong (a bad name, value or file); sending it again will not help.
    Invalid,
    /// The request is well-formed but the system is not in a state that allows it.
    FailedPrecondition,
    /// A concurrent change won a compare-and-swap; retrying the whole operation may succeed.
    Aborted,
    /// The caller did not prove who it is.
    Unauthenticated,
    /// The caller is known but may not do this.
    PermissionDenied,
    /// Something this depends on (a peer, the ODCM) cannot be reached now; try again later.
    Unavailable,
    /// A fault of this server: logged with an id, the caller gets only the id.
    Internal,
}

/// An error that knows its [`ErrorCode`]. Its `Display` is the message a user reads (for
/// [`ErrorCode::Internal`] it is logged, not sent).
pub trait ServiceError: std::error::Error {
    fn code(&self) -> ErrorCode;
}
