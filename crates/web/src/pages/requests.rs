//! `/requests/email-change`: the public email-change request (no login,
//! multipart with the identity document) and its status page; and the
//! desk's queue: `/desk/requests` (list), `/desk/requests/{id}` (detail,
//! approve and reject forms), `/desk/requests/{id}/document`.
//!
//! The POST has its own body limit (the document plus the fields); a body
//! announced larger is refused before it is read. The per-address limit is
//! taken before the body is read too. The answer never says whether an
//! account exists: every complete request is queued for a human.

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use varco_app::AppError;
use varco_app::documents::MAX_DOCUMENT_BYTES;
use varco_app::requests::{self, SCHOOL_ORDERS, Submission};
use varco_app::sessions::Authenticated;

use super::form::FormErrors;
use super::no_referrer;
use crate::WebState;
use crate::extract::{Page, SignedInForm};
use crate::problem::{PageError, WebError};
use crate::session::{Ctx, MaybeSession};

/// The body limit of the request form: the largest document plus room for
/// the other fields and the multipart framing.
pub const REQUEST_BODY_LIMIT: usize = MAX_DOCUMENT_BYTES + 64 * 1024;

const FORM_PATH: &str = "/requests/email-change";

/// The routes of this module.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route(
            FORM_PATH,
            get(form_page)
                .post(submit)
                .layer(DefaultBodyLimit::max(REQUEST_BODY_LIMIT)),
        )
        .route(
            "/requests/email-change/status/{token}",
            // The token is in the URL: never leak it as a referrer.
            get(status_page).layer(no_referrer()),
        )
        .route("/desk/requests", get(list_page))
        .route("/desk/requests/{id}", get(detail_page))
        .route("/desk/requests/{id}/document", get(document))
        .route("/desk/requests/{id}/approve", post(approve))
        .route("/desk/requests/{id}/reject", post(reject))
}

/// What the form shows back (never the document).
#[derive(Debug, Clone, Default, Serialize)]
struct Typed {
    school: String,
    student_first_name: String,
    student_last_name: String,
    school_order: String,
    class_name: String,
    building: String,
    requester_first_name: String,
    requester_last_name: String,
    tax_code: String,
    new_email: String,
    new_email_confirm: String,
    phone: String,
    consent: bool,
}

impl From<&Submission> for Typed {
    fn from(s: &Submission) -> Self {
        Typed {
            school: s.school.clone(),
            student_first_name: s.student_first_name.clone(),
            student_last_name: s.student_last_name.clone(),
            school_order: s.school_order.clone(),
            class_name: s.class_name.clone(),
            building: s.building.clone(),
            requester_first_name: s.requester_first_name.clone(),
            requester_last_name: s.requester_last_name.clone(),
            tax_code: s.tax_code.clone(),
            new_email: s.new_email.clone(),
            new_email_confirm: s.new_email_confirm.clone(),
            phone: s.phone.clone(),
            consent: s.consent,
        }
    }
}

#[derive(Debug, Serialize)]
struct SchoolOption {
    code: String,
    name: String,
}

async fn render_form(
    state: &WebState,
    page: &Page,
    status: StatusCode,
    typed: &Typed,
    errors: FormErrors,
) -> Result<Response, PageError> {
    let schools: Vec<SchoolOption> = varco_app::schools::list(&state.app)
        .await
        .map_err(|e| PageError(WebError::App(e)))?
        .into_iter()
        .map(|s| SchoolOption {
            code: s.code,
            name: s.name,
        })
        .collect();
    page.render_status(
        state,
        status,
        "requests_form.html",
        minijinja::context! {
            schools => schools, orders => SCHOOL_ORDERS, v => typed, form_errors => errors,
            retention_days => state.app.settings.requests.retention_days,
        },
    )
}

/// `GET /requests/email-change`: the empty form.
async fn form_page(State(state): State<WebState>, page: Page) -> Result<Response, PageError> {
    render_form(&state, &page, StatusCode::OK, &Typed::default(), FormErrors::none()).await
}

/// The message of a refused field.
fn refusal_text(state: &WebState, page: &Page, field: &str, code: &str) -> String {
    let specific = match field {
        "document" => format!("request-error-document-{code}"),
        "school" | "school_order" | "consent" | "new_email_confirm" => format!("request-error-{field}"),
        _ if code == "blank" || code == "too_long" => format!("request-error-{code}"),
        _ => format!("request-error-{field}"),
    };
    if state.i18n.has(page.lang, &specific) {
        page.text(state, &specific)
    } else {
        page.text(state, "request-error-invalid")
    }
}

