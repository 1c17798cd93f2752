//! Integration tests of celeriac-store: the conformance suite against every store (local,
//! memory, both S3 test servers) and fault injection through the testkit's proxy.

mod faults;
mod local;
mod memory;
mod s3;
