//! The admin console: what an account with the `admin` role sees of the
//! whole deployment — the audit log (with a CSV export for a school's
//! data-protection officer), the outbox of messages not delivered, the
//! schools with their helpdesk contacts, the operators and their roles, and
//! (read-only) the OpenID Connect clients.
//!
//! The rule is checked here, on every call: someone who is not an admin is
//! answered [`AppError::NotFound`], as if the console did not exist (the
//! desk's way). Every export, retry and change is audited with the admin as
//! actor.

use serde::Serialize;
use varco_domain::AccountId;
use varco_domain::account::Role;
use varco_domain::clock::Timestamp;
use varco_domain::email::EmailAddress;
use varco_store::{AuditRecord, AuditSearch, OutboxFilter, SchoolUpdate, Tx};

use crate::account_actions::set_role_in;
use crate::audit::{self, AuditEvent, Target};
use crate::lookup::find_school;
use crate::mail::{SCHOOL_TIME_ZONE, format_time};
use crate::registration::{AddSchool, School, TOWN_CHARS, add_in, optional_email, optional_text};
use crate::{Actor, App, AppError, RequestContext};

/// Events on a page of the audit viewer.
pub const AUDIT_PAGE_SIZE: i64 = 50;

/// Most events one CSV export holds (narrow the filters beyond).
pub const EXPORT_LIMIT: i64 = 10_000;

/// Most messages the outbox page lists.
pub const OUTBOX_LIMIT: i64 = 200;

/// Longest event name accepted as a filter.
const MAX_EVENT_CHARS: usize = 64;

/// Longest last error shown.
const MAX_ERROR_CHARS: usize = 300;

/// The admin acting, or `NotFound` for anyone else.
async fn require_admin(tx: &mut Tx, actor: &Actor) -> Result<AccountId, AppError> {
    let Some(id) = actor.account_id() else {
        return Err(AppError::NotFound("page"));
    };
    if tx.roles_of(id).await?.iter().any(|r| r.role == Role::Admin) {
        Ok(id)
    } else {
        Err(AppError::NotFound("page"))
    }
}

/// Whether `actor` may open the admin console (`NotFound` otherwise).
pub async fn check(app: &App, actor: &Actor) -> Result<(), AppError> {
    let mut tx = app.store.begin_read().await?;
    require_admin(&mut tx, actor).await?;
    tx.commit().await?;
    Ok(())
}

/// The audit viewer's filters, as typed; blank means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// The user code of the account acting or acted on.
    pub user_code: Option<String>,
    /// The event's stable name (`login`, `desk_search`, ...).
    pub event: Option<String>,
    /// First day (`YYYY-MM-DD`, Europe/Rome), included.
    pub from: Option<String>,
    /// Last day (`YYYY-MM-DD`, Europe/Rome), included.
    pub to: Option<String>,
    /// A school's code: events about it, its accounts, or by them.
    pub school: Option<String>,
    /// Page number from 1.
    pub page: u32,
}

fn given(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// The start of `day` (`YYYY-MM-DD`) in the schools' zone, unix seconds.
fn day_start(field: &'static str, day: &str) -> Result<i64, AppError> {
    let date: jiff::civil::Date = day
        .parse()
        .map_err(|_| AppError::invalid(field, "a date as YYYY-MM-DD"))?;
    let zone = jiff::tz::TimeZone::get(SCHOOL_TIME_ZONE).unwrap_or(jiff::tz::TimeZone::UTC);
    let start = date
        .to_zoned(zone)
        .map_err(|_| AppError::invalid(field, "a date as YYYY-MM-DD"))?;
    Ok(start.timestamp().as_second())
}

/// The filters, read and checked against the store.
struct Filters {
    account_id: Option<AccountId>,
    /// A user code that names no account: nothing matches.
    nobody: bool,
    event: Option<String>,
    from: Option<i64>,
    until: Option<i64>,
    school: Option<(varco_domain::SchoolId, String)>,
}

async fn read_filters(tx: &mut Tx, query: &AuditQuery) -> Result<Filters, AppError> {
    let mut filters = Filters {
        account_id: None,
        nobody: false,
        event: None,
        from: None,
        until: None,
        school: None,
    };
    if let Some(code) = given(query.user_code.as_ref()) {
        let code = varco_domain::UserCode::parse(code).map_err(|e| AppError::invalid("user_code", e))?;
        match tx.account_by_user_code(code.as_str()).await? {
            Some(account) => filters.account_id = Some(account.id),
            None => filters.nobody = true,
        }
    }
    if let Some(event) = given(query.event.as_ref()) {
        let event = event.to_ascii_lowercase();
        if event.len() > MAX_EVENT_CHARS || !event.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            return Err(AppError::invalid("event", "an event name: lowercase letters and '_'"));
        }
        filters.event = Some(event);
    }
    if let Some(day) = given(query.from.as_ref()) {
        filters.from = Some(day_start("from", day)?);
    }
    if let Some(day) = given(query.to.as_ref()) {
        // The whole last day: up to the start of the next.
        day_start("to", day)?;
        let next = day
            .parse::<jiff::civil::Date>()
            .ok()
            .and_then(|date| date.tomorrow().ok())
            .ok_or_else(|| AppError::invalid("to", "a date as YYYY-MM-DD"))?;
        filters.until = Some(day_start("to", &next.to_string())?);
    }
    if let (Some(from), Some(until)) = (filters.from, filters.until)
        && until <= from
    {
        return Err(AppError::invalid("to", "the last day comes before the first"));
    }
    if let Some(code) = given(query.school.as_ref()) {
        let school = match find_school(tx, code).await {
            Ok(school) => school,
            Err(AppError::NotFound(_)) => return Err(AppError::invalid("school", "no school has this code")),
            Err(e) => return Err(e),
        };
        filters.school = Some((school.id, school.code));
    }
    Ok(filters)
}

