//! Backing the embedded store up while it serves, and restoring it: a backup is one SQLite
//! file written by `VACUUM INTO` (a consistent snapshot taken beside the writers, which go on),
//! and a restore checks the file is a Weft store sealed under the key it is given before it
//! takes the place of `weft.db`. PostgreSQL is backed up with its own tools: its schema, and
//! the store key kept apart.

use super::StoreError;
use async_trait::async_trait;
use std::path::{Path, PathBuf};

/// A store that can write a consistent copy of itself while serving.
#[async_trait]
pub trait BackupStore: Send + Sync {
    /// Writes a snapshot of the whole store to the new file `to`.
    async fn backup_to(&self, _to: &Path) -> Result<(), StoreError> {
        Err(StoreError::Config(
            "this store is backed up with its own tools: for PostgreSQL, pg_dump of Weft's schema (and keep the store key apart; see docs/deploy.md, \"Backup and restore\")".into(),
        ))
    }
}

#[async_trait]
impl BackupStore for super::sqlite::SqliteStore {
    async fn backup_to(&self, to: &Path) -> Result<(), StoreError> {
        if to.exists() {
            return Err(StoreError::Config(format!(
                "{} exists: a backup is written to a new file",
                to.display()
            )));
        }
        let text = to
            .to_str()
            .ok_or_else(|| StoreError::Config(format!("{} is not a UTF-8 path", to.display())))?;
        sqlx::query("VACUUM INTO ?")
            .bind(text)
            .execute(self.reader_pool())
            .await?;
        use std::os::unix::fs::PermissionsExt;
        // Sealed tokens and idempotency keys: this user's only, as weft.db is.
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600))?;
        Ok(())
    }
}

/// What a restore put in place.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The restored store's id (now also in `DATA/store-id`).
    pub store_id: String,
    /// Where the store that was there before went, if one was (`replace`).
    pub previous: Option<PathBuf>,
}

/// Makes the backup `file` the embedded store of `data`: refused unless it is a Weft store
/// whose key check is `key_check` (the store key it is restored under), and while `data`
/// already holds a store unless `replace` (which moves that one aside, never deletes it).
/// Weft must not be running on `data`.
pub async fn restore(
    file: &Path,
    data: &Path,
    key_check: &[u8],
    replace: bool,
) -> Result<Restored, StoreError> {
    let target = data.join("weft.db");
    if target.exists() && !replace {
        return Err(StoreError::Config(format!(
            "{} holds a store: stop Weft and give --replace to put the backup in its place (the store there is kept beside it)",
            target.display()
        )));
    }
    if !data.exists() {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data)?;
        // The mode asked for passes through the umask: set it as meant.
        std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o700))?;
    }
    // Opened where it will not be mistaken for the store: a folder of its own in `data`.
    let scratch = data.join(format!(".restore-{}", crate::clock::now_ms()));
    std::fs::create_dir(&scratch)?;
    let outcome = check_and_place(file, data, &scratch, key_check, replace).await;
    let _ = std::fs::remove_dir_all(&scratch);
    outcome
}

async fn check_and_place(
    file: &Path,
    data: &Path,
    scratch: &Path,
    key_check: &[u8],
    replace: bool,
) -> Result<Restored, StoreError> {
    let meta = std::fs::metadata(file)
        .map_err(|e| StoreError::Config(format!("{}: {e}", file.display())))?;
    let mut head = [0u8; 16];
    let is_sqlite = meta.is_file()
        && std::fs::File::open(file)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
            .is_ok()
        && &head == b"SQLite format 3\0";
    if !is_sqlite {
        return Err(StoreError::Config(format!(
            "{} is not a backup of Weft's store (not an SQLite file)",
            file.display()
        )));
    }
    std::fs::copy(file, scratch.join("weft.db"))?;
    let store_id = {
        let store = super::sqlite::SqliteStore::open(scratch).await?;
        use super::KvStore;
        let meta = super::host_namespace::META;
        let id = store.kv_get(meta, "store-id").await?;
        let check = store.kv_get(meta, "store-key-check").await?;
        store.close().await;
        let (Some(id), Some(check)) = (id, check) else {
            return Err(StoreError::Config(format!(
                "{} is not a backup of Weft's store (it has no store id or key check)",
                file.display()
            )));
        };
        if check != key_check {
            return Err(StoreError::Config(format!(
                "{} was made under another store key: give the key it was made under (--store-key, or its DATA/store-key file)",
                file.display()
            )));
        }
        String::from_utf8_lossy(&id).into_owned()
    };
    let target = data.join("weft.db");
    // The store there before is moved aside whole: its WAL may hold commits not yet in
    // weft.db.
    let previous = if replace && target.exists() {
        let aside = data.join(format!("weft.db.before-restore-{}", crate::clock::now_ms()));
        for (from, suffix) in [
            ("weft.db", ""),
            ("weft.db-wal", "-wal"),
            ("weft.db-shm", "-shm"),
        ] {
            let from = data.join(from);
            if from.exists() {
                let mut to = aside.clone().into_os_string();
                to.push(suffix);
                std::fs::rename(&from, PathBuf::from(to))?;
            }
        }
        Some(aside)
    } else {
        None
    };
    std::fs::rename(scratch.join("weft.db"), &target)?;
    std::fs::write(data.join("store-id"), format!("{store_id}\n"))?;
    Ok(Restored { store_id, previous })
}
