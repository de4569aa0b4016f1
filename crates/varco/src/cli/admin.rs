//! The admin subcommands: thin adapters from clap arguments to use cases,
//! one function per subcommand. `run` only dispatches.

use std::io::{BufRead, Write};
use std::sync::Arc;

use anyhow::{Context, anyhow};
use varco_app::accounts::{AccountView, AddAccount};
use varco_app::schools::AddSchool;
use varco_app::{Actor, App, RequestContext};
use varco_domain::clock::SystemClock;
use varco_domain::password::PasswordInput;

use super::{
    AccountAddArgs, AccountCommand, AuditArgs, Cli, Command, FederationLogCommand, JobArg, JobsCommand, OutboxCommand,
    RoleArgs, RoleCommand, SchoolAddArgs, SchoolCommand,
};
use crate::config::Config;
use crate::server;

pub(super) async fn open(config: &Config) -> anyhow::Result<App> {
    let store = server::open_store(config).await?;
    server::build_app(config, store, Arc::new(SystemClock))
}

pub(super) fn out(line: impl AsRef<str>) {
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

pub(super) fn app_error(e: varco_app::AppError) -> anyhow::Error {
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

/// Runs one command.
pub async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => super::server_cmd::serve(&config).await,
        Command::Migrate => super::server_cmd::migrate(&config).await,
        Command::Demo(args) => super::server_cmd::demo(&config, args.start).await,
        Command::School(SchoolCommand::Add(args)) => school_add(&config, args).await,
        Command::School(SchoolCommand::List { json }) => school_list(&config, json).await,
        Command::Account(command) => account(&config, command).await,
        Command::Role(RoleCommand::Grant(args)) => role(&config, args, true).await,
        Command::Role(RoleCommand::Revoke(args)) => role(&config, args, false).await,
        Command::Import(args) if args.students => super::student_import::import(&config, args).await,
        Command::Import(args) => super::import::import(&config, args).await,
        Command::Audit(args) => audit(&config, args).await,
        Command::FederationLog(command) => federation_log(&config, command).await,
        Command::Outbox(OutboxCommand::List { failed, limit, json }) => outbox_list(&config, failed, limit, json).await,
        Command::Outbox(OutboxCommand::Retry { id }) => outbox_retry(&config, id).await,
        Command::Outbox(OutboxCommand::Test { to }) => outbox_test(&config, &to).await,
        Command::Jobs(JobsCommand::Run { job }) => jobs_run(&config, job).await,
        Command::Client(command) => super::oidc::client(&config, command).await,
        Command::Keys(command) => super::oidc::keys(&config, command).await,
    }
}

/// The `account` subcommands (add an arm here for a new one, e.g. `unlock`).
async fn account(config: &Config, command: AccountCommand) -> anyhow::Result<()> {
    match command {
        AccountCommand::Add(args) => account_add(config, args).await,
        AccountCommand::List {
            school,
            kind,
            limit,
            offset,
            json,
        } => account_list(config, school, kind.map(Into::into), limit, offset, json).await,
        AccountCommand::Show { user_code, json } => account_show(config, &user_code, json).await,
        AccountCommand::Disable { user_code } => account_set_enabled(config, &user_code, false).await,
        AccountCommand::Enable { user_code } => account_set_enabled(config, &user_code, true).await,
        AccountCommand::ResendActivation { user_code } => account_resend_activation(config, &user_code).await,
        AccountCommand::RequirePasswordChange { user_code } => {
            account_require_password_change(config, &user_code).await
        }
        AccountCommand::Unlock { user_code } => account_unlock(config, &user_code).await,
    }
}

async fn school_add(config: &Config, args: SchoolAddArgs) -> anyhow::Result<()> {
    let app = open(config).await?;
    let input = AddSchool {
        code: args.code,
        name: args.name,
        email: args.email,
        helpdesk_email: args.helpdesk_email,
        helpdesk_phone: args.helpdesk_phone,
        helpdesk_hours: args.helpdesk_hours,
        town: args.town,
    };
    let school = varco_app::schools::add(&app, &Actor::Cli, &RequestContext::default(), &input)
        .await
        .map_err(app_error)?;
    out(&school.code);
    eprintln!("school {} added: {}", school.code, school.name);
    Ok(())
}

async fn school_list(config: &Config, json: bool) -> anyhow::Result<()> {
    let app = open(config).await?;
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
    Ok(())
}

async fn account_add(config: &Config, args: AccountAddArgs) -> anyhow::Result<()> {
    let password = if args.password_stdin {
        Some(read_password_line()?)
    } else {
        None
    };
    let app = open(config).await?;
    let input = AddAccount {
        school_code: args.school,
        kind: args.kind.into(),
        first_name: args.first_name,
        last_name: args.last_name,
        tax_code: args.tax_code,
        email: Some(args.email),
        username: args.username,
    };
    let account = varco_app::accounts::add(&app, &Actor::Cli, &RequestContext::default(), &input, password)
        .await
        .map_err(app_error)?;
    out(&account.user_code);
    if account.has_password {
        eprintln!("account {} created and active", account.user_code);
    } else {
        eprintln!("account {} created; it waits for activation", account.user_code);
    }
    Ok(())
}

async fn account_list(
    config: &Config,
    school: Option<String>,
    kind: Option<varco_domain::account::AccountKind>,
    limit: i64,
    offset: i64,
    json: bool,
) -> anyhow::Result<()> {
    let app = open(config).await?;
    let accounts = varco_app::accounts::list(&app, school.as_deref(), kind, limit.clamp(1, 100_000), offset.max(0))
        .await
        .map_err(app_error)?;
    for account in &accounts {
        if json {
            json_line(account)?;
        } else {
            out(account_table_row(account));
        }
    }
    Ok(())
}

