//! ID token validation (OpenID Connect Core §3.1.3.7, with the SPID/CIE
//! profile on top).
//!
//! Invariant: an ID token is accepted only when, in this order, its signature
//! verifies with the provider's keys (RS256, RS512, PS256 or ES256 — never
//! `none` or HMAC), `iss` is the provider, `aud` names the client (and `azp`
//! is the client when there are several audiences or an `azp` at all), `exp`
//! and `iat` fit the clock within the registration's skew, `nonce` is the
//! pending login's, `at_hash` matches the access token (required in
//! federation mode), `acr` satisfies the policy, and `sub` is present.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256, Sha512};
use subtle::ConstantTimeEq as _;

use super::{
    AcrPolicy, PendingAuth, Provider, Registration, RpError, SpidLevel, TrustMode, audience_names, string_claim,
};
use crate::client_auth::numeric_date;
use crate::signing::verify_jws_with_algs;

/// The signing algorithms accepted from an upstream provider (SPID/CIE
/// require RS256 and RS512 and recommend PS256 and ES256).
pub(crate) const UPSTREAM_ALGS: &[&str] = &["RS256", "RS512", "PS256", "ES256"];

/// What a validated ID token says.
#[derive(Clone, Debug, PartialEq)]
pub struct IdToken {
    /// The subject at the provider (pairwise for SPID/CIE): with the issuer,
    /// the key of the link to a person.
    pub sub: String,
    /// The authentication level asserted, if any.
    pub acr: Option<String>,
    /// When the person authenticated (unix seconds), if said.
    pub auth_time: Option<i64>,
    /// Every claim of the token (CIE may put names here).
    pub claims: Map<String, Value>,
}

/// Validates `id_token` from the token response of the login `pending`,
/// issued together with `access_token`, at unix time `now`.
pub fn validate_id_token(
    provider: &Provider,
    registration: &Registration,
    pending: &PendingAuth,
    id_token: &str,
    access_token: &str,
    now: i64,
) -> Result<IdToken, RpError> {
    let (alg, claims) =
        verify_jws_with_algs(&provider.jwks, id_token, UPSTREAM_ALGS).map_err(RpError::IdTokenSignature)?;
    let client_id = registration.client_id.as_str();
    let skew = registration.clock_skew_secs.max(0);

    let issuer = string_claim(&claims, "iss");
    if issuer != Some(provider.issuer.as_str()) || issuer != Some(pending.issuer.as_str()) {
        return Err(RpError::IdTokenIssuer);
    }
    if !audience_names(claims.get("aud"), client_id) {
        return Err(RpError::IdTokenAudience);
    }
    let several_audiences = matches!(claims.get("aud"), Some(Value::Array(auds)) if auds.len() > 1);
    match claims.get("azp") {
        Some(azp) if azp.as_str() != Some(client_id) => return Err(RpError::IdTokenAuthorizedParty),
        None if several_audiences => return Err(RpError::IdTokenAuthorizedParty),
        _ => {}
    }
    let exp = claims
        .get("exp")
        .and_then(numeric_date)
        .ok_or(RpError::IdTokenExpiryMissing)?;
    if now >= exp.saturating_add(skew) {
        return Err(RpError::IdTokenExpired);
    }
    let iat = claims
        .get("iat")
        .and_then(numeric_date)
        .ok_or(RpError::IdTokenIssuedAtMissing)?;
    if iat > now.saturating_add(skew) {
        return Err(RpError::IdTokenNotYetValid);
    }
    if let Some(nbf) = claims.get("nbf") {
        match numeric_date(nbf) {
            Some(nbf) if nbf <= now.saturating_add(skew) => {}
            _ => return Err(RpError::IdTokenNotYetValid),
        }
    }
    let nonce_matches = string_claim(&claims, "nonce")
        .is_some_and(|nonce| bool::from(nonce.as_bytes().ct_eq(pending.nonce.as_bytes())));
    if !nonce_matches {
        return Err(RpError::NonceMismatch);
    }
    match claims.get("at_hash") {
        Some(Value::String(claimed)) => {
            let expected = at_hash_for(&alg, access_token);
            if !bool::from(claimed.as_bytes().ct_eq(expected.as_bytes())) {
                return Err(RpError::AtHashMismatch);
            }
        }
        Some(_) => return Err(RpError::AtHashMismatch),
        None if registration.mode == TrustMode::Federation => return Err(RpError::AtHashMissing),
        None => {}
    }
    let acr = string_claim(&claims, "acr").map(str::to_owned);
    check_acr(registration, acr.as_deref())?;
    let sub = match string_claim(&claims, "sub") {
        Some(sub) if !sub.is_empty() => sub.to_owned(),
        _ => return Err(RpError::SubjectMissing),
    };
    let auth_time = claims.get("auth_time").and_then(numeric_date);
    Ok(IdToken {
        sub,
        acr,
        auth_time,
        claims,
    })
}

