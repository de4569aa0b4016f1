//! The relying party's own keys: the RS256 signing key is the provider's
//! [`SigningKey`]; this file adds the RSA encryption key that SPID/CIE
//! providers encrypt userinfo to, and the public JWK Set that lists both.
//!
//! Invariants:
//! - An encryption key is RSA 2048, its `kid` is the RFC 7638 thumbprint and
//!   its JWK says `use` = `enc` (the reference provider picks the key to
//!   encrypt to by `use`, and fails without it). It carries no `alg`, so one
//!   key serves RSA-OAEP and RSA-OAEP-256.
//! - Every key in the published set has `use`; no private member is ever
//!   published.
//! - At rest the private JWK is sealed like a signing key (a compact JWE,
//!   `dir` with `A256GCM`, under a key derived from the [`Kek`] with its own
//!   label), and unsealing checks that the key inside is the `kid` its record
//!   names.

use std::fmt;

use josekit::jwe::alg::rsaes::RsaesJweDecrypter;
use josekit::jwe::{self, Dir, JweHeader, RSA_OAEP, RSA_OAEP_256};
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jwk::{Jwk, KeyPair as _};
use josekit::{JoseError, Map, Value};
use serde_json::json;

use crate::signing::thumbprint;
use crate::{Kek, OidcError, SigningKey};

/// Bits in an RSA encryption key.
const RSA_BITS: u32 = 2048;

/// The label of the key derived from the KEK that seals encryption keys.
const SEAL_LABEL: &str = "varco-oidc/encryption-key-seal/v1";

/// The content type of a sealed key's JWE.
const SEALED_CONTENT_TYPE: &str = "jwk+json";

/// What [`OidcError::SealedKeyMismatch`] names as the algorithm of an
/// encryption key.
const ENC_KEY_LABEL: &str = "RSA-OAEP";

/// One of the relying party's RSA encryption keys, private part included.
#[derive(Clone)]
pub struct EncryptionKey {
    kid: String,
    private_jwk: Jwk,
    public_jwk: Value,
}

impl EncryptionKey {
    /// A new random RSA 2048 key.
    pub fn generate() -> Result<EncryptionKey, OidcError> {
        let pair = RsaKeyPair::generate(RSA_BITS).map_err(OidcError::KeyGeneration)?;
        EncryptionKey::from_private_jwk(pair.to_jwk_key_pair())
    }

    /// The key id (RFC 7638 thumbprint), in the `kid` header of what
    /// providers encrypt to it.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half as a JWK: `kty`, `kid`, `use` = `enc`, `n`, `e`.
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

    /// The key that [`EncryptionKey::seal`] sealed under `kek`, checked to be
    /// the key `kid` its stored record names.
    pub fn unseal(kek: &Kek, kid: &str, sealed: &str) -> Result<EncryptionKey, OidcError> {
        let decrypter = Dir
            .decrypter_from_bytes(kek.derive(SEAL_LABEL))
            .map_err(|_| OidcError::Unseal)?;
        let (plaintext, header) = jwe::deserialize_compact(sealed, &decrypter).map_err(|_| OidcError::Unseal)?;
        if header.content_encryption() != Some("A256GCM") {
            return Err(OidcError::Unseal);
        }
        let jwk = Jwk::from_bytes(&plaintext).map_err(|_| OidcError::Unseal)?;
        let key = EncryptionKey::from_private_jwk(jwk)?;
        if key.kid != kid {
            return Err(OidcError::SealedKeyMismatch {
                kid: kid.to_owned(),
                alg: ENC_KEY_LABEL,
            });
        }
        Ok(key)
    }

    /// A decrypter for the JWE key-management `alg` (RSA-OAEP or
    /// RSA-OAEP-256); `None` for any other. It does not insist on a `kid`
    /// header: the caller has chosen the key already.
    pub(crate) fn decrypter(&self, alg: &str) -> Option<RsaesJweDecrypter> {
        let mut decrypter = match alg {
            "RSA-OAEP" => RSA_OAEP.decrypter_from_jwk(&self.private_jwk).ok()?,
            "RSA-OAEP-256" => RSA_OAEP_256.decrypter_from_jwk(&self.private_jwk).ok()?,
            _ => return None,
        };
        decrypter.remove_key_id();
        Some(decrypter)
    }

