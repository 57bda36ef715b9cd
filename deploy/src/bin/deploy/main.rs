//! The `deploy` command-line tool.
fn main() {}
