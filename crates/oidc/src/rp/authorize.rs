//! The authorization request and the callback that answers it.
//!
//! Invariants:
//! - `state`, `nonce` and the PKCE verifier are fresh for every request, from
//!   the operating system's CSPRNG, 43 (state, nonce) and 64 (verifier)
//!   alphanumeric characters; the challenge is S256.
//! - In federation mode everything the provider acts on travels inside the
//!   signed request object (RS256, the relying party's core key); the query
//!   repeats only what SPID/CIE want in both places.
//! - A callback is checked in a fixed order — `state` first (error callbacks
//!   included: a provider redirects its refusals too), then `iss`, then the
//!   error, then the code — so a forged or replayed redirect never reaches
//!   the provider-error or code paths.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rand::Rng as _;
use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq as _;

use super::{AcrPolicy, Provider, Registration, RpError, TrustMode};
use crate::pkce::{METHOD_S256, challenge_s256};
use crate::{Alg, SigningKey};

/// Characters of `state` and `nonce` (SPID/CIE ask for at least 32).
const STATE_CHARS: usize = 43;

/// Characters of the PKCE verifier (RFC 7636 allows 43 to 128).
const VERIFIER_CHARS: usize = 64;

/// Seconds a request object is valid for: it is checked when the browser
/// arrives at the provider, right after the redirect.
const REQUEST_OBJECT_LIFETIME_SECS: i64 = 180;

/// Longest provider `error` code kept, in characters.
const ERROR_CODE_CHARS: usize = 64;

/// Longest provider `error_description` kept, in characters.
const ERROR_DESCRIPTION_CHARS: usize = 256;

/// What is percent-encoded in a query value: all but the RFC 3986
/// unreserved characters.
pub(crate) const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// What the relying party keeps, bound to the browser session, between the
/// redirect to the provider and the callback. All of it is needed later:
/// `state` and `issuer` by [`check_callback`](super::check_callback), the
/// verifier and redirect URI by [`token_request`](super::token_request), the
/// nonce by [`validate_id_token`](super::validate_id_token).
#[derive(Clone, PartialEq, Eq)]
pub struct PendingAuth {
    /// The provider's issuer the request went to.
    pub issuer: String,
    /// The `state` sent.
    pub state: String,
    /// The `nonce` sent.
    pub nonce: String,
    /// The PKCE `code_verifier` (secret until the token request).
    pub code_verifier: String,
    /// The `redirect_uri` sent (repeated in the token request).
    pub redirect_uri: String,
    /// Whether the callback must carry `iss`.
    pub require_iss: bool,
    /// When the request was built (unix seconds), for the caller to expire it.
    pub created_at: i64,
}

impl fmt::Debug for PendingAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuth")
            .field("issuer", &self.issuer)
            .field("redirect_uri", &self.redirect_uri)
            .field("require_iss", &self.require_iss)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// An authorization request ready to send: the URL to redirect the browser
/// to, and what to keep until the callback.
#[derive(Clone, Debug)]
pub struct AuthRequest {
    /// The authorization endpoint with the request's query.
    pub url: String,
    /// What to keep, bound to the browser session, until the callback.
    pub pending: PendingAuth,
}

