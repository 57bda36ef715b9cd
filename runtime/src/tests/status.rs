//! Unit tests of `status.rs`.

use super::*;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct E(&'static str, ErrorCode);

impl ServiceError for E {
    fn code(&self) -> ErrorCode {
        self.1
    }
}

#[test]
fn codes_map_to_grpc_codes_with_the_message() {
    let cases = [
        (ErrorCode::NotFound, tonic::Code::NotFound),
        (ErrorCode::AlreadyExists, tonic::Code::AlreadyExists),
        (ErrorCode::Invalid, tonic::Code::InvalidArgument),
        (
            ErrorCode::FailedPrecondition,
            tonic::Code::FailedPrecondition,
        ),
        (ErrorCode::Aborted, tonic::Code::Aborted),
        (ErrorCode::Unauthenticated, tonic::Code::Unauthenticated),
        (ErrorCode::PermissionDenied, tonic::Code::PermissionDenied),
        (ErrorCode::Unavailable, tonic::Code::Unavailable),
    ];
    for (code, grpc) in cases {
        let s = status_of(&E("project 'Web' does not exist", code));
        assert_eq!(s.code(), grpc);
        assert_eq!(s.message(), "project 'Web' does not exist");
    }
}

#[test]
fn internal_errors_send_an_id_not_the_text() {
    let s = status_of(&E(
        "sled: io error at /var/lib/space/db/blobs/7",
        ErrorCode::Internal,
    ));
    assert_eq!(s.code(), tonic::Code::Internal);
    assert!(!s.message().contains("sled"), "{}", s.message());
    assert!(!s.message().contains("/var/lib"), "{}", s.message());
    assert!(s.message().contains("id "), "{}", s.message());
    let other = status_of(&E("x", ErrorCode::Internal));
    assert_ne!(
        s.message(),
        other.message(),
        "each internal error gets its own id"
    );
}
