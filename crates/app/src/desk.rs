//! The desk (segreteria): what a school's operators do for the people who
//! come to the counter or phone — find an account, see why it cannot sign
//! in, lift a lock, disable or enable it, send a new activation link,
//! correct a wrong tax code or name.
//!
//! The invariant is the scope, checked here and nowhere else, on every call
//! and inside the transaction that acts:
//!
//! - an operator with the `desk` role of school S reaches the family
//!   accounts of S, and the staff accounts of S;
//! - staff accounts of *any* school too when the deployment allows it
//!   (`desk.staff_recovery_any_school`, on by default: the national
//!   portal's rule that staff may go to the secretariat of any state school);
//! - an `admin` reaches every account;
//! - an account outside the scope answers exactly like one that does not
//!   exist ([`AppError::NotFound`]), and the attempt is audited
//!   (`desk_access_refused`);
//! - nobody acts on their own account through the desk, and only an admin
//!   acts on an account that holds a role (operators and admins are managed
//!   from the admin console).
//!
//! Every call is audited with the operator as actor: searches (how many
//! results, never the words typed), page views, and each action with the
//! same events the command line writes (see `account_actions`).
//! Corrections of the tax code or names need a reason, are audited with
//! it, and are told to the account's address.
//! The in-person identity check and recovery letter build on `open`
//! ([`recovery`]).

use serde::Serialize;
use varco_domain::account::{AccountKind, AccountStatus, Role};
use varco_domain::audit::DeskAction;
use varco_domain::clock::Timestamp;
use varco_domain::outbound::OutboundMessage;
use varco_domain::{AccountId, PersonName, SchoolId, TaxCode, UserCode};
use varco_store::{AccountRecord, AccountSearch, AuditFilter, SearchScope, Tx};

use crate::account_actions::{resend_activation_in, set_enabled_in, unlock_in};
use crate::audit::{self, AuditEvent, Target};
use crate::guardianship::StudentView;
use crate::mail::{Mail, enqueue, format_time, lang_of};
use crate::views::{AccountView, SchoolRef, view};
use crate::{Actor, App, AppError, RequestContext};

pub mod recovery;
pub mod students;

/// Most accounts a search shows; the operator narrows the words beyond.
pub const SEARCH_LIMIT: i64 = 50;

/// Longest search text accepted.
const MAX_QUERY_CHARS: usize = 100;

/// How many audit events the account page shows.
const RECENT_EVENTS: usize = 20;

/// How many sign-ins the account page shows.
const RECENT_SIGN_INS: usize = 10;

/// The deployment's desk rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskSettings {
    /// Staff accounts of any school may be found and recovered from any
    /// school's desk (the national portal's rule); family accounts only by
    /// their own school.
    pub staff_recovery_any_school: bool,
}

impl Default for DeskSettings {
    fn default() -> Self {
        DeskSettings {
            staff_recovery_any_school: true,
        }
    }
}

/// What an operator may reach, read from their roles at each call.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    operator: AccountId,
    admin: bool,
    schools: Vec<SchoolId>,
    staff_any_school: bool,
}

impl Scope {
    /// The scope of `operator`, or `NotFound` when they hold neither the
    /// desk nor the admin role (the desk does not exist for them).
    async fn load(tx: &mut Tx, app: &App, operator: &Actor) -> Result<Scope, AppError> {
        let Some(id) = operator.account_id() else {
            return Err(AppError::NotFound("page"));
        };
        let roles = tx.roles_of(id).await?;
        let admin = roles.iter().any(|r| r.role == Role::Admin);
        let schools: Vec<SchoolId> = roles
            .iter()
            .filter(|r| r.role == Role::Desk)
            .filter_map(|r| r.school_id)
            .collect();
        if !admin && schools.is_empty() {
            return Err(AppError::NotFound("page"));
        }
        Ok(Scope {
            operator: id,
            admin,
            schools,
            staff_any_school: app.settings.desk.staff_recovery_any_school,
        })
    }

    /// Whether the operator may see and act on `account`.
    fn covers(&self, account: &AccountRecord) -> bool {
        self.admin
            || self.schools.contains(&account.school_id)
            || (self.staff_any_school && account.kind == AccountKind::Staff)
    }

    fn search_scope(&self) -> SearchScope<'_> {
        if self.admin {
            SearchScope::Everything
        } else {
            SearchScope::Schools {
                school_ids: &self.schools,
                staff_any_school: self.staff_any_school,
            }
        }
    }
}

