//! Varco as a relying party: logging a person in at an upstream OpenID
//! provider — SPID/CIE through OpenID Connect Federation (`federation` mode)
//! or a plain OpenID Connect provider such as an aggregator (`static` mode) —
//! and reading their tax code from what it returns.
//!
//! The module is sans-IO: it builds the URLs and form bodies the caller sends
//! and checks the answers the caller received; it holds no state, speaks to
//! no network and touches no database. One login runs:
//!
//! 1. [`AuthRequest::new`] → redirect the browser to `url`, keep `pending`
//!    (state, nonce, PKCE verifier) bound to the browser session;
//! 2. [`check_callback`] on the redirect back → the authorization code;
//! 3. [`token_request`] → POST it; [`TokenResponse::parse`] the answer;
//! 4. [`validate_id_token`] → the subject and `acr`;
//! 5. [`userinfo_claims`] on the userinfo answer → the claims;
//! 6. [`fiscal_number`] → the [`TaxCode`](varco_domain::TaxCode) to link;
//! 7. at logout, [`revocation_request`] for the provider's access token.
//!
//! Invariants:
//! - Every check that decides whether an answer is accepted lives here and is
//!   typed ([`RpError`]); no error message holds a token, a code, a secret or
//!   a personal attribute.
//! - `state`, `nonce` and the PKCE verifier come from the operating system's
//!   CSPRNG and are alphanumeric, at least 43 characters (SPID/CIE ask ≥ 32).
//! - In `federation` mode the provider's answers are held to the SPID/CIE
//!   profile: signed request object, `private_key_jwt`, `at_hash` required,
//!   `acr` at least the configured SPID level, userinfo signed then encrypted.

mod authorize;
mod error;
mod fiscal;
mod id_token;
mod keys;
mod token;
mod userinfo;

#[cfg(test)]
mod fake_op;

use serde_json::{Map, Value, json};

pub use authorize::{AuthRequest, Callback, PendingAuth, check_callback};
pub use error::RpError;
pub use fiscal::{FISCAL_NUMBER_PLAIN_CLAIM, TAX_CODE_PREFIX, fiscal_number};
pub use id_token::{IdToken, validate_id_token};
pub use keys::{EncryptionKey, rp_jwks};
pub use token::{
    CLIENT_ASSERTION_TYPE, ClientAuth, FormPost, TokenResponse, client_assertion, revocation_request, token_request,
};
pub use userinfo::userinfo_claims;

use crate::FISCAL_NUMBER_CLAIM;

/// Seconds of clock difference tolerated on `exp`, `iat` and `nbf` of what
/// the provider signs, unless the registration says otherwise.
pub const DEFAULT_CLOCK_SKEW_SECS: i64 = 60;

/// How Varco trusts and talks to one upstream provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrustMode {
    /// SPID/CIE OpenID Connect Federation: the provider's metadata and keys
    /// come from a resolved trust chain; signed request object,
    /// `private_key_jwt`, `at_hash` required, encrypted userinfo.
    Federation,
    /// A plain OpenID Connect provider known by configuration and discovery
    /// (for example an aggregator in front of SPID): plain authorization
    /// request, client secret or `private_key_jwt`, userinfo in any form.
    Static,
}

/// A SPID authentication level; CIE uses the same three URIs. Ordered:
/// `L1 < L2 < L3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpidLevel {
    /// `https://www.spid.gov.it/SpidL1`: a password.
    L1,
    /// `https://www.spid.gov.it/SpidL2`: a password and a second factor.
    L2,
    /// `https://www.spid.gov.it/SpidL3`: a hardware credential (the CIE card).
    L3,
}

impl SpidLevel {
    /// The `acr` URI of the level.
    #[must_use]
    pub fn uri(self) -> &'static str {
        match self {
            SpidLevel::L1 => "https://www.spid.gov.it/SpidL1",
            SpidLevel::L2 => "https://www.spid.gov.it/SpidL2",
            SpidLevel::L3 => "https://www.spid.gov.it/SpidL3",
        }
    }

    /// The level whose URI is exactly `acr`; `None` for anything else.
    #[must_use]
    pub fn from_uri(acr: &str) -> Option<SpidLevel> {
        [SpidLevel::L1, SpidLevel::L2, SpidLevel::L3]
            .into_iter()
            .find(|level| level.uri() == acr)
    }
}

