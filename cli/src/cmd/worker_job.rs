//! The worker's `apps.backups.tasks.configuration_backup`: built from the same config file
//! sections as `celeriac backup` (`[backup]`, `[keys]`, `[limits]`, `[collect]`,
//! `[stores.NAME]`) plus `[job]`, recording into the catalog `celeriac backup` would use
//! (`--database-url` / `CELERIAC_DATABASE_URL`, `[database]`, else the embedded one). Keys and
//! store credentials are loaded here, once, at start: a worker that cannot load them does not
//! start.

use std::path::Path;

use celeriac_job::{CheckBackups, ConfigurationBackup, PruneBackups, Recorder};

use crate::cmd::{backup_setup, config_file, database, job_settings};

/// The backup job's tasks.
pub(crate) struct JobTasks {
    /// `apps.backups.tasks.configuration_backup`.
    pub(crate) backup: ConfigurationBackup,
    /// `apps.backups.tasks.prune_backups`.
    pub(crate) prune: PruneBackups,
    /// `apps.backups.tasks.check_backups`.
    pub(crate) check: CheckBackups,
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
    let raw = config_file::load_raw(config)?;
    let job = job_settings::load(config)?;
    // Without [[collect.roots]], `[job] project-root` gives the original system's roots.
    let sources = if raw.roots().next().is_none() {
        let Some(project) = &job.project_root else {
            tracing::info!(
                task = celeriac_job::TASK_NAME,
                "not registered: the config file sets no [[collect.roots]] and no [job] project-root"
            );
            return Ok(None);
        };
        job_settings::default_roots(project)?
    } else {
        Vec::new()
    };
    // The same setup as `celeriac backup` with no flags but the default roots.
    let setup = backup_setup::setup(&backup_setup::Request {
        sources: &sources,
        config,
        ..backup_setup::Request::default()
    })?;
    let (pipeline, stores, roots) = setup.into_pipeline();
    let catalog = database::open_catalog(database_url, config).await?;
    tracing::info!(task = celeriac_job::TASK_NAME, catalog = %catalog.url(), "registered");
    Ok(Some(JobTasks {
        prune: PruneBackups::new(catalog.clone(), stores, job.retention),
        check: CheckBackups::new(catalog.clone(), job.max_age),
        backup: ConfigurationBackup::new(pipeline, Recorder::new(catalog), job.settings, roots),
    }))
}
