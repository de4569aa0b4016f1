//! Self-service recovery, on both engines, with mail delivered to a real
//! SMTP server: forgot password, reset links, activation, throttling, and the
//! uniform answer for existing and unknown logins.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use varco_app::{Actor, RequestContext};

use crate::harness::{Backend, PASSWORD, SCHOOL, TestApp, both_backends, client};
use crate::smtp::Received;

both_backends!(
    forgot_answers_the_same_whatever_the_login,
    reset_by_emailed_link_end_to_end,
    shared_email_gets_one_message_listing_each_account,
    a_link_is_single_use_even_in_parallel,
    bad_tokens_get_a_clear_answer,
    forgot_is_throttled_per_account_and_per_ip,
    activation_links_for_accounts_without_password,
);

async fn forgot(c: &reqwest::Client, t: &TestApp, login: &str) -> reqwest::Response {
    c.post(t.url("/api/v1/password/forgot"))
        .json(&serde_json::json!({ "login": login }))
        .send()
        .await
        .unwrap()
}

async fn reset(c: &reqwest::Client, t: &TestApp, token: &str, new: &str) -> reqwest::Response {
    c.post(t.url("/api/v1/password/reset"))
        .json(&serde_json::json!({ "token": token, "new_password": new }))
        .send()
        .await
        .unwrap()
}

/// Every `/password/reset?token=…` link in a message.
fn links(m: &Received) -> Vec<String> {
    let text = m.text();
    let mut found = Vec::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("/password/reset?token=") {
        let start = rest[..i].rfind("http").unwrap_or(i);
        let end = rest[i..]
            .find(|c: char| c.is_whitespace() || c == '"' || c == '<')
            .map(|e| i + e)
            .unwrap_or(rest.len());
        let link = rest[start..end].to_owned();
        if !found.contains(&link) {
            found.push(link);
        }
        rest = &rest[end..];
    }
    found
}

fn token_of(link: &str) -> String {
    link.split("token=").nth(1).unwrap().to_owned()
}

