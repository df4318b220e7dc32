//! The embedded store: one SQLite file under the data directory, nothing to install.

use super::StoreError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
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
}

mod jobs;
mod kv;
mod rate;
mod schedules;
mod tokens;
