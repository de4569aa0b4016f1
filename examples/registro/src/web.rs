//! The register's HTTP surface:
//!
//! | route | what |
//! |---|---|
//! | `GET /` | the welcome page, or the person's page |
//! | `GET /login` | starts a sign-in at Varco |
//! | `GET /callback` | Varco's answer: a sign-in (`code`) or a confirmation (`confirmation_code`), told apart by the `state` this session sent |
//! | `POST /giustifica` | asks Varco to confirm the justification of absences |
//! | `POST /domanda` | asks Varco to confirm the teacher's application |
//! | `POST /esci` | signs out of the register |
//! | `GET /healthz` | `ok` |
//!
//! Both kinds of answer come back to the one registered redirect URI. Every
//! POST needs the session's CSRF token. Nothing is recorded before Varco's
//! confirmation has been redeemed with the same payload and verified; any
//! failure shows an Italian page and changes nothing.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use jiff::civil::Date;

use crate::act::{APPLICATION_ID, Application, FormError, Justification, Reason, italian_date};
use crate::pages::{FormState, Pages};
use crate::person::Person;
use crate::session::{self, Act, Flash, PendingConfirmation, PendingSignIn, Session, Sessions};
use crate::store::{Justified, Store, StoreError};
use crate::varco::{Varco, VarcoError};

/// What every handler shares.
#[derive(Debug)]
pub struct Register {
    /// The connection to Varco.
    pub varco: Varco,
    /// The absences and applications.
    pub store: Store,
    /// The browsers' sessions.
    pub sessions: Sessions,
    /// The pages.
    pub pages: Pages,
    /// Whether cookies get `Secure` (an https public URL).
    pub secure_cookies: bool,
}

type Shared = State<Arc<Register>>;
type Fields = Vec<(String, String)>;

/// The register's routes.
pub fn router(register: Arc<Register>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/giustifica", post(justify))
        .route("/domanda", post(apply))
        .route("/esci", post(sign_out))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(not_found)
        .with_state(register)
}

/// The Unix time now (the register has no injected clock: it only checks a
/// confirmation's `exp` and `iat` with it).
#[expect(
    clippy::disallowed_methods,
    reason = "the example register reads the system clock in one place"
)]
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn field<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// The session of the request and its token.
fn session_of(register: &Register, headers: &HeaderMap) -> Option<(String, Session)> {
    let token = session::token_of(headers)?;
    let session = register.sessions.get(&token)?;
    Some((token, session))
}

/// The page for a failed request to Varco; nothing was changed.
fn varco_failed(register: &Register, what: &str, error: &VarcoError) -> Response {
    tracing::warn!("{what}: {error}");
    let status = match error {
        VarcoError::Refused { .. } | VarcoError::IdToken(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::BAD_GATEWAY,
    };
    register.pages.error(status, error.title(), &error.italian(), true)
}

fn expired_form(register: &Register) -> Response {
    register.pages.error(
        StatusCode::FORBIDDEN,
        "Modulo scaduto",
        "Il modulo non è più valido (la sessione è scaduta o la pagina è vecchia). Ricarica la pagina e riprova.",
        true,
    )
}

fn signed_out(register: &Register) -> Response {
    register.pages.error(
        StatusCode::UNAUTHORIZED,
        "Accesso necessario",
        "La sessione è scaduta: accedi di nuovo con Varco e riprova.",
        true,
    )
}

async fn not_found(State(register): Shared) -> Response {
    register.pages.error(
        StatusCode::NOT_FOUND,
        "Pagina non trovata",
        "L'indirizzo richiesto non esiste in questo registro.",
        false,
    )
}

async fn home(State(register): Shared, headers: HeaderMap) -> Response {
    let Some((token, session)) = session_of(&register, &headers) else {
        return register.pages.welcome(None);
    };
    let flash = register.sessions.update(&token, |s| s.flash.take()).flatten();
    let Some(person) = &session.person else {
        return register.pages.welcome(flash.as_ref());
    };
    if let Err(e) = seed(&register, person) {
        return store_failed(&register, &e);
    }
    let data = register.store.snapshot();
    register
        .pages
        .home(StatusCode::OK, person, &data, &session.csrf, flash.as_ref(), None)
}

/// Gives the person's children never seen before their demo absences.
fn seed(register: &Register, person: &Person) -> Result<(), StoreError> {
    let ids: Vec<&str> = person.students.iter().map(|s| s.id.as_str()).collect();
    register.store.seed(&ids)
}

fn store_failed(register: &Register, error: &StoreError) -> Response {
    tracing::error!("{error}");
    register.pages.error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Dati non salvati",
        "Il registro non è riuscito a salvare i dati. Riprova tra poco; se il problema continua, avvisa la segreteria.",
        true,
    )
}

