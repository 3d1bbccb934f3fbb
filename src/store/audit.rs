//! The append-only audit log: who did what to whom, with which outcome.
//!
//! Patient identifiers never appear whole: [`mask_ins`] keeps the last four characters of an INS, as the
//! foundation issue asks; callers pass subjects through it (or through the INS type's masked form).
//! The table refuses `UPDATE` and `DELETE` (triggers in the migration).
//!
//! [`AuditLog`] is the daemon's writer: request handlers hand it their entries and wait until they are committed
//! (synchronous = FULL, so fsync'd), while one task commits whatever has queued up in a single transaction — group
//! commit. Under load one fsync then covers many requests instead of one each (measured on the 2-core CI machine:
//! ≈ 2 700 single-row commits/s, which alone would cap INSi searches near that rate). The hash chain that makes edits detectable
//! even by someone bypassing the triggers comes with the outbox/audit work.

use super::{Store, StoreError, now_text};
use serde::Serialize;

/// One audit record to append.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry {
    /// API key name or professional id acting.
    pub actor: String,
    /// What was done, dotted (`apikey.create`, `ins.search`…).
    pub action: String,
    /// On what or whom (already masked).
    pub subject: Option<String>,
    /// `ok`, `refused`, `error`…
    pub outcome: String,
    /// Request id tying the record to logs and API answers.
    pub correlation_id: Option<String>,
    /// Extra JSON, already free of secrets.
    pub details: Option<serde_json::Value>,
}

/// A stored audit record.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    /// Sequence number.
    pub id: i64,
    /// Time (RFC 3339 UTC).
    pub at: String,
    /// Actor.
    pub actor: String,
    /// Action.
    pub action: String,
    /// Subject (masked).
    pub subject: Option<String>,
    /// Outcome.
    pub outcome: String,
    /// Correlation id.
    pub correlation_id: Option<String>,
    /// Details JSON text.
    pub details: Option<String>,
}

/// Masks an INS (or any identifier) to its last four characters: `275126322074974` → `***********4974`.
pub fn mask_ins(value: &str) -> String {
    let n = value.chars().count();
    let keep = 4.min(n);
    let mut out: String = "*".repeat(n - keep);
    out.extend(value.chars().skip(n - keep));
    out
}

impl Store {
    /// Appends several records in one transaction; returns their ids in order.
    pub async fn audit_batch(&self, entries: &[AuditEntry]) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.sqlite().begin().await?;
        let at = now_text();
        let mut ids = Vec::with_capacity(entries.len());
        for e in entries {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO audit (at, actor, action, subject, outcome, correlation_id, details) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(&at)
            .bind(&e.actor)
            .bind(&e.action)
            .bind(&e.subject)
            .bind(&e.outcome)
            .bind(&e.correlation_id)
            .bind(e.details.as_ref().map(|d| d.to_string()))
            .fetch_one(&mut *tx)
            .await?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Appends a record.
    pub async fn audit(&self, e: &AuditEntry) -> Result<i64, StoreError> {
        let ids = self.audit_batch(std::slice::from_ref(e)).await?;
        ids.first()
            .copied()
            .ok_or_else(|| StoreError::Corrupt("audit insert returned no id".into()))
    }

    /// The last `limit` records, newest first.
    pub async fn audit_tail(&self, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
        type Row = (
            i64,
            String,
            String,
            String,
            Option<String>,
            String,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, at, actor, action, subject, outcome, correlation_id, details FROM audit ORDER BY id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(self.sqlite())
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, at, actor, action, subject, outcome, correlation_id, details)| AuditRecord {
                    id,
                    at,
                    actor,
                    action,
                    subject,
                    outcome,
                    correlation_id,
                    details,
                },
            )
            .collect())
    }
}

type Ack = tokio::sync::oneshot::Sender<Result<i64, String>>;

/// What the writer receives: an entry to commit, or a request to report once everything before it is committed.
enum Msg {
    Entry(AuditEntry, Option<Ack>),
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Handle on the group-committing audit writer; cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditLog {
    tx: tokio::sync::mpsc::Sender<Msg>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Msg::Entry(..) => "Entry",
            Msg::Flush(..) => "Flush",
        })
    }
}

/// Most entries committed in one transaction.
const BATCH: usize = 256;

