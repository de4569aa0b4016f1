//! Roster import: a CSV of a school's people becomes accounts pending activation.
//!
//! The file: UTF-8 with or without a byte-order mark, `;` or `,` as separator
//! (Italian spreadsheet exports use `;`; the header line decides), quoted
//! fields allowed. Header (case-insensitive; Italian names accepted too):
//!
//! | column | Italian alias | required |
//! |---|---|---|
//! | `tax_code` | `codice_fiscale` | yes |
//! | `first_name` | `nome` | yes |
//! | `last_name` | `cognome` | yes |
//! | `kind` (`staff`/`family`) | `tipo` | unless a default kind is given |
//! | `email` | `email` | no |
//! | `username` | `username` | no |
//! | `password_hash` | `hash_password` | no |
//!
//! `password_hash` carries the hash from the system being replaced, so people
//! keep their password: Argon2 PHC strings, bcrypt (`$2y$`, `$2b$`), Django
//! `pbkdf2_sha256$…`, salted MD5 `md5$SALT$HEX` and salted SHA-1
//! `sha1$SALT$HEX`. Such an account is active at once and its hash becomes
//! Argon2id at the first successful login. The column only fills accounts
//! that have no password yet; it never overwrites one.
//!
//! Every row is validated before anything is written; a file with errors
//! imports nothing unless the caller chose to skip invalid rows. The import is
//! idempotent: a tax code already present in the school updates that account
//! (names, kind, email) and never creates a second one. No password is hashed
//! here: new accounts wait for activation.
//!
//! A **dry run** applies the file in a transaction that is then rolled back:
//! the report lists every row that would create or change an account, and
//! nothing is written, mailed or audited.
//!
//! **Year-end mode** (the new school year's roster): the school's accounts of
//! the kinds the file holds that are missing from it are disabled from the
//! start of a chosen date (school time zone). The date may not be past; if it
//! is today, they are disabled at once, otherwise the hourly upkeep disables
//! them when it comes ([`crate::jobs::scheduled_disables`]). Each person is
//! told by email, once, with whom to ask if it is a mistake. Accounts holding
//! a desk or admin role are listed but kept (an admin revokes the role first).
//! An account that comes back in a later roster before the date is kept and
//! its date cleared. Because a mistake here locks people out, the mode needs a
//! file without invalid rows and the code of a dry run that listed exactly the
//! same accounts: the dry run prints it, the real run must repeat it.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use serde::Serialize;
use sha2::{Digest, Sha256};
use varco_domain::account::{AccountKind, AccountStatus};
use varco_domain::outbound::OutboundMessage;
use varco_store::{RosterAccount, RosterUpdate, Tx};

use crate::account_actions::set_enabled_in;
use crate::audit::{self, AccountOrigin, AuditEvent, Target};
use crate::csv_roster::{CsvText, header_key};
use crate::lookup::find_school;
use crate::mail::{Mail, enqueue, format_civil_date, lang_of, school_date, start_of_day};
use crate::mailed_links::{Activation, Queued, queue_activation};
use crate::registration::{AddAccount, ValidAccount, insert_valid};
use crate::{Actor, App, AppError, RequestContext};

pub use crate::csv_roster::RowError;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file cannot be read as CSV: {0}")]
    Unreadable(String),
    #[error("{} row(s) are invalid; nothing was imported", .0.len())]
    InvalidRows(Vec<RowError>),
    #[error(
        "year-end mode needs a roster without invalid rows ({0} found): a person on a bad row would be disabled; fix the rows and run again"
    )]
    YearEndWithInvalidRows(usize),
    #[error("year-end mode needs a roster with at least one person: an empty one would disable everyone")]
    YearEndEmptyRoster,
    #[error("the disable date {date} is in the past (today is {today}); choose today or a later date")]
    YearEndDateInPast { date: String, today: String },
    #[error(
        "year-end mode would disable {count} account(s); run it first with --dry-run, check the list, then repeat the command with the --confirm code the dry run printed"
    )]
    YearEndUnconfirmed { count: usize },
    #[error(
        "the confirmation code does not match: the accounts to disable are not those the dry run listed (the roster, the date or the accounts changed since); run the dry run again"
    )]
    YearEndPlanChanged,
    #[error(transparent)]
    App(#[from] AppError),
}

