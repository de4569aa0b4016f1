//! The OpenID Provider metadata served at `/.well-known/openid-configuration`
//! (OpenID Connect Discovery 1.0 §3, RFC 8414, RFC 9207).
//!
//! Invariant: the document advertises only what Varco does: the code flow
//! with PKCE S256, no request objects, back-channel (not front-channel)
//! logout; `issuer` is exactly the configured issuer and every endpoint sits
//! under it; RS256 is always among the ID token algorithms (Discovery §3
//! requires it, and Varco always keeps an RS256 key); no member is `null`.

use serde_json::{Map, Value, json};

use crate::{Alg, FISCAL_NUMBER_CLAIM, SCHOOL_CLAIM, STUDENTS_CLAIM};

/// What the discovery document depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discovery {
    /// The issuer identifier, exactly as it appears in `iss` (https, no query).
    pub issuer: String,
    /// The `acr` values Varco can assert; the member is left out when empty.
    pub acr_values: Vec<String>,
}

impl Discovery {
    /// Metadata for an issuer that asserts no particular `acr` values.
    #[must_use]
    pub fn new(issuer: impl Into<String>) -> Discovery {
        Discovery {
            issuer: issuer.into(),
            acr_values: Vec::new(),
        }
    }

    /// The discovery document. `alg_values` are the ID token algorithms with a
    /// published key; RS256 comes first whether listed or not.
    #[must_use]
    pub fn document(&self, alg_values: &[Alg]) -> Value {
        let base = self.issuer.trim_end_matches('/');
        let endpoint = |path: &str| Value::String(format!("{base}{path}"));
        let mut id_token_algs = vec![Alg::Rs256];
        for alg in alg_values {
            if !id_token_algs.contains(alg) {
                id_token_algs.push(*alg);
            }
        }
        let id_token_algs: Vec<&str> = id_token_algs.into_iter().map(Alg::as_str).collect();
        let auth_methods = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"];
        let auth_signing_algs = ["RS256", "ES256", "PS256"];

        let mut document = Map::new();
        let mut set = |name: &str, value: Value| {
            document.insert(name.to_owned(), value);
        };
        set("issuer", Value::String(self.issuer.clone()));
        set("authorization_endpoint", endpoint("/oauth2/authorize"));
        set("token_endpoint", endpoint("/oauth2/token"));
        set("userinfo_endpoint", endpoint("/oauth2/userinfo"));
        set("jwks_uri", endpoint("/oauth2/jwks"));
        set("revocation_endpoint", endpoint("/oauth2/revoke"));
        set("introspection_endpoint", endpoint("/oauth2/introspect"));
        set("end_session_endpoint", endpoint("/oauth2/logout"));
        set(
            "scopes_supported",
            json!([
                "openid",
                "profile",
                "email",
                "school",
                "fiscal_number",
                "students",
                "offline_access"
            ]),
        );
        set("response_types_supported", json!(["code"]));
        set("response_modes_supported", json!(["query"]));
        set("grant_types_supported", json!(["authorization_code", "refresh_token"]));
        set("code_challenge_methods_supported", json!(["S256"]));
        set("subject_types_supported", json!(["public", "pairwise"]));
        set("id_token_signing_alg_values_supported", json!(id_token_algs));
        set("token_endpoint_auth_methods_supported", json!(auth_methods));
        set(
            "token_endpoint_auth_signing_alg_values_supported",
            json!(auth_signing_algs),
        );
        set("revocation_endpoint_auth_methods_supported", json!(auth_methods));
        set(
            "revocation_endpoint_auth_signing_alg_values_supported",
            json!(auth_signing_algs),
        );
        set("introspection_endpoint_auth_methods_supported", json!(auth_methods));
        set(
            "introspection_endpoint_auth_signing_alg_values_supported",
            json!(auth_signing_algs),
        );
        set(
            "claims_supported",
            json!([
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "acr",
                "amr",
                "azp",
                "sid",
                "at_hash",
                "name",
                "given_name",
                "family_name",
                "preferred_username",
                "locale",
                "email",
                "email_verified",
                FISCAL_NUMBER_CLAIM,
                SCHOOL_CLAIM,
                STUDENTS_CLAIM,
            ]),
        );
        set("claim_types_supported", json!(["normal"]));
        set("prompt_values_supported", json!(["none", "login", "consent"]));
        if !self.acr_values.is_empty() {
            set("acr_values_supported", json!(self.acr_values));
        }
        set("ui_locales_supported", json!(["it", "en"]));
        set("claims_parameter_supported", Value::Bool(false));
        set("request_parameter_supported", Value::Bool(false));
        set("request_uri_parameter_supported", Value::Bool(false));
        set("authorization_response_iss_parameter_supported", Value::Bool(true));
        set("backchannel_logout_supported", Value::Bool(true));
        set("backchannel_logout_session_supported", Value::Bool(true));
        set("frontchannel_logout_supported", Value::Bool(false));
        Value::Object(document)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://id.school.test";

    #[test]
    fn the_document_holds_the_required_members() {
        let document = Discovery::new(ISSUER).document(&[Alg::Rs256, Alg::Es256]);
        assert_eq!(document["issuer"], ISSUER);
        // OpenID Connect Discovery 1.0 §3: the REQUIRED members.
        for member in [
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "jwks_uri",
            "response_types_supported",
            "subject_types_supported",
            "id_token_signing_alg_values_supported",
        ] {
            assert!(document.get(member).is_some(), "{member}");
        }
        assert_eq!(document["response_types_supported"], json!(["code"]));
        assert_eq!(document["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(
            document["id_token_signing_alg_values_supported"],
            json!(["RS256", "ES256"])
        );
        assert_eq!(
            document["grant_types_supported"],
            json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(
            document["authorization_endpoint"],
            "https://id.school.test/oauth2/authorize"
        );
        assert_eq!(document["end_session_endpoint"], "https://id.school.test/oauth2/logout");
        assert_eq!(document["jwks_uri"], "https://id.school.test/oauth2/jwks");
        assert_eq!(document["authorization_response_iss_parameter_supported"], true);
        assert_eq!(document["backchannel_logout_session_supported"], true);
        assert_eq!(document["frontchannel_logout_supported"], false);
        assert_eq!(document["request_parameter_supported"], false);
        let claims = document["claims_supported"].as_array().unwrap();
        assert!(claims.contains(&json!(FISCAL_NUMBER_CLAIM)) && claims.contains(&json!("sid")));
        assert!(claims.contains(&json!(STUDENTS_CLAIM)));
        assert!(
            document["scopes_supported"]
                .as_array()
                .unwrap()
                .contains(&json!("students"))
        );
        assert!(
            document.get("acr_values_supported").is_none(),
            "no empty or null member"
        );
        assert!(document.as_object().unwrap().values().all(|value| !value.is_null()));
    }

    #[test]
    fn rs256_is_always_listed_first() {
        let document = Discovery::new(ISSUER).document(&[Alg::Es256]);
        assert_eq!(
            document["id_token_signing_alg_values_supported"],
            json!(["RS256", "ES256"])
        );
        let document = Discovery::new(ISSUER).document(&[]);
        assert_eq!(document["id_token_signing_alg_values_supported"], json!(["RS256"]));
    }

    #[test]
    fn the_issuer_is_kept_exactly_and_endpoints_sit_under_it() {
        let issuer = "https://school.test/varco/";
        let mut discovery = Discovery::new(issuer);
        discovery.acr_values = vec!["urn:varco:acr:pin".into()];
        let document = discovery.document(&[Alg::Rs256]);
        assert_eq!(document["issuer"], issuer);
        assert_eq!(document["token_endpoint"], "https://school.test/varco/oauth2/token");
        assert_eq!(document["acr_values_supported"], json!(["urn:varco:acr:pin"]));
    }
}