impl AuthRequest {
    /// A fresh authorization request (code flow, PKCE S256) at unix time
    /// `now`.
    ///
    /// Federation mode: a request object signed with `signing_key` (RS256,
    /// required) holding `iss` = `client_id`, `aud` = [issuer, authorization
    /// endpoint], `iat`, `exp`, `client_id`, `response_type`, `redirect_uri`,
    /// `scope`, `state`, `nonce`, `acr_values`, `prompt`, `claims`,
    /// `code_challenge`, `code_challenge_method` and `ui_locales` (a JSON
    /// array of language tags, as the SPID/CIE profile wants); the URL
    /// carries `client_id`, `response_type`, `scope`, `code_challenge`,
    /// `code_challenge_method` and `request`.
    ///
    /// Static mode: the URL carries `client_id`, `response_type`,
    /// `redirect_uri`, `scope`, `state`, `nonce`, `code_challenge`,
    /// `code_challenge_method` and, when configured, `acr_values`, `prompt`,
    /// `claims` (JSON) and `ui_locales`; `signing_key` is not used.
    pub fn new(
        provider: &Provider,
        registration: &Registration,
        signing_key: Option<&SigningKey>,
        now: i64,
    ) -> Result<AuthRequest, RpError> {
        let pending = PendingAuth {
            issuer: provider.issuer.clone(),
            state: random_alphanumeric(STATE_CHARS),
            nonce: random_alphanumeric(STATE_CHARS),
            code_verifier: random_alphanumeric(VERIFIER_CHARS),
            redirect_uri: registration.redirect_uri.clone(),
            require_iss: provider.iss_in_callback,
            created_at: now,
        };
        let challenge = challenge_s256(&pending.code_verifier);

        let mut request = Map::new();
        let mut put = |name: &str, value: Value| {
            request.insert(name.to_owned(), value);
        };
        put("client_id", registration.client_id.as_str().into());
        put("response_type", "code".into());
        put("redirect_uri", registration.redirect_uri.as_str().into());
        put("scope", registration.scope.as_str().into());
        put("state", pending.state.as_str().into());
        put("nonce", pending.nonce.as_str().into());
        put("code_challenge", challenge.as_str().into());
        put("code_challenge_method", METHOD_S256.into());
        if let Some(acr) = registration.acr_values() {
            put("acr_values", acr.into());
        }
        if let Some(prompt) = &registration.prompt {
            put("prompt", prompt.as_str().into());
        }
        if let Some(claims) = &registration.claims {
            put("claims", claims.clone());
        }
        if let Some(locales) = &registration.ui_locales {
            // The SPID/CIE request object carries the list as a JSON array
            // (the reference OP refuses a string); a query keeps OIDC's
            // space-separated string.
            let value = match registration.mode {
                TrustMode::Federation => Value::from(locales.split_whitespace().collect::<Vec<_>>()),
                TrustMode::Static => locales.as_str().into(),
            };
            put("ui_locales", value);
        }

        let query: Vec<(&str, String)> = match registration.mode {
            TrustMode::Federation => {
                let key = signing_key
                    .filter(|key| key.alg() == Alg::Rs256)
                    .ok_or(RpError::SigningKeyRequired)?;
                if !matches!(registration.acr, AcrPolicy::Spid(_)) {
                    return Err(RpError::AcrPolicyRequired);
                }
                request.insert("iss".into(), registration.client_id.as_str().into());
                request.insert("aud".into(), json!([provider.issuer, provider.authorization_endpoint]));
                request.insert("iat".into(), now.into());
                request.insert("exp".into(), (now + REQUEST_OBJECT_LIFETIME_SECS).into());
                let request_object = key.sign(&request, None).map_err(RpError::Signing)?;
                vec![
                    ("client_id", registration.client_id.clone()),
                    ("response_type", "code".into()),
                    ("scope", registration.scope.clone()),
                    ("code_challenge", challenge),
                    ("code_challenge_method", METHOD_S256.into()),
                    ("request", request_object),
                ]
            }
            TrustMode::Static => request
                .iter()
                .map(|(name, value)| {
                    let text = match value {
                        Value::String(text) => text.clone(),
                        other => other.to_string(),
                    };
                    (name.as_str(), text)
                })
                .collect(),
        };
        Ok(AuthRequest {
            url: with_query(&provider.authorization_endpoint, &query),
            pending,
        })
    }
}

/// The query of the redirect back from the provider (the caller fills in the
/// parameters it received; absent ones are `None`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Callback {
    /// `code`.
    pub code: Option<String>,
    /// `state`.
    pub state: Option<String>,
    /// `iss` (RFC 9207).
    pub iss: Option<String>,
    /// `error`.
    pub error: Option<String>,
    /// `error_description`.
    pub error_description: Option<String>,
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callback")
            .field("code", &self.code.as_ref().map(|_| "…"))
            .field("iss", &self.iss)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// The authorization code of a callback that answers `pending`: `state`
