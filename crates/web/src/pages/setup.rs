//! `/setup`: the one-time first-run page that creates the first school and
//! the first admin. The link comes from the server's stderr at start-up.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use varco_app::AppError;
use varco_app::accounts::AddAccount;
use varco_app::schools::AddSchool;
use varco_app::setup::FirstAdmin;
use varco_domain::account::AccountKind;
use varco_domain::password::PasswordInput;

use super::{anonymous_csrf, check_anonymous_form, lang_of, render};
use crate::WebState;
use crate::i18n::Lang;
use crate::problem::PageError;
use crate::session::Ctx;

#[derive(Debug, Deserialize)]
pub struct SetupQuery {
    token: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SetupForm {
    school_code: String,
    school_name: String,
    school_email: String,
    first_name: String,
    last_name: String,
    tax_code: String,
    email: String,
    username: String,
    #[serde(skip_serializing)]
    password: String,
    #[serde(skip_serializing)]
    password_confirm: String,
    #[serde(skip_serializing)]
    token: String,
    #[serde(skip_serializing)]
    csrf: String,
}

fn invalid_link(state: &WebState, lang: Lang) -> Result<Response, PageError> {
    let message = state.i18n.text(lang, "setup-invalid", &[]);
    let html = render(
        state,
        lang,
        "/setup",
        false,
        "error.html",
        minijinja::context! { message => message },
    )?;
    Ok((StatusCode::BAD_REQUEST, html).into_response())
}

fn form_page(
    state: &WebState,
    headers: &HeaderMap,
    status: StatusCode,
    token: &str,
    form: &SetupForm,
    errors: Vec<String>,
) -> Result<Response, PageError> {
    let lang = lang_of(headers);
    let (csrf, set_cookie) = anonymous_csrf(state, headers);
    let html = render(
        state,
        lang,
        "/setup",
        false,
        "setup.html",
        minijinja::context! {
            csrf => csrf, token => token, form => form, errors => errors,
            min_length => state.app.settings.policy.staff.min_length,
        },
    )?;
    let mut response = (status, html).into_response();
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

pub async fn show(
    State(state): State<WebState>,
    headers: HeaderMap,
    Query(query): Query<SetupQuery>,
) -> Result<Response, PageError> {
    let token = query.token.unwrap_or_default();
    if !varco_app::setup::setup_token_is_live(&state.app, &token).await? {
        return invalid_link(&state, lang_of(&headers));
    }
    form_page(
        &state,
        &headers,
        StatusCode::OK,
        &token,
        &SetupForm::default(),
        Vec::new(),
    )
}

pub async fn submit(
    State(state): State<WebState>,
    headers: HeaderMap,
    ctx: Ctx,
    Form(form): Form<SetupForm>,
) -> Result<Response, PageError> {
    check_anonymous_form(&state, &headers, &form.csrf)?;
    let lang = lang_of(&headers);
    let policy = &state.app.settings.policy.staff;
    let password = match PasswordInput::new(&form.password) {
        Ok(p) => p,
        Err(_) => {
            let message = state
                .i18n
                .text(lang, "policy-too_long", &[("max", (policy.max_length as i64).into())]);
            return form_page(
                &state,
                &headers,
                StatusCode::BAD_REQUEST,
                &form.token,
                &form,
                vec![message],
            );
        }
    };
    if form.password != form.password_confirm {
        let message = state.i18n.text(lang, "setup-password-mismatch", &[]);
        return form_page(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            &form.token,
            &form,
            vec![message],
        );
    }
    let input = FirstAdmin {
        school: AddSchool {
            code: form.school_code.clone(),
            name: form.school_name.clone(),
            email: Some(form.school_email.clone()),
            ..AddSchool::default()
        },
        admin: AddAccount {
            school_code: form.school_code.clone(),
            kind: AccountKind::Staff,
            first_name: form.first_name.clone(),
            last_name: form.last_name.clone(),
            tax_code: form.tax_code.clone(),
            email: Some(form.email.clone()),
            username: Some(form.username.clone()),
        },
    };
    match varco_app::setup::complete_setup(&state.app, &form.token, &input, password, &ctx.request).await {
        Ok(admin) => {
            let html = render(
                &state,
                lang,
                "/setup",
                false,
                "setup_done.html",
                minijinja::context! { user_code => admin.user_code },
            )?;
            Ok(html.into_response())
        }
        Err(AppError::InvalidToken) => invalid_link(&state, lang),
        Err(AppError::PasswordPolicy(refusal)) => {
            let messages = super::policy_messages(&state, lang, policy, &refusal);
            form_page(&state, &headers, StatusCode::BAD_REQUEST, &form.token, &form, messages)
        }
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict(_))) => {
            let message = state
                .i18n
                .text(lang, "error-invalid", &[("detail", e.to_string().into())]);
            form_page(
                &state,
                &headers,
                StatusCode::BAD_REQUEST,
                &form.token,
                &form,
                vec![message],
            )
        }
        Err(e) => Err(e.into()),
    }
}
