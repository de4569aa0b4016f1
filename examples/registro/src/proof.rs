//! Checking what `POST /api/v1/confirmations/redeem` answered before the
//! register records anything: the answer must be about this act (its
//! `payload_hash` is the register's own hash of the payload it sent, its
//! `sub` the signed-in person), and the `confirmation` JWT must be signed by
//! one of Varco's published keys (RS256 or ES256), typed
//! `confirmation+jwt`, issued by Varco to this client for this person and
//! this confirmation (`jti`), unexpired, with `acr` saying the second
//! secret was entered and `act.payload_hash` the same hash.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::JsonWebKey as _;
use openidconnect::core::{CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use serde_json::{Map, Value};

use crate::store::Confirmed;

/// The `acr` of a confirmation made with the PIN or personal code.
pub const ACR_SECOND_SECRET: &str = "urn:varco:acr:second-secret";

/// The JWT `typ` of a confirmation.
pub const CONFIRMATION_TYP: &str = "confirmation+jwt";

/// Clock skew tolerated on `exp` and `iat`, in seconds.
const LEEWAY_SECS: i64 = 60;

/// Why a redeemed confirmation is not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// No published key has the JWT's `kid` (fetch the JWKS again).
    #[error("no key of Varco's JWKS matches the confirmation's kid")]
    UnknownKey,
    /// A well-formed confirmation of something else.
    #[error("the confirmation is not the act asked for: {0} differs")]
    Mismatch(String),
    /// Not a valid confirmation.
    #[error("the confirmation does not verify: {0}")]
    Invalid(String),
}

/// What the confirmation must say.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// Varco's issuer.
    pub issuer: &'a str,
    /// This register's client id (the JWT's `aud`).
    pub client_id: &'a str,
    /// The signed-in person.
    pub sub: &'a str,
    /// The id Varco gave at creation (the JWT's `jti`).
    pub confirmation_id: &'a str,
    /// The register's own hash of the payload.
    pub payload_hash: &'a str,
}

/// Checks the redeem answer; gives the trace to keep with the act.
pub fn verify(
    answer: &Value,
    jwks: &CoreJsonWebKeySet,
    expected: &Expected<'_>,
    now: i64,
) -> Result<Confirmed, ProofError> {
    let text = |name: &str| answer.get(name).and_then(Value::as_str);
    if text("payload_hash") != Some(expected.payload_hash) {
        return Err(ProofError::Mismatch("payload_hash".into()));
    }
    if text("sub") != Some(expected.sub) {
        return Err(ProofError::Mismatch("sub".into()));
    }
    let token = text("confirmation").ok_or_else(|| ProofError::Invalid("no confirmation JWT".into()))?;
    let claims = verify_signature(token, jwks)?;
    let claim = |name: &str| claims.get(name).and_then(Value::as_str);
    if claim("iss") != Some(expected.issuer) {
        return Err(ProofError::Invalid("iss".into()));
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == expected.client_id,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(expected.client_id)),
        _ => false,
    };
    if !audience_ok {
        return Err(ProofError::Invalid("aud".into()));
    }
    match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp + LEEWAY_SECS > now => {}
        _ => return Err(ProofError::Invalid("exp".into())),
    }
    if claims
        .get("iat")
        .and_then(Value::as_i64)
        .is_none_or(|iat| iat > now + LEEWAY_SECS)
    {
        return Err(ProofError::Invalid("iat".into()));
    }
    let acr = claim("acr").unwrap_or_default();
    if acr != ACR_SECOND_SECRET {
        return Err(ProofError::Invalid("acr".into()));
    }
    if claim("sub") != Some(expected.sub) {
        return Err(ProofError::Mismatch("sub".into()));
    }
    if claim("jti") != Some(expected.confirmation_id) {
        return Err(ProofError::Mismatch("jti".into()));
    }
    let act_hash = claims
        .get("act")
        .and_then(|a| a.get("payload_hash"))
        .and_then(Value::as_str);
    if act_hash != Some(expected.payload_hash) {
        return Err(ProofError::Mismatch("act.payload_hash".into()));
    }
    let confirmed_at = answer
        .get("confirmed_at")
        .and_then(Value::as_i64)
        .or_else(|| claims.get("auth_time").and_then(Value::as_i64))
        .ok_or_else(|| ProofError::Invalid("confirmed_at".into()))?;
    Ok(Confirmed {
        confirmation: expected.confirmation_id.to_owned(),
        confirmed_at,
        acr: acr.to_owned(),
    })
}

