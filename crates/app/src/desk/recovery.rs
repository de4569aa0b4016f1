//! The in-person identity check at the desk, and what follows it: a
//! recovery (a link mailed to the address, or a printed letter with a
//! one-time code), or, for an account that signs in with SPID/CIE only,
//! the confirmation of the tax code and the unlinking of its SPID/CIE
//! identities.
//!
//! Invariants, on top of the desk's scope (every call goes through
//! `super::open`):
//! - the check records the document's type, last 4 characters and expiry
//!   (an expired document is refused); the tax code read from it must be
//!   valid and the account's, and a mismatch is audited and changes nothing;
//! - the operator never chooses or sees a password: the letter carries a
//!   [`RecoveryCode`] (CSPRNG, 80 bits, stored as a hash bound to the user
//!   code, single use, 72 hours), the link is the forgot-password link;
//! - on issue the account's sessions end, the lock is lifted, every
//!   address on file (the old one too when the operator corrected it) is
//!   told, and the audit records the operator, the document's type and
//!   last 4 characters and the channel, never the document number;
//! - an account the login policy keeps to SPID/CIE gets no recovery.

use rand::rngs::OsRng;
use serde::Serialize;
use varco_domain::account::AccountStatus;
use varco_domain::audit::{DeskAction, NewPasswordRoute};
use varco_domain::clock::Timestamp;
pub use varco_domain::identity_check::RecoveryChannel as Channel;
use varco_domain::identity_check::{
    DeskNotice, DocumentLast4, DocumentType, IdentityCheckError, RecoveryCode, parse_expiry,
};
use varco_domain::outbound::{OutboundMessage, ResetLink};
use varco_domain::token::TokenPurpose;
use varco_domain::{EmailAddress, TaxCode, UserCode};
use varco_store::{AccountRecord, NewToken, Tx};

use crate::audit::{self, AuditEvent};
use crate::credentials::{KeepSession, actor_of, clear_lock, password_for_new, spend_links, store_new_password};
use crate::login_policy::{ensure_password_allowed, password_login_in};
use crate::mail::{Mail, SCHOOL_TIME_ZONE, enqueue, format_time, lang_of};
use crate::mailed_links::issue_mailed_link;
use crate::policy::check_new_password;
use crate::{Actor, App, AppError, RequestContext};

/// The path of the page where a letter's code is used.
pub const RECOVER_PATH: &str = "/password/recover";

/// The conflicts of this module, as [`AppError::Conflict`] messages (the
/// pages tell them apart to say them in the visitor's language).
pub mod refusals {
    /// A link was asked for an account without an address.
    pub const NO_EMAIL: &str = "the account has no email address: correct it or print a letter";
    /// The account is disabled.
    pub const DISABLED: &str = "the account is disabled: enable it first";
    /// Nothing to unlink.
    pub const NOTHING_TO_UNLINK: &str = "no SPID/CIE identity is linked to the account";
}

/// What the operator recorded of the document shown.
#[derive(Debug, Clone, Default)]
pub struct IdentityCheck {
    /// `carta_identita`, `cie`, `passaporto` or `patente`.
    pub document_type: String,
    /// The last 4 characters of the document's number.
    pub document_last4: String,
    /// The expiry date, `YYYY-MM-DD`.
    pub document_expiry: String,
    /// The tax code read from the document.
    pub tax_code: String,
}

/// A recovery asked for at the desk.
#[derive(Debug, Clone)]
pub struct RecoveryRequest {
    /// The identity check.
    pub check: IdentityCheck,
    /// A corrected address, typed twice; both blank keeps the one on file.
    pub new_email: Option<String>,
    /// The corrected address again.
    pub new_email_confirm: Option<String>,
    /// How the recovery reaches the person.
    pub channel: Channel,
}

