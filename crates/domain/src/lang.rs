//! The languages Varco writes in. Italian is the default: of every page,
//! every email, and of an account that never said otherwise.
//!
//! Invariant: each language has one spelling (`it`, `en`), used alike in the
//! database (an account's preferred language, an outbox row) and JSON.

use std::fmt;

use crate::account::{UnknownVariant, vocabulary};

vocabulary! {
    /// A language Varco speaks.
    #[derive(Default)]
    Lang, "language" {
        /// Italian, the default.
        #[default]
        It => "it",
        /// English.
        En => "en",
    }
}

impl Lang {
    /// The language's code (`it`, `en`), as in cookies, URLs, templates and
    /// the database; the same as [`Lang::as_str`].
    #[must_use]
    pub fn code(self) -> &'static str {
        self.as_str()
    }

    /// The language of a code typed or sent by someone (a cookie, a path, a
    /// template value): surrounding blanks and case are ignored, unlike
    /// [`Lang::parse`], which reads the stored spelling only.
    #[must_use]
    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::parse(&code.trim().to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn italian_is_the_default_and_spellings_are_the_stored_ones() {
        assert_eq!(Lang::default(), Lang::It);
        assert_eq!(Lang::It.as_str(), "it");
        assert_eq!(Lang::En.to_string(), "en");
        assert_eq!(Lang::parse("en"), Some(Lang::En));
        assert_eq!(Lang::parse("EN"), None);
        assert_eq!(serde_json::to_string(&Lang::En).unwrap(), "\"en\"");
    }

    #[test]
    fn codes_from_outside_ignore_case_and_blanks() {
        assert_eq!(Lang::En.code(), "en");
        assert_eq!(Lang::from_code(" EN "), Some(Lang::En));
        assert_eq!(Lang::from_code("It"), Some(Lang::It));
        assert_eq!(Lang::from_code("de"), None);
        assert_eq!(Lang::from_code(""), None);
        assert_eq!(Lang::ALL, &[Lang::It, Lang::En], "Italian first");
    }
}
