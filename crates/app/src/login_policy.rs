//! The login policy of each account: which ways in it may use (a password,
//! SPID/CIE, or both) and from when the password stops working, per account
//! kind with per-school overrides. The rule itself is
//! [`varco_domain::login_policy`]; this module picks the policy of an
//! account and says what the pages should announce. Part of the lower
//! layer of `app`.
//!
//! Where a password is refused by the policy:
//! - login: only *after* the password matched (see `crate::login`), so the
//!   refusal tells nothing to someone who does not know the password;
//! - forgot password: no link, and the message explains SPID/CIE instead
//!   (the requester's answer is the same as ever);
//! - reset, activation and change: no new password is stored.
//!
//! Desk operators and admins keep their password whatever the policy.

use std::collections::BTreeMap;

use serde::Serialize;
use varco_domain::account::AccountKind;
use varco_domain::clock::Timestamp;
use varco_domain::login_policy::{LoginPolicy, PasswordLogin};
use varco_store::{AccountRecord, RoleGrant, Tx};

use crate::mail::{SCHOOL_TIME_ZONE, format_date};
use crate::{App, AppError, PerKind};

/// The login policies of the deployment: one per account kind, and the
/// schools that set their own for a kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginPolicies {
    /// The deployment's policy of each kind.
    pub default: PerKind<LoginPolicy>,
    /// By school code: the kinds whose policy the school sets itself (a
    /// school's policy of a kind replaces the deployment's whole).
    pub schools: BTreeMap<String, PerKind<Option<LoginPolicy>>>,
}

impl Default for LoginPolicies {
    /// Both methods for every kind, no end date: nothing changes.
    fn default() -> Self {
        LoginPolicies {
            default: PerKind {
                staff: LoginPolicy::default(),
                family: LoginPolicy::default(),
            },
            schools: BTreeMap::new(),
        }
    }
}

impl LoginPolicies {
    /// The policy of a kind of account at a school.
    pub fn of(&self, kind: AccountKind, school_code: &str) -> &LoginPolicy {
        self.schools
            .get(school_code)
            .and_then(|school| school.get(kind).as_ref())
            .unwrap_or_else(|| self.default.get(kind))
    }
}

/// The instant passwords end on `date` (`YYYY-MM-DD`): the start of that
/// day in the schools' zone (Europe/Rome).
pub fn start_of_day(date: &str) -> Result<Timestamp, String> {
    let day: jiff::civil::Date = date
        .trim()
        .parse()
        .map_err(|_| format!("{date:?} is not a date like 2026-09-30"))?;
    let zone = jiff::tz::TimeZone::get(SCHOOL_TIME_ZONE).map_err(|e| format!("time zone: {e}"))?;
    let start = day
        .to_zoned(zone)
        .map_err(|e| format!("{date:?}: {e}"))?
        .start_of_day()
        .map_err(|e| format!("{date:?}: {e}"))?;
    Ok(Timestamp(start.timestamp().as_second()))
}

/// What the policy says about this account's password at `now`.
pub(crate) fn password_login(app: &App, account: &AccountRecord, roles: &[RoleGrant], now: Timestamp) -> PasswordLogin {
    let roles: Vec<_> = roles.iter().map(|g| g.role).collect();
    app.settings
        .login
        .of(account.kind, &account.school_code)
        .password_login_for(&roles, now)
}

/// The same, reading the account's roles in `tx`.
pub(crate) async fn password_login_in(
    tx: &mut Tx,
    app: &App,
    account: &AccountRecord,
    now: Timestamp,
) -> Result<PasswordLogin, AppError> {
    let roles = tx.roles_of(account.id).await?;
    Ok(password_login(app, account, &roles, now))
}

/// Refuses a new password for an account the policy keeps to SPID/CIE.
pub(crate) async fn ensure_password_allowed(app: &App, account: &AccountRecord) -> Result<(), AppError> {
    let mut tx = app.store.begin_read().await?;
    let login = password_login_in(&mut tx, app, account, app.now()).await?;
    tx.commit().await?;
    if login.is_allowed() {
        Ok(())
    } else {
        Err(AppError::PasswordNotAllowed)
    }
}

