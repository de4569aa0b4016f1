//! Varco as OpenID Connect provider, driven over HTTP as a relying party
//! would: every rule of issue 8 and every bad input, on both databases.

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest;
use varco_app::Actor;
use varco_app::clients::{ClientKind, ClientRegistration};
use varco_oidc::Alg;

use crate::harness::{Backend, PASSWORD, TestApp, both_backends, client};
use crate::kit::SignedIn;

both_backends!(
    a_full_code_flow_with_pkce_refresh_and_userinfo,
    a_replayed_code_revokes_what_it_issued,
    pkce_is_required_and_plain_is_refused,
    a_wrong_redirect_uri_or_client_gets_a_page_never_a_redirect,
    codes_expire_and_belong_to_their_client,
    a_wrong_secret_is_invalid_client_and_audited,
    prompt_none_and_request_objects,
    a_reused_refresh_token_revokes_the_grant,
    concurrent_refreshes_one_wins,
    revocation_and_introspection,
    third_party_consent_is_asked_remembered_and_revocable,
    a_client_of_other_schools_shows_a_page,
    a_forced_password_change_comes_first,
    logout_ends_the_grants_and_notifies_the_client,
    end_session_redirects_only_with_a_valid_hint_to_a_registered_uri,
    key_rotation_keeps_the_old_key_published,
    prompt_login_and_max_age_ask_for_a_new_sign_in,
);

pub(crate) const REDIRECT: &str = "http://127.0.0.1:9/callback";
pub(crate) const AFTER_LOGOUT: &str = "http://127.0.0.1:9/signed-out";

/// A registered relying party.
pub(crate) struct Rp {
    pub(crate) client_id: String,
    pub(crate) secret: Option<String>,
}

pub(crate) fn registration(name: &str) -> ClientRegistration {
    ClientRegistration {
        name: name.into(),
        kind: ClientKind::Confidential,
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: vec![AFTER_LOGOUT.into()],
        scopes: Vec::new(),
        schools: Vec::new(),
        first_party: true,
        id_token_alg: Alg::Rs256,
        pairwise: false,
        backchannel_logout_uri: None,
        jwks: None,
    }
}

pub(crate) async fn register(t: &TestApp, registration: ClientRegistration) -> Rp {
    let registered = varco_app::clients::register(t.app(), registration, &Actor::Cli)
        .await
        .expect("register");
    Rp {
        client_id: registered.client_id,
        secret: registered.secret,
    }
}

