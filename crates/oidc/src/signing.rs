//! The provider's signing keys (RSA 2048 for RS256, P-256 for ES256), how
//! they are sealed at rest, compact JWS signing and verification, the public
//! JWK Set and `at_hash`.
//!
//! Invariants:
//! - A key's `kid` is its RFC 7638 JWK thumbprint, so it is unique per key and
//!   says nothing about the private part.
//! - A sealed key is a compact JWE (`dir` + `A256GCM`, under a key derived from
//!   the [`Kek`]) of the private JWK; unsealing checks that the JWK inside is
//!   the `kid` and `alg` the caller expects, so two stored rows cannot swap keys.
//! - Verification uses only RS256, PS256 and ES256 ([`verify_jws`]; the
//!   relying party adds RS512 for upstream providers), and picks the verifying
//!   key from the set by `kid` and by a key type that fits `alg`; `none` and
//!   HMAC algorithms are refused, so a public key can never act as an HMAC
//!   secret.
//! - A signed claim is never `null` (relying parties choke on `"at_hash": null`).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwe::{self, Dir, JweHeader};
use josekit::jwk::alg::ec::EcKeyPair;
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jwk::{Jwk, KeyPair as _};
use josekit::jws::{self, ES256, JwsHeader, JwsSigner, JwsVerifier, PS256, RS256, RS512};
use josekit::{JoseError, Map, Value};
use serde_json::json;
use sha2::{Digest as _, Sha256};

use crate::{Alg, Kek, OidcError};

/// Bits in an RSA signing key.
const RSA_BITS: u32 = 2048;

/// The label of the key derived from the KEK that seals signing keys.
const SEAL_LABEL: &str = "varco-oidc/signing-key-seal/v1";

/// The content type of a sealed key's JWE.
const SEALED_CONTENT_TYPE: &str = "jwk+json";

/// One of the provider's signing keys, private part included.
pub struct SigningKey {
    kid: String,
    alg: Alg,
    private_jwk: Jwk,
    public_jwk: Value,
    signer: Box<dyn JwsSigner>,
}

impl SigningKey {
    /// A new random key: RSA 2048 for [`Alg::Rs256`], P-256 for [`Alg::Es256`].
    pub fn generate(alg: Alg) -> Result<SigningKey, OidcError> {
        let jwk = match alg {
            Alg::Rs256 => RS256.generate_key_pair(RSA_BITS).map(|pair| pair.to_jwk_key_pair()),
            Alg::Es256 => ES256.generate_key_pair().map(|pair| pair.to_jwk_key_pair()),
        }
        .map_err(OidcError::KeyGeneration)?;
        SigningKey::from_private_jwk(jwk, alg)
    }

    /// The key id, in the `kid` header of every token it signs.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs with.
    #[must_use]
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The public half as a JWK: `kty`, `kid`, `use` = `sig`, `alg`, then
    /// `n` and `e` (RSA) or `crv`, `x` and `y` (EC).
    #[must_use]
    pub fn public_jwk(&self) -> Value {
        self.public_jwk.clone()
    }

    /// The private JWK encrypted under `kek` as a compact JWE (`dir` +
    /// `A256GCM`), for storage.
    pub fn seal(&self, kek: &Kek) -> Result<String, OidcError> {
        let mut header = JweHeader::new();
        header.set_content_encryption("A256GCM");
        header.set_content_type(SEALED_CONTENT_TYPE);
        let encrypter = Dir
            .encrypter_from_bytes(kek.derive(SEAL_LABEL))
            .map_err(OidcError::Seal)?;
        let plaintext = serde_json::to_vec(AsRef::<Map<String, Value>>::as_ref(&self.private_jwk))
            .map_err(|error| OidcError::Seal(JoseError::InvalidJson(error.into())))?;
        jwe::serialize_compact(&plaintext, &header, &encrypter).map_err(OidcError::Seal)
    }

