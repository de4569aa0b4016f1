//! `/account/email` (ask to change the address), `/account/email/confirm`
//! (the link mailed to the new address) and `/account/email/undo` (the link
//! mailed to the old one).
//!
//! Opening a link only shows a button: mail scanners fetch links, so a GET
//! never changes anything. The link pages need no login (the token is the
//! proof), use the anonymous double-submit CSRF cookie, and are served with
//! `Referrer-Policy: no-referrer` (set on their routes).

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use varco_app::AppError;
use varco_app::sessions::Authenticated;
use varco_domain::token::TokenPurpose;

use super::sessions::settings_session;
use super::{anonymous_csrf, check_anonymous_form, lang_of, render};
use crate::WebState;
use crate::i18n::Lang;
use crate::problem::{PageError, WebError};
use crate::session::{Ctx, MaybeSession, tokens_equal};

const PATH: &str = "/account/email";

fn with_cookie(mut response: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn form(
    state: &WebState,
    lang: Lang,
    status: StatusCode,
    session: &Authenticated,
    typed: (&str, &str),
    errors: Vec<String>,
) -> Result<Response, PageError> {
    let html = render(
        state,
        lang,
        PATH,
        true,
        "email_change.html",
        minijinja::context! {
            csrf => session.session.csrf_token,
            user_code => session.account.user_code,
            current_email => session.account.email,
            new_email => typed.0,
            new_email_confirm => typed.1,
            errors => errors,
        },
    )?;
    Ok((status, html).into_response())
}

pub async fn show(
    State(state): State<WebState>,
    headers: HeaderMap,
    session: MaybeSession,
) -> Result<Response, PageError> {
    let session = match settings_session(session, PATH) {
        Ok(s) => s,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    form(
        &state,
        lang_of(&headers),
        StatusCode::OK,
        &session,
        ("", ""),
        Vec::new(),
    )
}

#[derive(Debug, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    new_email: String,
    #[serde(default)]
    new_email_confirm: String,
    #[serde(default)]
    current_password: String,
}

pub async fn submit(
    State(state): State<WebState>,
    headers: HeaderMap,
    ctx: Ctx,
    session: MaybeSession,
    Form(input): Form<ChangeForm>,
) -> Result<Response, PageError> {
    crate::security::check_same_origin(&headers, state.config.origin())?;
    let session = match settings_session(session, PATH) {
        Ok(s) => s,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    if !tokens_equal(&session.session.csrf_token, &input.csrf) {
        return Err(PageError(WebError::Csrf));
    }
    let lang = lang_of(&headers);
    let typed = (input.new_email.as_str(), input.new_email_confirm.as_str());
    let refuse = |status: StatusCode, key: &str| {
        let message = state.i18n.text(lang, key, &[]);
        form(&state, lang, status, &session, typed, vec![message])
    };
    if input.new_email.trim() != input.new_email_confirm.trim() {
        return refuse(StatusCode::BAD_REQUEST, "email-change-mismatch");
    }
    let attempt = match state.login_limiter.attempt(ctx.ip) {
        Ok(attempt) => attempt,
        Err(seconds) => {
            let message = state.i18n.text(lang, "login-throttled", &[("seconds", seconds.into())]);
            return form(
                &state,
                lang,
                StatusCode::TOO_MANY_REQUESTS,
                &session,
                typed,
                vec![message],
            );
        }
    };
    let result = varco_app::email_change::request(
        &state.app,
        &session,
        &input.new_email,
        &input.current_password,
        &ctx.request,
    )
    .await;
    attempt.settle(crate::ratelimit::failed_sign_in(&result));
    match result {
        Ok(address) => {
            let html = render(
                &state,
                lang,
                PATH,
                true,
                "email_change_sent.html",
                minijinja::context! {
                    email => address.as_str(),
                    hours => TokenPurpose::EmailChange.default_lifetime_secs() / 3600,
                },
            )?;
            Ok(html.into_response())
        }
        Err(AppError::InvalidCredentials) => refuse(StatusCode::UNAUTHORIZED, "email-change-wrong-password"),
        Err(AppError::InputTooLong) => refuse(StatusCode::BAD_REQUEST, "login-too-long"),
        Err(AppError::Invalid { .. }) => refuse(StatusCode::BAD_REQUEST, "email-change-invalid"),
        Err(AppError::Conflict(_)) => refuse(StatusCode::BAD_REQUEST, "email-change-same"),
        Err(AppError::Throttled { .. }) => refuse(StatusCode::TOO_MANY_REQUESTS, "email-change-throttled"),
        Err(AppError::PasswordChangeRequired) => Ok(Redirect::to("/password/change").into_response()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
}

/// The page for a link that cannot be used (400): ask again, or get help.
fn invalid_link(state: &WebState, lang: Lang, path: &str, undo: bool) -> Result<Response, PageError> {
    let html = render(
        state,
        lang,
        path,
        false,
        "email_link_invalid.html",
        minijinja::context! { undo => undo },
    )?;
    Ok((StatusCode::BAD_REQUEST, html).into_response())
}

/// Shows the button of a confirmation or undo link, if the link is usable.
async fn link_page(state: &WebState, headers: &HeaderMap, token: &str, undo: bool) -> Result<Response, PageError> {
    let lang = lang_of(headers);
    let (path, template) = if undo {
        ("/account/email/undo", "email_undo.html")
    } else {
        ("/account/email/confirm", "email_confirm.html")
    };
    let info = if undo {
        varco_app::email_change::inspect_undo(&state.app, token).await?
    } else {
        varco_app::email_change::inspect_confirm(&state.app, token).await?
    };
    let Some(info) = info else {
        return invalid_link(state, lang, path, undo);
    };
    let (csrf, cookie) = anonymous_csrf(state, headers);
    let html = render(
        state,
        lang,
        path,
        false,
        template,
        minijinja::context! {
            csrf => csrf,
            token => token,
            first_name => info.first_name,
            user_code => info.user_code,
            email => info.email_masked,
        },
    )?;
    Ok(with_cookie(html.into_response(), cookie))
}

/// Checks a link's form and the per-address limit shared with the other link endpoints.
/// The cell taken comes back when the link is used successfully.
fn check_link_form(
    state: &WebState,
    headers: &HeaderMap,
    ctx: &Ctx,
    form: &TokenForm,
) -> Result<crate::ratelimit::Attempt, PageError> {
    check_anonymous_form(state, headers, &form.csrf)?;
    state
        .recovery_limiter
        .attempt(ctx.ip)
        .map_err(|seconds| PageError(WebError::Throttled(seconds)))
}

pub async fn confirm_page(
    State(state): State<WebState>,
    headers: HeaderMap,
    Query(query): Query<TokenQuery>,
) -> Result<Response, PageError> {
    link_page(&state, &headers, &query.token.unwrap_or_default(), false).await
}

pub async fn confirm_submit(
    State(state): State<WebState>,
    headers: HeaderMap,
    ctx: Ctx,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    let attempt = check_link_form(&state, &headers, &ctx, &form)?;
    let lang = lang_of(&headers);
    let result = varco_app::email_change::confirm(&state.app, &form.token, &ctx.request).await;
    attempt.settle(result.is_err());
    match result {
        Ok(address) => {
            let email = varco_domain::email::EmailAddress::parse(&address)
                .map(|a| a.masked())
                .unwrap_or(address);
            let html = render(
                &state,
                lang,
                "/account/email/confirm",
                false,
                "email_confirmed.html",
                minijinja::context! { email => email },
            )?;
            Ok(html.into_response())
        }
        Err(AppError::InvalidToken) => invalid_link(&state, lang, "/account/email/confirm", false),
        Err(e) => Err(e.into()),
    }
}

pub async fn undo_page(
    State(state): State<WebState>,
    headers: HeaderMap,
    Query(query): Query<TokenQuery>,
) -> Result<Response, PageError> {
    link_page(&state, &headers, &query.token.unwrap_or_default(), true).await
}

pub async fn undo_submit(
    State(state): State<WebState>,
    headers: HeaderMap,
    ctx: Ctx,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    let attempt = check_link_form(&state, &headers, &ctx, &form)?;
    let lang = lang_of(&headers);
    let result = varco_app::email_change::undo(&state.app, &form.token, &ctx.request).await;
    attempt.settle(result.is_err());
    match result {
        Ok(()) => {
            let html = render(
                &state,
                lang,
                "/account/email/undo",
                false,
                "email_undone.html",
                minijinja::context! {},
            )?;
            // Every session ended, this browser's too.
            let mut response = html.into_response();
            response
                .headers_mut()
                .insert(header::SET_COOKIE, crate::session::clear_session_cookie(&state.config));
            Ok(response)
        }
        Err(AppError::InvalidToken) => invalid_link(&state, lang, "/account/email/undo", true),
        Err(e) => Err(e.into()),
    }
}
