//! Entity statements: entity configurations (self-signed, `iss` = `sub`) and
//! subordinate statements (a superior about a subordinate), read from their
//! compact JWS form and checked.
//!
//! Invariant: an [`EntityStatement`] exists only after its `typ`, signature
//! (with a key the caller trusts, or for an entity configuration also its own
//! keys), `iss`, `sub`, `iat`, `exp` and `jwks` were checked; its fields are
//! read-only.

use josekit::{Map, Value};

use crate::FederationError;
use crate::jose::{Decoded, Jwks, verify_signature};

/// The `typ` header of every entity statement.
pub const ENTITY_STATEMENT_TYP: &str = "entity-statement+jwt";

/// The path of an entity configuration under the entity identifier.
pub const WELL_KNOWN_PATH: &str = "/.well-known/openid-federation";

/// The clock skew allowed on `iat` and `exp`, in seconds.
pub const DEFAULT_SKEW_SECS: i64 = 60;

const WHAT: &str = "entity statement";

/// A trust mark as an entity lists it in its `trust_marks` claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustMarkEntry {
    /// The trust mark identifier (`trust_mark_type`, or the older
    /// `trust_mark_id` or `id`), when the entry names one.
    pub id: Option<String>,
    /// The trust mark JWT.
    pub trust_mark: String,
}

impl TrustMarkEntry {
    /// The entry as JSON, naming the identifier the three ways peers read it
    /// (`trust_mark_type` as in OpenID Federation 1.0, `trust_mark_id` and
    /// `id` as older SPID/CIE software does).
    #[must_use]
    pub fn to_value(&self) -> Value {
        let mut entry = Map::new();
        if let Some(id) = &self.id {
            for name in ["trust_mark_type", "trust_mark_id", "id"] {
                entry.insert(name.into(), Value::String(id.clone()));
            }
        }
        entry.insert("trust_mark".into(), Value::String(self.trust_mark.clone()));
        Value::Object(entry)
    }
}

/// The trust mark identifier in a trust mark entry or a trust mark's claims:
/// `trust_mark_type`, else `trust_mark_id`, else `id`.
pub(crate) fn trust_mark_id(object: &Map<String, Value>) -> Option<String> {
    ["trust_mark_type", "trust_mark_id", "id"]
        .iter()
        .find_map(|name| object.get(*name).and_then(Value::as_str))
        .map(str::to_owned)
}

/// An entity statement whose structure and `typ` were read, not yet checked.
#[derive(Clone, Debug)]
pub struct UnverifiedStatement {
    jwt: String,
    decoded: Decoded,
}

impl UnverifiedStatement {
    /// Reads a compact JWS entity statement; its header `typ` must be
    /// `entity-statement+jwt`.
    pub fn parse(jwt: &str) -> Result<UnverifiedStatement, FederationError> {
        let decoded = Decoded::decode(jwt, WHAT)?;
        if decoded.typ() != Some(ENTITY_STATEMENT_TYP) {
            return Err(FederationError::WrongType {
                expected: ENTITY_STATEMENT_TYP,
                found: decoded.typ().map(|typ| typ.chars().take(64).collect()),
            });
        }
        Ok(UnverifiedStatement {
            jwt: jwt.trim().to_owned(),
            decoded,
        })
    }

    /// The claimed `iss` (not verified).
    #[must_use]
    pub fn issuer(&self) -> Option<&str> {
        self.decoded.claims.get("iss").and_then(Value::as_str)
    }

    /// The claimed `sub` (not verified).
    #[must_use]
    pub fn subject(&self) -> Option<&str> {
        self.decoded.claims.get("sub").and_then(Value::as_str)
    }

    /// Checks an entity configuration: `iss` = `sub` = `entity_id`, signed
    /// with a key of its own `jwks`, within its lifetime at `now`.
    pub fn verify_self_signed(
        &self,
        entity_id: &str,
        now: i64,
        skew_secs: i64,
    ) -> Result<EntityStatement, FederationError> {
        let issuer = self.decoded.claimed_issuer();
        let jwks = Jwks::from_value(self.decoded.claims.get("jwks").unwrap_or(&Value::Null), &issuer)?;
        let statement = self.verify(&jwks, now, skew_secs)?;
        statement.expect(entity_id, entity_id)?;
        Ok(statement)
    }

