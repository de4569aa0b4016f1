//! The HTML pages: language, security headers, CSRF, the login form, the
//! account page, logout, help, and the one-time setup link.

use reqwest::StatusCode;

use crate::harness::{Backend, PASSWORD, SCHOOL, TestApp, both_backends};
use crate::kit::input_value;

both_backends!(
    pages_speak_italian_by_default_and_english_on_request,
    security_headers_on_every_page,
    form_login_with_csrf_lands_on_account,
    help_shows_the_helpdesks,
    help_finds_schools_by_part_of_their_name,
    first_run_setup_link_creates_the_admin_once,
    refused_forms_tie_errors_to_their_fields,
    branding_names_the_site_and_links_the_legal_pages,
    sessions_show_times_in_the_school_zone,
    an_expired_password_says_since_when,
);

async fn pages_speak_italian_by_default_and_english_on_request(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let html = t.html("/login").await;
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
    assert!(html.contains("Find a school"));
    // An unconfigured national helpdesk is not shown at all.
    assert!(!html.contains("National helpdesk"));
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
    let html = t.html("/login").await;
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
    assert!(html.contains("Codice utente (o email) o password non corretti") && html.contains("value=\"modulo\""));
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
    let html = t.html("/account").await;
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
    let html = t.html("/help").await;
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
    let html = t.html("/help?school=XXXX000000").await;
    assert!(html.contains("Nessuna scuola con questo codice"));
    t.stop().await;
}

async fn add_school(t: &TestApp, code: &str, name: &str, helpdesk_email: Option<&str>) {
    add_school_in(t, code, name, helpdesk_email, None).await;
}

async fn add_school_in(t: &TestApp, code: &str, name: &str, helpdesk_email: Option<&str>, town: Option<&str>) {
    varco_app::schools::add(
        t.app(),
        &varco_app::Actor::Cli,
        &varco_app::RequestContext::default(),
        &varco_app::schools::AddSchool {
            code: code.into(),
            name: name.into(),
            email: None,
            helpdesk_email: helpdesk_email.map(Into::into),
            helpdesk_phone: None,
            helpdesk_hours: None,
            town: town.map(Into::into),
        },
    )
    .await
    .expect("school added");
}

