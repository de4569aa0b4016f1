//! Accounts as the outside sees them: their owner, the API and operators.
//! Part of the lower layer of `app`.

use serde::Serialize;
use varco_domain::account::{AccountKind, AccountStatus, Role};
use varco_domain::password::ExpiryStatus;
use varco_store::{AccountRecord, RoleGrant};

use crate::App;
use crate::login_policy::{PasswordNotice, password_login, password_notice};
use crate::policy::{expiry_status, must_change};

/// An account as shown to its owner, the API and operators. No secret.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AccountView {
    pub user_code: String,
    pub kind: AccountKind,
    pub first_name: String,
    pub last_name: String,
    pub tax_code: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub username: Option<String>,
    pub status: AccountStatus,
    pub school: SchoolRef,
    pub roles: Vec<RoleView>,
    pub has_password: bool,
    /// The password has expired or a change was forced: the next session may
    /// only change it.
    pub password_change_required: bool,
    /// Days until the password expires (0: expired); `None` when it never does.
    pub password_expires_in_days: Option<u32>,
    /// Whether the login policy lets this account use a password, and until when.
    pub password_login: PasswordNotice,
    pub locked: bool,
    /// Failed logins counted since the last right password (before old ones fade).
    pub failed_logins: u32,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SchoolRef {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RoleView {
    pub role: Role,
    pub school: Option<String>,
}

pub(crate) fn view(app: &App, record: &AccountRecord, roles: &[RoleGrant]) -> AccountView {
    AccountView {
        user_code: record.user_code.to_string(),
        kind: record.kind,
        first_name: record.first_name.clone(),
        last_name: record.last_name.clone(),
        tax_code: record.tax_code.to_string(),
        email: record.email.as_ref().map(ToString::to_string),
        email_verified: record.email_verified,
        username: record.username.clone(),
        status: record.status,
        school: SchoolRef {
            code: record.school_code.clone(),
            name: record.school_name.clone(),
        },
        roles: roles
            .iter()
            .map(|g| RoleView {
                role: g.role,
                school: g.school_code.clone(),
            })
            .collect(),
        has_password: record.password_hash.is_some(),
        password_change_required: must_change(app, record, app.now()),
        password_expires_in_days: match expiry_status(app, record, app.now()) {
            ExpiryStatus::Valid { days_left } => Some(days_left),
            ExpiryStatus::Expired => Some(0),
            ExpiryStatus::NoExpiry => None,
        },
        password_login: password_notice(password_login(app, record, roles, app.now())),
        locked: record.blocked_until.is_some_and(|until| until > app.now()),
        failed_logins: record.failed_logins,
        created_at: record.created_at.to_rfc3339(),
    }
}
