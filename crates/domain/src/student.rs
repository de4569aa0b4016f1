//! Students (alunni) and what describes where they are in a school: the
//! school order (ordine di scuola), the class and the building (plesso).
//!
//! Invariant: a [`SchoolOrder`] has one stored spelling per variant
//! (`preschool`, `primary`, `lower_secondary`, `upper_secondary`, as in the
//! glossary), used in the database and in the `students` claim;
//! [`SchoolOrder::from_roster`] also reads the Italian words a secretariat
//! types, and nothing else. A [`ClassName`] and a [`Building`] are tidied
//! (trimmed, single spaces, no control characters) and bounded, so the rest
//! of the code never re-checks them.

use std::fmt;

use crate::account::{UnknownVariant, vocabulary};

vocabulary! {
    /// The order of school a student attends.
    SchoolOrder, "school order" {
        /// Scuola dell'infanzia (3–6 years).
        Preschool => "preschool",
        /// Scuola primaria (elementare).
        Primary => "primary",
        /// Scuola secondaria di primo grado (media).
        LowerSecondary => "lower_secondary",
        /// Scuola secondaria di secondo grado (superiore).
        UpperSecondary => "upper_secondary",
    }
}

impl SchoolOrder {
    /// Reads a school order as a roster spells it: the stored spelling, or
    /// the Italian name with or without "scuola", "di"/"dell'", "I"/"primo",
    /// in any case, with spaces, dashes or underscores (`infanzia`,
    /// `Scuola primaria`, `secondaria di I grado`, `secondaria_secondo`...).
    #[must_use]
    pub fn from_roster(text: &str) -> Option<SchoolOrder> {
        let lowered = text.trim().to_lowercase().replace(['_', '-', '\'', '’', '.'], " ");
        if let Some(order) = SchoolOrder::parse(&lowered.split_whitespace().collect::<Vec<_>>().join("_")) {
            return Some(order);
        }
        let words: Vec<&str> = lowered
            .split_whitespace()
            .filter(|w| !matches!(*w, "scuola" | "di" | "dell" | "della" | "del" | "grado"))
            .collect();
        match words.as_slice() {
            ["infanzia"] | ["materna"] => Some(SchoolOrder::Preschool),
            ["primaria"] | ["elementare"] => Some(SchoolOrder::Primary),
            ["secondaria", "i" | "primo" | "1" | "1°"] | ["media"] => Some(SchoolOrder::LowerSecondary),
            ["secondaria", "ii" | "secondo" | "2" | "2°"] | ["superiore"] => Some(SchoolOrder::UpperSecondary),
            _ => None,
        }
    }
}

/// Longest class name, in characters ("3B", "5A Liceo Scientifico").
const MAX_CLASS_CHARS: usize = 40;

/// Longest building name, in characters.
const MAX_BUILDING_CHARS: usize = 100;

/// Why a string is not a class or building name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PlaceError {
    /// Nothing but whitespace.
    #[error("it is empty")]
    Empty,
    /// Longer than allowed.
    #[error("it is longer than {0} characters")]
    TooLong(usize),
    /// Contains control characters.
    #[error("it contains characters that are not allowed")]
    Invalid,
}

fn tidy(text: &str, max: usize) -> Result<String, PlaceError> {
    let tidied = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if tidied.is_empty() {
        return Err(PlaceError::Empty);
    }
    if tidied.chars().count() > max {
        return Err(PlaceError::TooLong(max));
    }
    if tidied.chars().any(char::is_control) {
        return Err(PlaceError::Invalid);
    }
    Ok(tidied)
}

/// A class (classe / sezione), e.g. `3B`: 1–40 characters, tidied.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct ClassName(String);

impl ClassName {
    /// Parses user input: trims and collapses whitespace.
    pub fn parse(text: &str) -> Result<ClassName, PlaceError> {
        tidy(text, MAX_CLASS_CHARS).map(ClassName)
    }

    /// The tidied class name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A building (plesso) of a school: 1–100 characters, tidied.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Building(String);

impl Building {
    /// Parses user input: trims and collapses whitespace.
    pub fn parse(text: &str) -> Result<Building, PlaceError> {
        tidy(text, MAX_BUILDING_CHARS).map(Building)
    }

    /// The tidied building name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClassName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Building {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_spellings_are_the_glossary_ones_and_round_trip() {
        let spellings: Vec<&str> = SchoolOrder::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(
            spellings,
            ["preschool", "primary", "lower_secondary", "upper_secondary"]
        );
        for order in SchoolOrder::ALL {
            assert_eq!(SchoolOrder::parse(order.as_str()), Some(*order));
            assert_eq!(SchoolOrder::from_roster(order.as_str()), Some(*order));
            assert_eq!(serde_json::to_string(order).unwrap(), format!("\"{order}\""));
        }
        assert_eq!(
            "nursery".parse::<SchoolOrder>().unwrap_err().to_string(),
            "unknown school order: \"nursery\""
        );
    }

    #[test]
    fn a_roster_may_use_the_italian_words() {
        use SchoolOrder::*;
        for (text, order) in [
            ("infanzia", Preschool),
            ("Scuola dell'infanzia", Preschool),
            ("scuola dell’infanzia", Preschool),
            ("PRIMARIA", Primary),
            ("scuola primaria", Primary),
            ("elementare", Primary),
            ("secondaria di I grado", LowerSecondary),
            ("Secondaria di primo grado", LowerSecondary),
            ("secondaria_primo", LowerSecondary),
            ("secondaria-di-1°-grado", LowerSecondary),
            ("media", LowerSecondary),
            ("secondaria di II grado", UpperSecondary),
            ("secondaria di secondo grado", UpperSecondary),
            ("secondaria_secondo", UpperSecondary),
            ("  Lower Secondary ", LowerSecondary),
            ("upper-secondary", UpperSecondary),
        ] {
            assert_eq!(SchoolOrder::from_roster(text), Some(order), "{text:?}");
        }
        for text in [
            "",
            "secondaria",
            "secondaria di III grado",
            "università",
            "primaria 2",
            "nido",
        ] {
            assert_eq!(SchoolOrder::from_roster(text), None, "{text:?}");
        }
    }

    #[test]
    fn classes_and_buildings_are_tidied_and_bounded() {
        assert_eq!(ClassName::parse("  3  B ").unwrap().as_str(), "3 B");
        assert_eq!(ClassName::parse("3B").unwrap().to_string(), "3B");
        assert_eq!(ClassName::parse(" \t"), Err(PlaceError::Empty));
        assert_eq!(ClassName::parse(&"x".repeat(41)), Err(PlaceError::TooLong(40)));
        assert!(ClassName::parse(&"x".repeat(40)).is_ok());
        assert_eq!(ClassName::parse("3\u{7}B"), Err(PlaceError::Invalid));
        assert_eq!(Building::parse(" Plesso  Collodi ").unwrap().as_str(), "Plesso Collodi");
        assert_eq!(Building::parse(&"y".repeat(101)), Err(PlaceError::TooLong(100)));
        assert_eq!(
            serde_json::to_string(&Building::parse("Via Roma").unwrap()).unwrap(),
            "\"Via Roma\""
        );
    }
}
