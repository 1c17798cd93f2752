//! `[job]`: how the worker's `apps.backups.tasks.configuration_backup` behaves beyond the
//! pipeline: how long a run waits for another one to finish (`lock-wait`, seconds), the
//! administrator check of manual runs (`admin-query`, one SQL statement binding the user id as
//! `$1`), `project-root`, which gives the original system's default roots when the file
//! sets no `[[collect.roots]]`, and `[job.retention]`, the ages retention keeps copies for. Everything else the task reads is `celeriac backup`'s own
//! sections.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use celeriac_catalog::AdminQuery;
use celeriac_job::{JobSettings, RetentionPolicy};
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
    project_root: Option<PathBuf>,
    retention: Option<RawRetention>,
}

/// `[job.retention]`: days per store kind, and `[job.retention.stores]` days per store name.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawRetention {
    local_days: Option<u32>,
    s3_days: Option<u32>,
    #[serde(default)]
    stores: BTreeMap<String, u32>,
}

/// The system folders the original system backs up beside the project, when readable.
pub(crate) const SYSTEM_ROOTS: [&str; 3] = ["/etc/nginx", "/etc/letsencrypt", "/etc/postgresql"];

/// What `[job]` says.
#[derive(Debug, Default)]
pub(crate) struct JobFile {
    /// The task's settings.
    pub(crate) settings: JobSettings,
    /// `project-root`, made absolute against the config file's directory.
    pub(crate) project_root: Option<PathBuf>,
    /// `[job.retention]`.
    pub(crate) retention: RetentionPolicy,
}

/// The `[job]` settings of the config file at `path`, defaults for what is not set.
pub(crate) fn load(path: Option<&Path>) -> anyhow::Result<JobFile> {
    let mut file = JobFile::default();
    let Some(path) = path else {
        return Ok(file);
    };
    let raw: RawJobPart = sections::read(path)?.part(Reader::Job, anyhow::Error::new)?;
    let Some(job) = raw.job else {
        return Ok(file);
    };
    let settings = &mut file.settings;
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
    if let Some(retention) = job.retention {
        let policy = &mut file.retention;
        policy.local_days = retention.local_days.unwrap_or(policy.local_days);
        policy.s3_days = retention.s3_days.unwrap_or(policy.s3_days);
        policy.stores = retention.stores;
    }
    if let Some(root) = job.project_root {
        let joined = path.parent().unwrap_or(Path::new(".")).join(root);
        file.project_root = Some(std::path::absolute(&joined).map_err(|e| {
            Coded::config(anyhow::anyhow!(
                "`[job] project-root` {}: {e}",
                joined.display()
            ))
        })?);
    }
    Ok(file)
}

/// The default roots: `project` (which must be a readable directory) and each of
/// [`SYSTEM_ROOTS`] that is one; each system folder left out is logged with why.
pub(crate) fn default_roots(project: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::read_dir(project).map_err(|e| {
        Coded::config(anyhow::anyhow!(
            "`[job] project-root` {} cannot be read: {e}",
            project.display()
        ))
    })?;
    let mut roots = vec![project.to_owned()];
    for system in SYSTEM_ROOTS {
        match std::fs::read_dir(system) {
            Ok(_) => roots.push(PathBuf::from(system)),
            Err(e) => tracing::warn!(root = system, reason = %e, "default root left out"),
        }
    }
    Ok(roots)
}
