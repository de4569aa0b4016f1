//! Act confirmations: a school application asks Varco to have the signed-in
//! person confirm one act — the justification of some absences, an
//! application — with their PIN (families) or personal code (staff), and
//! gets back single-use proof bound to exactly what the person saw.
//!
//! The flow (modelled on RFC 9396's `authorization_details` carried by a
//! code flow):
//! 1. the application, authenticated as at the token endpoint, creates the
//!    confirmation for a `sub` it knows (a person with a live grant of that
//!    application), with a description shown verbatim and a JSON payload;
//! 2. the person, signed in to Varco as that same account, reads both on
//!    Varco's page and enters the secret; Varco sends the browser back to the
//!    application's registered redirect URI with a one-time code (60 s);
//! 3. the application redeems the code with the same payload: Varco checks
//!    the client, the payload's hash and single use, and answers with a JWT
//!    signed by the provider's key (`typ` `confirmation+jwt`) naming the
//!    act's hash, the person, when and how the secret was entered.
//!
//! A payload may name students (`"students": [id, …]`, the ids of the
//! `urn:varco:claims:students` claim): the person must still be their
//! guardian at creation, at confirmation and at redemption.
//!
//! Wrong secrets count against the person's lock (five in a row, across all
//! acts), in [`crate::second_secret`]; every step is audited.

use serde::Serialize;
use serde_json::{Map, Value, json};
use varco_domain::AccountId;
use varco_domain::account::AccountStatus;
use varco_domain::audit::{AuditEvent, ConfirmationRefusal, ConfirmationStep};
use varco_domain::clock::Timestamp;
use varco_oidc::{Alg, act, secret};
use varco_store::{ClientRecord, ConfirmationRecord, ConfirmationStatus, NewConfirmation, Tx};

use crate::audit::{self, Target};
use crate::error::OAuthCode;
use crate::provider::{client_of, oidc_internal, serves, subject_for};
use crate::second_secret::check_secret;
pub use crate::second_secret::{ACR_SECOND_SECRET, SecretRefusal, method_of};
use crate::sessions::Authenticated;
use crate::{Actor, App, AppError, RequestContext};

/// How long the person has to confirm.
pub const CONFIRMATION_TTL_SECS: i64 = 600;
/// How long the application has to redeem the code.
pub const CODE_TTL_SECS: i64 = 60;
/// How long the signed confirmation is valid.
pub const PROOF_TTL_SECS: i64 = 300;
/// The longest description, in characters.
pub const MAX_DESCRIPTION: usize = 500;
/// The largest payload, as canonical JSON bytes.
pub const MAX_PAYLOAD: usize = 8192;
/// The longest `state`.
pub const MAX_STATE: usize = 512;

/// What an application sends to create a confirmation.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct CreateRequest {
    pub sub: Option<String>,
    pub description: Option<String>,
    pub payload: Option<Value>,
    pub redirect_uri: Option<String>,
    pub state: Option<String>,
}

/// A confirmation created.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Created {
    pub confirmation_id: String,
    /// Where the application sends the person's browser.
    pub confirm_url: String,
    pub expires_in: i64,
    pub payload_hash: String,
}

/// A redeemed confirmation.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Redeemed {
    /// The signed proof (`typ` `confirmation+jwt`).
    pub confirmation: String,
    pub sub: String,
    pub acr: &'static str,
    pub amr: Vec<&'static str>,
    pub confirmed_at: i64,
    pub payload_hash: String,
}

fn invalid(description: &'static str) -> AppError {
    AppError::oauth(OAuthCode::InvalidRequest, description)
}

fn invalid_grant(description: &'static str) -> AppError {
    AppError::oauth(OAuthCode::InvalidGrant, description)
}

/// Authenticates a confidential client (a public one cannot be trusted with
/// a proof it could not keep to itself).
async fn confidential_client(
    app: &App,
    credentials: &crate::provider::ClientCredentials,
    ctx: &RequestContext,
) -> Result<ClientRecord, AppError> {
    let client = client_of(app, credentials, ctx).await?;
    if client.public {
        return Err(AppError::oauth(
            OAuthCode::UnauthorizedClient,
            "a public client cannot ask for act confirmations",
        ));
    }
    Ok(client)
}

