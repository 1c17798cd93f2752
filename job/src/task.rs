//! [`ConfigurationBackup`]: the Celery task `apps.backups.tasks.configuration_backup`, as the
//! platform calls it (`configuration_backup.delay(initiated_by_user_id=1)`), returning the
//! backup id to `result.get()`.
//!
//! One run, in order: check the user of a manual run (an `ACCESS_DENIED` alert and a
//! `PermissionError` when refused, no row); create or find the row, `PENDING` (the id comes from
//! the task id, so a redelivery finds it; a finished one is answered with its id and not
//! redone); take the single-flight lock (waiting a bounded time); mark it `IN_PROGRESS` unless a
//! duplicate delivery finished it meanwhile; clear what an interrupted earlier attempt left in
//! the stores; run the pipeline; record copies, alerts and the final status; release the lock.
//! Transient catalog errors retry the task with backoff.

use std::sync::Arc;
use std::time::Duration;

use celeriac_backup::{BackupError, BackupId, Pipeline};
use celeriac_catalog::{AdminQuery, AlertType, Backup, NewAlert, Severity, Trigger};
use celeriac_error_chain::error_chain;
use celeriac_store::ObjectPrefix;
use celeriac_worker::{
    Failure, Task, TaskArgs, TaskContext, TaskError, TaskFuture, TaskOptions, TaskResult,
};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::backup_id::backup_id_for_task;
use crate::catalog_error::catalog_error;
use crate::folder::delete_prefix;
use crate::outcome::{self, LocalRoots, Outcome};
use crate::record::{Begun, Recorder, RunStart};

/// The task's registered name.
pub const TASK_NAME: &str = "apps.backups.tasks.configuration_backup";

/// How many times a finished run's outcome is written before the task gives up (about 30 s).
const FINISH_ATTEMPTS: u32 = 6;

/// How the task behaves beyond the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSettings {
    /// How long a run waits for another configuration backup to end before giving up.
    pub lock_wait: Duration,
    /// The administrator check of manual runs.
    pub admin_query: AdminQuery,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            lock_wait: Duration::from_mins(10),
            admin_query: AdminQuery::default(),
        }
    }
}

/// The task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ConfigurationBackup {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pipeline: Pipeline,
    recorder: Recorder,
    settings: JobSettings,
    roots: LocalRoots,
}

/// The keyword arguments the platform passes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Kwargs {
    #[serde(default)]
    initiated_by_user_id: Option<i64>,
}

impl ConfigurationBackup {
    /// The task over a configured `pipeline` (its identity and cancellation are set per run),
    /// recording into `recorder`'s catalog. `roots` maps local stores to their directories.
    pub fn new(
        pipeline: Pipeline,
        recorder: Recorder,
        settings: JobSettings,
        roots: LocalRoots,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                pipeline,
                recorder,
                settings,
                roots,
            }),
        }
    }
}

impl Task for ConfigurationBackup {
    fn name(&self) -> &str {
        TASK_NAME
    }

    /// acks_late (a killed worker's run is redelivered and taken over), and retries with
    /// backoff for a catalog that is briefly away.
    fn options(&self) -> TaskOptions {
        let mut options = TaskOptions {
            max_retries: Some(5),
            ..TaskOptions::default()
        };
        options.backoff.factor = Duration::from_secs(2);
        options.backoff.max = Duration::from_mins(2);
        options
    }

    fn run(&self, ctx: TaskContext, args: TaskArgs) -> TaskFuture {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move { inner.run(ctx, args).await })
    }
}

impl Inner {
    async fn run(&self, ctx: TaskContext, args: TaskArgs) -> TaskResult {
        let user = user_of(&args)?;
        let task_id = ctx.id().as_str().to_owned();
        let id = backup_id_for_task(&task_id);
        if let Some(user) = user {
            self.authorize(user, &task_id).await?;
        }
        let start = RunStart {
            id,
            trigger: if user.is_some() {
                Trigger::Manual
            } else {
                Trigger::Schedule
            },
            celery_task_id: Some(task_id),
            initiated_by_id: user,
            at: Utc::now(),
        };
        let (row, resumed) = match self.recorder.begin(&start).await.map_err(catalog_error)? {
            Begun::Finished(row) => {
                tracing::info!(backup = %row.id, status = %row.status, "already finished by an earlier delivery");
                return Ok(answer(&row));
            }
            Begun::New(row) => (row, false),
            Begun::Resumed(row) => {
                tracing::info!(backup = %row.id, "taking over an unfinished earlier attempt");
                (row, true)
            }
        };
        let catalog = self.recorder.catalog();
        let wait = self.settings.lock_wait;
        let Some(lock) = catalog.lock_backups(wait).await.map_err(catalog_error)? else {
            let outcome = outcome::of_busy(row.id, wait, Utc::now());
            self.finish(&row, &outcome).await?;
            return Ok(answer(&row));
        };
        let result = match self.recorder.start(row.id, Utc::now()).await {
            Ok(Some(running)) => self.run_locked(&ctx, &running, resumed).await,
            Ok(None) => {
                tracing::info!(backup = %row.id, "finished by another delivery while this one waited");
                Ok(answer(&row))
            }
            Err(err) => Err(catalog_error(err)),
        };
        if let Err(err) = lock.release().await {
            tracing::warn!(error = %error_chain(&err), "releasing the backup lock failed; it goes with its connection");
        }
        result
    }

