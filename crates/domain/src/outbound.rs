//! Every email Varco sends, as one type: the contract between the use cases
//! that queue a message (`varco_app`) and the worker that renders it
//! (`varco_mail`).
//!
//! An outbox row keeps a message as two columns: `template` (the variant's
//! snake-case name, which is also the template folder under
//! `crates/mail/templates/<lang>/`) and `payload` (a JSON object with the
//! variant's fields, under the same names). [`OutboundMessage::to_outbox`]
//! and [`OutboundMessage::from_outbox`] are the only way between the two, so
//! a field renamed on one side is a compile error on the other, and a row
//! queued before an upgrade still reads as long as the fields keep their names.
//!
//! Invariant: no variant has a field for a password, a token on its own or a
//! session secret; links carry their token inside the URL and are forgotten
//! (the payload emptied) once the message is delivered.

use serde::{Deserialize, Serialize};

/// One account in a password-reset message (an address may serve several).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetLink {
    /// The account owner's given name.
    pub first_name: String,
    /// The account owner's family name.
    pub last_name: String,
    /// The account's user code.
    pub user_code: String,
    /// The account's school.
    pub school_name: String,
    /// The reset link (its token inside the URL).
    pub link: String,
}

/// A message to queue, by template. Fields are what the template shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "template", content = "payload", rename_all = "snake_case")]
pub enum OutboundMessage {
    /// The password changed (by its owner, a reset or an activation): when,
    /// from where, what to do if it wasn't them.
    PasswordChanged {
        /// The new password came through an activation link: the message
        /// says the account is active rather than that a password changed.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        activation: bool,
        /// The owner's given name, for the greeting.
        first_name: String,
        /// The account's user code.
        user_code: String,
        /// As people read it, in the school's zone, e.g. `23/11/2026 12:26`.
        changed_at: String,
        /// The IP address the change came from, if known.
        ip: Option<String>,
        /// The account's school.
        school_name: String,
        /// Where to change the password.
        change_url: String,
        /// Where "forgot password" is; without it the worker derives it
        /// from `change_url`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        forgot_url: Option<String>,
        /// Where to get help.
        help_url: String,
    },
    /// The password expires soon.
    PasswordExpiryReminder {
        /// The owner's given name, for the greeting.
        first_name: String,
        /// The account's user code.
        user_code: String,
        /// Days until the password expires.
        days_left: u32,
        /// As people read it, e.g. `30/11/2026`.
        expires_on: String,
        /// Where to change the password.
        change_url: String,
    },
    /// A message an operator sends to check the mail set-up.
    TestMessage {
        /// The recipient's given name, for the greeting.
        first_name: String,
    },
    /// Reset links for every account of one address.
    PasswordReset {
        /// One entry per account of the address.
        accounts: Vec<ResetLink>,
        /// How long the links stay valid, in minutes.
        expires_minutes: i64,
        /// Where to get help.
        help_url: String,
    },
    /// The link that sets the first password of a new account.
    AccountActivation {
        /// The owner's given name, for the greeting.
        first_name: String,
        /// The account's user code.
        user_code: String,
        /// The account's school.
        school_name: String,
        /// The activation link (its token inside the URL).
        link: String,
        /// How long the link stays valid, in days.
        expires_days: i64,
    },
    /// The link that confirms a new address, sent to that address.
    EmailChangeConfirm {
        /// The owner's given name, for the greeting.
        first_name: String,
        /// The account's user code.
        user_code: String,
        /// The confirmation link (its token inside the URL).
        link: String,
        /// How long the link stays valid, in hours.
        expires_hours: i64,
    },
    /// To the old address: the address changed, and how to undo it.
    EmailChangedNotice {
        /// The owner's given name, for the greeting.
        first_name: String,
        /// The account's user code.
        user_code: String,
        /// The new address, masked.
        new_email_masked: String,
        /// As people read it, e.g. `23/11/2026 11:26 UTC`.
        changed_at: String,
        /// The undo link (its token inside the URL).
        undo_link: String,
        /// How long the undo link stays valid, in days.
        undo_days: i64,
        /// Where to get help.
        help_url: String,
    },
    /// To the current address when a change to another one is asked for:
    /// nothing has changed yet, and what to do if it wasn't them. No secret
    /// and no link that changes anything (security review finding 1).
    EmailChangeRequestedNotice {
        /// The owner's given name, for the greeting.
        first_name: String,
        /// The account's user code.
        user_code: String,
        /// The address asked for, masked.
        new_email_masked: String,
        /// As people read it, in the school's zone, e.g. `23/11/2026 12:26`.
        requested_at: String,
        /// The IP address the request came from, if known.
        ip: Option<String>,
        /// How long the new address has to confirm before the request lapses.
        expires_hours: i64,
        /// Where "forgot password" is.
        forgot_url: String,
        /// Where to get help.
        help_url: String,
    },
    /// The answer to a forgot-password request for an account that may no
    /// longer use a password: no link, how to sign in with SPID or CIE.
    SignInWithSpidCie {
        /// The owner's given name, for the greeting.
        first_name: String,
        /// The account's user code.
        user_code: String,
        /// The account's school.
        school_name: String,
        /// The first day without passwords, as people read it
        /// (`30/09/2026`), when the password ended on a date.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        spid_cie_only_since: Option<String>,
        /// Where to sign in.
        login_url: String,
        /// Where to get help.
        help_url: String,
    },
    /// The welcome of a new account that signs in only with SPID or CIE (its
    /// login policy allows no password): no link, how to sign in.
    AccountWelcomeSpidCie {
        /// The owner's given name, for the greeting.
        first_name: String,
        /// The account's user code.
        user_code: String,
        /// The account's school.
        school_name: String,
        /// Where to sign in.
        login_url: String,
        /// Where to get help.
        help_url: String,
    },
    /// A school's desk corrected the person's tax code or names: what
    /// changed, and whom to ask if it looks wrong.
    PersonCorrected {
        /// The owner's given name (as corrected), for the greeting.
        first_name: String,
        /// The owner's family name (as corrected).
        last_name: String,
        /// The account's user code.
        user_code: String,
        /// The account's school.
        school_name: String,
        /// The tax code was corrected.
        tax_code_changed: bool,
        /// The last 4 characters of the tax code now on file.
        tax_code_last4: String,
        /// The given or family name was corrected.
        names_changed: bool,
        /// As people read it, in the school's zone, e.g. `23/11/2026 12:26`.
        corrected_at: String,
        /// Where to get help.
        help_url: String,
    },
    /// To the requester of a public email-change request: it was received,
    /// its number and where to follow it.
    EmailChangeRequestReceived {
        /// The requester's given name, for the greeting.
        first_name: String,
        /// The request's number.
        request_number: String,
        /// The status page (its token inside the URL).
        status_link: String,
    },
    /// To the school's own mailbox: a request joined the desk's queue. No
    /// document, no tax code, no address.
    EmailChangeRequestSchoolNotice {
        /// The student's given name.
        first_name: String,
        /// The student's family name.
        last_name: String,
        /// The request's number.
        request_number: String,
        /// Class and building as typed.
        class_name: String,
        /// The building (plesso).
        building: String,
        /// The desk's page of the request.
        desk_link: String,
    },
    /// To the requester: the request was rejected, and why.
    EmailChangeRequestRejected {
        /// The requester's given name, for the greeting.
        first_name: String,
        /// The request's number.
        request_number: String,
        /// The operator's reason.
        reason: String,
        /// The form, to file a new request.
        form_link: String,
    },
    /// A new PIN or personal code, in the body only (never the subject):
    /// issued at activation or the first SPID/CIE sign-in, or regenerated
    /// by its owner (the old one no longer works).
    SecondSecretIssued {
        /// The owner's given name, for the greeting.
        first_name: String,
        /// The account's user code.
        user_code: String,
        /// The account's school.
        school_name: String,
        /// `pin` or `personal_code`.
        kind: String,
        /// The code itself.
        code: String,
        /// The owner asked for it (the previous one died).
        regenerated: bool,
        /// Where to change or regenerate it.
        account_url: String,
    },
    /// The PIN or personal code was changed by its owner, or locked after
    /// five wrong entries (`event` `changed` or `locked`). No code in it.
    SecondSecretNotice {
        /// The owner's given name, for the greeting.
        first_name: String,
        /// The account's user code.
        user_code: String,
        /// `pin` or `personal_code`.
        kind: String,
        /// `changed` or `locked`.
        event: String,
        /// As people read it, in the school's zone.
        at: String,
        /// Where to regenerate it.
        account_url: String,
        /// Where to get help.
        help_url: String,
    },
    /// A year-end roster import left the account out of its school's new
    /// roster: it will be disabled from `on` (or, `disabled_now`, it was
    /// disabled at once), and whom to ask if that is a mistake.
    AccountDisableNotice {
        /// The owner's given name, for the greeting.
        first_name: String,
        /// The account's user code.
        user_code: String,
        /// The account's school.
        school_name: String,
        /// The date as people read it, e.g. `31/08/2027`.
        on: String,
        /// The date had already come: the account is disabled now.
        disabled_now: bool,
        /// Where to get help.
        help_url: String,
    },
    /// After an in-person identity check a school's desk issued a recovery
    /// (`channel` `link` or `letter`) or unlinked the SPID/CIE identities
    /// (`unlinked`); sent to every address on file. No secret in it.
    DeskRecoveryNotice {
        /// The owner's given name, for the greeting.
        first_name: String,
        /// The account's user code.
        user_code: String,
        /// The account's school.
        school_name: String,
        /// What was done: `link`, `letter` or `unlinked`.
        channel: crate::identity_check::DeskNotice,
        /// The address was corrected at the desk; the new one, masked.
        new_email_masked: Option<String>,
        /// As people read it, in the school's zone, e.g. `23/11/2026 12:26`.
        at: String,
        /// Where to get help.
        help_url: String,
    },
}

