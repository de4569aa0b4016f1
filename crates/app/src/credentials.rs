//! The steps every use case that checks or sets a credential shares, written
//! once so that a rule cannot be forgotten in one copy (the lockout once was,
//! on password and email change: security review finding 5).
//!
//! - [`password_for_new`] and [`password_typed`]: one mapping of a raw
//!   password input to the use-case errors.
//! - [`reserve_attempts`] and [`confirm_current_password`]: every check of a
//!   password an account already has goes through the account's lockout, the
//!   same counter as login, reserved *before* the hash is checked so parallel
//!   guesses cannot slip past it (finding 4).
//! - [`store_new_password`]: history, hash, flags, counters, sessions, the
//!   account's pending links and the notice, in the caller's transaction.
//! - [`issue_link`]: a one-time token bound to one account, one purpose and,
//!   for links that prove a mailbox, the address it is mailed to.
//!
//! This module is part of the lower layer of `app`: it calls the store, the
//! domain, [`crate::audit`], [`crate::mail`] and [`crate::hashing`], never a
//! use-case module.

use rand::rngs::OsRng;
use varco_domain::clock::Timestamp;
use varco_domain::lockout::{LockState, Reservation};
use varco_domain::password::{PasswordInput, PasswordInputError, PolicyRefusal, PolicyViolation};
use varco_domain::token::{SecretToken, TokenPurpose, fingerprint};
use varco_domain::{AccountId, EmailAddress, SessionId};
use varco_store::{AccountRecord, NewToken, Tx};

use crate::audit::{self, AuditEvent, Reauthentication, ReauthenticationRefusal};
use crate::{Actor, App, AppError, RequestContext};

/// A new password as typed: empty is "too short", over 1 KiB "too long".
pub(crate) fn password_for_new(raw: &str) -> Result<PasswordInput, AppError> {
    PasswordInput::new(raw).map_err(|e| match e {
        PasswordInputError::TooLong => AppError::InputTooLong,
        PasswordInputError::Empty => AppError::PasswordPolicy(PolicyRefusal {
            violations: vec![PolicyViolation::TooShort],
            feedback: None,
        }),
    })
}

/// A password typed to prove who one is: empty is simply wrong.
pub(crate) fn password_typed(raw: &str) -> Result<PasswordInput, AppError> {
    PasswordInput::new(raw).map_err(|e| match e {
        PasswordInputError::TooLong => AppError::InputTooLong,
        PasswordInputError::Empty => AppError::InvalidCredentials,
    })
}

/// One account's attempt, reserved through its lockout.
#[derive(Debug, Clone)]
pub(crate) enum Reserved {
    /// Check the password against `hash`; the attempt is already counted as
    /// a failure (`if_wrong`), `previous` is what to put back if it must not count.
    Check {
        account: AccountRecord,
        hash: String,
        previous: LockState,
        if_wrong: LockState,
        locks: bool,
    },
    /// The lockout refuses attempts for now: do not check.
    Blocked { account: AccountRecord },
    /// No password to check (not active, no hash, or gone).
    Unusable { account: AccountRecord },
}

impl Reserved {
    pub(crate) fn account(&self) -> &AccountRecord {
        match self {
            Reserved::Check { account, .. } | Reserved::Blocked { account, .. } | Reserved::Unusable { account } => {
                account
            }
        }
    }
}

/// Reserves one attempt on each account in `tx` (a write transaction), in
/// order: re-reads each row under a lock, asks the lockout, and stores the
/// state as if the attempt failed. The caller commits before hashing.
pub(crate) async fn reserve_attempts(
    tx: &mut Tx,
    app: &App,
    account_ids: &[AccountId],
    now: Timestamp,
) -> Result<Vec<Reserved>, AppError> {
    let policy = app.settings.lockout;
    let mut reserved = Vec::with_capacity(account_ids.len());
    for &id in account_ids {
        let Some(account) = tx.account_for_update(id).await? else {
            continue;
        };
        let usable = account.status == varco_domain::account::AccountStatus::Active;
        let hash = account.password_hash.clone().filter(|_| usable);
        let Some(hash) = hash else {
            reserved.push(Reserved::Unusable { account });
            continue;
        };
        let previous = account.lock_state();
        match policy.reserve(&previous, now) {
            Reservation::Blocked { .. } => reserved.push(Reserved::Blocked { account }),
            Reservation::Reserved { if_wrong } => {
                tx.set_lock_state(account.id, &if_wrong.state).await?;
                reserved.push(Reserved::Check {
                    account,
                    hash,
                    previous,
                    if_wrong: if_wrong.state,
                    locks: if_wrong.locked,
                });
            }
        }
    }
    Ok(reserved)
}

