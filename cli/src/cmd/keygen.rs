//! `celeriac keygen`: write a new random key to a new owner-only file and print its id.

use std::path::PathBuf;

use anyhow::Context;
use celeriac_crypto::Key;
use clap::Args;

use crate::cmd::status;

/// Flags of `celeriac keygen`.
#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Where to write the key (base64 of 32 random bytes, mode 0600); never overwritten
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// Writes the key and prints only its public id (32 hex digits) on stdout.
pub(crate) fn run(args: &KeygenArgs) -> anyhow::Result<u8> {
    let key = Key::generate_file(&args.out)
        .with_context(|| format!("cannot create a key file at {}", args.out.display()))?;
    println!("{}", key.id());
    Ok(status::OK)
}
