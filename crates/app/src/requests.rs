//! Email-change requests filed without signing in, and the desk's decision.
//!
//! ```text
//!   submit (public, document attached)
//!      │  document encrypted to a file first, then the row; receipt to the
//!      │  requester (number + status link), notice to the school's mailbox
//!      ▼
//!   received ──approve (desk)──▶ approved: an email change of the account,
//!      │                           confirmed by a link at the new address
//!      │                           (email_change::confirm), the old address told,
//!      │                           a reset link after it where passwords are used
//!      └──────reject (desk)───▶ rejected: the reason mailed to the requester
//!
//!   `retention` (jobs): the document deleted N days after the decision
//! ```
//!
//! Invariants:
//! - The answer to a submission is the same whoever the student or the
//!   requester is: no account is looked up before a human looks.
//! - Nothing half-written: the document file is written before the row's
//!   transaction and removed if the transaction fails; a refused submission
//!   stores nothing.
//! - Only the desk of the request's school (or an admin) sees it; anyone
//!   else gets `NotFound`, audited. Every view of the document is audited.
//! - An approval changes nothing on the account: the new address becomes the
//!   account's only once the link mailed to it comes back.

use rand::Rng;
use rand::rngs::OsRng;
use serde::Serialize;
use varco_domain::account::{AccountStatus, Role};
use varco_domain::audit::RequestStep;
use varco_domain::clock::Timestamp;
use varco_domain::email::EmailAddress;
use varco_domain::outbound::OutboundMessage;
use varco_domain::token::{SecretToken, TokenPurpose};
use varco_domain::{Lang, SchoolId, TaxCode, USER_CODE_ALPHABET};
use varco_store::{NewEmailChange, NewRequest, RequestRecord, RequestStatus, Tx};

use crate::audit::{self, AuditEvent, Target};
use crate::credentials::issue_link;
use crate::documents::{self, DocumentKind, MAX_DOCUMENT_BYTES};
use crate::mail::{Mail, enqueue, format_time};
use crate::sessions::Authenticated;
use crate::{Actor, App, AppError, RequestContext};

/// The school orders (ordini di scuola) a request may name.
pub const SCHOOL_ORDERS: &[&str] = &["infanzia", "primaria", "secondaria_primo", "secondaria_secondo"];

/// The longest text field accepted.
const MAX_FIELD: usize = 100;
/// The longest rejection reason.
pub const MAX_REASON: usize = 1000;

/// What the public form sends.
#[derive(Debug, Clone, Default)]
pub struct Submission {
    /// The school's code (codice meccanografico).
    pub school: String,
    pub student_first_name: String,
    pub student_last_name: String,
    /// One of [`SCHOOL_ORDERS`].
    pub school_order: String,
    pub class_name: String,
    pub building: String,
    pub requester_first_name: String,
    pub requester_last_name: String,
    pub tax_code: String,
    pub new_email: String,
    pub new_email_confirm: String,
    pub phone: String,
    /// The consent to the processing was given.
    pub consent: bool,
    /// The identity document's bytes (`None`: nothing attached).
    pub document: Option<Vec<u8>>,
}

/// Why one field of a submission is refused: the field and a stable code
/// (`blank`, `too_long`, `invalid`, `mismatch`, `unknown`, `missing`,
/// `too_large`, `wrong_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FieldRefusal {
    pub field: &'static str,
    pub code: &'static str,
}