/// How to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// Import the valid rows of a file that has invalid ones.
    pub skip_invalid: bool,
    /// Email an activation link to every new account without a password.
    pub send_activation: bool,
    /// Report what would change and write nothing.
    pub dry_run: bool,
    /// The new school year's roster: disable the accounts it leaves out.
    pub year_end: Option<YearEnd>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            skip_invalid: false,
            send_activation: true,
            dry_run: false,
            year_end: None,
        }
    }
}

/// Year-end mode's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearEnd {
    /// The accounts left out are disabled from the start of this day
    /// (school time zone).
    pub disable_on: jiff::civil::Date,
    /// The code a dry run printed for the same accounts; needed to apply.
    pub confirm: Option<String>,
}

/// A row that creates or changes an account.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RowChange {
    /// The row's line in the file.
    pub line: u64,
    /// The account's user code (for a created one, `None` in a dry run).
    pub user_code: Option<String>,
    /// The row's tax code.
    pub tax_code: String,
    /// "Last First".
    pub name: String,
    /// `created`, or the fields that change: `kind`, `first_name`,
    /// `last_name`, `email`, `password_hash`.
    pub changes: Vec<&'static str>,
}

/// An account a year-end import left out.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LeftOut {
    pub user_code: String,
    /// "Last First".
    pub name: String,
    pub kind: AccountKind,
    /// The date it was already due to be disabled on, `YYYY-MM-DD`, if any.
    pub previous_date: Option<String>,
}

/// What the year-end part of an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct YearEndReport {
    /// `YYYY-MM-DD`.
    pub disable_on: String,
    /// The date is today: the accounts are disabled at once.
    pub disabled_now: bool,
    /// The kinds of account the roster covers (the others are untouched).
    pub kinds: Vec<AccountKind>,
    /// To disable on the date.
    pub to_disable: Vec<LeftOut>,
    /// Left out but kept: they hold a desk or admin role.
    pub kept_operators: Vec<LeftOut>,
    /// Were due to be disabled and are back in the roster.
    pub cancelled: Vec<LeftOut>,
    /// Repeat it with the real run.
    pub confirm: String,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ImportReport {
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub activation_links: usize,
    /// New accounts kept to SPID/CIE by their login policy, sent a welcome
    /// (how to sign in) instead of an activation link.
    pub spid_cie_welcomes: usize,
    pub skipped: Vec<RowError>,
    /// The rows that create or change an account, in file order.
    pub changes: Vec<RowChange>,
    /// Nothing was written.
    pub dry_run: bool,
    /// Year-end mode's outcome.
    pub year_end: Option<YearEndReport>,
}

/// A roster read and validated, ready to apply.
#[derive(Debug, Clone)]
pub struct Roster {
    rows: Vec<RosterRow>,
    errors: Vec<RowError>,
}

impl Roster {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn errors(&self) -> &[RowError] {
        &self.errors
    }
}