async fn login(State(register): Shared, headers: HeaderMap) -> Response {
    let request = match register.varco.sign_in_request().await {
        Ok(request) => request,
        Err(e) => return varco_failed(&register, "sign-in request", &e),
    };
    let url = request.url.clone();
    let pending = PendingSignIn {
        request,
        at: Instant::now(),
    };
    let existing = session::token_of(&headers).filter(|t| register.sessions.get(t).is_some());
    let mut response = see_other(&url);
    match existing {
        Some(token) => {
            register.sessions.update(&token, |s| s.sign_in = Some(pending));
        }
        None => {
            let (token, mut session) = register.sessions.create();
            session.sign_in = Some(pending);
            register.sessions.put(&token, session);
            response
                .headers_mut()
                .insert(header::SET_COOKIE, session::set_cookie(&token, register.secure_cookies));
        }
    }
    response
}

async fn callback(
    State(register): Shared,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let stale = || {
        register.pages.error(
            StatusCode::BAD_REQUEST,
            "Risposta non riconosciuta",
            "La risposta di Varco non corrisponde a nessuna richiesta in corso in questo browser (parametro state \
             assente, diverso o scaduto). Riparti dalla pagina del registro.",
            true,
        )
    };
    let (Some(token), Some(state)) = (session::token_of(&headers), params.get("state")) else {
        return stale();
    };
    let Some((sign_in, confirmation)) = register
        .sessions
        .update(&token, |s| (s.take_sign_in(state), s.take_confirmation(state)))
    else {
        return stale();
    };
    // RFC 9207: the answer names its issuer, which must be Varco.
    if params.get("iss").map(String::as_str) != Some(register.varco.issuer()) {
        return register.pages.error(
            StatusCode::BAD_REQUEST,
            "Risposta non riconosciuta",
            "La risposta non proviene da Varco (parametro iss assente o diverso).",
            true,
        );
    }
    match (sign_in, confirmation) {
        (Some(sign_in), _) => signed_in(&register, &token, sign_in, &params).await,
        (None, Some(confirmation)) => confirmed(&register, &token, confirmation, &params).await,
        (None, None) => stale(),
    }
}

async fn signed_in(
    register: &Register,
    token: &str,
    pending: PendingSignIn,
    params: &HashMap<String, String>,
) -> Response {
    if let Some(error) = params.get("error") {
        let text = if error == "access_denied" {
            "L'accesso è stato annullato in Varco.".to_owned()
        } else {
            format!("Varco non ha concesso l'accesso (codice «{error}»).")
        };
        return register
            .pages
            .error(StatusCode::BAD_REQUEST, "Accesso non riuscito", &text, true);
    }
    let Some(code) = params.get("code") else {
        return register.pages.error(
            StatusCode::BAD_REQUEST,
            "Accesso non riuscito",
            "La risposta di Varco non contiene il codice di accesso.",
            true,
        );
    };
    let person = match register.varco.sign_in(code, &pending.request).await {
        Ok(person) => person,
        Err(e) => return varco_failed(register, "sign-in", &e),
    };
    if let Err(e) = seed(register, &person) {
        return store_failed(register, &e);
    }
    tracing::info!(
        sub = %person.sub,
        staff = person.staff,
        students = person.students.len(),
        "signed in"
    );
    // A new token once signed in: a token planted before is worthless.
    let Some((new_token, _)) = register.sessions.renew(token) else {
        return signed_out(register);
    };
    register.sessions.update(&new_token, |s| {
        s.person = Some(person);
        // A confirmation asked by whoever was signed in before is not this person's.
        s.confirmation = None;
    });
    let mut response = see_other("/");
    response.headers_mut().insert(
        header::SET_COOKIE,
        session::set_cookie(&new_token, register.secure_cookies),
    );
    response
}

