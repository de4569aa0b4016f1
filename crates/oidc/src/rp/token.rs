//! The back-channel requests to the provider — the token request and the
//! revocation request — with client authentication, and the token response.
//!
//! Invariants:
//! - A client assertion (RFC 7523, `private_key_jwt`) has `iss` = `sub` =
//!   client id, `aud` = exactly the URL it is posted to (the SPID/CIE
//!   reference provider compares its own request URL with `aud`), a
//!   60-second life and a random UUIDv4 `jti`; a fresh one per request.
//! - Federation mode authenticates with `private_key_jwt` only; client
//!   secrets are for static providers.
//! - Nothing that is or carries a credential (assertion, secret, code,
//!   verifier, token) appears in a `Debug` output or an error.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::utf8_percent_encode;
use rand::RngCore as _;
use rand::rngs::OsRng;
use serde_json::{Map, Value};

use super::authorize::{QUERY_VALUE, provider_error};
use super::{PendingAuth, Provider, Registration, RpError, TrustMode};
use crate::SigningKey;

/// The `client_assertion_type` of `private_key_jwt` (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Seconds a client assertion is valid for.
const ASSERTION_LIFETIME_SECS: i64 = 60;

/// How the relying party authenticates to the provider's token and
/// revocation endpoints.
#[derive(Clone, Copy)]
pub enum ClientAuth<'a> {
    /// `private_key_jwt` with this signing key (federation: the RP's RS256
    /// core key).
    PrivateKeyJwt(&'a SigningKey),
    /// `client_secret_basic` with this secret (static mode only).
    ClientSecretBasic(&'a str),
    /// `client_secret_post` with this secret (static mode only).
    ClientSecretPost(&'a str),
}

impl ClientAuth<'_> {
    /// The method's registered name.
    #[must_use]
    pub fn method(&self) -> &'static str {
        match self {
            ClientAuth::PrivateKeyJwt(_) => "private_key_jwt",
            ClientAuth::ClientSecretBasic(_) => "client_secret_basic",
            ClientAuth::ClientSecretPost(_) => "client_secret_post",
        }
    }
}

impl fmt::Debug for ClientAuth<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.method())
    }
}

/// A form POST to send: the URL, the `application/x-www-form-urlencoded`
/// fields in order, and the `Authorization` header value when the client
/// authenticates with HTTP Basic.
#[derive(Clone, PartialEq, Eq)]
pub struct FormPost {
    /// Where to POST.
    pub url: String,
    /// The form fields, in order.
    pub form: Vec<(&'static str, String)>,
    /// The `Authorization` header value (`Basic …`), if any.
    pub authorization: Option<String>,
}

impl FormPost {
    /// The value of form field `name`, if present.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(field, _)| *field == name)
            .map(|(_, value)| value.as_str())
    }

    /// The form fields as an `application/x-www-form-urlencoded` body.
    #[must_use]
    pub fn body(&self) -> String {
        self.form
            .iter()
            .map(|(name, value)| format!("{name}={}", utf8_percent_encode(value, QUERY_VALUE)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

impl fmt::Debug for FormPost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: Vec<&str> = self.form.iter().map(|(name, _)| *name).collect();
        f.debug_struct("FormPost")
            .field("url", &self.url)
            .field("fields", &fields)
            .field("basic_auth", &self.authorization.is_some())
            .finish()
    }
}

/// A `private_key_jwt` client assertion signed with `key` at unix time `now`:
/// `iss` = `sub` = `client_id`, `aud` = `audience` (the endpoint URL it is
/// posted to, exactly), `iat` = `now`, `exp` = `now` + 60, a random UUIDv4
/// `jti`.
pub fn client_assertion(key: &SigningKey, client_id: &str, audience: &str, now: i64) -> Result<String, RpError> {
    let mut claims = Map::new();
    claims.insert("iss".into(), client_id.into());
    claims.insert("sub".into(), client_id.into());
    claims.insert("aud".into(), audience.into());
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), (now + ASSERTION_LIFETIME_SECS).into());
    claims.insert("jti".into(), random_uuid().into());
    key.sign(&claims, None).map_err(RpError::Signing)
}

