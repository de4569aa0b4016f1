//! Self-service recovery: "forgot password" links, the reset itself, and the
//! activation links of accounts created without a password.
//!
//! Invariants:
//! - A forgot-password request never reveals whether an account exists: the
//!   web layer answers at once, the same for every login, and this module's
//!   [`request_reset`] runs afterwards; it changes nothing on any account.
//! - A link is a 256-bit token, stored only as SHA-256, bound to one account,
//!   one purpose (`reset`, 30 minutes; `activate`, 7 days) and the address
//!   it was mailed to (a link whose address is no longer the account's is
//!   dead), spent by a single conditional UPDATE so two parallel uses cannot
//!   both succeed. A newer link, any new password, an email change or undo
//!   and disabling the account spend the older ones.
//! - Links are built from the configured public URL, never from a request.
//! - An account the login policy keeps to SPID/CIE gets no link: the
//!   message explains how to sign in instead, and a link issued before the
//!   policy changed sets no password (see [`crate::login_policy`]).
//! - After a reset every session ends, the lock is cleared, a confirmation
//!   (without any secret) goes to the account's address, and nobody is
//!   signed in automatically.

use std::collections::BTreeMap;

use varco_domain::account::AccountStatus;
use varco_domain::clock::Timestamp;
use varco_domain::outbound::{OutboundMessage, ResetLink};
use varco_domain::token::{SecretToken, TokenPurpose};
use varco_domain::{EmailAddress, Lang, SchoolId};
use varco_store::{AccountRecord, TokenRecord, Tx};

use crate::account_actions::resend_activation_in;
use crate::audit::{self, AuditEvent, NewPasswordRoute, ResetRequest, Target};
use crate::credentials::{KeepSession, LinkRecipient, actor_of, link_recipient, password_for_new, store_new_password};
use crate::login_policy::{ensure_password_allowed, password_login_in};
use crate::lookup::{candidates, classify, find_by_user_code};
use crate::mail::{Mail, enqueue, format_date, lang_of};
use crate::mailed_links::{Activation, issue_mailed_link, queue_activation};
use crate::policy::check_new_password;
use crate::{Actor, App, AppError, RequestContext};

/// Links by email per account and hour; more requests are dropped quietly.
pub const LINKS_PER_ACCOUNT_PER_HOUR: i64 = 3;

/// How many accounts sharing one address a request may reach.
const MAX_ACCOUNTS_PER_ADDRESS: i64 = 10;

/// Sends a new activation link to an account that still waits for one.
pub async fn resend_activation(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    user_code: &str,
) -> Result<(), AppError> {
    let mut tx = app.store.begin().await?;
    let account = find_by_user_code(&mut tx, user_code).await?;
    resend_activation_in(&mut tx, app, actor, ctx, &account).await?;
    tx.commit().await?;
    app.mail_queued();
    Ok(())
}