/// The printed letter: everything it shows, the code included (once).
#[derive(Debug, Clone, Serialize)]
pub struct RecoveryLetter {
    pub first_name: String,
    pub last_name: String,
    pub user_code: String,
    pub school_name: String,
    pub school_code: String,
    /// The one-time code, `ABCD-EFGH-JKMN-PQRS`.
    pub code: String,
    /// Until when it works, as people read it (Italian time).
    pub expires_at: String,
    /// The page where it is used, with the user code filled in (never the code).
    pub reset_url: String,
}

/// What a recovery did.
#[derive(Debug, Clone, Serialize)]
pub struct RecoveryIssued {
    pub channel: Channel,
    /// The address the link went to, masked (link only).
    pub sent_to: Option<String>,
    /// Whether the address was corrected.
    pub email_changed: bool,
    /// How many sessions ended.
    pub sessions_ended: u64,
    /// The letter (letter only).
    pub letter: Option<RecoveryLetter>,
}

/// The parts of a check that stand without the account.
struct Checked {
    document: DocumentType,
    last4: DocumentLast4,
    tax_code: TaxCode,
}

/// Today in the schools' zone by the app's clock, as `yyyymmdd`.
fn today(now: Timestamp) -> u32 {
    let zone = jiff::tz::TimeZone::get(SCHOOL_TIME_ZONE).unwrap_or(jiff::tz::TimeZone::UTC);
    let date = jiff::Timestamp::from_second(now.0)
        .map(|t| t.to_zoned(zone).date())
        .unwrap_or_default();
    let part = |n: i64| u32::try_from(n).unwrap_or_default();
    part(i64::from(date.year())) * 10_000 + part(i64::from(date.month())) * 100 + part(i64::from(date.day()))
}

/// Reads the check; refuses an unknown document type, a last-4 that is
/// not 4 letters or digits, an expired document and an invalid tax code.
fn read_check(check: &IdentityCheck, now: Timestamp) -> Result<Checked, AppError> {
    let document = DocumentType::parse(&check.document_type)
        .ok_or_else(|| AppError::invalid("document_type", IdentityCheckError::DocumentType))?;
    let last4 = DocumentLast4::parse(&check.document_last4).map_err(|e| AppError::invalid("document_last4", e))?;
    let expiry = parse_expiry(&check.document_expiry).map_err(|e| AppError::invalid("document_expiry", e))?;
    if expiry < today(now) {
        return Err(AppError::invalid("document_expiry", IdentityCheckError::Expired));
    }
    let tax_code = TaxCode::parse(check.tax_code.trim()).map_err(|e| AppError::invalid("tax_code", e))?;
    Ok(Checked {
        document,
        last4,
        tax_code,
    })
}

/// Refuses (audited, committed) a tax code that is not the account's.
async fn ensure_same_person(
    mut tx: Tx,
    app: &App,
    operator: &Actor,
    ctx: &RequestContext,
    account: &AccountRecord,
    checked: &Checked,
    action: DeskAction,
) -> Result<Tx, AppError> {
    if checked.tax_code == account.tax_code {
        return Ok(tx);
    }
    audit::record(
        &mut tx,
        app.now(),
        operator,
        ctx,
        account.into(),
        AuditEvent::DeskIdentityCheck {
            document: checked.document,
            last4: checked.last4.as_str().to_owned(),
            action,
            refused: true,
        },
    )
    .await?;
    tx.commit().await?;
    Err(AppError::invalid(
        "tax_code",
        "the tax code on the document is not the account's",
    ))
}

/// The corrected address, when one was typed (twice, the same).
fn read_new_email(request: &RecoveryRequest, account: &AccountRecord) -> Result<Option<EmailAddress>, AppError> {
    let typed = |v: &Option<String>| v.as_deref().map(str::trim).unwrap_or_default().to_owned();
    let (first, second) = (typed(&request.new_email), typed(&request.new_email_confirm));
    if first.is_empty() && second.is_empty() {
        return Ok(None);
    }
    if first.chars().count() > 320 || second.chars().count() > 320 {
        return Err(AppError::InputTooLong);
    }
    let email = EmailAddress::parse(&first).map_err(|e| AppError::invalid("new_email", e))?;
    if !first.eq_ignore_ascii_case(&second) {
        return Err(AppError::invalid("new_email_confirm", "the two addresses differ"));
    }
    let same = account
        .email
        .as_ref()
        .is_some_and(|current| current.as_str().eq_ignore_ascii_case(email.as_str()));
    Ok((!same).then_some(email))
}

