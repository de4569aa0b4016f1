//! The audit log of credential events. Append-only; never holds a secret
//! (callers pass event names, outcomes and non-secret details only).

use sqlx::Row;
use sqlx::any::AnyRow;

use varco_domain::AccountId;

use crate::{StoreError, Tx};

/// One row of the audit log, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Row id (grows with time).
    pub id: i64,
    /// When it happened, unix seconds.
    pub at: i64,
    /// The event's stable name (`varco_domain::AuditEvent::name`).
    pub event: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// Who acted: `cli`, `system`, `anonymous`, or the actor's user code.
    pub actor: String,
    /// The acting account, when an account acted.
    pub actor_account_id: Option<AccountId>,
    /// What the event is about: a user code or a school code, if any.
    pub target: Option<String>,
    /// The account the event is about, if any.
    pub target_account_id: Option<AccountId>,
    /// Client address, when the event came over HTTP.
    pub ip: Option<String>,
    /// Client's User-Agent, when the event came over HTTP.
    pub user_agent: Option<String>,
    /// Short non-secret facts (`key=value`), if any.
    pub detail: Option<String>,
}

/// An audit row to append (see [`Tx::insert_audit`]); the fields are those of [`AuditRecord`].
#[derive(Debug, Clone, Default)]
pub struct NewAuditEvent<'a> {
    /// When it happened, unix seconds.
    pub at: i64,
    /// The event's stable name.
    pub event: &'a str,
    /// `success` or `failure`.
    pub outcome: &'a str,
    /// Who acted: `cli`, `system`, `anonymous`, or the actor's user code.
    pub actor: &'a str,
    /// The acting account, when an account acted.
    pub actor_account_id: Option<AccountId>,
    /// What the event is about: a user code or a school code, if any.
    pub target: Option<&'a str>,
    /// The account the event is about, if any.
    pub target_account_id: Option<AccountId>,
    /// Client address, if known.
    pub ip: Option<&'a str>,
    /// Client's User-Agent, if known.
    pub user_agent: Option<&'a str>,
    /// Short non-secret facts, if any.
    pub detail: Option<&'a str>,
}

/// Which events [`Tx::list_audit`] returns.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only events where this account is actor or target, if set.
    pub account_id: Option<AccountId>,
    /// At most this many (the newest).
    pub limit: i64,
}

pub(crate) fn from_row(row: &AnyRow) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        event: row.try_get("event")?,
        outcome: row.try_get("outcome")?,
        actor: row.try_get("actor")?,
        actor_account_id: row.try_get::<Option<i64>, _>("actor_account_id")?.map(AccountId),
        target: row.try_get("target")?,
        target_account_id: row.try_get::<Option<i64>, _>("target_account_id")?.map(AccountId),
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
        detail: row.try_get("detail")?,
    })
}

impl Tx {
    /// Appends one event in the caller's transaction, so it commits or rolls back with the
    /// change it records.
    pub async fn insert_audit(&mut self, e: &NewAuditEvent<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_events (at, event, outcome, actor, actor_account_id, target, target_account_id, \
             ip, user_agent, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(e.at)
        .bind(e.event)
        .bind(e.outcome)
        .bind(e.actor)
        .bind(e.actor_account_id.map(|a| a.0))
        .bind(e.target)
        .bind(e.target_account_id.map(|a| a.0))
        .bind(e.ip)
        .bind(e.user_agent)
        .bind(e.detail)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// How many events named `event` with exactly `detail` were recorded
    /// about an account since `since` (unix seconds): a throttle for what
    /// leaves no other trace (a message that carries no link).
    pub async fn count_audit_since(
        &mut self,
        account_id: AccountId,
        event: &str,
        detail: &str,
        since: i64,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_events WHERE target_account_id = $1 AND event = $2 AND detail = $3 \
             AND at >= $4",
        )
        .bind(account_id.0)
        .bind(event)
        .bind(detail)
        .bind(since)
        .fetch_one(self.conn())
        .await?)
    }

    /// Events newest first; for one account, those where it is actor or target.
    pub async fn list_audit(&mut self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, event, outcome, actor, actor_account_id, target, target_account_id, ip, user_agent, detail \
             FROM audit_events WHERE ($1 IS NULL OR target_account_id = $1 OR actor_account_id = $1) \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(filter.account_id.map(|a| a.0))
        .bind(filter.limit)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(from_row).collect()
    }
}
