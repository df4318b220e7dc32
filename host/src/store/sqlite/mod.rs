//! The embedded store: one SQLite file under the data directory, nothing to install.

use super::StoreError;
use sqlx::Connection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use std::path::Path;
use std::time::Duration;

/// SQLite-backed [`Store`].
///
/// Writes go through one connection and reads through a pool of others. SQLite lets one writer
/// in at a time whatever the number of connections; with several writing connections the ones
/// that lose the race wait in SQLite's busy handler, which sleeps in steps of milliseconds. One
/// writing connection makes them queue in the pool instead, woken the moment it is free, and WAL
/// lets the readers go on beside it.
#[derive(Clone)]
pub struct SqliteStore {
    /// The one connection that writes.
    pool: SqlitePool,
    /// Read-only connections.
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) `weft.db` in `data_dir` and brings its schema up to date.
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        use std::os::unix::fs::PermissionsExt;
        if !data_dir.exists() {
            std::fs::create_dir_all(data_dir)?;
            // The store holds token grants and idempotency keys: this user's only.
            std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))?;
        }
        // Two processes starting at once on a new folder would otherwise race to create the
        // file, switch it to WAL and create the tables ("database is locked", "table kv
        // already exists"): the whole opening is done one process at a time.
        let _opening = open_lock(data_dir).await?;
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join("weft.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // An embedded connection cannot go stale behind our back: no ping before each use (a
        // round trip to the connection's thread, as long as the statement itself).
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            // A connection handed back inside a transaction (its holder was cancelled, or a
            // COMMIT failed) is closed, never lent again: later writes would join that
            // transaction and be lost with it while their callers were told they were stored.
            .after_release(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(options.read_only(true))
            .await?;
        for name in ["weft.db", "weft.db-wal", "weft.db-shm"] {
            let file = data_dir.join(name);
            if file.exists() {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
            }
        }
        Ok(Self { pool, reader })
    }

    /// Runs `work` in a transaction on the writing connection. On any error, the COMMIT's
    /// included, the connection is closed rather than returned: SQLite may or may not have
    /// rolled the transaction back by itself (a full disk, an I/O error), and a connection
    /// that still believes it is inside one would swallow every later write. The pool opens
    /// a fresh one for the next caller, so writing resumes by itself once the cause is gone.
    pub(super) async fn transaction<T>(
        &self,
        work: impl AsyncFnOnce(&mut SqliteConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let done = async {
            let mut tx = conn.begin().await?;
            let out = work(&mut tx).await?;
            tx.commit().await?;
            Ok(out)
        }
        .await;
        if done.is_err() {
            let raw = conn.detach();
            let _ = raw.close_hard().await;
        }
        done
    }

    /// The read-only connections (a backup reads through them, beside the writer).
    pub(crate) fn reader_pool(&self) -> &SqlitePool {
        &self.reader
    }

    /// Closes every connection (the WAL is checkpointed into the file as the last closes).
    pub(crate) async fn close(&self) {
        self.reader.close().await;
        self.pool.close().await;
    }

    /// Checks every page of the database (`PRAGMA quick_check`): the description of the
    /// first problem, if there is one.
    pub async fn quick_check(&self) -> Result<(), String> {
        let rows: Vec<String> = sqlx::query_scalar("PRAGMA quick_check(3)")
            .fetch_all(&self.reader)
            .await
            .map_err(|e| e.to_string())?;
        match rows.as_slice() {
            [ok] if ok == "ok" => Ok(()),
            problems => Err(problems.join("; ")),
        }
    }
}

/// An exclusive `flock` on `DATA/weft.db.open`, held while a process opens the store and
/// brings its schema up to date; released when dropped, or when the process dies.
async fn open_lock(data_dir: &Path) -> Result<std::fs::File, StoreError> {
    let lock_path = data_dir.join("weft.db.open");
    tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)?;
        file.lock()?;
        Ok(file)
    })
    .await
    .map_err(|e| StoreError::Config(format!("store opening lock: {e}")))?
    .map_err(StoreError::from)
}

impl crate::store::HealthStore for SqliteStore {}

mod claim;
mod items;
mod jobs;
mod journal;
mod kv;
mod queue;
mod rate;
mod schedules;
mod steps;
mod tokens;