/// The token request redeeming `code` for the login `pending` at unix time
/// `now`: `grant_type` = `authorization_code`, `code`, `redirect_uri`,
/// `code_verifier`, then the client authentication (`client_id`,
/// `client_assertion_type`, `client_assertion` with `aud` = the token
/// endpoint; or `client_id` and `client_secret`; or a Basic header).
pub fn token_request(
    provider: &Provider,
    registration: &Registration,
    auth: ClientAuth<'_>,
    pending: &PendingAuth,
    code: &str,
    now: i64,
) -> Result<FormPost, RpError> {
    let mut form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.to_owned()),
        ("redirect_uri", pending.redirect_uri.clone()),
        ("code_verifier", pending.code_verifier.clone()),
    ];
    let authorization = authenticate(registration, auth, &provider.token_endpoint, now, &mut form)?;
    Ok(FormPost {
        url: provider.token_endpoint.clone(),
        form,
        authorization,
    })
}

/// The revocation request (RFC 7009) for the provider's `access_token`, sent
/// at logout as SPID and CIE require: `token`, `token_type_hint` =
/// `access_token`, then the client authentication (the assertion's `aud` is
/// the revocation endpoint).
pub fn revocation_request(
    provider: &Provider,
    registration: &Registration,
    auth: ClientAuth<'_>,
    access_token: &str,
    now: i64,
) -> Result<FormPost, RpError> {
    let endpoint = provider
        .revocation_endpoint
        .as_deref()
        .ok_or(RpError::EndpointMissing {
            endpoint: "revocation_endpoint",
        })?;
    let mut form = vec![
        ("token", access_token.to_owned()),
        ("token_type_hint", "access_token".to_owned()),
    ];
    let authorization = authenticate(registration, auth, endpoint, now, &mut form)?;
    Ok(FormPost {
        url: endpoint.to_owned(),
        form,
        authorization,
    })
}

