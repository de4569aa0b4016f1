//! The first-run `/setup` page: its token is checked before any costly work,
//! it is rate limited, it is gone once an admin exists, and its errors come
//! all at once, in Italian, with the values kept (security finding 6 and the
//! UI review).

use reqwest::StatusCode;
use varco_domain::token::SecretToken;

use crate::harness::{Backend, PASSWORD, TestApp, both_backends};
use crate::kit::input_value;

both_backends!(
    a_bogus_setup_token_is_refused_without_hashing,
    setup_posts_are_rate_limited_per_address,
    setup_is_gone_once_an_admin_exists,
    setup_errors_come_all_at_once_in_italian_with_the_values_kept
);

/// The anonymous form token (from the sign-in page, which sets its cookie).
async fn csrf(t: &TestApp) -> String {
    let html = t.html("/login").await;
    input_value(&html, "csrf")
}

/// A complete, valid form for `token`.
fn valid_form(csrf: &str, token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("csrf", csrf.to_owned()),
        ("token", token.to_owned()),
        ("school_code", "MIIS00900A".to_owned()),
        ("school_name", "Istituto Superiore Milano".to_owned()),
        ("school_email", "miis00900a@istruzione.it".to_owned()),
        ("first_name", "Prima".to_owned()),
        ("last_name", "Amministratrice".to_owned()),
        ("tax_code", crate::harness::tax_code(42)),
        ("email", "admin@example.it".to_owned()),
        ("username", String::new()),
        ("password", PASSWORD.to_owned()),
        ("password_confirm", PASSWORD.to_owned()),
    ]
}

async fn a_bogus_setup_token_is_refused_without_hashing(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    // Setup is pending: a live token exists, just not the one sent.
    let _live = varco_app::setup::issue_setup_token(t.app()).await.unwrap();
    let csrf = csrf(&t).await;
    let hashed_before = t.app().hashing.jobs_submitted();
    for bogus in [
        "A".repeat(43),
        SecretToken::generate(&mut rand::rngs::OsRng).as_str().to_owned(),
    ] {
        let r = t
            .client
            .post(t.url("/setup"))
            .form(&valid_form(&csrf, &bogus))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.text().await.unwrap().contains("non è valido, è scaduto"));
    }
    // A bogus token with an invalid form: the link is what is refused.
    let mut form = valid_form(&csrf, &"A".repeat(43));
    form[7].1 = "not a tax code".into();
    let r = t.client.post(t.url("/setup")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("non è valido, è scaduto"));
    assert_eq!(
        t.app().hashing.jobs_submitted(),
        hashed_before,
        "no Argon2 work for a dead setup link"
    );
    assert!(varco_app::setup::needs_setup(t.app()).await.unwrap());
    t.stop().await;
}

