//! Changing the email address of one's own account: request, confirmation
//! by the new address, undo from the old one.
//!
//! ```text
//!   request (signed in, current password)
//!      │  token `email_change` (24 h) → link mailed to the NEW address,
//!      │  notice (no link that changes anything) to the CURRENT one
//!      ▼
//!   pending ──confirm (link, no login)──▶ changed
//!      │                                   │  token `email_undo` (7 days) → notice to the OLD address
//!      │ newer request / 24 h              ▼
//!      ▼                              undone (old address and its verified flag back,
//!   dead link                                  every session of the account ended)
//! ```
//!
//! Invariants:
//! - A request changes nothing on the account: the new address is used only
//!   once a link that reached it comes back (so it is verified when it takes
//!   effect). A newer request spends the older unconfirmed links.
//! - Every step spends its token with a single conditional UPDATE inside the
//!   transaction that makes the change, so two parallel uses of one link
//!   cannot both succeed, and a link works for its own purpose only.
//! - The old address is told, with no secret, when and to what (masked) the
//!   address changed, and gets a link that puts it back for 7 days.
//! - Whoever changed the address knew the password, so the undo evicts them
//!   for good: every session ends, the password is removed (it goes to the
//!   history, so it cannot come back) and a reset link goes to the restored
//!   address. An undo of an older change also rolls back every later one,
//!   in order, spending their undo links: the address that held the account
//!   first has the last word for 7 days (security review finding 3).
//! - Confirming a change, and undoing one, spend the account's reset and
//!   activation links (they were mailed to the other address).

use varco_domain::account::AccountStatus;
use varco_domain::clock::Timestamp;
use varco_domain::email::EmailAddress;
use varco_domain::outbound::{OutboundMessage, ResetLink};
use varco_domain::token::{SecretToken, TokenPurpose};
use varco_store::{AccountRecord, NewEmailChange, TokenRecord, Tx};

use crate::audit::{self, AuditEvent, EmailChangeRequest, Reauthentication};
use crate::credentials::{EVERY_ACCOUNT_LINK, actor_of, clear_lock, confirm_current_password, issue_link, spend_links};
use crate::login_policy::password_login_in;
use crate::mail::{Mail, enqueue, format_time, lang_of};
use crate::sessions::Authenticated;
use crate::{App, AppError, RequestContext};

/// Email-change links one account may ask for per hour (each one is a
/// message to an address nobody has verified yet).
pub const REQUESTS_PER_HOUR: i64 = 5;

/// The live token of `purpose` behind a link, if any.
async fn live(
    tx: &mut Tx,
    token: &str,
    purpose: TokenPurpose,
    now: Timestamp,
) -> Result<Option<TokenRecord>, AppError> {
    let Some(token) = SecretToken::from_user(token) else {
        return Ok(None);
    };
    Ok(tx.live_token(token.hash().as_str(), purpose, now).await?)
}

