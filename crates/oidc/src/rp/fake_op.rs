//! A fake upstream provider for the relying party's tests: its own RSA and
//! P-256 signing keys, the tokens and encrypted userinfo a SPID/CIE provider
//! would send, and a relying party registered at it. No network.

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwe::{self, JweHeader, RSA_OAEP, RSA_OAEP_256};
use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jwk::{Jwk, KeyPair as _};
use josekit::jws::{self, ES256, JwsHeader, PS256, RS256, RS512};
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256, Sha512};

use super::{EncryptionKey, PendingAuth, Provider, Registration};
use crate::{Alg, SigningKey};

/// The tests' clock.
pub(crate) const NOW: i64 = 1_800_000_000;

/// A valid tax code (the domain crate's own example).
pub(crate) const TAX_CODE: &str = "RSSMRA85T10A562S";

/// The decoded JSON of part `index` of a compact token.
pub(crate) fn decode_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The provider's keys, generated once per test binary (RSA generation is slow).
struct OpKeys {
    rsa: Jwk,
    ec: Jwk,
}

fn op_keys() -> &'static OpKeys {
    static KEYS: OnceLock<OpKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rsa = RsaKeyPair::generate(2048).unwrap().to_jwk_key_pair();
        rsa.set_key_id("op-rsa");
        rsa.set_key_use("sig");
        let mut ec = EcKeyPair::generate(EcCurve::P256).unwrap().to_jwk_key_pair();
        ec.set_key_id("op-ec");
        ec.set_key_use("sig");
        OpKeys { rsa, ec }
    })
}

/// The relying party's keys, generated once per test binary.
fn rp_keys() -> &'static (SigningKey, EncryptionKey) {
    static KEYS: OnceLock<(SigningKey, EncryptionKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        (
            SigningKey::generate(Alg::Rs256).unwrap(),
            EncryptionKey::generate().unwrap(),
        )
    })
}

/// A relying party registered at the fake provider.
pub(crate) struct FakeRp {
    pub(crate) registration: Registration,
    pub(crate) signing: SigningKey,
    pub(crate) encryption: EncryptionKey,
}

/// The fake provider.
pub(crate) struct FakeOp {
    pub(crate) issuer: String,
}

impl FakeOp {
    pub(crate) fn new() -> FakeOp {
        FakeOp {
            issuer: "https://op.test/oidc/op".into(),
        }
    }

    pub(crate) fn authorization_endpoint(&self) -> String {
        format!("{}/authorization", self.issuer)
    }

    pub(crate) fn token_endpoint(&self) -> String {
        format!("{}/token", self.issuer)
    }

    /// The provider as the relying party sees it (public keys only).
    pub(crate) fn provider(&self) -> Provider {
        let public = |jwk: &Jwk| {
            let mut public = jwk.to_public_key().unwrap();
            public.set_key_id(jwk.key_id().unwrap());
            public.set_key_use("sig");
            Value::Object(AsRef::<Map<String, Value>>::as_ref(&public).clone())
        };
        let keys = op_keys();
        Provider {
            issuer: self.issuer.clone(),
            authorization_endpoint: self.authorization_endpoint(),
            token_endpoint: self.token_endpoint(),
            userinfo_endpoint: Some(format!("{}/userinfo", self.issuer)),
            revocation_endpoint: Some(format!("{}/revocation", self.issuer)),
            jwks: vec![public(&keys.rsa), public(&keys.ec)],
            iss_in_callback: true,
        }
    }

    /// A relying party in federation mode.
    pub(crate) fn federation_rp(&self) -> FakeRp {
        let (signing, encryption) = rp_keys().clone();
        FakeRp {
            registration: Registration::federation("https://rp.test", "https://rp.test/oidc/rp/callback"),
            signing,
            encryption,
        }
    }

    /// The claims of a good ID token for `pending`, at level L2, with the
    /// `at_hash` of `access_token` under `alg`.
    pub(crate) fn id_token_claims(
        &self,
        rp: &FakeRp,
        pending: &PendingAuth,
        access_token: &str,
        alg: &str,
    ) -> Map<String, Value> {
        let Value::Object(claims) = json!({
            "iss": self.issuer,
            "sub": "pairwise-subject-1",
            "aud": rp.registration.client_id,
            "iat": NOW - 5,
            "exp": NOW + 300,
            "nonce": pending.nonce,
            "at_hash": at_hash(access_token, alg),
            "acr": "https://www.spid.gov.it/SpidL2",
            "auth_time": NOW - 20,
            "jti": "id-token-1",
        }) else {
            unreachable!()
        };
        claims
    }

    /// `claims` signed with the provider's key for `alg` (RS256, RS512,
    /// PS256 or ES256).
    pub(crate) fn sign(&self, alg: &str, claims: &Map<String, Value>) -> String {
        let keys = op_keys();
        let payload = serde_json::to_vec(claims).unwrap();
        let header = JwsHeader::new();
        match alg {
            "RS256" => jws::serialize_compact(&payload, &header, &RS256.signer_from_jwk(&keys.rsa).unwrap()),
            "RS512" => jws::serialize_compact(&payload, &header, &RS512.signer_from_jwk(&keys.rsa).unwrap()),
            "PS256" => jws::serialize_compact(&payload, &header, &PS256.signer_from_jwk(&keys.rsa).unwrap()),
            "ES256" => jws::serialize_compact(&payload, &header, &ES256.signer_from_jwk(&keys.ec).unwrap()),
            other => panic!("no key for {other}"),
        }
        .unwrap()
    }

    /// `payload` (a JWS) encrypted to the public JWK `to` with `alg` and `enc`,
    /// `cty` JWT, and `kid` when `with_kid`.
    pub(crate) fn encrypt(&self, payload: &str, to: &Value, alg: &str, enc: &str, with_kid: bool) -> String {
        let jwk = Jwk::from_map(to.as_object().unwrap().clone()).unwrap();
        let mut header = JweHeader::new();
        header.set_content_encryption(enc);
        header.set_content_type("JWT");
        let mut encrypter = match alg {
            "RSA-OAEP" => RSA_OAEP.encrypter_from_jwk(&jwk).unwrap(),
            "RSA-OAEP-256" => RSA_OAEP_256.encrypter_from_jwk(&jwk).unwrap(),
            other => panic!("no encrypter for {other}"),
        };
        if !with_kid {
            encrypter.remove_key_id();
        }
        jwe::serialize_compact(payload.as_bytes(), &header, &encrypter).unwrap()
    }
}

/// The `at_hash` of `access_token` for an ID token signed with `alg`.
pub(crate) fn at_hash(access_token: &str, alg: &str) -> String {
    let digest = if alg.ends_with("512") {
        Sha512::digest(access_token.as_bytes()).to_vec()
    } else {
        Sha256::digest(access_token.as_bytes()).to_vec()
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}
