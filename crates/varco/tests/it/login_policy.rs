//! The login policy per account kind (issue 9, item 3), on both engines:
//! a kind kept to SPID/CIE cannot sign in, recover or set a password; a
//! password end date is announced and then enforced; desk operators and
//! admins keep their passwords; the forgot-password answer stays the same
//! and the message (read through the real SMTP server) explains SPID/CIE.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use varco_app::{Actor, RequestContext};
use varco_domain::account::Role;
use varco_domain::clock::Timestamp;

use crate::harness::{Backend, Options, PASSWORD, SCHOOL, TestApp, both_backends, client};
use crate::kit::{MAIL_WAIT, spawn_with_smtp_and};
use crate::smtp::{Received, SmtpSink};

both_backends!(
    a_spid_cie_only_kind_cannot_sign_in_with_a_password,
    the_password_works_until_the_announced_day,
    desk_operators_and_admins_keep_their_passwords,
    forgot_for_a_spid_cie_only_account_answers_the_same_and_explains,
    no_new_password_once_the_day_has_come,
    a_new_spid_cie_only_account_is_welcomed_without_a_link,
    no_expiry_reminder_for_a_password_that_may_not_be_used,
);

/// `2027-01-16` in Rome starts at this instant (23:00 UTC the day before);
/// the tests' clock starts at `T0`, 09:00 in Rome on 15 January 2027.
const END_DATE: &str = "2027-01-16";
const END: i64 = 1_800_054_000;
const END_SHOWN: &str = "16/01/2027";

/// An account of the test school; `n` even: staff, odd: family.
async fn account(t: &TestApp, n: u32, username: &str) -> varco_app::accounts::AccountView {
    t.add_account(n, &format!("{username}@example.it"), Some(username), Some(PASSWORD))
        .await
}

async fn grant(t: &TestApp, user_code: &str, role: Role) {
    let school = (role == Role::Desk).then_some(SCHOOL);
    varco_app::accounts::set_role(
        t.app(),
        &Actor::Cli,
        &RequestContext::default(),
        user_code,
        role,
        school,
        true,
    )
    .await
    .expect("role granted");
}

/// Status, `code` and the whole body of a JSON login.
async fn api_login(t: &TestApp, login: &str, password: &str) -> (StatusCode, String, Value) {
    let r = client()
        .post(t.url("/api/v1/login"))
        .json(&json!({ "login": login, "password": password }))
        .send()
        .await
        .expect("request");
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    let code = body["code"].as_str().unwrap_or_default().to_owned();
    (status, code, body)
}

/// A page's text with the slashes minijinja escapes in values put back.
fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
}

/// Whether the account's audit log has `event` with `outcome` and `detail`.
async fn audited(t: &TestApp, user_code: &str, event: &str, outcome: &str, detail: &str) -> bool {
    t.audit_of(user_code)
        .await
        .iter()
        .any(|e| e.event == event && e.outcome == outcome && e.detail.as_deref() == Some(detail))
}

async fn a_spid_cie_only_kind_cannot_sign_in_with_a_password(backend: Backend) {
    let options = Options {
        tweak: Box::new(|c| c.login.family.methods = vec!["spid_cie".into()]),
        ..Options::default()
    };
    let Some(t) = TestApp::spawn_with(backend, options).await else {
        return;
    };
    t.add_school().await;
    let family = account(&t, 1, "genitore").await;
    account(&t, 2, "docente").await;

    // The right password: refused, with a code and words that say SPID/CIE.
    let (status, code, body) = api_login(&t, "genitore", PASSWORD).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(code, "password_not_allowed");
    assert!(
        body["detail"].as_str().unwrap_or_default().contains("SPID or CIE"),
        "{body}"
    );
    assert!(audited(&t, &family.user_code, "login", "failure", "password_not_allowed").await);
    // A wrong password for that account answers exactly like an unknown login.
    let (wrong_status, wrong_code, wrong_body) = api_login(&t, "genitore", "not the password at all").await;
    let (unknown_status, _, unknown_body) = api_login(&t, "nessuno", "not the password at all").await;
    assert_eq!(wrong_status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_code, "invalid_credentials");
    assert_eq!((wrong_status, &wrong_body), (unknown_status, &unknown_body));
    // No session was opened.
    let (status, _) = t.me(&t.client).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The other kind is untouched.
    assert_eq!(api_login(&t, "docente", PASSWORD).await.0, StatusCode::OK);

    // The form says it in Italian, and in English.
    let (status, page) = t.page_login("genitore", PASSWORD).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        page.contains("Per questo account la password non si usa più: accedi con SPID o CIE."),
        "{page}"
    );
    let english = client()
        .get(t.url("/login"))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        english.contains("Families: you sign in only with SPID or CIE"),
        "{english}"
    );
    // The sign-in page announces it for families, and only for them.
    let page = t.html("/login").await;
    assert!(
        page.contains("Famiglie: si accede solo con SPID o CIE, la password non si usa più."),
        "{page}"
    );
    assert!(
        page.contains("Gli operatori di segreteria e gli amministratori"),
        "{page}"
    );
    assert!(!page.contains("Personale scolastico:"), "{page}");
    t.stop_leaving_mail().await;
}

