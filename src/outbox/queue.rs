//! Where the outbox keeps its jobs: the daemon's SQLite store, or the PostgreSQL tables a fleet shares
//! ([`crate::store::pg`]). The engine only needs these operations.

use crate::store::outbox::{Enqueued, Finish, JobRow, NewJob};
use crate::store::pg::PgStore;
use crate::store::{Store, StoreError};
use time::OffsetDateTime;

/// The job table of one backend.
#[derive(Debug, Clone)]
pub enum Queue {
    /// SQLite (one daemon).
    Sqlite(Store),
    /// PostgreSQL (several daemons).
    Postgres(PgStore),
}

impl From<Store> for Queue {
    /// The store's own backend: a [`Store`] opened on PostgreSQL gives its PostgreSQL tables.
    fn from(s: Store) -> Self {
        match s.postgres() {
            Some(pg) => Queue::Postgres(pg.clone()),
            None => Queue::Sqlite(s),
        }
    }
}

impl From<PgStore> for Queue {
    fn from(s: PgStore) -> Self {
        Queue::Postgres(s)
    }
}

impl Queue {
    /// Inserts a job (durable when this returns).
    pub async fn enqueue(&self, job: &NewJob, now: OffsetDateTime) -> Result<Enqueued, StoreError> {
        match self {
            Queue::Sqlite(s) => s.enqueue(job, now).await,
            Queue::Postgres(p) => p.enqueue(job, now).await,
        }
    }

    /// Inserts several jobs, one answer each (SQLite: one transaction, one fsync; PostgreSQL: one by one).
    pub async fn enqueue_many(
        &self,
        jobs: &[NewJob],
        now: OffsetDateTime,
    ) -> Result<Vec<Result<Enqueued, StoreError>>, StoreError> {
        match self {
            Queue::Sqlite(s) => s.enqueue_many(jobs, now).await,
            Queue::Postgres(p) => p.enqueue_many(jobs, now).await,
        }
    }

    /// Claims the job due first.
    pub async fn claim(
        &self,
        owner: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<JobRow>, StoreError> {
        match self {
            Queue::Sqlite(s) => s.claim(owner, now, lease_until).await,
            Queue::Postgres(p) => p.claim(owner, now, lease_until).await,
        }
    }

    /// Records an attempt's outcome under the lease.
    pub async fn finish(
        &self,
        id: &str,
        owner: &str,
        how: Finish,
        result: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        match self {
            Queue::Sqlite(s) => s.finish(id, owner, how, result, now).await,
            Queue::Postgres(p) => p.finish(id, owner, how, result, now).await,
        }
    }

    /// Gives back the jobs of owners starting with `owner_prefix`.
    pub async fn release_leases(
        &self,
        owner_prefix: &str,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        match self {
            Queue::Sqlite(s) => s.release_leases(owner_prefix, now).await,
            Queue::Postgres(p) => p.release_leases(owner_prefix, now).await,
        }
    }

    /// A job.
    pub async fn job(&self, id: &str) -> Result<JobRow, StoreError> {
        match self {
            Queue::Sqlite(s) => s.job(id).await,
            Queue::Postgres(p) => p.job(id).await,
        }
    }

    /// Jobs per status.
    pub async fn job_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        match self {
            Queue::Sqlite(s) => s.job_counts().await,
            Queue::Postgres(p) => p.job_counts().await,
        }
    }
}
