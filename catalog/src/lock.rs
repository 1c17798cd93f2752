//! The single-flight lock of configuration backups: at most one runs at a time, whichever
//! worker or command starts it. On PostgreSQL it is a session advisory lock held on a
//! connection of its own (not a pooled one), so a process that dies releases it with its
//! connection; on SQLite it is an exclusive lock on a file beside the database, released by the
//! kernel when the process dies.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::time::Duration;

use sqlx::postgres::PgConnection;
use sqlx::{Connection as _, Executor as _};
use tokio::time::Instant;

use crate::catalog::Catalog;
use crate::error::CatalogError;
use crate::url::CatalogUrl;

/// The advisory lock key of configuration backups (`'celeriac.backup'` as 8 ASCII bytes).
pub const BACKUP_LOCK_KEY: i64 = i64::from_be_bytes(*b"clrc.bkp");

/// How often a waiting run asks for the lock again.
const POLL: Duration = Duration::from_millis(250);

/// A held backup lock; dropping it releases it (the PostgreSQL connection closes, the file lock
/// is dropped). [`RunLock::release`] releases it explicitly and reports errors.
#[derive(Debug)]
pub struct RunLock {
    held: Held,
}

#[derive(Debug)]
enum Held {
    Postgres(PgConnection),
    File(File),
}

impl RunLock {
    /// Releases the lock.
    ///
    /// # Errors
    /// [`CatalogError::Query`] when PostgreSQL could not be told (the lock still goes with the
    /// connection, which is closed either way).
    pub async fn release(self) -> Result<(), CatalogError> {
        match self.held {
            Held::Postgres(mut conn) => {
                let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(BACKUP_LOCK_KEY)
                    .execute(&mut conn)
                    .await
                    .map(|_| ())
                    .map_err(|e| CatalogError::query("release backup lock", e));
                let _ = conn.close().await;
                unlocked
            }
            Held::File(file) => {
                drop(file);
                Ok(())
            }
        }
    }
}

impl Catalog {
    /// Takes the backup lock, waiting up to `wait` for another run to end. `None` when it is
    /// still held after `wait`.
    ///
    /// # Errors
    /// [`CatalogError::Connect`] / [`CatalogError::Query`] for PostgreSQL trouble,
    /// [`CatalogError::LockFile`] when the SQLite lock file cannot be opened.
    pub async fn lock_backups(&self, wait: Duration) -> Result<Option<RunLock>, CatalogError> {
        let deadline = Instant::now() + wait;
        match self.url() {
            CatalogUrl::Postgres(options) => {
                let mut conn = PgConnection::connect_with(options)
                    .await
                    .map_err(|source| CatalogError::Connect {
                        url: self.url().to_string(),
                        source,
                    })?;
                // The lock lives as long as this session: keep it short of idle timeouts.
                conn.execute("SET application_name = 'celeriac backup lock'")
                    .await
                    .map_err(|e| CatalogError::query("take backup lock", e))?;
                loop {
                    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                        .bind(BACKUP_LOCK_KEY)
                        .fetch_one(&mut conn)
                        .await
                        .map_err(|e| CatalogError::query("take backup lock", e))?;
                    if got {
                        return Ok(Some(RunLock {
                            held: Held::Postgres(conn),
                        }));
                    }
                    if Instant::now() >= deadline {
                        let _ = conn.close().await;
                        return Ok(None);
                    }
                    tokio::time::sleep(POLL).await;
                }
            }
            CatalogUrl::Sqlite(options) => {
                let path = lock_path(options.get_filename().to_path_buf());
                let lock_error = |source| CatalogError::LockFile {
                    path: path.clone(),
                    source,
                };
                let file = OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
                    .map_err(lock_error)?;
                loop {
                    match file.try_lock() {
                        Ok(()) => {
                            return Ok(Some(RunLock {
                                held: Held::File(file),
                            }));
                        }
                        Err(std::fs::TryLockError::WouldBlock) => {}
                        Err(std::fs::TryLockError::Error(e)) => return Err(lock_error(e)),
                    }
                    if Instant::now() >= deadline {
                        return Ok(None);
                    }
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    }
}

/// `<database>.backup-lock` beside the SQLite file.
fn lock_path(db: PathBuf) -> PathBuf {
    let mut name = db.into_os_string();
    name.push(".backup-lock");
    PathBuf::from(name)
}
