//! Group commit: every write of one kind waiting at the moment the store is free goes into one
//! transaction, so that many concurrent writers share one commit (one fsync on PostgreSQL)
//! instead of queueing for one each. Alone, a write is committed at once. A writer is answered
//! only once its write is committed, and if a batch fails, each write is retried alone, so one
//! bad write never costs the others theirs.

use crate::clock::now_ms;
use crate::store::{Enqueued, Finish, JobStore, NewJob, Store, StoreError};
use async_trait::async_trait;
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, oneshot};

/// Writes one transaction commits at most.
const BATCH: usize = 256;
/// Writes waiting for the batcher (a writer waits for room, never drops its write).
const QUEUE: usize = 1024;

/// One kind of write that can be committed in batches.
#[async_trait]
pub(crate) trait Write: Send + Sync + 'static {
    /// What is written.
    type Item: Clone + Send + Sync + 'static;
    /// What the store answers for each item.
    type Done: Send + 'static;
    /// What these writes are, for logs.
    const WHAT: &'static str;
    /// Commits `items` in one transaction, answering for each in order.
    async fn many(
        store: &dyn JobStore,
        items: &[Self::Item],
    ) -> Result<Vec<Self::Done>, StoreError>;
    /// Commits `item` alone.
    async fn one(store: &dyn JobStore, item: &Self::Item) -> Result<Self::Done, StoreError>;
}

type Request<W> = (
    <W as Write>::Item,
    oneshot::Sender<Result<<W as Write>::Done, StoreError>>,
);

/// The batcher of one kind of write. Its task starts at the first write (inside the caller's
/// tokio runtime) and ends when this is dropped.
pub(crate) struct GroupCommit<W: Write> {
    queue: OnceLock<mpsc::Sender<Request<W>>>,
}

impl<W: Write> Default for GroupCommit<W> {
    fn default() -> Self {
        Self {
            queue: OnceLock::new(),
        }
    }
}

impl<W: Write> GroupCommit<W> {
    /// Commits `item` together with the others arriving with it (the batcher keeps a handle
    /// on the store's job queue, nothing else of it).
    pub(crate) async fn commit(
        &self,
        store: &Arc<dyn Store>,
        item: W::Item,
    ) -> Result<W::Done, StoreError> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            let jobs: Arc<dyn JobStore> = store.clone();
            tokio::spawn(in_batches::<W>(jobs, rx));
            tx
        });
        let (reply, answer) = oneshot::channel();
        match queue.send((item, reply)).await {
            Ok(()) => answer.await.unwrap_or_else(|_| {
                Err(StoreError::Config(format!(
                    "the {} batcher stopped before storing this write",
                    W::WHAT
                )))
            }),
            // The batcher's runtime is gone (a runtime used from another one): write it here.
            Err(mpsc::error::SendError((item, _))) => W::one(store.as_ref(), &item).await,
        }
    }
}

async fn in_batches<W: Write>(store: Arc<dyn JobStore>, mut requests: mpsc::Receiver<Request<W>>) {
    let mut batch: Vec<Request<W>> = Vec::with_capacity(BATCH);
    while requests.recv_many(&mut batch, BATCH).await > 0 {
        let items: Vec<W::Item> = batch.iter().map(|(item, _)| item.clone()).collect();
        match W::many(store.as_ref(), &items).await {
            Ok(done) => {
                for ((_, reply), done) in batch.drain(..).zip(done) {
                    let _ = reply.send(Ok(done));
                }
            }
            Err(e) => {
                tracing::warn!(
                    writes = batch.len(),
                    "batched {} failed, committing them one by one: {e}",
                    W::WHAT
                );
                for (item, reply) in batch.drain(..) {
                    let _ = reply.send(W::one(store.as_ref(), &item).await);
                }
            }
        }
    }
}

/// Enqueues of the front door and of schedules.
pub(crate) struct Enqueue;

#[async_trait]
impl Write for Enqueue {
    type Item = NewJob;
    type Done = Enqueued;
    const WHAT: &'static str = "enqueues";

    async fn many(store: &dyn JobStore, items: &[NewJob]) -> Result<Vec<Enqueued>, StoreError> {
        store.job_enqueue_many(items, now_ms()).await
    }

    async fn one(store: &dyn JobStore, item: &NewJob) -> Result<Enqueued, StoreError> {
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

    async fn many(store: &dyn JobStore, items: &[Finish]) -> Result<Vec<bool>, StoreError> {
        store.job_finish_many(items, now_ms()).await
    }

    async fn one(store: &dyn JobStore, f: &Finish) -> Result<bool, StoreError> {
        store
            .job_finish(&f.id, f.attempt, &f.outcome, now_ms())
            .await
    }
}

/// The group commit of enqueues.
pub(crate) type Enqueues = GroupCommit<Enqueue>;
/// The group commit of attempt ends.
pub(crate) type Finishes = GroupCommit<End>;
