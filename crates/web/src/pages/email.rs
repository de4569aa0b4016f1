//! `/account/email` (ask to change the address), `/account/email/confirm`
//! (the link mailed to the new address) and `/account/email/undo` (the link
//! mailed to the old one).
//!
//! Opening a link only shows a button: mail scanners fetch links, so a GET
//! never changes anything. The link pages need no login (the token is the
//! proof), use the anonymous double-submit CSRF cookie, and are served with
//! `Referrer-Policy: no-referrer` (set on their routes).

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use varco_app::AppError;
use varco_app::sessions::Authenticated;
use varco_domain::token::TokenPurpose;

use super::form::FormErrors;
use super::sessions::settings_session;
use crate::WebState;
use crate::extract::{AnonymousForm, Page, SignedInForm};
use crate::problem::{PageError, WebError};
use crate::session::{Ctx, MaybeSession};

const PATH: &str = "/account/email";

fn form(
    state: &WebState,
    page: &Page,
    status: StatusCode,
    session: &Authenticated,
    typed: (&str, &str),
    errors: FormErrors,
) -> Result<Response, PageError> {
    page.render_status(
        state,
        status,
        "email_change.html",
        minijinja::context! {
            csrf => session.session.csrf_token,
            user_code => session.account.user_code,
            current_email => session.account.email,
            new_email => typed.0,
            new_email_confirm => typed.1,
            form_errors => errors,
        },
    )
}

/// `GET /account/email`: the form that asks for a new address.
pub async fn show(State(state): State<WebState>, page: Page, session: MaybeSession) -> Result<Response, PageError> {
    let session = match settings_session(session, PATH) {
        Ok(s) => s,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    form(&state, &page, StatusCode::OK, &session, ("", ""), FormErrors::none())
}

/// The fields of the email-change form.
#[derive(Debug, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    new_email: String,
    #[serde(default)]
    new_email_confirm: String,
    #[serde(default)]
    current_password: String,
}

/// `POST /account/email`: checks the current password and sends a confirmation link to the new
/// address.
pub async fn submit(
    State(state): State<WebState>,
    ctx: Ctx,
    page: Page,
    signed_in: SignedInForm<ChangeForm>,
) -> Result<Response, PageError> {
    let (session, input) = match signed_in.full() {
        Ok(s) => s,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let lang = page.lang;
    let typed = (input.new_email.as_str(), input.new_email_confirm.as_str());
    let refuse = |status: StatusCode, field: Option<&'static str>, key: &str| {
        let message = page.text(&state, key);
        let errors = match field {
            Some(field) => FormErrors::on(field, message),
            None => FormErrors::general(message),
        };
        form(&state, &page, status, &session, typed, errors)
    };
    if input.new_email.trim().is_empty() {
        return refuse(StatusCode::BAD_REQUEST, Some("new_email"), "email-change-blank");
    }
    if input.new_email.trim() != input.new_email_confirm.trim() {
        return refuse(
            StatusCode::BAD_REQUEST,
            Some("new_email_confirm"),
            "email-change-mismatch",
        );
    }
    let attempt = match state.login_limiter.attempt(ctx.ip) {
        Ok(attempt) => attempt,
        Err(seconds) => {
            let message = state.i18n.text(lang, "login-throttled", &[("seconds", seconds.into())]);
            return form(
                &state,
                &page,
                StatusCode::TOO_MANY_REQUESTS,
                &session,
                typed,
                FormErrors::general(message),
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
        Ok(address) => page.render(
            &state,
            "email_change_sent.html",
            minijinja::context! {
                email => address.as_str(),
                hours => TokenPurpose::EmailChange.default_lifetime_secs() / 3600,
            },
        ),
        Err(AppError::InvalidCredentials) => refuse(
            StatusCode::UNAUTHORIZED,
            Some("current_password"),
            "email-change-wrong-password",
        ),
        Err(AppError::InputTooLong) => refuse(StatusCode::BAD_REQUEST, None, "login-too-long"),
        Err(AppError::Invalid { .. }) => refuse(StatusCode::BAD_REQUEST, Some("new_email"), "email-change-invalid"),
        Err(AppError::Conflict { .. }) => refuse(StatusCode::BAD_REQUEST, Some("new_email"), "email-change-same"),
        Err(AppError::Throttled { .. }) => refuse(StatusCode::TOO_MANY_REQUESTS, None, "email-change-throttled"),
        Err(AppError::PasswordChangeRequired) => Ok(Redirect::to("/password/change").into_response()),
        Err(e) => Err(e.into()),
    }
}

/// The query of a link page: the link's token.
#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// The form of a link page: the link's token.
#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    token: String,
}

/// Which link a page is for: the confirmation sent to the new address, or
/// the undo sent to the old one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Confirm,
    Undo,
}

