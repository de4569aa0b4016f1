//! Role grants: `desk` scoped to a school, `admin` for the deployment.

use sqlx::Row;
use varco_domain::clock::Timestamp;
use varco_domain::{AccountId, Role, SchoolId};

use crate::{StoreError, Tx};

/// A role an account holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleGrant {
    /// Which role.
    pub role: Role,
    /// The school it is scoped to (`desk`), or `None` (`admin`).
    pub school_id: Option<SchoolId>,
    /// That school's code.
    pub school_code: Option<String>,
}

impl Tx {
    /// Grants a role; returns false when the account already had it.
    pub async fn grant_role(
        &mut self,
        account_id: AccountId,
        role: Role,
        school_id: Option<SchoolId>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO account_roles (account_id, role, school_id, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(account_id.0)
        .bind(role.as_str())
        .bind(school_id.map(|s| s.0))
        .bind(now.0)
        .execute(self.conn())
        .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Revokes a role; returns false when the account did not have it.
    pub async fn revoke_role(
        &mut self,
        account_id: AccountId,
        role: Role,
        school_id: Option<SchoolId>,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "DELETE FROM account_roles WHERE account_id = $1 AND role = $2 \
             AND coalesce(school_id, 0) = coalesce($3, 0)",
        )
        .bind(account_id.0)
        .bind(role.as_str())
        .bind(school_id.map(|s| s.0))
        .execute(self.conn())
        .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Every role the account holds, by role then school code; empty for a missing account.
    /// Takes no lock.
    pub async fn roles_of(&mut self, account_id: AccountId) -> Result<Vec<RoleGrant>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.role, r.school_id, s.code AS school_code FROM account_roles r \
             LEFT JOIN schools s ON s.id = r.school_id WHERE r.account_id = $1 ORDER BY r.role, s.code",
        )
        .bind(account_id.0)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|row| {
                let role: String = row.try_get("role")?;
                Ok(RoleGrant {
                    role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
                    school_id: row.try_get::<Option<i64>, _>("school_id")?.map(SchoolId),
                    school_code: row.try_get("school_code")?,
                })
            })
            .collect()
    }

    /// How many accounts hold the admin role and are not disabled.
    pub async fn count_admins(&mut self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM account_roles r JOIN accounts a ON a.id = r.account_id \
             WHERE r.role = 'admin' AND a.status <> 'disabled'",
        )
        .fetch_one(self.conn())
        .await?)
    }
}
