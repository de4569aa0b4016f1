//! The desk's email-change requests over JSON: `GET /api/v1/desk/requests`,
//! `GET /api/v1/desk/requests/{id}`, `POST …/{id}/approve` and `POST
//! …/{id}/reject`. The session is the operator; an account that is no
//! operator of the request's school gets 404 (audited when the request
//! exists), like the pages.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use varco_app::requests::{self, Candidate, RequestView};

use super::ApiJson;
use super::ApiSession;
use crate::WebState;
use crate::problem::{ApiError, Problem, WebError};
use crate::session::Ctx;

/// The routes, under `/api/v1`.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/desk/requests", get(list))
        .route("/desk/requests/{id}", get(detail))
        .route("/desk/requests/{id}/approve", post(approve))
        .route("/desk/requests/{id}/reject", post(reject))
}

/// An email-change request as the desk sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestJson {
    pub id: i64,
    /// The number people read, e.g. `R-2026-7KQ2M9`.
    pub number: String,
    /// `received`, `approved` or `rejected`.
    pub status: String,
    pub school_code: String,
    pub school_name: String,
    pub student_first_name: String,
    pub student_last_name: String,
    /// `infanzia`, `primaria`, `secondaria_primo` or `secondaria_secondo`.
    pub school_order: String,
    pub class_name: String,
    pub building: String,
    pub requester_first_name: String,
    pub requester_last_name: String,
    /// Empty once retention deleted the request's personal data.
    pub requester_tax_code: String,
    pub new_email: String,
    /// Empty once retention deleted the request's personal data.
    pub phone: String,
    /// `pdf`, `jpeg` or `png`.
    pub document_type: String,
    pub document_size: i64,
    /// The document is still kept (download it from `/desk/requests/{id}/document`).
    pub document_available: bool,
    /// The reason of a rejection.
    pub reason: Option<String>,
    /// When it was filed, `dd/mm/yyyy hh:mm`, Italian time.
    pub filed_at: String,
    /// When it was decided, `dd/mm/yyyy hh:mm`, Italian time.
    pub decided_at: Option<String>,
}

impl From<RequestView> for RequestJson {
    fn from(v: RequestView) -> Self {
        RequestJson {
            id: v.id,
            number: v.number,
            status: v.status.to_owned(),
            school_code: v.school_code,
            school_name: v.school_name,
            student_first_name: v.student_first_name,
            student_last_name: v.student_last_name,
            school_order: v.school_order,
            class_name: v.class_name,
            building: v.building,
            requester_first_name: v.requester_first_name,
            requester_last_name: v.requester_last_name,
            requester_tax_code: v.requester_tax_code,
            new_email: v.new_email,
            phone: v.phone,
            document_type: v.document_type,
            document_size: v.document_size,
            document_available: v.document_available,
            reason: v.reason,
            filed_at: v.filed_at,
            decided_at: v.decided_at,
        }
    }
}

/// An account a request may be about.
#[derive(Debug, Serialize, ToSchema)]
pub struct CandidateJson {
    pub user_code: String,
    pub first_name: String,
    pub last_name: String,
    /// The account's current address, masked.
    pub email_masked: Option<String>,
    /// `tax_code` (the requester's) or `name`.
    pub matched_by: String,
}

impl From<Candidate> for CandidateJson {
    fn from(c: Candidate) -> Self {
        CandidateJson {
            user_code: c.user_code,
            first_name: c.first_name,
            last_name: c.last_name,
            email_masked: c.email_masked,
            matched_by: c.matched_by.to_owned(),
        }
    }
}

/// The requests of the operator's schools.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestListJson {
    pub requests: Vec<RequestJson>,
}

/// A request and the accounts it may be about.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestDetailJson {
    pub request: RequestJson,
    pub candidates: Vec<CandidateJson>,
}

/// The filter of the list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `received` (the default), `approved`, `rejected` or `all`.
    pub status: Option<String>,
}

/// The body of `POST /api/v1/desk/requests/{id}/approve`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ApproveRequest {
    /// The user code of the account of the request's school whose address changes.
    pub account: String,
}

/// The body of `POST /api/v1/desk/requests/{id}/reject`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RejectRequest {
    /// Why, mailed to the requester (1 to 1000 characters).
    pub reason: String,
}

fn request_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(ApiError(WebError::NotFound))
}

fn operator(session: &varco_app::sessions::Authenticated) -> Result<&varco_app::sessions::Authenticated, ApiError> {
    if !requests::is_operator(session) {
        return Err(ApiError(WebError::NotFound));
    }
    Ok(session)
}

#[utoipa::path(get, path = "/api/v1/desk/requests", params(ListQuery),
    responses(
        (status = 200, description = "The requests of the operator's schools (every school for an admin), oldest first", body = RequestListJson),
        (status = 400, description = "`invalid_input`: an unknown status", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`password_change_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: the account is no desk operator", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled` (per address)", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database does not answer", body = Problem, content_type = "application/problem+json"),
    ))]
