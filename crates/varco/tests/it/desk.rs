//! The desk (`/desk` and `/api/v1/desk`): the scope rule (own school's
//! families, staff of any school when allowed, admins everything, the rest
//! answered as not found and audited), the search by each field, and the
//! actions with their effects, audit entries and mail.

use reqwest::StatusCode;
use serde_json::Value;
use varco_app::accounts::{AccountView, AddAccount};
use varco_app::schools::AddSchool;
use varco_app::{Actor, RequestContext};
use varco_domain::account::{AccountKind, Role};
use varco_domain::clock::Timestamp;
use varco_domain::lockout::LockState;
use varco_domain::password::PasswordInput;

use crate::harness::{Backend, Options, PASSWORD, SCHOOL, T0, TestApp, both_backends, client, tax_code};
use crate::kit::{MAIL_WAIT, SignedIn, input_value, spawn_with_smtp};

both_backends!(
    desk_reaches_its_school_and_staff_of_any_school,
    staff_of_other_schools_are_hidden_when_the_deployment_says_so,
    admins_reach_every_account,
    search_finds_accounts_by_each_field,
    unlock_disable_enable_from_the_pages,
    actions_through_the_api_are_audited_and_mailed,
    corrections_need_a_valid_tax_code_and_a_reason_and_are_told,
);

const OTHER_SCHOOL: &str = "MIIC8AB00Q";

/// The cast: a desk operator of the test school, a family and a staff
/// account of each school.
struct Cast {
    desk: AccountView,
    family_here: AccountView,
    family_there: AccountView,
    staff_there: AccountView,
}

async fn add_other_school(t: &TestApp) {
    varco_app::schools::add(
        t.app(),
        &Actor::Cli,
        &RequestContext::default(),
        &AddSchool {
            code: OTHER_SCHOOL.into(),
            name: "Istituto Comprensivo Milano Nord".into(),
            email: None,
            helpdesk_email: None,
            helpdesk_phone: None,
            helpdesk_hours: None,
            town: None,
        },
    )
    .await
    .expect("school added");
}

/// An account of `school` with a password and a username.
pub(crate) async fn person(
    t: &TestApp,
    school: &str,
    kind: AccountKind,
    n: u32,
    first: &str,
    last: &str,
) -> AccountView {
    let username = format!("{}.{}", first.to_lowercase(), last.to_lowercase());
    varco_app::accounts::add(
        t.app(),
        &Actor::Cli,
        &RequestContext::default(),
        &AddAccount {
            school_code: school.into(),
            kind,
            first_name: first.into(),
            last_name: last.into(),
            tax_code: tax_code(n),
            email: Some(format!("{username}@example.it")),
            username: Some(username),
        },
        Some(PasswordInput::new(PASSWORD).expect("password")),
    )
    .await
    .expect("account added")
}

