//! The JSON API, on both engines: login by user code, username and email,
//! the uniform failure answer, lockout, sessions, throttling, bad input.

use reqwest::StatusCode;
use serde_json::Value;
use varco_app::{Actor, RequestContext};

use crate::harness::{Backend, Options, PASSWORD, TestApp, both_backends};

both_backends!(
    health_and_openapi,
    login_by_user_code_username_and_email,
    one_answer_for_every_failure,
    shared_email_logs_into_the_matching_account,
    lockout_after_repeated_failures,
    sessions_rotate_expire_and_end,
    disabling_ends_sessions,
    per_ip_throttle,
    bad_input_gets_clear_problems,
    rehash_when_parameters_change,
    audit_has_events_and_no_secret,
);

async fn problem(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(
        content_type.as_deref(),
        Some("application/problem+json"),
        "status {status}"
    );
    let body: Value = response.json().await.expect("problem json");
    assert_eq!(body["status"], status.as_u16());
    (status, body)
}

async fn health_and_openapi(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let r = t.client.get(t.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = t
        .client
        .get(t.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/api/v1/login", "/api/v1/logout", "/api/v1/me"] {
        assert!(doc["paths"][path].is_object(), "{path} missing from OpenAPI");
    }
    let r = t.client.get(t.url("/api/v1/nothing-here")).send().await.unwrap();
    let (status, body) = problem(r).await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "not_found");
    t.stop().await;
}

async fn login_by_user_code_username_and_email(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    t.add_school().await;
    let account = t
        .add_account(1, "Maria.Rossi@Example.IT", Some("mrossi"), Some(PASSWORD))
        .await;
    for login in [
        account.user_code.clone(),
        account.user_code.to_lowercase(),
        "mrossi".to_owned(),
        "MRossi".to_owned(),
        "maria.rossi@example.it".to_owned(),
        " Maria.Rossi@Example.IT ".to_owned(),
    ] {
        let client = crate::harness::client();
        let r = client
            .post(t.url("/api/v1/login"))
            .json(&serde_json::json!({ "login": login, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "login with {login:?}");
        let cookie = r
            .headers()
            .get("set-cookie")
            .expect("cookie")
            .to_str()
            .unwrap()
            .to_owned();
        assert!(cookie.starts_with("varco_session="), "{cookie}");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && !cookie.contains("Secure"),
            "{cookie}"
        );
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["account"]["user_code"], account.user_code.as_str());
        assert_eq!(body["password_expired"], false);
        assert!(body["account"].get("password_hash").is_none());
        let me: Value = client
            .get(t.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["user_code"], account.user_code.as_str());
        assert_eq!(me["school"]["code"], crate::harness::SCHOOL);
        let r = client.post(t.url("/api/v1/logout")).send().await.unwrap();
        assert_eq!(r.status(), 204);
        let (status, body) = problem(client.get(t.url("/api/v1/me")).send().await.unwrap()).await;
        assert_eq!(status, 401);
        assert_eq!(body["code"], "unauthenticated");
    }
    t.stop().await;
}