async fn confirmed(
    register: &Register,
    token: &str,
    pending: PendingConfirmation,
    params: &HashMap<String, String>,
) -> Response {
    let Some(person) = register.sessions.get(token).and_then(|s| s.person) else {
        return signed_out(register);
    };
    let flash = |kind: &'static str, text: String| {
        register
            .sessions
            .update(token, |s| s.flash = Some(Flash { kind, text }));
        see_other("/")
    };
    if let Some(error) = params.get("error") {
        if error == "access_denied" {
            return flash(
                "info",
                "Operazione annullata: non hai confermato in Varco, quindi non è stato modificato nulla.".into(),
            );
        }
        return register.pages.error(
            StatusCode::BAD_REQUEST,
            "Conferma non riuscita",
            &format!("Varco non ha confermato l'operazione (codice «{error}»)."),
            true,
        );
    }
    let Some(code) = params.get("confirmation_code") else {
        return register.pages.error(
            StatusCode::BAD_REQUEST,
            "Conferma non riuscita",
            "La risposta di Varco non contiene il codice di conferma.",
            true,
        );
    };
    let proof = match register
        .varco
        .redeem(code, &pending.payload, &person.sub, &pending.confirmation_id, now())
        .await
    {
        Ok(proof) => proof,
        Err(e) => return varco_failed(register, "confirmation", &e),
    };
    let recorded = match &pending.act {
        Act::Absences { student, dates, reason } => register
            .store
            .justify(
                student,
                dates,
                &Justified {
                    reason: reason.code().to_owned(),
                    reason_text: reason.note().map(str::to_owned),
                    confirmed: proof.clone(),
                },
            )
            .map(|()| {
                let days: Vec<String> = dates.iter().map(|d| italian_date(*d)).collect();
                let noun = if dates.len() == 1 {
                    "Assenza giustificata"
                } else {
                    "Assenze giustificate"
                };
                format!("{noun}: {}.", days.join(", "))
            }),
        Act::Application => register
            .store
            .confirm_application(&person.sub, APPLICATION_ID, &proof)
            .map(|()| "Domanda di mobilità 2027/28 confermata.".to_owned()),
    };
    match recorded {
        Ok(text) => {
            tracing::info!(sub = %person.sub, confirmation = %proof.confirmation, "act confirmed and recorded");
            flash("success", text)
        }
        Err(StoreError::NotPending | StoreError::AlreadyConfirmed) => register.pages.error(
            StatusCode::CONFLICT,
            "Già registrato",
            "Nel frattempo l'operazione risulta già registrata (ad esempio da un'altra finestra): la nuova \
             conferma non è stata usata.",
            true,
        ),
        Err(e) => store_failed(register, &e),
    }
}

/// Why a POST is not taken.
enum Refused {
    /// No session, or a wrong CSRF token.
    Expired,
    /// A session without anyone signed in.
    SignedOut,
}

impl Refused {
    fn page(self, register: &Register) -> Response {
        match self {
            Refused::Expired => expired_form(register),
            Refused::SignedOut => signed_out(register),
        }
    }
}

/// The session token and signed-in person of a POST whose CSRF token is right.
fn checked_post(register: &Register, headers: &HeaderMap, fields: &Fields) -> Result<(String, Person), Refused> {
    let (token, session) = session_of(register, headers).ok_or(Refused::Expired)?;
    if !session.csrf_ok(field(fields, "csrf")) {
        return Err(Refused::Expired);
    }
    let person = session.person.ok_or(Refused::SignedOut)?;
    Ok((token, person))
}