    /// The key that [`SigningKey::seal`] sealed under `kek`, checked to be the
    /// key `kid` for `alg` that its stored record names.
    pub fn unseal(kek: &Kek, kid: &str, alg: Alg, sealed: &str) -> Result<SigningKey, OidcError> {
        let decrypter = Dir
            .decrypter_from_bytes(kek.derive(SEAL_LABEL))
            .map_err(|_| OidcError::Unseal)?;
        let (plaintext, header) = jwe::deserialize_compact(sealed, &decrypter).map_err(|_| OidcError::Unseal)?;
        let mismatch = || OidcError::SealedKeyMismatch {
            kid: kid.to_owned(),
            alg: alg.as_str(),
        };
        if header.content_encryption() != Some("A256GCM") {
            return Err(OidcError::Unseal);
        }
        let jwk = Jwk::from_bytes(&plaintext).map_err(|_| OidcError::Unseal)?;
        if jwk.key_id() != Some(kid) || jwk.algorithm() != Some(alg.as_str()) {
            return Err(mismatch());
        }
        let key = SigningKey::from_private_jwk(jwk, alg)?;
        if key.kid != kid {
            return Err(mismatch());
        }
        Ok(key)
    }

    /// `claims` signed as a compact JWS whose header holds `alg`, `kid` and,
    /// when given, `typ` (for example [`crate::LOGOUT_TOKEN_TYP`]). A `null`
    /// claim is refused: leave the claim out instead.
    pub fn sign(&self, claims: &Map<String, Value>, typ: Option<&str>) -> Result<String, OidcError> {
        if let Some((name, _)) = claims.iter().find(|(_, value)| value.is_null()) {
            return Err(OidcError::NullClaim(name.clone()));
        }
        let mut header = JwsHeader::new();
        if let Some(typ) = typ {
            header.set_token_type(typ);
        }
        let payload =
            serde_json::to_vec(claims).map_err(|error| OidcError::Signing(JoseError::InvalidJson(error.into())))?;
        jws::serialize_compact(&payload, &header, self.signer.as_ref()).map_err(OidcError::Signing)
    }

    /// Builds the key from a private JWK (RSA with all CRT parameters, or EC
    /// with `d`, `x` and `y`): sets `kid` to the thumbprint, `use` and `alg`.
    fn from_private_jwk(mut jwk: Jwk, alg: Alg) -> Result<SigningKey, OidcError> {
        let invalid = |source| OidcError::InvalidPrivateKey {
            alg: alg.as_str(),
            source,
        };
        // The public half is recomputed from the private key, never copied from the JWK.
        let public = match alg {
            Alg::Rs256 => RsaKeyPair::from_jwk(&jwk).map(|pair| pair.to_jwk_public_key()),
            Alg::Es256 => EcKeyPair::from_jwk(&jwk).map(|pair| pair.to_jwk_public_key()),
        }
        .map_err(invalid)?;
        let members: &[&str] = match alg {
            Alg::Rs256 => &["n", "e"],
            Alg::Es256 => &["crv", "x", "y"],
        };
        let kid = thumbprint(&public, members);

        jwk.set_key_id(kid.clone());
        jwk.set_key_use("sig");
        jwk.set_algorithm(alg.as_str());
        let signer: Box<dyn JwsSigner> = match alg {
            Alg::Rs256 => Box::new(RS256.signer_from_jwk(&jwk).map_err(invalid)?),
            Alg::Es256 => Box::new(ES256.signer_from_jwk(&jwk).map_err(invalid)?),
        };

        let mut public_jwk = Map::new();
        public_jwk.insert("kty".into(), Value::String(public.key_type().to_owned()));
        public_jwk.insert("kid".into(), Value::String(kid.clone()));
        public_jwk.insert("use".into(), Value::String("sig".into()));
        public_jwk.insert("alg".into(), Value::String(alg.as_str().into()));
        for member in members {
            if let Some(value) = public.parameter(member) {
                public_jwk.insert((*member).into(), value.clone());
            }
        }
        Ok(SigningKey {
            kid,
            alg,
            private_jwk: jwk,
            public_jwk: Value::Object(public_jwk),
            signer,
        })
    }
}

