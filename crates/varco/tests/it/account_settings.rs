//! Account settings, on both engines, with mail delivered to a real SMTP
//! server: changing the email address (confirmed by the new address,
//! undoable from the old one) and seeing and ending one's own sessions.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use varco_app::{Actor, RequestContext};

use crate::harness::{Backend, PASSWORD, TestApp, both_backends, client};
use crate::kit::{input_value, token_in};
use crate::smtp::Received;

both_backends!(
    email_change_confirmed_by_the_new_address_and_undone_from_the_old,
    email_links_are_single_use_and_bound_to_their_purpose,
    parallel_confirmations_of_one_link_succeed_once,
    sessions_are_listed_and_ended_by_their_owner,
);

const OLD: &str = "vecchio@example.it";
const NEW: &str = "nuovo@example.it";
const FIREFOX: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0";

/// The token of the first `path?token=…` link in a message.
async fn login_with(c: &reqwest::Client, t: &TestApp, login: &str) {
    let r = c
        .post(t.url("/api/v1/login"))
        .json(&serde_json::json!({ "login": login, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "login {login}");
}

async fn me(c: &reqwest::Client, t: &TestApp) -> (StatusCode, Value) {
    let r = c.get(t.url("/api/v1/me")).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The session's CSRF token, read from a page of the signed-in user.
async fn session_csrf(c: &reqwest::Client, t: &TestApp, page: &str) -> String {
    let r = c.get(t.url(page)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{page}");
    input_value(&r.text().await.unwrap(), "csrf")
}

async fn request_change(
    c: &reqwest::Client,
    t: &TestApp,
    csrf: &str,
    new: &str,
    again: &str,
    password: &str,
) -> reqwest::Response {
    c.post(t.url("/account/email"))
        .form(&[
            ("csrf", csrf),
            ("new_email", new),
            ("new_email_confirm", again),
            ("current_password", password),
        ])
        .send()
        .await
        .unwrap()
}

/// Opens a confirm or undo link page and, if it shows the button, presses it.
async fn press(c: &reqwest::Client, t: &TestApp, path: &str, token: &str) -> (StatusCode, StatusCode, String) {
    let page = c.get(t.url(&format!("{path}?token={token}"))).send().await.unwrap();
    let page_status = page.status();
    let html = page.text().await.unwrap();
    let csrf = if page_status == 200 {
        input_value(&html, "csrf")
    } else {
        // No button on the page: post anyway, with a valid anonymous form token.
        let login = t.html_with(c, "/login").await;
        input_value(&login, "csrf")
    };
    let r = c
        .post(t.url(path))
        .form(&[("csrf", csrf.as_str()), ("token", token)])
        .send()
        .await
        .unwrap();
    let status = r.status();
    (page_status, status, r.text().await.unwrap())
}

/// The one message to `address` with a `path` link.
fn to<'a>(messages: &'a [Received], address: &str, path: &str) -> &'a Received {
    let mut found = messages
        .iter()
        .filter(|m| m.header("To").as_deref() == Some(address) && m.text().contains(&format!("{path}?token=")));
    let message = found.next().unwrap_or_else(|| panic!("no {path} link to {address}"));
    assert!(found.next().is_none(), "more than one {path} link to {address}");
    message
}

async fn events(t: &TestApp, user_code: &str) -> Vec<(String, String, Option<String>)> {
    varco_app::audit::list(t.app(), Some(user_code), 200)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.event, e.outcome, e.detail))
        .collect()
}