/// Asks to change the signed-in account's address to `new_email`: checks the
/// current password (a wrong one counts as a failed login), then mails a
/// confirmation link to the new address and, to the current one, a notice
/// of the request (no link that changes anything). Returns the new address.
pub async fn request(
    app: &App,
    session: &Authenticated,
    new_email: &str,
    current_password: &str,
    ctx: &RequestContext,
) -> Result<EmailAddress, AppError> {
    if session.session.password_change_required {
        return Err(AppError::PasswordChangeRequired);
    }
    let account = confirm_current_password(
        app,
        session.account.id,
        session.session.id,
        current_password,
        Reauthentication::EmailChange,
        ctx,
    )
    .await?;
    let new_email = EmailAddress::parse(new_email).map_err(|e| AppError::invalid("email", e))?;
    if account
        .email
        .as_ref()
        .map(EmailAddress::as_str)
        .is_some_and(|old| old.eq_ignore_ascii_case(new_email.as_str()))
    {
        return Err(AppError::conflict("the new address is the current one"));
    }

    let now = app.now();
    let mut tx = app.store.begin().await?;
    let recent = tx
        .count_tokens_since(account.id, TokenPurpose::EmailChange, now.plus_secs(-3600))
        .await?;
    if recent >= REQUESTS_PER_HOUR {
        audit::record(
            &mut tx,
            now,
            &session.actor(),
            ctx,
            (&account).into(),
            AuditEvent::EmailChangeRequested(EmailChangeRequest::Throttled),
        )
        .await?;
        tx.commit().await?;
        return Err(AppError::Throttled { retry_after_secs: 3600 });
    }
    let (token, token_id) = issue_link(
        &mut tx,
        account.id,
        TokenPurpose::EmailChange,
        Some(new_email.as_str()),
        now,
    )
    .await?;
    tx.insert_email_change(&NewEmailChange {
        account_id: account.id,
        old_email: account.email.as_ref().map(EmailAddress::as_str),
        old_email_verified: account.email_verified,
        new_email: new_email.as_str(),
        confirm_token_id: token_id,
        now: now.0,
    })
    .await?;
    audit::record(
        &mut tx,
        now,
        &session.actor(),
        ctx,
        (&account).into(),
        AuditEvent::EmailChangeRequested(EmailChangeRequest::Accepted {
            new_masked: new_email.masked(),
        }),
    )
    .await?;
    enqueue(
        &mut tx,
        app,
        Mail {
            to: new_email.as_str(),
            lang: lang_of(&account),
            school_id: Some(account.school_id),
            message: OutboundMessage::EmailChangeConfirm {
                first_name: account.first_name.clone(),
                user_code: account.user_code.to_string(),
                link: app.link(&format!("/account/email/confirm?token={}", token.as_str())),
                expires_hours: TokenPurpose::EmailChange.default_lifetime_secs() / 3600,
            },
        },
    )
    .await?;
    // The current address hears of the request now, not only once it is
    // confirmed: its owner has 24 hours to stop it (security review finding 1).
    if let Some(current) = &account.email {
        enqueue(
            &mut tx,
            app,
            Mail {
                to: current.as_str(),
                lang: lang_of(&account),
                school_id: Some(account.school_id),
                message: OutboundMessage::EmailChangeRequestedNotice {
                    first_name: account.first_name.clone(),
                    user_code: account.user_code.to_string(),
                    new_email_masked: new_email.masked(),
                    requested_at: format_time(now),
                    ip: ctx.ip.clone(),
                    expires_hours: TokenPurpose::EmailChange.default_lifetime_secs() / 3600,
                    forgot_url: app.link("/password/forgot"),
                    help_url: app.link("/help"),
                },
            },
        )
        .await?;
    }
    tx.commit().await?;
    app.mail_queued();
    Ok(new_email)
}

/// What a confirmation or undo link is about, for the page it opens (which
/// only shows a button: opening a link changes nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    pub user_code: String,
    pub first_name: String,
    /// The address the link would put in place, masked.
    pub email_masked: Option<String>,
}

fn masked(address: Option<&str>) -> Option<String> {
    address.map(|a| {
        EmailAddress::parse(a)
            .map(|e| e.masked())
            .unwrap_or_else(|_| a.to_owned())
    })
}

/// Looks at a confirmation link without using it; `None` when it cannot be used.
pub async fn inspect_confirm(app: &App, token: &str) -> Result<Option<LinkInfo>, AppError> {
    let now = app.now();
    let mut tx = app.store.begin_read().await?;
    let Some(record) = live(&mut tx, token, TokenPurpose::EmailChange, now).await? else {
        return Ok(None);
    };
    let Some(change) = tx.email_change_by_confirm_token(record.id).await? else {
        return Ok(None);
    };
    let account = tx.account_by_id(change.account_id).await?;
    tx.commit().await?;
    Ok(account
        .filter(|a| a.status != AccountStatus::Disabled)
        .map(|a| LinkInfo {
            user_code: a.user_code.into(),
            first_name: a.first_name,
            email_masked: masked(Some(&change.new_email)),
        }))
}

