//! Byte-stream adapters that both the write and the read side use: [`chunk`] (the bounded bridge
//! between blocking stages and async tasks, both directions) and [`hashing`] (SHA-256 and byte
//! counts while streaming, both directions).

pub(crate) mod chunk;
pub(crate) mod hashing;