/// The claims of a compact JWS typed [`CONFIRMATION_TYP`] whose signature
/// verifies with a key of `jwks` (one with its `kid`, or any when it names
/// none).
fn verify_signature(token: &str, jwks: &CoreJsonWebKeySet) -> Result<Map<String, Value>, ProofError> {
    let invalid = |what: &str| ProofError::Invalid(what.to_owned());
    let mut parts = token.split('.');
    let (Some(header), Some(body), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("not a compact JWS"));
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| invalid("bad base64url"));
    let header: Map<String, Value> = serde_json::from_slice(&decode(header)?).map_err(|_| invalid("bad header"))?;
    if header.get("typ").and_then(Value::as_str) != Some(CONFIRMATION_TYP) {
        return Err(invalid("typ"));
    }
    let alg = match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        Some("ES256") => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        _ => return Err(invalid("alg")),
    };
    let kid = header.get("kid").and_then(Value::as_str);
    let signature = decode(signature)?;
    let message = &token[..header_and_body_len(token)];
    let mut candidates = jwks
        .keys()
        .iter()
        .filter(|key| kid.is_none_or(|kid| key.key_id().is_some_and(|k| k.as_str() == kid)))
        .peekable();
    if candidates.peek().is_none() {
        return Err(ProofError::UnknownKey);
    }
    if !candidates.any(|key| key.verify_signature(&alg, message.as_bytes(), &signature).is_ok()) {
        return Err(invalid("signature"));
    }
    match serde_json::from_slice(&decode(body)?) {
        Ok(Value::Object(claims)) => Ok(claims),
        _ => Err(invalid("claims are not a JSON object")),
    }
}