async fn forgot_answers_the_same_whatever_the_login(backend: Backend) {
    let Some((t, sink)) =
        crate::kit::spawn_with_smtp_and(backend, move |c| c.rate_limits.recovery_per_minute = 0).await
    else {
        return;
    };
    let active = t
        .add_account(1, "attivo@example.it", Some("attivo"), Some(PASSWORD))
        .await;
    let disabled = t
        .add_account(3, "disattivo@example.it", Some("disattivo"), Some(PASSWORD))
        .await;
    varco_app::accounts::set_enabled(
        t.app(),
        &Actor::Cli,
        &RequestContext::default(),
        &disabled.user_code,
        false,
    )
    .await
    .unwrap();
    let no_email = varco_app::accounts::add(
        t.app(),
        &Actor::Cli,
        &RequestContext::default(),
        &varco_app::accounts::AddAccount {
            school_code: SCHOOL.into(),
            kind: varco_domain::account::AccountKind::Family,
            first_name: "Senza".into(),
            last_name: "Email".into(),
            tax_code: crate::harness::tax_code(9),
            email: None,
            username: Some("senzaemail".into()),
        },
        None,
    )
    .await
    .unwrap();
    let c = client();
    let mut answers = Vec::new();
    for login in [
        active.user_code.as_str(),
        "nessuno",
        "nessuno@example.it",
        disabled.user_code.as_str(),
        no_email.user_code.as_str(),
        "attivo@example.it",
    ] {
        let r = forgot(&c, &t, login).await;
        answers.push((
            r.status(),
            r.headers().get("content-type").cloned(),
            r.text().await.unwrap(),
        ));
    }
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    assert_eq!(answers[0].0, StatusCode::ACCEPTED);
    // Only the active account's address receives links (two requests: two messages).
    let messages = sink.wait_for(2, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let messages = if messages.len() < sink.messages().len() {
        sink.messages()
    } else {
        messages
    };
    assert_eq!(
        messages.len(),
        2,
        "no message for unknown, disabled or address-less accounts"
    );
    assert!(
        messages
            .iter()
            .all(|m| m.header("To").as_deref() == Some("attivo@example.it"))
    );
    // The request itself changed nothing: the old password still works.
    assert_eq!(t.login("attivo", PASSWORD).await.status(), 200);
    t.stop().await;
}

async fn reset_by_emailed_link_end_to_end(backend: Backend) {
    let Some((t, sink)) =
        crate::kit::spawn_with_smtp_and(backend, move |c| c.rate_limits.recovery_per_minute = 0).await
    else {
        return;
    };
    let a = t
        .add_account(1, "reset@example.it", Some("reimposta"), Some(PASSWORD))
        .await;
    // Lock the account and keep a session open elsewhere.
    let elsewhere = client();
    assert_eq!(
        elsewhere
            .post(t.url("/api/v1/login"))
            .json(&serde_json::json!({ "login": "reimposta", "password": PASSWORD }))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    for _ in 0..t.app().settings.lockout.lock_after {
        t.login("reimposta", "wrong wrong wrong").await;
        t.clock.advance(61);
    }
    assert_eq!(t.login("reimposta", PASSWORD).await.status(), 429, "locked");
    // A forged Host header does not change the link.
    let c = client();
    let r = c
        .post(t.url("/api/v1/password/forgot"))
        .header("host", "evil.example")
        .json(&serde_json::json!({ "login": a.user_code }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let messages = sink.wait_for(1, Duration::from_secs(20)).await;
    let message = messages.last().expect("a reset message");
    assert_eq!(message.header("To").as_deref(), Some("reset@example.it"));
    let found = links(message);
    assert_eq!(found.len(), 1, "{}", message.text());
    assert!(
        found[0].starts_with(&format!("{}/password/reset?token=", t.base)),
        "{}",
        found[0]
    );
    assert!(
        !message.header("Subject").unwrap().contains(&token_of(&found[0])),
        "no token in the subject"
    );
    assert!(message.text().contains(&a.user_code));
    let token = token_of(&found[0]);
    // The page the link opens.
    let r = c.get(&found[0]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.text().await.unwrap().contains("Scegli una nuova password"));
    // The policy applies; a refusal does not spend the link.
    let r = reset(&c, &t, &token, "short").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "password_policy");
    let new_password = "lanterna biscotto oceano 2031";
    assert_eq!(
        reset(&c, &t, &token, new_password).await.status(),
        StatusCode::NO_CONTENT
    );
    // No automatic login, all sessions ended, lock cleared, old password dead.
    assert_eq!(c.get(t.url("/api/v1/me")).send().await.unwrap().status(), 401);
    assert_eq!(elsewhere.get(t.url("/api/v1/me")).send().await.unwrap().status(), 401);
    assert_eq!(t.login("reimposta", PASSWORD).await.status(), 401);
    assert_eq!(t.login("reimposta", new_password).await.status(), 200);
    let r = reset(&c, &t, &token, "another long passphrase 77").await;
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "invalid_token", "single use");
    // A confirmation without any secret.
    let messages = sink.wait_for(2, Duration::from_secs(20)).await;
    let confirmation = &messages[1];
    assert!(!confirmation.raw.contains(new_password) && !confirmation.raw.contains(&token));
    let audit = varco_app::audit::list(t.app(), Some(&a.user_code), 50).await.unwrap();
    assert!(audit.iter().any(|e| e.event == "password_reset"));
    t.stop().await;
}

async fn shared_email_gets_one_message_listing_each_account(backend: Backend) {
    let Some((t, sink)) =
        crate::kit::spawn_with_smtp_and(backend, move |c| c.rate_limits.recovery_per_minute = 0).await
    else {
        return;
    };
    let first = t
        .add_account(1, "famiglia@example.it", Some("mamma"), Some(PASSWORD))
        .await;
    let second = t
        .add_account(3, "Famiglia@Example.it", Some("papa"), Some(PASSWORD))
        .await;
    assert_eq!(forgot(&client(), &t, "famiglia@example.it").await.status(), 202);
    let messages = sink.wait_for(1, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 1, "one message for the shared address");
    let m = &messages[0];
    let text = m.text();
    assert!(text.contains(&first.user_code) && text.contains(&second.user_code));
    let found = links(m);
    assert_eq!(found.len(), 2);
    // Each link resets its own account.
    let c = client();
    assert_eq!(
        reset(&c, &t, &token_of(&found[0]), "prima password nuova di zecca")
            .await
            .status(),
        204
    );
    assert_eq!(
        reset(&c, &t, &token_of(&found[1]), "seconda password nuova di zecca")
            .await
            .status(),
        204
    );
    let logged = |login: &'static str, password: &'static str| {
        let t = &t;
        async move {
            let r = t.login(login, password).await;
            if r.status() != 200 {
                return None;
            }
            Some(
                r.json::<Value>().await.unwrap()["account"]["user_code"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        }
    };
    // Links are listed in account order: each set the password of its own account.
    assert_eq!(
        logged("mamma", "prima password nuova di zecca").await,
        Some(first.user_code.clone())
    );
    assert_eq!(
        logged("papa", "seconda password nuova di zecca").await,
        Some(second.user_code.clone())
    );
    t.stop().await;
}

async fn a_link_is_single_use_even_in_parallel(backend: Backend) {
    let Some((t, sink)) =
        crate::kit::spawn_with_smtp_and(backend, move |c| c.rate_limits.recovery_per_minute = 0).await
    else {
        return;
    };
    t.add_account(1, "parallelo@example.it", Some("parallelo"), Some(PASSWORD))
        .await;
    assert_eq!(forgot(&client(), &t, "parallelo").await.status(), 202);
    let messages = sink.wait_for(1, Duration::from_secs(20)).await;
    let token = token_of(&links(&messages[0])[0]);
    let (c1, c2) = (client(), client());
    let (r1, r2) = tokio::join!(
        reset(&c1, &t, &token, "primo tentativo contemporaneo 11"),
        reset(&c2, &t, &token, "secondo tentativo contemporaneo 22")
    );
    let mut statuses = [r1.status().as_u16(), r2.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [204, 400], "exactly one use succeeds");
    t.stop().await;
}

async fn bad_tokens_get_a_clear_answer(backend: Backend) {
    let Some((t, sink)) =
        crate::kit::spawn_with_smtp_and(backend, move |c| c.rate_limits.recovery_per_minute = 0).await
    else {
        return;
    };
    t.add_account(1, "token@example.it", Some("gettone"), Some(PASSWORD))
        .await;
    let setup = varco_app::setup::issue_setup_token(t.app()).await.unwrap();
    assert_eq!(forgot(&client(), &t, "gettone").await.status(), 202);
    let messages = sink.wait_for(1, Duration::from_secs(20)).await;
    let good = token_of(&links(&messages[0])[0]);
    let c = client();
    for bad in [
        "abc".to_owned(),
        good[..42].to_owned(),
        format!("{good}x"),
        setup.as_str().to_owned(),
        "A".repeat(43),
        String::new(),
    ] {
        let r = reset(&c, &t, &bad, "una password lunga abbastanza").await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad:?}");
        assert_eq!(r.json::<Value>().await.unwrap()["code"], "invalid_token");
        let page = c
            .get(t.url(&format!("/password/reset?token={bad}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::BAD_REQUEST);
        assert!(page.text().await.unwrap().contains("Chiedi un nuovo collegamento"));
    }
    // Expired: 30 minutes later the good link no longer works.
    t.clock.advance(31 * 60);
    let r = reset(&c, &t, &good, "una password lunga abbastanza").await;
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "invalid_token");
    assert_eq!(t.login("gettone", PASSWORD).await.status(), 200, "nothing changed");
    t.stop().await;
}

async fn forgot_is_throttled_per_account_and_per_ip(backend: Backend) {
    let Some((t, sink)) =
        crate::kit::spawn_with_smtp_and(backend, move |c| c.rate_limits.recovery_per_minute = 0).await
    else {
        return;
    };
    t.add_account(1, "flood@example.it", Some("inondato"), Some(PASSWORD))
        .await;
    for _ in 0..6 {
        assert_eq!(forgot(&client(), &t, "inondato").await.status(), 202);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let messages = sink.wait_for(3, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 3, "at most 3 links an hour to one account");
    assert!(!messages.is_empty());
    t.stop().await;
    // Per IP.
    let Some((t, _sink)) =
        crate::kit::spawn_with_smtp_and(backend, move |c| c.rate_limits.recovery_per_minute = 2).await
    else {
        return;
    };
    assert_eq!(forgot(&client(), &t, "chiunque").await.status(), 202);
    assert_eq!(forgot(&client(), &t, "chiunque").await.status(), 202);
    let r = forgot(&client(), &t, "chiunque").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    t.stop().await;
}

async fn activation_links_for_accounts_without_password(backend: Backend) {
    let Some((t, sink)) =
        crate::kit::spawn_with_smtp_and(backend, move |c| c.rate_limits.recovery_per_minute = 0).await
    else {
        return;
    };
    let a = t.add_account(1, "nuovo@example.it", Some("nuovo"), None).await;
    let messages = sink.wait_for(1, Duration::from_secs(20)).await;
    let m = &messages[0];
    assert_eq!(m.header("To").as_deref(), Some("nuovo@example.it"));
    let text = m.text();
    assert!(text.contains(&a.user_code) && text.contains("Istituto Comprensivo Via Roma"));
    let link = links(m).pop().expect("an activation link");
    let c = client();
    let page = c.get(&link).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Attiva il tuo account"));
    assert_eq!(
        t.login("nuovo", "una password qualsiasi").await.status(),
        401,
        "not active yet"
    );
    assert_eq!(
        reset(&c, &t, &token_of(&link), "pioggia lampone treno 2026")
            .await
            .status(),
        204
    );
    let view = varco_app::accounts::show(t.app(), &a.user_code).await.unwrap();
    assert_eq!(view.status, varco_domain::account::AccountStatus::Active);
    assert!(view.email_verified, "following the link verified the address");
    assert_eq!(t.login("nuovo", "pioggia lampone treno 2026").await.status(), 200);
    // Resending: only for accounts still waiting.
    let err =
        varco_app::recovery::resend_activation(t.app(), &Actor::Cli, &RequestContext::default(), &a.user_code).await;
    assert!(err.is_err());
    let b = t.add_account(3, "attesa@example.it", Some("inattesa"), None).await;
    // The first link is in the mailbox before the resend, so the two arrive
    // in the order they were sent (the first account's own mail, such as its
    // PIN, may still be arriving meanwhile).
    assert_eq!(
        sink.wait_for_to("attesa@example.it", 1, Duration::from_secs(20))
            .await
            .len(),
        1
    );
    varco_app::recovery::resend_activation(t.app(), &Actor::Cli, &RequestContext::default(), &b.user_code)
        .await
        .unwrap();
    let to_b = sink.wait_for_to("attesa@example.it", 2, Duration::from_secs(20)).await;
    assert_eq!(to_b.len(), 2);
    // The first link was spent by the newer one.
    let first = token_of(&links(&to_b[0])[0]);
    assert_eq!(
        reset(&c, &t, &first, "vecchio collegamento non vale").await.status(),
        400
    );
    let second = token_of(&links(&to_b[1])[0]);
    assert_eq!(
        reset(&c, &t, &second, "nuovo collegamento vale sempre").await.status(),
        204
    );
    t.stop().await;
}
