//! Searching the audit log for the admin console: by account (actor or
//! target), event name, time range and school, a page at a time.

use varco_domain::{AccountId, SchoolId};

use crate::audit::from_row;
use crate::{AuditRecord, StoreError, Tx};

/// Which events [`Tx::search_audit`] returns; every `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct AuditSearch<'a> {
    /// Only events where this account is actor or target.
    pub account_id: Option<AccountId>,
    /// Only events with this stable name.
    pub event: Option<&'a str>,
    /// Only events at or after this time (unix seconds).
    pub from: Option<i64>,
    /// Only events before this time (unix seconds).
    pub until: Option<i64>,
    /// Only events about the school (its code as target) or about or by
    /// one of its accounts.
    pub school: Option<(SchoolId, &'a str)>,
    /// Skip this many (newest first).
    pub offset: i64,
    /// At most this many.
    pub limit: i64,
}

impl Tx {
    /// The events matching `search`, newest first.
    pub async fn search_audit(&mut self, search: &AuditSearch<'_>) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, event, outcome, actor, actor_account_id, target, target_account_id, ip, user_agent, detail \
             FROM audit_events WHERE ($1 IS NULL OR target_account_id = $1 OR actor_account_id = $1) \
             AND ($2 IS NULL OR event = $2) AND ($3 IS NULL OR at >= $3) AND ($4 IS NULL OR at < $4) \
             AND ($5 IS NULL OR target = $6 \
                  OR target_account_id IN (SELECT id FROM accounts WHERE school_id = $5) \
                  OR actor_account_id IN (SELECT id FROM accounts WHERE school_id = $5)) \
             ORDER BY id DESC LIMIT $7 OFFSET $8",
        )
        .bind(search.account_id.map(|a| a.0))
        .bind(search.event)
        .bind(search.from)
        .bind(search.until)
        .bind(search.school.map(|(id, _)| id.0))
        .bind(search.school.map(|(_, code)| code))
        .bind(search.limit)
        .bind(search.offset)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(from_row).collect()
    }
}
