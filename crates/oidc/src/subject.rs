//! Pairwise subject identifiers (OpenID Connect Core §8.1): each sector (the
//! host of a client's redirect URIs, or its `sector_identifier_uri`) sees its
//! own `sub` for an account, so two unrelated clients cannot link their users.
//!
//! Invariant: the pairwise `sub` is HMAC-SHA256 under a secret key of the
//! sector and the account's stable subject, framed so no two (sector, subject)
//! pairs share an input; it is stable for as long as the key is.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// The pairwise `sub` of `subject` (the account's stable public subject) for
/// `sector`: HMAC-SHA256 under `key` of the sector's length (8 bytes, big
/// endian), the sector and the subject, in base64url (43 characters).
#[must_use]
pub fn pairwise_subject(key: &[u8; 32], sector: &str, subject: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(&(sector.len() as u64).to_be_bytes());
    mac.update(sector.as_bytes());
    mac.update(subject.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;

    /// HMAC-SHA256 written out from RFC 2104 on plain SHA-256, to check the
    /// crate against an independent computation.
    fn rfc2104_hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
        let mut block = [0u8; 64];
        block[..key.len()].copy_from_slice(key);
        let inner_pad: Vec<u8> = block.iter().map(|byte| byte ^ 0x36).collect();
        let outer_pad: Vec<u8> = block.iter().map(|byte| byte ^ 0x5c).collect();
        let inner = Sha256::new().chain_update(&inner_pad).chain_update(message).finalize();
        Sha256::new()
            .chain_update(&outer_pad)
            .chain_update(inner)
            .finalize()
            .to_vec()
    }

    #[test]
    fn matches_an_independent_hmac() {
        let key = [42u8; 32];
        let mut message = 15u64.to_be_bytes().to_vec();
        message.extend_from_slice(b"app.school.testsubject-1");
        let expected = URL_SAFE_NO_PAD.encode(rfc2104_hmac_sha256(&key, &message));
        assert_eq!(pairwise_subject(&key, "app.school.test", "subject-1"), expected);
        assert_eq!(expected.len(), 43);
    }

    #[test]
    fn differs_per_sector_per_subject_and_per_key_and_is_stable() {
        let key = [1u8; 32];
        let sub = pairwise_subject(&key, "a.test", "s1");
        assert_eq!(sub, pairwise_subject(&key, "a.test", "s1"));
        assert_ne!(sub, pairwise_subject(&key, "b.test", "s1"));
        assert_ne!(sub, pairwise_subject(&key, "a.test", "s2"));
        assert_ne!(sub, pairwise_subject(&[2u8; 32], "a.test", "s1"));
        // The framing keeps sector and subject apart.
        assert_ne!(pairwise_subject(&key, "ab", "c"), pairwise_subject(&key, "a", "bc"));
    }
}
