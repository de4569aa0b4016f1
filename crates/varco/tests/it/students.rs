//! Students and their guardians (issue 11, part 2): the students roster
//! import (through the use case and the real `varco import --students`),
//! `/account` showing a guardian their children, the desk listing,
//! searching and unlinking them, and the `students` scope and claim
//! through a full code flow — on both databases.

use std::process::{Command, Output, Stdio};

use reqwest::StatusCode;
use serde_json::{Value, json};
use varco_app::accounts::AccountView;
use varco_app::student_import::{StudentImportError, StudentImportReport, apply, read_students};
use varco_app::{Actor, RequestContext};
use varco_domain::account::{AccountKind, Role};
use varco_oidc::STUDENTS_CLAIM;

use crate::desk::{grant, person};
use crate::harness::{Backend, Database, PASSWORD, SCHOOL, TestApp, both_backends, tax_code};
use crate::kit::{SignedIn, input_value};
use crate::oidc::{
    REDIRECT, Rp, auth_query, authorize, exchange, location, params_of, pkce, register, registration, userinfo,
};

both_backends!(
    a_students_roster_is_imported_idempotently_and_links_follow_the_file,
    a_file_with_errors_imports_nothing_and_says_where,
    varco_import_students_from_the_command_line,
    the_desk_lists_searches_and_unlinks_students,
    the_desk_api_lists_searches_and_unlinks_students,
    the_students_claim_is_pseudonymous_per_client_and_needs_the_scope,
);

/// The guardians' tax codes: accounts 51 and 53 (family), 52 (staff).
const MARIA: u32 = 51;
const PAOLO: u32 = 53;
const STAFF: u32 = 52;
/// The students' tax codes.
const LUCA: u32 = 61;
const ANNA: u32 = 62;

/// The school, two family accounts (Maria and Paolo Rossi) and a staff one.
async fn families(t: &TestApp) {
    t.add_school().await;
    person(t, SCHOOL, AccountKind::Family, MARIA, "Maria", "Rossi").await;
    person(t, SCHOOL, AccountKind::Family, PAOLO, "Paolo", "Rossi").await;
    person(t, SCHOOL, AccountKind::Staff, STAFF, "Sergio", "Docente").await;
}

/// Luca (guardians Maria and Paolo) and Anna (guardian Maria), in Italian.
fn good_file() -> String {
    format!(
        "\u{feff}codice_fiscale;nome;cognome;ordine;classe;plesso;cf_genitore1;cf_genitore2\n\
         {};Luca;Verdi;secondaria di I grado;2B;Plesso Collodi;{};{}\n\
         {};Anna;Verdi;infanzia;Sezione A;;{};\n",
        tax_code(LUCA),
        tax_code(MARIA),
        tax_code(PAOLO),
        tax_code(ANNA),
        tax_code(MARIA),
    )
}

async fn import(t: &TestApp, text: &str, skip_invalid: bool) -> Result<StudentImportReport, StudentImportError> {
    let roster = read_students(text.as_bytes())?;
    apply(
        t.app(),
        &Actor::Cli,
        &RequestContext::default(),
        SCHOOL,
        roster,
        skip_invalid,
    )
    .await
}

fn counts(r: &StudentImportReport) -> [usize; 6] {
    [
        r.rows,
        r.created,
        r.updated,
        r.unchanged,
        r.links_added,
        r.links_removed,
    ]
}

/// How many students the test school has.
async fn students_in_school(t: &TestApp) -> i64 {
    let mut tx = t.app().store.begin_read().await.expect("read");
    let school = tx.school_by_code(SCHOOL).await.expect("school").expect("exists");
    tx.count_students(school.id).await.expect("count")
}

/// The (first name, class) of the children account `n` sees, through the use case.
async fn children_of(t: &TestApp, n: u32) -> Vec<(String, String)> {
    let id = {
        let mut tx = t.app().store.read().await.expect("read");
        tx.accounts_by_tax_code(&tax_code(n))
            .await
            .expect("accounts")
            .pop()
            .expect("account")
            .id
    };
    varco_app::students::children(t.app(), id)
        .await
        .expect("children")
        .into_iter()
        .map(|c| (c.first_name, c.class_name))
        .collect()
}

