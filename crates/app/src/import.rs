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

use std::collections::{HashMap, HashSet};
use std::io::Read;

use serde::Serialize;
use varco_domain::UserCode;
use varco_domain::account::{AccountKind, AccountStatus};
use varco_store::RosterUpdate;

use crate::audit::{self, AccountOrigin, AuditEvent, Target};
use crate::lookup::find_school;
use crate::mailed_links::{Activation, Queued, queue_activation};
use crate::registration::{AddAccount, ValidAccount, insert_valid};
use crate::{Actor, App, AppError, RequestContext};

/// A row that cannot be imported, with its line number in the file.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file cannot be read as CSV: {0}")]
    Unreadable(String),
    #[error("{} row(s) are invalid; nothing was imported", .0.len())]
    InvalidRows(Vec<RowError>),
    #[error(transparent)]
    App(#[from] AppError),
}

/// How to import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportOptions {
    /// Import the valid rows of a file that has invalid ones.
    pub skip_invalid: bool,
    /// Email an activation link to every new account without a password.
    pub send_activation: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            skip_invalid: false,
            send_activation: true,
        }
    }
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
    match name.trim().to_lowercase().replace([' ', '-'], "_").as_str() {
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

/// The line a record starts on. The csv crate positions a record where it
/// started reading, before the blank lines it skipped: count those.
fn record_line(text: &str, position: &csv::Position) -> u64 {
    let skipped = text
        .as_bytes()
        .get(position.byte() as usize..)
        .unwrap_or_default()
        .iter()
        .take_while(|&&b| b == b'\n' || b == b'\r')
        .filter(|&&b| b == b'\n')
        .count();
    position.line() + skipped as u64
}

/// Reads and validates a roster. Fails only when the file as a whole cannot
/// be read (not UTF-8, no usable header); bad rows are collected.
pub fn read_roster(mut input: impl Read, default_kind: Option<AccountKind>) -> Result<Roster, ImportError> {
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .map_err(|e| ImportError::Unreadable(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        ImportError::Unreadable(format!(
            "the file is not UTF-8 (byte {} is invalid); save it as UTF-8",
            e.utf8_error().valid_up_to()
        ))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let header_line = text.lines().next().unwrap_or("");
    if header_line.trim().is_empty() {
        return Err(ImportError::Unreadable(
            "the file is empty or its first line (the header) is blank".into(),
        ));
    }
    let delimiter = if header_line.matches(';').count() >= header_line.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
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
        let line = record.position().map(|p| record_line(text, p)).unwrap_or(0);
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

/// Applies a roster to a school in one transaction. `progress` is called with
/// the number of rows done so far.
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
    if !roster.errors.is_empty() && !skip_invalid {
        return Err(ImportError::InvalidRows(roster.errors));
    }
    let now = app.now();
    let mut tx = app.store.begin().await.map_err(AppError::from)?;
    let school = find_school(&mut tx, school_code).await?;
    let existing = tx.account_ids_by_tax_code(school.id).await.map_err(AppError::from)?;
    let mut report = ImportReport {
        rows: roster.rows.len(),
        skipped: roster.errors,
        ..ImportReport::default()
    };
    for (
        done,
        RosterRow {
            line,
            account: row,
            password_hash,
        },
    ) in roster.rows.iter().enumerate()
    {
        match existing.get(row.tax_code.as_str()) {
            Some(&id) => {
                let changed = tx
                    .update_account_from_roster(&RosterUpdate {
                        id,
                        kind: row.kind,
                        first_name: row.first_name.as_str(),
                        last_name: row.last_name.as_str(),
                        email: row.email.as_ref().map(|e| e.as_str()),
                        now: now.0,
                    })
                    .await
                    .map_err(AppError::from)?;
                let hash_set = match password_hash {
                    Some(hash) => tx
                        .set_password_hash_if_none(id, hash, now.0)
                        .await
                        .map_err(AppError::from)?,
                    None => false,
                };
                if changed || hash_set {
                    report.updated += 1;
                    let user_code = tx.account_by_id(id).await.map_err(AppError::from)?.map(|a| a.user_code);
                    audit::record(
                        &mut tx,
                        now,
                        actor,
                        ctx,
                        Target::Account {
                            id,
                            user_code: user_code.as_ref().map(UserCode::as_str),
                        },
                        AuditEvent::AccountChangedByRoster,
                    )
                    .await?;
                } else {
                    report.unchanged += 1;
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
    tx.commit().await.map_err(AppError::from)?;
    if report.activation_links > 0 {
        app.mail_queued();
    }
    progress(report.rows);
    report.skipped.sort_by_key(|e| e.line);
    Ok(report)
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
