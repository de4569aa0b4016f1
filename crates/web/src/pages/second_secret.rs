//! `/account/second-secret`: "Cambia password e/o PIN" — regenerate the PIN
//! (families) or personal code (staff) by email, or choose a new one. Both
//! forms carry the session's CSRF token; see [`varco_app::account_secret`].

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use varco_app::AppError;
use varco_app::account_secret::{self, SecretChangeRefusal};
use varco_app::sessions::Authenticated;

use super::sessions::settings_session;
use crate::WebState;
use crate::extract::{Page, SignedInForm};
use crate::problem::PageError;
use crate::session::{Ctx, MaybeSession};

const PATH: &str = "/account/second-secret";

/// What just happened, to say so at the top of the page.
#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    sent: Option<String>,
    changed: Option<u8>,
}

async fn render(
    state: &WebState,
    page: &Page,
    session: &Authenticated,
    status: StatusCode,
    notice: Option<String>,
    error: Option<(&str, String)>,
) -> Result<Response, PageError> {
    let secret = account_secret::status(&state.app, session).await?;
    let (error_form, error_text) = match error {
        Some((form, text)) => (Some(form.to_owned()), Some(text)),
        None => (None, None),
    };
    page.render_status(
        state,
        status,
        "second_secret.html",
        minijinja::context! {
            s => secret,
            csrf => session.session.csrf_token,
            user_code => session.account.user_code,
            notice => notice,
            error_form => error_form,
            error => error_text,
        },
    )
}

/// `GET /account/second-secret`.
pub async fn show(
    State(state): State<WebState>,
    page: Page,
    session: MaybeSession,
    Query(notice): Query<Notice>,
) -> Result<Response, PageError> {
    let session = match settings_session(session, PATH) {
        Ok(s) => s,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let kind = varco_app::second_secret::method_of(session.account.kind);
    let text = match (notice.sent, notice.changed) {
        (Some(to), _) => Some(state.i18n.text(
            page.lang,
            &format!("second-secret-sent-{kind}"),
            &[("email", to.into())],
        )),
        (None, Some(_)) => Some(
            state
                .i18n
                .text(page.lang, &format!("second-secret-changed-{kind}"), &[]),
        ),
        (None, None) => None,
    };
    render(&state, &page, &session, StatusCode::OK, text, None).await
}

fn refusal_text(state: &WebState, page: &Page, kind: &str, why: SecretChangeRefusal) -> String {
    let (key, args): (String, Vec<(&str, fluent_bundle::FluentValue)>) = match why {
        SecretChangeRefusal::NoEmail => ("second-secret-no-email".into(), vec![]),
        SecretChangeRefusal::NeedsFreshSignIn => ("second-secret-needs-fresh-sign-in".into(), vec![]),
        SecretChangeRefusal::WrongCurrent { remaining } => (
            format!("confirm-error-wrong-{kind}"),
            vec![("remaining", i64::from(remaining).into())],
        ),
        SecretChangeRefusal::MalformedCurrent => (format!("confirm-error-malformed-{kind}"), vec![]),
        SecretChangeRefusal::Locked => (format!("confirm-error-locked-{kind}"), vec![]),
        SecretChangeRefusal::NotIssued => (format!("confirm-error-not-issued-{kind}"), vec![]),
        SecretChangeRefusal::Mismatch => ("second-secret-mismatch".into(), vec![]),
        SecretChangeRefusal::Rule(rule) => (format!("second-secret-rule-{}", rule.code()), vec![]),
    };
    let mut args = args;
    if let SecretChangeRefusal::Rule(varco_domain::second_secret::SecondSecretRule::Length { expected }) = why {
        args.push(("length", (expected as i64).into()));
    }
    state.i18n.text(page.lang, &key, &args)
}

/// The regeneration form.
#[derive(Debug, Deserialize)]
pub struct RegenerateForm {
    #[serde(default)]
    password: String,
}

/// `POST /account/second-secret/regenerate`.
pub async fn regenerate(
    State(state): State<WebState>,
    ctx: Ctx,
    page: Page,
    form: SignedInForm<RegenerateForm>,
) -> Result<Response, PageError> {
    let (session, input) = match form.full() {
        Ok(s) => s,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let kind = varco_app::second_secret::method_of(session.account.kind);
    let text = match account_secret::regenerate(&state.app, &session, &input.password, &ctx.request).await {
        Ok(Ok(masked)) => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("sent", &masked)
                .finish();
            return Ok(Redirect::to(&format!("{PATH}?{query}")).into_response());
        }
        Ok(Err(why)) => refusal_text(&state, &page, kind, why),
        Err(AppError::InvalidCredentials) => state.i18n.text(page.lang, "second-secret-wrong-password", &[]),
        Err(e) => return Err(e.into()),
    };
    refused(&state, &page, &session, "regenerate", text).await
}

/// The page again, with the form `which` saying why it was refused.
async fn refused(
    state: &WebState,
    page: &Page,
    session: &Authenticated,
    which: &'static str,
    text: String,
) -> Result<Response, PageError> {
    render(state, page, session, StatusCode::BAD_REQUEST, None, Some((which, text))).await
}

/// The change form.
#[derive(Debug, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    new_again: String,
}

/// `POST /account/second-secret/change`.
pub async fn change(
    State(state): State<WebState>,
    ctx: Ctx,
    page: Page,
    form: SignedInForm<ChangeForm>,
) -> Result<Response, PageError> {
    let (session, input) = match form.full() {
        Ok(s) => s,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let kind = varco_app::second_secret::method_of(session.account.kind);
    match account_secret::change(
        &state.app,
        &session,
        &input.current,
        &input.new,
        &input.new_again,
        &ctx.request,
    )
    .await?
    {
        Ok(()) => Ok(Redirect::to(&format!("{PATH}?changed=1")).into_response()),
        Err(why) => {
            refused(
                &state,
                &page,
                &session,
                "change",
                refusal_text(&state, &page, kind, why),
            )
            .await
        }
    }
}
