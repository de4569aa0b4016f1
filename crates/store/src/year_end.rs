//! The school year's end: a school's accounts as a roster import compares
//! them, and the dates on which accounts missing from a new roster are
//! disabled.

use sqlx::Row;
use varco_domain::clock::Timestamp;
use varco_domain::{AccountId, AccountKind, AccountStatus, SchoolId, UserCode};

use crate::{Store, StoreError, Tx};

/// One account of a school, with what a roster import compares and what a
/// year-end import needs to decide whether it may be disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterAccount {
    /// Row id.
    pub id: AccountId,
    /// The code the owner signs in with.
    pub user_code: UserCode,
    /// Codice fiscale as stored (upper case).
    pub tax_code: String,
    /// Staff or family.
    pub kind: AccountKind,
    /// Given name(s).
    pub first_name: String,
    /// Family name(s).
    pub last_name: String,
    /// Contact address, if any.
    pub email: Option<String>,
    /// Whether the account can sign in.
    pub status: AccountStatus,
    /// The date it will be disabled, if a year-end import set one.
    pub disable_at: Option<Timestamp>,
    /// Whether it holds a desk or admin role (of any school).
    pub operator: bool,
}

impl Tx {
    /// Every account of a school, by user code.
    pub async fn roster_accounts(&mut self, school_id: SchoolId) -> Result<Vec<RosterAccount>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.id, a.user_code, a.tax_code, a.kind, a.first_name, a.last_name, a.email, a.status, \
             a.disable_at, (SELECT COUNT(*) FROM account_roles r WHERE r.account_id = a.id) AS roles \
             FROM accounts a WHERE a.school_id = $1 ORDER BY a.last_name, a.first_name, a.user_code",
        )
        .bind(school_id.0)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|row| {
                let id = AccountId(row.try_get("id")?);
                let corrupt = |what: &str| StoreError::Corrupt(format!("account {}: {what} does not parse", id.0));
                let user_code: String = row.try_get("user_code")?;
                let kind: String = row.try_get("kind")?;
                let status: String = row.try_get("status")?;
                Ok(RosterAccount {
                    id,
                    user_code: UserCode::parse(&user_code).map_err(|_| corrupt("user code"))?,
                    tax_code: row.try_get("tax_code")?,
                    kind: AccountKind::parse(&kind).ok_or_else(|| corrupt("kind"))?,
                    first_name: row.try_get("first_name")?,
                    last_name: row.try_get("last_name")?,
                    email: row.try_get("email")?,
                    status: AccountStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
                    disable_at: row.try_get::<Option<i64>, _>("disable_at")?.map(Timestamp),
                    operator: row.try_get::<i64, _>("roles")? > 0,
                })
            })
            .collect()
    }

    /// Sets (or with `None` clears) the date an account will be disabled;
    /// returns whether it changed.
    pub async fn set_disable_at(&mut self, id: AccountId, at: Option<Timestamp>) -> Result<bool, StoreError> {
        let result =
            sqlx::query("UPDATE accounts SET disable_at = $2 WHERE id = $1 AND disable_at IS DISTINCT FROM $2")
                .bind(id.0)
                .bind(at.map(|t| t.0))
                .execute(self.conn())
                .await?;
        Ok(result.rows_affected() > 0)
    }

    /// The date an account will be disabled, if one is set.
    pub async fn disable_at(&mut self, id: AccountId) -> Result<Option<Timestamp>, StoreError> {
        let row = sqlx::query("SELECT disable_at FROM accounts WHERE id = $1")
            .bind(id.0)
            .fetch_optional(self.conn())
            .await?;
        Ok(match row {
            Some(row) => row.try_get::<Option<i64>, _>("disable_at")?.map(Timestamp),
            None => None,
        })
    }
}

impl Store {
    /// Up to `limit` accounts whose disable date has come (`≤ now`), oldest
    /// date first.
    pub async fn accounts_due_for_disable(&self, now: Timestamp, limit: i64) -> Result<Vec<AccountId>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM accounts WHERE disable_at IS NOT NULL AND disable_at <= $1 ORDER BY disable_at, id LIMIT $2",
        )
        .bind(now.0)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(AccountId(r.try_get("id")?))).collect()
    }
}
