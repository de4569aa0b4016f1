//! The one error type of the crate.
//!
//! Invariant: one variant per distinct failure, so the layers above can map
//! each to the right OAuth error (`invalid_client`, `invalid_grant`, …) without
//! parsing text; no message ever contains a secret, a private key or a token.

use std::path::PathBuf;

/// Why an OpenID Connect protocol step failed.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The key-encryption key given as text is not standard base64.
    #[error("the key-encryption key is not valid base64")]
    KekEncoding,

    /// The key-encryption key decodes to the wrong number of bytes.
    #[error("the key-encryption key is {found} bytes long; it must be exactly 32")]
    KekLength { found: usize },

    /// The key-encryption key file does not hold base64.
    #[error("the key-encryption key file {} does not hold base64 text", path.display())]
    KekFileEncoding { path: PathBuf },

    /// The key-encryption key file holds a key of the wrong size.
    #[error(
        "the key-encryption key file {} holds {found} bytes; it must hold exactly 32 (base64 of 32 random bytes)",
        path.display()
    )]
    KekFileLength { path: PathBuf, found: usize },

    /// The key-encryption key file (or its folder) cannot be read or written.
    #[error("cannot read or write the key-encryption key file {}", path.display())]
    KekIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The algorithm is not one this crate signs or verifies with.
    #[error("unsupported signing algorithm {0:?}")]
    UnsupportedAlg(String),

    /// A new signing key could not be generated.
    #[error("cannot generate a signing key")]
    KeyGeneration(#[source] josekit::JoseError),

    /// A signing key could not be built from its private JWK.
    #[error("the private signing key is not a usable {alg} key")]
    InvalidPrivateKey {
        alg: &'static str,
        #[source]
        source: josekit::JoseError,
    },

    /// A signing key could not be sealed under the key-encryption key.
    #[error("cannot seal the signing key")]
    Seal(#[source] josekit::JoseError),

    /// A sealed signing key could not be opened: another key-encryption key
    /// sealed it, or the stored text is damaged.
    #[error("cannot unseal the signing key: wrong key-encryption key or damaged data")]
    Unseal,

    /// A sealed signing key opened, but it is not the key its record names.
    #[error("the sealed signing key is not the key {kid} ({alg}) its record names")]
    SealedKeyMismatch { kid: String, alg: &'static str },

    /// A claim to be signed is `null`; Varco leaves a claim out instead.
    #[error("the claim {0:?} is null; leave it out instead")]
    NullClaim(String),

    /// Signing failed inside the JOSE library.
    #[error("cannot sign the token")]
    Signing(#[source] josekit::JoseError),

    /// The token is not a compact JWS with a JSON header and a JSON object payload.
    #[error("the token is not a well-formed compact JWS")]
    MalformedJws,

    /// No key of the set matches the token's `kid` and `alg`.
    #[error("no known key matches the token's kid and alg")]
    UnknownKey,

    /// The signature does not verify with any matching key.
    #[error("the token's signature does not verify")]
    BadSignature,

    /// The client's JWK Set is not a JSON object with a `keys` array of objects.
    #[error("the client's JWK Set is not valid")]
    InvalidJwks,

    /// The `Authorization` header is not `Basic` client authentication as
    /// RFC 6749 §2.3.1 defines it.
    #[error("the Authorization header is not valid HTTP Basic client authentication")]
    MalformedBasicAuth,

    /// The client assertion's `iss` is not the client id.
    #[error("the client assertion's iss is not the client id")]
    AssertionIssuer,

    /// The client assertion's `sub` is not the client id.
    #[error("the client assertion's sub is not the client id")]
    AssertionSubject,

    /// The client assertion's `aud` names none of Varco's accepted audiences.
    #[error("the client assertion's aud names none of the accepted audiences")]
    AssertionAudience,

    /// The client assertion has no numeric `exp`.
    #[error("the client assertion has no numeric exp")]
    AssertionExpiryMissing,

    /// The client assertion's `exp` is not in the future.
    #[error("the client assertion has expired")]
    AssertionExpired,

    /// The client assertion's `exp` is too far ahead (a long-lived assertion
    /// could be replayed for long).
    #[error("the client assertion's exp is more than {max_secs} seconds ahead")]
    AssertionLifetimeTooLong { max_secs: i64 },

    /// The client assertion's `nbf` is in the future.
    #[error("the client assertion is not valid yet")]
    AssertionNotYetValid,

    /// The client assertion has no `jti` (needed to refuse replays).
    #[error("the client assertion has no jti")]
    AssertionJtiMissing,
}