/// The length of `header.payload`, the signed part.
fn header_and_body_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod tests {
    use josekit::jws::{ES256, JwsHeader, RS256};
    use josekit::jwt::{self, JwtPayload};
    use serde_json::json;

    use super::*;

    /// A provider's signing key and its public JWK, as Varco's would be.
    pub(crate) struct TestKey {
        kid: String,
        rsa: bool,
        private: josekit::jwk::Jwk,
        /// The public key as it appears in the JWKS.
        pub(crate) public: Value,
    }

    impl TestKey {
        pub(crate) fn rsa(kid: &str) -> TestKey {
            let pair = RS256.generate_key_pair(2048).unwrap();
            TestKey::new(kid, true, pair.to_jwk_private_key(), pair.to_jwk_public_key())
        }

        pub(crate) fn ec(kid: &str) -> TestKey {
            let pair = ES256.generate_key_pair().unwrap();
            TestKey::new(kid, false, pair.to_jwk_private_key(), pair.to_jwk_public_key())
        }

        fn new(kid: &str, rsa: bool, private: josekit::jwk::Jwk, mut public: josekit::jwk::Jwk) -> TestKey {
            public.set_key_id(kid);
            public.set_algorithm(if rsa { "RS256" } else { "ES256" });
            public.set_key_use("sig");
            TestKey {
                kid: kid.into(),
                rsa,
                private,
                public: Value::Object(public.as_ref().clone()),
            }
        }

        /// A compact JWS of `claims` with header `typ`.
        pub(crate) fn sign(&self, typ: &str, claims: &Value) -> String {
            let mut header = JwsHeader::new();
            header.set_token_type(typ);
            header.set_key_id(&self.kid);
            let payload = JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap();
            if self.rsa {
                jwt::encode_with_signer(&payload, &header, &RS256.signer_from_jwk(&self.private).unwrap()).unwrap()
            } else {
                jwt::encode_with_signer(&payload, &header, &ES256.signer_from_jwk(&self.private).unwrap()).unwrap()
            }
        }
    }

    pub(crate) fn jwks(keys: &[&TestKey]) -> CoreJsonWebKeySet {
        let keys: Vec<Value> = keys.iter().map(|k| k.public.clone()).collect();
        serde_json::from_value(json!({ "keys": keys })).unwrap()
    }

    const NOW: i64 = 1_795_000_000;

    fn expected() -> Expected<'static> {
        Expected {
            issuer: "http://127.0.0.1:8080",
            client_id: "varco-registro",
            sub: "sub-1",
            confirmation_id: "conf-1",
            payload_hash: "hash-of-the-payload",
        }
    }

    fn claims() -> Value {
        json!({
            "iss": "http://127.0.0.1:8080",
            "aud": "varco-registro",
            "sub": "sub-1",
            "jti": "conf-1",
            "iat": NOW - 5,
            "exp": NOW + 295,
            "auth_time": NOW - 10,
            "acr": ACR_SECOND_SECRET,
            "amr": ["pin"],
            "act": {"description": "Giustificazione…", "payload_hash": "hash-of-the-payload"},
        })
    }

    fn answer(token: String) -> Value {
        json!({
            "confirmation": token,
            "sub": "sub-1",
            "acr": ACR_SECOND_SECRET,
            "amr": ["pin"],
            "confirmed_at": NOW - 10,
            "payload_hash": "hash-of-the-payload",
        })
    }

    /// `claims()` with `changes` merged (null removes).
    fn with(changes: Value) -> Value {
        let mut claims = claims();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims
    }

    #[test]
    fn a_confirmation_of_this_act_verifies_with_rsa_and_ec_keys() {
        let (rsa, ec) = (TestKey::rsa("k-rsa"), TestKey::ec("k-ec"));
        let keys = jwks(&[&rsa, &ec]);
        for key in [&rsa, &ec] {
            let confirmed = verify(&answer(key.sign(CONFIRMATION_TYP, &claims())), &keys, &expected(), NOW).unwrap();
            assert_eq!(
                confirmed,
                Confirmed {
                    confirmation: "conf-1".into(),
                    confirmed_at: NOW - 10,
                    acr: ACR_SECOND_SECRET.into()
                }
            );
        }
        // aud may be a list naming this client.
        let listed = rsa.sign(CONFIRMATION_TYP, &with(json!({"aud": ["other", "varco-registro"]})));
        assert!(verify(&answer(listed), &keys, &expected(), NOW).is_ok());
    }

    #[test]
    fn another_act_or_person_is_a_mismatch() {
        let key = TestKey::rsa("k1");
        let keys = jwks(&[&key]);
        let good = key.sign(CONFIRMATION_TYP, &claims());
        let mut other_hash = answer(good.clone());
        other_hash["payload_hash"] = json!("another-hash");
        let mut other_sub = answer(good);
        other_sub["sub"] = json!("sub-2");
        let check = |answer: &Value| verify(answer, &keys, &expected(), NOW);
        assert_eq!(check(&other_hash), Err(ProofError::Mismatch("payload_hash".into())));
        assert_eq!(check(&other_sub), Err(ProofError::Mismatch("sub".into())));
        for (changes, field) in [
            (json!({"act": {"payload_hash": "another-hash"}}), "act.payload_hash"),
            (json!({"act": null}), "act.payload_hash"),
            (json!({"jti": "conf-2"}), "jti"),
            (json!({"sub": "sub-2"}), "sub"),
        ] {
            let token = key.sign(CONFIRMATION_TYP, &with(changes.clone()));
            assert_eq!(
                check(&answer(token)),
                Err(ProofError::Mismatch(field.into())),
                "{changes}"
            );
        }
    }

    #[test]
    fn a_forged_stale_or_foreign_confirmation_is_invalid() {
        let key = TestKey::rsa("k1");
        let keys = jwks(&[&key]);
        let check = |token: String| verify(&answer(token), &keys, &expected(), NOW);
        for (changes, field) in [
            (json!({"iss": "http://evil.example"}), "iss"),
            (json!({"aud": "another-client"}), "aud"),
            (json!({"aud": null}), "aud"),
            (json!({"exp": NOW - 61}), "exp"),
            (json!({"exp": null}), "exp"),
            (json!({"iat": NOW + 120}), "iat"),
            (json!({"acr": "urn:varco:acr:password"}), "acr"),
            (json!({"acr": null}), "acr"),
        ] {
            let token = key.sign(CONFIRMATION_TYP, &with(changes.clone()));
            assert_eq!(check(token), Err(ProofError::Invalid(field.into())), "{changes}");
        }
        // An ID token is not a confirmation, even with the right claims.
        assert_eq!(
            check(key.sign("JWT", &claims())),
            Err(ProofError::Invalid("typ".into()))
        );
        // Signed by a key of the same kid that Varco does not publish.
        let impostor = TestKey::rsa("k1");
        assert_eq!(
            check(impostor.sign(CONFIRMATION_TYP, &claims())),
            Err(ProofError::Invalid("signature".into()))
        );
        // A changed claim breaks the signature.
        let token = key.sign(CONFIRMATION_TYP, &claims());
        let parts: Vec<&str> = token.split('.').collect();
        let forged_body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&with(json!({"sub": "sub-1 "}))).unwrap());
        let forged = format!("{}.{forged_body}.{}", parts[0], parts[2]);
        assert_eq!(check(forged), Err(ProofError::Invalid("signature".into())));
        // A key Varco no longer (or not yet) publishes: fetch the JWKS again.
        let rotated = TestKey::rsa("k2");
        assert_eq!(
            check(rotated.sign(CONFIRMATION_TYP, &claims())),
            Err(ProofError::UnknownKey)
        );
        // alg none and garbage.
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"confirmation+jwt"}"#);
        assert_eq!(
            check(format!("{none_header}.{}.", parts[1])),
            Err(ProofError::Invalid("alg".into()))
        );
        assert_eq!(
            check("a.b".into()),
            Err(ProofError::Invalid("not a compact JWS".into()))
        );
        let mut missing = answer(token);
        missing.as_object_mut().unwrap().remove("confirmation");
        assert!(matches!(
            verify(&missing, &keys, &expected(), NOW),
            Err(ProofError::Invalid(_))
        ));
    }
}
