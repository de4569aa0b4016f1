//! `/password/forgot` and `/password/reset`: the self-service recovery pages.
//!
//! The forgot-password answer is the same page, status and (near enough)
//! time for every login: the request is handed to a background task and the
//! page is rendered at once. `/password/reset` opens reset and activation
//! links; it sends `Referrer-Policy: no-referrer` (set on the route) so the
//! token in its URL never leaks.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use varco_app::AppError;
use varco_app::recovery::LinkState;

use super::{anonymous_csrf, check_anonymous_form, lang_of, policy_messages, render};
use crate::WebState;
use crate::problem::PageError;
use crate::session::Ctx;

fn with_cookie(mut response: Response, cookie: Option<axum::http::HeaderValue>) -> Response {
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

pub async fn forgot_page(State(state): State<WebState>, headers: HeaderMap) -> Result<Response, PageError> {
    let lang = lang_of(&headers);
    let (csrf, cookie) = anonymous_csrf(&state, &headers);
    let html = render(
        &state,
        lang,
        "/password/forgot",
        false,
        "forgot.html",
        minijinja::context! { csrf => csrf },
    )?;
    Ok(with_cookie(html.into_response(), cookie))
}

#[derive(Debug, Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
}

/// Hands a forgot-password request to a background task; the caller answers
/// at once, the same way whatever the login.
pub(crate) fn start_reset_request(state: &WebState, login: String, ctx: &Ctx) {
    let app = state.app.clone();
    let request = ctx.request.clone();
    tokio::spawn(async move {
        if let Err(e) = varco_app::recovery::request_reset(&app, &login, &request).await {
            tracing::warn!(error = %e, "forgot-password request failed");
        }
    });
}

pub async fn forgot_submit(
    State(state): State<WebState>,
    headers: HeaderMap,
    ctx: Ctx,
    Form(form): Form<ForgotForm>,
) -> Result<Response, PageError> {
    check_anonymous_form(&state, &headers, &form.csrf)?;
    let lang = lang_of(&headers);
    if let Some(ip) = ctx.ip
        && let Err(seconds) = state.recovery_limiter.check(ip)
    {
        let (csrf, cookie) = anonymous_csrf(&state, &headers);
        let error = state
            .i18n
            .text(lang, "forgot-throttled", &[("seconds", seconds.into())]);
        let html = render(
            &state,
            lang,
            "/password/forgot",
            false,
            "forgot.html",
            minijinja::context! { csrf => csrf, error => error },
        )?;
        let mut response = with_cookie((StatusCode::TOO_MANY_REQUESTS, html).into_response(), cookie);
        response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
        return Ok(response);
    }
    start_reset_request(&state, form.login, &ctx);
    let html = render(
        &state,
        lang,
        "/password/forgot",
        false,
        "forgot_sent.html",
        minijinja::context! {},
    )?;
    Ok(html.into_response())
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

fn invalid_link(state: &WebState, lang: crate::i18n::Lang) -> Result<Response, PageError> {
    let html = render(
        state,
        lang,
        "/password/reset",
        false,
        "link_invalid.html",
        minijinja::context! {},
    )?;
    Ok((StatusCode::BAD_REQUEST, html).into_response())
}

fn reset_form(
    state: &WebState,
    headers: &HeaderMap,
    status: StatusCode,
    token: &str,
    link: &LinkState,
    errors: Vec<String>,
) -> Result<Response, PageError> {
    let lang = lang_of(headers);
    let LinkState::Valid {
        activation,
        user_code,
        first_name,
    } = link
    else {
        return invalid_link(state, lang);
    };
    let (csrf, cookie) = anonymous_csrf(state, headers);
    let html = render(
        state,
        lang,
        "/password/reset",
        false,
        "reset.html",
        minijinja::context! {
            csrf => csrf, token => token, activation => activation, user_code => user_code,
            first_name => first_name, errors => errors,
            min_length => state.app.settings.policy.staff.min_length.max(state.app.settings.policy.family.min_length),
        },
    )?;
    Ok(with_cookie((status, html).into_response(), cookie))
}

pub async fn reset_page(
    State(state): State<WebState>,
    headers: HeaderMap,
    Query(query): Query<TokenQuery>,
) -> Result<Response, PageError> {
    let token = query.token.unwrap_or_default();
    let link = varco_app::recovery::inspect_link(&state.app, &token).await?;
    reset_form(&state, &headers, StatusCode::OK, &token, &link, Vec::new())
}

#[derive(Debug, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_confirm: String,
}

pub async fn reset_submit(
    State(state): State<WebState>,
    headers: HeaderMap,
    ctx: Ctx,
    Form(form): Form<ResetForm>,
) -> Result<Response, PageError> {
    check_anonymous_form(&state, &headers, &form.csrf)?;
    let lang = lang_of(&headers);
    let attempt = state
        .recovery_limiter
        .attempt(ctx.ip)
        .map_err(|seconds| PageError(crate::problem::WebError::Throttled(seconds)))?;
    // An unknown or spent link counts against the address (the attempt is dropped).
    let link = varco_app::recovery::inspect_link(&state.app, &form.token).await?;
    let LinkState::Valid {
        activation, user_code, ..
    } = &link
    else {
        return invalid_link(&state, lang);
    };
    if form.new_password != form.new_password_confirm {
        attempt.succeeded();
        let message = state.i18n.text(lang, "reset-mismatch", &[]);
        return reset_form(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            &form.token,
            &link,
            vec![message],
        );
    }
    let result = varco_app::recovery::reset_password(&state.app, &form.token, &form.new_password, &ctx.request).await;
    attempt.settle(crate::ratelimit::failed_link_use(&result));
    match result {
        Ok(()) => {
            let html = render(
                &state,
                lang,
                "/password/reset",
                false,
                "reset_done.html",
                minijinja::context! { activation => activation, user_code => user_code },
            )?;
            Ok(html.into_response())
        }
        Err(AppError::InvalidToken) => invalid_link(&state, lang),
        Err(AppError::InputTooLong) => {
            let message = state.i18n.text(lang, "login-too-long", &[]);
            reset_form(
                &state,
                &headers,
                StatusCode::BAD_REQUEST,
                &form.token,
                &link,
                vec![message],
            )
        }
        Err(AppError::PasswordPolicy(refusal)) => {
            let policy = &state.app.settings.policy.staff;
            let messages = policy_messages(&state, lang, policy, &refusal);
            reset_form(&state, &headers, StatusCode::BAD_REQUEST, &form.token, &link, messages)
        }
        Err(e) => Err(e.into()),
    }
}
