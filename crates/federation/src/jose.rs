//! JOSE for the federation: JWK Sets, compact JWS verification by `kid`,
//! federation and relying-party keys (with their RFC 7638 thumbprints), and
//! signing.
//!
//! Invariants:
//! - A token verifies only with a key whose `kid` equals the token's `kid`
//!   (federation keys are always named), whose type fits the `alg`, and only
//!   for RS256/384/512, PS256/384/512 and ES256/384/512: `none` and HMAC
//!   are refused, so a public key can never act as an HMAC secret.
//! - A key's `kid` is its RFC 7638 thumbprint; every public JWK made here
//!   carries `use` (the reference OP reads `jwk['use']` without a default).
//! - Private key material never appears in `Debug` output or in errors.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwe::{self, Dir, JweHeader};
use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jwk::{Jwk, KeyPair as _};
use josekit::jws::{
    self, ES256, ES384, ES512, JwsHeader, JwsSigner, JwsVerifier, PS256, PS384, PS512, RS256, RS384, RS512,
};
use josekit::{JoseError, Map, Value};
use sha2::{Digest as _, Sha256};

use crate::FederationError;

/// The default size of a generated RSA key (SPID/CIE require at least 2048).
pub const DEFAULT_RSA_BITS: u32 = 2048;

/// The content type of a sealed key's JWE.
const SEALED_CONTENT_TYPE: &str = "jwk+json";

/// A set of public JWKs, as in a statement's `jwks` claim or a pinned trust
/// anchor configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Jwks {
    keys: Vec<Map<String, Value>>,
}

impl Jwks {
    /// The set in a `{"keys": [...]}` value; each key must be an object
    /// with a string `kty`. `entity` names the owner in errors.
    pub fn from_value(value: &Value, entity: &str) -> Result<Jwks, FederationError> {
        let invalid = |reason| FederationError::InvalidJwks {
            entity: entity.to_owned(),
            reason,
        };
        let keys = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("no keys array"))?;
        let keys = keys
            .iter()
            .map(|key| match key {
                Value::Object(map) if map.get("kty").is_some_and(Value::is_string) => Ok(map.clone()),
                _ => Err(invalid("a key is not a JWK object with a kty")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(invalid("no keys"));
        }
        Ok(Jwks { keys })
    }

    /// A set of the given public JWK objects (non-objects are skipped).
    #[must_use]
    pub fn new(keys: impl IntoIterator<Item = Value>) -> Jwks {
        Jwks {
            keys: keys
                .into_iter()
                .filter_map(|key| match key {
                    Value::Object(map) => Some(map),
                    _ => None,
                })
                .collect(),
        }
    }

    /// The keys, as JSON objects.
    #[must_use]
    pub fn keys(&self) -> &[Map<String, Value>] {
        &self.keys
    }

    /// Whether a key with this `kid` is in the set.
    #[must_use]
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys
            .iter()
            .any(|key| key.get("kid").and_then(Value::as_str) == Some(kid))
    }

    /// The `{"keys": [...]}` document.
    #[must_use]
    pub fn to_value(&self) -> Value {
        let keys = self.keys.iter().cloned().map(Value::Object).collect();
        let mut document = Map::new();
        document.insert("keys".into(), Value::Array(keys));
        Value::Object(document)
    }
}

/// What a key is for: its JWK `use`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyUse {
    /// Signing (`sig`): federation statements, request objects, client assertions.
    Sig,
    /// Encryption (`enc`): the OP encrypts userinfo (RSA-OAEP) to it.
    Enc,
}

impl KeyUse {
    /// `sig` or `enc`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            KeyUse::Sig => "sig",
            KeyUse::Enc => "enc",
        }
    }
}

/// The algorithm of a key made here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (the SPID/CIE MUST).
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// RSA-OAEP key encryption (for a `use` = `enc` key).
    RsaOaep,
}

impl KeyAlg {
    /// The JOSE name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlg::Rs256 => "RS256",
            KeyAlg::Rs512 => "RS512",
            KeyAlg::Ps256 => "PS256",
            KeyAlg::Es256 => "ES256",
            KeyAlg::RsaOaep => "RSA-OAEP",
        }
    }

    fn is_rsa(self) -> bool {
        !matches!(self, KeyAlg::Es256)
    }
}

