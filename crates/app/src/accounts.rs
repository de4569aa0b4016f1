//! Accounts: creation (with or without a first password), views, status
//! changes and role grants. Every change is audited in its own transaction.

use varco_domain::account::{AccountKind, AccountStatus, Role};
use varco_domain::password::PasswordInput;
use varco_store::AccountFilter;

use crate::account_actions::{set_enabled_in, unlock_in};
use crate::audit::{self, AccountOrigin, AuditEvent, Target};
use crate::lookup::{find_by_user_code, find_school};
use crate::mailed_links::{Activation, queue_activation};
use crate::policy::check_policy;
pub use crate::registration::AddAccount;
use crate::registration::insert_valid;
use crate::views::view;
pub use crate::views::{AccountView, RoleView, SchoolRef};
use crate::{Actor, App, AppError, RequestContext};

/// Creates an account. With a password it is active at once; without one it
/// waits for activation (and gets an activation email when it has an address).
pub async fn add(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    input: &AddAccount,
    password: Option<PasswordInput>,
) -> Result<AccountView, AppError> {
    let valid = input.validate()?;
    let mut tx = app.store.begin_read().await?;
    let school = find_school(&mut tx, &input.school_code).await?;
    tx.commit().await?;

    let hash = match password {
        Some(password) => {
            let context = valid.context_words(&school.name);
            let refs: Vec<&str> = context.iter().map(String::as_str).collect();
            check_policy(app, valid.kind, &refs, &password)?;
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
    // Without a password: the activation link, or for an account kept to
    // SPID/CIE by its login policy the welcome saying how to sign in.
    let activation_sent = if hash.is_none() {
        queue_activation(&mut tx, app, Activation::of(&record)).await?.sent()
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
        Some(code) => Some(find_school(&mut tx, code).await?.code),
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
    let mut tx = app.store.begin().await?;
    let record = find_by_user_code(&mut tx, user_code).await?;
    let changed = set_enabled_in(&mut tx, app, actor, ctx, &record, enabled).await?;
    tx.commit().await?;
    Ok(changed)
}

/// Lifts a login lock and forgets the account's failed logins (an operator
/// who has checked who is asking). Returns false when there was nothing to
/// lift.
pub async fn unlock(app: &App, actor: &Actor, ctx: &RequestContext, user_code: &str) -> Result<bool, AppError> {
    let mut tx = app.store.begin().await?;
    let record = find_by_user_code(&mut tx, user_code).await?;
    let changed = unlock_in(&mut tx, app, actor, ctx, &record).await?;
    tx.commit().await?;
    Ok(changed)
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
    let mut tx = app.store.begin().await?;
    let changed =
        crate::account_actions::set_role_in(&mut tx, app, actor, ctx, user_code, role, school_code, grant).await?;
    tx.commit().await?;
    Ok(changed)
}
