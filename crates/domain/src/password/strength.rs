//! How hard a password is to guess, estimated by zxcvbn (score 0–4), and the
//! advice that goes with a weak one.
//!
//! Invariant: advice leaves this module only as stable snake_case codes, each
//! listed in [`FEEDBACK_CODES`], never as zxcvbn's English sentences, so the
//! web layer can show it in the user's language. The mapping from zxcvbn's
//! enums is an exhaustive `match`: a zxcvbn release that adds a variant stops
//! the build instead of emitting an untranslated code. Only the first
//! [`MAX_ESTIMATED_CHARS`] characters are ever estimated, which bounds the CPU
//! one check can cost; a longer password is judged by that prefix, so length
//! alone never skips the check (a run of one character stays weak at 128).

use zxcvbn::feedback::{Suggestion, Warning};

/// Longest prefix given to zxcvbn (zxcvbn itself looks at no more than 100
/// characters, and its matching grows faster than linearly).
pub const MAX_ESTIMATED_CHARS: usize = 100;

/// Why a password was judged weak and what would help, as codes the web layer
/// translates.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StrengthFeedback {
    /// What is wrong, e.g. `straight_rows_of_keys_are_easy_to_guess`.
    pub warning: Option<String>,
    /// What to do instead, e.g. `add_another_word_or_two`; may be empty.
    pub suggestions: Vec<String>,
}

/// Every code a [`StrengthFeedback`] can carry: zxcvbn's warnings, then its
/// suggestions.
pub const FEEDBACK_CODES: &[&str] = &[
    // Warnings.
    "straight_rows_of_keys_are_easy_to_guess",
    "short_keyboard_patterns_are_easy_to_guess",
    "repeats_like_aaa_are_easy_to_guess",
    "repeats_like_abc_abc_are_only_slightly_harder_to_guess",
    "this_is_a_top_10_password",
    "this_is_a_top_100_password",
    "this_is_a_common_password",
    "this_is_similar_to_a_commonly_used_password",
    "sequences_like_abc_are_easy_to_guess",
    "recent_years_are_easy_to_guess",
    "a_word_by_itself_is_easy_to_guess",
    "dates_are_often_easy_to_guess",
    "names_and_surnames_by_themselves_are_easy_to_guess",
    "common_names_and_surnames_are_easy_to_guess",
    // Suggestions.
    "use_a_few_words_avoid_common_phrases",
    "no_need_for_symbols_digits_or_uppercase_letters",
    "add_another_word_or_two",
    "capitalization_doesnt_help_very_much",
    "all_uppercase_is_almost_as_easy_to_guess_as_all_lowercase",
    "reversed_words_arent_much_harder_to_guess",
    "predictable_substitutions_dont_help_very_much",
    "use_a_longer_keyboard_pattern_with_more_turns",
    "avoid_repeated_words_and_characters",
    "avoid_sequences",
    "avoid_recent_years",
    "avoid_years_that_are_associated_with_you",
    "avoid_dates_and_years_that_are_associated_with_you",
];

/// The suggestion given when zxcvbn scores a password below the policy but
/// above its own "weak" line (3 or more) and so offers no advice of its own.
const DEFAULT_SUGGESTION: Suggestion = Suggestion::AddAnotherWordOrTwo;

/// zxcvbn's verdict on one password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Estimate {
    /// 0 (guessable in under 10^3 tries) to 4 (over 10^10).
    pub(super) score: u8,
    /// Advice in codes; always at least one suggestion.
    pub(super) feedback: StrengthFeedback,
}

/// Estimates the first [`MAX_ESTIMATED_CHARS`] characters of `password` with
/// `user_inputs` (names, username, …) as words an attacker would try first.
/// `None` only for an empty password.
pub(super) fn estimate(password: &str, user_inputs: &[&str]) -> Option<Estimate> {
    let prefix: String = password.chars().take(MAX_ESTIMATED_CHARS).collect();
    if prefix.is_empty() {
        return None;
    }
    let entropy = zxcvbn::zxcvbn(&prefix, user_inputs);
    let mut feedback = entropy
        .feedback()
        .map(|advice| StrengthFeedback {
            warning: advice.warning().map(|warning| warning_code(warning).to_owned()),
            suggestions: advice
                .suggestions()
                .iter()
                .map(|suggestion| suggestion_code(*suggestion).to_owned())
                .collect(),
        })
        .unwrap_or(StrengthFeedback {
            warning: None,
            suggestions: Vec::new(),
        });
    if feedback.suggestions.is_empty() {
        feedback
            .suggestions
            .push(suggestion_code(DEFAULT_SUGGESTION).to_owned());
    }
    Some(Estimate {
        score: u8::from(entropy.score()),
        feedback,
    })
}

