//! Public email-change requests: the form (multipart, checks by content,
//! size limits, nothing stored on a refusal), the desk's queue scoped to its
//! school, the audited document, approval through the new address's link,
//! rejection with a reason, retention, and the JSON API.

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use varco_app::{Actor, RequestContext};
use varco_domain::Role;

use crate::harness::{Backend, Options, PASSWORD, SCHOOL, TestApp, both_backends, client, tax_code};
use crate::kit::{MAIL_WAIT, input_value, spawn_with_smtp_and};
use crate::smtp::{Received, SmtpSink};

const OTHER_SCHOOL: &str = "CZIC813004";
const NEW_EMAIL: &str = "genitore.nuovo@example.org";
const OLD_EMAIL: &str = "genitore.vecchio@example.org";

/// A small PDF whose body holds a marker that must never appear on disk.
fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\nPLAINTEXT-MARKER-CARTA-IDENTITA-4711\n%%EOF\n".to_vec()
}

fn png() -> Vec<u8> {
    let mut bytes = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    bytes.extend_from_slice(b"\0\0\0\rIHDR PNG-MARKER-5813");
    bytes
}

/// The form's text fields, for a request about `tax_code`.
fn fields(tax: &str) -> Vec<(&'static str, String)> {
    vec![
        ("school", SCHOOL.to_owned()),
        ("student_first_name", "Luca".to_owned()),
        ("student_last_name", "Bianchi".to_owned()),
        ("school_order", "primaria".to_owned()),
        ("class_name", "3B".to_owned()),
        ("building", "Plesso Garibaldi".to_owned()),
        ("requester_first_name", "Maria".to_owned()),
        ("requester_last_name", "Bianchi".to_owned()),
        ("tax_code", tax.to_owned()),
        ("new_email", NEW_EMAIL.to_owned()),
        ("new_email_confirm", NEW_EMAIL.to_owned()),
        ("phone", "+39 333 123 4567".to_owned()),
        ("consent", "yes".to_owned()),
    ]
}

