//! `celeriac backup --dry-run`: walks the roots with the same rules as a real run and shows what
//! it would collect, per category and bundle, what it would skip, and the config-looking files
//! that no rule took (the library's [`Plan`]). Needs no key and no store; reads files only to
//! classify them.

use celeriac_backup::{CollectSpec, Plan};

use crate::cmd::status::{self};
use crate::cmd::stdout;

/// Collects per `spec` without archiving; exit 0 when something would be collected, 1 when
/// nothing would (a real run fails then too).
pub(crate) fn run(spec: &CollectSpec, json: bool) -> anyhow::Result<u8> {
    let plan = Plan::of(spec)?;
    if json {
        stdout::write(&format!("{}\n", serde_json::to_string_pretty(&plan)?))?;
    } else {
        stdout::write(&plan.to_string())?;
    }
    Ok(if plan.is_empty() {
        status::FAILURE
    } else {
        status::OK
    })
}
