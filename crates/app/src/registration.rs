//! Validating and inserting accounts and schools, for every use case that
//! creates them (operators, roster import, first-run setup, the demo). Part
//! of the lower layer of `app`.

use rand::rngs::OsRng;
use serde::Serialize;
use varco_domain::account::{AccountKind, AccountStatus};
use varco_domain::email::EmailAddress;
use varco_domain::person::{PersonName, Username};
use varco_domain::school_code::SchoolCode;
use varco_domain::tax_code::TaxCode;
use varco_domain::user_code::UserCode;
use varco_domain::{AccountId, SchoolId};
use varco_store::{NewAccount, NewSchool, SchoolRecord, StoreError, Tx};

use crate::audit::{self, AuditEvent, Target};
use crate::{Actor, App, AppError, RequestContext};

/// What an operator gives to create an account.
#[derive(Debug, Clone)]
pub struct AddAccount {
    pub school_code: String,
    pub kind: AccountKind,
    pub first_name: String,
    pub last_name: String,
    pub tax_code: String,
    pub email: Option<String>,
    pub username: Option<String>,
}

/// The validated form of [`AddAccount`].
#[derive(Debug, Clone)]
pub(crate) struct ValidAccount {
    pub kind: AccountKind,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub tax_code: TaxCode,
    pub email: Option<EmailAddress>,
    pub username: Option<Username>,
}

impl ValidAccount {
    /// Words a password of this person must not contain.
    pub(crate) fn context_words(&self, school_name: &str) -> Vec<String> {
        let mut words = vec![
            self.first_name.to_string(),
            self.last_name.to_string(),
            self.tax_code.to_string(),
            school_name.to_owned(),
        ];
        words.extend(self.email.as_ref().map(|e| e.to_string()));
        words.extend(self.username.as_ref().map(|u| u.to_string()));
        words
    }
}

impl AddAccount {
    pub(crate) fn validate(&self) -> Result<ValidAccount, AppError> {
        Ok(ValidAccount {
            kind: self.kind,
            first_name: PersonName::parse(&self.first_name).map_err(|e| AppError::invalid("first_name", e))?,
            last_name: PersonName::parse(&self.last_name).map_err(|e| AppError::invalid("last_name", e))?,
            tax_code: TaxCode::parse(&self.tax_code).map_err(|e| AppError::invalid("tax_code", e))?,
            email: match self.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
                Some(e) => Some(EmailAddress::parse(e).map_err(|e| AppError::invalid("email", e))?),
                None => None,
            },
            username: match self.username.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
                Some(u) => Some(Username::parse(u).map_err(|e| AppError::invalid("username", e))?),
                None => None,
            },
        })
    }
}

/// Inserts a validated account with a fresh user code, drawing again in the
/// (astronomically rare) case of a clash.
pub(crate) async fn insert_valid(
    tx: &mut Tx,
    school_id: SchoolId,
    account: &ValidAccount,
    status: AccountStatus,
    password_hash: Option<&str>,
    now: i64,
) -> Result<(AccountId, UserCode), AppError> {
    for _ in 0..8 {
        let user_code = UserCode::generate(&mut OsRng);
        let inserted = tx
            .insert_account_if_code_free(&NewAccount {
                user_code: user_code.as_str(),
                school_id,
                kind: account.kind,
                first_name: account.first_name.as_str(),
                last_name: account.last_name.as_str(),
                tax_code: account.tax_code.as_str(),
                email: account.email.as_ref().map(EmailAddress::as_str),
                username: account.username.as_ref().map(Username::as_str),
                status,
                password_hash,
                now,
            })
            .await;
        match inserted {
            Ok(Some(id)) => return Ok((id, user_code)),
            Ok(None) => continue,
            Err(StoreError::Conflict { constraint }) => {
                let message = if constraint.contains("username") {
                    "the username is already taken".to_owned()
                } else {
                    format!(
                        "an account with tax code {} already exists in this school",
                        account.tax_code
                    )
                };
                let source = Some(StoreError::Conflict { constraint });
                return Err(AppError::Conflict { message, source });
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::internal("could not draw a free user code"))
}

/// What an operator types to add a school.
#[derive(Debug, Clone, Default)]
pub struct AddSchool {
    pub code: String,
    pub name: String,
    pub email: Option<String>,
    pub helpdesk_email: Option<String>,
    pub helpdesk_phone: Option<String>,
    pub helpdesk_hours: Option<String>,
    /// The town (comune), if known: /help finds a school by it.
    pub town: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct School {
    pub code: String,
    pub name: String,
    pub email: Option<String>,
    pub helpdesk_email: Option<String>,
    pub helpdesk_phone: Option<String>,
    pub helpdesk_hours: Option<String>,
    pub town: Option<String>,
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
            town: r.town,
        }
    }
}

/// Longest town name a school may have.
pub(crate) const TOWN_CHARS: usize = 100;

pub(crate) fn optional_text(field: &'static str, value: Option<&str>, max: usize) -> Result<Option<String>, AppError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.chars().count() > max || v.chars().any(char::is_control) => Err(AppError::invalid(
            field,
            format!("must be at most {max} characters, without control characters"),
        )),
        Some(v) => Ok(Some(v.to_owned())),
    }
}

pub(crate) fn optional_email(field: &'static str, value: Option<&str>) -> Result<Option<String>, AppError> {
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
    let town = optional_text("town", input.town.as_deref(), TOWN_CHARS)?;
    let now = app.now();
    let record = tx
        .insert_school(&NewSchool {
            code: code.as_str(),
            name: &name,
            email: email.as_deref(),
            helpdesk_email: helpdesk_email.as_deref(),
            helpdesk_phone: helpdesk_phone.as_deref(),
            helpdesk_hours: helpdesk_hours.as_deref(),
            town: town.as_deref(),
            created_at: now.0,
        })
        .await
        .map_err(|e| {
            if e.is_conflict() {
                AppError::Conflict {
                    message: format!("a school with code {code} already exists"),
                    source: Some(e),
                }
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
