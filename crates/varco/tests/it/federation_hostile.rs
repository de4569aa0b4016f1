//! Issue 9, "Bad input": a SPID provider in `federation` mode that turns
//! hostile at the userinfo step. The test serves the whole federation on
//! 127.0.0.1 itself (a trust anchor and an OpenID provider, their entity
//! statements signed with keys the test makes) and drives Varco's sign-in
//! over HTTP with a cookie jar: Varco's button → the provider's
//! authorization endpoint (which reads Varco's signed request object) →
//! Varco's callback, which redeems the code (PKCE) and reads the userinfo
//! answer, a JWS signed by the provider's core key inside a JWE encrypted to
//! Varco's encryption key (RSA-OAEP-256, A256CBC-HS512) as published in
//! Varco's own entity configuration.
//!
//! One honest sign-in first (a session, `acr`/`amr` recorded), then, one
//! sign-in each: one byte of the JWE's ciphertext flipped, its
//! authentication tag altered, the inner JWS signed by a key that is not the
//! provider's, the JWE encrypted to a key that is not Varco's, and a plain
//! JSON answer where the profile requires encryption, and the provider's JWS
//! not encrypted. Each is refused with a
//! page (`data-reason="userinfo"`), audited, logged as a userinfo exchange
//! that did not succeed, and opens no session.
//!
//! The harness clock stays at `T0`: the provider signs with it too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwe::{JweHeader, RSA_OAEP_256};
use josekit::jwk::Jwk;
use josekit::jws::{JwsHeader, RS256};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use varco::config::{TrustMarkConfig, UpstreamConfig};
use varco_domain::federation_log::FederationRecordKind;
use varco_federation::{FederationKey, KeyUse, UnverifiedStatement, fetch_url, well_known_url};
use varco_oidc::rp::SpidLevel;

use crate::federation::{Documents, TM_OP, TM_RP, documents_router, federation_config, keys, object, sign, trust_mark};
use crate::harness::{Backend, Options, T0, TestApp, both_backends, tax_code};

both_backends!(a_tampered_userinfo_is_refused_with_a_page_and_no_session);

/// The upstream provider's name in Varco's configuration.
const PROVIDER: &str = "spid-test";

/// The SPID claim carrying the fiscal number.
const FISCAL_NUMBER: &str = "https://attributes.eid.gov.it/fiscal_number";

/// Every request the test makes gives up after this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// How the provider answers userinfo on the next sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Signed by its core key, encrypted to Varco's key.
    Honest,
    /// One byte of the JWE ciphertext flipped.
    FlippedCiphertext,
    /// The JWE authentication tag altered.
    AlteredTag,
    /// The inner JWS signed by another key (under the provider's `kid`).
    ForeignSigner,
    /// Encrypted to a key that is not Varco's (under Varco's `kid`).
    ForeignRecipient,
    /// Plain JSON, not encrypted nor signed.
    PlainJson,
    /// The provider's JWS, not encrypted.
    SignedOnly,
}

/// Keys that belong to nobody in the federation.
struct Strangers {
    signing: FederationKey,
    encryption: FederationKey,
}

fn strangers() -> &'static Strangers {
    static KEYS: OnceLock<Strangers> = OnceLock::new();
    KEYS.get_or_init(|| Strangers {
        signing: FederationKey::generate_rsa(KeyUse::Sig).unwrap(),
        encryption: FederationKey::generate_rsa(KeyUse::Enc).unwrap(),
    })
}

/// What the provider remembers of an authorization until the token request.
struct Grant {
    nonce: String,
    code_challenge: String,
    redirect_uri: String,
    sub: String,
}

/// The synthetic OpenID provider's state.
struct Op {
    issuer: String,
    /// Varco's entity id: the only client, the ID token's and userinfo's `aud`.
    client_id: String,
    mode: Mutex<Mode>,
    /// The subject of the next sign-in.
    sub: Mutex<String>,
    /// The fiscal number of the next sign-in (without `TINIT-`).
    tax_code: Mutex<String>,
    codes: Mutex<HashMap<String, Grant>>,
    /// Access token → (subject, tax code).
    tokens: Mutex<HashMap<String, (String, String)>>,
    /// Varco's public encryption key, from its entity configuration.
    varco_encryption_key: Mutex<Option<Value>>,
    /// How many userinfo answers were served.
    userinfo_served: Mutex<u32>,
}

impl Op {
    fn next(&self, mode: Mode, sub: &str, tax_code: &str) {
        *self.mode.lock().unwrap() = mode;
        *self.sub.lock().unwrap() = sub.to_owned();
        *self.tax_code.lock().unwrap() = tax_code.to_owned();
    }
}

