//! The catalog's named single-holder locks ([`LockKind`]): the single-flight lock of
//! configuration backups (at most one runs at a time, whichever worker or command starts it)
//! and beat's leader lock (one beat publishes at a time, however many replicas run). On
//! PostgreSQL each is a session advisory lock (its own key) held on a connection of its own
//! (not a pooled one), so a process that dies releases it with its connection; on SQLite it is
//! an exclusive lock on a file beside the database (its own suffix), released by the kernel
//! when the process dies.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::time::Duration;

use sqlx::postgres::PgConnection;
use sqlx::{Connection as _, Executor as _};
use tokio::time::Instant;

use crate::catalog::Catalog;
use crate::error::CatalogError;
use crate::url::CatalogUrl;

/// Which lock: each has its own advisory key and lock file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockKind {
    /// The single-flight lock of configuration backups.
    Backup,
    /// Beat's leader lock: its holder publishes the schedule.
    BeatLeader,
}

impl LockKind {
    /// The PostgreSQL advisory lock key (8 ASCII bytes, big-endian).
    pub const fn key(self) -> i64 {
        match self {
            LockKind::Backup => i64::from_be_bytes(*b"clrc.bkp"),
            LockKind::BeatLeader => i64::from_be_bytes(*b"clrc.bea"),
        }
    }

    /// Its name in messages (`backup`, `beat leader`).
    pub const fn name(self) -> &'static str {
        match self {
            LockKind::Backup => "backup",
            LockKind::BeatLeader => "beat leader",
        }
    }

    /// How often a waiter asks for the lock again: a backup waits briefly for a run to end; a
    /// beat follower waits all year, so it asks once a second (failover within seconds).
    pub const fn poll(self) -> Duration {
        match self {
            LockKind::Backup => Duration::from_millis(250),
            LockKind::BeatLeader => Duration::from_secs(1),
        }
    }

    /// The lock file's suffix beside a SQLite database.
    const fn file_suffix(self) -> &'static str {
        match self {
            LockKind::Backup => ".backup-lock",
            LockKind::BeatLeader => ".beat-lock",
        }
    }

    /// The lock connection's `application_name` (seen in `pg_stat_activity`).
    const fn application_name(self) -> &'static str {
        match self {
            LockKind::Backup => "SET application_name = 'celeriac backup lock'",
            LockKind::BeatLeader => "SET application_name = 'celeriac beat leader lock'",
        }
    }
}

/// The advisory lock key of configuration backups (`'clrc.bkp'` as 8 ASCII bytes).
pub const BACKUP_LOCK_KEY: i64 = LockKind::Backup.key();

/// A held lock; dropping it releases it (the PostgreSQL connection closes, the file lock is
/// dropped). [`RunLock::release`] releases it explicitly and reports errors.
#[derive(Debug)]
pub struct RunLock {
    kind: LockKind,
    held: Held,
}

#[derive(Debug)]
enum Held {
    Postgres(PgConnection),
    File(File),
}

impl RunLock {
    /// Which lock this is.
    pub fn kind(&self) -> LockKind {
        self.kind
    }

