//! Durable state: SQLite by default (one file, WAL, foreign keys on, migrations embedded and applied at start).
//!
//! Every query lives in this module behind [`Store`]'s methods, written in SQL both SQLite and PostgreSQL accept
//! (no `INSERT OR REPLACE`, no SQLite date functions; times are RFC 3339 UTC text produced in Rust), so that the
//! PostgreSQL backend of the fleet mode can be added as a second `Backend` variant with its own migrations
//! directory without touching callers. Migrations may use backend-specific DDL (the audit triggers).

pub mod apikeys;
pub mod audit;
pub mod dmp;
pub mod finess;
pub mod mss;
pub mod outbox;
pub mod persons;
pub mod pg;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// Store errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database file or its directory could not be created or opened.
    #[error("cannot open the store at {}: {reason}", path.display())]
    Open {
        /// Database file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A migration failed.
    #[error("store migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("store query failed: {0}")]
    Query(#[from] sqlx::Error),
    /// A value asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A value already exists, or changed under the caller.
    #[error("{0}")]
    Conflict(String),
    /// Stored data cannot be read back.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqlitePool),
}

/// Handle on the store; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

impl Store {
    /// Opens (creating when missing) the SQLite database at `path` and applies the migrations.
    pub async fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        let open_err = |reason: String| StoreError::Open {
            path: path.to_path_buf(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir).map_err(|e| open_err(e.to_string()))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| open_err(e.to_string()))?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| open_err(e.to_string()))?;
        SQLITE_MIGRATIONS.run(&pool).await?;
        Ok(Store {
            backend: Backend::Sqlite(pool),
        })
    }

    /// A cheap round trip, for `/health`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(p) => {
                sqlx::query("SELECT 1").execute(p).await?;
            }
        }
        Ok(())
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(p) => p.close().await,
        }
    }

    fn sqlite(&self) -> &SqlitePool {
        match &self.backend {
            Backend::Sqlite(p) => p,
        }
    }
}

/// Now, as stored: RFC 3339 UTC with milliseconds.
pub(crate) fn now_text() -> String {
    timestamp(time::OffsetDateTime::now_utc())
}

/// A time as stored: the same `YYYY-MM-DDTHH:MM:SS.mmmZ` UTC form as INSi's `Temps`.
pub(crate) fn timestamp(t: time::OffsetDateTime) -> String {
    crate::ins::soap::format_temps(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn opens_migrates_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/segur.db");
        let s = Store::open_sqlite(&path).await.unwrap();
        s.ping().await.unwrap();
        s.close().await;
        let s = Store::open_sqlite(&path).await.unwrap();
        s.ping().await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(s.sqlite())
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(s.sqlite())
            .await
            .unwrap();
        assert_eq!(fk, 1);
    }

    #[test]
    fn timestamps_are_rfc3339_utc_millis() {
        let t = time::macros::datetime!(2026-11-24 08:09:10.123 +01:00);
        assert_eq!(timestamp(t), "2026-11-24T07:09:10.123Z");
    }
}
