//! The password rules of an account: what a new password must pass (the
//! policy of the account's kind, its personal words, the history) and
//! whether the current one has expired. Part of the lower layer of `app`.

use varco_domain::account::AccountKind;
use varco_domain::clock::Timestamp;
use varco_domain::password::{ExpiryStatus, PasswordInput, PolicyContext, PolicyRefusal, PolicyViolation};
use varco_store::AccountRecord;

use crate::{App, AppError};

/// Words a password of this account must not contain.
pub(crate) fn context_words(account: &AccountRecord) -> Vec<String> {
    let mut words = vec![
        account.first_name.clone(),
        account.last_name.clone(),
        account.user_code.to_string(),
        account.tax_code.to_string(),
        account.school_name.clone(),
    ];
    words.extend(account.username.clone());
    words.extend(account.email.as_ref().map(ToString::to_string));
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

/// Whether an account's password has expired, or a change is forced.
pub(crate) fn must_change(app: &App, account: &AccountRecord, now: Timestamp) -> bool {
    account.password_change_required || matches!(expiry_status(app, account, now), ExpiryStatus::Expired)
}

pub(crate) fn expiry_status(app: &App, account: &AccountRecord, now: Timestamp) -> ExpiryStatus {
    match account.password_changed_at {
        Some(changed) => app.settings.expiry.get(account.kind).status(changed, now),
        None => ExpiryStatus::NoExpiry,
    }
}
