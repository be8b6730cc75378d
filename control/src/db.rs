//! The database: one `sqlx` pool over the `Any` driver, so every query is written once for SQLite
//! (the embedded default) and Postgres (production); migrations embedded from `migrations/` and run
//! at start. Queries bind `$1`-style parameters, which both drivers accept.

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Connection};

/// Which database the URL named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://path` (created on first start).
    Sqlite,
    /// `postgres://` or `postgresql://`.
    Postgres,
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL is neither `sqlite:` nor `postgres:`.
    #[error("--db must be sqlite://PATH or postgres://...: {0}")]
    BadUrl(String),
    /// Connecting or a pragma failed.
    #[error("cannot open the database: {0}")]
    Connect(#[from] sqlx::Error),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The pool and what it talks to.
#[derive(Clone, Debug)]
pub struct Db {
    /// Bounded: `max_connections` of [`connect`].
    pub pool: AnyPool,
    /// SQLite or Postgres.
    pub backend: Backend,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Opens (creating a SQLite file when missing), migrates and returns the pool.
pub async fn connect(url: &str, max_connections: u32) -> Result<Db, DbError> {
    install_default_drivers();
    let (backend, url) = if let Some(rest) = url.strip_prefix("sqlite:") {
        // `mode=rwc` creates the file on first start.
        let url = if rest.contains("mode=") {
            url.to_string()
        } else if rest.contains('?') {
            format!("{url}&mode=rwc")
        } else {
            format!("{url}?mode=rwc")
        };
        (Backend::Sqlite, url)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        (Backend::Postgres, url.to_string())
    } else {
        return Err(DbError::BadUrl(url.to_string()));
    };
    if backend == Backend::Sqlite {
        // WAL lets readers run beside the one writer; it is a property of the file, set once here
        // on a lone connection because switching needs an exclusive lock busy waits cannot get.
        let mut c = sqlx::AnyConnection::connect(&url).await?;
        sqlx::query("PRAGMA journal_mode = WAL").execute(&mut c).await?;
        c.close().await?;
    }
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // Writers queue for the write lock instead of failing at once.
                    sqlx::query("PRAGMA busy_timeout = 15000").execute(&mut *conn).await?;
                    sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                }
                Ok(())
            })
        })
        .connect(&url)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(Db { pool, backend })
}

/// Now, RFC 3339 UTC with milliseconds (sorts as text).
pub fn now_rfc3339() -> String {
    vario_core::time::format_rfc3339_millis(now_ms())
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A new opaque, time-ordered id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