/// Checks the fields of a creation; the payload comes back canonical.
fn read_request(client: &ClientRecord, request: &CreateRequest) -> Result<(String, Value, String), AppError> {
    let description = request
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .ok_or_else(|| invalid("description is required"))?;
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(invalid("description is longer than 500 characters"));
    }
    if description.chars().any(|c| c.is_control() && c != '\n') {
        return Err(invalid("description holds control characters"));
    }
    let payload = match &request.payload {
        Some(Value::Object(_)) => act::sorted(request.payload.as_ref().unwrap_or(&Value::Null)),
        Some(_) => return Err(invalid("payload must be a JSON object")),
        None => return Err(invalid("payload is required")),
    };
    if payload.to_string().len() > MAX_PAYLOAD {
        return Err(invalid("payload is larger than 8192 bytes"));
    }
    if let Some(students) = payload.get("students")
        && !students
            .as_array()
            .is_some_and(|ids| ids.iter().all(|id| id.as_str().is_some_and(|s| !s.is_empty())))
    {
        return Err(invalid("payload.students must be a list of student ids"));
    }
    let redirect_uri = request
        .redirect_uri
        .as_deref()
        .ok_or_else(|| invalid("redirect_uri is required"))?;
    if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
        return Err(invalid("redirect_uri is not registered for this client"));
    }
    if request.state.as_deref().is_some_and(|s| s.len() > MAX_STATE) {
        return Err(invalid("state is longer than 512 characters"));
    }
    Ok((description.to_owned(), payload, redirect_uri.to_owned()))
}

/// The students a payload names.
fn named_students(payload: &Value) -> Vec<String> {
    payload
        .get("students")
        .and_then(Value::as_array)
        .map(|ids| ids.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Whether the account is still the guardian of every student the payload
/// names (ids as the client sees them).
async fn guardian_of_all(
    tx: &mut Tx,
    app: &App,
    client_id: &str,
    account_id: AccountId,
    payload: &Value,
) -> Result<bool, AppError> {
    let named = named_students(payload);
    if named.is_empty() {
        return Ok(true);
    }
    let children = crate::guardianship::client_student_ids(tx, app, client_id, account_id).await?;
    Ok(named.iter().all(|id| children.iter().any(|c| c == id)))
}

/// Creates a confirmation for the person the client calls `sub`.
pub async fn create(
    app: &App,
    credentials: &crate::provider::ClientCredentials,
    request: &CreateRequest,
    ctx: &RequestContext,
) -> Result<Created, AppError> {
    let client = confidential_client(app, credentials, ctx).await?;
    let (description, payload, redirect_uri) = read_request(&client, request)?;
    let sub = request
        .sub
        .as_deref()
        .filter(|s| !s.is_empty() && s.len() <= 255)
        .ok_or_else(|| invalid("sub is required"))?;
    let now = app.now();
    let mut tx = app.store.begin().await?;
    // Only people who signed in to this application (a live grant): a
    // client cannot probe for accounts it never met.
    let account_id = tx
        .granted_subjects(&client.client_id, now)
        .await?
        .into_iter()
        .find(|(_, subject)| subject_for(app, &client, subject) == sub)
        .map(|(id, _)| id)
        .ok_or_else(|| invalid("sub is not a person signed in to this application"))?;
    let account = tx
        .account_by_id(account_id)
        .await?
        .ok_or(AppError::NotFound("account"))?;
    if account.status != AccountStatus::Active || !serves(&client, &account) {
        return Err(invalid("this person cannot confirm acts for this application now"));
    }
    if !guardian_of_all(&mut tx, app, &client.client_id, account_id, &payload).await? {
        return Err(invalid(
            "payload.students names a student the person is not the guardian of",
        ));
    }
    let public_id = secret::new_token();
    let canonical = payload.to_string();
    let payload_hash = act::payload_hash(&payload);
    tx.insert_confirmation(&NewConfirmation {
        public_id: &public_id,
        client_id: &client.client_id,
        account_id,
        description: &description,
        payload: &canonical,
        payload_hash: &payload_hash,
        redirect_uri: &redirect_uri,
        state: request.state.as_deref(),
        created_at: now,
        expires_at: now.plus_secs(CONFIRMATION_TTL_SECS),
    })
    .await?;
    audit::record(
        &mut tx,
        now,
        &Actor::Anonymous,
        ctx,
        (&account).into(),
        AuditEvent::ActConfirmation {
            client_id: client.client_id.clone(),
            confirmation: short(&public_id),
            step: ConfirmationStep::Requested,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Created {
        confirm_url: app.link(&format!("/confirm/{public_id}")),
        confirmation_id: public_id,
        expires_in: CONFIRMATION_TTL_SECS,
        payload_hash,
    })
}

/// The first characters of a public id: enough to follow it in the audit
/// log, not enough to open it.
fn short(public_id: &str) -> String {
    public_id.chars().take(8).collect()
}

/// One line of the payload as the person reads it: a dotted path and a value.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PayloadLine {
    pub key: String,
    pub value: String,
}

fn flatten(prefix: &str, value: &Value, out: &mut Vec<PayloadLine>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, value, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{}]", i + 1), item, out);
            }
        }
        Value::String(s) => out.push(PayloadLine {
            key: prefix.to_owned(),
            value: s.clone(),
        }),
        other => out.push(PayloadLine {
            key: prefix.to_owned(),
            value: other.to_string(),
        }),
    }
}

