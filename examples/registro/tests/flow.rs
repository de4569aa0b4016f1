//! The register end to end over HTTP, against a stand-in for Varco that
//! follows Varco's act-confirmation contract (issue 11, part 3):
//! discovery, authorize, token (HTTP Basic,
//! PKCE S256), userinfo with the school and students claims, JWKS, and
//! `POST /api/v1/confirmations` + `/redeem` with a signed
//! `confirmation+jwt`. A cookie-keeping HTTP client plays the browser and
//! follows each redirect by hand.
//!
//! The test against the real `varco serve` is added once Varco's side of
//! the confirmation API is merged; this one pins the register's half.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use josekit::jws::{JwsHeader, RS256};
use josekit::jwt::{self, JwtPayload};
use registro::act::payload_hash;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

const CLIENT_ID: &str = "varco-registro-test";
const SECRET: &str = "a-secret/with+odd=chars";

/// Who signs in at the stand-in.
#[derive(Clone)]
struct Person {
    sub: &'static str,
    given: &'static str,
    family: &'static str,
    kind: &'static str,
    students: Option<Value>,
}

fn parent() -> Person {
    Person {
        sub: "sub-giulia",
        given: "Giulia",
        family: "Genitore",
        kind: "family",
        students: Some(json!([{
            "id": "st-marco", "given_name": "Marco", "family_name": "Rossi",
            "school": "Istituto Comprensivo Demo", "school_order": "primaria",
            "class_name": "3A", "building": "Plesso Verdi",
        }])),
    }
}

fn teacher() -> Person {
    Person {
        sub: "sub-maria",
        given: "Maria",
        family: "Docente",
        kind: "staff",
        students: None,
    }
}

/// What the stand-in does with the next confirmation.
#[derive(Clone, Copy, Default, PartialEq)]
enum Mode {
    #[default]
    Confirm,
    /// The person presses "Annulla".
    Cancel,
    /// The redeem answer names another payload hash.
    OtherHash,
    /// A Varco without the confirmation API: a 404 problem, not an OAuth error.
    NoApi,
}

struct Confirmation {
    sub: String,
    description: String,
    payload: Value,
    redirect_uri: String,
    state: String,
    code: Option<String>,
    redeemed: bool,
}

#[derive(Default)]
struct Fake {
    base: String,
    codes: HashMap<String, (String, String, String)>, // code -> (nonce, challenge, redirect_uri)
    scope: String,
    tokens: Vec<String>,
    confirmations: Vec<(String, Confirmation)>,
    mode: Mode,
    redeemed: usize,
}

struct Varco {
    person: Mutex<Person>,
    fake: Mutex<Fake>,
    key: josekit::jwk::Jwk,
    public: Value,
}

type Shared = State<Arc<Varco>>;

impl Varco {
    fn fake(&self) -> std::sync::MutexGuard<'_, Fake> {
        self.fake.lock().unwrap()
    }

    fn sign(&self, typ: &str, claims: Value) -> String {
        let mut header = JwsHeader::new();
        header.set_token_type(typ);
        header.set_key_id("k1");
        let payload = JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap();
        jwt::encode_with_signer(&payload, &header, &RS256.signer_from_jwk(&self.key).unwrap()).unwrap()
    }
}

fn random() -> String {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> i64 {
    i64::try_from(std::time::UNIX_EPOCH.elapsed().expect("after 1970").as_secs()).unwrap()
}

/// HTTP Basic with the form-urlencoded id and secret (RFC 6749 §2.3.1).
fn client_ok(headers: &HeaderMap) -> bool {
    let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return false;
    };
    let decoded = String::from_utf8(STANDARD.decode(basic).unwrap_or_default()).unwrap_or_default();
    let Some((id, secret)) = decoded.split_once(':') else {
        return false;
    };
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    decode(id) == CLIENT_ID && decode(secret) == SECRET
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": "refused by the stand-in"})),
    )
        .into_response()
}

