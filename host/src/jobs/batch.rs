//! The job queue's writes committed in groups ([`GroupCommit`]): enqueues and attempt ends.

use crate::clock::now_ms;
use crate::store::group::{GroupCommit, Write};
use crate::store::{Enqueued, Finish, NewJob, Store, StoreError};
use async_trait::async_trait;

/// Enqueues of the front door and of schedules.
pub(crate) struct Enqueue;

#[async_trait]
impl Write for Enqueue {
    type Item = NewJob;
    type Done = Enqueued;
    const WHAT: &'static str = "enqueues";

    async fn many(store: &dyn Store, items: &[NewJob]) -> Result<Vec<Enqueued>, StoreError> {
        store.job_enqueue_many(items, now_ms()).await
    }

    async fn one(store: &dyn Store, item: &NewJob) -> Result<Enqueued, StoreError> {
        store.job_enqueue(item, now_ms()).await
    }
}

/// Ends of job attempts (true: recorded; false: fenced by a newer attempt).
pub(crate) struct End;

#[async_trait]
impl Write for End {
    type Item = Finish;
    type Done = bool;
    const WHAT: &'static str = "job ends";

    async fn many(store: &dyn Store, items: &[Finish]) -> Result<Vec<bool>, StoreError> {
        store.job_finish_many(items, now_ms()).await
    }

    async fn one(store: &dyn Store, f: &Finish) -> Result<bool, StoreError> {
        store
            .job_finish(&f.id, f.attempt, &f.outcome, now_ms())
            .await
    }
}

/// The group commit of enqueues.
pub(crate) type Enqueues = GroupCommit<Enqueue>;
/// The group commit of attempt ends.
pub(crate) type Finishes = GroupCommit<End>;