async fn justify(State(register): Shared, headers: HeaderMap, Form(fields): Form<Fields>) -> Response {
    let (token, person) = match checked_post(&register, &headers, &fields) {
        Ok(found) => found,
        Err(refused) => return refused.page(&register),
    };
    let student_id = field(&fields, "student").unwrap_or_default();
    let Some(student) = person.students.iter().find(|s| s.id == student_id) else {
        return register.pages.error(
            StatusCode::BAD_REQUEST,
            "Studente non trovato",
            "Lo studente indicato non risulta collegato al tuo account.",
            true,
        );
    };
    let ticked: BTreeSet<String> = fields
        .iter()
        .filter(|(k, _)| k == "absence")
        .map(|(_, v)| v.clone())
        .collect();
    let reason_code = field(&fields, "reason").unwrap_or_default();
    let note = field(&fields, "note").unwrap_or_default();
    let pending = register.store.pending(&student.id);
    let built = ticked
        .iter()
        .map(|d| d.parse::<Date>().ok().filter(|d| pending.contains(d)))
        .collect::<Option<Vec<Date>>>()
        .ok_or(FormError::UnknownAbsence)
        .and_then(|dates| Ok((dates, Reason::from_form(reason_code, note)?)))
        .and_then(|(dates, reason)| Justification::new(&student.id, &student.name(), dates, reason));
    let justification = match built {
        Ok(justification) => justification,
        Err(error) => {
            let form = FormState {
                student: student.id.clone(),
                error: error.to_string(),
                dates: ticked,
                reason: reason_code.to_owned(),
                note: note.to_owned(),
            };
            let csrf = register.sessions.get(&token).map(|s| s.csrf).unwrap_or_default();
            let data = register.store.snapshot();
            return register.pages.home(
                StatusCode::UNPROCESSABLE_ENTITY,
                &person,
                &data,
                &csrf,
                None,
                Some(&form),
            );
        }
    };
    let act = Act::Absences {
        student: justification.student.clone(),
        dates: justification.dates.clone(),
        reason: justification.reason.clone(),
    };
    ask_varco(
        &register,
        &token,
        &person,
        &justification.description(),
        justification.payload(),
        act,
    )
    .await
}

async fn apply(State(register): Shared, headers: HeaderMap, Form(fields): Form<Fields>) -> Response {
    let (token, person) = match checked_post(&register, &headers, &fields) {
        Ok(found) => found,
        Err(refused) => return refused.page(&register),
    };
    if !person.staff {
        return register.pages.error(
            StatusCode::FORBIDDEN,
            "Operazione non disponibile",
            "Solo il personale della scuola può confermare questa domanda.",
            true,
        );
    }
    let application = Application {
        applicant_name: person.name.clone(),
    };
    let data = register.store.snapshot();
    if data
        .applications
        .get(&person.sub)
        .is_some_and(|mine| mine.contains_key(APPLICATION_ID))
    {
        return see_other("/");
    }
    let description = application.description();
    ask_varco(
        &register,
        &token,
        &person,
        &description,
        application.payload(),
        Act::Application,
    )
    .await
}

/// Creates the confirmation at Varco, remembers it in the session and sends
/// the browser to Varco's page.
async fn ask_varco(
    register: &Register,
    token: &str,
    person: &Person,
    description: &str,
    payload: serde_json::Value,
    act: Act,
) -> Response {
    let state = session::random_token();
    let created = match register
        .varco
        .create_confirmation(&person.sub, description, &payload, &state)
        .await
    {
        Ok(created) => created,
        Err(e) => return varco_failed(register, "confirmation request", &e),
    };
    let pending = PendingConfirmation {
        state,
        confirmation_id: created.confirmation_id,
        payload,
        act,
        at: Instant::now(),
    };
    if register
        .sessions
        .update(token, |s| s.confirmation = Some(pending))
        .is_none()
    {
        return signed_out(register);
    }
    see_other(&created.confirm_url)
}

async fn sign_out(State(register): Shared, headers: HeaderMap, Form(fields): Form<Fields>) -> Response {
    let Some((token, session)) = session_of(&register, &headers) else {
        return see_other("/");
    };
    if !session.csrf_ok(field(&fields, "csrf")) {
        return expired_form(&register);
    }
    register.sessions.remove(&token);
    let mut response = register.pages.bye(register.varco.issuer());
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie(register.secure_cookies));
    response
}