fn random_token(prefix: &str) -> String {
    format!("{prefix}-{:032x}", rand::random::<u128>())
}

fn decode_json(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

/// The authorization endpoint: reads the signed request object (only its
/// payload: Varco's signature is not what this test is about) and sends the
/// browser back to the redirect URI with a code, the state and `iss`.
async fn authorization(State(op): State<Arc<Op>>, Query(query): Query<HashMap<String, String>>) -> Response {
    let Some(request) = query.get("request") else {
        return (AxumStatus::BAD_REQUEST, "no request object").into_response();
    };
    let Some(payload) = request.split('.').nth(1) else {
        return (AxumStatus::BAD_REQUEST, "not a JWS").into_response();
    };
    let claims = decode_json(payload);
    let text = |name: &str| claims[name].as_str().unwrap_or_default().to_owned();
    if text("client_id") != op.client_id || text("code_challenge_method") != "S256" || text("state").is_empty() {
        return (AxumStatus::BAD_REQUEST, "bad request object").into_response();
    }
    let code = random_token("code");
    let redirect_uri = text("redirect_uri");
    op.codes.lock().unwrap().insert(
        code.clone(),
        Grant {
            nonce: text("nonce"),
            code_challenge: text("code_challenge"),
            redirect_uri: redirect_uri.clone(),
            sub: op.sub.lock().unwrap().clone(),
        },
    );
    let mut back = url::Url::parse(&redirect_uri).expect("redirect_uri");
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &text("state"))
        .append_pair("iss", &op.issuer);
    Redirect::to(back.as_str()).into_response()
}

fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// The token endpoint: the code once, its PKCE verifier, the redirect URI.
async fn token(State(op): State<Arc<Op>>, Form(form): Form<HashMap<String, String>>) -> Response {
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let grant = op.codes.lock().unwrap().remove(&field("code"));
    let Some(grant) = grant else {
        return (AxumStatus::BAD_REQUEST, axum::Json(json!({ "error": "invalid_grant" }))).into_response();
    };
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier").as_bytes()));
    if challenge != grant.code_challenge
        || field("redirect_uri") != grant.redirect_uri
        || field("client_assertion").is_empty()
    {
        return (AxumStatus::BAD_REQUEST, axum::Json(json!({ "error": "invalid_grant" }))).into_response();
    }
    let access_token = random_token("access");
    op.tokens.lock().unwrap().insert(
        access_token.clone(),
        (grant.sub.clone(), op.tax_code.lock().unwrap().clone()),
    );
    let id_token = keys()
        .op_core
        .sign(
            &object(json!({
                "iss": op.issuer, "sub": grant.sub, "aud": op.client_id,
                "nonce": grant.nonce, "iat": T0, "exp": T0 + 300,
                "acr": SpidLevel::L2.uri(), "at_hash": at_hash(&access_token),
                "jti": random_token("id-token"),
            })),
            "JWT",
        )
        .unwrap();
    axum::Json(json!({
        "access_token": access_token, "token_type": "Bearer", "expires_in": 300, "id_token": id_token,
    }))
    .into_response()
}

/// `token` with one byte of its part `index` flipped (the last byte when
/// `last`, else the middle one).
fn flip(token: &str, index: usize, last: bool) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut bytes = URL_SAFE_NO_PAD.decode(&parts[index]).unwrap();
    let at = if last { bytes.len() - 1 } else { bytes.len() / 2 };
    bytes[at] ^= 0x01;
    parts[index] = URL_SAFE_NO_PAD.encode(bytes);
    parts.join(".")
}

/// `payload` encrypted to the public JWK `to` (RSA-OAEP-256, A256CBC-HS512,
/// `cty` JWT), under `kid` when given, else the key's own.
fn encrypt(payload: &str, to: &Value, kid: Option<&str>) -> String {
    let mut to = to.as_object().unwrap().clone();
    // The stranger's key says RSA-OAEP; josekit wants no `alg` or its own.
    to.remove("alg");
    let jwk = Jwk::from_map(to).unwrap();
    let mut header = JweHeader::new();
    header.set_content_encryption("A256CBC-HS512");
    header.set_content_type("JWT");
    let mut encrypter = RSA_OAEP_256.encrypter_from_jwk(&jwk).unwrap();
    if let Some(kid) = kid {
        encrypter.set_key_id(kid);
    }
    josekit::jwe::serialize_compact(payload.as_bytes(), &header, &encrypter).unwrap()
}

