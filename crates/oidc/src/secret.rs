//! Opaque tokens and client secrets: authorization codes, access and refresh
//! tokens, client secrets.
//!
//! Invariant: a token is 256 bits from the operating system's CSPRNG written
//! as 43 base64url characters; only its lower-case hex SHA-256 is stored, and
//! a presented secret is checked against a stored hash in constant time.

use rand::rngs::OsRng;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use varco_domain::token::SecretToken;

/// A fresh 256-bit token, 43 base64url characters.
#[must_use]
pub fn new_token() -> String {
    SecretToken::generate(&mut OsRng).as_str().to_owned()
}

/// The lower-case hex SHA-256 of `secret`: what the store keeps.
#[must_use]
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether `secret` hashes to `stored_hash`, compared in constant time.
#[must_use]
pub fn matches(secret: &str, stored_hash: &str) -> bool {
    hash(secret).as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_base64url_characters_and_differ() {
        let first = new_token();
        let second = new_token();
        assert_eq!(first.len(), 43);
        assert!(
            first
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
        );
        assert_ne!(first, second);
    }

    #[test]
    fn hash_is_hex_sha256_like_the_domain_tokens() {
        // FIPS 180-2 example: SHA-256("abc").
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let token = new_token();
        let domain = SecretToken::from_user(&token).unwrap().hash();
        assert_eq!(hash(&token), domain.as_str());
    }

    #[test]
    fn matches_only_the_right_secret() {
        let secret = new_token();
        let stored = hash(&secret);
        assert!(matches(&secret, &stored));
        assert!(!matches(&new_token(), &stored));
        assert!(!matches(&secret, &stored.to_uppercase()));
        assert!(!matches(&secret, &stored[..63]));
        assert!(!matches(&secret, ""));
    }
}
