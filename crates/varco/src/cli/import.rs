//! `varco import`: a school's roster from a CSV file.

use std::io::IsTerminal;

use anyhow::{Context, anyhow, bail};
use varco_app::import::ImportError;
use varco_app::{Actor, RequestContext};

use super::ImportArgs;
use super::admin::{app_error, open, out};
use crate::config::Config;

pub(super) async fn import(config: &Config, args: ImportArgs) -> anyhow::Result<()> {
    let file = std::fs::File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
    let roster = varco_app::import::read_roster(std::io::BufReader::new(file), args.kind.map(Into::into))
        .map_err(|e| anyhow!("{}: {e}", args.file.display()))?;
    for error in roster.errors() {
        eprintln!("{}:{}: {}", args.file.display(), error.line, error.reason);
    }
    if !roster.errors().is_empty() && !args.skip_invalid {
        bail!(
            "{} invalid row(s) in {}; nothing was imported (fix them, or use --skip-invalid to import the valid rows)",
            roster.errors().len(),
            args.file.display()
        );
    }
    let app = open(config).await?;
    let total = roster.len() as u64;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows ({eta} left)")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let result = varco_app::import::apply(
        &app,
        &Actor::Cli,
        &RequestContext::default(),
        &args.school,
        roster,
        varco_app::import::ImportOptions {
            skip_invalid: args.skip_invalid,
            send_activation: !args.no_activation_email,
        },
        |done| {
            if let Some(bar) = &bar {
                bar.set_position(done as u64);
            }
        },
    )
    .await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = match result {
        Ok(report) => report,
        Err(ImportError::InvalidRows(errors)) => {
            for error in &errors {
                eprintln!("{}:{}: {}", args.file.display(), error.line, error.reason);
            }
            bail!("{} invalid row(s); nothing was imported", errors.len());
        }
        Err(ImportError::App(e)) => return Err(app_error(e)),
        Err(e) => return Err(e.into()),
    };
    out(format!(
        "rows: {}, created: {}, updated: {}, unchanged: {}, skipped: {}, activation links: {}, SPID/CIE welcome emails: {}",
        report.rows,
        report.created,
        report.updated,
        report.unchanged,
        report.skipped.len(),
        report.activation_links,
        report.spid_cie_welcomes
    ));
    Ok(())
}
