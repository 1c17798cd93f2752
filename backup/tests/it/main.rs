//! Integration tests of celeriac-backup: collection on realistic trees, secret routing, archive
//! round trips through real files, the hostile-tar corpus and the parallel gzip writer.

mod collect;
mod collect_rules;
mod env_oracle;
mod fallback;
mod fanout;
mod faults;
mod fixture;
mod harness;
mod hostile;
mod house;
mod manifest_stream;
mod pargz;
mod pipeline;
mod roundtrip;
mod secrets;
