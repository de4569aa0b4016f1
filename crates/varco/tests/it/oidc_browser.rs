//! Varco's OpenID Connect provider against a certified relying party: the
//! npm `openid-client` (e2e/oidc.mjs, e2e/oidc_consent.mjs) drives a full
//! sign-in through headless Chromium in Italian, refreshes, introspects,
//! revokes and logs out, and receives the back-channel logout tokens on its
//! own loopback server; a third-party application's consent page is
//! approved, then revoked from `/account`, with axe-core on both pages.
//! Same prerequisites as `browser.rs` (`npm ci` in `e2e/`, `/usr/bin/chromium`):
//! under CI a missing piece is a failure, elsewhere the test says it skips.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::{Value, json};
use varco_app::Actor;
use varco_app::clients::{ClientKind, ClientRegistration};
use varco_domain::AccountId;
use varco_domain::clock::{Clock, SystemClock};
use varco_oidc::Alg;

use crate::browser::{e2e_dir, skip_or_fail};
use crate::harness::{Backend, PASSWORD, SCHOOL, TestApp, both_backends};

both_backends!(
    openid_client_signs_in_refreshes_revokes_and_logs_out,
    a_third_party_consent_in_italian_approved_then_revoked,
);

/// The browser, node and the npm packages these scripts load.
fn skip() -> bool {
    if skip_or_fail() {
        return true;
    }
    let modules = e2e_dir().join("node_modules");
    for package in ["openid-client", "jose", "axe-core"] {
        if !modules.join(package).join("package.json").exists() {
            let missing = format!("e2e/node_modules/{package} is missing (cd e2e && npm ci)");
            if std::env::var_os("CI").is_some() {
                panic!("the OpenID Connect browser test cannot run in CI: {missing}");
            }
            eprintln!("SKIPPING the OpenID Connect browser test: {missing}");
            return true;
        }
    }
    false
}

/// A loopback port nobody listens on now, for the relying party's server.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A server whose clock is the real time: openid-client and jose check
/// `iat` and `exp` against the machine's clock.
async fn spawn(backend: Backend) -> Option<TestApp> {
    let t = TestApp::spawn(backend).await?;
    t.clock.set(SystemClock.now());
    Some(t)
}

/// The client's URIs on its own loopback port.
struct RpUris {
    redirect: String,
    post_logout: String,
    backchannel: String,
}

fn rp_uris() -> RpUris {
    let port = free_port();
    RpUris {
        redirect: format!("http://127.0.0.1:{port}/callback"),
        post_logout: format!("http://127.0.0.1:{port}/signed-out"),
        backchannel: format!("http://127.0.0.1:{port}/backchannel"),
    }
}

async fn register(t: &TestApp, name: &str, first_party: bool, uris: &RpUris) -> (String, String) {
    let registered = varco_app::clients::register(
        t.app(),
        ClientRegistration {
            name: name.into(),
            kind: ClientKind::Confidential,
            redirect_uris: vec![uris.redirect.clone()],
            post_logout_redirect_uris: vec![uris.post_logout.clone()],
            scopes: Vec::new(),
            schools: Vec::new(),
            first_party,
            id_token_alg: Alg::Rs256,
            pairwise: false,
            backchannel_logout_uri: Some(uris.backchannel.clone()),
            jwks: None,
        },
        &Actor::Cli,
    )
    .await
    .expect("register the client");
    (
        registered.client_id,
        registered.secret.expect("a confidential client's secret"),
    )
}

/// Runs a node script of `e2e/` and returns its JSON summary (also kept as
/// `e2e/artifacts/<script>-<backend>.json`); fails the test, showing
/// everything it said, when it exits non-zero.
async fn run_script(script: &'static str, backend: Backend, envs: Vec<(&'static str, String)>) -> Value {
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        let mut command = Command::new("node");
        command.arg(script).current_dir(e2e_dir());
        for (k, v) in envs {
            command.env(k, v);
        }
        command.output().expect("run node")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let artifacts = e2e_dir().join("artifacts");
    std::fs::create_dir_all(&artifacts).expect("e2e/artifacts");
    let kept = artifacts.join(format!("{}-{backend:?}.json", script.trim_end_matches(".mjs")).to_lowercase());
    std::fs::write(&kept, stdout.as_bytes()).expect("keep the summary");
    assert!(
        out.status.success(),
        "{script} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let summary: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{script} printed no JSON summary ({e}):\n{stdout}\n{stderr}"));
    assert_eq!(summary["ok"], json!(true), "{summary:#}");
    // No console error, failed request or policy violation in the browser.
    assert_eq!(summary["browser_problems"], json!([]), "{summary:#}");
    eprintln!(
        "{script}: ok in {:.1} s (script {} ms)",
        started.elapsed().as_secs_f64(),
        summary["ms"]
    );
    summary
}

