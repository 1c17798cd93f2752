//! One module per subcommand, plus the mapping from errors to exit codes they share.

pub(crate) mod artifact;
pub(crate) mod backup;
pub(crate) mod backup_plan;
pub(crate) mod backup_setup;
pub(crate) mod beat;
pub(crate) mod beat_loop;
pub(crate) mod beat_ops;
pub(crate) mod beat_publisher;
pub(crate) mod catalog_copies;
pub(crate) mod check;
pub(crate) mod config_file;
pub(crate) mod database;
pub(crate) mod home;
pub(crate) mod job_settings;
pub(crate) mod keygen;
pub(crate) mod keys;
pub(crate) mod list;
pub(crate) mod migrate;
pub(crate) mod progress;
pub(crate) mod prune;
pub(crate) mod read_progress;
pub(crate) mod restore;
pub(crate) mod runtime;
pub(crate) mod secrets;
pub(crate) mod sections;
pub(crate) mod show;
pub(crate) mod status;
pub(crate) mod stdout;
pub(crate) mod verify;
pub(crate) mod verify_backup;
pub(crate) mod worker;
pub(crate) mod worker_job;

/// Exit codes (sysexits.h where one fits): 78 configuration, 69 broker refused or unreachable,
/// 74 I/O, 1 anything else. A second SIGTERM/SIGINT exits with 130.
pub(crate) fn exit_code(err: &anyhow::Error) -> u8 {
    use celeriac_worker::{ConfigError, WorkerError};
    for cause in err.chain() {
        if let Some(code) = status::code(cause) {
            return code;
        }
        if cause.is::<ConfigError>() {
            return 78;
        }
        if let Some(w) = cause.downcast_ref::<WorkerError>() {
            return match w {
                WorkerError::Config(_) => 78,
                _ => 69,
            };
        }
        if cause.is::<std::io::Error>() {
            return 74;
        }
    }
    1
}

/// The exit code after a second shutdown signal (128 + SIGINT, as shells report it).
pub(crate) const EXIT_IMMEDIATE: i32 = 130;