async fn help_finds_schools_by_part_of_their_name(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    t.add_school().await;
    add_school(
        &t,
        "MIPS01000A",
        "Liceo Alessandro Manzoni - Milano",
        Some("segreteria@manzoni.example"),
    )
    .await;
    add_school_in(&t, "RMIC80000Z", "IC Giovanni Pascoli", None, Some("Frascati")).await;
    add_school_in(&t, "RMIC80001Z", "Scuola 100% Digitale", None, None).await;
    for n in 1..=21 {
        add_school(&t, &format!("TOIC{n:06}"), &format!("Scuola Prova {n:02}"), None).await;
    }
    let help = |query: &str| {
        let url = t.url(&format!("/help?school_name={query}"));
        let client = t.client.clone();
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };

    // The form: a labelled field, no script needed.
    let html = help("").await;
    assert!(
        html.contains("<label for=\"school_name\">Nome della scuola o comune"),
        "{html}"
    );
    assert!(html.contains("id=\"school_name\" name=\"school_name\""));
    assert!(!html.contains("help-found-title"), "no results before a search");

    // Case does not matter; each result lists name, code and helpdesk, as a list.
    let html = help("via%20ROMA").await;
    assert!(html.contains("1 scuola trovata"), "{html}");
    assert!(html.contains("<ul class=\"varco-school-results\">"));
    assert!(html.contains("Istituto Comprensivo Via Roma") && html.contains(SCHOOL));
    assert!(html.contains("assistenza@icviaroma.edu.it") && html.contains("lun-ven 10-13"));
    assert!(html.contains("value=\"via ROMA\""), "the search stays in the field");
    assert!(!html.contains("MIPS01000A"));

    // The town, when it is part of the name.
    let html = help("milano").await;
    assert!(html.contains("MIPS01000A") && html.contains("segreteria@manzoni.example"));
    assert!(!html.contains(SCHOOL));

    // By its town (which is not in its name), ignoring case; the result shows the town.
    let html = help("FRASC").await;
    assert!(
        html.contains("1 scuola trovata") && html.contains("RMIC80000Z"),
        "{html}"
    );
    assert!(html.contains("comune Frascati"), "{html}");
    assert!(!html.contains(SCHOOL));
    // By part of its name.
    let html = help("pasCOL").await;
    assert!(
        html.contains("1 scuola trovata") && html.contains("RMIC80000Z"),
        "{html}"
    );

    // A `%` typed matches itself only (as a wildcard, "0%" would match "Scuola Prova 10" too).
    let html = help("0%25").await;
    assert!(
        html.contains("1 scuola trovata") && html.contains("RMIC80001Z"),
        "{html}"
    );

    // At most 20, by name, and a hint to narrow the search.
    let html = help("prova").await;
    assert_eq!(html.matches("<li class=\"mt-3\">").count(), 20, "{html}");
    assert!(html.contains("Scuola Prova 01") && html.contains("Scuola Prova 20"));
    assert!(!html.contains("Scuola Prova 21"));
    assert!(html.contains("Sono elencate solo le prime 20 scuole"));

    // LIKE's wildcards are plain characters; too short a search is refused.
    let html = help("%25%25").await;
    assert!(html.contains("Nessuna scuola trovata") && html.contains("Nessuna scuola ha questo nome"));
    assert!(!html.contains(SCHOOL));
    let html = help("a").await;
    assert!(html.contains("Scrivi almeno 2 caratteri"), "{html}");
    assert!(!html.contains("help-found-title"));

    // English.
    let r = t.client.get(t.url("/lang/en?back=/help")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = help("MANZONI").await;
    assert!(html.contains("1 school found") && html.contains("MIPS01000A"), "{html}");
    assert!(html.contains("School name or town"));
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

/// Posts a form with the CSRF token of the page it comes from; returns the status and the page.
async fn post_form(t: &TestApp, page: &str, action: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let html = t.html(page).await;
    let csrf = input_value(&html, "csrf");
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    form.push(("csrf", csrf.as_str()));
    let r = t.client.post(t.url(action)).form(&form).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// The error summary is there, focusable, and links to each field in error;
/// each such field is `aria-invalid` and described by its error text.
fn assert_field_error(html: &str, field: &str) {
    assert!(html.contains("id=\"error-summary\" tabindex=\"-1\""), "{html}");
    assert!(html.contains(&format!("href=\"#{field}\"")), "summary links {field}");
    let input_start = html
        .find(&format!("id=\"{field}\" name=\"{field}\""))
        .expect("the field");
    let input = &html[input_start..input_start + html[input_start..].find('>').unwrap()];
    assert!(input.contains("aria-invalid=\"true\""), "{input}");
    assert!(
        input.contains(&format!("aria-describedby=\"{field}-error\"")),
        "{input}"
    );
    assert!(
        html.contains(&format!("id=\"{field}-error\"")),
        "the error text of {field}"
    );
}

fn assert_field_valid(html: &str, field: &str) {
    let input_start = html
        .find(&format!("id=\"{field}\" name=\"{field}\""))
        .expect("the field");
    let input = &html[input_start..input_start + html[input_start..].find('>').unwrap()];
    assert!(!input.contains("aria-invalid"), "{input}");
}

async fn refused_forms_tie_errors_to_their_fields(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    t.add_school().await;
    t.add_account(2, "campi@example.it", Some("campi"), Some(PASSWORD))
        .await;

    // A blank login form has its own words, tied to each field.
    let (status, html) = post_form(&t, "/login", "/login", &[("login", " "), ("password", "")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains("Scrivi il codice utente, il nome utente o l&#x27;email."),
        "{html}"
    );
    assert!(html.contains("Scrivi la password."));
    assert!(!html.contains("non corretti"));
    assert_field_error(&html, "login");
    assert_field_error(&html, "password");

    // A wrong password: plain words, the login kept, the password not.
    let (status, html) = post_form(
        &t,
        "/login",
        "/login",
        &[("login", "campi"), ("password", "sbagliata del tutto")],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(html.contains("Codice utente (o email) o password non corretti"));
    assert!(html.contains("id=\"login\" name=\"login\" value=\"campi\""));
    assert!(!html.contains("sbagliata del tutto"), "a password is never sent back");

    // Signed in: a policy refusal on the change form, with advice apart.
    let (status, _) = post_form(&t, "/login", "/login", &[("login", "campi"), ("password", PASSWORD)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "signed in");
    let (status, html) = post_form(
        &t,
        "/password/change",
        "/password/change",
        &[
            ("current_password", PASSWORD),
            ("new_password", "corta"),
            ("new_password_confirm", "corta"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("La password è troppo corta"), "{html}");
    assert_field_error(&html, "new_password");
    assert_field_valid(&html, "current_password");
    assert!(!html.contains(PASSWORD), "passwords are never sent back");
    // Advice, when there is some, is not in the error summary.
    let summary_end = html
        .find("id=\"error-summary\"")
        .map(|i| i + html[i..].find("</div>").unwrap())
        .unwrap();
    if let Some(advice) = html.find("varco-advice") {
        assert!(advice > summary_end);
    }

    // A weak password: an error on the field and the advice in its own box.
    let (status, html) = post_form(
        &t,
        "/password/change",
        "/password/change",
        &[
            ("current_password", PASSWORD),
            ("new_password", "passwordpassword"),
            ("new_password_confirm", "passwordpassword"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_field_error(&html, "new_password");
    let summary_end = html
        .find("id=\"error-summary\"")
        .map(|i| i + html[i..].find("</div>").unwrap())
        .unwrap();
    let advice = html.find("varco-advice").expect("strength advice shown");
    assert!(advice > summary_end, "advice apart from the errors");

    // A mismatch is about the second field.
    let (status, html) = post_form(
        &t,
        "/password/change",
        "/password/change",
        &[
            ("current_password", PASSWORD),
            ("new_password", "una lunga frase di prova"),
            ("new_password_confirm", "un'altra"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_field_error(&html, "new_password_confirm");
    assert_field_valid(&html, "new_password");

    // The email change keeps what was typed.
    let (status, html) = post_form(
        &t,
        "/account/email",
        "/account/email",
        &[
            ("new_email", "nuova@example.it"),
            ("new_email_confirm", "nuovo@example.it"),
            ("current_password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_field_error(&html, "new_email_confirm");
    assert!(html.contains("value=\"nuova@example.it\"") && html.contains("value=\"nuovo@example.it\""));

    // The forgot form refuses a blank login with its own words.
    let (status, html) = post_form(&t, "/password/forgot", "/password/forgot", &[("login", "")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_field_error(&html, "login");
    t.stop().await;
}

async fn branding_names_the_site_and_links_the_legal_pages(backend: Backend) {
    let options = crate::harness::Options {
        tweak: Box::new(|config| {
            config.branding.name = Some("IC Via Roma – Registro elettronico".into());
            config.branding.privacy_url = Some("https://icviaroma.edu.it/privacy".into());
            config.branding.accessibility_url = Some("https://form.agid.gov.it/view/xyz".into());
        }),
        ..Default::default()
    };
    let Some(t) = TestApp::spawn_with(backend, options).await else {
        return;
    };
    let html = t.html("/help").await;
    assert!(
        html.contains("<div class=\"it-brand-title\">IC Via Roma – Registro elettronico</div>"),
        "{html}"
    );
    // (auto-escaping writes `/` as `&#x2f;`)
    assert!(
        html.contains("href=\"https:&#x2f;&#x2f;icviaroma.edu.it&#x2f;privacy\">Privacy</a>"),
        "{html}"
    );
    assert!(html.contains("view&#x2f;xyz\">Dichiarazione di accessibilità</a>"));
    assert!(!html.contains("Note legali"), "an unset link is not shown");
    t.stop().await;

    // Unset: no footer links at all.
    let Some(t) = TestApp::spawn(backend).await else { return };
    let html = t.html("/help").await;
    assert!(!html.contains("Privacy") && !html.contains("Note legali"));
    assert!(html.contains("<div class=\"it-brand-title\">Varco</div>"));
    t.stop().await;
}

async fn sessions_show_times_in_the_school_zone(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    t.add_school().await;
    t.add_account(1, "orari@example.it", Some("orari"), Some(PASSWORD))
        .await;
    let (status, _) = post_form(&t, "/login", "/login", &[("login", "orari"), ("password", PASSWORD)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let html = t.html("/account/sessions").await;
    // T0 is 15/01/2027 08:00 UTC: 09:00 in Rome (CET).
    assert!(html.contains("15&#x2f;01&#x2f;2027 09:00 (ora italiana)"), "{html}");
    assert!(!html.contains("UTC"));
    t.stop().await;
}

async fn an_expired_password_says_since_when(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    t.add_school().await;
    // Even numbers are staff accounts, whose passwords last 180 days.
    t.add_account(2, "scade@example.it", Some("scade"), Some(PASSWORD))
        .await;
    t.clock.advance(181 * 86_400);
    let (status, _) = post_form(&t, "/login", "/login", &[("login", "scade"), ("password", PASSWORD)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let html = t.html("/password/change").await;
    // T0 + 180 days is 14/07/2027 in Rome.
    assert!(
        html.contains("La tua password è scaduta il 14&#x2f;07&#x2f;2027."),
        "{html}"
    );
    assert!(!html.contains("segreteria ha chiesto"));
    t.stop().await;
}
