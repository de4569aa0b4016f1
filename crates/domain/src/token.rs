//! One-time secrets — setup, reset, activation and email-change links — and
//! session ids.
//!
//! Invariant: a [`SecretToken`] is 256 bits from a CSPRNG written as 43
//! base64url characters (no padding); it is shown to its owner once and never
//! stored, logged or printed (`Debug` is redacted, there is no `Display`). Only
//! its [`TokenHash`], the lower-case hex SHA-256 of those 43 characters, is
//! stored, and lookups go by hash, so comparing secrets never happens in code.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

/// Random bytes in a token.
const TOKEN_BYTES: usize = 32;

/// Characters in a token: 32 bytes in base64url without padding.
const TOKEN_CHARS: usize = 43;

/// A one-time secret or session id, as handed to the user.
#[derive(Clone)]
pub struct SecretToken(String);

impl SecretToken {
    /// A fresh token: 32 bytes from `rng` (which must be a CSPRNG).
    pub fn generate<R: rand::RngCore + rand::CryptoRng + ?Sized>(rng: &mut R) -> SecretToken {
        let mut bytes = [0u8; TOKEN_BYTES];
        rng.fill_bytes(&mut bytes);
        SecretToken(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A token that came back from the user (a link, a cookie, a form): trimmed,
    /// and `None` unless it is exactly 43 base64url characters.
    #[must_use]
    pub fn from_user(input: &str) -> Option<SecretToken> {
        let token = input.trim();
        let well_formed = token.len() == TOKEN_CHARS
            && token
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        well_formed.then(|| SecretToken(token.to_owned()))
    }

    /// The token, to put in a link or a cookie. Never log it.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the store keeps and looks up by.
    #[must_use]
    pub fn hash(&self) -> TokenHash {
        TokenHash(hex::encode(Sha256::digest(self.0.as_bytes())))
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(***)")
    }
}

/// Lower-case hex SHA-256 of a [`SecretToken`]: safe to store and log.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    /// A hash read back from storage. Not validated: the store only holds
    /// hashes this module made.
    #[must_use]
    pub fn from_stored(stored: String) -> TokenHash {
        TokenHash(stored)
    }

    /// The 64 hex characters.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 64 hex characters, owned.
    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Lower-case hex SHA-256 of a text once trimmed and lower-cased: how a link
/// remembers the address it was mailed to, and the login throttle the login
/// text it counts, without keeping either in clear.
#[must_use]
pub fn fingerprint(text: &str) -> String {
    hex::encode(Sha256::digest(text.trim().to_lowercase().as_bytes()))
}

/// What a one-time token may be used for; a token works for one purpose only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenPurpose {
    /// First password of an account created by the desk or the CLI, and the
    /// bootstrap link for the first admin.
    Setup,
    /// Forgotten-password link.
    Reset,
    /// Activation of a newly created account.
    Activate,
    /// Confirmation of a new email address.
    EmailChange,
    /// Undoing an email change, from the link sent to the old address.
    EmailUndo,
    /// The one-time code of a recovery letter printed at the desk (its
    /// hash is a [`crate::identity_check::RecoveryCode`]'s, not a link's).
    RecoveryLetter,
}

impl TokenPurpose {
    /// Every purpose, in declaration order.
    pub const ALL: &'static [TokenPurpose] = &[
        TokenPurpose::Setup,
        TokenPurpose::Reset,
        TokenPurpose::Activate,
        TokenPurpose::EmailChange,
        TokenPurpose::EmailUndo,
        TokenPurpose::RecoveryLetter,
    ];

    /// The stored spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Setup => "setup",
            TokenPurpose::Reset => "reset",
            TokenPurpose::Activate => "activate",
            TokenPurpose::EmailChange => "email_change",
            TokenPurpose::EmailUndo => "email_undo",
            TokenPurpose::RecoveryLetter => "recovery_letter",
        }
    }

    /// The purpose with this exact stored spelling.
    #[must_use]
    pub fn parse(text: &str) -> Option<TokenPurpose> {
        TokenPurpose::ALL
            .iter()
            .copied()
            .find(|purpose| purpose.as_str() == text)
    }

    /// How long a token of this purpose lives unless configured otherwise.
    #[must_use]
    pub fn default_lifetime_secs(self) -> i64 {
        const HOUR: i64 = 3_600;
        const DAY: i64 = 24 * HOUR;
        match self {
            TokenPurpose::Setup => HOUR,
            TokenPurpose::Reset => HOUR / 2,
            TokenPurpose::Activate => 7 * DAY,
            TokenPurpose::EmailChange => DAY,
            TokenPurpose::EmailUndo => 7 * DAY,
            TokenPurpose::RecoveryLetter => 3 * DAY,
        }
    }
}