/// A PKCE verifier and its S256 challenge.
pub(crate) fn pkce(seed: &str) -> (String, String) {
    let verifier = format!("verifier-{seed}-0123456789abcdefghijklmnopqrstuvwxyz");
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// The query of an authorization request with PKCE, state and nonce.
pub(crate) fn auth_query(rp: &Rp, challenge: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut q: Vec<(String, String)> = vec![
        ("response_type".into(), "code".into()),
        ("client_id".into(), rp.client_id.clone()),
        ("redirect_uri".into(), REDIRECT.into()),
        ("scope".into(), "openid profile email school fiscal_number".into()),
        ("state".into(), "stato-0123456789-abcdefghijklmnopqrstuv".into()),
        ("nonce".into(), "nonce-0123456789-abcdefghijklmnopqrstuv".into()),
        ("code_challenge".into(), challenge.into()),
        ("code_challenge_method".into(), "S256".into()),
    ];
    for (k, v) in extra {
        q.retain(|(name, _)| name != k);
        if !v.is_empty() {
            q.push(((*k).into(), (*v).into()));
        }
    }
    q
}

pub(crate) async fn authorize(t: &TestApp, http: &reqwest::Client, query: &[(String, String)]) -> reqwest::Response {
    http.get(t.url("/oauth2/authorize"))
        .query(query)
        .send()
        .await
        .expect("authorize")
}

pub(crate) fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The query parameters of a redirect back to the client.
pub(crate) fn params_of(url: &str) -> std::collections::HashMap<String, String> {
    let url = url::Url::parse(url).expect("absolute redirect");
    url.query_pairs().into_owned().collect()
}

/// Authorizes as `signed_in` and returns the code.
pub(crate) async fn code_for(t: &TestApp, signed_in: &SignedIn, rp: &Rp, challenge: &str) -> String {
    let r = authorize(t, &signed_in.client, &auth_query(rp, challenge, &[])).await;
    assert!(r.status().is_redirection(), "{}", r.status());
    let to = location(&r);
    assert!(to.starts_with(REDIRECT), "{to}");
    let params = params_of(&to);
    assert_eq!(params["state"], "stato-0123456789-abcdefghijklmnopqrstuv");
    assert_eq!(params["iss"], t.base, "RFC 9207 iss");
    params["code"].clone()
}

pub(crate) async fn token(t: &TestApp, rp: &Rp, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut request = client().post(t.url("/oauth2/token")).form(form);
    if let Some(secret) = &rp.secret {
        request = request.basic_auth(&rp.client_id, Some(secret));
    }
    let r = request.send().await.expect("token");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn exchange(t: &TestApp, rp: &Rp, code: &str, verifier: &str) -> (StatusCode, Value) {
    token(
        t,
        rp,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

pub(crate) async fn refresh(t: &TestApp, rp: &Rp, refresh_token: &str) -> (StatusCode, Value) {
    token(
        t,
        rp,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
    )
    .await
}

pub(crate) async fn userinfo(t: &TestApp, access_token: &str) -> (StatusCode, Value) {
    let r = client()
        .get(t.url("/oauth2/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("userinfo");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Verifies an ID token with the published keys and returns its claims.
pub(crate) async fn verified(t: &TestApp, id_token: &str) -> serde_json::Map<String, Value> {
    let jwks: Value = client()
        .get(t.url("/oauth2/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().expect("keys").clone();
    varco_oidc::verify_jws(&keys, id_token).expect("a valid signature from a published key")
}

pub(crate) async fn signed_in_rp(t: &TestApp, first_party: bool) -> (SignedIn, Rp, varco_app::accounts::AccountView) {
    t.add_school().await;
    let account = t
        .add_account(2, "docente@example.it", Some("docente"), Some(PASSWORD))
        .await;
    let mut reg = registration("Registro elettronico");
    reg.first_party = first_party;
    let rp = register(t, reg).await;
    let signed_in = t.sign_in("docente", PASSWORD).await;
    (signed_in, rp, account)
}

async fn a_full_code_flow_with_pkce_refresh_and_userinfo(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let (signed_in, rp, account) = signed_in_rp(&t, true).await;
    let discovery: Value = client()
        .get(t.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], t.base);
    assert_eq!(discovery["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(discovery["token_endpoint"], t.url("/oauth2/token"));
    // A single-page application may call the token endpoint: CORS, no cookies.
    let r = client()
        .request(reqwest::Method::OPTIONS, t.url("/oauth2/token"))
        .header("origin", "https://app.example.it")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert!(r.headers().get("access-control-allow-credentials").is_none());

    let (verifier, challenge) = pkce("full");
    let code = code_for(&t, &signed_in, &rp, &challenge).await;
    let (status, body) = exchange(&t, &rp, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let claims = verified(&t, body["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["iss"], json!(t.base));
    assert_eq!(claims["aud"], json!(rp.client_id));
    assert_eq!(claims["nonce"], json!("nonce-0123456789-abcdefghijklmnopqrstuv"));
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert_eq!(claims["acr"], json!(varco_app::provider::ACR_PASSWORD));
    let session = t.session_of(&signed_in).await;
    assert_eq!(claims["auth_time"], json!(session.session.created_at.0));
    assert!(claims["sid"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(claims.values().all(|v| !v.is_null()), "no null claim: {claims:?}");
    let sub = claims["sub"].as_str().unwrap().to_owned();
    assert!(!sub.contains(&account.user_code) && !sub.contains(&account.tax_code));

    let (status, info) = userinfo(&t, body["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["sub"], json!(sub));
    assert_eq!(info["email"], "docente@example.it");
    assert!(info["email_verified"].is_boolean());
    assert_eq!(
        info[varco_oidc::FISCAL_NUMBER_CLAIM],
        json!(format!("TINIT-{}", account.tax_code))
    );
    assert_eq!(info[varco_oidc::SCHOOL_CLAIM][0]["code"], json!(account.school.code));
    assert_eq!(info[varco_oidc::SCHOOL_CLAIM][0]["roles"], json!([]));
    // Roles read with the token: granted now, seen at once.
    for (role, school) in [
        (varco_domain::account::Role::Desk, Some(crate::harness::SCHOOL)),
        (varco_domain::account::Role::Admin, None),
    ] {
        crate::desk::grant(&t, &account.user_code, role, school).await;
    }
    let (_, info) = userinfo(&t, body["access_token"].as_str().unwrap()).await;
    assert_eq!(info[varco_oidc::SCHOOL_CLAIM][0]["roles"], json!(["admin", "desk"]));

    // Refresh: a new pair, an ID token without nonce and with the same auth_time.
    t.clock.advance(120);
    let (status, refreshed) = refresh(&t, &rp, body["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_ne!(refreshed["refresh_token"], body["refresh_token"]);
    let again = verified(&t, refreshed["id_token"].as_str().unwrap()).await;
    assert!(!again.contains_key("nonce"), "no nonce after a refresh");
    assert_eq!(again["auth_time"], claims["auth_time"]);
    assert_eq!(again["sub"], claims["sub"]);
    let (status, _) = userinfo(&t, refreshed["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    t.stop().await;
}

async fn a_replayed_code_revokes_what_it_issued(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let (signed_in, rp, account) = signed_in_rp(&t, true).await;
    let (verifier, challenge) = pkce("replay");
    let code = code_for(&t, &signed_in, &rp, &challenge).await;
    let (status, first) = exchange(&t, &rp, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK);
    let (status, second) = exchange(&t, &rp, &code, &verifier).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(second["error"], "invalid_grant");
    let (status, _) = userinfo(&t, first["access_token"].as_str().unwrap()).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the first exchange's tokens are revoked"
    );
    let (status, _) = refresh(&t, &rp, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let audit = t.audit_of(&account.user_code).await;
    assert!(
        audit.iter().any(|e| e.event == "oidc_token"
            && e.detail
                .as_deref()
                .is_some_and(|d| d.ends_with("refused=code_replayed"))),
        "{audit:?}"
    );
    t.stop().await;
}

async fn pkce_is_required_and_plain_is_refused(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let (signed_in, rp, _) = signed_in_rp(&t, true).await;
    let (verifier, challenge) = pkce("p1");
    for extra in [
        vec![("code_challenge", ""), ("code_challenge_method", "")],
        vec![("code_challenge_method", "plain")],
        vec![("code_challenge_method", "")],
        vec![("code_challenge", "too-short")],
    ] {
        let r = authorize(&t, &signed_in.client, &auth_query(&rp, &challenge, &extra)).await;
        let to = location(&r);
        assert!(to.starts_with(REDIRECT), "{extra:?}: {to}");
        let params = params_of(&to);
        assert_eq!(params["error"], "invalid_request", "{extra:?}");
        assert!(!params.contains_key("code"));
    }
    let code = code_for(&t, &signed_in, &rp, &challenge).await;
    let (status, body) = exchange(&t, &rp, &code, "another-verifier-0123456789abcdefghijklmnopqrstu").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    // The code died with the wrong verifier.
    let (status, _) = exchange(&t, &rp, &code, &verifier).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // And a token request without a verifier is refused before the code is spent.
    let code = code_for(&t, &signed_in, &rp, &challenge).await;
    let (status, body) = token(
        &t,
        &rp,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    t.stop().await;
}

async fn a_wrong_redirect_uri_or_client_gets_a_page_never_a_redirect(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let (signed_in, rp, _) = signed_in_rp(&t, true).await;
    let (_, challenge) = pkce("r");
    for uri in [
        "http://127.0.0.1:9/callback/",
        "http://127.0.0.1:9/callback?x=1",
        "http://127.0.0.1:9/callback/sub",
        "http://evil.example/callback",
    ] {
        let r = authorize(
            &t,
            &signed_in.client,
            &auth_query(&rp, &challenge, &[("redirect_uri", uri)]),
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert!(r.headers().get("location").is_none(), "{uri}");
        let html = r.text().await.unwrap();
        assert!(html.contains("indirizzo di ritorno non registrato"), "{html}");
    }
    let unknown = Rp {
        client_id: "sconosciuto".into(),
        secret: None,
    };
    let r = authorize(&t, &signed_in.client, &auth_query(&unknown, &challenge, &[])).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get("location").is_none());
    let long = "x".repeat(5000);
    let r = authorize(&t, &signed_in.client, &auth_query(&rp, &challenge, &[("state", &long)])).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get("location").is_none());
    // Each refusal is audited, the client id as sent kept short and printable.
    let audit = varco_app::audit::list(t.app(), None, 100).await.unwrap();
    let refused = |detail: &str| {
        audit
            .iter()
            .filter(|e| e.event == "oidc_authorization" && e.outcome == "failure")
            .filter(|e| e.detail.as_deref() == Some(detail))
            .count()
    };
    let mismatch = format!("client_id={} refused=redirect_uri_mismatch", rp.client_id);
    assert_eq!(refused(&mismatch), 4, "{audit:?}");
    assert_eq!(refused("client_id=sconosciuto refused=unknown_client"), 1, "{audit:?}");
    assert_eq!(
        refused(&format!("client_id={} refused=invalid_request", rp.client_id)),
        1,
        "{audit:?}"
    );
    t.stop().await;
}

async fn codes_expire_and_belong_to_their_client(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let (signed_in, rp, _) = signed_in_rp(&t, true).await;
    let other = register(&t, registration("Biblioteca")).await;
    let (verifier, challenge) = pkce("e");
    let code = code_for(&t, &signed_in, &rp, &challenge).await;
    t.clock.advance(61);
    let (status, body) = exchange(&t, &rp, &code, &verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let code = code_for(&t, &signed_in, &rp, &challenge).await;
    let (status, body) = exchange(&t, &other, &code, &verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    t.stop().await;
}

async fn a_wrong_secret_is_invalid_client_and_audited(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let (signed_in, rp, _) = signed_in_rp(&t, true).await;
    let (verifier, challenge) = pkce("s");
    let code = code_for(&t, &signed_in, &rp, &challenge).await;
    let wrong = Rp {
        client_id: rp.client_id.clone(),
        secret: Some("not-the-secret".into()),
    };
    let r = client()
        .post(t.url("/oauth2/token"))
        .basic_auth(&wrong.client_id, wrong.secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get("www-authenticate").is_some());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    // The code was not touched by the refused client: the right one still works.
    let (status, _) = exchange(&t, &rp, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK);
    // The secret in the form body works too (client_secret_post).
    let code = code_for(&t, &signed_in, &rp, &challenge).await;
    let r = client()
        .post(t.url("/oauth2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
            ("client_id", rp.client_id.as_str()),
            ("client_secret", rp.secret.as_deref().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let entries = varco_app::audit::list(t.app(), None, 100).await.unwrap();
    assert!(
        entries.iter().any(|e| e.event == "oidc_token"
            && e.detail
                .as_deref()
                .is_some_and(|d| d.contains("client_authentication_failed"))),
        "{entries:?}"
    );
    t.stop().await;
}

async fn prompt_none_and_request_objects(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let (_signed_in, rp, _) = signed_in_rp(&t, true).await;
    let (_, challenge) = pkce("n");
    let anonymous = client();
    let r = authorize(&t, &anonymous, &auth_query(&rp, &challenge, &[("prompt", "none")])).await;
    assert_eq!(params_of(&location(&r))["error"], "login_required");
    let r = authorize(&t, &anonymous, &auth_query(&rp, &challenge, &[])).await;
    assert!(location(&r).starts_with("/login?next="), "{}", location(&r));
    let r = authorize(
        &t,
        &anonymous,
        &auth_query(&rp, &challenge, &[("request", "eyJhbGciOiJub25lIn0.e30.")]),
    )
    .await;
    assert_eq!(params_of(&location(&r))["error"], "request_not_supported");
    let r = authorize(
        &t,
        &anonymous,
        &auth_query(&rp, &challenge, &[("response_type", "token")]),
    )
    .await;
    assert_eq!(params_of(&location(&r))["error"], "unsupported_response_type");
    let r = authorize(&t, &anonymous, &auth_query(&rp, &challenge, &[("scope", "profile")])).await;
    assert_eq!(params_of(&location(&r))["error"], "invalid_scope");
    t.stop().await;
}

async fn a_reused_refresh_token_revokes_the_grant(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let (signed_in, rp, _) = signed_in_rp(&t, true).await;
    let (verifier, challenge) = pkce("rr");
    let code = code_for(&t, &signed_in, &rp, &challenge).await;
    let (_, first) = exchange(&t, &rp, &code, &verifier).await;
    let old = first["refresh_token"].as_str().unwrap();
    let (status, second) = refresh(&t, &rp, old).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = refresh(&t, &rp, old).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // The whole grant is gone: the newest refresh token and access token too.
    let (status, _) = refresh(&t, &rp, second["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = userinfo(&t, second["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    t.stop().await;
}

async fn concurrent_refreshes_one_wins(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let (signed_in, rp, _) = signed_in_rp(&t, true).await;
    let (verifier, challenge) = pkce("cc");
    let code = code_for(&t, &signed_in, &rp, &challenge).await;
    let (_, first) = exchange(&t, &rp, &code, &verifier).await;
    let old = first["refresh_token"].as_str().unwrap().to_owned();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let url = t.url("/oauth2/token");
        let (id, secret, old) = (rp.client_id.clone(), rp.secret.clone(), old.clone());
        tasks.spawn(async move {
            client()
                .post(url)
                .basic_auth(id, secret)
                .form(&[("grant_type", "refresh_token"), ("refresh_token", old.as_str())])
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    let mut ok = 0;
    while let Some(status) = tasks.join_next().await {
        if status.unwrap() == StatusCode::OK {
            ok += 1;
        }
    }
    assert_eq!(ok, 1, "exactly one concurrent refresh wins");
    t.stop().await;
}

async fn revocation_and_introspection(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let (signed_in, rp, _) = signed_in_rp(&t, true).await;
    let resource_server = register(&t, registration("Server delle risorse")).await;
    let (verifier, challenge) = pkce("ri");
    let code = code_for(&t, &signed_in, &rp, &challenge).await;
    let (_, tokens) = exchange(&t, &rp, &code, &verifier).await;
    let access = tokens["access_token"].as_str().unwrap();
    let introspect = |token: String| {
        let url = t.url("/oauth2/introspect");
        let (id, secret) = (resource_server.client_id.clone(), resource_server.secret.clone());
        async move {
            let r = client()
                .post(url)
                .basic_auth(id, secret)
                .form(&[("token", token.as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.json::<Value>().await.unwrap()
        }
    };
    let live = introspect(access.to_owned()).await;
    assert_eq!(live["active"], json!(true));
    assert_eq!(live["client_id"], json!(rp.client_id));
    // Without client authentication: refused.
    let r = client()
        .post(t.url("/oauth2/introspect"))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Revoking the refresh token ends the grant.
    let r = client()
        .post(t.url("/oauth2/revoke"))
        .basic_auth(&rp.client_id, rp.secret.as_deref())
        .form(&[
            ("token", tokens["refresh_token"].as_str().unwrap()),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(introspect(access.to_owned()).await, json!({ "active": false }));
    let (status, _) = refresh(&t, &rp, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // An unknown token is answered 200 as well (RFC 7009 §2.2).
    let r = client()
        .post(t.url("/oauth2/revoke"))
        .basic_auth(&rp.client_id, rp.secret.as_deref())
        .form(&[("token", "sconosciuto")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    t.stop().await;
}

async fn third_party_consent_is_asked_remembered_and_revocable(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let (signed_in, rp, account) = signed_in_rp(&t, false).await;
    let (verifier, challenge) = pkce("c");
    let r = authorize(&t, &signed_in.client, &auth_query(&rp, &challenge, &[])).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Consenti l&#x27;accesso") || html.contains("Consenti l'accesso"),
        "{html}"
    );
    assert!(html.contains("il codice fiscale"), "lists the data shared");
    let csrf = crate::kit::input_value(&html, "csrf");
    let mut form: Vec<(String, String)> = auth_query(&rp, &challenge, &[]);
    form.push(("csrf".into(), csrf.clone()));
    form.push(("decision".into(), "allow".into()));
    // A cross-site post of the consent form is refused.
    let r = signed_in
        .client
        .post(t.url("/oauth2/consent"))
        .header("origin", "http://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = signed_in
        .client
        .post(t.url("/oauth2/consent"))
        .header("origin", &t.base)
        .form(&form)
        .send()
        .await
        .unwrap();
    let to = location(&r);
    assert!(to.starts_with(REDIRECT), "{to}");
    let code = params_of(&to)["code"].clone();
    let (status, tokens) = exchange(&t, &rp, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK);
    // Remembered: the next authorization goes straight back.
    code_for(&t, &signed_in, &rp, &challenge).await;
    // Listed on /account, and revocable there.
    let page = t.html_with(&signed_in.client, "/account").await;
    assert!(page.contains("Registro elettronico"), "{page}");
    let r = signed_in
        .client
        .post(t.url(&format!("/account/applications/{}/revoke", rp.client_id)))
        .header("origin", &t.base)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection());
    let (status, _) = refresh(&t, &rp, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let r = authorize(&t, &signed_in.client, &auth_query(&rp, &challenge, &[])).await;
    assert_eq!(r.status(), StatusCode::OK, "consent is asked again");
    let audit = t.audit_of(&account.user_code).await;
    assert!(
        audit
            .iter()
            .any(|e| e.event == "oidc_consent" && e.detail.as_deref().is_some_and(|d| d.ends_with("granted=false")))
    );
    // Declining goes back with access_denied.
    let mut form = auth_query(&rp, &challenge, &[]);
    form.push(("csrf".into(), csrf));
    form.push(("decision".into(), "deny".into()));
    let r = signed_in
        .client
        .post(t.url("/oauth2/consent"))
        .header("origin", &t.base)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(params_of(&location(&r))["error"], "access_denied");
    t.stop().await;
}

async fn a_client_of_other_schools_shows_a_page(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let (signed_in, _, _) = signed_in_rp(&t, true).await;
    varco_app::schools::add(
        t.app(),
        &Actor::Cli,
        &varco_app::RequestContext::default(),
        &varco_app::schools::AddSchool {
            code: "RMIC00000X".into(),
            name: "Altra scuola".into(),
            email: None,
            helpdesk_email: None,
            helpdesk_phone: None,
            helpdesk_hours: None,
            town: None,
        },
    )
    .await
    .unwrap();
    let mut reg = registration("Registro di un'altra scuola");
    reg.schools = vec!["RMIC00000X".into()];
    let other = register(&t, reg).await;
    let (_, challenge) = pkce("o");
    let r = authorize(&t, &signed_in.client, &auth_query(&other, &challenge, &[])).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("non serve la tua scuola"));
    t.stop().await;
}

async fn a_forced_password_change_comes_first(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let (_, rp, account) = signed_in_rp(&t, true).await;
    varco_app::password::require_change(
        t.app(),
        &Actor::Cli,
        &varco_app::RequestContext::default(),
        &account.user_code,
    )
    .await
    .unwrap();
    let signed_in = t.sign_in("docente", PASSWORD).await;
    let (_, challenge) = pkce("f");
    let r = authorize(&t, &signed_in.client, &auth_query(&rp, &challenge, &[])).await;
    let to = location(&r);
    assert!(to.starts_with("/password/change?next="), "{to}");
    // The change done, the page leads back to the application's sign-in.
    let html = t.html_with(&signed_in.client, &to).await;
    let csrf = crate::kit::input_value(&html, "csrf");
    let next = unescape(&crate::kit::input_value(&html, "next"));
    assert!(next.starts_with("/oauth2/authorize?"), "{next}");
    let new_password = "una password nuova per il registro 77";
    let r = signed_in
        .client
        .post(t.url("/password/change"))
        .header("origin", &t.base)
        .form(&[
            ("csrf", csrf.as_str()),
            ("current_password", PASSWORD),
            ("new_password", new_password),
            ("new_password_confirm", new_password),
            ("next", next.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let done = r.text().await.unwrap();
    assert!(unescape(&done).contains("href=\"/oauth2/authorize?"), "{done}");
    let r = signed_in.client.get(t.url(&next)).send().await.unwrap();
    assert!(location(&r).starts_with(REDIRECT), "{}", location(&r));
    t.stop().await;
}

async fn logout_ends_the_grants_and_notifies_the_client(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    // A client's back-channel logout endpoint on loopback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver = format!("http://{}/backchannel", listener.local_addr().unwrap());
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(4);
    let app = axum::Router::new().route(
        "/backchannel",
        axum::routing::post(move |body: String| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body).await;
                StatusCode::OK
            }
        }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    t.add_school().await;
    t.add_account(2, "docente@example.it", Some("docente"), Some(PASSWORD))
        .await;
    let mut reg = registration("Registro elettronico");
    reg.backchannel_logout_uri = Some(receiver);
    let rp = register(&t, reg).await;
    let signed_in = t.sign_in("docente", PASSWORD).await;
    let (verifier, challenge) = pkce("l");
    let code = code_for(&t, &signed_in, &rp, &challenge).await;
    let (_, tokens) = exchange(&t, &rp, &code, &verifier).await;
    let id_claims = verified(&t, tokens["id_token"].as_str().unwrap()).await;
    let r = signed_in
        .client
        .post(t.url("/api/v1/logout"))
        .header("origin", &t.base)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (status, _) = refresh(&t, &rp, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "logout ends the grants of the session");
    let body = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
        .await
        .expect("a back-channel notice arrives")
        .unwrap();
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
    let logout_token = &form.iter().find(|(k, _)| k == "logout_token").unwrap().1;
    let claims = verified(&t, logout_token).await;
    assert_eq!(claims["sid"], id_claims["sid"]);
    assert_eq!(claims["aud"], json!(rp.client_id));
    assert_eq!(claims["sub"], id_claims["sub"]);
    assert!(claims.contains_key("jti") && claims.contains_key("exp") && claims.contains_key("iat"));
    assert!(!claims.contains_key("nonce"));
    assert_eq!(
        claims["events"],
        json!({ "http://schemas.openid.net/event/backchannel-logout": {} })
    );
    server.abort();
    t.stop().await;
}

async fn end_session_redirects_only_with_a_valid_hint_to_a_registered_uri(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let (signed_in, rp, _) = signed_in_rp(&t, true).await;
    let (verifier, challenge) = pkce("es");
    let code = code_for(&t, &signed_in, &rp, &challenge).await;
    let (_, tokens) = exchange(&t, &rp, &code, &verifier).await;
    let hint = tokens["id_token"].as_str().unwrap();
    // An unregistered URI: signed out, not redirected there.
    let r = signed_in
        .client
        .get(t.url("/oauth2/logout"))
        .query(&[
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", "http://evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert!(!location(&r).starts_with("http://evil.example"), "{}", location(&r));
    // A forged hint: a confirmation page, no redirect.
    let signed_in = t.sign_in("docente", PASSWORD).await;
    // The signature's first character changed: six bits of it, always.
    let (signed, signature) = hint.rsplit_once('.').unwrap();
    let first = if signature.starts_with('A') { 'B' } else { 'A' };
    let forged = format!("{signed}.{first}{}", &signature[1..]);
    let r = signed_in
        .client
        .get(t.url("/oauth2/logout"))
        .query(&[
            ("id_token_hint", forged.as_str()),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("location").is_none());
    // A valid hint of this session and a registered URI: back with state.
    let code = code_for(&t, &signed_in, &rp, &challenge).await;
    let (_, tokens) = exchange(&t, &rp, &code, &verifier).await;
    let hint = tokens["id_token"].as_str().unwrap();
    let r = signed_in
        .client
        .get(t.url("/oauth2/logout"))
        .query(&[
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
            ("state", "s1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), format!("{AFTER_LOGOUT}?state=s1"));
    assert_eq!(
        t.me(&signed_in.client).await.0,
        StatusCode::UNAUTHORIZED,
        "signed out of Varco"
    );
    t.stop().await;
}

async fn key_rotation_keeps_the_old_key_published(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let (signed_in, rp, _) = signed_in_rp(&t, true).await;
    let (verifier, challenge) = pkce("k");
    let code = code_for(&t, &signed_in, &rp, &challenge).await;
    let (_, before) = exchange(&t, &rp, &code, &verifier).await;
    let kid_of = |token: &str| -> String {
        let header = token.split('.').next().unwrap();
        let header: Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        header["kid"].as_str().unwrap().to_owned()
    };
    let old_kid = kid_of(before["id_token"].as_str().unwrap());
    let new_kids = varco_app::clients::rotate_signing_keys(t.app(), &Actor::Cli)
        .await
        .unwrap();
    assert!(!new_kids.contains(&old_kid));
    let code = code_for(&t, &signed_in, &rp, &challenge).await;
    let (_, after) = exchange(&t, &rp, &code, &verifier).await;
    let new_kid = kid_of(after["id_token"].as_str().unwrap());
    assert!(new_kids.contains(&new_kid), "signed with the new key");
    // Both verify against the published set.
    verified(&t, before["id_token"].as_str().unwrap()).await;
    verified(&t, after["id_token"].as_str().unwrap()).await;
    t.stop().await;
}

async fn prompt_login_and_max_age_ask_for_a_new_sign_in(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let (signed_in, rp, _) = signed_in_rp(&t, true).await;
    let (_, challenge) = pkce("pl");
    let r = authorize(
        &t,
        &signed_in.client,
        &auth_query(&rp, &challenge, &[("prompt", "login")]),
    )
    .await;
    let to = location(&r);
    assert!(to.starts_with("/login?next="), "{to}");
    assert!(to.contains("fresh=1"), "{to}");
    // The sign-in page shows the form to a signed-in person asked to sign in again.
    let r = signed_in.client.get(t.url(&to)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    t.clock.advance(600);
    let r = authorize(
        &t,
        &signed_in.client,
        &auth_query(&rp, &challenge, &[("max_age", "60")]),
    )
    .await;
    assert!(location(&r).starts_with("/login?next="), "{}", location(&r));
    let r = authorize(
        &t,
        &signed_in.client,
        &auth_query(&rp, &challenge, &[("max_age", "6000")]),
    )
    .await;
    assert!(location(&r).starts_with(REDIRECT), "{}", location(&r));
    t.stop().await;
}

/// Undoes the HTML escaping of an attribute value.
pub(crate) fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x3d;", "=")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}