/// The stable code for a zxcvbn warning.
fn warning_code(warning: Warning) -> &'static str {
    match warning {
        Warning::StraightRowsOfKeysAreEasyToGuess => "straight_rows_of_keys_are_easy_to_guess",
        Warning::ShortKeyboardPatternsAreEasyToGuess => "short_keyboard_patterns_are_easy_to_guess",
        Warning::RepeatsLikeAaaAreEasyToGuess => "repeats_like_aaa_are_easy_to_guess",
        Warning::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess => {
            "repeats_like_abc_abc_are_only_slightly_harder_to_guess"
        }
        Warning::ThisIsATop10Password => "this_is_a_top_10_password",
        Warning::ThisIsATop100Password => "this_is_a_top_100_password",
        Warning::ThisIsACommonPassword => "this_is_a_common_password",
        Warning::ThisIsSimilarToACommonlyUsedPassword => "this_is_similar_to_a_commonly_used_password",
        Warning::SequencesLikeAbcAreEasyToGuess => "sequences_like_abc_are_easy_to_guess",
        Warning::RecentYearsAreEasyToGuess => "recent_years_are_easy_to_guess",
        Warning::AWordByItselfIsEasyToGuess => "a_word_by_itself_is_easy_to_guess",
        Warning::DatesAreOftenEasyToGuess => "dates_are_often_easy_to_guess",
        Warning::NamesAndSurnamesByThemselvesAreEasyToGuess => "names_and_surnames_by_themselves_are_easy_to_guess",
        Warning::CommonNamesAndSurnamesAreEasyToGuess => "common_names_and_surnames_are_easy_to_guess",
    }
}

