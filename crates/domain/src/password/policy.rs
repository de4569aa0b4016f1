//! Which passwords Varco accepts when one is set or changed.
//!
//! Invariant: a password passes [`PasswordPolicy::check`] only if its length in
//! Unicode scalar values (after NFC) is within `min_length..=max_length` and
//! it contains none of the caller's context words (names, username, user code,
//! email, tax code, school name) of four characters or more, compared without
//! case. There are no composition rules (ASVS 6.2.5). Each rule reports its own
//! [`PolicyViolation`], so the user is told every reason at once.
//!
//! The rules run in a fixed list inside `check`; later rules (common and
//! breached passwords, a strength estimate, history) are added there and as
//! new `PolicyViolation` variants.

use unicode_normalization::UnicodeNormalization;

use super::input::PasswordInput;

/// Shortest context word that counts as personal data; shorter ones ("De",
/// "Li", a class name) occur by chance in long passphrases.
const MIN_CONTEXT_WORD_CHARS: usize = 4;

/// Length limits for new passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PasswordPolicy {
    /// Fewest characters (Unicode scalar values after NFC).
    pub min_length: usize,
    /// Most characters.
    pub max_length: usize,
}

impl Default for PasswordPolicy {
    /// 15 to 128 characters: NIST SP 800-63B's minimum for a password that is
    /// the only factor, and twice the 64 it asks verifiers to accept.
    fn default() -> Self {
        PasswordPolicy {
            min_length: 15,
            max_length: 128,
        }
    }
}

/// One reason a password was refused. The `code` is stable: the web layer
/// turns it into a message in the user's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyViolation {
    /// Fewer than `min_length` characters.
    TooShort,
    /// More than `max_length` characters.
    TooLong,
    /// Contains the user's name, username, user code, email, tax code or
    /// school name.
    PersonalData,
}

impl PolicyViolation {
    /// The stable snake-case code, equal to the serde spelling.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            PolicyViolation::TooShort => "too_short",
            PolicyViolation::TooLong => "too_long",
            PolicyViolation::PersonalData => "personal_data",
        }
    }
}

impl PasswordPolicy {
    /// Checks a new password. `context` holds what is known about the user:
    /// names, username, user code, email, tax code, school name. Returns every
    /// violation found, in a stable order.
    pub fn check(&self, password: &PasswordInput, context: &[&str]) -> Result<(), Vec<PolicyViolation>> {
        let mut violations = Vec::new();
        let length = password.char_count();
        if length < self.min_length {
            violations.push(PolicyViolation::TooShort);
        }
        if length > self.max_length {
            violations.push(PolicyViolation::TooLong);
        }
        if contains_context_word(password, context) {
            violations.push(PolicyViolation::PersonalData);
        }
        if violations.is_empty() { Ok(()) } else { Err(violations) }
    }
}

/// Whether the lower-cased password contains any context word.
fn contains_context_word(password: &PasswordInput, context: &[&str]) -> bool {
    let password = password.as_str().to_lowercase();
    context
        .iter()
        .flat_map(|item| context_words(item))
        .any(|word| password.contains(&word))
}

