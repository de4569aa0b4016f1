//! The one place where errors become HTTP responses.
//!
//! JSON endpoints answer RFC 9457 `application/problem+json` bodies with a
//! stable machine-readable `code`. HTML pages answer an error page in the
//! visitor's language with a request id; since rendering needs the templates
//! and the language, a page error first travels as a [`PageFailure`] response
//! extension and the `render_page_failures` middleware turns it into HTML.
//! A 500 logs its cause chain and shows nothing of it.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use varco_app::AppError;

/// Everything that can go wrong at the HTTP edge.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// An error of a use case.
    #[error(transparent)]
    App(#[from] AppError),
    /// The JSON body does not parse as the endpoint's type.
    #[error("the body is not valid JSON for this endpoint: {0}")]
    MalformedJson(String),
    /// The body is not `application/json`.
    #[error("the body must be application/json")]
    UnsupportedMediaType,
    /// The body is over [`crate::JSON_BODY_LIMIT`].
    #[error("the body is larger than the limit")]
    PayloadTooLarge,
    /// The `Origin` is not Varco's own.
    #[error("cross-origin requests are refused")]
    CrossOrigin,
    /// The form's CSRF token is missing or wrong.
    #[error("the form token is missing or wrong")]
    Csrf,
    /// No route or resource.
    #[error("no such resource")]
    NotFound,
    /// Too many requests from the address: retry after this many seconds.
    #[error("too many requests; retry in {0} s")]
    Throttled(u64),
}

impl From<JsonRejection> for WebError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => WebError::UnsupportedMediaType,
            JsonRejection::BytesRejection(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                WebError::PayloadTooLarge
            }
            other => WebError::MalformedJson(other.body_text()),
        }
    }
}

/// The stable machine-readable code of a problem: the `code` field of a
/// problem document, the end of its `type` URN, and what the HTML error page
/// is chosen by. The strings are a public contract (clients branch on them):
/// a variant may be added, never respelt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemCode {
    /// Unknown account, wrong password, locked, disabled: one answer for all.
    InvalidCredentials,
    /// Too many requests or attempts; `Retry-After` says how long to wait.
    Throttled,
    /// A field does not validate.
    InvalidInput,
    /// An input is longer than any valid one.
    InputTooLong,
    /// A new password breaks the policy.
    PasswordPolicy,
    /// No such resource.
    NotFound,
    /// The change clashes with data already there.
    Conflict,
    /// No session.
    Unauthenticated,
    /// The session may only change the password.
    PasswordChangeRequired,
    /// The login policy keeps the account to SPID/CIE: no password may be used or set.
    PasswordNotAllowed,
    /// The link's token is malformed, unknown, expired, used or for another purpose.
    InvalidToken,
    /// The database or the password hashing cannot answer now.
    Unavailable,
    /// Anything else that went wrong on the server.
    Internal,
    /// The body is not valid JSON for the endpoint.
    MalformedJson,
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// The body is over [`crate::JSON_BODY_LIMIT`].
    PayloadTooLarge,
    /// The request's `Origin` is not Varco's own.
    CrossOrigin,
    /// A form's CSRF token is missing or wrong.
    Csrf,
}

