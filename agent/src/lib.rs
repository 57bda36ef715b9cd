//! The agent: the program on a deployment target. It runs steps sent by the one Space whose
//! certificate it trusts, either polling (it connects out and holds a stream open) or listening
//! (it serves and the Space connects in); both modes speak the same session protocol.

pub mod cache;
pub mod config;
pub mod listening;
pub mod polling;
pub mod session;
pub mod state;