    /// Checks the statement's signature with `jwks` (the keys of its
    /// issuer, from a source the caller trusts) and its lifetime at `now`
    /// (± `skew_secs`), then reads its claims.
    pub fn verify(&self, jwks: &Jwks, now: i64, skew_secs: i64) -> Result<EntityStatement, FederationError> {
        verify_signature(&self.jwt, &self.decoded, jwks)?;
        let statement = EntityStatement::from_claims(self.jwt.clone(), &self.decoded.claims)?;
        if statement.iat > now + skew_secs {
            return Err(FederationError::NotYetValid {
                issuer: statement.iss,
                subject: statement.sub,
                iat: statement.iat,
            });
        }
        if statement.exp + skew_secs <= now {
            return Err(FederationError::Expired {
                issuer: statement.iss,
                subject: statement.sub,
                exp: statement.exp,
            });
        }
        Ok(statement)
    }
}

/// A checked entity statement.
#[derive(Clone, Debug)]
pub struct EntityStatement {
    jwt: String,
    iss: String,
    sub: String,
    iat: i64,
    exp: i64,
    jwks: Jwks,
    metadata: Map<String, Value>,
    metadata_policy: Map<String, Value>,
    metadata_policy_crit: Vec<String>,
    authority_hints: Vec<String>,
    trust_marks: Vec<TrustMarkEntry>,
    trust_mark_issuers: Map<String, Value>,
    claims: Map<String, Value>,
}

