//! Changing a password (from the account page, or forced after expiry) and
//! forcing a change at the next login.
//!
//! A change needs the current password (ASVS 6.2.3), passes the policy of the
//! account's kind, must differ from the last `history` passwords, and then, in
//! one transaction: stores the new hash and remembers the old one, clears the
//! forced-change flag and the failure counters, ends every other session,
//! writes the audit event and queues the confirmation email (no secret in it).
//! All hashing happens before the transaction opens.

use serde_json::json;
use varco_domain::account::AccountKind;
use varco_domain::clock::Timestamp;
use varco_domain::lockout::LockState;
use varco_domain::password::{
    ExpiryStatus, PasswordInput, PasswordInputError, PolicyContext, PolicyRefusal, PolicyViolation,
};
use varco_store::AccountRecord;

use crate::audit::{self, Event, Outcome};
use crate::mail::{Mail, enqueue, format_time, lang_of};
use crate::sessions::Authenticated;
use crate::{Actor, App, AppError, RequestContext};

fn input(raw: &str) -> Result<PasswordInput, AppError> {
    match PasswordInput::new(raw) {
        Ok(p) => Ok(p),
        Err(PasswordInputError::TooLong) => Err(AppError::InputTooLong),
        Err(PasswordInputError::Empty) => Err(AppError::PasswordPolicy(PolicyRefusal {
            violations: vec![PolicyViolation::TooShort],
            feedback: None,
        })),
    }
}

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

/// Changes the password of the signed-in account. `current` must be right;
/// a wrong one counts as a failed login (the session may be stolen).
pub async fn change(
    app: &App,
    session: &Authenticated,
    current: &str,
    new: &str,
    ctx: &RequestContext,
) -> Result<(), AppError> {
    let current = input(current).map_err(|e| match e {
        AppError::InputTooLong => AppError::InputTooLong,
        _ => AppError::InvalidCredentials,
    })?;
    let new = input(new)?;
    let mut tx = app.store.begin_read().await?;
    let account = tx
        .account_by_id(session.account.id)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    tx.commit().await?;
    let Some(stored) = account.password_hash.clone() else {
        return Err(AppError::InvalidCredentials);
    };
    if !app.hashing.verify(stored, current).await?.matches {
        record_wrong_current_password(app, &account, ctx, "password_change").await?;
        return Err(AppError::InvalidCredentials);
    }
    check_new_password(app, &account, &new).await?;
    let hash = app.hashing.hash(new).await?;
    let now = app.now();
    let mut tx = app.store.begin().await?;
    if let Some(old) = &account.password_hash {
        let keep = app.settings.policy.get(account.kind).history as i64;
        tx.push_password_history(account.id, old, now.0, keep).await?;
    }
    tx.set_password_hash(account.id, &hash, Some(now.0), now.0).await?;
    tx.set_password_change_required(account.id, false, now.0).await?;
    tx.set_login_failures(account.id, 0, None).await?;
    let ended = tx
        .delete_sessions_of_account(account.id, Some(session.session.id))
        .await?;
    tx.set_session_password_change_required(session.session.id, false)
        .await?;
    let actor = session.actor();
    let detail = format!(
        "sessions_ended={ended}{}",
        if session.session.password_change_required {
            " forced=true"
        } else {
            ""
        }
    );
    audit::record(
        &mut tx,
        now,
        &actor,
        ctx,
        Event {
            name: "password_changed",
            outcome: Outcome::Success,
            target_account_id: Some(account.id),
            target: Some(&account.user_code),
            detail: Some(&detail),
        },
    )
    .await?;
    queue_password_changed_notice(&mut tx, app, &account, now, ctx).await?;
    tx.commit().await?;
    app.mail_queued();
    Ok(())
}

/// Counts a wrong current password given to confirm a sensitive change as a
/// failed login (the session may be stolen), audited as a failed `event`.
pub(crate) async fn record_wrong_current_password(
    app: &App,
    account: &AccountRecord,
    ctx: &RequestContext,
    event: &str,
) -> Result<(), AppError> {
    let now = app.now();
    let policy = app.settings.lockout;
    let mut tx = app.store.begin().await?;
    let count = tx.increment_login_failures(account.id).await?;
    let outcome = policy.after_failure(
        &LockState {
            failed_count: count.saturating_sub(1),
            blocked_until: None,
        },
        now,
    );
    tx.set_blocked_until(account.id, outcome.state.blocked_until.map(|t| t.0))
        .await?;
    audit::record(
        &mut tx,
        now,
        &Actor::Account {
            id: account.id,
            user_code: account.user_code.clone(),
        },
        ctx,
        Event {
            name: event,
            outcome: Outcome::Failure,
            target_account_id: Some(account.id),
            target: Some(&account.user_code),
            detail: Some("wrong_current_password"),
        },
    )
    .await?;
    tx.commit().await?;
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
        Event {
            name: "password_change_required",
            outcome: Outcome::Success,
            target_account_id: Some(account.id),
            target: Some(&account.user_code),
            detail: None,
        },
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

/// Queues the notice that the password changed (by the user, or through a
/// reset or activation link): when, from where, what to do if it wasn't them.
/// Never the password. Nothing for an account without an address.
pub(crate) async fn queue_password_changed_notice(
    tx: &mut varco_store::Tx,
    app: &App,
    account: &AccountRecord,
    now: Timestamp,
    ctx: &RequestContext,
) -> Result<(), AppError> {
    let Some(email) = &account.email else { return Ok(()) };
    enqueue(
        tx,
        app,
        Mail {
            to: email,
            template: "password_changed",
            lang: lang_of(account),
            school_id: Some(account.school_id),
            payload: json!({
                "first_name": account.first_name,
                "user_code": account.user_code,
                "changed_at": format_time(now),
                "ip": ctx.ip,
                "school_name": account.school_name,
                "change_url": app.link("/password/change"),
                "forgot_url": app.link("/password/forgot"),
                "help_url": app.link("/help"),
            }),
        },
    )
    .await
}
