//! What Spaces exchange as signed files: Release Bundles (`bundle`) and Deployment Receipts
//! (`receipt`), built, signed and verified here for both the file path and the peer link.

pub mod bundle;
mod par;
pub mod receipt;
