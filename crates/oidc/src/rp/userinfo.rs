//! The userinfo answer: plain JSON, a signed JWT, or a signed JWT inside a
//! JWE (SPID/CIE: RSA-OAEP + A256CBC-HS512, content type `application/jwt`
//! from the reference provider, `application/jose` in the documents).
//!
//! Invariants:
//! - Federation mode accepts only the encrypted form; static mode accepts
//!   all three.
//! - A JWE is opened only with RSA-OAEP or RSA-OAEP-256 and A128CBC-HS256 or
//!   A256CBC-HS512, never compressed, with the relying party's key named by
//!   `kid` (or each of its keys when there is no `kid`); its content must be
//!   a JWS that verifies with the provider's keys — encryption alone proves
//!   nothing about who wrote it.
//! - The claims belong to the ID token's person: `sub` equal, `iss` and
//!   `aud` right when present.

use serde_json::{Map, Value};

use super::id_token::UPSTREAM_ALGS;
use super::{EncryptionKey, Provider, Registration, RpError, TrustMode, audience_names, string_claim};
use crate::signing::{compact_header, verify_jws_with_algs};

/// Key-management algorithms accepted for userinfo.
const JWE_ALGS: &[&str] = &["RSA-OAEP", "RSA-OAEP-256"];

/// Content encryptions accepted for userinfo.
const JWE_ENCS: &[&str] = &["A128CBC-HS256", "A256CBC-HS512"];

/// The claims of a userinfo answer whose `Content-Type` header is
/// `content_type` and whose body is `body`, for the person whose ID token
/// said `id_token_sub`. `encryption_keys` are the relying party's keys that
/// providers may encrypt to (current and recently rotated).
pub fn userinfo_claims(
    provider: &Provider,
    registration: &Registration,
    encryption_keys: &[EncryptionKey],
    id_token_sub: &str,
    content_type: &str,
    body: &[u8],
) -> Result<Map<String, Value>, RpError> {
    let federation = registration.mode == TrustMode::Federation;
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let claims = match media_type.as_str() {
        "application/json" => {
            if federation {
                return Err(RpError::UserinfoNotEncrypted);
            }
            match serde_json::from_slice(body) {
                Ok(Value::Object(claims)) => claims,
                _ => return Err(RpError::UserinfoMalformed),
            }
        }
        "application/jwt" | "application/jose" => {
            let token = std::str::from_utf8(body)
                .map_err(|_| RpError::UserinfoMalformed)?
                .trim();
            match token.matches('.').count() {
                4 => {
                    let signed = decrypt(encryption_keys, token)?;
                    verify_jws_with_algs(&provider.jwks, &signed, UPSTREAM_ALGS)
                        .map_err(RpError::UserinfoSignature)?
                        .1
                }
                2 if !federation => {
                    verify_jws_with_algs(&provider.jwks, token, UPSTREAM_ALGS)
                        .map_err(RpError::UserinfoSignature)?
                        .1
                }
                2 => return Err(RpError::UserinfoNotEncrypted),
                _ => return Err(RpError::UserinfoMalformed),
            }
        }
        _ => return Err(RpError::UserinfoContentType),
    };

    if string_claim(&claims, "sub") != Some(id_token_sub) || id_token_sub.is_empty() {
        return Err(RpError::UserinfoSubject);
    }
    if claims.contains_key("iss") && string_claim(&claims, "iss") != Some(provider.issuer.as_str()) {
        return Err(RpError::UserinfoIssuer);
    }
    if claims.contains_key("aud") && !audience_names(claims.get("aud"), &registration.client_id) {
        return Err(RpError::UserinfoAudience);
    }
    Ok(claims)
}

