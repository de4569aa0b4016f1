//! Students roster import (`varco import --students`): a CSV of a school's
//! students and their guardians becomes students linked to family accounts.
//!
//! The file follows the roster conventions (`csv_roster`: UTF-8 with or
//! without BOM, `;` or `,` decided by the header, quoted fields, Italian
//! header names, errors by line). Header (case-insensitive):
//!
//! | column | Italian alias | required |
//! |---|---|---|
//! | `tax_code` | `codice_fiscale`, `cf` | yes (the student's) |
//! | `first_name` | `nome` | yes |
//! | `last_name` | `cognome` | yes |
//! | `school_order` | `ordine` | yes: `preschool`, `primary`, `lower_secondary`, `upper_secondary`, or `infanzia`, `primaria`, `secondaria di I grado`, `secondaria di II grado` |
//! | `class_name` | `classe` | yes |
//! | `building` | `plesso` | no |
//! | `guardian1_tax_code`, `guardian2_tax_code`, … (up to 9) | `cf_genitore1`, `cf_genitore2`, … | no |
//!
//! A guardian tax code must be that of a family account of the same
//! school. Every row is checked — its fields when the file is read, its
//! guardians against the school's accounts before anything is written — and
//! a file with errors imports nothing unless the caller chose to skip
//! invalid rows. The import is one transaction and idempotent by the
//! student's tax code within the school: a student already there gets the
//! file's names, order, class and building; when the header has guardian
//! columns, the student's guardian links become exactly those of the row
//! (links added and removed are audited on the guardian's account). A
//! header without guardian columns leaves links as they are, and students
//! missing from the file are left as they are.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;

use serde::Serialize;
use varco_domain::audit::GuardianshipChange;
use varco_domain::ids::StudentId;
use varco_domain::{AccountId, Building, ClassName, PersonName, SchoolOrder, TaxCode};
use varco_store::{NewStudent, StudentUpdate};

use crate::audit::{self, AuditEvent, Target};
pub use crate::csv_roster::RowError;
use crate::csv_roster::{CsvText, header_key};
use crate::guardianship::{Guardian, link_in, unlink_in};
use crate::lookup::find_school;
use crate::{Actor, App, AppError, RequestContext};

/// Most guardian columns a file may have (`guardian1_tax_code` … `guardian9_tax_code`).
const MAX_GUARDIANS: u8 = 9;

