//! The read side: everything that reads an artifact back. Open and authenticate a copy ([`open`]:
//! read it from its store, check size and SHA-256, open it with the keys, check its header,
//! insist on the final chunk); check it against what the pipeline recorded ([`verify`], with the
//! deep walk of the archive in `verify/deep.rs`); extract a `tar.gz` as hostile input with its guards ([`extract`]: limits,
//! path and link checks, the staging directory and the final commit); restore from the first
//! usable copy ([`restore`]). The manifest index it parses lives in [`crate::manifest`].

pub(crate) mod extract;
pub(crate) mod open;
pub(crate) mod restore;
pub(crate) mod verify;
