//! Developer check against the reference SPID/CIE implementation
//! (`e2e/spid/peers.py`: a trust anchor, a SPID OP and a CIE OP on
//! 127.0.0.1): Varco's entity configuration makes a valid trust chain under
//! the reference trust anchor (its statement, its metadata policy, the trust
//! mark it issued), and `resolve_provider` resolves both reference OPs.
//!
//! Then a full SPID sign-in and a full CIE sign-in through Varco against
//! the reference OPs, driven over HTTP with a cookie jar: Varco's button →
//! the OP's login form → its consent form → Varco's callback → a session
//! for the account holding the user's tax code (both databases).
//!
//! Runs only with `VARCO_SPID_PYTHON` set to the peers' venv python
//! (`PY=$(e2e/spid/setup.sh | tail -n1)`); otherwise it says so and passes,
//! except under CI (`CI` set), where a missing python is a failure.
//! Real clock (the peers sign with the real time).

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use varco::config::{Config, FederationConfig, TrustAnchorConfig, TrustMarkConfig, UpstreamConfig};
use varco::server::start_with_clock;
use varco_app::accounts::AddAccount;
use varco_app::federation::{HttpFetcher, resolve_provider};
use varco_app::schools::AddSchool;
use varco_app::{Actor, RequestContext};
use varco_domain::account::AccountKind;
use varco_domain::clock::SystemClock;
use varco_federation::{OPENID_RELYING_PARTY, TrustChainResolver, UnverifiedStatement};
use varco_oidc::rp::SpidLevel;

use crate::harness::SCHOOL;

/// The peers' python; `None` (the test skips) when unset, a failure under CI.
fn python() -> Option<std::ffi::OsString> {
    let python = std::env::var_os("VARCO_SPID_PYTHON");
    if python.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("the SPID/CIE reference-peer tests cannot run in CI: VARCO_SPID_PYTHON is not set");
        }
        eprintln!("SKIPPING the reference-peer check: set VARCO_SPID_PYTHON to e2e/spid/setup.sh's python");
    }
    python
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Four consecutive free ports (the peers take base … base+3); each call
/// looks from a different place, so that tests running together differ.
fn free_port_base() -> u16 {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let offset = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    // Below the ephemeral ports (32768 on), which the other tests use.
    for i in 0..110 {
        let base = 21_000 + (offset.wrapping_add(i) % 110) * 97;
        if (base..base + 4).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            return base;
        }
    }
    panic!("no four free ports in a row");
}

/// One set of peers at a time (three Django processes each, on a small
/// machine).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Peers(Child);

