//! Fleet mode on PostgreSQL: the statements that differ from SQLite's — the outbox and the hash-chained audit log
//! (`migrations/postgres/`). Every other table is reached through [`super::Store`]'s shared statements (see
//! [`super`]). Same rows, same text formats and the same rules as the SQLite store ([`super::outbox`],
//! [`super::audit`]); what differs is how writers are kept apart:
//!
//! - **claims** use `SELECT … FOR UPDATE SKIP LOCKED` inside the claiming `UPDATE`: two daemons polling at once
//!   each lock a different due row instead of waiting on or double-claiming the same one;
//! - **audit appends** lock the single `audit_sequence` row (`FOR UPDATE`) for the transaction, so the chain is
//!   extended by one writer at a time across daemons; `audit_sequence.seq` keeps the largest id ever given
//!   (a deleted tail shows), as SQLite's `sqlite_sequence` does.
//!
//! A [`super::Store`] opened on PostgreSQL sends its outbox and audit calls here; [`PgStore`] may also be used
//! alone (an outbox engine on PostgreSQL without the rest of the store).

use super::StoreError;
use super::audit::{AuditEntry, AuditRecord, GENESIS, VerifyReport, looks_like_ins, mask_ins};
use super::outbox::{Enqueued, Finish, JobRow, NewJob};
use super::timestamp;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use time::OffsetDateTime;

static PG_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The shared tables on PostgreSQL; cheap to clone.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

