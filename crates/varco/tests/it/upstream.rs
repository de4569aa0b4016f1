//! SPID/CIE sign-in in static mode against npm `oidc-provider` (a certified
//! OpenID provider) standing in for a gateway: e2e/upstream_op.mjs starts it
//! on loopback with Varco as a confidential client, PKCE required, and a
//! scripted login whose identity and `acr` each test picks. Plain HTTP
//! (reqwest with cookies) drives login → provider → callback → session.
//!
//! Needs node and `e2e/node_modules/oidc-provider` (`cd e2e && npm ci`):
//! under CI a missing piece is a failure, elsewhere the test says it skips.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;
use serde_json::json;
use varco::config::UpstreamConfig;
use varco_app::{Actor, RequestContext};
use varco_domain::clock::{Clock, SystemClock};
use varco_oidc::rp::SpidLevel;

use crate::browser::e2e_dir;
use crate::harness::{Backend, Options, TestApp, both_backends, client, tax_code};
use crate::kit::SignedIn;
use crate::oidc::{code_for, exchange, pkce, register, registration, verified};

both_backends!(
    a_person_signs_in_with_spid_and_applications_see_it,
    every_refusal_has_a_page_and_no_session,
    a_person_with_accounts_in_two_schools_chooses_one,
    a_hostile_provider_is_refused_with_a_page_and_no_session,
    a_callback_presented_twice_is_refused_the_second_time,
    the_school_choice_leaves_out_accounts_spid_may_not_open,
    expired_pending_sign_ins_are_swept_without_a_new_one,
    too_many_spid_cie_requests_from_one_address_get_a_429_page,
    a_static_provider_is_fetched_once_and_again_when_its_key_changes,
);

const CLIENT_ID: &str = "varco-test";
const CLIENT_SECRET: &str = "upstream-client-secret-for-tests";

