//! The desk's JSON API under `/api/v1/desk`: search, an account, and the
//! actions (unlock, disable, enable, resend-activation). Cookie-authenticated
//! like the pages; the scope rules are `varco_app::desk`'s, so someone who
//! is not an operator and an account outside the operator's scope both
//! answer a `not_found` problem.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use varco_app::desk::{AccountSummary, DeskAccount, EventSummary};

use super::ApiSession;
use super::SchoolJson;
use crate::WebState;
use crate::problem::ApiError;
use crate::session::Ctx;
use varco_app::sessions::Authenticated;

/// The query of `GET /api/v1/desk/accounts`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchParams {
    /// A tax code, a user code, an email address or words of a name.
    pub q: String,
}

/// An account found by a desk search.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeskAccountSummaryJson {
    /// The code the account signs in with.
    pub user_code: String,
    /// `staff` or `family`.
    pub kind: String,
    /// Given name(s).
    pub first_name: String,
    /// Family name(s).
    pub last_name: String,
    /// Codice fiscale.
    pub tax_code: String,
    /// Contact address, if any.
    pub email: Option<String>,
    /// `active`, `pending_activation` or `disabled`.
    pub status: String,
    /// Sign-in is locked after too many wrong passwords.
    pub locked: bool,
    /// The account's school.
    pub school: SchoolJson,
}

impl From<AccountSummary> for DeskAccountSummaryJson {
    fn from(a: AccountSummary) -> Self {
        DeskAccountSummaryJson {
            user_code: a.user_code,
            kind: a.kind.as_str().to_owned(),
            first_name: a.first_name,
            last_name: a.last_name,
            tax_code: a.tax_code,
            email: a.email,
            status: a.status.as_str().to_owned(),
            locked: a.locked,
            school: SchoolJson {
                code: a.school.code,
                name: a.school.name,
            },
        }
    }
}

/// The answer to a desk search.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeskSearchResponse {
    /// The accounts in the operator's scope that match, by name (at most 50).
    pub accounts: Vec<DeskAccountSummaryJson>,
}

/// A SPID/CIE identity linked to an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkedIdentityJson {
    /// The provider's name as shown to people.
    pub provider: String,
    /// When it was linked (`dd/mm/yyyy hh:mm`, Europe/Rome).
    pub linked_at: String,
    /// The last sign-in through it, if any.
    pub last_login_at: Option<String>,
}

/// A live session of an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionSummaryJson {
    /// When it started (`dd/mm/yyyy hh:mm`, Europe/Rome).
    pub started_at: String,
    /// When it was last used.
    pub last_seen_at: String,
    /// The address it started from, if known.
    pub ip: Option<String>,
    /// The SPID/CIE provider signed in through, if any.
    pub via: Option<String>,
}

/// An audit event about an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventJson {
    /// When (`dd/mm/yyyy hh:mm`, Europe/Rome).
    pub at: String,
    /// The event's stable name (`login`, `account_unlocked`, ...).
    pub event: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// Who acted: a user code, `cli`, `system` or `anonymous`.
    pub actor: String,
    /// The address it came from, if known.
    pub ip: Option<String>,
    /// Short key facts.
    pub detail: Option<String>,
}

impl From<EventSummary> for EventJson {
    fn from(e: EventSummary) -> Self {
        EventJson {
            at: e.at,
            event: e.event,
            outcome: e.outcome,
            actor: e.actor,
            ip: e.ip,
            detail: e.detail,
        }
    }
}

/// An account as the desk sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeskAccountJson {
    /// The account's identity and status.
    pub account: DeskAccountSummaryJson,
    /// Whether the owner confirmed the address.
    pub email_verified: bool,
    /// Whether a password is set.
    pub has_password: bool,
    /// Failed sign-ins counted since the last right password.
    pub failed_logins: u32,
    /// The roles the account holds (`desk`, `admin`).
    pub roles: Vec<String>,
    /// The SPID/CIE identities that sign in to it.
    pub identities: Vec<LinkedIdentityJson>,
    /// Its live sessions, newest first.
    pub sessions: Vec<SessionSummaryJson>,
    /// Its latest sign-in attempts, newest first.
    pub sign_ins: Vec<EventJson>,
    /// Its latest audit events, newest first.
    pub events: Vec<EventJson>,
    /// Whether the operator may act on it.
    pub actions_allowed: bool,
    /// The day (`dd/mm/yyyy`, Italian time) a year-end roster import will
    /// disable it; absent when none is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_on: Option<String>,
    /// The students it is guardian of (a family account; empty otherwise).
    pub children: Vec<super::desk_students::StudentJson>,
}

