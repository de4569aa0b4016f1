//! The password lifecycle, on both engines, with mail delivered to a real
//! SMTP server: forced change after expiry, reminders, history, every policy
//! rule, legacy hashes, SMTP outages.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use varco_app::{Actor, RequestContext};

use crate::harness::{Backend, PASSWORD, SCHOOL, TestApp, both_backends, client};
use crate::smtp::SmtpSink;

both_backends!(
    expired_password_forces_a_change_and_mails_a_confirmation,
    expiry_reminders_go_out_once_per_threshold,
    every_policy_rule_and_the_history,
    legacy_hashes_log_in_and_become_argon2id,
    mail_waits_while_smtp_is_down,
    forced_change_from_the_cli_and_the_pages,
);

const DAY: i64 = 86_400;

async fn change(client: &reqwest::Client, t: &TestApp, current: &str, new: &str) -> reqwest::Response {
    client
        .post(t.url("/api/v1/password/change"))
        .json(&serde_json::json!({ "current_password": current, "new_password": new }))
        .send()
        .await
        .unwrap()
}

async fn login_with(client: &reqwest::Client, t: &TestApp, login: &str, password: &str) -> reqwest::Response {
    client
        .post(t.url("/api/v1/login"))
        .json(&serde_json::json!({ "login": login, "password": password }))
        .send()
        .await
        .unwrap()
}

async fn expired_password_forces_a_change_and_mails_a_confirmation(backend: Backend) {
    let Some((t, sink)) = crate::kit::spawn_with_smtp(backend).await else {
        return;
    };
    // Even numbers are staff accounts in the harness: their passwords expire.
    let a = t
        .add_account(2, "docente@example.it", Some("docente"), Some(PASSWORD))
        .await;
    let other_device = client();
    assert_eq!(login_with(&other_device, &t, "docente", PASSWORD).await.status(), 200);
    t.clock.advance(181 * DAY);
    let phone = client();
    let r = login_with(&phone, &t, "docente", PASSWORD).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["password_expired"], true);
    // The restricted session can do nothing else.
    let r = phone.get(t.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "password_change_required");
    // Wrong current password, then a weak new one: refused, nothing changed.
    let r = change(&phone, &t, "not my current password", "a brand new long passphrase 42").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = change(&phone, &t, PASSWORD, "short").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["code"], "password_policy");
    assert!(
        problem["violations"]
            .as_array()
            .unwrap()
            .contains(&Value::from("too_short"))
    );
    let new_password = "viola tramonto quaderno 1987 ferrovia";
    let r = change(&phone, &t, PASSWORD, new_password).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        phone.get(t.url("/api/v1/me")).send().await.unwrap().status(),
        200,
        "restriction lifted"
    );
    assert_eq!(
        other_device.get(t.url("/api/v1/me")).send().await.unwrap().status(),
        401,
        "other sessions ended"
    );
    assert_eq!(login_with(&client(), &t, "docente", PASSWORD).await.status(), 401);
    assert_eq!(login_with(&client(), &t, "docente", new_password).await.status(), 200);
    let messages = sink.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(messages.len(), 1, "one confirmation");
    let m = &messages[0];
    assert_eq!(m.header("To").as_deref(), Some("docente@example.it"));
    assert!(m.header("Message-ID").is_some_and(|id| id.contains('@')));
    assert!(m.header("Subject").is_some_and(|s| !s.is_empty()));
    let text = m.text();
    assert!(text.contains(&a.user_code), "the message names the account");
    assert!(text.contains("127.0.0.1"), "the message tells from which address");
    assert!(
        text.contains("assistenza@icviaroma.edu.it"),
        "the school's helpdesk in the footer"
    );
    for secret in [PASSWORD, new_password] {
        assert!(!m.raw.contains(secret), "no password in the message");
    }
    let audit = varco_app::audit::list(t.app(), Some(&a.user_code), 20).await.unwrap();
    assert!(audit.iter().any(|e| e.event == "password_changed"));
    t.stop().await;
}

