//! The admin subcommands: thin adapters from clap arguments to use cases.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use varco_app::accounts::{AccountView, AddAccount};
use varco_app::import::ImportError;
use varco_app::schools::AddSchool;
use varco_app::{Actor, App, RequestContext};
use varco_domain::clock::SystemClock;
use varco_domain::password::PasswordInput;

use super::{AccountCommand, Cli, Command, JobsCommand, OutboxCommand, RoleCommand, SchoolCommand};
use crate::config::Config;
use crate::server;

async fn open(config: &Config) -> anyhow::Result<App> {
    let store = server::open_store(config).await?;
    server::build_app(config, store, Arc::new(SystemClock))
}

fn out(line: impl AsRef<str>) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", line.as_ref());
}

fn json_line<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    out(serde_json::to_string(value)?);
    Ok(())
}

fn read_password_line() -> anyhow::Result<PasswordInput> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input (it must be UTF-8)")?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    PasswordInput::new(line).map_err(|e| anyhow!("the password on standard input is not acceptable: {e}"))
}

fn describe_policy(refusal: &varco_domain::password::PolicyRefusal) -> String {
    let mut parts: Vec<String> = refusal.violations.iter().map(|v| v.code().to_owned()).collect();
    if let Some(feedback) = &refusal.feedback {
        parts.extend(
            feedback
                .warning
                .iter()
                .chain(feedback.suggestions.iter())
                .map(|c| format!("hint: {c}")),
        );
    }
    parts.join(", ")
}

fn app_error(e: varco_app::AppError) -> anyhow::Error {
    match e {
        varco_app::AppError::PasswordPolicy(v) => {
            anyhow!("the password does not meet the policy: {}", describe_policy(&v))
        }
        other => anyhow!(other),
    }
}

fn account_table_row(a: &AccountView) -> String {
    format!(
        "{}\t{}\t{}\t{} {}\t{}\t{}",
        a.user_code,
        a.school.code,
        a.kind.as_str(),
        a.first_name,
        a.last_name,
        a.status.as_str(),
        a.email.as_deref().unwrap_or("-")
    )
}

