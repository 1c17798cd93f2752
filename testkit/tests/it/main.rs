//! Integration tests of the testkit against the real loopback services started by `scripts/test`.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

mod amqp;
mod db;
mod python;
mod s3;
