//! Students at the desk over JSON: `GET /api/v1/desk/students?q=…` finds
//! students of the operator's schools (with their guardians), and `POST
//! /api/v1/desk/accounts/{user_code}/students/{student_id}/unlink` ends a
//! guardian's link — what the desk's pages do. A family account's children
//! are in `GET /api/v1/desk/accounts/{user_code}` (`children`). The scope
//! rules and the audit are `varco_app::desk::students`'s.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use varco_app::desk::students::{StudentSummary, search, unlink_guardian};
use varco_app::guardianship::StudentView;
use varco_domain::ids::StudentId;

use super::ApiSession;
use super::SchoolJson;
use super::desk::DeskActionResponse;
use crate::WebState;
use crate::problem::{ApiError, Problem, WebError};
use crate::session::Ctx;

/// The routes, under `/api/v1`.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/desk/students", get(find))
        .route("/desk/accounts/{user_code}/students/{student_id}/unlink", post(unlink))
}

/// The query of `GET /api/v1/desk/students`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct StudentSearchParams {
    /// A tax code or words of a name (students have no user code or address).
    pub q: String,
}

/// A student as their guardian (`GET /api/v1/me/children`) and the desk see
/// them (no tax code: see [`DeskStudentFoundJson`]).
#[derive(Debug, Serialize, ToSchema)]
pub struct StudentJson {
    /// The student's id at this Varco (the unlink endpoint names it).
    pub id: i64,
    /// Given name(s).
    pub first_name: String,
    /// Family name(s).
    pub last_name: String,
    /// `preschool`, `primary`, `lower_secondary` or `upper_secondary`.
    pub school_order: String,
    /// The class, e.g. `3A`.
    pub class_name: String,
    /// The building (plesso), if the roster names one.
    pub building: Option<String>,
    /// The school.
    pub school: SchoolJson,
}

impl From<StudentView> for StudentJson {
    fn from(s: StudentView) -> Self {
        StudentJson {
            id: s.id.0,
            first_name: s.first_name,
            last_name: s.last_name,
            school_order: s.school_order.as_str().to_owned(),
            class_name: s.class_name,
            building: s.building,
            school: SchoolJson {
                code: s.school.code,
                name: s.school.name,
            },
        }
    }
}

/// A guardian named by a student search.
#[derive(Debug, Serialize, ToSchema)]
pub struct GuardianJson {
    /// The guardian's account.
    pub user_code: String,
    /// Given name(s).
    pub first_name: String,
    /// Family name(s).
    pub last_name: String,
}

/// A student found by a desk search, with tax code and guardians.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeskStudentFoundJson {
    /// The student.
    pub student: StudentJson,
    /// Codice fiscale.
    pub tax_code: String,
    /// The family accounts linked to the student.
    pub guardians: Vec<GuardianJson>,
}

impl From<StudentSummary> for DeskStudentFoundJson {
    fn from(s: StudentSummary) -> Self {
        DeskStudentFoundJson {
            student: s.student.into(),
            tax_code: s.tax_code,
            guardians: s
                .guardians
                .into_iter()
                .map(|g| GuardianJson {
                    user_code: g.user_code,
                    first_name: g.first_name,
                    last_name: g.last_name,
                })
                .collect(),
        }
    }
}

/// The answer of `GET /api/v1/desk/students`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeskStudentSearchResponse {
    /// The students found (possibly none; at most 50).
    pub students: Vec<DeskStudentFoundJson>,
}

/// Find students of the operator's schools by tax code or name.
#[utoipa::path(get, path = "/api/v1/desk/students", params(StudentSearchParams),
    responses(
        (status = 200, description = "The students found (possibly none; an address or a user code finds none)", body = DeskStudentSearchResponse),
        (status = 400, description = "`invalid_input` (fewer than two letters, or nothing), or `input_too_long`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`password_change_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: the account has neither the desk nor the admin role", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled` (per address)", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database does not answer", body = Problem, content_type = "application/problem+json"),
    ))]
/// `GET /api/v1/desk/students?q=…`.
pub async fn find(
    State(state): State<WebState>,
    ctx: Ctx,
    ApiSession(session): ApiSession,
    query: Result<Query<StudentSearchParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<DeskStudentSearchResponse>, ApiError> {
    let text = match query {
        Ok(Query(params)) => params.q,
        Err(_) => String::new(),
    };
    let found = search(&state.app, &session.actor(), &ctx.request, &text).await?;
    Ok(Json(DeskStudentSearchResponse {
        students: found.into_iter().map(Into::into).collect(),
    }))
}

/// End the link between a guardian (a family account) and a student.
#[utoipa::path(post, path = "/api/v1/desk/accounts/{user_code}/students/{student_id}/unlink",
    params(
        ("user_code" = String, Path, description = "The guardian's user code"),
        ("student_id" = i64, Path, description = "The student's id (`children[].id` of the account)"),
    ),
    responses(
        (status = 200, description = "Done (audited `guardian_unlinked`); `changed` is false when they were not linked", body = DeskActionResponse),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`cross_origin`, or `password_change_required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such account or student id (also outside the operator's scope, audited)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: the operator's own account, or an operator's account (admins only)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`throttled` (per address)", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "`unavailable`: the database does not answer", body = Problem, content_type = "application/problem+json"),
    ))]
/// `POST /api/v1/desk/accounts/{user_code}/students/{student_id}/unlink`.
pub async fn unlink(
    State(state): State<WebState>,
    ctx: Ctx,
    ApiSession(session): ApiSession,
    Path((user_code, student_id)): Path<(String, String)>,
) -> Result<Json<DeskActionResponse>, ApiError> {
    let student_id = student_id.parse::<StudentId>().map_err(|_| WebError::NotFound)?;
    let changed = unlink_guardian(&state.app, &session.actor(), &ctx.request, &user_code, student_id).await?;
    Ok(Json(DeskActionResponse { changed }))
}

#[derive(OpenApi)]
#[openapi(
    paths(find, unlink),
    components(schemas(StudentJson, GuardianJson, DeskStudentFoundJson, DeskStudentSearchResponse))
)]
/// The desk's student endpoints, merged into [`super::ApiDoc`]'s document.
pub struct DeskStudentsApiDoc;