/// Which `acr` Varco asks for and which it accepts back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AcrPolicy {
    /// Ask for this SPID level (the single `acr_values` value) and accept an
    /// ID token whose `acr` is that level or a higher one; an `acr` that is
    /// missing or not a SPID level is refused.
    Spid(SpidLevel),
    /// Ask for `request` verbatim (for example an aggregator's own level name)
    /// and accept only an `acr` equal to one of `accepted`.
    OneOf {
        /// The single `acr_values` value sent.
        request: String,
        /// The `acr` values accepted in the ID token.
        accepted: Vec<String>,
    },
    /// Ask for nothing and check nothing (`static` mode only).
    NotChecked,
}

/// What the relying party knows about one upstream provider: from the
/// resolved federation metadata (`openid_provider`) or from discovery.
#[derive(Clone, Debug, PartialEq)]
pub struct Provider {
    /// The issuer identifier, compared exactly with `iss` everywhere.
    pub issuer: String,
    /// The authorization endpoint URL.
    pub authorization_endpoint: String,
    /// The token endpoint URL, exactly as the provider sees itself (it is the
    /// client assertion's `aud`).
    pub token_endpoint: String,
    /// The userinfo endpoint URL, when the provider has one.
    pub userinfo_endpoint: Option<String>,
    /// The revocation endpoint URL, when the provider has one.
    pub revocation_endpoint: Option<String>,
    /// The provider's public signing keys (JWK objects): inline `jwks` of the
    /// resolved federation metadata, or the document behind `jwks_uri`.
    pub jwks: Vec<Value>,
    /// Whether every authorization response carries `iss` (RFC 9207), so a
    /// callback without it is refused; always true for CIE.
    pub iss_in_callback: bool,
}

impl Provider {
    /// Reads provider metadata (a discovery document or the resolved
    /// `metadata.openid_provider` of a federation entity). Keys come from the
    /// inline `jwks` member, else from `fetched_jwks` (the JWK Set the caller
    /// fetched from `jwks_uri`). `iss_in_callback` follows
    /// `authorization_response_iss_parameter_supported`.
    pub fn from_metadata(metadata: &Value, fetched_jwks: Option<&Value>) -> Result<Provider, RpError> {
        let text = |member: &'static str| -> Result<String, RpError> {
            match metadata.get(member) {
                Some(Value::String(value)) if !value.is_empty() => Ok(value.clone()),
                _ => Err(RpError::ProviderMetadata { member }),
            }
        };
        let optional = |member: &'static str| metadata.get(member).and_then(Value::as_str).map(str::to_owned);
        let key_set = metadata.get("jwks").or(fetched_jwks);
        let jwks = match key_set.and_then(|set| set.get("keys")) {
            Some(Value::Array(keys)) if !keys.is_empty() && keys.iter().all(Value::is_object) => keys.clone(),
            _ => return Err(RpError::ProviderMetadata { member: "jwks" }),
        };
        Ok(Provider {
            issuer: text("issuer")?,
            authorization_endpoint: text("authorization_endpoint")?,
            token_endpoint: text("token_endpoint")?,
            userinfo_endpoint: optional("userinfo_endpoint"),
            revocation_endpoint: optional("revocation_endpoint"),
            jwks,
            iss_in_callback: metadata
                .get("authorization_response_iss_parameter_supported")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }
}

/// What Varco is at one upstream provider: its client registration there and
/// what it asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct Registration {
    /// Federation or static.
    pub mode: TrustMode,
    /// The client id: in federation mode Varco's entity id (an HTTPS URL).
    pub client_id: String,
    /// The redirect URI registered at the provider.
    pub redirect_uri: String,
    /// The `scope` sent (SPID allows only `openid`, optionally `offline_access`).
    pub scope: String,
    /// The `acr` asked for and accepted.
    pub acr: AcrPolicy,
    /// The `prompt` sent, if any (SPID/CIE: `consent login` or `consent`).
    pub prompt: Option<String>,
    /// The `claims` request parameter, if any. SPID/CIE release attributes
    /// only when named here.
    pub claims: Option<Value>,
    /// The `ui_locales` sent, if any (for example `it en`).
    pub ui_locales: Option<String>,
    /// Seconds of clock difference tolerated on the provider's `exp`, `iat`
    /// and `nbf`.
    pub clock_skew_secs: i64,
}