/// The userinfo endpoint, answering as [`Mode`] says.
async fn userinfo(State(op): State<Arc<Op>>, headers: HeaderMap) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let known = op.tokens.lock().unwrap().get(bearer).cloned();
    let Some((sub, tax_code)) = known else {
        return AxumStatus::UNAUTHORIZED.into_response();
    };
    *op.userinfo_served.lock().unwrap() += 1;
    let claims = json!({
        "iss": op.issuer, "aud": op.client_id, "sub": sub,
        "given_name": "Mario", "family_name": "Rossi",
        FISCAL_NUMBER: format!("TINIT-{tax_code}"),
    });
    let mode = *op.mode.lock().unwrap();
    if mode == Mode::PlainJson {
        return axum::Json(claims).into_response();
    }
    let k = keys();
    let signed = if mode == Mode::ForeignSigner {
        let signer = RS256.signer_from_jwk(strangers().signing.private_jwk()).unwrap();
        let mut header = JwsHeader::new();
        header.set_token_type("JWT");
        header.set_key_id(k.op_core.kid());
        josekit::jws::serialize_compact(&serde_json::to_vec(&claims).unwrap(), &header, &signer).unwrap()
    } else {
        k.op_core.sign(&object(claims), "JWT").unwrap()
    };
    if mode == Mode::SignedOnly {
        return ([(header::CONTENT_TYPE, "application/jwt")], signed).into_response();
    }
    let varco_key = op
        .varco_encryption_key
        .lock()
        .unwrap()
        .clone()
        .expect("Varco's key is known");
    let jwe = match mode {
        Mode::ForeignRecipient => encrypt(&signed, &strangers().encryption.public_jwk(), varco_key["kid"].as_str()),
        _ => encrypt(&signed, &varco_key, None),
    };
    let jwe = match mode {
        Mode::FlippedCiphertext => flip(&jwe, 3, false),
        Mode::AlteredTag => flip(&jwe, 4, true),
        _ => jwe,
    };
    ([(header::CONTENT_TYPE, "application/jwt")], jwe).into_response()
}

/// Serves the trust anchor and the provider on one loopback port; the
/// provider's state and the trust anchor's entity id.
async fn serve_federation(varco: &str) -> (Arc<Op>, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let ta = format!("{base}/ta");
    let issuer = format!("{base}/op");
    let k = keys();
    let path = |url: &str| url.strip_prefix(&base).unwrap().to_owned();
    let fetch_endpoint = format!("{ta}/fetch");
    let documents: Documents = Arc::default();
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
        docs.insert(
            path(&well_known_url(&issuer)),
            sign(
                json!({
                    "iss": issuer, "sub": issuer, "iat": T0 - 100, "exp": T0 + 86_400,
                    "jwks": { "keys": [k.op.public_jwk()] },
                    "authority_hints": [ta],
                    "metadata": { "openid_provider": {
                        "issuer": issuer,
                        "authorization_endpoint": format!("{issuer}/authorization"),
                        "token_endpoint": format!("{issuer}/token"),
                        "userinfo_endpoint": format!("{issuer}/userinfo"),
                        "jwks": { "keys": [k.op_core.public_jwk()] },
                        "client_registration_types_supported": ["automatic"],
                        "request_parameter_supported": true,
                        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                        "acr_values_supported": [SpidLevel::L1.uri(), SpidLevel::L2.uri(), SpidLevel::L3.uri()],
                        "id_token_signing_alg_values_supported": ["RS256"],
                        "userinfo_signing_alg_values_supported": ["RS256"],
                        "userinfo_encryption_alg_values_supported": ["RSA-OAEP", "RSA-OAEP-256"],
                        "userinfo_encryption_enc_values_supported": ["A128CBC-HS256", "A256CBC-HS512"],
                        "authorization_response_iss_parameter_supported": true,
                        "subject_types_supported": ["pairwise"],
                    }},
                    "trust_marks": [{ "trust_mark_type": TM_OP, "trust_mark": trust_mark(&ta, &issuer, TM_OP) }],
                }),
                &k.op,
            ),
        );
        docs.insert(
            path(&fetch_url(&fetch_endpoint, &issuer)),
            sign(
                json!({
                    "iss": ta, "sub": issuer, "iat": T0 - 100, "exp": T0 + 86_400,
                    "jwks": { "keys": [k.op.public_jwk()] },
                }),
                &k.ta,
            ),
        );
    }
    let op = Arc::new(Op {
        issuer: issuer.clone(),
        client_id: varco.to_owned(),
        mode: Mutex::new(Mode::Honest),
        sub: Mutex::default(),
        tax_code: Mutex::default(),
        codes: Mutex::default(),
        tokens: Mutex::default(),
        varco_encryption_key: Mutex::default(),
        userinfo_served: Mutex::new(0),
    });
    let router = axum::Router::new()
        .route("/op/authorization", get(authorization))
        .route("/op/token", post(token))
        .route("/op/userinfo", get(userinfo))
        .with_state(op.clone())
        .merge(documents_router(documents));
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });
    (op, ta)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A browser: cookies, no redirects followed, a timeout on every request.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("client")
}

