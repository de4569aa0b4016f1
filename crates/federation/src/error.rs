//! The errors of the crate.
//!
//! Invariant: one variant per distinct failure, naming the entities involved
//! (entity identifiers are public URLs) and never a key, a token or a
//! fetched body, so a message can go to a log as it is. The errors are
//! `Clone` (library errors sit behind `Arc`), so a refused trust mark can be
//! reported again when it turns out to be required.

use std::sync::Arc;

/// Why a fetch made by the caller's [`crate::Fetcher`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The server answered with a status other than 200.
    #[error("the server answered HTTP {status}")]
    Status {
        /// The HTTP status code.
        status: u16,
    },
    /// The request could not be made or the answer not read (DNS, TLS,
    /// timeout, body too large…): a short description, without the body.
    #[error("transport failure: {0}")]
    Transport(String),
}

/// Why an entity statement, a trust chain, a trust mark or Varco's own
/// entity configuration was refused or could not be built.
#[derive(Clone, Debug, thiserror::Error)]
pub enum FederationError {
    /// The token is not a compact JWS with a JSON object header and payload.
    #[error("the {what} is not a well-formed compact JWS")]
    MalformedJws {
        /// What was being read: "entity statement", "trust mark".
        what: &'static str,
    },

    /// The JWS header's `typ` is not the one this kind of token must carry.
    #[error("the token's typ is {found:?}; expected {expected:?}")]
    WrongType {
        /// The `typ` required.
        expected: &'static str,
        /// The `typ` found, if any.
        found: Option<String>,
    },

    /// The JWS algorithm is not one accepted here (`none` and HMAC never are).
    #[error("unsupported signing algorithm {alg:?} in a token from {issuer}")]
    UnsupportedAlg {
        /// The algorithm named by the token (cut to 32 characters).
        alg: String,
        /// The claimed issuer of the token.
        issuer: String,
    },

    /// The JWS header has no `kid`; federation keys are always named.
    #[error("the token from {issuer} has no kid in its header")]
    MissingKid {
        /// The claimed issuer of the token.
        issuer: String,
    },

    /// No key of the verifying set has the token's `kid` (or none of those
    /// that do fits its algorithm).
    #[error("no key with kid {kid:?} (fitting its algorithm) is known for tokens from {issuer}")]
    UnknownKid {
        /// The claimed issuer of the token.
        issuer: String,
        /// The `kid` of the token's header.
        kid: String,
    },

    /// The signature does not verify with the key its `kid` names.
    #[error("the signature of the token from {issuer} (kid {kid:?}) does not verify")]
    BadSignature {
        /// The claimed issuer of the token.
        issuer: String,
        /// The `kid` of the token's header.
        kid: String,
    },

    /// A required claim is missing or has the wrong JSON type.
    #[error("the {what} from {issuer} has no valid {claim:?} claim")]
    InvalidClaim {
        /// What was being read.
        what: &'static str,
        /// The claimed issuer (empty when `iss` itself is the problem).
        issuer: String,
        /// The claim.
        claim: &'static str,
    },

