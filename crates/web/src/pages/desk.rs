//! `/desk`: the secretariat's console. A search form with its results, and
//! an account page whose actions are POST forms carrying the session's CSRF
//! token; disabling asks for a confirmation first. Everything works without
//! JavaScript.
//!
//! Who may see what is decided in `varco_app::desk`, never here: someone
//! who is not an operator, and an account outside the operator's scope,
//! both answer the 404 page.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use varco_app::AppError;
use varco_app::desk::PersonCorrection;
use varco_app::sessions::Authenticated;

use crate::WebState;
use crate::extract::{Page, SignedInForm};
use crate::pages::form::FormErrors;
use crate::pages::sessions::settings_session;
use crate::problem::PageError;
use crate::session::{Ctx, MaybeSession};

/// The query of `/desk`.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
}

/// `GET /desk`: the search form, and the results when `q` is given.
pub async fn search(
    State(state): State<WebState>,
    page: Page,
    ctx: Ctx,
    session: MaybeSession,
    Query(query): Query<SearchQuery>,
) -> Result<Response, PageError> {
    let session = match settings_session(session, "/desk") {
        Ok(s) => s,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let actor = session.actor();
    let operator = varco_app::desk::operator(&state.app, &actor).await?;
    let text = query.q.unwrap_or_default();
    let mut errors = FormErrors::none();
    let mut results = None;
    let mut students = Vec::new();
    if !text.trim().is_empty() {
        match varco_app::desk::search(&state.app, &actor, &ctx.request, &text).await {
            Ok(found) => {
                results = Some(found);
                students = varco_app::desk::students::search(&state.app, &actor, &ctx.request, &text).await?;
            }
            Err(AppError::Invalid { .. }) => errors.push(Some("q"), page.text(&state, "desk-search-invalid")),
            Err(AppError::InputTooLong) => errors.push(Some("q"), page.text(&state, "desk-search-too-long")),
            Err(e) => return Err(e.into()),
        }
    }
    page.render(
        &state,
        "desk.html",
        minijinja::context! {
            operator => operator,
            q => text,
            results => results,
            students => students,
            fe => errors,
            csrf => session.session.csrf_token,
        },
    )
}

/// The query of an account page: what was just done.
#[derive(Debug, Deserialize)]
pub struct AccountQuery {
    done: Option<String>,
}

/// What an action did, said on the account page after the redirect.
const NOTICES: &[&str] = &[
    "unlocked",
    "disabled",
    "enabled",
    "activation-sent",
    "corrected",
    "unchanged",
    "refused",
    "recovery-link-sent",
    "identity-confirmed",
    "identity-unlinked",
    "student-unlinked",
];

/// `GET /desk/accounts/{user_code}`: the account page.
pub async fn account(
    State(state): State<WebState>,
    page: Page,
    ctx: Ctx,
    session: MaybeSession,
    Path(user_code): Path<String>,
    Query(query): Query<AccountQuery>,
) -> Result<Response, PageError> {
    let session = match settings_session(session, "/desk") {
        Ok(s) => s,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let notice = query.done.as_deref().filter(|d| NOTICES.contains(d));
    render_account(
        &state,
        &page,
        &ctx,
        &session,
        &user_code,
        notice,
        FormErrors::none(),
        None,
        minijinja::Value::UNDEFINED,
    )
    .await
}

/// The account page, with a notice, or the correction form's errors and
/// the values typed, or the identity check's (`recovery`, see
/// `desk_recovery`).
#[expect(clippy::too_many_arguments, reason = "the parts of one page")]
pub(crate) async fn render_account(
    state: &WebState,
    page: &Page,
    ctx: &Ctx,
    session: &Authenticated,
    user_code: &str,
    notice: Option<&str>,
    errors: FormErrors,
    typed: Option<&CorrectForm>,
    recovery: minijinja::Value,
) -> Result<Response, PageError> {
    let desk_account = varco_app::desk::account(&state.app, &session.actor(), &ctx.request, user_code).await?;
    let correction = match typed {
        Some(form) => minijinja::context! {
            tax_code => form.tax_code, first_name => form.first_name,
            last_name => form.last_name, reason => form.reason,
        },
        None => minijinja::context! {
            tax_code => desk_account.account.tax_code, first_name => desk_account.account.first_name,
            last_name => desk_account.account.last_name, reason => "",
        },
    };
    let recovery_failed = recovery.get_attr("failed").is_ok_and(|v| v.is_true());
    let status = if errors.is_empty() && !recovery_failed {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    page.render_status(
        state,
        status,
        "desk_account.html",
        minijinja::context! {
            a => desk_account,
            notice => notice.map(|d| page.text(state, &format!("desk-done-{d}"))),
            refused => notice == Some("refused"),
            correction => correction,
            fe => errors,
            recovery => recovery,
            document_types => varco_domain::identity_check::DocumentType::ALL.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
            csrf => session.session.csrf_token,
        },
    )
}

/// The correction form.
#[derive(Debug, Deserialize)]
pub struct CorrectForm {
    #[serde(default)]
    tax_code: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    reason: String,
}

/// `POST /desk/accounts/{user_code}/correct`: corrects the tax code and/or
/// names; a refused value shows the page again with the error on its field.
pub async fn correct(
    State(state): State<WebState>,
    page: Page,
    ctx: Ctx,
    Path(user_code): Path<String>,
    form: SignedInForm<CorrectForm>,
) -> Result<Response, PageError> {
    let (session, form) = match form.full() {
        Ok(pair) => pair,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let correction = PersonCorrection {
        tax_code: Some(form.tax_code.clone()),
        first_name: Some(form.first_name.clone()),
        last_name: Some(form.last_name.clone()),
        reason: form.reason.clone(),
    };
    let result =
        varco_app::desk::correct_person(&state.app, &session.actor(), &ctx.request, &user_code, &correction).await;
    let (field, key) = match result {
        Ok(true) => return Ok(back_to(&user_code, "corrected")),
        Ok(false) => return Ok(back_to(&user_code, "unchanged")),
        Err(AppError::Invalid { field, .. }) => match field {
            "tax_code" => ("tax_code", "desk-correct-tax-code-invalid"),
            "first_name" => ("first_name", "desk-correct-name-invalid"),
            "last_name" => ("last_name", "desk-correct-name-invalid"),
            _ => ("reason", "desk-correct-reason-missing"),
        },
        Err(AppError::InputTooLong) => ("reason", "desk-correct-reason-too-long"),
        Err(AppError::Conflict { .. }) => ("tax_code", "desk-correct-tax-code-taken"),
        Err(e) => return Err(e.into()),
    };
    let errors = FormErrors::on(field, page.text(&state, key));
    render_account(
        &state,
        &page,
        &ctx,
        &session,
        &user_code,
        None,
        errors,
        Some(&form),
        minijinja::Value::UNDEFINED,
    )
    .await
}

/// Back to the account page, saying what happened.
pub(crate) fn back_to(user_code: &str, done: &str) -> Response {
    let code = path_safe(user_code);
    Redirect::to(&format!("/desk/accounts/{code}?done={done}")).into_response()
}

/// An action's form: nothing besides the CSRF token, and for disabling the
/// confirmation.
#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    confirm: Option<String>,
}

/// The desk actions, by the last segment of their path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Unlock,
    Disable,
    Enable,
    ResendActivation,
}

impl Action {
    fn parse(segment: &str) -> Option<Action> {
        match segment {
            "unlock" => Some(Action::Unlock),
            "disable" => Some(Action::Disable),
            "enable" => Some(Action::Enable),
            "resend-activation" => Some(Action::ResendActivation),
            _ => None,
        }
    }

    /// The notice shown after it changed something.
    fn done(self) -> &'static str {
        match self {
            Action::Unlock => "unlocked",
            Action::Disable => "disabled",
            Action::Enable => "enabled",
            Action::ResendActivation => "activation-sent",
        }
    }
}

/// `POST /desk/accounts/{user_code}/{action}`: unlock, disable (after a
/// confirmation page), enable, resend-activation; back to the account page
/// with what happened.
pub async fn act(
    State(state): State<WebState>,
    page: Page,
    ctx: Ctx,
    Path((user_code, action)): Path<(String, String)>,
    form: SignedInForm<ActionForm>,
) -> Result<Response, PageError> {
    let (session, form) = match form.full() {
        Ok(pair) => pair,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let Some(action) = Action::parse(&action) else {
        return Err(PageError(crate::problem::WebError::NotFound));
    };
    let actor = session.actor();
    let app = &state.app;
    let request = &ctx.request;
    if action == Action::Disable && form.confirm.as_deref() != Some("yes") {
        // The confirmation step: the page (also a scope check) with the button that disables.
        let desk_account = varco_app::desk::account(app, &actor, request, &user_code).await?;
        return page.render(
            &state,
            "desk_confirm.html",
            minijinja::context! { a => desk_account, csrf => session.session.csrf_token },
        );
    }
    let result = match action {
        Action::Unlock => varco_app::desk::unlock(app, &actor, request, &user_code).await,
        Action::Disable => varco_app::desk::disable(app, &actor, request, &user_code).await,
        Action::Enable => varco_app::desk::enable(app, &actor, request, &user_code).await,
        Action::ResendActivation => varco_app::desk::resend_activation(app, &actor, request, &user_code)
            .await
            .map(|()| true),
    };
    let done = match result {
        Ok(true) => action.done(),
        Ok(false) => "unchanged",
        Err(AppError::Conflict { .. }) => "refused",
        Err(e) => return Err(e.into()),
    };
    Ok(back_to(&user_code, done))
}

/// A user code as it may go back into a path: only its own symbols.
fn path_safe(user_code: &str) -> String {
    user_code.chars().filter(char::is_ascii_alphanumeric).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_read_from_their_path() {
        assert_eq!(Action::parse("resend-activation"), Some(Action::ResendActivation));
        assert_eq!(Action::parse("delete"), None);
        assert_eq!(path_safe("ABCD/../x"), "ABCDx");
    }
}
