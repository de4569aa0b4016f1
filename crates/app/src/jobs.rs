//! Periodic jobs. Each claims its period (a day) in the database, so with
//! several nodes one of them runs it, and a restart the same day does not run
//! it twice; the job itself is idempotent too (every reminder sent is
//! recorded), so a run cut short by a crash is simply run again.
//!
//! `expiry-reminders`: for every active account whose password will expire,
//! email the reminder of the most urgent threshold reached (14, 7, 1 days by
//! default) unless that one, or a more urgent one, already went out for the
//! same password. A server that was down for a week therefore sends one
//! reminder, not three. Accounts whose login policy does not let them use a
//! password now (SPID/CIE only) get none.
//!
//! `retention`: the identity documents of decided email-change requests are
//! deleted (the file, and the row's document, tax code and phone) once the
//! decision is `[requests] retention_days` old. Each deletion is audited.
//!
//! `scheduled-disables`: the accounts a year-end roster import left out are
//! disabled once their date has come (hourly, not claimed per day).

use serde::Serialize;
use varco_domain::AccountId;
use varco_domain::account::AccountKind;
use varco_domain::clock::Timestamp;
use varco_domain::outbound::OutboundMessage;

use crate::audit::{self, AuditEvent, ExpiryReminder, Target};
use crate::login_policy::password_login_in;
use crate::mail::{Mail, enqueue, format_date, lang_of};
use crate::{Actor, App, AppError, RequestContext};

/// The jobs `varco jobs run NAME` knows.
pub const JOBS: &[&str] = &["expiry-reminders", "retention", "scheduled-disables"];

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ReminderReport {
    pub examined: usize,
    pub sent: usize,
}

const PAGE: i64 = 500;

/// Sends the expiry reminders due now.
pub async fn expiry_reminders(app: &App) -> Result<ReminderReport, AppError> {
    let now = app.now();
    let mut report = ReminderReport::default();
    for kind in [AccountKind::Staff, AccountKind::Family] {
        let policy = app.settings.expiry.get(kind);
        let (Some(max_age_days), Some(&widest)) = (policy.max_age_days, policy.reminder_days.iter().max()) else {
            continue;
        };
        // Only passwords already inside the widest reminder window matter.
        let window_start = now.plus_secs(-(i64::from(max_age_days) - i64::from(widest)) * 86_400);
        let mut after_id = AccountId(0);
        loop {
            let page = app
                .store
                .password_ages(kind, window_start.plus_secs(1), after_id, PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after_id = last.account_id;
            for age in &page {
                report.examined += 1;
                let Some(threshold) = policy.reminder_due(age.password_changed_at, now) else {
                    continue;
                };
                if send_reminder(app, age.account_id, age.password_changed_at, threshold, now).await? {
                    report.sent += 1;
                }
            }
            if (page.len() as i64) < PAGE {
                break;
            }
        }
    }
    if report.sent > 0 {
        app.mail_queued();
    }
    Ok(report)
}

async fn send_reminder(
    app: &App,
    account_id: AccountId,
    changed_at: Timestamp,
    threshold: u32,
    now: Timestamp,
) -> Result<bool, AppError> {
    let mut tx = app.store.begin().await?;
    if tx
        .expiry_reminder_sent(account_id, changed_at, i64::from(threshold))
        .await?
    {
        return Ok(false);
    }
    let Some(account) = tx.account_by_id(account_id).await? else {
        return Ok(false);
    };
    // An account its login policy keeps to SPID/CIE has no password to
    // change: nothing to remind (and nothing recorded, so a policy that
    // gives the password back brings the reminders back).
    if !password_login_in(&mut tx, app, &account, now).await?.is_allowed() {
        return Ok(false);
    }
    let policy = app.settings.expiry.get(account.kind);
    // Every wider threshold counts as done too: one reminder per catch-up.
    for &t in policy.reminder_days.iter().filter(|&&t| t >= threshold) {
        tx.record_expiry_reminder(account_id, changed_at, i64::from(t), now)
            .await?;
    }
    let expires_at = policy.expires_at(changed_at).unwrap_or(now);
    let days_left = match policy.status(changed_at, now) {
        varco_domain::password::ExpiryStatus::Valid { days_left } => days_left,
        _ => 0,
    };
    if let Some(email) = &account.email {
        enqueue(
            &mut tx,
            app,
            Mail {
                to: email.as_str(),
                lang: lang_of(&account),
                school_id: Some(account.school_id),
                message: OutboundMessage::PasswordExpiryReminder {
                    first_name: account.first_name.clone(),
                    user_code: account.user_code.to_string(),
                    days_left,
                    expires_on: format_date(expires_at),
                    change_url: app.link("/password/change"),
                },
            },
        )
        .await?;
    }
    let reminder = if account.email.is_some() {
        ExpiryReminder::Sent {
            threshold_days: threshold,
            days_left,
        }
    } else {
        ExpiryReminder::NoEmail
    };
    audit::record(
        &mut tx,
        now,
        &Actor::System,
        &RequestContext::default(),
        (&account).into(),
        AuditEvent::PasswordExpiryReminder(reminder),
    )
    .await?;
    tx.commit().await?;
    Ok(account.email.is_some())
}

/// The daily period a job run belongs to (UTC date).
pub fn daily_period(now: Timestamp) -> String {
    now.to_rfc3339().get(0..10).unwrap_or("unknown").to_owned()
}

/// Runs the daily jobs (expiry reminders, request document retention), each
/// if this node wins its claim for today. Returns whether the reminders ran.
pub async fn run_daily_if_due(app: &App, node: &str) -> Result<bool, AppError> {
    let now = app.now();
    let period = daily_period(now);
    let reminded = if app
        .store
        .claim_job("expiry-reminders", &period, node, now.0, 3600)
        .await?
    {
        let report = expiry_reminders(app).await?;
        tracing::info!(examined = report.examined, sent = report.sent, "expiry reminders done");
        app.store.finish_job("expiry-reminders", &period, app.now().0).await?;
        true
    } else {
        false
    };
    if app.store.claim_job("retention", &period, node, now.0, 3600).await? {
        let report = retention(app).await?;
        tracing::info!(deleted = report.deleted, "request document retention done");
        app.store.finish_job("retention", &period, app.now().0).await?;
    }
    Ok(reminded)
}

/// What a `retention` run did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct RetentionReport {
    /// Documents deleted.
    pub deleted: usize,
}

