//! Core library shared by every service: the domain model, variables, the package chunk store,
//! storage, secrets, TLS identities, telemetry and the wire conversions.

pub mod bundle;
pub mod compare;
pub mod config;
pub mod drop;
pub mod exec;
pub mod lifecycle;
pub mod model;
pub mod packages;
pub mod pinning;
pub mod pki;
pub mod receipt;
pub mod secrets;
pub mod shutdown;
pub mod storage;
pub mod telemetry;
pub mod tls;
pub mod transfer;
pub mod variables;
pub mod wire;
