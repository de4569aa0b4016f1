//! The JSON API under `/api/v1` (see CONTRACT.md), and its OpenAPI document.
//!
//! Every state-changing endpoint requires a same-origin (or absent) `Origin`
//! header; endpoints with a body require `application/json` and at most
//! 64 KiB. Errors are RFC 9457 problems, made in `problem.rs`.

mod confirmations;
mod requests;

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use varco_app::accounts::AccountView;
use varco_app::login_policy::PasswordNotice;

mod admin;
mod desk;
mod desk_recovery;
mod desk_students;

use crate::WebState;
use crate::problem::{ApiError, Problem, WebError};
use crate::ratelimit::{Attempt, IpLimiter, failed_link_use, failed_sign_in};
use crate::security::check_same_origin;
use crate::session::{
    Ctx, MaybeSession, clear_session_cookie, cookie_name, cookie_value, full_session, session_cookie,
};
use varco_app::sessions::Authenticated;

/// The routes of the JSON API, to nest under `/api/v1`; an unknown path answers a `not_found`
/// problem.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/me", get(me))
        .route("/me/children", get(my_children))
        .route("/password/change", post(change_password))
        .route("/password/forgot", post(forgot_password))
        .route("/password/reset", post(reset_password))
        .route("/admin/audit", get(admin::audit))
        .route("/admin/outbox", get(admin::outbox))
        .route("/admin/outbox/{id}/retry", post(admin::retry))
        .route("/desk/accounts", get(desk::search))
        .route("/desk/accounts/{user_code}", get(desk::account))
        .route("/desk/accounts/{user_code}/unlock", post(desk::unlock))
        .route("/desk/accounts/{user_code}/disable", post(desk::disable))
        .route("/desk/accounts/{user_code}/enable", post(desk::enable))
        .route(
            "/desk/accounts/{user_code}/resend-activation",
            post(desk::resend_activation),
        )
        .route("/desk/accounts/{user_code}/correct", post(desk::correct))
        .merge(requests::routes())
        .merge(confirmations::routes())
        .merge(desk_students::routes())
        .route("/desk/accounts/{user_code}/recovery", post(desk_recovery::recovery))
        .route(
            "/desk/accounts/{user_code}/identity-check",
            post(desk_recovery::identity_check),
        )
        .route("/password/recover", post(desk_recovery::recover_password))
        .fallback(not_found)
}

/// Refuses cross-origin state-changing API requests before any body is read.
pub async fn same_origin_guard(
    State(state): State<WebState>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let safe = matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    if !safe && let Err(e) = check_same_origin(request.headers(), state.config.origin()) {
        return ApiError(e).into_response();
    }
    next.run(request).await
}

async fn not_found() -> ApiError {
    ApiError(WebError::NotFound)
}

/// The opening of every signed-in JSON endpoint: the request counts
/// against the address's API rate (`throttled`), then it must come from a
/// session (`unauthenticated`) with no password change pending
/// (`password_change_required`).
#[derive(Debug)]
pub struct ApiSession(pub Authenticated);

impl FromRequestParts<WebState> for ApiSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Self::Rejection> {
        let problem = |e: WebError| ApiError(e).into_response();
        let _counted = state
            .api_limiter
            .attempt(crate::session::client_ip(parts))
            .map_err(|e| problem(WebError::Throttled(e)))?;
        let session = MaybeSession::from_request_parts(parts, state).await?;
        let signed_in = full_session(&session).map_err(|e| problem(WebError::App(e)))?;
        Ok(ApiSession(signed_in.clone()))
    }
}

/// `Json<T>` whose rejections become problem responses.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<T>::from_request(request, state).await.map_err(WebError::from)?;
        Ok(ApiJson(value))
    }
}

/// The body of `POST /api/v1/login`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// A username, user code or email address.
    pub login: String,
    /// The password, as typed.
    pub password: String,
}

/// The school an account belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchoolJson {
    /// The school's code (codice meccanografico).
    pub code: String,
    /// The school's name.
    pub name: String,
}

/// A role the account holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleJson {
    /// `desk` or `admin`.
    pub role: String,
    /// The school a `desk` role is scoped to.
    pub school: Option<String>,
}