/// Confirms that the signed-in person knows the account's current password
/// before a sensitive change (ASVS 6.2.3, 7.5.1), through the same lockout
/// as login: refused unchecked while the account is delayed or locked, and a
/// wrong password counts as a failed login. When a wrong password locks the
/// account, the session that typed it ends (it may be stolen).
///
/// `change` names the change being confirmed, for the audit log of failures.
pub(crate) async fn confirm_current_password(
    app: &App,
    account_id: AccountId,
    session_id: SessionId,
    typed: &str,
    change: Reauthentication,
    ctx: &RequestContext,
) -> Result<AccountRecord, AppError> {
    let typed = password_typed(typed)?;
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let reserved = reserve_attempts(&mut tx, app, &[account_id], now).await?;
    tx.commit().await?;
    let Some(reserved) = reserved.into_iter().next() else {
        return Err(AppError::Unauthenticated);
    };
    let (account, refusal, locked_now) = match reserved {
        Reserved::Check {
            account, hash, locks, ..
        } => {
            if app.hashing.verify(hash, typed).await?.matches {
                let cleared = app.settings.lockout.after_success();
                let mut tx = app.store.begin().await?;
                tx.set_lock_state(account.id, &cleared).await?;
                tx.commit().await?;
                return Ok(AccountRecord {
                    failed_logins: 0,
                    blocked_until: None,
                    last_failed_login_at: None,
                    ..account
                });
            }
            (account, ReauthenticationRefusal::WrongCurrentPassword, locks)
        }
        Reserved::Blocked { account, .. } | Reserved::Unusable { account } => {
            app.hashing.verify_dummy(typed).await?;
            (account, ReauthenticationRefusal::AccountLocked, false)
        }
    };
    let mut tx = app.store.begin().await?;
    audit::record(
        &mut tx,
        now,
        &actor_of(&account),
        ctx,
        (&account).into(),
        AuditEvent::ReauthenticationRefused { change, refusal },
    )
    .await?;
    if locked_now {
        record_locked(&mut tx, app, &account, now, ctx).await?;
        tx.delete_session(session_id).await?;
    }
    tx.commit().await?;
    Err(AppError::InvalidCredentials)
}

/// The audit event of a failure that imposed the long lock.
pub(crate) async fn record_locked(
    tx: &mut Tx,
    app: &App,
    account: &AccountRecord,
    now: Timestamp,
    ctx: &RequestContext,
) -> Result<(), AppError> {
    audit::record(
        tx,
        now,
        &Actor::System,
        ctx,
        account.into(),
        AuditEvent::AccountLocked {
            failed_logins: app.settings.lockout.lock_after,
        },
    )
    .await
}

/// The links a new password makes pointless or dangerous: a reset or
/// activation link would set yet another password, and an email change
/// asked for under the old password must not survive it (finding 1).
pub(crate) const LINKS_SPENT_BY_A_NEW_PASSWORD: &[TokenPurpose] = &[
    TokenPurpose::Reset,
    TokenPurpose::Activate,
    TokenPurpose::EmailChange,
    TokenPurpose::RecoveryLetter,
];

/// Every link an account can have.
pub(crate) const EVERY_ACCOUNT_LINK: &[TokenPurpose] = &[
    TokenPurpose::Reset,
    TokenPurpose::Activate,
    TokenPurpose::EmailChange,
    TokenPurpose::EmailUndo,
    TokenPurpose::RecoveryLetter,
];

/// Spends the account's outstanding links of these purposes.
pub(crate) async fn spend_links(
    tx: &mut Tx,
    account_id: AccountId,
    purposes: &[TokenPurpose],
    now: Timestamp,
) -> Result<u64, AppError> {
    Ok(tx.spend_account_tokens(account_id, purposes, now).await?)
}

/// Which sessions survive a new password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeepSession {
    /// The session that made the change (a change from `/account`).
    This(SessionId),
    /// None (a reset, an activation, a desk action).
    None,
}