impl Registration {
    /// The SPID/CIE federation profile: scope `openid`, SPID level 2 at
    /// least, `prompt=consent login`, the [`spid_claims_request`].
    #[must_use]
    pub fn federation(client_id: impl Into<String>, redirect_uri: impl Into<String>) -> Registration {
        Registration {
            mode: TrustMode::Federation,
            client_id: client_id.into(),
            redirect_uri: redirect_uri.into(),
            scope: "openid".into(),
            acr: AcrPolicy::Spid(SpidLevel::L2),
            prompt: Some("consent login".into()),
            claims: Some(spid_claims_request()),
            ui_locales: None,
            clock_skew_secs: DEFAULT_CLOCK_SKEW_SECS,
        }
    }

    /// A plain OpenID Connect provider: scope `openid`, no `acr`, `prompt`
    /// or `claims` (set them when the provider wants them).
    #[must_use]
    pub fn static_provider(client_id: impl Into<String>, redirect_uri: impl Into<String>) -> Registration {
        Registration {
            mode: TrustMode::Static,
            client_id: client_id.into(),
            redirect_uri: redirect_uri.into(),
            scope: "openid".into(),
            acr: AcrPolicy::NotChecked,
            prompt: None,
            claims: None,
            ui_locales: None,
            clock_skew_secs: DEFAULT_CLOCK_SKEW_SECS,
        }
    }

    /// The single `acr_values` value the policy asks for, if any.
    #[must_use]
    pub fn acr_values(&self) -> Option<&str> {
        match &self.acr {
            AcrPolicy::Spid(level) => Some(level.uri()),
            AcrPolicy::OneOf { request, .. } => Some(request.as_str()),
            AcrPolicy::NotChecked => None,
        }
    }
}

/// The `claims` request for SPID/CIE: the tax code (essential), given name,
/// family name and email from userinfo; given and family name in the ID token
/// too (CIE puts them there; SPID puts no attribute in the ID token).
#[must_use]
pub fn spid_claims_request() -> Value {
    json!({
        "userinfo": {
            FISCAL_NUMBER_CLAIM: {"essential": true},
            "given_name": null,
            "family_name": null,
            "email": null,
        },
        "id_token": {
            "given_name": {"essential": true},
            "family_name": {"essential": true},
        },
    })
}

/// A string claim of `claims`, if it is a string.
fn string_claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

