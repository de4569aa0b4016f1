//! A password as typed, made ready for checking and hashing.
//!
//! Invariant: a [`PasswordInput`] was at most [`MAX_PASSWORD_INPUT_BYTES`]
//! bytes when typed (checked before any other work, so an oversized body costs
//! nothing), is not empty, and is in Unicode NFC, so `é` typed precomposed or
//! as `e` plus a combining accent is the same password. It is not trimmed or
//! case-folded, has no `Display` and no `Serialize`, and its `Debug` output
//! is redacted.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// Longest accepted input, in bytes of UTF-8 as received.
pub const MAX_PASSWORD_INPUT_BYTES: usize = 1024;

/// Why a typed password was refused before any policy check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordInputError {
    /// Nothing was typed.
    #[error("the password is empty")]
    Empty,
    /// Over 1 KiB: refused unread.
    #[error("the password is longer than 1024 bytes")]
    TooLong,
}

/// A password, NFC-normalised. Compare, count, hash; never print.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordInput(String);

impl PasswordInput {
    /// Accepts a typed password: size first, then emptiness, then NFC.
    pub fn new(raw: &str) -> Result<PasswordInput, PasswordInputError> {
        if raw.len() > MAX_PASSWORD_INPUT_BYTES {
            return Err(PasswordInputError::TooLong);
        }
        if raw.is_empty() {
            return Err(PasswordInputError::Empty);
        }
        Ok(PasswordInput(raw.nfc().collect()))
    }

    /// The normalised password, for hashing and policy checks only.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Length in Unicode scalar values after NFC, the unit policies count in.
    #[must_use]
    pub fn char_count(&self) -> usize {
        self.0.chars().count()
    }
}

impl fmt::Debug for PasswordInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordInput(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precomposed_and_combined_accents_are_the_same_password() {
        let precomposed = PasswordInput::new("caff\u{e9} corretto").unwrap();
        let combined = PasswordInput::new("caffe\u{301} corretto").unwrap();
        assert_eq!(precomposed, combined);
        assert_eq!(combined.char_count(), 14);
        assert_eq!(combined.as_str(), "caff\u{e9} corretto");
    }

    #[test]
    fn no_trimming_or_case_folding() {
        let spaced = PasswordInput::new("  Password  ").unwrap();
        assert_eq!(spaced.as_str(), "  Password  ");
        assert_ne!(
            PasswordInput::new("Secret").unwrap(),
            PasswordInput::new("secret").unwrap()
        );
        assert_eq!(PasswordInput::new(" ").unwrap().char_count(), 1);
    }

    #[test]
    fn size_limit_is_in_bytes_and_comes_first() {
        assert!(PasswordInput::new(&"a".repeat(1024)).is_ok());
        assert_eq!(PasswordInput::new(&"a".repeat(1025)), Err(PasswordInputError::TooLong));
        // 512 two-byte characters are 1024 bytes; 513 of them are 1026.
        assert!(PasswordInput::new(&"é".repeat(512)).is_ok());
        assert_eq!(PasswordInput::new(&"é".repeat(513)), Err(PasswordInputError::TooLong));
    }

    #[test]
    fn empty_is_refused() {
        assert_eq!(PasswordInput::new(""), Err(PasswordInputError::Empty));
    }

    #[test]
    fn debug_is_redacted() {
        let password = PasswordInput::new("correct horse battery staple").unwrap();
        assert_eq!(format!("{password:?}"), "PasswordInput(***)");
        assert_eq!(format!("{:?}", Some(&password)), "Some(PasswordInput(***))");
    }

    #[test]
    fn counts_scalar_values_not_bytes() {
        assert_eq!(PasswordInput::new("àèìòù").unwrap().char_count(), 5);
        assert_eq!(PasswordInput::new("🔑🔑").unwrap().char_count(), 2);
    }
}
