//! MSSanté messages and their events (migration `0006_mss.sql`).

use super::on_pool;
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
    /// Records the outbox job that sends message `id`.
    pub async fn mss_set_job(&self, id: &str, job_id: &str) -> Result<(), StoreError> {
        on_pool!(self, |p, sql| sqlx::query(sql(
            "UPDATE mss_messages SET job_id = ?, updated_at = ? WHERE id = ?"
        ))
        .bind(job_id)
        .bind(now_text())
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Inserts a queued message.
    pub async fn mss_insert(&self, m: &MssMessageRow) -> Result<(), StoreError> {
        let now = now_text();
        on_pool!(self, |p, sql| {
            sqlx::query(sql(
                "INSERT INTO mss_messages (id, job_id, document_id, message_id, \
                 sender, recipients, content, status, created_at, updated_at) VALUES \
                 (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ))
            .bind(&m.id)
            .bind(&m.job_id)
            .bind(&m.document_id)
            .bind(&m.message_id)
            .bind(&m.sender)
            .bind(
                serde_json::to_string(&m.recipients)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            )
            .bind(&m.content)
            .bind(&m.status)
            .bind(&now)
            .bind(&now)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// A message by its uuid or by its job id.
    pub async fn mss_message(&self, id: &str) -> Result<MssMessageRow, StoreError> {
        let raw: Option<Raw> = on_pool!(self, |p, sql| {
            sqlx::query_as(sql(
                "SELECT id, job_id, document_id, message_id, sender, recipients, \
                 content, status FROM mss_messages WHERE id = ? OR job_id = ?",
            ))
            .bind(id)
            .bind(id)
            .fetch_optional(p)
            .await
        })?;
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
        on_pool!(self, |p, sql| {
            let mut tx = p.begin().await?;
            let n = sqlx::query(sql(
                "UPDATE mss_messages SET status = ?, updated_at = ? WHERE id = ? AND \
                 status = ?",
            ))
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
            sqlx::query(sql(
                "INSERT INTO mss_events (message, at, kind, detail) VALUES (?, ?, ?, \
                 ?)",
            ))
            .bind(id)
            .bind(&now)
            .bind(kind)
            .bind(detail.to_string())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(true)
    }

    /// The events of a message, oldest first.
    pub async fn mss_events(&self, id: &str) -> Result<Vec<MssEventRow>, StoreError> {
        let rows: Vec<(String, String, String)> = on_pool!(self, |p, sql| sqlx::query_as(sql(
            "SELECT at, kind, detail FROM mss_events WHERE message = ? ORDER BY \
                 seq"
        ))
        .bind(id)
        .fetch_all(p)
        .await)?;
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

/// A received message.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InboxRow {
    /// Identifier (UUID).
    pub id: String,
    /// `Message-ID`, without brackets.
    pub message_id: String,
    /// Sender.
    pub from: String,
    /// Subject.
    pub subject: String,
    /// Where the MDN goes, when asked.
    pub ack_to: Option<String>,
    /// `received`, `acked`, `rejected`.
    pub status: String,
    /// Rejection reason or acknowledgement sent.
    pub detail: Option<serde_json::Value>,
    /// When (RFC 3339).
    pub received_at: String,
}

/// A document of a received message.
#[derive(Debug, Clone)]
pub struct InboxDocumentRow {
    /// Path in the XDM package.
    pub path: String,
    /// MIME type.
    pub mime_type: String,
    /// Title.
    pub title: String,
    /// XDS uniqueId.
    pub unique_id: Option<String>,
    /// SHA-1 matches the metadata (`None`: no hash given).
    pub hash_ok: Option<bool>,
    /// The bytes.
    pub content: Vec<u8>,
}

type InboxRaw = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    String,
);

type DocRaw = (
    String,
    String,
    String,
    Option<String>,
    Option<bool>,
    Vec<u8>,
);

fn inbox_row(r: InboxRaw) -> Result<InboxRow, StoreError> {
    Ok(InboxRow {
        id: r.0,
        message_id: r.1,
        from: r.2,
        subject: r.3,
        ack_to: r.4,
        status: r.5,
        detail: r
            .6
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        received_at: r.7,
    })
}

impl Store {
    /// Stores a received message and its documents; `false` when that `Message-ID` is already there.
    pub async fn mss_inbox_insert(
        &self,
        row: &InboxRow,
        docs: &[InboxDocumentRow],
    ) -> Result<bool, StoreError> {
        on_pool!(self, |p, sql| {
            let mut tx = p.begin().await?;
            let n = sqlx::query(sql(
                "INSERT INTO mss_inbox (id, message_id, sender, subject, ack_to, \
                 status, detail, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON \
                 CONFLICT DO NOTHING",
            ))
            .bind(&row.id)
            .bind(&row.message_id)
            .bind(&row.from)
            .bind(&row.subject)
            .bind(&row.ack_to)
            .bind(&row.status)
            .bind(row.detail.as_ref().map(|d| d.to_string()))
            .bind(now_text())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            for (i, d) in docs.iter().enumerate() {
                sqlx::query(sql(
                    "INSERT INTO mss_inbox_documents (inbox_id, idx, path, mime_type, \
                 title, unique_id, hash_ok, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                ))
                .bind(&row.id)
                .bind(i64::try_from(i).unwrap_or(i64::MAX))
                .bind(&d.path)
                .bind(&d.mime_type)
                .bind(&d.title)
                .bind(&d.unique_id)
                .bind(d.hash_ok)
                .bind(&d.content)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Received messages, newest first (at most 500).
    pub async fn mss_inbox(&self) -> Result<Vec<InboxRow>, StoreError> {
        let rows: Vec<InboxRaw> = on_pool!(self, |p, sql| {
            sqlx::query_as(sql(
                "SELECT id, message_id, sender, subject, ack_to, status, detail, \
                 received_at FROM mss_inbox ORDER BY received_at DESC, id LIMIT 500",
            ))
            .fetch_all(p)
            .await
        })?;
        rows.into_iter().map(inbox_row).collect()
    }

    /// A received message and its documents.
    pub async fn mss_inbox_message(
        &self,
        id: &str,
    ) -> Result<(InboxRow, Vec<InboxDocumentRow>), StoreError> {
        let raw: Option<InboxRaw> = on_pool!(self, |p, sql| {
            sqlx::query_as(sql(
                "SELECT id, message_id, sender, subject, ack_to, status, detail, \
                 received_at FROM mss_inbox WHERE id = ?",
            ))
            .bind(id)
            .fetch_optional(p)
            .await
        })?;
        let row =
            inbox_row(raw.ok_or_else(|| StoreError::NotFound(format!("received message {id}")))?)?;
        let docs: Vec<DocRaw> = on_pool!(self, |p, sql| {
            sqlx::query_as(sql(
                "SELECT path, mime_type, title, unique_id, hash_ok, content FROM \
                 mss_inbox_documents WHERE inbox_id = ? ORDER BY idx",
            ))
            .bind(id)
            .fetch_all(p)
            .await
        })?;
        let docs = docs
            .into_iter()
            .map(|d| InboxDocumentRow {
                path: d.0,
                mime_type: d.1,
                title: d.2,
                unique_id: d.3,
                hash_ok: d.4,
                content: d.5,
            })
            .collect();
        Ok((row, docs))
    }

    /// Sets the status of a received message.
    pub async fn mss_inbox_set(
        &self,
        id: &str,
        status: &str,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        on_pool!(self, |p, sql| sqlx::query(sql(
            "UPDATE mss_inbox SET status = ?, detail = ? WHERE id = ?"
        ))
        .bind(status)
        .bind(detail.to_string())
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