async fn discovery(State(varco): Shared) -> Json<Value> {
    let base = varco.fake().base.clone();
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/oauth2/authorize"),
        "token_endpoint": format!("{base}/oauth2/token"),
        "userinfo_endpoint": format!("{base}/oauth2/userinfo"),
        "jwks_uri": format!("{base}/oauth2/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    }))
}

async fn jwks(State(varco): Shared) -> Json<Value> {
    Json(json!({"keys": [varco.public]}))
}

async fn authorize(State(varco): Shared, Query(q): Query<HashMap<String, String>>) -> Response {
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256");
    let code = random();
    let mut fake = varco.fake();
    fake.scope = q["scope"].clone();
    fake.codes.insert(
        code.clone(),
        (
            q["nonce"].clone(),
            q["code_challenge"].clone(),
            q["redirect_uri"].clone(),
        ),
    );
    let to = url::Url::parse_with_params(
        &q["redirect_uri"],
        [("code", code.as_str()), ("state", &q["state"]), ("iss", &fake.base)],
    )
    .unwrap();
    Redirect::to(to.as_str()).into_response()
}

async fn token(State(varco): Shared, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> Response {
    if !client_ok(&headers) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let mut fake = varco.fake();
    let Some((nonce, challenge, redirect_uri)) = fake.codes.remove(&form["code"]) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != challenge || form["redirect_uri"] != redirect_uri
    {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let access_token = random();
    fake.tokens.push(access_token.clone());
    let person = varco.person.lock().unwrap().clone();
    let id_token = varco.sign(
        "JWT",
        json!({
            "iss": fake.base, "sub": person.sub, "aud": CLIENT_ID, "azp": CLIENT_ID,
            "iat": now(), "exp": now() + 600, "auth_time": now(), "nonce": nonce,
            "acr": "urn:varco:acr:password", "amr": ["pwd"],
        }),
    );
    Json(json!({"access_token": access_token, "token_type": "Bearer", "expires_in": 600, "id_token": id_token}))
        .into_response()
}

async fn userinfo(State(varco): Shared, headers: HeaderMap) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !varco.fake().tokens.iter().any(|t| t == bearer) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_token");
    }
    let person = varco.person.lock().unwrap().clone();
    let mut claims = json!({
        "sub": person.sub, "given_name": person.given, "family_name": person.family,
        "name": format!("{} {}", person.given, person.family),
        "urn:varco:claims:school": [{"code": "DEMO000001", "name": "Istituto Comprensivo Demo",
                                     "kind": person.kind, "roles": []}],
    });
    if let Some(students) = person.students {
        claims["urn:varco:claims:students"] = students;
    }
    Json(claims).into_response()
}

async fn create(State(varco): Shared, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if !client_ok(&headers) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
    let id = random();
    let mut fake = varco.fake();
    if fake.mode == Mode::NoApi {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"title": "Not Found", "status": 404})),
        )
            .into_response();
    }
    let answer = json!({
        "confirmation_id": id,
        "confirm_url": format!("{}/confirm/{id}", fake.base),
        "expires_in": 600,
        "payload_hash": payload_hash(&body["payload"]),
    });
    fake.confirmations.push((
        id,
        Confirmation {
            sub: text("sub"),
            description: text("description"),
            payload: body["payload"].clone(),
            redirect_uri: text("redirect_uri"),
            state: text("state"),
            code: None,
            redeemed: false,
        },
    ));
    (StatusCode::CREATED, Json(answer)).into_response()
}

async fn confirm_page(State(varco): Shared, Path(id): Path<String>) -> Response {
    let mut fake = varco.fake();
    let (base, mode) = (fake.base.clone(), fake.mode);
    let (_, confirmation) = fake.confirmations.iter_mut().find(|(i, _)| *i == id).unwrap();
    let state = confirmation.state.clone();
    let mut params = vec![("state", state), ("iss", base)];
    if mode == Mode::Cancel {
        params.insert(0, ("error", "access_denied".into()));
    } else {
        let code = random();
        confirmation.code = Some(code.clone());
        params.insert(0, ("confirmation_code", code));
    }
    let to = url::Url::parse_with_params(&confirmation.redirect_uri, params).unwrap();
    Redirect::to(to.as_str()).into_response()
}

