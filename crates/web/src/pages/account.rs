//! `/account` (the overview) and `/logout`.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::WebState;
use crate::extract::{Page, SignedInForm, SignedInRejection};
use crate::problem::PageError;
use crate::session::{Ctx, MaybeSession, clear_session_cookie, cookie_name, cookie_value};

/// The query of `/account`.
#[derive(Debug, Deserialize)]
pub struct AccountQuery {
    revoked: Option<String>,
}

/// `GET /account`: the overview of the signed-in account and the
/// applications it signed in to (to the login without a session, to the
/// password change for a restricted one).
pub async fn show(
    State(state): State<WebState>,
    page: Page,
    session: MaybeSession,
    axum::extract::Query(query): axum::extract::Query<AccountQuery>,
) -> Result<Response, PageError> {
    let Some(session) = session.0 else {
        return Ok(Redirect::to("/login?next=/account").into_response());
    };
    if session.session.password_change_required {
        return Ok(Redirect::to("/password/change").into_response());
    }
    let account = session.view(&state.app);
    let applications = varco_app::applications::list(&state.app, session.account.id).await?;
    let children = varco_app::students::children(&state.app, session.account.id).await?;
    page.render(
        &state,
        "account.html",
        minijinja::context! {
            account => account,
            csrf => session.session.csrf_token,
            applications => applications,
            children => children,
            revoked => query.revoked.is_some(),
        },
    )
}

/// `GET /logout`: the page with the button that logs out (to the login without a session).
pub async fn logout_page(
    State(state): State<WebState>,
    page: Page,
    session: MaybeSession,
) -> Result<Response, PageError> {
    let Some(session) = session.0 else {
        return Ok(Redirect::to("/login").into_response());
    };
    page.render(
        &state,
        "logout.html",
        minijinja::context! { csrf => session.session.csrf_token },
    )
}

/// The logout form: nothing besides the CSRF token.
#[derive(Debug, Deserialize)]
pub struct LogoutForm {}

/// `POST /logout`: ends the session, clears the cookie and goes to the login page (also when
/// already signed out).
pub async fn logout(
    State(state): State<WebState>,
    headers: HeaderMap,
    ctx: Ctx,
    form: Result<SignedInForm<LogoutForm>, SignedInRejection>,
) -> Result<Response, PageError> {
    match form {
        Ok(_) => {
            if let Some(token) = cookie_value(&headers, cookie_name(&state.config)) {
                varco_app::sessions::logout(&state.app, &token, &ctx.request).await?;
            }
        }
        // Already signed out: nothing to end, say so all the same.
        Err(SignedInRejection::SignedOut { .. }) => {}
        Err(SignedInRejection::Refused(response)) => return Ok(response),
    }
    let mut response = Redirect::to("/login?logged_out=1").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_session_cookie(&state.config));
    Ok(response)
}
