//! Varco in the SPID/CIE federation: its signed entity configuration at
//! `/.well-known/openid-federation` (keys, metadata, rotation), and the
//! resolution of a provider's trust chain against a synthetic federation
//! served over HTTP on 127.0.0.1 by the test itself.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use axum::http::{StatusCode as AxumStatus, Uri, header};
use axum::response::IntoResponse;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};
use varco::config::{FederationConfig, TrustAnchorConfig, TrustMarkConfig};
use varco_app::Actor;
use varco_app::federation::{FederationServiceError, HttpFetcher, resolve_provider};
use varco_federation::{FederationError, FederationKey, KeyUse, UnverifiedStatement, fetch_url, well_known_url};

use crate::harness::{Backend, Options, T0, TestApp, both_backends};

both_backends!(
    the_entity_configuration_is_signed_and_keeps_rotated_keys,
    without_federation_there_is_no_entity_configuration,
    trust_chains_resolve_to_providers_or_are_refused,
);

#[tokio::test]
async fn a_bad_federation_section_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut federation = federation_config("https://ta.example.it");
    federation.trust_anchors[0].jwks = Some("{\"keys\": []}".into());
    let config = varco::config::Config {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".into(),
        federation: Some(federation),
        ..varco::config::Config::default()
    };
    let clock = Arc::new(varco_domain::clock::FixedClock::new(varco_domain::clock::Timestamp(T0)));
    let error = match varco::server::start_with_clock(&config, clock).await {
        Ok(_) => panic!("a trust anchor without keys must stop the start"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("federation.trust_anchors[0]"), "{error}");
    assert!(config.check().is_err(), "varco check says so too");
}

pub(crate) const TM_RP: &str = "https://ta.example.it/openid_relying_party/public";
pub(crate) const TM_OP: &str = "https://ta.example.it/openid_provider/public";

pub(crate) struct Keys {
    pub(crate) ta: FederationKey,
    pub(crate) op: FederationKey,
    pub(crate) op_core: FederationKey,
}

/// RSA keys are slow to make in debug builds: one set for all tests.
pub(crate) fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        ta: FederationKey::generate_rsa(KeyUse::Sig).unwrap(),
        op: FederationKey::generate_rsa(KeyUse::Sig).unwrap(),
        op_core: FederationKey::generate_rsa(KeyUse::Sig).unwrap(),
    })
}

pub(crate) fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => panic!("not an object"),
    }
}

pub(crate) fn trust_mark(iss: &str, sub: &str, id: &str) -> String {
    let claims = object(json!({
        "iss": iss, "sub": sub, "iat": T0 - 1000,
        "trust_mark_type": id, "trust_mark_id": id,
    }));
    keys().ta.sign(&claims, "trust-mark+jwt").unwrap()
}

pub(crate) fn federation_config(anchor: &str) -> FederationConfig {
    FederationConfig {
        organization_name: "IC Roma 1".into(),
        contacts: vec!["ic-roma1@pec.example.it".into()],
        authority_hints: vec![anchor.to_owned()],
        trust_anchors: vec![TrustAnchorConfig {
            entity_id: anchor.to_owned(),
            jwks: Some(json!({ "keys": [keys().ta.public_jwk()] }).to_string()),
            jwks_file: None,
        }],
        ..FederationConfig::default()
    }
}

