//! `/confirm/{id}`: the person confirms an act a school application asked
//! about (see [`varco_app::confirmations`]): the application's name, the
//! description and every value of the payload, then the PIN (families) or
//! personal code (staff). Confirming or declining goes back to the
//! application's registered redirect URI.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use varco_app::AppError;
use varco_app::confirmations::{self, ConfirmOutcome, SecretRefusal};

use crate::WebState;
use crate::extract::{Page, SignedInForm};
use crate::oidc::allow_redirect_after_form;
use crate::problem::{PageError, WebError};
use crate::session::{Ctx, MaybeSession};

use super::sessions::settings_session;

/// `GET /confirm/{id}`.
pub async fn show(
    State(state): State<WebState>,
    page: Page,
    ctx: Ctx,
    session: MaybeSession,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let session = match settings_session(session, &format!("/confirm/{id}")) {
        Ok(s) => s,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    render(&state, &page, &ctx, &session, &id, None, StatusCode::OK).await
}

async fn render(
    state: &WebState,
    page: &Page,
    ctx: &Ctx,
    session: &varco_app::sessions::Authenticated,
    id: &str,
    refusal: Option<SecretRefusal>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let view = match confirmations::show(&state.app, session, id, &ctx.request).await {
        Ok(view) => view,
        Err(AppError::NotFound(_)) => return Err(PageError(WebError::NotFound)),
        Err(e) => return Err(e.into()),
    };
    let (error, remaining) = refusal_text_key(refusal);
    let mut response = page.render_status(
        state,
        status,
        "confirm.html",
        minijinja::context! {
            c => view,
            error => error,
            remaining => remaining,
            csrf => session.session.csrf_token,
        },
    )?;
    allow_redirect_after_form(&mut response);
    Ok(response)
}

/// The message key part (`confirm-error-<part>-<method>`) and the tries
/// left for a refused secret; nothing for none (or a confirmation that is
/// no longer waiting: the page says its state). The step-up page uses it too.
pub(crate) fn refusal_text_key(refusal: Option<SecretRefusal>) -> (Option<&'static str>, u32) {
    match refusal {
        Some(SecretRefusal::Wrong { remaining }) => (Some("wrong"), remaining),
        Some(SecretRefusal::Malformed) => (Some("malformed"), 0),
        Some(SecretRefusal::Locked) => (Some("locked"), 0),
        Some(SecretRefusal::NotIssued) => (Some("not-issued"), 0),
        Some(SecretRefusal::GuardianLinkGone) => (Some("guardian"), 0),
        Some(SecretRefusal::NotPending) | None => (None, 0),
    }
}

/// The confirmation form: the secret, and which button.
#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    secret: String,
    #[serde(default)]
    decision: String,
}

/// `POST /confirm/{id}`: confirm with the secret, or decline.
pub async fn submit(
    State(state): State<WebState>,
    page: Page,
    ctx: Ctx,
    Path(id): Path<String>,
    form: SignedInForm<ConfirmForm>,
) -> Result<Response, PageError> {
    let (session, form) = match form.full() {
        Ok(full) => full,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    if form.decision == "cancel" {
        return match confirmations::cancel(&state.app, &session, &id, &ctx.request).await {
            Ok(url) => Ok(Redirect::to(&url).into_response()),
            Err(AppError::NotFound(_)) => Err(PageError(WebError::NotFound)),
            Err(e) => Err(e.into()),
        };
    }
    match confirmations::confirm(&state.app, &session, &id, form.secret.trim(), &ctx.request).await {
        Ok(ConfirmOutcome::Redirect(url)) => Ok(Redirect::to(&url).into_response()),
        Ok(ConfirmOutcome::Refused(refusal)) => {
            render(
                &state,
                &page,
                &ctx,
                &session,
                &id,
                Some(refusal),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(AppError::NotFound(_)) => Err(PageError(WebError::NotFound)),
        Err(e) => Err(e.into()),
    }
}