/// Why a students roster was not imported.
#[derive(Debug, thiserror::Error)]
pub enum StudentImportError {
    #[error("the file cannot be read as CSV: {0}")]
    Unreadable(String),
    #[error("{} row(s) are invalid; nothing was imported", .0.len())]
    InvalidRows(Vec<RowError>),
    #[error(transparent)]
    App(#[from] AppError),
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct StudentImportReport {
    /// Valid data rows read.
    pub rows: usize,
    /// Students created.
    pub created: usize,
    /// Students whose fields or guardian links changed.
    pub updated: usize,
    /// Rows that changed nothing.
    pub unchanged: usize,
    /// Guardian links added.
    pub links_added: usize,
    /// Guardian links removed.
    pub links_removed: usize,
    /// Rows refused (only with `skip_invalid`), by line.
    pub skipped: Vec<RowError>,
}

/// A students roster read and validated, ready to apply.
#[derive(Debug, Clone)]
pub struct StudentRoster {
    rows: Vec<StudentRow>,
    errors: Vec<RowError>,
    /// Whether the header has guardian columns (else links are left alone).
    guardian_columns: bool,
}

impl StudentRoster {
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
struct StudentRow {
    line: u64,
    tax_code: TaxCode,
    first_name: PersonName,
    last_name: PersonName,
    school_order: SchoolOrder,
    class_name: ClassName,
    building: Option<Building>,
    /// The guardians' tax codes, in column order, without repeats.
    guardians: Vec<TaxCode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Column {
    TaxCode,
    FirstName,
    LastName,
    SchoolOrder,
    ClassName,
    Building,
    /// The n-th guardian's tax code (1–9).
    Guardian(u8),
}

impl Column {
    /// The English name the file may use, for messages.
    fn name(self) -> String {
        match self {
            Column::TaxCode => "tax_code".into(),
            Column::FirstName => "first_name".into(),
            Column::LastName => "last_name".into(),
            Column::SchoolOrder => "school_order".into(),
            Column::ClassName => "class_name".into(),
            Column::Building => "building".into(),
            Column::Guardian(n) => format!("guardian{n}_tax_code"),
        }
    }
}

/// The guardian number of `rest` (what follows a guardian prefix): `1`,
/// `_2`, `3_tax_code`, `_4_cf`.
fn guardian_number(rest: &str) -> Option<u8> {
    let rest = rest.trim_start_matches('_');
    let rest = ["_tax_code", "_codice_fiscale", "_cf"]
        .iter()
        .find_map(|suffix| rest.strip_suffix(suffix))
        .unwrap_or(rest);
    let n: u8 = rest.parse().ok()?;
    (1..=MAX_GUARDIANS).contains(&n).then_some(n)
}

fn column(name: &str) -> Option<Column> {
    let key = header_key(name);
    let fixed = match key.as_str() {
        "tax_code" | "codice_fiscale" | "cf" | "student_tax_code" | "cf_alunno" | "codice_fiscale_alunno" => {
            Some(Column::TaxCode)
        }
        "first_name" | "nome" => Some(Column::FirstName),
        "last_name" | "cognome" => Some(Column::LastName),
        "school_order" | "ordine" | "ordine_di_scuola" | "ordine_scuola" => Some(Column::SchoolOrder),
        "class_name" | "class" | "classe" => Some(Column::ClassName),
        "building" | "plesso" => Some(Column::Building),
        _ => None,
    };
    fixed.or_else(|| {
        [
            "guardian",
            "cf_genitore",
            "codice_fiscale_genitore",
            "cf_tutore",
            "codice_fiscale_tutore",
        ]
        .iter()
        .find_map(|prefix| key.strip_prefix(prefix).and_then(guardian_number))
        .map(Column::Guardian)
    })
}

/// Reads and validates a students roster. Fails only when the file as a
/// whole cannot be read (not UTF-8, no usable header); bad rows are
/// collected with their line numbers. Guardians are checked against the
/// school's accounts by [`apply`].
pub fn read_students(input: impl Read) -> Result<StudentRoster, StudentImportError> {
    let csv = CsvText::read(input).map_err(StudentImportError::Unreadable)?;
    let mut reader = csv.reader();
    let headers = reader
        .headers()
        .map_err(|e| StudentImportError::Unreadable(e.to_string()))?
        .clone();
    let mut columns: HashMap<Column, usize> = HashMap::new();
    for (index, name) in headers.iter().enumerate() {
        let Some(c) = column(name) else {
            return Err(StudentImportError::Unreadable(format!(
                "unknown column {name:?} in the header; expected tax_code, first_name, last_name, school_order, \
                 class_name, building, guardian1_tax_code, guardian2_tax_code, …"
            )));
        };
        if columns.insert(c, index).is_some() {
            return Err(StudentImportError::Unreadable(format!(
                "the header names the column {name:?} twice"
            )));
        }
    }
    for required in [
        Column::TaxCode,
        Column::FirstName,
        Column::LastName,
        Column::SchoolOrder,
        Column::ClassName,
    ] {
        if !columns.contains_key(&required) {
            return Err(StudentImportError::Unreadable(format!(
                "the header lacks the required column {}",
                required.name()
            )));
        }
    }
    let mut guardian_columns: Vec<(Column, usize)> = columns
        .iter()
        .filter(|(c, _)| matches!(c, Column::Guardian(_)))
        .map(|(c, i)| (*c, *i))
        .collect();
    guardian_columns.sort();

    let width = headers.len();
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError {
                    line: e.position().map(|p| p.line()).unwrap_or(0),
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
        let get = |c: Column| columns.get(&c).map(|&i| &record[i]).unwrap_or_default();
        match read_row(line, &get, &guardian_columns) {
            Ok(row) => {
                if let Some(first) = seen.insert(row.tax_code.to_string(), line) {
                    errors.push(RowError {
                        line,
                        reason: format!("student tax code {} already appears on line {first}", row.tax_code),
                    });
                    continue;
                }
                rows.push(row);
            }
            Err(reason) => errors.push(RowError { line, reason }),
        }
    }
    Ok(StudentRoster {
        rows,
        errors,
        guardian_columns: !guardian_columns.is_empty(),
    })
}

/// One row's fields, or the first reason it is refused.
fn read_row<'r>(
    line: u64,
    get: &impl Fn(Column) -> &'r str,
    guardian_columns: &[(Column, usize)],
) -> Result<StudentRow, String> {
    let tax_code = TaxCode::parse(get(Column::TaxCode)).map_err(|e| format!("tax_code: {e}"))?;
    let first_name = PersonName::parse(get(Column::FirstName)).map_err(|e| format!("first_name: {e}"))?;
    let last_name = PersonName::parse(get(Column::LastName)).map_err(|e| format!("last_name: {e}"))?;
    let order = get(Column::SchoolOrder);
    let school_order = SchoolOrder::from_roster(order).ok_or_else(|| {
        format!(
            "school_order {order:?} is not preschool, primary, lower_secondary or upper_secondary \
             (infanzia, primaria, secondaria di I grado, secondaria di II grado)"
        )
    })?;
    let class_name = ClassName::parse(get(Column::ClassName)).map_err(|e| format!("class_name: {e}"))?;
    let building = match get(Column::Building) {
        "" => None,
        text => Some(Building::parse(text).map_err(|e| format!("building: {e}"))?),
    };
    let mut guardians: Vec<TaxCode> = Vec::new();
    for (c, _) in guardian_columns {
        let text = get(*c);
        if text.is_empty() {
            continue;
        }
        let code = TaxCode::parse(text).map_err(|e| format!("{}: {e}", c.name()))?;
        if code == tax_code {
            return Err(format!("{}: the student cannot be their own guardian", c.name()));
        }
        if guardians.contains(&code) {
            return Err(format!("guardian tax code {code} appears twice on the row"));
        }
        guardians.push(code);
    }
    Ok(StudentRow {
        line,
        tax_code,
        first_name,
        last_name,
        school_order,
        class_name,
        building,
        guardians,
    })
}

/// Applies a students roster to a school in one transaction.
pub async fn apply(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    school_code: &str,
    roster: StudentRoster,
    skip_invalid: bool,
) -> Result<StudentImportReport, StudentImportError> {
    if !roster.errors.is_empty() && !skip_invalid {
        return Err(StudentImportError::InvalidRows(roster.errors));
    }
    let now = app.now();
    let mut tx = app.store.begin().await.map_err(AppError::from)?;
    let school = find_school(&mut tx, school_code).await?;
    let families = tx
        .family_accounts_by_tax_code(school.id)
        .await
        .map_err(AppError::from)?;

    // Every guardian is checked before anything is written.
    let mut errors = roster.errors;
    let mut rows = Vec::with_capacity(roster.rows.len());
    for row in roster.rows {
        let unknown: Vec<String> = row
            .guardians
            .iter()
            .filter(|code| !families.contains_key(code.as_str()))
            .map(ToString::to_string)
            .collect();
        if unknown.is_empty() {
            rows.push(row);
        } else {
            errors.push(RowError {
                line: row.line,
                reason: format!(
                    "guardian tax code {} matches no family account of school {}",
                    unknown.join(", "),
                    school.code
                ),
            });
        }
    }
    errors.sort_by_key(|e| e.line);
    if !errors.is_empty() && !skip_invalid {
        return Err(StudentImportError::InvalidRows(errors));
    }

    let existing: HashMap<String, StudentId> = tx
        .students_of_school(school.id)
        .await
        .map_err(AppError::from)?
        .into_iter()
        .map(|student| (student.tax_code.to_string(), student.id))
        .collect();
    let mut links: HashMap<StudentId, BTreeSet<AccountId>> = HashMap::new();
    for link in tx.guardian_links_of_school(school.id).await.map_err(AppError::from)? {
        links.entry(link.student_id).or_default().insert(link.account_id);
    }
    let user_codes: HashMap<AccountId, &str> = families.values().map(|(id, code)| (*id, code.as_str())).collect();
    let guardian = |id: AccountId| Guardian {
        id,
        user_code: user_codes.get(&id).copied(),
    };
    let via = GuardianshipChange::RosterImport;
    let mut report = StudentImportReport {
        rows: rows.len(),
        skipped: errors,
        ..StudentImportReport::default()
    };
    for row in &rows {
        let (student_id, mut changed) = match existing.get(row.tax_code.as_str()) {
            Some(&id) => {
                let changed = tx
                    .update_student(&StudentUpdate {
                        id,
                        first_name: row.first_name.as_str(),
                        last_name: row.last_name.as_str(),
                        school_order: row.school_order,
                        class_name: row.class_name.as_str(),
                        building: row.building.as_ref().map(Building::as_str),
                        now: now.0,
                    })
                    .await
                    .map_err(AppError::from)?;
                if changed {
                    let event = AuditEvent::StudentFromRoster {
                        student_id: id,
                        created: false,
                    };
                    audit::record(&mut tx, now, actor, ctx, Target::School(&school.code), event).await?;
                }
                (id, changed)
            }
            None => {
                let id = tx
                    .insert_student(&NewStudent {
                        public_id: &varco_oidc::secret::new_token(),
                        school_id: school.id,
                        tax_code: row.tax_code.as_str(),
                        first_name: row.first_name.as_str(),
                        last_name: row.last_name.as_str(),
                        school_order: row.school_order,
                        class_name: row.class_name.as_str(),
                        building: row.building.as_ref().map(Building::as_str),
                        now: now.0,
                    })
                    .await
                    .map_err(AppError::from)?;
                report.created += 1;
                let event = AuditEvent::StudentFromRoster {
                    student_id: id,
                    created: true,
                };
                audit::record(&mut tx, now, actor, ctx, Target::School(&school.code), event).await?;
                (id, false)
            }
        };
        if roster.guardian_columns {
            let wanted: BTreeSet<AccountId> = row
                .guardians
                .iter()
                .filter_map(|code| families.get(code.as_str()).map(|(id, _)| *id))
                .collect();
            let current = links.remove(&student_id).unwrap_or_default();
            for &id in wanted.difference(&current) {
                if link_in(&mut tx, now, actor, ctx, student_id, guardian(id), via).await? {
                    report.links_added += 1;
                    changed = true;
                }
            }
            for &id in current.difference(&wanted) {
                if unlink_in(&mut tx, now, actor, ctx, student_id, guardian(id), via).await? {
                    report.links_removed += 1;
                    changed = true;
                }
            }
        }
        if existing.contains_key(row.tax_code.as_str()) {
            if changed {
                report.updated += 1;
            } else {
                report.unchanged += 1;
            }
        }
    }
    audit::record(
        &mut tx,
        now,
        actor,
        ctx,
        Target::School(&school.code),
        AuditEvent::StudentsImported {
            school: school.code.clone(),
            rows: report.rows,
            created: report.created,
            updated: report.updated,
            unchanged: report.unchanged,
            links_added: report.links_added,
            links_removed: report.links_removed,
            skipped: report.skipped.len(),
        },
    )
    .await?;
    tx.commit().await.map_err(AppError::from)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid tax code for test person `n`.
    fn cf(n: u32) -> String {
        let first15 = format!("VRDLCU1{}A0{}H501", n % 10, 1 + n % 9);
        TaxCode::complete(&first15)
            .unwrap_or_else(|| panic!("tax code {first15}"))
            .to_string()
    }

    fn read(text: &str) -> StudentRoster {
        read_students(text.as_bytes()).expect("readable")
    }

    fn unreadable(text: &str) -> String {
        match read_students(text.as_bytes()) {
            Err(StudentImportError::Unreadable(reason)) => reason,
            other => panic!("expected an unreadable file, got {other:?}"),
        }
    }

    #[test]
    fn an_italian_export_with_a_bom_semicolons_and_italian_words() {
        let text = format!(
            "\u{feff}codice_fiscale;nome;cognome;ordine;classe;plesso;cf_genitore1;cf_genitore2\n\
             {};Luca;Verdi;secondaria di I grado;2B;Plesso Collodi;{};{}\n\
             {};Anna;Verdi;infanzia;Sezione A;;{};\n",
            cf(1),
            cf(2),
            cf(3),
            cf(4),
            cf(3)
        );
        let roster = read(&text);
        assert_eq!(roster.errors(), []);
        assert!(roster.guardian_columns);
        assert_eq!(roster.len(), 2);
        let luca = &roster.rows[0];
        assert_eq!(luca.line, 2);
        assert_eq!(luca.tax_code.to_string(), cf(1));
        assert_eq!(luca.school_order, SchoolOrder::LowerSecondary);
        assert_eq!(luca.class_name.as_str(), "2B");
        assert_eq!(luca.building.as_ref().map(Building::as_str), Some("Plesso Collodi"));
        let guardians: Vec<String> = luca.guardians.iter().map(ToString::to_string).collect();
        assert_eq!(guardians, [cf(2), cf(3)]);
        let anna = &roster.rows[1];
        assert_eq!(anna.line, 3);
        assert_eq!(anna.school_order, SchoolOrder::Preschool);
        assert_eq!(anna.building, None, "an empty building is none");
        assert_eq!(anna.guardians.len(), 1, "an empty guardian cell is no guardian");
    }

    #[test]
    fn english_headers_commas_quotes_and_no_guardian_columns() {
        let text = format!(
            "tax_code,first_name,last_name,school_order,class_name,building\n\
             {},\"Maria, Luisa\",Neri,upper_secondary,5A Liceo,\"Sede, centrale\"\n",
            cf(5).to_lowercase()
        );
        let roster = read(&text);
        assert_eq!(roster.errors(), []);
        assert!(
            !roster.guardian_columns,
            "links are left alone without guardian columns"
        );
        let row = &roster.rows[0];
        assert_eq!(row.tax_code.to_string(), cf(5), "normalised to upper case");
        assert_eq!(row.first_name.as_str(), "Maria, Luisa");
        assert_eq!(row.school_order, SchoolOrder::UpperSecondary);
        assert_eq!(row.building.as_ref().map(Building::as_str), Some("Sede, centrale"));
    }

    #[test]
    fn guardian_columns_have_several_spellings() {
        for (name, n) in [
            ("guardian1_tax_code", 1),
            ("Guardian 2 Tax Code", 2),
            ("guardian_3", 3),
            ("CF-Genitore4", 4),
            ("codice fiscale genitore 5", 5),
            ("cf_tutore6", 6),
            ("guardian9_cf", 9),
        ] {
            assert_eq!(column(name), Some(Column::Guardian(n)), "{name}");
        }
        for name in [
            "guardian",
            "guardian0_tax_code",
            "guardian10_tax_code",
            "cf_genitore",
            "genitore1",
        ] {
            assert_eq!(column(name), None, "{name}");
        }
        assert_eq!(column(" Classe "), Some(Column::ClassName));
        assert_eq!(column("ORDINE DI SCUOLA"), Some(Column::SchoolOrder));
        assert_eq!(column("Plesso"), Some(Column::Building));
    }

    #[test]
    fn header_problems_make_the_whole_file_unreadable() {
        assert!(unreadable("tax_code;cf;nome;cognome;ordine;classe\n").contains("twice"));
        assert!(unreadable("cf_genitore1;guardian1_tax_code;cf;nome;cognome;ordine;classe\n").contains("twice"));
        assert!(unreadable("tax_code;nome;cognome;ordine;classe;shoe_size\n").contains("shoe_size"));
        assert!(unreadable("tax_code;nome;cognome;classe\n").contains("school_order"));
        assert!(unreadable("tax_code;nome;cognome;ordine\n").contains("class_name"));
        assert!(unreadable("").contains("empty"));
        match read_students(&b"tax_code;nome\xff;cognome\n"[..]) {
            Err(StudentImportError::Unreadable(reason)) => assert!(reason.contains("UTF-8"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_rows_are_collected_with_their_line_numbers() {
        let text = format!(
            "tax_code;first_name;last_name;school_order;class_name;building;guardian1_tax_code;guardian2_tax_code\n\
             {good};Luca;Verdi;primaria;3B;;{g1};\n\
             {c2};Anna;Verdi;nido;1A;;{g1};\n\
             NOTATAXCODE;Bruno;Blu;primaria;1A;;;\n\
             {c3};Carla;Rosa;primaria;;;;\n\
             \n\
             {good};Luca;Doppio;primaria;3B;;;\n\
             {c4};Dario;Viola;primaria;4C;;NOTACF;\n\
             {c5};Elena;Gialli;primaria;4C;;{g1};{g1}\n\
             {c6};Franco;Neri;primaria;4C;;{c6};\n\
             {c7};Solo;Tre\n\
             {c8};;Senza;primaria;1A;;;\n\
             {c9};Ultima;Riga;secondaria di II grado;5A;Sede;{g1};\n",
            good = cf(10),
            g1 = cf(11),
            c2 = cf(12),
            c3 = cf(13),
            c4 = cf(14),
            c5 = cf(15),
            c6 = cf(16),
            c7 = cf(17),
            c8 = cf(18),
            c9 = cf(19),
        );
        let roster = read(&text);
        let lines: Vec<u64> = roster.errors().iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 5, 7, 8, 9, 10, 11, 12], "{:#?}", roster.errors());
        let reason = |line: u64| {
            roster
                .errors()
                .iter()
                .find(|e| e.line == line)
                .map(|e| e.reason.clone())
                .unwrap()
        };
        assert!(reason(3).contains("school_order \"nido\""), "{}", reason(3));
        assert!(reason(3).contains("secondaria di I grado"), "{}", reason(3));
        assert!(reason(4).starts_with("tax_code:"), "{}", reason(4));
        assert!(reason(5).starts_with("class_name:"), "{}", reason(5));
        assert!(reason(7).contains("already appears on line 2"), "{}", reason(7));
        assert!(reason(8).starts_with("guardian1_tax_code:"), "{}", reason(8));
        assert!(reason(9).contains("appears twice"), "{}", reason(9));
        assert!(reason(10).contains("own guardian"), "{}", reason(10));
        assert!(reason(11).contains("expected 8 fields, found 3"), "{}", reason(11));
        assert!(reason(12).starts_with("first_name:"), "{}", reason(12));
        let good: Vec<u64> = roster.rows.iter().map(|r| r.line).collect();
        assert_eq!(good, [2, 13], "the blank line 6 is skipped, not an error");
    }
}
