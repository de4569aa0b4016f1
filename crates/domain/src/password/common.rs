//! Common and breached passwords that are refused whatever their length or
//! estimated strength (ASVS 6.2.4, 6.2.12).
//!
//! Invariant: every entry in a [`CommonPasswords`] is non-empty, NFC and
//! lower-case, and a password is looked up the same way (NFC, as
//! [`PasswordInput`] already is, then lower-cased), so "Password", "PASSWORD"
//! and "password" are one entry. The list never shrinks: [`CommonPasswords::with_file`]
//! only adds. A bundled list is compiled in; a larger one is read by the caller
//! (this crate does no IO) and added as text.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use unicode_normalization::UnicodeNormalization;

use super::input::PasswordInput;

/// The bundled list: one password per line, `#` lines are comments (the first
/// names its source and licence).
const BUNDLED: &str = include_str!("common-passwords.txt");

/// A set of passwords nobody may choose. Cloning shares the set; `Debug`
/// shows only its size.
#[derive(Clone)]
pub struct CommonPasswords {
    entries: Arc<HashSet<String>>,
}

impl CommonPasswords {
    /// The list compiled into Varco (30,000 of the most common passwords).
    /// It is parsed once per process (immutable data) and shared by every call.
    #[must_use]
    pub fn bundled() -> CommonPasswords {
        static PARSED: std::sync::OnceLock<CommonPasswords> = std::sync::OnceLock::new();
        PARSED
            .get_or_init(|| CommonPasswords::empty().with_file(BUNDLED))
            .clone()
    }

    /// A list with nothing in it; every password passes the common rule.
    #[must_use]
    pub fn empty() -> CommonPasswords {
        CommonPasswords {
            entries: Arc::new(HashSet::new()),
        }
    }

    /// This list plus the entries in `path_contents`, the text of a password
    /// list file: one password per line (`\n` or `\r\n`), blank lines and lines
    /// starting with `#` skipped, surrounding spaces and tabs trimmed (no
    /// password here is looked up with them, and list files often carry them
    /// by accident). Clones that were taken earlier keep the old set.
    #[must_use]
    pub fn with_file(self, path_contents: &str) -> CommonPasswords {
        let mut entries = Arc::unwrap_or_clone(self.entries);
        let text = path_contents.strip_prefix('\u{feff}').unwrap_or(path_contents);
        entries.extend(
            text.lines()
                .map(|line| line.trim_matches([' ', '\t', '\r']))
                .filter(|line| !line.is_empty() && !line.starts_with('#'))
                .map(normalise),
        );
        CommonPasswords {
            entries: Arc::new(entries),
        }
    }

    /// How many distinct passwords the list holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the list holds nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `password`, compared without case, is on the list.
    #[must_use]
    pub fn contains(&self, password: &PasswordInput) -> bool {
        self.entries.contains(&password.as_str().to_lowercase())
    }
}

impl fmt::Debug for CommonPasswords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommonPasswords").field("len", &self.len()).finish()
    }
}

/// NFC, then lower case: the form both entries and lookups take.
fn normalise(entry: &str) -> String {
    entry.nfc().collect::<String>().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(text: &str) -> PasswordInput {
        PasswordInput::new(text).unwrap()
    }

    #[test]
    fn bundled_list_is_loaded_without_its_header() {
        let common = CommonPasswords::bundled();
        assert_eq!(common.len(), 30_000);
        assert!(!common.is_empty());
        for listed in ["123456", "password", "qwerty", "iloveyou", "trustno1"] {
            assert!(common.contains(&password(listed)), "{listed}");
        }
        assert!(!common.contains(&password("una frase lunga e poco comune")));
        assert!(BUNDLED.starts_with("# Source: "));
        assert!(!common.entries.iter().any(|entry| entry.starts_with('#')));
    }

    #[test]
    fn bundled_file_is_lower_case_deduplicated_and_small() {
        assert!(BUNDLED.len() < 1024 * 1024);
        let lines: Vec<&str> = BUNDLED.lines().filter(|line| !line.starts_with('#')).collect();
        assert_eq!(lines.len(), 30_000);
        assert!(
            lines
                .iter()
                .all(|line| !line.is_empty() && *line == normalise(line).as_str())
        );
        assert_eq!(lines.iter().collect::<HashSet<_>>().len(), lines.len());
    }

    #[test]
    fn lookups_ignore_case() {
        let common = CommonPasswords::bundled();
        assert!(common.contains(&password("PassWord")));
        assert!(common.contains(&password("QWERTY")));
    }

    #[test]
    fn a_file_adds_entries_and_skips_comments_and_blank_lines() {
        let base = CommonPasswords::bundled();
        let file = "\u{feff}# una lista italiana\r\nForzaJuve1897\r\n\r\n  Ciao1234  \npassword\n#commento\n";
        let extended = base.clone().with_file(file);
        assert_eq!(extended.len(), base.len() + 2);
        assert!(extended.contains(&password("forzajuve1897")));
        assert!(extended.contains(&password("CIAO1234")));
        assert!(!extended.contains(&password("# una lista italiana")));
        assert!(!extended.contains(&password("#commento")));
        // The clone taken before is unchanged.
        assert!(!base.contains(&password("forzajuve1897")));
    }

    #[test]
    fn entries_are_normalised_like_passwords() {
        let common = CommonPasswords::empty().with_file("Perche\u{301}\n");
        assert_eq!(common.len(), 1);
        assert!(common.contains(&password("perch\u{e9}")));
        assert!(common.contains(&password("PERCHE\u{301}")));
    }

    #[test]
    fn debug_shows_the_size_not_the_entries() {
        let debug = format!("{:?}", CommonPasswords::bundled());
        assert_eq!(debug, "CommonPasswords { len: 30000 }");
    }

    #[test]
    fn empty_list_contains_nothing() {
        let common = CommonPasswords::empty();
        assert!(common.is_empty());
        assert_eq!(common.len(), 0);
        assert!(!common.contains(&password("password")));
        assert!(CommonPasswords::empty().with_file("# only a comment\n\n").is_empty());
    }
}
