//! The ODCM's integration tests in one binary: an ODCM started in-process on port 0, driven over
//! gRPC.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed step should panic

mod common;
mod enrolment;
mod trusts_audit;