/// Whether `aud` (a string or an array of strings) names `client_id`.
fn audience_names(aud: Option<&Value>, client_id: &str) -> bool {
    match aud {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(client_id)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_federation_login_ends_with_the_tax_code() {
        use fake_op::{FakeOp, NOW, TAX_CODE};

        let op = FakeOp::new();
        let rp = op.federation_rp();
        let provider = op.provider();
        let login = AuthRequest::new(&provider, &rp.registration, Some(&rp.signing), NOW).unwrap();
        let callback = Callback {
            code: Some("code-1".into()),
            state: Some(login.pending.state.clone()),
            iss: Some(op.issuer.clone()),
            ..Callback::default()
        };
        let code = check_callback(&login.pending, &callback).unwrap();
        let post = token_request(
            &provider,
            &rp.registration,
            ClientAuth::PrivateKeyJwt(&rp.signing),
            &login.pending,
            &code,
            NOW,
        )
        .unwrap();
        assert_eq!(post.field("code"), Some("code-1"));

        let access_token = "access-token-1";
        let id_token = op.sign("RS256", &op.id_token_claims(&rp, &login.pending, access_token, "RS256"));
        let body = json!({"access_token": access_token, "token_type": "Bearer", "id_token": id_token});
        let tokens = TokenResponse::parse(body.to_string().as_bytes()).unwrap();
        let identity = validate_id_token(
            &provider,
            &rp.registration,
            &login.pending,
            &tokens.id_token,
            &tokens.access_token,
            NOW + 2,
        )
        .unwrap();

        let userinfo = json!({
            "iss": op.issuer,
            "aud": rp.registration.client_id,
            "sub": identity.sub,
            FISCAL_NUMBER_CLAIM: format!("TINIT-{TAX_CODE}"),
        });
        let signed = op.sign("RS256", userinfo.as_object().unwrap());
        let encrypted = op.encrypt(&signed, &rp.encryption.public_jwk(), "RSA-OAEP", "A256CBC-HS512", true);
        let claims = userinfo_claims(
            &provider,
            &rp.registration,
            std::slice::from_ref(&rp.encryption),
            &identity.sub,
            "application/jwt",
            encrypted.as_bytes(),
        )
        .unwrap();
        assert_eq!(fiscal_number(&claims).unwrap().as_str(), TAX_CODE);

        let revoke = revocation_request(
            &provider,
            &rp.registration,
            ClientAuth::PrivateKeyJwt(&rp.signing),
            &tokens.access_token,
            NOW + 10,
        )
        .unwrap();
        assert_eq!(revoke.field("token"), Some(access_token));
    }

    #[test]
    fn spid_levels_are_ordered_and_parsed_exactly() {
        assert!(SpidLevel::L1 < SpidLevel::L2 && SpidLevel::L2 < SpidLevel::L3);
        for level in [SpidLevel::L1, SpidLevel::L2, SpidLevel::L3] {
            assert_eq!(SpidLevel::from_uri(level.uri()), Some(level));
        }
        for other in [
            "https://www.spid.gov.it/SpidL4",
            "https://www.spid.gov.it/spidl2",
            "https://www.spid.gov.it/SpidL2 ",
            "SpidL2",
            "",
        ] {
            assert_eq!(SpidLevel::from_uri(other), None, "{other:?}");
        }
    }

    #[test]
    fn provider_metadata_is_read_with_inline_or_fetched_keys() {
        let keys = json!({"keys": [{"kty": "RSA", "kid": "k1", "n": "AQAB", "e": "AQAB"}]});
        let mut metadata = json!({
            "issuer": "https://op.test",
            "authorization_endpoint": "https://op.test/authorize",
            "token_endpoint": "https://op.test/token",
            "userinfo_endpoint": "https://op.test/userinfo",
            "revocation_endpoint": "https://op.test/revoke",
            "authorization_response_iss_parameter_supported": true,
            "jwks": keys,
        });
        let provider = Provider::from_metadata(&metadata, None).unwrap();
        assert_eq!(provider.issuer, "https://op.test");
        assert_eq!(provider.token_endpoint, "https://op.test/token");
        assert_eq!(provider.revocation_endpoint.as_deref(), Some("https://op.test/revoke"));
        assert_eq!(provider.jwks.len(), 1);
        assert!(provider.iss_in_callback);

        metadata.as_object_mut().unwrap().remove("jwks");
        assert!(matches!(
            Provider::from_metadata(&metadata, None),
            Err(RpError::ProviderMetadata { member: "jwks" })
        ));
        assert_eq!(Provider::from_metadata(&metadata, Some(&keys)).unwrap().jwks.len(), 1);
        assert!(matches!(
            Provider::from_metadata(&metadata, Some(&json!({"keys": []}))),
            Err(RpError::ProviderMetadata { member: "jwks" })
        ));
        metadata.as_object_mut().unwrap().remove("token_endpoint");
        assert!(matches!(
            Provider::from_metadata(&metadata, Some(&keys)),
            Err(RpError::ProviderMetadata {
                member: "token_endpoint"
            })
        ));
    }

    #[test]
    fn the_federation_profile_asks_for_the_tax_code_at_level_2() {
        let registration = Registration::federation("https://rp.test", "https://rp.test/cb");
        assert_eq!(registration.acr_values(), Some("https://www.spid.gov.it/SpidL2"));
        let claims = registration.claims.unwrap();
        assert_eq!(claims["userinfo"][FISCAL_NUMBER_CLAIM]["essential"], true);
        for name in ["given_name", "family_name", "email"] {
            assert!(claims["userinfo"].get(name).is_some(), "{name}");
        }
        assert_eq!(
            Registration::static_provider("c", "https://rp.test/cb").acr_values(),
            None
        );
    }
}
