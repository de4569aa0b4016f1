//! The relying party's error type.
//!
//! Invariant: one variant per distinct refusal, so the web layer can pick the
//! message and the audit event without parsing text; no message holds a
//! token, a code, a secret, a nonce, a state or a personal attribute. What
//! came from the provider (an error code or description) is sanitized first.

use varco_domain::TaxCodeError;

use crate::OidcError;

/// Why a relying-party step failed.
#[derive(Debug, thiserror::Error)]
pub enum RpError {
    /// The provider metadata lacks a member, or it has the wrong type.
    #[error("the provider metadata has no usable {member}")]
    ProviderMetadata {
        /// The missing or unusable member.
        member: &'static str,
    },

    /// Federation mode needs the relying party's RS256 signing key (for the
    /// request object and the client assertion).
    #[error("federation mode needs the relying party's RS256 signing key")]
    SigningKeyRequired,

    /// Federation mode authenticates the client with `private_key_jwt` only.
    #[error("federation mode authenticates with private_key_jwt only, not {method}")]
    ClientAuthNotAllowed {
        /// The refused method.
        method: &'static str,
    },

    /// Federation mode needs an SPID `acr` policy.
    #[error("federation mode needs a SPID acr level")]
    AcrPolicyRequired,

    /// The provider has no endpoint for this step.
    #[error("the provider has no {endpoint}")]
    EndpointMissing {
        /// The missing endpoint's metadata name.
        endpoint: &'static str,
    },

    /// A request could not be signed.
    #[error("cannot sign the request")]
    Signing(#[source] OidcError),

    /// The callback's `state` is missing or not the pending request's.
    #[error("the callback's state does not match the pending login")]
    StateMismatch,

    /// The callback has no `iss`, and this provider always sends one.
    #[error("the callback has no iss")]
    IssuerMissing,

    /// The callback's `iss` is not the provider the login was sent to.
    #[error("the callback's iss is not the expected provider")]
    IssuerMismatch,

    /// The provider answered with an OAuth error (values sanitized: printable
    /// ASCII only, cut short).
    #[error("the provider refused: {error}")]
    ProviderError {
        /// The `error` code.
        error: String,
        /// The `error_description`, if any.
        description: Option<String>,
    },

    /// The callback has neither a code nor an error.
    #[error("the callback has no authorization code")]
    CodeMissing,

    /// The token response is not a JSON object with an access token.
    #[error("the token response is not valid")]
    MalformedTokenResponse,

    /// The token response's `token_type` is not `Bearer`.
    #[error("the token response's token_type is not Bearer")]
    TokenTypeNotBearer,

    /// The token response has no ID token.
    #[error("the token response has no id_token")]
    IdTokenMissing,

    /// The ID token is not a JWS that verifies with the provider's keys.
    #[error("the ID token's signature does not verify")]
    IdTokenSignature(#[source] OidcError),

    /// The ID token's `iss` is not the provider.
    #[error("the ID token's iss is not the provider")]
    IdTokenIssuer,

    /// The ID token's `aud` does not name the client.
    #[error("the ID token's aud does not name this client")]
    IdTokenAudience,

    /// The ID token has several audiences and its `azp` is not the client,
    /// or it has an `azp` that is not the client.
    #[error("the ID token's azp is not this client")]
    IdTokenAuthorizedParty,

    /// The ID token has no numeric `exp`.
    #[error("the ID token has no numeric exp")]
    IdTokenExpiryMissing,

    /// The ID token has expired.
    #[error("the ID token has expired")]
    IdTokenExpired,

    /// The ID token has no numeric `iat`.
    #[error("the ID token has no numeric iat")]
    IdTokenIssuedAtMissing,

    /// The ID token's `iat` or `nbf` lies in the future.
    #[error("the ID token is not valid yet")]
    IdTokenNotYetValid,

    /// The ID token's `nonce` is missing or not the pending request's.
    #[error("the ID token's nonce does not match the pending login")]
    NonceMismatch,

    /// The ID token has no `at_hash`, which federation mode requires.
    #[error("the ID token has no at_hash")]
    AtHashMissing,

    /// The ID token's `at_hash` does not match the access token.
    #[error("the ID token's at_hash does not match the access token")]
    AtHashMismatch,

    /// The ID token has no non-empty string `sub`.
    #[error("the ID token has no sub")]
    SubjectMissing,

    /// The ID token has no `acr`, and the policy requires one.
    #[error("the ID token has no acr")]
    AcrMissing,

    /// The ID token's `acr` is not one the policy knows.
    #[error("the ID token's acr is not a recognised level")]
    AcrUnknown,

    /// The ID token's `acr` is below the required level.
    #[error("the authentication level is below the required {}", required.uri())]
    AcrTooLow {
        /// The minimum level.
        required: super::SpidLevel,
    },

    /// The userinfo answer's content type is none of JSON, JWT or JOSE.
    #[error("the userinfo response has an unexpected content type")]
    UserinfoContentType,

    /// The userinfo answer is not the expected JSON object, JWS or JWE.
    #[error("the userinfo response is malformed")]
    UserinfoMalformed,

    /// Federation mode requires userinfo signed then encrypted.
    #[error("the userinfo response is not encrypted, which federation mode requires")]
    UserinfoNotEncrypted,

    /// The userinfo JWE uses an algorithm or encryption outside RSA-OAEP /
    /// RSA-OAEP-256 with A128CBC-HS256 / A256CBC-HS512, or compression.
    #[error("the userinfo response is encrypted with an unsupported algorithm")]
    UserinfoEncryptionAlg,

    /// The userinfo JWE names a key the relying party does not have.
    #[error("the userinfo response is encrypted to an unknown key")]
    UserinfoUnknownKey,

    /// The userinfo JWE does not decrypt with the relying party's keys (wrong
    /// key, or damaged ciphertext or tag).
    #[error("the userinfo response does not decrypt")]
    UserinfoDecryption,

    /// The signed userinfo does not verify with the provider's keys.
    #[error("the userinfo response's signature does not verify")]
    UserinfoSignature(#[source] OidcError),

    /// The userinfo `sub` is missing or not the ID token's.
    #[error("the userinfo sub is not the ID token's")]
    UserinfoSubject,

    /// The userinfo `iss` is present and not the provider.
    #[error("the userinfo iss is not the provider")]
    UserinfoIssuer,

    /// The userinfo `aud` is present and does not name the client.
    #[error("the userinfo aud does not name this client")]
    UserinfoAudience,

    /// No fiscal-number claim, or it is not a string.
    #[error("the provider sent no fiscal number")]
    FiscalNumberMissing,

    /// The two fiscal-number claims differ.
    #[error("the provider sent two different fiscal numbers")]
    FiscalNumberConflict,

    /// The fiscal number is not an Italian tax code (no `TINIT-` prefix; for
    /// example a foreign TIN from eIDAS).
    #[error("the fiscal number is not an Italian tax code (TINIT-)")]
    FiscalNumberNotItalian,

    /// The value after `TINIT-` is not a valid tax code.
    #[error("the fiscal number is not a valid tax code")]
    FiscalNumberInvalid(#[source] TaxCodeError),
}
