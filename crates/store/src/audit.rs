//! The audit log of credential events. Append-only; never holds a secret
//! (callers pass event names, outcomes and non-secret details only).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{StoreError, Tx};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub at: i64,
    pub event: String,
    pub outcome: String,
    pub actor: String,
    pub actor_account_id: Option<i64>,
    pub target: Option<String>,
    pub target_account_id: Option<i64>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct NewAuditEvent<'a> {
    pub at: i64,
    pub event: &'a str,
    pub outcome: &'a str,
    pub actor: &'a str,
    pub actor_account_id: Option<i64>,
    pub target: Option<&'a str>,
    pub target_account_id: Option<i64>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub detail: Option<&'a str>,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub account_id: Option<i64>,
    pub limit: i64,
}

fn from_row(row: &AnyRow) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        event: row.try_get("event")?,
        outcome: row.try_get("outcome")?,
        actor: row.try_get("actor")?,
        actor_account_id: row.try_get("actor_account_id")?,
        target: row.try_get("target")?,
        target_account_id: row.try_get("target_account_id")?,
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
        detail: row.try_get("detail")?,
    })
}

impl Tx {
    pub async fn insert_audit(&mut self, e: &NewAuditEvent<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_events (at, event, outcome, actor, actor_account_id, target, target_account_id, \
             ip, user_agent, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(e.at)
        .bind(e.event)
        .bind(e.outcome)
        .bind(e.actor)
        .bind(e.actor_account_id)
        .bind(e.target)
        .bind(e.target_account_id)
        .bind(e.ip)
        .bind(e.user_agent)
        .bind(e.detail)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Events newest first; for one account, those where it is actor or target.
    pub async fn list_audit(&mut self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, event, outcome, actor, actor_account_id, target, target_account_id, ip, user_agent, detail \
             FROM audit_events WHERE ($1 IS NULL OR target_account_id = $1 OR actor_account_id = $1) \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(filter.account_id)
        .bind(filter.limit)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(from_row).collect()
    }
}
