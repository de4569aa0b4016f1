//! `/account` (the overview) and `/logout`.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{lang_of, render};
use crate::WebState;
use crate::problem::{PageError, WebError};
use crate::session::{Ctx, MaybeSession, clear_session_cookie, cookie_name, cookie_value, tokens_equal};

pub async fn show(
    State(state): State<WebState>,
    headers: HeaderMap,
    session: MaybeSession,
) -> Result<Response, PageError> {
    let Some(session) = session.0 else {
        return Ok(Redirect::to("/login?next=/account").into_response());
    };
    if session.session.password_change_required {
        return Ok(Redirect::to("/password/change").into_response());
    }
    let lang = lang_of(&headers);
    let account = session.view(&state.app);
    let html = render(
        &state,
        lang,
        "/account",
        true,
        "account.html",
        minijinja::context! { account => account, csrf => session.session.csrf_token },
    )?;
    Ok(html.into_response())
}

pub async fn logout_page(
    State(state): State<WebState>,
    headers: HeaderMap,
    session: MaybeSession,
) -> Result<Response, PageError> {
    let Some(session) = session.0 else {
        return Ok(Redirect::to("/login").into_response());
    };
    let lang = lang_of(&headers);
    let html = render(
        &state,
        lang,
        "/logout",
        true,
        "logout.html",
        minijinja::context! { csrf => session.session.csrf_token },
    )?;
    Ok(html.into_response())
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    State(state): State<WebState>,
    headers: HeaderMap,
    ctx: Ctx,
    session: MaybeSession,
    Form(form): Form<LogoutForm>,
) -> Result<Response, PageError> {
    crate::security::check_same_origin(&headers, state.config.origin())?;
    if let Some(session) = session.0 {
        if !tokens_equal(&session.session.csrf_token, &form.csrf) {
            return Err(PageError(WebError::Csrf));
        }
        if let Some(token) = cookie_value(&headers, cookie_name(&state.config)) {
            varco_app::sessions::logout(&state.app, &token, &ctx.request).await?;
        }
    }
    let mut response = Redirect::to("/login?logged_out=1").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_session_cookie(&state.config));
    Ok(response)
}
