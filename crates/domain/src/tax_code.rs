//! The Italian tax code (codice fiscale) as a value type.
//!
//! Invariant: a [`TaxCode`] holds exactly 16 upper-case ASCII characters with
//! the official shape — 6 letters, 2 year digits, a month letter, 2 day digits
//! (1–31, or 41–71 for women), a letter and 3 digits for the place, and a
//! check letter that matches the other 15. Digits at positions 7, 8, 10, 11,
//! 13, 14 and 15 may appear as their omocodia letters (`LMNPQRSTUV` for
//! 0–9); they are decoded before the month and day are checked, and kept as
//! typed in the stored value. Input is forgiving about layout (surrounding and
//! inner whitespace, lower case) and strict about everything else.

use std::fmt;

/// The month letters, January to December.
const MONTH_LETTERS: &[u8; 12] = b"ABCDEHLMPRST";

/// Omocodia letters: the letter at index `d` stands for the digit `d`.
const OMOCODIA_LETTERS: &[u8; 10] = b"LMNPQRSTUV";

/// Values of `0`–`9` at odd (1st, 3rd, …, 15th) positions; letters `A`–`J`
/// share these values.
const ODD_DIGIT_VALUES: [u32; 10] = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21];

/// Values of `A`–`Z` at odd positions.
const ODD_LETTER_VALUES: [u32; 26] = [
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
];

/// Number of characters in a tax code.
const LENGTH: usize = 16;

/// What each position (0-based) may hold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Letter,
    /// A digit, or its omocodia letter.
    Digit,
}

const SHAPE: [Slot; LENGTH] = [
    Slot::Letter, // 1-3 surname
    Slot::Letter,
    Slot::Letter,
    Slot::Letter, // 4-6 name
    Slot::Letter,
    Slot::Letter,
    Slot::Digit, // 7-8 year
    Slot::Digit,
    Slot::Letter, // 9 month
    Slot::Digit,  // 10-11 day (+40 for women)
    Slot::Digit,
    Slot::Letter, // 12-15 place of birth
    Slot::Digit,
    Slot::Digit,
    Slot::Digit,
    Slot::Letter, // 16 check character
];

/// Why a string is not a tax code. Messages are English and fit a CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TaxCodeError {
    /// Nothing but whitespace was given.
    #[error("the tax code is empty")]
    Empty,
    /// Not 16 characters once whitespace is removed.
    #[error("a tax code has 16 characters, found {found}")]
    Length {
        /// Characters found after removing whitespace.
        found: usize,
    },
    /// A letter where a digit belongs, or the other way round, or a symbol.
    #[error("unexpected character at position {position} of the tax code")]
    Character {
        /// 1-based position of the first offending character.
        position: usize,
    },
    /// The 9th character is not a month letter.
    #[error("the month letter (9th character) of the tax code is not valid")]
    Month,
    /// Positions 10–11 are not a day 1–31 or 41–71.
    #[error("the day of birth (10th-11th characters) of the tax code is not valid")]
    Day,
    /// The last character does not match the first fifteen.
    #[error("the tax code check character should be {expected}, found {found}")]
    CheckCharacter {
        /// The check character the first fifteen characters call for.
        expected: char,
        /// The check character that was typed.
        found: char,
    },
}

/// A valid codice fiscale, upper case, without whitespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TaxCode(String);

impl TaxCode {
    /// Completes the first fifteen characters of a tax code with their check
    /// character; `None` when they are not the start of a valid one.
    #[must_use]
    pub fn complete(first15: &str) -> Option<TaxCode> {
        let first15 = first15.trim().to_ascii_uppercase();
        if first15.len() != LENGTH - 1 || !first15.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let check = check_character(first15.as_bytes());
        TaxCode::parse(&format!("{first15}{check}")).ok()
    }

