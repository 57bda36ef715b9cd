//! What Spaces exchange as signed files: Release Bundles (`bundle`), Deployment Receipts
//! (`receipt`) and the ODCM's audit checkpoints (`checkpoint`), built, signed and verified here for both the file path and the peer link.

pub mod bundle;
pub mod checkpoint;
mod par;
pub mod receipt;
