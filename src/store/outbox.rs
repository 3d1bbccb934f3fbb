//! Outbox rows (`outbox` table, migration 0005): enqueue with an optional idempotency key, claim with a lease,
//! record the outcome under that lease, retry/cancel, list. The scheduling rules live in [`crate::outbox`]; this
//! file only holds the SQL.
//!
//! Claiming is one `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING`: SQLite runs writers one at a time, so two
//! workers never get the same row. Completion is fenced by the lease owner: a worker whose lease ran out and whose
//! job was claimed again cannot overwrite the newer outcome.

use super::on_pool;
use super::{Store, StoreError, timestamp};
use serde::Serialize;
use time::OffsetDateTime;

/// An outbox job as stored.
#[derive(Debug, Clone, Serialize)]
pub struct JobRow {
    /// Identifier (UUID).
    pub id: String,
    /// Kind (`dmp_push`…).
    pub kind: String,
    /// `queued`, `sending`, `done`, `failed`, `cancelled`.
    pub status: String,
    /// Handler input.
    pub payload: serde_json::Value,
    /// What the job is about (document id…).
    pub subject: Option<String>,
    /// Success result or last error.
    pub result: Option<serde_json::Value>,
    /// Attempts started so far.
    pub attempts: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// Not run before this time.
    pub next_at: String,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

/// A job to create.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Identifier.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// Handler input.
    pub payload: serde_json::Value,
    /// What the job is about.
    pub subject: Option<String>,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// Caller-scoped idempotency key, and the hash of the request that came with it.
    pub idempotency: Option<(String, String)>,
}

/// What [`Store::enqueue`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// A new job.
    New(String),
    /// The key was already used with the same request: that job.
    Existing(String),
}

/// How a finished attempt ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// `done`.
    Done,
    /// `failed` for good.
    Failed,
    /// `queued` again, not before the given time.
    RetryAt(OffsetDateTime),
}

type Raw = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    i64,
    String,
    String,
    String,
);

macro_rules! cols {
    () => {
        "id, kind, status, payload, subject, result, attempts, max_attempts, next_at, created_at, updated_at"
    };
}

fn row(r: Raw) -> Result<JobRow, StoreError> {
    let json = |s: &str| serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()));
    Ok(JobRow {
        id: r.0,
        kind: r.1,
        status: r.2,
        payload: json(&r.3)?,
        subject: r.4,
        result: r.5.as_deref().map(json).transpose()?,
        attempts: r.6,
        max_attempts: r.7,
        next_at: r.8,
        created_at: r.9,
        updated_at: r.10,
    })
}

