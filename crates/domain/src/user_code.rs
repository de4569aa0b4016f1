//! The user code (codice utente) printed on credentials letters and typed at
//! login.
//!
//! Invariant: a [`UserCode`] is 9 symbols from [`USER_CODE_ALPHABET`] (31
//! symbols: digits and upper-case letters without the look-alikes `0 O 1 I L`),
//! 8 random ones followed by a check symbol.
//!
//! # Check symbol
//!
//! With `v₁ … v₉` the symbols' indices in the alphabet (the check symbol last),
//! a code is valid when
//!
//! ```text
//! 9·v₁ + 8·v₂ + 7·v₃ + 6·v₄ + 5·v₅ + 4·v₆ + 3·v₇ + 2·v₈ + 1·v₉ ≡ 0 (mod 31)
//! ```
//!
//! Because 31 is prime and the weights 1–9 are distinct and non-zero modulo 31,
//! this catches every single-symbol substitution *and every transposition of
//! two different symbols*, adjacent or not. Luhn mod N was the first
//! candidate, but with N = 31 it misses one adjacent swap (`2Z` ↔ `Z2`, the
//! same blind spot as `09` ↔ `90` in the decimal Luhn), so the weighted sum is
//! used instead.

use std::fmt;

use rand::Rng;

/// The 31 symbols a user code is written with, in index order.
pub const USER_CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// Number of symbols in a user code, check symbol included.
const LENGTH: usize = 9;

/// Number of random symbols before the check symbol.
const RANDOM_SYMBOLS: usize = LENGTH - 1;

/// Size of the alphabet; prime, which the check symbol relies on.
const MODULUS: u32 = 31;

/// Why a string is not a user code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UserCodeError {
    /// Not 9 symbols once spaces and dashes are removed.
    #[error("a user code has 9 characters")]
    Length,
    /// A character outside the alphabet (including 0, O, 1, I and L).
    #[error("the user code contains a character that is never used in user codes")]
    Character,
    /// The check symbol does not match: a typing slip.
    #[error("the user code is mistyped (its check character does not match)")]
    CheckCharacter,
}

/// A valid user code: 9 upper-case symbols, no separators.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserCode(String);

impl UserCode {
    /// A fresh code: 8 uniformly random symbols and their check symbol.
    pub fn generate<R: rand::RngCore + ?Sized>(rng: &mut R) -> UserCode {
        let mut indices = [0u32; LENGTH];
        for index in indices.iter_mut().take(RANDOM_SYMBOLS) {
            *index = rng.gen_range(0..MODULUS);
        }
        indices[RANDOM_SYMBOLS] = check_index(&indices[..RANDOM_SYMBOLS]);
        UserCode(indices.iter().map(|&index| symbol(index)).collect())
    }

    /// Parses user input: trims, drops spaces and dashes (so `abcd-efgh-j`
    /// works), upper-cases, then checks the symbols and the check symbol.
    pub fn parse(input: &str) -> Result<UserCode, UserCodeError> {
        let normalised: Vec<char> = input
            .chars()
            .filter(|&c| !c.is_whitespace() && c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if normalised.len() != LENGTH {
            return Err(UserCodeError::Length);
        }
        let mut indices = [0u32; LENGTH];
        for (slot, &c) in indices.iter_mut().zip(&normalised) {
            *slot = index_of(c).ok_or(UserCodeError::Character)?;
        }
        if check_index(&indices[..RANDOM_SYMBOLS]) != indices[RANDOM_SYMBOLS] {
            return Err(UserCodeError::CheckCharacter);
        }
        Ok(UserCode(normalised.into_iter().collect()))
    }

    /// The 9 symbols, upper case, no separators.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The code as printed on credentials letters: `ABCD-EFGH-J`.
    #[must_use]
    pub fn grouped(&self) -> String {
        format!("{}-{}-{}", &self.0[..4], &self.0[4..8], &self.0[8..])
    }
}

/// Index of `c` in the alphabet, if it is one of its symbols.
fn index_of(c: char) -> Option<u32> {
    let byte = u8::try_from(c).ok()?;
    USER_CODE_ALPHABET
        .iter()
        .position(|&symbol| symbol == byte)
        .and_then(|index| u32::try_from(index).ok())
}

/// The symbol at `index` (which is below 31).
fn symbol(index: u32) -> char {
    let position = usize::try_from(index).unwrap_or(0);
    char::from(USER_CODE_ALPHABET[position % USER_CODE_ALPHABET.len()])
}

/// The check index that makes the weighted sum of the full code divisible by
/// 31. The last random symbol weighs 2, the one before it 3, and so on up to 9
/// for the first; the check symbol itself weighs 1, so it is the negated sum.
fn check_index(random: &[u32]) -> u32 {
    let sum = (2u32..)
        .zip(random.iter().rev())
        .map(|(weight, &index)| weight * index)
        .sum::<u32>()
        % MODULUS;
    (MODULUS - sum) % MODULUS
}

impl fmt::Display for UserCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for UserCode {
    type Err = UserCodeError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        UserCode::parse(input)
    }
}

impl TryFrom<String> for UserCode {
    type Error = UserCodeError;

    fn try_from(input: String) -> Result<Self, Self::Error> {
        UserCode::parse(&input)
    }
}

impl From<UserCode> for String {
    fn from(code: UserCode) -> String {
        code.0
    }
}