/// An account, as its owner sees it. Never carries a secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountJson {
    /// The code the account signs in with.
    pub user_code: String,
    /// `staff` or `family`.
    pub kind: String,
    /// Given name(s).
    pub first_name: String,
    /// Family name(s).
    pub last_name: String,
    /// Contact address, if any.
    pub email: Option<String>,
    /// Whether the owner confirmed the address.
    pub email_verified: bool,
    /// Login name, if any.
    pub username: Option<String>,
    /// `active`, `pending_activation` or `disabled`.
    pub status: String,
    /// The account's school.
    pub school: SchoolJson,
    /// The roles the account holds, if any.
    pub roles: Vec<RoleJson>,
    /// Days until the password expires (0: expired); absent when it never does.
    pub password_expires_in_days: Option<u32>,
    /// What the login policy allows this account: `password` (a password,
    /// no end announced), `password_until` (a password until
    /// `password_login_ends_on`) or `spid_cie_only`.
    pub password_login: String,
    /// The first day without passwords (`dd/mm/yyyy`, Europe/Rome) while it is ahead.
    pub password_login_ends_on: Option<String>,
}

impl From<AccountView> for AccountJson {
    fn from(v: AccountView) -> Self {
        AccountJson {
            user_code: v.user_code,
            kind: v.kind.as_str().to_owned(),
            first_name: v.first_name,
            last_name: v.last_name,
            email: v.email,
            email_verified: v.email_verified,
            username: v.username,
            status: v.status.as_str().to_owned(),
            school: SchoolJson {
                code: v.school.code,
                name: v.school.name,
            },
            roles: v
                .roles
                .into_iter()
                .map(|r| RoleJson {
                    role: r.role.as_str().to_owned(),
                    school: r.school,
                })
                .collect(),
            password_expires_in_days: v.password_expires_in_days,
            password_login: match &v.password_login {
                PasswordNotice::Allowed => "password",
                PasswordNotice::EndsOn { .. } => "password_until",
                PasswordNotice::SpidCieOnly => "spid_cie_only",
            }
            .to_owned(),
            password_login_ends_on: match v.password_login {
                PasswordNotice::EndsOn { from } => Some(from),
                PasswordNotice::Allowed | PasswordNotice::SpidCieOnly => None,
            },
        }
    }
}

/// The answer to a successful login.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// The signed-in account.
    pub account: AccountJson,
    /// True when the password has expired: the session may then only change
    /// the password or log out.
    pub password_expired: bool,
}

/// Takes a cell of `limiter` for the request's address (429 when none is left).
pub(crate) fn throttle(limiter: &IpLimiter, ctx: &Ctx) -> Result<Attempt, WebError> {
    limiter.attempt(ctx.ip).map_err(WebError::Throttled)
}

/// Log in with a username, user code or email and a password.
#[utoipa::path(post, path = "/api/v1/login", request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in; the session cookie is set", body = LoginResponse),
        (status = 400, description = "`malformed_json`, or `input_too_long`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_credentials`, the same for every reason", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`cross_origin`; or `password_not_allowed`: the password is right but the login policy keeps the account to SPID/CIE (answered only after the password matched)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large` (over 64 KiB)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type` (not application/json)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled`: too many failed attempts from this address, or the login's growing delay", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database or the password hashing is overloaded", body = Problem, content_type = "application/problem+json"),
    ))]
/// `POST /api/v1/login`: checks the password and opens a session (the cookie is set).
pub async fn login(
    State(state): State<WebState>,
    headers: HeaderMap,
    ctx: Ctx,
    body: ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let attempt = throttle(&state.login_limiter, &ctx)?;
    let ApiJson(body) = body;
    let previous = cookie_value(&headers, cookie_name(&state.config));
    let result = varco_app::login::login(
        &state.app,
        &body.login,
        &body.password,
        &ctx.request,
        previous.as_deref(),
    )
    .await;
    attempt.settle(failed_sign_in(&result));
    let outcome = result?;
    let cookie = session_cookie(&state.config, outcome.session.token.as_str());
    let response = LoginResponse {
        account: outcome.account.into(),
        password_expired: outcome.password_expired,
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(response)).into_response())
}

/// End the current session.
#[utoipa::path(post, path = "/api/v1/logout",
    responses(
        (status = 204, description = "Logged out (also when there was no session)"),
        (status = 403, description = "`cross_origin`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled` (per address)", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database does not answer", body = Problem, content_type = "application/problem+json"),
    ))]
/// `POST /api/v1/logout`: ends the session of the cookie, if any, and clears the cookie.
pub async fn logout(State(state): State<WebState>, headers: HeaderMap, ctx: Ctx) -> Result<Response, ApiError> {
    let _counted = throttle(&state.api_limiter, &ctx)?;
    if let Some(token) = cookie_value(&headers, cookie_name(&state.config)) {
        varco_app::sessions::logout(&state.app, &token, &ctx.request).await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, clear_session_cookie(&state.config))],
    )
        .into_response())
}

