//! `/login`: the sign-in form.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use varco_app::AppError;

use super::{anonymous_csrf, check_anonymous_form, lang_of, local_path, render};
use crate::WebState;
use crate::problem::{PageError, WebError};
use crate::session::{Ctx, MaybeSession, cookie_name, cookie_value, session_cookie};

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    logged_out: Option<String>,
}

pub async fn show(
    State(state): State<WebState>,
    headers: HeaderMap,
    session: MaybeSession,
    Query(query): Query<LoginQuery>,
) -> Result<Response, PageError> {
    if session.0.is_some() {
        return Ok(Redirect::to("/account").into_response());
    }
    // No admin yet: say that setup is pending and where its link was printed
    // (a database hiccup only hides the hint, never the form).
    let setup_pending = varco_app::setup::needs_setup(&state.app).await.unwrap_or(false);
    page_with(
        &state,
        &headers,
        StatusCode::OK,
        "",
        None,
        query.next.as_deref(),
        query.logged_out.is_some(),
        setup_pending,
    )
}

fn page(
    state: &WebState,
    headers: &HeaderMap,
    status: StatusCode,
    login: &str,
    error: Option<String>,
    next: Option<&str>,
    logged_out: bool,
) -> Result<Response, PageError> {
    page_with(state, headers, status, login, error, next, logged_out, false)
}

#[allow(clippy::too_many_arguments)]
fn page_with(
    state: &WebState,
    headers: &HeaderMap,
    status: StatusCode,
    login: &str,
    error: Option<String>,
    next: Option<&str>,
    logged_out: bool,
    setup_pending: bool,
) -> Result<Response, PageError> {
    let lang = lang_of(headers);
    let (csrf, set_cookie) = anonymous_csrf(state, headers);
    let next = next.map(|n| local_path(Some(n))).filter(|n| n != "/");
    let html = render(
        state,
        lang,
        "/login",
        false,
        "login.html",
        minijinja::context! { csrf => csrf, login => login, error => error, next => next, logged_out => logged_out, setup_pending => setup_pending },
    )?;
    let mut response = (status, html).into_response();
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

pub async fn submit(
    State(state): State<WebState>,
    headers: HeaderMap,
    ctx: Ctx,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    check_anonymous_form(&state, &headers, &form.csrf)?;
    let lang = lang_of(&headers);
    let attempt = match state.login_limiter.attempt(ctx.ip) {
        Ok(attempt) => attempt,
        Err(seconds) => {
            let message = state.i18n.text(lang, "login-throttled", &[("seconds", seconds.into())]);
            let mut response = page(
                &state,
                &headers,
                StatusCode::TOO_MANY_REQUESTS,
                &form.login,
                Some(message),
                form.next.as_deref(),
                false,
            )?;
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
            let message = state.i18n.text(lang, "login-error", &[]);
            page(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                &form.login,
                Some(message),
                form.next.as_deref(),
                false,
            )
        }
        Err(AppError::LoginDelayed { retry_after_secs }) => {
            let message = state
                .i18n
                .text(lang, "login-wait", &[("seconds", retry_after_secs.into())]);
            let mut response = page(
                &state,
                &headers,
                StatusCode::TOO_MANY_REQUESTS,
                &form.login,
                Some(message),
                form.next.as_deref(),
                false,
            )?;
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after_secs.into());
            Ok(response)
        }
        Err(AppError::InputTooLong) => {
            let message = state.i18n.text(lang, "login-too-long", &[]);
            page(
                &state,
                &headers,
                StatusCode::BAD_REQUEST,
                "",
                Some(message),
                form.next.as_deref(),
                false,
            )
        }
        Err(e) => Err(PageError(WebError::App(e))),
    }
}
