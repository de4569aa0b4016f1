//! `[login]`: which ways in each kind of account may use, and from which day
//! the password stops working; per school when a school moves on its own date.
//!
//! ```toml
//! [login.staff]
//! methods = ["password", "spid_cie"]
//! password_until = "2026-09-30"      # first day without passwords (Europe/Rome)
//!
//! [login.family]
//! methods = ["spid_cie"]
//!
//! [login.schools.RMIC81200X.family]  # this school's families: its own policy
//! methods = ["password", "spid_cie"]
//! password_until = "2026-12-01"
//! ```
//!
//! A school's section for a kind replaces the deployment's section for that
//! kind whole (a key it leaves out takes the default, not the deployment's
//! value). Desk operators and admins keep their password whatever is set
//! here. Every mistake stops the start and names the key.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use varco_app::PerKind;
use varco_app::login_policy::{LoginPolicies, start_of_day};
use varco_domain::login_policy::{LoginMethod, LoginPolicy};
use varco_domain::school_code::SchoolCode;

use super::ConfigError;

/// The ways in of one account kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KindLoginConfig {
    /// `password`, `spid_cie`, or both.
    pub methods: Vec<String>,
    /// The first day (`YYYY-MM-DD`, Europe/Rome) on which the password no
    /// longer works; empty: no end. Needs both methods.
    pub password_until: String,
}

impl Default for KindLoginConfig {
    /// Both methods, no end date.
    fn default() -> Self {
        KindLoginConfig {
            methods: LoginMethod::ALL.iter().map(|m| m.as_str().to_owned()).collect(),
            password_until: String::new(),
        }
    }
}

impl KindLoginConfig {
    /// The policy, or an error naming the section `key`.
    fn policy(&self, key: &str) -> Result<LoginPolicy, ConfigError> {
        let invalid = |why: String| Err(ConfigError::Invalid(format!("{key}.{why}")));
        let names = LoginMethod::ALL
            .iter()
            .map(|m| format!("\"{}\"", m.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        if self.methods.is_empty() {
            return invalid(format!("methods must name at least one of {names}"));
        }
        let mut methods = Vec::new();
        for name in &self.methods {
            let Some(method) = LoginMethod::parse(name.trim()) else {
                return invalid(format!("methods: unknown method {name:?} (known: {names})"));
            };
            if methods.contains(&method) {
                return invalid(format!("methods names {name:?} twice"));
            }
            methods.push(method);
        }
        let password = methods.contains(&LoginMethod::Password);
        let spid_cie = methods.contains(&LoginMethod::SpidCie);
        let until = self.password_until.trim();
        let password_ends_at = if until.is_empty() {
            None
        } else if !password {
            return invalid("password_until is set but \"password\" is not among the methods".to_owned());
        } else if !spid_cie {
            return invalid(
                "password_until is set but \"spid_cie\" is not among the methods: from that day nobody could sign in"
                    .to_owned(),
            );
        } else {
            match start_of_day(until) {
                Ok(at) => Some(at),
                Err(why) => return invalid(format!("password_until: {why}")),
            }
        };
        Ok(LoginPolicy {
            password,
            spid_cie,
            password_ends_at,
        })
    }
}

/// A school's own policy for some kinds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchoolLoginConfig {
    /// The school's staff, if it sets their policy.
    pub staff: Option<KindLoginConfig>,
    /// The school's families, if it sets their policy.
    pub family: Option<KindLoginConfig>,
}

/// `[login]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginConfig {
    /// `[login.staff]`.
    pub staff: KindLoginConfig,
    /// `[login.family]`.
    pub family: KindLoginConfig,
    /// `[login.schools.CODE.staff]`, `[login.schools.CODE.family]`.
    pub schools: BTreeMap<String, SchoolLoginConfig>,
}