impl Clone for SigningKey {
    fn clone(&self) -> SigningKey {
        SigningKey {
            kid: self.kid.clone(),
            alg: self.alg,
            private_jwk: self.private_jwk.clone(),
            public_jwk: self.public_jwk.clone(),
            signer: self.signer.box_clone(),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// The RFC 7638 thumbprint of a public JWK: SHA-256 of its required members
/// (here `kty` plus `members`) in lexicographic order without whitespace,
/// base64url.
pub(crate) fn thumbprint(public: &Jwk, members: &[&str]) -> String {
    let mut required: Vec<(&str, String)> = members
        .iter()
        .map(|member| {
            (
                *member,
                public
                    .parameter(member)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    required.push(("kty", public.key_type().to_owned()));
    required.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let members: Vec<String> = required
        .iter()
        .map(|(name, value)| format!("{}:{}", Value::from(*name), Value::from(value.as_str())))
        .collect();
    URL_SAFE_NO_PAD.encode(Sha256::digest(format!("{{{}}}", members.join(",")).as_bytes()))
}

/// The algorithms [`verify_jws`] accepts.
const PROVIDER_VERIFY_ALGS: &[&str] = &["RS256", "PS256", "ES256"];

/// The payload of a compact JWS `token` whose signature verifies with one of
/// the public `jwks` (JWK objects) that fits its `alg` (RS256, PS256 or
/// ES256) and whose `kid` matches the token's (keys or tokens without a `kid`
/// match any). Checks the signature only: `iss`, `aud`, `exp` and the rest
/// are the caller's.
pub fn verify_jws(jwks: &[Value], token: &str) -> Result<Map<String, Value>, OidcError> {
    verify_jws_with_algs(jwks, token, PROVIDER_VERIFY_ALGS).map(|(_, claims)| claims)
}

/// [`verify_jws`] with the accepted algorithms chosen by the caller (a subset
/// of RS256, RS512, PS256 and ES256; any other name is refused); also returns
/// the token's `alg`, which fixes the hash of `at_hash`.
pub(crate) fn verify_jws_with_algs(
    jwks: &[Value],
    token: &str,
    algs: &[&str],
) -> Result<(String, Map<String, Value>), OidcError> {
    let header = compact_header(token)?;
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => alg.as_str(),
        _ => return Err(OidcError::MalformedJws),
    };
    if !algs.contains(&alg) {
        // The name comes from the token: keep what reaches a log short.
        return Err(OidcError::UnsupportedAlg(alg.chars().take(32).collect()));
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.as_str()),
        Some(_) => return Err(OidcError::MalformedJws),
    };

    let mut found_key = false;
    for candidate in jwks {
        let Some(Ok(jwk)) = candidate.as_object().map(|object| Jwk::from_map(object.clone())) else {
            continue;
        };
        // A key named otherwise is not the signer; a key without a name may be.
        if matches!((kid, jwk.key_id()), (Some(kid), Some(key_kid)) if kid != key_kid) {
            continue;
        }
        let Some(verifier) = verifier_for(alg, &jwk) else {
            continue;
        };
        found_key = true;
        match jws::deserialize_compact(token, verifier.as_ref()) {
            Ok((payload, _)) => {
                return match serde_json::from_slice::<Value>(&payload) {
                    Ok(Value::Object(claims)) => Ok((alg.to_owned(), claims)),
                    _ => Err(OidcError::MalformedJws),
                };
            }
            Err(JoseError::InvalidSignature(_)) => {}
            Err(_) => return Err(OidcError::MalformedJws),
        }
    }
    Err(if found_key {
        OidcError::BadSignature
    } else {
        OidcError::UnknownKey
    })
}

/// A verifier for `alg` from `jwk`, or `None` when the key does not fit
/// (another key type or curve, another `alg`, `use` = `enc`, too short). The
/// caller has matched `kid` already, so the verifier does not check it again.
fn verifier_for(alg: &str, jwk: &Jwk) -> Option<Box<dyn JwsVerifier>> {
    macro_rules! build {
        ($algorithm:expr) => {{
            let mut verifier = $algorithm.verifier_from_jwk(jwk).ok()?;
            verifier.remove_key_id();
            Some(Box::new(verifier) as Box<dyn JwsVerifier>)
        }};
    }
    match alg {
        "RS256" => build!(RS256),
        "RS512" => build!(RS512),
        "PS256" => build!(PS256),
        "ES256" => build!(ES256),
        _ => None,
    }
}

/// The decoded header of a compact JWS: three base64url parts, the first a
/// JSON object.
pub(crate) fn compact_header(token: &str) -> Result<Map<String, Value>, OidcError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(OidcError::MalformedJws);
    };
    let bytes = URL_SAFE_NO_PAD.decode(header).map_err(|_| OidcError::MalformedJws)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(header)) => Ok(header),
        _ => Err(OidcError::MalformedJws),
    }
}

