//! Space server library: one Space's state, its services (the rules), its gRPC API (the
//! edge) and the server that serves it.
//! `main.rs` only parses configuration and binds listeners.

pub mod agents;
pub mod api;
pub mod audit;
pub mod auth;
pub mod automation;
pub mod config;
pub mod contacts;
pub mod deployments;
pub mod error;
pub mod limits;
pub mod peering;
pub mod permits;
pub mod promotion;
pub mod server;
pub mod services;
pub mod state;
pub mod web;