/// The words one context item contributes, lower-cased and NFC: the whole
/// item, and each run of letters and digits in it, so "Maria Grazia" yields
/// "grazia". For an email, the local part and its runs count but the domain's
/// do not: "mario.rossi@gmail.com" yields "mario.rossi" and "rossi", not
/// "gmail".
fn context_words(item: &str) -> Vec<String> {
    let item: String = item.trim().nfc().collect::<String>().to_lowercase();
    let personal_part = match item.split_once('@') {
        Some((local, _domain)) => local.to_owned(),
        None => item.clone(),
    };
    let mut words: Vec<String> = personal_part
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_owned)
        .collect();
    words.push(personal_part);
    words.push(item);
    words.retain(|word| word.chars().count() >= MIN_CONTEXT_WORD_CHARS);
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(text: &str) -> PasswordInput {
        PasswordInput::new(text).unwrap()
    }

    fn check(text: &str, context: &[&str]) -> Result<(), Vec<PolicyViolation>> {
        PasswordPolicy::default().check(&password(text), context)
    }

    #[test]
    fn defaults() {
        let policy = PasswordPolicy::default();
        assert_eq!(policy.min_length, 15);
        assert_eq!(policy.max_length, 128);
    }

    #[test]
    fn length_is_counted_in_characters_after_nfc() {
        // 14 characters, 15 with one more.
        assert_eq!(check("abcdefghijklmn", &[]), Err(vec![PolicyViolation::TooShort]));
        assert_eq!(check("abcdefghijklmno", &[]), Ok(()));
        // 15 characters, 30 bytes; with combining accents 30 scalar values
        // before NFC, 15 after.
        assert_eq!(check(&"é".repeat(15), &[]), Ok(()));
        assert_eq!(check(&"e\u{301}".repeat(14), &[]), Err(vec![PolicyViolation::TooShort]));
        assert_eq!(check(&"a".repeat(128), &[]), Ok(()));
        assert_eq!(check(&"a".repeat(129), &[]), Err(vec![PolicyViolation::TooLong]));
    }

    #[test]
    fn no_composition_rules() {
        assert_eq!(check("tutte minuscole senza numeri", &[]), Ok(()));
    }

    #[test]
    fn context_words_are_refused_without_case() {
        let context = ["Mario", "Rossi", "mario.rossi", "RSSMRA85T10A562S"];
        assert_eq!(
            check("IlMioNomeèMARIO!!", &context),
            Err(vec![PolicyViolation::PersonalData])
        );
        assert_eq!(
            check("codice rssmra85t10a562s", &context),
            Err(vec![PolicyViolation::PersonalData])
        );
        assert_eq!(check("una frase lunga qualsiasi", &context), Ok(()));
    }

    #[test]
    fn short_context_words_are_ignored() {
        assert_eq!(check("una frase con de e li dentro", &["De", "Li"]), Ok(()));
    }

    #[test]
    fn emails_contribute_local_part_and_whole_address() {
        let context = ["Giulia.Bianchi@Example.it"];
        for leaked in [
            "x giulia.bianchi x long",
            "scrivimi a giulia.bianchi@example.it",
            "le bianchi sono tante",
        ] {
            assert_eq!(
                check(leaked, &context),
                Err(vec![PolicyViolation::PersonalData]),
                "{leaked}"
            );
        }
    }

    #[test]
    fn email_domains_are_not_personal() {
        assert_eq!(check("example example example", &["g.b@example.it"]), Ok(()));
    }

    #[test]
    fn multi_word_names_are_split() {
        assert_eq!(
            check("la grazia è un bel nome", &["Maria Grazia"]),
            Err(vec![PolicyViolation::PersonalData])
        );
        assert_eq!(
            check("istituto comprensivo dante tutto", &["I.C. Dante Alighieri"]),
            Err(vec![PolicyViolation::PersonalData])
        );
    }

    #[test]
    fn context_is_normalised_like_the_password() {
        assert_eq!(
            check("mi chiamo niccolo\u{300} e basta", &["Niccol\u{f2}"]),
            Err(vec![PolicyViolation::PersonalData])
        );
    }

    #[test]
    fn all_violations_are_reported_together() {
        assert_eq!(
            check("rossi", &["Rossi"]),
            Err(vec![PolicyViolation::TooShort, PolicyViolation::PersonalData])
        );
    }

    #[test]
    fn codes_match_serde() {
        for violation in [
            PolicyViolation::TooShort,
            PolicyViolation::TooLong,
            PolicyViolation::PersonalData,
        ] {
            assert_eq!(
                serde_json::to_string(&violation).unwrap(),
                format!("\"{}\"", violation.code())
            );
        }
    }

    #[test]
    fn policy_deserializes_with_defaults() {
        let policy: PasswordPolicy = serde_json::from_str(r#"{"min_length": 8}"#).unwrap();
        assert_eq!(policy.min_length, 8);
        assert_eq!(policy.max_length, 128);
    }
}