/// Why the body could not be read.
enum ReadError {
    TooLarge,
    Unreadable,
}

/// Reads the multipart body: the fields, the CSRF field, and the document
/// (read in chunks, stopping past the limit).
async fn read_submission(mut multipart: Multipart) -> Result<(Submission, String), (ReadError, Submission)> {
    let mut s = Submission::default();
    let mut csrf = String::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err((ReadError::TooLarge, s)),
            Err(_) => return Err((ReadError::Unreadable, s)),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "document" {
            let mut field = field;
            let mut bytes = Vec::new();
            loop {
                match field.chunk().await {
                    Ok(Some(chunk)) => {
                        if bytes.len() + chunk.len() > MAX_DOCUMENT_BYTES + 1 {
                            return Err((ReadError::TooLarge, s));
                        }
                        bytes.extend_from_slice(&chunk);
                    }
                    Ok(None) => break,
                    Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err((ReadError::TooLarge, s)),
                    Err(_) => return Err((ReadError::Unreadable, s)),
                }
            }
            s.document = (!bytes.is_empty()).then_some(bytes);
            continue;
        }
        let value = match field.text().await {
            Ok(v) => v,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err((ReadError::TooLarge, s)),
            Err(_) => return Err((ReadError::Unreadable, s)),
        };
        let value: String = value.chars().take(1024).collect();
        match name.as_str() {
            "csrf" => csrf = value,
            "school" => s.school = value,
            "student_first_name" => s.student_first_name = value,
            "student_last_name" => s.student_last_name = value,
            "school_order" => s.school_order = value,
            "class_name" => s.class_name = value,
            "building" => s.building = value,
            "requester_first_name" => s.requester_first_name = value,
            "requester_last_name" => s.requester_last_name = value,
            "tax_code" => s.tax_code = value,
            "new_email" => s.new_email = value,
            "new_email_confirm" => s.new_email_confirm = value,
            "phone" => s.phone = value,
            "consent" => s.consent = !value.is_empty(),
            _ => {}
        }
    }
    Ok((s, csrf))
}

/// The largest announced body read (and dropped) before the "too large"
/// page is answered; see [`drain`].
const DRAIN_LIMIT: u64 = 4 * REQUEST_BODY_LIMIT as u64;

/// How long [`drain`] reads at most.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(20);

/// Reads a body to its end and drops it, for at most [`DRAIN_TIME`].
async fn drain(body: axum::body::Body) {
    use axum::body::HttpBody as _;
    let mut body = std::pin::pin!(body);
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
            if frame.is_err() {
                break;
            }
        }
    })
    .await;
}

fn too_large(state: &WebState, page: &Page) -> FormErrors {
    FormErrors::on("document", page.text(state, "request-error-document-too_large"))
}

/// `POST /requests/email-change`: files the request.
async fn submit(State(state): State<WebState>, ctx: Ctx, page: Page, request: Request) -> Result<Response, PageError> {
    let headers = request.headers().clone();
    crate::security::check_same_origin(&headers, state.config.origin()).map_err(PageError)?;
    if let Some(ip) = ctx.ip
        && let Err(seconds) = state.requests_limiter.check(ip)
    {
        let error = state
            .i18n
            .text(page.lang, "request-throttled", &[("seconds", seconds.into())]);
        let mut response = render_form(
            &state,
            &page,
            StatusCode::TOO_MANY_REQUESTS,
            &Typed::default(),
            FormErrors::general(error),
        )
        .await?;
        response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
        return Ok(response);
    }
    // A body announced larger than the limit is refused before it is read.
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > REQUEST_BODY_LIMIT as u64) {
        // A browser still sending its upload when the connection closes
        // shows a connection reset instead of the page: up to a few times
        // the limit the body is read and dropped first (never kept), within
        // a time bound; anything larger is cut off at once.
        if announced.is_some_and(|n| n <= DRAIN_LIMIT) {
            drain(request.into_body()).await;
        }
        let mut response = render_form(
            &state,
            &page,
            StatusCode::PAYLOAD_TOO_LARGE,
            &Typed::default(),
            too_large(&state, &page),
        )
        .await?;
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return Ok(response);
    }
    let multipart = match Multipart::from_request(request, &state).await {
        Ok(m) => m,
        Err(_) => {
            let errors = FormErrors::general(page.text(&state, "request-error-unreadable"));
            return render_form(&state, &page, StatusCode::BAD_REQUEST, &Typed::default(), errors).await;
        }
    };
    let (submission, csrf) = match read_submission(multipart).await {
        Ok(read) => read,
        Err((why, partial)) => {
            let (status, errors) = match why {
                ReadError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, too_large(&state, &page)),
                ReadError::Unreadable => (
                    StatusCode::BAD_REQUEST,
                    FormErrors::general(page.text(&state, "request-error-unreadable")),
                ),
            };
            return render_form(&state, &page, status, &Typed::from(&partial), errors).await;
        }
    };
    crate::extract::check_anonymous_csrf(&state, &headers, &csrf)?;
    let typed = Typed::from(&submission);
    let refusals = requests::validate(&submission);
    if !refusals.is_empty() {
        let mut errors = FormErrors::none();
        for r in &refusals {
            errors.push(Some(r.field), refusal_text(&state, &page, r.field, r.code));
        }
        return render_form(&state, &page, StatusCode::BAD_REQUEST, &typed, errors).await;
    }
    match requests::submit(&state.app, &submission, &ctx.request).await {
        Ok(done) => {
            let status_url = state.app.link(&requests::status_path(&done.status_token));
            let mut response = page.render(
                &state,
                "requests_sent.html",
                minijinja::context! { number => done.number, status_url => status_url },
            )?;
            response
                .headers_mut()
                .insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            Ok(response)
        }
        Err(AppError::Invalid { field, message }) => {
            let field = match field {
                "school" => "school",
                "document" => "document",
                "tax_code" => "tax_code",
                "new_email" => "new_email",
                _ => "school",
            };
            let errors = FormErrors::on(field, refusal_text(&state, &page, field, &message));
            render_form(&state, &page, StatusCode::BAD_REQUEST, &typed, errors).await
        }
        Err(e) => Err(PageError(WebError::App(e))),
    }
}

