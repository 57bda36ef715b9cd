//! The network layer every process shares: self-signed identities and fingerprints (`tls`),
//! mutual TLS with pinned certificates between a Space and its agents (`pinning`), and the
//! PKI between ODCMs and Spaces (`pki`: the CA, trust store, verifiers), and the one TLS accept
//! loop and connector every process uses (`transport`).

pub mod pinning;
pub mod pki;
pub mod tls;
pub mod transport;
