//! Deployments: checking a release may go to an environment (lifecycle progression), running
//! its steps on the environment's targets, recording results and logs, following them live,
//! cancelling, and starting automatic phases.

mod api;
mod automatic;
mod drop;
mod engine;
pub mod index;
mod queries;
mod run;
mod target;
pub mod tenant;

pub use api::DeploymentsApi;
pub(crate) use api::dashboard_wire;
pub use drop::{RUNNER_ENV, reported_state};
pub use engine::{Engine, Event};
pub use queries::{Dashboard, DashboardCell};

#[cfg(test)]
#[path = "tests/engine.rs"]
mod tests;