/// What the sign-in page announces for one kind of account, from the
/// deployment's policy (before sign-in the page knows neither the person's
/// kind nor their school).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KindNotice {
    /// `staff` or `family`.
    pub kind: AccountKind,
    /// The first day without passwords as people read it (`30/09/2026`)
    /// while it is still ahead; `None` when passwords already ended (or
    /// were never offered).
    pub from: Option<String>,
}

/// What the sign-in page announces about passwords ending.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SignInNotices {
    /// The kinds whose password ends (or has ended), staff first.
    pub kinds: Vec<KindNotice>,
    /// Some schools set their own policy: their people should look at their
    /// account page for their date.
    pub schools_differ: bool,
}

impl SignInNotices {
    /// Whether there is anything to announce.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty() && !self.schools_differ
    }
}

/// The notices of the sign-in page at `now`.
pub fn sign_in_notices(app: &App) -> SignInNotices {
    let now = app.now();
    let policies = &app.settings.login;
    let kinds = [AccountKind::Staff, AccountKind::Family]
        .into_iter()
        .filter_map(|kind| match policies.default.get(kind).password_login(now) {
            PasswordLogin::Allowed { until: None } => None,
            PasswordLogin::Allowed { until: Some(end) } => Some(KindNotice {
                kind,
                from: Some(format_date(end)),
            }),
            PasswordLogin::Refused => Some(KindNotice { kind, from: None }),
        })
        .collect();
    SignInNotices {
        kinds,
        schools_differ: !policies.schools.is_empty(),
    }
}

/// What an account's own page says about its password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PasswordNotice {
    /// The password works, with no end announced.
    Allowed,
    /// The password works until `from` (the first day without it, `30/09/2026`).
    EndsOn {
        /// The first day without passwords, as people read it.
        from: String,
    },
    /// SPID/CIE only.
    SpidCieOnly,
}

pub(crate) fn password_notice(login: PasswordLogin) -> PasswordNotice {
    match login {
        PasswordLogin::Allowed { until: None } => PasswordNotice::Allowed,
        PasswordLogin::Allowed { until: Some(end) } => PasswordNotice::EndsOn { from: format_date(end) },
        PasswordLogin::Refused => PasswordNotice::SpidCieOnly,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_end_at_midnight_in_rome() {
        // 2026-09-30 00:00 in Rome (CEST, UTC+2) is 2026-09-29 22:00 UTC.
        assert_eq!(start_of_day("2026-09-30").unwrap(), Timestamp(1_790_719_200));
        // In winter Rome is UTC+1: 2027-01-15 00:00 is 2027-01-14 23:00 UTC.
        assert_eq!(start_of_day("2027-01-15").unwrap(), Timestamp(1_799_967_600));
        assert_eq!(format_date(start_of_day("2026-09-30").unwrap()), "30/09/2026");
        assert_eq!(format_date(start_of_day("2027-01-15").unwrap()), "15/01/2027");
        for bad in ["2026-02-30", "30/09/2026", "2026-9-30x", ""] {
            assert!(start_of_day(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_school_policy_replaces_the_deployments_for_its_kind_only() {
        let mut policies = LoginPolicies::default();
        policies.schools.insert(
            "RMIC81200X".into(),
            PerKind {
                staff: None,
                family: Some(LoginPolicy::spid_cie_only()),
            },
        );
        assert_eq!(
            *policies.of(AccountKind::Family, "RMIC81200X"),
            LoginPolicy::spid_cie_only()
        );
        assert_eq!(*policies.of(AccountKind::Staff, "RMIC81200X"), LoginPolicy::default());
        assert_eq!(*policies.of(AccountKind::Family, "MIIC80000A"), LoginPolicy::default());
    }
}