async fn account_show(config: &Config, user_code: &str, json: bool) -> anyhow::Result<()> {
    let app = open(config).await?;
    let a = varco_app::accounts::show(&app, user_code).await.map_err(app_error)?;
    if json {
        return json_line(&a);
    }
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
    Ok(())
}

async fn account_set_enabled(config: &Config, user_code: &str, enabled: bool) -> anyhow::Result<()> {
    let app = open(config).await?;
    let changed = varco_app::accounts::set_enabled(&app, &Actor::Cli, &RequestContext::default(), user_code, enabled)
        .await
        .map_err(app_error)?;
    eprintln!(
        "{}",
        match (enabled, changed) {
            (false, true) => "account disabled; its sessions ended",
            (false, false) => "account was already disabled",
            (true, true) => "account enabled",
            (true, false) => "account was not disabled",
        }
    );
    Ok(())
}

async fn account_unlock(config: &Config, user_code: &str) -> anyhow::Result<()> {
    let app = open(config).await?;
    let lifted = varco_app::accounts::unlock(&app, &Actor::Cli, &RequestContext::default(), user_code)
        .await
        .map_err(app_error)?;
    eprintln!(
        "{}",
        if lifted {
            "lock lifted; failed logins forgotten"
        } else {
            "the account had no failed logins to forget"
        }
    );
    Ok(())
}

async fn account_resend_activation(config: &Config, user_code: &str) -> anyhow::Result<()> {
    let app = open(config).await?;
    varco_app::recovery::resend_activation(&app, &Actor::Cli, &RequestContext::default(), user_code)
        .await
        .map_err(app_error)?;
    eprintln!("a new activation link was queued for the account's address");
    Ok(())
}

async fn account_require_password_change(config: &Config, user_code: &str) -> anyhow::Result<()> {
    let app = open(config).await?;
    varco_app::password::require_change(&app, &Actor::Cli, &RequestContext::default(), user_code)
        .await
        .map_err(app_error)?;
    eprintln!("the account must change its password at the next login");
    Ok(())
}

async fn role(config: &Config, args: RoleArgs, grant: bool) -> anyhow::Result<()> {
    let app = open(config).await?;
    let changed = varco_app::accounts::set_role(
        &app,
        &Actor::Cli,
        &RequestContext::default(),
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
    Ok(())
}

async fn audit(config: &Config, args: AuditArgs) -> anyhow::Result<()> {
    let app = open(config).await?;
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
    Ok(())
}

async fn federation_log(config: &Config, command: FederationLogCommand) -> anyhow::Result<()> {
    let app = open(config).await?;
    match command {
        FederationLogCommand::List { after, limit, json } => {
            let entries = varco_app::federation_log::list(&app, after, limit)
                .await
                .map_err(app_error)?;
            for e in &entries {
                if json {
                    json_line(e)?;
                } else {
                    out(format!(
                        "{}\t{}\t{}\t{}\t{}\trequest={}\tresponse={}\tsubject={}\t{}",
                        e.seq,
                        e.at,
                        e.provider,
                        e.kind,
                        e.outcome,
                        e.request_id.as_deref().unwrap_or("-"),
                        e.response_id.as_deref().unwrap_or("-"),
                        e.subject.as_deref().unwrap_or("-"),
                        e.hash
                    ));
                }
            }
            Ok(())
        }
        FederationLogCommand::Verify { json } => {
            let verification = varco_app::federation_log::verify(&app).await.map_err(app_error)?;
            if json {
                json_line(&verification)?;
            }
            match verification {
                varco_app::federation_log::Verification::Intact { records, head } => {
                    if !json {
                        out(format!("intact: {records} record(s); head {head}"));
                    }
                    Ok(())
                }
                varco_app::federation_log::Verification::Broken { seq, reason } => {
                    anyhow::bail!("the federation log is broken at record {seq}: {reason}")
                }
            }
        }
    }
}

async fn outbox_list(config: &Config, failed: bool, limit: i64, json: bool) -> anyhow::Result<()> {
    let app = open(config).await?;
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
    Ok(())
}

async fn outbox_test(config: &Config, to: &str) -> anyhow::Result<()> {
    let app = open(config).await?;
    varco_app::outbox::send_test(&app, &Actor::Cli, to)
        .await
        .map_err(app_error)?;
    eprintln!("test message queued; `varco serve` delivers it (check with `varco outbox list`)");
    Ok(())
}

async fn outbox_retry(config: &Config, id: i64) -> anyhow::Result<()> {
    let app = open(config).await?;
    varco_app::outbox::retry(&app, &Actor::Cli, id)
        .await
        .map_err(app_error)?;
    eprintln!("message {id} queued again");
    Ok(())
}

async fn jobs_run(config: &Config, job: JobArg) -> anyhow::Result<()> {
    let app = open(config).await?;
    match job {
        JobArg::ExpiryReminders => {
            let report = varco_app::jobs::expiry_reminders(&app).await.map_err(app_error)?;
            out(format!(
                "examined: {}, reminders queued: {}",
                report.examined, report.sent
            ));
        }
        JobArg::Retention => {
            let report = varco_app::jobs::retention(&app).await.map_err(app_error)?;
            out(format!("request documents deleted: {}", report.deleted));
        }
        JobArg::ScheduledDisables => {
            let disabled = varco_app::jobs::scheduled_disables(&app).await.map_err(app_error)?;
            out(format!("accounts disabled: {disabled}"));
        }
    }
    Ok(())
}