/// The stable code for a zxcvbn suggestion.
fn suggestion_code(suggestion: Suggestion) -> &'static str {
    match suggestion {
        Suggestion::UseAFewWordsAvoidCommonPhrases => "use_a_few_words_avoid_common_phrases",
        Suggestion::NoNeedForSymbolsDigitsOrUppercaseLetters => "no_need_for_symbols_digits_or_uppercase_letters",
        Suggestion::AddAnotherWordOrTwo => "add_another_word_or_two",
        Suggestion::CapitalizationDoesntHelpVeryMuch => "capitalization_doesnt_help_very_much",
        Suggestion::AllUppercaseIsAlmostAsEasyToGuessAsAllLowercase => {
            "all_uppercase_is_almost_as_easy_to_guess_as_all_lowercase"
        }
        Suggestion::ReversedWordsArentMuchHarderToGuess => "reversed_words_arent_much_harder_to_guess",
        Suggestion::PredictableSubstitutionsDontHelpVeryMuch => "predictable_substitutions_dont_help_very_much",
        Suggestion::UseALongerKeyboardPatternWithMoreTurns => "use_a_longer_keyboard_pattern_with_more_turns",
        Suggestion::AvoidRepeatedWordsAndCharacters => "avoid_repeated_words_and_characters",
        Suggestion::AvoidSequences => "avoid_sequences",
        Suggestion::AvoidRecentYears => "avoid_recent_years",
        Suggestion::AvoidYearsThatAreAssociatedWithYou => "avoid_years_that_are_associated_with_you",
        Suggestion::AvoidDatesAndYearsThatAreAssociatedWithYou => "avoid_dates_and_years_that_are_associated_with_you",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    const WARNINGS: [Warning; 14] = [
        Warning::StraightRowsOfKeysAreEasyToGuess,
        Warning::ShortKeyboardPatternsAreEasyToGuess,
        Warning::RepeatsLikeAaaAreEasyToGuess,
        Warning::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess,
        Warning::ThisIsATop10Password,
        Warning::ThisIsATop100Password,
        Warning::ThisIsACommonPassword,
        Warning::ThisIsSimilarToACommonlyUsedPassword,
        Warning::SequencesLikeAbcAreEasyToGuess,
        Warning::RecentYearsAreEasyToGuess,
        Warning::AWordByItselfIsEasyToGuess,
        Warning::DatesAreOftenEasyToGuess,
        Warning::NamesAndSurnamesByThemselvesAreEasyToGuess,
        Warning::CommonNamesAndSurnamesAreEasyToGuess,
    ];

    const SUGGESTIONS: [Suggestion; 13] = [
        Suggestion::UseAFewWordsAvoidCommonPhrases,
        Suggestion::NoNeedForSymbolsDigitsOrUppercaseLetters,
        Suggestion::AddAnotherWordOrTwo,
        Suggestion::CapitalizationDoesntHelpVeryMuch,
        Suggestion::AllUppercaseIsAlmostAsEasyToGuessAsAllLowercase,
        Suggestion::ReversedWordsArentMuchHarderToGuess,
        Suggestion::PredictableSubstitutionsDontHelpVeryMuch,
        Suggestion::UseALongerKeyboardPatternWithMoreTurns,
        Suggestion::AvoidRepeatedWordsAndCharacters,
        Suggestion::AvoidSequences,
        Suggestion::AvoidRecentYears,
        Suggestion::AvoidYearsThatAreAssociatedWithYou,
        Suggestion::AvoidDatesAndYearsThatAreAssociatedWithYou,
    ];

    fn assert_codes_listed(feedback: &StrengthFeedback) {
        for code in feedback.warning.iter().chain(&feedback.suggestions) {
            assert!(FEEDBACK_CODES.contains(&code.as_str()), "{code}");
        }
    }

    #[test]
    fn feedback_codes_are_exactly_the_mapped_variants() {
        let mapped: Vec<&str> = WARNINGS
            .into_iter()
            .map(warning_code)
            .chain(SUGGESTIONS.into_iter().map(suggestion_code))
            .collect();
        assert_eq!(mapped, FEEDBACK_CODES);
        assert_eq!(
            FEEDBACK_CODES.iter().collect::<HashSet<_>>().len(),
            FEEDBACK_CODES.len()
        );
    }

    #[test]
    fn feedback_codes_are_snake_case() {
        for code in FEEDBACK_CODES {
            assert!(
                code.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                    && !code.starts_with('_')
                    && !code.ends_with('_')
                    && !code.contains("__"),
                "{code}"
            );
        }
    }

    #[test]
    fn weak_passwords_get_codes_not_sentences() {
        let cases = [
            ("zxcvbnm,./", "straight_rows_of_keys_are_easy_to_guess"),
            ("password", "this_is_a_top_10_password"),
            ("qwertyuiop", "this_is_a_top_100_password"),
            ("p4ssw0rd", "this_is_similar_to_a_commonly_used_password"),
            ("aaaaaaaaaaaa", "repeats_like_aaa_are_easy_to_guess"),
            ("abcdefghijkl", "sequences_like_abc_are_easy_to_guess"),
            ("12/05/1987", "dates_are_often_easy_to_guess"),
            ("Mario", "names_and_surnames_by_themselves_are_easy_to_guess"),
        ];
        for (password, warning) in cases {
            let estimate = estimate(password, &[]).unwrap();
            assert!(estimate.score < 3, "{password}: {}", estimate.score);
            assert_eq!(estimate.feedback.warning.as_deref(), Some(warning), "{password}");
            assert!(!estimate.feedback.suggestions.is_empty());
            assert_codes_listed(&estimate.feedback);
        }
    }

    #[test]
    fn strong_passwords_score_high_and_still_carry_a_listed_suggestion() {
        let estimate = estimate("cavallo batteria graffetta corretta", &[]).unwrap();
        assert_eq!(estimate.score, 4);
        assert_eq!(estimate.feedback.warning, None);
        assert_eq!(estimate.feedback.suggestions, ["add_another_word_or_two"]);
        assert_codes_listed(&estimate.feedback);
    }

    #[test]
    fn user_inputs_lower_the_score() {
        let alone = estimate("quintiliano", &[]).unwrap();
        let known = estimate("quintiliano", &["Quintiliano"]).unwrap();
        assert!(
            known.score < alone.score || known.score == 0,
            "{} vs {}",
            known.score,
            alone.score
        );
        assert_eq!(known.score, 0);
    }

    #[test]
    fn long_passwords_are_judged_by_their_prefix() {
        // Security review finding 9: "a"×101 used to skip the check entirely.
        for length in [MAX_ESTIMATED_CHARS, MAX_ESTIMATED_CHARS + 1, 128, 1000] {
            let estimate = estimate(&"a".repeat(length), &[]).expect("estimated");
            assert!(estimate.score <= 1, "length {length}: {}", estimate.score);
        }
        // Counted in characters, not bytes.
        assert!(estimate(&"è".repeat(MAX_ESTIMATED_CHARS + 5), &[]).is_some());
        assert!(estimate("", &[]).is_none());
    }

    #[test]
    fn feedback_serializes_as_codes() {
        let feedback = estimate("zxcvbnm,./", &[]).unwrap().feedback;
        let json = serde_json::to_value(&feedback).unwrap();
        assert_eq!(json["warning"], "straight_rows_of_keys_are_easy_to_guess");
        assert!(json["suggestions"].is_array());
    }
}