/// Looks at an undo link without using it; `None` when it cannot be used.
pub async fn inspect_undo(app: &App, token: &str) -> Result<Option<LinkInfo>, AppError> {
    let now = app.now();
    let mut tx = app.store.begin_read().await?;
    let Some(record) = live(&mut tx, token, TokenPurpose::EmailUndo, now).await? else {
        return Ok(None);
    };
    let Some(change) = tx.email_change_by_undo_token(record.id).await? else {
        return Ok(None);
    };
    let account = tx.account_by_id(change.account_id).await?;
    tx.commit().await?;
    Ok(account.map(|a| LinkInfo {
        user_code: a.user_code.into(),
        first_name: a.first_name,
        email_masked: masked(change.old_email.as_deref()),
    }))
}

/// Confirms a change with the link mailed to the new address: the address
/// becomes the account's (verified), and the old address gets a notice with
/// an undo link. Returns the new address.
pub async fn confirm(app: &App, token: &str, ctx: &RequestContext) -> Result<String, AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let record = live(&mut tx, token, TokenPurpose::EmailChange, now)
        .await?
        .ok_or(AppError::InvalidToken)?;
    let change = tx
        .email_change_by_confirm_token(record.id)
        .await?
        .ok_or(AppError::InvalidToken)?;
    let account = tx
        .account_by_id(change.account_id)
        .await?
        .filter(|a| a.status != AccountStatus::Disabled)
        .ok_or(AppError::InvalidToken)?;
    if !tx.spend_token(record.id, now).await? {
        return Err(AppError::InvalidToken);
    }
    // Older undo links stay: each rolls back its change and every later one.
    let (undo, undo_id) = issue_link(
        &mut tx,
        account.id,
        TokenPurpose::EmailUndo,
        account.email.as_ref().map(EmailAddress::as_str),
        now,
    )
    .await?;
    tx.set_account_email(account.id, Some(&change.new_email), true, now.0)
        .await?;
    spend_links(
        &mut tx,
        account.id,
        &[TokenPurpose::Reset, TokenPurpose::Activate, TokenPurpose::EmailChange],
        now,
    )
    .await?;
    if !tx
        .mark_email_change_confirmed(
            change.id,
            account.email.as_ref().map(EmailAddress::as_str),
            account.email_verified,
            undo_id,
            now.0,
        )
        .await?
    {
        return Err(AppError::InvalidToken);
    }
    // A change the desk approved on a public request: the person had lost
    // the old address, so a reset link follows at the new one where the
    // account may use a password.
    if tx.request_by_email_change(change.id).await?.is_some()
        && password_login_in(&mut tx, app, &account, now).await?.is_allowed()
    {
        let moved = AccountRecord {
            email: Some(
                EmailAddress::parse(&change.new_email)
                    .map_err(|e| AppError::internal_because("stored new email", e))?,
            ),
            ..account.clone()
        };
        queue_reset_after_undo(&mut tx, app, &moved, &change.new_email, now).await?;
    }
    let new_masked = masked(Some(&change.new_email)).unwrap_or_default();
    audit::record(
        &mut tx,
        now,
        &actor_of(&account),
        ctx,
        (&account).into(),
        AuditEvent::EmailChanged {
            new_masked: new_masked.clone(),
        },
    )
    .await?;
    if let Some(old) = &account.email {
        enqueue(
            &mut tx,
            app,
            Mail {
                to: old.as_str(),
                lang: lang_of(&account),
                school_id: Some(account.school_id),
                message: OutboundMessage::EmailChangedNotice {
                    first_name: account.first_name.clone(),
                    user_code: account.user_code.to_string(),
                    new_email_masked: new_masked,
                    changed_at: format_time(now),
                    undo_link: app.link(&format!("/account/email/undo?token={}", undo.as_str())),
                    undo_days: TokenPurpose::EmailUndo.default_lifetime_secs() / 86_400,
                    help_url: app.link("/help"),
                },
            },
        )
        .await?;
    }
    tx.commit().await?;
    app.mail_queued();
    Ok(change.new_email)
}

