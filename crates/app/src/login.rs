//! Login by username, user code or email, and the per-account lockout.
//!
//! The answer is the same for an unknown account, a wrong password, a locked,
//! disabled or not-yet-activated account: [`AppError::InvalidCredentials`].
//! So is the time spent: every path performs at least one Argon2id
//! verification (a dummy one when there is no usable hash), and no database
//! transaction is held while hashing.
//!
//! An email may be shared by several accounts (two parents, one family
//! address). Login by such an email tries at most
//! `Settings::max_email_candidates` of them and succeeds for the one whose
//! password matches.
//!
//! Failures are counted in the accounts table, so every node sees the same
//! count; the [`LockoutPolicy`](varco_domain::lockout::LockoutPolicy) turns the
//! count into growing delays and then a temporary lock. Each attempt is
//! reserved (counted as a failure) before its hash is checked, so parallel
//! guesses cannot pass the lock.
//!
//! A right password for an account whose login policy allows SPID/CIE only
//! (see [`crate::login_policy`]) opens no session and answers
//! [`AppError::PasswordNotAllowed`]: the refusal comes only after the
//! password matched, so it tells nothing to someone guessing, and a wrong
//! password for such an account gets the usual answer.
//!
//! The same schedule also runs on the typed login text itself, known account
//! or not: while it delays, the answer says how long to wait
//! ([`AppError::LoginDelayed`]), with the same numbers and words for a real
//! account and for a login that matches nothing. Every other refusal answers
//! no earlier than the failure floor of [`crate::timing`], so its time does
//! not tell which hash (if any) was checked.

use tokio::time::Instant;
use varco_domain::AccountId;
use varco_domain::account::AccountStatus;
use varco_domain::lockout::Reservation;
use varco_domain::password::{PasswordInput, Verification};
use varco_domain::token::fingerprint;
use varco_store::AccountRecord;

use crate::audit::{self, AuditEvent, LoginOutcome, Target};
use crate::credentials::{Reserved, actor_of, password_typed, record_locked, reserve_attempts};
use crate::gates;
use crate::login_policy::password_login;
use crate::lookup::{candidates, classify};
use crate::sessions::{NewSessionToken, SignedInWith, create_session, delete_by_token};
use crate::views::{AccountView, view};
use crate::{Actor, App, AppError, RequestContext};

/// A successful login: the new session's secret (for the cookie) and the account.
#[derive(Debug)]
pub struct LoginSuccess {
    pub session: NewSessionToken,
    pub account: AccountView,
    pub password_expired: bool,
}

pub async fn login(
    app: &App,
    login: &str,
    password: &str,
    ctx: &RequestContext,
    previous_session: Option<&str>,
) -> Result<LoginSuccess, AppError> {
    let arrived = Instant::now();
    if login.len() > 320 {
        return Err(AppError::InputTooLong);
    }
    let password = password_typed(password)?;
    let key = classify(login);
    let login_hash = fingerprint(login);
    let mut tx = app.store.begin_read().await?;
    let found = candidates(&mut tx, &key, app.settings.max_email_candidates).await?;
    tx.commit().await?;
    let ids: Vec<AccountId> = found.iter().map(|a| a.id).collect();
    let floor = app.failure_floor.get(app).await?;
    // One attempt at a time on this login text and these accounts, until it
    // is settled (see `crate::gates`); released before the refusal's wait.
    let held = app
        .gates
        .enter(std::iter::once(gates::login_text(&login_hash)).chain(ids.iter().map(|id| gates::account(*id))))
        .await;

    // Reserve the attempt before any hash is checked: on the login text (the
    // wait a person is told about) and on each account (the lockout).
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let text_state = tx.login_throttle_for_update(&login_hash).await?;
    match app.settings.lockout.reserve(&text_state, now) {
        Reservation::Blocked { until } => {
            tx.commit().await?;
            drop(held);
            let retry_after_secs = u64::try_from(until.0 - now.0).unwrap_or(1).max(1);
            return Err(AppError::LoginDelayed { retry_after_secs });
        }
        Reservation::Reserved { if_wrong } => tx.set_login_throttle(&login_hash, &if_wrong.state).await?,
    }
    let reserved = reserve_attempts(&mut tx, app, &ids, now).await?;
    tx.commit().await?;

    let mut winner = None;
    for (index, attempt) in reserved.iter().enumerate() {
        match attempt {
            Reserved::Check { hash, .. } => {
                let verification = app.hashing.verify(hash.clone(), password.clone()).await?;
                if verification.matches {
                    winner = Some((index, verification));
                    break;
                }
            }
            Reserved::Blocked { .. } | Reserved::Unusable { .. } => {
                app.hashing.verify_dummy(password.clone()).await?;
            }
        }
    }
    if reserved.is_empty() {
        app.hashing.verify_dummy(password.clone()).await?;
    }

    let refused = match winner {
        Some((index, verification)) => {
            let success = Success {
                reserved: &reserved,
                index,
                verification,
                login_hash: &login_hash,
            };
            match succeed(app, success, password, ctx, previous_session).await {
                Err(AppError::InvalidCredentials) => Err(AppError::InvalidCredentials),
                other => return other,
            }
        }
        None => {
            fail(app, &reserved, ctx).await?;
            Err(AppError::InvalidCredentials)
        }
    };
    drop(held);
    // Every refusal takes as long as the slowest one could (finding 7).
    tokio::time::sleep_until(arrived + floor).await;
    refused
}

