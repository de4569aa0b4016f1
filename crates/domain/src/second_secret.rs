//! The second secrets that confirm one act: the PIN of family accounts (a
//! child's absences) and the personal code of staff accounts (an
//! application). Generation, the format a typed code must have, and the
//! rules a code chosen by its owner must pass.

use rand::Rng;

use crate::account::AccountKind;

/// Which second secret an account has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecondSecretKind {
    /// Digits only (families).
    Pin,
    /// Letters and digits from [`PERSONAL_CODE_ALPHABET`] (staff).
    PersonalCode,
}

/// Letters and digits nobody confuses when reading or typing them: no
/// 0/O, 1/I/L, 5/S, 2/Z, 8/B.
pub const PERSONAL_CODE_ALPHABET: &[u8] = b"34679ACDEFGHJKMNPQRTUVWXY";

/// The shortest PIN and personal code allowed by the configuration.
pub const MIN_PIN_LENGTH: usize = 6;
/// See [`MIN_PIN_LENGTH`].
pub const MIN_PERSONAL_CODE_LENGTH: usize = 8;
/// The longest either may be configured.
pub const MAX_LENGTH: usize = 16;

impl SecondSecretKind {
    /// The secret of an account of this kind.
    pub fn of(kind: AccountKind) -> SecondSecretKind {
        match kind {
            AccountKind::Family => SecondSecretKind::Pin,
            AccountKind::Staff => SecondSecretKind::PersonalCode,
        }
    }

    /// As stored and shown to templates: `pin`, `personal_code`.
    pub fn as_str(self) -> &'static str {
        match self {
            SecondSecretKind::Pin => "pin",
            SecondSecretKind::PersonalCode => "personal_code",
        }
    }

    /// The stored spelling back.
    pub fn parse(s: &str) -> Option<SecondSecretKind> {
        match s {
            "pin" => Some(SecondSecretKind::Pin),
            "personal_code" => Some(SecondSecretKind::PersonalCode),
            _ => None,
        }
    }

    /// A fresh code of `length` characters from a CSPRNG.
    pub fn generate(self, length: usize, rng: &mut (impl Rng + rand::CryptoRng)) -> String {
        let alphabet: &[u8] = match self {
            SecondSecretKind::Pin => b"0123456789",
            SecondSecretKind::PersonalCode => PERSONAL_CODE_ALPHABET,
        };
        loop {
            let code: String = (0..length)
                .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
                .collect();
            // A drawn code obeys the same rules as a chosen one.
            if trivial(&code).is_none() {
                return code;
            }
        }
    }

    /// A typed code as stored: trimmed, spaces removed, upper case (a
    /// personal code may be typed in lower case).
    pub fn normalise(self, typed: &str) -> String {
        typed
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect::<String>()
            .to_uppercase()
    }

    /// Whether a typed (normalised) code has this secret's format.
    pub fn check_format(self, code: &str, length: usize) -> Result<(), SecondSecretRule> {
        if code.chars().count() != length {
            return Err(SecondSecretRule::Length { expected: length });
        }
        let ok = match self {
            SecondSecretKind::Pin => code.chars().all(|c| c.is_ascii_digit()),
            SecondSecretKind::PersonalCode => code.bytes().all(|b| PERSONAL_CODE_ALPHABET.contains(&b)),
        };
        if ok {
            Ok(())
        } else {
            Err(match self {
                SecondSecretKind::Pin => SecondSecretRule::DigitsOnly,
                SecondSecretKind::PersonalCode => SecondSecretRule::Alphabet,
            })
        }
    }

    /// Whether a code chosen by its owner may be used: the format, then no
    /// trivial pattern, then not the birth date written in the tax code.
    pub fn check_chosen(self, code: &str, length: usize, tax_code: &str) -> Result<(), SecondSecretRule> {
        self.check_format(code, length)?;
        if let Some(rule) = trivial(code) {
            return Err(rule);
        }
        if contains_birth_date(code, tax_code) {
            return Err(SecondSecretRule::BirthDate);
        }
        Ok(())
    }
}

/// Why a code is refused; each has a stable code for pages and the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecondSecretRule {
    /// Not the configured length.
    #[error("the code must be {expected} characters long")]
    Length {
        /// The configured length.
        expected: usize,
    },
    /// A PIN holds something else than digits.
    #[error("a PIN holds digits only")]
    DigitsOnly,
    /// A personal code holds a character outside its alphabet.
    #[error("a personal code holds only the letters and digits of its alphabet")]
    Alphabet,
    /// One character repeated (`111111`).
    #[error("the code repeats one character")]
    Repeated,
    /// A run up or down (`123456`, `987654`).
    #[error("the code is a sequence")]
    Sequence,
    /// The birth date written in the tax code.
    #[error("the code is the birth date")]
    BirthDate,
}

impl SecondSecretRule {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            SecondSecretRule::Length { .. } => "length",
            SecondSecretRule::DigitsOnly => "digits_only",
            SecondSecretRule::Alphabet => "alphabet",
            SecondSecretRule::Repeated => "repeated",
            SecondSecretRule::Sequence => "sequence",
            SecondSecretRule::BirthDate => "birth_date",
        }
    }
}