/// Opens a write transaction on the account `user_code` for `action`,
/// after checking the operator's scope. An account outside it is refused
/// as not found, the refusal audited and committed. Actions other than
/// [`DeskAction::View`] are refused on the operator's own account and,
/// for a non-admin, on an account holding a role.
pub(crate) async fn open(
    app: &App,
    operator: &Actor,
    ctx: &RequestContext,
    user_code: &str,
    action: DeskAction,
) -> Result<(Tx, AccountRecord, Scope), AppError> {
    let mut tx = app.store.begin().await?;
    let scope = Scope::load(&mut tx, app, operator).await?;
    // A code that cannot exist is answered like an unknown one.
    let Ok(code) = UserCode::parse(user_code) else {
        return Err(AppError::NotFound("account"));
    };
    let Some(account) = tx.account_by_user_code(code.as_str()).await? else {
        return Err(AppError::NotFound("account"));
    };
    if !scope.covers(&account) {
        audit::record(
            &mut tx,
            app.now(),
            operator,
            ctx,
            (&account).into(),
            AuditEvent::DeskAccessRefused { action },
        )
        .await?;
        tx.commit().await?;
        return Err(AppError::NotFound("account"));
    }
    if action != DeskAction::View {
        if account.id == scope.operator {
            return Err(AppError::conflict(
                "operators cannot act on their own account at the desk",
            ));
        }
        if !scope.admin && !tx.roles_of(account.id).await?.is_empty() {
            return Err(AppError::conflict(
                "the account of an operator or administrator is managed by an administrator",
            ));
        }
    }
    Ok((tx, account, scope))
}

/// What the operator serves, for the desk's heading.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OperatorView {
    /// Whether the operator is an admin (reaches every account).
    pub admin: bool,
    /// The codes of the schools of the operator's desk roles.
    pub schools: Vec<String>,
    /// Whether staff of every school are in reach.
    pub staff_any_school: bool,
}

/// The operator's scope, or `NotFound` for someone who is not an operator.
pub async fn operator(app: &App, operator: &Actor) -> Result<OperatorView, AppError> {
    let mut tx = app.store.begin_read().await?;
    let scope = Scope::load(&mut tx, app, operator).await?;
    let roles = tx.roles_of(scope.operator).await?;
    tx.commit().await?;
    Ok(OperatorView {
        admin: scope.admin,
        schools: roles
            .into_iter()
            .filter(|r| r.role == Role::Desk)
            .filter_map(|r| r.school_code)
            .collect(),
        staff_any_school: scope.staff_any_school,
    })
}

/// An account in the search results.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AccountSummary {
    pub user_code: String,
    pub kind: AccountKind,
    pub first_name: String,
    pub last_name: String,
    pub tax_code: String,
    pub email: Option<String>,
    pub status: AccountStatus,
    pub locked: bool,
    pub school: SchoolRef,
}

fn summary(app: &App, account: &AccountRecord) -> AccountSummary {
    AccountSummary {
        user_code: account.user_code.to_string(),
        kind: account.kind,
        first_name: account.first_name.clone(),
        last_name: account.last_name.clone(),
        tax_code: account.tax_code.to_string(),
        email: account.email.as_ref().map(ToString::to_string),
        status: account.status,
        locked: account.blocked_until.is_some_and(|until| until > app.now()),
        school: SchoolRef {
            code: account.school_code.clone(),
            name: account.school_name.clone(),
        },
    }
}

/// How a search text was read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Query {
    TaxCode(TaxCode),
    UserCode(UserCode),
    Email(String),
    Name(String),
}

/// Reads a search text by its shape: an address, a tax code, a user code,
/// or else words of a name.
fn read_query(text: &str) -> Result<Query, AppError> {
    let text = text.trim();
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(AppError::InputTooLong);
    }
    if text.contains('@') {
        return Ok(Query::Email(text.to_lowercase()));
    }
    if let Ok(code) = TaxCode::parse(text) {
        return Ok(Query::TaxCode(code));
    }
    if let Ok(code) = UserCode::parse(text) {
        return Ok(Query::UserCode(code));
    }
    // The words of a name: no wildcard of the operator's, spaces folded.
    let name = text
        .chars()
        .filter(|c| *c != '%' && *c != '_' && !c.is_control())
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    if name.chars().count() < 2 {
        return Err(AppError::invalid(
            "q",
            "type a tax code, a user code, an email address or at least two letters of a name",
        ));
    }
    Ok(Query::Name(name))
}