/// A key pair of Varco's (federation or OIDC core), private part included.
pub struct FederationKey {
    kid: String,
    alg: KeyAlg,
    key_use: KeyUse,
    private_jwk: Jwk,
    public_jwk: Value,
}

impl FederationKey {
    /// A new RSA key of [`DEFAULT_RSA_BITS`]: RS256 for `sig`, RSA-OAEP for `enc`.
    pub fn generate_rsa(key_use: KeyUse) -> Result<FederationKey, FederationError> {
        FederationKey::generate_rsa_bits(DEFAULT_RSA_BITS, key_use)
    }

    /// A new RSA key of `bits` bits (at least 2048): RS256 for `sig`,
    /// RSA-OAEP for `enc`.
    pub fn generate_rsa_bits(bits: u32, key_use: KeyUse) -> Result<FederationKey, FederationError> {
        let pair = RsaKeyPair::generate(bits.max(DEFAULT_RSA_BITS))
            .map_err(|error| FederationError::KeyGeneration(error.into()))?;
        let alg = match key_use {
            KeyUse::Sig => KeyAlg::Rs256,
            KeyUse::Enc => KeyAlg::RsaOaep,
        };
        FederationKey::from_rsa_key_pair(&pair, alg, key_use)
    }

    /// A new signing key for `alg` (RSA 2048 for the RSA algorithms, P-256
    /// for ES256).
    pub fn generate_signing(alg: KeyAlg) -> Result<FederationKey, FederationError> {
        match alg {
            KeyAlg::Es256 => {
                let pair =
                    EcKeyPair::generate(EcCurve::P256).map_err(|error| FederationError::KeyGeneration(error.into()))?;
                FederationKey::from_private_jwk(pair.to_jwk_key_pair(), alg, KeyUse::Sig)
            }
            KeyAlg::RsaOaep => FederationKey::generate_rsa(KeyUse::Enc),
            _ => {
                let pair = RsaKeyPair::generate(DEFAULT_RSA_BITS)
                    .map_err(|error| FederationError::KeyGeneration(error.into()))?;
                FederationKey::from_rsa_key_pair(&pair, alg, KeyUse::Sig)
            }
        }
    }

    /// The key from a josekit RSA key pair, for `alg` and `key_use`.
    pub fn from_rsa_key_pair(
        pair: &RsaKeyPair,
        alg: KeyAlg,
        key_use: KeyUse,
    ) -> Result<FederationKey, FederationError> {
        FederationKey::from_private_jwk(pair.to_jwk_key_pair(), alg, key_use)
    }

    /// The key stored by [`FederationKey::private_jwk_json`]: its `alg`
    /// and `use` are read from the JWK (RS256 and `sig` when absent).
    pub fn from_private_jwk_json(json: &str) -> Result<FederationKey, FederationError> {
        let invalid = |source: JoseError| FederationError::InvalidPrivateKey {
            alg: "JWK",
            source: source.into(),
        };
        let jwk = Jwk::from_bytes(json.as_bytes()).map_err(invalid)?;
        let alg = match jwk.algorithm() {
            None | Some("RS256") => KeyAlg::Rs256,
            Some("RS512") => KeyAlg::Rs512,
            Some("PS256") => KeyAlg::Ps256,
            Some("ES256") => KeyAlg::Es256,
            Some("RSA-OAEP") => KeyAlg::RsaOaep,
            Some(_) => {
                return Err(FederationError::UnusableKey {
                    reason: "unsupported alg",
                });
            }
        };
        let key_use = match jwk.key_use() {
            None | Some("sig") => KeyUse::Sig,
            Some("enc") => KeyUse::Enc,
            Some(_) => {
                return Err(FederationError::UnusableKey {
                    reason: "use is neither sig nor enc",
                });
            }
        };
        FederationKey::from_private_jwk(jwk, alg, key_use)
    }

