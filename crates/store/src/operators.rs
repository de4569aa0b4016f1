//! The accounts that hold a role (operators and admins), for the admin console.

use sqlx::Row;
use varco_domain::{AccountId, Role};

use crate::{StoreError, Tx};

/// One role held by one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleHolder {
    /// The account.
    pub account_id: AccountId,
    /// Its user code.
    pub user_code: String,
    /// Its given name(s).
    pub first_name: String,
    /// Its family name(s).
    pub last_name: String,
    /// Its status (`active`, `pending_activation`, `disabled`).
    pub status: String,
    /// The code of the account's own school.
    pub own_school_code: String,
    /// The role.
    pub role: Role,
    /// The school the role is scoped to (`desk`), if any.
    pub school_code: Option<String>,
}

impl Tx {
    /// Every role grant with its account, by family name, given name, user
    /// code, role and school.
    pub async fn role_holders(&mut self) -> Result<Vec<RoleHolder>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.id, a.user_code, a.first_name, a.last_name, a.status, own.code AS own_school_code, \
             r.role, s.code AS school_code FROM account_roles r JOIN accounts a ON a.id = r.account_id \
             JOIN schools own ON own.id = a.school_id LEFT JOIN schools s ON s.id = r.school_id \
             ORDER BY a.last_name, a.first_name, a.user_code, r.role, s.code",
        )
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|row| {
                let role: String = row.try_get("role")?;
                Ok(RoleHolder {
                    account_id: AccountId(row.try_get("id")?),
                    user_code: row.try_get("user_code")?,
                    first_name: row.try_get("first_name")?,
                    last_name: row.try_get("last_name")?,
                    status: row.try_get("status")?,
                    own_school_code: row.try_get("own_school_code")?,
                    role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
                    school_code: row.try_get("school_code")?,
                })
            })
            .collect()
    }
}
