//! `/setup`: the one-time first-run page that creates the first school and
//! the first admin. The link comes from the server's stderr at start-up.
//!
//! Once an admin exists the page is gone (404). A POST is rate limited per
//! address and checks its token before anything costly: validation, the
//! password policy and Argon2 only run for a live link.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fluent_bundle::FluentValue;
use serde::{Deserialize, Serialize};
use varco_app::AppError;
use varco_app::accounts::AddAccount;
use varco_app::schools::AddSchool;
use varco_app::setup::{FirstAdmin, SetupFieldError, SetupProblem};
use varco_domain::account::AccountKind;
use varco_domain::password::PasswordInputError;
use varco_domain::person::{PersonNameError, UsernameError};
use varco_domain::tax_code::TaxCodeError;

use super::{anonymous_csrf, check_anonymous_form, lang_of, render};
use crate::WebState;
use crate::i18n::Lang;
use crate::problem::{PageError, WebError};
use crate::session::Ctx;

/// The query of the setup page: the setup link's token.
#[derive(Debug, Deserialize)]
pub struct SetupQuery {
    token: Option<String>,
}

/// The fields of the setup form (the school and the first admin).
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

/// One message shown in the summary and next to its field.
#[derive(Debug, Serialize)]
struct FieldMessage {
    field: &'static str,
    message: String,
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
    errors: Vec<FieldMessage>,
) -> Result<Response, PageError> {
    let lang = lang_of(headers);
    let (csrf, set_cookie) = anonymous_csrf(state, headers);
    // Per field, the ids of its messages (for aria-describedby) and their texts.
    let mut by_field: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for e in &errors {
        by_field.entry(e.field).or_default().push(e.message.clone());
    }
    let html = render(
        state,
        lang,
        "/setup",
        false,
        "setup.html",
        minijinja::context! {
            csrf => csrf, token => token, form => form, field_errors => by_field,
            first_error => errors.first().map(|e| e.field), errors => errors,
            min_length => state.app.settings.policy.staff.min_length,
        },
    )?;
    let mut response = (status, html).into_response();
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// 404 once an admin exists: the page has nothing left to do.
async fn ensure_pending(state: &WebState) -> Result<(), PageError> {
    if varco_app::setup::needs_setup(&state.app).await? {
        Ok(())
    } else {
        Err(WebError::NotFound.into())
    }
}

/// `GET /setup`: the setup form, if the link is live and no admin exists yet (404 after that).
pub async fn show(
    State(state): State<WebState>,
    headers: HeaderMap,
    Query(query): Query<SetupQuery>,
) -> Result<Response, PageError> {
    ensure_pending(&state).await?;
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

/// `POST /setup`: creates the first school and the first admin.
pub async fn submit(
    State(state): State<WebState>,
    headers: HeaderMap,
    ctx: Ctx,
    Form(form): Form<SetupForm>,
) -> Result<Response, PageError> {
    if let Some(ip) = ctx.ip
        && let Err(seconds) = state.recovery_limiter.check(ip)
    {
        return Err(WebError::Throttled(seconds).into());
    }
    ensure_pending(&state).await?;
    check_anonymous_form(&state, &headers, &form.csrf)?;
    let lang = lang_of(&headers);
    // A dead link costs one read, never validation, the policy or a hash.
    if !varco_app::setup::setup_token_is_live(&state.app, &form.token).await? {
        return invalid_link(&state, lang);
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
    let refused =
        |errors: Vec<FieldMessage>| form_page(&state, &headers, StatusCode::BAD_REQUEST, &form.token, &form, errors);
    let password = match varco_app::setup::check_first_admin(&state.app, &input, &form.password, &form.password_confirm)
    {
        Ok(password) => password,
        Err(errors) => return refused(errors.iter().flat_map(|e| messages(&state, lang, e)).collect()),
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
        // Already checked above; kept for a policy that changed in between.
        Err(AppError::PasswordPolicy(refusal)) => refused(
            super::policy_messages(&state, lang, &state.app.settings.policy.staff, &refusal)
                .into_iter()
                .map(|message| FieldMessage {
                    field: "password",
                    message,
                })
                .collect(),
        ),
        Err(AppError::Invalid { field, .. }) => refused(vec![FieldMessage {
            field: form_field(field),
            message: state.i18n.text(
                lang,
                "setup-error-field",
                &[("field", field_label(&state, lang, form_field(field)).into())],
            ),
        }]),
        Err(AppError::Conflict { .. }) => refused(vec![FieldMessage {
            field: "school_code",
            message: state.i18n.text(lang, "setup-error-conflict", &[]),
        }]),
        Err(e) => Err(e.into()),
    }
}

/// The form field behind a use-case field name (`schools::add` says `code`).
fn form_field(field: &'static str) -> &'static str {
    match field {
        "code" => "school_code",
        "name" => "school_name",
        "email" => "email",
        other => other,
    }
}

fn field_label(state: &WebState, lang: Lang, field: &str) -> String {
    state.i18n.text(lang, &format!("setup-field-{field}"), &[])
}

/// The localized messages for one refused field (a policy refusal may say
/// several things).
fn messages(state: &WebState, lang: Lang, error: &SetupFieldError) -> Vec<FieldMessage> {
    let field = error.field.name();
    let label = || -> FluentValue<'static> { field_label(state, lang, field).into() };
    let text = |key: &str, args: &[(&str, FluentValue<'_>)]| state.i18n.text(lang, key, args);
    let one = |message: String| vec![FieldMessage { field, message }];
    let policy = &state.app.settings.policy.staff;
    match &error.problem {
        SetupProblem::Required => one(text("setup-error-required", &[("field", label())])),
        SetupProblem::SchoolCode(_) => one(text("setup-error-school-code", &[])),
        SetupProblem::Text { max } => one(text(
            "setup-error-text",
            &[("field", label()), ("max", (*max as i64).into())],
        )),
        SetupProblem::Email(_) => one(text("setup-error-email", &[("field", label())])),
        SetupProblem::Name(PersonNameError::TooLong) => one(text("setup-error-name-too-long", &[("field", label())])),
        SetupProblem::Name(_) => one(text("setup-error-name-invalid", &[("field", label())])),
        SetupProblem::TaxCode(e) => one(match e {
            TaxCodeError::Empty => text("setup-error-required", &[("field", label())]),
            TaxCodeError::Length { found } => text("setup-error-tax-code-length", &[("found", (*found as i64).into())]),
            TaxCodeError::Character { position } => text(
                "setup-error-tax-code-character",
                &[("position", (*position as i64).into())],
            ),
            TaxCodeError::Month => text("setup-error-tax-code-month", &[]),
            TaxCodeError::Day => text("setup-error-tax-code-day", &[]),
            TaxCodeError::CheckCharacter { .. } => text("setup-error-tax-code-check", &[]),
        }),
        SetupProblem::Username(e) => one(text(
            match e {
                UsernameError::Length => "setup-error-username-length",
                UsernameError::Character => "setup-error-username-character",
                UsernameError::LooksLikeUserCode => "setup-error-username-user-code",
            },
            &[],
        )),
        SetupProblem::PasswordInput(PasswordInputError::Empty) => {
            one(text("setup-error-required", &[("field", label())]))
        }
        SetupProblem::PasswordInput(_) => one(text("policy-too_long", &[("max", (policy.max_length as i64).into())])),
        SetupProblem::PasswordMismatch => one(text("setup-password-mismatch", &[])),
        SetupProblem::Policy(refusal) => super::policy_messages(state, lang, policy, refusal)
            .into_iter()
            .map(|message| FieldMessage { field, message })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use varco_app::setup::SetupField;

    /// Every field has a label in both languages, so no message says a key.
    #[test]
    fn every_field_has_a_label_in_both_languages() {
        let i18n = crate::i18n::I18n::load();
        for field in [
            SetupField::SchoolCode,
            SetupField::SchoolName,
            SetupField::SchoolEmail,
            SetupField::FirstName,
            SetupField::LastName,
            SetupField::TaxCode,
            SetupField::Email,
            SetupField::Username,
            SetupField::Password,
            SetupField::PasswordConfirm,
        ] {
            for lang in [Lang::It, Lang::En] {
                let key = format!("setup-field-{}", field.name());
                assert!(i18n.has(lang, &key), "{lang:?} {key}");
            }
        }
    }
}
