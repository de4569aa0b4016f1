//! `/password/change`: change the password from the account page, or — for a
//! session restricted by an expired password or a forced change — before
//! anything else: current password, new password, the new one again.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use varco_app::AppError;
use varco_app::sessions::Authenticated;

use super::form::FormErrors;
use crate::WebState;
use crate::extract::{Page, SignedInForm};
use crate::problem::PageError;
use crate::session::{Ctx, MaybeSession};

/// Why a session must change its password first: `"expired"` (with the
/// date, when known) or `"required"` (the secretariat asked for it).
fn forced_reason(state: &WebState, session: &Authenticated) -> (Option<&'static str>, Option<String>) {
    if !session.session.password_change_required {
        return (None, None);
    }
    if session.account.password_change_required {
        return (Some("required"), None);
    }
    let expired_on = session.account.password_changed_at.and_then(|changed| {
        state
            .app
            .settings
            .expiry
            .get(session.account.kind)
            .expires_at(changed)
            .map(varco_app::mail::format_date)
    });
    (Some("expired"), expired_on)
}

fn form(
    state: &WebState,
    page: &Page,
    status: StatusCode,
    session: &Authenticated,
    errors: FormErrors,
    next: Option<&str>,
) -> Result<Response, PageError> {
    let account = session.view(&state.app);
    let policy = state.app.settings.policy.get(session.account.kind);
    let (forced, expired_on) = forced_reason(state, session);
    page.render_status(
        state,
        status,
        "password_change.html",
        minijinja::context! {
            csrf => session.session.csrf_token,
            forced => forced,
            expired_on => expired_on,
            expires_in_days => account.password_expires_in_days,
            min_length => policy.min_length,
            form_errors => errors,
            user_code => account.user_code,
            next => continue_to(next),
        },
    )
}

/// Where to go on after the change: back to an application's sign-in that
/// was waiting for it, or to the account.
fn continue_to(next: Option<&str>) -> Option<String> {
    let next = super::local_path(next);
    next.starts_with("/oauth2/authorize?").then_some(next)
}

/// The query of `/password/change`.
#[derive(Debug, Deserialize)]
pub struct ChangeQuery {
    /// An application's sign-in waiting for the change.
    next: Option<String>,
}

/// `GET /password/change`: the password-change form (also for a session restricted to it).
pub async fn show(
    State(state): State<WebState>,
    page: Page,
    session: MaybeSession,
    axum::extract::Query(query): axum::extract::Query<ChangeQuery>,
) -> Result<Response, PageError> {
    let Some(session) = session.0 else {
        return Ok(Redirect::to("/login?next=/password/change").into_response());
    };
    form(
        &state,
        &page,
        StatusCode::OK,
        &session,
        FormErrors::none(),
        query.next.as_deref(),
    )
}

/// The fields of the password-change form.
#[derive(Debug, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_confirm: String,
    /// An application's sign-in waiting for the change.
    next: Option<String>,
}

/// `POST /password/change`: checks the current password and stores the new one.
pub async fn submit(
    State(state): State<WebState>,
    ctx: Ctx,
    page: Page,
    SignedInForm { session, form: input }: SignedInForm<ChangeForm>,
) -> Result<Response, PageError> {
    let lang = page.lang;
    if input.new_password != input.new_password_confirm {
        let message = page.text(&state, "password-change-mismatch");
        let errors = FormErrors::on("new_password_confirm", message);
        return form(
            &state,
            &page,
            StatusCode::BAD_REQUEST,
            &session,
            errors,
            input.next.as_deref(),
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
                FormErrors::general(message),
                input.next.as_deref(),
            );
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
        Ok(()) => page.render(
            &state,
            "password_changed.html",
            minijinja::context! { next => continue_to(input.next.as_deref()) },
        ),
        Err(AppError::InvalidCredentials) => {
            let message = page.text(&state, "password-change-wrong-current");
            let errors = FormErrors::on("current_password", message);
            form(
                &state,
                &page,
                StatusCode::UNAUTHORIZED,
                &session,
                errors,
                input.next.as_deref(),
            )
        }
        Err(AppError::Throttled { retry_after_secs }) => {
            let message = state.i18n.text(
                lang,
                "error-login-wait",
                &[("seconds", (retry_after_secs as i64).into())],
            );
            form(
                &state,
                &page,
                StatusCode::TOO_MANY_REQUESTS,
                &session,
                FormErrors::general(message),
                input.next.as_deref(),
            )
        }
        Err(AppError::InputTooLong) => {
            let message = page.text(&state, "login-too-long");
            form(
                &state,
                &page,
                StatusCode::BAD_REQUEST,
                &session,
                FormErrors::general(message),
                input.next.as_deref(),
            )
        }
        Err(AppError::PasswordPolicy(refusal)) => {
            let policy = state.app.settings.policy.get(session.account.kind);
            let errors = FormErrors::policy(&state, lang, "new_password", policy, &refusal);
            form(
                &state,
                &page,
                StatusCode::BAD_REQUEST,
                &session,
                errors,
                input.next.as_deref(),
            )
        }
        Err(e) => Err(e.into()),
    }
}
