//! The admin console's JSON API under `/api/v1/admin`: the audit log with
//! the page's filters, the outbox of messages not delivered, and a retry.
//! Cookie-authenticated like the pages; someone who is not an admin gets a
//! `not_found` problem, as if the console did not exist.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use varco_app::admin::{AuditPage, AuditQuery, AuditRow, OutboxItem};

use super::ApiSession;
use crate::WebState;
use crate::problem::{ApiError, WebError};
use crate::session::Ctx;

/// The query of `GET /api/v1/admin/audit`; every filter is optional.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct AuditParams {
    /// The user code of the account acting or acted on.
    pub user_code: Option<String>,
    /// The event's stable name (`login`, `desk_search`, ...).
    pub event: Option<String>,
    /// First day, `YYYY-MM-DD` (Europe/Rome), included.
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (Europe/Rome), included.
    pub to: Option<String>,
    /// A school's code: events about it, its accounts, or by them.
    pub school: Option<String>,
    /// Page number from 1 (50 events a page).
    #[param(minimum = 1, maximum = 100000)]
    pub page: Option<u32>,
}

/// An audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventJson {
    /// Grows with time.
    pub id: i64,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// The event's stable name.
    pub event: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// Who acted: a user code, `cli`, `system` or `anonymous`.
    pub actor: String,
    /// What it is about: a user code or a school code.
    pub target: Option<String>,
    /// The address it came from, if known.
    pub ip: Option<String>,
    /// The client's User-Agent, if known.
    pub user_agent: Option<String>,
    /// Short key facts.
    pub detail: Option<String>,
}

impl From<AuditRow> for AuditEventJson {
    fn from(r: AuditRow) -> Self {
        AuditEventJson {
            id: r.id,
            at: r.at_rfc3339,
            event: r.event,
            outcome: r.outcome,
            actor: r.actor,
            target: r.target,
            ip: r.ip,
            user_agent: r.user_agent,
            detail: r.detail,
        }
    }
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPageJson {
    /// Newest first, at most 50.
    pub events: Vec<AuditEventJson>,
    /// This page's number.
    pub page: u32,
    /// Whether older events follow on the next page.
    pub more: bool,
}

impl From<AuditPage> for AuditPageJson {
    fn from(p: AuditPage) -> Self {
        AuditPageJson {
            events: p.events.into_iter().map(Into::into).collect(),
            page: p.page,
            more: p.more,
        }
    }
}

/// The audit log, newest first, filtered, a page at a time.
#[utoipa::path(get, path = "/api/v1/admin/audit", params(AuditParams),
    responses(
        (status = 200, description = "A page of events (possibly none)", body = AuditPageJson),
        (status = 400, description = "`invalid_input` with `field` (`user_code`, `event`, `from`, `to`, `school`), or a query that cannot be read", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`password_change_required`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: the account is not an admin", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled` (per address)", body = crate::problem::Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database does not answer", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
/// `GET /api/v1/admin/audit?…`.
pub async fn audit(
    State(state): State<WebState>,
    ApiSession(session): ApiSession,
    query: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Json<AuditPageJson>, ApiError> {
    let actor = session.actor();
    varco_app::admin::check(&state.app, &actor).await?;
    let Ok(Query(params)) = query else {
        return Err(WebError::App(varco_app::AppError::invalid("query", "the query cannot be read")).into());
    };
    let query = AuditQuery {
        user_code: params.user_code,
        event: params.event,
        from: params.from,
        to: params.to,
        school: params.school,
        page: params.page.unwrap_or(1).clamp(1, 100_000),
    };
    let page = varco_app::admin::audit(&state.app, &actor, &query).await?;
    Ok(Json(page.into()))
}

/// A message not delivered.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxMessageJson {
    /// What to retry.
    pub id: i64,
    /// `pending` or `failed`.
    pub status: String,
    /// The template's name.
    pub template: String,
    /// The address, masked.
    pub recipient: String,
    /// Delivery attempts made.
    pub attempts: i64,
    /// When it was queued (`dd/mm/yyyy hh:mm`, Europe/Rome).
    pub created_at: String,
    /// When it is next tried, for a pending message.
    pub next_attempt_at: Option<String>,
    /// Why the last attempt failed (addresses masked, shortened).
    pub last_error: Option<String>,
}

impl From<OutboxItem> for OutboxMessageJson {
    fn from(m: OutboxItem) -> Self {
        OutboxMessageJson {
            id: m.id,
            status: m.status,
            template: m.template,
            recipient: m.recipient,
            attempts: m.attempts,
            created_at: m.created_at,
            next_attempt_at: m.next_attempt_at,
            last_error: m.last_error,
        }
    }
}

/// The outbox's messages not delivered.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxJson {
    /// Newest first, at most 200.
    pub messages: Vec<OutboxMessageJson>,
}

/// The messages waiting to be sent or given up on, newest first.
#[utoipa::path(get, path = "/api/v1/admin/outbox",
    responses(
        (status = 200, description = "The messages (possibly none)", body = OutboxJson),
        (status = 401, description = "`unauthenticated`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`password_change_required`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: the account is not an admin", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled` (per address)", body = crate::problem::Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database does not answer", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
/// `GET /api/v1/admin/outbox`.
pub async fn outbox(
    State(state): State<WebState>,
    ApiSession(session): ApiSession,
) -> Result<Json<OutboxJson>, ApiError> {
    let messages = varco_app::admin::outbox(&state.app, &session.actor()).await?;
    Ok(Json(OutboxJson {
        messages: messages.into_iter().map(Into::into).collect(),
    }))
}

/// What a retry did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetryResponse {
    /// Always true: the message is queued again, due now.
    pub queued: bool,
}

/// Put a message not delivered back in the queue, due now (audited).
#[utoipa::path(post, path = "/api/v1/admin/outbox/{id}/retry",
    params(("id" = String, Path, description = "The message's id")),
    responses(
        (status = 200, description = "Queued again", body = RetryResponse),
        (status = 401, description = "`unauthenticated`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`cross_origin`, or `password_change_required`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such message, one already delivered, or the account is not an admin", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled` (per address)", body = crate::problem::Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database does not answer", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
/// `POST /api/v1/admin/outbox/{id}/retry`.
pub async fn retry(
    State(state): State<WebState>,
    ctx: Ctx,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
) -> Result<Json<RetryResponse>, ApiError> {
    let actor = session.actor();
    varco_app::admin::check(&state.app, &actor).await?;
    let Ok(id) = id.parse::<i64>() else {
        return Err(WebError::NotFound.into());
    };
    varco_app::admin::retry_outbox(&state.app, &actor, &ctx.request, id).await?;
    Ok(Json(RetryResponse { queued: true }))
}
