//! Typed row ids: an account, a sign-in session and a school are each named by
//! a number the database hands out, and these newtypes keep one from being
//! passed where another is expected.
//!
//! Invariant: an id is only ever a number the store returned (or one read back
//! from a form, a path or the CLI and then looked up); nothing here checks
//! that the row exists. Each id serialises as its bare number
//! (`#[serde(transparent)]`), so JSON shapes are the same as with an `i64`.

use std::fmt;

macro_rules! row_id {
    ($(#[$meta:meta])* $type:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $type(pub i64);

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl std::str::FromStr for $type {
            type Err = std::num::ParseIntError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                text.parse().map($type)
            }
        }
    };
}

row_id! {
    /// The row id of an account.
    AccountId
}

row_id! {
    /// The row id of a signed-in session (not the secret its cookie carries).
    SessionId
}

row_id! {
    /// The row id of a school (not its codice meccanografico).
    SchoolId
}

row_id! {
    /// The row id of a student (not their tax code, nor the opaque id the
    /// `students` claim is computed from).
    StudentId
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialise_and_print_as_bare_numbers() {
        assert_eq!(serde_json::to_string(&AccountId(42)).unwrap(), "42");
        assert_eq!(serde_json::from_str::<SessionId>("7").unwrap(), SessionId(7));
        assert_eq!(
            serde_json::to_string(&Some(SchoolId(3))).unwrap(),
            serde_json::to_string(&Some(3_i64)).unwrap()
        );
        assert_eq!(AccountId(-5).to_string(), "-5");
        assert_eq!("12".parse::<SchoolId>(), Ok(SchoolId(12)));
        assert!("x12".parse::<AccountId>().is_err());
        assert!(AccountId(1) < AccountId(2));
    }
}