impl From<DeskAccount> for DeskAccountJson {
    fn from(d: DeskAccount) -> Self {
        let v = d.account;
        DeskAccountJson {
            email_verified: v.email_verified,
            has_password: v.has_password,
            failed_logins: v.failed_logins,
            roles: v.roles.iter().map(|r| r.role.as_str().to_owned()).collect(),
            account: DeskAccountSummaryJson {
                user_code: v.user_code,
                kind: v.kind.as_str().to_owned(),
                first_name: v.first_name,
                last_name: v.last_name,
                tax_code: v.tax_code,
                email: v.email,
                status: v.status.as_str().to_owned(),
                locked: v.locked,
                school: SchoolJson {
                    code: v.school.code,
                    name: v.school.name,
                },
            },
            identities: d
                .identities
                .into_iter()
                .map(|i| LinkedIdentityJson {
                    provider: i.provider,
                    linked_at: i.linked_at,
                    last_login_at: i.last_login_at,
                })
                .collect(),
            sessions: d
                .sessions
                .into_iter()
                .map(|s| SessionSummaryJson {
                    started_at: s.started_at,
                    last_seen_at: s.last_seen_at,
                    ip: s.ip,
                    via: s.via,
                })
                .collect(),
            sign_ins: d.sign_ins.into_iter().map(Into::into).collect(),
            events: d.events.into_iter().map(Into::into).collect(),
            actions_allowed: d.actions_allowed,
            disable_on: d.disable_on,
            children: d.children.into_iter().map(Into::into).collect(),
        }
    }
}

/// What an action did.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeskActionResponse {
    /// False when there was nothing to do (no lock, already disabled, not disabled).
    pub changed: bool,
}