/// A repeated character, a run of repeated pairs (`121212`), or a sequence
/// up or down.
fn trivial(code: &str) -> Option<SecondSecretRule> {
    let bytes = code.as_bytes();
    if bytes.len() < 2 {
        return None;
    }
    if bytes.iter().all(|&b| b == bytes[0]) {
        return Some(SecondSecretRule::Repeated);
    }
    if bytes.len() >= 4 && bytes.iter().enumerate().all(|(i, &b)| b == bytes[i % 2]) {
        return Some(SecondSecretRule::Repeated);
    }
    let steps: Vec<i16> = bytes.windows(2).map(|w| i16::from(w[1]) - i16::from(w[0])).collect();
    if steps.iter().all(|&d| d == 1) || steps.iter().all(|&d| d == -1) {
        return Some(SecondSecretRule::Sequence);
    }
    None
}

/// The birth date a tax code carries, as (day, month, two-digit year);
/// omocodia letters read back as digits.
fn birth_date(tax_code: &str) -> Option<(u32, u32, u32)> {
    let chars: Vec<char> = tax_code.trim().to_uppercase().chars().collect();
    if chars.len() != 16 {
        return None;
    }
    let digit = |c: char| -> Option<u32> { c.to_digit(10).or_else(|| "LMNPQRSTUV".find(c).map(|i| i as u32)) };
    let year = digit(chars[6])? * 10 + digit(chars[7])?;
    let month = "ABCDEHLMPRST".find(chars[8])? as u32 + 1;
    let mut day = digit(chars[9])? * 10 + digit(chars[10])?;
    if day > 40 {
        day -= 40;
    }
    (1..=31).contains(&day).then_some((day, month, year))
}

/// Whether the code holds the birth date in a form people use: ddmmyy,
/// ddmmyyyy, yymmdd, yyyymmdd (the century guessed both ways).
fn contains_birth_date(code: &str, tax_code: &str) -> bool {
    let Some((d, m, y)) = birth_date(tax_code) else {
        return false;
    };
    let forms = [
        format!("{d:02}{m:02}{y:02}"),
        format!("{y:02}{m:02}{d:02}"),
        format!("{d:02}{m:02}19{y:02}"),
        format!("{d:02}{m:02}20{y:02}"),
        format!("19{y:02}{m:02}{d:02}"),
        format!("20{y:02}{m:02}{d:02}"),
    ];
    forms.iter().any(|f| code.contains(f.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mario Rossi, born 10 December 1985 (tax code RSSMRA85T10A562S).
    const CF: &str = "RSSMRA85T10A562S";

    #[test]
    fn generated_codes_have_their_format_and_are_not_trivial() {
        let mut rng = rand::rngs::OsRng;
        for _ in 0..200 {
            let pin = SecondSecretKind::Pin.generate(6, &mut rng);
            assert_eq!(SecondSecretKind::Pin.check_format(&pin, 6), Ok(()));
            assert!(trivial(&pin).is_none(), "{pin}");
            let code = SecondSecretKind::PersonalCode.generate(8, &mut rng);
            assert_eq!(SecondSecretKind::PersonalCode.check_format(&code, 8), Ok(()));
        }
        let a = SecondSecretKind::Pin.generate(6, &mut rng);
        let b = SecondSecretKind::Pin.generate(6, &mut rng);
        let c = SecondSecretKind::Pin.generate(6, &mut rng);
        assert!(a != b || b != c, "three equal draws");
    }

    #[test]
    fn chosen_codes_are_checked() {
        let pin = SecondSecretKind::Pin;
        assert_eq!(
            pin.check_chosen("48213", 6, CF),
            Err(SecondSecretRule::Length { expected: 6 })
        );
        assert_eq!(pin.check_chosen("48a139", 6, CF), Err(SecondSecretRule::DigitsOnly));
        assert_eq!(pin.check_chosen("777777", 6, CF), Err(SecondSecretRule::Repeated));
        assert_eq!(pin.check_chosen("121212", 6, CF), Err(SecondSecretRule::Repeated));
        assert_eq!(pin.check_chosen("345678", 6, CF), Err(SecondSecretRule::Sequence));
        assert_eq!(pin.check_chosen("876543", 6, CF), Err(SecondSecretRule::Sequence));
        assert_eq!(pin.check_chosen("101285", 6, CF), Err(SecondSecretRule::BirthDate));
        assert_eq!(pin.check_chosen("851210", 6, CF), Err(SecondSecretRule::BirthDate));
        assert_eq!(pin.check_chosen("10121985", 8, CF), Err(SecondSecretRule::BirthDate));
        assert_eq!(pin.check_chosen("482139", 6, CF), Ok(()));
        // A woman's day (+40) and omocodia letters read back.
        assert_eq!(
            pin.check_chosen("050390", 6, "BNCGLI90C45H501Q"),
            Err(SecondSecretRule::BirthDate)
        );
        assert_eq!(
            pin.check_chosen("101285", 6, "RSSMRAURT10A562S"),
            Err(SecondSecretRule::BirthDate)
        );
        let code = SecondSecretKind::PersonalCode;
        assert_eq!(code.check_chosen("K7M2Q9P4", 8, CF), Err(SecondSecretRule::Alphabet));
        assert_eq!(code.check_chosen("K7MAQ9P4", 8, CF), Ok(()));
        assert_eq!(code.check_chosen("AAAAAAAA", 8, CF), Err(SecondSecretRule::Repeated));
        assert_eq!(code.normalise(" k7ma-q9p4 "), "K7MAQ9P4");
    }
}
