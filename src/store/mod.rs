//! Durable state: SQLite by default (one file, WAL, foreign keys on, migrations embedded and applied at start),
//! PostgreSQL for the fleet mode (`store.url = "postgres://…"`: several daemons share one database).
//!
//! Every query lives in this module behind [`Store`]'s methods, written in SQL both SQLite and PostgreSQL accept
//! (no `INSERT OR REPLACE`, no SQLite date functions; times are RFC 3339 UTC text produced in Rust).
//!
//! **Two backends, one `Store`.** [`Store`] holds either a `SqlitePool` or a `PgPool` (a private enum); callers
//! never see which. Each method runs the same statement text on either pool through the `on_pool!` macro, which
//! expands the query code once per backend: the SQLite path keeps its statically typed `sqlx::Sqlite` code (the
//! same queries, binds and pool settings as before: its behaviour and speed are unchanged), and the PostgreSQL
//! path gets the statement with its `?` placeholders rewritten to `$1, $2…` (`pg_sql`, converted once per
//! statement and cached). Why not sqlx's `Any` driver: it would route the SQLite path through a dynamically typed
//! layer too (every row converted, no `SqliteConnectOptions` for WAL/`synchronous = FULL`), and it does not
//! rewrite placeholders either. Why not a trait with two implementations: every query would be written twice.
//! The few statements that differ by dialect are written twice where they are (the outbox claim with
//! `FOR UPDATE SKIP LOCKED` and the audit chain's sequence row live in [`pg`]; `rowid` ordering, the FINESS import
//! lock). Migrations are per backend: `migrations/sqlite/` and `migrations/postgres/` (the same tables and
//! columns; `BIGINT`/`BYTEA`/`BOOLEAN`/identity columns on PostgreSQL; the simulator's table gets an explicit
//! insertion sequence instead of `rowid`). Several daemons may run the PostgreSQL migrations at once: sqlx holds
//! an advisory lock while migrating.
//!
//! What stays in the data directory (`store.path`'s directory) even on PostgreSQL: the daemon's instance id and
//! the sandbox API key — per daemon, not shared (the instance id names the daemon's outbox leases).

pub mod apikeys;
pub mod audit;
pub mod dmp;
pub mod finess;
pub mod mss;
pub mod outbox;
pub mod persons;
pub mod pg;

pub mod testpg;

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
    /// The durable pool (`synchronous = FULL`) and the relaxed one ([`Store::relaxed_pools`]).
    Sqlite(SqlitePool, SqlitePool),
    Postgres(pg::PgStore),
}