    /// Builds the key from a private JWK: the public half is recomputed from
    /// the private key, `kid` set to its thumbprint, `use` and `alg` set.
    fn from_private_jwk(mut jwk: Jwk, alg: KeyAlg, key_use: KeyUse) -> Result<FederationKey, FederationError> {
        let invalid = |source: JoseError| FederationError::InvalidPrivateKey {
            alg: alg.as_str(),
            source: source.into(),
        };
        let public = if alg.is_rsa() {
            RsaKeyPair::from_jwk(&jwk).map(|pair| pair.to_jwk_public_key())
        } else {
            EcKeyPair::from_jwk(&jwk).map(|pair| pair.to_jwk_public_key())
        }
        .map_err(invalid)?;
        if (key_use == KeyUse::Sig) == (alg == KeyAlg::RsaOaep) {
            return Err(FederationError::UnusableKey {
                reason: "RSA-OAEP goes with use enc, signing algorithms with use sig",
            });
        }
        let members: &[&str] = if alg.is_rsa() { &["e", "n"] } else { &["crv", "x", "y"] };
        let public_map: &Map<String, Value> = public.as_ref();
        let kid = thumbprint(public_map).ok_or(FederationError::UnusableKey {
            reason: "no thumbprint for this key",
        })?;
        jwk.set_key_id(kid.clone());
        jwk.set_key_use(key_use.as_str());
        jwk.set_algorithm(alg.as_str());
        if key_use == KeyUse::Sig {
            // Fails early on a key josekit cannot sign with (too short, …).
            signer_for(alg, &jwk).map_err(invalid)?;
        }

        let mut public_jwk = Map::new();
        public_jwk.insert("kty".into(), Value::String(public.key_type().to_owned()));
        public_jwk.insert("kid".into(), Value::String(kid.clone()));
        public_jwk.insert("use".into(), Value::String(key_use.as_str().into()));
        public_jwk.insert("alg".into(), Value::String(alg.as_str().into()));
        for member in members {
            if let Some(value) = public.parameter(member) {
                public_jwk.insert((*member).into(), value.clone());
            }
        }
        Ok(FederationKey {
            kid,
            alg,
            key_use,
            private_jwk: jwk,
            public_jwk: Value::Object(public_jwk),
        })
    }

    /// The key id: the RFC 7638 thumbprint of the public key.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm.
    #[must_use]
    pub fn alg(&self) -> KeyAlg {
        self.alg
    }

    /// What the key is for.
    #[must_use]
    pub fn key_use(&self) -> KeyUse {
        self.key_use
    }

    /// The public JWK: `kty`, `kid`, `use`, `alg`, then `e` and `n` (RSA)
    /// or `crv`, `x`, `y` (EC).
    #[must_use]
    pub fn public_jwk(&self) -> Value {
        self.public_jwk.clone()
    }

    /// The private JWK as JSON, with `kid`, `use` and `alg`. **Secret**:
    /// store it sealed (for example under varco-oidc's `Kek`), never log it.
    #[must_use]
    pub fn private_jwk_json(&self) -> String {
        let map: &Map<String, Value> = self.private_jwk.as_ref();
        Value::Object(map.clone()).to_string()
    }

    /// The private JWK (for the JOSE library: JWE decryption, signing).
    #[must_use]
    pub fn private_jwk(&self) -> &Jwk {
        &self.private_jwk
    }

    /// The private JWK encrypted under `seal_key` (32 bytes, for example
    /// derived from a key-encryption key) as a compact JWE (`dir` +
    /// `A256GCM`), for storage.
    pub fn seal(&self, seal_key: &[u8; 32]) -> Result<String, FederationError> {
        let seal = |error: JoseError| FederationError::Seal(Arc::new(error));
        let mut header = JweHeader::new();
        header.set_content_encryption("A256GCM");
        header.set_content_type(SEALED_CONTENT_TYPE);
        let encrypter = Dir.encrypter_from_bytes(seal_key).map_err(seal)?;
        jwe::serialize_compact(self.private_jwk_json().as_bytes(), &header, &encrypter).map_err(seal)
    }

