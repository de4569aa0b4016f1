//! The only place in Varco that speaks SQL.
//!
//! One [`Store`] fronts either SQLite (the embedded default, a file in the data
//! directory in WAL mode) or PostgreSQL (for deployments with several nodes).
//! Both engines are reached through sqlx's `Any` driver with portable SQL:
//! integers, text and `$N` placeholders only, times as unix seconds. The few
//! places where the engines differ (connection pragmas, how a write
//! transaction starts) are handled here, never in callers.
//!
//! Callers open a [`Tx`] and use the repository methods defined in the
//! submodules (`schools`, `accounts`, ...). Every method returns
//! [`StoreError`]; no HTTP or domain error type leaks in here.

mod accounts;
mod audit;
mod audit_search;
mod confirmations;
mod email_changes;
mod error;
mod federation;
mod federation_keys;
mod lifecycle;
mod login_throttle;
mod migrations;
mod oidc;
mod operators;
mod outbox;
mod requests;
mod roles;
mod school_contacts;
mod schools;
mod second_secrets;
mod sessions;
mod students;
mod tokens;
mod upstream_logins;
mod year_end;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Executor, Transaction};

pub use accounts::{AccountFilter, AccountRecord, AccountSearch, NewAccount, RosterUpdate, SearchScope};
pub use audit::{AuditFilter, AuditRecord, NewAuditEvent};
pub use audit_search::AuditSearch;
pub use confirmations::{ConfirmationRecord, ConfirmationStatus, NewConfirmation};
pub use email_changes::{EmailChangeRecord, NewEmailChange};
pub use error::StoreError;
pub use federation::{
    ChainVerification, FederationLogRecord, NewFederationLogEntry, NewUpstreamIdentity, UpstreamIdentityRecord,
};
pub use federation_keys::{FederationKeyPurpose, FederationKeyRecord};
pub use lifecycle::PasswordAge;
pub use migrations::{MIGRATION_NAMES, MigrationReport};
pub use oidc::{
    BearerRecord, ClientRecord, CodeRecord, CodeSpend, GrantRecord, KeyRecord, NewClient, NewCode, NewGrant,
    OIDC_GRANT_RETENTION_SECS, RefreshUse,
};
pub use operators::RoleHolder;
pub use outbox::{NewOutboxMessage, OutboxFilter, OutboxRecord};
pub use requests::{NewRequest, RequestRecord, RequestStatus};
pub use roles::RoleGrant;
pub use school_contacts::SchoolUpdate;
pub use schools::{NewSchool, SchoolRecord};
pub use second_secrets::SecondSecretRecord;
pub use sessions::{NewSession, SessionRecord};
pub use students::{GuardianLink, LinkedStudent, NewStudent, StudentRecord, StudentSearch, StudentUpdate};
pub use tokens::{NewToken, TokenRecord};
pub use upstream_logins::{NewUpstreamLogin, UpstreamLoginRecord, UpstreamLoginStage};
pub use year_end::RosterAccount;

/// Which engine a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file (the embedded default).
    Sqlite,
    /// A PostgreSQL server (for deployments with several nodes).
    Postgres,
}

impl Backend {
    /// Tells the engine from a database URL, or `None` for an unsupported scheme.
    pub fn from_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    /// The engine's name, as shown by health checks and logs.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Connection pool settings.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// How long a caller waits for a free connection before [`StoreError::Unavailable`].
    pub acquire_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// A pool of connections to one database, with Varco's schema.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite only: the one write transaction of this process at a time.
    /// SQLite has a single writer; without this queue, waiting writers
    /// poll the lock in SQLite's busy handler, which sleeps up to 100 ms
    /// between tries. Queued here they start in order the moment the lock
    /// is free. Other processes (the CLI) still meet the busy timeout.
    write_queue: Option<Arc<Semaphore>>,
    /// How long [`Store::begin`] waits in that queue before
    /// [`StoreError::Unavailable`] (the pool's acquire timeout).
    write_wait: Duration,
}

/// A database transaction; dropped without [`Tx::commit`] it rolls back.
///
/// A `Tx` from [`Store::read`] is no transaction at all: each statement
/// runs on its own (autocommit) and sees the latest committed data, and
/// [`Tx::commit`] only hands the connection back.
#[derive(Debug)]
pub struct Tx {
    inner: TxInner,
    backend: Backend,
    /// The place in the SQLite write queue, released after `inner` ends
    /// (fields drop in declaration order).
    _writer: Option<OwnedSemaphorePermit>,
}