/// equals the pending one (constant-time), `iss` equals the provider's (and
/// is present when `pending.require_iss`, except on an error), there is no
/// `error`, and there is a code. A provider error comes back as [`RpError::ProviderError`] with
/// its code and description sanitized.
pub fn check_callback(pending: &PendingAuth, callback: &Callback) -> Result<String, RpError> {
    let state_matches = callback
        .state
        .as_deref()
        .is_some_and(|state| bool::from(state.as_bytes().ct_eq(pending.state.as_bytes())));
    if !state_matches {
        return Err(RpError::StateMismatch);
    }
    match callback.iss.as_deref() {
        Some(iss) if iss == pending.issuer => {}
        Some(_) => return Err(RpError::IssuerMismatch),
        // An error without `iss` carries no code to mix up: the reference
        // SPID/CIE OPs send their errors (a person declining consent) so.
        None if pending.require_iss && callback.error.is_none() => return Err(RpError::IssuerMissing),
        None => {}
    }
    if let Some(error) = &callback.error {
        return Err(provider_error(error, callback.error_description.as_deref()));
    }
    match &callback.code {
        Some(code) if !code.is_empty() => Ok(code.clone()),
        _ => Err(RpError::CodeMissing),
    }
}

/// [`RpError::ProviderError`] for an OAuth error the provider sent, its code
/// and description sanitized (`unknown` for a code with nothing printable).
pub(crate) fn provider_error(error: &str, description: Option<&str>) -> RpError {
    let code = sanitize(error, ERROR_CODE_CHARS);
    RpError::ProviderError {
        error: if code.is_empty() { "unknown".into() } else { code },
        description: description
            .map(|description| sanitize(description, ERROR_DESCRIPTION_CHARS))
            .filter(|description| !description.is_empty()),
    }
}

/// `text` cut to `max` characters of the RFC 6749 error alphabet (printable
/// ASCII but `"` and `\`), so what reaches a log or a page is inert.
fn sanitize(text: &str, max: usize) -> String {
    text.chars()
        .filter(|c| matches!(c, ' '..='~') && *c != '"' && *c != '\\')
        .take(max)
        .collect()
}

/// `length` characters of `[A-Za-z0-9]` from the operating system's CSPRNG.
pub(crate) fn random_alphanumeric(length: usize) -> String {
    OsRng.sample_iter(&Alphanumeric).take(length).map(char::from).collect()
}

