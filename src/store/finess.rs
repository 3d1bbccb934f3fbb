//! FINESS national files of the current generation (see the migration `0003_finess.sql`).

use super::on_pool;
use super::{Store, StoreError, now_text};

/// One stored national file.
#[derive(Debug, Clone)]
pub struct StoredFile {
    /// File name as given to the import.
    pub name: String,
    /// SHA-256 of the original bytes, hex.
    pub sha256: String,
    /// Import summary (JSON).
    pub summary: serde_json::Value,
    /// The file, gzip-compressed.
    pub content: Vec<u8>,
}

impl Store {
    /// Replaces the current FINESS generation by `files`, atomically; returns the new generation number.
    pub async fn finess_replace(&self, files: &[StoredFile]) -> Result<i64, StoreError> {
        let generation = on_pool!(self, |p, sql| {
            let mut tx = p.begin().await?;
            if self.postgres().is_some() {
                // Two daemons importing at once: one after the other (SQLite writers are serial already).
                sqlx::query("LOCK TABLE finess_files IN EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await?;
            }
            let current: Option<i64> =
                sqlx::query_scalar(sql("SELECT MAX(generation) FROM finess_files"))
                    .fetch_one(&mut *tx)
                    .await?;
            let generation = current.unwrap_or(0) + 1;
            sqlx::query(sql("DELETE FROM finess_files"))
                .execute(&mut *tx)
                .await?;
            let at = now_text();
            for f in files {
                sqlx::query(sql(
                    "INSERT INTO finess_files (generation, name, sha256, imported_at, \
                 summary, content) VALUES (?, ?, ?, ?, ?, ?)",
                ))
                .bind(generation)
                .bind(&f.name)
                .bind(&f.sha256)
                .bind(&at)
                .bind(f.summary.to_string())
                .bind(&f.content)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            generation
        });
        Ok(generation)
    }

    /// The current generation number, if any import was made.
    pub async fn finess_generation(&self) -> Result<Option<i64>, StoreError> {
        Ok(on_pool!(self, |p, sql| sqlx::query_scalar(sql(
            "SELECT MAX(generation) FROM finess_files"
        ))
        .fetch_one(p)
        .await)?)
    }

    /// SHA-256 of the files of the current generation, in import order.
    pub async fn finess_hashes(&self) -> Result<Vec<String>, StoreError> {
        Ok(on_pool!(self, |p, sql| sqlx::query_scalar(sql(
            "SELECT sha256 FROM finess_files ORDER BY id"
        ))
        .fetch_all(p)
        .await)?)
    }

    /// The files of the current generation, in import order.
    pub async fn finess_files(&self) -> Result<(Option<i64>, Vec<StoredFile>), StoreError> {
        let rows: Vec<(i64, String, String, String, Vec<u8>)> =
            on_pool!(self, |p, sql| sqlx::query_as(sql(
                "SELECT generation, name, sha256, summary, content FROM finess_files \
                 ORDER BY id"
            ))
            .fetch_all(p)
            .await)?;
        let generation = rows.first().map(|r| r.0);
        let files = rows
            .into_iter()
            .map(|(_, name, sha256, summary, content)| {
                Ok(StoredFile {
                    name,
                    sha256,
                    summary: serde_json::from_str(&summary)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    content,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((generation, files))
    }
}
