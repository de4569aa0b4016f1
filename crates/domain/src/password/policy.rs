//! Which passwords Varco accepts when one is set or changed.
//!
//! Invariant: a password passes [`PasswordPolicy::check`] only if its length in
//! Unicode scalar values (after NFC) is within `min_length..=max_length` (the
//! lower bound is `min_length_with_second_factor` for an account with a second
//! factor), it is not on the common-passwords list, it contains none of the
//! caller's context words (names, username, user code, email, tax code, school
//! name) of four characters or more, compared without case, and zxcvbn scores
//! it at least `min_strength` with those words as known inputs. There are no
//! composition rules (ASVS 6.2.5). Each rule reports its own
//! [`PolicyViolation`], so the user is told every reason at once; the strength
//! advice comes only with [`PolicyViolation::Weak`].
//!
//! Reuse of a recent password ([`PolicyViolation::Reused`]) is decided by the
//! caller, which holds the history hashes and verifies the new password against
//! the last `history` of them; it is a variant here so every refusal speaks
//! one vocabulary.

use unicode_normalization::UnicodeNormalization;

use super::common::CommonPasswords;
use super::input::PasswordInput;
use super::strength::{self, StrengthFeedback};

/// Shortest context word that counts as personal data; shorter ones ("De",
/// "Li", a class name) occur by chance in long passphrases.
const MIN_CONTEXT_WORD_CHARS: usize = 4;

/// The rules for new passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PasswordPolicy {
    /// Fewest characters (Unicode scalar values after NFC) when the password is
    /// the only factor.
    pub min_length: usize,
    /// Fewest characters when the account also has a second factor.
    pub min_length_with_second_factor: usize,
    /// Most characters.
    pub max_length: usize,
    /// Lowest zxcvbn score accepted, 0 (no check) to 4.
    pub min_strength: u8,
    /// How many previous passwords may not be reused (0: no history rule). The
    /// caller keeps and checks the history; the policy only carries the number.
    pub history: usize,
}

impl Default for PasswordPolicy {
    /// 15 characters alone, 8 with a second factor (NIST SP 800-63B §3.1.1.2),
    /// at most 128 (twice the 64 NIST asks verifiers to accept), zxcvbn score
    /// 3 (over 10^8 guesses, zxcvbn's own "safe" line), last 5 passwords.
    fn default() -> Self {
        PasswordPolicy {
            min_length: 15,
            min_length_with_second_factor: 8,
            max_length: 128,
            min_strength: 3,
            history: 5,
        }
    }
}

/// What the policy knows about the user and the deployment for one check.
#[derive(Debug, Clone, Copy)]
pub struct PolicyContext<'a> {
    /// Names, username, user code, email, tax code, school name: refused inside
    /// the password, and given to zxcvbn as words an attacker tries first.
    pub words: &'a [&'a str],
    /// The common and breached passwords to refuse.
    pub common: &'a CommonPasswords,
    /// The account has a second factor, so the shorter minimum applies.
    pub has_second_factor: bool,
}

/// Why a password was refused: every violation, in a stable order, and the
/// strength advice when one of them is [`PolicyViolation::Weak`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRefusal {
    /// Never empty.
    pub violations: Vec<PolicyViolation>,
    /// `Some` exactly when `violations` contains `Weak`.
    pub feedback: Option<StrengthFeedback>,
}

/// One reason a password was refused. The `code` is stable: the web layer
/// turns it into a message in the user's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyViolation {
    /// Fewer than the minimum characters.
    TooShort,
    /// More than `max_length` characters.
    TooLong,
    /// On the common or breached passwords list.
    Common,
    /// Contains the user's name, username, user code, email, tax code or
    /// school name.
    PersonalData,
    /// zxcvbn scores it below `min_strength`.
    Weak,
    /// One of the user's recent passwords (decided by the caller).
    Reused,
}

impl PolicyViolation {
    /// The stable snake-case code, equal to the serde spelling.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            PolicyViolation::TooShort => "too_short",
            PolicyViolation::TooLong => "too_long",
            PolicyViolation::Common => "common",
            PolicyViolation::PersonalData => "personal_data",
            PolicyViolation::Weak => "weak",
            PolicyViolation::Reused => "reused",
        }
    }
}