/// Finds the accounts in the operator's scope by tax code, user code, email
/// or name (at most [`SEARCH_LIMIT`]).
pub async fn search(
    app: &App,
    operator: &Actor,
    ctx: &RequestContext,
    text: &str,
) -> Result<Vec<AccountSummary>, AppError> {
    let mut tx = app.store.begin().await?;
    let scope = Scope::load(&mut tx, app, operator).await?;
    let query = read_query(text)?;
    let mut search = AccountSearch {
        scope: scope.search_scope(),
        limit: SEARCH_LIMIT,
        ..AccountSearch::default()
    };
    match &query {
        Query::TaxCode(code) => search.tax_code = Some(code.as_str()),
        Query::UserCode(code) => search.user_code = Some(code.as_str()),
        Query::Email(email) => search.email = Some(email),
        Query::Name(name) => search.name = Some(name),
    }
    let found = tx.search_accounts(&search).await?;
    audit::record(
        &mut tx,
        app.now(),
        operator,
        ctx,
        Target::Nobody,
        AuditEvent::DeskSearch { results: found.len() },
    )
    .await?;
    tx.commit().await?;
    Ok(found.iter().map(|a| summary(app, a)).collect())
}

/// A SPID/CIE identity linked to the account.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LinkedIdentity {
    /// The provider's name as shown to people.
    pub provider: String,
    pub linked_at: String,
    pub last_login_at: Option<String>,
}

/// A live session of the account.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SessionSummary {
    pub started_at: String,
    pub last_seen_at: String,
    pub ip: Option<String>,
    /// The upstream provider signed in through, if any.
    pub via: Option<String>,
}

/// An audit event about (or by) the account.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EventSummary {
    pub at: String,
    pub event: String,
    pub outcome: String,
    pub actor: String,
    pub ip: Option<String>,
    pub detail: Option<String>,
}

/// An account as the desk sees it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeskAccount {
    /// Status, lock, password, roles, school.
    pub account: AccountView,
    /// The SPID/CIE identities that sign in to it.
    pub identities: Vec<LinkedIdentity>,
    /// Its live sessions, newest first.
    pub sessions: Vec<SessionSummary>,
    /// Its latest sign-in attempts, newest first.
    pub sign_ins: Vec<EventSummary>,
    /// Its latest audit events, newest first.
    pub events: Vec<EventSummary>,
    /// The students it is guardian of (a family account), by name.
    pub children: Vec<StudentView>,
    /// Whether the operator may act on it (not their own account, and not an
    /// operator's unless they are an admin).
    pub actions_allowed: bool,
    /// The day a year-end roster import will disable it (`dd/mm/yyyy`), if
    /// one left it out; importing it again in a roster keeps it.
    pub disable_on: Option<String>,
}

fn time(t: Timestamp) -> String {
    format_time(t)
}

/// The account page: status, lock, ways in, sessions and recent events.
pub async fn account(
    app: &App,
    operator: &Actor,
    ctx: &RequestContext,
    user_code: &str,
) -> Result<DeskAccount, AppError> {
    let (mut tx, account, scope) = open(app, operator, ctx, user_code, DeskAction::View).await?;
    let roles = tx.roles_of(account.id).await?;
    let disable_on = tx
        .disable_at(account.id)
        .await?
        .map(|at| crate::mail::format_civil_date(crate::mail::school_date(at)));
    let identities = tx
        .upstream_identities_of(account.id)
        .await?
        .into_iter()
        .map(|i| LinkedIdentity {
            provider: i.provider,
            linked_at: time(i.linked_at),
            last_login_at: i.last_login_at.map(time),
        })
        .collect();
    let mut sessions = tx.sessions_of_account(account.id).await?;
    sessions.sort_by_key(|s| std::cmp::Reverse(s.created_at));
    let sessions = sessions
        .into_iter()
        .map(|s| SessionSummary {
            started_at: time(s.created_at),
            last_seen_at: time(s.last_seen_at),
            ip: s.ip,
            via: s.upstream_provider,
        })
        .collect();
    let records = tx
        .list_audit(&AuditFilter {
            account_id: Some(account.id),
            limit: 200,
        })
        .await?;
    let summarise = |r: &varco_store::AuditRecord| EventSummary {
        at: time(Timestamp(r.at)),
        event: r.event.clone(),
        outcome: r.outcome.clone(),
        actor: r.actor.clone(),
        ip: r.ip.clone(),
        detail: r.detail.clone(),
    };
    let sign_ins = records
        .iter()
        .filter(|r| r.event == "login" && r.target_account_id == Some(account.id))
        .take(RECENT_SIGN_INS)
        .map(summarise)
        .collect();
    // The desk's own page views are in the log, but would crowd out what
    // happened to the account.
    let events = records
        .iter()
        .filter(|r| r.event != AuditEvent::DeskAccountViewed.name())
        .take(RECENT_EVENTS)
        .map(summarise)
        .collect();
    let children = students::children_of(&mut tx, &account).await?;
    audit::record(
        &mut tx,
        app.now(),
        operator,
        ctx,
        (&account).into(),
        AuditEvent::DeskAccountViewed,
    )
    .await?;
    tx.commit().await?;
    let actions_allowed = account.id != scope.operator && (scope.admin || roles.is_empty());
    Ok(DeskAccount {
        account: view(app, &account, &roles),
        identities,
        sessions,
        sign_ins,
        events,
        children,
        actions_allowed,
        disable_on,
    })
}

