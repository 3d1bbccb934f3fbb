//! Group commit of job inserts. Every job is fsync'd before the API answers 202, and an fsync costs milliseconds
//! (2.4 ms measured on the CI machine's disk), so one fsync per job would cap a daemon at a few hundred jobs per
//! second whatever the number of clients. Inserts are therefore handed to one task that writes whatever has queued
//! up while the previous commit ran, up to [`MAX_BATCH`] jobs, in one transaction: each caller still gets its answer
//! only once its job is committed, and a lone caller waits no longer than before (its batch holds one job).
//!
//! Answers are per job (an idempotency conflict refuses only that job). When the transaction itself fails, every
//! job of the batch is tried again alone, so each caller gets the error that concerns it.

use super::Queue;
use crate::store::StoreError;
use crate::store::outbox::{Enqueued, NewJob};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

/// Most jobs in one transaction.
pub const MAX_BATCH: usize = 256;

type Answer = oneshot::Sender<Result<Enqueued, StoreError>>;

/// Hands job inserts to the group-commit task.
#[derive(Debug, Clone)]
pub(super) struct Inserter {
    tx: mpsc::Sender<(NewJob, Answer)>,
}

impl Inserter {
    /// Starts the task; it ends when the last `Inserter` is dropped, after answering what it holds.
    pub(super) fn start(queue: Queue) -> Inserter {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(queue, rx));
        Inserter { tx }
    }

    /// Inserts `job`; returns once it is committed.
    pub(super) async fn insert(&self, job: NewJob) -> Result<Enqueued, StoreError> {
        let stopped = || StoreError::Open {
            path: "outbox".into(),
            reason: "the outbox writer has stopped".into(),
        };
        let (answer, wait) = oneshot::channel();
        self.tx.send((job, answer)).await.map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?
    }
}

async fn run(queue: Queue, mut rx: mpsc::Receiver<(NewJob, Answer)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (jobs, answers): (Vec<NewJob>, Vec<Answer>) = batch.drain(..).unzip();
        let now = OffsetDateTime::now_utc();
        match queue.enqueue_many(&jobs, now).await {
            Ok(results) => {
                for (answer, r) in answers.into_iter().zip(results) {
                    let _ = answer.send(r);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, jobs = jobs.len(), "outbox batch insert failed; inserting one by one");
                for (answer, job) in answers.into_iter().zip(&jobs) {
                    let _ = answer.send(queue.enqueue(job, now).await);
                }
            }
        }
    }
}