async fn the_password_works_until_the_announced_day(backend: Backend) {
    let options = Options {
        tweak: Box::new(|c| c.login.staff.password_until = END_DATE.into()),
        ..Options::default()
    };
    let Some(t) = TestApp::spawn_with(backend, options).await else {
        return;
    };
    t.add_school().await;
    let staff = account(&t, 2, "docente").await;
    account(&t, 1, "genitore").await;

    // Before the day: signed in, and told when it ends.
    let signed_in = t.sign_in("docente", PASSWORD).await;
    let (_, me) = t.me(&signed_in.client).await;
    assert_eq!(me["password_login"], "password_until", "{me}");
    assert_eq!(me["password_login_ends_on"], END_SHOWN, "{me}");
    let page = unescape(&t.html_with(&signed_in.client, "/account").await);
    assert!(
        page.contains(&format!("Dal {END_SHOWN} si accede solo con SPID o CIE")),
        "{page}"
    );
    let login_page = unescape(&t.html("/login").await);
    assert!(
        login_page.contains(&format!(
            "Personale scolastico: dal {END_SHOWN} si accede solo con SPID o CIE."
        )),
        "{login_page}"
    );
    assert!(!login_page.contains("Famiglie:"), "{login_page}");
    // A family account hears nothing of it.
    let family = t.sign_in("genitore", PASSWORD).await;
    let (_, me) = t.me(&family.client).await;
    assert_eq!(me["password_login"], "password", "{me}");
    let page = t.html_with(&family.client, "/account").await;
    assert!(!page.contains("login-policy-notice"), "{page}");

    // One second before the day starts in Rome: still fine.
    t.clock.set(Timestamp(END - 1));
    assert_eq!(api_login(&t, "docente", PASSWORD).await.0, StatusCode::OK);
    // From the day on: refused, after the password matched.
    t.clock.set(Timestamp(END));
    let (status, code, _) = api_login(&t, "docente", PASSWORD).await;
    assert_eq!((status, code.as_str()), (StatusCode::FORBIDDEN, "password_not_allowed"));
    let (status, code, _) = api_login(&t, "docente", "a wrong password, surely").await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    assert!(audited(&t, &staff.user_code, "login", "failure", "password_not_allowed").await);
    // The sign-in page now says it has ended.
    let login_page = t.html("/login").await;
    assert!(
        login_page.contains("Personale scolastico: si accede solo con SPID o CIE"),
        "{login_page}"
    );
    // Families still sign in.
    assert_eq!(api_login(&t, "genitore", PASSWORD).await.0, StatusCode::OK);
    t.stop_leaving_mail().await;
}

async fn desk_operators_and_admins_keep_their_passwords(backend: Backend) {
    let options = Options {
        tweak: Box::new(|c| {
            c.login.staff.methods = vec!["spid_cie".into()];
            c.login.family.methods = vec!["spid_cie".into()];
        }),
        ..Options::default()
    };
    let Some(t) = TestApp::spawn_with(backend, options).await else {
        return;
    };
    t.add_school().await;
    let desk = account(&t, 2, "segreteria").await;
    let admin = account(&t, 3, "amministratore").await;
    account(&t, 4, "docente").await;
    grant(&t, &desk.user_code, Role::Desk).await;
    grant(&t, &admin.user_code, Role::Admin).await;

    assert_eq!(api_login(&t, "docente", PASSWORD).await.1, "password_not_allowed");
    for login in ["segreteria", "amministratore"] {
        let signed_in = t.sign_in(login, PASSWORD).await;
        let (_, me) = t.me(&signed_in.client).await;
        assert_eq!(me["password_login"], "password", "{login}: {me}");
        let page = t.html_with(&signed_in.client, "/account").await;
        assert!(!page.contains("login-policy-notice"), "{login}: {page}");
        assert!(page.contains("/password/change"), "{login}: {page}");
        // And may change it.
        let new = format!("un cavallo blu salta la staccionata {}", login.len());
        assert_eq!(
            t.change_password(&signed_in, PASSWORD, &new).await,
            StatusCode::NO_CONTENT
        );
        assert_eq!(api_login(&t, login, &new).await.0, StatusCode::OK);
    }
    t.stop().await;
}