/// One job insert inside `tx`. The outer `Err` aborts the transaction; the inner one is this job's answer (a
/// failed statement does not end a SQLite transaction).
async fn insert_job(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    job: &NewJob,
    now: &str,
) -> Result<Result<Enqueued, StoreError>, StoreError> {
    let (key, hash) = job.idempotency.clone().unzip();
    let r = sqlx::query(
        "INSERT INTO outbox (id, kind, status, payload, subject, attempts, max_attempts, next_at, \
         idempotency_key, request_hash, created_at, updated_at) \
         VALUES (?, ?, 'queued', ?, ?, 0, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&job.id)
    .bind(&job.kind)
    .bind(job.payload.to_string())
    .bind(&job.subject)
    .bind(job.max_attempts)
    .bind(now)
    .bind(&key)
    .bind(&hash)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await;
    match r {
        Ok(_) => Ok(Ok(Enqueued::New(job.id.clone()))),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() && key.is_some() => {
            let found: Option<(String, Option<String>)> =
                sqlx::query_as("SELECT id, request_hash FROM outbox WHERE idempotency_key = ?")
                    .bind(&key)
                    .fetch_optional(&mut **tx)
                    .await?;
            Ok(match found {
                Some((id, h)) if h == hash => Ok(Enqueued::Existing(id)),
                Some(_) => Err(StoreError::Conflict(
                    "this Idempotency-Key was used with another request".into(),
                )),
                None => Err(StoreError::Conflict("job id already used".into())),
            })
        }
        Err(e) => Err(e.into()),
    }
}

impl Store {
    /// Inserts a queued job, committed (fsync'd: synchronous = FULL) when this returns. With an idempotency key
    /// already used: the existing job when the request hash is the same, `Conflict` otherwise.
    pub async fn enqueue(&self, job: &NewJob, now: OffsetDateTime) -> Result<Enqueued, StoreError> {
        if let Err(pg) = self.split() {
            return pg.enqueue(job, now).await;
        }
        let mut answers = self.enqueue_many(std::slice::from_ref(job), now).await?;
        answers
            .pop()
            .unwrap_or_else(|| Err(StoreError::Corrupt("no answer for the job".into())))
    }

    /// Inserts several queued jobs in one transaction, so one fsync commits them all (group commit, see
    /// [`crate::outbox`]). Each job gets its own answer, as [`Store::enqueue`] gives it: a job refused for its
    /// idempotency key does not stop the others. `Err` only when the transaction itself fails (nothing stored).
    pub async fn enqueue_many(
        &self,
        jobs: &[NewJob],
        now: OffsetDateTime,
    ) -> Result<Vec<Result<Enqueued, StoreError>>, StoreError> {
        let pool = match self.split() {
            Ok(pool) => pool,
            Err(pg) => return pg.enqueue_many(jobs, now).await,
        };
        let now = timestamp(now);
        let mut tx = pool.begin().await?;
        let mut answers = Vec::with_capacity(jobs.len());
        for job in jobs {
            answers.push(insert_job(&mut tx, job, &now).await?);
        }
        tx.commit().await?;
        Ok(answers)
    }

    /// Claims the job due first (queued and due, or sending with an expired lease) for `owner` until
    /// `lease_until`, counting one more attempt.
    pub async fn claim(
        &self,
        owner: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<JobRow>, StoreError> {
        let pool = match self.split_relaxed() {
            Ok(pool) => pool,
            Err(pg) => return pg.claim(owner, now, lease_until).await,
        };
        let now = timestamp(now);
        let raw: Result<Option<Raw>, sqlx::Error> = sqlx::query_as(concat!(
            "UPDATE outbox SET status = 'sending', lease_owner = ?, lease_until = ?, attempts = attempts + 1, \
             updated_at = ? WHERE id = (SELECT id FROM outbox WHERE (status = 'queued' AND next_at <= ?) \
             OR (status = 'sending' AND lease_until < ?) ORDER BY next_at LIMIT 1) RETURNING ",
            cols!()
        ))
        .bind(owner)
        .bind(timestamp(lease_until))
        .bind(&now)
        .bind(&now)
        .bind(&now)
        .fetch_optional(pool)
        .await;
        raw?.map(row).transpose()
    }

    /// Records the outcome of an attempt; `false` when `owner` no longer holds the job (lease lost).
    pub async fn finish(
        &self,
        id: &str,
        owner: &str,
        how: Finish,
        result: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let pool = match self.split_relaxed() {
            Ok(pool) => pool,
            Err(pg) => return pg.finish(id, owner, how, result, now).await,
        };
        let now_t = timestamp(now);
        let (status, next_at, done_at) = match how {
            Finish::Done => ("done", now_t.clone(), Some(now_t.clone())),
            Finish::Failed => ("failed", now_t.clone(), Some(now_t.clone())),
            Finish::RetryAt(t) => ("queued", timestamp(t), None),
        };
        let r = sqlx::query(
            "UPDATE outbox SET status = ?, result = ?, next_at = ?, done_at = ?, lease_owner = NULL, \
             lease_until = NULL, updated_at = ? WHERE id = ? AND lease_owner = ? AND status = 'sending'",
        )
        .bind(status)
        .bind(result.to_string())
        .bind(next_at)
        .bind(done_at)
        .bind(&now_t)
        .bind(id)
        .bind(owner)
        .execute(pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Gives back jobs held by owners whose name starts with `owner_prefix` (this daemon's earlier runs, or this
    /// run at shutdown): `queued` again, due now, the interrupted attempt not counted. Returns how many.
    pub async fn release_leases(
        &self,
        owner_prefix: &str,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let pool = match self.split() {
            Ok(pool) => pool,
            Err(pg) => return pg.release_leases(owner_prefix, now).await,
        };
        let now = timestamp(now);
        let r = sqlx::query(
            "UPDATE outbox SET status = 'queued', lease_owner = NULL, lease_until = NULL, next_at = ?, \
             attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, updated_at = ? \
             WHERE status = 'sending' AND substr(lease_owner, 1, ?) = ?",
        )
        .bind(&now)
        .bind(&now)
        .bind(i64::try_from(owner_prefix.len()).unwrap_or(i64::MAX))
        .bind(owner_prefix)
        .execute(pool)
        .await?;
        Ok(r.rows_affected())
    }

    /// `PRAGMA synchronous` of every connection of the durable pool, then of the relaxed one (tests).
    #[cfg(test)]
    pub(crate) async fn synchronous_modes(&self) -> Result<(Vec<i64>, Vec<i64>), StoreError> {
        async fn modes(pool: &sqlx::SqlitePool) -> Result<Vec<i64>, StoreError> {
            let mut held = Vec::new();
            let mut modes = Vec::new();
            for _ in 0..pool.options().get_max_connections() {
                let mut c = pool.acquire().await?;
                modes.push(
                    sqlx::query_scalar("PRAGMA synchronous")
                        .fetch_one(&mut *c)
                        .await?,
                );
                held.push(c);
            }
            Ok(modes)
        }
        let relaxed = self
            .split_relaxed()
            .map_err(|_| StoreError::NotFound("SQLite".into()))?;
        Ok((modes(self.sqlite()).await?, modes(relaxed).await?))
    }

    /// A job by id.
    pub async fn job(&self, id: &str) -> Result<JobRow, StoreError> {
        let pool = match self.split() {
            Ok(pool) => pool,
            Err(pg) => return pg.job(id).await,
        };
        let raw: Option<Raw> =
            sqlx::query_as(concat!("SELECT ", cols!(), " FROM outbox WHERE id = ?"))
                .bind(id)
                .fetch_optional(pool)
                .await?;
        raw.map(row)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("job {id}")))
    }

    /// Jobs, newest first, optionally of one status.
    pub async fn jobs(&self, status: Option<&str>, limit: i64) -> Result<Vec<JobRow>, StoreError> {
        let raws: Vec<Raw> = on_pool!(self, |p, sql| sqlx::query_as(sql(concat!(
            "SELECT ",
            cols!(),
            " FROM outbox WHERE (? IS NULL OR status = ?) ORDER BY created_at DESC, id LIMIT ?"
        )))
        .bind(status)
        .bind(status)
        .bind(limit)
        .fetch_all(p)
        .await)?;
        raws.into_iter().map(row).collect()
    }

    /// Number of jobs per status.
    pub async fn job_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let pool = match self.split() {
            Ok(pool) => pool,
            Err(pg) => return pg.job_counts().await,
        };
        Ok(
            sqlx::query_as("SELECT status, COUNT(*) FROM outbox GROUP BY status ORDER BY status")
                .fetch_all(pool)
                .await?,
        )
    }

    /// `failed` or `cancelled` → `queued` with a fresh attempt budget. `Conflict` in any other status.
    pub async fn retry_job(&self, id: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        let now = timestamp(now);
        self.transition(
            id,
            "UPDATE outbox SET status = 'queued', attempts = 0, next_at = ?, done_at = NULL, updated_at = ? \
             WHERE id = ? AND status IN ('failed', 'cancelled')",
            &now,
            "only a failed or cancelled job can be retried",
        )
        .await
    }

    /// `queued` → `cancelled`. `Conflict` in any other status (a job being sent cannot be called back).
    pub async fn cancel_job(&self, id: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        let now = timestamp(now);
        self.transition(
            id,
            "UPDATE outbox SET status = 'cancelled', next_at = ?, done_at = ?, updated_at = ? \
             WHERE id = ? AND status = 'queued'",
            &now,
            "only a queued job can be cancelled",
        )
        .await
    }

    async fn transition(
        &self,
        id: &str,
        sql: &'static str,
        now: &str,
        refused: &str,
    ) -> Result<(), StoreError> {
        // Every placeholder but the last (the id) is `now`.
        let n = on_pool!(self, |p, text| {
            let mut q = sqlx::query(text(sql));
            for _ in 1..sql.matches('?').count() {
                q = q.bind(now);
            }
            q.bind(id).execute(p).await?.rows_affected()
        });
        if n == 1 {
            return Ok(());
        }
        let j = self.job(id).await?;
        Err(StoreError::Conflict(format!(
            "{refused} (status {})",
            j.status
        )))
    }
}
