//! `/password/forgot` and `/password/reset`: the self-service recovery pages.
//!
//! The forgot-password answer is the same page, status and (near enough)
//! time for every login: the request is handed to a background task and the
//! page is rendered at once. `/password/reset` opens reset and activation
//! links; it sends `Referrer-Policy: no-referrer` (set on the route) so the
//! token in its URL never leaks.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use varco_app::AppError;
use varco_app::recovery::LinkState;

use super::form::FormErrors;
use crate::WebState;
use crate::extract::{AnonymousForm, Page};
use crate::problem::PageError;
use crate::session::Ctx;

fn forgot_form(
    state: &WebState,
    page: &Page,
    status: StatusCode,
    login: &str,
    errors: FormErrors,
) -> Result<Response, PageError> {
    page.render_status(
        state,
        status,
        "forgot.html",
        minijinja::context! {
            login => login, form_errors => errors,
            sign_in => varco_app::login_policy::sign_in_notices(&state.app),
        },
    )
}

/// `GET /password/forgot`: the form that asks for a reset link.
pub async fn forgot_page(State(state): State<WebState>, page: Page) -> Result<Response, PageError> {
    forgot_form(&state, &page, StatusCode::OK, "", FormErrors::none())
}

/// The field of the forgot-password form.
#[derive(Debug, Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    login: String,
}

/// Hands a forgot-password request to a background task; the caller answers
/// at once, the same way whatever the login.
pub(crate) fn start_reset_request(state: &WebState, login: String, ctx: &Ctx) {
    let app = state.app.clone();
    let request = ctx.request.clone();
    tokio::spawn(async move {
        if let Err(e) = varco_app::recovery::request_reset(&app, &login, &request).await {
            tracing::warn!(error = %varco_app::error_chain(&e), "forgot-password request failed");
        }
    });
}

/// `POST /password/forgot`: starts the request in the background and answers the same way
/// whatever the login.
pub async fn forgot_submit(
    State(state): State<WebState>,
    ctx: Ctx,
    page: Page,
    AnonymousForm(form): AnonymousForm<ForgotForm>,
) -> Result<Response, PageError> {
    let lang = page.lang;
    if form.login.trim().is_empty() {
        let errors = FormErrors::on("login", page.text(&state, "forgot-blank"));
        return forgot_form(&state, &page, StatusCode::BAD_REQUEST, "", errors);
    }
    if let Some(ip) = ctx.ip
        && let Err(seconds) = state.recovery_limiter.check(ip)
    {
        let error = state
            .i18n
            .text(lang, "forgot-throttled", &[("seconds", seconds.into())]);
        let mut response = forgot_form(
            &state,
            &page,
            StatusCode::TOO_MANY_REQUESTS,
            &form.login,
            FormErrors::general(error),
        )?;
        response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
        return Ok(response);
    }
    start_reset_request(&state, form.login, &ctx);
    page.render(&state, "forgot_sent.html", minijinja::context! {})
}

/// The query of the reset page: the link's token.
#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

fn invalid_link(state: &WebState, page: &Page) -> Result<Response, PageError> {
    page.render_status(
        state,
        StatusCode::BAD_REQUEST,
        "link_invalid.html",
        minijinja::context! {},
    )
}

/// The page of a live link for an account that signs in with SPID/CIE only.
fn spid_cie_only(state: &WebState, page: &Page) -> Result<Response, PageError> {
    page.render_status(
        state,
        StatusCode::FORBIDDEN,
        "spid_cie_only.html",
        minijinja::context! {},
    )
}

fn reset_form(
    state: &WebState,
    page: &Page,
    status: StatusCode,
    token: &str,
    link: &LinkState,
    errors: FormErrors,
) -> Result<Response, PageError> {
    let (activation, user_code, first_name) = match link {
        LinkState::Valid {
            activation,
            user_code,
            first_name,
        } => (activation, user_code, first_name),
        LinkState::SpidCieOnly => return spid_cie_only(state, page),
        LinkState::Spent | LinkState::Unknown => return invalid_link(state, page),
    };
    page.render_status(
        state,
        status,
        "reset.html",
        minijinja::context! {
            token => token, activation => activation, user_code => user_code,
            first_name => first_name, form_errors => errors,
            min_length => state.app.settings.policy.staff.min_length.max(state.app.settings.policy.family.min_length),
        },
    )
}

/// `GET /password/reset`: the new-password form of a reset or activation link, if the link is
/// usable.
pub async fn reset_page(
    State(state): State<WebState>,
    page: Page,
    Query(query): Query<TokenQuery>,
) -> Result<Response, PageError> {
    let token = query.token.unwrap_or_default();
    let link = varco_app::recovery::inspect_link(&state.app, &token).await?;
    reset_form(&state, &page, StatusCode::OK, &token, &link, FormErrors::none())
}

/// The fields of the new-password form.
#[derive(Debug, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_confirm: String,
}

/// `POST /password/reset`: sets the new password with the link's token.
pub async fn reset_submit(
    State(state): State<WebState>,
    ctx: Ctx,
    page: Page,
    AnonymousForm(form): AnonymousForm<ResetForm>,
) -> Result<Response, PageError> {
    let lang = page.lang;
    let attempt = state
        .recovery_limiter
        .attempt(ctx.ip)
        .map_err(|seconds| PageError(crate::problem::WebError::Throttled(seconds)))?;
    // An unknown or spent link counts against the address (the attempt is dropped).
    let link = varco_app::recovery::inspect_link(&state.app, &form.token).await?;
    let (activation, user_code) = match &link {
        LinkState::Valid {
            activation, user_code, ..
        } => (activation, user_code),
        LinkState::SpidCieOnly => {
            attempt.succeeded();
            return spid_cie_only(&state, &page);
        }
        LinkState::Spent | LinkState::Unknown => return invalid_link(&state, &page),
    };
    let refuse = |errors: FormErrors| reset_form(&state, &page, StatusCode::BAD_REQUEST, &form.token, &link, errors);
    if form.new_password != form.new_password_confirm {
        attempt.succeeded();
        return refuse(FormErrors::on(
            "new_password_confirm",
            page.text(&state, "reset-mismatch"),
        ));
    }
    let result = varco_app::recovery::reset_password(&state.app, &form.token, &form.new_password, &ctx.request).await;
    attempt.settle(crate::ratelimit::failed_link_use(&result));
    match result {
        Ok(()) => page.render(
            &state,
            "reset_done.html",
            minijinja::context! { activation => activation, user_code => user_code },
        ),
        Err(AppError::InvalidToken) => invalid_link(&state, &page),
        Err(AppError::PasswordNotAllowed) => spid_cie_only(&state, &page),
        Err(AppError::InputTooLong) => refuse(FormErrors::on("new_password", page.text(&state, "login-too-long"))),
        Err(AppError::PasswordPolicy(refusal)) => {
            let policy = &state.app.settings.policy.staff;
            refuse(FormErrors::policy(&state, lang, "new_password", policy, &refusal))
        }
        Err(e) => Err(e.into()),
    }
}