#[derive(Debug, Clone)]
struct RosterRow {
    line: u64,
    account: ValidAccount,
    password_hash: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Column {
    TaxCode,
    FirstName,
    LastName,
    Kind,
    Email,
    Username,
    PasswordHash,
}

fn column(name: &str) -> Option<Column> {
    match header_key(name).as_str() {
        "tax_code" | "codice_fiscale" | "cf" => Some(Column::TaxCode),
        "first_name" | "nome" => Some(Column::FirstName),
        "last_name" | "cognome" => Some(Column::LastName),
        "kind" | "tipo" => Some(Column::Kind),
        "email" | "e_mail" => Some(Column::Email),
        "username" | "nome_utente" => Some(Column::Username),
        "password_hash" | "hash_password" => Some(Column::PasswordHash),
        _ => None,
    }
}

fn parse_kind(value: &str) -> Option<AccountKind> {
    match value.trim().to_lowercase().as_str() {
        "staff" | "personale" | "docente" | "ata" => Some(AccountKind::Staff),
        "family" | "famiglia" | "genitore" | "tutore" => Some(AccountKind::Family),
        _ => None,
    }
}

/// Reads and validates a roster. Fails only when the file as a whole cannot
/// be read (not UTF-8, no usable header); bad rows are collected.
pub fn read_roster(input: impl Read, default_kind: Option<AccountKind>) -> Result<Roster, ImportError> {
    let csv = CsvText::read(input).map_err(ImportError::Unreadable)?;
    let mut reader = csv.reader();
    let headers = reader
        .headers()
        .map_err(|e| ImportError::Unreadable(e.to_string()))?
        .clone();
    let mut columns: HashMap<Column, usize> = HashMap::new();
    for (index, name) in headers.iter().enumerate() {
        match column(name) {
            Some(c) => {
                if columns.insert(c, index).is_some() {
                    return Err(ImportError::Unreadable(format!(
                        "the header names the column {name:?} twice"
                    )));
                }
            }
            None => {
                return Err(ImportError::Unreadable(format!(
                    "unknown column {name:?} in the header; expected tax_code, first_name, last_name, kind, email, username, password_hash"
                )));
            }
        }
    }
    for (required, name) in [
        (Column::TaxCode, "tax_code"),
        (Column::FirstName, "first_name"),
        (Column::LastName, "last_name"),
    ] {
        if !columns.contains_key(&required) {
            return Err(ImportError::Unreadable(format!(
                "the header lacks the required column {name}"
            )));
        }
    }
    if !columns.contains_key(&Column::Kind) && default_kind.is_none() {
        return Err(ImportError::Unreadable(
            "the header has no kind column and no default kind was given (--kind)".into(),
        ));
    }

    let width = headers.len();
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen_tax_codes: HashMap<String, u64> = HashMap::new();
    let mut seen_usernames: HashSet<String> = HashSet::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                errors.push(RowError {
                    line,
                    reason: format!("malformed CSV: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map(|p| csv.line_of(p)).unwrap_or(0);
        if record.iter().all(str::is_empty) {
            continue;
        }
        if record.len() != width {
            errors.push(RowError {
                line,
                reason: format!("expected {width} fields, found {}", record.len()),
            });
            continue;
        }
        let get = |c: Column| columns.get(&c).map(|&i| record[i].to_owned());
        let kind = match get(Column::Kind).filter(|k| !k.is_empty()) {
            Some(k) => match parse_kind(&k) {
                Some(kind) => kind,
                None => {
                    errors.push(RowError {
                        line,
                        reason: format!("kind {k:?} is neither staff nor family"),
                    });
                    continue;
                }
            },
            None => match default_kind {
                Some(kind) => kind,
                None => {
                    errors.push(RowError {
                        line,
                        reason: "kind is missing".into(),
                    });
                    continue;
                }
            },
        };
        let input = AddAccount {
            school_code: String::new(),
            kind,
            first_name: get(Column::FirstName).unwrap_or_default(),
            last_name: get(Column::LastName).unwrap_or_default(),
            tax_code: get(Column::TaxCode).unwrap_or_default(),
            email: get(Column::Email),
            username: get(Column::Username),
        };
        let password_hash = get(Column::PasswordHash).filter(|h| !h.is_empty());
        if let Some(hash) = &password_hash
            && let Err(e) = varco_domain::password::recognise_stored_hash(hash)
        {
            errors.push(RowError {
                line,
                reason: format!(
                    "password_hash: {e}; accepted: $argon2id$…, bcrypt $2y$/$2b$, pbkdf2_sha256$…, md5$SALT$HEX, sha1$SALT$HEX"
                ),
            });
            continue;
        }
        match input.validate() {
            Ok(valid) => {
                if let Some(first) = seen_tax_codes.insert(valid.tax_code.to_string(), line) {
                    errors.push(RowError {
                        line,
                        reason: format!("tax code {} already appears on line {first}", valid.tax_code),
                    });
                    continue;
                }
                if let Some(username) = &valid.username
                    && !seen_usernames.insert(username.to_string())
                {
                    errors.push(RowError {
                        line,
                        reason: format!("username {username} appears more than once"),
                    });
                    continue;
                }
                rows.push(RosterRow {
                    line,
                    account: valid,
                    password_hash,
                });
            }
            Err(AppError::Invalid { field, message }) => errors.push(RowError {
                line,
                reason: format!("{field}: {message}"),
            }),
            Err(e) => errors.push(RowError {
                line,
                reason: e.to_string(),
            }),
        }
    }
    Ok(Roster { rows, errors })
}

/// Applies a roster to a school in one transaction (rolled back in a dry
/// run). `progress` is called with the number of rows done so far.
pub async fn apply(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    school_code: &str,
    roster: Roster,
    options: ImportOptions,
    mut progress: impl FnMut(usize),
) -> Result<ImportReport, ImportError> {
    let skip_invalid = options.skip_invalid;
    if let Some(year_end) = &options.year_end {
        if !roster.errors.is_empty() {
            return Err(ImportError::YearEndWithInvalidRows(roster.errors.len()));
        }
        if roster.rows.is_empty() {
            return Err(ImportError::YearEndEmptyRoster);
        }
        let today = school_date(app.now());
        if year_end.disable_on < today {
            return Err(ImportError::YearEndDateInPast {
                date: year_end.disable_on.to_string(),
                today: today.to_string(),
            });
        }
    }
    if !roster.errors.is_empty() && !skip_invalid {
        return Err(ImportError::InvalidRows(roster.errors));
    }
    let now = app.now();
    let mut tx = app.store.begin().await.map_err(AppError::from)?;
    let school = find_school(&mut tx, school_code).await?;
    let existing: HashMap<String, RosterAccount> = tx
        .roster_accounts(school.id)
        .await
        .map_err(AppError::from)?
        .into_iter()
        .map(|a| (a.tax_code.clone(), a))
        .collect();
    let mut report = ImportReport {
        rows: roster.rows.len(),
        skipped: roster.errors,
        dry_run: options.dry_run,
        ..ImportReport::default()
    };
    let mut cancelled = Vec::new();
    for (
        done,
        RosterRow {
            line,
            account: row,
            password_hash,
        },
    ) in roster.rows.iter().enumerate()
    {
        let name = format!("{} {}", row.last_name.as_str(), row.first_name.as_str());
        match existing.get(row.tax_code.as_str()) {
            Some(account) => {
                let id = account.id;
                let mut fields = Vec::new();
                if account.kind != row.kind {
                    fields.push("kind");
                }
                if account.first_name != row.first_name.as_str() {
                    fields.push("first_name");
                }
                if account.last_name != row.last_name.as_str() {
                    fields.push("last_name");
                }
                if account.email.as_deref() != row.email.as_ref().map(|e| e.as_str()) {
                    fields.push("email");
                }
                if !fields.is_empty() {
                    tx.update_account_from_roster(&RosterUpdate {
                        id,
                        kind: row.kind,
                        first_name: row.first_name.as_str(),
                        last_name: row.last_name.as_str(),
                        email: row.email.as_ref().map(|e| e.as_str()),
                        now: now.0,
                    })
                    .await
                    .map_err(AppError::from)?;
                }
                if let Some(hash) = password_hash
                    && tx
                        .set_password_hash_if_none(id, hash, now.0)
                        .await
                        .map_err(AppError::from)?
                {
                    fields.push("password_hash");
                }
                if let Some(date) = account.disable_at {
                    tx.set_disable_at(id, None).await.map_err(AppError::from)?;
                    let on = school_date(date).to_string();
                    audit::record(
                        &mut tx,
                        now,
                        actor,
                        ctx,
                        Target::account(id, account.user_code.as_str()),
                        AuditEvent::AccountDisableCancelled { on: on.clone() },
                    )
                    .await?;
                    cancelled.push(left_out(account, Some(on)));
                }
                if fields.is_empty() {
                    report.unchanged += 1;
                } else {
                    report.updated += 1;
                    audit::record(
                        &mut tx,
                        now,
                        actor,
                        ctx,
                        Target::account(id, account.user_code.as_str()),
                        AuditEvent::AccountChangedByRoster,
                    )
                    .await?;
                    report.changes.push(RowChange {
                        line: *line,
                        user_code: Some(account.user_code.to_string()),
                        tax_code: row.tax_code.to_string(),
                        name,
                        changes: fields,
                    });
                }
            }
            None => {
                if let Some(username) = &row.username
                    && tx
                        .account_by_username(username.as_str())
                        .await
                        .map_err(AppError::from)?
                        .is_some()
                {
                    let error = RowError {
                        line: *line,
                        reason: format!("username {username} is already taken"),
                    };
                    if skip_invalid {
                        report.skipped.push(error);
                        continue;
                    }
                    return Err(ImportError::InvalidRows(vec![error]));
                }
                let status = if password_hash.is_some() {
                    AccountStatus::Active
                } else {
                    AccountStatus::PendingActivation
                };
                let (id, user_code) =
                    insert_valid(&mut tx, school.id, row, status, password_hash.as_deref(), now.0).await?;
                report.created += 1;
                report.changes.push(RowChange {
                    line: *line,
                    user_code: (!options.dry_run).then(|| user_code.to_string()),
                    tax_code: row.tax_code.to_string(),
                    name,
                    changes: vec!["created"],
                });
                if options.send_activation && password_hash.is_none() {
                    let queued = queue_activation(
                        &mut tx,
                        app,
                        Activation {
                            account_id: id,
                            kind: row.kind,
                            first_name: row.first_name.as_str(),
                            user_code: user_code.as_str(),
                            school_id: school.id,
                            school_code: &school.code,
                            school_name: &school.name,
                            email: row.email.as_ref().map(|e| e.as_str()),
                            lang: varco_domain::Lang::It,
                        },
                    )
                    .await?;
                    match queued {
                        Queued::Link => report.activation_links += 1,
                        Queued::SpidCieWelcome => report.spid_cie_welcomes += 1,
                        Queued::Nothing => {}
                    }
                }
                audit::record(
                    &mut tx,
                    now,
                    actor,
                    ctx,
                    Target::account(id, user_code.as_str()),
                    AuditEvent::AccountCreated(AccountOrigin::RosterImport),
                )
                .await?;
            }
        }
        if done % 500 == 0 {
            progress(done);
        }
    }
    audit::record(
        &mut tx,
        now,
        actor,
        ctx,
        Target::School(&school.code),
        AuditEvent::RosterImported {
            school: school.code.clone(),
            rows: report.rows,
            created: report.created,
            updated: report.updated,
            unchanged: report.unchanged,
            skipped: report.skipped.len(),
        },
    )
    .await?;
    if let Some(year_end) = &options.year_end {
        let plan = YearEndPlan::new(
            &roster.rows,
            existing.values(),
            &school.code,
            year_end.disable_on,
            cancelled,
        );
        let mut outcome = plan.report(now);
        if !options.dry_run {
            match &year_end.confirm {
                _ if outcome.to_disable.is_empty() => {}
                None => {
                    return Err(ImportError::YearEndUnconfirmed {
                        count: outcome.to_disable.len(),
                    });
                }
                Some(code) if !code.trim().eq_ignore_ascii_case(&outcome.confirm) => {
                    return Err(ImportError::YearEndPlanChanged);
                }
                Some(_) => {}
            }
            let disabled_now = apply_year_end(&mut tx, app, actor, ctx, &plan, now).await?;
            audit::record(
                &mut tx,
                now,
                actor,
                ctx,
                Target::School(&school.code),
                AuditEvent::RosterYearEnd {
                    school: school.code.clone(),
                    on: outcome.disable_on.clone(),
                    scheduled: plan.to_disable.len(),
                    disabled_now,
                    cancelled: outcome.cancelled.len(),
                    kept_operators: outcome.kept_operators.len(),
                },
            )
            .await?;
        }
        outcome.cancelled.sort_by(|a, b| a.name.cmp(&b.name));
        report.year_end = Some(outcome);
    }
    if options.dry_run {
        // Dropping the transaction rolls everything back.
        drop(tx);
    } else {
        tx.commit().await.map_err(AppError::from)?;
        app.mail_queued();
    }
    progress(report.rows);
    report.skipped.sort_by_key(|e| e.line);
    Ok(report)
}

fn left_out(account: &RosterAccount, previous_date: Option<String>) -> LeftOut {
    LeftOut {
        user_code: account.user_code.to_string(),
        name: format!("{} {}", account.last_name, account.first_name),
        kind: account.kind,
        previous_date,
    }
}

/// Who a year-end import disables, decided from the school's accounts as
/// they were before the file was applied.
struct YearEndPlan<'a> {
    school_code: &'a str,
    disable_on: jiff::civil::Date,
    kinds: Vec<AccountKind>,
    to_disable: Vec<&'a RosterAccount>,
    kept_operators: Vec<&'a RosterAccount>,
    cancelled: Vec<LeftOut>,
}

impl<'a> YearEndPlan<'a> {
    fn new(
        rows: &[RosterRow],
        accounts: impl Iterator<Item = &'a RosterAccount>,
        school_code: &'a str,
        disable_on: jiff::civil::Date,
        cancelled: Vec<LeftOut>,
    ) -> Self {
        let listed: HashSet<&str> = rows.iter().map(|r| r.account.tax_code.as_str()).collect();
        let mut kinds: Vec<AccountKind> = Vec::new();
        for row in rows {
            if !kinds.contains(&row.account.kind) {
                kinds.push(row.account.kind);
            }
        }
        kinds.sort_by_key(|k| k.as_str());
        let mut left: Vec<&RosterAccount> = accounts
            .filter(|a| {
                kinds.contains(&a.kind) && a.status != AccountStatus::Disabled && !listed.contains(a.tax_code.as_str())
            })
            .collect();
        left.sort_by(|a, b| {
            (&a.last_name, &a.first_name, a.user_code.as_str()).cmp(&(
                &b.last_name,
                &b.first_name,
                b.user_code.as_str(),
            ))
        });
        let (kept_operators, to_disable) = left.into_iter().partition(|a| a.operator);
        YearEndPlan {
            school_code,
            disable_on,
            kinds,
            to_disable,
            kept_operators,
            cancelled,
        }
    }

    /// The code a dry run prints and the real run repeats: a digest of the
    /// school, the date and the accounts to disable.
    fn confirm(&self) -> String {
        let mut digest = Sha256::new();
        digest.update(self.school_code.as_bytes());
        digest.update(b"\n");
        digest.update(self.disable_on.to_string().as_bytes());
        for account in &self.to_disable {
            digest.update(b"\n");
            digest.update(account.user_code.as_str().as_bytes());
        }
        hex::encode(&digest.finalize()[..5])
    }

    fn report(&self, now: varco_domain::clock::Timestamp) -> YearEndReport {
        let previous = |a: &RosterAccount| a.disable_at.map(|t| school_date(t).to_string());
        YearEndReport {
            disable_on: self.disable_on.to_string(),
            disabled_now: start_of_day(self.disable_on) <= now,
            kinds: self.kinds.clone(),
            to_disable: self.to_disable.iter().map(|a| left_out(a, previous(a))).collect(),
            kept_operators: self.kept_operators.iter().map(|a| left_out(a, previous(a))).collect(),
            cancelled: self.cancelled.clone(),
            confirm: self.confirm(),
        }
    }
}

/// Disables (the date has come) or schedules the accounts of a plan, each
/// told once by email. Returns how many were disabled now.
async fn apply_year_end(
    tx: &mut Tx,
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    plan: &YearEndPlan<'_>,
    now: varco_domain::clock::Timestamp,
) -> Result<usize, AppError> {
    let at = start_of_day(plan.disable_on);
    let on = plan.disable_on.to_string();
    let mut disabled_now = 0;
    for left in &plan.to_disable {
        let Some(record) = tx.account_for_update(left.id).await? else {
            continue;
        };
        let due = at <= now;
        let changed = if due {
            tx.set_disable_at(record.id, None).await?;
            let disabled = set_enabled_in(tx, app, actor, ctx, &record, false).await?;
            disabled_now += usize::from(disabled);
            disabled
        } else {
            let changed = tx.set_disable_at(record.id, Some(at)).await?;
            if changed {
                audit::record(
                    tx,
                    now,
                    actor,
                    ctx,
                    (&record).into(),
                    AuditEvent::AccountDisableScheduled { on: on.clone() },
                )
                .await?;
            }
            changed
        };
        if changed && let Some(email) = &record.email {
            enqueue(
                tx,
                app,
                Mail {
                    to: email.as_str(),
                    lang: lang_of(&record),
                    school_id: Some(record.school_id),
                    message: OutboundMessage::AccountDisableNotice {
                        first_name: record.first_name.clone(),
                        user_code: record.user_code.to_string(),
                        school_name: record.school_name.clone(),
                        on: format_civil_date(plan.disable_on),
                        disabled_now: due,
                        help_url: app.link("/help"),
                    },
                },
            )
            .await?;
        }
    }
    Ok(disabled_now)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid tax code for test row `n`.
    fn cf(n: u32) -> String {
        let first15 = format!("RSSMRA8{}A0{}H501", n % 10, 1 + n % 9);
        varco_domain::tax_code::TaxCode::complete(&first15)
            .unwrap_or_else(|| panic!("tax code {first15}"))
            .to_string()
    }

    fn read(text: &str, default_kind: Option<AccountKind>) -> Result<Roster, ImportError> {
        read_roster(text.as_bytes(), default_kind)
    }

    fn unreadable(text: &str) -> String {
        match read(text, None) {
            Err(ImportError::Unreadable(reason)) => reason,
            other => panic!("expected an unreadable file, got {other:?}"),
        }
    }

    #[test]
    fn a_bom_and_semicolons_from_an_italian_spreadsheet() {
        let text = format!(
            "\u{feff}codice_fiscale;nome;cognome;tipo\n{};Mario;Rossi;docente\n{};Anna;Verdi;genitore\n",
            cf(1),
            cf(2)
        );
        let roster = read(&text, None).unwrap();
        assert_eq!(roster.errors(), []);
        assert_eq!(roster.len(), 2);
        assert_eq!(roster.rows[0].account.tax_code.to_string(), cf(1));
        assert_eq!(roster.rows[0].account.kind, AccountKind::Staff);
        assert_eq!(roster.rows[1].account.kind, AccountKind::Family);
        assert_eq!(roster.rows[1].line, 3);
    }

    #[test]
    fn commas_when_the_header_has_more_commas_with_quoted_fields() {
        let text = format!(
            "tax_code,first_name,last_name,kind,email\n{},\"Anna; Maria\",Bianchi,family,anna@example.it\n",
            cf(3)
        );
        let roster = read(&text, None).unwrap();
        assert_eq!(roster.errors(), []);
        let row = &roster.rows[0].account;
        assert_eq!(row.first_name.as_str(), "Anna; Maria");
        assert_eq!(
            row.email.as_ref().map(ToString::to_string).as_deref(),
            Some("anna@example.it")
        );
    }

    #[test]
    fn header_aliases_case_spaces_and_dashes_and_a_default_kind() {
        let text = format!(
            "CF; Nome ; COGNOME; E-Mail; Nome Utente\n{}; Luca ; Neri ; luca@example.it ; luca.neri\n",
            cf(4).to_lowercase()
        );
        let roster = read(&text, Some(AccountKind::Staff)).unwrap();
        assert_eq!(roster.errors(), []);
        let row = &roster.rows[0].account;
        assert_eq!(row.tax_code.to_string(), cf(4), "normalised to upper case");
        assert_eq!(row.first_name.as_str(), "Luca", "trimmed");
        assert_eq!(row.kind, AccountKind::Staff);
        assert_eq!(
            row.username.as_ref().map(ToString::to_string).as_deref(),
            Some("luca.neri")
        );
    }

    #[test]
    fn header_problems_make_the_whole_file_unreadable() {
        assert!(unreadable("tax_code;cf;nome;cognome;tipo\n").contains("twice"));
        assert!(unreadable("tax_code;nome;cognome;tipo;shoe_size\n").contains("shoe_size"));
        assert!(unreadable("tax_code;nome;tipo\n").contains("last_name"));
        assert!(unreadable("tax_code;nome;cognome\n").contains("kind"));
        assert!(unreadable("").contains("empty"));
        assert!(unreadable("\n\n").contains("blank"));
        match read_roster(&b"tax_code;nome\xff;cognome\n"[..], None) {
            Err(ImportError::Unreadable(reason)) => assert!(reason.contains("UTF-8"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_rows_are_collected_with_their_line_numbers() {
        let text = format!(
            "tax_code;first_name;last_name;kind;username;password_hash\n\
             {good};Mario;Rossi;staff;mrossi;\n\
             NOTATAXCODE;Anna;Verdi;staff;;\n\
             {c5};Solo;Tre\n\
             \n\
             {c6};Bruno;Gialli;alieno;;\n\
             {good};Mario;Doppio;staff;;\n\
             {c7};Carla;Blu;family;mrossi;\n\
             {c8};Dario;Viola;family;;not-a-hash\n\
             {c9};;Senza;family;;\n\
             {c9b};Ultima;Riga;family;;\n",
            good = cf(5),
            c5 = cf(6),
            c6 = cf(7),
            c7 = cf(8),
            c8 = cf(9),
            c9 = cf(10),
            c9b = cf(11),
        );
        let roster = read(&text, None).unwrap();
        let lines: Vec<u64> = roster.errors().iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 6, 7, 8, 9, 10], "{:#?}", roster.errors());
        let reason = |line: u64| {
            roster
                .errors()
                .iter()
                .find(|e| e.line == line)
                .map(|e| e.reason.clone())
                .unwrap()
        };
        assert!(reason(3).starts_with("tax_code:"), "{}", reason(3));
        assert!(reason(4).contains("expected 6 fields, found 3"), "{}", reason(4));
        assert!(reason(6).contains("alieno"), "{}", reason(6));
        assert!(reason(7).contains("already appears on line 2"), "{}", reason(7));
        assert!(reason(8).contains("mrossi"), "{}", reason(8));
        assert!(reason(9).starts_with("password_hash:"), "{}", reason(9));
        assert!(reason(10).starts_with("first_name:"), "{}", reason(10));
        let good: Vec<u64> = roster.rows.iter().map(|r| r.line).collect();
        assert_eq!(good, [2, 11], "the blank line 5 is skipped, not an error");

        // Several blank lines, with Windows line ends.
        let text = format!(
            "tax_code;nome;cognome;tipo\r\n\r\n\r\n{};Mario;Rossi;alieno\r\n",
            cf(13)
        );
        let roster = read(&text, None).unwrap();
        assert_eq!(roster.errors()[0].line, 4, "{:?}", roster.errors());
    }

    #[test]
    fn a_known_legacy_hash_is_carried_over() {
        let hash = "md5$salt$0123456789abcdef0123456789abcdef";
        let text = format!(
            "tax_code;nome;cognome;tipo;hash_password\n{};Mario;Rossi;staff;{hash}\n",
            cf(12)
        );
        let roster = read(&text, None).unwrap();
        assert_eq!(roster.errors(), []);
        assert_eq!(roster.rows[0].password_hash.as_deref(), Some(hash));
    }
}
