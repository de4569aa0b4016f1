//! `varco import --students`: a school's students and their guardians from
//! a CSV file (see `varco_app::student_import` for the columns).

use anyhow::{Context, anyhow, bail};
use varco_app::student_import::StudentImportError;
use varco_app::{Actor, RequestContext};

use super::ImportArgs;
use super::admin::{app_error, open, out};
use crate::config::Config;

pub(super) async fn import(config: &Config, args: ImportArgs) -> anyhow::Result<()> {
    let shown = args.file.display();
    let file = std::fs::File::open(&args.file).with_context(|| format!("cannot open {shown}"))?;
    let roster =
        varco_app::student_import::read_students(std::io::BufReader::new(file)).map_err(|e| anyhow!("{shown}: {e}"))?;
    for error in roster.errors() {
        eprintln!("{shown}:{}: {}", error.line, error.reason);
    }
    if !roster.errors().is_empty() && !args.skip_invalid {
        bail!(
            "{} invalid row(s) in {shown}; nothing was imported (fix them, or use --skip-invalid to import the valid rows)",
            roster.errors().len()
        );
    }
    let app = open(config).await?;
    let already_shown = roster.errors().to_vec();
    let result = varco_app::student_import::apply(
        &app,
        &Actor::Cli,
        &RequestContext::default(),
        &args.school,
        roster,
        args.skip_invalid,
    )
    .await;
    let report = match result {
        Ok(report) => report,
        Err(StudentImportError::InvalidRows(errors)) => {
            for error in &errors {
                eprintln!("{shown}:{}: {}", error.line, error.reason);
            }
            bail!("{} invalid row(s); nothing was imported", errors.len());
        }
        Err(StudentImportError::App(e)) => return Err(app_error(e)),
        Err(e) => return Err(e.into()),
    };
    // With --skip-invalid, the rows refused against the school's accounts
    // (unknown guardians) are only known now: say those too.
    for error in report.skipped.iter().filter(|e| !already_shown.contains(e)) {
        eprintln!("{shown}:{}: {}", error.line, error.reason);
    }
    out(format!(
        "rows: {}, created: {}, updated: {}, unchanged: {}, guardian links added: {}, guardian links removed: {}, skipped: {}",
        report.rows,
        report.created,
        report.updated,
        report.unchanged,
        report.links_added,
        report.links_removed,
        report.skipped.len()
    ));
    Ok(())
}