/// Tells every address in `to` what the desk did.
async fn notify(
    tx: &mut Tx,
    app: &App,
    account: &AccountRecord,
    to: &[String],
    channel: DeskNotice,
    new_email_masked: Option<String>,
    now: Timestamp,
) -> Result<bool, AppError> {
    for address in to {
        enqueue(
            tx,
            app,
            Mail {
                to: address,
                lang: lang_of(account),
                school_id: Some(account.school_id),
                message: OutboundMessage::DeskRecoveryNotice {
                    first_name: account.first_name.clone(),
                    user_code: account.user_code.to_string(),
                    school_name: account.school_name.clone(),
                    channel,
                    new_email_masked: new_email_masked.clone(),
                    at: format_time(now),
                    help_url: app.link("/help"),
                },
            },
        )
        .await?;
    }
    Ok(!to.is_empty())
}

/// Checks the person's identity and issues a recovery: a link mailed to
/// the (corrected) address, or a letter whose code is in the answer, once.
pub async fn issue(
    app: &App,
    operator: &Actor,
    ctx: &RequestContext,
    user_code: &str,
    request: &RecoveryRequest,
) -> Result<RecoveryIssued, AppError> {
    let (tx, account, _) = super::open(app, operator, ctx, user_code, DeskAction::Recover).await?;
    let now = app.now();
    let checked = read_check(&request.check, now)?;
    let new_email = read_new_email(request, &account)?;
    let mut tx = ensure_same_person(tx, app, operator, ctx, &account, &checked, DeskAction::Recover).await?;
    // Re-read under the lock: what is acted on is what is on file now.
    let account = tx
        .account_for_update(account.id)
        .await?
        .ok_or(AppError::NotFound("account"))?;
    if account.status == AccountStatus::Disabled {
        return Err(AppError::conflict(refusals::DISABLED));
    }
    if !password_login_in(&mut tx, app, &account, now).await?.is_allowed() {
        return Err(AppError::PasswordNotAllowed);
    }
    let old_email = account.email.as_ref().map(|e| e.as_str().to_owned());
    let email = new_email
        .as_ref()
        .map(|e| e.as_str().to_owned())
        .or_else(|| old_email.clone());
    if request.channel == Channel::Link && email.is_none() {
        return Err(AppError::conflict(refusals::NO_EMAIL));
    }
    if let Some(new) = &new_email {
        tx.set_account_email(account.id, Some(new.as_str()), false, now.0)
            .await?;
        // A change asked for towards another address must not land later.
        spend_links(
            &mut tx,
            account.id,
            &[TokenPurpose::EmailChange, TokenPurpose::Reset, TokenPurpose::Activate],
            now,
        )
        .await?;
    }
    clear_lock(&mut tx, app, &account).await?;
    let sessions_ended = tx.delete_sessions_of_account(account.id, None).await?;
    let mut letter = None;
    let mut sent_to = None;
    match request.channel {
        Channel::Link => {
            let to = email.clone().unwrap_or_default();
            let link = issue_mailed_link(&mut tx, app, account.id, &to, TokenPurpose::Reset, now).await?;
            enqueue(
                &mut tx,
                app,
                Mail {
                    to: &to,
                    lang: lang_of(&account),
                    school_id: Some(account.school_id),
                    message: OutboundMessage::PasswordReset {
                        accounts: vec![ResetLink {
                            first_name: account.first_name.clone(),
                            last_name: account.last_name.clone(),
                            user_code: account.user_code.to_string(),
                            school_name: account.school_name.clone(),
                            link,
                        }],
                        expires_minutes: TokenPurpose::Reset.default_lifetime_secs() / 60,
                        help_url: app.link("/help"),
                    },
                },
            )
            .await?;
            sent_to = EmailAddress::parse(&to).ok().map(|e| e.masked());
        }
        Channel::Letter => {
            tx.spend_tokens_of_purpose(TokenPurpose::RecoveryLetter, Some(account.id), now)
                .await?;
            let code = RecoveryCode::generate(&mut OsRng);
            let expires_at = now.plus_secs(TokenPurpose::RecoveryLetter.default_lifetime_secs());
            tx.insert_token(&NewToken {
                token_hash: &code.hash(account.user_code.as_str()),
                purpose: TokenPurpose::RecoveryLetter,
                account_id: Some(account.id),
                now,
                expires_at,
                recipient_hash: None,
            })
            .await?;
            letter = Some(RecoveryLetter {
                first_name: account.first_name.clone(),
                last_name: account.last_name.clone(),
                user_code: account.user_code.to_string(),
                school_name: account.school_name.clone(),
                school_code: account.school_code.clone(),
                code: code.grouped(),
                expires_at: format_time(expires_at),
                reset_url: app.link(&format!("{RECOVER_PATH}?user={}", account.user_code.as_str())),
            });
        }
    }
    audit::record(
        &mut tx,
        now,
        operator,
        ctx,
        (&account).into(),
        AuditEvent::DeskRecoveryIssued {
            document: checked.document,
            last4: checked.last4.as_str().to_owned(),
            channel: request.channel,
            email_changed: new_email.is_some(),
            sessions_ended,
        },
    )
    .await?;
    let mut to: Vec<String> = old_email.into_iter().collect();
    if let Some(new) = &new_email {
        to.push(new.as_str().to_owned());
    }
    let masked = new_email.as_ref().map(EmailAddress::masked);
    notify(&mut tx, app, &account, &to, request.channel.into(), masked, now).await?;
    tx.commit().await?;
    app.mail_queued();
    Ok(RecoveryIssued {
        channel: request.channel,
        sent_to,
        email_changed: new_email.is_some(),
        sessions_ended,
        letter,
    })
}

