//! What an operator does to one account: lift a lock, disable or enable
//! it, send a new activation link, grant or revoke a role. Part of the
//! lower layer of `app`: the command line (`accounts`, `recovery`), the
//! desk (`desk`) and the admin console (`admin`) run these same steps, each
//! in the caller's transaction and audited with the caller's actor, so the
//! rules (a disabled account's links are spent and its sessions end) are
//! written once.

use varco_domain::account::{AccountStatus, Role};
use varco_store::{AccountRecord, Tx};

use crate::audit::{self, AuditEvent};
use crate::credentials::{EVERY_ACCOUNT_LINK, clear_lock, spend_links};
use crate::lookup::{find_by_user_code, find_school};
use crate::mailed_links::{Activation, queue_activation};
use crate::{Actor, App, AppError, RequestContext};

/// Lifts a login lock and forgets the account's failed logins. Returns
/// false when there was nothing to lift.
pub(crate) async fn unlock_in(
    tx: &mut Tx,
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    account: &AccountRecord,
) -> Result<bool, AppError> {
    let now = app.now();
    let record = tx
        .account_for_update(account.id)
        .await?
        .ok_or(AppError::NotFound("account"))?;
    if record.failed_logins == 0 && record.blocked_until.is_none() {
        return Ok(false);
    }
    clear_lock(tx, app, &record).await?;
    let was_blocked = record.blocked_until.is_some_and(|until| until > now);
    audit::record(
        tx,
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
    Ok(true)
}

/// Disables or re-enables an account. Disabling spends its links and ends
/// all its sessions. Returns false when the account already had that status.
pub(crate) async fn set_enabled_in(
    tx: &mut Tx,
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    record: &AccountRecord,
    enabled: bool,
) -> Result<bool, AppError> {
    let now = app.now();
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
            spend_links(tx, record.id, EVERY_ACCOUNT_LINK, now).await?;
            tx.delete_sessions_of_account(record.id, None).await?
        };
        let event = if enabled {
            AuditEvent::AccountEnabled { status }
        } else {
            AuditEvent::AccountDisabled { sessions_ended: ended }
        };
        audit::record(tx, now, actor, ctx, record.into(), event).await?;
    }
    Ok(changed)
}

/// Queues a new activation link for an account that still waits for one
/// (the caller wakes the mail worker after the commit).
pub(crate) async fn resend_activation_in(
    tx: &mut Tx,
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    account: &AccountRecord,
) -> Result<(), AppError> {
    if account.status != AccountStatus::PendingActivation {
        return Err(AppError::conflict("the account is not waiting for activation"));
    }
    if account.email.is_none() {
        return Err(AppError::conflict(
            "the account has no email address to send the link to",
        ));
    }
    queue_activation(tx, app, Activation::of(account)).await?;
    audit::record(
        tx,
        app.now(),
        actor,
        ctx,
        account.into(),
        AuditEvent::ActivationLinkSent,
    )
    .await?;
    Ok(())
}

/// Grants (or with `grant == false` revokes) a role in the caller's
/// transaction: `desk` needs a school, `admin` takes none; audited as
/// `role_granted` / `role_revoked`. False when nothing changed. The command
/// line (`accounts::set_role`) and the admin console (which checks its own
/// rules in the same transaction) run it.
#[expect(clippy::too_many_arguments, reason = "set_role's arguments and the transaction")]
pub(crate) async fn set_role_in(
    tx: &mut Tx,
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    user_code: &str,
    role: Role,
    school_code: Option<&str>,
    grant: bool,
) -> Result<bool, AppError> {
    let now = app.now();
    let record = find_by_user_code(tx, user_code).await?;
    let school = match (role, school_code) {
        (Role::Desk, None) => {
            return Err(AppError::invalid("school", "the desk role needs --school CODE"));
        }
        (Role::Admin, Some(_)) => {
            return Err(AppError::invalid("school", "the admin role is not scoped to a school"));
        }
        (_, Some(code)) => Some(find_school(tx, code).await?),
        (_, None) => None,
    };
    let school_id = school.as_ref().map(|s| s.id);
    let changed = if grant {
        tx.grant_role(record.id, role, school_id, now).await?
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
        audit::record(tx, now, actor, ctx, (&record).into(), event).await?;
    }
    Ok(changed)
}