impl EntityStatement {
    fn from_claims(jwt: String, claims: &Map<String, Value>) -> Result<EntityStatement, FederationError> {
        let issuer = claims.get("iss").and_then(Value::as_str).unwrap_or_default().to_owned();
        let invalid = |claim| FederationError::InvalidClaim {
            what: WHAT,
            issuer: issuer.chars().take(200).collect(),
            claim,
        };
        let string = |claim: &'static str| {
            claims
                .get(claim)
                .and_then(Value::as_str)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| invalid(claim))
        };
        let time = |claim: &'static str| numeric_date(claims.get(claim)).ok_or_else(|| invalid(claim));
        let object = |claim: &'static str| match claims.get(claim) {
            None => Ok(Map::new()),
            Some(Value::Object(map)) => Ok(map.clone()),
            Some(_) => Err(invalid(claim)),
        };
        let strings = |claim: &'static str| match claims.get(claim) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned).ok_or_else(|| invalid(claim)))
                .collect(),
            Some(_) => Err(invalid(claim)),
        };

        let iss = string("iss")?;
        let sub = string("sub")?;
        let iat = time("iat")?;
        let exp = time("exp")?;
        let jwks = Jwks::from_value(claims.get("jwks").unwrap_or(&Value::Null), &iss)?;
        let metadata = object("metadata")?;
        if metadata.values().any(|value| !value.is_object()) {
            return Err(invalid("metadata"));
        }
        let metadata_policy = object("metadata_policy")?;
        if metadata_policy.values().any(|value| !value.is_object()) {
            return Err(invalid("metadata_policy"));
        }
        let metadata_policy_crit = strings("metadata_policy_crit")?;
        let authority_hints = strings("authority_hints")?;
        let trust_marks = match claims.get("trust_marks") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|item| {
                    let entry = item.as_object()?;
                    Some(TrustMarkEntry {
                        id: trust_mark_id(entry),
                        trust_mark: entry.get("trust_mark")?.as_str()?.to_owned(),
                    })
                })
                .collect(),
            Some(_) => return Err(invalid("trust_marks")),
        };
        let trust_mark_issuers = object("trust_mark_issuers")?;
        Ok(EntityStatement {
            jwt,
            iss,
            sub,
            iat,
            exp,
            jwks,
            metadata,
            metadata_policy,
            metadata_policy_crit,
            authority_hints,
            trust_marks,
            trust_mark_issuers,
            claims: claims.clone(),
        })
    }

    /// Refuses the statement unless `iss` and `sub` are the ones expected.
    pub(crate) fn expect(&self, issuer: &str, subject: &str) -> Result<(), FederationError> {
        if self.iss != issuer {
            return Err(FederationError::WrongIssuer {
                expected: issuer.to_owned(),
                found: self.iss.clone(),
            });
        }
        if self.sub != subject {
            return Err(FederationError::WrongSubject {
                expected: subject.to_owned(),
                found: self.sub.clone(),
            });
        }
        Ok(())
    }

    /// The compact JWS it was read from (for the transaction log).
    #[must_use]
    pub fn jwt(&self) -> &str {
        &self.jwt
    }

    /// `iss`: the entity that issued it.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.iss
    }

    /// `sub`: the entity it is about.
    #[must_use]
    pub fn subject(&self) -> &str {
        &self.sub
    }

    /// Whether it is an entity configuration (`iss` = `sub`).
    #[must_use]
    pub fn is_entity_configuration(&self) -> bool {
        self.iss == self.sub
    }

    /// `iat`, in seconds since the epoch.
    #[must_use]
    pub fn issued_at(&self) -> i64 {
        self.iat
    }

    /// `exp`, in seconds since the epoch.
    #[must_use]
    pub fn expires_at(&self) -> i64 {
        self.exp
    }

    /// `jwks`: the subject's federation keys.
    #[must_use]
    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }

    /// `metadata`, by entity type (`openid_provider`, `federation_entity`, …).
    #[must_use]
    pub fn metadata(&self) -> &Map<String, Value> {
        &self.metadata
    }

    /// The metadata of one entity type, if present.
    #[must_use]
    pub fn metadata_of(&self, entity_type: &str) -> Option<&Map<String, Value>> {
        self.metadata.get(entity_type).and_then(Value::as_object)
    }

    /// `metadata_policy`, by entity type (empty when absent).
    #[must_use]
    pub fn metadata_policy(&self) -> &Map<String, Value> {
        &self.metadata_policy
    }

    /// `metadata_policy_crit`: policy operators that must be understood.
    #[must_use]
    pub fn metadata_policy_crit(&self) -> &[String] {
        &self.metadata_policy_crit
    }

    /// `authority_hints`: the superiors of an entity configuration's subject.
    #[must_use]
    pub fn authority_hints(&self) -> &[String] {
        &self.authority_hints
    }

    /// `trust_marks`: the trust marks the subject presents (not verified).
    #[must_use]
    pub fn trust_marks(&self) -> &[TrustMarkEntry] {
        &self.trust_marks
    }

    /// `trust_mark_issuers` of a trust anchor: for each trust mark
    /// identifier, the entities allowed to issue it (empty when absent).
    #[must_use]
    pub fn trust_mark_issuers(&self) -> &Map<String, Value> {
        &self.trust_mark_issuers
    }

    /// Whether the trust anchor's `trust_mark_issuers` lists `issuer` for `id`.
    #[must_use]
    pub fn lists_trust_mark_issuer(&self, id: &str, issuer: &str) -> bool {
        self.trust_mark_issuers
            .get(id)
            .and_then(Value::as_array)
            .is_some_and(|issuers| issuers.iter().any(|listed| listed.as_str() == Some(issuer)))
    }

    /// `source_endpoint` of a subordinate statement: where it was fetched from.
    #[must_use]
    pub fn source_endpoint(&self) -> Option<&str> {
        self.claims.get("source_endpoint").and_then(Value::as_str)
    }

    /// `metadata.federation_entity.federation_fetch_endpoint` (SPID/CIE: `…/fetch`).
    #[must_use]
    pub fn federation_fetch_endpoint(&self) -> Option<&str> {
        self.federation_entity_parameter("federation_fetch_endpoint")
    }

    /// `metadata.federation_entity.federation_resolve_endpoint`.
    #[must_use]
    pub fn federation_resolve_endpoint(&self) -> Option<&str> {
        self.federation_entity_parameter("federation_resolve_endpoint")
    }

    fn federation_entity_parameter(&self, name: &str) -> Option<&str> {
        self.metadata_of("federation_entity")?.get(name)?.as_str()
    }

    /// Every claim, for those this type does not name.
    #[must_use]
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }
}