macro_rules! cols {
    () => {
        "id, kind, status, payload, subject, result, attempts, max_attempts, next_at, created_at, updated_at"
    };
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

impl PgStore {
    /// Connects to `url` (`postgres://…`) and applies the migrations.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .connect(url)
            .await
            .map_err(|e| StoreError::Open {
                path: "postgres".into(),
                reason: e.to_string(),
            })?;
        PG_MIGRATIONS.run(&pool).await?;
        Ok(PgStore { pool })
    }

    /// The pool, for [`super::Store`]'s queries.
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// As [`super::Store::enqueue_many`], but one commit per job (no group commit on PostgreSQL yet).
    pub async fn enqueue_many(
        &self,
        jobs: &[NewJob],
        now: OffsetDateTime,
    ) -> Result<Vec<Result<Enqueued, StoreError>>, StoreError> {
        let mut answers = Vec::with_capacity(jobs.len());
        for job in jobs {
            answers.push(self.enqueue(job, now).await);
        }
        Ok(answers)
    }

    /// As [`super::Store::enqueue`].
    pub async fn enqueue(&self, job: &NewJob, now: OffsetDateTime) -> Result<Enqueued, StoreError> {
        let now = timestamp(now);
        let (key, hash) = job.idempotency.clone().unzip();
        let r = sqlx::query(
            "INSERT INTO outbox (id, kind, status, payload, subject, attempts, max_attempts, next_at, \
             idempotency_key, request_hash, created_at, updated_at) \
             VALUES ($1, $2, 'queued', $3, $4, 0, $5, $6, $7, $8, $6, $6)",
        )
        .bind(&job.id)
        .bind(&job.kind)
        .bind(job.payload.to_string())
        .bind(&job.subject)
        .bind(job.max_attempts)
        .bind(&now)
        .bind(&key)
        .bind(&hash)
        .execute(&self.pool)
        .await;
        match r {
            Ok(_) => Ok(Enqueued::New(job.id.clone())),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() && key.is_some() => {
                let found: Option<(String, Option<String>)> = sqlx::query_as(
                    "SELECT id, request_hash FROM outbox WHERE idempotency_key = $1",
                )
                .bind(&key)
                .fetch_optional(&self.pool)
                .await?;
                match found {
                    Some((id, h)) if h == hash => Ok(Enqueued::Existing(id)),
                    _ => Err(StoreError::Conflict(
                        "this Idempotency-Key was used with another request".into(),
                    )),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// As [`super::Store::claim`], with `FOR UPDATE SKIP LOCKED`.
    pub async fn claim(
        &self,
        owner: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Option<JobRow>, StoreError> {
        let raw: Option<Raw> = sqlx::query_as(concat!(
            "UPDATE outbox SET status = 'sending', lease_owner = $1, lease_until = $2, attempts = attempts + 1, \
             updated_at = $3 WHERE id = (SELECT id FROM outbox WHERE (status = 'queued' AND next_at <= $3) \
             OR (status = 'sending' AND lease_until < $3) ORDER BY next_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING ",
            cols!()
        ))
        .bind(owner)
        .bind(timestamp(lease_until))
        .bind(timestamp(now))
        .fetch_optional(&self.pool)
        .await?;
        raw.map(row).transpose()
    }

    /// As [`super::Store::finish`].
    pub async fn finish(
        &self,
        id: &str,
        owner: &str,
        how: Finish,
        result: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let now_t = timestamp(now);
        let (status, next_at, done_at) = match how {
            Finish::Done => ("done", now_t.clone(), Some(now_t.clone())),
            Finish::Failed => ("failed", now_t.clone(), Some(now_t.clone())),
            Finish::RetryAt(t) => ("queued", timestamp(t), None),
        };
        let r = sqlx::query(
            "UPDATE outbox SET status = $1, result = $2, next_at = $3, done_at = $4, lease_owner = NULL, \
             lease_until = NULL, updated_at = $5 WHERE id = $6 AND lease_owner = $7 AND status = 'sending'",
        )
        .bind(status)
        .bind(result.to_string())
        .bind(next_at)
        .bind(done_at)
        .bind(&now_t)
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// As [`super::Store::release_leases`].
    pub async fn release_leases(
        &self,
        owner_prefix: &str,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let r = sqlx::query(
            "UPDATE outbox SET status = 'queued', lease_owner = NULL, lease_until = NULL, next_at = $1, \
             attempts = GREATEST(attempts - 1, 0), updated_at = $1 \
             WHERE status = 'sending' AND starts_with(lease_owner, $2)",
        )
        .bind(timestamp(now))
        .bind(owner_prefix)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    /// As [`super::Store::job`].
    pub async fn job(&self, id: &str) -> Result<JobRow, StoreError> {
        let raw: Option<Raw> =
            sqlx::query_as(concat!("SELECT ", cols!(), " FROM outbox WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        raw.map(row)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("job {id}")))
    }

    /// As [`super::Store::job_counts`].
    pub async fn job_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT status, COUNT(*) FROM outbox GROUP BY status ORDER BY status")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// As [`super::Store::audit_batch`]; appenders of every daemon queue on the `audit_sequence` row lock.
    pub async fn audit_batch(&self, entries: &[AuditEntry]) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let seq: i64 = sqlx::query_scalar("SELECT seq FROM audit_sequence WHERE id = 1 FOR UPDATE")
            .fetch_one(&mut *tx)
            .await?;
        let last: Option<Option<String>> =
            sqlx::query_scalar("SELECT hash FROM audit WHERE id = $1")
                .bind(seq)
                .fetch_optional(&mut *tx)
                .await?;
        let mut prev = last.flatten().unwrap_or_else(|| GENESIS.to_string());
        let mut id = seq;
        let at = super::now_text();
        let mut ids = Vec::with_capacity(entries.len());
        for e in entries {
            id += 1;
            let subject = e.subject.as_deref().map(|s| {
                if looks_like_ins(s) {
                    mask_ins(s)
                } else {
                    s.to_string()
                }
            });
            let details = e
                .details
                .as_ref()
                .map(|d| super::audit::redact(d).to_string());
            let hash = super::audit::row_hash(
                id,
                &at,
                &e.actor,
                &e.action,
                subject.as_deref(),
                &e.outcome,
                e.correlation_id.as_deref(),
                details.as_deref(),
                &prev,
            );
            sqlx::query(
                "INSERT INTO audit (id, at, actor, action, subject, outcome, correlation_id, details, prev_hash, \
                 hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(id)
            .bind(&at)
            .bind(&e.actor)
            .bind(&e.action)
            .bind(&subject)
            .bind(&e.outcome)
            .bind(&e.correlation_id)
            .bind(&details)
            .bind(&prev)
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
            ids.push(id);
            prev = hash;
        }
        sqlx::query("UPDATE audit_sequence SET seq = $1 WHERE id = 1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// As [`super::Store::audit_verify`].
    pub async fn audit_verify(&self) -> Result<VerifyReport, StoreError> {
        type R = (
            i64,
            String,
            String,
            String,
            Option<String>,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let mut report = VerifyReport {
            rows: 0,
            unchained: 0,
            broken: None,
            head: None,
        };
        let mut prev: Option<(i64, Option<String>)> = None;
        let mut after = 0i64;
        'pages: loop {
            let page: Vec<R> = sqlx::query_as(
                "SELECT id, at, actor, action, subject, outcome, correlation_id, details, prev_hash, hash \
                 FROM audit WHERE id > $1 ORDER BY id LIMIT 5000",
            )
            .bind(after)
            .fetch_all(&self.pool)
            .await?;
            if page.is_empty() {
                break;
            }
            for r in page {
                let r = AuditRecord {
                    id: r.0,
                    at: r.1,
                    actor: r.2,
                    action: r.3,
                    subject: r.4,
                    outcome: r.5,
                    correlation_id: r.6,
                    details: r.7,
                    prev_hash: r.8,
                    hash: r.9,
                };
                after = r.id;
                report.rows += 1;
                if let Some(problem) = super::audit::check_row(&r, prev.as_ref()) {
                    report.broken = Some((r.id, problem));
                    break 'pages;
                }
                prev = Some((r.id, r.hash.clone()));
            }
        }
        report.head = prev.as_ref().and_then(|p| p.1.clone());
        if report.broken.is_none() {
            let seq: i64 = sqlx::query_scalar("SELECT seq FROM audit_sequence WHERE id = 1")
                .fetch_one(&self.pool)
                .await?;
            let last = prev.as_ref().map_or(0, |p| p.0);
            if seq > last {
                report.broken = Some((
                    last + 1,
                    format!("rows {} to {seq} were deleted (end of the log)", last + 1),
                ));
            }
        }
        Ok(report)
    }
}
