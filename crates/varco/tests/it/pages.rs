//! The HTML pages: language, security headers, CSRF, the login form, the
//! account page, logout, help, and the one-time setup link.

use reqwest::StatusCode;

use crate::harness::{Backend, PASSWORD, SCHOOL, TestApp, both_backends};

both_backends!(
    pages_speak_italian_by_default_and_english_on_request,
    security_headers_on_every_page,
    form_login_with_csrf_lands_on_account,
    help_shows_the_helpdesks,
    first_run_setup_link_creates_the_admin_once,
);

fn input_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} field")) + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

async fn pages_speak_italian_by_default_and_english_on_request(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let html = t
        .client
        .get(t.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<html lang=\"it\">"));
    assert!(html.contains("Accedi a Varco"));
    let r = t
        .client
        .get(t.url("/login"))
        .header("accept-language", "en-GB,en;q=0.9")
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\">") && html.contains("Sign in to Varco"));
    // The visible switch sets a cookie that wins over the header.
    let r = t.client.get(t.url("/lang/en?back=/help")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/help");
    let html = t
        .client
        .get(t.url("/help"))
        .header("accept-language", "it")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("National helpdesk"));
    let r = t
        .client
        .get(t.url("/lang/en?back=//evil.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/");
    t.stop().await;
}

async fn security_headers_on_every_page(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    for path in ["/login", "/help", "/account", "/no-such-page", "/api/v1/me"] {
        let r = t.client.get(t.url(path)).send().await.unwrap();
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "same-origin");
        assert_eq!(h["cache-control"], "no-store", "{path}");
    }
    let r = t.client.get(t.url("/no-such-page")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let html = r.text().await.unwrap();
    assert!(html.contains("La pagina richiesta non esiste") && html.contains("Codice della richiesta"));
    let r = t
        .client
        .get(t.url("/static/bootstrap-italia/css/bootstrap-italia.min.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
    t.stop().await;
}

async fn form_login_with_csrf_lands_on_account(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    t.add_school().await;
    let a = t
        .add_account(1, "form@example.it", Some("modulo"), Some(PASSWORD))
        .await;
    let r = t.client.get(t.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()["location"].to_str().unwrap().starts_with("/login"));
    let html = t
        .client
        .get(t.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = input_value(&html, "csrf");
    // Without the token, or with another one: refused, nobody signed in.
    for token in ["", "forged-token"] {
        let r = t
            .client
            .post(t.url("/login"))
            .form(&[("login", "modulo"), ("password", PASSWORD), ("csrf", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    // From another origin: refused.
    let r = t
        .client
        .post(t.url("/login"))
        .header("origin", "http://evil.example")
        .form(&[("login", "modulo"), ("password", PASSWORD), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Wrong password: the form again, with the message, the login kept.
    let r = t
        .client
        .post(t.url("/login"))
        .form(&[
            ("login", "modulo"),
            ("password", "not the right one at all"),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let html = r.text().await.unwrap();
    assert!(html.contains("Credenziali non valide") && html.contains("value=\"modulo\""));
    let r = t
        .client
        .post(t.url("/login"))
        .header("origin", &t.base)
        .form(&[("login", "modulo"), ("password", PASSWORD), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/account");
    let html = t
        .client
        .get(t.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Il tuo account")
            && html.contains(&a.user_code)
            && html.contains("Istituto Comprensivo Via Roma")
    );
    let session_csrf = input_value(&html, "csrf");
    // Logout needs the session's token.
    let r = t
        .client
        .post(t.url("/logout"))
        .form(&[("csrf", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = t
        .client
        .post(t.url("/logout"))
        .form(&[("csrf", session_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = t.client.get(t.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "signed out");
    t.stop().await;
}

async fn help_shows_the_helpdesks(backend: Backend) {
    let options = crate::harness::Options {
        tweak: Box::new(|c| {
            c.helpdesk.name = Some("Assistenza Varco".into());
            c.helpdesk.phone = Some("800 000 000".into());
            c.helpdesk.hours = Some("lun-ven 8-18".into());
        }),
        ..Default::default()
    };
    let Some(t) = TestApp::spawn_with(backend, options).await else {
        return;
    };
    t.add_school().await;
    let html = t.client.get(t.url("/help")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("800 000 000") && html.contains("lun-ven 8-18"));
    let html = t
        .client
        .get(t.url(&format!("/help?school={}", SCHOOL.to_lowercase())))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("assistenza@icviaroma.edu.it") && html.contains("lun-ven 10-13"),
        "school contacts"
    );
    let html = t
        .client
        .get(t.url("/help?school=XXXX000000"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Nessuna scuola con questo codice"));
    t.stop().await;
}

async fn first_run_setup_link_creates_the_admin_once(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    assert!(varco_app::setup::needs_setup(t.app()).await.unwrap());
    let token = varco_app::setup::issue_setup_token(t.app()).await.unwrap();
    let r = t.client.get(t.url("/setup?token=wrong")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = t
        .client
        .get(t.url(&format!("/setup?token={}", token.as_str())))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["referrer-policy"],
        "no-referrer",
        "the token must not leak as a referrer"
    );
    let html = r.text().await.unwrap();
    let csrf = input_value(&html, "csrf");
    let tax_code = crate::harness::tax_code(42);
    let mut form = vec![
        ("csrf", csrf.clone()),
        ("token", token.as_str().to_owned()),
        ("school_code", "MIIS00900A".to_owned()),
        ("school_name", "Istituto Superiore Milano".to_owned()),
        ("school_email", "miis00900a@istruzione.it".to_owned()),
        ("first_name", "Prima".to_owned()),
        ("last_name", "Amministratrice".to_owned()),
        ("tax_code", tax_code.to_lowercase()),
        ("email", "admin@example.it".to_owned()),
        ("username", "".to_owned()),
        ("password", "short".to_owned()),
        ("password_confirm", "short".to_owned()),
    ];
    let r = t.client.post(t.url("/setup")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("troppo corta"));
    form[10].1 = PASSWORD.to_owned();
    form[11].1 = PASSWORD.to_owned();
    let r = t.client.post(t.url("/setup")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Configurazione completata"));
    assert!(!varco_app::setup::needs_setup(t.app()).await.unwrap());
    // Single use, and the page is gone once an admin exists.
    let r = t.client.post(t.url("/setup")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        t.client
            .get(t.url(&format!("/setup?token={}", token.as_str())))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // The admin can sign in by email.
    let r = t.login("admin@example.it", PASSWORD).await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["account"]["roles"][0]["role"], "admin");
    t.stop().await;
}
