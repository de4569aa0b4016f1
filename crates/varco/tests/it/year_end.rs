//! The school year's end: a roster import in year-end mode disables, on a
//! chosen date, the school's accounts the new roster leaves out — after a
//! dry run that lists them and writes nothing — and tells each person.

use std::time::Duration;

use varco_app::import::{ImportError, ImportOptions, ImportReport, YearEnd, apply, read_roster};
use varco_app::{Actor, RequestContext};
use varco_domain::account::{AccountStatus, Role};

use crate::harness::{Backend, SCHOOL, T0, TestApp, both_backends, tax_code};
use crate::kit::MAIL_WAIT;
use crate::smtp::SmtpSink;

both_backends!(
    a_dry_run_lists_and_writes_nothing_then_the_confirmed_run_schedules,
    the_date_disables_and_a_returning_person_is_kept,
    year_end_refuses_what_would_lock_people_out_by_mistake
);

/// T0 is 2027-01-15 (08:00 UTC); the accounts left out go on the 20th.
const ON: &str = "2027-01-20";

fn date(text: &str) -> jiff::civil::Date {
    text.parse().expect("date")
}

fn year_end(on: &str, confirm: Option<&str>) -> ImportOptions {
    ImportOptions {
        year_end: Some(YearEnd {
            disable_on: date(on),
            confirm: confirm.map(str::to_owned),
        }),
        ..ImportOptions::default()
    }
}

fn dry(mut options: ImportOptions) -> ImportOptions {
    options.dry_run = true;
    options
}

async fn import(t: &TestApp, csv: &str, options: ImportOptions) -> Result<ImportReport, ImportError> {
    let roster = read_roster(csv.as_bytes(), None).expect("readable roster");
    apply(
        t.app(),
        &Actor::Cli,
        &RequestContext::default(),
        SCHOOL,
        roster,
        options,
        |_| {},
    )
    .await
}

async fn status(t: &TestApp, user_code: &str) -> AccountStatus {
    varco_app::accounts::show(t.app(), user_code)
        .await
        .expect("account")
        .status
}

async fn events(t: &TestApp, user_code: &str, event: &str) -> Vec<varco_app::audit::AuditEntry> {
    t.audit_of(user_code)
        .await
        .into_iter()
        .filter(|e| e.event == event)
        .collect()
}

