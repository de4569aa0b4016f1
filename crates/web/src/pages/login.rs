//! `/login`: the sign-in form.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use varco_app::AppError;

use super::form::FormErrors;
use super::local_path;
use crate::WebState;
use crate::extract::{AnonymousForm, Page};
use crate::problem::{PageError, WebError};
use crate::session::{Ctx, MaybeSession, cookie_name, cookie_value, session_cookie};

/// The query of the login page: where to go afterwards, and whether the visitor just logged out.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    logged_out: Option<String>,
    /// An application asked for a new sign-in (`prompt=login`, `max_age`):
    /// show the form even to a signed-in person.
    fresh: Option<String>,
    /// An application's hint of who is signing in, to fill the form.
    login_hint: Option<String>,
}

/// `GET /login`: the sign-in form (to the account page when already signed in).
pub async fn show(
    State(state): State<WebState>,
    page: Page,
    session: MaybeSession,
    Query(query): Query<LoginQuery>,
) -> Result<Response, PageError> {
    if session.0.is_some() && query.fresh.is_none() {
        let next = local_path(query.next.as_deref());
        let target = if next == "/" { "/account".to_owned() } else { next };
        return Ok(Redirect::to(&target).into_response());
    }
    // No admin yet: say that setup is pending and where its link was printed
    // (a database hiccup only hides the hint, never the form).
    let setup_pending = varco_app::setup::needs_setup(&state.app).await.unwrap_or(false);
    form(
        &state,
        &page,
        StatusCode::OK,
        query.login_hint.as_deref().filter(|h| h.len() <= 320).unwrap_or(""),
        FormErrors::none(),
        query.next.as_deref(),
        Notices {
            logged_out: query.logged_out.is_some(),
            setup_pending,
        },
    )
}

/// What the sign-in page may say besides its errors.
#[derive(Debug, Clone, Copy, Default)]
struct Notices {
    logged_out: bool,
    setup_pending: bool,
}

fn form(
    state: &WebState,
    page: &Page,
    status: StatusCode,
    login: &str,
    errors: FormErrors,
    next: Option<&str>,
    notices: Notices,
) -> Result<Response, PageError> {
    let next = next.map(|n| local_path(Some(n))).filter(|n| n != "/");
    let for_application = next.as_deref().is_some_and(|n| n.starts_with("/oauth2/"));
    let mut response = page.render_status(
        state,
        status,
        "login.html",
        minijinja::context! {
            login => login,
            form_errors => errors,
            next => next,
            sign_in => varco_app::login_policy::sign_in_notices(&state.app),
            logged_out => notices.logged_out,
            setup_pending => notices.setup_pending,
            upstream => super::upstream::buttons(state),
        },
    )?;
    if for_application {
        crate::oidc::allow_redirect_after_form(&mut response);
    }
    Ok(response)
}

/// The fields of the sign-in form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// The errors of a form sent with an empty field: nothing was checked.
fn blank_fields(state: &WebState, page: &Page, form: &LoginForm) -> Option<FormErrors> {
    let mut errors = FormErrors::none();
    if form.login.trim().is_empty() {
        errors.push(Some("login"), page.text(state, "login-blank-login"));
    }
    if form.password.is_empty() {
        errors.push(Some("password"), page.text(state, "login-blank-password"));
    }
    (!errors.is_empty()).then_some(errors)
}

/// `POST /login`: checks the password, sets the session cookie and goes on to `next` (or to the
/// password change when it expired).
pub async fn submit(
    State(state): State<WebState>,
    headers: HeaderMap,
    ctx: Ctx,
    page: Page,
    AnonymousForm(form): AnonymousForm<LoginForm>,
) -> Result<Response, PageError> {
    let lang = page.lang;
    let refuse = |status: StatusCode, login: &str, errors: FormErrors| {
        form_page_with(&state, &page, status, login, errors, form.next.as_deref())
    };
    if let Some(errors) = blank_fields(&state, &page, &form) {
        return refuse(StatusCode::BAD_REQUEST, &form.login, errors);
    }
    let attempt = match state.login_limiter.attempt(ctx.ip) {
        Ok(attempt) => attempt,
        Err(seconds) => {
            let message = state.i18n.text(lang, "login-throttled", &[("seconds", seconds.into())]);
            let mut response = refuse(StatusCode::TOO_MANY_REQUESTS, &form.login, FormErrors::general(message))?;
            response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
            return Ok(response);
        }
    };
    let previous = cookie_value(&headers, cookie_name(&state.config));
    let result = varco_app::login::login(
        &state.app,
        &form.login,
        &form.password,
        &ctx.request,
        previous.as_deref(),
    )
    .await;
    attempt.settle(crate::ratelimit::failed_sign_in(&result));
    match result {
        Ok(outcome) => {
            let target = local_path(form.next.as_deref());
            let target = if outcome.password_expired {
                "/password/change".to_owned()
            } else if target == "/" {
                "/account".to_owned()
            } else {
                target
            };
            let mut response = Redirect::to(&target).into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                session_cookie(&state.config, outcome.session.token.as_str()),
            );
            Ok(response)
        }
        Err(AppError::InvalidCredentials) => {
            let message = page.text(&state, "login-error");
            refuse(StatusCode::UNAUTHORIZED, &form.login, FormErrors::general(message))
        }
        Err(AppError::Throttled { retry_after_secs } | AppError::LoginDelayed { retry_after_secs }) => {
            let message = state.i18n.text(
                lang,
                "error-login-wait",
                &[("seconds", (retry_after_secs as i64).into())],
            );
            let mut response = refuse(StatusCode::TOO_MANY_REQUESTS, &form.login, FormErrors::general(message))?;
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after_secs.into());
            Ok(response)
        }
        Err(AppError::PasswordNotAllowed) => {
            let message = page.text(&state, "policy-login-refused");
            refuse(StatusCode::FORBIDDEN, &form.login, FormErrors::general(message))
        }
        Err(AppError::InputTooLong) => {
            let message = page.text(&state, "login-too-long");
            refuse(StatusCode::BAD_REQUEST, "", FormErrors::general(message))
        }
        Err(e) => Err(PageError(WebError::App(e))),
    }
}

fn form_page_with(
    state: &WebState,
    page: &Page,
    status: StatusCode,
    login: &str,
    errors: FormErrors,
    next: Option<&str>,
) -> Result<Response, PageError> {
    form(state, page, status, login, errors, next, Notices::default())
}
