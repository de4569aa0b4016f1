//! Accounts: creation (with or without a first password), views, status
//! changes and role grants. Every change is audited in its own transaction.

use rand::rngs::OsRng;
use serde::Serialize;
use varco_domain::account::{AccountKind, AccountStatus, Role};
use varco_domain::email::EmailAddress;
use varco_domain::password::PasswordInput;
use varco_domain::person::{PersonName, Username};
use varco_domain::tax_code::TaxCode;
use varco_domain::user_code::UserCode;
use varco_store::{AccountFilter, AccountRecord, NewAccount, RoleGrant, StoreError, Tx};

use crate::audit::{self, AccountOrigin, AuditEvent, Target};
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

/// An account as shown to its owner, the API and operators. No secret.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AccountView {
    pub user_code: String,
    pub kind: AccountKind,
    pub first_name: String,
    pub last_name: String,
    pub tax_code: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub username: Option<String>,
    pub status: AccountStatus,
    pub school: SchoolRef,
    pub roles: Vec<RoleView>,
    pub has_password: bool,
    /// The password has expired or a change was forced: the next session may
    /// only change it.
    pub password_change_required: bool,
    /// Days until the password expires (0: expired); `None` when it never does.
    pub password_expires_in_days: Option<u32>,
    pub locked: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SchoolRef {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RoleView {
    pub role: Role,
    pub school: Option<String>,
}

pub(crate) fn view(app: &App, record: &AccountRecord, roles: &[RoleGrant]) -> AccountView {
    AccountView {
        user_code: record.user_code.clone(),
        kind: record.kind,
        first_name: record.first_name.clone(),
        last_name: record.last_name.clone(),
        tax_code: record.tax_code.clone(),
        email: record.email.clone(),
        email_verified: record.email_verified,
        username: record.username.clone(),
        status: record.status,
        school: SchoolRef {
            code: record.school_code.clone(),
            name: record.school_name.clone(),
        },
        roles: roles
            .iter()
            .map(|g| RoleView {
                role: g.role,
                school: g.school_code.clone(),
            })
            .collect(),
        has_password: record.password_hash.is_some(),
        password_change_required: crate::password::must_change(app, record, app.now()),
        password_expires_in_days: match crate::password::expiry_status(app, record, app.now()) {
            varco_domain::password::ExpiryStatus::Valid { days_left } => Some(days_left),
            varco_domain::password::ExpiryStatus::Expired => Some(0),
            varco_domain::password::ExpiryStatus::NoExpiry => None,
        },
        locked: record.blocked_until.is_some_and(|until| until > app.now().0),
        created_at: varco_domain::clock::Timestamp(record.created_at).to_rfc3339(),
    }
}

pub(crate) async fn find_by_user_code(tx: &mut Tx, code: &str) -> Result<AccountRecord, AppError> {
    let code = UserCode::parse(code).map_err(|e| AppError::invalid("user_code", e))?;
    tx.account_by_user_code(code.as_str())
        .await?
        .ok_or(AppError::NotFound("account"))
}

/// Inserts a validated account with a fresh user code, drawing again in the
/// (astronomically rare) case of a clash.
pub(crate) async fn insert_valid(
    tx: &mut Tx,
    school_id: i64,
    account: &ValidAccount,
    status: AccountStatus,
    password_hash: Option<&str>,
    now: i64,
) -> Result<(i64, UserCode), AppError> {
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
                let what = if constraint.contains("username") {
                    "the username is already taken".to_owned()
                } else {
                    format!(
                        "an account with tax code {} already exists in this school",
                        account.tax_code
                    )
                };
                return Err(AppError::Conflict(what));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Internal("could not draw a free user code".into()))
}

/// Creates an account. With a password it is active at once; without one it
/// waits for activation (the activation email comes with the mail issue).
pub async fn add(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    input: &AddAccount,
    password: Option<PasswordInput>,
) -> Result<AccountView, AppError> {
    let valid = input.validate()?;
    let mut tx = app.store.begin_read().await?;
    let school = crate::schools::find_record(&mut tx, &input.school_code).await?;
    tx.commit().await?;

    let hash = match password {
        Some(password) => {
            let context = valid.context_words(&school.name);
            let refs: Vec<&str> = context.iter().map(String::as_str).collect();
            crate::password::check_policy(app, valid.kind, &refs, &password)?;
            Some(app.hashing.hash(password).await?)
        }
        None => None,
    };
    let status = if hash.is_some() {
        AccountStatus::Active
    } else {
        AccountStatus::PendingActivation
    };
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let (id, user_code) = insert_valid(&mut tx, school.id, &valid, status, hash.as_deref(), now.0).await?;
    audit::record(
        &mut tx,
        now,
        actor,
        ctx,
        Target::account(id, user_code.as_str()),
        AuditEvent::AccountCreated(if hash.is_some() {
            AccountOrigin::WithPassword
        } else {
            AccountOrigin::PendingActivation
        }),
    )
    .await?;
    let record = tx.account_by_id(id).await?.ok_or(AppError::NotFound("account"))?;
    let activation_sent = if hash.is_none() {
        crate::recovery::queue_activation(&mut tx, app, crate::recovery::Activation::of(&record)).await?
    } else {
        false
    };
    tx.commit().await?;
    if activation_sent {
        app.mail_queued();
    }
    Ok(view(app, &record, &[]))
}