pub async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    let actor = Actor::Cli;
    let ctx = RequestContext::default();
    match cli.command {
        Command::Serve => {
            let running = server::start(&config).await?;
            running.wait(server::shutdown_signal()).await?;
        }
        Command::Migrate => {
            let url = config.database_url();
            if url.starts_with("sqlite:") {
                server::prepare_data_dir(&config)?;
            }
            let store = varco_store::Store::connect(&url, &varco_store::ConnectOptions::default())
                .await
                .with_context(|| format!("cannot open the database {}", crate::config::redact_url(&url)))?;
            let report = store.migrate().await.context("cannot migrate the database")?;
            eprintln!(
                "migrations: {} known, {} applied now, database up to date",
                report.known, report.applied_now
            );
            store.close().await;
        }
        Command::School(SchoolCommand::Add(args)) => {
            let app = open(&config).await?;
            let input = AddSchool {
                code: args.code,
                name: args.name,
                email: args.email,
                helpdesk_email: args.helpdesk_email,
                helpdesk_phone: args.helpdesk_phone,
                helpdesk_hours: args.helpdesk_hours,
            };
            let school = varco_app::schools::add(&app, &actor, &ctx, &input)
                .await
                .map_err(app_error)?;
            out(&school.code);
            eprintln!("school {} added: {}", school.code, school.name);
        }
        Command::School(SchoolCommand::List { json }) => {
            let app = open(&config).await?;
            for school in varco_app::schools::list(&app).await? {
                if json {
                    json_line(&school)?;
                } else {
                    out(format!(
                        "{}\t{}\t{}",
                        school.code,
                        school.name,
                        school.email.as_deref().unwrap_or("-")
                    ));
                }
            }
        }
        Command::Account(AccountCommand::Add(args)) => {
            let password = if args.password_stdin {
                Some(read_password_line()?)
            } else {
                None
            };
            let app = open(&config).await?;
            let input = AddAccount {
                school_code: args.school,
                kind: args.kind.into(),
                first_name: args.first_name,
                last_name: args.last_name,
                tax_code: args.tax_code,
                email: Some(args.email),
                username: args.username,
            };
            let account = varco_app::accounts::add(&app, &actor, &ctx, &input, password)
                .await
                .map_err(app_error)?;
            out(&account.user_code);
            if account.has_password {
                eprintln!("account {} created and active", account.user_code);
            } else {
                eprintln!("account {} created; it waits for activation", account.user_code);
            }
        }
        Command::Account(AccountCommand::List {
            school,
            kind,
            limit,
            offset,
            json,
        }) => {
            let app = open(&config).await?;
            let accounts = varco_app::accounts::list(
                &app,
                school.as_deref(),
                kind.map(Into::into),
                limit.clamp(1, 100_000),
                offset.max(0),
            )
            .await
            .map_err(app_error)?;
            for account in &accounts {
                if json {
                    json_line(account)?;
                } else {
                    out(account_table_row(account));
                }
            }
        }
        Command::Account(AccountCommand::Show { user_code, json }) => {
            let app = open(&config).await?;
            let a = varco_app::accounts::show(&app, &user_code).await.map_err(app_error)?;
            if json {
                json_line(&a)?;
            } else {
                out(format!("user code:  {}", a.user_code));
                out(format!("name:       {} {}", a.first_name, a.last_name));
                out(format!("kind:       {}", a.kind.as_str()));
                out(format!("school:     {} ({})", a.school.name, a.school.code));
                out(format!("tax code:   {}", a.tax_code));
                out(format!(
                    "email:      {}{}",
                    a.email.as_deref().unwrap_or("-"),
                    if a.email_verified { " (verified)" } else { "" }
                ));
                out(format!("username:   {}", a.username.as_deref().unwrap_or("-")));
                out(format!(
                    "status:     {}{}",
                    a.status.as_str(),
                    if a.locked { " (temporarily locked)" } else { "" }
                ));
                let roles: Vec<String> = a
                    .roles
                    .iter()
                    .map(|r| match &r.school {
                        Some(s) => format!("{}@{s}", r.role.as_str()),
                        None => r.role.as_str().to_owned(),
                    })
                    .collect();
                out(format!(
                    "roles:      {}",
                    if roles.is_empty() {
                        "-".to_owned()
                    } else {
                        roles.join(", ")
                    }
                ));
                out(format!("created:    {}", a.created_at));
            }
        }
        Command::Account(AccountCommand::Disable { user_code }) => {
            let app = open(&config).await?;
            let changed = varco_app::accounts::set_enabled(&app, &actor, &ctx, &user_code, false)
                .await
                .map_err(app_error)?;
            eprintln!(
                "{}",
                if changed {
                    "account disabled; its sessions ended"
                } else {
                    "account was already disabled"
                }
            );
        }
        Command::Account(AccountCommand::Enable { user_code }) => {
            let app = open(&config).await?;
            let changed = varco_app::accounts::set_enabled(&app, &actor, &ctx, &user_code, true)
                .await
                .map_err(app_error)?;
            eprintln!(
                "{}",
                if changed {
                    "account enabled"
                } else {
                    "account was not disabled"
                }
            );
        }
        Command::Account(AccountCommand::ResendActivation { user_code }) => {
            let app = open(&config).await?;
            varco_app::recovery::resend_activation(&app, &actor, &ctx, &user_code)
                .await
                .map_err(app_error)?;
            eprintln!("a new activation link was queued for the account's address");
        }
        Command::Account(AccountCommand::RequirePasswordChange { user_code }) => {
            let app = open(&config).await?;
            varco_app::password::require_change(&app, &actor, &ctx, &user_code)
                .await
                .map_err(app_error)?;
            eprintln!("the account must change its password at the next login");
        }
        Command::Outbox(OutboxCommand::List { failed, limit, json }) => {
            let app = open(&config).await?;
            for m in varco_app::outbox::list(&app, failed, limit.clamp(1, 100_000))
                .await
                .map_err(app_error)?
            {
                if json {
                    json_line(&m)?;
                } else {
                    out(format!(
                        "{}\t{}\t{}\t{}\tattempts={}\tcreated={}\t{}",
                        m.id,
                        m.status,
                        m.template,
                        m.recipient,
                        m.attempts,
                        m.created_at,
                        match (&m.sent_at, &m.last_error) {
                            (Some(sent), _) => format!("sent={sent}"),
                            (None, Some(error)) => format!("next={} error={error}", m.next_attempt_at),
                            (None, None) => format!("next={}", m.next_attempt_at),
                        }
                    ));
                }
            }
        }
        Command::Outbox(OutboxCommand::Retry { id }) => {
            let app = open(&config).await?;
            varco_app::outbox::retry(&app, &actor, id).await.map_err(app_error)?;
            eprintln!("message {id} queued again");
        }
        Command::Jobs(JobsCommand::Run { job }) => {
            let app = open(&config).await?;
            match job.as_str() {
                "expiry-reminders" => {
                    let report = varco_app::jobs::expiry_reminders(&app).await.map_err(app_error)?;
                    out(format!(
                        "examined: {}, reminders queued: {}",
                        report.examined, report.sent
                    ));
                }
                other => bail!("unknown job {other}"),
            }
        }
        Command::Role(command) => {
            let (args, grant) = match command {
                RoleCommand::Grant(a) => (a, true),
                RoleCommand::Revoke(a) => (a, false),
            };
            let app = open(&config).await?;
            let changed = varco_app::accounts::set_role(
                &app,
                &actor,
                &ctx,
                &args.account,
                args.role.into(),
                args.school.as_deref(),
                grant,
            )
            .await
            .map_err(app_error)?;
            let what = match (grant, changed) {
                (true, true) => "role granted",
                (true, false) => "the account already had this role",
                (false, true) => "role revoked",
                (false, false) => "the account did not have this role",
            };
            eprintln!("{what}");
        }
        Command::Import(args) => {
            let file =
                std::fs::File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
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
            let app = open(&config).await?;
            let total = roster.len() as u64;
            let bar = if std::io::stderr().is_terminal() {
                let bar = indicatif::ProgressBar::new(total);
                bar.set_style(
                    indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows ({eta} left)")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                Some(bar)
            } else {
                None
            };
            let result = varco_app::import::apply(
                &app,
                &actor,
                &ctx,
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
                "rows: {}, created: {}, updated: {}, unchanged: {}, skipped: {}, activation links: {}",
                report.rows,
                report.created,
                report.updated,
                report.unchanged,
                report.skipped.len(),
                report.activation_links
            ));
        }
        Command::Audit(args) => {
            let app = open(&config).await?;
            let entries = varco_app::audit::list(&app, args.account.as_deref(), args.limit.clamp(1, 1_000_000))
                .await
                .map_err(app_error)?;
            for e in &entries {
                if args.json {
                    json_line(e)?;
                } else {
                    out(format!(
                        "{}\t{}\t{}\tactor={}\ttarget={}\tip={}\t{}",
                        e.at,
                        e.event,
                        e.outcome,
                        e.actor,
                        e.target.as_deref().unwrap_or("-"),
                        e.ip.as_deref().unwrap_or("-"),
                        e.detail.as_deref().unwrap_or("")
                    ));
                }
            }
        }
        Command::Demo => {
            let app = open(&config).await?;
            let report = varco_app::setup::demo(&app).await.map_err(app_error)?;
            out(format!("school: {} {}", report.school.code, report.school.name));
            for a in &report.accounts {
                out(format!(
                    "{:<7} user code {}  username {:<16}  password {}",
                    a.label, a.user_code, a.username, a.password
                ));
            }
            eprintln!(
                "demo ready: sign in at {}/login with any of the accounts above",
                config.public_url.trim_end_matches('/')
            );
        }
    }
    Ok(())
}