/// What the confirmation page shows.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConfirmationView {
    pub public_id: String,
    pub client_name: String,
    pub description: String,
    /// Every value of the payload, in the order of its canonical form.
    pub payload: Vec<PayloadLine>,
    /// `pin` or `personal_code`.
    pub method: &'static str,
    /// `pending`, `expired`, `confirmed`, `cancelled` or `redeemed`.
    pub state: &'static str,
}

/// Loads a confirmation for the signed-in person: another person's, or an
/// unknown id, is "not found" (the other person's attempt audited).
async fn load_for(
    tx: &mut Tx,
    app: &App,
    session: &Authenticated,
    public_id: &str,
    ctx: &RequestContext,
) -> Result<(ConfirmationRecord, ClientRecord), AppError> {
    if public_id.len() > 64 {
        return Err(AppError::NotFound("confirmation"));
    }
    let Some(record) = tx.confirmation(public_id).await? else {
        return Err(AppError::NotFound("confirmation"));
    };
    if record.account_id != session.account.id {
        audit::record(
            tx,
            app.now(),
            &session.actor(),
            ctx,
            (&session.account).into(),
            AuditEvent::ActConfirmation {
                client_id: record.client_id.clone(),
                confirmation: short(public_id),
                step: ConfirmationStep::Refused(ConfirmationRefusal::OtherAccount),
            },
        )
        .await?;
        return Err(AppError::NotFound("confirmation"));
    }
    let client = tx
        .oidc_client(&record.client_id)
        .await?
        .ok_or(AppError::NotFound("confirmation"))?;
    Ok((record, client))
}

fn state_of(record: &ConfirmationRecord, now: Timestamp) -> &'static str {
    match record.status {
        ConfirmationStatus::Pending if record.expires_at <= now => "expired",
        status => status.as_str(),
    }
}

/// The confirmation page's content.
pub async fn show(
    app: &App,
    session: &Authenticated,
    public_id: &str,
    ctx: &RequestContext,
) -> Result<ConfirmationView, AppError> {
    let mut tx = app.store.begin().await?;
    let loaded = load_for(&mut tx, app, session, public_id, ctx).await;
    tx.commit().await?;
    let (record, client) = loaded?;
    let payload: Value = serde_json::from_str(&record.payload).unwrap_or(Value::Null);
    let mut lines = Vec::new();
    flatten("", &payload, &mut lines);
    Ok(ConfirmationView {
        public_id: record.public_id.clone(),
        client_name: client.name,
        description: record.description.clone(),
        payload: lines,
        method: method_of(session.account.kind),
        state: state_of(&record, app.now()),
    })
}

/// What entering the secret led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmOutcome {
    /// Confirmed: send the browser here (the client's redirect URI with the
    /// one-time code).
    Redirect(String),
    /// Not confirmed: say why on the page.
    Refused(SecretRefusal),
}

fn back_to_client(record: &ConfirmationRecord, app: &App, pairs: &[(&str, &str)]) -> Result<String, AppError> {
    let mut url =
        url::Url::parse(&record.redirect_uri).map_err(|e| AppError::internal_because("stored redirect URI", e))?;
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in pairs {
            query.append_pair(k, v);
        }
        if let Some(state) = &record.state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", &app.settings.public_url);
    }
    Ok(url.to_string())
}