async fn search(tx: &mut Tx, filters: &Filters, offset: i64, limit: i64) -> Result<Vec<AuditRecord>, AppError> {
    if filters.nobody {
        return Ok(Vec::new());
    }
    Ok(tx
        .search_audit(&AuditSearch {
            account_id: filters.account_id,
            event: filters.event.as_deref(),
            from: filters.from,
            until: filters.until,
            school: filters.school.as_ref().map(|(id, code)| (*id, code.as_str())),
            offset,
            limit,
        })
        .await?)
}

/// An audit event as the console shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuditRow {
    pub id: i64,
    /// `dd/mm/yyyy hh:mm`, Europe/Rome.
    pub at: String,
    /// RFC 3339, UTC.
    pub at_rfc3339: String,
    pub event: String,
    pub outcome: String,
    pub actor: String,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

impl From<AuditRecord> for AuditRow {
    fn from(r: AuditRecord) -> Self {
        AuditRow {
            id: r.id,
            at: format_time(Timestamp(r.at)),
            at_rfc3339: Timestamp(r.at).to_rfc3339(),
            event: r.event,
            outcome: r.outcome,
            actor: r.actor,
            target: r.target,
            ip: r.ip,
            user_agent: r.user_agent,
            detail: r.detail,
        }
    }
}

/// A page of the audit log.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuditPage {
    /// Newest first, at most [`AUDIT_PAGE_SIZE`].
    pub events: Vec<AuditRow>,
    /// This page's number, from 1.
    pub page: u32,
    /// Whether older events follow on the next page.
    pub more: bool,
}

/// A page of the audit log matching `query`. A filter that cannot be read
/// is [`AppError::Invalid`] on its field; a user code of no account matches
/// nothing.
pub async fn audit(app: &App, actor: &Actor, query: &AuditQuery) -> Result<AuditPage, AppError> {
    let mut tx = app.store.begin_read().await?;
    require_admin(&mut tx, actor).await?;
    let filters = read_filters(&mut tx, query).await?;
    let page = query.page.max(1);
    let offset = i64::from(page - 1) * AUDIT_PAGE_SIZE;
    let mut records = search(&mut tx, &filters, offset, AUDIT_PAGE_SIZE + 1).await?;
    tx.commit().await?;
    let more = records.len() as i64 > AUDIT_PAGE_SIZE;
    records.truncate(AUDIT_PAGE_SIZE as usize);
    Ok(AuditPage {
        events: records.into_iter().map(AuditRow::from).collect(),
        page,
        more,
    })
}

/// A cell as it may go into a spreadsheet: one starting with `=`, `+`, `-`,
/// `@` (or a tab or carriage return) would be read as a formula, so it is
/// prefixed with `'`.
pub fn neutralised(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_owned(),
    }
}

/// The header row of the CSV export.
pub const CSV_HEADER: [&str; 9] = [
    "id",
    "at",
    "event",
    "outcome",
    "actor",
    "target",
    "ip",
    "user_agent",
    "detail",
];