fn audit_has(audit: &[varco_app::audit::AuditEntry], event: &str, detail_end: &str) -> bool {
    audit
        .iter()
        .any(|e| e.event == event && e.detail.as_deref().is_some_and(|d| d.ends_with(detail_end)))
}

async fn openid_client_signs_in_refreshes_revokes_and_logs_out(backend: Backend) {
    if skip() {
        return;
    }
    let Some(t) = spawn(backend).await else { return };
    t.add_school().await;
    let account = t
        .add_account(2, "docente@example.it", Some("docente"), Some(PASSWORD))
        .await;
    let uris = rp_uris();
    let (client_id, secret) = register(&t, "Registro elettronico", true, &uris).await;
    let summary = run_script(
        "oidc.mjs",
        backend,
        vec![
            ("VARCO_E2E_BASE_URL", t.base.clone()),
            ("VARCO_E2E_CLIENT_ID", client_id.clone()),
            ("VARCO_E2E_CLIENT_SECRET", secret),
            ("VARCO_E2E_REDIRECT_URI", uris.redirect.clone()),
            ("VARCO_E2E_POST_LOGOUT_URI", uris.post_logout.clone()),
            ("VARCO_E2E_LOGIN", "docente".into()),
            ("VARCO_E2E_PASSWORD", PASSWORD.into()),
        ],
    )
    .await;

    // What openid-client received, against what Varco knows.
    assert_eq!(summary["discovery"]["issuer"], json!(t.base));
    let id = &summary["id_token"]["claims"];
    assert_eq!(summary["id_token"]["header"]["alg"], json!("RS256"), "RS256 by default");
    assert_eq!(id["iss"], json!(t.base));
    assert_eq!(id["aud"], json!(client_id));
    assert_eq!(id["acr"], json!(varco_app::provider::ACR_PASSWORD));
    assert_eq!(id["amr"], json!(["pwd"]));
    let sub = id["sub"].as_str().expect("sub");
    assert!(!sub.contains(&account.user_code) && !sub.contains(&account.tax_code));
    let info = &summary["userinfo"];
    assert_eq!(info["sub"], json!(sub));
    assert_eq!(info["email"], json!("docente@example.it"));
    assert_eq!(info["family_name"], json!(account.last_name));
    assert_eq!(info["given_name"], json!(account.first_name));
    assert_eq!(
        info[varco_oidc::FISCAL_NUMBER_CLAIM],
        json!(format!("TINIT-{}", account.tax_code))
    );
    assert_eq!(info[varco_oidc::SCHOOL_CLAIM][0]["code"], json!(SCHOOL));
    assert_eq!(summary["introspection"]["client_id"], json!(client_id));
    assert_eq!(summary["reuse"]["error"], json!("invalid_grant"));
    assert!(summary["post_logout"]["state"].as_str().is_some_and(|s| !s.is_empty()));

    // One verified logout token per ended grant (reuse, revocation, logout),
    // each naming the session of the ID token.
    let notices = summary["notices"].as_array().expect("notices");
    assert_eq!(notices.len(), 3, "{notices:#?}");
    assert_eq!(summary["notices_received"], json!(3), "no duplicate notice");
    for notice in notices {
        assert_eq!(notice["header"]["typ"], json!("logout+jwt"));
        assert_eq!(notice["payload"]["sid"], id["sid"]);
        assert_eq!(notice["payload"]["aud"], json!(client_id));
        assert_eq!(notice["payload"]["iss"], json!(t.base));
    }
    assert_eq!(notices[2]["after"], json!("end session"));

    // And what Varco recorded.
    let audit = t.audit_of(&account.user_code).await;
    assert!(
        audit_has(&audit, "oidc_token", "refused=refresh_token_reused"),
        "{audit:#?}"
    );
    assert!(audit_has(&audit, "oidc_grant_revoked", "reason=logout"), "{audit:#?}");
    assert!(
        varco_app::applications::list(t.app(), account_id(&t, &account.user_code).await)
            .await
            .expect("applications")
            .is_empty(),
        "every grant ended"
    );
    t.stop().await;
}

