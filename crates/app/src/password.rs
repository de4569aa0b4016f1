//! Changing a password (from the account page, or forced after expiry) and
//! forcing a change at the next login.
//!
//! A change needs the current password (ASVS 6.2.3), passes the policy of the
//! account's kind, must differ from the last `history` passwords, and then, in
//! one transaction: stores the new hash and remembers the old one, clears the
//! forced-change flag and the failure counters, ends every other session,
//! writes the audit event and queues the confirmation email (no secret in it).
//! All hashing happens before the transaction opens.

use varco_domain::account::AccountKind;
use varco_domain::clock::Timestamp;
use varco_domain::password::{ExpiryStatus, PasswordInput, PolicyContext, PolicyRefusal, PolicyViolation};
use varco_store::AccountRecord;

use crate::audit::{self, AuditEvent, Reauthentication};
use crate::credentials::{KeepSession, confirm_current_password, password_for_new, store_new_password};
use crate::sessions::Authenticated;
use crate::{Actor, App, AppError, RequestContext};

/// Words a password of this account must not contain.
pub(crate) fn context_words(account: &AccountRecord) -> Vec<String> {
    let mut words = vec![
        account.first_name.clone(),
        account.last_name.clone(),
        account.user_code.clone(),
        account.tax_code.clone(),
        account.school_name.clone(),
    ];
    words.extend(account.username.clone());
    words.extend(account.email.clone());
    words
}

/// Checks a first password against the policy of an account kind (no history yet).
pub(crate) fn check_policy(
    app: &App,
    kind: AccountKind,
    words: &[&str],
    password: &PasswordInput,
) -> Result<(), AppError> {
    app.settings
        .policy
        .get(kind)
        .check(
            password,
            &PolicyContext {
                words,
                common: &app.settings.common_passwords,
                has_second_factor: false,
            },
        )
        .map_err(AppError::PasswordPolicy)
}

/// Checks a new password for an account: the kind's policy, then (only if
/// that passes, since each costs a hash) the history.
pub(crate) async fn check_new_password(
    app: &App,
    account: &AccountRecord,
    new: &PasswordInput,
) -> Result<(), AppError> {
    let policy = app.settings.policy.get(account.kind);
    let words = context_words(account);
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    policy
        .check(
            new,
            &PolicyContext {
                words: &refs,
                common: &app.settings.common_passwords,
                has_second_factor: false,
            },
        )
        .map_err(AppError::PasswordPolicy)?;
    if policy.history == 0 {
        return Ok(());
    }
    let mut tx = app.store.begin_read().await?;
    let mut previous = tx.password_history(account.id, policy.history as i64).await?;
    tx.commit().await?;
    if let Some(current) = &account.password_hash {
        previous.insert(0, current.clone());
    }
    previous.truncate(policy.history);
    for old in previous {
        if app.hashing.verify(old, new.clone()).await?.matches {
            return Err(AppError::PasswordPolicy(PolicyRefusal {
                violations: vec![PolicyViolation::Reused],
                feedback: None,
            }));
        }
    }
    Ok(())
}

/// Changes the password of the signed-in account. `current` must be right,
/// checked through the account's lockout like a login (a wrong one counts as
/// a failed login: the session may be stolen).
pub async fn change(
    app: &App,
    session: &Authenticated,
    current: &str,
    new: &str,
    ctx: &RequestContext,
) -> Result<(), AppError> {
    let new = password_for_new(new)?;
    let account = confirm_current_password(
        app,
        session.account.id,
        session.session.id,
        current,
        Reauthentication::PasswordChange,
        ctx,
    )
    .await?;
    check_new_password(app, &account, &new).await?;
    let hash = app.hashing.hash(new).await?;
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let ended = store_new_password(
        &mut tx,
        app,
        &account,
        &hash,
        KeepSession::This(session.session.id),
        now,
        ctx,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        &session.actor(),
        ctx,
        (&account).into(),
        AuditEvent::PasswordChanged {
            sessions_ended: ended,
            forced: session.session.password_change_required,
        },
    )
    .await?;
    tx.commit().await?;
    app.mail_queued();
    Ok(())
}

/// Forces a password change at the next login (and in current sessions).
pub async fn require_change(app: &App, actor: &Actor, ctx: &RequestContext, user_code: &str) -> Result<(), AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let account = crate::accounts::find_by_user_code(&mut tx, user_code).await?;
    tx.set_password_change_required(account.id, true, now.0).await?;
    tx.restrict_sessions_of_account(account.id).await?;
    audit::record(
        &mut tx,
        now,
        actor,
        ctx,
        (&account).into(),
        AuditEvent::PasswordChangeRequired,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Whether an account's password has expired, or a change is forced.
pub(crate) fn must_change(app: &App, account: &AccountRecord, now: Timestamp) -> bool {
    account.password_change_required || matches!(expiry_status(app, account, now), ExpiryStatus::Expired)
}

pub(crate) fn expiry_status(app: &App, account: &AccountRecord, now: Timestamp) -> ExpiryStatus {
    match account.password_changed_at {
        Some(changed) => app.settings.expiry.get(account.kind).status(Timestamp(changed), now),
        None => ExpiryStatus::NoExpiry,
    }
}