async fn user_code_of(t: &TestApp, n: u32) -> String {
    let mut tx = t.app().store.read().await.expect("read");
    tx.accounts_by_tax_code(&tax_code(n))
        .await
        .expect("accounts")
        .pop()
        .expect("account")
        .user_code
        .to_string()
}

/// The details of the events `name` of an account, oldest first.
async fn details(t: &TestApp, user_code: &str, name: &str) -> Vec<String> {
    let mut found: Vec<String> = t
        .audit_of(user_code)
        .await
        .into_iter()
        .filter(|e| e.event == name)
        .map(|e| e.detail.unwrap_or_default())
        .collect();
    found.reverse();
    found
}

async fn a_students_roster_is_imported_idempotently_and_links_follow_the_file(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else {
        return;
    };
    families(&t).await;
    let report = import(&t, &good_file(), false).await.expect("imported");
    assert_eq!(counts(&report), [2, 2, 0, 0, 3, 0], "{report:?}");
    assert!(report.skipped.is_empty());
    assert_eq!(students_in_school(&t).await, 2);
    assert_eq!(
        children_of(&t, MARIA).await,
        [("Anna".into(), "Sezione A".into()), ("Luca".into(), "2B".into())]
    );
    assert_eq!(children_of(&t, PAOLO).await, [("Luca".into(), "2B".into())]);
    assert!(children_of(&t, STAFF).await.is_empty());

    // The same file again changes nothing.
    let report = import(&t, &good_file(), false).await.expect("imported");
    assert_eq!(counts(&report), [2, 0, 0, 2, 0, 0], "{report:?}");
    assert_eq!(students_in_school(&t).await, 2, "no second student for a tax code");

    // Luca moves to 3B and the file drops Paolo as his guardian; English
    // header, commas, the stored spelling of the order.
    let next_year = format!(
        "tax_code,first_name,last_name,school_order,class_name,building,guardian1_tax_code,guardian2_tax_code\n\
         {},Luca,Verdi,lower_secondary,3B,Plesso Collodi,{},\n\
         {},Anna,Verdi,preschool,Sezione A,,{},\n",
        tax_code(LUCA),
        tax_code(MARIA),
        tax_code(ANNA),
        tax_code(MARIA),
    );
    let report = import(&t, &next_year, false).await.expect("imported");
    assert_eq!(counts(&report), [2, 0, 1, 1, 0, 1], "{report:?}");
    assert_eq!(children_of(&t, PAOLO).await, [], "the link the file dropped is gone");
    assert_eq!(
        children_of(&t, MARIA).await,
        [("Anna".into(), "Sezione A".into()), ("Luca".into(), "3B".into())]
    );
    let paolo = user_code_of(&t, PAOLO).await;
    let linked = details(&t, &paolo, "guardian_linked").await;
    let unlinked = details(&t, &paolo, "guardian_unlinked").await;
    assert_eq!(linked.len(), 1, "{linked:?}");
    assert!(linked[0].ends_with("via=roster_import"), "{linked:?}");
    assert_eq!(
        unlinked,
        [linked[0].clone()],
        "the same student, unlinked by the roster"
    );
    let school_events: Vec<(String, Option<String>)> = varco_app::audit::list(t.app(), None, 100)
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.event.starts_with("student"))
        .map(|e| (e.event, e.detail))
        .collect();
    let imports: Vec<&Option<String>> = school_events
        .iter()
        .filter(|(e, _)| e == "students_imported")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(imports.len(), 3);
    assert_eq!(
        imports[0].as_deref(),
        Some("school=RMIC81200X rows=2 created=0 updated=1 unchanged=1 links_added=0 links_removed=1 skipped=0"),
        "newest first"
    );
    assert_eq!(school_events.iter().filter(|(e, _)| e == "student_created").count(), 2);
    assert_eq!(school_events.iter().filter(|(e, _)| e == "student_changed").count(), 1);

    // A file without guardian columns updates the students and leaves the links.
    let no_guardians = format!(
        "cf;nome;cognome;ordine;classe\n{};Luca;Verdi;secondaria di primo grado;3C\n",
        tax_code(LUCA)
    );
    let report = import(&t, &no_guardians, false).await.expect("imported");
    assert_eq!(counts(&report), [1, 0, 1, 0, 0, 0], "{report:?}");
    assert_eq!(
        children_of(&t, MARIA).await,
        [("Anna".into(), "Sezione A".into()), ("Luca".into(), "3C".into())]
    );
    t.stop().await;
}