impl fmt::Display for TokenPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::{OsRng, StdRng};

    #[test]
    fn generated_tokens_are_43_base64url_characters() {
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..200 {
            let token = SecretToken::generate(&mut rng);
            assert_eq!(token.as_str().len(), 43);
            let back = SecretToken::from_user(token.as_str()).unwrap();
            assert_eq!(back.as_str(), token.as_str());
            let decoded = URL_SAFE_NO_PAD.decode(token.as_str()).unwrap();
            assert_eq!(decoded.len(), 32);
        }
    }

    #[test]
    fn tokens_differ() {
        let first = SecretToken::generate(&mut OsRng);
        let second = SecretToken::generate(&mut OsRng);
        assert_ne!(first.as_str(), second.as_str());
        assert_ne!(first.hash(), second.hash());
    }

    #[test]
    fn works_with_an_injected_trait_object() {
        // How callers inject a controllable CSPRNG: one trait object that is
        // both RngCore and CryptoRng.
        trait SecureRng: rand::RngCore + rand::CryptoRng {}
        impl<T: rand::RngCore + rand::CryptoRng> SecureRng for T {}
        let mut first: Box<dyn SecureRng> = Box::new(StdRng::seed_from_u64(3));
        let mut again: Box<dyn SecureRng> = Box::new(StdRng::seed_from_u64(3));
        assert_eq!(
            SecretToken::generate(first.as_mut()).as_str(),
            SecretToken::generate(again.as_mut()).as_str()
        );
    }

    #[test]
    fn from_user_trims_and_validates() {
        let token = SecretToken::generate(&mut OsRng);
        let padded = format!("  {}\n", token.as_str());
        assert_eq!(SecretToken::from_user(&padded).unwrap().as_str(), token.as_str());

        assert!(SecretToken::from_user("").is_none());
        assert!(SecretToken::from_user(&token.as_str()[..42]).is_none());
        assert!(SecretToken::from_user(&format!("{}A", token.as_str())).is_none());
        let with_plus = format!("+{}", &token.as_str()[1..]);
        assert!(SecretToken::from_user(&with_plus).is_none());
        let with_padding = format!("{}=", &token.as_str()[..42]);
        assert!(SecretToken::from_user(&with_padding).is_none());
        let accented = format!("é{}", &token.as_str()[2..]);
        assert!(SecretToken::from_user(&accented).is_none());
    }

    #[test]
    fn fingerprint_ignores_case_and_surrounding_space() {
        assert_eq!(fingerprint(" Maria@Example.IT "), fingerprint("maria@example.it"));
        assert_ne!(fingerprint("maria@example.it"), fingerprint("mario@example.it"));
        assert_eq!(fingerprint("x").len(), 64);
    }

    #[test]
    fn hash_is_lower_hex_sha256_of_the_text() {
        let token = SecretToken::from_user("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        let hash = token.hash();
        assert_eq!(hash.as_str().len(), 64);
        assert!(
            hash.as_str()
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(
            hash.as_str(),
            hex::encode(Sha256::digest(b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
        );
        assert_eq!(TokenHash::from_stored(hash.as_str().to_owned()), hash);
        assert_eq!(hash.clone().into_string(), hash.as_str());
    }

    #[test]
    fn sha256_known_answer() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            hex::encode(Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn debug_is_redacted() {
        let token = SecretToken::generate(&mut OsRng);
        let debug = format!("{token:?}");
        assert_eq!(debug, "SecretToken(***)");
        assert!(!debug.contains(token.as_str()));
    }

    #[test]
    fn purposes() {
        for purpose in TokenPurpose::ALL {
            assert_eq!(TokenPurpose::parse(purpose.as_str()), Some(*purpose));
            assert_eq!(
                serde_json::to_string(purpose).unwrap(),
                format!("\"{}\"", purpose.as_str())
            );
        }
        assert_eq!(TokenPurpose::EmailChange.as_str(), "email_change");
        assert_eq!(TokenPurpose::parse("email-change"), None);
        assert_eq!(TokenPurpose::Setup.default_lifetime_secs(), 3_600);
        assert_eq!(TokenPurpose::Reset.default_lifetime_secs(), 1_800);
        assert_eq!(TokenPurpose::Activate.default_lifetime_secs(), 604_800);
        assert_eq!(TokenPurpose::EmailChange.default_lifetime_secs(), 86_400);
    }
}
