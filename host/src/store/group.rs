//! Group commit: every write of one kind waiting at the moment the store is free goes into one
//! transaction, so that many concurrent writers share one commit (one fsync on PostgreSQL)
//! instead of queueing for one each. Alone, a write is committed at once. A writer that waits
//! is answered only once its write is committed, and if a batch fails, each write is retried
//! alone, so one bad write never costs the others theirs. A writer may also offer its write
//! without waiting ([`GroupCommit::offer`], shed when the queue is full): [`GroupCommit::flush`]
//! then waits for it.

use super::{Store, StoreError};
use async_trait::async_trait;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, oneshot, watch};

/// Writes one transaction commits at most.
const BATCH: usize = 256;
/// Writes waiting for the batcher (a writer waits for room, never drops its write).
const QUEUE: usize = 1024;

/// One kind of write that can be committed in batches.
#[async_trait]
pub(crate) trait Write: Send + Sync + 'static {
    /// What is written.
    type Item: Send + Sync + 'static;
    /// What the store answers for each item.
    type Done: Send + 'static;
    /// What these writes are, for logs.
    const WHAT: &'static str;
    /// Commits `items` in one transaction, answering for each in order.
    async fn many(store: &dyn Store, items: &[Self::Item]) -> Result<Vec<Self::Done>, StoreError>;
    /// Commits `item` alone.
    async fn one(store: &dyn Store, item: &Self::Item) -> Result<Self::Done, StoreError>;
}

type Reply<W> = oneshot::Sender<Result<<W as Write>::Done, StoreError>>;
type Request<W> = (<W as Write>::Item, Option<Reply<W>>);

/// The batcher of one kind of write. Its task starts at the first write (inside the caller's
/// tokio runtime) and ends when this is dropped.
pub(crate) struct GroupCommit<W: Write> {
    queue: OnceLock<mpsc::Sender<Request<W>>>,
    /// Writes handed to the batcher so far.
    sent: AtomicU64,
    /// Writes the batcher has finished with (committed, or failed and logged) so far.
    done: watch::Sender<u64>,
}

impl<W: Write> Default for GroupCommit<W> {
    fn default() -> Self {
        Self {
            queue: OnceLock::new(),
            sent: AtomicU64::new(0),
            done: watch::Sender::new(0),
        }
    }
}

impl<W: Write> GroupCommit<W> {
    /// Commits `item` together with the others arriving with it (the batcher keeps a handle
    /// on the store, nothing else).
    pub(crate) async fn commit(
        &self,
        store: &Arc<dyn Store>,
        item: W::Item,
    ) -> Result<W::Done, StoreError> {
        let (reply, answer) = oneshot::channel();
        match self.send(store, item, Some(reply)).await {
            Ok(()) => answer.await.unwrap_or_else(|_| {
                Err(StoreError::Config(format!(
                    "the {} batcher stopped before storing this write",
                    W::WHAT
                )))
            }),
            // The batcher's runtime is gone (a runtime used from another one): write it here.
            Err(item) => W::one(store.as_ref(), &item).await,
        }
    }

    /// Hands `item` to the batcher if its queue has room, without waiting for anything; answers
    /// false (the write dropped) when the queue is full — for writes that may be shed under
    /// load rather than slow their writers, as a tracer drops spans.
    pub(crate) fn offer(&self, store: &Arc<dyn Store>, item: W::Item) -> bool {
        let queue = self.queue(store);
        self.sent.fetch_add(1, Ordering::AcqRel);
        match queue.try_send((item, None)) {
            Ok(()) => true,
            Err(_) => {
                self.done.send_modify(|d| *d += 1);
                false
            }
        }
    }

    /// Waits until every write handed over before this call is committed (or has failed).
    pub(crate) async fn flush(&self) {
        let target = self.sent.load(Ordering::Acquire);
        let mut done = self.done.subscribe();
        // The batcher holds a sender of its own, so the watch never closes under it.
        let _ = done.wait_for(|d| *d >= target).await;
    }

    fn queue(&self, store: &Arc<dyn Store>) -> &mpsc::Sender<Request<W>> {
        self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(in_batches::<W>(store.clone(), rx, self.done.clone()));
            tx
        })
    }

    async fn send(
        &self,
        store: &Arc<dyn Store>,
        item: W::Item,
        reply: Option<Reply<W>>,
    ) -> Result<(), W::Item> {
        let queue = self.queue(store);
        // Counted before it is queued: a flush that starts after this write was queued waits
        // for at least as many writes as were queued up to and including it.
        self.sent.fetch_add(1, Ordering::AcqRel);
        match queue.send((item, reply)).await {
            Ok(()) => Ok(()),
            Err(mpsc::error::SendError((item, _))) => {
                self.done.send_modify(|d| *d += 1);
                Err(item)
            }
        }
    }
}

async fn in_batches<W: Write>(
    store: Arc<dyn Store>,
    mut requests: mpsc::Receiver<Request<W>>,
    done: watch::Sender<u64>,
) {
    let mut batch: Vec<Request<W>> = Vec::with_capacity(BATCH);
    while requests.recv_many(&mut batch, BATCH).await > 0 {
        let count = batch.len() as u64;
        let (items, replies): (Vec<W::Item>, Vec<Option<Reply<W>>>) = batch.drain(..).unzip();
        match W::many(store.as_ref(), &items).await {
            Ok(answers) => {
                for (reply, answer) in replies.into_iter().zip(answers) {
                    if let Some(reply) = reply {
                        let _ = reply.send(Ok(answer));
                    }
                }
            }
            Err(e) => {
                tracing::warn!(
                    writes = items.len(),
                    "batched {} failed, committing them one by one: {e}",
                    W::WHAT
                );
                for (item, reply) in items.iter().zip(replies) {
                    let answer = W::one(store.as_ref(), item).await;
                    match reply {
                        Some(reply) => drop(reply.send(answer)),
                        None => {
                            if let Err(e) = answer {
                                tracing::warn!("a write of {} failed: {e}", W::WHAT);
                            }
                        }
                    }
                }
            }
        }
        done.send_modify(|d| *d += count);
    }
}