/// An outbox row that is not a message Varco knows.
#[derive(Debug, thiserror::Error)]
#[error("the outbox row is not a {template:?} message: {source}")]
pub struct OutboxRowError {
    /// The template named by the row.
    pub template: String,
    /// Why its payload does not read as that template's fields.
    #[source]
    pub source: serde_json::Error,
}

impl OutboundMessage {
    /// Every template name, as stored in the outbox and named on disk.
    pub const TEMPLATES: &'static [&'static str] = &[
        "password_changed",
        "password_expiry_reminder",
        "test_message",
        "password_reset",
        "account_activation",
        "email_change_confirm",
        "email_changed_notice",
        "email_change_requested_notice",
        "sign_in_with_spid_cie",
        "account_welcome_spid_cie",
        "person_corrected",
        "email_change_request_received",
        "email_change_request_school_notice",
        "email_change_request_rejected",
        "desk_recovery_notice",
        "account_disable_notice",
        "second_secret_issued",
        "second_secret_notice",
    ];

    /// The template this message is rendered with.
    pub fn template(&self) -> &'static str {
        match self {
            OutboundMessage::PasswordChanged { .. } => "password_changed",
            OutboundMessage::PasswordExpiryReminder { .. } => "password_expiry_reminder",
            OutboundMessage::TestMessage { .. } => "test_message",
            OutboundMessage::PasswordReset { .. } => "password_reset",
            OutboundMessage::AccountActivation { .. } => "account_activation",
            OutboundMessage::EmailChangeConfirm { .. } => "email_change_confirm",
            OutboundMessage::EmailChangedNotice { .. } => "email_changed_notice",
            OutboundMessage::EmailChangeRequestedNotice { .. } => "email_change_requested_notice",
            OutboundMessage::SignInWithSpidCie { .. } => "sign_in_with_spid_cie",
            OutboundMessage::AccountWelcomeSpidCie { .. } => "account_welcome_spid_cie",
            OutboundMessage::PersonCorrected { .. } => "person_corrected",
            OutboundMessage::EmailChangeRequestReceived { .. } => "email_change_request_received",
            OutboundMessage::EmailChangeRequestSchoolNotice { .. } => "email_change_request_school_notice",
            OutboundMessage::EmailChangeRequestRejected { .. } => "email_change_request_rejected",
            OutboundMessage::DeskRecoveryNotice { .. } => "desk_recovery_notice",
            OutboundMessage::AccountDisableNotice { .. } => "account_disable_notice",
            OutboundMessage::SecondSecretIssued { .. } => "second_secret_issued",
            OutboundMessage::SecondSecretNotice { .. } => "second_secret_notice",
        }
    }

    /// The fields as a JSON object (what a template sees).
    pub fn payload(&self) -> serde_json::Value {
        // Strings, numbers and lists of them: serialising cannot fail.
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut tagged)) => tagged.remove("payload").unwrap_or_default(),
            _ => serde_json::Value::Null,
        }
    }

    /// The outbox columns: the template name and the payload as JSON text.
    pub fn to_outbox(&self) -> (&'static str, String) {
        (self.template(), self.payload().to_string())
    }

    /// Reads an outbox row back: unknown templates, payloads that are not
    /// JSON objects and missing or mistyped fields are errors.
    pub fn from_outbox(template: &str, payload: &str) -> Result<OutboundMessage, OutboxRowError> {
        let error = |source| OutboxRowError {
            template: template.to_owned(),
            source,
        };
        let payload: serde_json::Value = serde_json::from_str(payload).map_err(error)?;
        serde_json::from_value(serde_json::json!({ "template": template, "payload": payload })).map_err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed() -> OutboundMessage {
        OutboundMessage::PasswordChanged {
            activation: false,
            first_name: "Giulia".into(),
            user_code: "G7K2M9Q4".into(),
            changed_at: "23/11/2026 11:26 UTC".into(),
            ip: None,
            school_name: "IC Via dei Glicini".into(),
            change_url: "https://v.example/password/change".into(),
            forgot_url: Some("https://v.example/password/forgot".into()),
            help_url: "https://v.example/help".into(),
        }
    }

    #[test]
    fn the_payload_is_the_fields_under_their_names_without_the_template() {
        let (template, payload) = changed().to_outbox();
        assert_eq!(template, "password_changed");
        // Compared as JSON values: the key order of the text depends on
        // serde_json's `preserve_order`, which josekit turns on.
        let expected: serde_json::Value = serde_json::from_str(
            r#"{"change_url":"https://v.example/password/change","changed_at":"23/11/2026 11:26 UTC","first_name":"Giulia","forgot_url":"https://v.example/password/forgot","help_url":"https://v.example/help","ip":null,"school_name":"IC Via dei Glicini","user_code":"G7K2M9Q4"}"#,
        )
        .unwrap();
        assert_eq!(serde_json::from_str::<serde_json::Value>(&payload).unwrap(), expected);
        assert_eq!(OutboundMessage::from_outbox(template, &payload).unwrap(), changed());
    }

    #[test]
    fn rows_queued_with_a_hand_written_payload_still_read() {
        let reset = OutboundMessage::from_outbox(
            "password_reset",
            r#"{"accounts":[{"first_name":"Giulia","last_name":"Rossi","user_code":"ABCD23456","school_name":"IC","link":"https://v.example/password/reset?token=t"}],"expires_minutes":30,"help_url":"https://v.example/help"}"#,
        )
        .unwrap();
        assert!(
            matches!(reset, OutboundMessage::PasswordReset { ref accounts, expires_minutes: 30, .. } if accounts.len() == 1)
        );
        let test = OutboundMessage::from_outbox("test_message", r#"{"first_name":"Giulia"}"#).unwrap();
        assert_eq!(
            test,
            OutboundMessage::TestMessage {
                first_name: "Giulia".into()
            }
        );
    }

    #[test]
    fn unknown_templates_and_bad_payloads_are_errors() {
        for (template, payload) in [
            ("no_such_template", "{}"),
            ("test_message", "{not json"),
            ("test_message", r#"["Giulia"]"#),
            ("test_message", "{}"),
            (
                "password_expiry_reminder",
                r#"{"first_name":"G","user_code":"U","days_left":"seven","expires_on":"x","change_url":"y"}"#,
            ),
        ] {
            let error = OutboundMessage::from_outbox(template, payload).unwrap_err();
            assert_eq!(error.template, template);
        }
    }

    #[test]
    fn every_template_is_listed_once() {
        let mut names = OutboundMessage::TEMPLATES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), OutboundMessage::TEMPLATES.len());
        assert!(OutboundMessage::TEMPLATES.contains(&changed().template()));
    }
}