/// Lifts the account's login lock. False when there was none.
pub async fn unlock(app: &App, operator: &Actor, ctx: &RequestContext, user_code: &str) -> Result<bool, AppError> {
    let (mut tx, account, _) = open(app, operator, ctx, user_code, DeskAction::Unlock).await?;
    let changed = unlock_in(&mut tx, app, operator, ctx, &account).await?;
    tx.commit().await?;
    Ok(changed)
}

/// Disables the account (its sessions end, its links die). False when it
/// already was.
pub async fn disable(app: &App, operator: &Actor, ctx: &RequestContext, user_code: &str) -> Result<bool, AppError> {
    let (mut tx, account, _) = open(app, operator, ctx, user_code, DeskAction::Disable).await?;
    let changed = set_enabled_in(&mut tx, app, operator, ctx, &account, false).await?;
    tx.commit().await?;
    Ok(changed)
}

/// Enables a disabled account again. False when it was not disabled.
pub async fn enable(app: &App, operator: &Actor, ctx: &RequestContext, user_code: &str) -> Result<bool, AppError> {
    let (mut tx, account, _) = open(app, operator, ctx, user_code, DeskAction::Enable).await?;
    let changed = set_enabled_in(&mut tx, app, operator, ctx, &account, true).await?;
    tx.commit().await?;
    Ok(changed)
}

/// Sends a new activation link to an account still waiting for one.
pub async fn resend_activation(
    app: &App,
    operator: &Actor,
    ctx: &RequestContext,
    user_code: &str,
) -> Result<(), AppError> {
    let (mut tx, account, _) = open(app, operator, ctx, user_code, DeskAction::ResendActivation).await?;
    resend_activation_in(&mut tx, app, operator, ctx, &account).await?;
    tx.commit().await?;
    app.mail_queued();
    Ok(())
}

/// A correction of the person's tax code and/or names, with the reason.
/// A field left `None` (or blank) keeps its value.
#[derive(Debug, Clone, Default)]
pub struct PersonCorrection {
    pub tax_code: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Why (mandatory): the document seen, the request received.
    pub reason: String,
}

/// Longest reason kept.
const MAX_REASON_CHARS: usize = 500;

/// The correction, validated against the account: the new values, and
/// which fields change. Nothing is read from the store.
struct ValidCorrection {
    tax_code: TaxCode,
    first_name: PersonName,
    last_name: PersonName,
    reason: String,
    tax_code_changed: bool,
    names_changed: bool,
}

fn given(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn validate(correction: &PersonCorrection, account: &AccountRecord) -> Result<ValidCorrection, AppError> {
    let tax_code = match given(correction.tax_code.as_ref()) {
        Some(text) => TaxCode::parse(text).map_err(|e| AppError::invalid("tax_code", e))?,
        None => account.tax_code.clone(),
    };
    let name = |field: &'static str, value: Option<&String>, current: &str| match given(value) {
        Some(text) => PersonName::parse(text).map_err(|e| AppError::invalid(field, e)),
        None => PersonName::parse(current).map_err(|e| AppError::invalid(field, e)),
    };
    let first_name = name("first_name", correction.first_name.as_ref(), &account.first_name)?;
    let last_name = name("last_name", correction.last_name.as_ref(), &account.last_name)?;
    let reason = correction.reason.trim();
    if reason.is_empty() {
        return Err(AppError::invalid("reason", "give the reason for the correction"));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(AppError::InputTooLong);
    }
    Ok(ValidCorrection {
        tax_code_changed: tax_code != account.tax_code,
        names_changed: first_name.as_str() != account.first_name || last_name.as_str() != account.last_name,
        tax_code,
        first_name,
        last_name,
        reason: reason.to_owned(),
    })
}