    /// Parses user input: trims, removes all whitespace, upper-cases, then
    /// checks the shape, month, day and check character (in that order).
    pub fn parse(input: &str) -> Result<TaxCode, TaxCodeError> {
        let normalised: Vec<char> = input
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if normalised.is_empty() {
            return Err(TaxCodeError::Empty);
        }
        if normalised.len() != LENGTH {
            return Err(TaxCodeError::Length {
                found: normalised.len(),
            });
        }
        let mut bytes = [0u8; LENGTH];
        for (index, (&c, slot)) in normalised.iter().zip(SHAPE).enumerate() {
            let fits = match slot {
                Slot::Letter => c.is_ascii_uppercase(),
                Slot::Digit => c.is_ascii_digit() || is_omocodia_letter(c),
            };
            if !fits {
                return Err(TaxCodeError::Character { position: index + 1 });
            }
            // Every accepted character is ASCII, so this cannot truncate.
            bytes[index] = c as u8;
        }

        if !MONTH_LETTERS.contains(&bytes[8]) {
            return Err(TaxCodeError::Month);
        }
        let day = decode_digit(bytes[9]) * 10 + decode_digit(bytes[10]);
        if !(1..=31).contains(&day) && !(41..=71).contains(&day) {
            return Err(TaxCodeError::Day);
        }

        let expected = check_character(&bytes[..LENGTH - 1]);
        let found = char::from(bytes[LENGTH - 1]);
        if expected != found {
            return Err(TaxCodeError::CheckCharacter { expected, found });
        }
        Ok(TaxCode(normalised.into_iter().collect()))
    }

    /// The 16 characters, upper case.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last four characters (place digits and check letter): what the
    /// desk may store and show instead of the whole code.
    #[must_use]
    pub fn last4(&self) -> &str {
        &self.0[LENGTH - 4..]
    }
}

fn is_omocodia_letter(c: char) -> bool {
    c.is_ascii() && OMOCODIA_LETTERS.contains(&(c as u8))
}

/// The digit a digit slot stands for; the caller has checked the slot's shape.
fn decode_digit(byte: u8) -> u32 {
    if byte.is_ascii_digit() {
        u32::from(byte - b'0')
    } else {
        OMOCODIA_LETTERS
            .iter()
            .position(|&letter| letter == byte)
            .and_then(|digit| u32::try_from(digit).ok())
            .unwrap_or(0)
    }
}

/// The check character for the first fifteen characters (upper-case ASCII
/// letters and digits).
fn check_character(first15: &[u8]) -> char {
    let sum: u32 = first15
        .iter()
        .enumerate()
        .map(|(index, &byte)| {
            // Index 0 is the 1st position, an odd one.
            let odd = index % 2 == 0;
            match (byte.is_ascii_digit(), odd) {
                (true, true) => ODD_DIGIT_VALUES[usize::from(byte - b'0')],
                (true, false) => u32::from(byte - b'0'),
                (false, true) => ODD_LETTER_VALUES[usize::from(byte - b'A')],
                (false, false) => u32::from(byte - b'A'),
            }
        })
        .sum();
    let remainder = u8::try_from(sum % 26).unwrap_or(0);
    char::from(b'A' + remainder)
}

impl fmt::Display for TaxCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for TaxCode {
    type Err = TaxCodeError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        TaxCode::parse(input)
    }
}

impl TryFrom<String> for TaxCode {
    type Error = TaxCodeError;

    fn try_from(input: String) -> Result<Self, Self::Error> {
        TaxCode::parse(&input)
    }
}

impl From<TaxCode> for String {
    fn from(code: TaxCode) -> String {
        code.0
    }
}

