//! The desk's identity check and recovery over the JSON API, and the use
//! of a recovery letter's code. The rules are `varco_app::desk::recovery`'s.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use varco_app::desk::recovery::{Channel, IdentityCheck, RecoveryRequest};

use super::ApiSession;
use super::{ApiJson, throttle};
use crate::WebState;
use crate::problem::ApiError;
use crate::ratelimit::failed_link_use;
use crate::session::Ctx;

/// How the recovery reaches the person.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryChannelJson {
    /// The forgot-password link, mailed to the (corrected) address.
    Link,
    /// A letter with a one-time code (72 hours), printed and handed over.
    Letter,
}

/// The body of `POST /api/v1/desk/accounts/{user_code}/recovery`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeskRecoveryRequest {
    /// `carta_identita`, `cie`, `passaporto` or `patente`.
    pub document_type: String,
    /// The last 4 characters of the document's number (letters and digits).
    pub document_last4: String,
    /// The document's expiry date, `YYYY-MM-DD`; an expired document is refused.
    pub document_expiry: String,
    /// The tax code read from the document: valid, and the account's.
    pub tax_code: String,
    /// A corrected address (with `new_email_confirm`, the same).
    #[serde(default)]
    pub new_email: Option<String>,
    /// The corrected address again.
    #[serde(default)]
    pub new_email_confirm: Option<String>,
    /// `link` or `letter`.
    pub channel: RecoveryChannelJson,
}

/// The printed letter's contents: the code is in this answer only.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryLetterJson {
    /// The one-time code, `ABCD-EFGH-JKMN-PQRS`.
    pub code: String,
    /// The page where it is used, with the user code filled in.
    pub reset_url: String,
    /// Until when it works (`dd/mm/yyyy hh:mm`, Europe/Rome).
    pub expires_at: String,
    /// The account's user code.
    pub user_code: String,
    /// Given name(s).
    pub first_name: String,
    /// Family name(s).
    pub last_name: String,
    /// The account's school.
    pub school_name: String,
}

/// What a recovery did.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeskRecoveryResponse {
    /// `link` or `letter`.
    pub channel: RecoveryChannelJson,
    /// The address the link went to, masked (link only).
    pub sent_to: Option<String>,
    /// The address was corrected.
    pub email_changed: bool,
    /// How many sessions of the account ended.
    pub sessions_ended: u64,
    /// The letter (letter only).
    pub letter: Option<RecoveryLetterJson>,
}

