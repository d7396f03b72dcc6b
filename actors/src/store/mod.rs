//! The store: sea-orm over SQLite (embedded) or PostgreSQL (distributed).
//! Everything here runs on both backends.

mod alerts;
mod audit;
mod dead_letters;
mod decisions;
mod drift;
pub mod entity;
mod evaluation;
mod features;
mod fraud;
mod history;
mod labels;
mod models;
mod raw_events;
mod recovery;
mod scores;
mod training_data;

use std::path::Path;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, RuntimeErr,
};

pub use alerts::{AlertFilter, OPEN};
pub use audit::{AuditFilter, AuditRecord, PENDING};
pub use dead_letters::DeadLetter;
pub use decisions::{DecisionRecord, RawEvents};
pub use drift::{DriftRow, NewDriftReport, ScoreRow, WindowSpec};
pub use evaluation::Entity;
pub use features::OnExisting;
pub use fraud::LabelTarget;
pub use history::HistoryScope;
pub use models::{ModelSummary, NewModel, Stage, summary};

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot connect to {url}: {source}")]
    Connect { url: String, source: DbErr },
    #[error("migrations failed: {0}")]
    Migrate(DbErr),
}

/// A handle on the database, cheap to clone (it is a connection pool).
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// The Decider's writes (`record_decisions`). On SQLite a pool of one
    /// connection of its own: SQLite has one writer at a time anyway, and a
    /// connection that does all the writing keeps its page cache valid
    /// (another connection's commit invalidates it) and its insert
    /// statements prepared. On PostgreSQL the shared pool.
    writer: DatabaseConnection,
}

/// The SQLite URL of `vigil.db` in `data_dir`.
pub fn sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("vigil.db").display())
}

impl Store {
    /// Connects and runs every pending migration.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let store = Store::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating. For SQLite the file's directory is
    /// created if missing.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        if let Some(dir) = sqlite_dir(url) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let db = Store::pool(url, 8).await?;
        // Each connection to an in-memory SQLite database is a database
        // of its own: such a store shares its one pool.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let writer = match db.get_database_backend() {
            DbBackend::Sqlite if !in_memory => Store::pool(url, 1).await?,
            _ => db.clone(),
        };
        Ok(Store { db, writer })
    }

    /// A pool of at most `connections` connections to `url`.
    async fn pool(url: &str, connections: u32) -> Result<DatabaseConnection, StoreError> {
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .sqlx_logging(false)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(10))
            .max_connections(connections)
            // WAL lets readers (the API) run while the raw store writes;
            // synchronous=NORMAL is durable across process crashes in WAL
            // mode and avoids an fsync per commit; busy_timeout makes a
            // writer wait for the lock instead of failing. The default page
            // cache (2 MiB) made inserts into the random-UUID primary key
            // re-read pages from disk: 64 MiB per connection keeps the hot
            // part of the indexes in memory, and checkpointing every 4,000
            // pages instead of 1,000 cuts checkpoint work during backfill.
            .map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .pragma("cache_size", "-65536")
                    .pragma("wal_autocheckpoint", "4000")
                    .pragma("temp_store", "memory")
            });
        Database::connect(options)
            .await
            .map_err(|source| StoreError::Connect {
                url: redact(url),
                source,
            })
    }

    /// Runs the migrations that have not run yet, and says which in one
    /// line (sea-orm's migrator logs a line per step at `info`; Vigil
    /// keeps dependencies at `warn`).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let pending: Vec<String> = Migrator::get_pending_migrations(&self.db)
            .await
            .map_err(StoreError::Migrate)?
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        Migrator::up(&self.db, None)
            .await
            .map_err(StoreError::Migrate)?;
        if !pending.is_empty() {
            tracing::info!(
                count = pending.len(),
                first = pending.first().map(String::as_str),
                last = pending.last().map(String::as_str),
                "migrations applied"
            );
        }
        Ok(())
    }

    /// Closes the connections once they are returned: the last step of a
    /// graceful stop.
    pub async fn close(&self) {
        if let Err(e) = self.db.close_by_ref().await {
            tracing::warn!(error = %e, "cannot close the store");
        }
        if let Err(e) = self.writer.close_by_ref().await {
            tracing::warn!(error = %e, "cannot close the store's writer");
        }
    }

    /// The underlying sea-orm connection.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match self.db.get_database_backend() {
            DbBackend::Sqlite => "sqlite",
            DbBackend::Postgres => "postgres",
            _ => "other",
        }
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.db.execute_unprepared("SELECT 1").await.map(|_| ())
    }
}

