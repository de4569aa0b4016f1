//! Links mailed to an account's address: the URL of a reset or activation
//! link, and the activation message, which goes out when an operator creates
//! an account or resends the link, a roster brings a new person, or a
//! forgot-password request finds an account that was never activated.
//! An account whose login policy does not allow a password (SPID/CIE only
//! for its kind and school) gets no link: a welcome saying how to sign in
//! with SPID or CIE instead.
//! Part of the lower layer of `app`.

use varco_domain::Lang;
use varco_domain::account::AccountKind;
use varco_domain::clock::Timestamp;
use varco_domain::outbound::OutboundMessage;
use varco_domain::token::TokenPurpose;
use varco_domain::{AccountId, EmailAddress, SchoolId};
use varco_store::{AccountRecord, Tx};

use crate::credentials::issue_link;
use crate::mail::{Mail, enqueue, lang_of};
use crate::{App, AppError};

/// Issues a reset or activation link mailed to `email`, spending the
/// account's older links of the same purpose; returns the URL.
pub(crate) async fn issue_mailed_link(
    tx: &mut Tx,
    app: &App,
    account_id: AccountId,
    email: &str,
    purpose: TokenPurpose,
    now: Timestamp,
) -> Result<String, AppError> {
    let (token, _) = issue_link(tx, account_id, purpose, Some(email), now).await?;
    Ok(app.link(&format!("/password/reset?token={}", token.as_str())))
}

/// Who an activation link is for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Activation<'a> {
    pub account_id: AccountId,
    pub kind: AccountKind,
    pub first_name: &'a str,
    pub user_code: &'a str,
    pub school_id: SchoolId,
    pub school_code: &'a str,
    pub school_name: &'a str,
    pub email: Option<&'a str>,
    pub lang: Lang,
}

impl<'a> Activation<'a> {
    pub(crate) fn of(account: &'a AccountRecord) -> Activation<'a> {
        Activation {
            account_id: account.id,
            kind: account.kind,
            first_name: &account.first_name,
            user_code: account.user_code.as_str(),
            school_id: account.school_id,
            school_code: &account.school_code,
            school_name: &account.school_name,
            email: account.email.as_ref().map(EmailAddress::as_str),
            lang: lang_of(account),
        }
    }
}

/// What [`queue_activation`] queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Queued {
    /// Nothing: the account has no email address.
    Nothing,
    /// The activation link.
    Link,
    /// The SPID/CIE welcome (no link: the account may not use a password).
    SpidCieWelcome,
}

impl Queued {
    /// Whether a message was queued.
    pub(crate) fn sent(self) -> bool {
        self != Queued::Nothing
    }
}

/// Queues the activation email of an account that has no password yet, or
/// for an account its login policy keeps to SPID/CIE, the welcome saying
/// how to sign in (no token is issued). Does nothing for an account without
/// an email address. The account is new or pending, so it holds no role
/// that would keep it a password.
pub(crate) async fn queue_activation(tx: &mut Tx, app: &App, who: Activation<'_>) -> Result<Queued, AppError> {
    let Some(email) = who.email else {
        return Ok(Queued::Nothing);
    };
    let now = app.now();
    let roles = tx.roles_of(who.account_id).await?;
    let roles: Vec<_> = roles.iter().map(|g| g.role).collect();
    let password = app
        .settings
        .login
        .of(who.kind, who.school_code)
        .password_login_for(&roles, now);
    if !password.is_allowed() {
        enqueue(
            tx,
            app,
            Mail {
                to: email,
                lang: who.lang,
                school_id: Some(who.school_id),
                message: OutboundMessage::AccountWelcomeSpidCie {
                    first_name: who.first_name.to_owned(),
                    user_code: who.user_code.to_owned(),
                    school_name: who.school_name.to_owned(),
                    login_url: app.link("/login"),
                    help_url: app.link("/help"),
                },
            },
        )
        .await?;
        return Ok(Queued::SpidCieWelcome);
    }
    let link = issue_mailed_link(tx, app, who.account_id, email, TokenPurpose::Activate, now).await?;
    enqueue(
        tx,
        app,
        Mail {
            to: email,
            lang: who.lang,
            school_id: Some(who.school_id),
            message: OutboundMessage::AccountActivation {
                first_name: who.first_name.to_owned(),
                user_code: who.user_code.to_owned(),
                school_name: who.school_name.to_owned(),
                link,
                expires_days: TokenPurpose::Activate.default_lifetime_secs() / 86_400,
            },
        },
    )
    .await?;
    Ok(Queued::Link)
}