/// The messages to `to` whose text contains `says`, waiting up to the mail
/// wait for `count` of them.
async fn mails_to(sink: &SmtpSink, to: &str, says: &str, count: usize) -> Vec<crate::smtp::Received> {
    let deadline = std::time::Instant::now() + MAIL_WAIT;
    loop {
        let mine: Vec<_> = sink
            .messages()
            .into_iter()
            .filter(|m| m.header("To").as_deref() == Some(to))
            .filter(|m| m.text().contains(says))
            .collect();
        if mine.len() >= count || std::time::Instant::now() > deadline {
            return mine;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The school's people: staff 2, 4 (a desk operator), 6 and families 3, 5.
/// Returns their user codes by number.
async fn school(t: &TestApp) -> std::collections::HashMap<u32, String> {
    let mut codes = std::collections::HashMap::new();
    for n in [2, 3, 4, 5, 6] {
        let account = t.add_account(n, &format!("p{n}@example.it"), None, None).await;
        codes.insert(n, account.user_code);
    }
    crate::desk::grant(t, &codes[&4], Role::Desk, Some(SCHOOL)).await;
    codes
}

/// A staff roster: person 2 with a new address, newcomer 8; 4 and 6 left out.
fn staff_roster() -> String {
    format!(
        "tax_code;first_name;last_name;kind;email\n{};Personac;Bianchi;staff;nuovo2@example.it\n{};Nuova;Docente;staff;p8@example.it\n",
        tax_code(2),
        tax_code(8)
    )
}

async fn a_dry_run_lists_and_writes_nothing_then_the_confirmed_run_schedules(backend: Backend) {
    let Some((t, sink)) = crate::kit::spawn_with_smtp(backend).await else {
        return;
    };
    let codes = school(&t).await;
    // The five activation links first.
    let deadline = std::time::Instant::now() + MAIL_WAIT;
    while sink.messages().len() < 5 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mails_before = sink.messages().len();
    assert_eq!(mails_before, 5);
    let audit_before = varco_app::audit::list(t.app(), None, 1000).await.unwrap().len();

    let plan = import(&t, &staff_roster(), dry(year_end(ON, None)))
        .await
        .expect("dry run");
    assert!(plan.dry_run);
    assert_eq!((plan.created, plan.updated, plan.unchanged), (1, 1, 0));
    let lines: Vec<(u64, Vec<&str>)> = plan.changes.iter().map(|c| (c.line, c.changes.clone())).collect();
    assert_eq!(lines, [(2, vec!["email"]), (3, vec!["created"])]);
    assert_eq!(plan.changes[0].user_code.as_deref(), Some(codes[&2].as_str()));
    assert_eq!(
        plan.changes[1].user_code, None,
        "no user code for an account a dry run did not create"
    );
    let year = plan.year_end.clone().expect("year-end outcome");
    assert_eq!(year.disable_on, ON);
    assert!(!year.disabled_now);
    assert_eq!(
        year.kinds,
        [varco_domain::AccountKind::Staff],
        "families are not in a staff roster"
    );
    let left: Vec<&str> = year.to_disable.iter().map(|a| a.user_code.as_str()).collect();
    assert_eq!(left, [codes[&6].as_str()], "{year:?}");
    let kept: Vec<&str> = year.kept_operators.iter().map(|a| a.user_code.as_str()).collect();
    assert_eq!(kept, [codes[&4].as_str()], "an operator is listed, not disabled");
    assert_eq!(year.confirm.len(), 10);

    // Nothing written, mailed or audited.
    let person2 = varco_app::accounts::show(t.app(), &codes[&2]).await.unwrap();
    assert_eq!(person2.email.as_deref(), Some("p2@example.it"));
    assert_eq!(
        varco_app::accounts::list(t.app(), Some(SCHOOL), None, 100, 0)
            .await
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        varco_app::audit::list(t.app(), None, 1000).await.unwrap().len(),
        audit_before
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), mails_before);

    // The real run needs the dry run's code.
    match import(&t, &staff_roster(), year_end(ON, None)).await {
        Err(ImportError::YearEndUnconfirmed { count: 1 }) => {}
        other => panic!("{other:?}"),
    }
    match import(&t, &staff_roster(), year_end(ON, Some("0123456789"))).await {
        Err(ImportError::YearEndPlanChanged) => {}
        other => panic!("{other:?}"),
    }
    // Another date is another plan.
    match import(&t, &staff_roster(), year_end("2027-01-21", Some(&year.confirm))).await {
        Err(ImportError::YearEndPlanChanged) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(
        varco_app::accounts::list(t.app(), Some(SCHOOL), None, 100, 0)
            .await
            .unwrap()
            .len(),
        5,
        "a refused run writes nothing"
    );

    let done = import(&t, &staff_roster(), year_end(ON, Some(&year.confirm.to_uppercase())))
        .await
        .expect("confirmed run");
    assert!(!done.dry_run);
    assert_eq!((done.created, done.updated), (1, 1));
    assert_eq!(done.year_end.as_ref().unwrap().to_disable, year.to_disable);
    assert_eq!(
        status(&t, &codes[&6]).await,
        AccountStatus::PendingActivation,
        "not before the date"
    );
    assert_eq!(events(&t, &codes[&6], "account_disable_scheduled").await.len(), 1);
    assert_eq!(
        events(&t, &codes[&6], "account_disable_scheduled").await[0]
            .detail
            .as_deref(),
        Some("on=2027-01-20")
    );
    let school_events = varco_app::audit::list(t.app(), None, 1000).await.unwrap();
    let summary = school_events
        .iter()
        .find(|e| e.event == "roster_year_end")
        .expect("the year end is audited");
    assert_eq!(
        summary.detail.as_deref(),
        Some("school=RMIC81200X on=2027-01-20 scheduled=1 disabled_now=0 cancelled=0 kept_operators=1")
    );
    assert!(events(&t, &codes[&4], "account_disable_scheduled").await.is_empty());

    // The person is told, in Italian, with the date and whom to ask.
    let notice = mails_to(&sink, "p6@example.it", "sarà disattivato dal", 1).await;
    assert_eq!(notice.len(), 1, "one notice");
    let text = notice[0].text();
    assert!(text.contains("20/01/2027") && text.contains(&codes[&6]), "{text}");
    assert!(text.contains("segreteria"), "{text}");
    assert!(
        !sink
            .messages()
            .iter()
            .any(|m| m.header("To").as_deref() == Some("p4@example.it") && m.text().contains("disattivato")),
        "an operator kept is not told"
    );

    // The same run again changes nothing and tells nobody twice.
    let again = import(&t, &staff_roster(), year_end(ON, Some(&year.confirm)))
        .await
        .expect("repeat");
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 2));
    assert_eq!(
        again.year_end.unwrap().to_disable[0].previous_date.as_deref(),
        Some(ON),
        "the list says it is already due"
    );
    assert_eq!(events(&t, &codes[&6], "account_disable_scheduled").await.len(), 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(mails_to(&sink, "p6@example.it", "disattivato", 1).await.len(), 1);

    // The desk sees the date, on the page and through the API.
    let operator = crate::desk::person(&t, SCHOOL, varco_domain::AccountKind::Staff, 40, "Sara", "Segreteria").await;
    crate::desk::grant(&t, &operator.user_code, Role::Desk, Some(SCHOOL)).await;
    let desk = t.sign_in(&operator.user_code, crate::harness::PASSWORD).await;
    let html = desk
        .client
        .get(t.url(&format!("/desk/accounts/{}", codes[&6])))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Sarà disattivato dal 20&#x2f;01&#x2f;2027"), "{html}");
    let json: serde_json::Value = desk
        .client
        .get(t.url(&format!("/api/v1/desk/accounts/{}", codes[&6])))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json["disable_on"], "20/01/2027");
    let json: serde_json::Value = desk
        .client
        .get(t.url(&format!("/api/v1/desk/accounts/{}", codes[&2])))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(json.get("disable_on").is_none(), "{json}");
    t.stop().await;
}

async fn the_date_disables_and_a_returning_person_is_kept(backend: Backend) {
    let Some((t, sink)) = crate::kit::spawn_with_smtp(backend).await else {
        return;
    };
    let codes = school(&t).await;
    // Families: 3 stays, 5 is left out.
    let families = format!(
        "tax_code;first_name;last_name;kind\n{};Personad;Bianchi;family\n",
        tax_code(3)
    );
    let plan = import(&t, &families, dry(year_end(ON, None)))
        .await
        .unwrap()
        .year_end
        .unwrap();
    let left: Vec<&str> = plan.to_disable.iter().map(|a| a.user_code.as_str()).collect();
    assert_eq!(left, [codes[&5].as_str()]);
    import(&t, &families, year_end(ON, Some(&plan.confirm))).await.unwrap();
    let plan = import(&t, &staff_roster(), dry(year_end(ON, None)))
        .await
        .unwrap()
        .year_end
        .unwrap();
    import(&t, &staff_roster(), year_end(ON, Some(&plan.confirm)))
        .await
        .unwrap();

    // Person 5 is re-enrolled before the date: a plain import keeps them.
    let five = varco_app::accounts::show(t.app(), &codes[&5]).await.unwrap();
    let back = format!(
        "tax_code;first_name;last_name;kind;email\n{};{};{};family;p5@example.it\n",
        tax_code(5),
        five.first_name,
        five.last_name
    );
    let report = import(&t, &back, ImportOptions::default()).await.unwrap();
    assert_eq!(report.unchanged, 1);
    assert_eq!(report.year_end, None);
    assert_eq!(events(&t, &codes[&5], "account_disable_cancelled").await.len(), 1);

    // Before the date nothing happens; the upkeep job disables on the day.
    assert_eq!(varco_app::jobs::scheduled_disables(t.app()).await.unwrap(), 0);
    t.clock.set(varco_domain::clock::Timestamp(T0 + 5 * 86_400 - 3600 * 10));
    assert_eq!(
        varco_app::jobs::scheduled_disables(t.app()).await.unwrap(),
        0,
        "2027-01-19 23:00 in Rome is not yet the 20th"
    );
    t.clock.set(varco_domain::clock::Timestamp(T0 + 5 * 86_400 - 3600 * 9));
    assert_eq!(
        varco_app::jobs::scheduled_disables(t.app()).await.unwrap(),
        1,
        "00:00 the 20th in Rome"
    );
    assert_eq!(status(&t, &codes[&6]).await, AccountStatus::Disabled);
    let disabled = events(&t, &codes[&6], "account_disabled").await;
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0].actor, "system");
    assert_ne!(
        status(&t, &codes[&5]).await,
        AccountStatus::Disabled,
        "came back in time"
    );
    assert_ne!(
        status(&t, &codes[&4]).await,
        AccountStatus::Disabled,
        "an operator is kept"
    );
    assert_ne!(status(&t, &codes[&3]).await, AccountStatus::Disabled);
    assert_eq!(varco_app::jobs::scheduled_disables(t.app()).await.unwrap(), 0, "once");

    // A year-end roster dated today disables at once, and says so.
    let only_2 = format!(
        "tax_code;first_name;last_name;kind\n{};Personac;Bianchi;staff\n",
        tax_code(2)
    );
    let today = "2027-01-20";
    let plan = import(&t, &only_2, dry(year_end(today, None)))
        .await
        .unwrap()
        .year_end
        .unwrap();
    assert!(plan.disabled_now);
    let left: Vec<&str> = plan.to_disable.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(left, ["Docente Nuova"], "6 is disabled already, 4 holds a role");
    let done = import(&t, &only_2, year_end(today, Some(&plan.confirm))).await.unwrap();
    assert!(done.year_end.unwrap().disabled_now);
    let newcomer = varco_app::accounts::list(t.app(), Some(SCHOOL), None, 100, 0)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.last_name == "Docente")
        .expect("person 8");
    assert_eq!(newcomer.status, AccountStatus::Disabled, "today means now");
    assert!(
        events(&t, &newcomer.user_code, "account_disable_scheduled")
            .await
            .is_empty()
    );
    let notice = mails_to(&sink, "p8@example.it", "è stato disattivato dal", 1).await;
    assert_eq!(notice.len(), 1);
    assert!(notice[0].text().contains("20/01/2027"), "{}", notice[0].text());
    t.stop().await;
}