/// The messages to `to`, waiting until there are `n`.
async fn messages_to(sink: &SmtpSink, to: &str, n: usize) -> Vec<Received> {
    let deadline = std::time::Instant::now() + MAIL_WAIT;
    loop {
        let mine: Vec<Received> = sink
            .messages()
            .into_iter()
            .filter(|m| m.header("To").as_deref() == Some(to))
            .collect();
        if mine.len() >= n || std::time::Instant::now() > deadline {
            return mine;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An activation link for the account as Varco issued them before its kind
/// was kept to SPID/CIE (written straight to the store).
async fn old_activation_link(t: &TestApp, user_code: &str) -> String {
    let token = varco_domain::token::SecretToken::generate(&mut rand::rngs::OsRng);
    let now = t.app().now();
    let mut tx = t.app().store.begin().await.unwrap();
    let account = tx.account_by_user_code(user_code).await.unwrap().expect("account");
    tx.insert_token(&varco_store::NewToken {
        token_hash: token.hash().as_str(),
        purpose: varco_domain::token::TokenPurpose::Activate,
        account_id: Some(account.id),
        now,
        expires_at: now.plus_secs(86_400),
        recipient_hash: None,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    token.as_str().to_owned()
}

async fn forgot_answer(t: &TestApp, login: &str) -> (StatusCode, String) {
    let r = client()
        .post(t.url("/api/v1/password/forgot"))
        .json(&json!({ "login": login }))
        .send()
        .await
        .expect("request");
    (r.status(), r.text().await.unwrap_or_default())
}

async fn forgot_for_a_spid_cie_only_account_answers_the_same_and_explains(backend: Backend) {
    let Some((t, sink)) = spawn_with_smtp_and(backend, |c| {
        c.rate_limits.recovery_per_minute = 0;
        c.login.family.methods = vec!["spid_cie".into()];
    })
    .await
    else {
        return;
    };
    let family = account(&t, 1, "genitore").await;
    account(&t, 2, "docente").await;
    // A family account created without a password (it is sent the SPID/CIE
    // welcome, not an activation link).
    let pending = t.add_account(3, "attesa@example.it", Some("attesa"), None).await;

    let answers = [
        forgot_answer(&t, "genitore").await,
        forgot_answer(&t, "docente").await,
        forgot_answer(&t, "nessuno@example.it").await,
    ];
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    assert_eq!(answers[0].0, StatusCode::ACCEPTED);

    // The family account's message: how to sign in, no link to set a password.
    let mine = messages_to(&sink, "genitore@example.it", 1).await;
    assert_eq!(mine.len(), 1);
    let text = mine[0].text();
    assert!(text.contains("si accede solo con SPID o CIE"), "{text}");
    assert!(text.contains(&family.user_code), "{text}");
    assert!(text.contains(&format!("{}/login", t.base)), "{text}");
    assert!(!text.contains("token="), "{text}");
    assert!(!text.contains("/password/reset"), "{text}");
    // The staff account still gets its reset link.
    let link = sink.link_to("docente@example.it", "/password/reset", 1).await;
    assert!(!link.is_empty());
    // Audited, and throttled like links.
    for _ in 0..3 {
        forgot_answer(&t, "genitore").await;
    }
    let deadline = std::time::Instant::now() + MAIL_WAIT;
    loop {
        let entries = t.audit_of(&family.user_code).await;
        let explained = entries
            .iter()
            .filter(|e| e.event == "password_reset_requested" && e.detail.as_deref() == Some("password_not_allowed"))
            .count();
        let throttled = entries
            .iter()
            .filter(|e| e.event == "password_reset_requested" && e.detail.as_deref() == Some("throttled"))
            .count();
        if explained == 3 && throttled == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "explained {explained}, throttled {throttled}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(messages_to(&sink, "genitore@example.it", 3).await.len(), 3);

    // An activation link from before the policy (none is mailed now) sets
    // no password either.
    let welcome = messages_to(&sink, "attesa@example.it", 1).await;
    assert_eq!(welcome.len(), 1);
    assert!(!welcome[0].text().contains("token="), "no link");
    let token = old_activation_link(&t, &pending.user_code).await;
    let page = client()
        .get(t.url(&format!("/password/reset?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    let page = page.text().await.unwrap();
    assert!(page.contains("accedi con SPID o CIE"), "{page}");
    assert!(!page.contains("new_password"), "no form: {page}");
    let r = client()
        .post(t.url("/api/v1/password/reset"))
        .json(&json!({ "token": token, "new_password": "una password nuova e lunga davvero" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "password_not_allowed");
    assert!(
        audited(
            &t,
            &pending.user_code,
            "account_activated",
            "failure",
            "password_not_allowed"
        )
        .await
    );
    t.stop().await;
}

async fn no_new_password_once_the_day_has_come(backend: Backend) {
    let Some((t, sink)) = spawn_with_smtp_and(backend, |c| {
        c.rate_limits.recovery_per_minute = 0;
        c.login.staff.password_until = END_DATE.into();
    })
    .await
    else {
        return;
    };
    let staff = account(&t, 2, "docente").await;
    // Ten minutes before the day: a session, and a reset link.
    t.clock.set(Timestamp(END - 600));
    let signed_in = t.sign_in("docente", PASSWORD).await;
    t.forgot("docente").await;
    let token = sink.link_to("docente@example.it", "/password/reset", 1).await;

    // The day comes: the live session and the live link set nothing.
    t.clock.set(Timestamp(END + 60));
    let new = "una password nuova, lunga e mai vista";
    assert_eq!(
        t.change_password(&signed_in, PASSWORD, new).await,
        StatusCode::FORBIDDEN
    );
    assert!(
        audited(
            &t,
            &staff.user_code,
            "password_change",
            "failure",
            "password_not_allowed"
        )
        .await
    );
    assert_eq!(t.reset(&token, new).await, StatusCode::FORBIDDEN);
    assert!(
        audited(
            &t,
            &staff.user_code,
            "password_reset",
            "failure",
            "password_not_allowed"
        )
        .await
    );
    // The old password is still the stored one, and it no longer signs in.
    assert_eq!(api_login(&t, "docente", new).await.1, "invalid_credentials");
    assert_eq!(api_login(&t, "docente", PASSWORD).await.1, "password_not_allowed");

    // Asking again: the message explains SPID/CIE, since when, and has no link.
    t.forgot("docente").await;
    let mine = messages_to(&sink, "docente@example.it", 2).await;
    assert_eq!(mine.len(), 2);
    let text = mine[1].text();
    assert!(
        text.contains(&format!("dal {END_SHOWN} si accede solo con SPID o CIE")),
        "{text}"
    );
    assert!(!text.contains("token="), "{text}");
    t.stop().await;
}

/// How many `Activate` links were issued to an account.
async fn activation_links(t: &TestApp, user_code: &str) -> i64 {
    let mut tx = t.app().store.begin_read().await.unwrap();
    let account = tx.account_by_user_code(user_code).await.unwrap().expect("account");
    let n = tx
        .count_tokens_since(account.id, varco_domain::token::TokenPurpose::Activate, Timestamp(0))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    n
}

async fn a_new_spid_cie_only_account_is_welcomed_without_a_link(backend: Backend) {
    let Some((t, sink)) = spawn_with_smtp_and(backend, |c| {
        c.login.family.methods = vec!["spid_cie".into()];
        c.login.staff.password_until = END_DATE.into();
    })
    .await
    else {
        return;
    };
    // Added by an operator: a family account (SPID/CIE only) gets the
    // welcome, a staff account (password until a later day) its link.
    let family = t.add_account(1, "famiglia@example.it", None, None).await;
    let staff = t.add_account(2, "docente@example.it", None, None).await;
    let mine = messages_to(&sink, "famiglia@example.it", 1).await;
    assert_eq!(mine.len(), 1);
    let text = mine[0].text();
    assert!(text.contains("si accede solo con SPID o CIE"), "{text}");
    assert!(text.contains(&family.user_code), "{text}");
    assert!(text.contains(&format!("{}/login", t.base)), "{text}");
    assert!(!text.contains("token=") && !text.contains("/password/reset"), "{text}");
    assert_eq!(activation_links(&t, &family.user_code).await, 0, "no token issued");
    assert!(
        !sink
            .link_to("docente@example.it", "/password/reset", 1)
            .await
            .is_empty()
    );
    assert_eq!(activation_links(&t, &staff.user_code).await, 1);
    assert!(
        audited(
            &t,
            &family.user_code,
            "account_created",
            "success",
            "pending_activation"
        )
        .await
    );

    // A roster: the same, and the report tells them apart.
    let csv = format!(
        "tipo;nome;cognome;codice_fiscale;email\n\
         famiglia;Anna;Verdi;{};anna.verdi@example.it\n\
         personale;Bruno;Neri;{};bruno.neri@example.it\n",
        crate::harness::tax_code(11),
        crate::harness::tax_code(12),
    );
    let roster = varco_app::import::read_roster(csv.as_bytes(), None).expect("roster");
    assert!(roster.errors().is_empty(), "{:?}", roster.errors());
    let report = varco_app::import::apply(
        t.app(),
        &Actor::Cli,
        &RequestContext::default(),
        SCHOOL,
        roster,
        varco_app::import::ImportOptions::default(),
        |_| {},
    )
    .await
    .expect("imported");
    assert_eq!(
        (report.created, report.activation_links, report.spid_cie_welcomes),
        (2, 1, 1)
    );
    let welcome = messages_to(&sink, "anna.verdi@example.it", 1).await;
    assert_eq!(welcome.len(), 1);
    assert!(welcome[0].text().contains("si accede solo con SPID o CIE"));
    assert!(!welcome[0].text().contains("token="));
    assert!(
        !sink
            .link_to("bruno.neri@example.it", "/password/reset", 1)
            .await
            .is_empty()
    );
    t.stop().await;
}

/// Whether the outbox ever held a message to `to`.
async fn queued_to(t: &TestApp, to: &str) -> bool {
    varco_app::outbox::list(t.app(), false, 1000)
        .await
        .unwrap()
        .iter()
        .any(|m| m.recipient == to)
}

async fn no_expiry_reminder_for_a_password_that_may_not_be_used(backend: Backend) {
    let Some((t, sink)) = spawn_with_smtp_and(backend, |c| c.login.staff.methods = vec!["spid_cie".into()]).await
    else {
        return;
    };
    // Two staff passwords set at T0; staff passwords expire after 180 days.
    let kept_out = account(&t, 2, "docente").await;
    let desk = account(&t, 4, "segreteria").await;
    grant(&t, &desk.user_code, Role::Desk).await;
    // Fourteen days before they expire: only the desk operator, who keeps
    // a password whatever the policy, is reminded.
    t.clock.set(Timestamp(crate::harness::T0 + (180 - 14) * 86_400 + 3600));
    let report = varco_app::jobs::expiry_reminders(t.app()).await.unwrap();
    assert_eq!((report.examined, report.sent), (2, 1), "{report:?}");
    let to_desk = messages_to(&sink, "segreteria@example.it", 1).await;
    assert_eq!(to_desk.len(), 1);
    assert!(to_desk[0].text().contains("/password/change"));
    assert!(!queued_to(&t, "docente@example.it").await, "nothing queued for it");
    assert!(
        t.audit_of(&kept_out.user_code)
            .await
            .iter()
            .all(|e| e.event != "password_expiry_reminder"),
        "nothing recorded for the SPID/CIE-only account"
    );
    assert!(
        t.audit_of(&desk.user_code)
            .await
            .iter()
            .any(|e| e.event == "password_expiry_reminder")
    );
    // Again later: still nothing for it.
    t.clock.set(Timestamp(crate::harness::T0 + (180 - 1) * 86_400 + 3600));
    assert_eq!(varco_app::jobs::expiry_reminders(t.app()).await.unwrap().sent, 1);
    assert!(!queued_to(&t, "docente@example.it").await, "nothing queued for it");
    t.stop().await;
}
