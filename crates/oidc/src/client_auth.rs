//! Client authentication at the token, revocation and introspection
//! endpoints: `client_secret_basic` (RFC 6749 §2.3.1) and `private_key_jwt`
//! (RFC 7523 §3, OpenID Connect Core §9).
//!
//! Invariant: an assertion is accepted only when its signature verifies with a
//! key of the client's own JWK Set, `iss` and `sub` are the client id, `aud`
//! names one of Varco's endpoints, `exp` is in the future but at most
//! [`MAX_ASSERTION_LIFETIME_SECS`] ahead, `nbf` (if any) has passed, and it
//! carries a `jti`. Refusing replays of a `jti` is the caller's job (it needs
//! storage); [`AssertionClaims`] hands back what that takes.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

use crate::{OidcError, verify_jws};

/// How far ahead a client assertion's `exp` may be.
pub const MAX_ASSERTION_LIFETIME_SECS: i64 = 600;

/// Standard base64 whether or not the client padded it.
const BASIC_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The `sub` of a client assertion, read WITHOUT checking anything: only
/// to find which client's keys to check it with (a client may name itself
/// in the assertion alone, OpenID Connect Core §9).
pub fn unverified_subject(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: Map<String, Value> = serde_json::from_slice(&bytes).ok()?;
    claims.get("sub").and_then(Value::as_str).map(str::to_owned)
}

/// `(client_id, client_secret)` from an `Authorization: Basic …` header
/// value: base64 of `id:secret`, each part form-urlencoded (RFC 6749
/// §2.3.1), so `%3A` in an id or `+` in a secret decode to `:` and a space.
pub fn parse_basic(header: &str) -> Result<(String, String), OidcError> {
    let malformed = || OidcError::MalformedBasicAuth;
    let (scheme, credentials) = header.trim().split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(malformed());
    }
    let decoded = BASIC_BASE64
        .decode(credentials.trim_start_matches(' '))
        .map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let id = form_urldecode(id).ok_or_else(malformed)?;
    let secret = form_urldecode(secret).ok_or_else(malformed)?;
    if id.is_empty() || secret.is_empty() {
        return Err(malformed());
    }
    Ok((id, secret))
}

/// `application/x-www-form-urlencoded` decoding of one value: `+` is a space,
/// `%XX` a byte; `None` for a `%` without two hex digits or for bytes that are
/// not UTF-8.
fn form_urldecode(encoded: &str) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => decoded.push(b' '),
            b'%' => {
                let hex = bytes.get(index + 1..index + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                if !hex.bytes().all(|byte| byte.is_ascii_hexdigit()) {
                    return None;
                }
                decoded.push(u8::from_str_radix(hex, 16).ok()?);
                index += 2;
            }
            byte => decoded.push(byte),
        }
        index += 1;
    }
    String::from_utf8(decoded).ok()
}

/// What an accepted client assertion leaves for the caller: its `jti`, to
/// refuse a second use until `exp`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssertionClaims {
    pub jti: String,
    pub exp: i64,
}

/// Checks a `private_key_jwt` client assertion (RFC 7523 §3) at unix time
/// `now`: signed by a key of `jwks_json` (the client's JWK Set), `iss` = `sub`
/// = `client_id`, `aud` (a string or an array) naming one of `audiences`,
/// `now < exp <= now + 600`, `nbf <= now` when present, a non-empty `jti`.
pub fn verify_assertion(
    jwks_json: &str,
    assertion: &str,
    client_id: &str,
    audiences: &[&str],
    now: i64,
) -> Result<AssertionClaims, OidcError> {
    let keys = match serde_json::from_str::<Value>(jwks_json) {
        Ok(Value::Object(mut set)) => match set.remove("keys") {
            Some(Value::Array(keys)) if keys.iter().all(Value::is_object) => keys,
            _ => return Err(OidcError::InvalidJwks),
        },
        _ => return Err(OidcError::InvalidJwks),
    };
    let claims = verify_jws(&keys, assertion)?;

    if string_claim(&claims, "iss") != Some(client_id) {
        return Err(OidcError::AssertionIssuer);
    }
    if string_claim(&claims, "sub") != Some(client_id) {
        return Err(OidcError::AssertionSubject);
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => audiences.contains(&aud.as_str()),
        Some(Value::Array(auds)) => auds
            .iter()
            .filter_map(Value::as_str)
            .any(|aud| audiences.contains(&aud)),
        _ => false,
    };
    if !audience_ok {
        return Err(OidcError::AssertionAudience);
    }
    let exp = claims
        .get("exp")
        .and_then(numeric_date)
        .ok_or(OidcError::AssertionExpiryMissing)?;
    if exp <= now {
        return Err(OidcError::AssertionExpired);
    }
    if exp > now.saturating_add(MAX_ASSERTION_LIFETIME_SECS) {
        return Err(OidcError::AssertionLifetimeTooLong {
            max_secs: MAX_ASSERTION_LIFETIME_SECS,
        });
    }
    if let Some(nbf) = claims.get("nbf") {
        match numeric_date(nbf) {
            Some(nbf) if nbf <= now => {}
            _ => return Err(OidcError::AssertionNotYetValid),
        }
    }
    let jti = match string_claim(&claims, "jti") {
        Some(jti) if !jti.is_empty() => jti.to_owned(),
        _ => return Err(OidcError::AssertionJtiMissing),
    };
    Ok(AssertionClaims { jti, exp })
}

