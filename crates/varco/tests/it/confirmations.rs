//! Act confirmations: a school application asks the person to confirm one
//! act with their PIN or personal code and receives single-use proof bound
//! to exactly that act, over HTTP as an application would, on both databases.

use reqwest::StatusCode;
use serde_json::{Value, json};
use varco_domain::clock::Timestamp;

use crate::harness::{Backend, PASSWORD, T0, TestApp, both_backends, client};
use crate::kit::SignedIn;
use crate::oidc::{REDIRECT, Rp, exchange, location, params_of, pkce, register, registration, verified};
use crate::smtp::SmtpSink;

both_backends!(
    an_act_is_confirmed_once_and_bound_to_its_payload,
    bad_requests_other_clients_and_other_people_are_refused,
    declining_expiry_and_the_lock_leave_nothing_confirmed,
    a_step_up_asks_the_second_secret_and_says_so_in_acr,
    a_guardian_unlinked_meanwhile_cannot_confirm_or_redeem,
);

/// A teacher with a password and a personal code (read from its email),
/// signed in, and a first-party confidential client "Registro elettronico".
async fn teacher_and_rp(t: &TestApp, sink: &SmtpSink) -> (SignedIn, Rp, varco_app::accounts::AccountView, String) {
    let account = t
        .add_account(2, "docente@example.it", Some("docente"), Some(PASSWORD))
        .await;
    let rp = register(t, registration("Registro elettronico")).await;
    let teacher = t.sign_in("docente", PASSWORD).await;
    let code = crate::second_secret::issued(t, sink, &teacher, "docente@example.it", 1).await;
    (teacher, rp, account, code)
}

