//! "Cambia password e/o PIN": the owner's page of their PIN (families) or
//! personal code (staff).
//!
//! - **Regenerate**: a new code by email, the old one dead at once, the lock
//!   lifted. It needs the current password — or, for an account without
//!   one, a SPID/CIE sign-in of the last [`FRESH_UPSTREAM_SECS`] seconds.
//! - **Change**: the current code and a new one typed twice, refused when it
//!   is malformed, trivial (repeated, a sequence) or the birth date written
//!   in the tax code. A wrong current code counts towards the lock.
//!
//! Each is audited and notified.

use serde::Serialize;
use varco_domain::audit::{AuditEvent, Reauthentication, SecondSecretStep};
use varco_domain::second_secret::{SecondSecretKind, SecondSecretRule};

use crate::credentials::{actor_of, confirm_current_password};
use crate::mail::format_time;
use crate::second_secret::{Prepared, SecondSecretError, hash_of, notify, prepare, store_in, verify};
use crate::sessions::Authenticated;
use crate::{App, AppError, RequestContext, audit};

/// How recent a SPID/CIE sign-in must be to regenerate without a password.
pub const FRESH_UPSTREAM_SECS: i64 = 300;

/// What the page shows.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SecretStatus {
    /// `pin` or `personal_code`.
    pub kind: &'static str,
    /// Digits or characters it has.
    pub length: usize,
    /// A code was issued.
    pub issued: bool,
    /// Locked after five wrong entries.
    pub locked: bool,
    /// When it was issued or changed, as people read it.
    pub set_at: Option<String>,
    /// The address a new one goes to, masked (`m***@example.it`).
    pub email_masked: Option<String>,
    /// Regenerating asks the password (else a fresh SPID/CIE sign-in).
    pub needs_password: bool,
    /// The session's SPID/CIE sign-in is recent enough to regenerate.
    pub fresh_upstream: bool,
}

fn fresh_upstream(app: &App, session: &Authenticated) -> bool {
    session.session.upstream_provider.is_some()
        && session.session.created_at.secs_until(app.now()) <= FRESH_UPSTREAM_SECS
}

/// The page's facts for the signed-in person.
pub async fn status(app: &App, session: &Authenticated) -> Result<SecretStatus, AppError> {
    let kind = SecondSecretKind::of(session.account.kind);
    let mut tx = app.store.read().await?;
    let stored = tx.second_secret(session.account.id).await?;
    tx.commit().await?;
    Ok(SecretStatus {
        kind: kind.as_str(),
        length: app.settings.second_secret.length(kind),
        issued: stored.is_some(),
        locked: stored.as_ref().is_some_and(|s| s.locked_at.is_some()),
        set_at: stored.as_ref().map(|s| format_time(s.set_at)),
        email_masked: session.account.email.as_ref().map(|e| e.masked()),
        needs_password: session.account.password_hash.is_some(),
        fresh_upstream: fresh_upstream(app, session),
    })
}

/// Why a regeneration or change was refused (besides a wrong password,
/// which is [`AppError::InvalidCredentials`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretChangeRefusal {
    /// No address to send the new code to.
    NoEmail,
    /// An account without a password needs a SPID/CIE sign-in of the last
    /// five minutes.
    NeedsFreshSignIn,
    /// The current code is wrong; so many tries remain.
    WrongCurrent { remaining: u32 },
    /// The current code is not written like one (not counted).
    MalformedCurrent,
    /// The code is locked: only a regeneration helps.
    Locked,
    /// There is no code to change yet: regenerate.
    NotIssued,
    /// The two new codes differ.
    Mismatch,
    /// The new code breaks a rule.
    Rule(SecondSecretRule),
}

async fn refused(
    app: &App,
    session: &Authenticated,
    ctx: &RequestContext,
    why: SecretChangeRefusal,
) -> Result<Result<(), SecretChangeRefusal>, AppError> {
    let mut tx = app.store.begin().await?;
    audit::record(
        &mut tx,
        app.now(),
        &session.actor(),
        ctx,
        (&session.account).into(),
        AuditEvent::SecondSecret {
            kind: SecondSecretKind::of(session.account.kind),
            step: SecondSecretStep::Refused,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Err(why))
}

/// A new code by email; `password` as typed (ignored for an account
/// without one, which needs a fresh SPID/CIE sign-in instead). Returns the
/// masked address it went to.
pub async fn regenerate(
    app: &App,
    session: &Authenticated,
    password: &str,
    ctx: &RequestContext,
) -> Result<Result<String, SecretChangeRefusal>, AppError> {
    let Some(email) = session.account.email.as_ref() else {
        return refused(app, session, ctx, SecretChangeRefusal::NoEmail)
            .await
            .map(|r| r.map(|()| String::new()));
    };
    let account = if session.account.password_hash.is_some() {
        confirm_current_password(
            app,
            session.account.id,
            session.session.id,
            password,
            Reauthentication::SecondSecret,
            ctx,
        )
        .await?
    } else if fresh_upstream(app, session) {
        session.account.clone()
    } else {
        return refused(app, session, ctx, SecretChangeRefusal::NeedsFreshSignIn)
            .await
            .map(|r| r.map(|()| String::new()));
    };
    let prepared: Prepared = prepare(app, account.kind).await?;
    let mut tx = app.store.begin().await?;
    store_in(
        &mut tx,
        app,
        &account,
        prepared,
        SecondSecretStep::Regenerated,
        &actor_of(&account),
        ctx,
    )
    .await?;
    tx.commit().await?;
    app.mail_queued();
    Ok(Ok(email.masked()))
}

/// A code chosen by the owner, in place of the current one.
pub async fn change(
    app: &App,
    session: &Authenticated,
    current: &str,
    new: &str,
    again: &str,
    ctx: &RequestContext,
) -> Result<Result<(), SecretChangeRefusal>, AppError> {
    let account = &session.account;
    let kind = SecondSecretKind::of(account.kind);
    let new = kind.normalise(new);
    if new != kind.normalise(again) {
        return Ok(Err(SecretChangeRefusal::Mismatch));
    }
    let length = app.settings.second_secret.length(kind);
    if let Err(rule) = kind.check_chosen(&new, length, account.tax_code.as_str()) {
        return refused(app, session, ctx, SecretChangeRefusal::Rule(rule)).await;
    }
    match verify(app, ctx, account, current).await {
        Ok(_) => {}
        Err(SecondSecretError::Wrong { remaining }) => {
            return Ok(Err(SecretChangeRefusal::WrongCurrent { remaining }));
        }
        Err(SecondSecretError::Malformed(_)) => return Ok(Err(SecretChangeRefusal::MalformedCurrent)),
        Err(SecondSecretError::Locked) => return Ok(Err(SecretChangeRefusal::Locked)),
        Err(SecondSecretError::NotIssued) => return Ok(Err(SecretChangeRefusal::NotIssued)),
        Err(SecondSecretError::App(e)) => return Err(e),
    }
    let hash = hash_of(app, &new).await?;
    let now = app.now();
    let mut tx = app.store.begin().await?;
    tx.set_second_secret(account.id, kind.as_str(), &hash, now).await?;
    audit::record(
        &mut tx,
        now,
        &session.actor(),
        ctx,
        account.into(),
        AuditEvent::SecondSecret {
            kind,
            step: SecondSecretStep::Changed,
        },
    )
    .await?;
    notify(&mut tx, app, account, kind, "changed", now).await?;
    tx.commit().await?;
    app.mail_queued();
    Ok(Ok(()))
}
