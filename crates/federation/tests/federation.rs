//! A synthetic SPID/CIE-like federation, built from keys generated here: a
//! trust anchor, an intermediate, an OP leaf (and, for the failure cases,
//! an unknown trust anchor and a second intermediate), served by an
//! in-memory fetcher. Each test changes one thing and checks the exact error.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use varco_federation::{
    EntityConfiguration, FederationError, FederationKey, FetchError, Fetcher, Jwks, KeyAlg, KeyUse, OPENID_PROVIDER,
    TrustAnchor, TrustChain, TrustChainResolver, TrustMarkEntry, UnverifiedStatement, UnverifiedTrustMark,
    build_entity_configuration, fetch_url, thumbprint, well_known_url,
};

const NOW: i64 = 1_790_000_000;
const TA: &str = "https://ta.example.it";
const SA: &str = "https://sa.example.it";
const SA2: &str = "https://sa2.example.it";
const OP: &str = "https://op.example.it/oidc/op";
const OTHER_TA: &str = "https://other-ta.example.it";
const RP: &str = "https://varco.scuola.example.it";
const TM_PUBLIC: &str = "https://ta.example.it/openid_provider/public";
const TM_PRIVATE: &str = "https://ta.example.it/openid_provider/private";

const L1: &str = "https://www.spid.gov.it/SpidL1";
const L2: &str = "https://www.spid.gov.it/SpidL2";
const L3: &str = "https://www.spid.gov.it/SpidL3";

/// Runs a future that never waits (the in-memory fetcher answers at once).
fn block_on<T>(future: impl Future<Output = T>) -> T {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("the in-memory fetcher never waits"),
    }
}

/// Keys are slow to make in debug builds: one set for all tests.
struct Keys {
    ta: FederationKey,
    sa: FederationKey,
    sa2: FederationKey,
    op: FederationKey,
    op_core: FederationKey,
    other_ta: FederationKey,
    intruder: FederationKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        ta: FederationKey::generate_rsa(KeyUse::Sig).unwrap(),
        sa: FederationKey::generate_signing(KeyAlg::Es256).unwrap(),
        sa2: FederationKey::generate_signing(KeyAlg::Ps256).unwrap(),
        op: FederationKey::generate_signing(KeyAlg::Rs512).unwrap(),
        op_core: FederationKey::generate_rsa(KeyUse::Sig).unwrap(),
        other_ta: FederationKey::generate_rsa(KeyUse::Sig).unwrap(),
        intruder: FederationKey::generate_rsa(KeyUse::Sig).unwrap(),
    })
}

fn jwks_of(key: &FederationKey) -> Value {
    json!({ "keys": [key.public_jwk()] })
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => panic!("not an object"),
    }
}

/// The unsigned documents of the federation, which tests change before
/// [`Federation::fetcher`] signs and serves them.
struct Federation {
    ta_ec: Value,
    sa_ec: Value,
    op_ec: Value,
    ta_about_sa: Value,
    sa_about_op: Value,
    /// Extra documents: URL → (claims, signing key, typ).
    extra: Vec<(String, Value, &'static FederationKey)>,
    /// Who signs the statement about the OP (normally the intermediate).
    sa_about_op_signer: &'static FederationKey,
    /// Who signs the trust anchor's configuration.
    ta_ec_signer: &'static FederationKey,
}

fn federation_entity(entity: &str) -> Value {
    json!({
        "organization_name": entity,
        "homepage_uri": entity,
        "federation_fetch_endpoint": format!("{entity}/fetch"),
        "federation_resolve_endpoint": format!("{entity}/resolve"),
    })
}

fn trust_mark(issuer: &FederationKey, iss: &str, sub: &str, id: &str) -> String {
    let claims = object(json!({
        "iss": iss, "sub": sub, "iat": NOW - 1000,
        "trust_mark_type": id, "trust_mark_id": id,
        "organization_type": "public", "ref": "https://registry.example.it/ref",
    }));
    issuer.sign(&claims, "trust-mark+jwt").unwrap()
}

impl Federation {
    fn new() -> Federation {
        let k = keys();
        Federation {
            ta_ec: json!({
                "iss": TA, "sub": TA, "iat": NOW - 100, "exp": NOW + 86_400,
                "jwks": jwks_of(&k.ta),
                "metadata": { "federation_entity": federation_entity(TA) },
                "trust_mark_issuers": {
                    TM_PUBLIC: [TA],
                    TM_PRIVATE: [SA],
                },
            }),
            sa_ec: json!({
                "iss": SA, "sub": SA, "iat": NOW - 100, "exp": NOW + 86_400,
                "jwks": jwks_of(&k.sa),
                "metadata": { "federation_entity": federation_entity(SA) },
                "authority_hints": [TA],
            }),
            op_ec: json!({
                "iss": OP, "sub": OP, "iat": NOW - 100, "exp": NOW + 172_800,
                "jwks": jwks_of(&k.op),
                "authority_hints": [SA],
                "metadata": {
                    "federation_entity": { "organization_name": "OP" },
                    "openid_provider": {
                        "issuer": OP,
                        "authorization_endpoint": format!("{OP}/authorization"),
                        "token_endpoint": format!("{OP}/token"),
                        "jwks": jwks_of(&k.op_core),
                        "acr_values_supported": [L1, L2, L3, "https://acr.example/other"],
                        "id_token_signing_alg_values_supported": ["RS256", "RS512"],
                        "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
                        "token_endpoint_auth_signing_alg": "RS512",
                        "userinfo_encryption_alg_values_supported": ["RSA-OAEP", "RSA1_5"],
                        "contacts": ["ops@op.example.it"],
                    },
                },
                "trust_marks": [
                    { "trust_mark_type": TM_PUBLIC, "trust_mark": trust_mark(&k.ta, TA, OP, TM_PUBLIC) },
                ],
            }),
            ta_about_sa: json!({
                "iss": TA, "sub": SA, "iat": NOW - 100, "exp": NOW + 43_200,
                "jwks": jwks_of(&k.sa),
                "source_endpoint": format!("{TA}/fetch"),
                "metadata_policy": {
                    "openid_provider": {
                        "token_endpoint_auth_methods_supported": { "value": ["private_key_jwt"] },
                        "contacts": { "add": ["ops@ta.example.it"] },
                        "acr_values_supported": { "subset_of": [L1, L2, L3] },
                        "id_token_signing_alg_values_supported": { "superset_of": ["RS256"] },
                        "subject_types_supported": { "default": ["pairwise"] },
                        "jwks": { "essential": true },
                    },
                    "openid_relying_party": { "contacts": { "add": ["not-for-ops@ta.example.it"] } },
                },
            }),
            sa_about_op: json!({
                "iss": SA, "sub": OP, "iat": NOW - 100, "exp": NOW + 3_600,
                "jwks": jwks_of(&k.op),
                "metadata_policy": {
                    "openid_provider": {
                        "contacts": { "add": ["ops@sa.example.it"] },
                        "token_endpoint_auth_signing_alg": { "one_of": ["RS256", "RS512"] },
                        "userinfo_encryption_alg_values_supported": { "subset_of": ["RSA-OAEP", "RSA-OAEP-256"] },
                    },
                },
            }),
            extra: Vec::new(),
            sa_about_op_signer: &k.sa,
            ta_ec_signer: &k.ta,
        }
    }