impl PasswordPolicy {
    /// The minimum length that applies to an account with or without a second
    /// factor.
    #[must_use]
    pub fn min_length_for(&self, has_second_factor: bool) -> usize {
        if has_second_factor {
            self.min_length_with_second_factor
        } else {
            self.min_length
        }
    }

    /// Checks a new password. Returns every violation found, in the order of
    /// [`PolicyViolation`]'s variants (never `Reused`, which the caller adds).
    pub fn check(&self, password: &PasswordInput, context: &PolicyContext<'_>) -> Result<(), PolicyRefusal> {
        let mut violations = Vec::new();
        let length = password.char_count();
        if length < self.min_length_for(context.has_second_factor) {
            violations.push(PolicyViolation::TooShort);
        }
        if length > self.max_length {
            violations.push(PolicyViolation::TooLong);
        }
        if context.common.contains(password) {
            violations.push(PolicyViolation::Common);
        }
        let words = context_words_of(context.words);
        if contains_context_word(password, &words) {
            violations.push(PolicyViolation::PersonalData);
        }
        let mut feedback = None;
        if self.min_strength > 0 {
            let inputs: Vec<&str> = words.iter().map(String::as_str).collect();
            // Only the first strength::MAX_ESTIMATED_CHARS characters are
            // estimated: length alone never skips the check.
            if let Some(estimate) = strength::estimate(password.as_str(), &inputs)
                && estimate.score < self.min_strength
            {
                violations.push(PolicyViolation::Weak);
                feedback = Some(estimate.feedback);
            }
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(PolicyRefusal { violations, feedback })
        }
    }
}

/// Every word the context items contribute (see [`context_words`]).
fn context_words_of(context: &[&str]) -> Vec<String> {
    let mut words: Vec<String> = context.iter().flat_map(|item| context_words(item)).collect();
    words.sort_unstable();
    words.dedup();
    words
}