impl ProblemCode {
    /// Every code, in declaration order.
    pub const ALL: &'static [ProblemCode] = &[
        ProblemCode::InvalidCredentials,
        ProblemCode::Throttled,
        ProblemCode::InvalidInput,
        ProblemCode::InputTooLong,
        ProblemCode::PasswordPolicy,
        ProblemCode::NotFound,
        ProblemCode::Conflict,
        ProblemCode::Unauthenticated,
        ProblemCode::PasswordChangeRequired,
        ProblemCode::PasswordNotAllowed,
        ProblemCode::InvalidToken,
        ProblemCode::Unavailable,
        ProblemCode::Internal,
        ProblemCode::MalformedJson,
        ProblemCode::UnsupportedMediaType,
        ProblemCode::PayloadTooLarge,
        ProblemCode::CrossOrigin,
        ProblemCode::Csrf,
    ];

    /// The code as clients see it, e.g. `invalid_credentials`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemCode::InvalidCredentials => "invalid_credentials",
            ProblemCode::Throttled => "throttled",
            ProblemCode::InvalidInput => "invalid_input",
            ProblemCode::InputTooLong => "input_too_long",
            ProblemCode::PasswordPolicy => "password_policy",
            ProblemCode::NotFound => "not_found",
            ProblemCode::Conflict => "conflict",
            ProblemCode::Unauthenticated => "unauthenticated",
            ProblemCode::PasswordChangeRequired => "password_change_required",
            ProblemCode::PasswordNotAllowed => "password_not_allowed",
            ProblemCode::InvalidToken => "invalid_token",
            ProblemCode::Unavailable => "unavailable",
            ProblemCode::Internal => "internal",
            ProblemCode::MalformedJson => "malformed_json",
            ProblemCode::UnsupportedMediaType => "unsupported_media_type",
            ProblemCode::PayloadTooLarge => "payload_too_large",
            ProblemCode::CrossOrigin => "cross_origin",
            ProblemCode::Csrf => "csrf",
        }
    }
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Status, stable code and English title of an error.
pub fn classify(error: &WebError) -> (StatusCode, ProblemCode, &'static str) {
    use ProblemCode as C;
    use StatusCode as S;
    match error {
        WebError::App(e) => match e {
            AppError::InvalidCredentials => (S::UNAUTHORIZED, C::InvalidCredentials, "Invalid credentials"),
            AppError::Throttled { .. } | AppError::LoginDelayed { .. } => {
                (S::TOO_MANY_REQUESTS, C::Throttled, "Too many requests")
            }
            AppError::Invalid { .. } => (S::BAD_REQUEST, C::InvalidInput, "Invalid input"),
            AppError::InputTooLong => (S::BAD_REQUEST, C::InputTooLong, "Input too long"),
            AppError::PasswordPolicy(_) => (
                S::BAD_REQUEST,
                C::PasswordPolicy,
                "The password does not meet the policy",
            ),
            AppError::NotFound(_) => (S::NOT_FOUND, C::NotFound, "Not found"),
            AppError::Conflict { .. } => (S::CONFLICT, C::Conflict, "Conflict"),
            AppError::Unauthenticated => (S::UNAUTHORIZED, C::Unauthenticated, "Authentication required"),
            AppError::PasswordChangeRequired => (S::FORBIDDEN, C::PasswordChangeRequired, "Password change required"),
            AppError::PasswordNotAllowed => (
                S::FORBIDDEN,
                C::PasswordNotAllowed,
                "Sign in with SPID or CIE: this account no longer uses a password",
            ),
            AppError::InvalidToken => (S::BAD_REQUEST, C::InvalidToken, "Invalid or expired token"),
            AppError::Unavailable(_) => (S::SERVICE_UNAVAILABLE, C::Unavailable, "Service unavailable"),
            AppError::Busy => (S::SERVICE_UNAVAILABLE, C::Unavailable, "Service busy"),
            AppError::Internal(_) => (S::INTERNAL_SERVER_ERROR, C::Internal, "Internal error"),
            AppError::OAuth(e) => match e.code {
                varco_app::OAuthCode::InvalidClient | varco_app::OAuthCode::InvalidToken => {
                    (S::UNAUTHORIZED, C::Unauthenticated, "OAuth error")
                }
                _ => (S::BAD_REQUEST, C::InvalidInput, "OAuth error"),
            },
        },
        WebError::MalformedJson(_) => (S::BAD_REQUEST, C::MalformedJson, "Malformed JSON"),
        WebError::UnsupportedMediaType => (
            S::UNSUPPORTED_MEDIA_TYPE,
            C::UnsupportedMediaType,
            "Unsupported media type",
        ),
        WebError::PayloadTooLarge => (S::PAYLOAD_TOO_LARGE, C::PayloadTooLarge, "Payload too large"),
        WebError::CrossOrigin => (S::FORBIDDEN, C::CrossOrigin, "Cross-origin request refused"),
        WebError::Csrf => (S::FORBIDDEN, C::Csrf, "Form token missing or wrong"),
        WebError::NotFound => (S::NOT_FOUND, C::NotFound, "Not found"),
        WebError::Throttled(_) => (S::TOO_MANY_REQUESTS, C::Throttled, "Too many requests"),
    }
}

/// `Retry-After` of a 503 for a full hashing queue: it drains in seconds.
const BUSY_RETRY_AFTER_SECS: u64 = 2;

fn retry_after(error: &WebError) -> Option<u64> {
    match error {
        WebError::App(AppError::Throttled { retry_after_secs } | AppError::LoginDelayed { retry_after_secs }) => {
            Some(*retry_after_secs)
        }
        WebError::Throttled(secs) => Some(*secs),
        WebError::App(AppError::Busy) => Some(BUSY_RETRY_AFTER_SECS),
        _ => None,
    }
}