impl LoginConfig {
    /// The policies the use cases apply, or the first mistake.
    pub fn policies(&self) -> Result<LoginPolicies, ConfigError> {
        let mut schools = BTreeMap::new();
        for (code, school) in &self.schools {
            let parsed = SchoolCode::parse(code)
                .map_err(|e| ConfigError::Invalid(format!("login.schools.{code}: not a school code ({e})")))?;
            let key = format!("login.schools.{code}");
            let kind = |section: &Option<KindLoginConfig>, name: &str| {
                section.as_ref().map(|c| c.policy(&format!("{key}.{name}"))).transpose()
            };
            let policies = PerKind {
                staff: kind(&school.staff, "staff")?,
                family: kind(&school.family, "family")?,
            };
            if policies.staff.is_none() && policies.family.is_none() {
                return Err(ConfigError::Invalid(format!(
                    "{key} sets neither [{key}.staff] nor [{key}.family]"
                )));
            }
            schools.insert(parsed.as_str().to_owned(), policies);
        }
        Ok(LoginPolicies {
            default: PerKind {
                staff: self.staff.policy("login.staff")?,
                family: self.family.policy("login.family")?,
            },
            schools,
        })
    }
}

#[cfg(test)]
mod tests {
    use figment::Figment;
    use figment::providers::{Format, Serialized, Toml};
    use varco_domain::account::AccountKind;
    use varco_domain::clock::Timestamp;

    use super::super::Config;
    use super::*;

    fn load(toml: &str) -> Result<LoginPolicies, String> {
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(toml))
            .extract()
            .map_err(|e| e.to_string())?;
        config.check().map_err(|e| e.to_string())?;
        config.login.policies().map_err(|e| e.to_string())
    }

    #[test]
    fn the_default_is_both_methods_without_an_end() {
        let policies = load("").unwrap();
        assert_eq!(policies, LoginPolicies::default());
    }

    #[test]
    fn kinds_and_schools_load() {
        let policies = load(
            r#"
            [login.staff]
            password_until = "2026-09-30"
            [login.family]
            methods = ["spid_cie"]
            [login.schools.rmic81200x.family]
            methods = ["password", "spid_cie"]
            password_until = "2026-12-01"
            "#,
        )
        .unwrap();
        assert_eq!(
            policies.default.staff,
            LoginPolicy {
                password: true,
                spid_cie: true,
                password_ends_at: Some(Timestamp(1_790_719_200)),
            }
        );
        assert_eq!(policies.default.family, LoginPolicy::spid_cie_only());
        let school = policies.of(AccountKind::Family, "RMIC81200X");
        assert!(school.password && school.password_ends_at.is_some());
        assert_eq!(
            *policies.of(AccountKind::Staff, "RMIC81200X"),
            policies.default.staff,
            "the school did not set its staff"
        );
    }

    #[test]
    fn mistakes_stop_the_start_and_name_the_key() {
        for (toml, expected) in [
            (
                "[login.family]\nmethods = []",
                "login.family.methods must name at least one",
            ),
            (
                "[login.family]\nmethods = [\"spid\"]",
                "login.family.methods: unknown method \"spid\"",
            ),
            (
                "[login.staff]\nmethods = [\"password\", \"password\"]",
                "login.staff.methods names \"password\" twice",
            ),
            (
                "[login.staff]\npassword_until = \"30/09/2026\"",
                "login.staff.password_until: \"30/09/2026\" is not a date",
            ),
            (
                "[login.staff]\npassword_until = \"2026-02-30\"",
                "login.staff.password_until",
            ),
            (
                "[login.family]\nmethods = [\"spid_cie\"]\npassword_until = \"2026-09-30\"",
                "\"password\" is not among the methods",
            ),
            (
                "[login.family]\nmethods = [\"password\"]\npassword_until = \"2026-09-30\"",
                "nobody could sign in",
            ),
            (
                "[login.schools.NOTACODE.family]\nmethods = [\"spid_cie\"]",
                "login.schools.NOTACODE: not a school code",
            ),
            (
                "[login.schools.RMIC81200X.family]\nmethods = [\"sms\"]",
                "login.schools.RMIC81200X.family.methods: unknown method",
            ),
            ("[login.family]\nmetods = [\"spid_cie\"]", "metods"),
        ] {
            let error = load(toml).expect_err(toml);
            assert!(error.contains(expected), "{toml}: {error}");
        }
    }
}