async fn redeem(State(varco): Shared, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if !client_ok(&headers) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let mut fake = varco.fake();
    let (base, mode) = (fake.base.clone(), fake.mode);
    let code = body["confirmation_code"].as_str().unwrap_or_default();
    let Some((id, confirmation)) = fake
        .confirmations
        .iter_mut()
        .find(|(_, c)| c.code.as_deref() == Some(code))
    else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    if confirmation.redeemed || confirmation.payload != body["payload"] {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    confirmation.redeemed = true;
    let hash = payload_hash(&confirmation.payload);
    let (id, sub, description) = (id.clone(), confirmation.sub.clone(), confirmation.description.clone());
    fake.redeemed += 1;
    let jwt = varco.sign(
        "confirmation+jwt",
        json!({
            "iss": base, "aud": CLIENT_ID, "sub": sub, "jti": id, "iat": now(), "exp": now() + 300,
            "auth_time": now() - 2, "acr": "urn:varco:acr:second-secret", "amr": ["pin"],
            "act": {"description": description, "payload_hash": hash},
        }),
    );
    let answered_hash = if mode == Mode::OtherHash {
        payload_hash(&json!({"type": "something else"}))
    } else {
        hash
    };
    Json(json!({
        "confirmation": jwt, "sub": sub, "acr": "urn:varco:acr:second-secret", "amr": ["pin"],
        "confirmed_at": now() - 2, "payload_hash": answered_hash,
    }))
    .into_response()
}

/// The stand-in Varco, the register next to it, and a browser.
struct World {
    varco: Arc<Varco>,
    register: String,
    data: std::path::PathBuf,
    browser: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn world(person: Person) -> World {
    let pair = RS256.generate_key_pair(2048).unwrap();
    let mut public = pair.to_jwk_public_key();
    public.set_key_id("k1");
    public.set_algorithm("RS256");
    let varco = Arc::new(Varco {
        person: Mutex::new(person),
        fake: Mutex::new(Fake::default()),
        key: pair.to_jwk_private_key(),
        public: Value::Object(public.as_ref().clone()),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    varco.fake().base = base.clone();
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oauth2/jwks", get(jwks))
        .route("/oauth2/authorize", get(authorize))
        .route("/oauth2/token", post(token))
        .route("/oauth2/userinfo", get(userinfo))
        .route("/api/v1/confirmations", post(create))
        .route("/api/v1/confirmations/redeem", post(redeem))
        .route("/confirm/{id}", get(confirm_page))
        .with_state(varco.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let (register, data) = start_register(&base, &dir).await;
    World {
        varco,
        register,
        data,
        browser: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        _dir: dir,
    }
}

async fn start_register(varco: &str, dir: &tempfile::TempDir) -> (String, std::path::PathBuf) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let data = dir.path().join("registro.json");
    let register = registro::build(&registro::Settings {
        varco: varco.to_owned(),
        client_id: CLIENT_ID.into(),
        client_secret: SECRET.into(),
        public_url: url.clone(),
        data: data.clone(),
    })
    .unwrap();
    tokio::spawn(registro::serve(listener, register, std::future::pending()));
    (url, data)
}

/// A page's status, final URL and HTML (see [`unescape`]).
struct Page {
    status: StatusCode,
    url: String,
    html: String,
}

impl World {
    /// Follows redirects (as a browser does after a 303: GET) from `response`.
    async fn follow(&self, mut response: reqwest::Response) -> Page {
        for _ in 0..10 {
            if !response.status().is_redirection() {
                break;
            }
            let location = response.headers()[header::LOCATION].to_str().unwrap().to_owned();
            let next = response.url().join(&location).unwrap();
            response = self.browser.get(next).send().await.unwrap();
        }
        Page {
            status: response.status(),
            url: response.url().to_string(),
            html: unescape(&response.text().await.unwrap()),
        }
    }

    async fn get(&self, path: &str) -> Page {
        let response = self
            .browser
            .get(format!("{}{path}", self.register))
            .send()
            .await
            .unwrap();
        self.follow(response).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.browser
            .post(format!("{}{path}", self.register))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Signs in through the stand-in; the person's page.
    async fn sign_in(&self) -> Page {
        let page = self.get("/login").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert_eq!(page.url, format!("{}/", self.register));
        page
    }

    fn stored(&self) -> Value {
        serde_json::from_slice(&std::fs::read(&self.data).unwrap()).unwrap()
    }

    fn confirmations(&self) -> usize {
        self.varco.fake().confirmations.len()
    }
}

/// The HTML with the `/` and `'` minijinja escapes put back.
fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/").replace("&#x27;", "'")
}

fn csrf(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a CSRF field")
        .to_owned()
}

#[tokio::test]
async fn a_parent_justifies_two_absences_confirmed_through_varco() {
    let w = world(parent()).await;
    let page = w.get("/").await;
    assert!(page.html.contains("Accedi con Varco"), "{}", page.html);

    let page = w.sign_in().await;
    assert_eq!(
        w.varco.fake().scope.split(' ').collect::<Vec<_>>(),
        ["openid", "profile", "school", "students"]
    );
    assert!(
        page.html.contains("Giulia Genitore") && page.html.contains("Marco Rossi"),
        "{}",
        page.html
    );
    assert_eq!(page.html.matches("Da giustificare").count(), 3, "three seeded absences");
    let token = csrf(&page.html);

    let response = w
        .post(
            "/giustifica",
            &[
                ("csrf", &token),
                ("student", "st-marco"),
                ("absence", "2026-11-13"),
                ("absence", "2026-11-12"),
                ("reason", "salute"),
                ("note", ""),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[header::LOCATION].to_str().unwrap().to_owned();
    let base = w.varco.fake().base.clone();
    assert!(location.starts_with(&format!("{base}/confirm/")), "{location}");
    {
        let fake = w.varco.fake();
        let (_, asked) = &fake.confirmations[0];
        assert_eq!(asked.sub, "sub-giulia");
        assert_eq!(
            asked.description,
            "Giustificazione delle assenze di Marco Rossi del 12/11/2026 e del 13/11/2026 — motivo: motivi di salute"
        );
        assert_eq!(
            asked.payload,
            json!({
                "type": "absence_justification",
                "students": ["st-marco"],
                "absences": [{"student": "st-marco", "date": "2026-11-12"},
                             {"student": "st-marco", "date": "2026-11-13"}],
                "reason": "salute",
            })
        );
        assert_eq!(asked.redirect_uri, format!("{}/callback", w.register));
        assert!(!asked.state.is_empty());
    }
    assert!(
        !w.stored().to_string().contains("justified"),
        "nothing recorded before the confirmation"
    );

    // Varco's page: the PIN is entered, the browser comes back with a code.
    let confirm = w.browser.get(&location).send().await.unwrap();
    let back = confirm.headers()[header::LOCATION].to_str().unwrap().to_owned();
    let page = w.follow(confirm).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert_eq!(page.url, format!("{}/", w.register));
    assert!(
        page.html.contains("Assenze giustificate: 12/11/2026, 13/11/2026."),
        "{}",
        page.html
    );
    assert_eq!(page.html.matches("badge ok\">Giustificata").count(), 2, "{}", page.html);
    assert_eq!(page.html.matches("Da giustificare").count(), 1);
    assert_eq!(w.varco.fake().redeemed, 1);

    let jti = w.varco.fake().confirmations[0].0.clone();
    let stored = w.stored();
    let absences = stored["students"]["st-marco"]["absences"].as_array().unwrap().clone();
    for absence in &absences[..2] {
        assert_eq!(absence["justified"]["confirmation"], jti.as_str());
        assert_eq!(absence["justified"]["reason"], "salute");
        assert_eq!(absence["justified"]["acr"], "urn:varco:acr:second-secret");
        assert!(absence["justified"]["confirmed_at"].as_i64().unwrap() > 1_700_000_000);
    }
    assert!(absences[2].get("justified").is_none());
    assert!(page.html.contains(&jti), "the proof's id is shown");

    // The same answer again (a reload, a replay): refused, nothing changes.
    let before = std::fs::read(&w.data).unwrap();
    let page = w.follow(w.browser.get(&back).send().await.unwrap()).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("Nessun dato è stato modificato"), "{}", page.html);
    assert_eq!(std::fs::read(&w.data).unwrap(), before);
    assert_eq!(w.varco.fake().redeemed, 1, "not redeemed twice");

    // Signing out ends the session: the old CSRF token is worthless.
    let page = w
        .follow(w.post("/esci", &[("csrf", &csrf(&w.get("/").await.html))]).await)
        .await;
    assert!(page.html.contains("Sei uscito dal registro"));
    let response = w
        .post(
            "/giustifica",
            &[
                ("csrf", &token),
                ("student", "st-marco"),
                ("absence", "2026-11-19"),
                ("reason", "famiglia"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(w.confirmations(), 1);
}

#[tokio::test]
async fn cancelled_refused_or_mismatched_confirmations_change_nothing() {
    let w = world(parent()).await;
    let page = w.sign_in().await;
    let token = csrf(&page.html);
    let justify = |extra: Vec<(&'static str, &'static str)>| {
        let mut form = vec![("csrf", token.as_str()), ("student", "st-marco")];
        form.extend(extra);
        form
    };
    let unchanged = |w: &World| {
        let stored = w.stored();
        assert!(
            stored["students"]["st-marco"]["absences"]
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a.get("justified").is_none()),
            "{stored}"
        );
    };

    // A wrong or missing CSRF token: refused before Varco is asked.
    for bad in ["", "not-the-token"] {
        let mut form = justify(vec![("absence", "2026-11-12"), ("reason", "salute")]);
        form[0].1 = bad;
        let page = w.follow(w.post("/giustifica", &form).await).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        assert!(page.html.contains("Modulo scaduto"));
    }
    assert_eq!(w.confirmations(), 0);

    // Bad forms: shown again with the reason, Varco not asked.
    for (extra, message) in [
        (vec![("reason", "salute")], "Seleziona almeno un'assenza"),
        (vec![("absence", "2026-11-12")], "Scegli il motivo"),
        (
            vec![("absence", "2026-11-12"), ("reason", "altro"), ("note", " ")],
            "breve spiegazione",
        ),
        (
            vec![("absence", "2026-11-01"), ("reason", "salute")],
            "non è da giustificare",
        ),
        (
            vec![("absence", "12/11/2026"), ("reason", "salute")],
            "non è da giustificare",
        ),
    ] {
        let response = w.post("/giustifica", &justify(extra.clone())).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{extra:?}");
        let html = unescape(&response.text().await.unwrap());
        assert!(html.contains(message), "{extra:?}: {html}");
    }
    let response = w
        .post(
            "/giustifica",
            &[
                ("csrf", &token),
                ("student", "st-someone-else"),
                ("absence", "2026-11-12"),
                ("reason", "salute"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(w.confirmations(), 0);

    // The person cancels at Varco.
    w.varco.fake().mode = Mode::Cancel;
    let page = w
        .follow(
            w.post(
                "/giustifica",
                &justify(vec![("absence", "2026-11-12"), ("reason", "famiglia")]),
            )
            .await,
        )
        .await;
    assert_eq!(page.url, format!("{}/", w.register));
    assert!(page.html.contains("Operazione annullata"), "{}", page.html);
    assert_eq!(page.html.matches("Da giustificare").count(), 3);
    unchanged(&w);

    // Varco answers with the hash of another payload.
    w.varco.fake().mode = Mode::OtherHash;
    let page = w
        .follow(
            w.post(
                "/giustifica",
                &justify(vec![("absence", "2026-11-12"), ("reason", "salute")]),
            )
            .await,
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_GATEWAY);
    assert!(page.html.contains("La conferma non corrisponde"), "{}", page.html);
    assert!(page.html.contains("Nessun dato è stato modificato"));
    unchanged(&w);

    // A forged answer (a state this browser never sent).
    w.varco.fake().mode = Mode::Confirm;
    let response = w
        .post(
            "/giustifica",
            &justify(vec![("absence", "2026-11-12"), ("reason", "salute")]),
        )
        .await;
    let to_varco = response.headers()[header::LOCATION].to_str().unwrap().to_owned();
    let base = w.varco.fake().base.clone();
    let forged = format!(
        "{}/callback?confirmation_code=x&state=forged&iss={}",
        w.register,
        url::form_urlencoded::byte_serialize(base.as_bytes()).collect::<String>()
    );
    let page = w.follow(w.browser.get(&forged).send().await.unwrap()).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("Risposta non riconosciuta"));
    unchanged(&w);

    // The real answer, after the forged one: the pending request is still
    // there, but the stand-in refuses a code it never issued.
    let confirm = w.browser.get(&to_varco).send().await.unwrap();
    let back = confirm.headers()[header::LOCATION].to_str().unwrap().to_owned();
    let refused = back.replace("confirmation_code=", "confirmation_code=x");
    let page = w.follow(w.browser.get(&refused).send().await.unwrap()).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("Conferma rifiutata da Varco") && page.html.contains("invalid_grant"));
    unchanged(&w);
    // That answer used the pending request: the genuine code comes too late.
    let page = w.follow(w.browser.get(&back).send().await.unwrap()).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    unchanged(&w);
    assert_eq!(w.varco.fake().redeemed, 1, "only the mismatched one was redeemed");

    // Varco's answer must name Varco as its issuer.
    let response = w
        .post(
            "/giustifica",
            &justify(vec![("absence", "2026-11-12"), ("reason", "salute")]),
        )
        .await;
    let confirm = w
        .browser
        .get(response.headers()[header::LOCATION].to_str().unwrap())
        .send()
        .await
        .unwrap();
    let back = confirm.headers()[header::LOCATION].to_str().unwrap().to_owned();
    let other_issuer = back.replace("iss=http", "iss=https");
    let page = w.follow(w.browser.get(&other_issuer).send().await.unwrap()).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("non proviene da Varco"), "{}", page.html);
    unchanged(&w);

    // Signing in again forgets a confirmation asked before.
    let response = w
        .post(
            "/giustifica",
            &justify(vec![("absence", "2026-11-19"), ("reason", "salute")]),
        )
        .await;
    let confirm = w
        .browser
        .get(response.headers()[header::LOCATION].to_str().unwrap())
        .send()
        .await
        .unwrap();
    let back = confirm.headers()[header::LOCATION].to_str().unwrap().to_owned();
    let page = w.sign_in().await;
    assert_ne!(csrf(&page.html), token, "a new session, a new CSRF token");
    let page = w.follow(w.browser.get(&back).send().await.unwrap()).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("Risposta non riconosciuta"));
    unchanged(&w);
}

#[tokio::test]
async fn a_teacher_confirms_the_application_with_the_personal_code() {
    let w = world(teacher()).await;
    let page = w.sign_in().await;
    assert!(page.html.contains("Domanda di mobilità 2027/28") && page.html.contains("Da confermare"));
    assert!(!page.html.contains("Assenze"), "no children, no absences");
    let token = csrf(&page.html);
    // A Varco without the confirmation API: a clear page, nothing recorded.
    w.varco.fake().mode = Mode::NoApi;
    let page = w.follow(w.post("/domanda", &[("csrf", &token)]).await).await;
    assert_eq!(page.status, StatusCode::BAD_GATEWAY);
    assert!(
        page.html.contains("<h1>Risposta inattesa da Varco</h1>"),
        "{}",
        page.html
    );
    assert!(!w.data.exists(), "nothing written");
    w.varco.fake().mode = Mode::Confirm;
    let page = w.follow(w.post("/domanda", &[("csrf", &token)]).await).await;
    assert_eq!(page.url, format!("{}/", w.register));
    assert!(
        page.html.contains("Domanda di mobilità 2027/28 confermata."),
        "{}",
        page.html
    );
    assert!(page.html.contains("badge ok\">Confermata"));
    assert!(!page.html.contains("action=\"/domanda\""));
    let (jti, description, payload) = {
        let fake = w.varco.fake();
        let (id, c) = &fake.confirmations[0];
        (id.clone(), c.description.clone(), c.payload.clone())
    };
    assert_eq!(
        description,
        "Conferma della domanda di mobilità 2027/28 di Maria Docente"
    );
    assert_eq!(
        payload,
        json!({"type": "application", "application": "mobilita-2027-28"})
    );
    assert_eq!(
        w.stored()["applications"]["sub-maria"]["mobilita-2027-28"]["confirmation"],
        jti.as_str()
    );
    // A parent cannot confirm it.
    let w = world(parent()).await;
    let page = w.sign_in().await;
    let response = w.post("/domanda", &[("csrf", &csrf(&page.html))]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(w.confirmations(), 0);
}

#[tokio::test]
async fn an_unreachable_varco_is_a_clear_page() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let dir = tempfile::tempdir().unwrap();
    let (register, data) = start_register(&closed, &dir).await;
    let browser = reqwest::Client::new();
    let response = browser.get(format!("{register}/login")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let html = response.text().await.unwrap();
    assert!(html.contains("<h1>Varco non raggiungibile</h1>"), "{html}");
    assert!(html.contains("Nessun dato è stato modificato"));
    assert!(!data.exists());
    // The register itself still answers.
    let home = browser.get(format!("{register}/")).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    assert_eq!(
        browser
            .get(format!("{register}/healthz"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );
}