/// Whether node and oidc-provider are missing (a failure under CI).
fn skip() -> bool {
    let has_node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let has_module = e2e_dir().join("node_modules/oidc-provider/package.json").exists();
    if has_node && has_module {
        return false;
    }
    let missing = if has_node {
        "e2e/node_modules/oidc-provider is missing (cd e2e && npm ci)"
    } else {
        "node is not installed"
    };
    if std::env::var_os("CI").is_some() {
        panic!("the SPID/CIE static-mode test cannot run in CI: {missing}");
    }
    eprintln!("SKIPPING the SPID/CIE static-mode test: {missing}");
    true
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// The upstream provider's process, stopped when dropped.
pub(crate) struct UpstreamOp {
    child: Child,
    issuer: String,
}

impl UpstreamOp {
    fn start(port: u16, redirect_uri: &str) -> UpstreamOp {
        let mut child = Command::new("node")
            .arg(e2e_dir().join("upstream_op.mjs"))
            .current_dir(e2e_dir())
            .env("PORT", port.to_string())
            .env("REDIRECT_URI", redirect_uri)
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node");
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).expect("read");
        assert_eq!(line.trim(), "ready", "upstream_op.mjs did not start");
        // Keep draining its output: a closed pipe would stop it.
        std::thread::spawn(move || {
            for line in reader.lines().map_while(Result::ok) {
                eprintln!("upstream_op: {line}");
            }
        });
        UpstreamOp {
            child,
            issuer: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Picks who signs in next at the provider, and at which level.
    pub(crate) async fn next(&self, sub: &str, fiscal: &str, acr: SpidLevel) {
        self.control(&[("sub", sub), ("fiscal", fiscal), ("acr", acr.uri())])
            .await;
    }

    /// Like [`UpstreamOp::next`], with the provider turned hostile: `attack`
    /// (see e2e/upstream_op.mjs) applies to its answers until the next call.
    async fn next_hostile(&self, sub: &str, fiscal: &str, attack: &str) {
        self.control(&[
            ("sub", sub),
            ("fiscal", fiscal),
            ("acr", SpidLevel::L2.uri()),
            ("attack", attack),
        ])
        .await;
    }

    /// Who signs in next, with the fiscal number sent exactly as given (no `TINIT-` added).
    async fn next_raw_fiscal(&self, sub: &str, fiscal: &str) {
        self.control(&[
            ("sub", sub),
            ("fiscal", fiscal),
            ("acr", SpidLevel::L2.uri()),
            ("raw", "1"),
        ])
        .await;
    }

    async fn control(&self, query: &[(&str, &str)]) {
        let r = client()
            .get(format!("{}/__test/next", self.issuer))
            .query(query)
            .send()
            .await
            .expect("control");
        assert!(r.status().is_success());
    }

    /// The provider starts signing with a new key (another `kid`), published in its JWKS.
    async fn rotate(&self) {
        let r = client()
            .get(format!("{}/__test/rotate", self.issuer))
            .send()
            .await
            .expect("rotate");
        assert!(r.status().is_success());
    }

    /// How often the discovery document and the JWKS were fetched.
    async fn fetches(&self) -> (i64, i64) {
        let r: serde_json::Value = client()
            .get(format!("{}/__test/fetches", self.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (r["discovery"].as_i64().unwrap(), r["jwks"].as_i64().unwrap())
    }

    async fn revoked(&self) -> i64 {
        let r: serde_json::Value = client()
            .get(format!("{}/__test/revoked", self.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["revoked"].as_i64().unwrap()
    }
}

impl Drop for UpstreamOp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Varco with one SPID provider ("gateway") at a port picked now, and the
/// provider itself; the clock is the real time (the provider signs with it).
pub(crate) async fn spawn(
    backend: Backend,
    tweak: impl FnOnce(&mut varco::config::Config) + 'static,
) -> Option<(TestApp, UpstreamOp)> {
    if skip() {
        return None;
    }
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let t = TestApp::spawn_with(
        backend,
        Options {
            tweak: Box::new(move |c| {
                c.upstream = vec![UpstreamConfig {
                    name: "gateway".into(),
                    kind: "spid".into(),
                    label: "Gateway SPID di prova".into(),
                    mode: "static".into(),
                    issuer,
                    client_id: CLIENT_ID.into(),
                    client_secret: CLIENT_SECRET.into(),
                    client_secret_file: None,
                    acr: SpidLevel::L2.uri().into(),
                    scope: "openid profile".into(),
                    trust_anchor: None,
                    trust_mark: None,
                }];
                tweak(c);
            }),
            ..Options::default()
        },
    )
    .await?;
    t.clock.set(SystemClock.now());
    let op = UpstreamOp::start(port, &t.url("/login/upstream/callback"));
    t.add_school().await;
    Some((t, op))
}

/// Follows redirects by hand (the client keeps cookies for every origin);
/// returns the last answer's status, URL and body.
pub(crate) async fn follow(http: &reqwest::Client, start: String) -> (StatusCode, String, String) {
    let mut url = start;
    for _ in 0..15 {
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

/// Signs in through the provider from the login page's button; the final answer.
pub(crate) async fn spid_sign_in(t: &TestApp, http: &reqwest::Client) -> (StatusCode, String, String) {
    let login = http.get(t.url("/login")).send().await.unwrap().text().await.unwrap();
    assert!(
        login.contains("id=\"upstream-spid\" href=\"/login/upstream/spid\""),
        "the SPID button is on the login page"
    );
    let list = http
        .get(t.url("/login/upstream/spid"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains("Gateway SPID di prova"), "{list}");
    assert!(list.contains("href=\"/login/upstream/gateway\""));
    follow(http, t.url("/login/upstream/gateway")).await
}

fn reason_of(html: &str) -> &str {
    let start = html.find("data-reason=\"").expect("a refusal page") + "data-reason=\"".len();
    &html[start..start + html[start..].find('"').unwrap()]
}

async fn signed_out(t: &TestApp, http: &reqwest::Client) -> bool {
    let r = http.get(t.url("/account")).send().await.unwrap();
    r.status().is_redirection()
}

async fn a_person_signs_in_with_spid_and_applications_see_it(backend: Backend) {
    let Some((t, op)) = spawn(backend, |_| {}).await else {
        return;
    };
    let account = t.add_account(1, "persona1@example.it", None, None).await;
    op.next("spid-sub-1", &tax_code(1), SpidLevel::L2).await;
    let http = client();
    let login = http.get(t.url("/login")).send().await.unwrap().text().await.unwrap();
    assert!(login.contains("Entra con SPID"), "Italian by default");
    let (status, url, body) = spid_sign_in(&t, &http).await;
    assert_eq!(status, StatusCode::OK, "{url}: {body}");
    assert_eq!(url, t.url("/account"));
    assert!(body.contains(&account.first_name), "the account page shows the person");
    // The identity is linked, the session records how it was signed in.
    let mut tx = t.app().store.begin_read().await.unwrap();
    let link = tx
        .upstream_identity(&op.issuer, "spid-sub-1")
        .await
        .unwrap()
        .expect("linked");
    let sessions = tx.sessions_of_account(link.account_id).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].acr, SpidLevel::L2.uri());
    assert_eq!(sessions[0].amr, ["spid"]);
    assert_eq!(sessions[0].upstream_provider.as_deref(), Some("gateway"));
    let sealed = sessions[0].upstream_token_sealed.as_deref().expect("kept");
    assert!(sealed.split('.').count() == 5, "sealed as a JWE");
    let audit = t.audit_of(&account.user_code).await;
    assert!(
        audit
            .iter()
            .any(|e| e.event == "upstream_login" && e.detail.as_deref() == Some("provider=gateway linked=true")),
        "{audit:?}"
    );
    // The federation log chains request, response, token and userinfo.
    let mut tx = t.app().store.begin_read().await.unwrap();
    let chain = tx.verify_federation_log().await.unwrap();
    tx.commit().await.unwrap();
    assert!(
        matches!(chain, varco_store::ChainVerification::Intact { records: 4, .. }),
        "{chain:?}"
    );

    // An application signing in through Varco learns the SPID level.
    let discovery: serde_json::Value = client()
        .get(t.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        discovery["acr_values_supported"],
        json!([
            varco_app::provider::ACR_PASSWORD,
            varco_app::confirmations::ACR_SECOND_SECRET,
            SpidLevel::L2.uri(),
            SpidLevel::L3.uri()
        ])
    );
    let rp = register(&t, registration("Registro elettronico")).await;
    let cookie = http.get(t.url("/account")).send().await.map(|_| String::new()).unwrap();
    let signed_in = SignedIn {
        client: http.clone(),
        cookie,
    };
    let (verifier, challenge) = pkce("spid");
    let code = code_for(&t, &signed_in, &rp, &challenge).await;
    let (status, tokens) = exchange(&t, &rp, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let claims = verified(&t, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["acr"], json!(SpidLevel::L2.uri()));
    assert_eq!(claims["amr"], json!(["spid"]));

    // A second sign-in reuses the link; logout revokes the upstream token.
    let again = client();
    op.next("spid-sub-1", &tax_code(1), SpidLevel::L2).await;
    let (status, url, _) = spid_sign_in(&t, &again).await;
    assert_eq!((status, url.as_str()), (StatusCode::OK, t.url("/account").as_str()));
    let audit = t.audit_of(&account.user_code).await;
    assert!(
        audit
            .iter()
            .any(|e| e.event == "upstream_login" && e.detail.as_deref() == Some("provider=gateway"))
    );
    let before = op.revoked().await;
    let page = again.get(t.url("/logout")).send().await.unwrap().text().await.unwrap();
    let csrf = crate::kit::input_value(&page, "csrf");
    let r = again
        .post(t.url("/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while op.revoked().await == before {
        assert!(
            std::time::Instant::now() < deadline,
            "the upstream token was not revoked"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    t.stop().await;
}

async fn every_refusal_has_a_page_and_no_session(backend: Backend) {
    let Some((t, op)) = spawn(backend, |c| c.login.staff.methods = vec!["password".into()]).await else {
        return;
    };
    // No account has the tax code: the secretariat page, nothing created.
    let http = client();
    op.next("spid-nobody", &tax_code(9), SpidLevel::L2).await;
    let (status, _, body) = spid_sign_in(&t, &http).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(reason_of(&body), "no_account");
    assert!(body.contains("segreteria"), "{body}");
    assert!(signed_out(&t, &http).await);
    let mut tx = t.app().store.begin_read().await.unwrap();
    assert_eq!(tx.upstream_identity(&op.issuer, "spid-nobody").await.unwrap(), None);
    tx.commit().await.unwrap();

    // A level below the minimum.
    t.add_account(1, "persona1@example.it", None, None).await;
    let http = client();
    op.next("spid-low", &tax_code(1), SpidLevel::L1).await;
    let (status, _, body) = spid_sign_in(&t, &http).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(reason_of(&body), "acr_too_low");
    assert!(signed_out(&t, &http).await);

    // A state nobody issued, and a callback in another browser.
    let r = http
        .get(t.url("/login/upstream/callback?state=forged-state-0123456789&code=abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(reason_of(&r.text().await.unwrap()), "bad_state");
    op.next("spid-sub-1", &tax_code(1), SpidLevel::L2).await;
    let started = http.get(t.url("/login/upstream/gateway")).send().await.unwrap();
    let to_provider = started.headers()["location"].to_str().unwrap().to_owned();
    let elsewhere = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let r = elsewhere.get(&to_provider).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "{}", r.url());
    assert_eq!(reason_of(&r.text().await.unwrap()), "bad_state");

    // A disabled account.
    let disabled = t.add_account(3, "persona3@example.it", None, None).await;
    varco_app::accounts::set_enabled(
        t.app(),
        &Actor::Cli,
        &RequestContext::default(),
        &disabled.user_code,
        false,
    )
    .await
    .unwrap();
    let http = client();
    op.next("spid-sub-3", &tax_code(3), SpidLevel::L2).await;
    let (status, _, body) = spid_sign_in(&t, &http).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(reason_of(&body), "account_not_active");
    assert!(body.contains("assistenza@icviaroma.edu.it"), "the school's helpdesk");
    assert!(signed_out(&t, &http).await);

    // Staff may only use a password here.
    let staff = t.add_account(2, "persona2@example.it", None, None).await;
    let http = client();
    op.next("spid-sub-2", &tax_code(2), SpidLevel::L3).await;
    let (status, _, body) = spid_sign_in(&t, &http).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(reason_of(&body), "method_not_allowed");
    assert!(signed_out(&t, &http).await);
    let audit = t.audit_of(&staff.user_code).await;
    assert!(audit.iter().any(|e| e.event == "upstream_login"
        && e.outcome == "failure"
        && e.detail.as_deref() == Some("provider=gateway refused=method_not_allowed")));
    // Each refusal is in English too.
    let http = client();
    op.next("spid-low", &tax_code(1), SpidLevel::L1).await;
    http.get(t.url("/lang/en")).send().await.unwrap();
    let login = http.get(t.url("/login")).send().await.unwrap().text().await.unwrap();
    assert!(login.contains("Sign in with SPID") && !login.contains("Entra con SPID"));
    let (_, _, body) = spid_sign_in(&t, &http).await;
    assert!(body.contains("level of assurance is too low"), "{body}");
    t.stop().await;
}

async fn a_person_with_accounts_in_two_schools_chooses_one(backend: Backend) {
    let Some((t, op)) = spawn(backend, |_| {}).await else {
        return;
    };
    varco_app::schools::add(
        t.app(),
        &Actor::Cli,
        &RequestContext::default(),
        &varco_app::schools::AddSchool {
            code: "RMIC00000X".into(),
            name: "Liceo Altra Scuola".into(),
            email: None,
            helpdesk_email: None,
            helpdesk_phone: None,
            helpdesk_hours: None,
            town: None,
        },
    )
    .await
    .unwrap();
    let first = t.add_account(1, "persona1@example.it", None, None).await;
    let second = varco_app::accounts::add(
        t.app(),
        &Actor::Cli,
        &RequestContext::default(),
        &varco_app::accounts::AddAccount {
            school_code: "RMIC00000X".into(),
            kind: varco_domain::AccountKind::Staff,
            first_name: "Seconda".into(),
            last_name: "Scuola".into(),
            tax_code: tax_code(1),
            email: None,
            username: None,
        },
        None,
    )
    .await
    .unwrap();
    assert_ne!(first.user_code, second.user_code);
    let http = client();
    op.next("spid-two", &tax_code(1), SpidLevel::L2).await;
    let (status, _, body) = spid_sign_in(&t, &http).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("Liceo Altra Scuola") && body.contains("Istituto Comprensivo Via Roma"),
        "{body}"
    );
    assert!(signed_out(&t, &http).await, "no session before the choice");
    let csrf = crate::kit::input_value(&body, "csrf");
    let handle = crate::kit::input_value(&body, "handle");
    // The schools are listed by code: RMIC00000X first.
    let r = http
        .post(t.url("/login/upstream/choose"))
        .form(&[("csrf", csrf.as_str()), ("handle", handle.as_str()), ("index", "0")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let page = http.get(t.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Seconda"), "signed in to the chosen account");
    let mut tx = t.app().store.begin_read().await.unwrap();
    let link = tx
        .upstream_identity(&op.issuer, "spid-two")
        .await
        .unwrap()
        .expect("linked");
    let linked_to = tx.account_by_id(link.account_id).await.unwrap().expect("account");
    tx.commit().await.unwrap();
    assert_eq!(
        linked_to.user_code.as_str(),
        second.user_code,
        "the chosen school's account is linked"
    );
    let audit = t.audit_of(&second.user_code).await;
    assert!(
        audit
            .iter()
            .any(|e| e.event == "upstream_login" && e.outcome == "success")
    );
    assert!(
        t.audit_of(&first.user_code)
            .await
            .iter()
            .all(|e| e.event != "upstream_login")
    );
    // The choice is single use.
    let again = http
        .post(t.url("/login/upstream/choose"))
        .form(&[("csrf", csrf.as_str()), ("handle", handle.as_str()), ("index", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::FORBIDDEN);
    assert_eq!(reason_of(&again.text().await.unwrap()), "bad_choice");
    t.stop().await;
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

/// Whether the browser has no session for the API.
async fn no_api_session(t: &TestApp, http: &reqwest::Client) -> bool {
    http.get(t.url("/api/v1/me")).send().await.unwrap().status() == StatusCode::UNAUTHORIZED
}

async fn a_hostile_provider_is_refused_with_a_page_and_no_session(backend: Backend) {
    let Some((t, op)) = spawn(backend, |_| {}).await else {
        return;
    };
    let account = t.add_account(1, "persona1@example.it", None, None).await;
    // (attack, reason, what the Italian page says)
    let cases = [
        ("nonce", "nonce", "non corrisponde a questa richiesta"),
        ("aud", "id_token_invalid", "non è valida"),
        ("signature", "id_token_signature", "non è firmata correttamente"),
        ("at_hash", "id_token_invalid", "non è valida"),
        ("iss", "bad_issuer", "La risposta non viene dal gestore"),
    ];
    for (attack, reason, italian) in cases {
        let detail = format!("provider=gateway refused={reason}");
        let before = refusals_audited(&t, &detail).await;
        let http = client();
        op.next_hostile(&format!("spid-{attack}"), &tax_code(1), attack).await;
        let (status, url, body) = spid_sign_in(&t, &http).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{attack}: {url}: {body}");
        assert_eq!(reason_of(&body), reason, "{attack}");
        assert!(body.contains(italian), "{attack}: {body}");
        assert!(no_api_session(&t, &http).await, "{attack}");
        assert!(signed_out(&t, &http).await, "{attack}");
        assert_eq!(refusals_audited(&t, &detail).await, before + 1, "{attack}: {detail}");
        let mut tx = t.app().store.begin_read().await.unwrap();
        let link = tx
            .upstream_identity(&op.issuer, &format!("spid-{attack}"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(link, None, "{attack}: nothing linked");
    }
    // A fiscal number that is not a tax code, and one without `TINIT-`.
    for (sub, fiscal) in [
        ("spid-not-a-tax-code", "TINIT-NONUNCODICEFISC".to_owned()),
        ("spid-no-prefix", tax_code(1)),
    ] {
        let detail = "provider=gateway refused=fiscal_number_invalid";
        let before = refusals_audited(&t, detail).await;
        let http = client();
        op.next_raw_fiscal(sub, &fiscal).await;
        let (status, url, body) = spid_sign_in(&t, &http).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{fiscal}: {url}: {body}");
        assert_eq!(reason_of(&body), "fiscal_number_invalid", "{fiscal}");
        assert!(body.contains("Il codice fiscale ricevuto"), "{fiscal}: {body}");
        assert!(no_api_session(&t, &http).await, "{fiscal}");
        assert_eq!(refusals_audited(&t, detail).await, before + 1, "{fiscal}");
    }
    // No session anywhere, and the same provider behaving again signs the person in.
    let mut tx = t.app().store.begin_read().await.unwrap();
    let record = tx
        .account_by_user_code(&account.user_code)
        .await
        .unwrap()
        .expect("account");
    assert!(tx.sessions_of_account(record.id).await.unwrap().is_empty());
    tx.commit().await.unwrap();
    let http = client();
    op.next("spid-honest", &tax_code(1), SpidLevel::L2).await;
    let (status, url, _) = spid_sign_in(&t, &http).await;
    assert_eq!((status, url.as_str()), (StatusCode::OK, t.url("/account").as_str()));
    assert!(!no_api_session(&t, &http).await, "the control case signs in");
    t.stop().await;
}

/// Follows redirects by hand up to Varco's callback; its URL, not visited.
async fn callback_url(t: &TestApp, http: &reqwest::Client) -> String {
    let callback = t.url("/login/upstream/callback");
    let mut url = t.url("/login/upstream/gateway");
    for _ in 0..15 {
        let r = http.get(&url).send().await.expect("request");
        assert!(r.status().is_redirection(), "{url}: {}", r.status());
        let to = r.headers()["location"].to_str().unwrap().to_owned();
        url = url::Url::parse(&url).unwrap().join(&to).unwrap().to_string();
        if url.starts_with(&callback) {
            return url;
        }
    }
    panic!("the provider never came back to Varco");
}

async fn a_callback_presented_twice_is_refused_the_second_time(backend: Backend) {
    let Some((t, op)) = spawn(backend, |_| {}).await else {
        return;
    };
    let account = t.add_account(1, "persona1@example.it", None, None).await;
    op.next("spid-replay", &tax_code(1), SpidLevel::L2).await;
    let http = client();
    let callback = callback_url(&t, &http).await;
    assert!(callback.contains("code="), "{callback}");
    let (status, url, _) = follow(&http, callback.clone()).await;
    assert_eq!((status, url.as_str()), (StatusCode::OK, t.url("/account").as_str()));
    // The same code and state again, in the same browser and in a fresh one.
    let detail = "provider=unknown refused=bad_state";
    for again in [http.clone(), client()] {
        let before = refusals_audited(&t, detail).await;
        let r = again.get(&callback).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let body = r.text().await.unwrap();
        assert_eq!(reason_of(&body), "bad_state");
        assert!(body.contains("è già stata usata"), "{body}");
        assert_eq!(refusals_audited(&t, detail).await, before + 1);
    }
    // Only the first presentation made a session.
    let mut tx = t.app().store.begin_read().await.unwrap();
    let link = tx
        .upstream_identity(&op.issuer, "spid-replay")
        .await
        .unwrap()
        .expect("linked");
    assert_eq!(tx.sessions_of_account(link.account_id).await.unwrap().len(), 1);
    tx.commit().await.unwrap();
    let audit = t.audit_of(&account.user_code).await;
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.event == "upstream_login" && e.outcome == "success")
            .count(),
        1,
        "{audit:?}"
    );
    t.stop().await;
}

/// Adds an account of `kind` with tax code `n` at the school `school_code`.
async fn add_at(t: &TestApp, school_code: &str, kind: varco_domain::AccountKind, n: u32) -> String {
    varco_app::accounts::add(
        t.app(),
        &Actor::Cli,
        &RequestContext::default(),
        &varco_app::accounts::AddAccount {
            school_code: school_code.into(),
            kind,
            first_name: format!("Altra{}", ["a", "b", "c", "d", "e", "f", "g"][n as usize % 7]),
            last_name: "Scuola".into(),
            tax_code: tax_code(n),
            email: None,
            username: None,
        },
        None,
    )
    .await
    .unwrap()
    .user_code
}

async fn disable(t: &TestApp, user_code: &str) {
    varco_app::accounts::set_enabled(t.app(), &Actor::Cli, &RequestContext::default(), user_code, false)
        .await
        .unwrap();
}

async fn linked_user_code(t: &TestApp, op: &UpstreamOp, sub: &str) -> Option<String> {
    let mut tx = t.app().store.begin_read().await.unwrap();
    let link = tx.upstream_identity(&op.issuer, sub).await.unwrap();
    let code = match link {
        Some(link) => Some(
            tx.account_by_id(link.account_id)
                .await
                .unwrap()
                .expect("account")
                .user_code
                .to_string(),
        ),
        None => None,
    };
    tx.commit().await.unwrap();
    code
}

async fn the_school_choice_leaves_out_accounts_spid_may_not_open(backend: Backend) {
    // Staff may only use a password: a staff account is never offered.
    let Some((t, op)) = spawn(backend, |c| c.login.staff.methods = vec!["password".into()]).await else {
        return;
    };
    // Listed first (by school code), with its own helpdesk.
    const OTHER: &str = "RMIC00000X";
    varco_app::schools::add(
        t.app(),
        &Actor::Cli,
        &RequestContext::default(),
        &varco_app::schools::AddSchool {
            code: OTHER.into(),
            name: "Liceo Altra Scuola".into(),
            email: None,
            helpdesk_email: Some("segreteria@altrascuola.edu.it".into()),
            helpdesk_phone: None,
            helpdesk_hours: None,
            town: None,
        },
    )
    .await
    .unwrap();
    use varco_domain::AccountKind::{Family, Staff};

    // A family account here, a staff account there: no choice, the family
    // account is signed in at once.
    let family = t.add_account(1, "persona1@example.it", None, None).await;
    let staff = add_at(&t, OTHER, Staff, 1).await;
    let http = client();
    op.next("spid-one-left", &tax_code(1), SpidLevel::L2).await;
    let (status, url, body) = spid_sign_in(&t, &http).await;
    assert_eq!(
        (status, url.as_str()),
        (StatusCode::OK, t.url("/account").as_str()),
        "{body}"
    );
    assert!(!body.contains("Liceo Altra Scuola"), "no choice offered: {body}");
    assert_eq!(
        linked_user_code(&t, &op, "spid-one-left").await.as_deref(),
        Some(family.user_code.as_str())
    );
    assert!(t.audit_of(&staff).await.iter().all(|e| e.event != "upstream_login"));

    // A staff account there (listed first) and a disabled family account
    // here: refused with the first one's reason and school.
    add_at(&t, OTHER, Staff, 3).await;
    let here = t.add_account(3, "persona3@example.it", None, None).await;
    disable(&t, &here.user_code).await;
    let http = client();
    op.next("spid-none-left", &tax_code(3), SpidLevel::L2).await;
    let (status, _, body) = spid_sign_in(&t, &http).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(reason_of(&body), "method_not_allowed");
    assert!(
        body.contains("segreteria@altrascuola.edu.it"),
        "the first school's helpdesk: {body}"
    );
    assert!(signed_out(&t, &http).await);
    assert_eq!(linked_user_code(&t, &op, "spid-none-left").await, None);

    // Two family accounts are offered; the chosen one is disabled before
    // the choice arrives: refused, no session, nothing linked.
    let there = add_at(&t, OTHER, Family, 5).await;
    t.add_account(5, "persona5@example.it", None, None).await;
    let http = client();
    op.next("spid-two-open", &tax_code(5), SpidLevel::L2).await;
    let (status, _, body) = spid_sign_in(&t, &http).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("Liceo Altra Scuola") && body.contains("Istituto Comprensivo Via Roma"),
        "{body}"
    );
    let csrf = crate::kit::input_value(&body, "csrf");
    let handle = crate::kit::input_value(&body, "handle");
    disable(&t, &there).await;
    let r = http
        .post(t.url("/login/upstream/choose"))
        .form(&[("csrf", csrf.as_str()), ("handle", handle.as_str()), ("index", "0")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body = r.text().await.unwrap();
    assert_eq!(reason_of(&body), "account_not_active");
    assert!(body.contains("segreteria@altrascuola.edu.it"), "{body}");
    assert!(signed_out(&t, &http).await);
    assert_eq!(linked_user_code(&t, &op, "spid-two-open").await, None);
    t.stop().await;
}

async fn expired_pending_sign_ins_are_swept_without_a_new_one(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let now = t.app().now();
    let mut tx = t.app().store.begin().await.unwrap();
    for (handle, stage, expires_in) in [
        ("expired-callback", varco_store::UpstreamLoginStage::Callback, -1),
        ("expired-choice", varco_store::UpstreamLoginStage::Choice, 0),
        ("live-callback", varco_store::UpstreamLoginStage::Callback, 600),
    ] {
        tx.insert_upstream_login(&varco_store::NewUpstreamLogin {
            handle_hash: handle,
            stage,
            provider: "gateway",
            binding_hash: "binding",
            sealed: "sealed",
            now: now.plus_secs(-900),
            expires_at: now.plus_secs(expires_in),
        })
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(varco_app::upstream::purge_expired(t.app()).await.unwrap(), 2);
    assert_eq!(varco_app::upstream::purge_expired(t.app()).await.unwrap(), 0, "once");
    let mut tx = t.app().store.begin().await.unwrap();
    let gone = tx
        .take_upstream_login("expired-callback", varco_store::UpstreamLoginStage::Callback)
        .await
        .unwrap();
    let kept = tx
        .take_upstream_login("live-callback", varco_store::UpstreamLoginStage::Callback)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(gone.is_none());
    assert_eq!(kept.expect("the live one stays").provider, "gateway");
    t.stop().await;
}

async fn too_many_spid_cie_requests_from_one_address_get_a_429_page(backend: Backend) {
    // 30 a minute: a burst of 30, then one request every two seconds.
    let options = Options {
        tweak: Box::new(|c| c.rate_limits.upstream_per_minute = 30),
        ..Options::default()
    };
    let Some(t) = TestApp::spawn_with(backend, options).await else {
        return;
    };
    let http = client();
    let callback = t.url("/login/upstream/callback?state=forged-state-0123456789&code=abc");
    let mut answered = 0;
    let throttled = loop {
        // The start of an unknown provider and forged callbacks both count.
        let url = if answered % 2 == 0 {
            callback.clone()
        } else {
            t.url("/login/upstream/nessuno")
        };
        let r = http.get(&url).send().await.unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            break r;
        }
        assert!(
            [StatusCode::FORBIDDEN, StatusCode::NOT_FOUND].contains(&r.status()),
            "{url}: {}",
            r.status()
        );
        answered += 1;
        assert!(answered <= 40, "no limit after {answered} requests");
    };
    assert!(answered >= 30, "the burst is the budget: limited after {answered}");
    let wait: u64 = throttled.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    let body = throttled.text().await.unwrap();
    assert_eq!(reason_of(&body), "throttled");
    assert!(body.contains("Troppe richieste di accesso con SPID o CIE"), "{body}");
    // The school choice is limited too, and the page is in English as well.
    let login = http.get(t.url("/login")).send().await.unwrap().text().await.unwrap();
    let csrf = crate::kit::input_value(&login, "csrf");
    let english = http
        .post(t.url("/login/upstream/choose"))
        .header("accept-language", "en")
        .form(&[("csrf", csrf.as_str()), ("handle", "whatever"), ("index", "0")])
        .send()
        .await
        .unwrap();
    assert_eq!(english.status(), StatusCode::TOO_MANY_REQUESTS);
    let body = english.text().await.unwrap();
    assert!(body.contains("Too many SPID or CIE sign-in requests"), "{body}");
    // Other pages are not limited by it.
    assert_eq!(http.get(t.url("/login")).send().await.unwrap().status(), StatusCode::OK);
    // The limit stops once a cell comes back.
    tokio::time::sleep(std::time::Duration::from_millis(wait * 1000 + 300)).await;
    let r = http.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(reason_of(&r.text().await.unwrap()), "bad_state");
    t.stop().await;
}

async fn a_static_provider_is_fetched_once_and_again_when_its_key_changes(backend: Backend) {
    let Some((t, op)) = spawn(backend, |_| {}).await else {
        return;
    };
    t.add_account(1, "persona1@example.it", None, None).await;
    // Three sign-ins (three starts, three callbacks): one discovery, one JWKS.
    for n in 0..3 {
        let http = client();
        op.next("spid-cached", &tax_code(1), SpidLevel::L2).await;
        let (status, url, body) = spid_sign_in(&t, &http).await;
        assert_eq!(
            (status, url.as_str()),
            (StatusCode::OK, t.url("/account").as_str()),
            "{n}: {body}"
        );
    }
    assert_eq!(op.fetches().await, (1, 1), "documents kept between sign-ins");
    // The provider rotates its key: the first token signed with it makes
    // Varco fetch the JWKS again, once, and the sign-in goes through.
    op.rotate().await;
    t.clock.advance(60);
    let http = client();
    op.next("spid-cached", &tax_code(1), SpidLevel::L2).await;
    let (status, url, body) = spid_sign_in(&t, &http).await;
    assert_eq!(
        (status, url.as_str()),
        (StatusCode::OK, t.url("/account").as_str()),
        "{body}"
    );
    assert_eq!(op.fetches().await, (1, 2), "the JWKS fetched again");
    // The new keys are kept: the next sign-in fetches nothing.
    let http = client();
    op.next("spid-cached", &tax_code(1), SpidLevel::L2).await;
    let (status, _, _) = spid_sign_in(&t, &http).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(op.fetches().await, (1, 2));
    t.stop().await;
}
