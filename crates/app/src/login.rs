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
//! count into growing delays and then a temporary lock.

use varco_domain::account::AccountStatus;
use varco_domain::lockout::{Admission, LockState};
use varco_domain::password::PasswordInput;
use varco_domain::person::Username;
use varco_domain::user_code::UserCode;
use varco_store::{AccountRecord, Tx};

use crate::accounts::{AccountView, view};
use crate::audit::{self, Event, Outcome};
use crate::sessions::{NewSessionToken, create_session};
use crate::{Actor, App, AppError, RequestContext};

/// A successful login: the new session's secret (for the cookie) and the account.
#[derive(Debug)]
pub struct LoginSuccess {
    pub session: NewSessionToken,
    pub account: AccountView,
    pub password_expired: bool,
}

/// How the login text was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LoginKey {
    Email(String),
    UserCode(UserCode),
    Username(Username),
    Nothing,
}

pub(crate) fn classify(login: &str) -> LoginKey {
    let login = login.trim();
    if login.contains('@') {
        return LoginKey::Email(login.to_owned());
    }
    if let Ok(code) = UserCode::parse(login) {
        return LoginKey::UserCode(code);
    }
    match Username::parse(login) {
        Ok(username) => LoginKey::Username(username),
        Err(_) => LoginKey::Nothing,
    }
}

pub(crate) async fn candidates(tx: &mut Tx, key: &LoginKey, max_email: i64) -> Result<Vec<AccountRecord>, AppError> {
    Ok(match key {
        LoginKey::Email(email) => tx.accounts_by_email(email, max_email.max(1)).await?,
        LoginKey::UserCode(code) => tx.account_by_user_code(code.as_str()).await?.into_iter().collect(),
        LoginKey::Username(username) => tx.account_by_username(username.as_str()).await?.into_iter().collect(),
        LoginKey::Nothing => Vec::new(),
    })
}

/// Why a candidate account did not let the user in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    WrongPassword,
    Blocked,
    NotActive,
}

pub async fn login(
    app: &App,
    login: &str,
    password: &str,
    ctx: &RequestContext,
    previous_session: Option<&str>,
) -> Result<LoginSuccess, AppError> {
    if login.len() > 320 {
        return Err(AppError::InputTooLong);
    }
    let password = match PasswordInput::new(password) {
        Ok(p) => p,
        Err(varco_domain::password::PasswordInputError::TooLong) => {
            return Err(AppError::InputTooLong);
        }
        Err(_) => return Err(AppError::InvalidCredentials),
    };
    let key = classify(login);
    let mut tx = app.store.begin_read().await?;
    let accounts = candidates(&mut tx, &key, app.settings.max_email_candidates).await?;
    tx.commit().await?;

    let now = app.now();
    let policy = app.settings.lockout;
    let mut refusals: Vec<(usize, Refusal)> = Vec::new();
    let mut winner: Option<(usize, bool)> = None;
    for (index, account) in accounts.iter().enumerate() {
        let state = LockState {
            failed_count: account.failed_logins,
            blocked_until: account.blocked_until.map(varco_domain::clock::Timestamp),
        };
        let usable_hash = match (&account.password_hash, account.status) {
            (Some(hash), AccountStatus::Active) => Some(hash.clone()),
            _ => None,
        };
        let admitted = matches!(policy.admit(&state, now), Admission::Allowed);
        match usable_hash {
            Some(hash) if admitted => {
                let verification = app.hashing.verify(hash, password.clone()).await?;
                if verification.matches {
                    winner = Some((index, verification.needs_rehash));
                    break;
                }
                refusals.push((index, Refusal::WrongPassword));
            }
            Some(_) => {
                app.hashing.verify_dummy(password.clone()).await?;
                refusals.push((index, Refusal::Blocked));
            }
            None => {
                app.hashing.verify_dummy(password.clone()).await?;
                refusals.push((index, Refusal::NotActive));
            }
        }
    }
    if accounts.is_empty() {
        app.hashing.verify_dummy(password.clone()).await?;
    }

    match winner {
        Some((index, needs_rehash)) => {
            succeed(app, &accounts[index], password, needs_rehash, ctx, previous_session).await
        }
        None => {
            fail(app, &accounts, &refusals, ctx).await?;
            Err(AppError::InvalidCredentials)
        }
    }
}

