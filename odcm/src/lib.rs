//! The ODCM (Data Center Manager): one per network. It creates and enrols Spaces (issuing their
//! certificates from its CA), registers Remote Spaces by certificate, manages typed directional
//! trusts, streams each Space its trust set, and keeps a signed, hash-chained audit log, giving every
//! Space signed checkpoints of it (`checkpoints`). Its
//! web UI (`web/`) shows and changes the same through the same services.

pub mod api;
pub mod audit;
pub mod checkpoints;
pub mod config;
pub mod error;
pub mod records;
pub mod server;
pub mod services;
pub mod state;
pub mod web;

pub use server::serve;
