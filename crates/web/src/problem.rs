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
    #[error(transparent)]
    App(#[from] AppError),
    #[error("the body is not valid JSON for this endpoint: {0}")]
    MalformedJson(String),
    #[error("the body must be application/json")]
    UnsupportedMediaType,
    #[error("the body is larger than the limit")]
    PayloadTooLarge,
    #[error("cross-origin requests are refused")]
    CrossOrigin,
    #[error("the form token is missing or wrong")]
    Csrf,
    #[error("no such resource")]
    NotFound,
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

/// Status, stable code and English title of an error.
pub fn classify(error: &WebError) -> (StatusCode, &'static str, &'static str) {
    use StatusCode as S;
    match error {
        WebError::App(e) => match e {
            AppError::InvalidCredentials => (S::UNAUTHORIZED, "invalid_credentials", "Invalid credentials"),
            AppError::Throttled { .. } | AppError::LoginDelayed { .. } => {
                (S::TOO_MANY_REQUESTS, "throttled", "Too many requests")
            }
            AppError::Invalid { .. } => (S::BAD_REQUEST, "invalid_input", "Invalid input"),
            AppError::InputTooLong => (S::BAD_REQUEST, "input_too_long", "Input too long"),
            AppError::PasswordPolicy(_) => (
                S::BAD_REQUEST,
                "password_policy",
                "The password does not meet the policy",
            ),
            AppError::NotFound(_) => (S::NOT_FOUND, "not_found", "Not found"),
            AppError::Conflict(_) => (S::CONFLICT, "conflict", "Conflict"),
            AppError::Unauthenticated => (S::UNAUTHORIZED, "unauthenticated", "Authentication required"),
            AppError::PasswordChangeRequired => (S::FORBIDDEN, "password_change_required", "Password change required"),
            AppError::InvalidToken => (S::BAD_REQUEST, "invalid_token", "Invalid or expired token"),
            AppError::Unavailable(_) => (S::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable"),
            AppError::Busy => (S::SERVICE_UNAVAILABLE, "unavailable", "Service busy"),
            AppError::Internal(_) => (S::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
            AppError::OAuth(e) => match e.code {
                varco_app::OAuthCode::InvalidClient | varco_app::OAuthCode::InvalidToken => {
                    (S::UNAUTHORIZED, e.code.as_str(), "OAuth error")
                }
                _ => (S::BAD_REQUEST, e.code.as_str(), "OAuth error"),
            },
        },
        WebError::MalformedJson(_) => (S::BAD_REQUEST, "malformed_json", "Malformed JSON"),
        WebError::UnsupportedMediaType => (
            S::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Unsupported media type",
        ),
        WebError::PayloadTooLarge => (S::PAYLOAD_TOO_LARGE, "payload_too_large", "Payload too large"),
        WebError::CrossOrigin => (S::FORBIDDEN, "cross_origin", "Cross-origin request refused"),
        WebError::Csrf => (S::FORBIDDEN, "csrf", "Form token missing or wrong"),
        WebError::NotFound => (S::NOT_FOUND, "not_found", "Not found"),
        WebError::Throttled(_) => (S::TOO_MANY_REQUESTS, "throttled", "Too many requests"),
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
    pub title: String,
    pub status: u16,
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
    pub warning: Option<String>,
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
            WebError::App(AppError::Invalid { .. } | AppError::NotFound(_) | AppError::Conflict(_)) => {
                Some(error.to_string())
            }
            WebError::App(AppError::Throttled { .. } | AppError::LoginDelayed { .. }) | WebError::Throttled(_) => {
                Some(error.to_string())
            }
            WebError::MalformedJson(detail) => Some(detail.clone()),
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
            kind: format!("urn:varco:problem:{code}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            code: code.to_owned(),
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
        let (message_key, detail) = match (&error, code) {
            (WebError::App(AppError::Invalid { .. }), _) => ("error-invalid", Some(error.to_string())),
            (_, "not_found") => ("error-not-found", None),
            (_, "csrf" | "cross_origin") => ("error-csrf", None),
            (_, "forbidden" | "password_change_required") => ("error-forbidden", None),
            (WebError::App(AppError::Busy), _) => ("error-busy", None),
            (_, "unavailable") => ("error-unavailable", None),
            (_, "throttled") => ("login-throttled", retry_after(&error).map(|s| s.to_string())),
            _ => ("error-internal", None),
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
