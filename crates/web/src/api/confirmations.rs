//! Act confirmations for the schools' applications, server to server:
//! `POST /api/v1/confirmations` and `POST /api/v1/confirmations/redeem`.
//! The application authenticates as at the token endpoint: HTTP Basic, or
//! `client_id` and `client_secret` (or a `private_key_jwt` assertion) in the
//! JSON body. See [`varco_app::confirmations`] for the flow.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};
use varco_app::AppError;
use varco_app::confirmations::{self, CreateRequest};
use varco_app::provider::ClientCredentials;

use super::{ApiJson, throttle};
use crate::WebState;
use crate::problem::{ApiError, Problem, WebError};
use crate::session::Ctx;

/// The routes, under `/api/v1`.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/confirmations", post(create))
        .route("/confirmations/redeem", post(redeem))
}

/// The client's credentials in a JSON body (when not sent as HTTP Basic).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ClientFields {
    /// With `client_secret`, or alone with HTTP Basic.
    pub client_id: Option<String>,
    /// `client_secret_post`: the secret in the body instead of HTTP Basic.
    pub client_secret: Option<String>,
    /// `private_key_jwt`: `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    pub client_assertion_type: Option<String>,
    /// `private_key_jwt`: the signed assertion.
    pub client_assertion: Option<String>,
}

/// The body of `POST /api/v1/confirmations`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateConfirmation {
    #[serde(flatten)]
    pub client: ClientFields,
    /// The `sub` Varco gave this application for the person (who must have
    /// signed in to it: a live grant).
    pub sub: Option<String>,
    /// What the person confirms, shown verbatim (1–500 characters).
    pub description: Option<String>,
    /// The act, as a JSON object (at most 8192 bytes). `students`, if
    /// present, lists ids of the `urn:varco:claims:students` claim: the person
    /// must be their guardian until the code is redeemed.
    #[schema(value_type = Object)]
    pub payload: Option<Value>,
    /// One of the application's registered redirect URIs: the browser goes
    /// back there with `confirmation_code`, `state` and `iss` (or
    /// `error=access_denied`).
    pub redirect_uri: Option<String>,
    /// Echoed back on the redirect (at most 512 characters).
    pub state: Option<String>,
}

/// A confirmation created.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedJson {
    pub confirmation_id: String,
    /// Where the application sends the person's browser.
    pub confirm_url: String,
    /// Seconds the person has to confirm.
    pub expires_in: i64,
    /// base64url SHA-256 of the payload's canonical JSON (keys sorted at
    /// every depth, no whitespace).
    pub payload_hash: String,
}

/// The body of `POST /api/v1/confirmations/redeem`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RedeemConfirmation {
    #[serde(flatten)]
    pub client: ClientFields,
    /// The one-time code the browser brought back (valid 60 s, single use).
    pub confirmation_code: Option<String>,
    /// The very payload the confirmation was created with.
    #[schema(value_type = Object)]
    pub payload: Option<Value>,
}

/// A redeemed confirmation: the proof.
#[derive(Debug, Serialize, ToSchema)]
pub struct RedeemedJson {
    /// A JWT signed with the provider's keys (see the JWKS), header `typ`
    /// `confirmation+jwt`: `iss`, `aud` (the client), `sub`, `jti` (the
    /// confirmation id), `iat`, `exp`, `auth_time` (when the secret was
    /// entered), `acr`, `amr`, `second_secret` (`pin` or `personal_code`)
    /// and `act` (`description`, `payload_hash`).
    pub confirmation: String,
    pub sub: String,
    /// `urn:varco:acr:second-secret`.
    pub acr: String,
    /// `["pin"]`.
    pub amr: Vec<String>,
    /// Unix seconds.
    pub confirmed_at: i64,
    pub payload_hash: String,
}

