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
}