async fn year_end_refuses_what_would_lock_people_out_by_mistake(backend: Backend) {
    let Some(t) = TestApp::spawn(backend).await else { return };
    t.add_school().await;
    let codes = school(&t).await;
    let with_a_bad_row = format!(
        "tax_code;first_name;last_name;kind\n{};Personac;Bianchi;staff\nNOTATAXCODE;Rotta;Riga;staff\n",
        tax_code(2)
    );
    let roster = read_roster(with_a_bad_row.as_bytes(), None).unwrap();
    let mut options = year_end(ON, None);
    options.skip_invalid = true;
    match apply(
        t.app(),
        &Actor::Cli,
        &RequestContext::default(),
        SCHOOL,
        roster,
        options,
        |_| {},
    )
    .await
    {
        Err(ImportError::YearEndWithInvalidRows(1)) => {}
        other => panic!("{other:?}"),
    }
    match import(&t, "tax_code;first_name;last_name;kind\n", dry(year_end(ON, None))).await {
        Err(ImportError::YearEndEmptyRoster) => {}
        other => panic!("{other:?}"),
    }
    match import(&t, &staff_roster(), dry(year_end("2027-01-14", None))).await {
        Err(ImportError::YearEndDateInPast { date, today }) => {
            assert_eq!((date.as_str(), today.as_str()), ("2027-01-14", "2027-01-15"));
        }
        other => panic!("{other:?}"),
    }
    // The school changed since the dry run: its code no longer fits.
    let plan = import(&t, &staff_roster(), dry(year_end(ON, None)))
        .await
        .unwrap()
        .year_end
        .unwrap();
    t.add_account(10, "p10@example.it", None, None).await;
    match import(&t, &staff_roster(), year_end(ON, Some(&plan.confirm))).await {
        Err(ImportError::YearEndPlanChanged) => {}
        other => panic!("{other:?}"),
    }
    for n in [2, 4, 6] {
        assert!(events(&t, &codes[&n], "account_disable_scheduled").await.is_empty());
    }
    t.stop().await;
}