/// Adds the client authentication for a POST to `endpoint` to `form`;
/// returns the `Authorization` header value for Basic.
fn authenticate(
    registration: &Registration,
    auth: ClientAuth<'_>,
    endpoint: &str,
    now: i64,
    form: &mut Vec<(&'static str, String)>,
) -> Result<Option<String>, RpError> {
    if registration.mode == TrustMode::Federation && !matches!(auth, ClientAuth::PrivateKeyJwt(_)) {
        return Err(RpError::ClientAuthNotAllowed { method: auth.method() });
    }
    let client_id = &registration.client_id;
    match auth {
        ClientAuth::PrivateKeyJwt(key) => {
            let assertion = client_assertion(key, client_id, endpoint, now)?;
            form.push(("client_id", client_id.clone()));
            form.push(("client_assertion_type", CLIENT_ASSERTION_TYPE.to_owned()));
            form.push(("client_assertion", assertion));
            Ok(None)
        }
        ClientAuth::ClientSecretPost(secret) => {
            form.push(("client_id", client_id.clone()));
            form.push(("client_secret", secret.to_owned()));
            Ok(None)
        }
        ClientAuth::ClientSecretBasic(secret) => Ok(Some(basic_authorization(client_id, secret))),
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_authorization(client_id: &str, secret: &str) -> String {
    let credentials = format!(
        "{}:{}",
        utf8_percent_encode(client_id, QUERY_VALUE),
        utf8_percent_encode(secret, QUERY_VALUE)
    );
    format!("Basic {}", STANDARD.encode(credentials))
}

/// A random UUIDv4 (RFC 9562 §5.4) from the operating system's CSPRNG.
fn random_uuid() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// A successful token response (the caller still validates the ID token).
#[derive(Clone, PartialEq, Eq)]
pub struct TokenResponse {
    /// The access token, for userinfo and, at logout, revocation.
    pub access_token: String,
    /// The ID token, not yet validated.
    pub id_token: String,
    /// Seconds until the access token expires, if the provider said.
    pub expires_in: Option<i64>,
}

impl TokenResponse {
    /// Reads the JSON body of a token response: an OAuth error becomes
    /// [`RpError::ProviderError`]; otherwise `access_token` (non-empty),
    /// `token_type` `Bearer` (any case) and `id_token` are required.
    pub fn parse(body: &[u8]) -> Result<TokenResponse, RpError> {
        let Ok(Value::Object(response)) = serde_json::from_slice::<Value>(body) else {
            return Err(RpError::MalformedTokenResponse);
        };
        if let Some(error) = response.get("error") {
            let error = error.as_str().unwrap_or_default();
            let description = response.get("error_description").and_then(Value::as_str);
            return Err(provider_error(error, description));
        }
        let access_token = match response.get("access_token") {
            Some(Value::String(token)) if !token.is_empty() => token.clone(),
            _ => return Err(RpError::MalformedTokenResponse),
        };
        if !response
            .get("token_type")
            .and_then(Value::as_str)
            .is_some_and(|kind| kind.eq_ignore_ascii_case("bearer"))
        {
            return Err(RpError::TokenTypeNotBearer);
        }
        let id_token = match response.get("id_token") {
            Some(Value::String(token)) if !token.is_empty() => token.clone(),
            _ => return Err(RpError::IdTokenMissing),
        };
        Ok(TokenResponse {
            access_token,
            id_token,
            expires_in: response.get("expires_in").and_then(Value::as_i64),
        })
    }
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::client_auth::{parse_basic, verify_assertion};
    use crate::rp::fake_op::{FakeOp, NOW, decode_part};
    use crate::rp::{AuthRequest, Registration};
    use crate::{OidcError, jwks};

    #[test]
    fn the_client_assertion_has_aud_the_token_endpoint_and_verifies_as_private_key_jwt() {
        let op = FakeOp::new();
        let rp = op.federation_rp();
        let provider = op.provider();
        let login = AuthRequest::new(&provider, &rp.registration, Some(&rp.signing), NOW).unwrap();
        let post = token_request(
            &provider,
            &rp.registration,
            ClientAuth::PrivateKeyJwt(&rp.signing),
            &login.pending,
            "the-code",
            NOW,
        )
        .unwrap();
        assert_eq!(post.url, op.token_endpoint());
        assert_eq!(post.authorization, None);
        let names: Vec<&str> = post.form.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            names,
            [
                "grant_type",
                "code",
                "redirect_uri",
                "code_verifier",
                "client_id",
                "client_assertion_type",
                "client_assertion"
            ]
        );
        assert_eq!(post.field("grant_type"), Some("authorization_code"));
        assert_eq!(post.field("code"), Some("the-code"));
        assert_eq!(post.field("redirect_uri"), Some(rp.registration.redirect_uri.as_str()));
        assert_eq!(post.field("code_verifier"), Some(login.pending.code_verifier.as_str()));
        assert_eq!(post.field("client_id"), Some(rp.registration.client_id.as_str()));
        assert_eq!(post.field("client_assertion_type"), Some(CLIENT_ASSERTION_TYPE));

        let assertion = post.field("client_assertion").unwrap();
        let claims = decode_part(assertion, 1);
        assert_eq!(claims["aud"], op.token_endpoint());
        assert_eq!(claims["iss"], rp.registration.client_id.as_str());
        assert_eq!(claims["sub"], rp.registration.client_id.as_str());
        assert_eq!(claims["iat"], NOW);
        assert_eq!(claims["exp"], NOW + 60);
        let jti = claims["jti"].as_str().unwrap();
        assert_eq!(jti.len(), 36);
        assert_eq!(&jti[14..15], "4");
        assert!(matches!(&jti[19..20], "8" | "9" | "a" | "b"));

        // The provider-side check of this crate accepts it for the token
        // endpoint, and only for it.
        let client_jwks = jwks(&[rp.signing.public_jwk()]).to_string();
        let client_id = rp.registration.client_id.as_str();
        let accepted = verify_assertion(&client_jwks, assertion, client_id, &[&op.token_endpoint()], NOW).unwrap();
        assert_eq!(accepted.jti, jti);
        assert!(matches!(
            verify_assertion(&client_jwks, assertion, client_id, &[&op.issuer], NOW),
            Err(OidcError::AssertionAudience)
        ));

        // A fresh assertion, with a fresh jti, every time.
        let again = client_assertion(&rp.signing, client_id, &op.token_endpoint(), NOW).unwrap();
        assert_ne!(decode_part(&again, 1)["jti"], jti);
        // Nothing secret in Debug.
        let shown = format!("{post:?}");
        assert!(!shown.contains(assertion) && !shown.contains(&login.pending.code_verifier));
    }

    #[test]
    fn federation_mode_refuses_client_secrets() {
        let op = FakeOp::new();
        let rp = op.federation_rp();
        let login = AuthRequest::new(&op.provider(), &rp.registration, Some(&rp.signing), NOW).unwrap();
        for auth in [ClientAuth::ClientSecretBasic("s"), ClientAuth::ClientSecretPost("s")] {
            let result = token_request(&op.provider(), &rp.registration, auth, &login.pending, "c", NOW);
            assert!(matches!(result, Err(RpError::ClientAuthNotAllowed { .. })), "{auth:?}");
        }
    }

    #[test]
    fn static_mode_authenticates_with_a_secret_in_a_basic_header_or_the_form() {
        let op = FakeOp::new();
        let registration = Registration::static_provider("school:client/1", "https://rp.test/cb");
        let login = AuthRequest::new(&op.provider(), &registration, None, NOW).unwrap();
        let secret = "p@ss w%rd+è:";

        let basic = token_request(
            &op.provider(),
            &registration,
            ClientAuth::ClientSecretBasic(secret),
            &login.pending,
            "code-1",
            NOW,
        )
        .unwrap();
        let header = basic.authorization.as_deref().unwrap();
        assert_eq!(
            parse_basic(header).unwrap(),
            ("school:client/1".to_owned(), secret.to_owned())
        );
        assert_eq!(basic.field("client_id"), None);
        assert_eq!(basic.field("client_secret"), None);
        assert_eq!(basic.field("code_verifier"), Some(login.pending.code_verifier.as_str()));
        assert!(!format!("{basic:?}").contains(header));

        let post = token_request(
            &op.provider(),
            &registration,
            ClientAuth::ClientSecretPost(secret),
            &login.pending,
            "code-1",
            NOW,
        )
        .unwrap();
        assert_eq!(post.authorization, None);
        assert_eq!(post.field("client_id"), Some("school:client/1"));
        assert_eq!(post.field("client_secret"), Some(secret));
        let body = post.body();
        assert!(body.starts_with("grant_type=authorization_code&code=code-1&redirect_uri=https%3A%2F%2Frp.test%2Fcb&"));
        assert!(body.ends_with("&client_id=school%3Aclient%2F1&client_secret=p%40ss%20w%25rd%2B%C3%A8%3A"));
    }

    #[test]
    fn the_revocation_request_carries_the_token_and_an_assertion_for_the_revocation_endpoint() {
        let op = FakeOp::new();
        let rp = op.federation_rp();
        let provider = op.provider();
        let post = revocation_request(
            &provider,
            &rp.registration,
            ClientAuth::PrivateKeyJwt(&rp.signing),
            "access-token-1",
            NOW,
        )
        .unwrap();
        assert_eq!(Some(post.url.as_str()), provider.revocation_endpoint.as_deref());
        let names: Vec<&str> = post.form.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            names,
            [
                "token",
                "token_type_hint",
                "client_id",
                "client_assertion_type",
                "client_assertion"
            ]
        );
        assert_eq!(post.field("token"), Some("access-token-1"));
        assert_eq!(post.field("token_type_hint"), Some("access_token"));
        let claims = decode_part(post.field("client_assertion").unwrap(), 1);
        assert_eq!(claims["aud"], provider.revocation_endpoint.clone().unwrap());
        assert!(!format!("{post:?}").contains("access-token-1"));

        let mut without = provider.clone();
        without.revocation_endpoint = None;
        assert!(matches!(
            revocation_request(
                &without,
                &rp.registration,
                ClientAuth::PrivateKeyJwt(&rp.signing),
                "t",
                NOW
            ),
            Err(RpError::EndpointMissing {
                endpoint: "revocation_endpoint"
            })
        ));
    }

    #[test]
    fn token_responses_are_parsed_and_refused_when_incomplete() {
        let good = json!({"access_token": "at", "token_type": "bearer", "id_token": "a.b.c", "expires_in": 300});
        let parsed = TokenResponse::parse(good.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.access_token, "at");
        assert_eq!(parsed.id_token, "a.b.c");
        assert_eq!(parsed.expires_in, Some(300));
        assert!(!format!("{parsed:?}").contains("a.b.c"));

        let refused = |body: Value| TokenResponse::parse(body.to_string().as_bytes()).unwrap_err();
        assert!(matches!(
            refused(json!({"error": "invalid_grant", "error_description": "code used"})),
            RpError::ProviderError { error, description: Some(description) }
                if error == "invalid_grant" && description == "code used"
        ));
        assert!(matches!(
            refused(json!({"token_type": "Bearer", "id_token": "x"})),
            RpError::MalformedTokenResponse
        ));
        assert!(matches!(
            refused(json!({"access_token": "", "token_type": "Bearer", "id_token": "x"})),
            RpError::MalformedTokenResponse
        ));
        assert!(matches!(
            refused(json!({"access_token": "at", "token_type": "DPoP", "id_token": "x"})),
            RpError::TokenTypeNotBearer
        ));
        assert!(matches!(
            refused(json!({"access_token": "at", "id_token": "x"})),
            RpError::TokenTypeNotBearer
        ));
        assert!(matches!(
            refused(json!({"access_token": "at", "token_type": "Bearer"})),
            RpError::IdTokenMissing
        ));
        assert!(matches!(
            TokenResponse::parse(b"not json"),
            Err(RpError::MalformedTokenResponse)
        ));
    }
}
