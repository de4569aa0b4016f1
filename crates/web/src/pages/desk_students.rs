//! Students on the desk's pages: unlinking a guardian from a student on
//! the family account's page. The list of a family account's students and
//! the student search results are rendered with the account page and the
//! search (see `desk`); who may see and do what is `varco_app::desk`'s.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use varco_app::AppError;
use varco_domain::ids::StudentId;

use super::desk::back_to;
use crate::WebState;
use crate::extract::SignedInForm;
use crate::problem::{PageError, WebError};
use crate::session::Ctx;

/// The unlink form: nothing besides the CSRF token.
#[derive(Debug, Deserialize)]
pub struct UnlinkForm {}

/// `POST /desk/accounts/{user_code}/students/{student_id}/unlink`: the
/// account stops being a guardian of the student; back to the account page
/// saying so.
pub async fn unlink(
    State(state): State<WebState>,
    ctx: Ctx,
    Path((user_code, student_id)): Path<(String, String)>,
    form: SignedInForm<UnlinkForm>,
) -> Result<Response, PageError> {
    let (session, _) = match form.full() {
        Ok(pair) => pair,
        Err(elsewhere) => return Ok(elsewhere.into_response()),
    };
    let Ok(student_id) = student_id.parse::<StudentId>() else {
        return Err(PageError(WebError::NotFound));
    };
    let result =
        varco_app::desk::students::unlink_guardian(&state.app, &session.actor(), &ctx.request, &user_code, student_id)
            .await;
    let done = match result {
        Ok(true) => "student-unlinked",
        Ok(false) => "unchanged",
        Err(AppError::Conflict { .. }) => "refused",
        Err(e) => return Err(e.into()),
    };
    Ok(back_to(&user_code, done))
}