/// Check the identity of the person at the counter and issue a recovery:
/// the account's sessions end, its lock is lifted, every address on file
/// is told. A tax code that is not the account's is refused and audited.
#[utoipa::path(post, path = "/api/v1/desk/accounts/{user_code}/recovery",
    params(("user_code" = String, Path, description = "The account's user code")),
    request_body = DeskRecoveryRequest,
    responses(
        (status = 200, description = "Issued; a letter's code is in this answer only", body = DeskRecoveryResponse),
        (status = 400, description = "`invalid_input` with `field` (`document_type`, `document_last4`, `document_expiry` (also expired), `tax_code` (invalid, or not the account's), `new_email`, `new_email_confirm`), `input_too_long`, or `malformed_json`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`cross_origin`, `password_change_required`, or `password_not_allowed` (the account signs in with SPID/CIE only)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also outside the operator's scope, audited)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: disabled, no address for a link, the operator's own account, or an operator's account", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large` (over 64 KiB)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type` (not application/json)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled` (per address)", body = crate::problem::Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database does not answer", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
/// `POST /api/v1/desk/accounts/{user_code}/recovery`.
pub async fn recovery(
    State(state): State<WebState>,
    ctx: Ctx,
    ApiSession(session): ApiSession,
    Path(user_code): Path<String>,
    body: ApiJson<DeskRecoveryRequest>,
) -> Result<Json<DeskRecoveryResponse>, ApiError> {
    let ApiJson(body) = body;
    let request = RecoveryRequest {
        check: IdentityCheck {
            document_type: body.document_type,
            document_last4: body.document_last4,
            document_expiry: body.document_expiry,
            tax_code: body.tax_code,
        },
        new_email: body.new_email,
        new_email_confirm: body.new_email_confirm,
        channel: match body.channel {
            RecoveryChannelJson::Link => Channel::Link,
            RecoveryChannelJson::Letter => Channel::Letter,
        },
    };
    let issued =
        varco_app::desk::recovery::issue(&state.app, &session.actor(), &ctx.request, &user_code, &request).await?;
    Ok(Json(DeskRecoveryResponse {
        channel: body.channel,
        sent_to: issued.sent_to,
        email_changed: issued.email_changed,
        sessions_ended: issued.sessions_ended,
        letter: issued.letter.map(|l| RecoveryLetterJson {
            code: l.code,
            reset_url: l.reset_url,
            expires_at: l.expires_at,
            user_code: l.user_code,
            first_name: l.first_name,
            last_name: l.last_name,
            school_name: l.school_name,
        }),
    }))
}

/// The body of `POST /api/v1/desk/accounts/{user_code}/identity-check`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct IdentityCheckRequest {
    /// `carta_identita`, `cie`, `passaporto` or `patente`.
    pub document_type: String,
    /// The last 4 characters of the document's number.
    pub document_last4: String,
    /// The document's expiry date, `YYYY-MM-DD`.
    pub document_expiry: String,
    /// The tax code read from the document.
    pub tax_code: String,
    /// Unlink the account's SPID/CIE identities (e.g. linked to the wrong person).
    #[serde(default)]
    pub unlink: bool,
}

/// The answer of an identity check.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityCheckResponse {
    /// The tax code on the document is the account's.
    pub confirmed: bool,
    /// How many SPID/CIE identities were unlinked.
    pub unlinked: u64,
}

/// Check the identity of the person at the counter (for an account that
/// signs in with SPID/CIE only) and, with `unlink`, unlink its SPID/CIE
/// identities (audited, the address told).
#[utoipa::path(post, path = "/api/v1/desk/accounts/{user_code}/identity-check",
    params(("user_code" = String, Path, description = "The account's user code")),
    request_body = IdentityCheckRequest,
    responses(
        (status = 200, description = "Checked (and unlinked)", body = IdentityCheckResponse),
        (status = 400, description = "`invalid_input` with `field` (`document_type`, `document_last4`, `document_expiry`, `tax_code`), or `malformed_json`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`cross_origin`, or `password_change_required`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also outside the operator's scope, audited)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: nothing to unlink, the operator's own account, or an operator's account", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large` (over 64 KiB)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type` (not application/json)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled` (per address)", body = crate::problem::Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database does not answer", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
/// `POST /api/v1/desk/accounts/{user_code}/identity-check`.
pub async fn identity_check(
    State(state): State<WebState>,
    ctx: Ctx,
    ApiSession(session): ApiSession,
    Path(user_code): Path<String>,
    body: ApiJson<IdentityCheckRequest>,
) -> Result<Json<IdentityCheckResponse>, ApiError> {
    let ApiJson(body) = body;
    let check = IdentityCheck {
        document_type: body.document_type,
        document_last4: body.document_last4,
        document_expiry: body.document_expiry,
        tax_code: body.tax_code,
    };
    let unlinked = varco_app::desk::recovery::check_identity(
        &state.app,
        &session.actor(),
        &ctx.request,
        &user_code,
        &check,
        body.unlink,
    )
    .await?;
    Ok(Json(IdentityCheckResponse {
        confirmed: true,
        unlinked,
    }))
}

/// The body of `POST /api/v1/password/recover`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RecoverPasswordRequest {
    /// The user code printed on the letter.
    pub user_code: String,
    /// The letter's recovery code (hyphens and spaces ignored).
    pub recovery_code: String,
    /// The password wanted.
    pub new_password: String,
}

/// Set a new password with the code of a recovery letter. Every session of
/// the account ends; nobody is signed in.
#[utoipa::path(post, path = "/api/v1/password/recover", request_body = RecoverPasswordRequest,
    responses(
        (status = 204, description = "Password set"),
        (status = 400, description = "`invalid_token` (malformed, unknown, expired, used, another account's), `password_policy`, `input_too_long` or `malformed_json`", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`cross_origin`, or `password_not_allowed` (the login policy keeps the account to SPID/CIE)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large` (over 64 KiB)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type` (not application/json)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled`: too many failed uses from this address", body = crate::problem::Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database or the password hashing is overloaded", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
/// `POST /api/v1/password/recover`.
pub async fn recover_password(
    State(state): State<WebState>,
    ctx: Ctx,
    body: ApiJson<RecoverPasswordRequest>,
) -> Result<Response, ApiError> {
    let attempt = throttle(&state.recovery_limiter, &ctx)?;
    let ApiJson(body) = body;
    let result = varco_app::desk::recovery::redeem_letter(
        &state.app,
        &body.user_code,
        &body.recovery_code,
        &body.new_password,
        &ctx.request,
    )
    .await;
    attempt.settle(failed_link_use(&result));
    result?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