/// Handles a forgot-password request: for every matching account that can
/// use a link (active or locked, or waiting for activation) and has an
/// address, issue a link; one message per address lists its accounts.
/// Unknown, disabled and address-less accounts get nothing. Errors are for
/// logging only: the requester already has the answer.
pub async fn request_reset(app: &App, login: &str, ctx: &RequestContext) -> Result<usize, AppError> {
    let login = login.trim();
    if login.is_empty() || login.len() > 320 {
        return Ok(0);
    }
    let key = classify(login);
    let mut tx = app.store.begin_read().await?;
    let found = candidates(&mut tx, &key, MAX_ACCOUNTS_PER_ADDRESS).await?;
    tx.commit().await?;
    let usable: Vec<&AccountRecord> = found
        .iter()
        .filter(|a| a.email.is_some() && a.status != AccountStatus::Disabled)
        .collect();
    let now = app.now();
    let mut tx = app.store.begin().await?;
    if usable.is_empty() {
        audit::record(
            &mut tx,
            now,
            &Actor::Anonymous,
            ctx,
            found.first().map_or(Target::Nobody, Target::from),
            AuditEvent::PasswordResetRequested(if found.is_empty() {
                ResetRequest::NoMatchingAccount
            } else {
                ResetRequest::AccountNotUsable
            }),
        )
        .await?;
        tx.commit().await?;
        return Ok(0);
    }
    // Recipient address → (template language, the accounts it lists).
    let mut messages: BTreeMap<String, (Lang, SchoolId, Vec<ResetLink>)> = BTreeMap::new();
    let mut activations = 0;
    let mut explanations = 0;
    for account in usable {
        tx.lock_account(account.id).await?;
        let email = account.email.as_ref().map(EmailAddress::as_str).unwrap_or_default();
        if !password_login_in(&mut tx, app, account, now).await?.is_allowed() {
            if explain_spid_cie(&mut tx, app, account, email, now, ctx).await? {
                explanations += 1;
            }
            continue;
        }
        let recent = tx
            .count_tokens_since(account.id, TokenPurpose::Reset, now.plus_secs(-3600))
            .await?
            + tx.count_tokens_since(account.id, TokenPurpose::Activate, now.plus_secs(-3600))
                .await?;
        let throttled = recent >= LINKS_PER_ACCOUNT_PER_HOUR;
        audit::record(
            &mut tx,
            now,
            &Actor::Anonymous,
            ctx,
            account.into(),
            AuditEvent::PasswordResetRequested(if throttled {
                ResetRequest::Throttled
            } else {
                ResetRequest::Accepted
            }),
        )
        .await?;
        if throttled {
            continue;
        }
        if account.status == AccountStatus::PendingActivation {
            // Never activated: what they need is the activation link.
            queue_activation(&mut tx, app, Activation::of(account)).await?;
            activations += 1;
            continue;
        }
        let link = issue_mailed_link(&mut tx, app, account.id, email, TokenPurpose::Reset, now).await?;
        let entry = messages
            .entry(email.to_lowercase())
            .or_insert_with(|| (lang_of(account), account.school_id, Vec::new()));
        entry.2.push(ResetLink {
            first_name: account.first_name.clone(),
            last_name: account.last_name.clone(),
            user_code: account.user_code.to_string(),
            school_name: account.school_name.clone(),
            link,
        });
    }
    let sent = messages.len() + activations + explanations;
    for (to, (lang, school_id, accounts)) in messages {
        enqueue(
            &mut tx,
            app,
            Mail {
                to: &to,
                lang,
                school_id: Some(school_id),
                message: OutboundMessage::PasswordReset {
                    accounts,
                    expires_minutes: TokenPurpose::Reset.default_lifetime_secs() / 60,
                    help_url: app.link("/help"),
                },
            },
        )
        .await?;
    }
    tx.commit().await?;
    if sent > 0 {
        app.mail_queued();
    }
    Ok(sent)
}

/// Answers a forgot-password request for an account the login policy keeps
/// to SPID/CIE: no link, a message that explains how to sign in instead
/// (throttled per account like links). Returns whether it was queued.
async fn explain_spid_cie(
    tx: &mut Tx,
    app: &App,
    account: &AccountRecord,
    email: &str,
    now: Timestamp,
    ctx: &RequestContext,
) -> Result<bool, AppError> {
    let explained = AuditEvent::PasswordResetRequested(ResetRequest::PasswordNotAllowed);
    let recent = tx
        .count_audit_since(
            account.id,
            explained.name(),
            explained.detail().as_deref().unwrap_or_default(),
            now.plus_secs(-3600).0,
        )
        .await?;
    let throttled = recent >= LINKS_PER_ACCOUNT_PER_HOUR;
    let event = if throttled {
        AuditEvent::PasswordResetRequested(ResetRequest::Throttled)
    } else {
        explained
    };
    audit::record(tx, now, &Actor::Anonymous, ctx, account.into(), event).await?;
    if throttled {
        return Ok(false);
    }
    let policy = app.settings.login.of(account.kind, &account.school_code);
    let since = policy
        .password_ends_at
        .filter(|end| policy.password && *end <= now)
        .map(format_date);
    enqueue(
        tx,
        app,
        Mail {
            to: email,
            lang: lang_of(account),
            school_id: Some(account.school_id),
            message: OutboundMessage::SignInWithSpidCie {
                first_name: account.first_name.clone(),
                user_code: account.user_code.to_string(),
                school_name: account.school_name.clone(),
                spid_cie_only_since: since,
                login_url: app.link("/login"),
                help_url: app.link("/help"),
            },
        },
    )
    .await?;
    Ok(true)
}

/// What a link found in a URL is, for the page it opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Usable: the form may be shown.
    Valid {
        activation: bool,
        user_code: String,
        first_name: String,
    },
    /// Known but expired or already used.
    Spent,
    /// Live, but the login policy keeps the account to SPID/CIE: no
    /// password can be set through it.
    SpidCieOnly,
    /// Malformed, unknown, or for another purpose.
    Unknown,
}

