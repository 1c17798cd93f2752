//! Test support for celeriac: per-test isolation and fault tools.

pub mod proxy;
pub mod s3;
pub mod service;
