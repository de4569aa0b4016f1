//! `/password/change`: change the password from the account page, or — for a
//! session restricted by an expired password or a forced change — before
//! anything else: current password, new password, the new one again.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use varco_app::AppError;
use varco_app::sessions::Authenticated;

use super::{lang_of, policy_messages, render};
use crate::WebState;
use crate::problem::{PageError, WebError};
use crate::session::{Ctx, MaybeSession, tokens_equal};

fn form(
    state: &WebState,
    headers: &HeaderMap,
    status: StatusCode,
    session: &Authenticated,
    errors: Vec<String>,
) -> Result<Response, PageError> {
    let lang = lang_of(headers);
    let account = session.view(&state.app);
    let policy = state.app.settings.policy.get(session.account.kind);
    let html = render(
        state,
        lang,
        "/password/change",
        true,
        "password_change.html",
        minijinja::context! {
            csrf => session.session.csrf_token,
            forced => session.session.password_change_required,
            expires_in_days => account.password_expires_in_days,
            min_length => policy.min_length,
            errors => errors,
            user_code => account.user_code,
        },
    )?;
    Ok((status, html).into_response())
}

pub async fn show(
    State(state): State<WebState>,
    headers: HeaderMap,
    session: MaybeSession,
) -> Result<Response, PageError> {
    let Some(session) = session.0 else {
        return Ok(Redirect::to("/login?next=/password/change").into_response());
    };
    form(&state, &headers, StatusCode::OK, &session, Vec::new())
}

#[derive(Debug, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_confirm: String,
}

pub async fn submit(
    State(state): State<WebState>,
    headers: HeaderMap,
    ctx: Ctx,
    session: MaybeSession,
    Form(input): Form<ChangeForm>,
) -> Result<Response, PageError> {
    crate::security::check_same_origin(&headers, state.config.origin())?;
    let Some(session) = session.0 else {
        return Ok(Redirect::to("/login?next=/password/change").into_response());
    };
    if !tokens_equal(&session.session.csrf_token, &input.csrf) {
        return Err(PageError(WebError::Csrf));
    }
    let lang = lang_of(&headers);
    if input.new_password != input.new_password_confirm {
        let message = state.i18n.text(lang, "password-change-mismatch", &[]);
        return form(&state, &headers, StatusCode::BAD_REQUEST, &session, vec![message]);
    }
    let attempt = match state.login_limiter.attempt(ctx.ip) {
        Ok(attempt) => attempt,
        Err(seconds) => {
            let message = state.i18n.text(lang, "login-throttled", &[("seconds", seconds.into())]);
            return form(&state, &headers, StatusCode::TOO_MANY_REQUESTS, &session, vec![message]);
        }
    };
    let result = varco_app::password::change(
        &state.app,
        &session,
        &input.current_password,
        &input.new_password,
        &ctx.request,
    )
    .await;
    attempt.settle(crate::ratelimit::failed_sign_in(&result));
    match result {
        Ok(()) => {
            let html = render(
                &state,
                lang,
                "/password/change",
                true,
                "password_changed.html",
                minijinja::context! {},
            )?;
            Ok(html.into_response())
        }
        Err(AppError::InvalidCredentials) => {
            let message = state.i18n.text(lang, "password-change-wrong-current", &[]);
            form(&state, &headers, StatusCode::UNAUTHORIZED, &session, vec![message])
        }
        Err(AppError::InputTooLong) => {
            let message = state.i18n.text(lang, "login-too-long", &[]);
            form(&state, &headers, StatusCode::BAD_REQUEST, &session, vec![message])
        }
        Err(AppError::PasswordPolicy(refusal)) => {
            let policy = state.app.settings.policy.get(session.account.kind);
            let messages = policy_messages(&state, lang, policy, &refusal);
            form(&state, &headers, StatusCode::BAD_REQUEST, &session, messages)
        }
        Err(e) => Err(e.into()),
    }
}