async fn account_id(t: &TestApp, user_code: &str) -> AccountId {
    let mut tx = t.app().store.begin_read().await.expect("read");
    let account = tx
        .account_by_user_code(user_code)
        .await
        .expect("account")
        .expect("exists");
    tx.commit().await.expect("commit");
    account.id
}

async fn a_third_party_consent_in_italian_approved_then_revoked(backend: Backend) {
    if skip() {
        return;
    }
    let Some(t) = spawn(backend).await else { return };
    t.add_school().await;
    let account = t
        .add_account(1, "famiglia@example.it", Some("famiglia"), Some(PASSWORD))
        .await;
    let uris = rp_uris();
    let name = "Biblioteca digitale";
    let (client_id, secret) = register(&t, name, false, &uris).await;
    let artifacts = e2e_dir().join("artifacts");
    let shots = [
        artifacts.join("oidc-consent-390.png"),
        artifacts.join("oidc-account-390.png"),
    ];
    // Both engines write the same files: remove them only on the first.
    if backend == Backend::Sqlite {
        for shot in &shots {
            let _ = std::fs::remove_file(shot);
        }
    }
    let summary = run_script(
        "oidc_consent.mjs",
        backend,
        vec![
            ("VARCO_E2E_BASE_URL", t.base.clone()),
            ("VARCO_E2E_CLIENT_ID", client_id.clone()),
            ("VARCO_E2E_CLIENT_SECRET", secret),
            ("VARCO_E2E_CLIENT_NAME", name.into()),
            ("VARCO_E2E_REDIRECT_URI", uris.redirect.clone()),
            ("VARCO_E2E_LOGIN", "famiglia".into()),
            ("VARCO_E2E_PASSWORD", PASSWORD.into()),
            ("VARCO_E2E_ARTIFACTS", artifacts.display().to_string()),
            ("VARCO_E2E_EXPECT_BACKCHANNEL", "1".into()),
        ],
    )
    .await;

    let consent = &summary["consent"];
    assert_eq!(consent["title"], json!(format!("Consenti l'accesso a «{name}»?")));
    let intro = consent["intro"].as_str().expect("intro");
    assert!(
        intro.contains(&format!("{} {}", account.first_name, account.last_name)),
        "the page names the person: {intro}"
    );
    let items: Vec<&str> = consent["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(items.contains(&"il codice fiscale"), "{items:?}");
    assert!(items.contains(&"nome e cognome"), "{items:?}");
    // The consent page drops form-action so that Chromium follows the
    // redirect to the application.
    let policy = consent["content_security_policy"].as_str().expect("a CSP");
    assert!(!policy.contains("form-action"), "{policy}");
    assert_eq!(summary["axe"]["violations"], json!([]));
    assert!(
        summary["account"]["items"][0]
            .as_str()
            .is_some_and(|s| s.contains(name)),
        "{summary:#}"
    );
    assert_eq!(summary["after_revoke"]["error"], json!("invalid_grant"));
    assert_eq!(summary["notice"]["payload"]["sid"], summary["id_token"]["sid"]);
    assert_eq!(summary["declined"]["error"], json!("access_denied"));
    for shot in &shots {
        assert!(Path::new(shot).exists(), "{} kept", shot.display());
    }
    let audit = t.audit_of(&account.user_code).await;
    assert!(audit_has(&audit, "oidc_consent", "granted=true"), "{audit:#?}");
    assert!(audit_has(&audit, "oidc_consent", "granted=false"), "{audit:#?}");
    assert!(
        audit_has(&audit, "oidc_grant_revoked", "reason=revoked_by_user"),
        "{audit:#?}"
    );
    assert!(
        audit_has(&audit, "oidc_authorization", "refused=consent_declined"),
        "{audit:#?}"
    );
    t.stop().await;
}
