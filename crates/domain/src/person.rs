//! People's names and login names.
//!
//! Invariants: a [`PersonName`] is 1–100 characters, NFC-normalised, with no
//! control characters, no leading or trailing whitespace and single spaces
//! between words. A [`Username`] is 3–64 characters of `a-z 0-9 . _ -`,
//! starts with a letter or digit, and is never something that parses as a
//! [`UserCode`] or looks like an email address — so whatever a user types in
//! the login box means exactly one kind of identifier.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

use crate::user_code::UserCode;

/// Longest name, in characters.
const MAX_NAME_CHARS: usize = 100;

/// Shortest and longest username, in characters.
const USERNAME_CHARS: std::ops::RangeInclusive<usize> = 3..=64;

/// Why a string is not a person's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PersonNameError {
    /// Nothing but whitespace.
    #[error("the name is empty")]
    Empty,
    /// Over 100 characters.
    #[error("the name is longer than 100 characters")]
    TooLong,
    /// Contains control characters.
    #[error("the name contains characters that are not allowed")]
    Invalid,
}

/// A person's given name or surname, tidied for display and comparison.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

impl PersonName {
    /// Parses user input: NFC-normalises, trims and collapses runs of
    /// whitespace (tabs and newlines included) to one space.
    pub fn parse(input: &str) -> Result<PersonName, PersonNameError> {
        let normalised: String = input.nfc().collect();
        let name = normalised.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() {
            return Err(PersonNameError::Empty);
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(PersonNameError::TooLong);
        }
        if name.chars().any(char::is_control) {
            return Err(PersonNameError::Invalid);
        }
        Ok(PersonName(name))
    }

    /// The tidied name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a string is not a username.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    /// Fewer than 3 or more than 64 characters.
    #[error("a username has 3 to 64 characters")]
    Length,
    /// A character outside `a-z 0-9 . _ -`, or a first character that is not
    /// a letter or digit.
    #[error("a username uses only letters a-z, digits, dot, underscore and dash, and starts with a letter or digit")]
    Character,
    /// It would be read as a user code at login.
    #[error("a username cannot have the form of a user code")]
    LooksLikeUserCode,
}

/// A login name, lower case.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    /// Parses user input: trims and lower-cases, then checks length,
    /// characters and that it cannot be mistaken for a user code.
    pub fn parse(input: &str) -> Result<Username, UsernameError> {
        let name = input.trim().to_lowercase();
        if !USERNAME_CHARS.contains(&name.chars().count()) {
            return Err(UsernameError::Length);
        }
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
        let starts_well = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !starts_well || !name.chars().all(allowed) {
            return Err(UsernameError::Character);
        }
        if UserCode::parse(&name).is_ok() {
            return Err(UsernameError::LooksLikeUserCode);
        }
        Ok(Username(name))
    }

    /// The username, lower case.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_value {
    ($type:ident, $error:ident) => {
        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $type {
            type Err = $error;

            fn from_str(input: &str) -> Result<Self, Self::Err> {
                $type::parse(input)
            }
        }

        impl TryFrom<String> for $type {
            type Error = $error;

            fn try_from(input: String) -> Result<Self, Self::Error> {
                $type::parse(&input)
            }
        }

        impl From<$type> for String {
            fn from(value: $type) -> String {
                value.0
            }
        }

        impl AsRef<str> for $type {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_value!(PersonName, PersonNameError);
string_value!(Username, UsernameError);

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn names_are_tidied() {
        let name = PersonName::parse("  Maria \t Grazia\n  De  Luca ").unwrap();
        assert_eq!(name.as_str(), "Maria Grazia De Luca");
        assert_eq!(name.to_string(), "Maria Grazia De Luca");
        assert_eq!(PersonName::parse("D'Amico").unwrap().as_str(), "D'Amico");
    }

    #[test]
    fn names_typed_with_combining_accents_compare_equal() {
        assert_eq!(
            PersonName::parse("Nicol\u{e0}").unwrap(),
            PersonName::parse("Nicola\u{300}").unwrap()
        );
    }

    #[test]
    fn name_errors() {
        assert_eq!(PersonName::parse(""), Err(PersonNameError::Empty));
        assert_eq!(PersonName::parse(" \t\n"), Err(PersonNameError::Empty));
        assert_eq!(PersonName::parse("Ma\u{0}ria"), Err(PersonNameError::Invalid));
        assert_eq!(PersonName::parse("Ma\u{1b}[31mria"), Err(PersonNameError::Invalid));
        let hundred = "à".repeat(100);
        assert!(PersonName::parse(&hundred).is_ok());
        let long = "à".repeat(101);
        assert_eq!(PersonName::parse(&long), Err(PersonNameError::TooLong));
        // Collapsing happens before counting.
        assert!(PersonName::parse(&format!("{}     {}", "a".repeat(49), "b".repeat(50))).is_ok());
    }

    #[test]
    fn usernames_are_lower_cased() {
        let name = Username::parse("  Mario.Rossi_2 ").unwrap();
        assert_eq!(name.as_str(), "mario.rossi_2");
        assert_eq!(name.to_string(), "mario.rossi_2");
        assert!(Username::parse("abc").is_ok());
        assert!(Username::parse("9-lives").is_ok());
    }

    #[test]
    fn username_length() {
        assert_eq!(Username::parse("ab"), Err(UsernameError::Length));
        assert_eq!(Username::parse("   "), Err(UsernameError::Length));
        assert!(Username::parse(&"a".repeat(64)).is_ok());
        assert_eq!(Username::parse(&"a".repeat(65)), Err(UsernameError::Length));
    }

    #[test]
    fn username_characters() {
        for input in [
            "mario@example.it",
            "mario rossi",
            "màrio",
            ".mario",
            "_mario",
            "-mario",
            "mario!",
        ] {
            assert_eq!(Username::parse(input), Err(UsernameError::Character), "{input}");
        }
    }

    #[test]
    fn usernames_cannot_be_user_codes() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..100 {
            let code = UserCode::generate(&mut rng);
            let lower = code.as_str().to_lowercase();
            assert_eq!(Username::parse(&lower), Err(UsernameError::LooksLikeUserCode));
            assert_eq!(Username::parse(&code.grouped()), Err(UsernameError::LooksLikeUserCode));
        }
    }

    #[test]
    fn serializes_as_strings() {
        let name = Username::parse("mario.rossi").unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"mario.rossi\"");
        let person = PersonName::parse("Maria  Rossi").unwrap();
        assert_eq!(serde_json::to_string(&person).unwrap(), "\"Maria Rossi\"");
        assert!(serde_json::from_str::<Username>("\"x\"").is_err());
    }
}