/// Checks the identity of the owner of an account (for one without a
/// password: it confirms the tax code on file) and, with `unlink`, unlinks
/// its SPID/CIE identities (audited, every address told). Returns how many
/// identities were unlinked.
pub async fn check_identity(
    app: &App,
    operator: &Actor,
    ctx: &RequestContext,
    user_code: &str,
    check: &IdentityCheck,
    unlink: bool,
) -> Result<u64, AppError> {
    let action = if unlink {
        DeskAction::UnlinkIdentity
    } else {
        DeskAction::CheckIdentity
    };
    let (tx, account, _) = super::open(app, operator, ctx, user_code, action).await?;
    let now = app.now();
    let checked = read_check(check, now)?;
    let mut tx = ensure_same_person(tx, app, operator, ctx, &account, &checked, action).await?;
    let mut unlinked = 0;
    if unlink {
        let identities = tx.upstream_identities_of(account.id).await?;
        if identities.is_empty() {
            return Err(AppError::conflict(refusals::NOTHING_TO_UNLINK));
        }
        for identity in identities {
            if tx
                .unlink_upstream_identity(account.id, &identity.issuer, &identity.subject)
                .await?
            {
                unlinked += 1;
            }
        }
    }
    audit::record(
        &mut tx,
        now,
        operator,
        ctx,
        (&account).into(),
        AuditEvent::DeskIdentityCheck {
            document: checked.document,
            last4: checked.last4.as_str().to_owned(),
            action,
            refused: false,
        },
    )
    .await?;
    let mut notified = false;
    if unlink {
        audit::record(
            &mut tx,
            now,
            operator,
            ctx,
            (&account).into(),
            AuditEvent::UpstreamIdentityUnlinked {
                document: checked.document,
                last4: checked.last4.as_str().to_owned(),
                identities: unlinked,
            },
        )
        .await?;
        let to: Vec<String> = account.email.iter().map(|e| e.as_str().to_owned()).collect();
        notified = notify(&mut tx, app, &account, &to, DeskNotice::Unlinked, None, now).await?;
    }
    tx.commit().await?;
    if notified {
        app.mail_queued();
    }
    Ok(unlinked)
}