/// Stores `hash` as the account's new password in `tx`: the old hash joins
/// the history, the forced-change flag and the failure counters clear, every
/// session but the kept one ends, every pending reset, activation and
/// email-change link of the account is spent, and the notice (no secret) is
/// queued. Returns how many sessions ended. The caller writes its own audit
/// event and commits.
pub(crate) async fn store_new_password(
    tx: &mut Tx,
    app: &App,
    account: &AccountRecord,
    hash: &str,
    keep: KeepSession,
    now: Timestamp,
    ctx: &RequestContext,
) -> Result<u64, AppError> {
    if let Some(old) = &account.password_hash {
        let history = app.settings.policy.get(account.kind).history as i64;
        tx.push_password_history(account.id, old, now.0, history).await?;
    }
    tx.set_password_hash(account.id, hash, Some(now.0), now.0).await?;
    tx.set_password_change_required(account.id, false, now.0).await?;
    clear_lock(tx, app, account).await?;
    spend_links(tx, account.id, LINKS_SPENT_BY_A_NEW_PASSWORD, now).await?;
    let ended = match keep {
        KeepSession::This(session_id) => {
            let ended = tx.delete_sessions_of_account(account.id, Some(session_id)).await?;
            tx.set_session_password_change_required(session_id, false).await?;
            ended
        }
        KeepSession::None => tx.delete_sessions_of_account(account.id, None).await?,
    };
    crate::notices::queue_password_changed_notice(tx, app, account, now, ctx).await?;
    Ok(ended)
}

/// Forgets an account's failed logins, and the waits of the login texts
/// that name it (user code, username, email), so its owner is not told to
/// wait after a reset or an unlock.
pub(crate) async fn clear_lock(tx: &mut Tx, app: &App, account: &AccountRecord) -> Result<(), AppError> {
    tx.set_lock_state(account.id, &app.settings.lockout.after_success())
        .await?;
    let names = [
        Some(account.user_code.as_str()),
        account.username.as_deref(),
        account.email.as_ref().map(EmailAddress::as_str),
    ];
    for name in names.into_iter().flatten() {
        tx.clear_login_throttle(&fingerprint(name)).await?;
    }
    Ok(())
}

/// Issues a one-time link token for an account. A newer link spends the
/// account's older links of the same purpose, except undo links: each of
/// those undoes its own email change and every later one, so they live side
/// by side. `recipient` is the address the link is mailed to: the token
/// remembers it (as a fingerprint) and is refused once the account's address
/// is another (finding 2). Returns the token and its id.
pub(crate) async fn issue_link(
    tx: &mut Tx,
    account_id: AccountId,
    purpose: TokenPurpose,
    recipient: Option<&str>,
    now: Timestamp,
) -> Result<(SecretToken, i64), AppError> {
    if purpose != TokenPurpose::EmailUndo {
        tx.spend_tokens_of_purpose(purpose, Some(account_id), now).await?;
    }
    let token = SecretToken::generate(&mut OsRng);
    let recipient_hash = recipient.map(fingerprint);
    let id = tx
        .insert_token(&NewToken {
            token_hash: token.hash().as_str(),
            purpose,
            account_id: Some(account_id),
            now,
            expires_at: now.plus_secs(purpose.default_lifetime_secs()),
            recipient_hash: recipient_hash.as_deref(),
        })
        .await?;
    Ok((token, id))
}

/// Whether a link bound to an address still matches the account's address.
/// A link from before links were bound (no fingerprint) matches, but does
/// not prove the current address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkRecipient {
    /// Mailed to the account's current address.
    Current,
    /// Not bound to an address.
    Unbound,
    /// Mailed to an address the account no longer has.
    Stale,
}

pub(crate) fn link_recipient(recipient_hash: Option<&str>, account: &AccountRecord) -> LinkRecipient {
    match (recipient_hash, account.email.as_ref().map(EmailAddress::as_str)) {
        (None, _) => LinkRecipient::Unbound,
        (Some(bound), Some(current)) if bound == fingerprint(current) => LinkRecipient::Current,
        (Some(_), _) => LinkRecipient::Stale,
    }
}

/// The audit actor for an account acting on itself.
pub(crate) fn actor_of(account: &AccountRecord) -> Actor {
    Actor::Account {
        id: account.id,
        user_code: account.user_code.to_string(),
    }
}