/// `GET /requests/email-change/status/{token}`.
async fn status_page(
    State(state): State<WebState>,
    page: Page,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    match requests::status(&state.app, &token)
        .await
        .map_err(|e| PageError(WebError::App(e)))?
    {
        Some(s) => page.render(&state, "requests_status.html", minijinja::context! { s => s }),
        None => Err(PageError(WebError::NotFound)),
    }
}

/// Where a desk page sends someone who is not a signed-in operator.
enum Elsewhere {
    /// Sign in first, then come back.
    SignIn(&'static str),
    /// A restricted session changes its password first.
    ChangePassword,
    /// No operator: the desk does not exist for them.
    NotFound,
}

impl IntoResponse for Elsewhere {
    fn into_response(self) -> Response {
        match self {
            Elsewhere::SignIn(path) => Redirect::to(&format!("/login?next={path}")).into_response(),
            Elsewhere::ChangePassword => Redirect::to("/password/change").into_response(),
            Elsewhere::NotFound => PageError(WebError::NotFound).into_response(),
        }
    }
}

/// The signed-in operator of a desk page; a visitor is sent to sign in,
/// an account that is no operator gets the 404 page.
fn operator(session: MaybeSession, path: &'static str) -> Result<Authenticated, Elsewhere> {
    match session.0 {
        None => Err(Elsewhere::SignIn(path)),
        Some(s) if s.session.password_change_required => Err(Elsewhere::ChangePassword),
        Some(s) if !requests::is_operator(&s) => Err(Elsewhere::NotFound),
        Some(s) => Ok(s),
    }
}

fn request_id(raw: &str) -> Result<i64, PageError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(PageError(WebError::NotFound))
}

/// The list's filter.
#[derive(Debug, Deserialize)]
struct ListQuery {
    status: Option<String>,
}

