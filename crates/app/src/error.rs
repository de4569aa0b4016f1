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
    /// The change clashes with data already there. `message` says what in
    /// the school's terms (the client sees it); `source` keeps the store's
    /// error, with the constraint's name, for the log only.
    #[error("{message}")]
    Conflict {
        message: String,
        #[source]
        source: Option<StoreError>,
    },
    #[error("authentication required")]
    Unauthenticated,
    #[error("the password must be changed first")]
    PasswordChangeRequired,
    /// The login policy keeps this account to SPID/CIE: no password may be
    /// used or set. Only answered to someone who proved the account (the
    /// right password, a live link, a session), never to a guess.
    #[error("this account signs in with SPID or CIE only")]
    PasswordNotAllowed,
    #[error("the link is invalid, expired or already used")]
    InvalidToken,
    #[error("the service is temporarily unavailable")]
    Unavailable(#[source] StoreError),
    /// The password-hashing queue is full: retry in a moment.
    #[error("the service is busy; retry in a moment")]
    Busy,
    /// A fault of the deployment or a bug, never the client's doing. The
    /// text says only "internal error": the cause is the error's `source()`,
    /// so logs and the CLI (which print the chain) show it and an HTTP answer
    /// does not.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
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
    /// The error code of the specifications.
    pub code: OAuthCode,
    /// What was wrong, in a few English words (`error_description`).
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

    /// A clash that no store error caused (e.g. "the new address is the
    /// current one").
    pub fn conflict(message: impl Into<String>) -> AppError {
        AppError::Conflict {
            message: message.into(),
            source: None,
        }
    }

    /// An internal error described by a sentence, with no error behind it.
    pub fn internal(what: impl Into<String>) -> AppError {
        AppError::Internal(what.into().into())
    }

    /// An internal error caused by `cause`; `what` says what was being done.
    pub fn internal_because(
        what: impl Into<String>,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> AppError {
        AppError::Internal(Box::new(Context {
            what: what.into(),
            cause: cause.into(),
        }))
    }

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
            StoreError::Conflict { .. } => AppError::Conflict {
                message: "already exists".to_owned(),
                source: Some(error),
            },
            other => AppError::Internal(Box::new(other)),
        }
    }
}

/// What was being done when an internal error struck, and the error met.
#[derive(Debug, Error)]
#[error("{what}")]
struct Context {
    what: String,
    #[source]
    cause: Box<dyn std::error::Error + Send + Sync>,
}

/// This error and its causes, `: `-separated: what a log line should show
/// (an [`AppError::Internal`] alone only says "internal error").
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_store_fault_is_internal_and_keeps_its_cause() {
        let error = AppError::from(StoreError::Corrupt("account kind \"teacher\"".into()));
        assert!(matches!(error, AppError::Internal(_)));
        assert_eq!(error.to_string(), "internal error");
        let cause = error.source().expect("the store error is the source");
        assert!(cause.downcast_ref::<StoreError>().is_some(), "{cause:?}");
        assert_eq!(
            error_chain(&error),
            "internal error: a stored value is invalid: account kind \"teacher\""
        );
    }

    #[test]
    fn a_store_clash_tells_the_client_nothing_of_the_constraint() {
        let error = AppError::from(StoreError::Conflict {
            constraint: "accounts_username_key".into(),
        });
        assert_eq!(error.to_string(), "already exists");
        let chain = error_chain(&error);
        assert!(chain.ends_with("(accounts_username_key)"), "{chain}");
    }

    #[test]
    fn an_internal_error_with_context_chains_what_then_why() {
        let io = std::io::Error::other("no more threads");
        let error = AppError::internal_because("cannot start a hashing thread", io);
        assert_eq!(error.to_string(), "internal error");
        assert_eq!(
            error_chain(&error),
            "internal error: cannot start a hashing thread: no more threads"
        );
        assert_eq!(
            error_chain(&AppError::internal("a hashing job was dropped")),
            "internal error: a hashing job was dropped"
        );
        let conflict = AppError::conflict("the new address is the current one");
        assert_eq!(conflict.to_string(), "the new address is the current one");
        assert!(conflict.source().is_none());
    }
}
