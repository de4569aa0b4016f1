//! The pitfalls other providers hit (research notes §4, P1–P10) that
//! `oidc.rs` does not already pin down, plus the client kinds it does not
//! drive: pairwise subjects, a public client, `private_key_jwt`, and forged
//! or expired `id_token_hint`s at the end-session endpoint.

use std::str::FromStr;

use base64::Engine as _;
use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJwsSigningAlgorithm, CoreProviderMetadata};
use openidconnect::{ClientId, ClientSecret, IssuerUrl, Nonce};
use reqwest::StatusCode;
use serde_json::{Map, Value, json};
use varco_app::Actor;
use varco_app::accounts::AddAccount;
use varco_app::clients::ClientKind;
use varco_domain::account::AccountKind;
use varco_domain::clock::Clock;
use varco_domain::password::PasswordInput;
use varco_oidc::{Alg, SigningKey};

use crate::harness::{Backend, PASSWORD, SCHOOL, TestApp, both_backends, client, tax_code};
use crate::kit::{SignedIn, input_value};
use crate::oidc::{
    AFTER_LOGOUT, REDIRECT, Rp, auth_query, authorize, code_for, exchange, location, params_of, pkce, refresh,
    register, registration, signed_in_rp, userinfo, verified,
};

both_backends!(
    p3_rs256_by_default_es256_only_for_the_client_that_asked,
    p5_no_claim_is_ever_null_even_for_an_account_without_email,
    p9_max_age_zero_forces_a_fresh_sign_in_and_auth_time_follows_it,
    p9_acr_tells_what_happened_whatever_acr_values_asks,
    pairwise_subjects_differ_per_client_and_stay_stable,
    a_public_client_uses_pkce_and_never_a_secret,
    private_key_jwt_accepts_only_a_good_assertion_from_the_clients_key,
    end_session_with_a_forged_or_expired_hint,
);

/// The nonce `auth_query` sends.
const NONCE: &str = "nonce-0123456789-abcdefghijklmnopqrstuv";

/// The decoded JOSE header of a compact JWS.
fn header_of(token: &str) -> Map<String, Value> {
    let header = token.split('.').next().expect("a header");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("a JSON header")
}