async fn a_file_with_errors_imports_nothing_and_says_where(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else {
        return;
    };
    families(&t).await;
    // Field errors: a bad school order (line 3) and a duplicate student (line 5).
    let text = format!(
        "tax_code;first_name;last_name;school_order;class_name;guardian1_tax_code\n\
         {};Luca;Verdi;primaria;2B;{}\n\
         {};Anna;Verdi;asilo nido;1A;{}\n\
         {};Bruno;Blu;primaria;1A;\n\
         {};Luca;Doppio;primaria;2B;\n",
        tax_code(LUCA),
        tax_code(MARIA),
        tax_code(ANNA),
        tax_code(MARIA),
        tax_code(63),
        tax_code(LUCA),
    );
    match import(&t, &text, false).await {
        Err(StudentImportError::InvalidRows(errors)) => {
            let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
            assert_eq!(lines, [3, 5], "{errors:?}");
            assert!(errors[0].reason.contains("school_order \"asilo nido\""), "{errors:?}");
            assert!(errors[1].reason.contains("already appears on line 2"), "{errors:?}");
        }
        other => panic!("expected invalid rows, got {other:?}"),
    }
    assert_eq!(students_in_school(&t).await, 0, "nothing written");

    // A guardian that is no family account of the school: an unknown tax
    // code (line 2) and a staff account's (line 4); checked before writing.
    let text = format!(
        "tax_code;first_name;last_name;school_order;class_name;guardian1_tax_code;guardian2_tax_code\n\
         {};Luca;Verdi;primaria;2B;{};{}\n\
         {};Anna;Verdi;primaria;1A;{};\n\
         {};Bruno;Blu;primaria;1A;{};\n",
        tax_code(LUCA),
        tax_code(MARIA),
        tax_code(99),
        tax_code(ANNA),
        tax_code(MARIA),
        tax_code(63),
        tax_code(STAFF),
    );
    match import(&t, &text, false).await {
        Err(StudentImportError::InvalidRows(errors)) => {
            let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
            assert_eq!(lines, [2, 4], "{errors:?}");
            assert!(
                errors[0].reason.contains(&tax_code(99))
                    && !errors[0].reason.contains(&tax_code(MARIA))
                    && errors[0]
                        .reason
                        .contains("matches no family account of school RMIC81200X"),
                "{errors:?}"
            );
            assert!(errors[1].reason.contains(&tax_code(STAFF)), "{errors:?}");
        }
        other => panic!("expected invalid rows, got {other:?}"),
    }
    assert_eq!(students_in_school(&t).await, 0, "nothing written");
    assert!(children_of(&t, MARIA).await.is_empty(), "no link written");

    // Skipping the invalid rows imports the valid one and lists the others.
    let report = import(&t, &text, true).await.expect("imported");
    assert_eq!(counts(&report), [1, 1, 0, 0, 1, 0], "{report:?}");
    let skipped: Vec<u64> = report.skipped.iter().map(|e| e.line).collect();
    assert_eq!(skipped, [2, 4]);
    assert_eq!(children_of(&t, MARIA).await, [("Anna".into(), "1A".into())]);

    // A school that does not exist.
    let roster = read_students(good_file().as_bytes()).expect("readable");
    let result = apply(
        t.app(),
        &Actor::Cli,
        &RequestContext::default(),
        "XXXX000000",
        roster,
        false,
    )
    .await;
    assert!(
        matches!(result, Err(StudentImportError::App(varco_app::AppError::NotFound(_)))),
        "{result:?}"
    );
    t.stop().await;
}