/// The attempt that matched, among the reserved ones.
struct Success<'a> {
    reserved: &'a [Reserved],
    index: usize,
    verification: Verification,
    login_hash: &'a str,
}

async fn succeed(
    app: &App,
    success: Success<'_>,
    password: PasswordInput,
    ctx: &RequestContext,
    previous_session: Option<&str>,
) -> Result<LoginSuccess, AppError> {
    let Reserved::Check {
        account: checked,
        hash: verified_hash,
        ..
    } = &success.reserved[success.index]
    else {
        return Err(AppError::InvalidCredentials);
    };
    let verification = success.verification;
    // Computed before the transaction: hashing must never hold a connection.
    let new_hash = if verification.needs_rehash {
        Some(app.hashing.hash(password).await?)
    } else {
        None
    };
    let now = app.now();
    let mut tx = app.store.begin().await?;
    // The account may have changed while its hash was checked (a reset, a
    // disable): the password that matched must still be the account's.
    let account = match tx.account_for_update(checked.id).await? {
        Some(a) if a.status == AccountStatus::Active && a.password_hash.as_deref() == Some(verified_hash) => a,
        _ => {
            audit::record(
                &mut tx,
                now,
                &Actor::Anonymous,
                ctx,
                checked.into(),
                AuditEvent::Login(LoginOutcome::ChangedDuringCheck),
            )
            .await?;
            tx.commit().await?;
            return Err(AppError::InvalidCredentials);
        }
    };
    // The other accounts sharing the address were not what this person was
    // signing in to: their reservations do not count.
    for (index, attempt) in success.reserved.iter().enumerate() {
        if let (
            true,
            Reserved::Check {
                account,
                previous,
                if_wrong,
                ..
            },
        ) = (index != success.index, attempt)
        {
            tx.release_lock_state(account.id, if_wrong, previous).await?;
        }
    }
    tx.set_lock_state(account.id, &app.settings.lockout.after_success())
        .await?;
    tx.clear_login_throttle(success.login_hash).await?;
    let roles = tx.roles_of(account.id).await?;
    if !password_login(app, &account, &roles, now).is_allowed() {
        // The password was right (so this tells nothing to a guesser), but
        // the policy keeps the account to SPID/CIE: no session. The
        // failures are forgotten as after any right password.
        audit::record(
            &mut tx,
            now,
            &actor_of(&account),
            ctx,
            (&account).into(),
            AuditEvent::Login(LoginOutcome::PasswordNotAllowed),
        )
        .await?;
        tx.commit().await?;
        return Err(AppError::PasswordNotAllowed);
    }
    if let Some(previous) = previous_session {
        delete_by_token(&mut tx, previous).await?;
    }
    let mut outcome = LoginOutcome::Success;
    if let Some(hash) = &new_hash
        && tx.replace_password_hash(account.id, verified_hash, hash, now.0).await?
    {
        outcome = LoginOutcome::Rehashed;
    }
    if verification.prefix_only {
        // bcrypt matched only the first 72 bytes: keep the old hash and ask
        // for a new password rather than store what was typed (finding 13).
        tx.set_password_change_required(account.id, true, now.0).await?;
        outcome = LoginOutcome::LegacyPrefixMatch;
    }
    let must_change = verification.prefix_only || crate::policy::must_change(app, &account, now);
    let session = create_session(&mut tx, app, account.id, must_change, &SignedInWith::password(), ctx).await?;
    if let Some(lang) = ctx.lang {
        tx.set_account_lang(account.id, lang).await?;
    }
    audit::record(
        &mut tx,
        now,
        &actor_of(&account),
        ctx,
        (&account).into(),
        AuditEvent::Login(outcome),
    )
    .await?;
    tx.commit().await?;
    let account = AccountRecord {
        failed_logins: 0,
        blocked_until: None,
        last_failed_login_at: None,
        ..account
    };
    Ok(LoginSuccess {
        session,
        account: view(app, &account, &roles),
        password_expired: must_change,
    })
}

/// Audits a refused login. The failures were counted when the attempts were
/// reserved; a failure that imposed the lock is audited as such once.
async fn fail(app: &App, reserved: &[Reserved], ctx: &RequestContext) -> Result<(), AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    if reserved.is_empty() {
        audit::record(
            &mut tx,
            now,
            &Actor::Anonymous,
            ctx,
            Target::Nobody,
            AuditEvent::Login(LoginOutcome::UnknownAccount),
        )
        .await?;
    }
    for attempt in reserved {
        let account = attempt.account();
        let (outcome, locked_now) = match attempt {
            Reserved::Check { locks: true, .. } => (LoginOutcome::WrongPasswordLocked, true),
            Reserved::Check { .. } => (LoginOutcome::WrongPassword, false),
            Reserved::Blocked { .. } => (LoginOutcome::AccountLocked, false),
            Reserved::Unusable { .. } => (LoginOutcome::NotActive, false),
        };
        audit::record(
            &mut tx,
            now,
            &Actor::Anonymous,
            ctx,
            account.into(),
            AuditEvent::Login(outcome),
        )
        .await?;
        if locked_now {
            record_locked(&mut tx, app, account, now, ctx).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
