//! The Space's side of the agent protocol: the registry of open sessions, the `AgentHub`
//! service polling agents connect to, outbound sessions to listening agents, and running one
//! step on one target.

mod hub;
mod session;

pub use hub::{AgentHubApi, Hub, JobEvent};