    /// Refuses a manual run by anyone but an active administrator: an `ACCESS_DENIED` alert
    /// records who tried, the caller gets a `PermissionError`.
    async fn authorize(&self, user: i64, task_id: &str) -> Result<(), TaskError> {
        let catalog = self.recorder.catalog();
        let reason = match catalog.check_admin(&self.settings.admin_query, user).await {
            Ok(verdict) => match verdict.refusal() {
                None => return Ok(()),
                Some(reason) => reason.to_owned(),
            },
            Err(err) if err.is_transient() => return Err(catalog_error(err)),
            Err(err) => format!("the administrator check failed: {}", error_chain(&err)),
        };
        let alert = NewAlert {
            alert_type: AlertType::AccessDenied,
            severity: Severity::Warning,
            backup_id: None,
            message: format!("manual configuration backup refused for user {user}: {reason}"),
            details: json_object(json!({
                "user_id": user,
                "reason": reason,
                "celery_task_id": task_id,
                "task": TASK_NAME,
            })),
            created_at: Utc::now(),
        };
        catalog.raise_alert(&alert).await.map_err(catalog_error)?;
        tracing::warn!(user, reason = %reason, "manual backup refused");
        Err(TaskError::Fail(Failure::builtin(
            "PermissionError",
            format!("configuration backup refused for user {user}: {reason}"),
        )))
    }

    async fn run_locked(&self, ctx: &TaskContext, row: &Backup, resumed: bool) -> TaskResult {
        if resumed {
            self.clear_folder(row).await;
        }
        let pipeline = self
            .pipeline
            .clone()
            .with_identity(BackupId::from_uuid(row.id), row.created_at)
            .with_cancel(ctx.cancellation().clone());
        let result = pipeline.run().await;
        let at = Utc::now();
        let outcome = match &result {
            Ok(report) => outcome::of_report(row.id, report, &self.roots, at),
            Err(err) => outcome::of_error(row.id, err, at),
        };
        if outcome.copies.is_empty() {
            // Nothing recorded as stored: nothing may stay in a store either.
            self.clear_folder(row).await;
        }
        if matches!(result, Err(BackupError::Cancelled)) {
            self.finish(row, &outcome).await?;
            return Err(TaskError::Fail(Failure::builtin(
                "RuntimeError",
                "the configuration backup was cancelled",
            )));
        }
        self.finish(row, &outcome).await?;
        Ok(answer(row))
    }

    /// Records the outcome. A catalog that is briefly away (a restart, a cut connection) is
    /// waited for here, with backoff, rather than by retrying the task, which would redo the
    /// whole backup; only after [`FINISH_ATTEMPTS`] does the error go to the worker.
    async fn finish(&self, row: &Backup, outcome: &Outcome) -> Result<(), TaskError> {
        let mut delay = Duration::from_millis(500);
        let mut attempt = 1;
        let stored = loop {
            match self.recorder.finish(row.id, outcome).await {
                Ok(stored) => break stored,
                Err(err) if err.is_transient() && attempt < FINISH_ATTEMPTS => {
                    tracing::warn!(backup = %row.id, attempt, error = %error_chain(&err), "recording the outcome failed; trying again");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(8));
                    attempt += 1;
                }
                Err(err) => return Err(catalog_error(err)),
            }
        };
        tracing::info!(backup = %stored.id, status = %stored.status, filename = %stored.filename, "configuration backup recorded");
        Ok(())
    }

    /// Deletes every object under the run's folder in every store: what an interrupted attempt
    /// published, or what a failed run left. Failures are logged; the next attempt tries again.
    async fn clear_folder(&self, row: &Backup) {
        let name = celeriac_backup::ArtifactName::new(
            BackupId::from_uuid(row.id),
            row.created_at,
            celeriac_backup::Bundle::Main,
        );
        let Ok(prefix) = ObjectPrefix::new(name.folder(self.pipeline.prefix())) else {
            return;
        };
        for store in self.pipeline.stores() {
            match delete_prefix(store.as_ref(), &prefix).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(store = %store.id(), objects = n, "removed an earlier attempt's objects");
                }
                Err(err) => {
                    tracing::warn!(store = %store.id(), error = %error_chain(&err), "cannot remove an earlier attempt's objects");
                }
            }
        }
    }
}

/// The user of a manual run: `initiated_by_user_id` as keyword, or the one positional argument
/// (the Python signature is `configuration_backup(initiated_by_user_id=None)`).
fn user_of(args: &TaskArgs) -> Result<Option<i64>, TaskError> {
    let kwargs: Kwargs = args.kwargs_as()?;
    match args.args.len() {
        0 => Ok(kwargs.initiated_by_user_id),
        1 if kwargs.initiated_by_user_id.is_none() => args.arg::<Option<i64>>(0),
        1 => Err(TaskError::invalid_arguments(
            "configuration_backup() got multiple values for argument 'initiated_by_user_id'",
        )),
        n => Err(TaskError::invalid_arguments(format!(
            "configuration_backup() takes at most 1 positional argument ({n} given)"
        ))),
    }
}

/// What `result.get()` returns: the backup id as a string.
fn answer(row: &Backup) -> Value {
    Value::String(row.id.to_string())
}

fn json_object(value: Value) -> celeriac_catalog::JsonObject {
    match value {
        Value::Object(map) => map,
        _ => celeriac_catalog::JsonObject::new(),
    }
}