/// A NumericDate claim: an integer, or a number with a fraction (truncated).
fn numeric_date(value: Option<&Value>) -> Option<i64> {
    let value = value?;
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|seconds| seconds.is_finite() && seconds.abs() < 1e15)
            // In range by the filter above.
            .map(|seconds| seconds.trunc() as i64)
    })
}

/// Refuses anything but an `https` URL, or an `http` one on a loopback host
/// (the offline SPID/CIE test peers), without query or fragment.
pub fn check_entity_id(entity_id: &str) -> Result<(), FederationError> {
    let invalid = || FederationError::InvalidEntityId {
        entity: entity_id.chars().take(200).collect(),
    };
    let rest = if let Some(rest) = entity_id.strip_prefix("https://") {
        rest
    } else if let Some(rest) = entity_id.strip_prefix("http://") {
        let host = rest.split(['/', ':']).next().unwrap_or_default();
        if !(host == "127.0.0.1" || host == "localhost" || rest.starts_with("[::1]")) {
            return Err(invalid());
        }
        rest
    } else {
        return Err(invalid());
    };
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty()
        || entity_id.contains(['?', '#'])
        || entity_id.chars().any(|c| c.is_whitespace() || c.is_control())
        || host.contains('@')
    {
        return Err(invalid());
    }
    Ok(())
}

/// Where an entity publishes its entity configuration.
#[must_use]
pub fn well_known_url(entity_id: &str) -> String {
    format!("{}{WELL_KNOWN_PATH}", entity_id.trim_end_matches('/'))
}

/// The fetch endpoint URL asking for the statement about `subject`.
#[must_use]
pub fn fetch_url(fetch_endpoint: &str, subject: &str) -> String {
    let separator = if fetch_endpoint.contains('?') { '&' } else { '?' };
    format!("{fetch_endpoint}{separator}sub={}", percent_encode(subject))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_ids_are_https_or_loopback_http() {
        for good in [
            "https://op.example.it",
            "https://op.example.it/oidc/op",
            "http://127.0.0.1:8000/oidc/op",
            "http://localhost:8001",
        ] {
            check_entity_id(good).unwrap();
        }
        for bad in [
            "ftp://op.example.it",
            "http://op.example.it",
            "https://",
            "https://op.example.it?x=1",
            "https://op.example.it#f",
            "https://user@op.example.it",
            "http://127.0.0.1.evil.example/",
            "op.example.it",
        ] {
            assert!(check_entity_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_are_built_as_the_federation_fixes_them() {
        assert_eq!(
            well_known_url("https://ta.example.it/"),
            "https://ta.example.it/.well-known/openid-federation"
        );
        assert_eq!(
            fetch_url("https://ta.example.it/fetch", "https://op.example.it/oidc/op"),
            "https://ta.example.it/fetch?sub=https%3A%2F%2Fop.example.it%2Foidc%2Fop"
        );
        assert_eq!(
            fetch_url("https://ta.example.it/fetch?x=1", "a b"),
            "https://ta.example.it/fetch?x=1&sub=a%20b"
        );
    }

    #[test]
    fn numeric_dates_accept_integers_and_fractions_only() {
        assert_eq!(numeric_date(Some(&Value::from(5))), Some(5));
        assert_eq!(numeric_date(Some(&Value::from(5.9))), Some(5));
        assert_eq!(numeric_date(Some(&Value::from("5"))), None);
        assert_eq!(numeric_date(None), None);
    }

    #[test]
    fn a_statement_with_another_typ_is_refused() {
        use base64::Engine as _;
        let encode = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
        let token = format!("{}.{}.c2ln", encode(r#"{"alg":"RS256","typ":"JWT"}"#), encode("{}"));
        assert!(matches!(
            UnverifiedStatement::parse(&token),
            Err(FederationError::WrongType { found: Some(typ), .. }) if typ == "JWT"
        ));
        let token = format!("{}.{}.c2ln", encode(r#"{"alg":"RS256"}"#), encode("{}"));
        assert!(matches!(
            UnverifiedStatement::parse(&token),
            Err(FederationError::WrongType { found: None, .. })
        ));
        assert!(matches!(
            UnverifiedStatement::parse("a.b"),
            Err(FederationError::MalformedJws { .. })
        ));
    }
}