/// Whether the lower-cased password contains any context word.
fn contains_context_word(password: &PasswordInput, words: &[String]) -> bool {
    let password = password.as_str().to_lowercase();
    words.iter().any(|word| password.contains(word.as_str()))
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
    use std::sync::LazyLock;

    use super::*;
    use crate::password::strength::FEEDBACK_CODES;

    static BUNDLED: LazyLock<CommonPasswords> = LazyLock::new(CommonPasswords::bundled);

    fn password(text: &str) -> PasswordInput {
        PasswordInput::new(text).unwrap()
    }

    /// The default policy without the strength estimate or a common list, for
    /// the tests of the other rules.
    fn lenient() -> PasswordPolicy {
        PasswordPolicy {
            min_strength: 0,
            ..PasswordPolicy::default()
        }
    }

    fn check(text: &str, words: &[&str]) -> Result<(), Vec<PolicyViolation>> {
        let common = CommonPasswords::empty();
        let context = PolicyContext {
            words,
            common: &common,
            has_second_factor: false,
        };
        lenient()
            .check(&password(text), &context)
            .map_err(|refusal| refusal.violations)
    }

    /// The full default policy with the bundled list.
    fn check_default(text: &str, words: &[&str], has_second_factor: bool) -> Result<(), PolicyRefusal> {
        let context = PolicyContext {
            words,
            common: &BUNDLED,
            has_second_factor,
        };
        PasswordPolicy::default().check(&password(text), &context)
    }

    fn violations(result: Result<(), PolicyRefusal>) -> Vec<PolicyViolation> {
        result.err().map(|refusal| refusal.violations).unwrap_or_default()
    }

    #[test]
    fn defaults() {
        assert_eq!(
            PasswordPolicy::default(),
            PasswordPolicy {
                min_length: 15,
                min_length_with_second_factor: 8,
                max_length: 128,
                min_strength: 3,
                history: 5,
            }
        );
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
    fn a_second_factor_lowers_the_minimum() {
        let strong_nine = "Vq7#mZ2!x";
        assert_eq!(
            violations(check_default(strong_nine, &[], false)),
            [PolicyViolation::TooShort]
        );
        assert_eq!(check_default(strong_nine, &[], true), Ok(()));
        let seven = "Vq7#mZ2";
        assert!(violations(check_default(seven, &[], true)).contains(&PolicyViolation::TooShort));
        let policy = PasswordPolicy::default();
        assert_eq!(policy.min_length_for(false), 15);
        assert_eq!(policy.min_length_for(true), 8);
    }

    #[test]
    fn no_composition_rules() {
        assert_eq!(check("tutte minuscole senza numeri", &[]), Ok(()));
        assert_eq!(check_default("tutte minuscole senza numeri", &[], false), Ok(()));
    }

    #[test]
    fn common_passwords_are_refused_without_case() {
        for common in ["password1234", "PASSWORD1234", "Iloveyou1"] {
            assert!(
                violations(check_default(common, &[], true)).contains(&PolicyViolation::Common),
                "{common}"
            );
        }
        // An extra list from a file counts too.
        let extra = CommonPasswords::empty().with_file("forza juve sempre e comunque\n");
        let context = PolicyContext {
            words: &[],
            common: &extra,
            has_second_factor: false,
        };
        let refusal = lenient()
            .check(&password("Forza Juve Sempre e Comunque"), &context)
            .unwrap_err();
        assert_eq!(refusal.violations, [PolicyViolation::Common]);
        assert_eq!(refusal.feedback, None);
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
    fn weak_passwords_are_refused_with_feedback_codes() {
        for weak in [
            "asdfghjklzxcvbnm",
            "aaaaaaaaaaaaaaaaaaaa",
            "abcdefghijklmnopqrs",
            "1234567890123456",
        ] {
            let refusal = check_default(weak, &[], false).unwrap_err();
            assert!(refusal.violations.contains(&PolicyViolation::Weak), "{weak}");
            let feedback = refusal.feedback.expect("weak comes with feedback");
            assert!(!feedback.suggestions.is_empty(), "{weak}");
            for code in feedback.warning.iter().chain(&feedback.suggestions) {
                assert!(FEEDBACK_CODES.contains(&code.as_str()), "{weak}: {code}");
            }
        }
        // Ten characters are long enough with a second factor, but not these ten.
        let refusal = check_default("zxcvbnm,./", &[], true).unwrap_err();
        assert_eq!(refusal.violations, [PolicyViolation::Weak]);
        assert_eq!(
            refusal.feedback,
            Some(StrengthFeedback {
                warning: Some("straight_rows_of_keys_are_easy_to_guess".to_owned()),
                suggestions: vec![
                    "add_another_word_or_two".to_owned(),
                    "use_a_longer_keyboard_pattern_with_more_turns".to_owned()
                ],
            })
        );
    }

    #[test]
    fn a_stricter_strength_still_gives_advice() {
        // zxcvbn scores this 3 and gives no advice of its own; with a
        // minimum of 4 it is weak and carries the default suggestion.
        let strict = PasswordPolicy {
            min_strength: 4,
            min_length: 8,
            ..PasswordPolicy::default()
        };
        let context = PolicyContext {
            words: &[],
            common: &BUNDLED,
            has_second_factor: false,
        };
        let refusal = strict.check(&password("mario rossi"), &context).unwrap_err();
        assert_eq!(refusal.violations, [PolicyViolation::Weak]);
        assert_eq!(
            refusal.feedback,
            Some(StrengthFeedback {
                warning: None,
                suggestions: vec!["add_another_word_or_two".to_owned()],
            })
        );
        assert_eq!(
            PasswordPolicy::default().check(&password("mario rossi e basta"), &context),
            Ok(())
        );
    }

    #[test]
    fn context_words_count_against_strength() {
        // Long enough and not containing a context word of 4+ characters once
        // reversed, but zxcvbn matches the reversed names it was given.
        let words = ["Quintiliano", "Sgarbossa"];
        let text = "onailitniuqassobrags";
        let alone = PasswordPolicy::default().check(
            &password(text),
            &PolicyContext {
                words: &[],
                common: &BUNDLED,
                has_second_factor: false,
            },
        );
        assert_eq!(alone, Ok(()));
        let refusal = check_default(text, &words, false).unwrap_err();
        assert_eq!(refusal.violations, [PolicyViolation::Weak]);
        assert!(refusal.feedback.is_some());
    }

    #[test]
    fn feedback_only_when_weak() {
        let refusal = check_default("tutte minuscole mario qui", &["Mario"], false).unwrap_err();
        assert_eq!(refusal.violations, [PolicyViolation::PersonalData]);
        assert_eq!(refusal.feedback, None);
        let refusal = check_default("Vq7#mZ2!x", &[], false).unwrap_err();
        assert_eq!(refusal.violations, [PolicyViolation::TooShort]);
        assert_eq!(refusal.feedback, None);
    }

    #[test]
    fn strength_zero_disables_the_estimate() {
        assert_eq!(check("asdfghjklzxcvbnm", &[]), Ok(()));
    }

    #[test]
    fn very_long_passwords_are_still_estimated() {
        // Security review finding 9: 101 characters of one repeated letter
        // used to skip the estimate and be accepted.
        let policy = PasswordPolicy::default();
        let context = PolicyContext {
            words: &[],
            common: &BUNDLED,
            has_second_factor: false,
        };
        assert!(violations(policy.check(&password(&"a".repeat(100)), &context)).contains(&PolicyViolation::Weak));
        assert_eq!(
            violations(policy.check(&password(&"a".repeat(101)), &context)),
            [PolicyViolation::Weak]
        );
        assert_eq!(
            violations(policy.check(&password(&"a".repeat(128)), &context)),
            [PolicyViolation::Weak]
        );
        assert_eq!(
            violations(policy.check(&password(&"a".repeat(129)), &context)),
            [PolicyViolation::TooLong, PolicyViolation::Weak]
        );
        // A long passphrase of real variety passes.
        let long =
            "lampone verde sotto il ponte di Rialto quando piove a dirotto e il gatto dorme, poi arriva il tram 19";
        assert!(long.chars().count() > 100);
        assert_eq!(policy.check(&password(long), &context), Ok(()));
    }

    #[test]
    fn all_violations_are_reported_together_in_a_stable_order() {
        assert_eq!(
            check("rossi", &["Rossi"]),
            Err(vec![PolicyViolation::TooShort, PolicyViolation::PersonalData])
        );
        let refusal = check_default("password", &["password"], false).unwrap_err();
        assert_eq!(
            refusal.violations,
            [
                PolicyViolation::TooShort,
                PolicyViolation::Common,
                PolicyViolation::PersonalData,
                PolicyViolation::Weak
            ]
        );
        assert!(refusal.feedback.is_some());
    }

    #[test]
    fn reused_is_never_decided_here() {
        // The same password twice passes: history is the caller's rule.
        assert_eq!(check_default("tutte minuscole senza numeri", &[], false), Ok(()));
        assert_eq!(PolicyViolation::Reused.code(), "reused");
    }

    #[test]
    fn codes_match_serde() {
        for violation in [
            PolicyViolation::TooShort,
            PolicyViolation::TooLong,
            PolicyViolation::Common,
            PolicyViolation::PersonalData,
            PolicyViolation::Weak,
            PolicyViolation::Reused,
        ] {
            assert_eq!(
                serde_json::to_string(&violation).unwrap(),
                format!("\"{}\"", violation.code())
            );
        }
    }

    #[test]
    fn policy_deserializes_with_defaults() {
        let policy: PasswordPolicy = serde_json::from_str(r#"{"min_length": 8, "min_strength": 4}"#).unwrap();
        assert_eq!(
            policy,
            PasswordPolicy {
                min_length: 8,
                min_strength: 4,
                ..PasswordPolicy::default()
            }
        );
        let round_trip: PasswordPolicy = serde_json::from_str(&serde_json::to_string(&policy).unwrap()).unwrap();
        assert_eq!(round_trip, policy);
    }
}
