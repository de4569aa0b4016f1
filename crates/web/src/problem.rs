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
            AppError::Conflict { .. } => (S::CONFLICT, "conflict", "Conflict"),
            AppError::Unauthenticated => (S::UNAUTHORIZED, "unauthenticated", "Authentication required"),
            AppError::PasswordChangeRequired => (S::FORBIDDEN, "password_change_required", "Password change required"),
            AppError::InvalidToken => (S::BAD_REQUEST, "invalid_token", "Invalid or expired token"),
            AppError::Unavailable(_) => (S::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable"),
            AppError::Busy => (S::SERVICE_UNAVAILABLE, "unavailable", "Service busy"),
            AppError::Internal(_) => (S::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
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
