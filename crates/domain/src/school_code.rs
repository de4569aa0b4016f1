//! The ministry code of a school (codice meccanografico), e.g. `CZIC813004`.
//!
//! Invariant: a [`SchoolCode`] is exactly 10 upper-case ASCII characters, four
//! letters (province and school type) followed by six letters or digits. The
//! ministry's internal check digit is not verified: codes come from official
//! lists, and a shape check is enough to catch typing slips at the desk.

use std::fmt;

/// Number of characters in a school code.
const LENGTH: usize = 10;

/// Leading characters that must be letters.
const LETTER_PREFIX: usize = 4;

/// Why a string is not a school code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SchoolCodeError {
    /// Not four letters followed by six letters or digits.
    #[error("a school code has 10 characters: 4 letters, then 6 letters or digits")]
    Shape,
}

/// A school's codice meccanografico, upper case.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SchoolCode(String);

impl SchoolCode {
    /// Parses user input: trims and upper-cases, then checks the shape.
    pub fn parse(input: &str) -> Result<SchoolCode, SchoolCodeError> {
        let code = input.trim().to_ascii_uppercase();
        let well_formed = code.len() == LENGTH
            && code.bytes().enumerate().all(|(index, byte)| {
                if index < LETTER_PREFIX {
                    byte.is_ascii_uppercase()
                } else {
                    byte.is_ascii_uppercase() || byte.is_ascii_digit()
                }
            });
        if well_formed {
            Ok(SchoolCode(code))
        } else {
            Err(SchoolCodeError::Shape)
        }
    }

    /// The 10 characters, upper case.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SchoolCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for SchoolCode {
    type Err = SchoolCodeError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        SchoolCode::parse(input)
    }
}

impl TryFrom<String> for SchoolCode {
    type Error = SchoolCodeError;

    fn try_from(input: String) -> Result<Self, Self::Error> {
        SchoolCode::parse(&input)
    }
}

impl From<SchoolCode> for String {
    fn from(code: SchoolCode) -> String {
        code.0
    }
}

impl AsRef<str> for SchoolCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_codes() {
        for code in ["CZIC813004", "RMPS12000T", "MIIS00900T", "NAEE00100A"] {
            assert_eq!(SchoolCode::parse(code).unwrap().as_str(), code);
        }
    }

    #[test]
    fn normalises_case_and_surrounding_space() {
        let code = SchoolCode::parse("  czic813004\n").unwrap();
        assert_eq!(code.to_string(), "CZIC813004");
    }

    #[test]
    fn rejects_wrong_shapes() {
        for input in [
            "",
            "CZIC81300",
            "CZIC8130045",
            "CZ1C813004",
            "CZIC 813004",
            "CZIC81300-",
            "CZÌC813004",
            "1234567890",
        ] {
            assert_eq!(SchoolCode::parse(input), Err(SchoolCodeError::Shape), "{input}");
        }
    }

    #[test]
    fn serializes_as_a_string() {
        let code = SchoolCode::parse("RMPS12000T").unwrap();
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"RMPS12000T\"");
        let back: SchoolCode = serde_json::from_str("\"rmps12000t\"").unwrap();
        assert_eq!(back, code);
        assert!(serde_json::from_str::<SchoolCode>("\"RM\"").is_err());
    }
}
