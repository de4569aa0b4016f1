//! The admin console (`/admin` and `/api/v1/admin`): only admins see it
//! (everyone else, desk operators too, gets the 404 of a page that does not
//! exist); the audit log's filters and pages; the CSV export, escaped for
//! spreadsheets and itself audited; the outbox and its retry.

use reqwest::StatusCode;
use serde_json::Value;
use varco_app::accounts::AccountView;
use varco_app::schools::AddSchool;
use varco_app::{Actor, RequestContext};
use varco_domain::account::{AccountKind, Role};
use varco_domain::clock::Timestamp;
use varco_store::NewOutboxMessage;

use crate::harness::{Backend, PASSWORD, SCHOOL, T0, TestApp, both_backends, client};
use crate::kit::{SignedIn, input_value};

both_backends!(
    the_console_is_for_admins_only,
    audit_filters_select_and_pages_follow,
    the_csv_export_is_filtered_escaped_and_audited,
    failed_messages_are_listed_masked_and_retried,
    schools_are_added_and_edited_with_checked_values,
    roles_are_granted_and_revoked_but_an_admin_keeps_their_own,
    clients_are_listed_without_their_secrets,
);

const OTHER_SCHOOL: &str = "MIIC8AB00Q";

/// A staff account of `school` with a password and a username `first.last`.
async fn person(t: &TestApp, school: &str, n: u32, first: &str, last: &str) -> AccountView {
    crate::desk::person(t, school, AccountKind::Staff, n, first, last).await
}

use crate::desk::grant;

/// The cast: an admin, a desk operator and a plain account of the test
/// school, and an account of another school.
struct Cast {
    admin: AccountView,
    desk: AccountView,
    plain: AccountView,
    elsewhere: AccountView,
}

async fn cast(t: &TestApp) -> Cast {
    t.add_school().await;
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
    let admin = person(t, SCHOOL, 50, "Anna", "Admin").await;
    grant(t, &admin.user_code, Role::Admin, None).await;
    let desk = person(t, SCHOOL, 51, "Sara", "Segreteria").await;
    grant(t, &desk.user_code, Role::Desk, Some(SCHOOL)).await;
    Cast {
        admin,
        desk,
        plain: person(t, SCHOOL, 52, "Paolo", "Piano").await,
        elsewhere: person(t, OTHER_SCHOOL, 53, "Marta", "Milano").await,
    }
}

async fn get(t: &TestApp, who: &SignedIn, path: &str) -> reqwest::Response {
    who.client.get(t.url(path)).send().await.expect("request")
}