/// The page for a link that cannot be used (400): ask again, or get help.
fn invalid_link(state: &WebState, page: &Page, link: Link) -> Result<Response, PageError> {
    page.render_status(
        state,
        StatusCode::BAD_REQUEST,
        "email_link_invalid.html",
        minijinja::context! { undo => link == Link::Undo },
    )
}

/// Shows the button of a confirmation or undo link, if the link is usable.
async fn link_page(state: &WebState, page: &Page, token: &str, link: Link) -> Result<Response, PageError> {
    let (template, info) = match link {
        Link::Undo => (
            "email_undo.html",
            varco_app::email_change::inspect_undo(&state.app, token).await?,
        ),
        Link::Confirm => (
            "email_confirm.html",
            varco_app::email_change::inspect_confirm(&state.app, token).await?,
        ),
    };
    let Some(info) = info else {
        return invalid_link(state, page, link);
    };
    page.render(
        state,
        template,
        minijinja::context! {
            token => token,
            first_name => info.first_name,
            user_code => info.user_code,
            email => info.email_masked,
        },
    )
}

/// The per-address limit shared with the other link endpoints. The cell
/// taken comes back when the link is used successfully.
fn check_link_limit(state: &WebState, ctx: &Ctx) -> Result<crate::ratelimit::Attempt, PageError> {
    state
        .recovery_limiter
        .attempt(ctx.ip)
        .map_err(|seconds| PageError(WebError::Throttled(seconds)))
}

/// `GET /account/email/confirm`: the page with the button that confirms the new address.
pub async fn confirm_page(
    State(state): State<WebState>,
    page: Page,
    Query(query): Query<TokenQuery>,
) -> Result<Response, PageError> {
    link_page(&state, &page, &query.token.unwrap_or_default(), Link::Confirm).await
}

/// `POST /account/email/confirm`: confirms the new address with the link's token.
pub async fn confirm_submit(
    State(state): State<WebState>,
    ctx: Ctx,
    page: Page,
    AnonymousForm(form): AnonymousForm<TokenForm>,
) -> Result<Response, PageError> {
    let attempt = check_link_limit(&state, &ctx)?;
    let result = varco_app::email_change::confirm(&state.app, &form.token, &ctx.request).await;
    attempt.settle(result.is_err());
    match result {
        Ok(address) => {
            let email = varco_domain::email::EmailAddress::parse(&address)
                .map(|a| a.masked())
                .unwrap_or(address);
            page.render(&state, "email_confirmed.html", minijinja::context! { email => email })
        }
        Err(AppError::InvalidToken) => invalid_link(&state, &page, Link::Confirm),
        Err(e) => Err(e.into()),
    }
}

/// `GET /account/email/undo`: the page with the button that undoes a change.
pub async fn undo_page(
    State(state): State<WebState>,
    page: Page,
    Query(query): Query<TokenQuery>,
) -> Result<Response, PageError> {
    link_page(&state, &page, &query.token.unwrap_or_default(), Link::Undo).await
}

/// `POST /account/email/undo`: puts the old address back with the link's token; every session ends.
pub async fn undo_submit(
    State(state): State<WebState>,
    ctx: Ctx,
    page: Page,
    AnonymousForm(form): AnonymousForm<TokenForm>,
) -> Result<Response, PageError> {
    let attempt = check_link_limit(&state, &ctx)?;
    let result = varco_app::email_change::undo(&state.app, &form.token, &ctx.request).await;
    attempt.settle(result.is_err());
    match result {
        Ok(()) => {
            let mut response = page.render(&state, "email_undone.html", minijinja::context! {})?;
            // Every session ended, this browser's too.
            response
                .headers_mut()
                .append(header::SET_COOKIE, crate::session::clear_session_cookie(&state.config));
            Ok(response)
        }
        Err(AppError::InvalidToken) => invalid_link(&state, &page, Link::Undo),
        Err(e) => Err(e.into()),
    }
}