impl AsRef<str> for UserCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn codes(count: usize) -> Vec<UserCode> {
        let mut rng = StdRng::seed_from_u64(0x5641_5243_4f00);
        (0..count).map(|_| UserCode::generate(&mut rng)).collect()
    }

    fn with_symbol(code: &str, position: usize, replacement: u8) -> String {
        let mut bytes = code.as_bytes().to_vec();
        bytes[position] = replacement;
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn alphabet_has_31_unambiguous_symbols() {
        assert_eq!(USER_CODE_ALPHABET.len(), 31);
        for confusable in b"0O1IL" {
            assert!(!USER_CODE_ALPHABET.contains(confusable));
        }
        let mut sorted = USER_CODE_ALPHABET.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 31);
    }

    #[test]
    fn generated_codes_parse_back() {
        for code in codes(2_000) {
            assert_eq!(code.as_str().len(), 9);
            assert_eq!(UserCode::parse(code.as_str()), Ok(code.clone()));
        }
    }

    #[test]
    fn generation_uses_every_symbol_in_every_random_position() {
        let codes = codes(2_000);
        for position in 0..RANDOM_SYMBOLS {
            for &symbol in USER_CODE_ALPHABET {
                assert!(
                    codes.iter().any(|code| code.as_str().as_bytes()[position] == symbol),
                    "{} never at {position}",
                    char::from(symbol)
                );
            }
        }
    }

    #[test]
    fn every_single_substitution_is_rejected() {
        for code in codes(300) {
            for position in 0..LENGTH {
                for &replacement in USER_CODE_ALPHABET {
                    if replacement == code.as_str().as_bytes()[position] {
                        continue;
                    }
                    let typo = with_symbol(code.as_str(), position, replacement);
                    assert_eq!(
                        UserCode::parse(&typo),
                        Err(UserCodeError::CheckCharacter),
                        "{typo} from {code}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_transposition_of_distinct_symbols_is_rejected() {
        for code in codes(3_000) {
            let bytes = code.as_str().as_bytes();
            for first in 0..LENGTH {
                for second in first + 1..LENGTH {
                    if bytes[first] == bytes[second] {
                        continue;
                    }
                    let mut swapped = bytes.to_vec();
                    swapped.swap(first, second);
                    let swapped = String::from_utf8(swapped).unwrap();
                    assert_eq!(
                        UserCode::parse(&swapped),
                        Err(UserCodeError::CheckCharacter),
                        "{swapped} from {code}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_luhn_blind_spot_is_covered() {
        // Every pair of distinct symbols, swapped at every adjacent position of
        // an otherwise fixed code: exhaustive, not sampled.
        for (a_index, &a) in USER_CODE_ALPHABET.iter().enumerate() {
            for &b in &USER_CODE_ALPHABET[a_index + 1..] {
                for position in 0..RANDOM_SYMBOLS - 1 {
                    let mut indices = [3u32; LENGTH];
                    indices[position] = index_of(char::from(a)).unwrap();
                    indices[position + 1] = index_of(char::from(b)).unwrap();
                    indices[RANDOM_SYMBOLS] = check_index(&indices[..RANDOM_SYMBOLS]);
                    let code: String = indices.iter().map(|&index| symbol(index)).collect();
                    assert!(UserCode::parse(&code).is_ok());
                    let mut swapped = code.into_bytes();
                    swapped.swap(position, position + 1);
                    let swapped = String::from_utf8(swapped).unwrap();
                    assert!(UserCode::parse(&swapped).is_err(), "{swapped}");
                }
            }
        }
    }

    #[test]
    fn lower_case_spaces_and_dashes_are_accepted() {
        for code in codes(50) {
            let grouped = code.grouped();
            assert_eq!(grouped.len(), 11);
            assert_eq!(UserCode::parse(&grouped), Ok(code.clone()));
            assert_eq!(UserCode::parse(&grouped.to_lowercase()), Ok(code.clone()));
            let spaced = format!(
                " {} {} {} ",
                &code.as_str()[..3],
                &code.as_str()[3..6],
                &code.as_str()[6..]
            );
            assert_eq!(UserCode::parse(&spaced), Ok(code.clone()));
            assert_eq!(code.to_string(), code.as_str());
        }
    }

    #[test]
    fn confusable_and_foreign_characters_are_rejected() {
        let code = codes(1).remove(0);
        for confusable in [b'0', b'O', b'1', b'I', b'L', b'_', b'*'] {
            let typo = with_symbol(code.as_str(), 2, confusable);
            assert_eq!(UserCode::parse(&typo), Err(UserCodeError::Character), "{typo}");
        }
        let accented = format!("{}é", &code.as_str()[..8]);
        assert_eq!(UserCode::parse(&accented), Err(UserCodeError::Character));
    }

    #[test]
    fn wrong_lengths_are_rejected() {
        let code = codes(1).remove(0);
        assert_eq!(UserCode::parse(""), Err(UserCodeError::Length));
        assert_eq!(UserCode::parse(&code.as_str()[..8]), Err(UserCodeError::Length));
        assert_eq!(UserCode::parse(&format!("{code}2")), Err(UserCodeError::Length));
    }

    #[test]
    fn serializes_as_a_string() {
        let code = codes(1).remove(0);
        let json = serde_json::to_string(&code).unwrap();
        assert_eq!(json, format!("\"{code}\""));
        let back: UserCode = serde_json::from_str(&json).unwrap();
        assert_eq!(back, code);
    }
}
