//! What every service process shares at run time: configuration files and log formats
//! (`config`), tracing, metrics and the `/metrics` server (`telemetry`), and shutdown on
//! SIGTERM/Ctrl-C (`shutdown`).

pub mod config;
pub mod shutdown;
pub mod telemetry;