    /// A JWK Set is not an object with a `keys` array of JWK objects.
    #[error("the JWK Set of {entity} is not valid: {reason}")]
    InvalidJwks {
        /// Whose set it is.
        entity: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The statement's `exp` has passed (beyond the allowed clock skew).
    #[error("the statement issued by {issuer} about {subject} expired at {exp}")]
    Expired {
        /// The statement's `iss`.
        issuer: String,
        /// The statement's `sub`.
        subject: String,
        /// Its `exp`, in seconds since the epoch.
        exp: i64,
    },

    /// The statement's `iat` is in the future (beyond the allowed clock skew).
    #[error("the statement issued by {issuer} about {subject} is issued in the future ({iat})")]
    NotYetValid {
        /// The statement's `iss`.
        issuer: String,
        /// The statement's `sub`.
        subject: String,
        /// Its `iat`, in seconds since the epoch.
        iat: i64,
    },

    /// The statement's `iss` is not the entity expected.
    #[error("expected a statement issued by {expected}, got one issued by {found}")]
    WrongIssuer {
        /// The issuer expected.
        expected: String,
        /// The `iss` found.
        found: String,
    },

    /// The statement's `sub` is not the entity expected.
    #[error("expected a statement about {expected}, got one about {found}")]
    WrongSubject {
        /// The subject expected.
        expected: String,
        /// The `sub` found.
        found: String,
    },

    /// An entity identifier is not an `https` (or, for tests on loopback,
    /// `http`) URL without query or fragment.
    #[error("{entity:?} is not a valid entity identifier")]
    InvalidEntityId {
        /// The value given (cut to 200 characters).
        entity: String,
    },

    /// A fetch made through the caller's [`crate::Fetcher`] failed.
    #[error("fetching {url} failed")]
    Fetch {
        /// The URL fetched.
        url: String,
        /// Why it failed.
        #[source]
        source: FetchError,
    },

    /// A superior publishes no `federation_fetch_endpoint`, so its
    /// statement about a subordinate cannot be fetched.
    #[error("{entity} publishes no federation_fetch_endpoint")]
    NoFetchEndpoint {
        /// The superior.
        entity: String,
    },

    /// The walk up the authority hints ended at an entity that has no
    /// authority hints and is not the configured trust anchor.
    #[error("{entity} has no authority hints and is not the configured trust anchor {trust_anchor}")]
    NotTheTrustAnchor {
        /// Where the walk ended.
        entity: String,
        /// The configured trust anchor.
        trust_anchor: String,
    },

    /// An authority hint leads back to an entity already on the chain.
    #[error("the authority hints loop back to {entity}")]
    Loop {
        /// The entity met twice.
        entity: String,
    },

    /// The chain would have more statements than allowed before reaching
    /// the trust anchor.
    #[error("no trust anchor within {max_depth} superiors of {subject}")]
    TooDeep {
        /// The limit (superiors above the leaf).
        max_depth: usize,
        /// The leaf.
        subject: String,
    },

    /// The entity's resolved statement has no metadata of the entity type asked for.
    #[error("{entity} has no {entity_type} metadata")]
    MissingMetadata {
        /// The entity.
        entity: String,
        /// The entity type (`openid_provider`, …).
        entity_type: String,
    },

    /// Two superiors' metadata policies cannot be merged, or one policy
    /// combines operators in a way OpenID Federation 1.0 forbids.
    #[error("metadata policy conflict on {entity_type}.{parameter}: {reason}")]
    PolicyConflict {
        /// The entity type.
        entity_type: String,
        /// The metadata parameter.
        parameter: String,
        /// What conflicts.
        reason: String,
    },

    /// The metadata breaks a policy check (`one_of`, `superset_of`,
    /// `essential`), or an operator does not fit the parameter's type.
    #[error("the {entity_type} metadata of {entity} breaks the {operator} policy on {parameter}")]
    PolicyViolation {
        /// The leaf entity.
        entity: String,
        /// The entity type.
        entity_type: String,
        /// The metadata parameter.
        parameter: String,
        /// The operator that refused it.
        operator: &'static str,
    },

    /// A policy uses an operator this crate does not know and a superior
    /// listed it in `metadata_policy_crit`.
    #[error("the metadata policy uses the critical operator {operator:?}, which is not supported")]
    UnsupportedCriticalOperator {
        /// The operator.
        operator: String,
    },

    /// The trust mark names no trust mark identifier, or a different one
    /// from the entry that carries it.
    #[error("the trust mark from {issuer} has no identifier or not the one ({expected:?}) its entry names")]
    TrustMarkId {
        /// The issuer (`iss`) of the trust mark.
        issuer: String,
        /// The identifier the entry names, if any.
        expected: Option<String>,
    },

    /// The trust mark's issuer is neither the trust anchor nor listed in the
    /// trust anchor's `trust_mark_issuers` for its identifier.
    #[error("{issuer} may not issue trust marks {id:?} under the trust anchor {trust_anchor}")]
    TrustMarkIssuerNotAllowed {
        /// The trust mark identifier.
        id: String,
        /// The issuer (`iss`).
        issuer: String,
        /// The trust anchor.
        trust_anchor: String,
    },

    /// The trust mark was issued for another entity than the one presenting it.
    #[error("the trust mark {id:?} is about {found}, not {expected}")]
    TrustMarkSubject {
        /// The trust mark identifier.
        id: String,
        /// The entity that presents it.
        expected: String,
        /// Its `sub`.
        found: String,
    },

    /// The trust mark's `exp` has passed.
    #[error("the trust mark {id:?} from {issuer} expired at {exp}")]
    TrustMarkExpired {
        /// The trust mark identifier.
        id: String,
        /// Its issuer.
        issuer: String,
        /// Its `exp`.
        exp: i64,
    },

    /// A trust mark the configuration requires is not presented by the entity.
    #[error("{entity} presents no trust mark {id:?}")]
    MissingTrustMark {
        /// The entity.
        entity: String,
        /// The required trust mark identifier.
        id: String,
    },

    /// A key could not be sealed for storage.
    #[error("cannot seal a federation key")]
    Seal(#[source] Arc<josekit::JoseError>),

    /// A sealed key does not open with this sealing key, or what it holds
    /// is not the key its stored record names.
    #[error("the sealed federation key {kid} does not open or is not the key named")]
    Unseal {
        /// The `kid` the stored record names.
        kid: String,
    },

    /// A new key could not be generated.
    #[error("cannot generate a federation key")]
    KeyGeneration(#[source] Arc<josekit::JoseError>),

    /// A private key could not be read or used.
    #[error("the private key is not a usable {alg} key")]
    InvalidPrivateKey {
        /// The algorithm it was meant for.
        alg: &'static str,
        /// The cause (never the key material).
        #[source]
        source: Arc<josekit::JoseError>,
    },

    /// A key cannot be used as asked (an `alg` and `use` that do not go
    /// together, an algorithm not supported here).
    #[error("the key cannot be used: {reason}")]
    UnusableKey {
        /// Why.
        reason: &'static str,
    },

    /// Signing failed inside the JOSE library.
    #[error("cannot sign the statement")]
    Signing(#[source] Arc<josekit::JoseError>),

    /// Varco's entity configuration would not verify with the keys it publishes.
    #[error("the signing key {kid:?} is not among the published federation keys")]
    SigningKeyNotPublished {
        /// The signing key's `kid`.
        kid: String,
    },

    /// Varco's own metadata is not what the SPID/CIE peers accept.
    #[error("Varco's {entity_type} metadata is not valid: {reason}")]
    InvalidOwnMetadata {
        /// The entity type.
        entity_type: &'static str,
        /// What is wrong.
        reason: String,
    },
}
