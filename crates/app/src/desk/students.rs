//! Students at the desk: a family account's page lists the students it is
//! guardian of, the search finds students of the operator's schools by tax
//! code or name (with their guardians), and an operator may unlink a
//! guardian from a student.
//!
//! The scope is the desk's: an operator reaches the students of the
//! schools of their desk roles (an admin every school's); a guardian is
//! unlinked through `super::open` on the guardian's account, so the
//! account's scope, the refusal of one's own account and of operators'
//! accounts, and the audit of a refusal are the desk's own rules.

use serde::Serialize;
use varco_domain::audit::{DeskAction, GuardianshipChange};
use varco_domain::ids::StudentId;
use varco_store::{AccountRecord, StudentSearch, Tx};

use super::{Query, SEARCH_LIMIT, Scope, open, read_query};
use crate::audit::{self, AuditEvent, Target};
use crate::guardianship::{Guardian, StudentView, student_view, unlink_in};
use crate::{Actor, App, AppError, RequestContext};

/// A guardian as a student's search result names them.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GuardianRef {
    pub user_code: String,
    pub first_name: String,
    pub last_name: String,
}

/// A student found by a desk search, with their tax code and guardians.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StudentSummary {
    pub student: StudentView,
    pub tax_code: String,
    pub guardians: Vec<GuardianRef>,
}

/// The students `account` is guardian of, for its desk page.
pub(crate) async fn children_of(tx: &mut Tx, account: &AccountRecord) -> Result<Vec<StudentView>, AppError> {
    Ok(tx
        .students_of_guardian(account.id)
        .await?
        .iter()
        .map(|linked| student_view(&linked.student))
        .collect())
}

/// Finds the students of the operator's schools by tax code or by words
/// of their name (at most [`SEARCH_LIMIT`]); an address or a user code
/// finds none (students have neither). Audited as `desk_student_search`.
pub async fn search(
    app: &App,
    operator: &Actor,
    ctx: &RequestContext,
    text: &str,
) -> Result<Vec<StudentSummary>, AppError> {
    let mut tx = app.store.begin().await?;
    let scope = Scope::load(&mut tx, app, operator).await?;
    let query = read_query(text)?;
    let mut search = StudentSearch {
        school_ids: (!scope.admin).then_some(scope.schools.as_slice()),
        limit: SEARCH_LIMIT,
        ..StudentSearch::default()
    };
    match &query {
        Query::TaxCode(code) => search.tax_code = Some(code.as_str()),
        Query::Name(name) => search.name = Some(name),
        Query::UserCode(_) | Query::Email(_) => return Ok(Vec::new()),
    }
    let found = tx.search_students(&search).await?;
    let ids: Vec<StudentId> = found.iter().map(|s| s.id).collect();
    let guardians = tx.guardians_of_students(&ids).await?;
    audit::record(
        &mut tx,
        app.now(),
        operator,
        ctx,
        Target::Nobody,
        AuditEvent::DeskStudentSearch { results: found.len() },
    )
    .await?;
    tx.commit().await?;
    Ok(found
        .iter()
        .map(|student| StudentSummary {
            student: student_view(student),
            tax_code: student.tax_code.to_string(),
            guardians: guardians
                .iter()
                .filter(|(id, _)| *id == student.id)
                .map(|(_, a)| GuardianRef {
                    user_code: a.user_code.to_string(),
                    first_name: a.first_name.clone(),
                    last_name: a.last_name.clone(),
                })
                .collect(),
        })
        .collect())
}

/// Unlinks the guardian `user_code` from one of their students (audited
/// `guardian_unlinked` on the account). False when they were not linked.
pub async fn unlink_guardian(
    app: &App,
    operator: &Actor,
    ctx: &RequestContext,
    user_code: &str,
    student_id: StudentId,
) -> Result<bool, AppError> {
    let (mut tx, account, _) = open(app, operator, ctx, user_code, DeskAction::UnlinkStudent).await?;
    let guardian = Guardian {
        id: account.id,
        user_code: Some(account.user_code.as_str()),
    };
    let unlinked = unlink_in(
        &mut tx,
        app.now(),
        operator,
        ctx,
        student_id,
        guardian,
        GuardianshipChange::Operator,
    )
    .await?;
    tx.commit().await?;
    Ok(unlinked)
}