/// Find accounts in the operator's scope by tax code, user code, email or name.
#[utoipa::path(get, path = "/api/v1/desk/accounts", params(SearchParams),
    responses(
        (status = 200, description = "The accounts found (possibly none)", body = DeskSearchResponse),
        (status = 400, description = "`invalid_input` (fewer than two letters, or nothing), or `input_too_long`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`password_change_required`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: the account has neither the desk nor the admin role", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled` (per address)", body = crate::problem::Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database does not answer", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
/// `GET /api/v1/desk/accounts?q=…`.
pub async fn search(
    State(state): State<WebState>,
    ctx: Ctx,
    ApiSession(session): ApiSession,
    query: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<DeskSearchResponse>, ApiError> {
    let text = match query {
        Ok(Query(params)) => params.q,
        Err(_) => String::new(),
    };
    let found = varco_app::desk::search(&state.app, &session.actor(), &ctx.request, &text).await?;
    Ok(Json(DeskSearchResponse {
        accounts: found.into_iter().map(Into::into).collect(),
    }))
}

/// An account in the operator's scope: status, lock, ways in, sessions, events.
#[utoipa::path(get, path = "/api/v1/desk/accounts/{user_code}",
    params(("user_code" = String, Path, description = "The account's user code")),
    responses(
        (status = 200, description = "The account", body = DeskAccountJson),
        (status = 401, description = "`unauthenticated`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`password_change_required`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such account, one outside the operator's scope (audited), or the caller is not an operator", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled` (per address)", body = crate::problem::Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database does not answer", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
/// `GET /api/v1/desk/accounts/{user_code}`.
pub async fn account(
    State(state): State<WebState>,
    ctx: Ctx,
    ApiSession(session): ApiSession,
    Path(user_code): Path<String>,
) -> Result<Json<DeskAccountJson>, ApiError> {
    let found = varco_app::desk::account(&state.app, &session.actor(), &ctx.request, &user_code).await?;
    Ok(Json(found.into()))
}

/// The desk actions.
#[derive(Debug, Clone, Copy)]
enum Action {
    Unlock,
    Disable,
    Enable,
    ResendActivation,
}

async fn act(
    state: &WebState,
    ctx: &Ctx,
    session: &Authenticated,
    user_code: &str,
    action: Action,
) -> Result<Json<DeskActionResponse>, ApiError> {
    let (app, actor, request) = (&state.app, session.actor(), &ctx.request);
    let changed = match action {
        Action::Unlock => varco_app::desk::unlock(app, &actor, request, user_code).await?,
        Action::Disable => varco_app::desk::disable(app, &actor, request, user_code).await?,
        Action::Enable => varco_app::desk::enable(app, &actor, request, user_code).await?,
        Action::ResendActivation => {
            varco_app::desk::resend_activation(app, &actor, request, user_code).await?;
            true
        }
    };
    Ok(Json(DeskActionResponse { changed }))
}

/// Lift the account's sign-in lock and forget its failed attempts.
#[utoipa::path(post, path = "/api/v1/desk/accounts/{user_code}/unlock",
    params(("user_code" = String, Path, description = "The account's user code")),
    responses(
        (status = 200, description = "Done; `changed` is false when there was no lock", body = DeskActionResponse),
        (status = 401, description = "`unauthenticated`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`cross_origin`, or `password_change_required`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also outside the operator's scope, audited)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: the operator's own account, or an operator's account (admins only)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled` (per address)", body = crate::problem::Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database does not answer", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
/// `POST /api/v1/desk/accounts/{user_code}/unlock`.
pub async fn unlock(
    State(state): State<WebState>,
    ctx: Ctx,
    ApiSession(session): ApiSession,
    Path(user_code): Path<String>,
) -> Result<Json<DeskActionResponse>, ApiError> {
    act(&state, &ctx, &session, &user_code, Action::Unlock).await
}

/// Disable the account: its sessions end and its links die.
#[utoipa::path(post, path = "/api/v1/desk/accounts/{user_code}/disable",
    params(("user_code" = String, Path, description = "The account's user code")),
    responses(
        (status = 200, description = "Done; `changed` is false when it already was disabled", body = DeskActionResponse),
        (status = 401, description = "`unauthenticated`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`cross_origin`, or `password_change_required`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also outside the operator's scope, audited)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: the operator's own account, or an operator's account (admins only)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled` (per address)", body = crate::problem::Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database does not answer", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
/// `POST /api/v1/desk/accounts/{user_code}/disable`.
pub async fn disable(
    State(state): State<WebState>,
    ctx: Ctx,
    ApiSession(session): ApiSession,
    Path(user_code): Path<String>,
) -> Result<Json<DeskActionResponse>, ApiError> {
    act(&state, &ctx, &session, &user_code, Action::Disable).await
}

/// Enable a disabled account again.
#[utoipa::path(post, path = "/api/v1/desk/accounts/{user_code}/enable",
    params(("user_code" = String, Path, description = "The account's user code")),
    responses(
        (status = 200, description = "Done; `changed` is false when it was not disabled", body = DeskActionResponse),
        (status = 401, description = "`unauthenticated`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`cross_origin`, or `password_change_required`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also outside the operator's scope, audited)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: the operator's own account, or an operator's account (admins only)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled` (per address)", body = crate::problem::Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database does not answer", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
/// `POST /api/v1/desk/accounts/{user_code}/enable`.
pub async fn enable(
    State(state): State<WebState>,
    ctx: Ctx,
    ApiSession(session): ApiSession,
    Path(user_code): Path<String>,
) -> Result<Json<DeskActionResponse>, ApiError> {
    act(&state, &ctx, &session, &user_code, Action::Enable).await
}

/// Send a new activation link to an account that waits for activation.
#[utoipa::path(post, path = "/api/v1/desk/accounts/{user_code}/resend-activation",
    params(("user_code" = String, Path, description = "The account's user code")),
    responses(
        (status = 200, description = "Queued; `changed` is always true", body = DeskActionResponse),
        (status = 401, description = "`unauthenticated`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`cross_origin`, or `password_change_required`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also outside the operator's scope, audited)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: not waiting for activation, no address, the operator's own account, or an operator's account", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled` (per address)", body = crate::problem::Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database does not answer", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
/// `POST /api/v1/desk/accounts/{user_code}/resend-activation`.
pub async fn resend_activation(
    State(state): State<WebState>,
    ctx: Ctx,
    ApiSession(session): ApiSession,
    Path(user_code): Path<String>,
) -> Result<Json<DeskActionResponse>, ApiError> {
    act(&state, &ctx, &session, &user_code, Action::ResendActivation).await
}

/// The body of `POST /api/v1/desk/accounts/{user_code}/correct`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CorrectPersonRequest {
    /// The correct tax code; absent or blank keeps the one on file.
    #[serde(default)]
    pub tax_code: Option<String>,
    /// The correct given name(s); absent or blank keeps them.
    #[serde(default)]
    pub first_name: Option<String>,
    /// The correct family name(s); absent or blank keeps them.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Why (required, at most 500 characters): kept in the audit log.
    pub reason: String,
}

/// Correct the tax code and/or names of an account, with a reason. SPID/CIE
/// identities linked under the old tax code are unlinked; the account's
/// address is told what changed.
#[utoipa::path(post, path = "/api/v1/desk/accounts/{user_code}/correct",
    params(("user_code" = String, Path, description = "The account's user code")),
    request_body = CorrectPersonRequest,
    responses(
        (status = 200, description = "Done; `changed` is false when the values are those on file", body = DeskActionResponse),
        (status = 400, description = "`invalid_input` with `field` (`tax_code`, `first_name`, `last_name`, `reason`), `input_too_long`, or `malformed_json`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`cross_origin`, or `password_change_required`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also outside the operator's scope, audited)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: another account of the school has the tax code, the operator's own account, or an operator's account", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large` (over 64 KiB)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type` (not application/json)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled` (per address)", body = crate::problem::Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database does not answer", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
/// `POST /api/v1/desk/accounts/{user_code}/correct`.
pub async fn correct(
    State(state): State<WebState>,
    ctx: Ctx,
    ApiSession(session): ApiSession,
    Path(user_code): Path<String>,
    body: super::ApiJson<CorrectPersonRequest>,
) -> Result<Json<DeskActionResponse>, ApiError> {
    let super::ApiJson(body) = body;
    let correction = varco_app::desk::PersonCorrection {
        tax_code: body.tax_code,
        first_name: body.first_name,
        last_name: body.last_name,
        reason: body.reason,
    };
    let changed =
        varco_app::desk::correct_person(&state.app, &session.actor(), &ctx.request, &user_code, &correction).await?;
    Ok(Json(DeskActionResponse { changed }))
}