/// Deletes the documents of requests decided more than the retention
/// period ago: the file first, then the row's copy of personal data.
pub async fn retention(app: &App) -> Result<RetentionReport, AppError> {
    let now = app.now();
    let cutoff = now.plus_secs(-app.settings.requests.retention_days.max(0) * 86_400);
    let due = {
        let mut tx = app.store.begin_read().await?;
        let due = tx.requests_due_for_retention(cutoff.0).await?;
        tx.commit().await?;
        due
    };
    let mut report = RetentionReport::default();
    for request in due {
        if let Some(file) = &request.document_file {
            crate::documents::remove(app, file).await?;
        }
        let mut tx = app.store.begin().await?;
        if tx.scrub_request(request.id, now.0).await? {
            audit::record(
                &mut tx,
                now,
                &Actor::System,
                &RequestContext::default(),
                Target::School(&request.school_code),
                AuditEvent::ChangeRequest {
                    step: varco_domain::audit::RequestStep::DocumentDeleted,
                    number: request.number.clone(),
                },
            )
            .await?;
            report.deleted += 1;
        }
        tx.commit().await?;
    }
    Ok(report)
}

/// Disables the accounts whose year-end date has come (the upkeep runs it
/// every hour; idempotent, so several nodes may run it together: a second
/// one finds the account already disabled and records nothing). Returns how
/// many it disabled.
pub async fn scheduled_disables(app: &App) -> Result<usize, AppError> {
    let now = app.now();
    let mut disabled = 0;
    loop {
        let due = app.store.accounts_due_for_disable(now, PAGE).await?;
        if due.is_empty() {
            break;
        }
        for id in &due {
            let mut tx = app.store.begin().await?;
            if let Some(record) = tx.account_for_update(*id).await? {
                tx.set_disable_at(record.id, None).await?;
                let changed = crate::account_actions::set_enabled_in(
                    &mut tx,
                    app,
                    &Actor::System,
                    &RequestContext::default(),
                    &record,
                    false,
                )
                .await?;
                disabled += usize::from(changed);
            }
            tx.commit().await?;
        }
        if (due.len() as i64) < PAGE {
            break;
        }
    }
    Ok(disabled)
}