/// The account of the current session.
#[utoipa::path(get, path = "/api/v1/me",
    responses(
        (status = 200, description = "The signed-in account", body = AccountJson),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`password_change_required`: the session may only change the password or log out", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled` (per address)", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database does not answer", body = Problem, content_type = "application/problem+json"),
    ))]
/// `GET /api/v1/me`: the account of the session.
pub async fn me(State(state): State<WebState>, ApiSession(session): ApiSession) -> Result<Json<AccountJson>, ApiError> {
    Ok(Json(session.view(&state.app).into()))
}

/// The answer of `GET /api/v1/me/children`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChildrenResponse {
    /// The students the account is guardian of, by family and given name
    /// (empty for an account that is no guardian).
    pub children: Vec<desk_students::StudentJson>,
}

/// The students the signed-in account is guardian of, as `/account` shows them.
#[utoipa::path(get, path = "/api/v1/me/children",
    responses(
        (status = 200, description = "The account's children (possibly none)", body = ChildrenResponse),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`password_change_required`: the session may only change the password or log out", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled` (per address)", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database does not answer", body = Problem, content_type = "application/problem+json"),
    ))]
/// `GET /api/v1/me/children`.
pub async fn my_children(
    State(state): State<WebState>,
    ApiSession(session): ApiSession,
) -> Result<Json<ChildrenResponse>, ApiError> {
    let children = varco_app::students::children(&state.app, session.account.id).await?;
    Ok(Json(ChildrenResponse {
        children: children.into_iter().map(Into::into).collect(),
    }))
}

/// The body of `POST /api/v1/password/change`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    /// The password in use, as typed.
    pub current_password: String,
    /// The password wanted.
    pub new_password: String,
}

/// Change the password of the signed-in account (also from a session
/// restricted by an expired password). Other sessions end; a confirmation
/// email goes out.
#[utoipa::path(post, path = "/api/v1/password/change", request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "`password_policy` with `violations` (and `feedback` for `weak`), `input_too_long`, or `malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`, or `invalid_credentials` for a wrong current password", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`cross_origin`, or `password_not_allowed` (the login policy keeps the account to SPID/CIE)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large` (over 64 KiB)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type` (not application/json)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled`: too many wrong current passwords from this address, or the account's growing delay", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database or the password hashing is overloaded", body = Problem, content_type = "application/problem+json"),
    ))]
/// `POST /api/v1/password/change`: changes the session's password.
pub async fn change_password(
    State(state): State<WebState>,
    ctx: Ctx,
    session: MaybeSession,
    body: ApiJson<ChangePasswordRequest>,
) -> Result<Response, ApiError> {
    let attempt = throttle(&state.login_limiter, &ctx)?;
    let Some(session) = session.0 else {
        attempt.succeeded();
        return Err(WebError::App(varco_app::AppError::Unauthenticated).into());
    };
    let ApiJson(body) = body;
    let result = varco_app::password::change(
        &state.app,
        &session,
        &body.current_password,
        &body.new_password,
        &ctx.request,
    )
    .await;
    attempt.settle(failed_sign_in(&result));
    result?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The body of `POST /api/v1/password/forgot`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ForgotPasswordRequest {
    /// A username, user code or email address.
    pub login: String,
}

/// The answer to a forgot-password request.
#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptedResponse {
    /// Always true: the answer never tells whether an account matched.
    pub accepted: bool,
}

/// Ask for a password-reset link. The answer is the same whatever the login:
/// if it matches an account with an address, a link is emailed.
#[utoipa::path(post, path = "/api/v1/password/forgot", request_body = ForgotPasswordRequest,
    responses(
        (status = 202, description = "Accepted, whatever the login", body = AcceptedResponse),
        (status = 400, description = "`malformed_json`, or `input_too_long`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`cross_origin`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large` (over 64 KiB)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type` (not application/json)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled` (per address; every request counts)", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
/// `POST /api/v1/password/forgot`: starts the request in the background and answers at once.
pub async fn forgot_password(
    State(state): State<WebState>,
    ctx: Ctx,
    body: ApiJson<ForgotPasswordRequest>,
) -> Result<Response, ApiError> {
    // Every request counts: the answer never says whether it "failed".
    let _counted = throttle(&state.recovery_limiter, &ctx)?;
    let ApiJson(body) = body;
    crate::pages::recovery::start_reset_request(&state, body.login, &ctx);
    Ok((StatusCode::ACCEPTED, Json(AcceptedResponse { accepted: true })).into_response())
}

/// The body of `POST /api/v1/password/reset`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetPasswordRequest {
    /// The token of the emailed link.
    pub token: String,
    /// The password wanted.
    pub new_password: String,
}

/// Set a new password with a reset (or activation) link's token. Every
/// session of the account ends; nobody is signed in.
#[utoipa::path(post, path = "/api/v1/password/reset", request_body = ResetPasswordRequest,
    responses(
        (status = 204, description = "Password set"),
        (status = 400, description = "`invalid_token` (malformed, unknown, expired, used, other purpose), `password_policy`, `input_too_long` or `malformed_json`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`cross_origin`, or `password_not_allowed` (the login policy keeps the account to SPID/CIE)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large` (over 64 KiB)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type` (not application/json)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled`: too many failed link uses from this address", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database or the password hashing is overloaded", body = Problem, content_type = "application/problem+json"),
    ))]
