//! The worker's `apps.backups.tasks.configuration_backup`: built from the same config file
//! sections as `celeriac backup` (`[backup]`, `[keys]`, `[limits]`, `[collect]`,
//! `[stores.NAME]`) plus `[job]`, recording into the catalog `celeriac backup` would use
//! (`--database-url` / `CELERIAC_DATABASE_URL`, `[database]`, else the embedded one). Keys and
//! store credentials are loaded here, once, at start: a worker that cannot load them does not
//! start.

use std::path::Path;

use anyhow::Context;
use celeriac_backup::{Pipeline, RawRoot, local_roots};
use celeriac_job::{ConfigurationBackup, LocalRoots, PruneBackups, Recorder};

use crate::cmd::status::Coded;
use crate::cmd::{backup, config_file, database, job_settings, keys};

/// The backup job's tasks.
pub(crate) struct JobTasks {
    /// `apps.backups.tasks.configuration_backup`.
    pub(crate) backup: ConfigurationBackup,
    /// `apps.backups.tasks.prune_backups`.
    pub(crate) prune: PruneBackups,
}

/// The tasks, or `None` (with the reason logged) when the config file sets no
/// `[[collect.roots]]` and no `[job] project-root` (which gives the original system's default
/// roots).
///
/// # Errors
/// A config, key, store or catalog problem: the worker must not start half-configured.
pub(crate) async fn configuration_backup(
    config: Option<&Path>,
    database_url: Option<&str>,
) -> anyhow::Result<Option<JobTasks>> {
    let mut raw = config_file::load_raw(config)?;
    let job = job_settings::load(config)?;
    if raw.collect.roots.is_empty() {
        let Some(project) = &job.project_root else {
            tracing::info!(
                task = celeriac_job::TASK_NAME,
                "not registered: the config file sets no [[collect.roots]] and no [job] project-root"
            );
            return Ok(None);
        };
        raw.collect.roots = job_settings::default_roots(project)?
            .into_iter()
            .map(RawRoot::new)
            .collect();
    }
    let backup_keys = keys::backup_keys(None, None, &raw.keys)?;
    let validated = config_file::validate(raw, config)?;
    let spec = validated
        .collect
        .clone()
        .context("the config file sets no [[collect.roots]]")?;
    if validated.targets.is_empty() {
        return Err(Coded::config(anyhow::anyhow!(
            "{}: `backup.stores` names no store",
            celeriac_job::TASK_NAME
        )));
    }
    let stores = backup::open_stores(&validated)?;
    let pipeline = Pipeline::new(spec, stores.clone(), backup_keys)
        .with_options(validated.pipeline.clone())
        .with_limits(validated.restore_limits.clone());
    let roots: LocalRoots = local_roots(&validated.targets).into_iter().collect();
    let catalog = database::open_catalog(database_url, config).await?;
    tracing::info!(task = celeriac_job::TASK_NAME, catalog = %catalog.url(), "registered");
    Ok(Some(JobTasks {
        prune: PruneBackups::new(catalog.clone(), stores, job.retention),
        backup: ConfigurationBackup::new(pipeline, Recorder::new(catalog), job.settings, roots),
    }))
}