impl AsRef<str> for TaxCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends the computed check character to fifteen characters.
    fn complete(first15: &str) -> String {
        assert_eq!(first15.len(), 15);
        format!("{first15}{}", check_character(first15.as_bytes()))
    }

    /// Replaces the check character with every other letter.
    fn wrong_check_variants(code: &str) -> impl Iterator<Item = String> + '_ {
        (b'A'..=b'Z')
            .map(char::from)
            .filter(move |&c| !code.ends_with(c))
            .map(move |c| format!("{}{c}", &code[..15]))
    }

    #[test]
    fn accepts_known_public_examples() {
        // Checked by hand against the tables:
        // RSSMRA85T10A562: 8+18+12+12+8+0+19+5+14+1+1+0+13+6+5 = 122, 122 mod 26 = 18 -> S
        // MRTMTT25D09F205: 18+17+14+12+14+19+5+5+7+0+21+5+5+0+13 = 155, 155 mod 26 = 25 -> Z
        for code in ["RSSMRA85T10A562S", "MRTMTT25D09F205Z"] {
            let parsed = TaxCode::parse(code).unwrap();
            assert_eq!(parsed.as_str(), code);
        }
    }

    #[test]
    fn completes_the_first_fifteen_characters() {
        assert_eq!(
            TaxCode::complete("RSSMRA85T10A562").unwrap().as_str(),
            "RSSMRA85T10A562S"
        );
        assert_eq!(
            TaxCode::complete(" mrtmtt25d09f205 ").unwrap().as_str(),
            "MRTMTT25D09F205Z"
        );
        assert_eq!(TaxCode::complete("RSSMRA85Z10A562"), None, "no such month");
        assert_eq!(TaxCode::complete("RSSMRA85T10A56"), None, "too short");
    }

    #[test]
    fn computed_codes_round_trip() {
        // A man born 1 January 1980 in Rome and a woman born 1 August 1970 in
        // Milan (day 41 = 1 + 40).
        for first15 in ["BNCGVN80A01H501", "VRDLCU70M41F205", "PLLNNA99T71L219"] {
            let code = complete(first15);
            assert_eq!(TaxCode::parse(&code).unwrap().as_str(), code);
        }
        assert_eq!(complete("BNCGVN80A01H501"), "BNCGVN80A01H501J");
    }

    #[test]
    fn omocodia_variants_are_accepted() {
        // Digits are replaced from the right, as the Agenzia delle Entrate does:
        // 2 -> N, then 6 -> S, then 5 -> R, then 0 -> L, 1 -> M, 5 -> R, 8 -> U.
        let steps = [
            "RSSMRA85T10A56N",
            "RSSMRA85T10A5SN",
            "RSSMRA85T10ARSN",
            "RSSMRA85T1LARSN",
            "RSSMRA85TMLARSN",
            "RSSMRA8RTMLARSN",
            "RSSMRAURTMLARSN",
        ];
        for first15 in steps {
            let code = complete(first15);
            assert_eq!(TaxCode::parse(&code).unwrap().as_str(), code);
            for wrong in wrong_check_variants(&code) {
                assert!(
                    matches!(TaxCode::parse(&wrong), Err(TaxCodeError::CheckCharacter { .. })),
                    "{wrong} accepted"
                );
            }
        }
        // Hand-checked: the first omocode sums to 137, 137 mod 26 = 7 -> H.
        assert_eq!(complete("RSSMRA85T10A56N"), "RSSMRA85T10A56NH");
    }

    #[test]
    fn omocodia_day_is_decoded_before_checking() {
        // Day "MR" = 15, valid; day "QM" = 41, valid; day "PN" = 32, invalid.
        assert!(TaxCode::parse(&complete("RSSMRA85TMRA562")).is_ok());
        assert!(TaxCode::parse(&complete("RSSMRA85TQMA562")).is_ok());
        assert_eq!(TaxCode::parse(&complete("RSSMRA85TPNA562")), Err(TaxCodeError::Day));
    }

    #[test]
    fn wrong_check_character_names_the_expected_one() {
        assert_eq!(
            TaxCode::parse("RSSMRA85T10A562A"),
            Err(TaxCodeError::CheckCharacter {
                expected: 'S',
                found: 'A',
            })
        );
        for wrong in wrong_check_variants("MRTMTT25D09F205Z") {
            assert_eq!(
                TaxCode::parse(&wrong),
                Err(TaxCodeError::CheckCharacter {
                    expected: 'Z',
                    found: wrong.chars().last().unwrap(),
                })
            );
        }
    }

    #[test]
    fn a_single_typo_is_caught() {
        // A changed digit changes the sum; no other rule may let it through.
        assert!(TaxCode::parse("RSSMRA85T10A563S").is_err());
        assert!(TaxCode::parse("RSSMRA86T10A562S").is_err());
    }

    #[test]
    fn bad_month_letter_is_rejected() {
        for month in ['F', 'G', 'I', 'Z'] {
            let first15 = format!("RSSMRA85{month}10A562");
            assert_eq!(
                TaxCode::parse(&complete(&first15)),
                Err(TaxCodeError::Month),
                "month {month}"
            );
        }
    }

    #[test]
    fn impossible_days_are_rejected() {
        for day in ["00", "32", "40", "72", "99"] {
            let first15 = format!("RSSMRA85T{day}A562");
            assert_eq!(TaxCode::parse(&complete(&first15)), Err(TaxCodeError::Day), "day {day}");
        }
        for day in ["01", "31", "41", "71"] {
            let first15 = format!("RSSMRA85T{day}A562");
            assert!(TaxCode::parse(&complete(&first15)).is_ok(), "day {day}");
        }
    }

    #[test]
    fn input_is_normalised() {
        let parsed = TaxCode::parse("  rssmra 85t10\ta562s \n").unwrap();
        assert_eq!(parsed.as_str(), "RSSMRA85T10A562S");
        assert_eq!(
            TaxCode::parse("RSS MRA 85T10 A562S").unwrap().to_string(),
            "RSSMRA85T10A562S"
        );
    }

    #[test]
    fn empty_and_wrong_length_are_reported() {
        assert_eq!(TaxCode::parse(""), Err(TaxCodeError::Empty));
        assert_eq!(TaxCode::parse("  \t "), Err(TaxCodeError::Empty));
        assert_eq!(
            TaxCode::parse("RSSMRA85T10A562"),
            Err(TaxCodeError::Length { found: 15 })
        );
        assert_eq!(
            TaxCode::parse("RSSMRA85T10A562SS"),
            Err(TaxCodeError::Length { found: 17 })
        );
        // Counted in characters, not bytes.
        assert_eq!(
            TaxCode::parse("RSSMRÀ85T10A562S"),
            Err(TaxCodeError::Character { position: 6 })
        );
    }

    #[test]
    fn wrong_kind_of_character_names_its_position() {
        let cases = [
            ("1SSMRA85T10A562S", 1),
            ("RSSMR-85T10A562S", 6),
            ("RSSMRAA5T10A562S", 7),
            ("RSSMRA8BT10A562S", 8),
            ("RSSMRA8519A562SS", 9),
            ("RSSMRA85TX0A562S", 10),
            ("RSSMRA85T10A5Z2S", 14),
            ("RSSMRA85T10A5627", 16),
        ];
        for (input, position) in cases {
            assert_eq!(
                TaxCode::parse(input),
                Err(TaxCodeError::Character { position }),
                "{input}"
            );
        }
    }

    #[test]
    fn last4_and_display() {
        let code = TaxCode::parse("RSSMRA85T10A562S").unwrap();
        assert_eq!(code.last4(), "562S");
        assert_eq!(code.to_string(), "RSSMRA85T10A562S");
    }

    #[test]
    fn serializes_as_a_string_and_validates_on_the_way_in() {
        let code = TaxCode::parse("RSSMRA85T10A562S").unwrap();
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"RSSMRA85T10A562S\"");
        let back: TaxCode = serde_json::from_str("\"rssmra85t10a562s\"").unwrap();
        assert_eq!(back, code);
        assert!(serde_json::from_str::<TaxCode>("\"RSSMRA85T10A562A\"").is_err());
    }

    #[test]
    fn messages_read_well() {
        assert_eq!(
            TaxCodeError::CheckCharacter {
                expected: 'S',
                found: 'A'
            }
            .to_string(),
            "the tax code check character should be S, found A"
        );
        assert_eq!(
            TaxCodeError::Length { found: 15 }.to_string(),
            "a tax code has 16 characters, found 15"
        );
    }
}
