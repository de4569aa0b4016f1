//! The in-person identity check at the desk, and the recovery code of the
//! printed letter.
//!
//! Invariants:
//! - Of a document only its type, its last 4 characters and its expiry are
//!   ever kept (and only the first two in the audit log); never its number.
//! - A [`RecoveryCode`] is 16 symbols from a CSPRNG over an alphabet without
//!   look-alikes (80 bits), written as 4 groups of 4 for typing; it is shown
//!   once (printed) and never stored: only [`RecoveryCode::hash`], bound to
//!   the account's user code, is. `Debug` is redacted.

use std::fmt;

use sha2::{Digest as _, Sha256};

use crate::user_code::USER_CODE_ALPHABET;

/// The identity documents the desk accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    /// Carta d'identità (paper or card, not electronic).
    CartaIdentita,
    /// Carta d'identità elettronica.
    Cie,
    /// Passaporto.
    Passaporto,
    /// Patente di guida.
    Patente,
}

impl DocumentType {
    /// Every type, in the order forms list them.
    pub const ALL: &'static [DocumentType] = &[
        DocumentType::CartaIdentita,
        DocumentType::Cie,
        DocumentType::Passaporto,
        DocumentType::Patente,
    ];

    /// The stable spelling (forms, API, audit).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentType::CartaIdentita => "carta_identita",
            DocumentType::Cie => "cie",
            DocumentType::Passaporto => "passaporto",
            DocumentType::Patente => "patente",
        }
    }

    /// The type with this exact spelling.
    #[must_use]
    pub fn parse(text: &str) -> Option<DocumentType> {
        DocumentType::ALL.iter().copied().find(|d| d.as_str() == text.trim())
    }
}

/// How a recovery issued at the desk reaches the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryChannel {
    /// The forgot-password link, mailed to the (corrected) address.
    Link,
    /// A printed letter with a one-time [`RecoveryCode`], handed over.
    Letter,
}

impl RecoveryChannel {
    /// The stable spelling (forms, API, audit).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RecoveryChannel::Link => "link",
            RecoveryChannel::Letter => "letter",
        }
    }

    /// The channel with this spelling.
    #[must_use]
    pub fn parse(text: &str) -> Option<RecoveryChannel> {
        [RecoveryChannel::Link, RecoveryChannel::Letter]
            .into_iter()
            .find(|c| c.as_str() == text.trim())
    }
}

/// What the desk did, as told to every address of the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeskNotice {
    /// A recovery link was mailed.
    Link,
    /// A recovery letter was handed over.
    Letter,
    /// The SPID/CIE identities were unlinked.
    Unlinked,
}

impl From<RecoveryChannel> for DeskNotice {
    fn from(channel: RecoveryChannel) -> Self {
        match channel {
            RecoveryChannel::Link => DeskNotice::Link,
            RecoveryChannel::Letter => DeskNotice::Letter,
        }
    }
}

/// The last 4 characters of a document's number, upper-cased: exactly 4
/// ASCII letters or digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentLast4(String);

impl DocumentLast4 {
    /// Reads what the operator typed (spaces around are ignored).
    pub fn parse(text: &str) -> Result<DocumentLast4, IdentityCheckError> {
        let text = text.trim();
        if text.len() == 4 && text.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(DocumentLast4(text.to_ascii_uppercase()))
        } else {
            Err(IdentityCheckError::Last4)
        }
    }

    /// The 4 characters.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a part of an identity check was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdentityCheckError {
    /// Not one of the accepted document types.
    #[error("choose the type of the document: carta_identita, cie, passaporto or patente")]
    DocumentType,
    /// Not 4 letters or digits.
    #[error("type the last 4 characters of the document's number (letters and digits)")]
    Last4,
    /// Not a date `YYYY-MM-DD`.
    #[error("type the document's expiry date as YYYY-MM-DD")]
    ExpiryFormat,
    /// Expired before today.
    #[error("the document has expired")]
    Expired,
}

/// Reads an expiry date `YYYY-MM-DD` (as an HTML date field sends it) into
/// a comparable day number `yyyymmdd`; checks that the day exists.
pub fn parse_expiry(text: &str) -> Result<u32, IdentityCheckError> {
    let text = text.trim();
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shaped {
        return Err(IdentityCheckError::ExpiryFormat);
    }
    let number =
        |range: std::ops::Range<usize>| text[range].parse::<u32>().map_err(|_| IdentityCheckError::ExpiryFormat);
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(IdentityCheckError::ExpiryFormat),
    };
    if year < 1900 || day == 0 || day > days {
        return Err(IdentityCheckError::ExpiryFormat);
    }
    Ok(year * 10_000 + month * 100 + day)
}

