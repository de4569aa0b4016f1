//! `/admin`: the administrators' console. The audit log with its filters,
//! pages and CSV export, the outbox of messages not delivered with a retry
//! button, the schools with their helpdesk contacts, the operators with their
//! roles, and the OpenID Connect clients (read-only). Every POST is a
//! form with the session's CSRF token; everything works without JavaScript.
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

/// The schools page's form: a new school, or a school's new name and contacts.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct SchoolForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    helpdesk_email: String,
    #[serde(default)]
    helpdesk_phone: String,
    #[serde(default)]
    helpdesk_hours: String,
    #[serde(default)]
    town: String,
}

/// The message said on a school field refused.
fn school_error(state: &WebState, page: &Page, error: AppError) -> Result<FormErrors, PageError> {
    let (field, key) = match error {
        AppError::Invalid { field, .. } => match field {
            "code" => ("code", "admin-school-invalid-code"),
            "name" => ("name", "admin-school-invalid-name"),
            "email" => ("email", "admin-school-invalid-email"),
            "helpdesk_email" => ("helpdesk_email", "admin-school-invalid-email"),
            "helpdesk_phone" => ("helpdesk_phone", "admin-school-invalid-text"),
            "town" => ("town", "admin-school-invalid-town"),
            _ => ("helpdesk_hours", "admin-school-invalid-text"),
        },
        AppError::Conflict { .. } => ("code", "admin-school-code-taken"),
        e => return Err(e.into()),
    };
    Ok(FormErrors::on(field, page.text(state, key)))
}

/// The query of the schools pages: what was just done.
#[derive(Debug, Default, Deserialize)]
pub struct SchoolNotice {
    done: Option<String>,
}

fn school_notice(state: &WebState, page: &Page, query: Result<Query<SchoolNotice>, QueryRejection>) -> Option<String> {
    match query.ok().and_then(|Query(n)| n.done).as_deref() {
        Some("added") => Some(page.text(state, "admin-school-added")),
        Some("saved") => Some(page.text(state, "admin-school-saved")),
        Some("unchanged") => Some(page.text(state, "admin-school-unchanged")),
        _ => None,
    }
}

async fn render_schools(
    state: &WebState,
    page: &Page,
    session: &varco_app::sessions::Authenticated,
    notice: Option<String>,
    errors: FormErrors,
    typed: &SchoolForm,
) -> Result<Response, PageError> {
    let schools = varco_app::admin::schools(&state.app, &session.actor()).await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    page.render_status(
        state,
        status,
        "admin_schools.html",
        minijinja::context! {
            schools => schools, notice => notice, fe => errors, new => typed,
            csrf => session.session.csrf_token,
        },
    )
}