    /// Whether the lock is still held: on PostgreSQL a cheap query on the lock's own
    /// connection must answer within `timeout` (a session that died or cannot reach the server
    /// has lost the lock, or soon will, to the server's eyes); a file lock holds while the
    /// process lives.
    ///
    /// # Errors
    /// [`CatalogError::LockLost`]: stop acting as the holder.
    pub async fn check(&mut self, timeout: Duration) -> Result<(), CatalogError> {
        let lock = self.kind.name();
        match &mut self.held {
            Held::Postgres(conn) => {
                match tokio::time::timeout(timeout, conn.execute("SELECT 1")).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(source)) => Err(CatalogError::LockLost {
                        lock,
                        source: Some(source),
                    }),
                    Err(_) => Err(CatalogError::LockLost { lock, source: None }),
                }
            }
            Held::File(_) => Ok(()),
        }
    }

    /// Releases the lock.
    ///
    /// # Errors
    /// [`CatalogError::Query`] when PostgreSQL could not be told (the lock still goes with the
    /// connection, which is closed either way).
    pub async fn release(self) -> Result<(), CatalogError> {
        match self.held {
            Held::Postgres(mut conn) => {
                let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(self.kind.key())
                    .execute(&mut conn)
                    .await
                    .map(|_| ())
                    .map_err(|e| CatalogError::query("release lock", e));
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
    /// Takes the backup lock, waiting up to `wait` for another run to end ([`Catalog::lock`]).
    ///
    /// # Errors
    /// As [`Catalog::lock`].
    pub async fn lock_backups(&self, wait: Duration) -> Result<Option<RunLock>, CatalogError> {
        self.lock(LockKind::Backup, wait).await
    }

    /// Takes lock `kind`, asking every [`LockKind::poll`] for up to `wait` (a `wait` too long
    /// to add to now waits for ever; drop the future to stop waiting). `None` when it is
    /// still held by someone else after `wait`.
    ///
    /// # Errors
    /// [`CatalogError::Connect`] / [`CatalogError::Query`] for PostgreSQL trouble,
    /// [`CatalogError::LockFile`] when the SQLite lock file cannot be opened.
    pub async fn lock(
        &self,
        kind: LockKind,
        wait: Duration,
    ) -> Result<Option<RunLock>, CatalogError> {
        let deadline = Instant::now().checked_add(wait);
        let expired = || deadline.is_some_and(|d| Instant::now() >= d);
        match self.url() {
            CatalogUrl::Postgres(options) => {
                let mut conn = PgConnection::connect_with(options)
                    .await
                    .map_err(|source| CatalogError::Connect {
                        url: self.url().to_string(),
                        source,
                    })?;
                conn.execute(kind.application_name())
                    .await
                    .map_err(|e| CatalogError::query("take lock", e))?;
                loop {
                    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                        .bind(kind.key())
                        .fetch_one(&mut conn)
                        .await
                        .map_err(|e| CatalogError::query("take lock", e))?;
                    if got {
                        return Ok(Some(RunLock {
                            kind,
                            held: Held::Postgres(conn),
                        }));
                    }
                    if expired() {
                        let _ = conn.close().await;
                        return Ok(None);
                    }
                    tokio::time::sleep(kind.poll()).await;
                }
            }
            CatalogUrl::Sqlite(options) => {
                let path = lock_path(options.get_filename().to_path_buf(), kind);
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
                                kind,
                                held: Held::File(file),
                            }));
                        }
                        Err(std::fs::TryLockError::WouldBlock) => {}
                        Err(std::fs::TryLockError::Error(e)) => return Err(lock_error(e)),
                    }
                    if expired() {
                        return Ok(None);
                    }
                    tokio::time::sleep(kind.poll()).await;
                }
            }
        }
    }

    /// Where lock `kind` of a SQLite catalog lives (`<database><suffix>`); `None` on
    /// PostgreSQL, whose locks are advisory locks.
    pub fn lock_file(&self, kind: LockKind) -> Option<PathBuf> {
        match self.url() {
            CatalogUrl::Postgres(_) => None,
            CatalogUrl::Sqlite(options) => {
                Some(lock_path(options.get_filename().to_path_buf(), kind))
            }
        }
    }
}

/// `<database><suffix>` beside the SQLite file (`.backup-lock`, `.beat-lock`).
fn lock_path(db: PathBuf, kind: LockKind) -> PathBuf {
    let mut name = db.into_os_string();
    name.push(kind.file_suffix());
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_distinct_keys_and_files() {
        assert_eq!(BACKUP_LOCK_KEY, i64::from_be_bytes(*b"clrc.bkp"));
        assert_ne!(LockKind::Backup.key(), LockKind::BeatLeader.key());
        let db = PathBuf::from("/var/lib/celeriac/catalog.db");
        assert_eq!(
            lock_path(db.clone(), LockKind::Backup),
            PathBuf::from("/var/lib/celeriac/catalog.db.backup-lock")
        );
        assert_eq!(
            lock_path(db, LockKind::BeatLeader),
            PathBuf::from("/var/lib/celeriac/catalog.db.beat-lock")
        );
    }
}