/// The person enters their secret for a confirmation.
pub async fn confirm(
    app: &App,
    session: &Authenticated,
    public_id: &str,
    input: &str,
    ctx: &RequestContext,
) -> Result<ConfirmOutcome, AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let loaded = load_for(&mut tx, app, session, public_id, ctx).await;
    let (record, _client) = match loaded {
        Ok(found) => found,
        Err(e) => {
            tx.commit().await?;
            return Err(e);
        }
    };
    if state_of(&record, now) != "pending" {
        return Ok(ConfirmOutcome::Refused(SecretRefusal::NotPending));
    }
    let payload: Value = serde_json::from_str(&record.payload).unwrap_or(Value::Null);
    if !guardian_of_all(&mut tx, app, &record.client_id, record.account_id, &payload).await? {
        refuse(&mut tx, app, ctx, &record, ConfirmationRefusal::GuardianLinkGone).await?;
        tx.commit().await?;
        return Ok(ConfirmOutcome::Refused(SecretRefusal::GuardianLinkGone));
    }
    tx.commit().await?;
    // Checked (and counted) in its own transaction: a wrong entry must count
    // even though nothing else happens.
    if let Err(refusal) = check_secret(app, ctx, session, input).await? {
        return Ok(ConfirmOutcome::Refused(refusal));
    }
    let code = secret::new_token();
    let mut tx = app.store.begin().await?;
    let method = method_of(session.account.kind);
    if !tx
        .confirm_confirmation(
            record.id,
            method,
            &secret::hash(&code),
            now,
            now.plus_secs(CODE_TTL_SECS),
        )
        .await?
    {
        tx.commit().await?;
        return Ok(ConfirmOutcome::Refused(SecretRefusal::NotPending));
    }
    audit::record(
        &mut tx,
        now,
        &session.actor(),
        ctx,
        (&session.account).into(),
        AuditEvent::ActConfirmation {
            client_id: record.client_id.clone(),
            confirmation: short(&record.public_id),
            step: ConfirmationStep::Confirmed,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(ConfirmOutcome::Redirect(back_to_client(
        &record,
        app,
        &[("confirmation_code", &code)],
    )?))
}

/// The person declines: back to the application with `access_denied`.
pub async fn cancel(
    app: &App,
    session: &Authenticated,
    public_id: &str,
    ctx: &RequestContext,
) -> Result<String, AppError> {
    let mut tx = app.store.begin().await?;
    let loaded = load_for(&mut tx, app, session, public_id, ctx).await;
    let (record, _) = match loaded {
        Ok(found) => found,
        Err(e) => {
            tx.commit().await?;
            return Err(e);
        }
    };
    if tx.cancel_confirmation(record.id).await? {
        audit::record(
            &mut tx,
            app.now(),
            &session.actor(),
            ctx,
            (&session.account).into(),
            AuditEvent::ActConfirmation {
                client_id: record.client_id.clone(),
                confirmation: short(&record.public_id),
                step: ConfirmationStep::Cancelled,
            },
        )
        .await?;
    }
    tx.commit().await?;
    back_to_client(&record, app, &[("error", "access_denied")])
}

async fn refuse(
    tx: &mut Tx,
    app: &App,
    ctx: &RequestContext,
    record: &ConfirmationRecord,
    why: ConfirmationRefusal,
) -> Result<(), AppError> {
    audit::record(
        tx,
        app.now(),
        &Actor::Anonymous,
        ctx,
        Target::Account {
            id: record.account_id,
            user_code: None,
        },
        AuditEvent::ActConfirmation {
            client_id: record.client_id.clone(),
            confirmation: short(&record.public_id),
            step: ConfirmationStep::Refused(why),
        },
    )
    .await
}

/// The application redeems the code with the payload it sent.
pub async fn redeem(
    app: &App,
    credentials: &crate::provider::ClientCredentials,
    code: Option<&str>,
    payload: Option<&Value>,
    ctx: &RequestContext,
) -> Result<Redeemed, AppError> {
    let client = confidential_client(app, credentials, ctx).await?;
    let code = code
        .filter(|c| !c.is_empty() && c.len() <= 128)
        .ok_or_else(|| invalid("confirmation_code is required"))?;
    let payload = payload.ok_or_else(|| invalid("payload is required"))?;
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let Some(record) = tx.confirmation_by_code(&secret::hash(code)).await? else {
        audit::record(
            &mut tx,
            now,
            &Actor::Anonymous,
            ctx,
            Target::Nobody,
            AuditEvent::ActConfirmation {
                client_id: client.client_id.clone(),
                confirmation: String::new(),
                step: ConfirmationStep::Refused(ConfirmationRefusal::UnknownCode),
            },
        )
        .await?;
        tx.commit().await?;
        return Err(invalid_grant("the confirmation code is not valid"));
    };
    let refusal = if record.client_id != client.client_id {
        // Said like an unknown code: a client learns nothing of others'.
        Some((ConfirmationRefusal::OtherClient, "the confirmation code is not valid"))
    } else if record.status == ConfirmationStatus::Redeemed {
        Some((
            ConfirmationRefusal::AlreadyRedeemed,
            "the confirmation code was already used",
        ))
    } else if record.status != ConfirmationStatus::Confirmed || record.code_expires_at.is_none_or(|at| at <= now) {
        Some((ConfirmationRefusal::Expired, "the confirmation code has expired"))
    } else if act::payload_hash(payload) != record.payload_hash {
        Some((
            ConfirmationRefusal::PayloadMismatch,
            "the payload is not the one the person confirmed",
        ))
    } else if !guardian_of_all(&mut tx, app, &record.client_id, record.account_id, payload).await? {
        Some((
            ConfirmationRefusal::GuardianLinkGone,
            "a student of the payload is no longer the person's child",
        ))
    } else if !tx.redeem_confirmation(record.id, now).await? {
        Some((
            ConfirmationRefusal::AlreadyRedeemed,
            "the confirmation code was already used",
        ))
    } else {
        None
    };
    if let Some((why, description)) = refusal {
        refuse(&mut tx, app, ctx, &record, why).await?;
        tx.commit().await?;
        return Err(invalid_grant(description));
    }
    let account = tx
        .account_by_id(record.account_id)
        .await?
        .ok_or(AppError::NotFound("account"))?;
    let subject = crate::provider::subject_of(&mut tx, &account).await?;
    audit::record(
        &mut tx,
        now,
        &Actor::Anonymous,
        ctx,
        (&account).into(),
        AuditEvent::ActConfirmation {
            client_id: client.client_id.clone(),
            confirmation: short(&record.public_id),
            step: ConfirmationStep::Redeemed,
        },
    )
    .await?;
    tx.commit().await?;
    let sub = subject_for(app, &client, &subject);
    let confirmed_at = record.confirmed_at.unwrap_or(now);
    let amr = vec!["pin"];
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(app.settings.public_url));
    claims.insert("aud".into(), json!(client.client_id));
    claims.insert("sub".into(), json!(sub));
    claims.insert("jti".into(), json!(record.public_id));
    claims.insert("iat".into(), json!(now.0));
    claims.insert("exp".into(), json!(now.0 + PROOF_TTL_SECS));
    claims.insert("auth_time".into(), json!(confirmed_at.0));
    claims.insert("acr".into(), json!(ACR_SECOND_SECRET));
    claims.insert("amr".into(), json!(amr));
    claims.insert(
        "second_secret".into(),
        json!(
            record
                .method
                .clone()
                .unwrap_or_else(|| method_of(account.kind).to_owned())
        ),
    );
    claims.insert(
        "act".into(),
        json!({ "description": record.description, "payload_hash": record.payload_hash }),
    );
    let key = app.keys.signing(app, Alg::Rs256).await?;
    let confirmation = tokio::task::spawn_blocking(move || key.sign(&claims, Some("confirmation+jwt")))
        .await
        .map_err(|e| AppError::internal_because("signing task", e))?
        .map_err(oidc_internal)?;
    Ok(Redeemed {
        confirmation,
        sub,
        acr: ACR_SECOND_SECRET,
        amr,
        confirmed_at: confirmed_at.0,
        payload_hash: record.payload_hash,
    })
}

/// Removes confirmations expired more than a day ago.
pub async fn purge_expired(app: &App) -> Result<u64, AppError> {
    let mut tx = app.store.begin().await?;
    let n = tx.purge_confirmations(app.now()).await?;
    tx.commit().await?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_reads_as_lines_in_canonical_order() {
        let payload = act::sorted(&json!({
            "type": "absence_justification",
            "reason": "motivi di salute",
            "absences": [{"student": "s1", "date": "2026-11-12"}, {"student": "s1", "date": "2026-11-13"}],
            "count": 2,
        }));
        let mut lines = Vec::new();
        flatten("", &payload, &mut lines);
        let text: Vec<String> = lines.iter().map(|l| format!("{}={}", l.key, l.value)).collect();
        assert_eq!(
            text,
            [
                "absences[1].date=2026-11-12",
                "absences[1].student=s1",
                "absences[2].date=2026-11-13",
                "absences[2].student=s1",
                "count=2",
                "reason=motivi di salute",
                "type=absence_justification",
            ]
        );
        assert_eq!(named_students(&json!({"students": ["a", "b"]})), ["a", "b"]);
        assert!(named_students(&json!({"other": 1})).is_empty());
    }
}
