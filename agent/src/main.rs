//! agent binary.
fn main() {}