/// The audit log matching `query` (every page, at most [`EXPORT_LIMIT`]
/// events) as CSV, UTF-8, newest first; the export itself is audited, in
/// the same transaction. Returns the file and how many events it holds.
pub async fn audit_csv(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    query: &AuditQuery,
) -> Result<(Vec<u8>, usize), AppError> {
    let mut tx = app.store.begin().await?;
    require_admin(&mut tx, actor).await?;
    let filters = read_filters(&mut tx, query).await?;
    let records = search(&mut tx, &filters, 0, EXPORT_LIMIT).await?;
    let mut writer = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(Vec::new());
    let csv_error = |e: csv::Error| AppError::internal(format!("writing the CSV export: {e}"));
    writer.write_record(CSV_HEADER).map_err(csv_error)?;
    for r in &records {
        let cells = [
            r.id.to_string(),
            Timestamp(r.at).to_rfc3339(),
            r.event.clone(),
            r.outcome.clone(),
            r.actor.clone(),
            r.target.clone().unwrap_or_default(),
            r.ip.clone().unwrap_or_default(),
            r.user_agent.clone().unwrap_or_default(),
            r.detail.clone().unwrap_or_default(),
        ];
        writer
            .write_record(cells.iter().map(|c| neutralised(c)))
            .map_err(csv_error)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| AppError::internal(format!("writing the CSV export: {e}")))?;
    audit::record(
        &mut tx,
        app.now(),
        actor,
        ctx,
        Target::Nobody,
        AuditEvent::AuditExported { rows: records.len() },
    )
    .await?;
    tx.commit().await?;
    Ok((bytes, records.len()))
}

/// A message not delivered, as the console shows it: no payload (it may
/// hold links), the address masked.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: i64,
    /// `pending` or `failed`.
    pub status: String,
    pub template: String,
    /// The address, masked (`g•••a@example.org`).
    pub recipient: String,
    pub attempts: i64,
    /// When it was queued (`dd/mm/yyyy hh:mm`, Europe/Rome).
    pub created_at: String,
    /// When it is next tried, for a pending message.
    pub next_attempt_at: Option<String>,
    /// Why the last attempt failed (addresses masked, shortened).
    pub last_error: Option<String>,
}

/// Masks every email address in `text`, and shortens it.
fn scrubbed(text: &str) -> String {
    let words: Vec<String> = text
        .split(' ')
        .map(|word| {
            let bare = word.trim_matches(|c: char| matches!(c, '<' | '>' | ',' | ';' | '"' | '\'' | '(' | ')'));
            match EmailAddress::parse(bare) {
                Ok(address) => word.replace(bare, &address.masked()),
                Err(_) if word.contains('@') => "•••".to_owned(),
                Err(_) => word.to_owned(),
            }
        })
        .collect();
    let joined = words.join(" ");
    if joined.chars().count() > MAX_ERROR_CHARS {
        let mut cut: String = joined.chars().take(MAX_ERROR_CHARS).collect();
        cut.push('…');
        cut
    } else {
        joined
    }
}

fn masked(recipient: &str) -> String {
    EmailAddress::parse(recipient).map_or_else(|_| "•••".to_owned(), |a| a.masked())
}

/// The messages not delivered (waiting or given up on), newest first.
pub async fn outbox(app: &App, actor: &Actor) -> Result<Vec<OutboxItem>, AppError> {
    check(app, actor).await?;
    let records = app.store.list_outbox(OutboxFilter::Unsent, OUTBOX_LIMIT).await?;
    Ok(records
        .into_iter()
        .map(|r| {
            let failed = r.status == varco_domain::OutboxStatus::Failed;
            OutboxItem {
                id: r.id,
                status: if failed { "failed" } else { "pending" }.to_owned(),
                template: r.template,
                recipient: masked(&r.recipient),
                attempts: r.attempts,
                created_at: format_time(r.created_at),
                next_attempt_at: (!failed).then(|| format_time(r.next_attempt_at)),
                last_error: r.last_error.as_deref().map(scrubbed),
            }
        })
        .collect())
}

/// Puts a message not delivered back in the queue, due now; audited
/// (`mail_retry`) with the admin as actor. `NotFound` for a message that
/// does not exist or was delivered.
pub async fn retry_outbox(app: &App, actor: &Actor, ctx: &RequestContext, id: i64) -> Result<(), AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    require_admin(&mut tx, actor).await?;
    if !tx.retry_outbox(id, now).await? {
        return Err(AppError::NotFound("message"));
    }
    audit::record(
        &mut tx,
        now,
        actor,
        ctx,
        Target::Nobody,
        AuditEvent::MailRetry { outbox_id: id },
    )
    .await?;
    tx.commit().await?;
    app.mail_queued();
    Ok(())
}