async fn email_change_confirmed_by_the_new_address_and_undone_from_the_old(backend: Backend) {
    let Some((t, sink)) = crate::kit::spawn_with_smtp(backend).await else {
        return;
    };
    let a = t.add_account(1, OLD, Some("cambio"), Some(PASSWORD)).await;
    let before = a.email_verified;
    login_with(&t.client, &t, "cambio").await;
    let phone = client();
    login_with(&phone, &t, "cambio").await;

    // The form lives on /account/email, linked from /account.
    let account = t.html("/account").await;
    assert!(account.contains("href=\"/account/email\"") && account.contains("href=\"/account/sessions\""));
    let csrf = session_csrf(&t.client, &t, "/account/email").await;

    // Refusals: wrong password (counted and audited), typos, same address, bad CSRF.
    let r = request_change(&t.client, &t, &csrf, NEW, NEW, "not the password at all").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("La password attuale non è corretta"));
    let r = request_change(&t.client, &t, &csrf, NEW, "nuovo@example.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("I due indirizzi non coincidono"));
    let r = request_change(
        &t.client,
        &t,
        &csrf,
        "nuovo-at-example.it",
        "nuovo-at-example.it",
        PASSWORD,
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = request_change(&t.client, &t, &csrf, OLD, OLD, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("uguale a quello attuale"));
    let r = request_change(&t.client, &t, "wrong", NEW, NEW, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let audit = events(&t, &a.user_code).await;
    assert!(
        audit.iter().any(|(e, o, d)| e == "email_change_requested"
            && o == "failure"
            && d.as_deref() == Some("wrong_current_password")),
        "{audit:?}"
    );

    // The request: a link to the NEW address; nothing changes yet.
    let r = request_change(&t.client, &t, &csrf, NEW, NEW, PASSWORD).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains(NEW));
    let messages = sink.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(messages.len(), 2, "only the valid request sends mail");
    let confirm = to(&messages, NEW, "/account/email/confirm");
    let token = token_in(confirm, "/account/email/confirm");
    // The CURRENT address hears of the request at once: masked new address,
    // when and from where, what to do, and no link that changes anything.
    let requested = messages
        .iter()
        .find(|m| m.header("To").as_deref() == Some(OLD))
        .expect("a notice of the request to the current address");
    let text = requested.text();
    assert!(text.contains("n•••o@example.it"), "{text}");
    assert!(!text.contains(NEW), "the notice masks the new address");
    assert!(
        text.contains("Per ora non è cambiato nulla") && text.contains("127.0.0.1"),
        "{text}"
    );
    assert!(text.contains("/password/forgot") && text.contains("/help"), "{text}");
    assert!(
        !text.contains("token=") && !text.contains("/account/email/confirm"),
        "no secret, no confirmation link: {text}"
    );
    let (_, body) = me(&t.client, &t).await;
    assert_eq!(body["email"], OLD, "the new address is not used before it is confirmed");

    // Opening the link changes nothing (mail scanners prefetch links)...
    let browser = client();
    let r = browser
        .get(t.url(&format!("/account/email/confirm?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    let html = r.text().await.unwrap();
    assert!(html.contains("n•••o@example.it") && html.contains("<button"));
    assert_eq!(me(&t.client, &t).await.1["email"], OLD);
    // ...pressing its button confirms, without being signed in.
    let (page, status, html) = press(&browser, &t, "/account/email/confirm", &token).await;
    assert_eq!((page, status), (StatusCode::OK, StatusCode::OK), "{html}");
    let (status, body) = me(&t.client, &t).await;
    assert_eq!(status, 200);
    assert_eq!(body["email"], NEW);
    assert_eq!(body["email_verified"], true);

    // The old address is told, with the new one masked and an undo link.
    let messages = sink.wait_for(3, Duration::from_secs(20)).await;
    assert_eq!(messages.len(), 3);
    let notice = to(&messages, OLD, "/account/email/undo");
    let text = notice.text();
    assert!(text.contains("n•••o@example.it"), "{text}");
    assert!(!text.contains(NEW), "the notice masks the new address");
    let undo = token_in(notice, "/account/email/undo");

    // Undo from the old mailbox: old address back, every session ended, and
    // the password (known to whoever changed the address) no longer works:
    // a reset link goes to the restored address.
    let (page, status, html) = press(&browser, &t, "/account/email/undo", &undo).await;
    assert_eq!((page, status), (StatusCode::OK, StatusCode::OK), "{html}");
    assert_eq!(me(&t.client, &t).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&phone, &t).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(t.login("cambio", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    let messages = sink.wait_for(4, Duration::from_secs(20)).await;
    let reset = to(&messages, OLD, "/password/reset");
    let token = token_in(reset, "/password/reset");
    let fresh = client();
    let r = fresh
        .post(t.url("/api/v1/password/reset"))
        .json(&serde_json::json!({ "token": token, "new_password": "una nuova password tutta mia 42" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = fresh
        .post(t.url("/api/v1/login"))
        .json(&serde_json::json!({ "login": "cambio", "password": "una nuova password tutta mia 42" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, body) = me(&fresh, &t).await;
    assert_eq!(body["email"], OLD);
    // The reset link reached the restored address: it is verified now.
    let _ = before;
    assert_eq!(body["email_verified"], true);
    // An undo link works once.
    let (page, status, _) = press(&browser, &t, "/account/email/undo", &undo).await;
    assert_eq!((page, status), (StatusCode::BAD_REQUEST, StatusCode::BAD_REQUEST));

    let audit = events(&t, &a.user_code).await;
    for name in ["email_change_requested", "email_changed", "email_change_undone"] {
        assert!(
            audit.iter().any(|(e, o, _)| e == name && o == "success"),
            "{name} in {audit:?}"
        );
    }
    assert!(audit.iter().any(|(e, _, d)| e == "email_change_undone"
        && d.as_deref() == Some("sessions_ended=2 later_changes_undone=0 password_removed=true reset_link_sent=true")));
    t.stop().await;
}

async fn email_links_are_single_use_and_bound_to_their_purpose(backend: Backend) {
    let Some((t, sink)) = crate::kit::spawn_with_smtp(backend).await else {
        return;
    };
    t.add_account(3, OLD, Some("link"), Some(PASSWORD)).await;
    login_with(&t.client, &t, "link").await;
    let csrf = session_csrf(&t.client, &t, "/account/email").await;

    // A newer request kills the older link.
    let r = request_change(&t.client, &t, &csrf, "primo@example.it", "primo@example.it", PASSWORD).await;
    assert_eq!(r.status(), 200);
    let r = request_change(&t.client, &t, &csrf, NEW, NEW, PASSWORD).await;
    assert_eq!(r.status(), 200);
    // Each request: a link to the new address and a notice to the current one.
    let messages = sink.wait_for(4, Duration::from_secs(20)).await;
    assert_eq!(messages.len(), 4);
    let first = messages
        .iter()
        .find(|m| m.header("To").as_deref() == Some("primo@example.it"))
        .unwrap();
    let second = messages
        .iter()
        .find(|m| m.header("To").as_deref() == Some(NEW))
        .unwrap();
    let old_link = token_in(first, "/account/email/confirm");
    let token = token_in(second, "/account/email/confirm");
    let browser = client();
    let (page, status, html) = press(&browser, &t, "/account/email/confirm", &old_link).await;
    assert_eq!((page, status), (StatusCode::BAD_REQUEST, StatusCode::BAD_REQUEST));
    assert!(html.contains("href=\"/account/email\""), "offers to ask again: {html}");

    // Unknown and malformed tokens.
    let unknown = "A".repeat(43);
    for bad in [unknown.as_str(), "short", ""] {
        let r = browser
            .get(t.url(&format!("/account/email/confirm?token={bad}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad:?}");
    }

    // The confirm link is not an undo link, and works once.
    let (page, status, _) = press(&browser, &t, "/account/email/undo", &token).await;
    assert_eq!((page, status), (StatusCode::BAD_REQUEST, StatusCode::BAD_REQUEST));
    let (page, status, _) = press(&browser, &t, "/account/email/confirm", &token).await;
    assert_eq!((page, status), (StatusCode::OK, StatusCode::OK));
    let (page, status, _) = press(&browser, &t, "/account/email/confirm", &token).await;
    assert_eq!((page, status), (StatusCode::BAD_REQUEST, StatusCode::BAD_REQUEST));
    assert_eq!(me(&t.client, &t).await.1["email"], NEW);

    // The undo link is not a confirm link.
    let messages = sink.wait_for(5, Duration::from_secs(20)).await;
    let undo = token_in(to(&messages, OLD, "/account/email/undo"), "/account/email/undo");
    let (page, status, _) = press(&browser, &t, "/account/email/confirm", &undo).await;
    assert_eq!((page, status), (StatusCode::BAD_REQUEST, StatusCode::BAD_REQUEST));
    assert_eq!(me(&t.client, &t).await.1["email"], NEW);

    // Expired after 7 days.
    t.clock.advance(7 * 86_400 + 1);
    let (page, status, html) = press(&browser, &t, "/account/email/undo", &undo).await;
    assert_eq!((page, status), (StatusCode::BAD_REQUEST, StatusCode::BAD_REQUEST));
    assert!(html.contains("Collegamento non valido"));
    t.stop().await;
}

async fn parallel_confirmations_of_one_link_succeed_once(backend: Backend) {
    let Some((t, sink)) = crate::kit::spawn_with_smtp(backend).await else {
        return;
    };
    let a = t.add_account(5, OLD, Some("parallelo"), Some(PASSWORD)).await;
    login_with(&t.client, &t, "parallelo").await;
    let csrf = session_csrf(&t.client, &t, "/account/email").await;
    let r = request_change(&t.client, &t, &csrf, NEW, NEW, PASSWORD).await;
    assert_eq!(r.status(), 200);
    let messages = sink.wait_for(2, Duration::from_secs(20)).await;
    let token = token_in(to(&messages, NEW, "/account/email/confirm"), "/account/email/confirm");
    let browser = client();
    let page = browser
        .get(t.url(&format!("/account/email/confirm?token={token}")))
        .send()
        .await
        .unwrap();
    let form_csrf = input_value(&page.text().await.unwrap(), "csrf");
    let post = || {
        browser
            .post(t.url("/account/email/confirm"))
            .form(&[("csrf", form_csrf.as_str()), ("token", token.as_str())])
            .send()
    };
    let (first, second) = tokio::join!(post(), post());
    let mut statuses = [first.unwrap().status(), second.unwrap().status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::BAD_REQUEST]);
    assert_eq!(me(&t.client, &t).await.1["email"], NEW);
    let changed = events(&t, &a.user_code)
        .await
        .into_iter()
        .filter(|(e, _, _)| e == "email_changed")
        .count();
    assert_eq!(changed, 1);
    let messages = sink.wait_for(3, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let notices = sink
        .messages()
        .iter()
        .filter(|m| m.header("To").as_deref() == Some(OLD) && m.text().contains("/account/email/undo?token="))
        .count();
    assert_eq!((messages.len(), notices), (3, 1), "one change notice only");
    t.stop().await;
}

fn firefox_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(FIREFOX)
        .build()
        .unwrap()
}

/// The ids of the sessions listed on a sessions page.
fn listed(html: &str) -> Vec<i64> {
    html.split("data-session=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
        .collect()
}

async fn end(c: &reqwest::Client, t: &TestApp, path: &str, csrf: &str) -> reqwest::Response {
    c.post(t.url(path)).form(&[("csrf", csrf)]).send().await.unwrap()
}

async fn sessions_are_listed_and_ended_by_their_owner(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    t.add_school().await;
    let a = t.add_account(7, OLD, Some("sessioni"), Some(PASSWORD)).await;
    t.add_account(9, "altro@example.it", Some("altro"), Some(PASSWORD))
        .await;
    login_with(&t.client, &t, "sessioni").await;
    let laptop = firefox_client();
    login_with(&laptop, &t, "sessioni").await;

    // Two sessions: this one marked, the other with its device and an end button.
    let r = t.client.get(t.url("/account/sessions")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let ids = listed(&html);
    assert_eq!(ids.len(), 2, "{html}");
    assert!(html.contains("Questo dispositivo"));
    assert!(html.contains("Firefox · Windows") && html.contains("127.0.0.1"));
    let csrf = input_value(&html, "csrf");
    let laptop_html = t.html_with(&laptop, "/account/sessions").await;
    let laptop_id = listed(&laptop_html)[0];
    assert!(ids.contains(&laptop_id));
    assert!(html.contains(&format!("action=\"/account/sessions/{laptop_id}/end\"")));
    let own_id = *ids.iter().find(|id| **id != laptop_id).unwrap();
    assert!(!html.contains(&format!("action=\"/account/sessions/{own_id}/end\"")));

    // Wrong token or foreign origin: refused, nothing ended.
    let path = format!("/account/sessions/{laptop_id}/end");
    assert_eq!(end(&t.client, &t, &path, "wrong").await.status(), StatusCode::FORBIDDEN);
    let r = t
        .client
        .post(t.url(&path))
        .header("origin", "http://evil.example")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(me(&laptop, &t).await.0, 200);

    // Ending the other session: its cookie stops working, this one goes on.
    let r = end(&t.client, &t, &path, &csrf).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/account/sessions?ended=1");
    assert_eq!(me(&laptop, &t).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&t.client, &t).await.0, 200);
    let html = t.html("/account/sessions?ended=1").await;
    assert_eq!(listed(&html), vec![own_id]);
    assert!(html.contains("La sessione è stata chiusa"));
    // Ending it again, or the current one, or nonsense: not found.
    for p in [
        path.clone(),
        format!("/account/sessions/{own_id}/end"),
        "/account/sessions/abc/end".into(),
    ] {
        assert_eq!(
            end(&t.client, &t, &p, &csrf).await.status(),
            StatusCode::NOT_FOUND,
            "{p}"
        );
    }

    // A session of another account is not found, and survives.
    let other = client();
    login_with(&other, &t, "altro").await;
    let other_html = t.html_with(&other, "/account/sessions").await;
    let other_id = listed(&other_html)[0];
    let r = end(&t.client, &t, &format!("/account/sessions/{other_id}/end"), &csrf).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(me(&other, &t).await.0, 200);

    // End all the others.
    let (c3, c4) = (client(), client());
    login_with(&c3, &t, "sessioni").await;
    login_with(&c4, &t, "sessioni").await;
    let r = end(&t.client, &t, "/account/sessions/end-others", &csrf).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/account/sessions?ended_others=2");
    assert_eq!(me(&c3, &t).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&c4, &t).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&t.client, &t).await.0, 200);
    assert_eq!(me(&other, &t).await.0, 200, "other accounts are untouched");
    let html = t.html("/account/sessions?ended_others=2").await;
    assert!(html.contains("Sono state chiuse 2 sessioni"));
    let audit = events(&t, &a.user_code).await;
    let expected_end = format!("session_id={laptop_id}");
    assert!(
        audit
            .iter()
            .any(|(e, _, d)| e == "session_ended" && d.as_deref() == Some(expected_end.as_str()))
    );
    assert!(
        audit
            .iter()
            .any(|(e, _, d)| e == "other_sessions_ended" && d.as_deref() == Some("count=2"))
    );

    // A session restricted to changing the password is sent there.
    varco_app::password::require_change(t.app(), &Actor::Cli, &RequestContext::default(), &a.user_code)
        .await
        .unwrap();
    for page in ["/account/sessions", "/account/email"] {
        let r = t.client.get(t.url(page)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{page}");
        assert_eq!(r.headers()["location"], "/password/change");
    }
    let r = end(&t.client, &t, "/account/sessions/end-others", &csrf).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/password/change");
    t.stop().await;
}