/// Varco's public encryption key from its own entity configuration.
async fn varco_encryption_key(t: &TestApp, entity_id: &str) -> Value {
    let jwt = browser()
        .get(t.url("/.well-known/openid-federation"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let statement = UnverifiedStatement::parse(&jwt)
        .unwrap()
        .verify_self_signed(entity_id, t.app().now().0, 0)
        .expect("Varco's entity configuration");
    let rp = statement.metadata_of("openid_relying_party").expect("RP metadata");
    let encryption: Vec<&Value> = rp["jwks"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["use"] == "enc")
        .collect();
    assert_eq!(encryption.len(), 1, "{rp:?}");
    encryption[0].clone()
}

/// Signs in from Varco's button through the provider, following redirects
/// by hand; the last answer's status, URL and body.
async fn sign_in(t: &TestApp, http: &reqwest::Client) -> (StatusCode, String, String) {
    let mut url = t.url(&format!("/login/upstream/{PROVIDER}"));
    for _ in 0..10 {
        let r = http.get(&url).send().await.expect("request");
        if r.status().is_redirection() {
            let to = r.headers()["location"].to_str().unwrap().to_owned();
            url = url::Url::parse(&url).unwrap().join(&to).unwrap().to_string();
            continue;
        }
        let status = r.status();
        return (status, url, r.text().await.unwrap());
    }
    panic!("too many redirects");
}

fn reason_of(html: &str) -> &str {
    let start = html.find("data-reason=\"").expect("a refusal page") + "data-reason=\"".len();
    &html[start..start + html[start..].find('"').unwrap()]
}

/// How many `upstream_login` failures the audit records with `detail`.
async fn refusals_audited(t: &TestApp, detail: &str) -> usize {
    varco_app::audit::list(t.app(), None, 1000)
        .await
        .expect("audit")
        .iter()
        .filter(|e| e.event == "upstream_login" && e.outcome == "failure" && e.detail.as_deref() == Some(detail))
        .count()
}

/// The outcomes of the userinfo exchanges the federation log recorded for `sub`.
async fn userinfo_outcomes(t: &TestApp, sub: &str) -> Vec<String> {
    let mut tx = t.app().store.begin_read().await.unwrap();
    let records = tx.federation_log_after(0, 1000).await.unwrap();
    tx.commit().await.unwrap();
    records
        .into_iter()
        .filter(|r| {
            r.record.provider == PROVIDER
                && r.record.kind == FederationRecordKind::Userinfo
                && r.record.subject.as_deref() == Some(sub)
        })
        .map(|r| r.record.outcome)
        .collect()
}

async fn a_tampered_userinfo_is_refused_with_a_page_and_no_session(backend: Backend) {
    let port = free_port();
    let varco = format!("http://127.0.0.1:{port}");
    let (op, ta) = serve_federation(&varco).await;
    let (anchor, issuer) = (ta.clone(), op.issuer.clone());
    let rp_mark = trust_mark(&ta, &varco, TM_RP);
    let options = Options {
        tweak: Box::new(move |config| {
            config.listen = format!("127.0.0.1:{port}");
            config.public_url = format!("http://127.0.0.1:{port}");
            let mut federation = federation_config(&anchor);
            federation.trust_marks = vec![TrustMarkConfig {
                id: TM_RP.into(),
                trust_mark: rp_mark,
            }];
            config.federation = Some(federation);
            config.upstream = vec![UpstreamConfig {
                name: PROVIDER.into(),
                kind: "spid".into(),
                label: "SPID di prova".into(),
                mode: "federation".into(),
                issuer,
                client_id: String::new(),
                client_secret: String::new(),
                client_secret_file: None,
                acr: SpidLevel::L2.uri().into(),
                scope: "openid profile".into(),
                trust_anchor: Some(anchor),
                trust_mark: Some(TM_OP.into()),
            }];
        }),
        ..Options::default()
    };
    let Some(t) = TestApp::spawn_with(backend, options).await else {
        return;
    };
    assert_eq!(t.base, varco);
    t.add_school().await;
    let account = t.add_account(1, "persona1@example.it", None, None).await;
    let encryption_key = varco_encryption_key(&t, &varco).await;
    *op.varco_encryption_key.lock().unwrap() = Some(encryption_key);

    // 1. The honest answer signs the family account in.
    op.next(Mode::Honest, "spid-honest", &tax_code(1));
    let http = browser();
    let (status, url, body) = sign_in(&t, &http).await;
    assert_eq!(status, StatusCode::OK, "{url}: {body}");
    assert_eq!(url, t.url("/account"), "{body}");
    let me: Value = http
        .get(t.url("/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user_code"], account.user_code.as_str(), "{me}");
    assert_eq!(me["kind"], "family", "{me}");
    assert_eq!(me["status"], "active", "a SPID sign-in activates: {me}");
    let mut tx = t.app().store.begin_read().await.unwrap();
    let record = tx
        .account_by_user_code(&account.user_code)
        .await
        .unwrap()
        .expect("account");
    let sessions = tx.sessions_of_account(record.id).await.unwrap();
    let link = tx.upstream_identity(&op.issuer, "spid-honest").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].acr, SpidLevel::L2.uri());
    assert_eq!(sessions[0].amr, ["spid"]);
    assert_eq!(sessions[0].upstream_provider.as_deref(), Some(PROVIDER));
    assert_eq!(link.map(|l| l.account_id), Some(record.id), "the identity is linked");
    assert_eq!(userinfo_outcomes(&t, "spid-honest").await, ["success"]);

    // 2–6. Each tampered answer: a page, an audit entry, a log record, no session.
    let detail = format!("provider={PROVIDER} refused=userinfo");
    let cases = [
        (Mode::FlippedCiphertext, "spid-flipped-ciphertext"),
        (Mode::AlteredTag, "spid-altered-tag"),
        (Mode::ForeignSigner, "spid-foreign-signer"),
        (Mode::ForeignRecipient, "spid-foreign-recipient"),
        (Mode::PlainJson, "spid-plain-json"),
        (Mode::SignedOnly, "spid-signed-only"),
    ];
    for (mode, sub) in cases {
        let audited = refusals_audited(&t, &detail).await;
        let served = *op.userinfo_served.lock().unwrap();
        op.next(mode, sub, &tax_code(1));
        let http = browser();
        let (status, url, body) = sign_in(&t, &http).await;
        assert_eq!(
            *op.userinfo_served.lock().unwrap(),
            served + 1,
            "{mode:?}: the provider answered userinfo"
        );
        assert_eq!(status, StatusCode::FORBIDDEN, "{mode:?}: {url}: {body}");
        assert!(url.starts_with(&t.url("/login/upstream/callback?")), "{mode:?}: {url}");
        assert_eq!(reason_of(&body), "userinfo", "{mode:?}");
        assert!(
            body.contains("Il gestore dell'identità non ha fornito i dati necessari")
                || body.contains("Il gestore dell&#x27;identità non ha fornito i dati necessari")
                || body.contains("Il gestore dell&#39;identità non ha fornito i dati necessari"),
            "{mode:?}: the Italian page says why: {body}"
        );
        let me = http.get(t.url("/api/v1/me")).send().await.unwrap();
        assert_eq!(me.status(), StatusCode::UNAUTHORIZED, "{mode:?}: no session");
        let r = http.get(t.url("/account")).send().await.unwrap();
        assert!(r.status().is_redirection(), "{mode:?}: /account sends to the login");
        assert_eq!(
            refusals_audited(&t, &detail).await,
            audited + 1,
            "{mode:?}: audited as {detail}"
        );
        assert_eq!(
            userinfo_outcomes(&t, sub).await,
            ["userinfo"],
            "{mode:?}: the federation log records the refused userinfo"
        );
        let mut tx = t.app().store.begin_read().await.unwrap();
        let link = tx.upstream_identity(&op.issuer, sub).await.unwrap();
        let sessions = tx.sessions_of_account(record.id).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(link, None, "{mode:?}: nothing linked");
        assert_eq!(sessions.len(), 1, "{mode:?}: only the honest session");
    }

    // The log's chain holds over every exchange.
    let mut tx = t.app().store.begin_read().await.unwrap();
    let chain = tx.verify_federation_log().await.unwrap();
    tx.commit().await.unwrap();
    assert!(
        matches!(chain, varco_store::ChainVerification::Intact { records: 28, .. }),
        "request, response, token and userinfo for seven sign-ins: {chain:?}"
    );
    t.stop().await;
}
