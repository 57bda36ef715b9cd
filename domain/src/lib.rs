//! The domain: projects, environments, lifecycles, releases, variables, deployments and
//! promotions as plain data, and the rules over them (lifecycle progression, variable
//! resolution and substitution, release comparison, package names). No I/O, no async runtime,
//! no wire types: every front end and every backend speaks these types.

pub mod access;
pub mod compare;
pub mod endpoint;
pub mod error;
pub mod lifecycle;
pub mod model;
pub mod package;
pub mod project_doc;
pub mod text;
pub mod variables;
