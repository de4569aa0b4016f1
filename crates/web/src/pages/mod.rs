//! Server-rendered HTML pages. They work without JavaScript; every form
//! carries a CSRF token and every text comes from the Fluent files.

mod account;
mod admin;
mod confirm;
pub(crate) use confirm::refusal_text_key;
mod desk;
mod desk_recovery;
mod desk_students;
mod email;
pub(crate) mod form;
mod help;
mod login;
mod password;
pub(crate) mod recovery;
mod requests;
mod second_secret;
mod sessions;
mod setup;
mod upstream;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::Value;
use serde::Deserialize;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::WebState;
use crate::i18n::Lang;
use crate::problem::{PageError, WebError};
use crate::session::{MaybeSession, lang_cookie};

/// The routes of the HTML pages.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login::show).post(login::submit))
        .route("/login/upstream/spid", get(upstream::spid_list))
        .route(
            "/login/upstream/callback",
            // The code and state are in the URL: never leak them as a referrer.
            get(upstream::callback).layer(no_referrer()),
        )
        .route("/login/upstream/choose", post(upstream::choose))
        .route("/login/upstream/{name}", get(upstream::start).layer(no_referrer()))
        .route("/logout", get(account::logout_page).post(account::logout))
        .route("/account", get(account::show))
        .route("/password/change", get(password::show).post(password::submit))
        .route("/account/email", get(email::show).post(email::submit))
        .route(
            "/account/email/confirm",
            // The link's token is in the URL: never leak it as a referrer.
            get(email::confirm_page)
                .post(email::confirm_submit)
                .layer(no_referrer()),
        )
        .route(
            "/account/email/undo",
            get(email::undo_page).post(email::undo_submit).layer(no_referrer()),
        )
        .route("/account/sessions", get(sessions::show))
        .route("/account/second-secret", get(second_secret::show))
        .route("/account/second-secret/regenerate", post(second_secret::regenerate))
        .route("/account/second-secret/change", post(second_secret::change))
        .route("/account/sessions/end-others", post(sessions::end_others))
        .route("/account/sessions/{id}/end", post(sessions::end))
        .route(
            "/password/forgot",
            get(recovery::forgot_page).post(recovery::forgot_submit),
        )
        .route(
            "/password/reset",
            // The link's token is in the URL: never leak it as a referrer.
            get(recovery::reset_page)
                .post(recovery::reset_submit)
                .layer(no_referrer()),
        )
        .route("/help", get(help::show))
        .route(
            "/confirm/{id}",
            get(confirm::show).post(confirm::submit).layer(no_referrer()),
        )
        .route("/admin", get(admin::index))
        .route("/admin/audit", get(admin::audit))
        .route("/admin/audit.csv", get(admin::audit_csv))
        .route("/admin/outbox", get(admin::outbox))
        .route("/admin/outbox/{id}/retry", post(admin::retry))
        .route("/admin/schools", get(admin::schools).post(admin::add_school))
        .route("/admin/operators", get(admin::operators))
        .route("/admin/clients", get(admin::clients))
        .route("/admin/operators/{way}", post(admin::set_role))
        .route("/admin/schools/{code}", get(admin::school).post(admin::save_school))
        .route("/desk", get(desk::search))
        .route("/desk/accounts/{user_code}", get(desk::account))
        .route("/desk/accounts/{user_code}/correct", post(desk::correct))
        .route("/desk/accounts/{user_code}/recover", post(desk_recovery::recover))
        .route(
            "/password/recover",
            get(desk_recovery::recover_page)
                .post(desk_recovery::recover_submit)
                .layer(no_referrer()),
        )
        .route("/desk/accounts/{user_code}/{action}", post(desk::act))
        .route(
            "/desk/accounts/{user_code}/students/{student_id}/unlink",
            post(desk_students::unlink),
        )
        .route(
            "/setup",
            // The setup page carries its one-time token in the URL: never leak it as a referrer.
            get(setup::show).post(setup::submit).layer(no_referrer()),
        )
        .route("/lang/{code}", get(switch_language))
        .merge(requests::routes())
}

pub use crate::i18n::lang_of;

/// `Referrer-Policy: no-referrer`, for the pages whose URL carries a one-time
/// token: the token must never leak as a referrer.
fn no_referrer() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"))
}

/// Renders a page template with the common context (`lang`, `path`, `signed_in`).
/// Kept for `/setup`; the other pages render through [`crate::extract::Page`].
pub(crate) fn render(
    state: &WebState,
    lang: Lang,
    path: &str,
    signed_in: bool,
    name: &str,
    page: Value,
) -> Result<Html<String>, PageError> {
    let context = minijinja::context! {
        lang => lang.code(), path => path, signed_in => signed_in,
        site_name => state.config.branding.name, links => state.config.branding.links(),
        ..page
    };
    state.templates.render(name, context).map(Html).map_err(|e| {
        PageError(WebError::App(varco_app::AppError::internal_because(
            format!("template {name}"),
            e,
        )))
    })
}

/// The messages of a refused password, errors then advice. Kept for `/setup`;
/// the other forms use [`form::FormErrors::policy`], which keeps them apart.
pub(crate) fn policy_messages(
    state: &WebState,
    lang: Lang,
    policy: &varco_domain::password::PasswordPolicy,
    refusal: &varco_domain::password::PolicyRefusal,
) -> Vec<String> {
    let errors = form::FormErrors::policy(state, lang, "password", policy, refusal);
    errors
        .errors
        .into_iter()
        .map(|e| e.message)
        .chain(errors.advice)
        .collect()
}

pub(crate) use crate::extract::anonymous_csrf;

/// Checks an anonymous form: same origin and the double-submit token. Kept
/// for `/setup`; the other forms use [`crate::extract::AnonymousForm`].
pub(crate) fn check_anonymous_form(state: &WebState, headers: &HeaderMap, submitted: &str) -> Result<(), PageError> {
    if let Err(e) = crate::security::check_same_origin(headers, state.config.origin()) {
        tracing::info!(origin = ?headers.get(axum::http::header::ORIGIN), expected = state.config.origin(), "form refused: cross-origin");
        return Err(PageError(e));
    }
    crate::extract::check_anonymous_csrf(state, headers, submitted)
}

/// A local path to go back to after a redirect; anything else becomes `/`.
pub(crate) fn local_path(candidate: Option<&str>) -> String {
    match candidate {
        Some(p)
            if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') && !p.chars().any(char::is_control) =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}

async fn home(session: MaybeSession) -> Redirect {
    if session.0.is_some() {
        Redirect::to("/account")
    } else {
        Redirect::to("/login")
    }
}

#[derive(Debug, Deserialize)]
struct Back {
    back: Option<String>,
}

async fn switch_language(
    State(state): State<WebState>,
    Path(code): Path<String>,
    Query(back): Query<Back>,
) -> Response {
    let Some(lang) = Lang::from_code(&code) else {
        return PageError(WebError::NotFound).into_response();
    };
    let target = local_path(back.back.as_deref());
    let mut response = Redirect::to(&target).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, lang_cookie(&state.config, lang.code()));
    response
}

/// The 404 page, for any path no route knows.
pub async fn not_found() -> Response {
    let mut response = PageError(WebError::NotFound).into_response();
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path(Some("/account")), "/account");
        assert_eq!(local_path(Some("//evil.example")), "/");
        assert_eq!(local_path(Some("https://evil.example")), "/");
        assert_eq!(local_path(Some("/\\evil")), "/");
        assert_eq!(local_path(None), "/");
    }
}
