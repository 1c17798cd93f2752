//! The operations endpoint of celeriac's long-running processes (the worker and beat): a
//! minimal HTTP/1.1 server answering `GET /healthz` and `GET /metrics` from a [`Probe`] the
//! process implements. It owns the HTTP side only; what is healthy and which metrics exist is
//! the process's business.

mod http;
mod probe;

pub use http::{bind, serve};
pub use probe::{Health, Probe};