/// Whether `acr` satisfies the registration's policy.
fn check_acr(registration: &Registration, acr: Option<&str>) -> Result<(), RpError> {
    match &registration.acr {
        AcrPolicy::Spid(required) => {
            let level = SpidLevel::from_uri(acr.ok_or(RpError::AcrMissing)?).ok_or(RpError::AcrUnknown)?;
            if level < *required {
                return Err(RpError::AcrTooLow { required: *required });
            }
            Ok(())
        }
        AcrPolicy::OneOf { accepted, .. } => {
            let acr = acr.ok_or(RpError::AcrMissing)?;
            if accepted.iter().any(|accepted| accepted == acr) {
                Ok(())
            } else {
                Err(RpError::AcrUnknown)
            }
        }
        AcrPolicy::NotChecked if registration.mode == TrustMode::Federation => Err(RpError::AcrPolicyRequired),
        AcrPolicy::NotChecked => Ok(()),
    }
}

/// The `at_hash` of `access_token` for an ID token signed with `alg`: the
/// left half of the hash that `alg` uses (SHA-512 for the `…512` algorithms,
/// SHA-256 otherwise), base64url.
fn at_hash_for(alg: &str, access_token: &str) -> String {
    let digest = if alg.ends_with("512") {
        Sha512::digest(access_token.as_bytes()).to_vec()
    } else {
        Sha256::digest(access_token.as_bytes()).to_vec()
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::rp::fake_op::{FakeOp, FakeRp, NOW};
    use crate::rp::{AuthRequest, DEFAULT_CLOCK_SKEW_SECS};
    use crate::{Alg, OidcError, SigningKey};

    const ACCESS_TOKEN: &str = "access-token-from-the-op";

    struct Login {
        op: FakeOp,
        rp: FakeRp,
        provider: Provider,
        pending: PendingAuth,
    }

    fn login() -> Login {
        let op = FakeOp::new();
        let rp = op.federation_rp();
        let provider = op.provider();
        let pending = AuthRequest::new(&provider, &rp.registration, Some(&rp.signing), NOW)
            .unwrap()
            .pending;
        Login {
            op,
            rp,
            provider,
            pending,
        }
    }

    impl Login {
        /// A token signed with RS256 from the good claims with `changes`
        /// applied (`null` removes a claim).
        fn token(&self, changes: Value) -> String {
            self.token_with("RS256", changes)
        }

        fn token_with(&self, alg: &str, changes: Value) -> String {
            let mut claims = self.op.id_token_claims(&self.rp, &self.pending, ACCESS_TOKEN, alg);
            for (name, value) in changes.as_object().unwrap() {
                if value.is_null() {
                    claims.remove(name);
                } else {
                    claims.insert(name.clone(), value.clone());
                }
            }
            self.op.sign(alg, &claims)
        }

        fn check(&self, token: &str) -> Result<IdToken, RpError> {
            validate_id_token(
                &self.provider,
                &self.rp.registration,
                &self.pending,
                token,
                ACCESS_TOKEN,
                NOW,
            )
        }

        fn refused(&self, changes: Value) -> RpError {
            self.check(&self.token(changes)).unwrap_err()
        }
    }

    #[test]
    fn a_good_id_token_is_accepted_with_each_algorithm() {
        let login = login();
        for alg in UPSTREAM_ALGS {
            let token = login.token_with(alg, json!({}));
            let accepted = login.check(&token).unwrap_or_else(|error| panic!("{alg}: {error}"));
            assert_eq!(accepted.sub, "pairwise-subject-1");
            assert_eq!(accepted.acr.as_deref(), Some(SpidLevel::L2.uri()));
            assert_eq!(accepted.auth_time, Some(NOW - 20));
            assert_eq!(accepted.claims["jti"], "id-token-1");
        }
        // The fake's SHA-256 at_hash agrees with the provider side of this crate.
        assert_eq!(
            at_hash_for("RS256", ACCESS_TOKEN),
            crate::at_hash(ACCESS_TOKEN, Alg::Rs256)
        );
        // RS512 hashes with SHA-512: 32 bytes, 43 characters.
        assert_eq!(at_hash_for("RS512", ACCESS_TOKEN).len(), 43);
        assert_eq!(at_hash_for("RS256", ACCESS_TOKEN).len(), 22);
    }

    #[test]
    fn a_higher_acr_is_accepted_and_a_lower_or_unknown_one_refused() {
        let login = login();
        let l3 = login.check(&login.token(json!({"acr": SpidLevel::L3.uri()}))).unwrap();
        assert_eq!(l3.acr.as_deref(), Some(SpidLevel::L3.uri()));
        assert!(matches!(
            login.refused(json!({"acr": SpidLevel::L1.uri()})),
            RpError::AcrTooLow {
                required: SpidLevel::L2
            }
        ));
        assert!(matches!(
            login.refused(json!({"acr": "https://www.spid.gov.it/SpidL9"})),
            RpError::AcrUnknown
        ));
        assert!(matches!(login.refused(json!({"acr": 2})), RpError::AcrMissing));
        assert!(matches!(login.refused(json!({"acr": null})), RpError::AcrMissing));
    }

    #[test]
    fn audience_and_authorized_party_are_checked() {
        let login = login();
        let client = login.rp.registration.client_id.clone();
        assert!(matches!(
            login.refused(json!({"aud": "https://other-rp.test"})),
            RpError::IdTokenAudience
        ));
        assert!(matches!(
            login.refused(json!({"aud": ["https://other-rp.test"]})),
            RpError::IdTokenAudience
        ));
        assert!(matches!(login.refused(json!({"aud": null})), RpError::IdTokenAudience));
        // One audience in an array is fine; several need azp = client.
        assert!(login.check(&login.token(json!({"aud": [client]}))).is_ok());
        assert!(matches!(
            login.refused(json!({"aud": [client, "https://other-rp.test"]})),
            RpError::IdTokenAuthorizedParty
        ));
        assert!(
            login
                .check(&login.token(json!({"aud": [client, "https://other-rp.test"], "azp": client})))
                .is_ok()
        );
        assert!(matches!(
            login.refused(json!({"azp": "https://other-rp.test"})),
            RpError::IdTokenAuthorizedParty
        ));
    }

    #[test]
    fn a_wrong_or_missing_issuer_is_refused() {
        let login = login();
        assert!(matches!(
            login.refused(json!({"iss": "https://evil.test"})),
            RpError::IdTokenIssuer
        ));
        assert!(matches!(login.refused(json!({"iss": null})), RpError::IdTokenIssuer));
        // A pending login sent to another provider does not accept this one's token.
        let mut other = login.pending.clone();
        other.issuer = "https://another-op.test".into();
        let token = login.token(json!({}));
        assert!(matches!(
            validate_id_token(
                &login.provider,
                &login.rp.registration,
                &other,
                &token,
                ACCESS_TOKEN,
                NOW
            ),
            Err(RpError::IdTokenIssuer)
        ));
    }

    #[test]
    fn expiry_and_issue_time_are_checked_with_a_small_skew() {
        let login = login();
        let skew = DEFAULT_CLOCK_SKEW_SECS;
        assert!(matches!(
            login.refused(json!({"exp": NOW - skew})),
            RpError::IdTokenExpired
        ));
        assert!(matches!(
            login.refused(json!({"exp": NOW - 3600, "iat": NOW - 3900})),
            RpError::IdTokenExpired
        ));
        // Just expired, within the skew.
        assert!(login.check(&login.token(json!({"exp": NOW - skew + 1}))).is_ok());
        assert!(matches!(
            login.refused(json!({"exp": null})),
            RpError::IdTokenExpiryMissing
        ));
        assert!(matches!(
            login.refused(json!({"exp": "tomorrow"})),
            RpError::IdTokenExpiryMissing
        ));
        assert!(matches!(
            login.refused(json!({"iat": NOW + skew + 1})),
            RpError::IdTokenNotYetValid
        ));
        assert!(login.check(&login.token(json!({"iat": NOW + skew}))).is_ok());
        assert!(matches!(
            login.refused(json!({"iat": null})),
            RpError::IdTokenIssuedAtMissing
        ));
        assert!(matches!(
            login.refused(json!({"nbf": NOW + skew + 1})),
            RpError::IdTokenNotYetValid
        ));
    }

    #[test]
    fn a_wrong_or_missing_nonce_is_refused() {
        let login = login();
        assert!(matches!(
            login.refused(json!({"nonce": "a-nonce-from-another-login-000000000"})),
            RpError::NonceMismatch
        ));
        assert!(matches!(login.refused(json!({"nonce": null})), RpError::NonceMismatch));
    }

    #[test]
    fn at_hash_must_match_and_is_required_in_federation_mode() {
        let login = login();
        assert!(matches!(
            login.refused(json!({"at_hash": at_hash_for("RS256", "another-access-token")})),
            RpError::AtHashMismatch
        ));
        // The SHA-256 half for an RS512 token is the wrong length and refused.
        let wrong_hash = login.token_with("RS512", json!({"at_hash": at_hash_for("RS256", ACCESS_TOKEN)}));
        assert!(matches!(login.check(&wrong_hash), Err(RpError::AtHashMismatch)));
        assert!(matches!(login.refused(json!({"at_hash": 1})), RpError::AtHashMismatch));
        assert!(matches!(
            login.refused(json!({"at_hash": null})),
            RpError::AtHashMissing
        ));

        // Static mode: optional, but checked when present.
        let mut registration =
            Registration::static_provider(login.rp.registration.client_id.clone(), "https://rp.test/cb");
        registration.acr = AcrPolicy::NotChecked;
        let check =
            |token: &str| validate_id_token(&login.provider, &registration, &login.pending, token, ACCESS_TOKEN, NOW);
        assert!(check(&login.token(json!({"at_hash": null, "acr": null}))).is_ok());
        assert!(matches!(
            check(&login.token(json!({"at_hash": at_hash_for("RS256", "x")}))),
            Err(RpError::AtHashMismatch)
        ));
    }

    #[test]
    fn a_missing_subject_is_refused() {
        let login = login();
        assert!(matches!(login.refused(json!({"sub": null})), RpError::SubjectMissing));
        assert!(matches!(login.refused(json!({"sub": ""})), RpError::SubjectMissing));
    }

    #[test]
    fn a_bad_signature_or_a_stranger_key_is_refused() {
        let login = login();
        let token = login.token(json!({}));
        // Payload changed after signing.
        let (header, rest) = token.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let mut forged = login
            .op
            .id_token_claims(&login.rp, &login.pending, ACCESS_TOKEN, "RS256");
        forged.insert("acr".into(), SpidLevel::L3.uri().into());
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let forged = format!("{header}.{forged_payload}.{signature}");
        assert!(matches!(
            login.check(&forged),
            Err(RpError::IdTokenSignature(OidcError::BadSignature))
        ));
        // Signed by a key the provider does not publish.
        let stranger = SigningKey::generate(Alg::Rs256).unwrap();
        let claims = login
            .op
            .id_token_claims(&login.rp, &login.pending, ACCESS_TOKEN, "RS256");
        let token = stranger.sign(&claims, None).unwrap();
        assert!(matches!(
            login.check(&token),
            Err(RpError::IdTokenSignature(OidcError::UnknownKey))
        ));
        // alg none, and HS256 keyed with a public key, are refused.
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        for alg in ["none", "HS256"] {
            let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","kid":"op-rsa"}}"#));
            assert!(matches!(
                login.check(&format!("{header}.{body}.")),
                Err(RpError::IdTokenSignature(_))
            ));
        }
    }

    #[test]
    fn federation_mode_refuses_an_unchecked_acr_policy() {
        let login = login();
        let mut registration = login.rp.registration.clone();
        registration.acr = AcrPolicy::NotChecked;
        let token = login.token(json!({}));
        assert!(matches!(
            validate_id_token(
                &login.provider,
                &registration,
                &login.pending,
                &token,
                ACCESS_TOKEN,
                NOW
            ),
            Err(RpError::AcrPolicyRequired)
        ));
        // A listed acr policy accepts only its values.
        registration.mode = TrustMode::Static;
        registration.acr = AcrPolicy::OneOf {
            request: "level-2".into(),
            accepted: vec!["level-2".into(), "level-3".into()],
        };
        let check = |acr: &str| {
            let token = login.token(json!({"acr": acr}));
            validate_id_token(
                &login.provider,
                &registration,
                &login.pending,
                &token,
                ACCESS_TOKEN,
                NOW,
            )
        };
        assert!(check("level-3").is_ok());
        assert!(matches!(check("level-1"), Err(RpError::AcrUnknown)));
    }
}
