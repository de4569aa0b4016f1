//! The errors of Varco's use cases.
//!
//! Rule: an error here says what went wrong in the school's terms (bad
//! credentials, throttled, a field that does not validate, a missing school).
//! Mapping to HTTP happens in one place only, `varco_web::problem`; the CLI
//! prints the Display text. No variant ever carries a secret.

use thiserror::Error;
use varco_domain::password::PolicyRefusal;
use varco_store::StoreError;

#[derive(Debug, Error)]
pub enum AppError {
    /// Unknown account, wrong password, locked, disabled: one answer for all.
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("too many attempts; retry in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    /// Wrong passwords were typed for this login text (whether or not an
    /// account answers to it): the next attempt must wait. The same schedule
    /// and words for a real account and an unknown login.
    #[error("too many wrong passwords; retry in {retry_after_secs} s")]
    LoginDelayed { retry_after_secs: u64 },
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("the input is too long")]
    InputTooLong,
    #[error("the password does not meet the policy")]
    PasswordPolicy(PolicyRefusal),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("authentication required")]
    Unauthenticated,
    #[error("the password must be changed first")]
    PasswordChangeRequired,
    #[error("the link is invalid, expired or already used")]
    InvalidToken,
    #[error("the service is temporarily unavailable")]
    Unavailable(#[source] StoreError),
    /// The password-hashing queue is full: retry in a moment.
    #[error("the service is busy; retry in a moment")]
    Busy,
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn invalid(field: &'static str, message: impl std::fmt::Display) -> AppError {
        AppError::Invalid {
            field,
            message: message.to_string(),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => AppError::Unavailable(error),
            StoreError::NotFound => AppError::NotFound("record"),
            StoreError::Conflict { constraint } => AppError::Conflict(format!("already exists ({constraint})")),
            other => AppError::Internal(other.to_string()),
        }
    }
}
