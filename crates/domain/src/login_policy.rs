//! Which ways in an account may use: a local password, SPID/CIE, or both,
//! and the day from which the password stops working.
//!
//! The law moved schools to SPID/CIE-only sign-in (DESIGN.md §1b), kind by
//! kind and with a notice period, so the policy is set per account kind (and
//! may be set per school). Two rules hold whatever the policy says:
//!
//! - an account holding the `desk` or `admin` role always keeps its password
//!   (the secretariat and the deployment's admins sign in where SPID/CIE may
//!   not reach, and later with a second factor);
//! - "password until" is an instant, the start (00:00, Europe/Rome) of the
//!   first day without passwords: before it the password works and people
//!   are told the date, from it on the password is refused.

use crate::account::Role;
use crate::clock::Timestamp;

/// A way to sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoginMethod {
    /// A local password (`password`).
    Password,
    /// SPID or CIE, the national digital identities (`spid_cie`).
    SpidCie,
}

impl LoginMethod {
    /// Every method, in declaration order.
    pub const ALL: &'static [LoginMethod] = &[LoginMethod::Password, LoginMethod::SpidCie];

    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginMethod::Password => "password",
            LoginMethod::SpidCie => "spid_cie",
        }
    }

    /// Reads a configuration spelling.
    pub fn parse(text: &str) -> Option<LoginMethod> {
        Self::ALL.iter().copied().find(|m| m.as_str() == text)
    }
}

/// The ways in of one account kind (at one school, or the deployment's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginPolicy {
    /// A local password is one of the methods.
    pub password: bool,
    /// SPID/CIE is one of the methods.
    pub spid_cie: bool,
    /// From this instant on the password no longer works (only meaningful
    /// with `password`); `None`: no end.
    pub password_ends_at: Option<Timestamp>,
}

impl Default for LoginPolicy {
    /// Both methods, no end date: Varco's behaviour before the policy existed.
    fn default() -> Self {
        LoginPolicy {
            password: true,
            spid_cie: true,
            password_ends_at: None,
        }
    }
}

/// Whether a password may be used to sign in (or be set) right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordLogin {
    /// It may; `until` is the announced end, if any (always in the future).
    Allowed {
        /// The instant from which it will be refused.
        until: Option<Timestamp>,
    },
    /// It may not: SPID/CIE only.
    Refused,
}

impl PasswordLogin {
    /// Whether a password may be used now.
    pub fn is_allowed(self) -> bool {
        matches!(self, PasswordLogin::Allowed { .. })
    }
}

impl LoginPolicy {
    /// A policy with only SPID/CIE.
    pub fn spid_cie_only() -> LoginPolicy {
        LoginPolicy {
            password: false,
            spid_cie: true,
            password_ends_at: None,
        }
    }

    /// What the policy says about passwords at `now`, before role exemptions.
    pub fn password_login(&self, now: Timestamp) -> PasswordLogin {
        match (self.password, self.password_ends_at) {
            (false, _) => PasswordLogin::Refused,
            (true, Some(end)) if now >= end => PasswordLogin::Refused,
            (true, until) => PasswordLogin::Allowed { until },
        }
    }

    /// What the policy says about the password of an account holding
    /// `roles` at `now`: desk operators and admins always keep theirs.
    pub fn password_login_for(&self, roles: &[Role], now: Timestamp) -> PasswordLogin {
        if keeps_password(roles) {
            PasswordLogin::Allowed { until: None }
        } else {
            self.password_login(now)
        }
    }
}

/// Whether an account with these roles keeps its password whatever the policy.
pub fn keeps_password(roles: &[Role]) -> bool {
    roles.iter().any(|r| matches!(r, Role::Desk | Role::Admin))
}

#[cfg(test)]
mod tests {
    use super::*;

    const END: Timestamp = Timestamp(1_800_000_000);

    #[test]
    fn methods_read_back() {
        for method in LoginMethod::ALL {
            assert_eq!(LoginMethod::parse(method.as_str()), Some(*method));
        }
        assert_eq!(LoginMethod::parse("spid"), None);
    }

    #[test]
    fn the_default_keeps_passwords_forever() {
        let policy = LoginPolicy::default();
        assert_eq!(policy.password_login(END), PasswordLogin::Allowed { until: None });
    }

    #[test]
    fn the_password_ends_at_the_instant_given() {
        let policy = LoginPolicy {
            password_ends_at: Some(END),
            ..LoginPolicy::default()
        };
        assert_eq!(
            policy.password_login(END.plus_secs(-1)),
            PasswordLogin::Allowed { until: Some(END) }
        );
        assert_eq!(policy.password_login(END), PasswordLogin::Refused);
        assert!(!policy.password_login(END.plus_secs(86_400)).is_allowed());
    }

    #[test]
    fn desk_operators_and_admins_keep_their_password() {
        let policy = LoginPolicy::spid_cie_only();
        assert_eq!(policy.password_login_for(&[], END), PasswordLogin::Refused);
        for role in [Role::Desk, Role::Admin] {
            assert_eq!(
                policy.password_login_for(&[role], END),
                PasswordLogin::Allowed { until: None }
            );
        }
    }
}