/// The entity configuration as served, verified with its own keys.
async fn fetch_configuration(t: &TestApp, entity_id: &str) -> (varco_federation::EntityStatement, String) {
    let response = t
        .client
        .get(t.url("/.well-known/openid-federation"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[reqwest::header::CONTENT_TYPE],
        "application/entity-statement+jwt"
    );
    let jwt = response.text().await.unwrap();
    let statement = UnverifiedStatement::parse(&jwt)
        .unwrap()
        .verify_self_signed(entity_id, t.app().now().0, 0)
        .expect("signed by a key it publishes");
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            jwt.split('.').next().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    (statement, header["kid"].as_str().unwrap().to_owned())
}

fn kids(keys: &[Value], key_use: &str) -> Vec<String> {
    keys.iter()
        .filter(|k| k["use"] == key_use)
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

async fn the_entity_configuration_is_signed_and_keeps_rotated_keys(backend: Backend) {
    let anchor = "http://127.0.0.1:9/ta";
    let mark = trust_mark(anchor, "http://127.0.0.1:9/varco", TM_RP);
    let options = Options {
        tweak: Box::new(move |config| {
            let mut federation = federation_config(anchor);
            federation.entity_id = "http://127.0.0.1:9/varco".into();
            federation.trust_marks = vec![TrustMarkConfig {
                id: TM_RP.into(),
                trust_mark: mark,
            }];
            config.federation = Some(federation);
        }),
        ..Options::default()
    };
    let Some(t) = TestApp::spawn_with(backend, options).await else {
        return;
    };
    let entity_id = "http://127.0.0.1:9/varco";
    // Concurrent first uses make one key of each kind.
    let firsts: Vec<_> = (0..4)
        .map(|_| {
            let app = t.app().clone();
            tokio::spawn(async move {
                app.federation_keys()
                    .current(&app)
                    .await
                    .unwrap()
                    .federation
                    .kid()
                    .to_owned()
            })
        })
        .collect();
    let mut first_kids = Vec::new();
    for first in firsts {
        first_kids.push(first.await.unwrap());
    }
    first_kids.dedup();
    assert_eq!(first_kids.len(), 1, "one federation key: {first_kids:?}");
    let (statement, signed_by) = fetch_configuration(&t, entity_id).await;
    assert_eq!(statement.expires_at() - statement.issued_at(), 24 * 3600);
    assert_eq!(statement.authority_hints(), [anchor.to_owned()]);
    assert_eq!(statement.trust_marks().len(), 1);
    assert_eq!(statement.trust_marks()[0].id.as_deref(), Some(TM_RP));
    let federation_kids: Vec<String> = statement
        .jwks()
        .keys()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(federation_kids, std::slice::from_ref(&signed_by));

    let rp = statement.metadata_of("openid_relying_party").expect("RP metadata");
    assert_eq!(rp["client_id"], entity_id);
    assert_eq!(rp["client_registration_types"], json!(["automatic"]));
    assert_eq!(rp["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(rp["response_types"], json!(["code"]));
    assert_eq!(rp["userinfo_encrypted_response_alg"], "RSA-OAEP");
    assert_eq!(rp["userinfo_encrypted_response_enc"], "A256CBC-HS512");
    let callback = format!("{}/login/upstream/callback", t.app().settings.public_url);
    assert_eq!(rp["redirect_uris"], json!([callback]));
    let rp_keys = rp["jwks"]["keys"].as_array().unwrap().clone();
    assert_eq!(rp_keys.len(), 2);
    let (sig, enc) = (kids(&rp_keys, "sig"), kids(&rp_keys, "enc"));
    assert_eq!((sig.len(), enc.len()), (1, 1), "one core key of each use: {rp_keys:?}");
    assert!(rp_keys.iter().all(|k| k.get("d").is_none() && k.get("p").is_none()));
    assert!(
        !federation_kids.contains(&sig[0]),
        "the federation key is not a core key"
    );
    let organisation = statement.metadata_of("federation_entity").unwrap();
    assert_eq!(organisation["organization_name"], "IC Roma 1");
    assert_eq!(organisation["contacts"], json!(["ic-roma1@pec.example.it"]));

    // The app hands out the same keys it publishes.
    let current = t.app().federation_keys().current(t.app()).await.unwrap();
    assert_eq!(current.federation.kid(), signed_by);
    assert_eq!(current.signing.kid(), sig[0]);
    assert_eq!(current.encryption.kid(), enc[0]);

    // Rotation: new keys sign, the old ones stay published.
    let new_kids = varco_app::clients::rotate_signing_keys(t.app(), &Actor::Cli)
        .await
        .unwrap();
    let (after, signed_by_after) = fetch_configuration(&t, entity_id).await;
    assert_ne!(signed_by_after, signed_by);
    assert!(
        new_kids.contains(&signed_by_after),
        "signed with the new federation key"
    );
    let published: Vec<String> = after
        .jwks()
        .keys()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert!(published.contains(&signed_by) && published.contains(&signed_by_after));
    let rp_keys = after.metadata_of("openid_relying_party").unwrap()["jwks"]["keys"]
        .as_array()
        .unwrap()
        .clone();
    let (sig_after, enc_after) = (kids(&rp_keys, "sig"), kids(&rp_keys, "enc"));
    assert_eq!((sig_after.len(), enc_after.len()), (2, 2));
    assert!(sig_after.contains(&sig[0]) && enc_after.contains(&enc[0]));
    let current = t.app().federation_keys().current(t.app()).await.unwrap();
    assert!(new_kids.contains(&current.signing.kid().to_owned()));
    assert!(new_kids.contains(&current.encryption.kid().to_owned()));
    let decryption: Vec<&str> = current.decryption.iter().map(|k| k.kid()).collect();
    assert_eq!(decryption, [current.encryption.kid(), enc[0].as_str()]);

    // After the overlap only the new keys are left.
    t.clock.advance(t.app().settings.provider.retired_key_secs + 1);
    t.app().federation_keys().forget().await;
    let (late, _) = fetch_configuration(&t, entity_id).await;
    assert_eq!(late.jwks().keys().len(), 1);
    t.stop().await;
}

async fn without_federation_there_is_no_entity_configuration(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let response = t
        .client
        .get(t.url("/.well-known/openid-federation"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    t.stop().await;
}

/// Documents served by the synthetic federation, by path and query.
pub(crate) type Documents = Arc<RwLock<HashMap<String, String>>>;

async fn serve(documents: Documents) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = documents_router(documents);
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });
    base
}

/// A router answering every request with the document stored under its
/// path and query (404 for others), to merge with other routes.
pub(crate) fn documents_router(documents: Documents) -> axum::Router {
    axum::Router::new().fallback(move |uri: Uri| {
        let documents = documents.clone();
        async move {
            let found = documents.read().unwrap().get(&uri.to_string()).cloned();
            match found {
                Some(body) => ([(header::CONTENT_TYPE, "application/entity-statement+jwt")], body).into_response(),
                None => AxumStatus::NOT_FOUND.into_response(),
            }
        }
    })
}

pub(crate) fn sign(claims: Value, key: &FederationKey) -> String {
    key.sign(&object(claims), "entity-statement+jwt").unwrap()
}

async fn trust_chains_resolve_to_providers_or_are_refused(backend: Backend) {
    let documents: Documents = Arc::default();
    let base = serve(documents.clone()).await;
    let ta = format!("{base}/ta");
    let k = keys();
    let path = |url: &str| url.strip_prefix(&base).unwrap().to_owned();
    let fetch_endpoint = format!("{ta}/fetch");
    let op_configuration = |op: &str, exp: i64| {
        json!({
            "iss": op, "sub": op, "iat": T0 - 100, "exp": exp,
            "jwks": { "keys": [k.op.public_jwk()] },
            "authority_hints": [ta],
            "metadata": { "openid_provider": {
                "issuer": op,
                "authorization_endpoint": format!("{op}/authorization"),
                "token_endpoint": format!("{op}/token"),
                "userinfo_endpoint": format!("{op}/userinfo"),
                "jwks": { "keys": [k.op_core.public_jwk()] },
            }},
            "trust_marks": [{ "trust_mark_type": TM_OP, "trust_mark": trust_mark(&ta, op, TM_OP) }],
        })
    };
    {
        let mut docs = documents.write().unwrap();
        docs.insert(
            path(&well_known_url(&ta)),
            sign(
                json!({
                    "iss": ta, "sub": ta, "iat": T0 - 100, "exp": T0 + 86_400,
                    "jwks": { "keys": [k.ta.public_jwk()] },
                    "metadata": { "federation_entity": {
                        "organization_name": "TA", "federation_fetch_endpoint": fetch_endpoint,
                    }},
                    "trust_mark_issuers": { TM_OP: [ta] },
                }),
                &k.ta,
            ),
        );
        for (name, exp) in [("op", T0 + 7200), ("orphan", T0 + 7200), ("expired", T0 - 3600)] {
            let op = format!("{base}/{name}");
            docs.insert(path(&well_known_url(&op)), sign(op_configuration(&op, exp), &k.op));
            if name != "orphan" {
                docs.insert(
                    path(&fetch_url(&fetch_endpoint, &op)),
                    sign(
                        json!({
                            "iss": ta, "sub": op, "iat": T0 - 100, "exp": T0 + 3600,
                            "jwks": { "keys": [k.op.public_jwk()] },
                        }),
                        &k.ta,
                    ),
                );
            }
        }
    }
    let anchor = ta.clone();
    let options = Options {
        tweak: Box::new(move |config| config.federation = Some(federation_config(&anchor))),
        ..Options::default()
    };
    let Some(t) = TestApp::spawn_with(backend, options).await else {
        return;
    };
    let fetcher = HttpFetcher::new(Duration::from_secs(5)).unwrap();
    let op = format!("{base}/op");

    // A good chain: the provider with its inline keys, until the chain expires.
    let (provider, until) = resolve_provider(t.app(), &fetcher, &op, &ta, Some(TM_OP), true)
        .await
        .expect("a good chain resolves");
    assert_eq!(provider.issuer, op);
    assert_eq!(provider.token_endpoint, format!("{op}/token"));
    assert_eq!(provider.jwks, vec![k.op_core.public_jwk()]);
    assert!(provider.iss_in_callback, "CIE always sends iss");
    assert_eq!(until, T0 + 3600, "the subordinate statement expires first");
    // Cached: resolved again without the network.
    documents.write().unwrap().remove(&path(&well_known_url(&op)));
    let (again, _) = resolve_provider(t.app(), &fetcher, &op, &ta, Some(TM_OP), true)
        .await
        .expect("cached");
    assert!(Arc::ptr_eq(&provider, &again));

    // An OP the trust anchor has no statement about.
    let orphan = format!("{base}/orphan");
    let refused = resolve_provider(t.app(), &fetcher, &orphan, &ta, None, false).await;
    assert!(
        matches!(refused, Err(FederationServiceError::Chain { .. })),
        "{refused:?}"
    );

    // An expired entity configuration.
    let expired = format!("{base}/expired");
    let refused = resolve_provider(t.app(), &fetcher, &expired, &ta, None, false).await;
    assert!(
        matches!(
            refused,
            Err(FederationServiceError::Chain {
                source: FederationError::Expired { .. },
                ..
            })
        ),
        "{refused:?}"
    );

    // A trust mark the configuration requires and the OP lacks.
    documents.write().unwrap().insert(
        path(&well_known_url(&op)),
        sign(op_configuration(&op, T0 + 7200), &k.op),
    );
    let refused = resolve_provider(t.app(), &fetcher, &op, &ta, Some("https://ta.example.it/other"), false).await;
    assert!(
        matches!(
            refused,
            Err(FederationServiceError::Chain {
                source: FederationError::MissingTrustMark { .. },
                ..
            })
        ),
        "{refused:?}"
    );

    // A trust anchor that is not configured.
    let refused = resolve_provider(t.app(), &fetcher, &op, "https://other.example.it", None, false).await;
    assert!(
        matches!(refused, Err(FederationServiceError::UnknownTrustAnchor(_))),
        "{refused:?}"
    );

    // Only https, or http to loopback, is fetched.
    assert!(varco_app::federation::fetchable("https://op.example.it"));
    assert!(varco_app::federation::fetchable("http://127.0.0.1:8000/op"));
    assert!(!varco_app::federation::fetchable("http://op.example.it"));
    assert!(!varco_app::federation::fetchable("file:///etc/passwd"));
    t.stop().await;
}
