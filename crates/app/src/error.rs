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
    /// A request of the OpenID Connect provider refused with one of the
    /// error codes of RFC 6749 / 7009 / 7662 / 6750.
    #[error("{0}")]
    OAuth(OAuthError),
}

/// An error of the provider's token, revocation, introspection or userinfo
/// endpoints: the code the specifications name, and a short description
/// (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}: {description}", code.as_str())]
pub struct OAuthError {
    pub code: OAuthCode,
    pub description: &'static str,
}

/// The error codes of RFC 6749 §5.2 and RFC 6750 §3.1 Varco answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthCode {
    InvalidRequest,
    /// The client's authentication failed (401).
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedTokenType,
    InvalidScope,
    /// A bearer token that is unknown, expired or revoked (401).
    InvalidToken,
}

impl OAuthCode {
    /// The code as the specifications spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthCode::InvalidRequest => "invalid_request",
            OAuthCode::InvalidClient => "invalid_client",
            OAuthCode::InvalidGrant => "invalid_grant",
            OAuthCode::UnauthorizedClient => "unauthorized_client",
            OAuthCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthCode::UnsupportedTokenType => "unsupported_token_type",
            OAuthCode::InvalidScope => "invalid_scope",
            OAuthCode::InvalidToken => "invalid_token",
        }
    }
}

impl AppError {
    /// A provider error with its code and description.
    pub fn oauth(code: OAuthCode, description: &'static str) -> AppError {
        AppError::OAuth(OAuthError { code, description })
    }
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