async fn expiry_reminders_go_out_once_per_threshold(backend: Backend) {
    let Some((t, sink)) = crate::kit::spawn_with_smtp(backend).await else {
        return;
    };
    let staff = t.add_account(2, "staff@example.it", None, Some(PASSWORD)).await;
    let family = t.add_account(3, "famiglia@example.it", None, Some(PASSWORD)).await;
    let run = || async { varco_app::jobs::expiry_reminders(t.app()).await.unwrap().sent };
    assert_eq!(run().await, 0, "nothing due at first");
    let mut expected = 0;
    for days_before in [14, 7, 1] {
        let target = crate::harness::T0 + (180 - days_before) * DAY + 3600;
        t.clock.set(varco_domain::clock::Timestamp(target));
        assert_eq!(run().await, 1, "{days_before}-day reminder");
        assert_eq!(run().await, 0, "{days_before}-day reminder only once");
        expected += 1;
        let messages = sink.wait_for(expected, Duration::from_secs(20)).await;
        assert_eq!(messages.len(), expected);
        let last = messages.last().unwrap();
        assert_eq!(last.header("To").as_deref(), Some("staff@example.it"));
        assert!(last.text().contains("/password/change"), "a link to change it");
    }
    // The family account never expires: no mail to it.
    assert!(
        sink.messages()
            .iter()
            .all(|m| m.header("To").as_deref() != Some("famiglia@example.it"))
    );
    let _ = (&staff, &family);
    // A server down for a week sends one reminder, not two.
    let late = t.add_account(4, "late@example.it", None, Some(PASSWORD)).await;
    let created = varco_domain::clock::Clock::now(&*t.clock).0;
    t.clock.set(varco_domain::clock::Timestamp(created + (180 - 5) * DAY));
    assert_eq!(run().await, 1, "catch-up sends only the most urgent reminder");
    t.clock.set(varco_domain::clock::Timestamp(created + (180 - 3) * DAY));
    assert_eq!(run().await, 0);
    let _ = late;
    // The daily job claims its day once.
    assert!(varco_app::jobs::run_daily_if_due(t.app(), "node-a").await.unwrap());
    assert!(!varco_app::jobs::run_daily_if_due(t.app(), "node-b").await.unwrap());
    t.stop().await;
}

fn common_password_of_length_15() -> String {
    let list = include_str!("../../../domain/src/password/common-passwords.txt");
    list.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| (15..=40).contains(&l.chars().count()))
        .expect("a long common password in the bundled list")
        .to_owned()
}

async fn every_policy_rule_and_the_history(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    t.add_school().await;
    t.add_account(3, "regole@example.it", Some("regole"), Some(PASSWORD))
        .await;
    let c = client();
    assert_eq!(login_with(&c, &t, "regole", PASSWORD).await.status(), 200);
    let cases = [
        ("tiny", "too_short"),
        (&"x".repeat(129) as &str, "too_long"),
        (&common_password_of_length_15() as &str, "common"),
        ("Bianchi sempre e comunque 2024", "personal_data"),
        ("aaaaaaaaaaaaaaaaaaaa", "weak"),
    ];
    for (candidate, code) in cases {
        let r = change(&c, &t, PASSWORD, candidate).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{code}");
        let problem: Value = r.json().await.unwrap();
        assert_eq!(problem["code"], "password_policy");
        let violations: Vec<&str> = problem["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(violations.contains(&code), "{candidate:?}: {violations:?}");
        if code == "weak" {
            assert!(
                problem["feedback"]["suggestions"]
                    .as_array()
                    .is_some_and(|s| !s.is_empty())
            );
        }
    }
    let r = change(&c, &t, PASSWORD, &"p".repeat(2000)).await;
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "input_too_long");
    let r = c
        .post(t.url("/api/v1/password/change"))
        .header("content-type", "application/json")
        .body(b"{\"current_password\": \"\xff\xfe\", \"new_password\": \"x\"}".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "malformed_json",
        "invalid UTF-8"
    );
    // History: the last passwords cannot come back.
    let first = "montagna limone pianoforte 31";
    let second = "battello ciliegia lavagna 58";
    assert_eq!(change(&c, &t, PASSWORD, first).await.status(), 204);
    assert_eq!(change(&c, &t, first, second).await.status(), 204);
    for old in [PASSWORD, first, second] {
        let r = change(&c, &t, second, old).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.json::<Value>().await.unwrap()["violations"][0], "reused", "{old}");
    }
    assert_eq!(
        login_with(&client(), &t, "regole", second).await.status(),
        200,
        "nothing changed by refusals"
    );
    t.stop().await;
}

