//! The shared steps about students and their guardians: a student as a
//! guardian or an operator sees them, and linking or unlinking a guardian
//! with its audit event in the caller's transaction.
//!
//! Part of the lower layer: the students roster import, the desk and the
//! `students` use cases call down into it. A link changes only here, so
//! every change leaves `guardian_linked` or `guardian_unlinked` on the
//! guardian's account.

use serde::Serialize;
use varco_domain::audit::GuardianshipChange;
use varco_domain::clock::Timestamp;
use varco_domain::ids::StudentId;
use varco_domain::{AccountId, SchoolOrder};
use varco_store::{StudentRecord, Tx};

use crate::audit::{self, AuditEvent, Target};
use crate::views::SchoolRef;
use crate::{Actor, AppError, RequestContext};

/// A student as their guardian (on `/account`) and the desk see them. The
/// tax code is left out: a guardian knows it, and a page need not show it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StudentView {
    /// The student's row id (the desk's forms name it).
    pub id: StudentId,
    pub first_name: String,
    pub last_name: String,
    pub school_order: SchoolOrder,
    pub class_name: String,
    pub building: Option<String>,
    pub school: SchoolRef,
}

pub(crate) fn student_view(record: &StudentRecord) -> StudentView {
    StudentView {
        id: record.id,
        first_name: record.first_name.clone(),
        last_name: record.last_name.clone(),
        school_order: record.school_order,
        class_name: record.class_name.clone(),
        building: record.building.clone(),
        school: SchoolRef {
            code: record.school_code.clone(),
            name: record.school_name.clone(),
        },
    }
}

/// A guardian's account, by id and (when known) user code, for the audit log.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Guardian<'a> {
    pub(crate) id: AccountId,
    pub(crate) user_code: Option<&'a str>,
}

/// Links a guardian to a student and audits it; false (and nothing
/// audited) when they already were linked.
pub(crate) async fn link_in(
    tx: &mut Tx,
    now: Timestamp,
    actor: &Actor,
    ctx: &RequestContext,
    student_id: StudentId,
    guardian: Guardian<'_>,
    via: GuardianshipChange,
) -> Result<bool, AppError> {
    if !tx.link_guardian(student_id, guardian.id, now.0).await? {
        return Ok(false);
    }
    record(tx, now, actor, ctx, student_id, guardian, true, via).await?;
    Ok(true)
}

/// Unlinks a guardian from a student and audits it; false (and nothing
/// audited) when they were not linked.
pub(crate) async fn unlink_in(
    tx: &mut Tx,
    now: Timestamp,
    actor: &Actor,
    ctx: &RequestContext,
    student_id: StudentId,
    guardian: Guardian<'_>,
    via: GuardianshipChange,
) -> Result<bool, AppError> {
    if !tx.unlink_guardian(student_id, guardian.id).await? {
        return Ok(false);
    }
    record(tx, now, actor, ctx, student_id, guardian, false, via).await?;
    Ok(true)
}

#[expect(clippy::too_many_arguments, reason = "the parts of one audit event")]
async fn record(
    tx: &mut Tx,
    now: Timestamp,
    actor: &Actor,
    ctx: &RequestContext,
    student_id: StudentId,
    guardian: Guardian<'_>,
    linked: bool,
    via: GuardianshipChange,
) -> Result<(), AppError> {
    audit::record(
        tx,
        now,
        actor,
        ctx,
        Target::Account {
            id: guardian.id,
            user_code: guardian.user_code,
        },
        AuditEvent::Guardianship {
            student_id,
            linked,
            via,
        },
    )
    .await
}

/// The ids (as `client_id` sees them in the `students` claim) of the
/// students the account is guardian of now.
pub(crate) async fn client_student_ids(
    tx: &mut Tx,
    app: &crate::App,
    client_id: &str,
    account_id: AccountId,
) -> Result<Vec<String>, AppError> {
    Ok(tx
        .students_of_guardian(account_id)
        .await?
        .iter()
        .map(|linked| crate::provider::student_client_id(app, client_id, &linked.student.public_id))
        .collect())
}