/// The content of the compact JWE `token`, decrypted with the key its `kid`
/// names or, without a `kid`, with the first of `keys` that opens it.
fn decrypt(keys: &[EncryptionKey], token: &str) -> Result<String, RpError> {
    // A JWE header has the same shape as a JWS one: a base64url JSON object.
    let first_part = token.split('.').next().unwrap_or_default();
    let header = compact_header(&format!("{first_part}..")).map_err(|_| RpError::UserinfoMalformed)?;
    let text = |name: &str| header.get(name).and_then(Value::as_str);
    let alg = text("alg").filter(|alg| JWE_ALGS.contains(alg));
    let enc = text("enc").filter(|enc| JWE_ENCS.contains(enc));
    let (Some(alg), Some(_)) = (alg, enc) else {
        return Err(RpError::UserinfoEncryptionAlg);
    };
    if header.contains_key("zip") {
        return Err(RpError::UserinfoEncryptionAlg);
    }
    if header
        .get("cty")
        .is_some_and(|cty| !cty.as_str().is_some_and(|cty| cty.eq_ignore_ascii_case("JWT")))
    {
        return Err(RpError::UserinfoMalformed);
    }
    let candidates: Vec<&EncryptionKey> = match header.get("kid") {
        Some(Value::String(kid)) => keys.iter().filter(|key| key.kid() == kid).collect(),
        Some(_) => return Err(RpError::UserinfoMalformed),
        None => keys.iter().collect(),
    };
    if candidates.is_empty() {
        return Err(RpError::UserinfoUnknownKey);
    }
    for key in candidates {
        let Some(decrypter) = key.decrypter(alg) else {
            continue;
        };
        if let Ok((plaintext, _)) = josekit::jwe::deserialize_compact(token, &decrypter) {
            return String::from_utf8(plaintext)
                .map(|text| text.trim().to_owned())
                .map_err(|_| RpError::UserinfoMalformed);
        }
    }
    Err(RpError::UserinfoDecryption)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    use super::*;
    use crate::OidcError;
    use crate::rp::fake_op::{FakeOp, FakeRp, TAX_CODE, decode_part};
    use crate::rp::{Registration, fiscal_number};

    const SUB: &str = "pairwise-subject-1";

    fn userinfo(op: &FakeOp, rp: &FakeRp, changes: Value) -> Map<String, Value> {
        let mut claims = json!({
            "iss": op.issuer,
            "aud": rp.registration.client_id,
            "sub": SUB,
            "given_name": "Mario",
            "family_name": "Rossi",
            crate::FISCAL_NUMBER_CLAIM: format!("TINIT-{TAX_CODE}"),
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

    /// Signed with RS256 by the provider, encrypted to the RP's key.
    fn encrypted(op: &FakeOp, rp: &FakeRp, changes: Value, alg: &str, enc: &str, with_kid: bool) -> String {
        let signed = op.sign("RS256", &userinfo(op, rp, changes));
        op.encrypt(&signed, &rp.encryption.public_jwk(), alg, enc, with_kid)
    }

    fn check(op: &FakeOp, rp: &FakeRp, content_type: &str, body: &str) -> Result<Map<String, Value>, RpError> {
        userinfo_claims(
            &op.provider(),
            &rp.registration,
            std::slice::from_ref(&rp.encryption),
            SUB,
            content_type,
            body.as_bytes(),
        )
    }

    /// `token` with the first byte of part `index` flipped.
    fn flipped(token: &str, index: usize) -> String {
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut bytes = URL_SAFE_NO_PAD.decode(&parts[index]).unwrap();
        bytes[0] ^= 1;
        parts[index] = URL_SAFE_NO_PAD.encode(bytes);
        parts.join(".")
    }

    #[test]
    fn an_encrypted_signed_userinfo_opens_with_every_allowed_algorithm() {
        let op = FakeOp::new();
        let rp = op.federation_rp();
        for alg in JWE_ALGS {
            for enc in JWE_ENCS {
                for with_kid in [true, false] {
                    let token = encrypted(&op, &rp, json!({}), alg, enc, with_kid);
                    let header = decode_part(&token, 0);
                    assert_eq!(header["cty"], "JWT");
                    assert_eq!(header.get("kid").is_some(), with_kid);
                    for content_type in ["application/jwt", "application/jose; charset=UTF-8", "Application/JWT"] {
                        let claims = check(&op, &rp, content_type, &token)
                            .unwrap_or_else(|error| panic!("{alg} {enc} {with_kid} {content_type}: {error}"));
                        assert_eq!(claims["sub"], SUB);
                        assert_eq!(fiscal_number(&claims).unwrap().as_str(), TAX_CODE);
                    }
                }
            }
        }
    }

    #[test]
    fn the_key_is_chosen_by_kid_or_each_key_is_tried() {
        let op = FakeOp::new();
        let rp = op.federation_rp();
        let other = EncryptionKey::generate().unwrap();
        let keys = [other.clone(), rp.encryption.clone()];
        let check_with = |keys: &[EncryptionKey], token: &str| {
            userinfo_claims(
                &op.provider(),
                &rp.registration,
                keys,
                SUB,
                "application/jwt",
                token.as_bytes(),
            )
        };
        for with_kid in [true, false] {
            let token = encrypted(&op, &rp, json!({}), "RSA-OAEP", "A256CBC-HS512", with_kid);
            assert!(check_with(&keys, &token).is_ok(), "{with_kid}");
        }
        // Encrypted for another key: an unknown kid, or no key that opens it.
        let token = encrypted(&op, &rp, json!({}), "RSA-OAEP", "A256CBC-HS512", true);
        assert!(matches!(
            check_with(std::slice::from_ref(&other), &token),
            Err(RpError::UserinfoUnknownKey)
        ));
        let token = encrypted(&op, &rp, json!({}), "RSA-OAEP", "A256CBC-HS512", false);
        assert!(matches!(
            check_with(std::slice::from_ref(&other), &token),
            Err(RpError::UserinfoDecryption)
        ));
        assert!(matches!(check_with(&[], &token), Err(RpError::UserinfoUnknownKey)));
    }

    #[test]
    fn a_tampered_jwe_is_refused() {
        let op = FakeOp::new();
        let rp = op.federation_rp();
        let token = encrypted(&op, &rp, json!({}), "RSA-OAEP", "A256CBC-HS512", true);
        // Encrypted key, IV, ciphertext and tag.
        for index in 1..=4 {
            assert!(
                matches!(
                    check(&op, &rp, "application/jwt", &flipped(&token, index)),
                    Err(RpError::UserinfoDecryption)
                ),
                "part {index}"
            );
        }
        // The header is authenticated too: adding a member breaks the tag.
        let mut header = decode_part(&token, 0);
        header["typ"] = "JWT".into();
        let rest = token.split_once('.').unwrap().1;
        let rewritten = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header.to_string()));
        assert!(matches!(
            check(&op, &rp, "application/jwt", &rewritten),
            Err(RpError::UserinfoDecryption)
        ));
    }

    #[test]
    fn other_encryption_algorithms_and_compression_are_refused() {
        let op = FakeOp::new();
        let rp = op.federation_rp();
        let token = encrypted(&op, &rp, json!({}), "RSA-OAEP", "A256CBC-HS512", true);
        let rest = token.split_once('.').unwrap().1;
        for changes in [
            json!({"alg": "RSA1_5"}),
            json!({"alg": "dir"}),
            json!({"enc": "A256GCM"}),
            json!({"zip": "DEF"}),
        ] {
            let mut header = decode_part(&token, 0);
            for (name, value) in changes.as_object().unwrap() {
                header[name] = value.clone();
            }
            let rewritten = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header.to_string()));
            assert!(
                matches!(
                    check(&op, &rp, "application/jwt", &rewritten),
                    Err(RpError::UserinfoEncryptionAlg)
                ),
                "{changes}"
            );
        }
    }

    #[test]
    fn the_encrypted_content_must_be_signed_by_the_provider() {
        let op = FakeOp::new();
        let rp = op.federation_rp();
        // Signed by a stranger, then properly encrypted to the RP.
        let stranger = crate::SigningKey::generate(crate::Alg::Rs256).unwrap();
        let signed = stranger.sign(&userinfo(&op, &rp, json!({})), None).unwrap();
        let token = op.encrypt(&signed, &rp.encryption.public_jwk(), "RSA-OAEP", "A256CBC-HS512", true);
        assert!(matches!(
            check(&op, &rp, "application/jwt", &token),
            Err(RpError::UserinfoSignature(OidcError::UnknownKey))
        ));
        // Plain JSON encrypted (no signature inside).
        let plain = serde_json::to_string(&userinfo(&op, &rp, json!({}))).unwrap();
        let token = op.encrypt(&plain, &rp.encryption.public_jwk(), "RSA-OAEP", "A256CBC-HS512", true);
        assert!(matches!(
            check(&op, &rp, "application/jwt", &token),
            Err(RpError::UserinfoSignature(OidcError::MalformedJws))
        ));
    }

    #[test]
    fn the_userinfo_must_be_about_the_id_tokens_subject_from_this_provider_for_this_client() {
        let op = FakeOp::new();
        let rp = op.federation_rp();
        let refused = |changes: Value| {
            let token = encrypted(&op, &rp, changes, "RSA-OAEP", "A256CBC-HS512", true);
            check(&op, &rp, "application/jwt", &token).unwrap_err()
        };
        assert!(matches!(
            refused(json!({"sub": "someone-else"})),
            RpError::UserinfoSubject
        ));
        assert!(matches!(refused(json!({"sub": null})), RpError::UserinfoSubject));
        assert!(matches!(
            refused(json!({"iss": "https://evil.test"})),
            RpError::UserinfoIssuer
        ));
        assert!(matches!(
            refused(json!({"aud": "https://other-rp.test"})),
            RpError::UserinfoAudience
        ));
        // iss and aud may be absent.
        let token = encrypted(
            &op,
            &rp,
            json!({"iss": null, "aud": null}),
            "RSA-OAEP",
            "A256CBC-HS512",
            true,
        );
        assert!(check(&op, &rp, "application/jwt", &token).is_ok());
    }

    #[test]
    fn federation_mode_refuses_plain_or_only_signed_userinfo() {
        let op = FakeOp::new();
        let rp = op.federation_rp();
        let plain = serde_json::to_string(&userinfo(&op, &rp, json!({}))).unwrap();
        assert!(matches!(
            check(&op, &rp, "application/json", &plain),
            Err(RpError::UserinfoNotEncrypted)
        ));
        let signed = op.sign("RS256", &userinfo(&op, &rp, json!({})));
        assert!(matches!(
            check(&op, &rp, "application/jwt", &signed),
            Err(RpError::UserinfoNotEncrypted)
        ));
        assert!(matches!(
            check(&op, &rp, "text/html", &signed),
            Err(RpError::UserinfoContentType)
        ));
        assert!(matches!(
            check(&op, &rp, "application/jwt", "a.b.c.d"),
            Err(RpError::UserinfoMalformed)
        ));
    }

    #[test]
    fn static_mode_accepts_plain_json_and_signed_userinfo() {
        let op = FakeOp::new();
        let fed = op.federation_rp();
        let rp = FakeRp {
            registration: Registration::static_provider(fed.registration.client_id.clone(), "https://rp.test/cb"),
            signing: fed.signing.clone(),
            encryption: fed.encryption.clone(),
        };
        let plain = serde_json::to_string(&userinfo(&op, &rp, json!({}))).unwrap();
        assert_eq!(
            check(&op, &rp, "application/json; charset=utf-8", &plain).unwrap()["sub"],
            SUB
        );
        let signed = op.sign("ES256", &userinfo(&op, &rp, json!({})));
        assert_eq!(
            check(&op, &rp, "application/jwt", &signed).unwrap()["given_name"],
            "Mario"
        );
        assert!(matches!(
            check(&op, &rp, "application/jwt", &flipped(&signed, 1)),
            Err(RpError::UserinfoSignature(OidcError::BadSignature))
        ));
        let wrong_sub = serde_json::to_string(&userinfo(&op, &rp, json!({"sub": "x"}))).unwrap();
        assert!(matches!(
            check(&op, &rp, "application/json", &wrong_sub),
            Err(RpError::UserinfoSubject)
        ));
        assert!(matches!(
            check(&op, &rp, "application/json", "[1]"),
            Err(RpError::UserinfoMalformed)
        ));
    }
}
