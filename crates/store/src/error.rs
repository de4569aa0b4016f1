//! Errors of the store. They describe what happened to the data (not found,
//! conflict, unavailable), never how an HTTP client should see it.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("the database URL must start with sqlite:// or postgres://")]
    UnsupportedUrl,
    #[error("the record was not found")]
    NotFound,
    /// A unique constraint refused the write; `constraint` names what clashed.
    #[error("the record clashes with an existing one ({constraint})")]
    Conflict { constraint: String },
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("the database was migrated by a newer version of Varco (migration {version} is unknown to this binary)")]
    TooNew { version: i64 },
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("a stored value is invalid: {0}")]
    Corrupt(String),
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