/// `POST /api/v1/password/reset`: sets a new password with a reset or activation token.
pub async fn reset_password(
    State(state): State<WebState>,
    ctx: Ctx,
    body: ApiJson<ResetPasswordRequest>,
) -> Result<Response, ApiError> {
    let attempt = throttle(&state.recovery_limiter, &ctx)?;
    let ApiJson(body) = body;
    let result = varco_app::recovery::reset_password(&state.app, &body.token, &body.new_password, &ctx.request).await;
    attempt.settle(failed_link_use(&result));
    result?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// 200 when the database answers, 503 otherwise.
pub async fn healthz(State(state): State<WebState>) -> Response {
    match state.app.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Varco",
        description = "Identity, credentials and account recovery for Italian schools."
    ),
    paths(
        login,
        logout,
        me,
        my_children,
        change_password,
        forgot_password,
        reset_password,
        desk::search,
        desk::account,
        desk::unlock,
        desk::disable,
        desk::enable,
        desk::resend_activation,
        desk::correct,
        desk_recovery::recovery,
        desk_recovery::identity_check,
        desk_recovery::recover_password,
        admin::audit,
        admin::outbox,
        admin::retry
    ),
    components(schemas(
        LoginRequest,
        LoginResponse,
        AccountJson,
        ChildrenResponse,
        SchoolJson,
        RoleJson,
        Problem,
        ChangePasswordRequest,
        crate::problem::FeedbackJson,
        ForgotPasswordRequest,
        AcceptedResponse,
        ResetPasswordRequest,
        desk::DeskSearchResponse,
        desk::DeskAccountSummaryJson,
        desk::DeskAccountJson,
        desk::LinkedIdentityJson,
        desk::SessionSummaryJson,
        desk::EventJson,
        desk::DeskActionResponse,
        desk::CorrectPersonRequest,
        desk_recovery::RecoveryChannelJson,
        desk_recovery::DeskRecoveryRequest,
        desk_recovery::RecoveryLetterJson,
        desk_recovery::DeskRecoveryResponse,
        desk_recovery::IdentityCheckRequest,
        desk_recovery::IdentityCheckResponse,
        desk_recovery::RecoverPasswordRequest,
        admin::AuditPageJson,
        admin::AuditEventJson,
        admin::OutboxJson,
        admin::OutboxMessageJson,
        admin::RetryResponse
    ))
)]
/// The OpenAPI document of the JSON API.
pub struct ApiDoc;

/// `GET /api/openapi.json`: the OpenAPI document, with this build's version.
pub async fn openapi_json() -> Response {
    Json(document()).into_response()
}

/// The whole document: [`ApiDoc`] and the parts kept beside their routes.
fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(requests::RequestsApiDoc::openapi());
    doc.merge(confirmations::ConfirmationsApiDoc::openapi());
    doc.merge(desk_students::DeskStudentsApiDoc::openapi());
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every answer the shared layers can give is documented (schemathesis
    /// checks the rest in CI, see e2e/schemathesis.sh).
    #[test]
    fn every_endpoint_documents_the_shared_answers() {
        let doc = serde_json::to_value(document()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        assert_eq!(paths.len(), 28);
        for (path, item) in paths {
            for (method, operation) in item.as_object().unwrap() {
                let responses = operation["responses"].as_object().unwrap();
                let mut expected = vec!["429"];
                if method == "post" {
                    expected.push("403");
                }
                if operation.get("requestBody").is_some() {
                    expected.extend(["400", "413", "415"]);
                }
                for status in expected {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} does not document {status}"
                    );
                }
                let throttled = &responses["429"];
                assert!(throttled["headers"].get("Retry-After").is_some(), "{method} {path}");
            }
        }
    }
}
