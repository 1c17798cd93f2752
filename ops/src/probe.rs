//! What a process tells its operations endpoint: whether it is healthy (and why, as a small
//! JSON body) and its metrics in Prometheus text format.

/// A `/healthz` answer: `200` when `healthy`, `503` otherwise, with `body` (JSON) either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Whether the process does its job right now.
    pub healthy: bool,
    /// A JSON object saying what was checked, ending with a newline.
    pub body: String,
}

/// The process side of the endpoint. Called on the runtime for each request: keep it cheap
/// and non-blocking (read atomics or a snapshot; never wait for a lock held across I/O).
pub trait Probe: Send + Sync + 'static {
    /// The `/healthz` answer.
    fn health(&self) -> Health;
    /// The `/metrics` body (Prometheus text exposition format 0.0.4).
    fn metrics(&self) -> String;
}