async fn legacy_hashes_log_in_and_become_argon2id(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    t.add_school().await;
    let cases = [
        ("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"),
        (
            "pbkdf2_sha256$1$salt$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw=",
            "passwd",
        ),
        ("md5$seasalt$3f86d0d3d465b7b458c231bf3555c0e3", "lètmein"),
        ("sha1$seasalt$cff36ea83f5706ce9aa7454e63e431fc726b2dc8", "lètmein"),
    ];
    let mut csv = String::from("tax_code;first_name;last_name;kind;email;username;password_hash\n");
    for (i, (hash, _)) in cases.iter().enumerate() {
        csv.push_str(&format!(
            "{};Legacy;User;family;legacy{i}@example.it;legacy{i};{hash}\n",
            crate::harness::tax_code(100 + i as u32)
        ));
    }
    csv.push_str(&format!(
        "{};Bad;Hash;family;bad@example.it;badhash;$1$abc$def\n",
        crate::harness::tax_code(120)
    ));
    let roster = varco_app::import::read_roster(csv.as_bytes(), None).unwrap();
    assert_eq!(roster.errors().len(), 1, "an unsupported hash is a row error");
    assert!(roster.errors()[0].reason.contains("password_hash"));
    varco_app::import::apply(
        t.app(),
        &Actor::Cli,
        &RequestContext::default(),
        SCHOOL,
        roster,
        varco_app::import::ImportOptions {
            skip_invalid: true,
            ..Default::default()
        },
        |_| {},
    )
    .await
    .unwrap();
    let store = t.app().store.clone();
    let stored = |username: String| {
        let store = store.clone();
        async move {
            let mut tx = store.begin_read().await.unwrap();
            let a = tx.account_by_username(&username).await.unwrap().unwrap();
            tx.commit().await.unwrap();
            a.password_hash.unwrap()
        }
    };
    for (i, (hash, password)) in cases.iter().enumerate() {
        let username = format!("legacy{i}");
        assert_eq!(
            login_with(&client(), &t, &username, "wrong password").await.status(),
            401
        );
        assert_eq!(&stored(username.clone()).await, hash, "a failed login changes nothing");
        assert_eq!(
            login_with(&client(), &t, &username, password).await.status(),
            200,
            "{hash}"
        );
        let upgraded = stored(username.clone()).await;
        assert!(upgraded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{upgraded}");
        assert_eq!(login_with(&client(), &t, &username, password).await.status(), 200);
    }
    t.stop().await;
}

async fn mail_waits_while_smtp_is_down(backend: Backend) {
    let Some((t, mut sink)) = crate::kit::spawn_with_smtp(backend).await else {
        return;
    };
    t.add_account(5, "attesa@example.it", Some("attesa"), Some(PASSWORD))
        .await;
    sink.stop();
    let c = client();
    assert_eq!(login_with(&c, &t, "attesa", PASSWORD).await.status(), 200);
    assert_eq!(
        change(&c, &t, PASSWORD, "girasole pentola autunno 77").await.status(),
        204
    );
    // The worker tries, fails, records why, and keeps the message.
    let mut listed = Vec::new();
    for _ in 0..100 {
        listed = varco_app::outbox::list(t.app(), false, 10).await.unwrap();
        if listed.first().is_some_and(|m| m.last_error.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let m = listed.first().expect("queued");
    assert_eq!(m.status, varco_domain::OutboxStatus::Pending);
    assert!(m.last_error.is_some(), "the reason is shown");
    assert!(m.attempts >= 1);
    sink.resume();
    t.clock.advance(3600);
    t.app().mail_queued();
    let messages = sink.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(messages.len(), 1, "delivered once the server is back");
    let listed = varco_app::outbox::list(t.app(), false, 10).await.unwrap();
    assert_eq!(listed[0].status, varco_domain::OutboxStatus::Sent);
    t.stop().await;
}

async fn forced_change_from_the_cli_and_the_pages(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    t.add_school().await;
    let a = t
        .add_account(7, "forzato@example.it", Some("forzato"), Some(PASSWORD))
        .await;
    let c = client();
    assert_eq!(login_with(&c, &t, "forzato", PASSWORD).await.status(), 200);
    varco_app::password::require_change(t.app(), &Actor::Cli, &RequestContext::default(), &a.user_code)
        .await
        .unwrap();
    let r = c.get(t.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "current sessions are restricted too");
    let r = c.get(t.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/password/change");
    let html = t.html_with(&c, "/password/change").await;
    assert!(html.contains("La segreteria ha chiesto di cambiare la password di questo account"));
    let csrf = {
        let marker = "name=\"csrf\" value=\"";
        let start = html.find(marker).unwrap() + marker.len();
        html[start..].split('"').next().unwrap().to_owned()
    };
    let r = c
        .post(t.url("/password/change"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("current_password", PASSWORD),
            ("new_password", "fragola nuvola bicicletta 12"),
            ("new_password_confirm", "fragola nuvola bicicletta 21"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("non coincidono"));
    let r = c
        .post(t.url("/password/change"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("current_password", PASSWORD),
            ("new_password", "aaaaaaaaaaaaaaaaaaaa"),
            ("new_password_confirm", "aaaaaaaaaaaaaaaaaaaa"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("troppo facile da indovinare"),
        "policy message in Italian"
    );
    let r = c
        .post(t.url("/password/change"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("current_password", PASSWORD),
            ("new_password", "fragola nuvola bicicletta 12"),
            ("new_password_confirm", "fragola nuvola bicicletta 12"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Password cambiata"));
    assert_eq!(c.get(t.url("/account")).send().await.unwrap().status(), 200);
    t.stop().await;
}

/// Kills the server with SIGKILL while its worker is sending; after a restart
/// every queued message arrives (a repeat is allowed, a loss is not).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_sending_loses_no_message() {
    use sqlx::Connection;
    let Some(sink) = SmtpSink::start() else { return };
    let db = crate::harness::Database::create(Backend::Sqlite).await.unwrap();
    let data_dir = db.dir.path().join("data");
    let varco = |args: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_varco"));
        c.args(args)
            .env("VARCO_DATA_DIR", &data_dir)
            .env("VARCO_DATABASE_URL", &db.url)
            .env("VARCO_SMTP_URL", sink.url())
            .env("VARCO_MAIL__LEASE_SECS", "3")
            .env("VARCO_LOG", "warn")
            .env_remove("VARCO_CONFIG")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        c
    };
    assert!(varco(&["migrate"]).status().unwrap().success());
    const N: usize = 300;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let mut ids = std::collections::BTreeSet::new();
    for i in 0..N {
        let id = format!("kill-test-{i}@varco.test");
        sqlx::query(
            "INSERT INTO outbox (message_id, recipient, template, lang, payload, status, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, 'test_message', 'it', '{\"first_name\": \"Prova\"}', 'pending', 0, 0, strftime('%s','now'))",
        )
        .bind(&id)
        .bind(format!("destinatario{i}@example.it"))
        .execute(&mut conn)
        .await
        .unwrap();
        ids.insert(id);
    }
    conn.close().await.unwrap();
    let port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
            .to_string()
    };
    let mut server = varco(&["serve"])
        .env("VARCO_LISTEN", format!("127.0.0.1:{}", port()))
        .spawn()
        .unwrap();
    // Let it deliver some, then kill it mid-stream.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while sink.messages().len() < 20 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let before = sink.messages().len();
    assert!(
        (20..N).contains(&before),
        "killed mid-delivery ({before} of {N} delivered)"
    );
    // Restart: the lease of the batch in hand expires, everything goes out.
    let mut server = varco(&["serve"])
        .env("VARCO_LISTEN", format!("127.0.0.1:{}", port()))
        .spawn()
        .unwrap();
    // Repeats count in the Maildir: wait for every distinct Message-ID.
    let unique = |messages: &[crate::smtp::Received]| -> std::collections::BTreeSet<String> {
        messages
            .iter()
            .filter_map(|m| m.header("Message-ID"))
            .map(|id| id.trim_matches(['<', '>']).to_owned())
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let mut messages = sink.messages();
    while unique(&messages).len() < N && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        messages = sink.messages();
    }
    let _ = server.kill();
    let _ = server.wait();
    let received = unique(&messages);
    let missing: Vec<_> = ids.difference(&received).collect();
    assert!(
        missing.is_empty(),
        "{} messages lost, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    assert!(
        messages.len() - N <= 60,
        "repeats are bounded by one claimed batch: {}",
        messages.len() - N
    );
}