async fn setup_posts_are_rate_limited_per_address(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let _live = varco_app::setup::issue_setup_token(t.app()).await.unwrap();
    let csrf = csrf(&t).await;
    let form = valid_form(&csrf, &"A".repeat(43));
    let budget = varco_web::RateLimits::default().recovery_per_minute;
    for _ in 0..budget {
        let r = t.client.post(t.url("/setup")).form(&form).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
    let r = t.client.post(t.url("/setup")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    t.stop().await;
}

async fn setup_is_gone_once_an_admin_exists(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let token = varco_app::setup::issue_setup_token(t.app()).await.unwrap();
    let pending = "la prima configurazione è in attesa";
    let login = || async { t.html("/login").await };
    assert!(
        login().await.contains(pending),
        "the sign-in page says setup is pending"
    );
    let csrf = csrf(&t).await;
    let form = valid_form(&csrf, token.as_str());
    let r = t.client.post(t.url("/setup")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Configurazione completata"));
    assert!(!login().await.contains(pending), "and says nothing once it is done");
    // Gone: GET with or without the spent token, and POST.
    for path in [format!("/setup?token={}", token.as_str()), "/setup".to_owned()] {
        let r = t.client.get(t.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let r = t.client.post(t.url("/setup")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Even a token issued by mistake later opens nothing.
    let late = varco_app::setup::issue_setup_token(t.app()).await.unwrap();
    let r = t
        .client
        .get(t.url(&format!("/setup?token={}", late.as_str())))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    t.stop().await;
}

async fn setup_errors_come_all_at_once_in_italian_with_the_values_kept(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    let token = varco_app::setup::issue_setup_token(t.app()).await.unwrap();
    let html = t
        .client
        .get(t.url(&format!("/setup?token={}", token.as_str())))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = input_value(&html, "csrf");
    let hashed_before = t.app().hashing.jobs_submitted();

    // A blank form: every required field at once, "required" for the password.
    let mut blank = valid_form(&csrf, token.as_str());
    for field in blank.iter_mut().skip(2) {
        field.1.clear();
    }
    let r = t.client.post(t.url("/setup")).form(&blank).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    for label in [
        "Codice meccanografico",
        "Nome della scuola",
        "Nome",
        "Cognome",
        "Codice fiscale",
        "Email",
        "Password",
        "Ripeti la password",
    ] {
        assert!(
            html.contains(&format!("Il campo «{label}» è obbligatorio.")),
            "{label}: {html}"
        );
    }
    assert!(!html.contains("troppo lunga"), "no 'too long' for a blank password");
    assert!(html.contains("aria-invalid=\"true\" aria-describedby=\"school_code-error\" autofocus>"));
    assert_eq!(html.matches(" autofocus").count(), 1, "only the first bad field");

    // Several wrong fields: all reported, in Italian, values kept but passwords.
    let mut form = valid_form(&csrf, token.as_str());
    form[2].1 = "RM12".into(); // school code
    form[3].1 = "Liceo Tenuto".into(); // valid: kept
    let mut tax = crate::harness::tax_code(42);
    let last = tax.pop().unwrap();
    tax.push(if last == 'A' { 'B' } else { 'A' }); // wrong check character
    form[7].1 = tax.clone();
    form[8].1 = "non-una-email".into();
    form[9].1 = "x".into(); // username too short
    form[10].1 = "una password segreta e lunga".into();
    form[11].1 = "una password diversa e lunga".into();
    let r = t.client.post(t.url("/setup")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    for expected in [
        "Il codice meccanografico ha 10 caratteri",
        "ultimo carattere del codice fiscale non corrisponde ai precedenti",
        "Il campo «Email» non contiene un indirizzo email valido.",
        "Il nome utente deve avere da 3 a 64 caratteri.",
        "Le due password non coincidono.",
    ] {
        assert!(html.contains(expected), "{expected}: {html}");
    }
    for english in ["check character", "not a valid email", "a username has"] {
        assert!(!html.contains(english), "English validator text: {english}");
    }
    assert_eq!(input_value(&html, "school_name"), "Liceo Tenuto");
    assert_eq!(input_value(&html, "tax_code"), tax);
    assert_eq!(input_value(&html, "email"), "non-una-email");
    assert!(!html.contains("una password segreta"), "passwords are never echoed");

    // A weak password is reported together with a field error.
    let mut form = valid_form(&csrf, token.as_str());
    form[6].1 = String::new();
    form[10].1 = "short".into();
    form[11].1 = "short".into();
    let r = t.client.post(t.url("/setup")).form(&form).send().await.unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("troppo corta"), "{html}");
    assert!(html.contains("Il campo «Cognome» è obbligatorio."), "{html}");
    assert_eq!(
        t.app().hashing.jobs_submitted(),
        hashed_before,
        "nothing is hashed while the form is refused"
    );

    // English on request.
    let r = t
        .client
        .post(t.url("/setup"))
        .header("accept-language", "en")
        .form(&blank)
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("“School code” is required."), "{html}");

    // The setup still works afterwards.
    let r = t
        .client
        .post(t.url("/setup"))
        .form(&valid_form(&csrf, token.as_str()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!varco_app::setup::needs_setup(t.app()).await.unwrap());
    t.stop().await;
}

/// A full hashing queue (AppError::Busy) is a 503 `unavailable` with
/// `Retry-After`, on the API and on pages (with its own message).
#[tokio::test]
async fn a_full_hashing_queue_is_a_503_with_retry_after() {
    use axum::response::IntoResponse;
    use varco_app::AppError;
    use varco_web::problem::{ApiError, PageError, PageFailure, WebError};

    let api = ApiError(WebError::App(AppError::Busy)).into_response();
    assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(api.headers().contains_key("retry-after"));
    let body = axum::body::to_bytes(api.into_body(), 4096).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], "unavailable");

    let page = PageError(WebError::App(AppError::Busy)).into_response();
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.headers().contains_key("retry-after"));
    assert_eq!(
        page.extensions().get::<PageFailure>().unwrap().message_key,
        "error-busy"
    );
}