fn credentials(headers: &HeaderMap, fields: &ClientFields) -> Result<ClientCredentials, WebError> {
    let basic = match headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(value) if value.len() > 6 && value[..6].eq_ignore_ascii_case("basic ") => {
            Some(varco_oidc::client_auth::parse_basic(value).map_err(|_| {
                WebError::App(AppError::oauth(
                    varco_app::OAuthCode::InvalidClient,
                    "malformed Basic credentials",
                ))
            })?)
        }
        _ => None,
    };
    Ok(ClientCredentials {
        form_client_id: fields.client_id.clone(),
        form_client_secret: fields.client_secret.clone(),
        basic,
        assertion_type: fields.client_assertion_type.clone(),
        assertion: fields.client_assertion.clone(),
    })
}

#[utoipa::path(post, path = "/api/v1/confirmations", request_body = CreateConfirmation,
    responses(
        (status = 201, description = "Created: send the person's browser to `confirm_url`", body = CreatedJson),
        (status = 400, description = "`invalid_input` (a missing or oversized field, a redirect URI not registered, a `sub` that never signed in to this application, a student the person is not the guardian of; `detail` says which), `malformed_json` or `input_too_long`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`: client authentication failed (a public client cannot ask)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`cross_origin`: a browser's request from another origin", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large` (over 64 KiB)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type` (not application/json)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled` (per address)", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database does not answer", body = Problem, content_type = "application/problem+json"),
    ))]
/// `POST /api/v1/confirmations`: an application asks the person to confirm an act.
pub async fn create(
    State(state): State<WebState>,
    ctx: Ctx,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateConfirmation>,
) -> Result<(StatusCode, Json<CreatedJson>), ApiError> {
    let _counted = throttle(&state.api_limiter, &ctx)?;
    let credentials = credentials(&headers, &body.client)?;
    let request = CreateRequest {
        sub: body.sub,
        description: body.description,
        payload: body.payload,
        redirect_uri: body.redirect_uri,
        state: body.state,
    };
    let created = confirmations::create(&state.app, &credentials, &request, &ctx.request)
        .await
        .map_err(WebError::App)?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedJson {
            confirmation_id: created.confirmation_id,
            confirm_url: created.confirm_url,
            expires_in: created.expires_in,
            payload_hash: created.payload_hash,
        }),
    ))
}

#[utoipa::path(post, path = "/api/v1/confirmations/redeem", request_body = RedeemConfirmation,
    responses(
        (status = 200, description = "The signed proof; the code is spent", body = RedeemedJson),
        (status = 400, description = "`invalid_input`: the code is unknown, expired or already used, issued to another client, the payload differs from the one confirmed, or a student of the payload is no longer the person's child (`detail` says which; all audited); `malformed_json` or `input_too_long`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`: client authentication failed", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`cross_origin`: a browser's request from another origin", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large` (over 64 KiB)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type` (not application/json)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled` (per address)", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database does not answer", body = Problem, content_type = "application/problem+json"),
    ))]
/// `POST /api/v1/confirmations/redeem`: the application turns the code into proof.
pub async fn redeem(
    State(state): State<WebState>,
    ctx: Ctx,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RedeemConfirmation>,
) -> Result<Json<RedeemedJson>, ApiError> {
    let _counted = throttle(&state.api_limiter, &ctx)?;
    let credentials = credentials(&headers, &body.client)?;
    let redeemed = confirmations::redeem(
        &state.app,
        &credentials,
        body.confirmation_code.as_deref(),
        body.payload.as_ref(),
        &ctx.request,
    )
    .await
    .map_err(WebError::App)?;
    Ok(Json(RedeemedJson {
        confirmation: redeemed.confirmation,
        sub: redeemed.sub,
        acr: redeemed.acr.to_owned(),
        amr: redeemed.amr.iter().map(|s| (*s).to_owned()).collect(),
        confirmed_at: redeemed.confirmed_at,
        payload_hash: redeemed.payload_hash,
    }))
}

#[derive(OpenApi)]
#[openapi(
    paths(create, redeem),
    components(schemas(CreateConfirmation, CreatedJson, RedeemConfirmation, RedeemedJson, ClientFields))
)]
/// The act-confirmation endpoints, merged into [`super::ApiDoc`]'s document.
pub struct ConfirmationsApiDoc;