/// The pool of a [`Store`], for the `on_pool!` macro.
pub(crate) enum Pools<'a> {
    Sqlite(&'a SqlitePool),
    Postgres(&'a sqlx::PgPool),
}

/// Runs `$body` with `$pool` bound to the store's pool and `$sql` to a function giving a statement's text in the
/// backend's placeholder style (`?` as written, or `$n` on PostgreSQL). The body is compiled once per backend.
macro_rules! on_pool {
    (relaxed $store:expr, |$pool:ident, $sql:ident| $body:expr) => {
        $crate::store::on_pool!(@ $store.relaxed_pools(), |$pool, $sql| $body)
    };
    ($store:expr, |$pool:ident, $sql:ident| $body:expr) => {
        $crate::store::on_pool!(@ $store.pools(), |$pool, $sql| $body)
    };
    (@ $pools:expr, |$pool:ident, $sql:ident| $body:expr) => {
        match $pools {
            $crate::store::Pools::Sqlite($pool) => {
                #[allow(unused_variables)]
                let $sql = |s: &'static str| -> &'static str { s };
                $body
            }
            $crate::store::Pools::Postgres($pool) => {
                #[allow(unused_variables)]
                let $sql = $crate::store::pg_sql;
                $body
            }
        }
    };
}
pub(crate) use on_pool;

/// A statement written with `?` placeholders, rewritten for PostgreSQL (`$1`, `$2`… in order; `?` inside quoted
/// literals left alone). Converted once per distinct statement and kept for the life of the process (statements
/// are `'static` text from the source, so the cache is bounded by their number).
pub(crate) fn pg_sql(sql: &'static str) -> &'static str {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<&'static str, &'static str>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut map = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    map.entry(sql)
        .or_insert_with(|| Box::leak(number_placeholders(sql).into_boxed_str()))
}

fn number_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
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
            .connect_with(options.clone())
            .await
            .map_err(|e| open_err(e.to_string()))?;
        SQLITE_MIGRATIONS.run(&pool).await?;
        let relaxed = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options.synchronous(SqliteSynchronous::Normal))
            .await
            .map_err(|e| open_err(e.to_string()))?;
        Ok(Store {
            backend: Backend::Sqlite(pool, relaxed),
        })
    }

    /// Connects to the PostgreSQL database at `url` (`postgres://…`) and applies the migrations
    /// (`migrations/postgres/`).
    pub async fn open_postgres(url: &str) -> Result<Self, StoreError> {
        Ok(Store {
            backend: Backend::Postgres(pg::PgStore::open(url, PG_CONNECTIONS).await?),
        })
    }

    /// Opens the store the configuration names: PostgreSQL when `store.url` is set, the SQLite file `store.path`
    /// otherwise.
    pub async fn open(config: &crate::config::StoreConfig) -> Result<Self, StoreError> {
        match &config.url {
            Some(url) => Self::open_postgres(url.expose()).await,
            None => Self::open_sqlite(&config.path).await,
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(..) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// The PostgreSQL tables, in fleet mode.
    pub fn postgres(&self) -> Option<&pg::PgStore> {
        match &self.backend {
            Backend::Postgres(p) => Some(p),
            Backend::Sqlite(..) => None,
        }
    }

    /// A cheap round trip, for `/health`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, |p, sql| sqlx::query(sql("SELECT 1"))
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(p, relaxed) => {
                relaxed.close().await;
                p.close().await
            }
            Backend::Postgres(p) => p.close().await,
        }
    }

    /// The SQLite pool, or the PostgreSQL tables whose statements are written apart in [`pg`].
    pub(crate) fn split(&self) -> Result<&SqlitePool, &pg::PgStore> {
        match &self.backend {
            Backend::Sqlite(p, ..) => Ok(p),
            Backend::Postgres(p) => Err(p),
        }
    }

    /// [`Store::split`] with the relaxed SQLite pool.
    pub(crate) fn split_relaxed(&self) -> Result<&SqlitePool, &pg::PgStore> {
        match &self.backend {
            Backend::Sqlite(_, relaxed) => Ok(relaxed),
            Backend::Postgres(p) => Err(p),
        }
    }

    pub(crate) fn pools(&self) -> Pools<'_> {
        match &self.backend {
            Backend::Sqlite(p, ..) => Pools::Sqlite(p),
            Backend::Postgres(p) => Pools::Postgres(p.pool()),
        }
    }

    /// The pools for writes that need not survive a power cut, only the process being killed: on SQLite a second
    /// pool on the same file with `synchronous = NORMAL` (in WAL mode its commits reach the OS, not the disk,
    /// before returning; a `kill -9` keeps them, a machine crash may undo the last ones). Used by the outbox's
    /// claims and outcomes (see [`outbox`]) and by the sandbox simulators, which stand for remote services whose
    /// durability is theirs, not the gateway's. PostgreSQL has one pool.
    pub(crate) fn relaxed_pools(&self) -> Pools<'_> {
        match &self.backend {
            Backend::Sqlite(_, relaxed) => Pools::Sqlite(relaxed),
            Backend::Postgres(p) => Pools::Postgres(p.pool()),
        }
    }

    /// The SQLite pool (tests that tamper with the file's tables).
    #[cfg(test)]
    fn sqlite(&self) -> &SqlitePool {
        match &self.backend {
            Backend::Sqlite(p, ..) => p,
            Backend::Postgres(_) => panic!("not a SQLite store"),
        }
    }
}

/// Connections per daemon to PostgreSQL: the outbox workers, the API and the audit writer share them; the server's
/// default `max_connections` (100) then leaves room for a dozen daemons.
const PG_CONNECTIONS: u32 = 8;

/// Now, as stored: RFC 3339 UTC with milliseconds.
pub(crate) fn now_text() -> String {
    timestamp(time::OffsetDateTime::now_utc())
}

/// A time as stored: the same `YYYY-MM-DDTHH:MM:SS.mmmZ` UTC form as INSi's `Temps`.
pub(crate) fn timestamp(t: time::OffsetDateTime) -> String {
    crate::ins::soap::format_temps(t)
}

#[cfg(test)]
pub(crate) mod tests;