/// Symbols of a recovery code: those of user codes (no `0 O 1 I L`).
const CODE_ALPHABET: &[u8] = USER_CODE_ALPHABET;

/// Symbols in a recovery code.
const CODE_SYMBOLS: usize = 16;

/// The one-time code of a recovery letter.
#[derive(Clone)]
pub struct RecoveryCode(String);

impl RecoveryCode {
    /// A fresh code from `rng` (which must be a CSPRNG).
    pub fn generate<R: rand::RngCore + rand::CryptoRng + ?Sized>(rng: &mut R) -> RecoveryCode {
        use rand::Rng as _;
        let code = (0..CODE_SYMBOLS)
            .map(|_| char::from(CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())]))
            .collect();
        RecoveryCode(code)
    }

    /// A code typed by its owner: spaces and hyphens ignored, case folded;
    /// `None` unless 16 symbols of the alphabet remain.
    #[must_use]
    pub fn from_user(input: &str) -> Option<RecoveryCode> {
        if input.len() > 64 {
            return None;
        }
        let code: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let well_formed = code.len() == CODE_SYMBOLS && code.bytes().all(|b| CODE_ALPHABET.contains(&b));
        well_formed.then_some(RecoveryCode(code))
    }

    /// As printed: `ABCD-EFGH-JKMN-PQRS`. Never log it.
    #[must_use]
    pub fn grouped(&self) -> String {
        self.0
            .as_bytes()
            .chunks(4)
            .map(|group| String::from_utf8_lossy(group).into_owned())
            .collect::<Vec<_>>()
            .join("-")
    }

    /// What the store keeps and looks up by: the lower-case hex SHA-256 of
    /// the code bound to the account's user code, so a code works for its
    /// own account only.
    #[must_use]
    pub fn hash(&self, user_code: &str) -> String {
        let bound = format!("recovery-letter:{}:{}", user_code.trim().to_ascii_uppercase(), self.0);
        hex::encode(Sha256::digest(bound.as_bytes()))
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn document_types_read_their_own_spelling_only() {
        for d in DocumentType::ALL {
            assert_eq!(DocumentType::parse(d.as_str()), Some(*d));
        }
        assert_eq!(DocumentType::parse("tessera"), None);
        assert_eq!(DocumentType::parse("CIE"), None);
    }

    #[test]
    fn last4_is_four_letters_or_digits() {
        assert_eq!(DocumentLast4::parse(" ab12 ").unwrap().as_str(), "AB12");
        for bad in ["", "abc", "abcde", "ab-1", "àb12", "12 4"] {
            assert_eq!(DocumentLast4::parse(bad), Err(IdentityCheckError::Last4), "{bad}");
        }
    }

    #[test]
    fn expiry_dates_must_exist() {
        assert_eq!(parse_expiry("2027-02-28"), Ok(20_270_228));
        assert_eq!(parse_expiry("2028-02-29"), Ok(20_280_229));
        for bad in [
            "2027-02-29",
            "2027-13-01",
            "2027-00-10",
            "27-01-01",
            "2027/01/01",
            "",
            "2027-01-1x",
        ] {
            assert_eq!(parse_expiry(bad), Err(IdentityCheckError::ExpiryFormat), "{bad}");
        }
    }

    #[test]
    fn recovery_codes_are_typable_and_bound_to_their_account() {
        let mut rng = StdRng::seed_from_u64(7);
        let code = RecoveryCode::generate(&mut rng);
        let grouped = code.grouped();
        assert_eq!(grouped.len(), 19);
        assert_eq!(grouped.matches('-').count(), 3);
        let typed = RecoveryCode::from_user(&grouped.to_lowercase().replace('-', " ")).unwrap();
        assert_eq!(typed.hash("ABCD23456"), code.hash("abcd23456"));
        assert_ne!(typed.hash("ABCD23456"), code.hash("EFGH23456"));
        assert!(RecoveryCode::from_user("ABCD-EFGH-JKMN-PQR0").is_none());
        assert!(RecoveryCode::from_user("ABCD-EFGH-JKMN").is_none());
        assert_eq!(format!("{code:?}"), "RecoveryCode(***)");
        assert_ne!(RecoveryCode::generate(&mut rng).grouped(), grouped);
    }
}
