//! Schools: adding and listing them, and their helpdesk contacts.

use serde::Serialize;
use varco_domain::email::EmailAddress;
use varco_domain::school_code::SchoolCode;
use varco_store::{NewSchool, SchoolRecord, Tx};

use crate::audit::{self, AuditEvent, Target};
use crate::{Actor, App, AppError, RequestContext};

/// What an operator types to add a school.
#[derive(Debug, Clone, Default)]
pub struct AddSchool {
    pub code: String,
    pub name: String,
    pub email: Option<String>,
    pub helpdesk_email: Option<String>,
    pub helpdesk_phone: Option<String>,
    pub helpdesk_hours: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct School {
    pub code: String,
    pub name: String,
    pub email: Option<String>,
    pub helpdesk_email: Option<String>,
    pub helpdesk_phone: Option<String>,
    pub helpdesk_hours: Option<String>,
}

impl From<SchoolRecord> for School {
    fn from(r: SchoolRecord) -> Self {
        School {
            code: r.code,
            name: r.name,
            email: r.email,
            helpdesk_email: r.helpdesk_email,
            helpdesk_phone: r.helpdesk_phone,
            helpdesk_hours: r.helpdesk_hours,
        }
    }
}

fn optional_text(field: &'static str, value: Option<&str>, max: usize) -> Result<Option<String>, AppError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.chars().count() > max || v.chars().any(char::is_control) => Err(AppError::invalid(
            field,
            format!("must be at most {max} characters, without control characters"),
        )),
        Some(v) => Ok(Some(v.to_owned())),
    }
}

fn optional_email(field: &'static str, value: Option<&str>) -> Result<Option<String>, AppError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => Ok(Some(
            EmailAddress::parse(v)
                .map_err(|e| AppError::invalid(field, e))?
                .as_str()
                .to_owned(),
        )),
    }
}

/// Validates and inserts a school inside the caller's transaction.
pub(crate) async fn add_in(
    tx: &mut Tx,
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    input: &AddSchool,
) -> Result<School, AppError> {
    let code = SchoolCode::parse(&input.code).map_err(|e| AppError::invalid("code", e))?;
    let name =
        optional_text("name", Some(&input.name), 200)?.ok_or_else(|| AppError::invalid("name", "is required"))?;
    let email = optional_email("email", input.email.as_deref())?;
    let helpdesk_email = optional_email("helpdesk_email", input.helpdesk_email.as_deref())?;
    let helpdesk_phone = optional_text("helpdesk_phone", input.helpdesk_phone.as_deref(), 40)?;
    let helpdesk_hours = optional_text("helpdesk_hours", input.helpdesk_hours.as_deref(), 200)?;
    let now = app.now();
    let record = tx
        .insert_school(&NewSchool {
            code: code.as_str(),
            name: &name,
            email: email.as_deref(),
            helpdesk_email: helpdesk_email.as_deref(),
            helpdesk_phone: helpdesk_phone.as_deref(),
            helpdesk_hours: helpdesk_hours.as_deref(),
            created_at: now.0,
        })
        .await
        .map_err(|e| {
            if e.is_conflict() {
                AppError::Conflict(format!("a school with code {code} already exists"))
            } else {
                e.into()
            }
        })?;
    audit::record(
        tx,
        now,
        actor,
        ctx,
        Target::School(code.as_str()),
        AuditEvent::SchoolCreated,
    )
    .await?;
    Ok(record.into())
}

pub async fn add(app: &App, actor: &Actor, ctx: &RequestContext, input: &AddSchool) -> Result<School, AppError> {
    let mut tx = app.store.begin().await?;
    let school = add_in(&mut tx, app, actor, ctx, input).await?;
    tx.commit().await?;
    Ok(school)
}

pub async fn list(app: &App) -> Result<Vec<School>, AppError> {
    let mut tx = app.store.begin_read().await?;
    let schools = tx.list_schools().await?;
    tx.commit().await?;
    Ok(schools.into_iter().map(School::from).collect())
}

pub async fn find(app: &App, code: &str) -> Result<School, AppError> {
    let mut tx = app.store.begin_read().await?;
    let school = find_record(&mut tx, code).await?;
    tx.commit().await?;
    Ok(school.into())
}

pub(crate) async fn find_record(tx: &mut Tx, code: &str) -> Result<SchoolRecord, AppError> {
    let code = SchoolCode::parse(code).map_err(|e| AppError::invalid("school", e))?;
    tx.school_by_code(code.as_str())
        .await?
        .ok_or(AppError::NotFound("school"))
}