/// Every refusal of a submission, in the form's order (the school is
/// checked against the store by [`submit`]).
pub fn validate(s: &Submission) -> Vec<FieldRefusal> {
    let mut refusals = Vec::new();
    let mut refuse = |field, code| refusals.push(FieldRefusal { field, code });
    if s.school.trim().is_empty() {
        refuse("school", "blank");
    }
    for (field, value) in [
        ("student_first_name", &s.student_first_name),
        ("student_last_name", &s.student_last_name),
    ] {
        if let Some(code) = text_refusal(value) {
            refuse(field, code);
        }
    }
    if !SCHOOL_ORDERS.contains(&s.school_order.as_str()) {
        refuse("school_order", "invalid");
    }
    for (field, value) in [
        ("class_name", &s.class_name),
        ("building", &s.building),
        ("requester_first_name", &s.requester_first_name),
        ("requester_last_name", &s.requester_last_name),
    ] {
        if let Some(code) = text_refusal(value) {
            refuse(field, code);
        }
    }
    if s.tax_code.trim().is_empty() {
        refuse("tax_code", "blank");
    } else if TaxCode::parse(s.tax_code.trim()).is_err() {
        refuse("tax_code", "invalid");
    }
    if s.new_email.trim().is_empty() {
        refuse("new_email", "blank");
    } else if EmailAddress::parse(s.new_email.trim()).is_err() {
        refuse("new_email", "invalid");
    } else if !s.new_email.trim().eq_ignore_ascii_case(s.new_email_confirm.trim()) {
        refuse("new_email_confirm", "mismatch");
    }
    let phone = s.phone.trim();
    if phone.is_empty() {
        refuse("phone", "blank");
    } else if phone.len() > 30
        || phone.chars().filter(char::is_ascii_digit).count() < 6
        || !phone.chars().all(|c| c.is_ascii_digit() || " +-./()".contains(c))
    {
        refuse("phone", "invalid");
    }
    match &s.document {
        None => refuse("document", "missing"),
        Some(bytes) if bytes.is_empty() => refuse("document", "missing"),
        Some(bytes) if bytes.len() > MAX_DOCUMENT_BYTES => refuse("document", "too_large"),
        Some(bytes) if DocumentKind::sniff(bytes).is_none() => refuse("document", "wrong_type"),
        Some(_) => {}
    }
    if !s.consent {
        refuse("consent", "missing");
    }
    refusals
}

fn text_refusal(value: &str) -> Option<&'static str> {
    let value = value.trim();
    if value.is_empty() {
        Some("blank")
    } else if value.chars().count() > MAX_FIELD {
        Some("too_long")
    } else if value.chars().any(char::is_control) {
        Some("invalid")
    } else {
        None
    }
}

fn refused(r: FieldRefusal) -> AppError {
    AppError::Invalid {
        field: r.field,
        message: r.code.to_owned(),
    }
}

/// A filed request, as its requester learns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// The request's number, e.g. `R-2026-7KQ2M9`.
    pub number: String,
    /// The secret of the status link (`/requests/email-change/status/{token}`).
    pub status_token: String,
}

fn new_number(app: &App) -> String {
    let year = crate::mail::format_date(app.now())
        .rsplit('/')
        .next()
        .unwrap_or("0000")
        .to_owned();
    let alphabet = USER_CODE_ALPHABET;
    let code: String = (0..6)
        .map(|_| alphabet[OsRng.gen_range(0..alphabet.len())] as char)
        .collect();
    format!("R-{year}-{code}")
}

/// The path of the status page of a token.
pub fn status_path(token: &str) -> String {
    format!("/requests/email-change/status/{token}")
}

