//! The append-only audit log: who did what to whom, with which outcome.
//!
//! Patient identifiers never appear whole: [`mask_ins`] keeps the last four characters of an INS, as the
//! foundation issue asks; callers pass subjects through it (or through the INS type's masked form).
//! The table refuses `UPDATE` and `DELETE` (triggers in the migration). The hash chain that makes edits detectable
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
    /// Appends a record.
    pub async fn audit(&self, e: &AuditEntry) -> Result<i64, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO audit (at, actor, action, subject, outcome, correlation_id, details) \
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(now_text())
        .bind(&e.actor)
        .bind(&e.action)
        .bind(&e.subject)
        .bind(&e.outcome)
        .bind(&e.correlation_id)
        .bind(e.details.as_ref().map(|d| d.to_string()))
        .fetch_one(self.sqlite())
        .await?;
        Ok(id)
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
}
