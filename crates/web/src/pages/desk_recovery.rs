//! The identity check of the desk's account page and what follows it: the
//! recovery (a link mailed, or the printable letter with its QR code), the
//! confirmation and unlinking for an account that signs in with SPID/CIE
//! only; and `/password/recover`, where the person uses the letter's code.
//!
//! The rules are `varco_app::desk::recovery`'s; a refused check shows the
//! account page again with the error on its field.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use varco_app::AppError;
use varco_app::desk::recovery::{Channel, IdentityCheck, RecoveryLetter, RecoveryRequest, refusals};
use varco_app::sessions::Authenticated;
use varco_domain::TaxCode;

use super::desk::{back_to, render_account};
use super::form::FormErrors;
use crate::WebState;
use crate::extract::{AnonymousForm, Page, SignedInForm};
use crate::problem::PageError;
use crate::session::Ctx;

/// The identity check form, and what follows it.
#[derive(Debug, Default, Deserialize)]
pub struct CheckForm {
    #[serde(default)]
    document_type: String,
    #[serde(default)]
    document_last4: String,
    #[serde(default)]
    document_expiry: String,
    #[serde(default)]
    check_tax_code: String,
    #[serde(default)]
    new_email: String,
    #[serde(default)]
    new_email_confirm: String,
    /// `link` or `letter` (a recovery), `confirm` or `unlink` (an account
    /// without a password).
    #[serde(default)]
    step: String,
}

impl CheckForm {
    fn check(&self) -> IdentityCheck {
        IdentityCheck {
            document_type: self.document_type.clone(),
            document_last4: self.document_last4.clone(),
            document_expiry: self.document_expiry.clone(),
            tax_code: self.check_tax_code.clone(),
        }
    }
}

/// The form's field and message key for a refusal, or `None` when the
/// error is not the form's.
fn refusal(error: &AppError, form: &CheckForm) -> Option<(&'static str, &'static str)> {
    Some(match error {
        AppError::Invalid { field, .. } => match *field {
            "document_type" => ("document_type", "desk-check-document-type-invalid"),
            "document_last4" => ("document_last4", "desk-check-last4-invalid"),
            "document_expiry" if form.document_expiry.trim().is_empty() => {
                ("document_expiry", "desk-check-expiry-invalid")
            }
            "document_expiry" => match varco_domain::identity_check::parse_expiry(&form.document_expiry) {
                Ok(_) => ("document_expiry", "desk-check-expired"),
                Err(_) => ("document_expiry", "desk-check-expiry-invalid"),
            },
            // A valid tax code that was refused is not the account's.
            "tax_code" if TaxCode::parse(form.check_tax_code.trim()).is_ok() => {
                ("check_tax_code", "desk-check-tax-code-mismatch")
            }
            "tax_code" => ("check_tax_code", "desk-check-tax-code-invalid"),
            "new_email" => ("new_email", "desk-check-email-invalid"),
            _ => ("new_email_confirm", "desk-check-email-mismatch"),
        },
        AppError::InputTooLong => ("new_email", "desk-check-email-invalid"),
        AppError::PasswordNotAllowed => ("step", "desk-recover-spid-cie-only"),
        AppError::Conflict { message, .. } if message == refusals::NO_EMAIL => ("new_email", "desk-recover-no-email"),
        AppError::Conflict { message, .. } if message == refusals::DISABLED => ("step", "desk-recover-disabled"),
        AppError::Conflict { message, .. } if message == refusals::NOTHING_TO_UNLINK => ("step", "desk-unlink-none"),
        AppError::Conflict { .. } => ("step", "desk-done-refused"),
        _ => return None,
    })
}