/// A refused submission: what it is, its fields, its document, the status
/// and a piece of the message expected.
type Case<'a> = (
    &'a str,
    Vec<(&'static str, String)>,
    Option<(&'a str, &'a str, &'a [u8])>,
    StatusCode,
    &'a str,
);

const BOUNDARY: &str = "----varco-test-boundary-7d1f";

/// A multipart body: the fields, then the document (if any) under its
/// declared name and type.
fn multipart(fields: &[(&str, String)], document: Option<(&str, &str, &[u8])>) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    if let Some((file_name, content_type, bytes)) = document {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"document\"; filename=\"{file_name}\"\r\n\
                 Content-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// A browser on the form: its CSRF token.
async fn open_form(t: &TestApp, browser: &reqwest::Client) -> String {
    let r = browser
        .get(t.url("/requests/email-change"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("enctype=\"multipart/form-data\""), "{html}");
    input_value(&html, "csrf")
}

/// Posts the form; the status and the page.
async fn post_form(
    t: &TestApp,
    browser: &reqwest::Client,
    mut fields: Vec<(&'static str, String)>,
    document: Option<(&str, &str, &[u8])>,
) -> (StatusCode, String) {
    let csrf = open_form(t, browser).await;
    fields.insert(0, ("csrf", csrf));
    let r = browser
        .post(t.url("/requests/email-change"))
        .header("origin", &t.base)
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(multipart(&fields, document))
        .send()
        .await
        .expect("request");
    let status = r.status();
    (status, r.text().await.unwrap_or_default())
}

/// Files a good request with a PDF; the number and the status path.
async fn file_request(t: &TestApp, tax: &str) -> (String, String) {
    let (status, page) = post_form(
        t,
        &client(),
        fields(tax),
        Some(("carta.pdf", "application/pdf", &pdf())),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    // Pages escape `/` in values.
    let page = page.replace("&#x2f;", "/");
    let number = page
        .split("varco-request-number\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("number")
        .to_owned();
    let start = page.find("/requests/email-change/status/").expect("status link");
    let path: String = page[start..].chars().take_while(|c| *c != '"' && *c != '<').collect();
    (number, path)
}

fn documents_dir(t: &TestApp) -> PathBuf {
    t.app().settings.requests.documents_dir.clone()
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

async fn count_requests(t: &TestApp) -> i64 {
    let mut tx = t.app().store.begin_read().await.unwrap();
    let n = tx.count_requests().await.unwrap();
    tx.commit().await.unwrap();
    n
}

/// The id of the request numbered `number`.
async fn request_id(t: &TestApp, number: &str) -> i64 {
    let mut tx = t.app().store.begin_read().await.unwrap();
    let all = tx.list_requests(None, None, 100).await.unwrap();
    tx.commit().await.unwrap();
    all.into_iter().find(|r| r.number == number).expect("request").id
}

async fn add_other_school(t: &TestApp) {
    varco_app::schools::add(
        t.app(),
        &Actor::Cli,
        &RequestContext::default(),
        &varco_app::schools::AddSchool {
            code: OTHER_SCHOOL.into(),
            name: "IC Catanzaro Nord".into(),
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

async fn grant_desk(t: &TestApp, user_code: &str, school: &str) {
    varco_app::accounts::set_role(
        t.app(),
        &Actor::Cli,
        &RequestContext::default(),
        user_code,
        Role::Desk,
        Some(school),
        true,
    )
    .await
    .expect("role granted");
}

/// The messages to `to`, waiting until at least `n` arrived.
async fn mail_to(sink: &SmtpSink, to: &str, n: usize) -> Vec<Received> {
    let deadline = std::time::Instant::now() + MAIL_WAIT;
    loop {
        let mine: Vec<Received> = sink
            .messages()
            .into_iter()
            .filter(|m| m.header("To").as_deref() == Some(to))
            .collect();
        if mine.len() >= n {
            return mine;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} messages to {to} never came ({} did)",
            mine.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn no_limit(c: &mut varco::config::Config) {
    c.rate_limits.requests_per_minute = 0;
}

async fn submit_ok_mails_and_encrypts(backend: Backend) {
    let Some((t, sink)) = spawn_with_smtp_and(backend, no_limit).await else {
        return;
    };
    let parent = t.add_account(1, OLD_EMAIL, None, Some(PASSWORD)).await;
    let (number, status_path) = file_request(&t, &parent.tax_code).await;
    assert!(
        number.starts_with("R-20") && number.len() == "R-2027-XXXXXX".len(),
        "{number}"
    );

    // The requester hears at the new address, with the number and the status link.
    let receipt = &mail_to(&sink, NEW_EMAIL, 1).await[0];
    assert!(receipt.text().contains(&number), "{}", receipt.text());
    assert!(
        receipt.text().contains(&format!("{}{status_path}", t.base)),
        "{}",
        receipt.text()
    );
    // The school's mailbox hears too, without the document or the tax code.
    let notice = &mail_to(&sink, "rmic81200x@istruzione.it", 1).await[0];
    assert!(notice.text().contains(&number));
    assert!(
        !notice.raw.contains("PLAINTEXT-MARKER"),
        "the document leaked into the notice"
    );
    assert!(!notice.raw.to_ascii_lowercase().contains("attachment"));
    assert!(!notice.text().contains(&parent.tax_code));
    // The old address hears nothing yet: nobody has looked at the request.
    assert!(
        sink.messages()
            .iter()
            .all(|m| m.header("To").as_deref() != Some(OLD_EMAIL))
    );

    // The status page says received.
    let status = t.html(&status_path).await;
    assert!(status.contains("data-status=\"received\""), "{status}");
    assert!(status.contains(&number));
    let r = client()
        .get(t.url("/requests/email-change/status/not-a-real-token-0000000000000000000000"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // One encrypted file: the plaintext does not appear in it.
    let files = files_in(&documents_dir(&t));
    assert_eq!(files.len(), 1, "{files:?}");
    let stored = std::fs::read(&files[0]).unwrap();
    assert!(!stored.windows(16).any(|w| w == b"PLAINTEXT-MARKER"));
    assert!(!stored.starts_with(b"%PDF"));
    assert!(stored.len() > pdf().len());

    // A request about nobody Varco knows gets the same answer, and is queued.
    let (other, other_path) = file_request(&t, &tax_code(777)).await;
    assert_ne!(other, number);
    assert_ne!(other_path, status_path);
    assert_eq!(count_requests(&t).await, 2);
    assert_eq!(files_in(&documents_dir(&t)).len(), 2);
    mail_to(&sink, NEW_EMAIL, 2).await;
    let audit = varco_app::audit::list(t.app(), None, 100).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.event == "email_change_request_submitted" && e.actor == "anonymous")
            .count(),
        2
    );
    t.stop().await;
}

async fn bad_inputs_store_nothing(backend: Backend) {
    let Some(t) = TestApp::spawn_with(
        backend,
        Options {
            tweak: Box::new(no_limit),
            ..Options::default()
        },
    )
    .await
    else {
        return;
    };
    t.add_school().await;
    let tax = tax_code(1);
    let exe = b"MZ\x90\x00\x03\x00\x00\x00 This program cannot be run in DOS mode.".to_vec();
    let big = {
        let mut b = pdf();
        b.resize(6 * 1024 * 1024, b'a');
        b
    };
    let mut mismatched = fields(&tax);
    mismatched[10].1 = "altro@example.org".into();
    let mut bad_tax = fields(&tax);
    bad_tax[8].1 = "RSSMRA80A01H501X".into();
    let no_consent: Vec<_> = fields(&tax).into_iter().filter(|(n, _)| *n != "consent").collect();
    let good = pdf();
    let cases: Vec<Case> = vec![
        (
            "an executable renamed .pdf",
            fields(&tax),
            Some(("carta.pdf", "application/pdf", &exe)),
            StatusCode::BAD_REQUEST,
            "Il file non è un PDF, un JPEG o un PNG",
        ),
        (
            "a 6 MB file",
            fields(&tax),
            Some(("carta.pdf", "application/pdf", &big)),
            StatusCode::PAYLOAD_TOO_LARGE,
            "Il file è troppo grande",
        ),
        (
            "mismatched emails",
            mismatched,
            Some(("carta.pdf", "application/pdf", &good)),
            StatusCode::BAD_REQUEST,
            "I due indirizzi non coincidono",
        ),
        (
            "an invalid tax code",
            bad_tax,
            Some(("carta.pdf", "application/pdf", &good)),
            StatusCode::BAD_REQUEST,
            "Il codice fiscale non è valido",
        ),
        (
            "no consent",
            no_consent,
            Some(("carta.pdf", "application/pdf", &good)),
            StatusCode::BAD_REQUEST,
            "serve il consenso",
        ),
        (
            "no document",
            fields(&tax),
            None,
            StatusCode::BAD_REQUEST,
            "Allega il documento",
        ),
    ];
    for (what, fields, document, expected, message) in cases {
        let (status, page) = post_form(&t, &client(), fields, document).await;
        assert_eq!(status, expected, "{what}: {page}");
        assert!(page.contains(message), "{what}: {page}");
        assert!(page.contains("id=\"error-summary\""), "{what}: no error summary");
        assert_eq!(count_requests(&t).await, 0, "{what}: a row was stored");
        assert!(files_in(&documents_dir(&t)).is_empty(), "{what}: a file was stored");
    }
    // The typed values come back (never the document).
    let mut mismatched = fields(&tax);
    mismatched[10].1 = "altro@example.org".into();
    let (_, page) = post_form(
        &t,
        &client(),
        mismatched,
        Some(("carta.pdf", "application/pdf", &pdf())),
    )
    .await;
    assert!(page.contains("value=\"Plesso Garibaldi\""), "{page}");

    // A 50 MB body is refused from its announced length, before it is read.
    let browser = client();
    let csrf = open_form(&t, &browser).await;
    let mut huge = multipart(&[("csrf", csrf)], None);
    huge.resize(50 * 1024 * 1024, b'x');
    match browser
        .post(t.url("/requests/email-change"))
        .header("origin", &t.base)
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(huge)
        .send()
        .await
    {
        Ok(r) => {
            assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
            assert!(r.text().await.unwrap().contains("Il file è troppo grande"));
        }
        // The server may close the connection while the client still sends.
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
    assert_eq!(count_requests(&t).await, 0);

    // A PNG declared as a PDF is fine: the content decides.
    let (status, page) = post_form(
        &t,
        &client(),
        fields(&tax),
        Some(("carta.pdf", "application/pdf", &png())),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(count_requests(&t).await, 1);
    let mut tx = t.app().store.begin_read().await.unwrap();
    let stored = tx.list_requests(None, None, 10).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(stored[0].document_type, "png");

    // English is complete too.
    let r = client()
        .get(t.url("/requests/email-change"))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Ask to change the registered email address")
    );
    t.stop().await;
}

/// Makes every insert of a request fail inside the database.
async fn refuse_request_rows(t: &TestApp, backend: Backend) {
    use sqlx::Connection;
    match backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(t.database_url()).await.unwrap();
            sqlx::query(
                "CREATE TRIGGER refuse_requests BEFORE INSERT ON email_change_requests \
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            conn.close().await.ok();
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(t.database_url()).await.unwrap();
            for statement in [
                "CREATE FUNCTION refuse_requests() RETURNS trigger AS $$ BEGIN \
                 RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql",
                "CREATE TRIGGER refuse_requests BEFORE INSERT ON email_change_requests \
                 FOR EACH ROW EXECUTE FUNCTION refuse_requests()",
            ] {
                sqlx::query(statement).execute(&mut conn).await.unwrap();
            }
            conn.close().await.ok();
        }
    }
}

async fn a_failed_transaction_leaves_no_file(backend: Backend) {
    let Some(t) = TestApp::spawn_with(
        backend,
        Options {
            tweak: Box::new(no_limit),
            ..Options::default()
        },
    )
    .await
    else {
        return;
    };
    t.add_school().await;
    refuse_request_rows(&t, backend).await;
    let (status, _) = post_form(
        &t,
        &client(),
        fields(&tax_code(1)),
        Some(("c.pdf", "application/pdf", &pdf())),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(count_requests(&t).await, 0);
    // The document was written first, then removed when the row failed.
    assert!(documents_dir(&t).is_dir(), "the document was never written");
    assert!(
        files_in(&documents_dir(&t)).is_empty(),
        "a half-written request left its file"
    );
    t.stop().await;
}

async fn a_flood_is_answered_429(backend: Backend) {
    let Some(t) = TestApp::spawn_with(
        backend,
        Options {
            tweak: Box::new(|c| c.rate_limits.requests_per_minute = 2),
            ..Options::default()
        },
    )
    .await
    else {
        return;
    };
    t.add_school().await;
    for _ in 0..2 {
        let (status, _) = post_form(
            &t,
            &client(),
            fields(&tax_code(1)),
            Some(("c.pdf", "application/pdf", &pdf())),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let browser = client();
    let csrf = open_form(&t, &browser).await;
    let mut with_csrf = fields(&tax_code(1));
    with_csrf.insert(0, ("csrf", csrf));
    let r = browser
        .post(t.url("/requests/email-change"))
        .header("origin", &t.base)
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(multipart(&with_csrf, Some(("c.pdf", "application/pdf", &pdf()))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().get("retry-after").is_some());
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Troppe richieste da questa connessione")
    );
    assert_eq!(count_requests(&t).await, 2);
    t.stop().await;
}

/// Signs in through the API and returns the client with its session.
async fn operator_client(t: &TestApp, login: &str) -> reqwest::Client {
    t.sign_in(login, PASSWORD).await.client
}

async fn csrf_of(t: &TestApp, c: &reqwest::Client, path: &str) -> String {
    input_value(&t.html_with(c, path).await, "csrf")
}

async fn operators_see_only_their_school_and_approve(backend: Backend) {
    let Some((t, sink)) = spawn_with_smtp_and(backend, no_limit).await else {
        return;
    };
    add_other_school(&t).await;
    let parent = t.add_account(1, OLD_EMAIL, None, Some(PASSWORD)).await;
    let desk = t.add_account(2, "segreteria@example.org", None, Some(PASSWORD)).await;
    let stranger = t
        .add_account(4, "altra.segreteria@example.org", None, Some(PASSWORD))
        .await;
    grant_desk(&t, &desk.user_code, SCHOOL).await;
    grant_desk(&t, &stranger.user_code, OTHER_SCHOOL).await;
    let (number, status_path) = file_request(&t, &parent.tax_code).await;
    let id = request_id(&t, &number).await;

    // An operator of another school: 404 everywhere, audited.
    let other = operator_client(&t, &stranger.user_code).await;
    let list = t.html_with(&other, "/desk/requests").await;
    assert!(!list.contains(&number), "{list}");
    for path in [format!("/desk/requests/{id}"), format!("/desk/requests/{id}/document")] {
        let r = other.get(t.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(!r.text().await.unwrap().contains("PLAINTEXT-MARKER"));
    }
    let csrf = csrf_of(&t, &other, "/account/email").await;
    let r = other
        .post(t.url(&format!("/desk/requests/{id}/approve")))
        .header("origin", &t.base)
        .form(&[("csrf", csrf.as_str()), ("account", parent.user_code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let audit = varco_app::audit::list(t.app(), None, 200).await.unwrap();
    let refused: Vec<_> = audit
        .iter()
        .filter(|e| e.event == "email_change_request_out_of_scope")
        .collect();
    assert_eq!(refused.len(), 3, "{audit:?}");
    assert!(
        refused
            .iter()
            .all(|e| e.actor == stranger.user_code && e.outcome == "failure")
    );
    assert_eq!(refused[0].detail.as_deref(), Some(format!("request={number}").as_str()));

    // A parent is no operator: the desk does not exist for them.
    let family = operator_client(&t, &parent.user_code).await;
    let r = family.get(t.url("/desk/requests")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Nobody signed in is sent to sign in.
    let r = client().get(t.url("/desk/requests")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // The school's operator: the queue, the detail with the suggested account.
    let ours = operator_client(&t, &desk.user_code).await;
    let list = t.html_with(&ours, "/desk/requests").await;
    assert!(list.contains(&number), "{list}");
    let detail = t.html_with(&ours, &format!("/desk/requests/{id}")).await;
    assert!(
        detail.contains(&format!("data-user-code=\"{}\"", parent.user_code)),
        "{detail}"
    );
    assert!(detail.contains(NEW_EMAIL));

    // The document: decrypted, as an attachment, never sniffed; audited.
    let r = ours
        .get(t.url(&format!("/desk/requests/{id}/document")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(r.bytes().await.unwrap().to_vec(), pdf());
    let audit = varco_app::audit::list(t.app(), None, 200).await.unwrap();
    let views: Vec<_> = audit
        .iter()
        .filter(|e| e.event == "email_change_request_document_viewed")
        .collect();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].actor, desk.user_code);

    // A user code of no account of the school is refused with a message.
    let csrf = csrf_of(&t, &ours, &format!("/desk/requests/{id}")).await;
    let r = ours
        .post(t.url(&format!("/desk/requests/{id}/approve")))
        .header("origin", &t.base)
        .form(&[("csrf", csrf.as_str()), ("account", "ZZZZZZZZZ")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Nessun account attivo di questa scuola")
    );

    // Approve: nothing changes until the new address confirms.
    let r = ours
        .post(t.url(&format!("/desk/requests/{id}/approve")))
        .header("origin", &t.base)
        .form(&[("csrf", csrf.as_str()), ("account", parent.user_code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let shown = varco_app::accounts::show(t.app(), &parent.user_code).await.unwrap();
    assert_eq!(shown.email.as_deref(), Some(OLD_EMAIL));
    assert!(t.html(&status_path).await.contains("data-status=\"approved\""));
    // The old address is told at once.
    let told = mail_to(&sink, OLD_EMAIL, 1).await;
    assert!(told[0].text().contains(&parent.user_code), "{}", told[0].text());
    // A second decision is refused.
    let r = ours
        .post(t.url(&format!("/desk/requests/{id}/reject")))
        .header("origin", &t.base)
        .form(&[("csrf", csrf.as_str()), ("reason", "ripensamento")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let token = sink.link_to(NEW_EMAIL, "/account/email/confirm", 1).await;
    assert_eq!(t.confirm_email_change(&token).await.unwrap(), NEW_EMAIL);
    let shown = varco_app::accounts::show(t.app(), &parent.user_code).await.unwrap();
    assert_eq!(shown.email.as_deref(), Some(NEW_EMAIL));
    // The old address is told of the change, and a reset link follows at the new one.
    sink.link_to(OLD_EMAIL, "/account/email/undo", 1).await;
    let reset = sink.link_to(NEW_EMAIL, "/password/reset", 1).await;
    assert_eq!(
        t.reset(&reset, "una nuova password lunga e sicura").await,
        StatusCode::NO_CONTENT
    );
    let audit = t.audit_of(&parent.user_code).await;
    assert!(
        audit
            .iter()
            .any(|e| e.event == "email_change_request_approved" && e.actor == desk.user_code)
    );
    assert!(audit.iter().any(|e| e.event == "email_changed"));
    t.stop().await;
}

async fn reject_mails_the_reason(backend: Backend) {
    let Some((t, sink)) = spawn_with_smtp_and(backend, no_limit).await else {
        return;
    };
    let desk = t.add_account(2, "segreteria@example.org", None, Some(PASSWORD)).await;
    grant_desk(&t, &desk.user_code, SCHOOL).await;
    let (number, status_path) = file_request(&t, &tax_code(5)).await;
    let id = request_id(&t, &number).await;
    let ours = operator_client(&t, &desk.user_code).await;
    let csrf = csrf_of(&t, &ours, &format!("/desk/requests/{id}")).await;
    // A reason is required.
    let r = ours
        .post(t.url(&format!("/desk/requests/{id}/reject")))
        .header("origin", &t.base)
        .form(&[("csrf", csrf.as_str()), ("reason", "  ")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("Scrivi la motivazione"));
    let r = ours
        .post(t.url(&format!("/desk/requests/{id}/reject")))
        .header("origin", &t.base)
        .form(&[
            ("csrf", csrf.as_str()),
            ("reason", "Il documento allegato non è leggibile."),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let mails = mail_to(&sink, NEW_EMAIL, 2).await;
    let rejection = mails
        .iter()
        .find(|m| m.text().contains("respinto"))
        .expect("rejection mail");
    assert!(rejection.text().contains("Il documento allegato non è leggibile."));
    assert!(rejection.text().contains(&number));
    let status = t.html(&status_path).await;
    assert!(status.contains("data-status=\"rejected\""), "{status}");
    assert!(status.contains("Il documento allegato non è leggibile."));
    let audit = varco_app::audit::list(t.app(), None, 100).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.event == "email_change_request_rejected" && e.actor == desk.user_code)
    );
    t.stop().await;
}

async fn retention_deletes_documents_after_the_period(backend: Backend) {
    let Some(t) = TestApp::spawn_with(
        backend,
        Options {
            tweak: Box::new(|c| {
                c.rate_limits.requests_per_minute = 0;
                c.requests.retention_days = 30;
            }),
            ..Options::default()
        },
    )
    .await
    else {
        return;
    };
    t.add_school().await;
    let desk = t.add_account(2, "segreteria@example.org", None, Some(PASSWORD)).await;
    grant_desk(&t, &desk.user_code, SCHOOL).await;
    let (decided, _) = file_request(&t, &tax_code(5)).await;
    let (pending, _) = file_request(&t, &tax_code(6)).await;
    let decided_id = request_id(&t, &decided).await;
    let ours = operator_client(&t, &desk.user_code).await;
    let csrf = csrf_of(&t, &ours, &format!("/desk/requests/{decided_id}")).await;
    let r = ours
        .post(t.url(&format!("/desk/requests/{decided_id}/reject")))
        .header("origin", &t.base)
        .form(&[("csrf", csrf.as_str()), ("reason", "Documento scaduto.")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(files_in(&documents_dir(&t)).len(), 2);

    t.clock.advance(29 * 86_400);
    let report = varco_app::jobs::retention(t.app()).await.unwrap();
    assert_eq!(report.deleted, 0);
    assert_eq!(files_in(&documents_dir(&t)).len(), 2);

    t.clock.advance(2 * 86_400);
    let report = varco_app::jobs::retention(t.app()).await.unwrap();
    assert_eq!(report.deleted, 1);
    assert_eq!(
        files_in(&documents_dir(&t)).len(),
        1,
        "the undecided request keeps its document"
    );
    // Run again: nothing more to do.
    assert_eq!(varco_app::jobs::retention(t.app()).await.unwrap().deleted, 0);
    assert!(varco_app::jobs::JOBS.contains(&"retention"));

    let ours = operator_client(&t, &desk.user_code).await;
    let r = ours
        .get(t.url(&format!("/desk/requests/{decided_id}/document")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let mut tx = t.app().store.begin_read().await.unwrap();
    let row = tx.request_by_id(decided_id).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    assert!(row.document_file.is_none() && row.requester_tax_code.is_empty() && row.phone.is_empty());
    let audit = varco_app::audit::list(t.app(), None, 100).await.unwrap();
    let deleted: Vec<_> = audit
        .iter()
        .filter(|e| e.event == "email_change_request_document_deleted")
        .collect();
    assert_eq!(deleted.len(), 1);
    assert_eq!(
        deleted[0].detail.as_deref(),
        Some(format!("request={decided}").as_str())
    );
    let _ = pending;
    t.stop().await;
}

async fn json_api_lists_shows_and_decides(backend: Backend) {
    let Some(t) = TestApp::spawn_with(
        backend,
        Options {
            tweak: Box::new(no_limit),
            ..Options::default()
        },
    )
    .await
    else {
        return;
    };
    t.add_school().await;
    add_other_school(&t).await;
    let parent = t.add_account(1, OLD_EMAIL, None, Some(PASSWORD)).await;
    let desk = t.add_account(2, "segreteria@example.org", None, Some(PASSWORD)).await;
    let stranger = t
        .add_account(4, "altra.segreteria@example.org", None, Some(PASSWORD))
        .await;
    grant_desk(&t, &desk.user_code, SCHOOL).await;
    grant_desk(&t, &stranger.user_code, OTHER_SCHOOL).await;
    let (first, _) = file_request(&t, &parent.tax_code).await;
    let (second, _) = file_request(&t, &tax_code(9)).await;
    let first_id = request_id(&t, &first).await;
    let second_id = request_id(&t, &second).await;
    let api = |path: &str| t.url(&format!("/api/v1/desk/requests{path}"));

    let r = client().get(api("")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let family = operator_client(&t, &parent.user_code).await;
    assert_eq!(
        family.get(api("")).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    let ours = operator_client(&t, &desk.user_code).await;
    let list: serde_json::Value = ours.get(api("")).send().await.unwrap().json().await.unwrap();
    let numbers: Vec<&str> = list["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, [first.as_str(), second.as_str()]);
    let r = ours.get(api("?status=bogus")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    for path in ["/abc", "/0", "/999999", "/-1"] {
        assert_eq!(
            ours.get(api(path)).send().await.unwrap().status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }

    let other = operator_client(&t, &stranger.user_code).await;
    let r = other.get(api(&format!("/{first_id}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = other
        .post(api(&format!("/{first_id}/reject")))
        .json(&serde_json::json!({ "reason": "no" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let other_list: serde_json::Value = other
        .get(api("?status=all"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(other_list["requests"].as_array().unwrap().len(), 0);

    let detail: serde_json::Value = ours
        .get(api(&format!("/{first_id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detail["request"]["number"], first.as_str());
    assert_eq!(detail["request"]["status"], "received");
    let candidate = &detail["candidates"][0];
    assert_eq!(candidate["user_code"], parent.user_code.as_str());
    assert_eq!(candidate["matched_by"], "tax_code");

    // The student's own account is suggested by name (case aside).
    let student = varco_app::accounts::add(
        t.app(),
        &Actor::Cli,
        &RequestContext::default(),
        &varco_app::accounts::AddAccount {
            school_code: SCHOOL.into(),
            kind: varco_domain::account::AccountKind::Family,
            first_name: "LUCA".into(),
            last_name: "Bianchi".into(),
            tax_code: tax_code(30),
            email: None,
            username: None,
        },
        None,
    )
    .await
    .expect("student added");
    let detail: serde_json::Value = ours
        .get(api(&format!("/{second_id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let candidates = detail["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 1, "{detail}");
    assert_eq!(candidates[0]["user_code"], student.user_code.as_str());
    assert_eq!(candidates[0]["matched_by"], "name");

    let r = ours
        .post(api(&format!("/{first_id}/approve")))
        .json(&serde_json::json!({ "account": parent.user_code }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let approved: serde_json::Value = r.json().await.unwrap();
    assert_eq!(approved["status"], "approved");
    let r = ours
        .post(api(&format!("/{first_id}/approve")))
        .json(&serde_json::json!({ "account": parent.user_code }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);

    let r = ours
        .post(api(&format!("/{second_id}/reject")))
        .json(&serde_json::json!({ "reason": "" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = ours
        .post(api(&format!("/{second_id}/reject")))
        .json(&serde_json::json!({ "reason": "Nessuno studente con questo nome." }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let rejected: serde_json::Value = r.json().await.unwrap();
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["reason"], "Nessuno studente con questo nome.");
    let pending: serde_json::Value = ours.get(api("")).send().await.unwrap().json().await.unwrap();
    assert_eq!(pending["requests"].as_array().unwrap().len(), 0);

    let doc: serde_json::Value = client()
        .get(t.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/api/v1/desk/requests",
        "/api/v1/desk/requests/{id}",
        "/api/v1/desk/requests/{id}/approve",
        "/api/v1/desk/requests/{id}/reject",
        "/api/v1/login",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is not documented");
    }
    t.stop().await;
}

both_backends!(
    submit_ok_mails_and_encrypts,
    bad_inputs_store_nothing,
    a_flood_is_answered_429,
    operators_see_only_their_school_and_approve,
    reject_mails_the_reason,
    retention_deletes_documents_after_the_period,
    json_api_lists_shows_and_decides,
    a_failed_transaction_leaves_no_file,
);