async fn succeed(
    app: &App,
    account: &AccountRecord,
    password: PasswordInput,
    needs_rehash: bool,
    ctx: &RequestContext,
    previous_session: Option<&str>,
) -> Result<LoginSuccess, AppError> {
    // Computed before the transaction: hashing must never hold a connection.
    let new_hash = if needs_rehash {
        Some(app.hashing.hash(password).await?)
    } else {
        None
    };
    let now = app.now();
    let mut tx = app.store.begin().await?;
    if let Some(previous) = previous_session {
        crate::sessions::delete_by_token(&mut tx, previous).await?;
    }
    if account.failed_logins != 0 || account.blocked_until.is_some() {
        tx.set_login_failures(account.id, 0, None).await?;
    }
    if let Some(hash) = &new_hash {
        tx.set_password_hash(account.id, hash, None, now.0).await?;
    }
    let must_change = crate::password::must_change(app, account, now);
    let session = create_session(&mut tx, app, account.id, must_change, ctx).await?;
    if let Some(lang) = ctx.lang.as_deref() {
        tx.set_account_lang(account.id, lang).await?;
    }
    let actor = Actor::Account {
        id: account.id,
        user_code: account.user_code.clone(),
    };
    audit::record(
        &mut tx,
        now,
        &actor,
        ctx,
        Event {
            name: "login",
            outcome: Outcome::Success,
            target_account_id: Some(account.id),
            target: Some(&account.user_code),
            detail: new_hash.as_ref().map(|_| "password_rehashed"),
        },
    )
    .await?;
    let roles = tx.roles_of(account.id).await?;
    tx.commit().await?;
    Ok(LoginSuccess {
        session,
        account: view(app, account, &roles),
        password_expired: must_change,
    })
}

async fn fail(
    app: &App,
    accounts: &[AccountRecord],
    refusals: &[(usize, Refusal)],
    ctx: &RequestContext,
) -> Result<(), AppError> {
    let now = app.now();
    let policy = app.settings.lockout;
    let mut tx = app.store.begin().await?;
    if refusals.is_empty() {
        audit::record(
            &mut tx,
            now,
            &Actor::Anonymous,
            ctx,
            Event {
                name: "login",
                outcome: Outcome::Failure,
                target_account_id: None,
                target: None,
                detail: Some("unknown_account"),
            },
        )
        .await?;
    }
    for &(index, refusal) in refusals {
        let account = &accounts[index];
        let mut detail = match refusal {
            Refusal::WrongPassword => "wrong_password",
            Refusal::Blocked => "account_locked",
            Refusal::NotActive => "account_not_active",
        };
        let mut locked_now = false;
        if refusal == Refusal::WrongPassword {
            let count = tx.increment_login_failures(account.id).await?;
            let previous = LockState {
                failed_count: count.saturating_sub(1),
                blocked_until: None,
            };
            let outcome = policy.after_failure(&previous, now);
            tx.set_blocked_until(account.id, outcome.state.blocked_until.map(|t| t.0))
                .await?;
            if outcome.locked {
                locked_now = true;
                detail = "wrong_password_locked";
            }
        }
        audit::record(
            &mut tx,
            now,
            &Actor::Anonymous,
            ctx,
            Event {
                name: "login",
                outcome: Outcome::Failure,
                target_account_id: Some(account.id),
                target: Some(&account.user_code),
                detail: Some(detail),
            },
        )
        .await?;
        if locked_now {
            let detail = format!("failed_logins={}", policy.lock_after);
            audit::record(
                &mut tx,
                now,
                &Actor::System,
                ctx,
                Event {
                    name: "account_locked",
                    outcome: Outcome::Success,
                    target_account_id: Some(account.id),
                    target: Some(&account.user_code),
                    detail: Some(&detail),
                },
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::OsRng;

    #[test]
    fn login_text_is_classified_by_shape() {
        assert!(matches!(classify(" Maria.Rossi@Example.IT "), LoginKey::Email(_)));
        assert!(matches!(classify("mrossi"), LoginKey::Username(_)));
        assert_eq!(classify("!!"), LoginKey::Nothing);
        let code = UserCode::generate(&mut OsRng);
        assert_eq!(classify(&code.as_str().to_lowercase()), LoginKey::UserCode(code));
    }
}