/// `GET /api/v1/desk/requests`.
pub async fn list(
    State(state): State<WebState>,
    ApiSession(session): ApiSession,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RequestListJson>, ApiError> {
    let operator = operator(&session)?;
    let status = match query {
        Ok(Query(q)) => q.status.unwrap_or_else(|| "received".to_owned()),
        Err(_) => {
            return Err(ApiError(WebError::App(varco_app::AppError::invalid(
                "status",
                "unreadable query",
            ))));
        }
    };
    let status = requests::parse_status(&status).map_err(WebError::App)?;
    let list = requests::list_for_school(&state.app, operator, status)
        .await
        .map_err(WebError::App)?;
    Ok(Json(RequestListJson {
        requests: list.into_iter().map(RequestJson::from).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/desk/requests/{id}",
    params(("id" = String, Path, description = "The request's id")),
    responses(
        (status = 200, description = "The request and the accounts it may be about; the view is audited", body = RequestDetailJson),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`password_change_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such request, or not one of the operator's schools (audited)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled` (per address)", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database does not answer", body = Problem, content_type = "application/problem+json"),
    ))]
/// `GET /api/v1/desk/requests/{id}`.
pub async fn detail(
    State(state): State<WebState>,
    ctx: Ctx,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
) -> Result<Json<RequestDetailJson>, ApiError> {
    let operator = operator(&session)?;
    let id = request_id(&id)?;
    let detail = requests::get(&state.app, operator, id, &ctx.request)
        .await
        .map_err(WebError::App)?;
    Ok(Json(RequestDetailJson {
        request: detail.request.into(),
        candidates: detail.candidates.into_iter().map(CandidateJson::from).collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/desk/requests/{id}/approve", request_body = ApproveRequest,
    params(("id" = String, Path, description = "The request's id")),
    responses(
        (status = 200, description = "Approved: a confirmation link went to the new address, the current address was told", body = RequestJson),
        (status = 400, description = "`invalid_input` (`account`: no usable account of the request's school has this user code), `malformed_json` or `input_too_long`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`cross_origin` or `password_change_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such request, or not one of the operator's schools (audited)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: the request was already decided", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large` (over 64 KiB)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type` (not application/json)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled` (per address)", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database does not answer", body = Problem, content_type = "application/problem+json"),
    ))]
/// `POST /api/v1/desk/requests/{id}/approve`.
pub async fn approve(
    State(state): State<WebState>,
    ctx: Ctx,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ApproveRequest>,
) -> Result<Json<RequestJson>, ApiError> {
    let operator = operator(&session)?;
    let id = request_id(&id)?;
    let view = requests::approve(&state.app, operator, id, &body.account, &ctx.request)
        .await
        .map_err(WebError::App)?;
    Ok(Json(view.into()))
}

#[utoipa::path(post, path = "/api/v1/desk/requests/{id}/reject", request_body = RejectRequest,
    params(("id" = String, Path, description = "The request's id")),
    responses(
        (status = 200, description = "Rejected: the reason was mailed to the requester", body = RequestJson),
        (status = 400, description = "`invalid_input` (`reason`: blank or longer than 1000 characters), `malformed_json` or `input_too_long`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`cross_origin` or `password_change_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such request, or not one of the operator's schools (audited)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: the request was already decided", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large` (over 64 KiB)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type` (not application/json)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled` (per address)", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database does not answer", body = Problem, content_type = "application/problem+json"),
    ))]
/// `POST /api/v1/desk/requests/{id}/reject`.
pub async fn reject(
    State(state): State<WebState>,
    ctx: Ctx,
    ApiSession(session): ApiSession,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RejectRequest>,
) -> Result<Json<RequestJson>, ApiError> {
    let operator = operator(&session)?;
    let id = request_id(&id)?;
    let view = requests::reject(&state.app, operator, id, &body.reason, &ctx.request)
        .await
        .map_err(WebError::App)?;
    Ok(Json(view.into()))
}

#[derive(OpenApi)]
#[openapi(
    paths(list, detail, approve, reject),
    components(schemas(
        RequestJson,
        CandidateJson,
        RequestListJson,
        RequestDetailJson,
        ApproveRequest,
        RejectRequest
    ))
)]
/// The desk's request endpoints, merged into [`super::ApiDoc`]'s document.
pub struct RequestsApiDoc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_documents_the_shared_answers() {
        let doc = serde_json::to_value(RequestsApiDoc::openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        assert_eq!(paths.len(), 4);
        for (path, item) in paths {
            for (method, operation) in item.as_object().unwrap() {
                let responses = operation["responses"].as_object().unwrap();
                let mut expected = vec!["401", "404", "429", "503"];
                if method == "post" {
                    expected.extend(["403", "400", "409", "413", "415"]);
                }
                for status in expected {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} does not document {status}"
                    );
                }
            }
        }
    }
}