/// Undoes a confirmed change with the link mailed to the old address: the
/// change and every later confirmed one are rolled back, the address the
/// change replaced (and its verified flag) comes back, every link and
/// session of the account ends, and the password is removed; a reset link
/// goes to the restored address, so only its owner can sign in again.
pub async fn undo(app: &App, token: &str, ctx: &RequestContext) -> Result<(), AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let record = live(&mut tx, token, TokenPurpose::EmailUndo, now)
        .await?
        .ok_or(AppError::InvalidToken)?;
    let change = tx
        .email_change_by_undo_token(record.id)
        .await?
        .ok_or(AppError::InvalidToken)?;
    let account = tx
        .account_for_update(change.account_id)
        .await?
        .ok_or(AppError::InvalidToken)?;
    if !tx.spend_token(record.id, now).await? || !tx.mark_email_change_undone(change.id, now.0).await? {
        return Err(AppError::InvalidToken);
    }
    let later = tx.confirmed_email_changes_after(account.id, change.id).await?;
    for newer in &later {
        tx.mark_email_change_undone(newer.id, now.0).await?;
    }
    // Whoever made the change may have asked for more: none of it survives.
    spend_links(&mut tx, account.id, EVERY_ACCOUNT_LINK, now).await?;
    let restored = change.old_email.as_deref();
    tx.set_account_email(
        account.id,
        restored,
        restored.is_some() && change.old_email_verified,
        now.0,
    )
    .await?;
    // The password was known to whoever changed the address.
    if let Some(old) = &account.password_hash {
        let history = app.settings.policy.get(account.kind).history as i64;
        tx.push_password_history(account.id, old, now.0, history).await?;
    }
    tx.clear_password_hash(account.id, now.0).await?;
    clear_lock(&mut tx, app, &account).await?;
    let ended = tx.delete_sessions_of_account(account.id, None).await?;
    let reset_sent = match restored {
        Some(address) => {
            let restored_account = AccountRecord {
                email: Some(
                    EmailAddress::parse(address).map_err(|e| AppError::internal_because("stored old email", e))?,
                ),
                ..account.clone()
            };
            queue_reset_after_undo(&mut tx, app, &restored_account, address, now).await?;
            true
        }
        None => false,
    };
    audit::record(
        &mut tx,
        now,
        &actor_of(&account),
        ctx,
        (&account).into(),
        AuditEvent::EmailChangeUndone {
            sessions_ended: ended,
            later_changes_undone: later.len(),
            reset_link_sent: reset_sent,
        },
    )
    .await?;
    tx.commit().await?;
    app.mail_queued();
    Ok(())
}

/// The reset link that follows an undo, to the restored address (and a
/// desk-approved change, to the new one).
async fn queue_reset_after_undo(
    tx: &mut Tx,
    app: &App,
    account: &AccountRecord,
    address: &str,
    now: Timestamp,
) -> Result<(), AppError> {
    let (token, _) = issue_link(tx, account.id, TokenPurpose::Reset, Some(address), now).await?;
    enqueue(
        tx,
        app,
        Mail {
            to: address,
            lang: lang_of(account),
            school_id: Some(account.school_id),
            message: OutboundMessage::PasswordReset {
                accounts: vec![ResetLink {
                    first_name: account.first_name.clone(),
                    last_name: account.last_name.clone(),
                    user_code: account.user_code.to_string(),
                    school_name: account.school_name.clone(),
                    link: app.link(&format!("/password/reset?token={}", token.as_str())),
                }],
                expires_minutes: TokenPurpose::Reset.default_lifetime_secs() / 60,
                help_url: app.link("/help"),
            },
        },
    )
    .await
}