/// Sets a new password with the code of a recovery letter and the user
/// code printed beside it. The code must be live (72 hours), unused, of
/// that account, and the account neither disabled nor kept to SPID/CIE.
/// Every refusal of the code itself is [`AppError::InvalidToken`].
pub async fn redeem_letter(
    app: &App,
    user_code: &str,
    code: &str,
    new_password: &str,
    ctx: &RequestContext,
) -> Result<(), AppError> {
    let user_code = UserCode::parse(user_code.trim()).map_err(|_| AppError::InvalidToken)?;
    let code = RecoveryCode::from_user(code).ok_or(AppError::InvalidToken)?;
    let new = password_for_new(new_password)?;
    let now = app.now();
    let mut tx = app.store.begin_read().await?;
    let record = tx
        .token_by_hash(&code.hash(user_code.as_str()))
        .await?
        .ok_or(AppError::InvalidToken)?;
    let account = match record.account_id {
        Some(id) => tx.account_by_id(id).await?,
        None => None,
    };
    tx.commit().await?;
    let account = account.ok_or(AppError::InvalidToken)?;
    if record.purpose != TokenPurpose::RecoveryLetter
        || record.used_at.is_some()
        || record.expires_at <= now
        || account.user_code != user_code
        || account.status == AccountStatus::Disabled
    {
        return Err(AppError::InvalidToken);
    }
    if let Err(refused) = ensure_password_allowed(app, &account).await {
        let mut tx = app.store.begin().await?;
        audit::record(
            &mut tx,
            now,
            &actor_of(&account),
            ctx,
            (&account).into(),
            AuditEvent::PasswordNotAllowed(NewPasswordRoute::Reset),
        )
        .await?;
        tx.commit().await?;
        return Err(refused);
    }
    check_new_password(app, &account, &new).await?;
    let hash = app.hashing.hash(new).await?;
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let account = tx.account_for_update(account.id).await?.ok_or(AppError::InvalidToken)?;
    if account.status == AccountStatus::Disabled {
        return Err(AppError::InvalidToken);
    }
    // One conditional UPDATE: of two parallel uses only one succeeds.
    if !tx.spend_token(record.id, now).await? {
        return Err(AppError::InvalidToken);
    }
    let ended = store_new_password(&mut tx, app, &account, &hash, KeepSession::None, now, ctx).await?;
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(expiry: &str) -> IdentityCheck {
        IdentityCheck {
            document_type: "cie".into(),
            document_last4: "ab12".into(),
            document_expiry: expiry.into(),
            tax_code: "RSSMRA85T10A562S".into(),
        }
    }

    #[test]
    fn a_document_expired_before_today_in_rome_is_refused() {
        // 2027-01-15 23:30 UTC is already the 16th in Rome.
        let now = Timestamp(1_800_055_800);
        assert_eq!(today(now), 20_270_116);
        assert!(read_check(&check("2027-01-16"), now).is_ok());
        assert!(matches!(
            read_check(&check("2027-01-15"), now),
            Err(AppError::Invalid {
                field: "document_expiry",
                ..
            })
        ));
        let mut bad = check("2030-01-01");
        bad.tax_code = "RSSMRA85T10A562X".into();
        assert!(matches!(
            read_check(&bad, now),
            Err(AppError::Invalid { field: "tax_code", .. })
        ));
        bad = check("2030-01-01");
        bad.document_last4 = "12".into();
        assert!(matches!(
            read_check(&bad, now),
            Err(AppError::Invalid {
                field: "document_last4",
                ..
            })
        ));
    }
}
