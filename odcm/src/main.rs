//! odcm binary.
fn main() {}