async fn one_answer_for_every_failure(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    t.add_school().await;
    let active = t.add_account(1, "a@example.it", Some("attivo"), Some(PASSWORD)).await;
    let disabled = t
        .add_account(2, "d@example.it", Some("disabilitato"), Some(PASSWORD))
        .await;
    let pending = t.add_account(3, "p@example.it", Some("inattesa"), None).await;
    varco_app::accounts::set_enabled(
        t.app(),
        &Actor::Cli,
        &RequestContext::default(),
        &disabled.user_code,
        false,
    )
    .await
    .unwrap();
    let cases = [
        ("nobody-here", PASSWORD),
        ("nobody@example.it", PASSWORD),
        (active.user_code.as_str(), "wrong password, long enough"),
        (disabled.user_code.as_str(), PASSWORD),
        (pending.user_code.as_str(), PASSWORD),
        ("", PASSWORD),
        ("attivo", ""),
    ];
    let mut bodies = Vec::new();
    for (login, password) in cases {
        let r = t.login(login, password).await;
        assert!(r.headers().get("set-cookie").is_none());
        let (status, body) = problem(r).await;
        assert_eq!(status, 401, "{login}");
        bodies.push(body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "answers differ: {bodies:?}");
    assert_eq!(bodies[0]["code"], "invalid_credentials");
    t.stop().await;
}

async fn shared_email_logs_into_the_matching_account(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    t.add_school().await;
    let first = t
        .add_account(1, "famiglia@example.it", None, Some("first parent password 1"))
        .await;
    let second = t
        .add_account(2, "Famiglia@example.it", None, Some("second parent password 2"))
        .await;
    for (password, expected) in [
        ("first parent password 1", &first),
        ("second parent password 2", &second),
    ] {
        let client = crate::harness::client();
        let r = client
            .post(t.url("/api/v1/login"))
            .json(&serde_json::json!({ "login": "famiglia@example.it", "password": password }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["account"]["user_code"], expected.user_code.as_str());
    }
    let (status, _) = problem(t.login("famiglia@example.it", "neither of the two passwords").await).await;
    assert_eq!(status, 401);
    t.stop().await;
}

async fn lockout_after_repeated_failures(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    t.add_school().await;
    let a = t.add_account(1, "lock@example.it", None, Some(PASSWORD)).await;
    let policy = t.app().settings.lockout;
    for i in 0..policy.lock_after {
        let (status, _) = problem(t.login(&a.user_code, "a wrong password typed").await).await;
        assert_eq!(status, 401);
        // Step past any growing delay so every attempt is really counted.
        t.clock.advance(policy.max_delay_secs + 1);
        let _ = i;
    }
    // Locked now: even the right password is refused, and the answer says
    // how long to wait (the same as for a login that matches nothing).
    let r = t.login(&a.user_code, PASSWORD).await;
    // The clock moved max_delay_secs + 1 past the locking failure.
    let wait = policy.lock_secs - policy.max_delay_secs - 1;
    assert_eq!(r.headers()["retry-after"], wait.to_string().as_str());
    let (status, body) = problem(r).await;
    assert_eq!(status, 429);
    assert_eq!(body["code"], "throttled");
    let view = varco_app::accounts::show(t.app(), &a.user_code).await.unwrap();
    assert!(view.locked);
    let audit = varco_app::audit::list(t.app(), Some(&a.user_code), 100).await.unwrap();
    assert_eq!(
        audit.iter().filter(|e| e.event == "account_locked").count(),
        1,
        "{audit:?}"
    );
    // The lock is temporary.
    t.clock.advance(policy.lock_secs + 1);
    assert_eq!(t.login(&a.user_code, PASSWORD).await.status(), 200);
    // Success resets the counter: one more failure does not lock again.
    problem(t.login(&a.user_code, "a wrong password typed").await).await;
    assert!(!varco_app::accounts::show(t.app(), &a.user_code).await.unwrap().locked);
    t.stop().await;
}

async fn sessions_rotate_expire_and_end(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    t.add_school().await;
    let a = t.add_account(1, "s@example.it", None, Some(PASSWORD)).await;
    let cookie_of = |r: &reqwest::Response| {
        r.headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    };
    let r1 = t.login(&a.user_code, PASSWORD).await;
    let first = cookie_of(&r1);
    let r2 = t.login(&a.user_code, PASSWORD).await;
    let second = cookie_of(&r2);
    assert_ne!(first, second, "the session id rotates at login");
    let raw = reqwest::Client::new();
    let me = |cookie: String| raw.get(t.url("/api/v1/me")).header("cookie", cookie).send();
    assert_eq!(
        me(first.clone()).await.unwrap().status(),
        401,
        "the previous session ended"
    );
    assert_eq!(me(second.clone()).await.unwrap().status(), 200);
    // Idle limit: 30 minutes without requests.
    t.clock.advance(29 * 60);
    assert_eq!(me(second.clone()).await.unwrap().status(), 200);
    t.clock.advance(29 * 60);
    assert_eq!(
        me(second.clone()).await.unwrap().status(),
        200,
        "activity keeps it alive"
    );
    t.clock.advance(31 * 60);
    assert_eq!(me(second.clone()).await.unwrap().status(), 401, "idle session expired");
    // Absolute limit: 12 hours even with activity.
    let r = t.login(&a.user_code, PASSWORD).await;
    let third = cookie_of(&r);
    for _ in 0..(12 * 60 / 20) {
        t.clock.advance(20 * 60);
        if me(third.clone()).await.unwrap().status() != 200 {
            break;
        }
    }
    assert_eq!(me(third.clone()).await.unwrap().status(), 401, "absolute limit reached");
    // A forged or malformed cookie is just "not signed in".
    assert_eq!(me("varco_session=not-a-token".into()).await.unwrap().status(), 401);
    assert_eq!(
        me(format!("varco_session={}", "A".repeat(43))).await.unwrap().status(),
        401
    );
    t.stop().await;
}

async fn disabling_ends_sessions(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    t.add_school().await;
    let a = t.add_account(1, "x@example.it", None, Some(PASSWORD)).await;
    assert_eq!(t.login(&a.user_code, PASSWORD).await.status(), 200);
    assert_eq!(t.client.get(t.url("/api/v1/me")).send().await.unwrap().status(), 200);
    varco_app::accounts::set_enabled(t.app(), &Actor::Cli, &RequestContext::default(), &a.user_code, false)
        .await
        .unwrap();
    assert_eq!(t.client.get(t.url("/api/v1/me")).send().await.unwrap().status(), 401);
    varco_app::accounts::set_enabled(t.app(), &Actor::Cli, &RequestContext::default(), &a.user_code, true)
        .await
        .unwrap();
    assert_eq!(t.login(&a.user_code, PASSWORD).await.status(), 200);
    t.stop().await;
}

async fn per_ip_throttle(backend: Backend) {
    let options = Options {
        login_per_minute: 3,
        ..Options::default()
    };
    let Some(t) = TestApp::spawn_with(backend, options).await else {
        return;
    };
    for _ in 0..3 {
        assert_eq!(t.login("someone", "some password here").await.status(), 401);
    }
    let r = t.login("someone", "some password here").await;
    let retry_after: u64 = r
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let (status, body) = problem(r).await;
    assert_eq!(status, 429);
    assert_eq!(body["code"], "throttled");
    t.stop().await;
}

async fn bad_input_gets_clear_problems(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let url = t.url("/api/v1/login");
    let r = t
        .client
        .post(&url)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await.1["code"], "unsupported_media_type");
    let r = t
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"login\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await.1["code"], "malformed_json");
    let r = t
        .client
        .post(&url)
        .json(&serde_json::json!({ "login": 5 }))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await.1["code"], "malformed_json");
    let big = "x".repeat(70 * 1024);
    let r = t
        .client
        .post(&url)
        .json(&serde_json::json!({ "login": big, "password": "p" }))
        .send()
        .await
        .unwrap();
    let (status, body) = problem(r).await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    let r = t
        .client
        .post(&url)
        .header("origin", "http://evil.example")
        .json(&serde_json::json!({ "login": "a", "password": "b" }))
        .send()
        .await
        .unwrap();
    let (status, body) = problem(r).await;
    assert_eq!((status.as_u16(), body["code"].as_str()), (403, Some("cross_origin")));
    let r = t
        .client
        .post(t.url("/api/v1/logout"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await.1["code"], "cross_origin");
    let r = t
        .client
        .post(&url)
        .header("origin", &t.base)
        .json(&serde_json::json!({ "login": "someone", "password": "p".repeat(2000) }))
        .send()
        .await
        .unwrap();
    let (status, body) = problem(r).await;
    assert_eq!((status.as_u16(), body["code"].as_str()), (400, Some("input_too_long")));
    t.stop().await;
}

async fn rehash_when_parameters_change(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    t.add_school().await;
    // An account whose hash was made with weaker parameters (an older deployment).
    let mut weak = (*t.app().settings).clone();
    weak.hash = varco_domain::password::HashParams {
        memory_kib: 8192,
        iterations: 1,
        parallelism: 1,
    };
    let old_app = varco_app::App::new(t.app().store.clone(), t.app().clock.clone(), weak).unwrap();
    let input = varco_app::accounts::AddAccount {
        school_code: crate::harness::SCHOOL.into(),
        kind: varco_domain::account::AccountKind::Staff,
        first_name: "Vecchio".into(),
        last_name: "Hash".into(),
        tax_code: crate::harness::tax_code(7),
        email: Some("old@example.it".into()),
        username: None,
    };
    let a = varco_app::accounts::add(
        &old_app,
        &Actor::Cli,
        &RequestContext::default(),
        &input,
        Some(varco_domain::password::PasswordInput::new(PASSWORD).unwrap()),
    )
    .await
    .unwrap();
    let stored = || async {
        let mut tx = t.app().store.begin_read().await.unwrap();
        let record = tx.account_by_user_code(&a.user_code).await.unwrap().unwrap();
        tx.commit().await.unwrap();
        record.password_hash.unwrap()
    };
    assert!(stored().await.contains("m=8192,t=1,p=1"));
    // A failed login changes nothing.
    assert_eq!(t.login(&a.user_code, "wrong password for this one").await.status(), 401);
    assert!(stored().await.contains("m=8192,t=1,p=1"));
    assert_eq!(t.login(&a.user_code, PASSWORD).await.status(), 200);
    let upgraded = stored().await;
    assert!(upgraded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{upgraded}");
    assert_eq!(
        t.login(&a.user_code, PASSWORD).await.status(),
        200,
        "the new hash verifies"
    );
    let audit = varco_app::audit::list(t.app(), Some(&a.user_code), 10).await.unwrap();
    assert!(audit.iter().any(|e| e.detail.as_deref() == Some("password_rehashed")));
    t.stop().await;
}

async fn audit_has_events_and_no_secret(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    t.add_school().await;
    let a = t
        .add_account(1, "audit@example.it", Some("auditato"), Some(PASSWORD))
        .await;
    let wrong = "this-is-a-wrong-secret-password";
    t.client
        .post(t.url("/api/v1/login"))
        .header("user-agent", "VarcoTest/1.0")
        .json(&serde_json::json!({ "login": "auditato", "password": wrong }))
        .send()
        .await
        .unwrap();
    // A password typed in the login field must not end up in the log either.
    t.login(wrong, PASSWORD).await;
    t.client
        .post(t.url("/api/v1/login"))
        .header("user-agent", "VarcoTest/1.0")
        .json(&serde_json::json!({ "login": "auditato", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    t.client.post(t.url("/api/v1/logout")).send().await.unwrap();
    let entries = varco_app::audit::list(t.app(), None, 100).await.unwrap();
    let events: Vec<(&str, &str)> = entries.iter().map(|e| (e.event.as_str(), e.outcome.as_str())).collect();
    for expected in [
        ("logout", "success"),
        ("login", "success"),
        ("login", "failure"),
        ("account_created", "success"),
        ("school_created", "success"),
    ] {
        assert!(events.contains(&expected), "{expected:?} missing from {events:?}");
    }
    let mine = varco_app::audit::list(t.app(), Some(&a.user_code), 100).await.unwrap();
    let failure = mine
        .iter()
        .find(|e| e.event == "login" && e.outcome == "failure")
        .unwrap();
    assert_eq!(failure.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(failure.user_agent.as_deref(), Some("VarcoTest/1.0"));
    assert_eq!(mine[0].event, "logout", "newest first");
    let everything = serde_json::to_string(&entries).unwrap();
    for secret in [PASSWORD, wrong] {
        assert!(!everything.contains(secret), "a secret reached the audit log");
    }
    t.stop().await;
}
