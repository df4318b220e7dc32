//! The exchange journal: one row per kept attempt of a call, its exchanges as JSON.

use super::StoreError;
use async_trait::async_trait;

/// One kept attempt of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRow {
    /// The call's id (a job's id for a job).
    pub call_id: String,
    /// The attempt.
    pub attempt: u32,
    /// The adapter.
    pub adapter: String,
    /// The job it ran for, if any.
    pub job_id: Option<String>,
    /// When it ended, unix ms.
    pub at_ms: i64,
    /// The attempt and its exchanges, as JSON text.
    pub entry: String,
}

/// The exchange journal, by call id and attempt.
#[async_trait]
pub trait JournalStore: Send + Sync {
    /// Keeps `row`, in place of what was kept of the same attempt.
    async fn journal_put(&self, row: &JournalRow) -> Result<(), StoreError>;

    /// Keeps every row of `rows` (many calls' attempts, group-committed: a statement of up to
    /// [`sql::JOURNAL_PUT_ROWS`](super::sql::JOURNAL_PUT_ROWS) rows, each in place of what was
    /// kept of the same attempt). No two rows may be of the same attempt.
    async fn journal_put_many(&self, rows: &[JournalRow]) -> Result<(), StoreError>;

    /// The kept attempts of call `call_id` (at most `limit`), in order: (attempt, entry).
    async fn journal_get(
        &self,
        call_id: &str,
        limit: u32,
    ) -> Result<Vec<(u32, String)>, StoreError>;

    /// Deletes up to `limit` rows kept before `before_ms` whose call is no job the store still
    /// holds; answers how many.
    async fn journal_prune(&self, before_ms: i64, limit: u32) -> Result<u64, StoreError>;

    /// Deletes up to `limit` of `adapter`'s rows past its newest `keep`; answers how many.
    async fn journal_trim(&self, adapter: &str, keep: u32, limit: u32) -> Result<u64, StoreError>;
}

/// Writes [`JournalStore`] for a backend: `$store`, writing through its pool `pool` and reading
/// through `$read`, with the shared SQL of `store::sql`.
macro_rules! impl_journal_store {
    ($store:ty, $read:ident) => {
        const _: () = {
            use async_trait::async_trait;
            use sqlx::Row;
            use $crate::store::{JournalRow, JournalStore, StoreError, sql};

            #[async_trait]
            impl JournalStore for $store {
                async fn journal_put(&self, row: &JournalRow) -> Result<(), StoreError> {
                    sqlx::query(sql::JOURNAL_PUT)
                        .bind(&row.call_id)
                        .bind(i64::from(row.attempt))
                        .bind(&row.adapter)
                        .bind(row.job_id.as_deref())
                        .bind(row.at_ms)
                        .bind(&row.entry)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                }

                async fn journal_put_many(&self, rows: &[JournalRow]) -> Result<(), StoreError> {
                    for chunk in rows.chunks(sql::JOURNAL_PUT_ROWS) {
                        let text = sql::journal_put_rows(chunk.len());
                        let mut q = sqlx::query(&text);
                        for row in chunk {
                            q = q
                                .bind(&row.call_id)
                                .bind(i64::from(row.attempt))
                                .bind(&row.adapter)
                                .bind(row.job_id.as_deref())
                                .bind(row.at_ms)
                                .bind(&row.entry);
                        }
                        q.execute(&self.pool).await?;
                    }
                    Ok(())
                }

                async fn journal_get(
                    &self,
                    call_id: &str,
                    limit: u32,
                ) -> Result<Vec<(u32, String)>, StoreError> {
                    let rows = sqlx::query(sql::JOURNAL_GET)
                        .bind(call_id)
                        .bind(i64::from(limit))
                        .fetch_all(&self.$read)
                        .await?;
                    Ok(rows
                        .iter()
                        .map(|r| {
                            let attempt: i64 = r.get(0);
                            (u32::try_from(attempt).unwrap_or(0), r.get::<String, _>(1))
                        })
                        .collect())
                }

                async fn journal_prune(
                    &self,
                    before_ms: i64,
                    limit: u32,
                ) -> Result<u64, StoreError> {
                    let done = sqlx::query(sql::JOURNAL_PRUNE)
                        .bind(before_ms)
                        .bind(i64::from(limit))
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected())
                }

                async fn journal_trim(
                    &self,
                    adapter: &str,
                    keep: u32,
                    limit: u32,
                ) -> Result<u64, StoreError> {
                    let done = sqlx::query(sql::JOURNAL_TRIM)
                        .bind(adapter)
                        .bind(i64::from(limit))
                        .bind(i64::from(keep))
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected())
                }
            }
        };
    };
}
pub(crate) use impl_journal_store;
