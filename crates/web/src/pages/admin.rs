//! `/admin`: the administrators' console. The audit log with its filters,
//! pages and CSV export, and the outbox of messages not delivered with a
//! retry button (a POST form with the session's CSRF token). Everything
//! works without JavaScript.
//!
//! Who may see it is decided in `varco_app::admin`, never here: someone who
//! is not an admin answers the 404 page, as the desk does.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use varco_app::AppError;
use varco_app::admin::AuditQuery;

use crate::WebState;
use crate::extract::{Page, SignedInForm};
use crate::pages::form::FormErrors;
use crate::pages::sessions::settings_session;
use crate::problem::PageError;
use crate::session::{Ctx, MaybeSession};

/// `GET /admin`: what the console holds.
pub async fn index(State(state): State<WebState>, page: Page, session: MaybeSession) -> Result<Response, PageError> {
    let session = match settings_session(session, "/admin") {
        Ok(s) => s,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    varco_app::admin::check(&state.app, &session.actor()).await?;
    page.render(&state, "admin.html", minijinja::context! {})
}

/// The filters of `/admin/audit` and `/admin/audit.csv`, as typed.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct AuditParams {
    #[serde(default, skip_serializing_if = "blank")]
    user_code: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    event: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    from: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    to: Option<String>,
    #[serde(default, skip_serializing_if = "blank")]
    school: Option<String>,
    #[serde(default, skip_serializing)]
    page: Option<String>,
}

fn blank(value: &Option<String>) -> bool {
    value.as_deref().is_none_or(|v| v.trim().is_empty())
}

impl AuditParams {
    /// The query for the app; a page number that cannot be read is the first.
    fn query(&self) -> AuditQuery {
        AuditQuery {
            user_code: self.user_code.clone(),
            event: self.event.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            school: self.school.clone(),
            page: self
                .page
                .as_deref()
                .and_then(|p| p.trim().parse::<u32>().ok())
                .unwrap_or(1)
                .clamp(1, 100_000),
        }
    }

    /// The filters as a query string (without the page), for the links.
    fn query_string(&self) -> String {
        serde_urlencoded::to_string(self).unwrap_or_default()
    }
}

/// Reads the filters; a query that cannot be read is taken as none.
fn params(query: Result<Query<AuditParams>, QueryRejection>) -> AuditParams {
    query.map(|Query(p)| p).unwrap_or_default()
}

/// `GET /admin/audit`: the audit log, newest first, filtered, a page at a time.
pub async fn audit(
    State(state): State<WebState>,
    page: Page,
    session: MaybeSession,
    query: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Response, PageError> {
    let session = match settings_session(session, "/admin/audit") {
        Ok(s) => s,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let params = params(query);
    let actor = session.actor();
    varco_app::admin::check(&state.app, &actor).await?;
    let (found, errors) = match varco_app::admin::audit(&state.app, &actor, &params.query()).await {
        Ok(found) => (Some(found), FormErrors::none()),
        Err(AppError::Invalid { field, .. }) => {
            let (field, key) = match field {
                "user_code" => ("user_code", "admin-audit-invalid-user-code"),
                "event" => ("event", "admin-audit-invalid-event"),
                "from" => ("from", "admin-audit-invalid-date"),
                "school" => ("school", "admin-audit-invalid-school"),
                _ => ("to", "admin-audit-invalid-range"),
            };
            (None, FormErrors::on(field, page.text(&state, key)))
        }
        Err(e) => return Err(e.into()),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    page.render_status(
        &state,
        status,
        "admin_audit.html",
        minijinja::context! {
            f => params,
            qs => params.query_string(),
            found => found,
            fe => errors,
        },
    )
}

/// `GET /admin/audit.csv`: the events the filters select (every page) as
/// a CSV file to download; the export is audited. Filters that cannot be
/// read go back to the page, which says why.
pub async fn audit_csv(
    State(state): State<WebState>,
    ctx: Ctx,
    session: MaybeSession,
    query: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Response, PageError> {
    let session = match settings_session(session, "/admin/audit") {
        Ok(s) => s,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let params = params(query);
    match varco_app::admin::audit_csv(&state.app, &session.actor(), &ctx.request, &params.query()).await {
        Ok((bytes, _)) => Ok(csv_response(&state, bytes)),
        Err(AppError::Invalid { .. }) => {
            Ok(Redirect::to(&format!("/admin/audit?{}", params.query_string())).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// The CSV file as a download named after today, with a byte-order mark
/// so that spreadsheets read it as UTF-8.
fn csv_response(state: &WebState, bytes: Vec<u8>) -> Response {
    let today = time::OffsetDateTime::from_unix_timestamp(state.app.now().0)
        .map(|t| format!("{:04}{:02}{:02}", t.year(), u8::from(t.month()), t.day()))
        .unwrap_or_default();
    let mut body = Vec::with_capacity(bytes.len() + 3);
    body.extend_from_slice(b"\xEF\xBB\xBF");
    body.extend_from_slice(&bytes);
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"varco-audit-{today}.csv\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response()
}

/// The query of `/admin/outbox`: what was just done.
#[derive(Debug, Default, Deserialize)]
pub struct OutboxNotice {
    done: Option<String>,
}

/// `GET /admin/outbox`: the messages not delivered, with a retry button.
pub async fn outbox(
    State(state): State<WebState>,
    page: Page,
    session: MaybeSession,
    query: Result<Query<OutboxNotice>, QueryRejection>,
) -> Result<Response, PageError> {
    let session = match settings_session(session, "/admin/outbox") {
        Ok(s) => s,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let messages = varco_app::admin::outbox(&state.app, &session.actor()).await?;
    let done = query.ok().and_then(|Query(n)| n.done);
    let notice = match done.as_deref() {
        Some("retried") => Some(page.text(&state, "admin-outbox-retried")),
        Some("gone") => Some(page.text(&state, "admin-outbox-gone")),
        _ => None,
    };
    page.render(
        &state,
        "admin_outbox.html",
        minijinja::context! {
            messages => messages,
            notice => notice,
            csrf => session.session.csrf_token,
        },
    )
}

/// A retry's form: nothing besides the CSRF token.
#[derive(Debug, Deserialize)]
pub struct EmptyForm {}

/// `POST /admin/outbox/{id}/retry`: puts the message back in the queue.
pub async fn retry(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: SignedInForm<EmptyForm>,
) -> Result<Response, PageError> {
    let (session, _) = match form.full() {
        Ok(pair) => pair,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let actor = session.actor();
    // Not an admin: the 404 page, whatever the id.
    varco_app::admin::check(&state.app, &actor).await?;
    let Ok(id) = id.parse::<i64>() else {
        return Ok(Redirect::to("/admin/outbox?done=gone").into_response());
    };
    match varco_app::admin::retry_outbox(&state.app, &actor, &ctx.request, id).await {
        Ok(()) => Ok(Redirect::to("/admin/outbox?done=retried").into_response()),
        Err(AppError::NotFound(_)) => Ok(Redirect::to("/admin/outbox?done=gone").into_response()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_links_keep_the_filters_given_and_drop_the_page() {
        let params = AuditParams {
            user_code: Some("ABCD2345".into()),
            event: Some(" ".into()),
            school: Some("RMIC&1".into()),
            page: Some("3".into()),
            ..AuditParams::default()
        };
        assert_eq!(params.query_string(), "user_code=ABCD2345&school=RMIC%261");
        assert_eq!(params.query().page, 3);
        let odd = AuditParams {
            page: Some("-2".into()),
            ..AuditParams::default()
        };
        assert_eq!(odd.query().page, 1);
    }
}
