//! What every service process (Space server, ODCM) shares at run time: configuration files
//! and log formats (`config`), the data directory and first admin key (`datadir`), API-key
//! authentication (`auth`), blocking work from synchronous code (`blocking`), health and reflection (`grpc`), the error vocabulary's gRPC edge
//! (`status`), tracing, metrics and
//! the `/metrics` server (`telemetry`), shutdown on SIGTERM/Ctrl-C (`shutdown`), how a binary ends on an error (`exit`),
//! signed online backups and their restore (`backup`) asked for over the local control socket
//! (`control`).

pub mod auth;
pub mod backup;
pub mod blocking;
pub mod config;
pub mod control;
pub mod datadir;
pub mod exit;
pub mod grpc;
pub mod shutdown;
pub mod status;
pub mod telemetry;
