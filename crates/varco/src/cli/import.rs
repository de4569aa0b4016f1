//! `varco import`: a school's roster from a CSV file.

use std::io::IsTerminal;

use anyhow::{Context, anyhow, bail};
use varco_app::import::{ImportError, ImportReport, YearEnd};
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
            dry_run: args.dry_run,
            year_end: args.year_end.then(|| YearEnd {
                disable_on: args.disable_on.unwrap_or_default(),
                confirm: args.confirm.clone(),
            }),
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
    if report.dry_run {
        print_changes(&report);
    }
    let verb = if report.dry_run { "would be " } else { "" };
    out(format!(
        "{}rows: {}, {verb}created: {}, {verb}updated: {}, unchanged: {}, skipped: {}, activation links: {}, SPID/CIE welcome emails: {}",
        if report.dry_run {
            "dry run, nothing written: "
        } else {
            ""
        },
        report.rows,
        report.created,
        report.updated,
        report.unchanged,
        report.skipped.len(),
        report.activation_links,
        report.spid_cie_welcomes
    ));
    if let Some(year_end) = &report.year_end {
        let kinds: Vec<&str> = year_end.kinds.iter().map(|k| k.as_str()).collect();
        let when = if year_end.disabled_now {
            format!("now (from {})", year_end.disable_on)
        } else {
            format!("from {}", year_end.disable_on)
        };
        out(format!(
            "year end ({} accounts): {} {verb}disabled {when}, {} kept (they hold a role), {} back in the roster",
            kinds.join(" and "),
            year_end.to_disable.len(),
            year_end.kept_operators.len(),
            year_end.cancelled.len()
        ));
        if report.dry_run && !year_end.to_disable.is_empty() {
            out(format!(
                "to apply, repeat the command without --dry-run and with --confirm {}",
                year_end.confirm
            ));
        }
    }
    Ok(())
}

/// The dry run's list: one line per row that creates or changes an account
/// and, in year-end mode, per account that would be disabled or kept.
fn print_changes(report: &ImportReport) {
    for change in &report.changes {
        let what = if change.changes == ["created"] {
            "create".to_owned()
        } else {
            format!(
                "update {} ({})",
                change.user_code.as_deref().unwrap_or("-"),
                change.changes.join(", ")
            )
        };
        out(format!(
            "line {}: {what}: {} {}",
            change.line, change.tax_code, change.name
        ));
    }
    if let Some(year_end) = &report.year_end {
        for (label, accounts) in [
            ("disable", &year_end.to_disable),
            ("keep (holds a role)", &year_end.kept_operators),
            ("back in the roster, not disabled", &year_end.cancelled),
        ] {
            for account in accounts {
                let earlier = account
                    .previous_date
                    .as_deref()
                    .map(|d| format!(" (was due on {d})"))
                    .unwrap_or_default();
                out(format!(
                    "{label}: {} {} [{}]{earlier}",
                    account.user_code,
                    account.name,
                    account.kind.as_str()
                ));
            }
        }
    }
}