impl Drop for Peers {
    fn drop(&mut self) {
        // SIGTERM through `kill` (the launcher stops its children on it).
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

fn config(dir: &std::path::Path, port: u16, federation: FederationConfig) -> Config {
    Config {
        data_dir: dir.join("data"),
        listen: format!("127.0.0.1:{port}"),
        public_url: format!("http://127.0.0.1:{port}"),
        federation: Some(federation),
        ..Config::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_peers_accept_varco_and_resolve() {
    let Some(python) = python() else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = free_port_base();
    let ta = format!("http://127.0.0.1:{base}");
    let varco = format!("http://127.0.0.1:{port}");
    let organisation = FederationConfig {
        organization_name: "IC Roma 1".into(),
        contacts: vec!["ic-roma1@pec.example.it".into()],
        authority_hints: vec![ta.clone()],
        ..FederationConfig::default()
    };

    // 1. Varco's keys, made at first start, published; 2. the reference
    //    peers, with Varco registered under the trust anchor.
    let (peers, info) = start_peers(
        &python,
        dir.path(),
        &config(dir.path(), port, organisation.clone()),
        base,
    )
    .await;
    let now = varco_domain::clock::Clock::now(&SystemClock).0;

    // 3. Varco again, same database and keys, now with the trust anchor and
    //    the trust mark it was given.
    let mut federation = organisation;
    federation.trust_anchors = vec![TrustAnchorConfig {
        entity_id: ta.clone(),
        jwks: Some(info["trust_anchor"]["jwks"].to_string()),
        jwks_file: None,
    }];
    federation.trust_marks = vec![TrustMarkConfig {
        id: info["trust_mark_id"].as_str().unwrap().to_owned(),
        trust_mark: info["trust_mark"].as_str().unwrap().to_owned(),
    }];
    let second = start_with_clock(&config(dir.path(), port, federation), Arc::new(SystemClock))
        .await
        .expect("starts again");

    // The trust anchor lists Varco as its descendant: its statement about
    // Varco, Varco's entity configuration (with the trust mark it was given)
    // and the anchor's metadata policy for relying parties make a valid
    // chain — what the reference OPs check before accepting Varco. (The
    // reference `/resolve` only answers chains it has cached already.)
    let fetcher = HttpFetcher::new(Duration::from_secs(5)).unwrap();
    let anchor = second.app.settings.federation.as_ref().unwrap().trust_anchors[0].clone();
    let rp_mark = info["trust_mark_id"].as_str().unwrap();
    let chain = TrustChainResolver::new(&fetcher, &anchor)
        .require_trust_mark(rp_mark)
        .resolve(&varco, OPENID_RELYING_PARTY, second.app.now().0)
        .await
        .unwrap_or_else(|e| panic!("Varco's chain: {e}"));
    eprintln!(
        "Varco's chain under the reference TA: {} statements, metadata after policy: {}",
        chain.statements().len(),
        Value::Object(chain.metadata().clone())
    );
    assert_eq!(chain.metadata()["client_id"], varco.as_str());
    assert_eq!(chain.trust_marks().len(), 1);

    // Varco resolves both reference providers.
    let op_mark = info["op_trust_mark_id"].as_str().unwrap();
    for (role, cie) in [("op_spid", false), ("op_cie", true)] {
        let op = info[role]["entity_id"].as_str().unwrap();
        let (provider, until) = resolve_provider(&second.app, &fetcher, op, &ta, Some(op_mark), cie)
            .await
            .unwrap_or_else(|e| panic!("{role}: {}", varco_app::error_chain(&e)));
        eprintln!("{role}: {provider:?} until {until}");
        assert_eq!(provider.issuer, op);
        assert_eq!(
            Some(provider.token_endpoint.as_str()),
            info[role]["token_endpoint"].as_str()
        );
        assert!(until > now);
    }
    second.stop().await.unwrap();
    drop(peers);
}

/// Starts Varco once with `config` (its keys are made and published), then
/// the reference peers with Varco registered under their trust anchor at
/// `base`; the peers' JSON line.
async fn start_peers(python: &std::ffi::OsStr, dir: &std::path::Path, config: &Config, base: u16) -> (Peers, Value) {
    let varco = config.public_url.clone();
    let first = start_with_clock(config, Arc::new(SystemClock)).await.expect("starts");
    let jwt = reqwest::Client::new()
        .get(format!("{varco}/.well-known/openid-federation"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ours = UnverifiedStatement::parse(&jwt)
        .unwrap()
        .verify_self_signed(&varco, first.app.now().0, 0)
        .unwrap();
    let rp_jwks = ours.metadata_of("openid_relying_party").unwrap()["jwks"].clone();
    std::fs::write(dir.join("rp-core.json"), rp_jwks.to_string()).unwrap();
    std::fs::write(dir.join("rp-fed.json"), ours.jwks().to_value().to_string()).unwrap();
    first.stop().await.unwrap();

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../e2e/spid/peers.py");
    let mut child = Command::new(python)
        .arg(script)
        .arg("start")
        .arg("--workdir")
        .arg(dir.join("peers"))
        .arg("--port-base")
        .arg(base.to_string())
        .arg("--rp-entity-id")
        .arg(&varco)
        .arg("--rp-jwks")
        .arg(dir.join("rp-core.json"))
        .arg("--rp-federation-jwks")
        .arg(dir.join("rp-fed.json"))
        .arg("--users")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../../e2e/spid/users.json"))
        .arg("--timeout")
        .arg("120")
        .stdout(Stdio::piped())
        .spawn()
        .expect("peers.py runs");
    let stdout = child.stdout.take().unwrap();
    let peers = Peers(child);
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let info: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("peers.py printed {line:?}: {e}"));
    (peers, info)
}

/// The value of the input called `name` in a page, whatever the order of
/// its attributes.
fn field(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("no {name} field in {html}"));
    let open = html[..at].rfind('<').unwrap();
    let close = at + html[at..].find('>').unwrap();
    let tag = &html[open..close];
    let start = tag
        .find("value=\"")
        .unwrap_or_else(|| panic!("{name} has no value: {tag}"))
        + "value=\"".len();
    let raw = &tag[start..start + tag[start..].find('"').unwrap()];
    raw.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Follows redirects by hand from `url` (the jar keeps every origin's
/// cookies); the last answer's status, URL and body.
async fn follow(
    http: &reqwest::Client,
    response: reqwest::Response,
    url: &str,
) -> (reqwest::StatusCode, String, String) {
    let mut response = response;
    let mut url = url.to_owned();
    for _ in 0..15 {
        if !response.status().is_redirection() {
            let status = response.status();
            return (status, url, response.text().await.unwrap());
        }
        let to = response.headers()["location"].to_str().unwrap().to_owned();
        url = url::Url::parse(&url).unwrap().join(&to).unwrap().to_string();
        eprintln!("-> {url}");
        response = http.get(&url).send().await.expect("request");
    }
    panic!("too many redirects");
}

/// Starts a sign-in through the upstream `name` and logs in as `user` at
/// the reference OP: the OP's consent page (its URL and body).
async fn to_consent(http: &reqwest::Client, varco: &str, name: &str, op: &Value, user: &Value) -> (String, String) {
    let start = format!("{varco}/login/upstream/{name}");
    let r = http.get(&start).send().await.unwrap();
    let (status, url, form) = follow(http, r, &start).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{url}: {form}");
    let authorization = op["authorization_endpoint"].as_str().unwrap();
    assert!(url.starts_with(authorization), "the OP's login form: {url}");
    let r = http
        .post(authorization)
        .form(&[
            ("csrfmiddlewaretoken", field(&form, "csrfmiddlewaretoken")),
            ("authz_request_object", field(&form, "authz_request_object")),
            ("username", user["username"].as_str().unwrap().to_owned()),
            ("password", user["password"].as_str().unwrap().to_owned()),
        ])
        .send()
        .await
        .unwrap();
    let (status, url, consent) = follow(http, r, authorization).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{url}: {consent}");
    assert!(
        consent.contains("name=\"agree\""),
        "the OP's consent form at {url}: {consent}"
    );
    (url, consent)
}

/// Signs in through the upstream `name` as `user` of the reference OP,
/// agreeing at its consent page: the page Varco ends on (its status, URL
/// and body).
async fn sign_in_at_op(
    http: &reqwest::Client,
    varco: &str,
    name: &str,
    op: &Value,
    user: &Value,
) -> (reqwest::StatusCode, String, String) {
    let (url, consent) = to_consent(http, varco, name, op, user).await;
    let r = http
        .post(&url)
        .form(&[
            ("csrfmiddlewaretoken", field(&consent, "csrfmiddlewaretoken")),
            ("agree", field(&consent, "agree")),
        ])
        .send()
        .await
        .unwrap();
    follow(http, r, &url).await
}

/// Like [`sign_in_at_op`], declining at the consent page.
async fn decline_at_op(
    http: &reqwest::Client,
    varco: &str,
    name: &str,
    op: &Value,
    user: &Value,
) -> (reqwest::StatusCode, String, String) {
    let (url, consent) = to_consent(http, varco, name, op, user).await;
    let at = consent.find("id=\"do_not_agree\"").expect("a decline link");
    let href = consent[..at].rfind("href=\"").expect("its href") + "href=\"".len();
    let href = consent[href..].split('"').next().unwrap().replace("&amp;", "&");
    let declined = url::Url::parse(&url).unwrap().join(&href).unwrap().to_string();
    let r = http.get(&declined).send().await.unwrap();
    follow(http, r, &declined).await
}

crate::harness::both_backends!(people_sign_in_with_spid_and_cie_at_the_reference_ops);

/// Varco federated under the reference peers: its keys published, the
/// peers started with Varco as their trust anchor's descendant, then Varco
/// again with the trust anchor, its trust mark, a SPID provider
/// `spid-test` and a CIE provider `cie-test` (the reference OPs), and the
/// school [`SCHOOL`].
struct Federated {
    running: varco::server::Running,
    info: Value,
    varco: String,
    _peers: Peers,
    _db: crate::harness::Database,
}

async fn federated(python: &std::ffi::OsStr, backend: crate::harness::Backend) -> Option<Federated> {
    let db = crate::harness::Database::create(backend).await?;
    let port = free_port();
    let base = free_port_base();
    let ta = format!("http://127.0.0.1:{base}");
    let varco = format!("http://127.0.0.1:{port}");
    let mut config = Config {
        data_dir: db.dir.path().join("data"),
        database_url: Some(db.url.clone()),
        database_max_connections: 5,
        listen: format!("127.0.0.1:{port}"),
        public_url: varco.clone(),
        federation: Some(FederationConfig {
            organization_name: "IC Roma 1".into(),
            contacts: vec!["ic-roma1@pec.example.it".into()],
            authority_hints: vec![ta.clone()],
            ..FederationConfig::default()
        }),
        ..Config::default()
    };
    config.rate_limits.login_per_minute = 0;
    config.rate_limits.api_per_minute = 0;
    let (peers, info) = start_peers(python, db.dir.path(), &config, base).await;

    // Varco again with the trust anchor, its trust mark and both OPs.
    let federation = config.federation.as_mut().unwrap();
    federation.trust_anchors = vec![TrustAnchorConfig {
        entity_id: ta.clone(),
        jwks: Some(info["trust_anchor"]["jwks"].to_string()),
        jwks_file: None,
    }];
    federation.trust_marks = vec![TrustMarkConfig {
        id: info["trust_mark_id"].as_str().unwrap().to_owned(),
        trust_mark: info["trust_mark"].as_str().unwrap().to_owned(),
    }];
    let op_mark = info["op_trust_mark_id"].as_str().unwrap();
    config.upstream = [("spid-test", "spid", "op_spid"), ("cie-test", "cie", "op_cie")]
        .into_iter()
        .map(|(name, kind, role)| UpstreamConfig {
            name: name.into(),
            kind: kind.into(),
            label: format!("{kind} di prova"),
            mode: "federation".into(),
            issuer: info[role]["entity_id"].as_str().unwrap().to_owned(),
            client_id: String::new(),
            client_secret: String::new(),
            client_secret_file: None,
            acr: SpidLevel::L2.uri().into(),
            scope: "openid profile".into(),
            trust_anchor: Some(ta.clone()),
            trust_mark: Some(op_mark.to_owned()),
        })
        .collect();
    let running = start_with_clock(&config, Arc::new(SystemClock))
        .await
        .expect("starts again");
    add_school(&running.app, SCHOOL, "Istituto Comprensivo Via Roma").await;
    Some(Federated {
        running,
        info,
        varco,
        _peers: peers,
        _db: db,
    })
}

async fn add_school(app: &varco_app::App, code: &str, name: &str) {
    varco_app::schools::add(
        app,
        &Actor::Cli,
        &RequestContext::default(),
        &AddSchool {
            code: code.into(),
            name: name.into(),
            email: None,
            helpdesk_email: Some("segreteria@scuola.example.it".into()),
            helpdesk_phone: Some("+39 06 1234 5678".into()),
            helpdesk_hours: Some("lun-ven 8-13".into()),
            town: None,
        },
    )
    .await
    .expect("school added");
}

/// The tax code of a reference-OP test user.
fn tax_code(user: &Value) -> String {
    user["fiscal_number"]
        .as_str()
        .unwrap()
        .trim_start_matches("TINIT-")
        .to_owned()
}

async fn add_account(
    app: &varco_app::App,
    school: &str,
    kind: AccountKind,
    user: &Value,
) -> varco_app::accounts::AccountView {
    varco_app::accounts::add(
        app,
        &Actor::Cli,
        &RequestContext::default(),
        &AddAccount {
            school_code: school.into(),
            kind,
            first_name: user["given_name"].as_str().unwrap_or("Nome").into(),
            last_name: user["family_name"].as_str().unwrap_or("Cognome").into(),
            tax_code: tax_code(user),
            email: None,
            username: None,
        },
        None,
    )
    .await
    .expect("account added")
}

async fn people_sign_in_with_spid_and_cie_at_the_reference_ops(backend: crate::harness::Backend) {
    let Some(python) = python() else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(federated) = federated(&python, backend).await else {
        return;
    };
    let Federated {
        running,
        info,
        varco,
        _peers,
        _db,
    } = federated;
    let app = &running.app;
    // A parent with Mario Rossi's tax code, a teacher with Giuseppa Verdi's.
    let users = info["users"].as_array().unwrap();
    let accounts = vec![
        add_account(app, SCHOOL, AccountKind::Family, &users[0]).await,
        add_account(app, SCHOOL, AccountKind::Staff, &users[1]).await,
    ];

    for ((name, role, kind, amr), (user, account)) in [
        ("spid-test", "op_spid", "family", "spid"),
        ("cie-test", "op_cie", "staff", "cie"),
    ]
    .into_iter()
    .zip(users.iter().zip(&accounts))
    {
        let http = crate::harness::client();
        let (status, url, body) = sign_in_at_op(&http, &varco, name, &info[role], user).await;
        assert_eq!(status, reqwest::StatusCode::OK, "{name}: {url}: {body}");
        assert_eq!(url, format!("{varco}/account"), "{name}: {body}");
        let me: Value = http
            .get(format!("{varco}/api/v1/me"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        eprintln!("{name}: signed in as {me}");
        assert_eq!(me["user_code"], account.user_code.as_str(), "{name}");
        assert_eq!(me["kind"], kind, "{name}");
        assert_eq!(me["status"], "active", "{name}: a SPID/CIE sign-in activates");
        // The link and the session record the provider and the level.
        let mut tx = app.store.begin_read().await.unwrap();
        let issuer = info[role]["entity_id"].as_str().unwrap();
        let record = tx.account_by_user_code(&account.user_code).await.unwrap().unwrap();
        let sessions = tx.sessions_of_account(record.id).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(sessions.len(), 1, "{name}");
        assert_eq!(sessions[0].upstream_provider.as_deref(), Some(name));
        assert_eq!(sessions[0].acr, SpidLevel::L2.uri(), "{name}");
        assert_eq!(sessions[0].amr, [amr], "{name}");
        let audit = varco_app::audit::list(app, Some(&account.user_code), 500)
            .await
            .unwrap();
        let linked = format!("provider={name} linked=true");
        assert!(
            audit
                .iter()
                .any(|e| e.event == "upstream_login" && e.detail.as_deref() == Some(linked.as_str())),
            "{name} at {issuer}: {audit:?}"
        );

        // Logout revokes the OP's access token (private_key_jwt at its
        // revocation endpoint), in the background; the log records the answer.
        let page = http
            .get(format!("{varco}/logout"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = crate::kit::input_value(&page, "csrf");
        let r = http
            .post(format!("{varco}/logout"))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert!(r.status().is_redirection(), "{name}: logout {}", r.status());
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        let revocation = loop {
            let mut tx = app.store.begin_read().await.unwrap();
            let records = tx.federation_log_after(0, 1000).await.unwrap();
            tx.commit().await.unwrap();
            if let Some(found) = records.into_iter().find(|r| {
                r.record.provider == name
                    && r.record.kind == varco_domain::federation_log::FederationRecordKind::Revocation
            }) {
                break found.record;
            }
            assert!(std::time::Instant::now() < deadline, "{name}: no revocation logged");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(revocation.outcome, "success", "{name}: the OP accepted the revocation");
    }

    // Every exchange is in the federation log, and the chain holds.
    let mut tx = app.store.begin_read().await.unwrap();
    let chain = tx.verify_federation_log().await.unwrap();
    tx.commit().await.unwrap();
    match chain {
        varco_store::ChainVerification::Intact { records, .. } => {
            assert!(
                records >= 8,
                "request, response, token and userinfo per sign-in: {records}"
            )
        }
        other => panic!("{other:?}"),
    }

    // Declining at the consent page: the OP's error comes back without
    // `iss`; Varco shows the provider's refusal, and no session.
    let http = crate::harness::client();
    let (status, url, body) = decline_at_op(&http, &varco, "cie-test", &info["op_cie"], &users[1]).await;
    assert_eq!(status, reqwest::StatusCode::FORBIDDEN, "{url}: {body}");
    assert!(url.starts_with(&format!("{varco}/login/upstream/callback?")), "{url}");
    assert!(body.contains("data-reason=\"provider_error\""), "{body}");
    let me = http.get(format!("{varco}/api/v1/me")).send().await.unwrap();
    assert_eq!(me.status(), reqwest::StatusCode::UNAUTHORIZED);
    let mut tx = app.store.begin_read().await.unwrap();
    let chain = tx.verify_federation_log().await.unwrap();
    tx.commit().await.unwrap();
    assert!(
        matches!(chain, varco_store::ChainVerification::Intact { records, .. } if records > 10),
        "{chain:?}"
    );
    running.stop().await.unwrap();
    drop(_peers);
}

/// The SPID and CIE sign-ins through the login page's buttons in headless
/// Chromium (`e2e/spid_browser.mjs`), in Italian, against the reference OPs:
/// a parent with SPID, a teacher with CIE, a person with accounts in two
/// schools (the choice page), a person with no account (the "contact your
/// secretariat" page); every Varco page on the way passes axe-core. One
/// database is enough here: the same sign-ins run on both databases over
/// HTTP in [`people_sign_in_with_spid_and_cie_at_the_reference_ops`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_sign_in_through_the_buttons_in_chromium() {
    if crate::browser::skip_or_fail() {
        return;
    }
    let Some(python) = python() else {
        return;
    };
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(federated) = federated(&python, crate::harness::Backend::Sqlite).await else {
        return;
    };
    let Federated {
        running,
        info,
        varco,
        _peers,
        _db,
    } = federated;
    let app = &running.app;
    const OTHER: &str = "RMIC00000X";
    add_school(app, OTHER, "Istituto Comprensivo Colle Verde").await;
    let users = info["users"].as_array().unwrap();
    let parent = add_account(app, SCHOOL, AccountKind::Family, &users[0]).await;
    let teacher = add_account(app, SCHOOL, AccountKind::Staff, &users[1]).await;
    // Laura Bianchi teaches at one school and is a parent at the other.
    let _laura_staff = add_account(app, SCHOOL, AccountKind::Staff, &users[2]).await;
    let laura_parent = add_account(app, OTHER, AccountKind::Family, &users[2]).await;
    // users[3], Anna Neri, has no account anywhere.

    let person = |user: &Value, button: &str, expect: &str| {
        serde_json::json!({
            "button": button,
            "provider": "spid-test",
            "username": user["username"],
            "password": user["password"],
            "expect": expect,
            "choose": OTHER,
            "text": format!("{} {}", user["given_name"].as_str().unwrap(), user["family_name"].as_str().unwrap()),
        })
    };
    let plan = Value::Array(vec![
        person(&users[0], "spid", "account"),
        person(&users[1], "cie", "account"),
        person(&users[2], "spid", "choose"),
        person(&users[3], "cie", "no_account"),
    ]);
    let shots = std::env::var("VARCO_E2E_SHOTS").ok();
    let mut command = Command::new("node");
    command
        .arg("spid_browser.mjs")
        .current_dir(crate::browser::e2e_dir())
        .env("VARCO_E2E_BASE_URL", &varco)
        .env("VARCO_E2E_PLAN", plan.to_string());
    if let Some(shots) = shots {
        command.env("VARCO_E2E_SHOTS", shots);
    }
    let out = tokio::task::spawn_blocking(move || command.output().expect("run node"))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser sign-ins failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("e2e spid: ok (4 sign-ins"), "{stdout}");
    // Each person landed on their own account (the script prints who).
    for (account, how) in [(&parent, "(spid)"), (&teacher, "(cie)"), (&laura_parent, "(spid)")] {
        let line = format!("signed in as {}", account.user_code);
        assert!(
            stdout.lines().any(|l| l.contains(how) && l.contains(&line)),
            "{line} {how}: {stdout}"
        );
    }
    // The person without an account was refused, audited, and nothing was
    // created for them.
    let audit = varco_app::audit::list(app, None, 500).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.event == "upstream_login" && e.detail.as_deref().is_some_and(|d| d.contains("no_account"))),
        "{audit:?}"
    );
    let mut tx = app.store.begin_read().await.unwrap();
    let none = tx.accounts_by_tax_code(&tax_code(&users[3])).await.unwrap();
    tx.commit().await.unwrap();
    assert!(none.is_empty(), "no account is created: {none:?}");
    running.stop().await.unwrap();
    drop(_peers);
}