    fn fetcher(&self) -> MemoryFetcher {
        let k = keys();
        let sign =
            |claims: &Value, key: &FederationKey| key.sign(&object(claims.clone()), "entity-statement+jwt").unwrap();
        let mut documents = HashMap::new();
        documents.insert(well_known_url(TA), sign(&self.ta_ec, self.ta_ec_signer));
        documents.insert(well_known_url(SA), sign(&self.sa_ec, &k.sa));
        documents.insert(well_known_url(OP), sign(&self.op_ec, &k.op));
        documents.insert(fetch_url(&format!("{TA}/fetch"), SA), sign(&self.ta_about_sa, &k.ta));
        documents.insert(
            fetch_url(&format!("{SA}/fetch"), OP),
            sign(&self.sa_about_op, self.sa_about_op_signer),
        );
        for (url, claims, key) in &self.extra {
            documents.insert(url.clone(), sign(claims, key));
        }
        MemoryFetcher {
            documents,
            requested: Mutex::new(Vec::new()),
        }
    }

    fn resolve(&self) -> Result<TrustChain, FederationError> {
        resolve_with(&self.fetcher(), |resolver| resolver)
    }
}

fn trust_anchor() -> TrustAnchor {
    TrustAnchor::new(TA, Jwks::new([keys().ta.public_jwk()])).unwrap()
}

fn resolve_with(
    fetcher: &MemoryFetcher,
    configure: impl for<'a> FnOnce(TrustChainResolver<'a, MemoryFetcher>) -> TrustChainResolver<'a, MemoryFetcher>,
) -> Result<TrustChain, FederationError> {
    let anchor = trust_anchor();
    let resolver = configure(TrustChainResolver::new(fetcher, &anchor));
    block_on(resolver.resolve(OP, OPENID_PROVIDER, NOW))
}

struct MemoryFetcher {
    documents: HashMap<String, String>,
    requested: Mutex<Vec<String>>,
}

impl Fetcher for MemoryFetcher {
    fn fetch(&self, url: &str) -> impl Future<Output = Result<String, FetchError>> + Send {
        self.requested.lock().unwrap().push(url.to_owned());
        std::future::ready(
            self.documents
                .get(url)
                .cloned()
                .ok_or(FetchError::Status { status: 404 }),
        )
    }
}