pub async fn show(app: &App, user_code: &str) -> Result<AccountView, AppError> {
    let mut tx = app.store.begin_read().await?;
    let record = find_by_user_code(&mut tx, user_code).await?;
    let roles = tx.roles_of(record.id).await?;
    tx.commit().await?;
    Ok(view(app, &record, &roles))
}

pub async fn list(
    app: &App,
    school_code: Option<&str>,
    kind: Option<AccountKind>,
    limit: i64,
    offset: i64,
) -> Result<Vec<AccountView>, AppError> {
    let mut tx = app.store.begin_read().await?;
    let school_code = match school_code {
        Some(code) => Some(crate::schools::find_record(&mut tx, code).await?.code),
        None => None,
    };
    let records = tx
        .list_accounts(&AccountFilter {
            school_code: school_code.as_deref(),
            kind,
            limit,
            offset,
        })
        .await?;
    tx.commit().await?;
    Ok(records.iter().map(|r| view(app, r, &[])).collect())
}

/// Disables or re-enables an account. Disabling ends all its sessions.
/// Returns false when the account already had that status.
pub async fn set_enabled(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    user_code: &str,
    enabled: bool,
) -> Result<bool, AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let record = find_by_user_code(&mut tx, user_code).await?;
    let status = if !enabled {
        AccountStatus::Disabled
    } else if record.password_hash.is_some() {
        AccountStatus::Active
    } else {
        AccountStatus::PendingActivation
    };
    if enabled && record.status != AccountStatus::Disabled {
        return Ok(false);
    }
    let changed = tx.set_account_status(record.id, status, now.0).await?;
    if changed {
        let ended = if enabled {
            0
        } else {
            // A link must not bring a disabled account back when it is enabled.
            crate::credentials::spend_links(&mut tx, record.id, crate::credentials::EVERY_ACCOUNT_LINK, now).await?;
            tx.delete_sessions_of_account(record.id, None).await?
        };
        let event = if enabled {
            AuditEvent::AccountEnabled { status }
        } else {
            AuditEvent::AccountDisabled { sessions_ended: ended }
        };
        audit::record(&mut tx, now, actor, ctx, (&record).into(), event).await?;
    }
    tx.commit().await?;
    Ok(changed)
}

/// Lifts a login lock and forgets the account's failed logins (an operator
/// who has checked who is asking). Returns false when there was nothing to
/// lift.
pub async fn unlock(app: &App, actor: &Actor, ctx: &RequestContext, user_code: &str) -> Result<bool, AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let record = find_by_user_code(&mut tx, user_code).await?;
    let record = tx
        .account_for_update(record.id)
        .await?
        .ok_or(AppError::NotFound("account"))?;
    if record.failed_logins == 0 && record.blocked_until.is_none() {
        tx.commit().await?;
        return Ok(false);
    }
    crate::credentials::clear_lock(&mut tx, app, &record).await?;
    let was_blocked = record.blocked_until.is_some_and(|until| until > now.0);
    audit::record(
        &mut tx,
        now,
        actor,
        ctx,
        (&record).into(),
        AuditEvent::AccountUnlocked {
            failed_logins: record.failed_logins,
            was_blocked,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Grants (or with `grant == false` revokes) a role. `desk` needs a school;
/// `admin` takes none. Returns false when nothing changed.
pub async fn set_role(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    user_code: &str,
    role: Role,
    school_code: Option<&str>,
    grant: bool,
) -> Result<bool, AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let record = find_by_user_code(&mut tx, user_code).await?;
    let school = match (role, school_code) {
        (Role::Desk, None) => {
            return Err(AppError::invalid("school", "the desk role needs --school CODE"));
        }
        (Role::Admin, Some(_)) => {
            return Err(AppError::invalid("school", "the admin role is not scoped to a school"));
        }
        (_, Some(code)) => Some(crate::schools::find_record(&mut tx, code).await?),
        (_, None) => None,
    };
    let school_id = school.as_ref().map(|s| s.id);
    let changed = if grant {
        tx.grant_role(record.id, role, school_id, now.0).await?
    } else {
        tx.revoke_role(record.id, role, school_id).await?
    };
    if changed {
        let school = school.map(|s| s.code);
        let event = if grant {
            AuditEvent::RoleGranted { role, school }
        } else {
            AuditEvent::RoleRevoked { role, school }
        };
        audit::record(&mut tx, now, actor, ctx, (&record).into(), event).await?;
    }
    tx.commit().await?;
    Ok(changed)
}
