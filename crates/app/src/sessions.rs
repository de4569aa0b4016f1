//! Server-side sessions: creation at login, lookup on each request, idle and
//! absolute expiry, logout.
//!
//! The session id is a 256-bit secret from the OS CSPRNG; the database keeps
//! only its SHA-256, so reading the table does not yield usable cookies. Each
//! session also carries a CSRF token for the HTML forms of that session.

use rand::rngs::OsRng;
use varco_domain::AccountId;
use varco_domain::account::AccountStatus;
use varco_domain::token::SecretToken;
use varco_store::{AccountRecord, NewSession, RoleGrant, SessionRecord, Tx};

use crate::audit::{self, AuditEvent, Target};
use crate::views::{AccountView, view};
use crate::{Actor, App, AppError, RequestContext};

/// A session just created: the secret goes into the cookie and nowhere else.
#[derive(Debug)]
pub struct NewSessionToken {
    pub token: SecretToken,
}

/// A request's valid session and its account.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub session: SessionRecord,
    pub account: AccountRecord,
    pub roles: Vec<RoleGrant>,
}

impl Authenticated {
    pub fn actor(&self) -> Actor {
        Actor::Account {
            id: self.account.id,
            user_code: self.account.user_code.to_string(),
        }
    }

    pub fn view(&self, app: &App) -> AccountView {
        view(app, &self.account, &self.roles)
    }
}

/// How a session was signed in: recorded with it, reported to applications
/// in ID tokens (`acr`, `amr`), and used at logout (the upstream token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignedInWith {
    /// The `acr` of the sign-in.
    pub acr: String,
    /// The `amr` values of the sign-in.
    pub amr: Vec<String>,
    /// The upstream provider's configured name, for an upstream sign-in.
    pub upstream_provider: Option<String>,
    /// The upstream access token, sealed, when one is kept for revocation.
    pub upstream_token_sealed: Option<String>,
}

impl SignedInWith {
    /// A sign-in with Varco's own password.
    pub(crate) fn password() -> SignedInWith {
        SignedInWith {
            acr: crate::provider::ACR_PASSWORD.to_owned(),
            amr: vec![AMR_PASSWORD.to_owned()],
            upstream_provider: None,
            upstream_token_sealed: None,
        }
    }
}

/// The `amr` value of a password sign-in (RFC 8176).
pub const AMR_PASSWORD: &str = "pwd";

/// How often `last_seen_at` is written back, to keep reads cheap.
const TOUCH_EVERY_SECS: i64 = 60;

pub(crate) async fn create_session(
    tx: &mut Tx,
    app: &App,
    account_id: AccountId,
    password_change_required: bool,
    how: &SignedInWith,
    ctx: &RequestContext,
) -> Result<NewSessionToken, AppError> {
    let token = SecretToken::generate(&mut OsRng);
    let csrf = SecretToken::generate(&mut OsRng);
    let now = app.now();
    tx.insert_session(&NewSession {
        token_hash: token.hash().as_str(),
        account_id,
        csrf_token: csrf.as_str(),
        now,
        expires_at: now.plus_secs(app.settings.session_absolute_secs),
        ip: ctx.ip.as_deref(),
        user_agent: ctx.user_agent.as_deref(),
        password_change_required,
        acr: &how.acr,
        amr: &how.amr,
        upstream_provider: how.upstream_provider.as_deref(),
        upstream_token_sealed: how.upstream_token_sealed.as_deref(),
    })
    .await?;
    Ok(NewSessionToken { token })
}

pub(crate) async fn delete_by_token(tx: &mut Tx, token: &str) -> Result<Option<SessionRecord>, AppError> {
    let Some(token) = SecretToken::from_user(token) else {
        return Ok(None);
    };
    let Some(session) = tx.session_by_token_hash(token.hash().as_str()).await? else {
        return Ok(None);
    };
    tx.delete_session(session.id).await?;
    Ok(Some(session))
}

/// The session behind a cookie value, if it is valid now. Expired sessions
/// and sessions of accounts that are no longer active are deleted on sight.
pub async fn authenticate(app: &App, token: &str) -> Result<Option<Authenticated>, AppError> {
    let Some(token) = SecretToken::from_user(token) else {
        return Ok(None);
    };
    let now = app.now();
    let mut tx = app.store.begin_read().await?;
    let Some(session) = tx.session_by_token_hash(token.hash().as_str()).await? else {
        return Ok(None);
    };
    let account = tx.account_by_id(session.account_id).await?;
    let roles = match &account {
        Some(a) => tx.roles_of(a.id).await?,
        None => Vec::new(),
    };
    tx.commit().await?;
    let expired = now >= session.expires_at || session.last_seen_at.secs_until(now) >= app.settings.session_idle_secs;
    let account = match account {
        Some(a) if !expired && a.status == AccountStatus::Active => a,
        _ => {
            let mut tx = app.store.begin().await?;
            tx.delete_session(session.id).await?;
            tx.commit().await?;
            return Ok(None);
        }
    };
    let mut session = session;
    if session.last_seen_at.secs_until(now) >= TOUCH_EVERY_SECS {
        let mut tx = app.store.begin().await?;
        tx.touch_session(session.id, now).await?;
        tx.commit().await?;
        session.last_seen_at = now;
    }
    Ok(Some(Authenticated {
        session,
        account,
        roles,
    }))
}

/// Ends the session behind a cookie value; unknown values are ignored.
pub async fn logout(app: &App, token: &str, ctx: &RequestContext) -> Result<(), AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let ended = delete_by_token(&mut tx, token).await?;
    if let Some(session) = &ended {
        let account = tx.account_by_id(session.account_id).await?;
        let (actor, user_code) = match &account {
            Some(a) => (
                Actor::Account {
                    id: a.id,
                    user_code: a.user_code.to_string(),
                },
                Some(a.user_code.as_str()),
            ),
            None => (Actor::Anonymous, None),
        };
        audit::record(
            &mut tx,
            now,
            &actor,
            ctx,
            Target::Account {
                id: session.account_id,
                user_code,
            },
            AuditEvent::Logout,
        )
        .await?;
    }
    tx.commit().await?;
    // The applications this session signed in to are signed out too, and
    // the upstream provider's access token (SPID/CIE) is revoked.
    if let Some(session) = ended {
        if let (Some(provider), Some(sealed)) = (&session.upstream_provider, &session.upstream_token_sealed) {
            crate::upstream_rp::revoke_in_background(app, provider, sealed);
        }
        crate::provider::end_for_session(app, session.id, ctx).await?;
    }
    Ok(())
}

/// Removes sessions past their limits (called periodically by the server).
pub async fn purge_expired(app: &App) -> Result<u64, AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let n = tx
        .delete_expired_sessions(now, now.plus_secs(-app.settings.session_idle_secs))
        .await?;
    tx.commit().await?;
    Ok(n)
}