/// What a [`Tx`] holds: a real transaction, or a bare pooled connection.
#[derive(Debug)]
enum TxInner {
    Transaction(Transaction<'static, Any>),
    Autocommit(PoolConnection<Any>),
}

/// How long a PostgreSQL connection may sit idle in the pool before it is
/// pinged on its next use.
const IDLE_BEFORE_PING: std::time::Duration = std::time::Duration::from_secs(30);

impl Store {
    /// Opens a pool. For SQLite the file is created when missing and every
    /// connection gets WAL, foreign keys and a busy timeout.
    pub async fn connect(url: &str, options: &ConnectOptions) -> Result<Store, StoreError> {
        install_default_drivers();
        let backend = Backend::from_url(url).ok_or(StoreError::UnsupportedUrl)?;
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            // No health check on every acquire: it is one more round trip
            // per request (to SQLite's worker thread, or to the PostgreSQL
            // server). A PostgreSQL connection idle for a while (the server
            // may have been restarted, or an idle timeout closed it) is
            // still checked before use; SQLite lives in this process.
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                Box::pin(async move {
                    if backend == Backend::Postgres && meta.idle_for >= IDLE_BEFORE_PING {
                        return Ok(sqlx::Connection::ping(conn).await.is_ok());
                    }
                    Ok(true)
                })
            })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                             PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(StoreError::from_connect)?;
        let write_queue = (backend == Backend::Sqlite).then(|| Arc::new(Semaphore::new(1)));
        Ok(Store {
            pool,
            backend,
            write_queue,
            write_wait: options.acquire_timeout,
        })
    }

    /// The engine this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations; refuses a database migrated by a newer binary.
    pub async fn migrate(&self) -> Result<MigrationReport, StoreError> {
        migrations::run(&self.pool, self.backend).await
    }

    /// A cheap round trip, for health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock
    /// up front (`BEGIN IMMEDIATE`) so two writers queue on the busy timeout
    /// instead of failing when a read lock would have to be upgraded.
    ///
    /// On SQLite, writers of this process also queue in order before
    /// taking a connection (see `write_queue`); waiting longer than the
    /// pool's acquire timeout is [`StoreError::Unavailable`], so a task that
    /// (wrongly) begins a second write while holding one fails instead of
    /// hanging.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let writer = match &self.write_queue {
            Some(queue) => Some(
                tokio::time::timeout(self.write_wait, Arc::clone(queue).acquire_owned())
                    .await
                    .map_err(|_| StoreError::Unavailable("timed out waiting for the SQLite write lock".into()))?
                    .map_err(|_| StoreError::Unavailable("the store is closed".into()))?,
            ),
            None => None,
        };
        let inner = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(Tx {
            inner: TxInner::Transaction(inner),
            backend: self.backend,
            _writer: writer,
        })
    }

    /// Starts a transaction that only reads: its statements see one
    /// consistent state of the database.
    pub async fn begin_read(&self) -> Result<Tx, StoreError> {
        Ok(Tx {
            inner: TxInner::Transaction(self.pool.begin().await?),
            backend: self.backend,
            _writer: None,
        })
    }

    /// A connection for reads that need no consistent snapshot across
    /// statements (the hot paths: one statement, or statements whose
    /// answers are each checked on their own). It saves the `BEGIN` and
    /// `COMMIT` round trips of [`Store::begin_read`]; use it only to read.
    pub async fn read(&self) -> Result<Tx, StoreError> {
        Ok(Tx {
            inner: TxInner::Autocommit(self.pool.acquire().await?),
            backend: self.backend,
            _writer: None,
        })
    }

    /// Closes every connection (at shutdown, after in-flight requests ended).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl Tx {
    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self.inner {
            TxInner::Transaction(tx) => tx.commit().await?,
            TxInner::Autocommit(_) => {}
        }
        Ok(())
    }

    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        match &mut self.inner {
            TxInner::Transaction(tx) => tx,
            TxInner::Autocommit(conn) => conn,
        }
    }
}