/// Every school, by code.
pub async fn schools(app: &App, actor: &Actor) -> Result<Vec<School>, AppError> {
    let mut tx = app.store.begin_read().await?;
    require_admin(&mut tx, actor).await?;
    let schools = tx.list_schools().await?;
    tx.commit().await?;
    Ok(schools.into_iter().map(School::from).collect())
}

/// One school, by code (`NotFound` when there is none).
pub async fn school(app: &App, actor: &Actor, code: &str) -> Result<School, AppError> {
    let mut tx = app.store.begin_read().await?;
    require_admin(&mut tx, actor).await?;
    let school = find_school(&mut tx, code).await?;
    tx.commit().await?;
    Ok(school.into())
}

/// Adds a school, checked as the command line checks it (audited as
/// `school_created`).
pub async fn add_school(app: &App, actor: &Actor, ctx: &RequestContext, input: &AddSchool) -> Result<School, AppError> {
    let mut tx = app.store.begin().await?;
    require_admin(&mut tx, actor).await?;
    let school = add_in(&mut tx, app, actor, ctx, input).await?;
    tx.commit().await?;
    Ok(school)
}

/// A school's new name and helpdesk contacts; blank contacts are removed.
#[derive(Debug, Clone, Default)]
pub struct SchoolEdit {
    pub name: String,
    pub email: Option<String>,
    pub helpdesk_email: Option<String>,
    pub helpdesk_phone: Option<String>,
    pub helpdesk_hours: Option<String>,
    /// The town (comune); blank removes it.
    pub town: Option<String>,
}

/// Changes a school's name, town and contacts, checked like a new school's: a
/// value refused is [`AppError::Invalid`] on its field and nothing changes.
/// Audited as `school_updated` with the fields changed; false when nothing
/// differs.
pub async fn edit_school(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    code: &str,
    edit: &SchoolEdit,
) -> Result<bool, AppError> {
    let mut tx = app.store.begin().await?;
    require_admin(&mut tx, actor).await?;
    let school = find_school(&mut tx, code).await?;
    let name = optional_text("name", Some(&edit.name), 200)?.ok_or_else(|| AppError::invalid("name", "is required"))?;
    let email = optional_email("email", edit.email.as_deref())?;
    let helpdesk_email = optional_email("helpdesk_email", edit.helpdesk_email.as_deref())?;
    let helpdesk_phone = optional_text("helpdesk_phone", edit.helpdesk_phone.as_deref(), 40)?;
    let helpdesk_hours = optional_text("helpdesk_hours", edit.helpdesk_hours.as_deref(), 200)?;
    let town = optional_text("town", edit.town.as_deref(), TOWN_CHARS)?;
    let fields: Vec<&str> = [
        (name != school.name, "name"),
        (email != school.email, "email"),
        (helpdesk_email != school.helpdesk_email, "helpdesk_email"),
        (helpdesk_phone != school.helpdesk_phone, "helpdesk_phone"),
        (helpdesk_hours != school.helpdesk_hours, "helpdesk_hours"),
        (town != school.town, "town"),
    ]
    .into_iter()
    .filter_map(|(changed, field)| changed.then_some(field))
    .collect();
    if fields.is_empty() {
        return Ok(false);
    }
    tx.update_school(
        school.id,
        &SchoolUpdate {
            name: &name,
            email: email.as_deref(),
            helpdesk_email: helpdesk_email.as_deref(),
            helpdesk_phone: helpdesk_phone.as_deref(),
            helpdesk_hours: helpdesk_hours.as_deref(),
            town: town.as_deref(),
        },
    )
    .await?;
    audit::record(
        &mut tx,
        app.now(),
        actor,
        ctx,
        Target::School(&school.code),
        AuditEvent::SchoolUpdated {
            fields: fields.join(","),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// A role an operator holds, as the console shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HeldRole {
    /// `desk` or `admin`.
    pub role: Role,
    /// The school of a `desk` role.
    pub school: Option<String>,
}

/// An account holding at least one role.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Operator {
    pub user_code: String,
    pub first_name: String,
    pub last_name: String,
    /// `active`, `pending_activation` or `disabled`.
    pub status: String,
    /// The code of the account's own school.
    pub school: String,
    /// Its roles, admin first.
    pub roles: Vec<HeldRole>,
    /// Whether this is the admin looking.
    pub is_you: bool,
}

/// The message of the conflict an admin revoking their own admin role meets.
pub const OWN_ADMIN_ROLE: &str = "administrators cannot revoke their own admin role";

/// Every account holding a role, by name.
pub async fn operators(app: &App, actor: &Actor) -> Result<Vec<Operator>, AppError> {
    let mut tx = app.store.begin_read().await?;
    let me = require_admin(&mut tx, actor).await?;
    let holders = tx.role_holders().await?;
    tx.commit().await?;
    let mut operators: Vec<Operator> = Vec::new();
    for h in holders {
        let role = HeldRole {
            role: h.role,
            school: h.school_code,
        };
        match operators.last_mut() {
            Some(last) if last.user_code == h.user_code => last.roles.push(role),
            _ => operators.push(Operator {
                user_code: h.user_code,
                first_name: h.first_name,
                last_name: h.last_name,
                status: h.status,
                school: h.own_school_code,
                roles: vec![role],
                is_you: h.account_id == me,
            }),
        }
    }
    for o in &mut operators {
        o.roles.sort_by_key(|r| (r.role != Role::Admin, r.school.clone()));
    }
    Ok(operators)
}

/// Grants (`grant`) or revokes a role from the console: `desk` with a
/// school, `admin` without. Refused with [`AppError::Conflict`]: an admin
/// revoking their own admin role, and revoking the last admin of the
/// deployment (not disabled). Audited as `role_granted` / `role_revoked`;
/// false when nothing changed.
pub async fn set_role(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    user_code: &str,
    role: Role,
    school: Option<&str>,
    grant: bool,
) -> Result<bool, AppError> {
    let mut tx = app.store.begin().await?;
    let me = require_admin(&mut tx, actor).await?;
    if !grant && role == Role::Admin {
        let code = varco_domain::UserCode::parse(user_code).map_err(|e| AppError::invalid("user_code", e))?;
        let target = tx
            .account_by_user_code(code.as_str())
            .await?
            .ok_or(AppError::NotFound("account"))?;
        if target.id == me {
            return Err(AppError::conflict(OWN_ADMIN_ROLE));
        }
        let holds = tx.roles_of(target.id).await?.iter().any(|r| r.role == Role::Admin);
        if holds && target.status != varco_domain::account::AccountStatus::Disabled && tx.count_admins().await? <= 1 {
            return Err(AppError::conflict("the last administrator keeps the admin role"));
        }
    }
    let changed = set_role_in(&mut tx, app, actor, ctx, user_code, role, school, grant).await?;
    tx.commit().await?;
    Ok(changed)
}

/// A registered OpenID Connect client as the console shows it (never its
/// secret's hash or keys).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ClientView {
    pub name: String,
    pub client_id: String,
    /// `none`, `client_secret_basic`, `client_secret_post` or `private_key_jwt`.
    pub auth_method: String,
    pub redirect_uris: Vec<String>,
    /// The codes of the schools whose people may use it; empty for every school.
    pub schools: Vec<String>,
    /// No consent page.
    pub first_party: bool,
    /// When it was registered (`dd/mm/yyyy hh:mm`, Europe/Rome).
    pub created_at: String,
}

