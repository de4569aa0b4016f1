//! Writing and reading the audit log of credential events.
//!
//! The events themselves, with their stable names and details, are
//! [`AuditEvent`] in `varco_domain::audit`: the one list of what Varco
//! records. Passwords, tokens and session secrets never reach this module.

use serde::Serialize;
use varco_domain::AccountId;
pub use varco_domain::audit::{
    AccountOrigin, AuditEvent, EmailChangeRequest, ExpiryReminder, LoginOutcome, NewPasswordRoute, Outcome,
    Reauthentication, ReauthenticationRefusal, ResetRequest,
};
use varco_domain::clock::Timestamp;
use varco_store::{AccountRecord, AuditFilter, NewAuditEvent, Tx};

use crate::{Actor, App, AppError, RequestContext};

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target<'a> {
    /// Nothing in particular (a setup link, a mail retry, an unknown login).
    Nobody,
    /// An account, by id and (when still known) user code.
    Account { id: AccountId, user_code: Option<&'a str> },
    /// A school, by its code.
    School(&'a str),
}

impl<'a> Target<'a> {
    pub(crate) fn account(id: AccountId, user_code: &'a str) -> Target<'a> {
        Target::Account {
            id,
            user_code: Some(user_code),
        }
    }
}

impl<'a> From<&'a AccountRecord> for Target<'a> {
    fn from(account: &'a AccountRecord) -> Self {
        Target::account(account.id, account.user_code.as_str())
    }
}

/// Writes one event in the caller's transaction, so it commits (or not)
/// together with the change it records.
pub(crate) async fn record(
    tx: &mut Tx,
    at: Timestamp,
    actor: &Actor,
    ctx: &RequestContext,
    target: Target<'_>,
    event: AuditEvent,
) -> Result<(), AppError> {
    let (target_account_id, target) = match target {
        Target::Nobody => (None, None),
        Target::Account { id, user_code } => (Some(id), user_code),
        Target::School(code) => (None, Some(code)),
    };
    let detail = event.detail();
    tx.insert_audit(&NewAuditEvent {
        at: at.0,
        event: event.name(),
        outcome: event.outcome().as_str(),
        actor: actor.label(),
        actor_account_id: actor.account_id(),
        target,
        target_account_id,
        ip: ctx.ip.as_deref(),
        user_agent: ctx.user_agent.as_deref(),
        detail: detail.as_deref(),
    })
    .await?;
    Ok(())
}

/// An audit entry as shown to operators.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub event: String,
    pub outcome: String,
    pub actor: String,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

/// Events newest first, optionally about one account (by user code).
pub async fn list(app: &App, user_code: Option<&str>, limit: i64) -> Result<Vec<AuditEntry>, AppError> {
    let mut tx = app.store.begin_read().await?;
    let account_id = match user_code {
        Some(code) => Some(crate::lookup::find_by_user_code(&mut tx, code).await?.id),
        None => None,
    };
    let records = tx.list_audit(&AuditFilter { account_id, limit }).await?;
    tx.commit().await?;
    Ok(records
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            at: Timestamp(r.at).to_rfc3339(),
            event: r.event,
            outcome: r.outcome,
            actor: r.actor,
            target: r.target,
            ip: r.ip,
            user_agent: r.user_agent,
            detail: r.detail,
        })
        .collect())
}
