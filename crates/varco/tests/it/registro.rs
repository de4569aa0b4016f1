//! The example electronic register (`examples/registro`) next to a real
//! Varco, in headless Chromium and in Italian (`e2e/registro.mjs`): a
//! parent regenerates the PIN, reads it from the email, and justifies two
//! of a child's absences with it; a teacher confirms an application with
//! the personal code. Both acts are redeemed by the register and audited.

use std::time::Duration;

use reqwest::StatusCode;
use varco_app::clients::{ClientKind, ClientRegistration};
use varco_app::{Actor, RequestContext};
use varco_oidc::Alg;

use crate::harness::{Backend, PASSWORD, SCHOOL, both_backends, tax_code};
use crate::kit::spawn_with_smtp;

both_backends!(browser_a_parent_justifies_two_absences_with_the_pin_in_the_register);

/// Skipped, saying so, without Chromium or Node.js outside CI.
async fn browser_a_parent_justifies_two_absences_with_the_pin_in_the_register(backend: Backend) {
    if crate::browser::skip_or_fail() {
        return;
    }
    let Some((t, sink)) = spawn_with_smtp(backend).await else {
        return;
    };
    // The register checks Varco's tokens against the real time.
    use varco_domain::clock::Clock as _;
    t.clock.set(varco_domain::clock::SystemClock.now());

    let parent = t
        .add_account(3, "genitore@example.it", Some("genitore"), Some(PASSWORD))
        .await;
    let teacher = t
        .add_account(4, "docente@example.it", Some("docente"), Some(PASSWORD))
        .await;
    let students = format!(
        "tax_code;first_name;last_name;school_order;class_name;building;guardian1_tax_code\n\
         {};Marco;Bianchi;primaria;3B;Plesso Garibaldi;{}\n",
        tax_code(60),
        parent.tax_code
    );
    let roster = varco_app::student_import::read_students(students.as_bytes()).expect("students file");
    varco_app::student_import::apply(t.app(), &Actor::Cli, &RequestContext::default(), SCHOOL, roster, false)
        .await
        .expect("students imported");

    // The register, in-process on a free port, as a confidential client.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let register_url = format!("http://{}", listener.local_addr().unwrap());
    let registered = varco_app::clients::register(
        t.app(),
        ClientRegistration {
            name: "Registro elettronico (esempio)".into(),
            kind: ClientKind::Confidential,
            redirect_uris: vec![format!("{register_url}/callback")],
            post_logout_redirect_uris: Vec::new(),
            scopes: ["openid", "profile", "school", "students"].map(str::to_owned).to_vec(),
            schools: Vec::new(),
            first_party: true,
            id_token_alg: Alg::Rs256,
            pairwise: false,
            backchannel_logout_uri: None,
            jwks: None,
        },
        &Actor::Cli,
    )
    .await
    .expect("client registered");
    let data = tempfile::tempdir().unwrap();
    let store_file = data.path().join("registro.json");
    let register = registro::build(&registro::Settings {
        varco: t.base.clone(),
        client_id: registered.client_id.clone(),
        client_secret: registered.secret.clone().expect("a confidential client has a secret"),
        public_url: register_url.clone(),
        data: store_file.clone(),
    })
    .expect("register built");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(registro::serve(listener, register, async move {
        let _ = stopped.await;
    }));

    // The codes the browser needs come from the emails, as people read them.
    let codes = tempfile::tempdir().unwrap();
    let pin_file = codes.path().join("pin");
    let personal_code_file = codes.path().join("personal-code");
    let reader = {
        let (pin_file, personal_code_file) = (pin_file.clone(), personal_code_file.clone());
        async move {
            let pin = crate::second_secret::code_in_mail(&sink, "genitore@example.it", 1).await;
            std::fs::write(&pin_file, &pin).unwrap();
            let code = crate::second_secret::code_in_mail(&sink, "docente@example.it", 1).await;
            std::fs::write(&personal_code_file, &code).unwrap();
            (pin, code)
        }
    };
    let shot = crate::browser::e2e_dir().join(format!("artifacts/registro-{backend:?}.png").to_lowercase());
    let _ = std::fs::remove_file(&shot);
    let envs = [
        ("VARCO_E2E_BASE_URL", t.base.clone()),
        ("VARCO_E2E_REGISTER_URL", register_url.clone()),
        ("VARCO_E2E_PARENT", "genitore".to_owned()),
        ("VARCO_E2E_TEACHER", "docente".to_owned()),
        ("VARCO_E2E_PASSWORD", PASSWORD.to_owned()),
        ("VARCO_E2E_PIN_FILE", pin_file.display().to_string()),
        ("VARCO_E2E_PERSONAL_CODE_FILE", personal_code_file.display().to_string()),
        ("VARCO_E2E_SCREENSHOT", shot.display().to_string()),
    ];
    let browser = tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new("node");
        command.arg("registro.mjs").current_dir(crate::browser::e2e_dir());
        for (k, v) in envs {
            command.env(k, v);
        }
        command.output().expect("run node")
    });
    let ((pin, personal_code), output) = tokio::join!(
        async {
            tokio::time::timeout(Duration::from_secs(90), reader)
                .await
                .expect("the codes came")
        },
        browser
    );
    let output = output.expect("node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("e2e registro: ok"), "{stdout}");
    assert!(shot.exists());
    assert_eq!(pin.len(), 6);
    assert_eq!(personal_code.len(), 8);

    // The register recorded exactly two justified absences, with proof.
    let stored: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&store_file).unwrap()).unwrap();
    let absences: Vec<&serde_json::Value> = stored["students"]
        .as_object()
        .expect("students")
        .values()
        .flat_map(|s| s["absences"].as_array().expect("absences"))
        .collect();
    assert_eq!(absences.len(), 3, "{stored}");
    let justified: Vec<&serde_json::Value> = absences
        .iter()
        .copied()
        .filter(|a| a.get("justified").is_some())
        .collect();
    assert_eq!(justified.len(), 2, "{stored}");
    for absence in &justified {
        assert_eq!(absence["justified"]["acr"], "urn:varco:acr:second-secret");
        assert_eq!(absence["justified"]["reason"], "salute");
    }
    assert_eq!(
        justified[0]["justified"]["confirmation"], justified[1]["justified"]["confirmation"],
        "one confirmation for both"
    );
    let applications = stored["applications"].as_object().expect("applications");
    assert_eq!(applications.len(), 1, "{stored}");
    // Varco redeemed one confirmation of each person, once.
    for (account, confirmed) in [(&parent, 1), (&teacher, 1)] {
        let events: Vec<String> = t
            .audit_of(&account.user_code)
            .await
            .into_iter()
            .map(|e| e.event)
            .collect();
        assert_eq!(
            events.iter().filter(|e| *e == "act_confirmation_redeemed").count(),
            confirmed,
            "{events:?}"
        );
        assert!(events.iter().any(|e| e == "second_secret_regenerated"), "{events:?}");
    }
    let r = t.login("genitore", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    t.stop().await;
}