/// The token with its payload changed (one claim rewritten), signature kept.
fn tampered(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["exp"] = json!(NOW + 10 * 365 * 86_400);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

// ---------------------------------------------------------------- success

#[test]
fn a_good_chain_resolves_with_the_policies_applied() {
    let federation = Federation::new();
    let fetcher = federation.fetcher();
    let chain = resolve_with(&fetcher, |resolver| resolver.require_trust_mark(TM_PUBLIC)).unwrap();

    assert_eq!(chain.subject(), OP);
    assert_eq!(chain.trust_anchor(), TA);
    let issuers: Vec<(&str, &str)> = chain.statements().iter().map(|s| (s.issuer(), s.subject())).collect();
    assert_eq!(issuers, [(OP, OP), (SA, OP), (TA, SA), (TA, TA)]);
    assert_eq!(chain.intermediate_configurations()[0].subject(), SA);
    assert_eq!(chain.jwts().len(), 4);
    // The earliest exp: the intermediate's statement about the OP.
    assert_eq!(chain.expires_at(), NOW + 3_600);

    let metadata = chain.metadata();
    // value
    assert_eq!(
        metadata["token_endpoint_auth_methods_supported"],
        json!(["private_key_jwt"])
    );
    // add, from both superiors, after the OP's own
    assert_eq!(
        metadata["contacts"],
        json!(["ops@op.example.it", "ops@ta.example.it", "ops@sa.example.it"])
    );
    // subset_of, from both superiors
    assert_eq!(metadata["acr_values_supported"], json!([L1, L2, L3]));
    assert_eq!(
        metadata["userinfo_encryption_alg_values_supported"],
        json!(["RSA-OAEP"])
    );
    // default
    assert_eq!(metadata["subject_types_supported"], json!(["pairwise"]));
    // one_of and superset_of pass, leaving the values as they were
    assert_eq!(metadata["token_endpoint_auth_signing_alg"], "RS512");
    assert_eq!(
        metadata["id_token_signing_alg_values_supported"],
        json!(["RS256", "RS512"])
    );
    // The OP's inline keys are there, and only those.
    let jwks = chain.metadata_jwks().unwrap();
    assert!(jwks.contains_kid(keys().op_core.kid()));
    assert!(!jwks.contains_kid(keys().op.kid()));

    assert_eq!(chain.trust_marks().len(), 1);
    let mark = chain.require_trust_mark(TM_PUBLIC).unwrap();
    assert_eq!((mark.issuer(), mark.subject(), mark.expires_at()), (TA, OP, None));
    assert_eq!(mark.claims()["organization_type"], "public");

    // The fetches: the OP, its superior and its statement, the trust anchor and its statement.
    let requested = fetcher.requested.lock().unwrap().clone();
    assert_eq!(
        requested,
        [
            "https://op.example.it/oidc/op/.well-known/openid-federation",
            "https://sa.example.it/.well-known/openid-federation",
            "https://sa.example.it/fetch?sub=https%3A%2F%2Fop.example.it%2Foidc%2Fop",
            "https://ta.example.it/.well-known/openid-federation",
            "https://ta.example.it/fetch?sub=https%3A%2F%2Fsa.example.it",
        ]
    );
}

#[test]
fn an_op_directly_under_the_trust_anchor_resolves() {
    let mut federation = Federation::new();
    federation.op_ec["authority_hints"] = json!([TA]);
    let mut about_op = federation.sa_about_op.clone();
    about_op["iss"] = json!(TA);
    about_op["exp"] = json!(NOW + 7_200);
    federation
        .extra
        .push((fetch_url(&format!("{TA}/fetch"), OP), about_op, &keys().ta));
    let chain = federation.resolve().unwrap();
    let issuers: Vec<&str> = chain.statements().iter().map(|s| s.issuer()).collect();
    assert_eq!(issuers, [OP, TA, TA]);
    assert!(chain.intermediate_configurations().is_empty());
    assert_eq!(chain.expires_at(), NOW + 7_200);
    // Only this statement's policy: no value on the auth methods now.
    assert_eq!(
        chain.metadata()["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn the_trust_anchor_hint_is_tried_first() {
    let mut federation = Federation::new();
    federation.op_ec["authority_hints"] = json!([SA, TA]);
    let mut about_op = federation.sa_about_op.clone();
    about_op["iss"] = json!(TA);
    federation
        .extra
        .push((fetch_url(&format!("{TA}/fetch"), OP), about_op, &keys().ta));
    let fetcher = federation.fetcher();
    let chain = resolve_with(&fetcher, |resolver| resolver).unwrap();
    assert_eq!(chain.statements()[1].issuer(), TA);
    assert!(!fetcher.requested.lock().unwrap().contains(&well_known_url(SA)));
}

#[test]
fn a_dead_authority_hint_is_skipped() {
    let mut federation = Federation::new();
    // A first hint that leads nowhere (404), then the intermediate.
    federation.op_ec["authority_hints"] = json!(["https://gone.example.it", SA]);
    let chain = federation.resolve().unwrap();
    assert_eq!(chain.statements()[1].issuer(), SA);
}

#[test]
fn the_resolve_future_is_send() {
    fn send<T: Send>(_: &T) {}
    let fetcher = Federation::new().fetcher();
    let anchor = trust_anchor();
    let resolver = TrustChainResolver::new(&fetcher, &anchor);
    let future = resolver.resolve(OP, OPENID_PROVIDER, NOW);
    send(&future);
    assert!(block_on(future).is_ok());
}

// ---------------------------------------------------------------- the chain refused

#[test]
fn an_op_under_an_unknown_trust_anchor_is_refused() {
    let k = keys();
    let mut federation = Federation::new();
    federation.op_ec["authority_hints"] = json!([OTHER_TA]);
    federation.extra.push((
        well_known_url(OTHER_TA),
        json!({
            "iss": OTHER_TA, "sub": OTHER_TA, "iat": NOW, "exp": NOW + 3600,
            "jwks": jwks_of(&k.other_ta),
            "metadata": { "federation_entity": federation_entity(OTHER_TA) },
        }),
        &k.other_ta,
    ));
    let mut about_op = federation.sa_about_op.clone();
    about_op["iss"] = json!(OTHER_TA);
    federation
        .extra
        .push((fetch_url(&format!("{OTHER_TA}/fetch"), OP), about_op, &k.other_ta));
    match federation.resolve() {
        Err(FederationError::NotTheTrustAnchor { entity, trust_anchor }) => {
            assert_eq!((entity.as_str(), trust_anchor.as_str()), (OTHER_TA, TA));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_op_the_trust_anchor_does_not_know_is_refused() {
    let mut federation = Federation::new();
    // It claims the trust anchor as its superior; the trust anchor's fetch answers 404.
    federation.op_ec["authority_hints"] = json!([TA]);
    match federation.resolve() {
        Err(FederationError::Fetch { url, source }) => {
            assert_eq!(url, fetch_url(&format!("{TA}/fetch"), OP));
            assert_eq!(source, FetchError::Status { status: 404 });
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_op_without_authority_hints_is_refused() {
    let mut federation = Federation::new();
    federation.op_ec["authority_hints"] = json!([]);
    assert!(matches!(
        federation.resolve(),
        Err(FederationError::NotTheTrustAnchor { entity, .. }) if entity == OP
    ));
}

#[test]
fn an_expired_entity_configuration_is_refused() {
    let mut federation = Federation::new();
    federation.op_ec["exp"] = json!(NOW - 61);
    match federation.resolve() {
        Err(FederationError::Expired { issuer, subject, exp }) => {
            assert_eq!((issuer.as_str(), subject.as_str(), exp), (OP, OP, NOW - 61));
        }
        other => panic!("{other:?}"),
    }
    // Within the skew it still passes.
    federation.op_ec["exp"] = json!(NOW - 30);
    assert!(federation.resolve().is_ok());
}

#[test]
fn an_expired_superior_configuration_is_refused() {
    let mut federation = Federation::new();
    federation.ta_ec["exp"] = json!(NOW - 3600);
    assert!(matches!(
        federation.resolve(),
        Err(FederationError::Expired { issuer, .. }) if issuer == TA
    ));
}

#[test]
fn an_expired_subordinate_statement_is_refused() {
    let mut federation = Federation::new();
    federation.sa_about_op["exp"] = json!(NOW - 3600);
    match federation.resolve() {
        Err(FederationError::Expired { issuer, subject, .. }) => {
            assert_eq!((issuer.as_str(), subject.as_str()), (SA, OP));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_statement_issued_in_the_future_is_refused() {
    let mut federation = Federation::new();
    federation.ta_about_sa["iat"] = json!(NOW + 3600);
    assert!(matches!(
        federation.resolve(),
        Err(FederationError::NotYetValid { issuer, subject, .. }) if issuer == TA && subject == SA
    ));
}

#[test]
fn a_tampered_statement_is_refused() {
    let federation = Federation::new();
    let mut fetcher = federation.fetcher();
    let url = fetch_url(&format!("{SA}/fetch"), OP);
    let forged = tampered(&fetcher.documents[&url]);
    fetcher.documents.insert(url, forged);
    match resolve_with(&fetcher, |resolver| resolver) {
        Err(FederationError::BadSignature { issuer, kid }) => {
            assert_eq!((issuer.as_str(), kid.as_str()), (SA, keys().sa.kid()));
        }
        other => panic!("{other:?}"),
    }

    // The same for the OP's own configuration.
    let mut fetcher = federation.fetcher();
    let url = well_known_url(OP);
    let forged = tampered(&fetcher.documents[&url]);
    fetcher.documents.insert(url, forged);
    assert!(matches!(
        resolve_with(&fetcher, |resolver| resolver),
        Err(FederationError::BadSignature { issuer, .. }) if issuer == OP
    ));
}

#[test]
fn a_statement_signed_with_an_unknown_kid_is_refused() {
    let mut federation = Federation::new();
    federation.sa_about_op_signer = &keys().intruder;
    match federation.resolve() {
        Err(FederationError::UnknownKid { issuer, kid }) => {
            assert_eq!((issuer.as_str(), kid.as_str()), (SA, keys().intruder.kid()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_trust_anchor_configuration_not_signed_with_the_pinned_keys_is_refused() {
    let k = keys();
    let mut federation = Federation::new();
    // Self-consistent (it publishes the key it signs with), but not the pinned key.
    federation.ta_ec["jwks"] = jwks_of(&k.intruder);
    federation.ta_ec_signer = &k.intruder;
    assert!(matches!(
        federation.resolve(),
        Err(FederationError::UnknownKid { issuer, kid }) if issuer == TA && kid == k.intruder.kid()
    ));
}

#[test]
fn an_op_configuration_not_signed_with_the_keys_its_superior_lists_is_refused() {
    let k = keys();
    let mut federation = Federation::new();
    // The superior vouches for another key than the one the OP signs with.
    federation.sa_about_op["jwks"] = jwks_of(&k.intruder);
    assert!(matches!(
        federation.resolve(),
        Err(FederationError::UnknownKid { issuer, kid }) if issuer == OP && kid == k.op.kid()
    ));
}

#[test]
fn a_statement_about_another_subject_is_refused() {
    let mut federation = Federation::new();
    federation.sa_about_op["sub"] = json!("https://rp.example.it");
    assert!(matches!(
        federation.resolve(),
        Err(FederationError::WrongSubject { expected, found }) if expected == OP && found == "https://rp.example.it"
    ));
}

#[test]
fn a_loop_in_the_authority_hints_is_refused() {
    let k = keys();
    let mut federation = Federation::new();
    // OP → SA → SA2 → SA.
    federation.sa_ec["authority_hints"] = json!([SA2]);
    federation.extra.push((
        well_known_url(SA2),
        json!({
            "iss": SA2, "sub": SA2, "iat": NOW, "exp": NOW + 3600,
            "jwks": jwks_of(&k.sa2), "authority_hints": [SA],
            "metadata": { "federation_entity": federation_entity(SA2) },
        }),
        &k.sa2,
    ));
    federation.extra.push((
        fetch_url(&format!("{SA2}/fetch"), SA),
        json!({ "iss": SA2, "sub": SA, "iat": NOW, "exp": NOW + 3600, "jwks": jwks_of(&k.sa) }),
        &k.sa2,
    ));
    federation.extra.push((
        fetch_url(&format!("{SA}/fetch"), SA2),
        json!({ "iss": SA, "sub": SA2, "iat": NOW, "exp": NOW + 3600, "jwks": jwks_of(&k.sa2) }),
        &k.sa,
    ));
    assert!(matches!(
        federation.resolve(),
        Err(FederationError::Loop { entity }) if entity == SA
    ));
}

#[test]
fn a_chain_deeper_than_allowed_is_refused() {
    let fetcher = Federation::new().fetcher();
    assert!(matches!(
        resolve_with(&fetcher, |resolver| resolver.max_depth(1)),
        Err(FederationError::TooDeep { max_depth: 1, subject }) if subject == OP
    ));
    assert!(resolve_with(&fetcher, |resolver| resolver.max_depth(2)).is_ok());
}

#[test]
fn a_superior_without_fetch_endpoint_is_refused() {
    let mut federation = Federation::new();
    federation.sa_ec["metadata"]["federation_entity"]
        .as_object_mut()
        .unwrap()
        .remove("federation_fetch_endpoint");
    assert!(matches!(
        federation.resolve(),
        Err(FederationError::NoFetchEndpoint { entity }) if entity == SA
    ));
}

#[test]
fn an_op_without_provider_metadata_is_refused() {
    let mut federation = Federation::new();
    federation.op_ec["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("openid_provider");
    assert!(matches!(
        federation.resolve(),
        Err(FederationError::MissingMetadata { entity, entity_type }) if entity == OP && entity_type == OPENID_PROVIDER
    ));
}

// ---------------------------------------------------------------- policies in the chain

fn violation(federation: &Federation) -> (String, &'static str) {
    match federation.resolve() {
        Err(FederationError::PolicyViolation {
            parameter,
            operator,
            entity,
            ..
        }) => {
            assert_eq!(entity, OP);
            (parameter, operator)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn policy_checks_refuse_metadata_that_breaks_them() {
    let mut federation = Federation::new();
    federation.op_ec["metadata"]["openid_provider"]["token_endpoint_auth_signing_alg"] = json!("HS256");
    assert_eq!(
        violation(&federation),
        ("token_endpoint_auth_signing_alg".into(), "one_of")
    );

    let mut federation = Federation::new();
    federation.op_ec["metadata"]["openid_provider"]["id_token_signing_alg_values_supported"] = json!(["ES256"]);
    assert_eq!(
        violation(&federation),
        ("id_token_signing_alg_values_supported".into(), "superset_of")
    );

    let mut federation = Federation::new();
    federation.op_ec["metadata"]["openid_provider"]
        .as_object_mut()
        .unwrap()
        .remove("jwks");
    assert_eq!(violation(&federation), ("jwks".into(), "essential"));

    // The reference quirk: a string where an array belongs is not a set of letters.
    let mut federation = Federation::new();
    federation.op_ec["metadata"]["openid_provider"]["acr_values_supported"] = json!(L2);
    assert_eq!(violation(&federation), ("acr_values_supported".into(), "subset_of"));

    let mut federation = Federation::new();
    federation.op_ec["metadata"]["openid_provider"]["contacts"] = json!("ops@op.example.it");
    assert_eq!(violation(&federation), ("contacts".into(), "add"));
}

#[test]
fn the_superiors_metadata_overrides_the_leafs_before_the_policies() {
    let mut federation = Federation::new();
    federation.sa_about_op["metadata"] = json!({ "openid_provider": { "token_endpoint_auth_signing_alg": "RS256" } });
    let chain = federation.resolve().unwrap();
    assert_eq!(chain.metadata()["token_endpoint_auth_signing_alg"], "RS256");
}

#[test]
fn conflicting_superior_policies_are_refused() {
    let mut federation = Federation::new();
    // The trust anchor sets one value, the intermediate another.
    federation.sa_about_op["metadata_policy"]["openid_provider"]["token_endpoint_auth_methods_supported"] =
        json!({ "value": ["client_secret_basic"] });
    match federation.resolve() {
        Err(FederationError::PolicyConflict {
            entity_type, parameter, ..
        }) => {
            assert_eq!(entity_type, OPENID_PROVIDER);
            assert_eq!(parameter, "token_endpoint_auth_methods_supported");
        }
        other => panic!("{other:?}"),
    }

    // The intermediate cannot turn off what the trust anchor made essential.
    let mut federation = Federation::new();
    federation.sa_about_op["metadata_policy"]["openid_provider"]["jwks"] = json!({ "essential": false });
    assert!(matches!(
        federation.resolve(),
        Err(FederationError::PolicyConflict { parameter, .. }) if parameter == "jwks"
    ));

    // Nor add what the trust anchor's subset_of excludes.
    let mut federation = Federation::new();
    federation.sa_about_op["metadata_policy"]["openid_provider"]["acr_values_supported"] =
        json!({ "add": ["https://acr.example/other"] });
    assert!(matches!(
        federation.resolve(),
        Err(FederationError::PolicyConflict { parameter, .. }) if parameter == "acr_values_supported"
    ));
}

#[test]
fn a_critical_unknown_operator_is_refused() {
    let mut federation = Federation::new();
    federation.ta_about_sa["metadata_policy_crit"] = json!(["regexp"]);
    federation.sa_about_op["metadata_policy"]["openid_provider"]["issuer"] = json!({ "regexp": "^https://" });
    assert!(matches!(
        federation.resolve(),
        Err(FederationError::UnsupportedCriticalOperator { operator }) if operator == "regexp"
    ));
}

// ---------------------------------------------------------------- trust marks

#[test]
fn a_missing_required_trust_mark_is_refused() {
    let fetcher = Federation::new().fetcher();
    match resolve_with(&fetcher, |resolver| resolver.require_trust_mark(TM_PRIVATE)) {
        Err(FederationError::MissingTrustMark { entity, id }) => {
            assert_eq!((entity.as_str(), id.as_str()), (OP, TM_PRIVATE));
        }
        other => panic!("{other:?}"),
    }
    // Without the requirement the chain still resolves.
    let mut federation = Federation::new();
    federation.op_ec.as_object_mut().unwrap().remove("trust_marks");
    let chain = federation.resolve().unwrap();
    assert!(chain.trust_marks().is_empty());
    assert!(matches!(
        chain.require_trust_mark(TM_PUBLIC),
        Err(FederationError::MissingTrustMark { .. })
    ));
}

#[test]
fn a_trust_mark_issued_for_another_entity_is_refused() {
    let mut federation = Federation::new();
    // A copy of another entity's trust mark (the reference OP would accept it).
    federation.op_ec["trust_marks"] = json!([
        { "trust_mark_type": TM_PUBLIC, "trust_mark": trust_mark(&keys().ta, TA, RP, TM_PUBLIC) },
    ]);
    let fetcher = federation.fetcher();
    match resolve_with(&fetcher, |resolver| resolver.require_trust_mark(TM_PUBLIC)) {
        Err(FederationError::TrustMarkSubject { id, expected, found }) => {
            assert_eq!((id.as_str(), expected.as_str(), found.as_str()), (TM_PUBLIC, OP, RP));
        }
        other => panic!("{other:?}"),
    }
    // Not required: the chain resolves, the trust mark is reported as refused.
    let chain = resolve_with(&fetcher, |resolver| resolver).unwrap();
    assert!(chain.trust_marks().is_empty());
    assert_eq!(chain.rejected_trust_marks().len(), 1);
}

#[test]
fn a_trust_mark_from_an_issuer_not_listed_is_refused() {
    let mut federation = Federation::new();
    // The intermediate is listed for TM_PRIVATE only.
    federation.op_ec["trust_marks"] = json!([
        { "trust_mark_type": TM_PUBLIC, "trust_mark": trust_mark(&keys().sa, SA, OP, TM_PUBLIC) },
    ]);
    let fetcher = federation.fetcher();
    match resolve_with(&fetcher, |resolver| resolver.require_trust_mark(TM_PUBLIC)) {
        Err(FederationError::TrustMarkIssuerNotAllowed {
            id,
            issuer,
            trust_anchor,
        }) => {
            assert_eq!(
                (id.as_str(), issuer.as_str(), trust_anchor.as_str()),
                (TM_PUBLIC, SA, TA)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_trust_mark_from_a_listed_issuer_verifies_through_its_own_chain() {
    let mut federation = Federation::new();
    federation.op_ec["trust_marks"] = json!([
        { "trust_mark_type": TM_PRIVATE, "trust_mark": trust_mark(&keys().sa, SA, OP, TM_PRIVATE) },
    ]);
    let chain = resolve_with(&federation.fetcher(), |resolver| {
        resolver.require_trust_mark(TM_PRIVATE)
    })
    .unwrap();
    assert_eq!(chain.require_trust_mark(TM_PRIVATE).unwrap().issuer(), SA);

    // Signed by a key the issuer's chain does not vouch for: refused.
    federation.op_ec["trust_marks"] = json!([
        { "trust_mark_type": TM_PRIVATE, "trust_mark": trust_mark(&keys().intruder, SA, OP, TM_PRIVATE) },
    ]);
    let fetcher = federation.fetcher();
    assert!(matches!(
        resolve_with(&fetcher, |resolver| resolver.require_trust_mark(TM_PRIVATE)),
        Err(FederationError::UnknownKid { issuer, .. }) if issuer == SA
    ));
}

#[test]
fn a_trust_mark_forged_with_the_trust_anchor_as_issuer_is_refused() {
    let mut federation = Federation::new();
    federation.op_ec["trust_marks"] = json!([
        { "trust_mark_type": TM_PUBLIC, "trust_mark": trust_mark(&keys().op, TA, OP, TM_PUBLIC) },
    ]);
    let fetcher = federation.fetcher();
    assert!(matches!(
        resolve_with(&fetcher, |resolver| resolver.require_trust_mark(TM_PUBLIC)),
        Err(FederationError::UnknownKid { issuer, .. }) if issuer == TA
    ));
}

#[test]
fn trust_mark_checks_one_by_one() {
    let k = keys();
    let chain = Federation::new().resolve().unwrap();
    let anchor = chain.statements().last().unwrap();
    let ta_keys = Jwks::new([k.ta.public_jwk()]);

    // Expired (exp is optional, but honoured).
    let mut claims = object(json!({
        "iss": TA, "sub": OP, "iat": NOW - 1000, "exp": NOW - 500, "trust_mark_id": TM_PUBLIC,
    }));
    let expired = k.ta.sign(&claims, "trust-mark+jwt").unwrap();
    let mark = UnverifiedTrustMark::parse(&expired).unwrap();
    assert_eq!((mark.id(), mark.issuer()), (TM_PUBLIC, TA));
    assert!(matches!(
        mark.verify(anchor, &ta_keys, OP, NOW, 60),
        Err(FederationError::TrustMarkExpired { exp, .. }) if exp == NOW - 500
    ));
    // The older `id` name is read too; a future exp passes.
    claims.remove("trust_mark_id");
    claims.insert("id".into(), json!(TM_PUBLIC));
    claims.insert("exp".into(), json!(NOW + 500));
    let good = k.ta.sign(&claims, "trust-mark+jwt").unwrap();
    let verified = UnverifiedTrustMark::parse(&good)
        .unwrap()
        .verify(anchor, &ta_keys, OP, NOW, 60)
        .unwrap();
    assert_eq!(verified.expires_at(), Some(NOW + 500));

    // An entity statement is not a trust mark.
    let statement = k.ta.sign(&claims, "entity-statement+jwt").unwrap();
    assert!(matches!(
        UnverifiedTrustMark::parse(&statement),
        Err(FederationError::WrongType {
            expected: "trust-mark+jwt",
            ..
        })
    ));
    // No identifier.
    claims.remove("id");
    let anonymous = k.ta.sign(&claims, "trust-mark+jwt").unwrap();
    assert!(matches!(
        UnverifiedTrustMark::parse(&anonymous),
        Err(FederationError::TrustMarkId { expected: None, .. })
    ));
    // The entry names another identifier than the trust mark.
    let entry = TrustMarkEntry {
        id: Some(TM_PRIVATE.into()),
        trust_mark: good,
    };
    assert!(matches!(
        varco_federation::parse_trust_mark_entry(&entry),
        Err(FederationError::TrustMarkId { expected: Some(id), .. }) if id == TM_PRIVATE
    ));
}

// ---------------------------------------------------------------- Varco's own configuration

fn rp_metadata(core_keys: &[&FederationKey]) -> Map<String, Value> {
    let keys: Vec<Value> = core_keys.iter().map(|key| key.public_jwk()).collect();
    object(json!({
        "client_registration_types": ["automatic"],
        "redirect_uris": [format!("{RP}/oidc/rp/callback")],
        "response_types": ["code"],
        "grant_types": ["authorization_code", "refresh_token"],
        "jwks": { "keys": keys },
        "id_token_signed_response_alg": "RS256",
        "userinfo_signed_response_alg": "RS256",
        "userinfo_encrypted_response_alg": "RSA-OAEP",
        "userinfo_encrypted_response_enc": "A256CBC-HS512",
        "token_endpoint_auth_method": "private_key_jwt",
    }))
}

#[test]
fn our_entity_configuration_verifies_with_its_published_keys() {
    let federation_key = FederationKey::generate_rsa(KeyUse::Sig).unwrap();
    let signing = FederationKey::generate_rsa(KeyUse::Sig).unwrap();
    let encryption = FederationKey::generate_rsa(KeyUse::Enc).unwrap();
    let published = Jwks::new([federation_key.public_jwk()]);
    let relying_party = rp_metadata(&[&signing, &encryption]);
    let federation_entity = object(json!({
        "organization_name": "IC Esempio", "homepage_uri": RP, "policy_uri": format!("{RP}/privacy"),
        "logo_uri": format!("{RP}/logo.svg"), "contacts": ["ic@pec.example.it"],
        "federation_resolve_endpoint": format!("{RP}/resolve"),
    }));
    let hints = [TA.to_owned()];
    let marks = [TrustMarkEntry {
        id: Some("https://ta.example.it/openid_relying_party/public".into()),
        trust_mark: trust_mark(&keys().ta, TA, RP, "https://ta.example.it/openid_relying_party/public"),
    }];
    let configuration = EntityConfiguration {
        entity_id: RP,
        issued_at: NOW,
        lifetime_secs: 86_400,
        jwks: &published,
        openid_relying_party: &relying_party,
        federation_entity: &federation_entity,
        authority_hints: &hints,
        trust_marks: &marks,
    };
    let jwt = build_entity_configuration(&federation_key, &configuration).unwrap();

    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["typ"], "entity-statement+jwt");
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], federation_key.kid());

    let statement = UnverifiedStatement::parse(&jwt)
        .unwrap()
        .verify_self_signed(RP, NOW, 0)
        .unwrap();
    assert_eq!((statement.issuer(), statement.subject()), (RP, RP));
    assert_eq!((statement.issued_at(), statement.expires_at()), (NOW, NOW + 86_400));
    assert_eq!(statement.authority_hints(), [TA.to_owned()]);
    assert_eq!(statement.trust_marks(), marks);
    let rp = statement.metadata_of("openid_relying_party").unwrap();
    assert_eq!(rp["client_id"], RP);
    let uses: Vec<&str> = rp["jwks"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["use"].as_str().unwrap())
        .collect();
    assert_eq!(uses, ["sig", "enc"]);
    assert_eq!(rp["jwks"]["keys"][1]["alg"], "RSA-OAEP");
    assert_eq!(
        statement.metadata_of("federation_entity").unwrap()["logo_uri"],
        format!("{RP}/logo.svg")
    );
    // The trust anchor reads the trust mark entry the three ways peers name it.
    let entry = &statement.claims()["trust_marks"][0];
    assert_eq!(entry["trust_mark_type"], entry["id"]);
    assert_eq!(entry["trust_mark_id"], entry["id"]);
    // Nothing private is published.
    assert!(!jwt.contains(&federation_key.private_jwk_json()));
    for key in statement
        .jwks()
        .keys()
        .iter()
        .chain(Jwks::from_value(&rp["jwks"], RP).unwrap().keys())
    {
        assert!(!key.contains_key("d"));
    }
    // Another key does not verify it.
    let other = Jwks::new([keys().intruder.public_jwk()]);
    assert!(matches!(
        UnverifiedStatement::parse(&jwt).unwrap().verify(&other, NOW, 0),
        Err(FederationError::UnknownKid { .. })
    ));
}

#[test]
fn our_entity_configuration_refuses_the_shapes_peers_break_on() {
    let federation_key = FederationKey::generate_rsa(KeyUse::Sig).unwrap();
    let published = Jwks::new([federation_key.public_jwk()]);
    let signing = FederationKey::generate_rsa(KeyUse::Sig).unwrap();
    let federation_entity = object(json!({ "organization_name": "IC Esempio" }));
    let hints = [TA.to_owned()];
    let build = |relying_party: &Map<String, Value>, key: &FederationKey, jwks: &Jwks| {
        build_entity_configuration(
            key,
            &EntityConfiguration {
                entity_id: RP,
                issued_at: NOW,
                lifetime_secs: 3600,
                jwks,
                openid_relying_party: relying_party,
                federation_entity: &federation_entity,
                authority_hints: &hints,
                trust_marks: &[],
            },
        )
    };
    assert!(build(&rp_metadata(&[&signing]), &federation_key, &published).is_ok());

    // A relying-party key without `use` (the reference OP fails with a KeyError).
    let mut no_use = rp_metadata(&[&signing]);
    no_use["jwks"]["keys"][0].as_object_mut().unwrap().remove("use");
    assert!(matches!(
        build(&no_use, &federation_key, &published),
        Err(FederationError::InvalidOwnMetadata {
            entity_type: "openid_relying_party",
            ..
        })
    ));
    // `scope` as a string (the reference trust anchor's policy reads it as letters).
    let mut string_scope = rp_metadata(&[&signing]);
    string_scope.insert("scope".into(), json!("openid profile"));
    assert!(matches!(
        build(&string_scope, &federation_key, &published),
        Err(FederationError::InvalidOwnMetadata { .. })
    ));
    // A client_id other than the entity identifier.
    let mut other_client = rp_metadata(&[&signing]);
    other_client.insert("client_id".into(), json!("https://elsewhere.example.it"));
    assert!(build(&other_client, &federation_key, &published).is_err());
    // A signing key that is not published.
    assert!(matches!(
        build(&rp_metadata(&[&signing]), &signing, &published),
        Err(FederationError::SigningKeyNotPublished { kid }) if kid == signing.kid()
    ));
    // Private key material among the published keys.
    let private: Value = serde_json::from_str(&federation_key.private_jwk_json()).unwrap();
    assert!(matches!(
        build(&rp_metadata(&[&signing]), &federation_key, &Jwks::new([private])),
        Err(FederationError::InvalidOwnMetadata { .. })
    ));
    // An encryption key does not sign.
    let encryption = FederationKey::generate_rsa(KeyUse::Enc).unwrap();
    let with_enc = Jwks::new([encryption.public_jwk()]);
    assert!(build(&rp_metadata(&[&signing]), &encryption, &with_enc).is_err());
}

// ---------------------------------------------------------------- keys

#[test]
fn generated_keys_carry_kid_thumbprint_and_use_and_round_trip() {
    for (key, use_, alg) in [
        (FederationKey::generate_rsa(KeyUse::Sig).unwrap(), "sig", "RS256"),
        (FederationKey::generate_rsa(KeyUse::Enc).unwrap(), "enc", "RSA-OAEP"),
        (FederationKey::generate_signing(KeyAlg::Es256).unwrap(), "sig", "ES256"),
    ] {
        let public = key.public_jwk();
        assert_eq!(public["use"], use_);
        assert_eq!(public["alg"], alg);
        assert_eq!(public["kid"], key.kid());
        assert_eq!(thumbprint(public.as_object().unwrap()).unwrap(), key.kid());
        assert!(public.get("d").is_none());
        assert!(!format!("{key:?}").contains("\"d\""));

        let private: Value = serde_json::from_str(&key.private_jwk_json()).unwrap();
        assert!(private.get("d").is_some());
        assert_eq!(private["kid"], key.kid());
        let reopened = FederationKey::from_private_jwk_json(&key.private_jwk_json()).unwrap();
        assert_eq!(reopened.public_jwk(), public);
        assert_eq!(reopened.key_use(), key.key_use());
    }
    // 2048 bits by default: the modulus is 256 bytes.
    let key = FederationKey::generate_rsa(KeyUse::Sig).unwrap();
    let n = URL_SAFE_NO_PAD.decode(key.public_jwk()["n"].as_str().unwrap()).unwrap();
    assert_eq!(n.len(), 256);
}

#[test]
fn the_thumbprint_is_rfc_7638s() {
    // RFC 7638 §3.1.
    let jwk = json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    });
    assert_eq!(
        thumbprint(jwk.as_object().unwrap()).unwrap(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn statements_with_unsupported_algorithms_or_without_kid_are_refused() {
    let k = keys();
    let jwks = Jwks::new([k.ta.public_jwk()]);
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&json!({"iss": TA, "sub": TA})).unwrap());
    for alg in ["none", "HS256"] {
        let header = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"alg":"{alg}","kid":"{}","typ":"entity-statement+jwt"}}"#,
            k.ta.kid()
        ));
        let token = format!("{header}.{body}.c2ln");
        assert!(matches!(
            UnverifiedStatement::parse(&token).unwrap().verify(&jwks, NOW, 60),
            Err(FederationError::UnsupportedAlg { alg: found, .. }) if found == alg
        ));
    }
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"entity-statement+jwt"}"#);
    let token = format!("{header}.{body}.c2ln");
    assert!(matches!(
        UnverifiedStatement::parse(&token).unwrap().verify(&jwks, NOW, 60),
        Err(FederationError::MissingKid { .. })
    ));
}
