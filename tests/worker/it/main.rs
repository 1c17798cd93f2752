//! Integration tests of the worker against the real RabbitMQ and the real Python Celery client.
//! Every test uses its own uniquely named queues, so they run in parallel.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report
#![allow(unreachable_pub)] // helpers in a private test module

mod acks_late;
mod control;
mod control_queues;
mod events;
mod interop;
mod malformed;
mod ops;
mod rate_limits;
mod reconnect;
mod replies;
mod retries;
mod shutdown;
mod support;
mod topology;
mod window;
