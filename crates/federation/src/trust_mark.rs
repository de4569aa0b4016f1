//! Trust marks: signed statements by a trust mark issuer that an entity
//! meets a profile (SPID/CIE: issued by the federation at onboarding).
//!
//! Invariants (stricter than the reference OP, which skips the `sub` check):
//! - the issuer is the trust anchor itself or is listed in the trust
//!   anchor's `trust_mark_issuers` for that trust mark identifier;
//! - the signature verifies with the issuer's federation keys, which the
//!   caller took from a verified source (the trust anchor's configuration,
//!   or the issuer's own resolved trust chain);
//! - `sub` is the entity presenting the trust mark, so a copied trust mark
//!   is worthless;
//! - `exp` is optional (the reference issues none) but honoured when present.

use josekit::{Map, Value};

use crate::FederationError;
use crate::jose::{Decoded, Jwks, verify_signature};
use crate::statement::{EntityStatement, TrustMarkEntry, trust_mark_id};

/// The `typ` header of a trust mark (OpenID Federation 1.0). Trust marks
/// without `typ`, from older issuers, are accepted too.
pub const TRUST_MARK_TYP: &str = "trust-mark+jwt";

const WHAT: &str = "trust mark";

/// A trust mark whose structure was read, not yet checked.
#[derive(Clone, Debug)]
pub struct UnverifiedTrustMark {
    jwt: String,
    decoded: Decoded,
    id: String,
    issuer: String,
}

impl UnverifiedTrustMark {
    /// Reads a trust mark JWT: a compact JWS whose `typ`, if any, is
    /// `trust-mark+jwt`, naming its identifier and `iss`.
    pub fn parse(jwt: &str) -> Result<UnverifiedTrustMark, FederationError> {
        let decoded = Decoded::decode(jwt, WHAT)?;
        if let Some(typ) = decoded.typ()
            && typ != TRUST_MARK_TYP
        {
            return Err(FederationError::WrongType {
                expected: TRUST_MARK_TYP,
                found: Some(typ.chars().take(64).collect()),
            });
        }
        let issuer = decoded.claimed_issuer();
        if issuer.is_empty() {
            return Err(FederationError::InvalidClaim {
                what: WHAT,
                issuer,
                claim: "iss",
            });
        }
        let id = trust_mark_id(&decoded.claims).ok_or_else(|| FederationError::TrustMarkId {
            issuer: issuer.clone(),
            expected: None,
        })?;
        Ok(UnverifiedTrustMark {
            jwt: jwt.trim().to_owned(),
            decoded,
            id,
            issuer,
        })
    }

    /// The trust mark identifier it claims.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The issuer it claims.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Whether its issuer may issue it under `trust_anchor` (the trust
    /// anchor's verified entity configuration): the trust anchor itself, or
    /// an issuer its `trust_mark_issuers` lists for this identifier.
    #[must_use]
    pub fn issuer_is_allowed(&self, trust_anchor: &EntityStatement) -> bool {
        self.issuer == trust_anchor.subject() || trust_anchor.lists_trust_mark_issuer(&self.id, &self.issuer)
    }

    /// Checks the trust mark presented by `subject`: its issuer against
    /// `trust_anchor`, its signature with `issuer_jwks` (the issuer's
    /// verified federation keys), `sub`, `iat` and the optional `exp` at `now`.
    pub fn verify(
        &self,
        trust_anchor: &EntityStatement,
        issuer_jwks: &Jwks,
        subject: &str,
        now: i64,
        skew_secs: i64,
    ) -> Result<TrustMark, FederationError> {
        if !self.issuer_is_allowed(trust_anchor) {
            return Err(FederationError::TrustMarkIssuerNotAllowed {
                id: self.id.clone(),
                issuer: self.issuer.clone(),
                trust_anchor: trust_anchor.subject().to_owned(),
            });
        }
        verify_signature(&self.jwt, &self.decoded, issuer_jwks)?;
        let claims = &self.decoded.claims;
        let invalid = |claim| FederationError::InvalidClaim {
            what: WHAT,
            issuer: self.issuer.clone(),
            claim,
        };
        let found_subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("sub"))?;
        if found_subject != subject {
            return Err(FederationError::TrustMarkSubject {
                id: self.id.clone(),
                expected: subject.to_owned(),
                found: found_subject.chars().take(200).collect(),
            });
        }
        let issued_at = claims
            .get("iat")
            .and_then(Value::as_i64)
            .ok_or_else(|| invalid("iat"))?;
        if issued_at > now + skew_secs {
            return Err(FederationError::NotYetValid {
                issuer: self.issuer.clone(),
                subject: subject.to_owned(),
                iat: issued_at,
            });
        }
        let expires_at = match claims.get("exp") {
            None => None,
            Some(exp) => Some(exp.as_i64().ok_or_else(|| invalid("exp"))?),
        };
        if let Some(exp) = expires_at
            && exp + skew_secs <= now
        {
            return Err(FederationError::TrustMarkExpired {
                id: self.id.clone(),
                issuer: self.issuer.clone(),
                exp,
            });
        }
        Ok(TrustMark {
            id: self.id.clone(),
            issuer: self.issuer.clone(),
            subject: subject.to_owned(),
            issued_at,
            expires_at,
            jwt: self.jwt.clone(),
            claims: claims.clone(),
        })
    }
}

/// Reads the trust mark of `entry` and checks that it names the identifier
/// the entry names (when the entry names one).
pub fn parse_entry(entry: &TrustMarkEntry) -> Result<UnverifiedTrustMark, FederationError> {
    let mark = UnverifiedTrustMark::parse(&entry.trust_mark)?;
    if let Some(id) = &entry.id
        && id != mark.id()
    {
        return Err(FederationError::TrustMarkId {
            issuer: mark.issuer.clone(),
            expected: Some(id.clone()),
        });
    }
    Ok(mark)
}

/// A checked trust mark.
#[derive(Clone, Debug, PartialEq)]
pub struct TrustMark {
    id: String,
    issuer: String,
    subject: String,
    issued_at: i64,
    expires_at: Option<i64>,
    jwt: String,
    claims: Map<String, Value>,
}

impl TrustMark {
    /// The trust mark identifier (`trust_mark_type`, `trust_mark_id` or `id`).
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `iss`.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `sub`: the entity it is about (the one that presented it).
    #[must_use]
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// `iat`.
    #[must_use]
    pub fn issued_at(&self) -> i64 {
        self.issued_at
    }

    /// `exp`, when it has one.
    #[must_use]
    pub fn expires_at(&self) -> Option<i64> {
        self.expires_at
    }

    /// The JWT.
    #[must_use]
    pub fn jwt(&self) -> &str {
        &self.jwt
    }

    /// Every claim (`organization_type`, `ref`, …).
    #[must_use]
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }
}
