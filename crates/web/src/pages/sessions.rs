//! `/account/sessions`: the signed-in devices, with a form to end each other
//! session and one to end them all but this one. Both forms carry the
//! session's CSRF token and must come from Varco's own origin; a session
//! restricted to changing the password is sent there instead.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use varco_app::AppError;
use varco_app::sessions::Authenticated;
use varco_domain::SessionId;

use crate::WebState;
use crate::extract::{Page, SignedInForm};
use crate::problem::{PageError, WebError};
use crate::session::{Ctx, MaybeSession};

const PATH: &str = "/account/sessions";

/// The session of an account-settings page, or where to go instead: the
/// login (coming back to `path`), or the password change a restricted
/// session must do first.
pub(super) fn settings_session(session: MaybeSession, path: &str) -> Result<Authenticated, Redirect> {
    match session.0 {
        None => Err(Redirect::to(&format!("/login?next={path}"))),
        Some(s) if s.session.password_change_required => Err(Redirect::to("/password/change")),
        Some(s) => Ok(s),
    }
}

/// The query of the sessions page: what was just ended, to say so.
#[derive(Debug, Deserialize)]
pub struct Notice {
    ended: Option<u32>,
    ended_others: Option<u64>,
}

/// `GET /account/sessions`: the account's sessions.
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
    let lang = page.lang;
    let sessions = varco_app::session_list::list(&state.app, &session).await?;
    let notice = match (notice.ended, notice.ended_others) {
        (Some(_), _) => Some(state.i18n.text(lang, "sessions-ended", &[])),
        (None, Some(count)) => Some(state.i18n.text(
            lang,
            "sessions-ended-others",
            &[("count", (count as i64).into())],
        )),
        (None, None) => None,
    };
    page.render(
        &state,
        "sessions.html",
        minijinja::context! { sessions => sessions, csrf => session.session.csrf_token, notice => notice },
    )
}

/// The form of the session buttons: nothing besides the CSRF token.
#[derive(Debug, Deserialize)]
pub struct EndForm {}

/// `POST /account/sessions/{id}/end`: ends one other session of the account (404 for a session
/// it does not own).
pub async fn end(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: SignedInForm<EndForm>,
) -> Result<Response, PageError> {
    let session = match form.full() {
        Ok((s, _)) => s,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let Ok(id) = id.parse::<SessionId>() else {
        return Err(PageError(WebError::NotFound));
    };
    match varco_app::session_list::end(&state.app, &session, id, &ctx.request).await {
        Ok(()) => Ok(Redirect::to(&format!("{PATH}?ended=1")).into_response()),
        Err(AppError::NotFound(_)) => Err(PageError(WebError::NotFound)),
        Err(e) => Err(e.into()),
    }
}

/// `POST /account/sessions/end-others`: ends every other session of the account.
pub async fn end_others(
    State(state): State<WebState>,
    ctx: Ctx,
    form: SignedInForm<EndForm>,
) -> Result<Response, PageError> {
    let session = match form.full() {
        Ok((s, _)) => s,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let ended = varco_app::session_list::end_others(&state.app, &session, &ctx.request).await?;
    Ok(Redirect::to(&format!("{PATH}?ended_others={ended}")).into_response())
}
