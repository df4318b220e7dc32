//! Durable steps: how each named step of a call ended, under the call's id, kept until its job
//! is pruned.

use super::StoreError;
use async_trait::async_trait;

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    /// Sent to the platform, no answer recorded (a crash, a timeout): its outcome is unknown.
    Sent,
    /// The platform answered it with success; the outcome is its value.
    Succeeded,
    /// The platform refused it for good; the outcome is the error.
    Failed,
}

impl StepState {
    /// The state as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// The state a stored text names.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "sent" => Some(Self::Sent),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One step of a call, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    /// The step's name, as the adapter gave it.
    pub name: String,
    /// Where it stands.
    pub state: StepState,
    /// Its value (succeeded) or error (failed), as JSON text.
    pub outcome: Option<String>,
    /// When it last changed, unix ms.
    pub updated_at_ms: i64,
}

/// Durable steps, by call id and step name.
#[async_trait]
pub trait StepStore: Send + Sync {
    /// Step `name` of call `call_id`, if one is recorded.
    async fn step_get(&self, call_id: &str, name: &str) -> Result<Option<StepRecord>, StoreError>;

    /// Records step `name` of call `call_id` as `state` with `outcome`, in place of what was.
    async fn step_put(
        &self,
        call_id: &str,
        name: &str,
        state: StepState,
        outcome: Option<&str>,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// Forgets step `name` of call `call_id` (it did not reach the platform: it runs again).
    async fn step_delete(&self, call_id: &str, name: &str) -> Result<(), StoreError>;

    /// Forgets every step of call `call_id` that was sent and never answered, so that the call
    /// runs them again (an operator's retry after checking the platform); answers how many.
    async fn step_forget_sent(&self, call_id: &str) -> Result<u64, StoreError>;

    /// Every step of call `call_id`, in the order they began (at most `limit`).
    async fn step_list(&self, call_id: &str, limit: u32) -> Result<Vec<StepRecord>, StoreError>;

    /// Deletes up to `limit` steps recorded before `before_ms` whose call is no job the store
    /// still holds; answers how many.
    async fn step_prune(&self, before_ms: i64, limit: u32) -> Result<u64, StoreError>;
}

/// A step from a row of `sql::STEP_GET` or `sql::STEP_LIST` (name, state, outcome, time); `None`
/// for a state this version does not know.
pub(crate) fn step_from_row<'r, R: sqlx::Row>(r: &'r R) -> Option<StepRecord>
where
    usize: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let state: String = r.try_get(1).ok()?;
    Some(StepRecord {
        name: r.try_get(0).ok()?,
        state: StepState::parse(&state)?,
        outcome: r.try_get::<Option<String>, _>(2).ok()?,
        updated_at_ms: r.try_get(3).ok()?,
    })
}

/// Writes [`StepStore`] for a backend: `$store`, writing through its pool `pool` and reading
/// through `$read`, with the shared SQL of `store::sql`.
macro_rules! impl_step_store {
    ($store:ty, $read:ident) => {
        const _: () = {
            use async_trait::async_trait;
            use $crate::store::steps::step_from_row as record;
            use $crate::store::{StepRecord, StepState, StepStore, StoreError, sql};

            #[async_trait]
            impl StepStore for $store {
                async fn step_get(
                    &self,
                    call_id: &str,
                    name: &str,
                ) -> Result<Option<StepRecord>, StoreError> {
                    let row = sqlx::query(sql::STEP_GET)
                        .bind(call_id)
                        .bind(name)
                        .fetch_optional(&self.$read)
                        .await?;
                    Ok(row.as_ref().and_then(record))
                }

                async fn step_put(
                    &self,
                    call_id: &str,
                    name: &str,
                    state: StepState,
                    outcome: Option<&str>,
                    now_ms: i64,
                ) -> Result<(), StoreError> {
                    sqlx::query(sql::STEP_PUT)
                        .bind(call_id)
                        .bind(name)
                        .bind(state.as_str())
                        .bind(outcome)
                        .bind(now_ms)
                        .bind(now_ms)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                }

                async fn step_delete(&self, call_id: &str, name: &str) -> Result<(), StoreError> {
                    sqlx::query(sql::STEP_DELETE)
                        .bind(call_id)
                        .bind(name)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                }

                async fn step_forget_sent(&self, call_id: &str) -> Result<u64, StoreError> {
                    let done = sqlx::query(sql::STEP_FORGET_SENT)
                        .bind(call_id)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected())
                }

                async fn step_list(
                    &self,
                    call_id: &str,
                    limit: u32,
                ) -> Result<Vec<StepRecord>, StoreError> {
                    let rows = sqlx::query(sql::STEP_LIST)
                        .bind(call_id)
                        .bind(i64::from(limit))
                        .fetch_all(&self.$read)
                        .await?;
                    Ok(rows.iter().filter_map(record).collect())
                }

                async fn step_prune(&self, before_ms: i64, limit: u32) -> Result<u64, StoreError> {
                    let done = sqlx::query(sql::STEP_PRUNE)
                        .bind(before_ms)
                        .bind(i64::from(limit))
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected())
                }
            }
        };
    };
}
pub(crate) use impl_step_store;