fn log_if_server_error(status: StatusCode, error: &WebError) {
    if status.is_server_error() {
        let mut chain = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            chain.push_str(": ");
            chain.push_str(&cause.to_string());
            source = cause.source();
        }
        tracing::error!(error = %chain, "request failed");
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short English summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// A human-readable explanation of this occurrence, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Stable machine-readable code, e.g. `invalid_credentials`.
    pub code: String,
    /// For `password_policy`: the violated rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violations: Option<Vec<String>>,
    /// For `invalid_input`: the field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `password_policy` with `weak`: the strength estimator's advice, as codes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback: Option<FeedbackJson>,
}

/// Strength advice as stable codes (see the domain's `FEEDBACK_CODES`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FeedbackJson {
    /// The estimator's warning, as a code, if any.
    pub warning: Option<String>,
    /// The estimator's suggestions, as codes.
    pub suggestions: Vec<String>,
}

/// An error answered as problem JSON (for `/api/v1/...`).
#[derive(Debug)]
pub struct ApiError(pub WebError);

impl<E: Into<WebError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = self.0;
        let (status, code, title) = classify(&error);
        log_if_server_error(status, &error);
        let detail = match &error {
            WebError::App(AppError::Invalid { .. } | AppError::NotFound(_) | AppError::Conflict { .. }) => {
                Some(error.to_string())
            }
            WebError::App(
                AppError::Throttled { .. } | AppError::LoginDelayed { .. } | AppError::PasswordNotAllowed,
            )
            | WebError::Throttled(_) => Some(error.to_string()),
            WebError::MalformedJson(detail) => Some(detail.clone()),
            // The OAuth code, then what was wrong (never a secret).
            WebError::App(AppError::OAuth(e)) => Some(format!("{}: {}", e.code.as_str(), e.description)),
            WebError::App(_) => None,
            other => Some(other.to_string()),
        };
        let (violations, field) = match &error {
            WebError::App(AppError::PasswordPolicy(refusal)) => (
                Some(refusal.violations.iter().map(|v| v.code().to_owned()).collect()),
                None,
            ),
            WebError::App(AppError::Invalid { field, .. }) => (None, Some((*field).to_owned())),
            _ => (None, None),
        };
        let problem = Problem {
            kind: format!("urn:varco:problem:{}", code.as_str()),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            code: code.as_str().to_owned(),
            violations,
            field,
            feedback: match &error {
                WebError::App(AppError::PasswordPolicy(refusal)) => refusal.feedback.as_ref().map(|f| FeedbackJson {
                    warning: f.warning.clone(),
                    suggestions: f.suggestions.clone(),
                }),
                _ => None,
            },
        };
        let mut response = (status, Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = retry_after(&error) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A page error waiting to be rendered in the visitor's language.
#[derive(Debug, Clone)]
pub struct PageFailure {
    /// Fluent key of the message.
    pub message_key: &'static str,
    /// A non-secret detail (e.g. which field is invalid), shown as is.
    pub detail: Option<String>,
}

/// An error answered as an HTML page.
#[derive(Debug)]
pub struct PageError(pub WebError);

impl<E: Into<WebError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let error = self.0;
        let (status, code, _) = classify(&error);
        log_if_server_error(status, &error);
        // No catch-all: a new code must choose its page here.
        let (message_key, detail) = match code {
            ProblemCode::InvalidInput => ("error-invalid", Some(error.to_string())),
            ProblemCode::NotFound => ("error-not-found", None),
            ProblemCode::Csrf | ProblemCode::CrossOrigin => ("error-csrf", None),
            ProblemCode::PasswordChangeRequired => ("error-forbidden", None),
            ProblemCode::PasswordNotAllowed => ("policy-login-refused", None),
            ProblemCode::Unavailable if matches!(error, WebError::App(AppError::Busy)) => ("error-busy", None),
            ProblemCode::Unavailable => ("error-unavailable", None),
            ProblemCode::Throttled => ("login-throttled", retry_after(&error).map(|s| s.to_string())),
            ProblemCode::InvalidCredentials
            | ProblemCode::InputTooLong
            | ProblemCode::PasswordPolicy
            | ProblemCode::Conflict
            | ProblemCode::Unauthenticated
            | ProblemCode::InvalidToken
            | ProblemCode::Internal
            | ProblemCode::MalformedJson
            | ProblemCode::UnsupportedMediaType
            | ProblemCode::PayloadTooLarge => ("error-internal", None),
        };
        let mut response = status.into_response();
        if let Some(secs) = retry_after(&error) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response.extensions_mut().insert(PageFailure { message_key, detail });
        response
    }
}

