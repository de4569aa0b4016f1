//! Proof Key for Code Exchange (RFC 7636), S256 only.
//!
//! Invariant: a code is redeemed only with a verifier of 43–128 unreserved
//! characters whose base64url SHA-256 equals the stored challenge, compared in
//! constant time. `plain` is never accepted: [`valid_method`] says no, and a
//! verifier sent as its own challenge does not match.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The only `code_challenge_method` Varco accepts.
pub const METHOD_S256: &str = "S256";

/// Characters in an S256 challenge: 32 bytes in base64url without padding.
const CHALLENGE_CHARS: usize = 43;

/// Whether `method` is a `code_challenge_method` Varco accepts (`S256`, exactly).
#[must_use]
pub fn valid_method(method: &str) -> bool {
    method == METHOD_S256
}

/// Whether `verifier` is a well-formed `code_verifier` (RFC 7636 §4.1):
/// 43 to 128 characters of `[A-Za-z0-9-._~]`.
#[must_use]
pub fn valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `challenge` is a well-formed S256 `code_challenge`: exactly 43
/// base64url characters that decode to 32 bytes (no padding, no stray bits).
#[must_use]
pub fn valid_challenge(challenge: &str) -> bool {
    challenge.len() == CHALLENGE_CHARS && URL_SAFE_NO_PAD.decode(challenge).is_ok_and(|bytes| bytes.len() == 32)
}

/// The S256 `code_challenge` of `verifier`: `BASE64URL(SHA256(verifier))`
/// (what a relying party sends with its authorization request).
#[must_use]
pub fn challenge_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` proves `challenge` under S256:
/// `BASE64URL(SHA256(verifier)) == challenge`, compared in constant time.
/// Malformed inputs never match.
#[must_use]
pub fn verify_s256(verifier: &str, challenge: &str) -> bool {
    if !valid_verifier(verifier) || !valid_challenge(challenge) {
        return false;
    }
    let computed = challenge_s256(verifier);
    computed.as_bytes().ct_eq(challenge.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc_7636_appendix_b_vector_matches() {
        assert!(valid_verifier(VERIFIER));
        assert!(valid_challenge(CHALLENGE));
        assert!(verify_s256(VERIFIER, CHALLENGE));
        assert_eq!(challenge_s256(VERIFIER), CHALLENGE);
    }

    #[test]
    fn plain_is_refused() {
        assert!(valid_method("S256"));
        for method in ["plain", "s256", "", "S256 "] {
            assert!(!valid_method(method), "{method:?}");
        }
        // A plain challenge is the verifier itself: it never verifies under S256.
        assert!(valid_challenge(VERIFIER));
        assert!(!verify_s256(VERIFIER, VERIFIER));
    }

    #[test]
    fn a_wrong_verifier_or_challenge_is_refused() {
        let other_verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl";
        assert!(valid_verifier(other_verifier));
        assert!(!verify_s256(other_verifier, CHALLENGE));
        // Well-formed challenges that are not the verifier's (the first differs
        // in its last 6 bits, the second in its second half).
        for other_challenge in [
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cA",
            "E9Melhoa2OwvFrEMTJguCHaoeUoo3tJAZbaZZgYSmMU",
        ] {
            assert!(valid_challenge(other_challenge));
            assert!(!verify_s256(VERIFIER, other_challenge), "{other_challenge}");
        }
    }

    #[test]
    fn malformed_verifiers_are_refused() {
        let too_short = &VERIFIER[..42];
        let longest = "a".repeat(128);
        let too_long = "a".repeat(129);
        assert!(!valid_verifier(too_short));
        assert!(valid_verifier(&longest));
        assert!(!valid_verifier(&too_long));
        assert!(valid_verifier(&"-._~".repeat(11)));
        for bad in [" ", "+", "/", "=", "%", "é"] {
            let verifier = format!("{}{bad}", &VERIFIER[..42]);
            assert!(!valid_verifier(&verifier), "{verifier:?}");
        }
        // Malformed verifiers never match, even against their own S256 hash.
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(too_short.as_bytes()));
        assert!(!verify_s256(too_short, &challenge));
    }

    #[test]
    fn malformed_challenges_are_refused() {
        assert!(!valid_challenge(&CHALLENGE[..42]));
        assert!(!valid_challenge(&format!("{CHALLENGE}=")));
        assert!(!valid_challenge(&format!("{CHALLENGE}A")));
        assert!(!valid_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"));
        assert!(!valid_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw/cM"));
        // The last character carries 2 spare bits that must be zero: "N" sets one.
        assert!(!valid_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));
        assert!(!verify_s256(VERIFIER, &CHALLENGE[..42]));
        assert!(!verify_s256(VERIFIER, ""));
    }
}