async fn get_json(t: &TestApp, who: &SignedIn, path: &str) -> (StatusCode, Value) {
    let r = get(t, who, path).await;
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The events of the API's audit page for `query`, by name.
async fn api_events(t: &TestApp, who: &SignedIn, query: &str) -> (Vec<String>, Value) {
    let (status, body) = get_json(t, who, &format!("/api/v1/admin/audit?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    let names = body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["event"].as_str().expect("event").to_owned())
        .collect();
    (names, body)
}

/// Disables and enables `user_code` `times` times (two events each).
async fn toggle(t: &TestApp, user_code: &str, times: usize) {
    for _ in 0..times {
        for enabled in [false, true] {
            varco_app::accounts::set_enabled(t.app(), &Actor::Cli, &RequestContext::default(), user_code, enabled)
                .await
                .expect("toggled");
        }
    }
}

async fn the_console_is_for_admins_only(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else {
        return;
    };
    let c = cast(&t).await;

    // Signed out: to the sign-in page, coming back afterwards.
    let r = client().get(t.url("/admin/audit")).send().await.expect("request");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/login?next=/admin/audit");
    let r = client()
        .get(t.url("/api/v1/admin/audit"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let pages = ["/admin", "/admin/audit", "/admin/audit.csv", "/admin/outbox"];
    let apis = ["/api/v1/admin/audit", "/api/v1/admin/outbox"];
    for login in ["paolo.piano", "sara.segreteria"] {
        let who = t.sign_in(login, PASSWORD).await;
        for path in pages {
            let r = get(&t, &who, path).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{login} {path}");
        }
        for path in apis {
            let (status, body) = get_json(&t, &who, path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{login} {path}");
            assert_eq!(body["code"], "not_found");
        }
        let r = who
            .client
            .post(t.url("/api/v1/admin/outbox/1/retry"))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{login} retry");
        let account = who.client.get(t.url("/account")).send().await.expect("request");
        let html = account.text().await.expect("html");
        assert!(!html.contains("id=\"admin-link\""), "{login}: {html}");
    }
    // A desk operator's export attempt left no export behind.
    assert!(
        t.audit_of(&c.desk.user_code)
            .await
            .iter()
            .all(|e| e.event != "audit_exported")
    );

    let admin = t.sign_in("anna.admin", PASSWORD).await;
    for path in pages {
        let r = get(&t, &admin, path).await;
        assert_eq!(r.status(), StatusCode::OK, "admin {path}");
    }
    let html = get(&t, &admin, "/account").await.text().await.expect("html");
    assert!(html.contains("href=\"/admin\" id=\"admin-link\""), "{html}");
    let html = get(&t, &admin, "/admin").await.text().await.expect("html");
    assert!(html.contains("Registro degli eventi"), "Italian first: {html}");
    let english = admin
        .client
        .get(t.url("/admin/outbox"))
        .header("accept-language", "en")
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("html");
    assert!(english.contains("Mail not delivered"), "{english}");
    t.stop().await;
}

async fn audit_filters_select_and_pages_follow(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else {
        return;
    };
    let c = cast(&t).await;
    // Day one (15 January 2027): 56 events about the plain account.
    toggle(&t, &c.plain.user_code, 28).await;
    // Day three: one about the account of the other school.
    t.clock.set(Timestamp(T0 + 2 * 86_400));
    toggle(&t, &c.elsewhere.user_code, 1).await;
    let admin = t.sign_in("anna.admin", PASSWORD).await;

    // By account, a page at a time.
    let query = format!("user_code={}", c.plain.user_code);
    let (first, body) = api_events(&t, &admin, &query).await;
    assert_eq!(first.len(), 50);
    assert_eq!(body["more"], true);
    assert!(
        first.iter().all(|e| e == "account_disabled" || e == "account_enabled"),
        "{first:?}"
    );
    let (second, body) = api_events(&t, &admin, &format!("{query}&page=2")).await;
    assert_eq!(body["more"], false);
    // 56 toggles and the account's creation.
    assert_eq!(second.len(), 7, "{second:?}");
    assert_eq!(second.last().map(String::as_str), Some("account_created"));

    // By event and day.
    let (found, _) = api_events(&t, &admin, "event=account_disabled&from=2027-01-16").await;
    assert_eq!(found, ["account_disabled"]);
    let (found, _) = api_events(&t, &admin, "event=account_disabled&to=2027-01-15").await;
    assert_eq!(found.len(), 28);
    let (found, _) = api_events(&t, &admin, "from=2027-01-18").await;
    assert!(found.is_empty(), "{found:?}");

    // By school: the other school's account, its creation and the school's own.
    let (found, body) = api_events(&t, &admin, &format!("school={OTHER_SCHOOL}")).await;
    assert_eq!(
        found,
        [
            "account_enabled",
            "account_disabled",
            "account_created",
            "school_created"
        ],
        "{body}"
    );

    // Filters that cannot be read are said, on their field.
    for (query, field) in [
        ("user_code=!!", "user_code"),
        ("event=DROP%20TABLE", "event"),
        ("from=15/01/2027", "from"),
        ("from=2027-01-16&to=2027-01-15", "to"),
        ("school=RMIC000000", "school"),
    ] {
        let (status, body) = get_json(&t, &admin, &format!("/api/v1/admin/audit?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["field"], field, "{query}: {body}");
    }
    let r = get(&t, &admin, "/admin/audit?from=15/01/2027").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.expect("html");
    assert!(html.contains("Scrivi la data nel formato AAAA-MM-GG."), "{html}");

    // The page shows the same, with a link to the next page keeping the filters.
    let html = get(&t, &admin, &format!("/admin/audit?{query}"))
        .await
        .text()
        .await
        .expect("html");
    assert_eq!(html.matches("class=\"varco-audit-event\"").count(), 50);
    assert!(
        html.contains(&format!("href=\"/admin/audit?{query}&amp;page=2\"")),
        "{html}"
    );
    t.stop().await;
}

async fn the_csv_export_is_filtered_escaped_and_audited(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else {
        return;
    };
    let c = cast(&t).await;
    // A User-Agent is whatever the client says: here a spreadsheet formula, with a comma and quotes.
    let hostile = "=HYPERLINK(\"http://evil.example/?x\",\"clic\")";
    let r = client()
        .post(t.url("/api/v1/login"))
        .header("user-agent", hostile)
        .json(&serde_json::json!({ "login": "paolo.piano", "password": "wrong password!" }))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    toggle(&t, &c.plain.user_code, 1).await;
    let admin = t.sign_in("anna.admin", PASSWORD).await;

    let r = get(
        &t,
        &admin,
        &format!("/admin/audit.csv?user_code={}&event=login", c.plain.user_code),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let disposition = r.headers()["content-disposition"].to_str().expect("ascii").to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"varco-audit-") && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let bytes = r.bytes().await.expect("body");
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").expect("a UTF-8 byte-order mark");
    let mut reader = csv::Reader::from_reader(body);
    let header: Vec<String> = reader.headers().expect("header").iter().map(str::to_owned).collect();
    assert_eq!(
        header,
        [
            "id",
            "at",
            "event",
            "outcome",
            "actor",
            "target",
            "ip",
            "user_agent",
            "detail"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("rows");
    assert_eq!(rows.len(), 1, "only the plain account's login: {rows:?}");
    let row = &rows[0];
    assert_eq!(&row[2], "login");
    assert_eq!(&row[3], "failure");
    assert_eq!(&row[5], c.plain.user_code);
    // The formula comes out as text, whole, with its comma and quotes.
    assert_eq!(&row[7], format!("'{hostile}"));
    assert_eq!(&row[8], "wrong_password");

    // The export itself is in the log, by the admin, with how many rows.
    let exports: Vec<_> = t
        .audit_of(&c.admin.user_code)
        .await
        .into_iter()
        .filter(|e| e.event == "audit_exported")
        .collect();
    assert_eq!(exports.len(), 1);
    assert_eq!(exports[0].actor, c.admin.user_code);
    assert_eq!(exports[0].detail.as_deref(), Some("rows=1"));

    // Without filters: everything, the export before included.
    let r = get(&t, &admin, "/admin/audit.csv").await;
    let text = r.text().await.expect("body");
    assert!(text.contains(",audit_exported,success,"), "{text}");
    assert!(text.contains(",account_disabled,"), "{text}");

    // Filters that cannot be read go back to the page that says why, and export nothing.
    let r = get(&t, &admin, "/admin/audit.csv?event=DROP%20TABLE").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/admin/audit?event=DROP+TABLE");
    let exports = t
        .audit_of(&c.admin.user_code)
        .await
        .into_iter()
        .filter(|e| e.event == "audit_exported")
        .count();
    assert_eq!(exports, 2);
    t.stop().await;
}

/// Queues a message the worker cannot render: it gives up on the first attempt.
async fn queue_broken(t: &TestApp, recipient: &str) -> i64 {
    let mut tx = t.app().store.begin().await.expect("tx");
    let id = tx
        .insert_outbox(&NewOutboxMessage {
            message_id: &format!("<broken-{recipient}@varco.test>"),
            recipient,
            template: "test_message",
            lang: "it",
            school_id: None,
            payload: "{not json",
            now: t.app().now(),
        })
        .await
        .expect("queued");
    tx.commit().await.expect("commit");
    t.app().mail_queued();
    id
}

/// Waits until the message `id` was given up on; its attempts.
async fn failed(t: &TestApp, id: i64) -> i64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let all = varco_app::outbox::list(t.app(), true, 100).await.expect("outbox");
        if let Some(m) = all.iter().find(|m| m.id == id) {
            return m.attempts;
        }
        assert!(std::time::Instant::now() < deadline, "message {id} never failed");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn failed_messages_are_listed_masked_and_retried(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else {
        return;
    };
    let c = cast(&t).await;
    let id = queue_broken(&t, "giulia.verdi@example.org").await;
    assert_eq!(failed(&t, id).await, 1);
    let admin = t.sign_in("anna.admin", PASSWORD).await;

    let (status, body) = get_json(&t, &admin, "/api/v1/admin/outbox").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let message = body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["id"] == id)
        .cloned()
        .expect("the failed message is listed");
    assert_eq!(message["status"], "failed");
    assert_eq!(message["template"], "test_message");
    assert_eq!(message["recipient"], "g•••i@example.org");
    assert_eq!(message["attempts"], 1);
    assert!(
        message["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{message}"
    );
    assert!(!body.to_string().contains("giulia.verdi"), "{body}");
    let html = get(&t, &admin, "/admin/outbox").await.text().await.expect("html");
    assert!(
        html.contains(&format!("data-id=\"{id}\" data-status=\"failed\"")),
        "{html}"
    );
    assert!(!html.contains("giulia.verdi"), "{html}");

    // Retry from the page (with the CSRF token): queued again, audited; the
    // worker tries it once more (and gives up again: it still cannot be rendered).
    let csrf = input_value(&html, "csrf");
    let r = admin
        .client
        .post(t.url(&format!("/admin/outbox/{id}/retry")))
        .header("origin", &t.base)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/admin/outbox?done=retried");
    assert_eq!(failed(&t, id).await, 1, "the attempts start again");
    // Without the token: refused, nothing queued.
    let r = admin
        .client
        .post(t.url(&format!("/admin/outbox/{id}/retry")))
        .header("origin", &t.base)
        .form(&[("csrf", "wrong")])
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // And over the API.
    let r = admin
        .client
        .post(t.url(&format!("/api/v1/admin/outbox/{id}/retry")))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["queued"], true);
    failed(&t, id).await;
    for missing in ["999999", "abc"] {
        let r = admin
            .client
            .post(t.url(&format!("/api/v1/admin/outbox/{missing}/retry")))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{missing}");
    }

    let retries: Vec<_> = t
        .audit_of(&c.admin.user_code)
        .await
        .into_iter()
        .filter(|e| e.event == "mail_retry")
        .map(|e| (e.actor, e.detail))
        .collect();
    assert_eq!(
        retries,
        vec![(c.admin.user_code.clone(), Some(format!("outbox_id={id}"))); 2]
    );
    t.stop().await;
}

/// Posts a form to `path` with the CSRF token of the page `from`.
async fn post_form(t: &TestApp, who: &SignedIn, from: &str, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let html = get(t, who, from).await.text().await.expect("html");
    let csrf = input_value(&html, "csrf");
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    who.client
        .post(t.url(path))
        .header("origin", &t.base)
        .form(&all)
        .send()
        .await
        .expect("request")
}

async fn schools_are_added_and_edited_with_checked_values(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else {
        return;
    };
    let c = cast(&t).await;
    let admin = t.sign_in("anna.admin", PASSWORD).await;
    let html = get(&t, &admin, "/admin/schools").await.text().await.expect("html");
    for code in [SCHOOL, OTHER_SCHOOL] {
        assert!(html.contains(&format!("data-code=\"{code}\"")), "{html}");
    }
    let before = varco_app::schools::find(t.app(), SCHOOL).await.expect("school");
    let edit_page = format!("/admin/schools/{SCHOOL}");
    let fields = |email: &'static str| {
        vec![
            ("name", "Istituto Comprensivo Via Roma 2"),
            ("email", "rmic81200x@istruzione.it"),
            ("helpdesk_email", email),
            ("helpdesk_phone", "+39 06 8765 4321"),
            ("helpdesk_hours", "lun-ven 10-13"),
        ]
    };

    // A bad address: refused on its field, nothing changed, nothing audited.
    let r = post_form(&t, &admin, &edit_page, &edit_page, &fields("not an address")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.expect("html");
    assert!(html.contains("L&#x27;indirizzo email non è valido."), "{html}");
    assert!(
        html.contains("Istituto Comprensivo Via Roma 2"),
        "the typed values come back: {html}"
    );
    assert_eq!(varco_app::schools::find(t.app(), SCHOOL).await.expect("school"), before);
    let (updates, _) = api_events(&t, &admin, "event=school_updated").await;
    assert!(updates.is_empty(), "{updates:?}");

    // Good values: saved, audited with the fields changed.
    let r = post_form(
        &t,
        &admin,
        &edit_page,
        &edit_page,
        &fields("assistenza@icviaroma.edu.it"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], format!("/admin/schools/{SCHOOL}?done=saved"));
    let after = varco_app::schools::find(t.app(), SCHOOL).await.expect("school");
    assert_eq!(after.name, "Istituto Comprensivo Via Roma 2");
    assert_eq!(after.helpdesk_phone.as_deref(), Some("+39 06 8765 4321"));
    assert_eq!(after.helpdesk_email, before.helpdesk_email);
    let (_, body) = api_events(&t, &admin, "event=school_updated").await;
    let event = &body["events"][0];
    assert_eq!(event["target"], SCHOOL);
    assert_eq!(event["actor"], c.admin.user_code);
    assert_eq!(event["detail"], "fields=name,helpdesk_phone");
    // The same again changes nothing.
    let r = post_form(
        &t,
        &admin,
        &edit_page,
        &edit_page,
        &fields("assistenza@icviaroma.edu.it"),
    )
    .await;
    assert_eq!(
        r.headers()["location"],
        format!("/admin/schools/{SCHOOL}?done=unchanged")
    );

    // The town: over 100 characters refused on its field, nothing changed; then saved.
    let saved = varco_app::schools::find(t.app(), SCHOOL).await.expect("school");
    let long_town = "R".repeat(101);
    let mut with_town = fields("assistenza@icviaroma.edu.it");
    with_town.push(("town", long_town.as_str()));
    let r = post_form(&t, &admin, &edit_page, &edit_page, &with_town).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.expect("html");
    assert!(html.contains("Il comune può avere al massimo 100 caratteri"), "{html}");
    assert_eq!(varco_app::schools::find(t.app(), SCHOOL).await.expect("school"), saved);
    let mut with_town = fields("assistenza@icviaroma.edu.it");
    with_town.push(("town", " Roma "));
    let r = post_form(&t, &admin, &edit_page, &edit_page, &with_town).await;
    assert_eq!(r.headers()["location"], format!("/admin/schools/{SCHOOL}?done=saved"));
    let after = varco_app::schools::find(t.app(), SCHOOL).await.expect("school");
    assert_eq!(after.town.as_deref(), Some("Roma"));
    let (_, body) = api_events(&t, &admin, "event=school_updated").await;
    assert_eq!(body["events"][0]["detail"], "fields=town");

    // A new school; its code once more is refused.
    let new = [
        ("code", "rmic00000x"),
        ("name", "Istituto Comprensivo Roma Est"),
        ("helpdesk_hours", "mar e gio 9-12"),
    ];
    let r = post_form(&t, &admin, "/admin/schools", "/admin/schools", &new).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let added = varco_app::schools::find(t.app(), "RMIC00000X").await.expect("added");
    assert_eq!(added.helpdesk_hours.as_deref(), Some("mar e gio 9-12"));
    assert_eq!(added.helpdesk_email, None);
    let r = post_form(&t, &admin, "/admin/schools", "/admin/schools", &new).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .expect("html")
            .contains("Esiste già una scuola con questo codice.")
    );

    // A desk operator: the 404 page, nothing changed.
    let desk = t.sign_in("sara.segreteria", PASSWORD).await;
    let r = post_form(
        &t,
        &desk,
        &format!("/desk/accounts/{}", c.plain.user_code),
        &edit_page,
        &[("name", "Presa")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(varco_app::schools::find(t.app(), SCHOOL).await.expect("school"), after);
    let r = get(&t, &desk, "/admin/schools").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    t.stop().await;
}

/// The roles shown on the operators page for `user_code`, as `role` or `role:school`.
fn roles_on_page(html: &str, user_code: &str) -> Vec<String> {
    let Some(start) = html.find(&format!("data-user-code=\"{user_code}\"")) else {
        return Vec::new();
    };
    let card = &html[start..];
    let card = &card[..card.find("</div></li>").unwrap_or(card.len())];
    card.split("class=\"d-flex align-items-center gap-2 mb-1 varco-role\" data-role=\"")
        .skip(1)
        .map(|rest| {
            let role = &rest[..rest.find('"').expect("quote")];
            match rest.split_once("data-school=\"") {
                Some((before, school)) if !before.contains('>') => {
                    format!("{role}:{}", &school[..school.find('"').expect("quote")])
                }
                _ => role.to_owned(),
            }
        })
        .collect()
}

async fn roles_are_granted_and_revoked_but_an_admin_keeps_their_own(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else {
        return;
    };
    let c = cast(&t).await;
    let admin = t.sign_in("anna.admin", PASSWORD).await;
    let page = "/admin/operators";
    let html = get(&t, &admin, page).await.text().await.expect("html");
    assert_eq!(roles_on_page(&html, &c.admin.user_code), ["admin"]);
    assert_eq!(roles_on_page(&html, &c.desk.user_code), [format!("desk:{SCHOOL}")]);
    assert!(
        roles_on_page(&html, &c.plain.user_code).is_empty(),
        "no role, not listed"
    );

    // Desk of the other school to the plain account, then admin.
    let grant = |user_code: &str, role: &'static str, school: &'static str| {
        vec![
            ("user_code", user_code.to_owned()),
            ("role", role.to_owned()),
            ("school", school.to_owned()),
        ]
    };
    let send = |fields: Vec<(&'static str, String)>, way: &'static str| {
        let t = &t;
        let admin = &admin;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_form(t, admin, page, &format!("/admin/operators/{way}"), &fields).await
        }
    };
    let r = send(grant(&c.plain.user_code, "desk", OTHER_SCHOOL), "grant").await;
    assert_eq!(r.headers()["location"], "/admin/operators?done=granted");
    let r = send(grant(&c.plain.user_code, "desk", OTHER_SCHOOL), "grant").await;
    assert_eq!(r.headers()["location"], "/admin/operators?done=unchanged");
    let r = send(grant(&c.plain.user_code, "admin", ""), "grant").await;
    assert_eq!(r.headers()["location"], "/admin/operators?done=granted");
    let html = get(&t, &admin, page).await.text().await.expect("html");
    assert_eq!(
        roles_on_page(&html, &c.plain.user_code),
        ["admin".to_owned(), format!("desk:{OTHER_SCHOOL}")]
    );
    // The desk role needs a school that exists; the account must exist.
    let r = send(grant(&c.elsewhere.user_code, "desk", ""), "grant").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = send(grant(&c.elsewhere.user_code, "desk", "RMIC00000X"), "grant").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = send(grant("ZZZZ2222", "admin", ""), "grant").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = get(&t, &admin, page).await.text().await.expect("html");
    assert!(roles_on_page(&html, &c.elsewhere.user_code).is_empty());

    // An admin cannot revoke their own admin role (no button, and the POST is refused).
    let mine = &html[html
        .find(&format!("data-user-code=\"{}\"", c.admin.user_code))
        .expect("listed")..];
    let mine = &mine[..mine.find("</div></li>").expect("card end")];
    assert!(!mine.contains("/admin/operators/revoke"), "{mine}");
    let r = send(grant(&c.admin.user_code, "admin", ""), "revoke").await;
    assert_eq!(r.headers()["location"], "/admin/operators?done=refused-self");
    // Another admin's: yes, and the desk role too.
    let r = send(grant(&c.plain.user_code, "admin", ""), "revoke").await;
    assert_eq!(r.headers()["location"], "/admin/operators?done=revoked");
    let r = send(grant(&c.desk.user_code, "desk", SCHOOL), "revoke").await;
    assert_eq!(r.headers()["location"], "/admin/operators?done=revoked");
    let html = get(&t, &admin, page).await.text().await.expect("html");
    assert_eq!(roles_on_page(&html, &c.admin.user_code), ["admin"]);
    assert_eq!(
        roles_on_page(&html, &c.plain.user_code),
        [format!("desk:{OTHER_SCHOOL}")]
    );
    assert!(roles_on_page(&html, &c.desk.user_code).is_empty());

    // Each change in the log, by the admin; the refusals changed nothing.
    let (_, body) = api_events(
        &t,
        &admin,
        &format!("user_code={}&event=role_granted", c.plain.user_code),
    )
    .await;
    assert_eq!(body["events"].as_array().expect("events").len(), 2);
    assert!(
        body["events"]
            .as_array()
            .expect("events")
            .iter()
            .all(|e| e["actor"] == c.admin.user_code.as_str())
    );
    let (revoked, _) = api_events(&t, &admin, "event=role_revoked").await;
    assert_eq!(revoked.len(), 2);

    // The former desk operator, now without a role, does not see the console.
    let former = t.sign_in("sara.segreteria", PASSWORD).await;
    assert_eq!(get(&t, &former, page).await.status(), StatusCode::NOT_FOUND);
    // The new desk operator of the other school (and former admin) neither.
    let plain = t.sign_in("paolo.piano", PASSWORD).await;
    assert_eq!(get(&t, &plain, page).await.status(), StatusCode::NOT_FOUND);
    t.stop().await;
}

async fn clients_are_listed_without_their_secrets(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else {
        return;
    };
    cast(&t).await;
    let admin = t.sign_in("anna.admin", PASSWORD).await;
    let html = get(&t, &admin, "/admin/clients").await.text().await.expect("html");
    assert!(html.contains("id=\"admin-clients-none\""), "{html}");

    let registered = varco_app::clients::register(
        t.app(),
        varco_app::clients::ClientRegistration {
            name: "Registro elettronico".into(),
            kind: varco_app::clients::ClientKind::Confidential,
            redirect_uris: vec!["https://registro.example.it/callback".into()],
            post_logout_redirect_uris: Vec::new(),
            scopes: Vec::new(),
            schools: vec![OTHER_SCHOOL.into()],
            first_party: false,
            id_token_alg: varco_oidc::Alg::Rs256,
            pairwise: false,
            backchannel_logout_uri: None,
            jwks: None,
        },
        &Actor::Cli,
    )
    .await
    .expect("registered");
    let secret = registered.secret.expect("a confidential client's secret");
    let stored = varco_app::clients::find(t.app(), &registered.client_id)
        .await
        .expect("stored");

    let html = get(&t, &admin, "/admin/clients").await.text().await.expect("html");
    assert!(
        html.contains(&format!("data-client-id=\"{}\"", registered.client_id)),
        "{html}"
    );
    assert!(html.contains("Registro elettronico"), "{html}");
    // Escaped like every value on a page ('/' included).
    assert!(
        html.contains("https:&#x2f;&#x2f;registro.example.it&#x2f;callback"),
        "{html}"
    );
    assert!(html.contains(OTHER_SCHOOL), "{html}");
    assert!(html.contains("Chiede il consenso al primo accesso"), "{html}");
    assert!(!html.contains(&secret), "never the secret");
    assert!(
        !html.contains(stored.secret_hash.as_deref().expect("hash")),
        "never its hash"
    );

    let desk = t.sign_in("sara.segreteria", PASSWORD).await;
    assert_eq!(get(&t, &desk, "/admin/clients").await.status(), StatusCode::NOT_FOUND);
    t.stop().await;
}
