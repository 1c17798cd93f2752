//! Integration tests of `celeriac-crypto`: round trips, the format's negative cases, the spec's
//! vectors and the independent Python decryptor.

mod negative;
mod python;
mod roundtrip;
mod support;
mod vectors;
