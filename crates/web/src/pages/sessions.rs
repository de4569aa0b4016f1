//! `/account/sessions`: the signed-in devices, with a form to end each other
//! session and one to end them all but this one. Both forms carry the
//! session's CSRF token and must come from Varco's own origin; a session
//! restricted to changing the password is sent there instead.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use varco_app::AppError;
use varco_app::sessions::Authenticated;

use super::{lang_of, render};
use crate::WebState;
use crate::problem::{PageError, WebError};
use crate::session::{Ctx, MaybeSession, tokens_equal};

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

#[derive(Debug, Deserialize)]
pub struct Notice {
    ended: Option<u32>,
    ended_others: Option<u64>,
}

pub async fn show(
    State(state): State<WebState>,
    headers: HeaderMap,
    session: MaybeSession,
    Query(notice): Query<Notice>,
) -> Result<Response, PageError> {
    let session = match settings_session(session, PATH) {
        Ok(s) => s,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let lang = lang_of(&headers);
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
    let html = render(
        &state,
        lang,
        PATH,
        true,
        "sessions.html",
        minijinja::context! { sessions => sessions, csrf => session.session.csrf_token, notice => notice },
    )?;
    Ok(html.into_response())
}

#[derive(Debug, Deserialize)]
pub struct EndForm {
    #[serde(default)]
    csrf: String,
}

/// The usable session behind a state-changing form, checked for origin and CSRF token.
fn checked(
    state: &WebState,
    headers: &HeaderMap,
    session: MaybeSession,
    form: &EndForm,
) -> Result<Result<Authenticated, Redirect>, PageError> {
    crate::security::check_same_origin(headers, state.config.origin())?;
    let session = match settings_session(session, PATH) {
        Ok(s) => s,
        Err(elsewhere) => return Ok(Err(elsewhere)),
    };
    if !tokens_equal(&session.session.csrf_token, &form.csrf) {
        return Err(PageError(WebError::Csrf));
    }
    Ok(Ok(session))
}

pub async fn end(
    State(state): State<WebState>,
    headers: HeaderMap,
    ctx: Ctx,
    session: MaybeSession,
    Path(id): Path<String>,
    Form(form): Form<EndForm>,
) -> Result<Response, PageError> {
    let session = match checked(&state, &headers, session, &form)? {
        Ok(s) => s,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let Ok(id) = id.parse::<i64>() else {
        return Err(PageError(WebError::NotFound));
    };
    match varco_app::session_list::end(&state.app, &session, id, &ctx.request).await {
        Ok(()) => Ok(Redirect::to(&format!("{PATH}?ended=1")).into_response()),
        Err(AppError::NotFound(_)) => Err(PageError(WebError::NotFound)),
        Err(e) => Err(e.into()),
    }
}

pub async fn end_others(
    State(state): State<WebState>,
    headers: HeaderMap,
    ctx: Ctx,
    session: MaybeSession,
    Form(form): Form<EndForm>,
) -> Result<Response, PageError> {
    let session = match checked(&state, &headers, session, &form)? {
        Ok(s) => s,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let ended = varco_app::session_list::end_others(&state.app, &session, &ctx.request).await?;
    Ok(Redirect::to(&format!("{PATH}?ended_others={ended}")).into_response())
}