pub(crate) async fn grant(t: &TestApp, user_code: &str, role: Role, school: Option<&str>) {
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

async fn cast(t: &TestApp) -> Cast {
    t.add_school().await;
    add_other_school(t).await;
    let desk = person(t, SCHOOL, AccountKind::Staff, 40, "Sara", "Segreteria").await;
    grant(t, &desk.user_code, Role::Desk, Some(SCHOOL)).await;
    Cast {
        desk,
        family_here: person(t, SCHOOL, AccountKind::Family, 41, "Maria", "Rossi").await,
        family_there: person(t, OTHER_SCHOOL, AccountKind::Family, 42, "Marta", "Rossi").await,
        staff_there: person(t, OTHER_SCHOOL, AccountKind::Staff, 43, "Mario", "Rossi").await,
    }
}

/// `GET` a JSON path with a signed-in client: the status and the body.
async fn get_json(t: &TestApp, who: &SignedIn, path: &str) -> (StatusCode, Value) {
    let r = who.client.get(t.url(path)).send().await.expect("request");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `POST` a desk action over the API: the status and the body.
async fn api_action(t: &TestApp, who: &SignedIn, user_code: &str, action: &str) -> (StatusCode, Value) {
    let r = who
        .client
        .post(t.url(&format!("/api/v1/desk/accounts/{user_code}/{action}")))
        .send()
        .await
        .expect("request");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The user codes of a desk search over the API.
async fn found(t: &TestApp, who: &SignedIn, q: &str) -> Vec<String> {
    let r = who
        .client
        .get(t.url("/api/v1/desk/accounts"))
        .query(&[("q", q)])
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK, "search {q}");
    let body: Value = r.json().await.expect("json");
    body["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|a| a["user_code"].as_str().expect("user code").to_owned())
        .collect()
}

/// A page fetched with a signed-in client: status and text.
async fn page(t: &TestApp, who: &SignedIn, path: &str) -> (StatusCode, String) {
    let r = who.client.get(t.url(path)).send().await.expect("request");
    let status = r.status();
    (status, r.text().await.unwrap_or_default())
}

/// Posts a desk form from the account page (with its CSRF token).
async fn post_form(
    t: &TestApp,
    who: &SignedIn,
    user_code: &str,
    action: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let (status, html) = page(t, who, &format!("/desk/accounts/{user_code}")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let csrf = input_value(&html, "csrf");
    let mut fields = vec![("csrf", csrf.as_str())];
    fields.extend_from_slice(extra);
    who.client
        .post(t.url(&format!("/desk/accounts/{user_code}/{action}")))
        .header("origin", &t.base)
        .form(&fields)
        .send()
        .await
        .expect("request")
}

/// The events of an account's audit log, by name, with their actor and detail.
async fn events(t: &TestApp, user_code: &str, name: &str) -> Vec<(String, Option<String>)> {
    t.audit_of(user_code)
        .await
        .into_iter()
        .filter(|e| e.event == name)
        .map(|e| (e.actor, e.detail))
        .collect()
}

async fn desk_reaches_its_school_and_staff_of_any_school(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else {
        return;
    };
    let c = cast(&t).await;
    let desk = t.sign_in("sara.segreteria", PASSWORD).await;

    // Its own school's family: yes.
    let (status, body) = get_json(&t, &desk, &format!("/api/v1/desk/accounts/{}", c.family_here.user_code)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["account"]["tax_code"], c.family_here.tax_code);
    assert_eq!(body["has_password"], true);
    assert_eq!(body["actions_allowed"], true);
    assert_eq!(
        events(&t, &c.family_here.user_code, "desk_account_viewed").await,
        vec![(c.desk.user_code.clone(), None)]
    );

    // Staff of another school: yes, by default (the national portal's rule).
    let (status, _) = get_json(&t, &desk, &format!("/api/v1/desk/accounts/{}", c.staff_there.user_code)).await;
    assert_eq!(status, StatusCode::OK);

    // Another school's family: exactly like an account that does not exist, and audited.
    let (status, hidden) = get_json(
        &t,
        &desk,
        &format!("/api/v1/desk/accounts/{}", c.family_there.user_code),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let unknown = varco_domain::UserCode::generate(&mut rand::rngs::OsRng);
    let (status, missing) = get_json(&t, &desk, &format!("/api/v1/desk/accounts/{}", unknown.as_str())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for key in ["code", "title", "detail", "status", "type"] {
        assert_eq!(hidden[key], missing[key], "{key}: {hidden} vs {missing}");
    }
    assert_eq!(hidden["code"], "not_found");
    assert_eq!(
        events(&t, &c.family_there.user_code, "desk_access_refused").await,
        vec![(c.desk.user_code.clone(), Some("action=view".to_owned()))]
    );
    assert!(
        events(&t, &c.family_there.user_code, "desk_account_viewed")
            .await
            .is_empty()
    );

    // The pages say the same.
    let (status, html) = page(&t, &desk, &format!("/desk/accounts/{}", c.family_here.user_code)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Maria") && html.contains(&c.family_here.tax_code),
        "{html}"
    );
    assert!(html.contains("Password impostata"), "{html}");
    let (status, _) = page(&t, &desk, &format!("/desk/accounts/{}", c.family_there.user_code)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        events(&t, &c.family_there.user_code, "desk_access_refused").await.len(),
        2
    );

    // A search shows what is in scope only.
    let rossi = found(&t, &desk, "rossi").await;
    assert!(rossi.contains(&c.family_here.user_code), "{rossi:?}");
    assert!(rossi.contains(&c.staff_there.user_code), "{rossi:?}");
    assert!(!rossi.contains(&c.family_there.user_code), "{rossi:?}");
    let (status, html) = page(&t, &desk, "/desk?q=Rossi").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&c.family_here.user_code) && !html.contains(&c.family_there.user_code));

    // Out of scope, an action is refused the same way and changes nothing.
    let (status, body) = api_action(&t, &desk, &c.family_there.user_code, "disable").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let there = varco_app::accounts::show(t.app(), &c.family_there.user_code)
        .await
        .expect("show");
    assert_eq!(there.status.as_str(), "active");
    assert!(
        events(&t, &c.family_there.user_code, "desk_access_refused")
            .await
            .contains(&(c.desk.user_code.clone(), Some("action=disable".to_owned())))
    );

    // The operator's account page leads to the desk; a family's does not.
    let (_, html) = page(&t, &desk, "/account").await;
    assert!(html.contains("href=\"/desk\""), "{html}");

    // Someone without the desk role: no desk at all.
    let family = t.sign_in("maria.rossi", PASSWORD).await;
    let (_, html) = page(&t, &family, "/account").await;
    assert!(!html.contains("href=\"/desk\""), "{html}");
    let (status, _) = page(&t, &family, "/desk").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = get_json(&t, &family, "/api/v1/desk/accounts?q=rossi").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, _) = get_json(
        &t,
        &family,
        &format!("/api/v1/desk/accounts/{}", c.family_here.user_code),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Nobody signed in: to the login page, or 401.
    let anonymous = client();
    let r = anonymous.get(t.url("/desk")).send().await.expect("request");
    assert!(r.status().is_redirection(), "{}", r.status());
    assert_eq!(r.headers()["location"], "/login?next=/desk");
    let r = anonymous
        .get(t.url("/api/v1/desk/accounts?q=rossi"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    t.stop().await;
}

async fn staff_of_other_schools_are_hidden_when_the_deployment_says_so(backend: Backend) {
    let options = Options {
        tweak: Box::new(|c| c.desk.staff_recovery_any_school = false),
        ..Options::default()
    };
    let Some(t) = TestApp::spawn_with(backend, options).await else {
        return;
    };
    let c = cast(&t).await;
    let desk = t.sign_in("sara.segreteria", PASSWORD).await;
    let (status, _) = get_json(&t, &desk, &format!("/api/v1/desk/accounts/{}", c.staff_there.user_code)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        events(&t, &c.staff_there.user_code, "desk_access_refused").await,
        vec![(c.desk.user_code.clone(), Some("action=view".to_owned()))]
    );
    let rossi = found(&t, &desk, "rossi").await;
    assert_eq!(rossi, vec![c.family_here.user_code.clone()]);
    // Staff of the operator's own school stay in reach.
    let colleague = person(&t, SCHOOL, AccountKind::Staff, 44, "Luca", "Verdi").await;
    let (status, _) = get_json(&t, &desk, &format!("/api/v1/desk/accounts/{}", colleague.user_code)).await;
    assert_eq!(status, StatusCode::OK);
    t.stop().await;
}

async fn admins_reach_every_account(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else {
        return;
    };
    let c = cast(&t).await;
    let admin = person(&t, SCHOOL, AccountKind::Staff, 45, "Anna", "Admin").await;
    grant(&t, &admin.user_code, Role::Admin, None).await;
    let admin = t.sign_in("anna.admin", PASSWORD).await;
    let rossi = found(&t, &admin, "rossi").await;
    assert_eq!(rossi.len(), 3, "{rossi:?}");
    let (status, _) = get_json(
        &t,
        &admin,
        &format!("/api/v1/desk/accounts/{}", c.family_there.user_code),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // An admin may act on an operator's account; an operator may not.
    let (status, body) = api_action(&t, &admin, &c.desk.user_code, "unlock").await;
    assert_eq!((status, &body["changed"]), (StatusCode::OK, &Value::Bool(false)));
    let desk = t.sign_in("sara.segreteria", PASSWORD).await;
    let (status, body) = api_action(&t, &desk, &c.desk.user_code, "disable").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    let me = varco_app::accounts::show(t.app(), &c.desk.user_code)
        .await
        .expect("show");
    assert_eq!(me.status.as_str(), "active");
    t.stop().await;
}

async fn search_finds_accounts_by_each_field(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else {
        return;
    };
    let c = cast(&t).await;
    let desk = t.sign_in("sara.segreteria", PASSWORD).await;
    let want = vec![c.family_here.user_code.clone()];
    // Tax code, typed in lower case with spaces.
    let spaced = format!("{} {}", &c.family_here.tax_code[..8], &c.family_here.tax_code[8..]).to_lowercase();
    assert_eq!(found(&t, &desk, &spaced).await, want);
    // User code, lower case.
    assert_eq!(found(&t, &desk, &c.family_here.user_code.to_lowercase()).await, want);
    // Email, upper case.
    assert_eq!(found(&t, &desk, "MARIA.ROSSI@EXAMPLE.IT").await, want);
    // Name, either order, any case.
    assert_eq!(found(&t, &desk, "Rossi Maria").await, want);
    assert_eq!(found(&t, &desk, "maria ros").await, want);
    // Nothing matches: an empty list, not an error.
    assert!(found(&t, &desk, "Esposito").await.is_empty());
    // A wildcard is a character like any other, not "everything".
    assert!(found(&t, &desk, "%%%ro").await.len() >= 2);
    assert!(found(&t, &desk, "zz%").await.is_empty());
    let searches = t
        .audit_of(&c.desk.user_code)
        .await
        .into_iter()
        .filter(|e| e.event == "desk_search")
        .count();
    assert_eq!(searches, 8);

    // Too little to search on: a clear error.
    let (status, body) = get_json(&t, &desk, "/api/v1/desk/accounts?q=a").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_input"))
    );
    let (status, body) = get_json(&t, &desk, &format!("/api/v1/desk/accounts?q={}", "x".repeat(101))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("input_too_long"))
    );
    let (status, html) = page(&t, &desk, "/desk?q=a").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("almeno due lettere del nome"), "{html}");
    assert!(html.contains("aria-invalid=\"true\""), "{html}");
    t.stop().await;
}

/// Locks an account as ten wrong passwords would.
async fn lock(t: &TestApp, user_code: &str) {
    let mut tx = t.app().store.begin().await.expect("tx");
    let account = tx
        .account_by_user_code(user_code)
        .await
        .expect("read")
        .expect("account");
    tx.set_lock_state(
        account.id,
        &LockState {
            failed_count: 10,
            blocked_until: Some(Timestamp(T0 + 900)),
            last_failure_at: Some(Timestamp(T0)),
        },
    )
    .await
    .expect("lock");
    tx.commit().await.expect("commit");
}

async fn unlock_disable_enable_from_the_pages(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else {
        return;
    };
    let c = cast(&t).await;
    let desk = t.sign_in("sara.segreteria", PASSWORD).await;
    let code = c.family_here.user_code.clone();

    lock(&t, &code).await;
    let (_, html) = page(&t, &desk, &format!("/desk/accounts/{code}")).await;
    assert!(html.contains("Accesso bloccato"), "{html}");
    let r = post_form(&t, &desk, &code, "unlock", &[]).await;
    assert!(r.status().is_redirection());
    assert_eq!(
        r.headers()["location"],
        format!("/desk/accounts/{code}?done=unlocked").as_str()
    );
    let view = varco_app::accounts::show(t.app(), &code).await.expect("show");
    assert!(!view.locked && view.failed_logins == 0, "{view:?}");
    assert_eq!(
        events(&t, &code, "account_unlocked").await,
        vec![(
            c.desk.user_code.clone(),
            Some("failed_logins=10 was_blocked=true".to_owned())
        )]
    );
    let (_, html) = page(&t, &desk, &format!("/desk/accounts/{code}?done=unlocked")).await;
    assert!(html.contains("Accesso sbloccato"), "{html}");

    // Disabling asks first; the owner's sessions end once confirmed.
    let owner = t.sign_in("maria.rossi", PASSWORD).await;
    let r = post_form(&t, &desk, &code, "disable", &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let confirm = r.text().await.expect("page");
    assert!(confirm.contains("name=\"confirm\" value=\"yes\""), "{confirm}");
    assert_eq!(
        varco_app::accounts::show(t.app(), &code)
            .await
            .expect("show")
            .status
            .as_str(),
        "active"
    );
    let r = post_form(&t, &desk, &code, "disable", &[("confirm", "yes")]).await;
    assert_eq!(
        r.headers()["location"],
        format!("/desk/accounts/{code}?done=disabled").as_str()
    );
    assert_eq!(
        varco_app::accounts::show(t.app(), &code)
            .await
            .expect("show")
            .status
            .as_str(),
        "disabled"
    );
    assert_eq!(t.me(&owner.client).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        events(&t, &code, "account_disabled").await,
        vec![(
            c.desk.user_code.clone(),
            Some("status=disabled sessions_ended=1".to_owned())
        )]
    );

    let r = post_form(&t, &desk, &code, "enable", &[]).await;
    assert_eq!(
        r.headers()["location"],
        format!("/desk/accounts/{code}?done=enabled").as_str()
    );
    assert_eq!(
        varco_app::accounts::show(t.app(), &code)
            .await
            .expect("show")
            .status
            .as_str(),
        "active"
    );
    let r = post_form(&t, &desk, &code, "enable", &[]).await;
    assert_eq!(
        r.headers()["location"],
        format!("/desk/accounts/{code}?done=unchanged").as_str()
    );
    assert_eq!(events(&t, &code, "account_enabled").await.len(), 1);

    // A form without the session's token changes nothing.
    let r = desk
        .client
        .post(t.url(&format!("/desk/accounts/{code}/disable")))
        .header("origin", &t.base)
        .form(&[("csrf", "forged"), ("confirm", "yes")])
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        varco_app::accounts::show(t.app(), &code)
            .await
            .expect("show")
            .status
            .as_str(),
        "active"
    );
    // Not on one's own account: the page offers no action.
    let (_, html) = page(&t, &desk, &format!("/desk/accounts/{}", c.desk.user_code)).await;
    assert!(!html.contains("/disable\""), "{html}");
    t.stop().await;
}

async fn actions_through_the_api_are_audited_and_mailed(backend: Backend) {
    let Some((t, sink)) = spawn_with_smtp(backend).await else {
        return;
    };
    add_other_school(&t).await;
    let desk = person(&t, SCHOOL, AccountKind::Staff, 40, "Sara", "Segreteria").await;
    grant(&t, &desk.user_code, Role::Desk, Some(SCHOOL)).await;
    let family = person(&t, SCHOOL, AccountKind::Family, 41, "Maria", "Rossi").await;
    // An account waiting for activation (its first link goes out now).
    let pending = t.add_account(3, "nuovo.genitore@example.it", None, None).await;
    assert_eq!(pending.status.as_str(), "pending_activation");
    let first = sink.link_to("nuovo.genitore@example.it", "/password/reset", 1).await;
    let operator = t.sign_in("sara.segreteria", PASSWORD).await;

    let (status, body) = api_action(&t, &operator, &pending.user_code, "resend-activation").await;
    assert_eq!(
        (status, &body["changed"]),
        (StatusCode::OK, &Value::Bool(true)),
        "{body}"
    );
    let second = sink.link_to("nuovo.genitore@example.it", "/password/reset", 2).await;
    assert_ne!(first, second);
    assert_eq!(
        events(&t, &pending.user_code, "activation_link_sent").await,
        vec![(desk.user_code.clone(), None)]
    );
    // The older link is spent by the new one; the new one works.
    assert_eq!(
        t.reset(&first, "una password nuova e lunga 1").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        t.reset(&second, "una password nuova e lunga 1").await,
        StatusCode::NO_CONTENT
    );
    // Active now: nothing to resend.
    let (status, body) = api_action(&t, &operator, &pending.user_code, "resend-activation").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );

    lock(&t, &family.user_code).await;
    let (status, body) = api_action(&t, &operator, &family.user_code, "unlock").await;
    assert_eq!((status, &body["changed"]), (StatusCode::OK, &Value::Bool(true)));
    let (_, body) = api_action(&t, &operator, &family.user_code, "unlock").await;
    assert_eq!(body["changed"], false);
    let (status, body) = api_action(&t, &operator, &family.user_code, "disable").await;
    assert_eq!((status, &body["changed"]), (StatusCode::OK, &Value::Bool(true)));
    assert_eq!(
        t.login("maria.rossi", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (_, body) = api_action(&t, &operator, &family.user_code, "disable").await;
    assert_eq!(body["changed"], false);
    let (_, body) = api_action(&t, &operator, &family.user_code, "enable").await;
    assert_eq!(body["changed"], true);
    assert_eq!(t.login("maria.rossi", PASSWORD).await.status(), StatusCode::OK);
    for event in ["account_unlocked", "account_disabled", "account_enabled"] {
        assert_eq!(
            events(&t, &family.user_code, event).await.first().map(|e| e.0.as_str()),
            Some(desk.user_code.as_str()),
            "{event}"
        );
    }

    // The account page over the API shows what happened.
    let (status, body) = get_json(&t, &operator, &format!("/api/v1/desk/accounts/{}", family.user_code)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["account"]["status"], "active");
    assert_eq!(body["account"]["locked"], false);
    let names: Vec<&str> = body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert!(
        names.contains(&"account_disabled") && names.contains(&"account_enabled"),
        "{names:?}"
    );
    assert!(!names.contains(&"desk_account_viewed"), "{names:?}");
    assert!(!body["sign_ins"].as_array().expect("sign-ins").is_empty(), "{body}");

    // Own account, cross-origin, unknown action: refused, nothing done.
    let (status, _) = api_action(&t, &operator, &desk.user_code, "disable").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let r = operator
        .client
        .post(t.url(&format!("/api/v1/desk/accounts/{}/disable", family.user_code)))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (status, _) = api_action(&t, &operator, &family.user_code, "delete").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        varco_app::accounts::show(t.app(), &family.user_code)
            .await
            .expect("show")
            .status
            .as_str(),
        "active"
    );
    t.stop().await;
}

/// `POST /api/v1/desk/accounts/{user_code}/correct`: the status and the body.
async fn api_correct(t: &TestApp, who: &SignedIn, user_code: &str, body: Value) -> (StatusCode, Value) {
    let r = who
        .client
        .post(t.url(&format!("/api/v1/desk/accounts/{user_code}/correct")))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn corrections_need_a_valid_tax_code_and_a_reason_and_are_told(backend: Backend) {
    let Some((t, sink)) = spawn_with_smtp(backend).await else {
        return;
    };
    add_other_school(&t).await;
    let desk = person(&t, SCHOOL, AccountKind::Staff, 40, "Sara", "Segreteria").await;
    grant(&t, &desk.user_code, Role::Desk, Some(SCHOOL)).await;
    let family = person(&t, SCHOOL, AccountKind::Family, 41, "Maria", "Rosi").await;
    let neighbour = person(&t, SCHOOL, AccountKind::Family, 47, "Paolo", "Neri").await;
    let elsewhere = person(&t, OTHER_SCHOOL, AccountKind::Family, 48, "Marta", "Bruni").await;
    // A SPID identity linked under the (wrong) tax code on file.
    let mut tx = t.app().store.begin().await.expect("tx");
    let id = tx
        .account_by_user_code(&family.user_code)
        .await
        .expect("read")
        .expect("account")
        .id;
    tx.link_upstream_identity(&varco_store::NewUpstreamIdentity {
        issuer: "https://idp.example",
        subject: "spid-123",
        account_id: id,
        provider: "SPID — Example ID",
        now: Timestamp(T0),
    })
    .await
    .expect("link");
    tx.commit().await.expect("commit");
    let operator = t.sign_in("sara.segreteria", PASSWORD).await;
    let (_, body) = get_json(&t, &operator, &format!("/api/v1/desk/accounts/{}", family.user_code)).await;
    assert_eq!(body["identities"][0]["provider"], "SPID — Example ID", "{body}");
    let right = tax_code(46);
    let unchanged = |view: AccountView| {
        assert_eq!(view.tax_code, family.tax_code);
        assert_eq!(view.last_name, "Rosi");
    };

    // Bad input: clear errors, nothing changed, nothing audited.
    let mut wrong_check = right.clone();
    wrong_check.replace_range(15.., if right.ends_with('A') { "B" } else { "A" });
    for (body, field) in [
        (
            serde_json::json!({ "tax_code": wrong_check, "reason": "documento" }),
            "tax_code",
        ),
        (
            serde_json::json!({ "tax_code": "RSSMRA85", "reason": "documento" }),
            "tax_code",
        ),
        (serde_json::json!({ "tax_code": right, "reason": "   " }), "reason"),
        (serde_json::json!({ "last_name": "Rossi", "reason": "" }), "reason"),
    ] {
        let (status, problem) = api_correct(&t, &operator, &family.user_code, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {problem}");
        assert_eq!(problem["code"], "invalid_input", "{problem}");
        assert_eq!(problem["field"], field, "{problem}");
    }
    let (status, problem) = api_correct(
        &t,
        &operator,
        &family.user_code,
        serde_json::json!({ "tax_code": neighbour.tax_code, "reason": "documento" }),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    // The page says so next to the field.
    let r = post_form(
        &t,
        &operator,
        &family.user_code,
        "correct",
        &[
            ("tax_code", "RSSMRA85T10A562X"),
            ("first_name", "Maria"),
            ("last_name", "Rossi"),
            ("reason", "carta d'identità"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.expect("page");
    assert!(html.contains("Il codice fiscale non è valido"), "{html}");
    assert!(
        html.contains("id=\"tax_code\" name=\"tax_code\" value=\"RSSMRA85T10A562X\" "),
        "{html}"
    );
    let r = post_form(
        &t,
        &operator,
        &family.user_code,
        "correct",
        &[
            ("tax_code", &right),
            ("first_name", "Maria"),
            ("last_name", "Rossi"),
            ("reason", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .expect("page")
            .contains("Scrivi il motivo della correzione")
    );
    unchanged(
        varco_app::accounts::show(t.app(), &family.user_code)
            .await
            .expect("show"),
    );
    assert!(events(&t, &family.user_code, "person_corrected").await.is_empty());

    // Another school's family: not found, audited, unchanged.
    let (status, _) = api_correct(
        &t,
        &operator,
        &elsewhere.user_code,
        serde_json::json!({ "last_name": "Bruno", "reason": "documento" }),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        varco_app::accounts::show(t.app(), &elsewhere.user_code)
            .await
            .expect("show")
            .last_name,
        "Bruni"
    );
    assert_eq!(
        events(&t, &elsewhere.user_code, "desk_access_refused").await,
        vec![(desk.user_code.clone(), Some("action=correct_person".to_owned()))]
    );

    // The right values with a reason, from the page: saved, audited, told.
    let spaced = format!(" {} ", right.to_lowercase());
    let r = post_form(
        &t,
        &operator,
        &family.user_code,
        "correct",
        &[
            ("tax_code", &spaced),
            ("first_name", "Maria"),
            ("last_name", "Rossi"),
            ("reason", "Carta d'identità vista allo sportello"),
        ],
    )
    .await;
    assert_eq!(
        r.headers()["location"],
        format!("/desk/accounts/{}?done=corrected", family.user_code).as_str()
    );
    let view = varco_app::accounts::show(t.app(), &family.user_code)
        .await
        .expect("show");
    assert_eq!(
        (view.tax_code.as_str(), view.last_name.as_str()),
        (right.as_str(), "Rossi")
    );
    assert_eq!(
        events(&t, &family.user_code, "person_corrected").await,
        vec![(
            desk.user_code.clone(),
            Some(
                "fields=tax_code,last_name identities_unlinked=1 reason=\"Carta d'identità vista allo sportello\""
                    .to_owned()
            )
        )]
    );
    let (_, body) = get_json(&t, &operator, &format!("/api/v1/desk/accounts/{}", family.user_code)).await;
    assert_eq!(body["identities"], serde_json::json!([]), "{body}");
    assert_eq!(found(&t, &operator, &right).await, vec![family.user_code.clone()]);
    let messages = sink.wait_for(1, MAIL_WAIT).await;
    let notice = messages
        .iter()
        .find(|m| m.header("To").as_deref() == Some("maria.rosi@example.it"))
        .expect("a notice to the account's address");
    assert!(
        notice.header("Subject").unwrap_or_default().contains("corretti")
            || notice.text().contains("ha corretto i dati"),
        "{}",
        notice.text()
    );
    let text = notice.text();
    assert!(text.contains(&right[12..]) && text.contains("Maria Rossi"), "{text}");
    assert!(!text.contains(&right), "the whole tax code is not mailed: {text}");

    // The same values again: nothing to do; over the API too.
    let (status, body) = api_correct(
        &t,
        &operator,
        &family.user_code,
        serde_json::json!({ "tax_code": right, "reason": "ricontrollo" }),
    )
    .await;
    assert_eq!((status, &body["changed"]), (StatusCode::OK, &Value::Bool(false)));
    let (status, body) = api_correct(
        &t,
        &operator,
        &family.user_code,
        serde_json::json!({ "first_name": "Maria Grazia", "reason": "modulo di iscrizione" }),
    )
    .await;
    assert_eq!(
        (status, &body["changed"]),
        (StatusCode::OK, &Value::Bool(true)),
        "{body}"
    );
    assert_eq!(
        varco_app::accounts::show(t.app(), &family.user_code)
            .await
            .expect("show")
            .first_name,
        "Maria Grazia"
    );
    assert_eq!(events(&t, &family.user_code, "person_corrected").await.len(), 2);
    assert_eq!(sink.wait_for(2, MAIL_WAIT).await.len(), 2);
    t.stop().await;
}