/// `GET /desk/requests`: the operator's queue (the requests to review by default).
async fn list_page(
    State(state): State<WebState>,
    page: Page,
    session: MaybeSession,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let operator = match operator(session, "/desk/requests") {
        Ok(o) => o,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let status_text = query.status.unwrap_or_else(|| "received".to_owned());
    let status = requests::parse_status(&status_text).map_err(|e| PageError(WebError::App(e)))?;
    let list = requests::list_for_school(&state.app, &operator, status)
        .await
        .map_err(|e| PageError(WebError::App(e)))?;
    page.render(
        &state,
        "requests_list.html",
        minijinja::context! { requests => list, status => status_text, csrf => operator.session.csrf_token },
    )
}

#[allow(clippy::too_many_arguments)]
async fn render_detail(
    state: &WebState,
    page: &Page,
    ctx: &Ctx,
    operator: &Authenticated,
    id: i64,
    status: StatusCode,
    typed: (&str, &str),
    errors: FormErrors,
) -> Result<Response, PageError> {
    let detail = requests::get(&state.app, operator, id, &ctx.request)
        .await
        .map_err(|e| PageError(WebError::App(e)))?;
    let account = if typed.0.is_empty() && detail.candidates.len() == 1 {
        detail.candidates[0].user_code.clone()
    } else {
        typed.0.to_owned()
    };
    page.render_status(
        state,
        status,
        "requests_detail.html",
        minijinja::context! {
            r => detail.request, candidates => detail.candidates, form_errors => errors,
            account => account, reason => typed.1, csrf => operator.session.csrf_token,
        },
    )
}

/// `GET /desk/requests/{id}`: the request, the suggested accounts and the decision forms.
async fn detail_page(
    State(state): State<WebState>,
    page: Page,
    ctx: Ctx,
    session: MaybeSession,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let operator = match operator(session, "/desk/requests") {
        Ok(o) => o,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let id = request_id(&id)?;
    render_detail(
        &state,
        &page,
        &ctx,
        &operator,
        id,
        StatusCode::OK,
        ("", ""),
        FormErrors::none(),
    )
    .await
}

/// `GET /desk/requests/{id}/document`: the decrypted document, as a download.
async fn document(
    State(state): State<WebState>,
    ctx: Ctx,
    session: MaybeSession,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let operator = match operator(session, "/desk/requests") {
        Ok(o) => o,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let id = request_id(&id)?;
    let doc = requests::document(&state.app, &operator, id, &ctx.request)
        .await
        .map_err(|e| PageError(WebError::App(e)))?;
    let disposition = format!("attachment; filename=\"{}\"", doc.file_name);
    let mut response = doc.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(doc.kind.media_type()));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(response)
}

/// The approve form.
#[derive(Debug, Deserialize)]
struct ApproveForm {
    #[serde(default)]
    account: String,
}

/// The reject form.
#[derive(Debug, Deserialize)]
struct RejectForm {
    #[serde(default)]
    reason: String,
}

fn decision_errors(state: &WebState, page: &Page, e: &AppError) -> Option<FormErrors> {
    match e {
        AppError::Invalid { field: "account", .. } => {
            Some(FormErrors::on("account", page.text(state, "desk-error-account")))
        }
        AppError::Invalid { field: "reason", .. } => {
            Some(FormErrors::on("reason", page.text(state, "desk-error-reason")))
        }
        AppError::Conflict { .. } => Some(FormErrors::general(page.text(state, "desk-error-decided"))),
        _ => None,
    }
}

/// `POST /desk/requests/{id}/approve`.
async fn approve(
    State(state): State<WebState>,
    page: Page,
    ctx: Ctx,
    Path(id): Path<String>,
    form: SignedInForm<ApproveForm>,
) -> Result<Response, PageError> {
    let operator = match operator(MaybeSession(Some(form.session)), "/desk/requests") {
        Ok(o) => o,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let id = request_id(&id)?;
    match requests::approve(&state.app, &operator, id, &form.form.account, &ctx.request).await {
        Ok(_) => Ok(Redirect::to(&format!("/desk/requests/{id}")).into_response()),
        Err(e) => match decision_errors(&state, &page, &e) {
            Some(errors) => {
                let typed = (form.form.account.as_str(), "");
                render_detail(
                    &state,
                    &page,
                    &ctx,
                    &operator,
                    id,
                    StatusCode::BAD_REQUEST,
                    typed,
                    errors,
                )
                .await
            }
            None => Err(PageError(WebError::App(e))),
        },
    }
}

/// `POST /desk/requests/{id}/reject`.
async fn reject(
    State(state): State<WebState>,
    page: Page,
    ctx: Ctx,
    Path(id): Path<String>,
    form: SignedInForm<RejectForm>,
) -> Result<Response, PageError> {
    let operator = match operator(MaybeSession(Some(form.session)), "/desk/requests") {
        Ok(o) => o,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let id = request_id(&id)?;
    match requests::reject(&state.app, &operator, id, &form.form.reason, &ctx.request).await {
        Ok(_) => Ok(Redirect::to(&format!("/desk/requests/{id}")).into_response()),
        Err(e) => match decision_errors(&state, &page, &e) {
            Some(errors) => {
                let typed = ("", form.form.reason.as_str());
                render_detail(
                    &state,
                    &page,
                    &ctx,
                    &operator,
                    id,
                    StatusCode::BAD_REQUEST,
                    typed,
                    errors,
                )
                .await
            }
            None => Err(PageError(WebError::App(e))),
        },
    }
}