    /// The key [`FederationKey::seal`] sealed under `seal_key`, checked to
    /// be the key `kid` its stored record names.
    pub fn unseal(seal_key: &[u8; 32], kid: &str, sealed: &str) -> Result<FederationKey, FederationError> {
        let unseal = || FederationError::Unseal { kid: kid.to_owned() };
        let decrypter = Dir.decrypter_from_bytes(seal_key).map_err(|_| unseal())?;
        let (plaintext, header) = jwe::deserialize_compact(sealed, &decrypter).map_err(|_| unseal())?;
        if header.content_encryption() != Some("A256GCM") {
            return Err(unseal());
        }
        let json = std::str::from_utf8(&plaintext).map_err(|_| unseal())?;
        let key = FederationKey::from_private_jwk_json(json).map_err(|_| unseal())?;
        if key.kid != kid {
            return Err(unseal());
        }
        Ok(key)
    }

    /// `claims` signed as a compact JWS whose header holds `alg`, `kid` and
    /// `typ`. Only a `sig` key signs.
    pub fn sign(&self, claims: &Map<String, Value>, typ: &str) -> Result<String, FederationError> {
        if self.key_use != KeyUse::Sig {
            return Err(FederationError::UnusableKey {
                reason: "an encryption key does not sign",
            });
        }
        let signer = signer_for(self.alg, &self.private_jwk).map_err(|error| FederationError::Signing(error.into()))?;
        let mut header = JwsHeader::new();
        header.set_token_type(typ);
        header.set_key_id(self.kid.clone());
        let payload = serde_json::to_vec(claims)
            .map_err(|error| FederationError::Signing(JoseError::InvalidJson(error.into()).into()))?;
        jws::serialize_compact(&payload, &header, signer.as_ref())
            .map_err(|error| FederationError::Signing(error.into()))
    }
}

impl Clone for FederationKey {
    fn clone(&self) -> FederationKey {
        FederationKey {
            kid: self.kid.clone(),
            alg: self.alg,
            key_use: self.key_use,
            private_jwk: self.private_jwk.clone(),
            public_jwk: self.public_jwk.clone(),
        }
    }
}

impl fmt::Debug for FederationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FederationKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("use", &self.key_use)
            .finish_non_exhaustive()
    }
}

fn signer_for(alg: KeyAlg, jwk: &Jwk) -> Result<Box<dyn JwsSigner>, JoseError> {
    Ok(match alg {
        KeyAlg::Rs256 => Box::new(RS256.signer_from_jwk(jwk)?),
        KeyAlg::Rs512 => Box::new(RS512.signer_from_jwk(jwk)?),
        KeyAlg::Ps256 => Box::new(PS256.signer_from_jwk(jwk)?),
        KeyAlg::Es256 => Box::new(ES256.signer_from_jwk(jwk)?),
        KeyAlg::RsaOaep => {
            return Err(JoseError::UnsupportedSignatureAlgorithm(
                std::io::Error::other("RSA-OAEP does not sign").into(),
            ));
        }
    })
}

/// The RFC 7638 thumbprint of a public RSA or EC JWK: SHA-256 of its
/// required members in lexicographic order without whitespace, base64url.
/// `None` for another key type or a missing member.
#[must_use]
pub fn thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    let kty = jwk.get("kty")?.as_str()?;
    let members: &[&str] = match kty {
        "RSA" => &["e", "kty", "n"],
        "EC" => &["crv", "kty", "x", "y"],
        _ => return None,
    };
    let mut canonical = Map::new();
    for member in members {
        canonical.insert(
            (*member).to_owned(),
            Value::String(jwk.get(*member)?.as_str()?.to_owned()),
        );
    }
    // Members are inserted already sorted; serde_json (with josekit's
    // preserve_order) keeps that order and writes no whitespace.
    let text = Value::Object(canonical).to_string();
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes())))
}

/// A decoded compact JWS before its signature is checked.
#[derive(Debug, Clone)]
pub(crate) struct Decoded {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
}

