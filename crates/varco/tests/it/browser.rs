//! The browser test: headless Chromium (Debian package) driven by
//! playwright-core opens `/login` in Italian, signs in and lands on
//! `/account`. The screenshot is kept under `e2e/artifacts/`.
//! Needs `npm ci` in `e2e/` and `/usr/bin/chromium`; under CI a missing piece
//! is a failure, elsewhere the test says it skips.

use std::path::PathBuf;
use std::process::Command;

use crate::harness::{Backend, PASSWORD, TestApp};

fn e2e_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../e2e")
        .canonicalize()
        .expect("e2e folder")
}

fn missing_prerequisite() -> Option<String> {
    let chromium = std::env::var("VARCO_E2E_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !std::path::Path::new(&chromium).exists() {
        return Some(format!("{chromium} is missing (apt-get install chromium)"));
    }
    if !e2e_dir().join("node_modules/playwright-core").exists() {
        return Some("e2e/node_modules is missing (cd e2e && npm ci)".into());
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is missing".into());
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_signs_in_in_italian_and_lands_on_account() {
    if let Some(missing) = missing_prerequisite() {
        if std::env::var_os("CI").is_some() {
            panic!("the browser test cannot run in CI: {missing}");
        }
        eprintln!("SKIPPING the browser test: {missing}");
        return;
    }
    let t = TestApp::spawn(Backend::Sqlite).await.expect("sqlite");
    t.add_school().await;
    let account = t
        .add_account(1, "browser@example.it", Some("browser"), Some(PASSWORD))
        .await;
    let artifacts = e2e_dir().join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("login-account.png");
    let _ = std::fs::remove_file(&screenshot);
    let dir = e2e_dir();
    let base = t.base.clone();
    let login = account.user_code.clone();
    let shot = screenshot.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("login.mjs")
            .current_dir(dir)
            .env("VARCO_E2E_BASE_URL", base)
            .env("VARCO_E2E_LOGIN", login)
            .env("VARCO_E2E_PASSWORD", PASSWORD)
            .env("VARCO_E2E_SCREENSHOT", shot)
            .output()
            .expect("run node")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "browser test failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("e2e login: ok"), "{stdout}");
    assert!(screenshot.exists(), "screenshot kept");
    let audit = varco_app::audit::list(t.app(), Some(&account.user_code), 10)
        .await
        .unwrap();
    assert!(audit.iter().any(|e| e.event == "login" && e.outcome == "success"));
    t.stop().await;
}