/// Corrects the tax code and/or names of an account, with a reason: the
/// new tax code must be valid and free in the school; SPID/CIE identities
/// linked under the old tax code are unlinked (they vouched for someone
/// else's code); the account's address is told what changed. False when
/// nothing differs from what is on file.
pub async fn correct_person(
    app: &App,
    operator: &Actor,
    ctx: &RequestContext,
    user_code: &str,
    correction: &PersonCorrection,
) -> Result<bool, AppError> {
    let (mut tx, account, _) = open(app, operator, ctx, user_code, DeskAction::CorrectPerson).await?;
    let valid = validate(correction, &account)?;
    if !valid.tax_code_changed && !valid.names_changed {
        return Ok(false);
    }
    let now = app.now();
    let mut identities_unlinked = 0;
    if valid.tax_code_changed {
        let taken = tx
            .accounts_by_tax_code(valid.tax_code.as_str())
            .await?
            .into_iter()
            .any(|other| other.school_id == account.school_id && other.id != account.id);
        if taken {
            return Err(AppError::conflict("another account of the school has this tax code"));
        }
        for identity in tx.upstream_identities_of(account.id).await? {
            if tx
                .unlink_upstream_identity(account.id, &identity.issuer, &identity.subject)
                .await?
            {
                identities_unlinked += 1;
            }
        }
    }
    tx.correct_person(
        account.id,
        valid.tax_code.as_str(),
        valid.first_name.as_str(),
        valid.last_name.as_str(),
        now.0,
    )
    .await?;
    let fields: Vec<&str> = [
        (valid.tax_code_changed, "tax_code"),
        (valid.first_name.as_str() != account.first_name, "first_name"),
        (valid.last_name.as_str() != account.last_name, "last_name"),
    ]
    .into_iter()
    .filter_map(|(changed, name)| changed.then_some(name))
    .collect();
    audit::record(
        &mut tx,
        now,
        operator,
        ctx,
        (&account).into(),
        AuditEvent::PersonCorrected {
            fields: fields.join(","),
            identities_unlinked,
            reason: valid.reason.clone(),
        },
    )
    .await?;
    let notified = match &account.email {
        Some(email) => {
            enqueue(
                &mut tx,
                app,
                Mail {
                    to: email.as_str(),
                    lang: lang_of(&account),
                    school_id: Some(account.school_id),
                    message: OutboundMessage::PersonCorrected {
                        first_name: valid.first_name.as_str().to_owned(),
                        last_name: valid.last_name.as_str().to_owned(),
                        user_code: account.user_code.to_string(),
                        school_name: account.school_name.clone(),
                        tax_code_changed: valid.tax_code_changed,
                        tax_code_last4: valid.tax_code.last4().to_owned(),
                        names_changed: valid.names_changed,
                        corrected_at: format_time(now),
                        help_url: app.link("/help"),
                    },
                },
            )
            .await?;
            true
        }
        None => false,
    };
    tx.commit().await?;
    if notified {
        app.mail_queued();
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_text_is_read_by_its_shape() {
        assert_eq!(
            read_query(" Maria.Rossi@Example.IT ").unwrap(),
            Query::Email("maria.rossi@example.it".into())
        );
        assert!(matches!(read_query("rssmra85t10a562s"), Ok(Query::TaxCode(_))));
        assert_eq!(
            read_query("  Rossi   Maria ").unwrap(),
            Query::Name("rossi maria".into())
        );
        assert_eq!(
            read_query("%_%a").unwrap_err().to_string(),
            read_query("a").unwrap_err().to_string()
        );
        assert!(matches!(read_query(""), Err(AppError::Invalid { field: "q", .. })));
        assert!(matches!(read_query(&"x".repeat(101)), Err(AppError::InputTooLong)));
    }
}
