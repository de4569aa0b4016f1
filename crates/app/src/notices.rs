//! Notices the lower layer queues on behalf of several use cases.
//!
//! The password-changed notice goes out after a change, a reset and an
//! activation alike: when, from where, and what to do if it wasn't them.

use varco_domain::clock::Timestamp;
use varco_domain::outbound::OutboundMessage;
use varco_store::AccountRecord;

use crate::mail::{Mail, enqueue, format_time, lang_of};
use crate::{App, AppError, RequestContext};

/// Queues the notice that the password changed (by the user, or through a
/// reset or activation link): when, from where, what to do if it wasn't them.
/// Never the password. Nothing for an account without an address.
pub(crate) async fn queue_password_changed_notice(
    tx: &mut varco_store::Tx,
    app: &App,
    account: &AccountRecord,
    now: Timestamp,
    ctx: &RequestContext,
) -> Result<(), AppError> {
    let Some(email) = &account.email else { return Ok(()) };
    enqueue(
        tx,
        app,
        Mail {
            to: email.as_str(),
            lang: lang_of(account),
            school_id: Some(account.school_id),
            message: OutboundMessage::PasswordChanged {
                // An account waiting for activation gets "your account is active".
                activation: account.status == varco_domain::account::AccountStatus::PendingActivation,
                first_name: account.first_name.clone(),
                user_code: account.user_code.to_string(),
                changed_at: format_time(now),
                ip: ctx.ip.clone(),
                school_name: account.school_name.clone(),
                change_url: app.link("/password/change"),
                forgot_url: Some(app.link("/password/forgot")),
                help_url: app.link("/help"),
            },
        },
    )
    .await
}