/// The JWK Set document: `{"keys": [...]}`.
#[must_use]
pub fn jwks(public_jwks: &[Value]) -> Value {
    json!({ "keys": public_jwks })
}

/// The `at_hash` of an access token for an ID token signed with `alg`: the
/// left half of its SHA-256 (both RS256 and ES256 hash with SHA-256), base64url.
#[must_use]
pub fn at_hash(access_token: &str, alg: Alg) -> String {
    let digest = match alg {
        Alg::Rs256 | Alg::Es256 => Sha256::digest(access_token.as_bytes()),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Map<String, Value> {
        let Value::Object(map) = json!({
            "iss": "https://varco.test",
            "sub": "subject-1",
            "aud": "client-1",
            "iat": 1_700_000_000,
            "exp": 1_700_000_300,
        }) else {
            unreachable!()
        };
        map
    }

    /// The token with one character of the given part changed.
    fn tampered(token: &str, part: usize) -> String {
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let original = URL_SAFE_NO_PAD.decode(&parts[part]).unwrap();
        let mut changed = original.clone();
        changed[0] ^= 1;
        parts[part] = URL_SAFE_NO_PAD.encode(changed);
        parts.join(".")
    }

    fn decode_part(token: &str, part: usize) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(part).unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn rs256_and_es256_sign_then_verify() {
        for alg in Alg::ALL {
            let key = SigningKey::generate(alg).unwrap();
            let token = key.sign(&claims(), None).unwrap();

            let header = decode_part(&token, 0);
            assert_eq!(header["alg"], alg.as_str());
            assert_eq!(header["kid"], key.kid());
            assert!(header.get("typ").is_none());

            let verified = verify_jws(&[key.public_jwk()], &token).unwrap();
            assert_eq!(verified, claims());

            // With typ, and with the key among others.
            let other = SigningKey::generate(Alg::Es256).unwrap();
            let token = key.sign(&claims(), Some(crate::LOGOUT_TOKEN_TYP)).unwrap();
            assert_eq!(decode_part(&token, 0)["typ"], "logout+jwt");
            assert_eq!(
                verify_jws(&[other.public_jwk(), key.public_jwk()], &token).unwrap(),
                claims()
            );
        }
    }

    #[test]
    fn public_jwk_has_the_expected_members_and_no_private_part() {
        let rsa = SigningKey::generate(Alg::Rs256).unwrap();
        let jwk = rsa.public_jwk();
        let names: Vec<&str> = jwk.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(names, ["kty", "kid", "use", "alg", "n", "e"]);
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap().len(), 256);

        let ec = SigningKey::generate(Alg::Es256).unwrap();
        let jwk = ec.public_jwk();
        let names: Vec<&str> = jwk.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(names, ["kty", "kid", "use", "alg", "crv", "x", "y"]);
        assert_eq!(jwk["crv"], "P-256");
        assert_eq!(jwk["alg"], "ES256");
        assert_ne!(rsa.kid(), ec.kid());
        assert!(!format!("{ec:?}").contains("\"d\""));
    }

    #[test]
    fn kid_is_the_rfc_7638_thumbprint() {
        // RFC 7638 §3.1: the example RSA key and its thumbprint.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let mut jwk = Jwk::new("RSA");
        jwk.set_parameter("n", Some(Value::from(n))).unwrap();
        jwk.set_parameter("e", Some(Value::from("AQAB"))).unwrap();
        jwk.set_algorithm("RS256");
        jwk.set_key_id("2011-04-29");
        assert_eq!(
            thumbprint(&jwk, &["n", "e"]),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn tampered_tokens_are_refused() {
        for alg in Alg::ALL {
            let key = SigningKey::generate(alg).unwrap();
            let token = key.sign(&claims(), None).unwrap();
            let jwks = [key.public_jwk()];
            // Payload changed: signature no longer matches.
            assert!(matches!(
                verify_jws(&jwks, &tampered(&token, 1)),
                Err(OidcError::BadSignature)
            ));
            // Signature changed.
            assert!(matches!(
                verify_jws(&jwks, &tampered(&token, 2)),
                Err(OidcError::BadSignature)
            ));
            // Signature dropped, or the token cut short.
            let unsigned = format!("{}.", token.rsplit_once('.').unwrap().0);
            assert!(verify_jws(&jwks, &unsigned).is_err());
            assert!(matches!(verify_jws(&jwks, "a.b"), Err(OidcError::MalformedJws)));
            assert!(matches!(verify_jws(&jwks, "not a token"), Err(OidcError::MalformedJws)));
        }
    }

    #[test]
    fn a_token_signed_by_another_key_is_refused() {
        for alg in Alg::ALL {
            let published = SigningKey::generate(alg).unwrap();
            let intruder = SigningKey::generate(alg).unwrap();
            let token = intruder.sign(&claims(), None).unwrap();
            // Its kid is unknown.
            assert!(matches!(
                verify_jws(&[published.public_jwk()], &token),
                Err(OidcError::UnknownKey)
            ));
            // Its kid names a published key, but that key did not sign it.
            let mut impostor = published.public_jwk();
            impostor["kid"] = Value::from(intruder.kid());
            assert!(matches!(verify_jws(&[impostor], &token), Err(OidcError::BadSignature)));
        }
    }

    #[test]
    fn alg_confusion_and_none_are_refused() {
        let key = SigningKey::generate(Alg::Rs256).unwrap();
        let jwks = [key.public_jwk()];
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims()).unwrap());
        for alg in ["none", "HS256", "RS512"] {
            let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","kid":"{}"}}"#, key.kid()));
            let token = format!("{header}.{body}.c2ln");
            assert!(matches!(verify_jws(&jwks, &token), Err(OidcError::UnsupportedAlg(a)) if a == alg));
        }
        // An RS256 key never verifies an ES256 token, even under its kid.
        let ec = SigningKey::generate(Alg::Es256).unwrap();
        let token = ec.sign(&claims(), None).unwrap();
        let mut relabelled = key.public_jwk();
        relabelled["kid"] = Value::from(ec.kid());
        assert!(matches!(verify_jws(&[relabelled], &token), Err(OidcError::UnknownKey)));
    }

    #[test]
    fn tokens_with_critical_extensions_are_refused() {
        let key = SigningKey::generate(Alg::Es256).unwrap();
        let mut header = JwsHeader::new();
        header.set_critical(&vec!["exp"]);
        header.set_claim("exp", Some(Value::from(1))).unwrap();
        let token = jws::serialize_compact(br#"{"a":1}"#, &header, key.signer.as_ref()).unwrap();
        assert!(matches!(
            verify_jws(&[key.public_jwk()], &token),
            Err(OidcError::MalformedJws)
        ));
    }

    #[test]
    fn signing_keys_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync + Clone>() {}
        shareable::<SigningKey>();
        shareable::<Kek>();
    }

    #[test]
    fn ps256_tokens_from_clients_verify() {
        let pair = PS256.generate_key_pair(2048).unwrap();
        let mut private = pair.to_jwk_key_pair();
        private.set_key_id("client-key");
        let signer = PS256.signer_from_jwk(&private).unwrap();
        let token = jws::serialize_compact(br#"{"iss":"c"}"#, &JwsHeader::new(), &signer).unwrap();
        let public: Map<String, Value> = private.to_public_key().unwrap().into();
        let mut public = public;
        public.insert("kid".into(), Value::from("client-key"));
        let claims = verify_jws(&[Value::Object(public)], &token).unwrap();
        assert_eq!(claims["iss"], "c");
    }

    #[test]
    fn tokens_without_kid_verify_against_any_fitting_key() {
        let key = SigningKey::generate(Alg::Es256).unwrap();
        let mut private = key.private_jwk.clone();
        private.set_key_id("ignored");
        let mut signer = ES256.signer_from_jwk(&private).unwrap();
        signer.remove_key_id();
        let token = jws::serialize_compact(br#"{"a":1}"#, &JwsHeader::new(), &signer).unwrap();
        assert!(decode_part(&token, 0).get("kid").is_none());
        let other = SigningKey::generate(Alg::Es256).unwrap();
        assert_eq!(
            verify_jws(&[other.public_jwk(), key.public_jwk()], &token).unwrap()["a"],
            1
        );
        assert!(matches!(
            verify_jws(&[other.public_jwk()], &token),
            Err(OidcError::BadSignature)
        ));
    }

    #[test]
    fn keys_without_kid_verify_tokens_with_one() {
        let key = SigningKey::generate(Alg::Rs256).unwrap();
        let token = key.sign(&claims(), None).unwrap();
        let mut unnamed = key.public_jwk();
        unnamed.as_object_mut().unwrap().remove("kid");
        assert_eq!(verify_jws(&[unnamed], &token).unwrap(), claims());
    }

    #[test]
    fn null_claims_are_refused() {
        let key = SigningKey::generate(Alg::Es256).unwrap();
        let mut with_null = claims();
        with_null.insert("at_hash".into(), Value::Null);
        assert!(matches!(key.sign(&with_null, None), Err(OidcError::NullClaim(name)) if name == "at_hash"));
    }

    #[test]
    fn seal_then_unseal_round_trips() {
        let kek = Kek::generate();
        for alg in Alg::ALL {
            let key = SigningKey::generate(alg).unwrap();
            let sealed = key.seal(&kek).unwrap();
            let header = decode_part(&sealed, 0);
            assert_eq!(header["alg"], "dir");
            assert_eq!(header["enc"], "A256GCM");
            assert_eq!(sealed.split('.').count(), 5);
            assert_eq!(sealed.split('.').nth(1), Some(""), "dir has no encrypted key");

            let opened = SigningKey::unseal(&kek, key.kid(), alg, &sealed).unwrap();
            assert_eq!(opened.kid(), key.kid());
            assert_eq!(opened.alg(), alg);
            assert_eq!(opened.public_jwk(), key.public_jwk());
            // The unsealed key signs what the original's public key verifies.
            let token = opened.sign(&claims(), None).unwrap();
            assert_eq!(verify_jws(&[key.public_jwk()], &token).unwrap(), claims());
        }
    }

    #[test]
    fn unseal_refuses_a_wrong_kek_damage_and_another_record() {
        let kek = Kek::generate();
        let key = SigningKey::generate(Alg::Es256).unwrap();
        let sealed = key.seal(&kek).unwrap();

        let wrong = SigningKey::unseal(&Kek::generate(), key.kid(), Alg::Es256, &sealed);
        assert!(matches!(wrong, Err(OidcError::Unseal)));
        let damaged = SigningKey::unseal(&kek, key.kid(), Alg::Es256, &tampered(&sealed, 3));
        assert!(matches!(damaged, Err(OidcError::Unseal)));
        assert!(matches!(
            SigningKey::unseal(&kek, key.kid(), Alg::Es256, "garbage"),
            Err(OidcError::Unseal)
        ));

        let other_kid = SigningKey::unseal(&kek, "another-kid", Alg::Es256, &sealed);
        assert!(matches!(other_kid, Err(OidcError::SealedKeyMismatch { .. })));
        let other_alg = SigningKey::unseal(&kek, key.kid(), Alg::Rs256, &sealed);
        assert!(matches!(other_alg, Err(OidcError::SealedKeyMismatch { .. })));
        // Messages name the key, never its content.
        let message = other_alg.unwrap_err().to_string();
        assert!(message.contains(key.kid()) && !message.contains(&sealed));
    }

    #[test]
    fn jwks_wraps_the_keys() {
        let key = SigningKey::generate(Alg::Es256).unwrap();
        assert_eq!(jwks(&[key.public_jwk()]), json!({ "keys": [key.public_jwk()] }));
        assert_eq!(jwks(&[]), json!({ "keys": [] }));
    }

    #[test]
    fn at_hash_is_the_left_half_of_sha256() {
        // OpenID Connect Core 1.0 Appendix A.3 (an RS256 ID token): access
        // token "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y" has at_hash
        // "77QmUPtjPfzWtF2AnpK9RQ".
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        assert_eq!(at_hash(token, Alg::Rs256), "77QmUPtjPfzWtF2AnpK9RQ");
        // Computed independently: the first 16 bytes of SHA-256, base64url.
        let digest = Sha256::digest(b"an-access-token");
        let expected = URL_SAFE_NO_PAD.encode(&digest[..16]);
        assert_eq!(at_hash("an-access-token", Alg::Es256), expected);
        assert_eq!(expected.len(), 22);
    }
}
