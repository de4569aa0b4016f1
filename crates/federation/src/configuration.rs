//! Varco's own entity configuration, served at
//! `{entity_id}/.well-known/openid-federation` as
//! `application/entity-statement+jwt`.
//!
//! Invariants:
//! - It is signed by a federation key whose `kid` is in the published
//!   `jwks`, so it verifies with the keys it publishes.
//! - Published keys are public only (no `d`, `p`, `q`, … member).
//! - The relying-party keys carry `use` and `scope` is not a string — the
//!   two shapes the reference OP breaks on (research §2b, quirks 5 and 6).
//! - `client_id` is the entity identifier.

use josekit::{Map, Value};

use crate::FederationError;
use crate::jose::{FederationKey, Jwks};
use crate::statement::{ENTITY_STATEMENT_TYP, TrustMarkEntry, check_entity_id};

/// The members of a private JWK that must never be published.
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

/// What goes into Varco's entity configuration.
#[derive(Clone, Debug)]
pub struct EntityConfiguration<'a> {
    /// Varco's entity identifier (= its `client_id` as a relying party).
    pub entity_id: &'a str,
    /// `iat`, seconds since the epoch.
    pub issued_at: i64,
    /// `exp` − `iat`, in seconds (positive).
    pub lifetime_secs: i64,
    /// The public federation keys (the signing key among them).
    pub jwks: &'a Jwks,
    /// `metadata.openid_relying_party`, with its inline `jwks` (OIDC core keys).
    pub openid_relying_party: &'a Map<String, Value>,
    /// `metadata.federation_entity` (organization_name, homepage_uri,
    /// policy_uri, logo_uri, contacts, federation_resolve_endpoint).
    pub federation_entity: &'a Map<String, Value>,
    /// `authority_hints`: the trust anchor (or intermediate) Varco is registered under.
    pub authority_hints: &'a [String],
    /// `trust_marks` received at onboarding.
    pub trust_marks: &'a [TrustMarkEntry],
}

/// Varco's entity configuration, signed by `key` (a federation `sig` key)
/// as a compact JWS with header `typ` `entity-statement+jwt`.
pub fn build_entity_configuration(
    key: &FederationKey,
    configuration: &EntityConfiguration<'_>,
) -> Result<String, FederationError> {
    let entity_id = configuration.entity_id;
    check_entity_id(entity_id)?;
    for hint in configuration.authority_hints {
        check_entity_id(hint)?;
    }
    if configuration.lifetime_secs <= 0 {
        return Err(own("federation_entity", "the lifetime must be positive".into()));
    }
    check_public_only(configuration.jwks, "federation_entity")?;
    if !configuration.jwks.contains_kid(key.kid()) {
        return Err(FederationError::SigningKeyNotPublished {
            kid: key.kid().to_owned(),
        });
    }

    let mut relying_party = configuration.openid_relying_party.clone();
    match relying_party.get("client_id") {
        None => {
            relying_party.insert("client_id".into(), Value::String(entity_id.to_owned()));
        }
        Some(Value::String(client_id)) if client_id == entity_id => {}
        Some(_) => {
            return Err(own(
                "openid_relying_party",
                "client_id is not the entity identifier".into(),
            ));
        }
    }
    if relying_party.get("scope").is_some_and(Value::is_string) {
        return Err(own(
            "openid_relying_party",
            "scope must be a JSON array (a string breaks the reference trust anchor's policy)".into(),
        ));
    }
    let rp_jwks = Jwks::from_value(relying_party.get("jwks").unwrap_or(&Value::Null), entity_id)
        .map_err(|_| own("openid_relying_party", "no valid inline jwks".into()))?;
    check_public_only(&rp_jwks, "openid_relying_party")?;
    if let Some(key) = rp_jwks
        .keys()
        .iter()
        .find(|key| !key.get("use").is_some_and(Value::is_string))
    {
        let kid = key.get("kid").and_then(Value::as_str).unwrap_or("(no kid)");
        return Err(own(
            "openid_relying_party",
            format!("the key {kid} has no use (sig or enc)"),
        ));
    }

    let mut metadata = Map::new();
    metadata.insert(
        "federation_entity".into(),
        Value::Object(configuration.federation_entity.clone()),
    );
    metadata.insert("openid_relying_party".into(), Value::Object(relying_party));

    let mut claims = Map::new();
    claims.insert("iss".into(), Value::String(entity_id.to_owned()));
    claims.insert("sub".into(), Value::String(entity_id.to_owned()));
    claims.insert("iat".into(), Value::from(configuration.issued_at));
    claims.insert(
        "exp".into(),
        Value::from(configuration.issued_at.saturating_add(configuration.lifetime_secs)),
    );
    claims.insert("jwks".into(), configuration.jwks.to_value());
    claims.insert("metadata".into(), Value::Object(metadata));
    claims.insert(
        "authority_hints".into(),
        Value::Array(
            configuration
                .authority_hints
                .iter()
                .cloned()
                .map(Value::String)
                .collect(),
        ),
    );
    if !configuration.trust_marks.is_empty() {
        claims.insert(
            "trust_marks".into(),
            Value::Array(configuration.trust_marks.iter().map(TrustMarkEntry::to_value).collect()),
        );
    }
    key.sign(&claims, ENTITY_STATEMENT_TYP)
}

fn own(entity_type: &'static str, reason: String) -> FederationError {
    FederationError::InvalidOwnMetadata { entity_type, reason }
}

fn check_public_only(jwks: &Jwks, entity_type: &'static str) -> Result<(), FederationError> {
    if jwks
        .keys()
        .iter()
        .any(|key| PRIVATE_MEMBERS.iter().any(|member| key.contains_key(*member)))
    {
        return Err(own(entity_type, "a published key holds private key material".into()));
    }
    Ok(())
}
