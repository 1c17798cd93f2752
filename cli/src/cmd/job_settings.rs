//! `[job]`: how the worker's `apps.backups.tasks.configuration_backup` behaves beyond the
//! pipeline: how long a run waits for another one to finish (`lock-wait`, seconds) and the
//! administrator check of manual runs (`admin-query`, one SQL statement binding the user id as
//! `$1`). Everything else the task reads is `celeriac backup`'s own sections.

use std::path::Path;
use std::time::Duration;

use celeriac_catalog::AdminQuery;
use celeriac_job::JobSettings;
use serde::Deserialize;

use crate::cmd::sections::{self, Reader};
use crate::cmd::status::Coded;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJobPart {
    #[serde(default)]
    job: Option<RawJob>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawJob {
    lock_wait: Option<u64>,
    admin_query: Option<String>,
}

/// The `[job]` settings of the config file at `path`, defaults for what is not set.
pub(crate) fn load(path: Option<&Path>) -> anyhow::Result<JobSettings> {
    let mut settings = JobSettings::default();
    let Some(path) = path else {
        return Ok(settings);
    };
    let raw: RawJobPart = sections::read(path)?.part(Reader::Job, anyhow::Error::new)?;
    let Some(job) = raw.job else {
        return Ok(settings);
    };
    if let Some(secs) = job.lock_wait {
        settings.lock_wait = Duration::from_secs(secs);
    }
    if let Some(sql) = job.admin_query {
        settings.admin_query = AdminQuery::new(sql).map_err(|e| {
            Coded::config(anyhow::Error::new(e).context(format!(
                "`[job] admin-query` of the config file {}",
                path.display()
            )))
        })?;
    }
    Ok(settings)
}
