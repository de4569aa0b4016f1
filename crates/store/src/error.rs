//! Errors of the store. They describe what happened to the data (not found,
//! conflict, unavailable), never how an HTTP client should see it.

use thiserror::Error;

/// What went wrong in the store.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The URL names no engine Varco supports.
    #[error("the database URL must start with sqlite:// or postgres://")]
    UnsupportedUrl,
    /// A row the statement had to find does not exist.
    #[error("the record was not found")]
    NotFound,
    /// A unique constraint refused the write; `constraint` names what clashed.
    #[error("the record clashes with an existing one ({constraint})")]
    Conflict {
        /// The constraint, or the database's message when it names none.
        constraint: String,
    },
    /// The database cannot be reached (I/O, pool timeout, TLS) or the URL is malformed.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The database holds a migration this binary does not know.
    #[error("the database was migrated by a newer version of Varco (migration {version} is unknown to this binary)")]
    TooNew {
        /// The version of an applied migration this binary does not know.
        version: i64,
    },
    /// Applying a migration failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// A stored value does not parse (an unknown enum spelling, for instance).
    #[error("a stored value is invalid: {0}")]
    Corrupt(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Other(#[source] sqlx::Error),
}

impl StoreError {
    pub(crate) fn from_connect(error: sqlx::Error) -> StoreError {
        match error {
            sqlx::Error::Configuration(e) => StoreError::Unavailable(format!("bad database URL: {e}")),
            other => StoreError::from(other),
        }
    }

    /// Whether a unique constraint refused the write.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict {
                constraint: db
                    .constraint()
                    .map(str::to_owned)
                    .unwrap_or_else(|| db.message().to_owned()),
            },
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => {
                StoreError::Unavailable(error.to_string())
            }
            _ => StoreError::Other(error),
        }
    }
}