fn varco(db: &Database, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_varco"))
        .args(args)
        .env("VARCO_DATA_DIR", db.dir.path().join("data"))
        .env("VARCO_DATABASE_URL", &db.url)
        .env("VARCO_LOG", "warn")
        .env_remove("VARCO_CONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("run varco")
}

fn ok(db: &Database, args: &[&str]) -> String {
    let out = varco(db, args);
    assert!(
        out.status.success(),
        "varco {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn write(db: &Database, name: &str, content: &str) -> String {
    let path = db.dir.path().join(name);
    std::fs::write(&path, content).expect("write");
    path.display().to_string()
}

async fn varco_import_students_from_the_command_line(backend: Backend) {
    let Some(db) = Database::create(backend).await else {
        return;
    };
    ok(&db, &["school", "add", "--code", SCHOOL, "--name", "IC Via Roma"]);
    let accounts = write(
        &db,
        "accounts.csv",
        &format!(
            "tax_code;first_name;last_name;kind\n{};Maria;Rossi;family\n{};Paolo;Rossi;family\n",
            tax_code(MARIA),
            tax_code(PAOLO)
        ),
    );
    ok(&db, &["import", "--school", SCHOOL, "--no-activation-email", &accounts]);
    let students = write(&db, "students.csv", &good_file());
    let out = ok(&db, &["import", "--school", SCHOOL, "--students", &students]);
    assert_eq!(
        out.trim(),
        "rows: 2, created: 2, updated: 0, unchanged: 0, guardian links added: 3, guardian links removed: 0, skipped: 0"
    );
    let out = ok(&db, &["import", "--school", SCHOOL, "--students", &students]);
    assert!(out.contains("rows: 2, created: 0, updated: 0, unchanged: 2"), "{out}");
    let audit = ok(&db, &["audit", "--json", "--limit", "1000"]);
    assert_eq!(audit.matches("\"guardian_linked\"").count(), 3, "{audit}");
    assert_eq!(audit.matches("\"students_imported\"").count(), 2, "{audit}");

    // Errors: each with its line; nothing imported; the exit code says so.
    let bad = write(
        &db,
        "bad.csv",
        &format!(
            "tax_code;first_name;last_name;school_order;class_name;guardian1_tax_code\n\
             {};Bruno;Blu;terza elementare;1A;\n\
             {};Carla;Blu;primaria;1A;{}\n",
            tax_code(64),
            tax_code(65),
            tax_code(MARIA)
        ),
    );
    let out = varco(&db, &["import", "--school", SCHOOL, "--students", &bad]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("{bad}:2: school_order")), "{stderr}");
    assert!(stderr.contains("nothing was imported"), "{stderr}");
    let unknown = write(
        &db,
        "unknown.csv",
        &format!(
            "tax_code;first_name;last_name;school_order;class_name;guardian1_tax_code\n\
             {};Carla;Blu;primaria;1A;{}\n",
            tax_code(65),
            tax_code(99)
        ),
    );
    let out = varco(&db, &["import", "--school", SCHOOL, "--students", &unknown]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{unknown}:2: guardian tax code {}", tax_code(99))),
        "{stderr}"
    );
    let audit = ok(&db, &["audit", "--json", "--limit", "1000"]);
    assert_eq!(
        audit.matches("\"students_imported\"").count(),
        2,
        "nothing imported: {audit}"
    );
    let out = ok(
        &db,
        &["import", "--school", SCHOOL, "--students", "--skip-invalid", &unknown],
    );
    assert!(
        out.contains("rows: 0, created: 0") && out.contains("skipped: 1"),
        "{out}"
    );

    // A students roster is not an accounts roster: --kind makes no sense with it.
    let out = varco(
        &db,
        &[
            "import",
            "--school",
            SCHOOL,
            "--students",
            "--kind",
            "family",
            &students,
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(ok(&db, &["import", "--help"]).contains("--students"));
}

/// `GET` a page as `who`.
async fn page(t: &TestApp, who: &SignedIn, path: &str) -> (StatusCode, String) {
    let r = who.client.get(t.url(path)).send().await.expect("request");
    let status = r.status();
    (status, r.text().await.unwrap_or_default())
}

/// The families and the imported students, a desk operator of the school
/// (signed in) and the two guardians' user codes.
struct AtTheDesk {
    desk: AccountView,
    operator: SignedIn,
    maria: String,
    paolo: String,
}

async fn at_the_desk(t: &TestApp) -> AtTheDesk {
    families(t).await;
    import(t, &good_file(), false).await.expect("imported");
    let desk = person(t, SCHOOL, AccountKind::Staff, 40, "Sara", "Segreteria").await;
    grant(t, &desk.user_code, Role::Desk, Some(SCHOOL)).await;
    AtTheDesk {
        operator: t.sign_in("sara.segreteria", PASSWORD).await,
        maria: user_code_of(t, MARIA).await,
        paolo: user_code_of(t, PAOLO).await,
        desk,
    }
}

async fn the_desk_lists_searches_and_unlinks_students(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else {
        return;
    };
    let AtTheDesk {
        desk,
        operator,
        maria,
        paolo,
    } = at_the_desk(&t).await;

    // /account: the guardian sees their children, in Italian by default.
    let guardian = t.sign_in("maria.rossi", PASSWORD).await;
    let (status, html) = page(&t, &guardian, "/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("I tuoi figli"), "{html}");
    assert!(html.contains("Luca Verdi") && html.contains("Anna Verdi"), "{html}");
    assert!(
        html.contains("classe 2B · scuola secondaria di I grado · plesso Plesso Collodi"),
        "{html}"
    );
    assert!(
        html.contains("classe Sezione A · scuola dell&#x27;infanzia · Istituto"),
        "{html}"
    );
    let english = guardian
        .client
        .get(t.url("/account"))
        .header("accept-language", "en")
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("page");
    assert!(
        english.contains("Your children") && english.contains("class 2B · lower secondary school"),
        "{english}"
    );
    let (_, staff_html) = page(&t, &operator, "/account").await;
    assert!(!staff_html.contains("I tuoi figli"), "no children, no section");

    // The desk: a family account's page lists its students.
    let (status, html) = page(&t, &operator, &format!("/desk/accounts/{maria}")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("id=\"desk-children\""), "{html}");
    assert!(html.contains("Verdi Luca · classe 2B"), "{html}");
    assert!(html.contains("Verdi Anna · classe Sezione A"), "{html}");

    // The search finds students by name and by tax code, with their guardians.
    let (_, html) = page(&t, &operator, "/desk?q=verdi+luca").await;
    assert!(html.contains("id=\"desk-student-results\""), "{html}");
    assert!(html.contains("1 studente"), "{html}");
    assert!(html.contains(&tax_code(LUCA)), "{html}");
    assert!(
        html.contains(&format!("href=\"/desk/accounts/{maria}\">Rossi Maria</a>")),
        "{html}"
    );
    assert!(
        html.contains(&format!("href=\"/desk/accounts/{paolo}\">Rossi Paolo</a>")),
        "{html}"
    );
    let (_, html) = page(&t, &operator, &format!("/desk?q={}", tax_code(ANNA))).await;
    assert!(html.contains("Verdi Anna") && !html.contains("Verdi Luca"), "{html}");
    let searches = varco_app::audit::list(t.app(), None, 100)
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.event == "desk_student_search")
        .count();
    assert_eq!(searches, 2);

    // Unlinking Paolo from Luca, from Paolo's page (with its CSRF token).
    let (_, html) = page(&t, &operator, &format!("/desk/accounts/{paolo}")).await;
    let marker = "/students/";
    let at = html.find(marker).expect("an unlink form");
    let student_id: String = html[at + marker.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let csrf = input_value(&html, "csrf");
    let unlink = |who: &SignedIn, csrf: &str, user_code: &str| {
        who.client
            .post(t.url(&format!("/desk/accounts/{user_code}/students/{student_id}/unlink")))
            .header("origin", &t.base)
            .form(&[("csrf", csrf)])
            .send()
    };
    let r = unlink(&operator, &csrf, &paolo).await.expect("request");
    assert!(r.status().is_redirection(), "{}", r.status());
    assert_eq!(
        r.headers()["location"],
        format!("/desk/accounts/{paolo}?done=student-unlinked").as_str()
    );
    assert!(children_of(&t, PAOLO).await.is_empty());
    assert_eq!(children_of(&t, MARIA).await.len(), 2, "Maria keeps both");
    let (_, html) = page(&t, &operator, &format!("/desk/accounts/{paolo}?done=student-unlinked")).await;
    assert!(html.contains("Collegamento rimosso"), "{html}");
    assert!(html.contains("id=\"desk-children-none\""), "{html}");
    let unlinked = t
        .audit_of(&paolo)
        .await
        .into_iter()
        .find(|e| e.event == "guardian_unlinked")
        .expect("audited");
    assert_eq!(unlinked.actor, desk.user_code);
    assert_eq!(
        unlinked.detail.as_deref(),
        Some(format!("student_id={student_id} via=operator").as_str())
    );
    // Again: nothing to unlink.
    let r = unlink(&operator, &csrf, &paolo).await.expect("request");
    assert_eq!(
        r.headers()["location"],
        format!("/desk/accounts/{paolo}?done=unchanged").as_str()
    );
    // A guardian may not use the desk: the page does not exist for them.
    let (_, own) = page(&t, &guardian, "/account").await;
    let r = unlink(&guardian, &input_value(&own, "csrf"), &maria)
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(children_of(&t, MARIA).await.len(), 2);
    t.stop().await;
}

/// The same over the JSON API: an account's `children`, the student search
/// with guardians, and the unlink; a guardian reads their own children at
/// `/api/v1/me/children` and gets `not_found` problems from the desk's.
async fn the_desk_api_lists_searches_and_unlinks_students(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else {
        return;
    };
    let AtTheDesk {
        desk,
        operator,
        maria,
        paolo,
    } = at_the_desk(&t).await;
    let get = |who: &SignedIn, path: String| who.client.get(t.url(&path)).send();

    let r = get(&operator, format!("/api/v1/desk/accounts/{maria}"))
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    let account: Value = r.json().await.expect("json");
    let children = account["children"].as_array().expect("children");
    let names: Vec<&str> = children.iter().map(|c| c["first_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Anna", "Luca"], "{account}");
    let luca = &children[1];
    assert_eq!(luca["class_name"], "2B");
    assert_eq!(luca["school_order"], "lower_secondary");
    assert_eq!(luca["building"], "Plesso Collodi");
    assert_eq!(luca["school"]["code"], SCHOOL);
    assert!(
        luca.get("tax_code").is_none(),
        "the account's page leaves the tax code out"
    );
    let luca_id = luca["id"].as_i64().expect("an id");

    let r = get(&operator, "/api/v1/desk/students?q=verdi+luca".into())
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    let found: Value = r.json().await.expect("json");
    let students = found["students"].as_array().expect("students");
    assert_eq!(students.len(), 1, "{found}");
    assert_eq!(students[0]["student"]["id"], luca_id);
    assert_eq!(students[0]["tax_code"], tax_code(LUCA));
    let mut guardians: Vec<&str> = students[0]["guardians"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["user_code"].as_str().unwrap())
        .collect();
    guardians.sort_unstable();
    let mut expected = vec![maria.as_str(), paolo.as_str()];
    expected.sort_unstable();
    assert_eq!(guardians, expected);
    // An address finds no student; one letter is refused.
    let r = get(&operator, "/api/v1/desk/students?q=maria%40example.it".into())
        .await
        .expect("request");
    assert_eq!(
        r.json::<Value>().await.expect("json")["students"],
        serde_json::json!([])
    );
    let r = get(&operator, "/api/v1/desk/students?q=v".into())
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.expect("problem")["code"], "invalid_input");

    let unlink = |who: &SignedIn, user_code: &str, student: String| {
        who.client
            .post(t.url(&format!("/api/v1/desk/accounts/{user_code}/students/{student}/unlink")))
            .header("origin", &t.base)
            .send()
    };
    let r = unlink(&operator, &paolo, luca_id.to_string()).await.expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.expect("json")["changed"], true);
    assert!(
        children_of(&t, PAOLO).await.is_empty(),
        "Paolo was guardian of Luca only"
    );
    assert_eq!(children_of(&t, MARIA).await.len(), 2, "Maria keeps both");
    let unlinked = t
        .audit_of(&paolo)
        .await
        .into_iter()
        .find(|e| e.event == "guardian_unlinked")
        .expect("audited");
    assert_eq!(unlinked.actor, desk.user_code);
    let r = unlink(&operator, &paolo, luca_id.to_string()).await.expect("request");
    assert_eq!(
        r.json::<Value>().await.expect("json")["changed"],
        false,
        "nothing left to unlink"
    );
    // A student id that is no number, and a guardian who is no operator: not found.
    let r = unlink(&operator, &maria, "luca".into()).await.expect("request");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let guardian = t.sign_in("maria.rossi", PASSWORD).await;
    // Her own children, as /account shows them; an operator has none.
    let r = get(&guardian, "/api/v1/me/children".into()).await.expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    let mine: Value = r.json().await.expect("json");
    assert_eq!(mine["children"], account["children"], "the same view as the desk's");
    let r = get(&operator, "/api/v1/me/children".into()).await.expect("request");
    assert_eq!(
        r.json::<Value>().await.expect("json")["children"],
        serde_json::json!([])
    );
    let r = t
        .client
        .get(t.url("/api/v1/me/children"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = unlink(&guardian, &maria, luca_id.to_string()).await.expect("request");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.json::<Value>().await.expect("problem")["code"], "not_found");
    let r = get(&guardian, "/api/v1/desk/students?q=verdi".into())
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(children_of(&t, MARIA).await.len(), 2);
    t.stop().await;
}

/// A full code flow for `who` at `rp` with `scope`: the userinfo answer and the granted scope.
async fn sign_in_to(t: &TestApp, who: &SignedIn, rp: &Rp, scope: &str) -> (Value, String) {
    let (verifier, challenge) = pkce("students");
    let r = authorize(t, &who.client, &auth_query(rp, &challenge, &[("scope", scope)])).await;
    let to = location(&r);
    assert!(to.starts_with(REDIRECT), "{to}");
    let code = params_of(&to)["code"].clone();
    let (status, body) = exchange(t, rp, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, info) = userinfo(t, body["access_token"].as_str().expect("access token")).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    (info, body["scope"].as_str().unwrap_or_default().to_owned())
}

fn scopes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

async fn the_students_claim_is_pseudonymous_per_client_and_needs_the_scope(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else {
        return;
    };
    families(&t).await;
    import(&t, &good_file(), false).await.expect("imported");
    let discovery: Value = t
        .client
        .get(t.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert!(
        discovery["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("students"))
    );
    assert!(
        discovery["claims_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(STUDENTS_CLAIM))
    );

    let mut with_students = registration("Registro elettronico");
    with_students.scopes = scopes(&["openid", "profile", "students"]);
    let register_a = register(&t, with_students.clone()).await;
    with_students.name = "Biblioteca".into();
    let register_b = register(&t, with_students).await;
    let default_scopes = register(&t, registration("Piattaforma didattica")).await;

    let maria = t.sign_in("maria.rossi", PASSWORD).await;
    let paolo = t.sign_in("paolo.rossi", PASSWORD).await;
    let (info, granted) = sign_in_to(&t, &maria, &register_a, "openid profile students").await;
    assert_eq!(granted, "openid profile students");
    let students = info[STUDENTS_CLAIM].as_array().expect("the claim").clone();
    assert_eq!(students.len(), 2, "{info}");
    let (anna, luca) = (&students[0], &students[1]);
    assert_eq!(luca["given_name"], "Luca");
    assert_eq!(luca["family_name"], "Verdi");
    assert_eq!(luca["school"], SCHOOL);
    assert_eq!(luca["school_order"], "lower_secondary");
    assert_eq!(luca["class_name"], "2B");
    assert_eq!(luca["building"], "Plesso Collodi");
    assert_eq!(anna["given_name"], "Anna");
    assert_eq!(anna["school_order"], "preschool");
    assert!(
        anna.get("building").is_none(),
        "no building, no member (never null): {anna}"
    );
    let luca_at_a = luca["id"].as_str().expect("id").to_owned();
    let anna_at_a = anna["id"].as_str().expect("id").to_owned();
    assert_eq!(luca_at_a.len(), 43);
    assert_ne!(luca_at_a, anna_at_a);
    let text = info.to_string();
    assert!(
        !text.contains(&tax_code(LUCA)) && !text.contains(&tax_code(ANNA)),
        "{text}"
    );

    // Stable for the client: a second sign-in, and the other guardian, see the same ids.
    let (again, _) = sign_in_to(&t, &maria, &register_a, "openid students").await;
    assert_eq!(again[STUDENTS_CLAIM][1]["id"], json!(luca_at_a));
    assert_eq!(again[STUDENTS_CLAIM][0]["id"], json!(anna_at_a));
    let (of_paolo, _) = sign_in_to(&t, &paolo, &register_a, "openid students").await;
    assert_eq!(of_paolo[STUDENTS_CLAIM].as_array().map(Vec::len), Some(1), "{of_paolo}");
    assert_eq!(of_paolo[STUDENTS_CLAIM][0]["id"], json!(luca_at_a));

    // Another client sees other ids for the same students.
    let (at_b, _) = sign_in_to(&t, &maria, &register_b, "openid students").await;
    let luca_at_b = at_b[STUDENTS_CLAIM][1]["id"].as_str().expect("id").to_owned();
    assert_eq!(at_b[STUDENTS_CLAIM][1]["given_name"], "Luca");
    assert_ne!(luca_at_b, luca_at_a);
    assert_ne!(at_b[STUDENTS_CLAIM][0]["id"], json!(anna_at_a));

    // Without the scope, no claim; a client not allowed the scope does not get it.
    let (without, _) = sign_in_to(&t, &maria, &register_a, "openid profile").await;
    assert!(without.get(STUDENTS_CLAIM).is_none(), "{without}");
    assert_eq!(without["given_name"], "Maria");
    let (not_allowed, granted) = sign_in_to(&t, &maria, &default_scopes, "openid profile students").await;
    assert!(not_allowed.get(STUDENTS_CLAIM).is_none(), "{not_allowed}");
    assert_eq!(granted, "openid profile", "students is opt-in at registration");

    // A guardian without students gets an empty list, not a missing claim.
    person(&t, SCHOOL, AccountKind::Family, 55, "Nadia", "Sola").await;
    let nadia = t.sign_in("nadia.sola", PASSWORD).await;
    let (alone, _) = sign_in_to(&t, &nadia, &register_a, "openid students").await;
    assert_eq!(alone[STUDENTS_CLAIM], json!([]));

    // A third-party application asks first, naming what it will receive.
    let mut third_party = registration("App di terzi");
    third_party.first_party = false;
    third_party.scopes = scopes(&["openid", "students"]);
    let third_party = register(&t, third_party).await;
    let (_, challenge) = pkce("consent");
    let r = authorize(
        &t,
        &maria.client,
        &auth_query(&third_party, &challenge, &[("scope", "openid students")]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.expect("page");
    assert!(html.contains("i tuoi figli: nome e cognome"), "{html}");
    t.stop().await;
}