/// Looks at a reset or activation link without using it.
pub async fn inspect_link(app: &App, token: &str) -> Result<LinkState, AppError> {
    let Some(token) = SecretToken::from_user(token) else {
        return Ok(LinkState::Unknown);
    };
    let mut tx = app.store.begin_read().await?;
    let record = tx.token_by_hash(token.hash().as_str()).await?;
    let account = match record.as_ref().and_then(|r| r.account_id) {
        Some(id) => tx.account_by_id(id).await?,
        None => None,
    };
    tx.commit().await?;
    let (Some(record), Some(account)) = (record, account) else {
        return Ok(LinkState::Unknown);
    };
    let activation = match record.purpose {
        TokenPurpose::Reset => false,
        TokenPurpose::Activate => true,
        _ => return Ok(LinkState::Unknown),
    };
    if record.used_at.is_some()
        || record.expires_at <= app.now()
        || account.status == AccountStatus::Disabled
        || link_recipient(record.recipient_hash.as_deref(), &account) == LinkRecipient::Stale
    {
        return Ok(LinkState::Spent);
    }
    match ensure_password_allowed(app, &account).await {
        Ok(()) => {}
        Err(AppError::PasswordNotAllowed) => return Ok(LinkState::SpidCieOnly),
        Err(e) => return Err(e),
    }
    Ok(LinkState::Valid {
        activation,
        user_code: account.user_code.into(),
        first_name: account.first_name,
    })
}

/// Sets a new password through a reset or activation link. The link must be
/// live, of one of those purposes, and mailed to the account's current
/// address (a link sent to an address the account no longer has is dead).
pub async fn reset_password(app: &App, token: &str, new_password: &str, ctx: &RequestContext) -> Result<(), AppError> {
    let token = SecretToken::from_user(token).ok_or(AppError::InvalidToken)?;
    let new = password_for_new(new_password)?;
    let (record, account) = usable_link(app, &token).await?;
    if let Err(refused) = ensure_password_allowed(app, &account).await {
        let route = if record.purpose == TokenPurpose::Activate {
            NewPasswordRoute::Activation
        } else {
            NewPasswordRoute::Reset
        };
        let now = app.now();
        let mut tx = app.store.begin().await?;
        audit::record(
            &mut tx,
            now,
            &actor_of(&account),
            ctx,
            (&account).into(),
            AuditEvent::PasswordNotAllowed(route),
        )
        .await?;
        tx.commit().await?;
        return Err(refused);
    }
    check_new_password(app, &account, &new).await?;
    let hash = app.hashing.hash(new).await?;

    let now = app.now();
    let mut tx = app.store.begin().await?;
    // Re-read under the lock: the address or status may have changed while
    // the password was hashed.
    let account = tx.account_for_update(account.id).await?.ok_or(AppError::InvalidToken)?;
    let recipient = link_recipient(record.recipient_hash.as_deref(), &account);
    if account.status == AccountStatus::Disabled || recipient == LinkRecipient::Stale {
        return Err(AppError::InvalidToken);
    }
    if !tx.spend_token(record.id, now).await? {
        return Err(AppError::InvalidToken);
    }
    let ended = store_new_password(&mut tx, app, &account, &hash, KeepSession::None, now, ctx).await?;
    // Following a link mailed to the current address proved the mailbox.
    if recipient == LinkRecipient::Current {
        tx.set_email_verified(account.id).await?;
    }
    let activated = account.status == AccountStatus::PendingActivation;
    if activated {
        tx.set_account_status(account.id, AccountStatus::Active, now.0).await?;
    }
    let event = if activated {
        AuditEvent::AccountActivated { sessions_ended: ended }
    } else {
        AuditEvent::PasswordReset { sessions_ended: ended }
    };
    audit::record(&mut tx, now, &actor_of(&account), ctx, (&account).into(), event).await?;
    tx.commit().await?;
    app.mail_queued();
    if activated {
        // The PIN or personal code comes with activation. The account is
        // active whatever happens here; the owner can regenerate it later.
        if let Err(e) = crate::second_secret::ensure_issued(app, account.id, &actor_of(&account), ctx).await {
            tracing::warn!(error = %crate::error_chain(&e), "second secret not issued at activation");
        }
    }
    Ok(())
}

/// The live reset or activation token behind a link, and its account.
async fn usable_link(app: &App, token: &SecretToken) -> Result<(TokenRecord, AccountRecord), AppError> {
    let now = app.now();
    let mut tx = app.store.begin_read().await?;
    let record = tx
        .token_by_hash(token.hash().as_str())
        .await?
        .ok_or(AppError::InvalidToken)?;
    if !matches!(record.purpose, TokenPurpose::Reset | TokenPurpose::Activate)
        || record.used_at.is_some()
        || record.expires_at <= now
    {
        return Err(AppError::InvalidToken);
    }
    let account_id = record.account_id.ok_or(AppError::InvalidToken)?;
    let account = tx.account_by_id(account_id).await?.ok_or(AppError::InvalidToken)?;
    tx.commit().await?;
    if account.status == AccountStatus::Disabled
        || link_recipient(record.recipient_hash.as_deref(), &account) == LinkRecipient::Stale
    {
        return Err(AppError::InvalidToken);
    }
    Ok((record, account))
}