fn string_claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

/// A JWT NumericDate (seconds, possibly fractional) rounded down.
pub(crate) fn numeric_date(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        let seconds = value.as_f64()?.floor();
        // Out-of-range floats become None rather than saturating silently.
        (seconds.is_finite() && seconds.abs() < 1e15).then_some(seconds as i64)
    })
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;
    use serde_json::json;

    use super::*;
    use crate::{Alg, SigningKey, jwks};

    const CLIENT: &str = "client-abc";
    const TOKEN_ENDPOINT: &str = "https://varco.test/oauth2/token";
    const ISSUER: &str = "https://varco.test";
    const NOW: i64 = 1_800_000_000;

    fn basic(raw: &str) -> String {
        format!("Basic {}", STANDARD.encode(raw))
    }

    #[test]
    fn parse_basic_decodes_base64_then_form_urlencoding() {
        assert_eq!(
            parse_basic(&basic("client:secret")).unwrap(),
            ("client".into(), "secret".into())
        );
        // Percent-encoded ':' in the id, '+' (space), '%25' ('%') and UTF-8 in the secret.
        let (id, secret) = parse_basic(&basic("my%3Aclient:p%40ss+w%25rd%C3%A8%2B")).unwrap();
        assert_eq!(id, "my:client");
        assert_eq!(secret, "p@ss w%rdè+");
        // Only the first ':' separates; the scheme is case-insensitive; padding optional.
        let (_, secret) = parse_basic(&basic("c:a:b")).unwrap();
        assert_eq!(secret, "a:b");
        assert!(parse_basic(&format!("basic {}", STANDARD.encode("c:s"))).is_ok());
        assert!(parse_basic(&format!("Basic {}", STANDARD.encode("c:s1").trim_end_matches('='))).is_ok());
    }

    #[test]
    fn parse_basic_refuses_malformed_headers() {
        let cases = [
            String::new(),
            "Basic".into(),
            format!("Bearer {}", STANDARD.encode("c:s")),
            "Basic !!!notbase64".into(),
            basic("no-colon"),
            basic(":secret"),
            basic("client:"),
            basic("client:bad%zz"),
            basic("client:cut%4"),
            basic("client:%FF"),
            format!("Basic {}", STANDARD.encode([b'c', b':', 0xff])),
        ];
        for header in cases {
            assert!(
                matches!(parse_basic(&header), Err(OidcError::MalformedBasicAuth)),
                "{header:?}"
            );
        }
    }

    fn claims(changes: Value) -> Map<String, Value> {
        let mut claims = json!({
            "iss": CLIENT,
            "sub": CLIENT,
            "aud": TOKEN_ENDPOINT,
            "exp": NOW + 60,
            "iat": NOW,
            "jti": "jti-1",
        });
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        claims.as_object().unwrap().clone()
    }

    struct Client {
        key: SigningKey,
        jwks_json: String,
    }

    fn client() -> Client {
        let key = SigningKey::generate(Alg::Es256).unwrap();
        let jwks_json = jwks(&[key.public_jwk()]).to_string();
        Client { key, jwks_json }
    }

    fn check(client: &Client, changes: Value) -> Result<AssertionClaims, OidcError> {
        let assertion = client.key.sign(&claims(changes), None).unwrap();
        verify_assertion(&client.jwks_json, &assertion, CLIENT, &[TOKEN_ENDPOINT, ISSUER], NOW)
    }

    #[test]
    fn a_good_assertion_is_accepted() {
        let client = client();
        assert_eq!(
            check(&client, json!({})).unwrap(),
            AssertionClaims {
                jti: "jti-1".into(),
                exp: NOW + 60
            }
        );
        // aud as an array holding the issuer; exp exactly at the 10-minute limit; nbf now.
        let accepted = check(
            &client,
            json!({"aud": ["https://elsewhere", ISSUER], "exp": NOW + 600, "nbf": NOW}),
        );
        assert_eq!(accepted.unwrap().exp, NOW + 600);
        // RS256 works too.
        let key = SigningKey::generate(Alg::Rs256).unwrap();
        let rsa = Client {
            jwks_json: jwks(&[key.public_jwk()]).to_string(),
            key,
        };
        assert!(check(&rsa, json!({})).is_ok());
    }

    #[test]
    fn each_rule_refuses() {
        let client = client();
        let refused = |changes: Value| check(&client, changes).unwrap_err();
        assert!(matches!(refused(json!({"iss": "other"})), OidcError::AssertionIssuer));
        assert!(matches!(refused(json!({"iss": null})), OidcError::AssertionIssuer));
        assert!(matches!(refused(json!({"sub": "other"})), OidcError::AssertionSubject));
        assert!(matches!(refused(json!({"sub": null})), OidcError::AssertionSubject));
        assert!(matches!(
            refused(json!({"aud": "https://elsewhere"})),
            OidcError::AssertionAudience
        ));
        assert!(matches!(
            refused(json!({"aud": ["https://elsewhere"]})),
            OidcError::AssertionAudience
        ));
        assert!(matches!(refused(json!({"aud": []})), OidcError::AssertionAudience));
        assert!(matches!(refused(json!({"aud": null})), OidcError::AssertionAudience));
        assert!(matches!(
            refused(json!({"exp": null})),
            OidcError::AssertionExpiryMissing
        ));
        assert!(matches!(
            refused(json!({"exp": "soon"})),
            OidcError::AssertionExpiryMissing
        ));
        assert!(matches!(refused(json!({"exp": NOW})), OidcError::AssertionExpired));
        assert!(matches!(refused(json!({"exp": NOW - 1})), OidcError::AssertionExpired));
        assert!(matches!(
            refused(json!({"exp": NOW + 601})),
            OidcError::AssertionLifetimeTooLong { max_secs: 600 }
        ));
        assert!(matches!(
            refused(json!({"nbf": NOW + 5})),
            OidcError::AssertionNotYetValid
        ));
        assert!(matches!(refused(json!({"jti": null})), OidcError::AssertionJtiMissing));
        assert!(matches!(refused(json!({"jti": ""})), OidcError::AssertionJtiMissing));
    }

    #[test]
    fn an_assertion_signed_by_a_key_outside_the_clients_set_is_refused() {
        let client = client();
        let stranger = SigningKey::generate(Alg::Es256).unwrap();
        let assertion = stranger.sign(&claims(json!({})), None).unwrap();
        let result = verify_assertion(&client.jwks_json, &assertion, CLIENT, &[TOKEN_ENDPOINT], NOW);
        assert!(matches!(result, Err(OidcError::UnknownKey)));
        // A tampered assertion is refused too.
        let good = client.key.sign(&claims(json!({})), None).unwrap();
        let forged_body = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&claims(json!({"exp": NOW + 500}))).unwrap());
        let parts: Vec<&str> = good.split('.').collect();
        let forged = format!("{}.{forged_body}.{}", parts[0], parts[2]);
        let result = verify_assertion(&client.jwks_json, &forged, CLIENT, &[TOKEN_ENDPOINT], NOW);
        assert!(matches!(result, Err(OidcError::BadSignature)));
    }

    #[test]
    fn an_invalid_client_jwks_is_refused() {
        let client = client();
        let assertion = client.key.sign(&claims(json!({})), None).unwrap();
        for jwks_json in ["", "[]", "{}", r#"{"keys": {}}"#, r#"{"keys": [1]}"#] {
            let result = verify_assertion(jwks_json, &assertion, CLIENT, &[TOKEN_ENDPOINT], NOW);
            assert!(matches!(result, Err(OidcError::InvalidJwks)), "{jwks_json:?}");
        }
    }

    #[test]
    fn fractional_numeric_dates_round_down() {
        assert_eq!(numeric_date(&json!(10.9)), Some(10));
        assert_eq!(numeric_date(&json!(7)), Some(7));
        assert_eq!(numeric_date(&json!(1e300)), None);
        assert_eq!(numeric_date(&json!("7")), None);
    }
}