/// Every registered client, by name (read-only: `varco client` registers them).
pub async fn clients(app: &App, actor: &Actor) -> Result<Vec<ClientView>, AppError> {
    let mut tx = app.store.begin_read().await?;
    require_admin(&mut tx, actor).await?;
    let clients = tx.oidc_clients().await?;
    tx.commit().await?;
    let mut views: Vec<ClientView> = clients
        .into_iter()
        .map(|c| ClientView {
            name: c.name,
            client_id: c.client_id,
            auth_method: c.auth_method,
            redirect_uris: c.redirect_uris,
            schools: c.schools.unwrap_or_default(),
            first_party: c.first_party,
            created_at: format_time(c.created_at),
        })
        .collect();
    views.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.client_id.cmp(&b.client_id)));
    Ok(views)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_a_spreadsheet_would_run_are_neutralised() {
        for (cell, out) in [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("+39 02", "'+39 02"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("Rossi", "Rossi"),
            ("", ""),
        ] {
            assert_eq!(neutralised(cell), out);
        }
    }

    #[test]
    fn errors_lose_their_addresses_and_length() {
        assert_eq!(
            scrubbed("550 mailbox <giulia@example.org> unknown"),
            "550 mailbox <g•••a@example.org> unknown"
        );
        assert!(scrubbed(&"x ".repeat(400)).chars().count() <= MAX_ERROR_CHARS + 1);
    }

    #[test]
    fn days_are_read_in_the_schools_zone() {
        // 1 March 2026 00:00 in Rome is 23:00 UTC the day before.
        assert_eq!(day_start("from", "2026-03-01").unwrap(), 1_772_319_600);
        assert!(matches!(
            day_start("from", "01/03/2026"),
            Err(AppError::Invalid { field: "from", .. })
        ));
    }
}