/// The payload of a compact JWS, unverified.
fn payload_of(token: &str) -> Map<String, Value> {
    let payload = token.split('.').nth(1).expect("a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("a JSON payload")
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Every `null` anywhere in a JSON value, as paths.
fn nulls(value: &Value, path: &str, found: &mut Vec<String>) {
    match value {
        Value::Null => found.push(path.to_owned()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                nulls(item, &format!("{path}[{i}]"), found);
            }
        }
        Value::Object(members) => {
            for (name, member) in members {
                nulls(member, &format!("{path}.{name}"), found);
            }
        }
        _ => {}
    }
}

fn assert_no_null(value: &Value, what: &str) {
    let mut found = Vec::new();
    nulls(value, "", &mut found);
    assert!(found.is_empty(), "{what} has null members {found:?}: {value}");
}

async fn discovery(t: &TestApp) -> Value {
    client()
        .get(t.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// P3: ES256-only ID tokens break common relying parties ("expected RS256,
/// got ES256"). RS256 is the default and listed first in discovery; a client
/// registered for ES256 gets ES256, the others keep RS256.
async fn p3_rs256_by_default_es256_only_for_the_client_that_asked(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let (signed_in, default_rp, _) = signed_in_rp(&t, true).await;
    let mut reg = registration("Biblioteca");
    reg.id_token_alg = Alg::Es256;
    let es_rp = register(&t, reg).await;

    let document = discovery(&t).await;
    assert_eq!(
        document["id_token_signing_alg_values_supported"][0], "RS256",
        "RS256 first (Discovery §3 requires it)"
    );
    assert!(
        document["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("ES256"))
    );

    let (verifier, challenge) = pkce("p3");
    let mut tokens = Vec::new();
    for rp in [&default_rp, &es_rp] {
        let code = code_for(&t, &signed_in, rp, &challenge).await;
        let (status, body) = exchange(&t, rp, &code, &verifier).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let id_token = body["id_token"].as_str().unwrap().to_owned();
        verified(&t, &id_token).await;
        tokens.push((id_token, body["refresh_token"].as_str().unwrap().to_owned()));
    }
    let (rs_token, _) = &tokens[0];
    let (es_token, es_refresh) = &tokens[1];
    assert_eq!(header_of(rs_token)["alg"], "RS256");
    assert_eq!(header_of(es_token)["alg"], "ES256");
    // Each token names a published key of its own type.
    let jwks: Value = client()
        .get(t.url("/oauth2/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kty_of = |token: &str| {
        let kid = header_of(token)["kid"].clone();
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .map(|k| k["kty"].clone())
            .unwrap_or_else(|| panic!("kid {kid} is not published"))
    };
    assert_eq!(kty_of(rs_token), "RSA");
    assert_eq!(kty_of(es_token), "EC");
    // A refresh keeps the client's algorithm.
    let (status, refreshed) = refresh(&t, &es_rp, es_refresh).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header_of(refreshed["id_token"].as_str().unwrap())["alg"], "ES256");

    // What a relying party sees: a verifier with the crate's defaults (RS256
    // only, as most RPs are configured) takes the default client's token and
    // refuses ES256; one set up from discovery takes both.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(t.base.clone()).unwrap(), &http)
        .await
        .expect("discovery");
    let now = t.clock.now().0;
    let plain_verifier = |rp: &Rp| {
        CoreIdTokenVerifier::new_confidential_client(
            ClientId::new(rp.client_id.clone()),
            ClientSecret::new(rp.secret.clone().unwrap()),
            IssuerUrl::new(t.base.clone()).unwrap(),
            metadata.jwks().clone(),
        )
        .set_time_fn(move || chrono::DateTime::from_timestamp(now, 0).unwrap())
    };
    let nonce = Nonce::new(NONCE.into());
    let rs = CoreIdToken::from_str(rs_token).unwrap();
    rs.claims(&plain_verifier(&default_rp), &nonce)
        .expect("an RS256-only relying party accepts the default client's ID token");
    let es = CoreIdToken::from_str(es_token).unwrap();
    assert!(
        es.claims(&plain_verifier(&es_rp), &nonce).is_err(),
        "why ES256 must stay opt-in"
    );
    let from_discovery =
        plain_verifier(&es_rp).set_allowed_algs(metadata.id_token_signing_alg_values_supported().to_vec());
    assert!(
        metadata
            .id_token_signing_alg_values_supported()
            .contains(&CoreJwsSigningAlgorithm::EcdsaP256Sha256)
    );
    es.claims(&from_discovery, &nonce)
        .expect("an RP that reads discovery accepts ES256");
    t.stop().await;
}

/// P5: `at_hash: null` and friends break clients. An account without an
/// email address must give no `email` or `email_verified` member at all,
/// and nothing anywhere is null: token response, ID token (code and
/// refresh), userinfo, introspection.
async fn p5_no_claim_is_ever_null_even_for_an_account_without_email(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    t.add_school().await;
    varco_app::accounts::add(
        t.app(),
        &Actor::Cli,
        &varco_app::RequestContext::default(),
        &AddAccount {
            school_code: SCHOOL.into(),
            kind: AccountKind::Staff,
            first_name: "Senza".into(),
            last_name: "Posta".into(),
            tax_code: tax_code(7),
            email: None,
            username: Some("senzaposta".into()),
        },
        Some(PasswordInput::new(PASSWORD).unwrap()),
    )
    .await
    .expect("an account without email");
    let rp = register(&t, registration("Registro elettronico")).await;
    let introspector = register(&t, registration("Server delle risorse")).await;
    let signed_in = t.sign_in("senzaposta", PASSWORD).await;
    let (verifier, challenge) = pkce("p5");
    let code = code_for(&t, &signed_in, &rp, &challenge).await;
    let (status, body) = exchange(&t, &rp, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_no_null(&body, "the token response");
    assert!(
        body["scope"].as_str().unwrap().contains("email"),
        "the email scope was granted: {body}"
    );
    let claims = Value::Object(verified(&t, body["id_token"].as_str().unwrap()).await);
    assert_no_null(&claims, "the ID token");
    assert!(
        claims["at_hash"].is_string() && claims["auth_time"].is_i64(),
        "{claims}"
    );

    let (status, info) = userinfo(&t, body["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_no_null(&info, "userinfo");
    for absent in ["email", "email_verified"] {
        assert!(info.get(absent).is_none(), "{absent} left out, not null: {info}");
    }
    assert_eq!(info["given_name"], "Senza");
    assert!(info[varco_oidc::SCHOOL_CLAIM][0]["roles"].is_array(), "{info}");

    let r = client()
        .post(t.url("/oauth2/introspect"))
        .basic_auth(&introspector.client_id, introspector.secret.as_deref())
        .form(&[("token", body["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["active"], true);
    assert_no_null(&answer, "introspection");

    t.clock.advance(60);
    let (status, refreshed) = refresh(&t, &rp, body["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_no_null(&refreshed, "the refresh response");
    let again = Value::Object(verified(&t, refreshed["id_token"].as_str().unwrap()).await);
    assert_no_null(&again, "the refreshed ID token");
    assert!(again.get("nonce").is_none());
    t.stop().await;
}

/// Follows a `/login?next=…` redirect as a browser would: the form, the
/// password, and back to `next`. Returns the answer to `next`.
async fn sign_in_again(t: &TestApp, browser: &reqwest::Client, to: &str, login: &str) -> reqwest::Response {
    let next = url::Url::parse(&t.url(to))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned())
        .expect("a next parameter");
    assert!(next.starts_with("/oauth2/authorize?"), "{next}");
    let r = browser.get(t.url(to)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the form is shown to a signed-in person");
    let csrf = input_value(&r.text().await.unwrap(), "csrf");
    let r = browser
        .post(t.url("/login"))
        .header("origin", &t.base)
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", login),
            ("password", PASSWORD),
            ("next", next.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    assert_eq!(location(&r), next);
    browser.get(t.url(&next)).send().await.unwrap()
}

/// P9 (and P5's "fresh after step-up"): `max_age=0` is `prompt=login`
/// (OpenID Connect Core §3.1.2.1), even a second after signing in; after
/// the new sign-in the request goes on to the client, and `auth_time` is
/// the new sign-in, not the old one.
async fn p9_max_age_zero_forces_a_fresh_sign_in_and_auth_time_follows_it(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let (signed_in, rp, _) = signed_in_rp(&t, true).await;
    let first = t.session_of(&signed_in).await.session.created_at;
    let (verifier, challenge) = pkce("p9");
    // In the very second of the sign-in, too.
    let r = authorize(&t, &signed_in.client, &auth_query(&rp, &challenge, &[("max_age", "0")])).await;
    let to = location(&r);
    assert!(
        to.starts_with("/login?next=") && to.contains("fresh=1"),
        "max_age=0 at the second of the sign-in: {to}"
    );
    t.clock.advance(30);
    let r = authorize(&t, &signed_in.client, &auth_query(&rp, &challenge, &[("max_age", "0")])).await;
    let to = location(&r);
    assert!(to.starts_with("/login?next=") && to.contains("fresh=1"), "{to}");
    // No code before the new sign-in.
    assert!(!to.contains("code="));

    t.clock.advance(5);
    let r = sign_in_again(&t, &signed_in.client, &to, "docente").await;
    let back = location(&r);
    assert!(
        back.starts_with(REDIRECT),
        "after the new sign-in, on to the client: {back}"
    );
    let (status, body) = exchange(&t, &rp, &params_of(&back)["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let claims = verified(&t, body["id_token"].as_str().unwrap()).await;
    let fresh = first.plus_secs(35);
    assert_eq!(claims["auth_time"], json!(fresh.0), "auth_time is the new sign-in");
    assert_ne!(claims["auth_time"], json!(first.0));
    assert_eq!(claims["acr"], json!(varco_app::provider::ACR_PASSWORD));
    // A refresh keeps that auth_time.
    t.clock.advance(60);
    let (_, refreshed) = refresh(&t, &rp, body["refresh_token"].as_str().unwrap()).await;
    let again = verified(&t, refreshed["id_token"].as_str().unwrap()).await;
    assert_eq!(again["auth_time"], json!(fresh.0));
    t.stop().await;
}

/// P9: `acr_values` is in the URL, so the person can edit it; the ID token
/// must say what actually happened (a password sign-in), never echo what
/// was asked.
async fn p9_acr_tells_what_happened_whatever_acr_values_asks(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let (signed_in, rp, _) = signed_in_rp(&t, true).await;
    let document = discovery(&t).await;
    assert_eq!(
        document["acr_values_supported"],
        json!([
            varco_app::provider::ACR_PASSWORD,
            varco_app::confirmations::ACR_SECOND_SECRET
        ])
    );
    let (verifier, challenge) = pkce("acr");
    for asked in [
        "https://www.spid.gov.it/SpidL2",
        "https://www.spid.gov.it/SpidL3 urn:varco:acr:mfa",
        "urn:varco:acr:password",
    ] {
        let r = authorize(
            &t,
            &signed_in.client,
            &auth_query(&rp, &challenge, &[("acr_values", asked)]),
        )
        .await;
        let back = location(&r);
        assert!(back.starts_with(REDIRECT), "{asked}: {back}");
        let (status, body) = exchange(&t, &rp, &params_of(&back)["code"], &verifier).await;
        assert_eq!(status, StatusCode::OK);
        let claims = verified(&t, body["id_token"].as_str().unwrap()).await;
        assert_eq!(claims["acr"], json!(varco_app::provider::ACR_PASSWORD), "asked {asked}");
        assert_eq!(claims["amr"], json!(["pwd"]));
    }
    t.stop().await;
}

/// The account's own (public) subject, as stored.
async fn account_subject(t: &TestApp, signed_in: &SignedIn) -> String {
    let account_id = t.session_of(signed_in).await.account.id;
    let mut tx = t.app().store.begin_read().await.unwrap();
    let subject = tx.account_subject(account_id).await.unwrap();
    tx.commit().await.unwrap();
    subject.expect("a subject once a code was issued")
}

/// Pairwise subjects: two pairwise clients see two different `sub`s for the
/// same person (they cannot join their records), each stable across sign-ins,
/// refresh, userinfo and introspection; a public-subject client sees the
/// account's own subject; another person gets other pairwise values.
async fn pairwise_subjects_differ_per_client_and_stay_stable(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let (signed_in, public_rp, _) = signed_in_rp(&t, true).await;
    let mut pairwise = Vec::new();
    for name in ["Biblioteca", "Piattaforma didattica"] {
        let mut reg = registration(name);
        reg.pairwise = true;
        pairwise.push(register(&t, reg).await);
    }
    let (verifier, challenge) = pkce("pw");
    let mut subs = Vec::new();
    for rp in [&public_rp, &pairwise[0], &pairwise[1]] {
        let code = code_for(&t, &signed_in, rp, &challenge).await;
        let (status, body) = exchange(&t, rp, &code, &verifier).await;
        assert_eq!(status, StatusCode::OK);
        let sub = verified(&t, body["id_token"].as_str().unwrap()).await["sub"]
            .as_str()
            .unwrap()
            .to_owned();
        let (_, info) = userinfo(&t, body["access_token"].as_str().unwrap()).await;
        assert_eq!(info["sub"], json!(sub), "userinfo agrees with the ID token");
        let r = client()
            .post(t.url("/oauth2/introspect"))
            .basic_auth(&public_rp.client_id, public_rp.secret.as_deref())
            .form(&[("token", body["access_token"].as_str().unwrap())])
            .send()
            .await
            .unwrap();
        let answer: Value = r.json().await.unwrap();
        assert_eq!(answer["sub"], json!(sub), "introspection agrees with the ID token");
        let (_, refreshed) = refresh(&t, rp, body["refresh_token"].as_str().unwrap()).await;
        let again = verified(&t, refreshed["id_token"].as_str().unwrap()).await;
        assert_eq!(again["sub"], json!(sub), "stable across a refresh");
        // And across a second sign-in.
        let code = code_for(&t, &signed_in, rp, &challenge).await;
        let (_, second) = exchange(&t, rp, &code, &verifier).await;
        let second = verified(&t, second["id_token"].as_str().unwrap()).await;
        assert_eq!(second["sub"], json!(sub), "stable across sign-ins");
        subs.push(sub);
    }
    assert_eq!(subs[0], account_subject(&t, &signed_in).await, "public subject");
    assert_ne!(subs[1], subs[2], "two pairwise clients see different subjects");
    assert_ne!(subs[1], subs[0]);
    assert_ne!(subs[2], subs[0]);

    // Another person: other pairwise values for the same client.
    t.add_account(4, "altra@example.it", Some("altra"), Some(PASSWORD))
        .await;
    let other = t.sign_in("altra", PASSWORD).await;
    let code = code_for(&t, &other, &pairwise[0], &challenge).await;
    let (_, body) = exchange(&t, &pairwise[0], &code, &verifier).await;
    let other_sub = verified(&t, body["id_token"].as_str().unwrap()).await["sub"].clone();
    assert_ne!(other_sub, json!(subs[1]));
    t.stop().await;
}

/// Posts a token request with the form as given (no Basic header unless
/// `basic` is set); the status and body.
async fn token_form(t: &TestApp, basic: Option<(&str, &str)>, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut request = client().post(t.url("/oauth2/token")).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let r = request.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A public client (a single-page or mobile app): no secret exists, so the
/// token request names the client in the body and PKCE is the only proof;
/// a request that brings a secret anyway is refused (`invalid_client`), and
/// the code stays usable.
async fn a_public_client_uses_pkce_and_never_a_secret(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let (signed_in, _, _) = signed_in_rp(&t, true).await;
    let mut reg = registration("App della scuola");
    reg.kind = ClientKind::Public;
    let app = register(&t, reg).await;
    assert!(app.secret.is_none(), "no secret for a public client");
    let (verifier, challenge) = pkce("pub");
    // P1 for a public client: no challenge, no code.
    let r = authorize(
        &t,
        &signed_in.client,
        &auth_query(
            &app,
            &challenge,
            &[("code_challenge", ""), ("code_challenge_method", "")],
        ),
    )
    .await;
    assert_eq!(params_of(&location(&r))["error"], "invalid_request");

    let code = code_for(&t, &signed_in, &app, &challenge).await;
    let exchange_form = |extra: Vec<(&'static str, &'static str)>| {
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
            ("redirect_uri", REDIRECT.to_owned()),
            ("code_verifier", verifier.clone()),
        ];
        form.extend(extra.into_iter().map(|(k, v)| (k, v.to_owned())));
        form
    };
    // With a secret in the body: refused.
    let form = exchange_form(vec![("client_secret", "un-segreto-qualsiasi")]);
    let mut with_id: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    with_id.push(("client_id", app.client_id.as_str()));
    let (status, body) = token_form(&t, None, &with_id).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    // With a secret in a Basic header: refused.
    let form = exchange_form(Vec::new());
    let plain: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, body) = token_form(&t, Some((&app.client_id, "un-segreto-qualsiasi")), &plain).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    // Without naming the client at all: refused.
    let (status, body) = token_form(&t, None, &plain).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    // client_id in the body and the verifier: the code was not spent by the refusals.
    let mut good = plain.clone();
    good.push(("client_id", app.client_id.as_str()));
    let (status, tokens) = token_form(&t, None, &good).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let claims = verified(&t, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["aud"], json!(app.client_id));
    // A refresh names the client the same way, and rotates.
    let (status, refreshed) = token_form(
        &t,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", app.client_id.as_str()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_ne!(refreshed["refresh_token"], tokens["refresh_token"]);
    // Another client cannot spend the public client's refresh token.
    let other = register(&t, registration("Altro")).await;
    let (status, _) = refresh(&t, &other, refreshed["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A public client cannot authenticate, so it cannot introspect (RFC 7662 §2.1).
    let r = client()
        .post(t.url("/oauth2/introspect"))
        .form(&[
            ("token", refreshed["access_token"].as_str().unwrap()),
            ("client_id", app.client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "introspection by a client with no credentials"
    );
    t.stop().await;
}

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A client assertion (RFC 7523 §3) signed by `key`, with `changes` applied
/// to the good claims (a null removes a claim).
fn assertion(t: &TestApp, key: &SigningKey, client_id: &str, changes: Value) -> String {
    let now = t.clock.now().0;
    let mut claims = json!({
        "iss": client_id,
        "sub": client_id,
        "aud": t.url("/oauth2/token"),
        "iat": now,
        "exp": now + 60,
        "jti": format!("jti-{}", rand::random::<u64>()),
    });
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    key.sign(claims.as_object().unwrap(), None).unwrap()
}

/// `private_key_jwt` (OpenID Connect Core §9): the client proves itself with
/// a JWT signed by a key of the JWK Set it registered. Accepted with or
/// without `client_id` in the body; refused (`invalid_client`, code left
/// unspent) when signed by another key, for another audience, expired, with
/// iss/sub of another client, too long-lived, or with a secret instead.
async fn private_key_jwt_accepts_only_a_good_assertion_from_the_clients_key(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let (signed_in, secret_rp, _) = signed_in_rp(&t, true).await;
    let key = SigningKey::generate(Alg::Es256).unwrap();
    let mut reg = registration("Segreteria digitale");
    reg.kind = ClientKind::PrivateKeyJwt;
    reg.jwks = Some(varco_oidc::jwks(&[key.public_jwk()]).to_string());
    let rp = register(&t, reg).await;
    assert!(rp.secret.is_none());
    let id = rp.client_id.clone();
    let (verifier, challenge) = pkce("pkj");
    let now = t.clock.now().0;

    let stranger = SigningKey::generate(Alg::Es256).unwrap();
    let refused: Vec<(&str, String)> = vec![
        ("signed by another key", assertion(&t, &stranger, &id, json!({}))),
        (
            "another audience",
            assertion(&t, &key, &id, json!({"aud": "https://altro.example/oauth2/token"})),
        ),
        ("expired", assertion(&t, &key, &id, json!({"exp": now - 1}))),
        ("no exp", assertion(&t, &key, &id, json!({"exp": null}))),
        ("too long-lived", assertion(&t, &key, &id, json!({"exp": now + 3600}))),
        (
            "iss of another client",
            assertion(&t, &key, &id, json!({"iss": secret_rp.client_id})),
        ),
        ("no jti", assertion(&t, &key, &id, json!({"jti": null}))),
        ("not yet valid", assertion(&t, &key, &id, json!({"nbf": now + 120}))),
    ];
    let code = code_for(&t, &signed_in, &rp, &challenge).await;
    let form = |client_assertion: &str, with_id: bool| -> Vec<(String, String)> {
        let mut form = vec![
            ("grant_type".to_owned(), "authorization_code".to_owned()),
            ("code".to_owned(), code.clone()),
            ("redirect_uri".to_owned(), REDIRECT.to_owned()),
            ("code_verifier".to_owned(), verifier.clone()),
            ("client_assertion_type".to_owned(), ASSERTION_TYPE.to_owned()),
            ("client_assertion".to_owned(), client_assertion.to_owned()),
        ];
        if with_id {
            form.push(("client_id".to_owned(), id.clone()));
        }
        form
    };
    let post = |form: Vec<(String, String)>| {
        let url = t.url("/oauth2/token");
        async move {
            let r = client().post(url).form(&form).send().await.unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    for (why, bad) in &refused {
        for with_id in [true, false] {
            let (status, body) = post(form(bad, with_id)).await;
            assert_eq!(
                (status, body["error"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("invalid_client")),
                "{why} (client_id in the body: {with_id})"
            );
        }
    }
    // The client's id in the body but another client's assertion subject.
    let (status, _) = post(form(&assertion(&t, &key, &secret_rp.client_id, json!({})), true)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The assertion type missing or wrong.
    let mut wrong_type = form(&assertion(&t, &key, &id, json!({})), true);
    wrong_type[4].1 = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer".into();
    let (status, _) = post(wrong_type).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A secret instead of an assertion.
    let (status, body) = token_form(
        &t,
        Some((&id, "un-segreto-qualsiasi")),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );

    // The good assertion, naming the client only in the assertion: the code
    // was left unspent by every refusal.
    let (status, tokens) = post(form(&assertion(&t, &key, &id, json!({})), false)).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let claims = verified(&t, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["aud"], json!(id));
    // The issuer as audience works too (Core §9), with client_id in the body, for a refresh.
    let good = assertion(&t, &key, &id, json!({"aud": t.base}));
    let (status, refreshed) = post(vec![
        ("grant_type".into(), "refresh_token".into()),
        ("refresh_token".into(), tokens["refresh_token"].as_str().unwrap().into()),
        ("client_id".into(), id.clone()),
        ("client_assertion_type".into(), ASSERTION_TYPE.into()),
        ("client_assertion".into(), good.clone()),
    ])
    .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    // The same assertion a second time (same jti, Core §9): refused.
    let (status, body) = post(vec![
        ("grant_type".into(), "refresh_token".into()),
        (
            "refresh_token".into(),
            refreshed["refresh_token"].as_str().unwrap().into(),
        ),
        ("client_id".into(), id.clone()),
        ("client_assertion_type".into(), ASSERTION_TYPE.into()),
        ("client_assertion".into(), good),
    ])
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "a client assertion used a second time"
    );
    // An RS256 key registered by another client works the same way.
    let rsa = SigningKey::generate(Alg::Rs256).unwrap();
    let mut reg = registration("Protocollo");
    reg.kind = ClientKind::PrivateKeyJwt;
    reg.jwks = Some(varco_oidc::jwks(&[rsa.public_jwk()]).to_string());
    let rsa_rp = register(&t, reg).await;
    let code = code_for(&t, &signed_in, &rsa_rp, &challenge).await;
    let (status, body) = post(vec![
        ("grant_type".into(), "authorization_code".into()),
        ("code".into(), code),
        ("redirect_uri".into(), REDIRECT.into()),
        ("code_verifier".into(), verifier.clone()),
        ("client_assertion_type".into(), ASSERTION_TYPE.into()),
        (
            "client_assertion".into(),
            assertion(&t, &rsa, &rsa_rp.client_id, json!({})),
        ),
    ])
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The first client's key does not open the second client's door.
    let code = code_for(&t, &signed_in, &rsa_rp, &challenge).await;
    let (status, _) = post(vec![
        ("grant_type".into(), "authorization_code".into()),
        ("code".into(), code),
        ("redirect_uri".into(), REDIRECT.into()),
        ("code_verifier".into(), verifier.clone()),
        ("client_assertion_type".into(), ASSERTION_TYPE.into()),
        (
            "client_assertion".into(),
            assertion(&t, &key, &rsa_rp.client_id, json!({})),
        ),
    ])
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    t.stop().await;
}

/// RP-initiated logout with a hint that is not what it claims (P8, and the
/// "forged or expired id_token_hint" of issue 8). A forged hint (payload
/// changed under the old signature, `alg: none`, signed by a key Varco does
/// not publish) never leads to a redirect, even to a registered URI, and
/// does not sign the person out unasked. An expired hint of the current
/// session is still accepted (RP-Initiated Logout 1.0 §4: the OP SHOULD
/// accept an ID token past its `exp` from a client with a current session);
/// a hint of an ended session only gets the confirmation page. A hint of
/// one client never opens another client's post-logout URI.
async fn end_session_with_a_forged_or_expired_hint(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let (signed_in, rp, _) = signed_in_rp(&t, true).await;
    let mut reg = registration("Biblioteca");
    reg.post_logout_redirect_uris = vec!["http://127.0.0.1:9/biblioteca-uscita".into()];
    let other = register(&t, reg).await;
    let (verifier, challenge) = pkce("hint");
    let code = code_for(&t, &signed_in, &rp, &challenge).await;
    let (_, tokens) = exchange(&t, &rp, &code, &verifier).await;
    let hint = tokens["id_token"].as_str().unwrap().to_owned();
    let claims = payload_of(&hint);

    let parts: Vec<&str> = hint.split('.').collect();
    let mut swapped = claims.clone();
    swapped.insert("aud".into(), json!(other.client_id));
    let payload_swapped = format!(
        "{}.{}.{}",
        parts[0],
        b64(&serde_json::to_vec(&swapped).unwrap()),
        parts[2]
    );
    let alg_none = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    let stranger = SigningKey::generate(Alg::Rs256).unwrap();
    let foreign_key = stranger.sign(&claims, Some("JWT")).unwrap();
    let end_session = |hint: String, uri: &'static str| {
        let http = signed_in.client.clone();
        let url = t.url("/oauth2/logout");
        async move {
            http.get(url)
                .query(&[
                    ("id_token_hint", hint.as_str()),
                    ("post_logout_redirect_uri", uri),
                    ("state", "s1"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    for (why, forged) in [
        ("payload changed under the signature", payload_swapped),
        ("alg none", alg_none),
        ("signed by an unpublished key", foreign_key),
    ] {
        for uri in [AFTER_LOGOUT, "http://127.0.0.1:9/biblioteca-uscita"] {
            let r = end_session(forged.clone(), uri).await;
            assert_eq!(r.status(), StatusCode::OK, "{why}: a confirmation page");
            assert!(r.headers().get("location").is_none(), "{why}: no redirect");
            assert_eq!(
                t.me(&signed_in.client).await.0,
                StatusCode::OK,
                "{why}: not signed out unasked"
            );
        }
    }
    // A genuine hint of this client with the other client's URI: signed out, not sent there.
    let r = end_session(hint.clone(), "http://127.0.0.1:9/biblioteca-uscita").await;
    assert!(!location(&r).contains("biblioteca-uscita"), "{}", location(&r));

    // Expired: a hint of the current session, past its exp, is still honoured.
    let signed_in = t.sign_in("docente", PASSWORD).await;
    let code = code_for(&t, &signed_in, &rp, &challenge).await;
    let (_, tokens) = exchange(&t, &rp, &code, &verifier).await;
    let current = tokens["id_token"].as_str().unwrap().to_owned();
    let exp = payload_of(&current)["exp"].as_i64().unwrap();
    t.clock.advance(exp - t.clock.now().0 + 60);
    // The old hint (of the session ended above) is past its exp too: only a confirmation page.
    let r = signed_in
        .client
        .get(t.url("/oauth2/logout"))
        .query(&[
            ("id_token_hint", hint.as_str()),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("location").is_none(), "a hint of another session");
    assert_eq!(t.me(&signed_in.client).await.0, StatusCode::OK);
    let r = signed_in
        .client
        .get(t.url("/oauth2/logout"))
        .query(&[
            ("id_token_hint", current.as_str()),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
            ("state", "s2"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), format!("{AFTER_LOGOUT}?state=s2"));
    assert_eq!(t.me(&signed_in.client).await.0, StatusCode::UNAUTHORIZED);
    t.stop().await;
}