impl AuditLog {
    /// Starts the writer task on `store`. It ends when every handle is dropped.
    pub fn start(store: Store) -> AuditLog {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(4096);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let mut entries = Vec::new();
                let mut acks = Vec::new();
                let mut flushes = Vec::new();
                for m in batch {
                    match m {
                        Msg::Entry(e, ack) => {
                            entries.push(e);
                            acks.push(ack);
                        }
                        Msg::Flush(done) => flushes.push(done),
                    }
                }
                let result = if entries.is_empty() {
                    Ok(Vec::new())
                } else {
                    store.audit_batch(&entries).await
                };
                match result {
                    Ok(ids) => {
                        for (ack, id) in acks.into_iter().zip(ids) {
                            if let Some(ack) = ack {
                                let _ = ack.send(Ok(id));
                            }
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, entries = entries.len(), "audit write failed");
                        for ack in acks.into_iter().flatten() {
                            let _ = ack.send(Err(e.to_string()));
                        }
                    }
                }
                for done in flushes {
                    let _ = done.send(());
                }
            }
        });
        AuditLog { tx }
    }

    /// Queues `entry` for the next group commit without waiting for it (read-only operations such as INSi lookups,
    /// where holding the answer for an fsync would only add latency). The entry is committed within a few
    /// milliseconds; a crash in that window can lose it, which is why state changes use [`AuditLog::append`].
    /// When the queue is full this waits for room rather than dropping the entry.
    pub async fn record(&self, entry: AuditEntry) {
        if self.tx.send(Msg::Entry(entry, None)).await.is_err() {
            tracing::error!("audit writer stopped: entry lost");
        }
    }

    /// Waits until every entry queued before this call is committed (shutdown, tests).
    pub async fn flush(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Appends `entry` and waits until it is durably committed.
    pub async fn append(&self, entry: AuditEntry) -> Result<i64, StoreError> {
        let (ack, done) = tokio::sync::oneshot::channel();
        let closed = || StoreError::Open {
            path: "audit".into(),
            reason: "the audit writer has stopped".into(),
        };
        self.tx
            .send(Msg::Entry(entry, Some(ack)))
            .await
            .map_err(|_| closed())?;
        match done.await {
            Ok(Ok(id)) => Ok(id),
            Ok(Err(reason)) => Err(StoreError::Open {
                path: "audit".into(),
                reason,
            }),
            Err(_) => Err(closed()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_all_but_four() {
        assert_eq!(mask_ins("275126322074974"), "***********4974");
        assert_eq!(mask_ins("12"), "12");
    }

    #[tokio::test]
    async fn append_only() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open_sqlite(&dir.path().join("a.db")).await.unwrap();
        let id = s
            .audit(&AuditEntry {
                actor: "dui".into(),
                action: "ins.search".into(),
                subject: Some(mask_ins("275126322074974")),
                outcome: "ok".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let tail = s.audit_tail(10).await.unwrap();
        assert_eq!(tail[0].id, id);
        assert_eq!(tail[0].subject.as_deref(), Some("***********4974"));
        let upd = sqlx::query("UPDATE audit SET outcome = 'x'")
            .execute(s.sqlite())
            .await;
        assert!(upd.unwrap_err().to_string().contains("append-only"));
        let del = sqlx::query("DELETE FROM audit").execute(s.sqlite()).await;
        assert!(del.is_err());
    }

    #[tokio::test]
    async fn group_commit_keeps_every_entry_in_order_of_ids() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open_sqlite(&dir.path().join("g.db")).await.unwrap();
        let log = AuditLog::start(s.clone());
        let mut tasks = Vec::new();
        for i in 0..200 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                log.append(AuditEntry {
                    actor: format!("a{i}"),
                    action: "test".into(),
                    outcome: "ok".into(),
                    ..Default::default()
                })
                .await
                .unwrap()
            }));
        }
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap());
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 200, "every append got its own id");
        assert_eq!(s.audit_tail(1000).await.unwrap().len(), 200);

        for i in 0..50 {
            log.record(AuditEntry {
                actor: format!("r{i}"),
                action: "lookup".into(),
                outcome: "ok".into(),
                ..Default::default()
            })
            .await;
        }
        log.flush().await;
        assert_eq!(
            s.audit_tail(1000).await.unwrap().len(),
            250,
            "flush waits for recorded entries"
        );
    }
}