/// `GET /admin/schools`: every school, and a form to add one.
pub async fn schools(
    State(state): State<WebState>,
    page: Page,
    session: MaybeSession,
    query: Result<Query<SchoolNotice>, QueryRejection>,
) -> Result<Response, PageError> {
    let session = match settings_session(session, "/admin/schools") {
        Ok(s) => s,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let notice = school_notice(&state, &page, query);
    render_schools(
        &state,
        &page,
        &session,
        notice,
        FormErrors::none(),
        &SchoolForm::default(),
    )
    .await
}

fn contact(value: &str) -> Option<String> {
    Some(value.to_owned())
}

/// `POST /admin/schools`: adds a school; a value refused shows the page
/// again with the error on its field.
pub async fn add_school(
    State(state): State<WebState>,
    page: Page,
    ctx: Ctx,
    form: SignedInForm<SchoolForm>,
) -> Result<Response, PageError> {
    let (session, form) = match form.full() {
        Ok(pair) => pair,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let input = varco_app::schools::AddSchool {
        code: form.code.trim().to_uppercase(),
        name: form.name.clone(),
        email: contact(&form.email),
        helpdesk_email: contact(&form.helpdesk_email),
        helpdesk_phone: contact(&form.helpdesk_phone),
        helpdesk_hours: contact(&form.helpdesk_hours),
        town: contact(&form.town),
    };
    match varco_app::admin::add_school(&state.app, &session.actor(), &ctx.request, &input).await {
        Ok(_) => Ok(Redirect::to("/admin/schools?done=added").into_response()),
        Err(e) => {
            let errors = school_error(&state, &page, e)?;
            render_schools(&state, &page, &session, None, errors, &form).await
        }
    }
}

/// `GET /admin/schools/{code}`: a school's name and contacts, to edit.
pub async fn school(
    State(state): State<WebState>,
    page: Page,
    session: MaybeSession,
    Path(code): Path<String>,
    query: Result<Query<SchoolNotice>, QueryRejection>,
) -> Result<Response, PageError> {
    let session = match settings_session(session, "/admin/schools") {
        Ok(s) => s,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let school = varco_app::admin::school(&state.app, &session.actor(), &code).await?;
    let notice = school_notice(&state, &page, query);
    let typed = SchoolForm {
        code: school.code.clone(),
        name: school.name.clone(),
        email: school.email.clone().unwrap_or_default(),
        helpdesk_email: school.helpdesk_email.clone().unwrap_or_default(),
        helpdesk_phone: school.helpdesk_phone.clone().unwrap_or_default(),
        helpdesk_hours: school.helpdesk_hours.clone().unwrap_or_default(),
        town: school.town.clone().unwrap_or_default(),
    };
    page.render(
        &state,
        "admin_school.html",
        minijinja::context! {
            school => typed, notice => notice, fe => FormErrors::none(), csrf => session.session.csrf_token,
        },
    )
}

/// `POST /admin/schools/{code}`: saves a school's name and contacts; a
/// value refused shows the form again with the error on its field, and
/// nothing changes.
pub async fn save_school(
    State(state): State<WebState>,
    page: Page,
    ctx: Ctx,
    Path(code): Path<String>,
    form: SignedInForm<SchoolForm>,
) -> Result<Response, PageError> {
    let (session, form) = match form.full() {
        Ok(pair) => pair,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let actor = session.actor();
    // The school must exist (and the caller be an admin) before anything is said about the form.
    let school = varco_app::admin::school(&state.app, &actor, &code).await?;
    let edit = varco_app::admin::SchoolEdit {
        name: form.name.clone(),
        email: contact(&form.email),
        helpdesk_email: contact(&form.helpdesk_email),
        helpdesk_phone: contact(&form.helpdesk_phone),
        helpdesk_hours: contact(&form.helpdesk_hours),
        town: contact(&form.town),
    };
    let back = |done: &str| {
        let code: String = school.code.chars().filter(char::is_ascii_alphanumeric).collect();
        Redirect::to(&format!("/admin/schools/{code}?done={done}")).into_response()
    };
    match varco_app::admin::edit_school(&state.app, &actor, &ctx.request, &school.code, &edit).await {
        Ok(true) => Ok(back("saved")),
        Ok(false) => Ok(back("unchanged")),
        Err(e) => {
            let errors = school_error(&state, &page, e)?;
            let typed = SchoolForm {
                code: school.code.clone(),
                ..form
            };
            page.render_status(
                &state,
                StatusCode::BAD_REQUEST,
                "admin_school.html",
                minijinja::context! {
                    school => typed, notice => None::<String>, fe => errors, csrf => session.session.csrf_token,
                },
            )
        }
    }
}

/// The query of `/admin/operators`: what was just done.
#[derive(Debug, Default, Deserialize)]
pub struct OperatorsNotice {
    done: Option<String>,
}

/// What a role change did, said on the operators page after the redirect.
const ROLE_NOTICES: &[&str] = &["granted", "revoked", "unchanged", "refused-self", "refused-last"];

async fn render_operators(
    state: &WebState,
    page: &Page,
    session: &varco_app::sessions::Authenticated,
    notice: Option<&str>,
    errors: FormErrors,
    typed: &RoleForm,
) -> Result<Response, PageError> {
    let operators = varco_app::admin::operators(&state.app, &session.actor()).await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    page.render_status(
        state,
        status,
        "admin_operators.html",
        minijinja::context! {
            operators => operators,
            notice => notice.map(|d| page.text(state, &format!("admin-role-{d}"))),
            refused => notice.is_some_and(|d| d.starts_with("refused")),
            fe => errors, grant => typed, csrf => session.session.csrf_token,
        },
    )
}

/// `GET /admin/operators`: the accounts holding a role, a revoke button per
/// role, and a form to grant one.
pub async fn operators(
    State(state): State<WebState>,
    page: Page,
    session: MaybeSession,
    query: Result<Query<OperatorsNotice>, QueryRejection>,
) -> Result<Response, PageError> {
    let session = match settings_session(session, "/admin/operators") {
        Ok(s) => s,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let done = query.ok().and_then(|Query(n)| n.done);
    let notice = done.as_deref().filter(|d| ROLE_NOTICES.contains(d));
    render_operators(
        &state,
        &page,
        &session,
        notice,
        FormErrors::none(),
        &RoleForm::default(),
    )
    .await
}

/// A role to grant or revoke.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct RoleForm {
    #[serde(default)]
    user_code: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    school: String,
}

/// `POST /admin/operators/{grant|revoke}`: grants or revokes a role; back to
/// the operators page saying what happened, or the grant form's errors.
pub async fn set_role(
    State(state): State<WebState>,
    page: Page,
    ctx: Ctx,
    Path(way): Path<String>,
    form: SignedInForm<RoleForm>,
) -> Result<Response, PageError> {
    let (session, form) = match form.full() {
        Ok(pair) => pair,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let actor = session.actor();
    varco_app::admin::check(&state.app, &actor).await?;
    let grant = match way.as_str() {
        "grant" => true,
        "revoke" => false,
        _ => return Err(PageError(crate::problem::WebError::NotFound)),
    };
    let role = match form.role.as_str() {
        "desk" => varco_domain::account::Role::Desk,
        "admin" => varco_domain::account::Role::Admin,
        _ => {
            let errors = FormErrors::on("role", page.text(&state, "admin-role-invalid-role"));
            return render_operators(&state, &page, &session, None, errors, &form).await;
        }
    };
    let school = Some(form.school.trim()).filter(|s| !s.is_empty() && role == varco_domain::account::Role::Desk);
    let user_code = form.user_code.trim();
    let result = varco_app::admin::set_role(&state.app, &actor, &ctx.request, user_code, role, school, grant).await;
    let done = match result {
        Ok(true) if grant => "granted",
        Ok(true) => "revoked",
        Ok(false) => "unchanged",
        Err(AppError::Conflict { message, .. }) if message == varco_app::admin::OWN_ADMIN_ROLE => "refused-self",
        Err(AppError::Conflict { .. }) => "refused-last",
        Err(AppError::Invalid { field: "school", .. }) => {
            let errors = FormErrors::on("school", page.text(&state, "admin-role-invalid-school"));
            return render_operators(&state, &page, &session, None, errors, &form).await;
        }
        Err(AppError::Invalid { .. } | AppError::NotFound("account")) => {
            let errors = FormErrors::on("user_code", page.text(&state, "admin-role-invalid-user-code"));
            return render_operators(&state, &page, &session, None, errors, &form).await;
        }
        Err(AppError::NotFound(_)) => {
            let errors = FormErrors::on("school", page.text(&state, "admin-role-invalid-school"));
            return render_operators(&state, &page, &session, None, errors, &form).await;
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Redirect::to(&format!("/admin/operators?done={done}")).into_response())
}

/// `GET /admin/clients`: the registered OpenID Connect clients (read-only).
pub async fn clients(State(state): State<WebState>, page: Page, session: MaybeSession) -> Result<Response, PageError> {
    let session = match settings_session(session, "/admin/clients") {
        Ok(s) => s,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let clients = varco_app::admin::clients(&state.app, &session.actor()).await?;
    page.render(&state, "admin_clients.html", minijinja::context! { clients => clients })
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
