//! The `celeriac` command.
fn main() {}
