//! Changing a password (from the account page, or forced after expiry) and
//! forcing a change at the next login.
//!
//! A change needs the current password (ASVS 6.2.3), passes the policy of the
//! account's kind, must differ from the last `history` passwords, and then, in
//! one transaction: stores the new hash and remembers the old one, clears the
//! forced-change flag and the failure counters, ends every other session,
//! writes the audit event and queues the confirmation email (no secret in it).
//! All hashing happens before the transaction opens. An account the login
//! policy keeps to SPID/CIE cannot set a password (`crate::login_policy`).

use crate::audit::{self, AuditEvent, NewPasswordRoute, Reauthentication};
use crate::credentials::{KeepSession, confirm_current_password, password_for_new, store_new_password};
use crate::login_policy::password_login;
use crate::lookup::find_by_user_code;
use crate::policy::check_new_password;
use crate::sessions::Authenticated;
use crate::{Actor, App, AppError, RequestContext};

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
    if !password_login(app, &session.account, &session.roles, app.now()).is_allowed() {
        // Refused before the current password is checked: the session
        // already proves the account, and the answer is the same either way.
        let now = app.now();
        let mut tx = app.store.begin().await?;
        audit::record(
            &mut tx,
            now,
            &session.actor(),
            ctx,
            (&session.account).into(),
            AuditEvent::PasswordNotAllowed(NewPasswordRoute::Change),
        )
        .await?;
        tx.commit().await?;
        return Err(AppError::PasswordNotAllowed);
    }
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
    let account = find_by_user_code(&mut tx, user_code).await?;
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