/// `endpoint` with `params` appended to its query, values percent-encoded.
pub(crate) fn with_query(endpoint: &str, params: &[(&str, String)]) -> String {
    let mut url = endpoint.to_owned();
    let mut separator = if endpoint.contains('?') {
        if endpoint.ends_with('?') || endpoint.ends_with('&') {
            ""
        } else {
            "&"
        }
    } else {
        "?"
    };
    for (name, value) in params {
        url.push_str(separator);
        url.push_str(&utf8_percent_encode(name, QUERY_VALUE).to_string());
        url.push('=');
        url.push_str(&utf8_percent_encode(value, QUERY_VALUE).to_string());
        separator = "&";
    }
    url
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use percent_encoding::percent_decode_str;

    use super::*;
    use crate::pkce;
    use crate::rp::SpidLevel;
    use crate::rp::fake_op::{FakeOp, NOW, decode_part};
    use crate::verify_jws;

    fn query_of(url: &str) -> (String, HashMap<String, String>) {
        let (base, query) = url.split_once('?').unwrap();
        let pairs = query
            .split('&')
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap();
                (
                    name.to_owned(),
                    percent_decode_str(value).decode_utf8().unwrap().into_owned(),
                )
            })
            .collect();
        (base.to_owned(), pairs)
    }

    fn alphanumeric_at_least_32(text: &str) -> bool {
        text.len() >= 32 && text.bytes().all(|byte| byte.is_ascii_alphanumeric())
    }

    #[test]
    fn a_federation_request_carries_a_signed_request_object_with_the_right_claims() {
        let op = FakeOp::new();
        let rp = op.federation_rp();
        let request = AuthRequest::new(&op.provider(), &rp.registration, Some(&rp.signing), NOW).unwrap();
        let pending = &request.pending;
        assert!(alphanumeric_at_least_32(&pending.state));
        assert!(alphanumeric_at_least_32(&pending.nonce));
        assert_ne!(pending.state, pending.nonce);
        assert!(pkce::valid_verifier(&pending.code_verifier));
        assert!(pending.require_iss);
        assert_eq!(pending.issuer, op.issuer);

        let (base, query) = query_of(&request.url);
        assert_eq!(base, op.authorization_endpoint());
        let mut names: Vec<&str> = query.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "client_id",
                "code_challenge",
                "code_challenge_method",
                "request",
                "response_type",
                "scope"
            ]
        );
        assert_eq!(query["client_id"], rp.registration.client_id);
        assert_eq!(query["response_type"], "code");
        assert_eq!(query["scope"], "openid");
        assert_eq!(query["code_challenge_method"], "S256");
        assert!(pkce::verify_s256(&pending.code_verifier, &query["code_challenge"]));

        // The request object verifies with the RP's public key and says it all.
        let header = decode_part(&query["request"], 0);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["kid"], rp.signing.kid());
        let claims = verify_jws(&[rp.signing.public_jwk()], &query["request"]).unwrap();
        assert_eq!(claims["iss"], rp.registration.client_id.as_str());
        assert_eq!(claims["client_id"], rp.registration.client_id.as_str());
        assert_eq!(claims["aud"], json!([op.issuer, op.authorization_endpoint()]));
        assert_eq!(claims["iat"], NOW);
        assert!(claims["exp"].as_i64().unwrap() > NOW);
        assert_eq!(claims["response_type"], "code");
        assert_eq!(claims["redirect_uri"], rp.registration.redirect_uri.as_str());
        assert_eq!(claims["scope"], "openid");
        assert_eq!(claims["state"], pending.state.as_str());
        assert_eq!(claims["nonce"], pending.nonce.as_str());
        assert_eq!(claims["acr_values"], SpidLevel::L2.uri());
        assert_eq!(claims["prompt"], "consent login");
        assert_eq!(claims["code_challenge"], query["code_challenge"].as_str());
        assert_eq!(claims["code_challenge_method"], "S256");
        assert_eq!(
            claims["claims"]["userinfo"][crate::FISCAL_NUMBER_CLAIM]["essential"],
            true
        );
        assert!(claims["claims"]["id_token"].is_object());
        assert!(claims.get("ui_locales").is_none());

        // A second request shares nothing random with the first.
        let again = AuthRequest::new(&op.provider(), &rp.registration, Some(&rp.signing), NOW).unwrap();
        assert_ne!(again.pending.state, pending.state);
        assert_ne!(again.pending.nonce, pending.nonce);
        assert_ne!(again.pending.code_verifier, pending.code_verifier);
    }

    #[test]
    fn ui_locales_go_into_the_request_object_when_set() {
        let op = FakeOp::new();
        let mut rp = op.federation_rp();
        rp.registration.ui_locales = Some("it en".into());
        let request = AuthRequest::new(&op.provider(), &rp.registration, Some(&rp.signing), NOW).unwrap();
        let (_, query) = query_of(&request.url);
        let claims = verify_jws(&[rp.signing.public_jwk()], &query["request"]).unwrap();
        assert_eq!(
            claims["ui_locales"],
            serde_json::json!(["it", "en"]),
            "an array, as SPID/CIE want"
        );
    }

    #[test]
    fn federation_mode_needs_an_rs256_key_and_a_spid_level() {
        let op = FakeOp::new();
        let rp = op.federation_rp();
        assert!(matches!(
            AuthRequest::new(&op.provider(), &rp.registration, None, NOW),
            Err(RpError::SigningKeyRequired)
        ));
        let ec = SigningKey::generate(Alg::Es256).unwrap();
        assert!(matches!(
            AuthRequest::new(&op.provider(), &rp.registration, Some(&ec), NOW),
            Err(RpError::SigningKeyRequired)
        ));
        let mut registration = rp.registration.clone();
        registration.acr = AcrPolicy::NotChecked;
        assert!(matches!(
            AuthRequest::new(&op.provider(), &registration, Some(&rp.signing), NOW),
            Err(RpError::AcrPolicyRequired)
        ));
    }

    #[test]
    fn a_static_request_is_a_plain_url_with_state_nonce_and_pkce() {
        let op = FakeOp::new();
        let mut registration = Registration::static_provider("aggregator-client", "https://rp.test/cb?x=1");
        registration.acr = AcrPolicy::OneOf {
            request: "infocert:identification:method:SPID_LEVEL_2".into(),
            accepted: vec!["infocert:identification:method:SPID_LEVEL_2".into()],
        };
        registration.claims = Some(json!({"userinfo": {"fiscal_number": null}}));
        let mut provider = op.provider();
        provider.authorization_endpoint = format!("{}?tenant=school", op.authorization_endpoint());
        provider.iss_in_callback = false;
        let request = AuthRequest::new(&provider, &registration, None, NOW).unwrap();
        let (base, query) = query_of(&request.url);
        assert_eq!(base, op.authorization_endpoint());
        assert_eq!(query["tenant"], "school");
        assert!(!query.contains_key("request"));
        assert_eq!(query["client_id"], "aggregator-client");
        assert_eq!(query["response_type"], "code");
        assert_eq!(query["redirect_uri"], "https://rp.test/cb?x=1");
        assert_eq!(query["scope"], "openid");
        assert_eq!(query["state"], request.pending.state);
        assert_eq!(query["nonce"], request.pending.nonce);
        assert_eq!(query["code_challenge_method"], "S256");
        assert!(pkce::verify_s256(
            &request.pending.code_verifier,
            &query["code_challenge"]
        ));
        assert_eq!(query["acr_values"], "infocert:identification:method:SPID_LEVEL_2");
        let claims: Value = serde_json::from_str(&query["claims"]).unwrap();
        assert_eq!(claims, json!({"userinfo": {"fiscal_number": null}}));
        assert!(!request.pending.require_iss);
        // Raw reserved characters never reach the query.
        let raw_query = request.url.split_once('?').unwrap().1;
        assert!(!raw_query.contains(['{', '"', ':', '/', ' ']));

        // With no acr, prompt or claims configured, none is sent.
        let plain = Registration::static_provider("c", "https://rp.test/cb");
        let request = AuthRequest::new(&op.provider(), &plain, None, NOW).unwrap();
        let (_, query) = query_of(&request.url);
        for absent in ["acr_values", "claims", "prompt", "ui_locales"] {
            assert!(!query.contains_key(absent), "{absent}");
        }
    }

    fn pending() -> PendingAuth {
        PendingAuth {
            issuer: "https://op.test".into(),
            state: random_alphanumeric(STATE_CHARS),
            nonce: random_alphanumeric(STATE_CHARS),
            code_verifier: random_alphanumeric(VERIFIER_CHARS),
            redirect_uri: "https://rp.test/cb".into(),
            require_iss: true,
            created_at: NOW,
        }
    }

    fn callback(pending: &PendingAuth) -> Callback {
        Callback {
            code: Some("the-code".into()),
            state: Some(pending.state.clone()),
            iss: Some(pending.issuer.clone()),
            ..Callback::default()
        }
    }

    #[test]
    fn a_good_callback_gives_the_code() {
        let pending = pending();
        assert_eq!(check_callback(&pending, &callback(&pending)).unwrap(), "the-code");
        // Without iss when the provider is not known to send it.
        let lenient = PendingAuth {
            require_iss: false,
            ..pending.clone()
        };
        let without_iss = Callback {
            iss: None,
            ..callback(&pending)
        };
        assert_eq!(check_callback(&lenient, &without_iss).unwrap(), "the-code");
    }

    #[test]
    fn a_wrong_or_missing_state_is_refused_even_on_an_error_callback() {
        let pending = pending();
        let other_state = Callback {
            state: Some(random_alphanumeric(STATE_CHARS)),
            ..callback(&pending)
        };
        assert!(matches!(
            check_callback(&pending, &other_state),
            Err(RpError::StateMismatch)
        ));
        let no_state = Callback {
            state: None,
            ..callback(&pending)
        };
        assert!(matches!(
            check_callback(&pending, &no_state),
            Err(RpError::StateMismatch)
        ));
        let forged_error = Callback {
            code: None,
            state: Some("forged".into()),
            error: Some("access_denied".into()),
            ..callback(&pending)
        };
        assert!(matches!(
            check_callback(&pending, &forged_error),
            Err(RpError::StateMismatch)
        ));
    }

    #[test]
    fn a_wrong_or_missing_iss_is_refused() {
        let pending = pending();
        let wrong = Callback {
            iss: Some("https://evil.test".into()),
            ..callback(&pending)
        };
        assert!(matches!(check_callback(&pending, &wrong), Err(RpError::IssuerMismatch)));
        // A wrong iss is refused even when iss is optional.
        let lenient = PendingAuth {
            require_iss: false,
            ..pending.clone()
        };
        assert!(matches!(check_callback(&lenient, &wrong), Err(RpError::IssuerMismatch)));
        let missing = Callback {
            iss: None,
            ..callback(&pending)
        };
        assert!(matches!(
            check_callback(&pending, &missing),
            Err(RpError::IssuerMissing)
        ));
        // An error without `iss` is still the provider's error (no code);
        // with a wrong `iss` it is a mismatch.
        let declined = Callback {
            iss: None,
            code: None,
            error: Some("invalid_request".into()),
            ..callback(&pending)
        };
        assert!(matches!(
            check_callback(&pending, &declined),
            Err(RpError::ProviderError { error, .. }) if error == "invalid_request"
        ));
        let forged = Callback {
            iss: Some("https://evil.example".into()),
            ..declined
        };
        assert!(matches!(
            check_callback(&pending, &forged),
            Err(RpError::IssuerMismatch)
        ));
        // A code without `iss` stays refused even next to an error.
        let both = Callback {
            iss: None,
            error: Some("invalid_request".into()),
            ..callback(&pending)
        };
        assert!(check_callback(&pending, &both).is_err());
    }

    #[test]
    fn a_provider_error_is_typed_and_sanitized() {
        let pending = pending();
        let refused = Callback {
            code: None,
            error: Some("access_denied\"<script>\n".into()),
            error_description: Some(format!("Utente \\ annullò{}", "x".repeat(400))),
            ..callback(&pending)
        };
        let Err(RpError::ProviderError { error, description }) = check_callback(&pending, &refused) else {
            panic!("expected a provider error");
        };
        assert_eq!(error, "access_denied<script>");
        let description = description.unwrap();
        assert!(description.starts_with("Utente  annull"));
        assert_eq!(description.chars().count(), ERROR_DESCRIPTION_CHARS);
        assert!(description.bytes().all(|byte| (b' '..=b'~').contains(&byte)));

        let bare = Callback {
            code: None,
            error: Some("\u{7}".into()),
            ..callback(&pending)
        };
        assert!(matches!(
            check_callback(&pending, &bare),
            Err(RpError::ProviderError { error, description: None }) if error == "unknown"
        ));
        let nothing = Callback {
            code: None,
            ..callback(&pending)
        };
        assert!(matches!(check_callback(&pending, &nothing), Err(RpError::CodeMissing)));
        let empty = Callback {
            code: Some(String::new()),
            ..callback(&pending)
        };
        assert!(matches!(check_callback(&pending, &empty), Err(RpError::CodeMissing)));
    }

    #[test]
    fn debug_output_hides_the_secrets() {
        let pending = pending();
        let shown = format!("{pending:?} {:?}", callback(&pending));
        assert!(!shown.contains(&pending.state));
        assert!(!shown.contains(&pending.nonce));
        assert!(!shown.contains(&pending.code_verifier));
        assert!(!shown.contains("the-code"));
    }
}