    /// Builds the key from a private RSA JWK: the public half is recomputed
    /// from the private key, `kid` is its thumbprint, `use` is `enc`.
    fn from_private_jwk(jwk: Jwk) -> Result<EncryptionKey, OidcError> {
        let invalid = |source| OidcError::InvalidPrivateKey {
            alg: ENC_KEY_LABEL,
            source,
        };
        let pair = RsaKeyPair::from_jwk(&jwk).map_err(invalid)?;
        let public = pair.to_jwk_public_key();
        let kid = thumbprint(&public, &["n", "e"]);
        let mut private_jwk = pair.to_jwk_private_key();
        private_jwk.set_key_id(kid.clone());
        private_jwk.set_key_use("enc");
        let public_jwk = json!({
            "kty": "RSA",
            "kid": kid,
            "use": "enc",
            "n": public.parameter("n").cloned().unwrap_or(Value::Null),
            "e": public.parameter("e").cloned().unwrap_or(Value::Null),
        });
        Ok(EncryptionKey {
            kid,
            private_jwk,
            public_jwk,
        })
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptionKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The relying party's public JWK Set, `{"keys": [...]}`: its signing keys
/// (`use` = `sig`) then its encryption keys (`use` = `enc`). This is the
/// `jwks` of `metadata.openid_relying_party` (CIE wants it inline).
#[must_use]
pub fn rp_jwks(signing: &[SigningKey], encryption: &[EncryptionKey]) -> Value {
    let keys: Vec<Value> = signing
        .iter()
        .map(SigningKey::public_jwk)
        .chain(encryption.iter().map(EncryptionKey::public_jwk))
        .collect();
    json!({ "keys": keys })
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;
    use crate::Alg;

    #[test]
    fn an_encryption_key_is_rsa_2048_with_use_enc_and_a_thumbprint_kid() {
        let key = EncryptionKey::generate().unwrap();
        let jwk = key.public_jwk();
        let names: Vec<&str> = jwk.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(names, ["kty", "kid", "use", "n", "e"]);
        assert_eq!(jwk["use"], "enc");
        assert_eq!(jwk["kid"], key.kid());
        assert_eq!(URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap().len(), 256);
        let public = Jwk::from_map(jwk.as_object().unwrap().clone()).unwrap();
        assert_eq!(thumbprint(&public, &["n", "e"]), key.kid());
        assert!(!format!("{key:?}").contains("\"d\""));
        assert_ne!(EncryptionKey::generate().unwrap().kid(), key.kid());
        // Both OAEP variants decrypt with it; nothing else does.
        assert!(key.decrypter("RSA-OAEP").is_some());
        assert!(key.decrypter("RSA-OAEP-256").is_some());
        assert!(key.decrypter("RSA1_5").is_none());
    }

    #[test]
    fn the_public_set_lists_signing_then_encryption_keys_each_with_use_and_no_private_part() {
        let signing = SigningKey::generate(Alg::Rs256).unwrap();
        let encryption = EncryptionKey::generate().unwrap();
        let set = rp_jwks(std::slice::from_ref(&signing), std::slice::from_ref(&encryption));
        let keys = set["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0]["use"], "sig");
        assert_eq!(keys[0]["kid"], signing.kid());
        assert_eq!(keys[1]["use"], "enc");
        assert_eq!(keys[1]["kid"], encryption.kid());
        for key in keys {
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(key.get(private).is_none(), "{private}");
            }
        }
    }

    #[test]
    fn seal_and_unseal_round_trip_and_check_the_kid() {
        let kek = Kek::generate();
        let key = EncryptionKey::generate().unwrap();
        let sealed = key.seal(&kek).unwrap();
        let opened = EncryptionKey::unseal(&kek, key.kid(), &sealed).unwrap();
        assert_eq!(opened.public_jwk(), key.public_jwk());
        assert!(matches!(
            EncryptionKey::unseal(&Kek::generate(), key.kid(), &sealed),
            Err(OidcError::Unseal)
        ));
        assert!(matches!(
            EncryptionKey::unseal(&kek, "another-kid", &sealed),
            Err(OidcError::SealedKeyMismatch { .. })
        ));
    }
}
