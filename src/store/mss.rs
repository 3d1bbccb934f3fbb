//! MSSanté messages and their events (migration `0006_mss.sql`).

use super::{Store, StoreError, now_text};

/// A stored message.
#[derive(Debug, Clone)]
pub struct MssMessageRow {
    /// Message uuid (Message-ID local part, DSN ENVID).
    pub id: String,
    /// Sending job id.
    pub job_id: String,
    /// The document sent.
    pub document_id: String,
    /// `Message-ID` without brackets.
    pub message_id: String,
    /// Envelope sender.
    pub sender: String,
    /// Envelope recipients. Sensitive (a patient address holds the INS).
    pub recipients: Vec<String>,
    /// The bytes.
    pub content: Vec<u8>,
    /// `queued`, `sent`, `delivered`, `read`, `failed`.
    pub status: String,
}

/// One event of a message.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MssEventRow {
    /// When (RFC 3339).
    pub at: String,
    /// `submitted`, `submit_failed`, `dsn`, `mdn`.
    pub kind: String,
    /// Details.
    pub detail: serde_json::Value,
}

type Raw = (
    String,
    String,
    String,
    String,
    String,
    String,
    Vec<u8>,
    String,
);

impl Store {
    /// Inserts a queued message.
    pub async fn mss_insert(&self, m: &MssMessageRow) -> Result<(), StoreError> {
        let now = now_text();
        sqlx::query(
            "INSERT INTO mss_messages (id, job_id, document_id, message_id, sender, recipients, content, status, \
             created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&m.id)
        .bind(&m.job_id)
        .bind(&m.document_id)
        .bind(&m.message_id)
        .bind(&m.sender)
        .bind(serde_json::to_string(&m.recipients).map_err(|e| StoreError::Corrupt(e.to_string()))?)
        .bind(&m.content)
        .bind(&m.status)
        .bind(&now)
        .bind(&now)
        .execute(self.sqlite())
        .await?;
        Ok(())
    }

    /// A message by its uuid or by its job id.
    pub async fn mss_message(&self, id: &str) -> Result<MssMessageRow, StoreError> {
        let raw: Option<Raw> = sqlx::query_as(
            "SELECT id, job_id, document_id, message_id, sender, recipients, content, status FROM mss_messages \
             WHERE id = ? OR job_id = ?",
        )
        .bind(id)
        .bind(id)
        .fetch_optional(self.sqlite())
        .await?;
        let r = raw.ok_or_else(|| StoreError::NotFound(format!("message {id}")))?;
        Ok(MssMessageRow {
            id: r.0,
            job_id: r.1,
            document_id: r.2,
            message_id: r.3,
            sender: r.4,
            recipients: serde_json::from_str(&r.5)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            content: r.6,
            status: r.7,
        })
    }

    /// Moves the status from `expected` to `status` and appends an event, in one transaction; `false` (nothing
    /// written) when the status is no longer `expected` (another writer moved it: read again and retry).
    pub async fn mss_transition(
        &self,
        id: &str,
        expected: &str,
        status: &str,
        kind: &str,
        detail: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let now = now_text();
        let mut tx = self.sqlite().begin().await?;
        let n = sqlx::query(
            "UPDATE mss_messages SET status = ?, updated_at = ? WHERE id = ? AND status = ?",
        )
        .bind(status)
        .bind(&now)
        .bind(id)
        .bind(expected)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        sqlx::query("INSERT INTO mss_events (message, at, kind, detail) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(&now)
            .bind(kind)
            .bind(detail.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The events of a message, oldest first.
    pub async fn mss_events(&self, id: &str) -> Result<Vec<MssEventRow>, StoreError> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT at, kind, detail FROM mss_events WHERE message = ? ORDER BY seq",
        )
        .bind(id)
        .fetch_all(self.sqlite())
        .await?;
        rows.into_iter()
            .map(|(at, kind, detail)| {
                Ok(MssEventRow {
                    at,
                    kind,
                    detail: serde_json::from_str(&detail)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                })
            })
            .collect()
    }
}
