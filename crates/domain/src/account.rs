//! The closed vocabularies that describe an account: what kind of person owns
//! it, whether it can be used, and what its owner may do.
//!
//! Invariant: each variant has exactly one lower-case snake-case spelling,
//! used alike in the database, JSON, configuration and the CLI; `as_str` and
//! `parse` are inverse, and serde uses the same spelling.

use std::fmt;

/// An unknown spelling of one of the account enums.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what}: {found:?}")]
pub struct UnknownVariant {
    /// Which vocabulary was being parsed ("account kind", "role", …).
    pub what: &'static str,
    /// The spelling that was not recognised.
    pub found: String,
}

macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $type:ident, $what:literal {
            $($(#[$variant_meta:meta])* $variant:ident => $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $type {
            $($(#[$variant_meta])* $variant),+
        }

        impl $type {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$type] = &[$($type::$variant),+];

            /// The stored spelling.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    $($type::$variant => $text),+
                }
            }

            /// The variant with this exact stored spelling.
            #[must_use]
            pub fn parse(text: &str) -> Option<$type> {
                match text {
                    $($text => Some($type::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $type {
            type Err = UnknownVariant;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                $type::parse(text).ok_or_else(|| UnknownVariant {
                    what: $what,
                    found: text.to_owned(),
                })
            }
        }
    };
}

/// For the other closed vocabularies of the crate (`outbox`, `lang`).
pub(crate) use vocabulary;

vocabulary! {
    /// Who owns the account: school staff or a student's family.
    AccountKind, "account kind" {
        /// Teachers and ATA staff.
        Staff => "staff",
        /// Parents and guardians.
        Family => "family",
    }
}

vocabulary! {
    /// Whether the account can sign in.
    AccountStatus, "account status" {
        /// Can sign in.
        Active => "active",
        /// Created, waiting for its owner to follow the activation link.
        PendingActivation => "pending_activation",
        /// Turned off by an administrator; its sessions are gone.
        Disabled => "disabled",
    }
}

vocabulary! {
    /// What the owner may do beyond managing their own account.
    Role, "role" {
        /// Secretariat operator: assisted recovery for their school(s).
        Desk => "desk",
        /// Administrator.
        Admin => "admin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for kind in AccountKind::ALL {
            assert_eq!(AccountKind::parse(kind.as_str()), Some(*kind));
            assert_eq!(kind.as_str().parse::<AccountKind>(), Ok(*kind));
        }
        for status in AccountStatus::ALL {
            assert_eq!(AccountStatus::parse(status.as_str()), Some(*status));
        }
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(*role));
        }
    }

    #[test]
    fn spellings_are_the_documented_ones() {
        assert_eq!(AccountKind::Staff.as_str(), "staff");
        assert_eq!(AccountKind::Family.as_str(), "family");
        assert_eq!(AccountStatus::Active.as_str(), "active");
        assert_eq!(AccountStatus::PendingActivation.as_str(), "pending_activation");
        assert_eq!(AccountStatus::Disabled.as_str(), "disabled");
        assert_eq!(Role::Desk.as_str(), "desk");
        assert_eq!(Role::Admin.to_string(), "admin");
    }

    #[test]
    fn serde_uses_the_same_spelling() {
        for status in AccountStatus::ALL {
            let json = serde_json::to_string(status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            let back: AccountStatus = serde_json::from_str(&json).unwrap();
            assert_eq!(back, *status);
        }
        assert_eq!(serde_json::to_string(&AccountKind::Family).unwrap(), "\"family\"");
        assert_eq!(serde_json::to_string(&Role::Desk).unwrap(), "\"desk\"");
    }

    #[test]
    fn unknown_spellings_are_refused() {
        assert_eq!(AccountKind::parse("Staff"), None);
        assert_eq!(AccountStatus::parse("pending-activation"), None);
        assert_eq!(Role::parse(""), None);
        let error = "teacher".parse::<Role>().unwrap_err();
        assert_eq!(error.to_string(), "unknown role: \"teacher\"");
    }
}
