//! space-server binary.
fn main() {}