impl Decoded {
    /// The header and payload of `token`, not verified. `what` names the
    /// kind of token in errors.
    pub fn decode(token: &str, what: &'static str) -> Result<Decoded, FederationError> {
        let malformed = || FederationError::MalformedJws { what };
        let mut parts = token.trim().split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        if signature.is_empty() {
            return Err(malformed());
        }
        let object = |part: &str| -> Result<Map<String, Value>, FederationError> {
            let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| malformed())?;
            match serde_json::from_slice(&bytes) {
                Ok(Value::Object(map)) => Ok(map),
                _ => Err(malformed()),
            }
        };
        Ok(Decoded {
            header: object(header)?,
            claims: object(payload)?,
        })
    }

    /// The claimed `iss`, for error messages (empty when absent).
    pub fn claimed_issuer(&self) -> String {
        self.claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect()
    }

    /// The header's `typ`, when a string.
    pub fn typ(&self) -> Option<&str> {
        self.header.get("typ").and_then(Value::as_str)
    }
}

/// Checks the signature of `token` (already decoded as `decoded`) with the
/// key of `jwks` named by its `kid`.
pub(crate) fn verify_signature(token: &str, decoded: &Decoded, jwks: &Jwks) -> Result<(), FederationError> {
    let issuer = decoded.claimed_issuer();
    let alg = decoded.header.get("alg").and_then(Value::as_str).unwrap_or_default();
    if !matches!(
        alg,
        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" | "ES256" | "ES384" | "ES512"
    ) {
        return Err(FederationError::UnsupportedAlg {
            alg: alg.chars().take(32).collect(),
            issuer,
        });
    }
    let Some(kid) = decoded.header.get("kid").and_then(Value::as_str) else {
        return Err(FederationError::MissingKid { issuer });
    };
    let mut tried = false;
    for key in jwks.keys() {
        if key.get("kid").and_then(Value::as_str) != Some(kid) {
            continue;
        }
        let Ok(jwk) = Jwk::from_map(key.clone()) else {
            continue;
        };
        let Some(verifier) = verifier_for(alg, &jwk) else {
            continue;
        };
        tried = true;
        match jws::deserialize_compact(token.trim(), verifier.as_ref()) {
            Ok(_) => return Ok(()),
            Err(JoseError::InvalidSignature(_)) => {}
            Err(_) => {
                return Err(FederationError::MalformedJws { what: "signed token" });
            }
        }
    }
    let kid = kid.chars().take(100).collect();
    Err(if tried {
        FederationError::BadSignature { issuer, kid }
    } else {
        FederationError::UnknownKid { issuer, kid }
    })
}

/// A verifier for `alg` from `jwk`, or `None` when the key does not fit it
/// (another key type or curve, another `alg`, `use` = `enc`, too short).
fn verifier_for(alg: &str, jwk: &Jwk) -> Option<Box<dyn JwsVerifier>> {
    macro_rules! build {
        ($algorithm:expr) => {{ Some(Box::new($algorithm.verifier_from_jwk(jwk).ok()?) as Box<dyn JwsVerifier>) }};
    }
    match alg {
        "RS256" => build!(RS256),
        "RS384" => build!(RS384),
        "RS512" => build!(RS512),
        "PS256" => build!(PS256),
        "PS384" => build!(PS384),
        "PS512" => build!(PS512),
        "ES256" => build!(ES256),
        "ES384" => build!(ES384),
        "ES512" => build!(ES512),
        _ => None,
    }
}

#[cfg(test)]
mod seal_tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_with_its_sealing_key_and_kid_only() {
        let key = FederationKey::generate_rsa(KeyUse::Enc).unwrap();
        let sealed = key.seal(&[7; 32]).unwrap();
        assert!(!sealed.contains(&key.private_jwk_json()));
        let opened = FederationKey::unseal(&[7; 32], key.kid(), &sealed).unwrap();
        assert_eq!(opened.public_jwk(), key.public_jwk());
        assert_eq!(opened.key_use(), KeyUse::Enc);
        assert!(matches!(
            FederationKey::unseal(&[8; 32], key.kid(), &sealed),
            Err(FederationError::Unseal { .. })
        ));
        assert!(matches!(
            FederationKey::unseal(&[7; 32], "another-kid", &sealed),
            Err(FederationError::Unseal { .. })
        ));
    }
}
