//! Writing and reading the audit log of credential events.
//!
//! Event names are stable strings (`login`, `logout`, `account_locked`,
//! `account_created`, ...) because operators grep and script against them.
//! Details are short, non-secret key facts; passwords, tokens and session ids
//! never reach this module.

use serde::Serialize;
use varco_domain::clock::Timestamp;
use varco_store::{AuditFilter, NewAuditEvent, Tx};

use crate::{Actor, App, AppError, RequestContext};

/// One event to record.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub name: &'a str,
    pub outcome: Outcome,
    pub target_account_id: Option<i64>,
    pub target: Option<&'a str>,
    pub detail: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

pub(crate) async fn record(
    tx: &mut Tx,
    at: Timestamp,
    actor: &Actor,
    ctx: &RequestContext,
    event: Event<'_>,
) -> Result<(), AppError> {
    tx.insert_audit(&NewAuditEvent {
        at: at.0,
        event: event.name,
        outcome: event.outcome.as_str(),
        actor: actor.label(),
        actor_account_id: actor.account_id(),
        target: event.target,
        target_account_id: event.target_account_id,
        ip: ctx.ip.as_deref(),
        user_agent: ctx.user_agent.as_deref(),
        detail: event.detail,
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
        Some(code) => Some(crate::accounts::find_by_user_code(&mut tx, code).await?.id),
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