/// Inserts `rows`, skipping those whose primary key is already stored;
/// returns how many were new. The one idempotent write path of the
/// insert-only tables.
async fn insert_new<A>(
    db: &impl ConnectionTrait,
    rows: impl IntoIterator<Item = A>,
) -> Result<u64, DbErr>
where
    A: sea_orm::ActiveModelTrait,
{
    use sea_orm::EntityTrait;
    let result = A::Entity::insert_many(rows)
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await?;
    Ok(match result {
        sea_orm::TryInsertResult::Inserted(n) => n,
        _ => 0,
    })
}

/// Splits `rows` into chunks whose lengths are powers of two, at most
/// `max` rows each. A multi-row INSERT's SQL depends on its row count, and
/// sqlx keeps prepared statements per connection by their SQL: with a few
/// sizes the statements stay prepared, where one size per batch length
/// had SQLite parse a new statement of thousands of placeholders for
/// almost every batch (a tenth of a backfill's time).
pub(super) fn statement_chunks<T>(rows: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = max.min(1 << rest.len().ilog2());
        let (chunk, after) = rest.split_at(size);
        rest = after;
        Some(chunk)
    })
}

/// True when `err` means the database could not be reached (as opposed to
/// a query it refused): such failures are worth retrying as they are.
pub fn is_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.as_ref() {
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                sqlx::Error::Database(db) => db.code().is_some_and(|c| server_going_away(&c)),
                _ => false,
            }
        }
        _ => false,
    }
}

/// PostgreSQL's SQLSTATEs for a server that is stopping, starting or out of
/// reach: class 08 (connection exception) and 57P01–57P03 (terminated by
/// an administrator, crash shutdown, cannot connect now). A stopped server
/// answers an open connection's next query with 57P01, which must be
/// waited out like a refused connection, not dead-lettered.
fn server_going_away(sqlstate: &str) -> bool {
    sqlstate.starts_with("08") || matches!(sqlstate, "57P01" | "57P02" | "57P03")
}

fn sqlite_dir(url: &str) -> Option<&Path> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next()?;
    if path.is_empty() || path.starts_with(":memory:") {
        return None;
    }
    Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_chunks_are_powers_of_two_in_order() {
        let rows: Vec<u32> = (0..206).collect();
        let sizes: Vec<usize> = statement_chunks(&rows, 64).map(<[u32]>::len).collect();
        assert_eq!(sizes, [64, 64, 64, 8, 4, 2]);
        let joined: Vec<u32> = statement_chunks(&rows, 64).flatten().copied().collect();
        assert_eq!(joined, rows);
        assert_eq!(statement_chunks(&rows[..0], 64).count(), 0);
        assert_eq!(statement_chunks(&rows[..1], 64).count(), 1);
    }

    #[test]
    fn sqlite_directory_is_found_in_the_url() {
        assert_eq!(
            sqlite_dir("sqlite://data/vigil.db?mode=rwc"),
            Some(Path::new("data"))
        );
        assert_eq!(sqlite_dir("sqlite::memory:"), None);
        assert_eq!(sqlite_dir("sqlite://vigil.db"), None);
        assert_eq!(sqlite_dir("postgres://x@y/z"), None);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://bob:secret@db:5432/v"),
            "postgres://bob:***@db:5432/v"
        );
        assert_eq!(redact("postgres://bob@db/v"), "postgres://bob@db/v");
        assert_eq!(redact("sqlite://data/vigil.db"), "sqlite://data/vigil.db");
    }

    #[test]
    fn a_stopping_server_is_waited_out_but_a_refused_query_is_not() {
        assert!(server_going_away("57P01"));
        assert!(server_going_away("57P03"));
        assert!(server_going_away("08006"));
        assert!(!server_going_away("23505"));
        assert!(!server_going_away("42P01"));
    }
}