/// Files a request: checks the fields (the first refusal is the error, see
/// [`validate`] for all of them), writes the encrypted document, then the
/// row, the audit event and the two notices. The same answer whatever
/// accounts exist.
pub async fn submit(app: &App, s: &Submission, ctx: &RequestContext) -> Result<Submitted, AppError> {
    if let Some(first) = validate(s).into_iter().next() {
        return Err(refused(first));
    }
    let Some(document) = s.document.clone() else {
        return Err(refused(FieldRefusal {
            field: "document",
            code: "missing",
        }));
    };
    let kind = DocumentKind::sniff(&document).ok_or_else(|| {
        refused(FieldRefusal {
            field: "document",
            code: "wrong_type",
        })
    })?;
    let school = {
        let mut tx = app.store.begin_read().await?;
        let school = tx.school_by_code(s.school.trim()).await?;
        tx.commit().await?;
        school.ok_or_else(|| {
            refused(FieldRefusal {
                field: "school",
                code: "unknown",
            })
        })?
    };
    let tax_code = TaxCode::parse(s.tax_code.trim()).map_err(|e| AppError::invalid("tax_code", e))?;
    let new_email = EmailAddress::parse(s.new_email.trim()).map_err(|e| AppError::invalid("new_email", e))?;
    let size = document.len() as i64;
    let file = documents::store(app, document).await?;
    match record_submission(app, s, &school, &tax_code, &new_email, kind, size, &file, ctx).await {
        Ok(submitted) => {
            app.mail_queued();
            Ok(submitted)
        }
        Err(e) => {
            if let Err(removal) = documents::remove(app, &file).await {
                tracing::error!(error = %crate::error_chain(&removal), "a refused request's document stays on disk");
            }
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn record_submission(
    app: &App,
    s: &Submission,
    school: &varco_store::SchoolRecord,
    tax_code: &TaxCode,
    new_email: &EmailAddress,
    kind: DocumentKind,
    size: i64,
    file: &str,
    ctx: &RequestContext,
) -> Result<Submitted, AppError> {
    let now = app.now();
    let lang = ctx.lang.unwrap_or_default();
    let token = SecretToken::generate(&mut OsRng);
    let number = new_number(app);
    let mut tx = app.store.begin().await?;
    let id = tx
        .insert_request(&NewRequest {
            number: &number,
            status_token_hash: token.hash().as_str(),
            school_id: school.id,
            student_first_name: s.student_first_name.trim(),
            student_last_name: s.student_last_name.trim(),
            school_order: &s.school_order,
            class_name: s.class_name.trim(),
            building: s.building.trim(),
            requester_first_name: s.requester_first_name.trim(),
            requester_last_name: s.requester_last_name.trim(),
            requester_tax_code: tax_code.as_ref(),
            new_email: new_email.as_str(),
            phone: s.phone.trim(),
            lang: lang.as_str(),
            document_file: file,
            document_type: kind.as_str(),
            document_size: size,
            now: now.0,
        })
        .await?;
    audit::record(
        &mut tx,
        now,
        &Actor::Anonymous,
        ctx,
        Target::School(&school.code),
        AuditEvent::ChangeRequest {
            step: RequestStep::Submitted,
            number: number.clone(),
        },
    )
    .await?;
    enqueue(
        &mut tx,
        app,
        Mail {
            to: new_email.as_str(),
            lang,
            school_id: Some(school.id),
            message: OutboundMessage::EmailChangeRequestReceived {
                first_name: s.requester_first_name.trim().to_owned(),
                request_number: number.clone(),
                status_link: app.link(&status_path(token.as_str())),
            },
        },
    )
    .await?;
    if let Some(mailbox) = school.email.as_deref().filter(|m| EmailAddress::parse(m).is_ok()) {
        enqueue(
            &mut tx,
            app,
            Mail {
                to: mailbox,
                lang: Lang::default(),
                school_id: Some(school.id),
                message: OutboundMessage::EmailChangeRequestSchoolNotice {
                    first_name: s.student_first_name.trim().to_owned(),
                    last_name: s.student_last_name.trim().to_owned(),
                    request_number: number.clone(),
                    class_name: s.class_name.trim().to_owned(),
                    building: s.building.trim().to_owned(),
                    desk_link: app.link(&format!("/desk/requests/{id}")),
                },
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Submitted {
        number,
        status_token: token.as_str().to_owned(),
    })
}

/// What the status page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusView {
    pub number: String,
    /// `received`, `approved` or `rejected`.
    pub status: &'static str,
    pub reason: Option<String>,
    /// When it was filed, as people read it.
    pub filed_at: String,
}

/// The status behind a status link; `None` for an unknown link.
pub async fn status(app: &App, token: &str) -> Result<Option<StatusView>, AppError> {
    let Some(token) = SecretToken::from_user(token) else {
        return Ok(None);
    };
    let mut tx = app.store.begin_read().await?;
    let record = tx.request_by_status_token(token.hash().as_str()).await?;
    tx.commit().await?;
    Ok(record.map(|r| StatusView {
        number: r.number,
        status: r.status.as_str(),
        reason: r.reason,
        filed_at: format_time(Timestamp(r.created_at)),
    }))
}

/// The schools an operator serves.
enum Scope {
    /// An admin: every school.
    All,
    /// The schools of the operator's `desk` grants (maybe none).
    Schools(Vec<SchoolId>),
}

impl Scope {
    fn of(operator: &Authenticated) -> Scope {
        if operator.roles.iter().any(|g| g.role == Role::Admin) {
            return Scope::All;
        }
        Scope::Schools(
            operator
                .roles
                .iter()
                .filter(|g| g.role == Role::Desk)
                .filter_map(|g| g.school_id)
                .collect(),
        )
    }

    fn covers(&self, school: SchoolId) -> bool {
        match self {
            Scope::All => true,
            Scope::Schools(ids) => ids.contains(&school),
        }
    }

    fn is_operator(&self) -> bool {
        match self {
            Scope::All => true,
            Scope::Schools(ids) => !ids.is_empty(),
        }
    }
}

/// Whether the account may use the desk's request pages at all.
pub fn is_operator(operator: &Authenticated) -> bool {
    Scope::of(operator).is_operator()
}

/// A request as the desk sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestView {
    pub id: i64,
    pub number: String,
    pub status: &'static str,
    pub school_code: String,
    pub school_name: String,
    pub student_first_name: String,
    pub student_last_name: String,
    pub school_order: String,
    pub class_name: String,
    pub building: String,
    pub requester_first_name: String,
    pub requester_last_name: String,
    pub requester_tax_code: String,
    pub new_email: String,
    pub phone: String,
    /// `pdf`, `jpeg` or `png`.
    pub document_type: String,
    pub document_size: i64,
    /// The document is still kept (retention has not deleted it).
    pub document_available: bool,
    pub reason: Option<String>,
    /// When it was filed, as people read it.
    pub filed_at: String,
    /// When it was decided, as people read it.
    pub decided_at: Option<String>,
}

impl From<RequestRecord> for RequestView {
    fn from(r: RequestRecord) -> Self {
        RequestView {
            id: r.id,
            number: r.number,
            status: r.status.as_str(),
            school_code: r.school_code,
            school_name: r.school_name,
            student_first_name: r.student_first_name,
            student_last_name: r.student_last_name,
            school_order: r.school_order,
            class_name: r.class_name,
            building: r.building,
            requester_first_name: r.requester_first_name,
            requester_last_name: r.requester_last_name,
            requester_tax_code: r.requester_tax_code,
            new_email: r.new_email,
            phone: r.phone,
            document_type: r.document_type,
            document_size: r.document_size,
            document_available: r.document_file.is_some(),
            reason: r.reason,
            filed_at: format_time(Timestamp(r.created_at)),
            decided_at: r.decided_at.map(|t| format_time(Timestamp(t))),
        }
    }
}

/// An account the request may be about, for the operator to choose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub user_code: String,
    pub first_name: String,
    pub last_name: String,
    /// The current address, masked.
    pub email_masked: Option<String>,
    /// Why it is suggested: `tax_code` (the requester's) or `name`.
    pub matched_by: &'static str,
}

/// A request with the accounts it may be about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestDetail {
    pub request: RequestView,
    pub candidates: Vec<Candidate>,
}

/// Parses a status filter: `received`, `approved`, `rejected`, or empty for all.
pub fn parse_status(text: &str) -> Result<Option<RequestStatus>, AppError> {
    if text.is_empty() || text == "all" {
        return Ok(None);
    }
    RequestStatus::parse(text)
        .map(Some)
        .ok_or_else(|| AppError::invalid("status", "one of received, approved, rejected, all"))
}

/// The requests of the operator's schools (every school for an admin),
/// oldest first; `NotFound` for an account that is no operator.
pub async fn list_for_school(
    app: &App,
    operator: &Authenticated,
    status: Option<RequestStatus>,
) -> Result<Vec<RequestView>, AppError> {
    let scope = Scope::of(operator);
    if !scope.is_operator() {
        return Err(AppError::NotFound("request"));
    }
    let mut tx = app.store.begin_read().await?;
    let schools = match &scope {
        Scope::All => None,
        Scope::Schools(ids) => Some(ids.as_slice()),
    };
    let records = tx.list_requests(schools, status, 500).await?;
    tx.commit().await?;
    Ok(records.into_iter().map(RequestView::from).collect())
}

/// The request `id` if the operator serves its school; otherwise the refusal
/// is audited (when the request exists) and the answer is `NotFound`.
async fn in_scope(
    tx: &mut Tx,
    app: &App,
    operator: &Authenticated,
    id: i64,
    ctx: &RequestContext,
) -> Result<Result<RequestRecord, AppError>, AppError> {
    let record = tx.request_by_id(id).await?;
    let scope = Scope::of(operator);
    match record {
        Some(r) if scope.covers(r.school_id) => Ok(Ok(r)),
        Some(r) => {
            audit::record(
                tx,
                app.now(),
                &operator.actor(),
                ctx,
                Target::School(&r.school_code),
                AuditEvent::ChangeRequest {
                    step: RequestStep::OutOfScope,
                    number: r.number.clone(),
                },
            )
            .await?;
            Ok(Err(AppError::NotFound("request")))
        }
        None => Ok(Err(AppError::NotFound("request"))),
    }
}

/// Opens a request for an operator (audited), with the suggested accounts.
pub async fn get(
    app: &App,
    operator: &Authenticated,
    id: i64,
    ctx: &RequestContext,
) -> Result<RequestDetail, AppError> {
    let mut tx = app.store.begin().await?;
    let record = match in_scope(&mut tx, app, operator, id, ctx).await? {
        Ok(r) => r,
        Err(refusal) => {
            tx.commit().await?;
            return Err(refusal);
        }
    };
    let candidates = tx
        .request_candidates(
            record.school_id,
            &record.requester_tax_code,
            [
                (&record.student_first_name, &record.student_last_name),
                (&record.requester_first_name, &record.requester_last_name),
            ],
        )
        .await?
        .into_iter()
        .map(|a| Candidate {
            matched_by: if !record.requester_tax_code.is_empty() && a.tax_code.as_ref() == record.requester_tax_code {
                "tax_code"
            } else {
                "name"
            },
            user_code: a.user_code.to_string(),
            email_masked: a.email.as_ref().map(EmailAddress::masked),
            first_name: a.first_name,
            last_name: a.last_name,
        })
        .collect();
    audit::record(
        &mut tx,
        app.now(),
        &operator.actor(),
        ctx,
        Target::School(&record.school_code),
        AuditEvent::ChangeRequest {
            step: RequestStep::Viewed,
            number: record.number.clone(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(RequestDetail {
        request: record.into(),
        candidates,
    })
}

/// A decrypted identity document.
#[derive(Debug, Clone)]
pub struct Document {
    pub bytes: Vec<u8>,
    pub kind: DocumentKind,
    /// A download name without personal data: `R-2026-7KQ2M9.pdf`.
    pub file_name: String,
}

/// The identity document of a request, decrypted; each view audited.
pub async fn document(
    app: &App,
    operator: &Authenticated,
    id: i64,
    ctx: &RequestContext,
) -> Result<Document, AppError> {
    let mut tx = app.store.begin().await?;
    let record = match in_scope(&mut tx, app, operator, id, ctx).await? {
        Ok(r) => r,
        Err(refusal) => {
            tx.commit().await?;
            return Err(refusal);
        }
    };
    let (Some(file), Some(kind)) = (&record.document_file, DocumentKind::parse(&record.document_type)) else {
        tx.commit().await?;
        return Err(AppError::NotFound("document"));
    };
    let bytes = documents::load(app, file).await?;
    audit::record(
        &mut tx,
        app.now(),
        &operator.actor(),
        ctx,
        Target::School(&record.school_code),
        AuditEvent::ChangeRequest {
            step: RequestStep::DocumentViewed,
            number: record.number.clone(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Document {
        bytes,
        kind,
        file_name: format!("{}.{}", record.number, kind.extension()),
    })
}

/// Approves a request for the account `user_code` of the request's school:
/// a confirmation link goes to the new address (it becomes the account's
/// only when the link comes back) and the current address is told.
pub async fn approve(
    app: &App,
    operator: &Authenticated,
    id: i64,
    user_code: &str,
    ctx: &RequestContext,
) -> Result<RequestView, AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let record = match in_scope(&mut tx, app, operator, id, ctx).await? {
        Ok(r) => r,
        Err(refusal) => {
            tx.commit().await?;
            return Err(refusal);
        }
    };
    if record.status != RequestStatus::Received {
        return Err(AppError::conflict("the request was already decided"));
    }
    let account = match varco_domain::UserCode::parse(user_code.trim()) {
        Ok(code) => tx.account_by_user_code(code.as_str()).await?,
        Err(_) => None,
    }
    .filter(|a| a.school_id == record.school_id && a.status != AccountStatus::Disabled)
    .ok_or_else(|| {
        AppError::invalid(
            "account",
            "no usable account of the request's school has this user code",
        )
    })?;
    let new_email =
        EmailAddress::parse(&record.new_email).map_err(|e| AppError::internal_because("stored address", e))?;
    let (token, token_id) = issue_link(
        &mut tx,
        account.id,
        TokenPurpose::EmailChange,
        Some(new_email.as_str()),
        now,
    )
    .await?;
    let change_id = tx
        .insert_email_change(&NewEmailChange {
            account_id: account.id,
            old_email: account.email.as_ref().map(EmailAddress::as_str),
            old_email_verified: account.email_verified,
            new_email: new_email.as_str(),
            confirm_token_id: token_id,
            now: now.0,
        })
        .await?;
    if !tx
        .approve_request(record.id, operator.account.id, account.id, change_id, now.0)
        .await?
    {
        return Err(AppError::conflict("the request was already decided"));
    }
    audit::record(
        &mut tx,
        now,
        &operator.actor(),
        ctx,
        (&account).into(),
        AuditEvent::ChangeRequest {
            step: RequestStep::Approved,
            number: record.number.clone(),
        },
    )
    .await?;
    let lang = crate::mail::lang_of(&account);
    enqueue(
        &mut tx,
        app,
        Mail {
            to: new_email.as_str(),
            lang,
            school_id: Some(account.school_id),
            message: OutboundMessage::EmailChangeConfirm {
                first_name: account.first_name.clone(),
                user_code: account.user_code.to_string(),
                link: app.link(&format!("/account/email/confirm?token={}", token.as_str())),
                expires_hours: TokenPurpose::EmailChange.default_lifetime_secs() / 3600,
            },
        },
    )
    .await?;
    if let Some(current) = &account.email {
        enqueue(
            &mut tx,
            app,
            Mail {
                to: current.as_str(),
                lang,
                school_id: Some(account.school_id),
                message: OutboundMessage::EmailChangeRequestedNotice {
                    first_name: account.first_name.clone(),
                    user_code: account.user_code.to_string(),
                    new_email_masked: new_email.masked(),
                    requested_at: format_time(now),
                    ip: None,
                    expires_hours: TokenPurpose::EmailChange.default_lifetime_secs() / 3600,
                    forgot_url: app.link("/password/forgot"),
                    help_url: app.link("/help"),
                },
            },
        )
        .await?;
    }
    let updated = tx
        .request_by_id(record.id)
        .await?
        .ok_or(AppError::NotFound("request"))?;
    tx.commit().await?;
    app.mail_queued();
    Ok(updated.into())
}

/// Rejects a request; the reason is mailed to the requester.
pub async fn reject(
    app: &App,
    operator: &Authenticated,
    id: i64,
    reason: &str,
    ctx: &RequestContext,
) -> Result<RequestView, AppError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::invalid("reason", "blank"));
    }
    if reason.chars().count() > MAX_REASON {
        return Err(AppError::invalid("reason", "too_long"));
    }
    let reason: String = reason.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let record = match in_scope(&mut tx, app, operator, id, ctx).await? {
        Ok(r) => r,
        Err(refusal) => {
            tx.commit().await?;
            return Err(refusal);
        }
    };
    if !tx
        .reject_request(record.id, operator.account.id, &reason, now.0)
        .await?
    {
        return Err(AppError::conflict("the request was already decided"));
    }
    audit::record(
        &mut tx,
        now,
        &operator.actor(),
        ctx,
        Target::School(&record.school_code),
        AuditEvent::ChangeRequest {
            step: RequestStep::Rejected,
            number: record.number.clone(),
        },
    )
    .await?;
    // The status link's secret is not kept: the message links the form.
    enqueue(
        &mut tx,
        app,
        Mail {
            to: &record.new_email,
            lang: Lang::parse(&record.lang).unwrap_or_default(),
            school_id: Some(record.school_id),
            message: OutboundMessage::EmailChangeRequestRejected {
                first_name: record.requester_first_name.clone(),
                request_number: record.number.clone(),
                reason,
                form_link: app.link("/requests/email-change"),
            },
        },
    )
    .await?;
    let updated = tx
        .request_by_id(record.id)
        .await?
        .ok_or(AppError::NotFound("request"))?;
    tx.commit().await?;
    app.mail_queued();
    Ok(updated.into())
}