/// `POST /desk/accounts/{user_code}/recover`: records the identity check
/// and issues the recovery; the letter is the answer, ready to print.
pub async fn recover(
    State(state): State<WebState>,
    page: Page,
    ctx: Ctx,
    Path(user_code): Path<String>,
    form: SignedInForm<CheckForm>,
) -> Result<Response, PageError> {
    let (session, form) = match form.full() {
        Ok(pair) => pair,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let actor = session.actor();
    let result = match form.step.as_str() {
        "confirm" | "unlink" => {
            let unlink = form.step == "unlink";
            varco_app::desk::recovery::check_identity(
                &state.app,
                &actor,
                &ctx.request,
                &user_code,
                &form.check(),
                unlink,
            )
            .await
            .map(|_| {
                back_to(
                    &user_code,
                    if unlink {
                        "identity-unlinked"
                    } else {
                        "identity-confirmed"
                    },
                )
            })
        }
        step => {
            let channel = Channel::parse(step).unwrap_or(Channel::Letter);
            let request = RecoveryRequest {
                check: form.check(),
                new_email: Some(form.new_email.clone()),
                new_email_confirm: Some(form.new_email_confirm.clone()),
                channel,
            };
            match varco_app::desk::recovery::issue(&state.app, &actor, &ctx.request, &user_code, &request).await {
                Ok(issued) => match issued.letter {
                    Some(letter) => return letter_page(&state, &page, &letter),
                    None => Ok(back_to(&user_code, "recovery-link-sent")),
                },
                Err(e) => Err(e),
            }
        }
    };
    match result {
        Ok(response) => Ok(response),
        Err(e) => match refusal(&e, &form) {
            Some((field, key)) => {
                let field = if field == "step" { None } else { Some(field) };
                let mut errors = FormErrors::none();
                errors.push(field, page.text(&state, key));
                show_refused(&state, &page, &ctx, &session, &user_code, &form, errors).await
            }
            None => Err(e.into()),
        },
    }
}

/// The account page again, with the check's errors and what was typed
/// (never anything of a password: there is none in this form).
async fn show_refused(
    state: &WebState,
    page: &Page,
    ctx: &Ctx,
    session: &Authenticated,
    user_code: &str,
    form: &CheckForm,
    errors: FormErrors,
) -> Result<Response, PageError> {
    let recovery = minijinja::context! {
        failed => true,
        fe => errors,
        document_type => form.document_type,
        document_last4 => form.document_last4,
        document_expiry => form.document_expiry,
        check_tax_code => form.check_tax_code,
        new_email => form.new_email,
        new_email_confirm => form.new_email_confirm,
    };
    render_account(
        state,
        page,
        ctx,
        session,
        user_code,
        None,
        FormErrors::none(),
        None,
        recovery,
    )
    .await
}

/// The QR code of `url` as an SVG element, to inline in the page.
pub(crate) fn qr_svg(url: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(180, 180)
        .quiet_zone(true)
        .build();
    // Inline: the element alone, without the XML declaration; the caption
    // beside it gives the same address in words.
    let start = svg.find("<svg")?;
    Some(svg[start..].replacen("<svg", "<svg aria-hidden=\"true\" focusable=\"false\"", 1))
}

/// The printable letter.
fn letter_page(state: &WebState, page: &Page, letter: &RecoveryLetter) -> Result<Response, PageError> {
    let qr = qr_svg(&letter.reset_url).unwrap_or_default();
    page.render(
        state,
        "desk_letter.html",
        minijinja::context! {
            letter => letter,
            qr => minijinja::Value::from_safe_string(qr),
            reset_path => varco_app::desk::recovery::RECOVER_PATH,
        },
    )
}

/// The query of `/password/recover`: the user code of the letter's QR code.
#[derive(Debug, Deserialize)]
pub struct RecoverQuery {
    user: Option<String>,
}

fn recover_form(
    state: &WebState,
    page: &Page,
    status: StatusCode,
    user_code: &str,
    errors: FormErrors,
) -> Result<Response, PageError> {
    // Only a user code's own symbols go back into the page.
    let user_code: String = user_code.chars().filter(char::is_ascii_alphanumeric).take(20).collect();
    page.render_status(
        state,
        status,
        "recover.html",
        minijinja::context! {
            user_code => user_code, form_errors => errors,
            min_length => state.app.settings.policy.staff.min_length.max(state.app.settings.policy.family.min_length),
        },
    )
}

/// `GET /password/recover`: the form where the code of a recovery letter
/// sets a new password; the QR code fills in the user code, never the code.
pub async fn recover_page(
    State(state): State<WebState>,
    page: Page,
    Query(query): Query<RecoverQuery>,
) -> Result<Response, PageError> {
    recover_form(
        &state,
        &page,
        StatusCode::OK,
        query.user.as_deref().unwrap_or_default(),
        FormErrors::none(),
    )
}

/// The fields of `/password/recover`.
#[derive(Debug, Deserialize)]
pub struct RecoverForm {
    #[serde(default)]
    user_code: String,
    #[serde(default)]
    recovery_code: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_confirm: String,
}

/// `POST /password/recover`: sets the new password with the letter's code.
/// Wrong codes count against the address like wrong links.
pub async fn recover_submit(
    State(state): State<WebState>,
    ctx: Ctx,
    page: Page,
    AnonymousForm(form): AnonymousForm<RecoverForm>,
) -> Result<Response, PageError> {
    let lang = page.lang;
    let attempt = state
        .recovery_limiter
        .attempt(ctx.ip)
        .map_err(|seconds| PageError(crate::problem::WebError::Throttled(seconds)))?;
    let refuse = |errors: FormErrors| recover_form(&state, &page, StatusCode::BAD_REQUEST, &form.user_code, errors);
    if form.new_password != form.new_password_confirm {
        attempt.succeeded();
        return refuse(FormErrors::on(
            "new_password_confirm",
            page.text(&state, "reset-mismatch"),
        ));
    }
    let result = varco_app::desk::recovery::redeem_letter(
        &state.app,
        &form.user_code,
        &form.recovery_code,
        &form.new_password,
        &ctx.request,
    )
    .await;
    attempt.settle(crate::ratelimit::failed_link_use(&result));
    match result {
        Ok(()) => page.render(
            &state,
            "reset_done.html",
            minijinja::context! { activation => false, user_code => form.user_code.trim().to_uppercase() },
        ),
        Err(AppError::InvalidToken) => refuse(FormErrors::on(
            "recovery_code",
            page.text(&state, "recover-code-invalid"),
        )),
        Err(AppError::PasswordNotAllowed) => refuse(FormErrors::general(page.text(&state, "recover-spid-cie-only"))),
        Err(AppError::InputTooLong) => refuse(FormErrors::on("new_password", page.text(&state, "login-too-long"))),
        Err(AppError::PasswordPolicy(refusal)) => {
            let policy = &state.app.settings.policy.staff;
            refuse(FormErrors::policy(&state, lang, "new_password", policy, &refusal))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_code_is_an_inline_svg_of_the_url() {
        let svg = qr_svg("https://varco.example/password/recover?user=ABCD23456").unwrap();
        assert!(svg.starts_with("<svg aria-hidden=\"true\""), "{svg}");
        assert!(svg.contains("<path") || svg.contains("<rect"), "{svg}");
        assert!(!svg.contains("<?xml"));
    }

    #[test]
    fn a_valid_tax_code_that_was_refused_is_a_mismatch() {
        let form = CheckForm {
            check_tax_code: "RSSMRA85T10A562S".into(),
            ..CheckForm::default()
        };
        let error = AppError::invalid("tax_code", "differs");
        assert_eq!(
            refusal(&error, &form),
            Some(("check_tax_code", "desk-check-tax-code-mismatch"))
        );
        let form = CheckForm {
            check_tax_code: "RSSMRA85T10A562X".into(),
            ..CheckForm::default()
        };
        assert_eq!(
            refusal(&error, &form),
            Some(("check_tax_code", "desk-check-tax-code-invalid"))
        );
    }
}