/// The person's `sub` as the client sees it: a whole sign-in to it.
async fn sub_of(t: &TestApp, signed_in: &SignedIn, rp: &Rp) -> String {
    let (verifier, challenge) = pkce("confirm");
    let code = crate::oidc::code_for(t, signed_in, rp, &challenge).await;
    let (status, tokens) = exchange(t, rp, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let claims = verified(t, tokens["id_token"].as_str().unwrap()).await;
    claims["sub"].as_str().unwrap().to_owned()
}

fn act() -> Value {
    json!({
        "type": "application",
        "application": "mobilita-2027-28",
        "school": "RMIC81200X",
    })
}

const DESCRIPTION: &str = "Domanda di mobilità 2027/28: conferma dell'invio";

/// `POST /api/v1/confirmations` as `rp` (HTTP Basic).
async fn create(t: &TestApp, rp: &Rp, body: Value) -> (StatusCode, Value) {
    let mut request = client().post(t.url("/api/v1/confirmations")).json(&body);
    if let Some(secret) = &rp.secret {
        request = request.basic_auth(&rp.client_id, Some(secret));
    }
    let r = request.send().await.expect("create");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn creation(sub: &str, payload: Value) -> Value {
    json!({
        "sub": sub,
        "description": DESCRIPTION,
        "payload": payload,
        "redirect_uri": REDIRECT,
        "state": "stato-della-conferma",
    })
}

/// `POST /api/v1/confirmations/redeem` as `rp`, with the secret in the body.
async fn redeem(t: &TestApp, rp: &Rp, code: &str, payload: Value) -> (StatusCode, Value) {
    let r = client()
        .post(t.url("/api/v1/confirmations/redeem"))
        .json(&json!({
            "client_id": rp.client_id,
            "client_secret": rp.secret,
            "confirmation_code": code,
            "payload": payload,
        }))
        .send()
        .await
        .expect("redeem");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Submits the confirmation page's form with the session's form token:
/// the response (not followed).
async fn submit(t: &TestApp, who: &SignedIn, confirm_url: &str, decision: &str, secret: &str) -> reqwest::Response {
    let csrf = t.session_of(who).await.session.csrf_token;
    who.client
        .post(confirm_url)
        .form(&[("csrf", csrf.as_str()), ("decision", decision), ("secret", secret)])
        .send()
        .await
        .expect("submit")
}

async fn events(t: &TestApp, user_code: &str, prefix: &str) -> Vec<String> {
    t.audit_of(user_code)
        .await
        .into_iter()
        .filter(|e| e.event.starts_with(prefix))
        .map(|e| format!("{} {}", e.event, e.detail.unwrap_or_default()))
        .collect()
}

async fn an_act_is_confirmed_once_and_bound_to_its_payload(backend: Backend) {
    let Some((t, sink)) = crate::kit::spawn_with_smtp(backend).await else {
        return;
    };
    let (teacher, rp, account, code_secret) = teacher_and_rp(&t, &sink).await;
    let sub = sub_of(&t, &teacher, &rp).await;

    let (status, created) = create(&t, &rp, creation(&sub, act())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let url = created["confirm_url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("{}/confirm/", t.base)), "{url}");
    assert_eq!(created["payload_hash"], varco_oidc::act::payload_hash(&act()));

    // The person reads exactly what they confirm.
    let page = teacher.client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Registro elettronico"), "the application's name");
    assert!(html.contains("Domanda di mobilità 2027&#x2f;28"), "{html}");
    assert!(
        html.contains("mobilita-2027-28") && html.contains("Codice personale"),
        "{html}"
    );

    // A wrong code does not confirm and says how many tries remain.
    let wrong = submit(&t, &teacher, &url, "confirm", "XXXX7777").await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert!(wrong.text().await.unwrap().contains("errato"));

    let done = submit(&t, &teacher, &url, "confirm", &code_secret).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let back = location(&done);
    assert!(back.starts_with(REDIRECT), "{back}");
    let params = params_of(&back);
    assert_eq!(params["state"], "stato-della-conferma");
    assert_eq!(params["iss"], t.base);
    let code = params["confirmation_code"].clone();

    // A changed payload is refused, and does not spend the code.
    let mut changed = act();
    changed["application"] = json!("mobilita-2028-29");
    let (status, body) = redeem(&t, &rp, &code, changed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["detail"].as_str().unwrap_or_default().contains("payload"),
        "{body}"
    );

    // The same payload with its keys in another order is the same act.
    let reordered = json!({"school": "RMIC81200X", "application": "mobilita-2027-28", "type": "application"});
    let (status, proof) = redeem(&t, &rp, &code, reordered).await;
    assert_eq!(status, StatusCode::OK, "{proof}");
    assert_eq!(proof["sub"], sub);
    assert_eq!(proof["acr"], "urn:varco:acr:second-secret");
    let claims = verified(&t, proof["confirmation"].as_str().unwrap()).await;
    assert_eq!(claims["aud"], rp.client_id.as_str());
    assert_eq!(claims["sub"], sub.as_str());
    assert_eq!(claims["iss"], t.base.as_str());
    assert_eq!(claims["jti"], created["confirmation_id"]);
    assert_eq!(claims["second_secret"], "personal_code");
    assert_eq!(claims["amr"], json!(["pin"]));
    assert_eq!(claims["act"]["payload_hash"], created["payload_hash"]);
    assert_eq!(claims["act"]["description"], DESCRIPTION);
    assert_eq!(claims["auth_time"], json!(T0));
    let header: Value = {
        use base64::Engine as _;
        let token = proof["confirmation"].as_str().unwrap();
        let part = token.split('.').next().unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    assert_eq!(header["typ"], "confirmation+jwt");

    // A replay is refused.
    let (status, body) = redeem(&t, &rp, &code, act()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["detail"].as_str().unwrap_or_default().contains("already used"),
        "{body}"
    );
    // And the page says it is done.
    let html = teacher.client.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains("confirm-state") && !html.contains("name=\"secret\""),
        "{html}"
    );

    let audit = events(&t, &account.user_code, "act_").await;
    let names: Vec<&str> = audit.iter().map(|e| e.split(' ').next().unwrap()).collect();
    assert_eq!(
        names,
        [
            "act_confirmation_refused",
            "act_confirmation_redeemed",
            "act_confirmation_refused",
            "act_confirmed",
            "act_confirmation_requested",
        ],
        "newest first: {audit:?}"
    );
    assert!(audit[0].ends_with("reason=already_redeemed"), "{audit:?}");
    assert!(audit[2].ends_with("reason=payload_mismatch"), "{audit:?}");
    t.stop().await;
}

async fn bad_requests_other_clients_and_other_people_are_refused(backend: Backend) {
    let Some((t, sink)) = crate::kit::spawn_with_smtp(backend).await else {
        return;
    };
    let (teacher, rp, account, code_secret) = teacher_and_rp(&t, &sink).await;
    let sub = sub_of(&t, &teacher, &rp).await;

    // Client authentication: a wrong secret, a public client.
    let wrong = Rp {
        client_id: rp.client_id.clone(),
        secret: Some("not-the-secret".into()),
    };
    let (status, _) = create(&t, &wrong, creation(&sub, act())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let mut public = registration("App pubblica");
    public.kind = varco_app::clients::ClientKind::Public;
    let public = register(&t, public).await;
    let (status, body) = create(&t, &public, json!({"client_id": public.client_id, "sub": sub})).await;
    assert!(
        status == StatusCode::BAD_REQUEST || status == StatusCode::UNAUTHORIZED,
        "{status} {body}"
    );

    // Each bad field is named.
    for (body, says) in [
        (
            json!({"sub": sub, "payload": act(), "redirect_uri": REDIRECT}),
            "description",
        ),
        (
            json!({"sub": sub, "description": "x".repeat(501), "payload": act(), "redirect_uri": REDIRECT}),
            "500",
        ),
        (
            json!({"sub": sub, "description": DESCRIPTION, "payload": [1, 2], "redirect_uri": REDIRECT}),
            "object",
        ),
        (
            json!({"sub": sub, "description": DESCRIPTION, "payload": act(), "redirect_uri": "https://evil.example/cb"}),
            "redirect_uri",
        ),
        (
            json!({"sub": "someone-else", "description": DESCRIPTION, "payload": act(), "redirect_uri": REDIRECT}),
            "sub",
        ),
        (
            json!({"sub": sub, "description": DESCRIPTION, "payload": {"students": [1]}, "redirect_uri": REDIRECT}),
            "students",
        ),
    ] {
        let (status, answer) = create(&t, &rp, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert!(
            answer["detail"].as_str().unwrap_or_default().contains(says),
            "{says}: {answer}"
        );
    }

    // Another client cannot use this client's code.
    let other = register(&t, registration("Biblioteca")).await;
    let (_, created) = create(&t, &rp, creation(&sub, act())).await;
    let url = created["confirm_url"].as_str().unwrap().to_owned();

    // Another person (even signed in) finds no such page, audited.
    let colleague = t
        .add_account(4, "collega@example.it", Some("collega"), Some(PASSWORD))
        .await;
    let colleague_in = t.sign_in("collega", PASSWORD).await;
    let r = colleague_in.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        events(&t, &colleague.user_code, "act_confirmation_refused").await.len(),
        1
    );
    // Not signed in: to the login, and back here afterwards.
    let r = client().get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/login?next=/confirm/"), "{}", location(&r));

    let done = submit(&t, &teacher, &url, "confirm", &code_secret).await;
    let code = params_of(&location(&done))["confirmation_code"].clone();
    let (status, body) = redeem(&t, &other, &code, act()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["detail"].as_str().unwrap_or_default().contains("not valid"),
        "{body}"
    );
    let audit = events(&t, &account.user_code, "act_confirmation_refused").await;
    assert!(audit.iter().any(|e| e.ends_with("reason=other_client")), "{audit:?}");
    // The code is still good for its own client.
    let (status, _) = redeem(&t, &rp, &code, act()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = redeem(&t, &rp, "no-such-code", act()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    t.stop().await;
}

async fn declining_expiry_and_the_lock_leave_nothing_confirmed(backend: Backend) {
    let Some((t, sink)) = crate::kit::spawn_with_smtp(backend).await else {
        return;
    };
    let (teacher, rp, _account, code_secret) = teacher_and_rp(&t, &sink).await;
    let sub = sub_of(&t, &teacher, &rp).await;

    // Declining goes back with access_denied; the page then says so.
    let (_, created) = create(&t, &rp, creation(&sub, act())).await;
    let url = created["confirm_url"].as_str().unwrap().to_owned();
    let declined = submit(&t, &teacher, &url, "cancel", "").await;
    assert_eq!(declined.status(), StatusCode::SEE_OTHER);
    let params = params_of(&location(&declined));
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "stato-della-conferma");
    assert!(!params.contains_key("confirmation_code"));
    let late = submit(&t, &teacher, &url, "confirm", &code_secret).await;
    assert_eq!(
        late.status(),
        StatusCode::BAD_REQUEST,
        "a declined act cannot be confirmed"
    );

    // Ten minutes to confirm.
    let (_, created) = create(&t, &rp, creation(&sub, act())).await;
    let url = created["confirm_url"].as_str().unwrap().to_owned();
    t.clock.set(Timestamp(T0 + 601));
    let late = submit(&t, &teacher, &url, "confirm", &code_secret).await;
    assert_eq!(late.status(), StatusCode::BAD_REQUEST);
    assert!(late.text().await.unwrap().contains("scaduta"));

    // Sixty seconds to redeem.
    let (_, created) = create(&t, &rp, creation(&sub, act())).await;
    let url = created["confirm_url"].as_str().unwrap().to_owned();
    let done = submit(&t, &teacher, &url, "confirm", &code_secret).await;
    let code = params_of(&location(&done))["confirmation_code"].clone();
    t.clock.set(Timestamp(T0 + 601 + 61));
    let (status, body) = redeem(&t, &rp, &code, act()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["detail"].as_str().unwrap_or_default().contains("expired"),
        "{body}"
    );

    // Five wrong entries lock the code, across different acts.
    for n in 0..5 {
        let (_, created) = create(&t, &rp, creation(&sub, json!({"n": n}))).await;
        let url = created["confirm_url"].as_str().unwrap().to_owned();
        let wrong = submit(&t, &teacher, &url, "confirm", "XXXX7777").await;
        assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    }
    let (_, created) = create(&t, &rp, creation(&sub, act())).await;
    let url = created["confirm_url"].as_str().unwrap().to_owned();
    let locked = submit(&t, &teacher, &url, "confirm", &code_secret).await;
    assert_eq!(locked.status(), StatusCode::BAD_REQUEST);
    assert!(
        locked.text().await.unwrap().contains("bloccato dopo troppi tentativi"),
        "the right code no longer works"
    );
    t.stop().await;
}

/// Posts the step-up form of an authorization page: the response.
async fn step_up(t: &TestApp, who: &SignedIn, html: &str, decision: &str, secret: &str) -> reqwest::Response {
    let mut fields: Vec<(String, String)> = Vec::new();
    for part in html.split("<input type=\"hidden\" name=\"").skip(1) {
        let name = part.split('"').next().unwrap().to_owned();
        let value = part.split("value=\"").nth(1).unwrap().split('"').next().unwrap();
        fields.push((name, crate::oidc::unescape(value)));
    }
    fields.push(("decision".into(), decision.into()));
    fields.push(("secret".into(), secret.into()));
    who.client
        .post(t.url("/oauth2/step-up"))
        .form(&fields)
        .send()
        .await
        .expect("step-up")
}

async fn a_step_up_asks_the_second_secret_and_says_so_in_acr(backend: Backend) {
    let Some((t, sink)) = crate::kit::spawn_with_smtp(backend).await else {
        return;
    };
    let (teacher, rp, account, code_secret) = teacher_and_rp(&t, &sink).await;
    let acr = [("acr_values", "urn:varco:acr:second-secret")];

    let discovery: Value = client()
        .get(t.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        discovery["acr_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("urn:varco:acr:second-secret"))
    );

    // With max_age=0 a fresh sign-in comes first.
    let (_, challenge) = pkce("fresh");
    let r = crate::oidc::authorize(
        &t,
        &teacher.client,
        &crate::oidc::auth_query(&rp, &challenge, &[acr[0], ("max_age", "0")]),
    )
    .await;
    assert!(location(&r).starts_with("/login?"), "{}", location(&r));
    assert!(location(&r).contains("fresh=1"), "{}", location(&r));

    // Signed in, the person is asked for the personal code.
    t.clock.set(Timestamp(T0 + 100));
    let (verifier, challenge) = pkce("step-up");
    let query = crate::oidc::auth_query(&rp, &challenge, &acr);
    let r = crate::oidc::authorize(&t, &teacher.client, &query).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("Conferma con il codice personale"), "{html}");
    let wrong = step_up(&t, &teacher, &html, "confirm", "XXXX7777").await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let again = wrong.text().await.unwrap();
    assert!(again.contains("errato"), "{again}");
    let done = step_up(&t, &teacher, &again, "confirm", &code_secret).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let params = params_of(&location(&done));
    let (status, tokens) = exchange(&t, &rp, &params["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let claims = verified(&t, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["acr"], "urn:varco:acr:second-secret");
    assert_eq!(claims["amr"], json!(["pwd", "pin"]));
    assert_eq!(
        claims["auth_time"],
        json!(T0 + 100),
        "the step-up is a new authentication"
    );

    // prompt=none cannot ask: interaction_required, never a lower acr.
    let (_, challenge) = pkce("none");
    let r = crate::oidc::authorize(
        &t,
        &teacher.client,
        &crate::oidc::auth_query(&rp, &challenge, &[acr[0], ("prompt", "none")]),
    )
    .await;
    let params = params_of(&location(&r));
    assert_eq!(params["error"], "interaction_required");
    assert!(!params.contains_key("code"));

    // Declining goes back with access_denied, audited.
    let r = crate::oidc::authorize(&t, &teacher.client, &query).await;
    let html = r.text().await.unwrap();
    let declined = step_up(&t, &teacher, &html, "cancel", "").await;
    let params = params_of(&location(&declined));
    assert_eq!(params["error"], "access_denied");
    assert!(!params.contains_key("code"));
    let audit = events(&t, &account.user_code, "oidc_authorization").await;
    assert!(audit.iter().any(|e| e.contains("step_up_declined")), "{audit:?}");

    // Without the acr value, nothing more is asked and acr says password.
    let (verifier, challenge) = pkce("plain");
    let code = crate::oidc::code_for(&t, &teacher, &rp, &challenge).await;
    let (_, tokens) = exchange(&t, &rp, &code, &verifier).await;
    let claims = verified(&t, tokens["id_token"].as_str().unwrap()).await;
    assert_ne!(claims["acr"], "urn:varco:acr:second-secret");
    assert_eq!(claims["amr"], json!(["pwd"]));
    t.stop().await;
}

/// Links student `n` to the parent (or, with `None`, leaves them unlinked).
async fn students_file(t: &TestApp, guardian_tax_code: Option<&str>) {
    let csv = format!(
        "tax_code;first_name;last_name;school_order;class_name;guardian1_tax_code\n{};Marco;Bianchi;primaria;3B;{}\n",
        crate::harness::tax_code(60),
        guardian_tax_code.unwrap_or("")
    );
    let roster = varco_app::student_import::read_students(csv.as_bytes()).expect("students file");
    varco_app::student_import::apply(
        t.app(),
        &varco_app::Actor::Cli,
        &varco_app::RequestContext::default(),
        crate::harness::SCHOOL,
        roster,
        false,
    )
    .await
    .expect("students imported");
}

async fn a_guardian_unlinked_meanwhile_cannot_confirm_or_redeem(backend: Backend) {
    let Some((t, sink)) = crate::kit::spawn_with_smtp(backend).await else {
        return;
    };
    let parent = t
        .add_account(3, "genitore@example.it", Some("genitore"), Some(PASSWORD))
        .await;
    students_file(&t, Some(&parent.tax_code)).await;
    let mut with_students = registration("Registro elettronico");
    with_students.scopes = ["openid", "profile", "students"].map(str::to_owned).to_vec();
    let rp = register(&t, with_students).await;
    let who = t.sign_in("genitore", PASSWORD).await;
    let pin = crate::second_secret::issued(&t, &sink, &who, "genitore@example.it", 1).await;

    // Signed in to the register with the students scope: the child's id.
    let (verifier, challenge) = pkce("guardian");
    let r = crate::oidc::authorize(
        &t,
        &who.client,
        &crate::oidc::auth_query(&rp, &challenge, &[("scope", "openid students")]),
    )
    .await;
    let code = params_of(&location(&r))["code"].clone();
    let (_, tokens) = exchange(&t, &rp, &code, &verifier).await;
    let sub = verified(&t, tokens["id_token"].as_str().unwrap()).await["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, info) = crate::oidc::userinfo(&t, tokens["access_token"].as_str().unwrap()).await;
    let child = info["urn:varco:claims:students"][0]["id"]
        .as_str()
        .expect("the child's id")
        .to_owned();
    let justification = |student: &str| json!({"type": "absence_justification", "students": [student], "absences": [{"student": student, "date": "2026-11-12"}], "reason": "salute"});

    // A student who is not the person's child is refused at once.
    let (status, body) = create(&t, &rp, creation(&sub, justification("someone-else"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["detail"].as_str().unwrap_or_default().contains("guardian"),
        "{body}"
    );

    // Unlinked while the person is on the confirmation page.
    let (status, created) = create(&t, &rp, creation(&sub, justification(&child))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let url = created["confirm_url"].as_str().unwrap().to_owned();
    students_file(&t, None).await;
    let refused = submit(&t, &who, &url, "confirm", &pin).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("non risulti più tutore"));

    // Unlinked between the confirmation and its redemption.
    students_file(&t, Some(&parent.tax_code)).await;
    let (_, created) = create(&t, &rp, creation(&sub, justification(&child))).await;
    let url = created["confirm_url"].as_str().unwrap().to_owned();
    let done = submit(&t, &who, &url, "confirm", &pin).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let code = params_of(&location(&done))["confirmation_code"].clone();
    students_file(&t, None).await;
    let (status, body) = redeem(&t, &rp, &code, justification(&child)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["detail"].as_str().unwrap_or_default().contains("no longer"),
        "{body}"
    );
    let audit = events(&t, &parent.user_code, "act_confirmation_refused").await;
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.ends_with("reason=guardian_link_gone"))
            .count(),
        2,
        "{audit:?}"
    );

    // A PIN with letters or of the wrong length is refused without counting.
    students_file(&t, Some(&parent.tax_code)).await;
    let (_, created) = create(&t, &rp, creation(&sub, justification(&child))).await;
    let url = created["confirm_url"].as_str().unwrap().to_owned();
    for typed in ["12ab56", "12345"] {
        let r = submit(&t, &who, &url, "confirm", typed).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.text().await.unwrap().contains("solo di cifre"), "{typed}");
    }
    let failed = t
        .audit_of(&parent.user_code)
        .await
        .into_iter()
        .filter(|e| e.event == "second_secret_failed")
        .count();
    assert_eq!(failed, 0, "malformed entries do not count towards the lock");
    let done = submit(&t, &who, &url, "confirm", &pin).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER, "still confirmable");
    t.stop().await;
}