/// The answer of the provider's token, revocation, introspection and
/// userinfo endpoints to an error: RFC 6749 §5.2 JSON (`error`,
/// `error_description`), `WWW-Authenticate` for `invalid_client` (RFC 6749)
/// and `invalid_token` (RFC 6750); anything that is not an OAuth error is
/// answered like the rest of Varco's errors, in OAuth's shape.
pub fn oauth_response(error: &AppError) -> Response {
    use varco_app::OAuthCode;
    let (status, code, description): (StatusCode, &str, String) = match error {
        AppError::OAuth(e) => {
            let status = match e.code {
                OAuthCode::InvalidClient | OAuthCode::InvalidToken => StatusCode::UNAUTHORIZED,
                _ => StatusCode::BAD_REQUEST,
            };
            (status, e.code.as_str(), e.description.to_owned())
        }
        AppError::Unavailable(_) | AppError::Busy => (
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the service is busy; retry in a moment".to_owned(),
        ),
        AppError::Invalid { .. } | AppError::InputTooLong => {
            (StatusCode::BAD_REQUEST, "invalid_request", error.to_string())
        }
        other => {
            tracing::error!(error = %other, "provider request failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the server could not answer".to_owned(),
            )
        }
    };
    let mut response = (
        status,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(serde_json::json!({ "error": code, "error_description": description })),
    )
        .into_response();
    let challenge = match code {
        "invalid_client" => Some("Basic realm=\"varco\""),
        "invalid_token" => Some("Bearer error=\"invalid_token\""),
        _ => None,
    };
    if let Some(challenge) = challenge {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;

    use super::*;

    async fn answer(error: AppError) -> (StatusCode, String) {
        let response = ApiError(WebError::App(error)).into_response();
        let status = response.status();
        let body = to_bytes(response.into_body(), 64 * 1024).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn internal_causes_stay_out_of_answers() {
        let cause = std::io::Error::other("disk /var/lib/varco is full");
        let (status, body) = answer(AppError::internal_because("template login.html", cause)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.contains("\"code\":\"internal\""), "{body}");
        assert!(!body.contains("disk") && !body.contains("login.html"), "{body}");
    }

    /// The codes clients branch on, spelt as they have always been.
    #[test]
    fn problem_codes_keep_their_spelling() {
        let spelt: Vec<&str> = ProblemCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            spelt,
            [
                "invalid_credentials",
                "throttled",
                "invalid_input",
                "input_too_long",
                "password_policy",
                "not_found",
                "conflict",
                "unauthenticated",
                "password_change_required",
                "password_not_allowed",
                "invalid_token",
                "unavailable",
                "internal",
                "malformed_json",
                "unsupported_media_type",
                "payload_too_large",
                "cross_origin",
                "csrf",
            ]
        );
        assert_eq!(ProblemCode::CrossOrigin.to_string(), "cross_origin");
    }

    fn page_message(error: WebError) -> (StatusCode, &'static str, Option<String>) {
        let response = PageError(error).into_response();
        let failure = response
            .extensions()
            .get::<PageFailure>()
            .cloned()
            .expect("a page failure");
        (response.status(), failure.message_key, failure.detail)
    }

    #[test]
    fn each_code_picks_its_error_page() {
        assert_eq!(
            page_message(WebError::NotFound),
            (StatusCode::NOT_FOUND, "error-not-found", None)
        );
        assert_eq!(page_message(WebError::Csrf).1, "error-csrf");
        assert_eq!(page_message(WebError::CrossOrigin).1, "error-csrf");
        assert_eq!(
            page_message(WebError::App(AppError::PasswordChangeRequired)).1,
            "error-forbidden"
        );
        assert_eq!(page_message(WebError::App(AppError::Busy)).1, "error-busy");
        assert_eq!(
            page_message(WebError::App(AppError::invalid("tax_code", "16 characters"))),
            (
                StatusCode::BAD_REQUEST,
                "error-invalid",
                Some("tax_code: 16 characters".to_owned())
            )
        );
        assert_eq!(
            page_message(WebError::Throttled(7)),
            (StatusCode::TOO_MANY_REQUESTS, "login-throttled", Some("7".to_owned()))
        );
        assert_eq!(
            page_message(WebError::App(AppError::internal("broken"))).1,
            "error-internal"
        );
    }

    #[tokio::test]
    async fn a_conflict_answers_its_message_only() {
        let (status, body) = answer(AppError::conflict("the new address is the current one")).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(
            body.contains("\"detail\":\"the new address is the current one\""),
            "{body}"
        );
    }
}
