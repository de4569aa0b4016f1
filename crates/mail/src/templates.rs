//! Rendering an outbox row into a message: subject, plain text and HTML in
//! the recipient's language, with the helpdesk footer, as RFC 5322 bytes.
//!
//! What to render is an [`OutboundMessage`] (`varco_domain::outbound`): the
//! variant names the template, its fields are the template's values.
//!
//! The built-in templates live in `crates/mail/templates/<lang>/<name>/`
//! (`subject.txt`, `body.txt`, `body.html`) and are compiled into the binary.
//! A school may replace any of those files (and its footers) by placing its
//! own under `<template_override_dir>/<SCHOOL_CODE>/<lang>/…`; overrides are
//! read at render time, so editing one needs no restart.
//!
//! Invariants:
//! - every message ends with the footer (school and national helpdesk): the
//!   renderer appends it, a body template cannot leave it out;
//! - a broken override never loses a message: it is logged and the built-in
//!   file is used instead;
//! - values cannot change a message's structure: HTML is auto-escaped, values
//!   in text templates lose their control characters (no new lines, no
//!   headers), and the subject is one line without control characters;
//! - the recipient is exactly the outbox row's address, parsed strictly.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, Error, UndefinedBehavior};
use serde::Serialize;
use serde_json::Map;
use varco_domain::clock::{Clock, SystemClock};
use varco_domain::outbound::OutboundMessage;
use varco_store::SchoolRecord;

use crate::escaping::{format_value, one_line, tidy_text};
use crate::message::{self, Sender};
use crate::{Helpdesk, MailConfig, MailError};

/// Names of the templates the outbox may ask for, one per [`OutboundMessage`] variant.
pub const TEMPLATES: &[&str] = OutboundMessage::TEMPLATES;

/// Languages with a complete set of templates; the first is the default.
const LANGS: &[&str] = &["it", "en"];

const LAYOUT: &str = "_layout.html";

macro_rules! embedded {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../templates/", $path)))),*]
    };
}

/// Every built-in file, by its path under `templates/`.
const BUILT_IN: &[(&str, &str)] = embedded![
    "_layout.html",
    "it/_footer.txt",
    "it/_footer.html",
    "en/_footer.txt",
    "en/_footer.html",
    "it/password_changed/subject.txt",
    "it/password_changed/body.txt",
    "it/password_changed/body.html",
    "en/password_changed/subject.txt",
    "en/password_changed/body.txt",
    "en/password_changed/body.html",
    "it/password_reset/subject.txt",
    "it/password_reset/body.txt",
    "it/password_reset/body.html",
    "en/password_reset/subject.txt",
    "en/password_reset/body.txt",
    "en/password_reset/body.html",
    "it/account_activation/subject.txt",
    "it/account_activation/body.txt",
    "it/account_activation/body.html",
    "en/account_activation/subject.txt",
    "en/account_activation/body.txt",
    "en/account_activation/body.html",
    "it/email_change_confirm/subject.txt",
    "it/email_change_confirm/body.txt",
    "it/email_change_confirm/body.html",
    "en/email_change_confirm/subject.txt",
    "en/email_change_confirm/body.txt",
    "en/email_change_confirm/body.html",
    "it/email_changed_notice/subject.txt",
    "it/email_changed_notice/body.txt",
    "it/email_changed_notice/body.html",
    "en/email_changed_notice/subject.txt",
    "en/email_changed_notice/body.txt",
    "en/email_changed_notice/body.html",
    "it/email_change_requested_notice/subject.txt",
    "it/email_change_requested_notice/body.txt",
    "it/email_change_requested_notice/body.html",
    "en/email_change_requested_notice/subject.txt",
    "en/email_change_requested_notice/body.txt",
    "en/email_change_requested_notice/body.html",
    "it/password_expiry_reminder/subject.txt",
    "it/password_expiry_reminder/body.txt",
    "it/password_expiry_reminder/body.html",
    "en/password_expiry_reminder/subject.txt",
    "en/password_expiry_reminder/body.txt",
    "en/password_expiry_reminder/body.html",
    "it/test_message/subject.txt",
    "it/test_message/body.txt",
    "it/test_message/body.html",
    "en/test_message/subject.txt",
    "en/test_message/body.txt",
    "en/test_message/body.html",
    "it/sign_in_with_spid_cie/subject.txt",
    "it/sign_in_with_spid_cie/body.txt",
    "it/sign_in_with_spid_cie/body.html",
    "en/sign_in_with_spid_cie/subject.txt",
    "en/sign_in_with_spid_cie/body.txt",
    "en/sign_in_with_spid_cie/body.html",
    "it/account_welcome_spid_cie/subject.txt",
    "it/account_welcome_spid_cie/body.txt",
    "it/account_welcome_spid_cie/body.html",
    "en/account_welcome_spid_cie/subject.txt",
    "en/account_welcome_spid_cie/body.txt",
    "en/account_welcome_spid_cie/body.html",
    "it/account_disable_notice/subject.txt",
    "it/account_disable_notice/body.txt",
    "it/account_disable_notice/body.html",
    "en/account_disable_notice/subject.txt",
    "en/account_disable_notice/body.txt",
    "en/account_disable_notice/body.html",
    "it/second_secret_issued/subject.txt",
    "it/second_secret_issued/body.txt",
    "it/second_secret_issued/body.html",
    "en/second_secret_issued/subject.txt",
    "en/second_secret_issued/body.txt",
    "en/second_secret_issued/body.html",
    "it/second_secret_notice/subject.txt",
    "it/second_secret_notice/body.txt",
    "it/second_secret_notice/body.html",
    "en/second_secret_notice/subject.txt",
    "en/second_secret_notice/body.txt",
    "en/second_secret_notice/body.html",
    "it/person_corrected/subject.txt",
    "it/person_corrected/body.txt",
    "it/person_corrected/body.html",
    "en/person_corrected/subject.txt",
    "en/person_corrected/body.txt",
    "en/person_corrected/body.html",
    "it/email_change_request_received/subject.txt",
    "it/email_change_request_received/body.txt",
    "it/email_change_request_received/body.html",
    "en/email_change_request_received/subject.txt",
    "en/email_change_request_received/body.txt",
    "en/email_change_request_received/body.html",
    "it/email_change_request_school_notice/subject.txt",
    "it/email_change_request_school_notice/body.txt",
    "it/email_change_request_school_notice/body.html",
    "en/email_change_request_school_notice/subject.txt",
    "en/email_change_request_school_notice/body.txt",
    "en/email_change_request_school_notice/body.html",
    "it/email_change_request_rejected/subject.txt",
    "it/email_change_request_rejected/body.txt",
    "it/email_change_request_rejected/body.html",
    "en/email_change_request_rejected/subject.txt",
    "en/email_change_request_rejected/body.txt",
    "en/email_change_request_rejected/body.html",
    "it/desk_recovery_notice/subject.txt",
    "it/desk_recovery_notice/body.txt",
    "it/desk_recovery_notice/body.html",
    "en/desk_recovery_notice/subject.txt",
    "en/desk_recovery_notice/body.txt",
    "en/desk_recovery_notice/body.html",
];

/// The school a message is about, for the footer (and for per-school templates).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SchoolFooter {
    /// Codice meccanografico; names the override folder.
    pub code: String,
    pub name: String,
    pub email: Option<String>,
    pub helpdesk_email: Option<String>,
    pub helpdesk_phone: Option<String>,
    pub helpdesk_hours: Option<String>,
}

impl From<&SchoolRecord> for SchoolFooter {
    fn from(school: &SchoolRecord) -> Self {
        SchoolFooter {
            code: school.code.clone(),
            name: school.name.clone(),
            email: school.email.clone(),
            helpdesk_email: school.helpdesk_email.clone(),
            helpdesk_phone: school.helpdesk_phone.clone(),
            helpdesk_hours: school.helpdesk_hours.clone(),
        }
    }
}

/// What to render: one outbox row plus its school.
#[derive(Debug, Clone)]
pub struct RenderInput<'a> {
    /// Without angle brackets, e.g. `1795433167.ab12…@accesso.scuola.it`.
    pub message_id: &'a str,
    pub recipient: &'a str,
    /// The message; its variant names the template.
    pub message: &'a OutboundMessage,
    /// `it` or `en`; anything else falls back to `it`.
    pub lang: &'a str,
    pub school: Option<SchoolFooter>,
}

/// A message ready for a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMessage {
    pub message_id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub lang: String,
    /// The whole RFC 5322 message (headers, multipart/alternative text + HTML, UTF-8).
    pub bytes: Vec<u8>,
}

/// Fills templates; cheap to share (`&self`), built once at startup.
#[derive(Debug)]
pub struct Renderer {
    env: Environment<'static>,
    sender: Sender,
    override_dir: Option<PathBuf>,
    national_helpdesk: Helpdesk,
    public_url: String,
    clock: Arc<dyn Clock>,
}

impl Renderer {
    /// Compiles the built-in templates and checks the `From` address.
    pub fn new(config: &MailConfig) -> Result<Renderer, MailError> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.set_formatter(format_value);
        for (name, source) in BUILT_IN {
            env.add_template(name, source)
                .map_err(|e| MailError::Config(format!("built-in template {name}: {e}")))?;
        }
        Ok(Renderer {
            env,
            sender: Sender::new(&config.from)?,
            override_dir: config.template_override_dir.clone(),
            national_helpdesk: config.national_helpdesk.clone(),
            public_url: config.public_url.trim_end_matches('/').to_owned(),
            clock: Arc::new(SystemClock),
        })
    }

    /// Uses `clock` for the `Date` header (the worker passes its own).
    pub fn set_clock(&mut self, clock: Arc<dyn Clock>) {
        self.clock = clock;
    }

    pub fn render(&self, input: &RenderInput<'_>) -> Result<RenderedMessage, MailError> {
        let template = input.message.template();
        let lang = LANGS.iter().copied().find(|l| *l == input.lang).unwrap_or(LANGS[0]);
        let context = self.context(input, lang)?;
        let overrides = input
            .school
            .as_ref()
            .and_then(|school| self.override_root(&school.code));
        let overrides = overrides.as_deref();

        let subject = one_line(&self.render_part(overrides, lang, &format!("{template}/subject.txt"), &context)?);
        if subject.is_empty() {
            return Err(MailError::Render(format!(
                "template {template} ({lang}) has an empty subject"
            )));
        }
        let body_text = self.render_part(overrides, lang, &format!("{template}/body.txt"), &context)?;
        let body_html = self.render_part(overrides, lang, &format!("{template}/body.html"), &context)?;
        let footer_text = self.render_part(overrides, lang, "_footer.txt", &context)?;
        let footer_html = self.render_part(overrides, lang, "_footer.html", &context)?;

        // "-- " is the signature separator mail clients recognise and dim.
        let text = format!("{}\n\n-- \n{}\n", tidy_text(&body_text), tidy_text(&footer_text));
        let html = self
            .env
            .get_template(LAYOUT)
            .and_then(|layout| {
                layout.render(minijinja::context! {
                    lang => lang,
                    subject => &subject,
                    body => Value::from_safe_string(body_html),
                    footer => Value::from_safe_string(footer_html),
                })
            })
            .map_err(|e| MailError::Render(describe(&e)))?;

        let bytes = message::compose(&message::Parts {
            sender: &self.sender,
            message_id: input.message_id,
            to: input.recipient,
            subject: &subject,
            text: &text,
            html: &html,
            lang,
            date: self.clock.now(),
        })?;
        Ok(RenderedMessage {
            message_id: input.message_id.to_owned(),
            to: input.recipient.to_owned(),
            subject,
            text,
            html,
            lang: lang.to_owned(),
            bytes,
        })
    }

    /// The message's values plus what every template may use: `school`,
    /// `national_helpdesk`, `public_url`, `lang` and `forgot_url`.
    fn context(&self, input: &RenderInput<'_>, lang: &str) -> Result<Value, MailError> {
        let serde_json::Value::Object(payload) = input.message.payload() else {
            return Err(MailError::Render("the message has no fields".to_owned()));
        };
        let mut values: Map<String, serde_json::Value> = payload.clone();
        let forgot_url = match payload.get("forgot_url").and_then(|v| v.as_str()) {
            Some(url) => url.to_owned(),
            None => self.forgot_url(payload.get("change_url").and_then(|v| v.as_str())),
        };
        values.insert("school".to_owned(), to_json(&input.school));
        values.insert("national_helpdesk".to_owned(), to_json(&self.national_helpdesk));
        values.insert("public_url".to_owned(), self.public_url.clone().into());
        values.insert("lang".to_owned(), lang.into());
        values.insert("forgot_url".to_owned(), forgot_url.into());
        Ok(Value::from_serialize(&values))
    }

    /// Where "forgot password" lives: on the host of the link the message
    /// already carries, or else on the configured public URL.
    fn forgot_url(&self, change_url: Option<&str>) -> String {
        let origin = change_url
            .and_then(|link| url::Url::parse(link).ok())
            .filter(|link| link.has_host())
            .map(|link| link.origin().ascii_serialization());
        format!("{}/password/forgot", origin.as_deref().unwrap_or(&self.public_url))
    }

    /// `<override_dir>/<CODE>`, when overrides are configured and the code is
    /// a plain codice meccanografico (so it cannot climb out of the folder).
    fn override_root(&self, code: &str) -> Option<PathBuf> {
        let dir = self.override_dir.as_ref()?;
        let plain = !code.is_empty() && code.len() <= 32 && code.bytes().all(|b| b.is_ascii_alphanumeric());
        if !plain {
            tracing::warn!(
                school_code = code,
                "school code unusable as a template folder; built-in templates used"
            );
            return None;
        }
        Some(dir.join(code))
    }

    /// Renders `<lang>/<part>`: the school's file when it has a working one,
    /// the built-in one otherwise.
    fn render_part(
        &self,
        overrides: Option<&Path>,
        lang: &str,
        part: &str,
        context: &Value,
    ) -> Result<String, MailError> {
        let name = format!("{lang}/{part}");
        if let Some(root) = overrides {
            let path = root.join(lang).join(part);
            match std::fs::read_to_string(&path) {
                Ok(source) => match self.env.render_named_str(&name, &source, context) {
                    Ok(rendered) => return Ok(rendered),
                    Err(e) => tracing::warn!(
                        path = %path.display(),
                        error = %describe(&e),
                        "school template does not render; built-in template used"
                    ),
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(
                    path = %path.display(),
                    error = %e,
                    "school template unreadable; built-in template used"
                ),
            }
        }
        self.env
            .get_template(&name)
            .and_then(|template| template.render(context))
            .map_err(|e| MailError::Render(describe(&e)))
    }
}

/// A plain struct of strings as JSON (serialising such a value cannot fail).
fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// A template error with its cause and location, without the values used.
fn describe(error: &Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use varco_domain::clock::{FixedClock, Timestamp};
    use varco_domain::identity_check::DeskNotice;
    use varco_domain::outbound::ResetLink;

    /// The files that make up one template, in each language.
    const PARTS: &[&str] = &["subject.txt", "body.txt", "body.html"];

    fn config() -> MailConfig {
        MailConfig {
            from: "Varco <no-reply@varco.example>".to_owned(),
            national_helpdesk: Helpdesk {
                name: Some("Assistenza nazionale Varco".to_owned()),
                email: Some("aiuto@varco.example".to_owned()),
                phone: Some("800 123 456".to_owned()),
                hours: Some("lun–ven 8–18".to_owned()),
            },
            public_url: "https://accesso.varco.example".to_owned(),
            ..MailConfig::default()
        }
    }

    fn renderer(config: &MailConfig) -> Renderer {
        let mut renderer = Renderer::new(config).unwrap();
        renderer.set_clock(Arc::new(FixedClock::new(Timestamp(1_795_433_167))));
        renderer
    }

    fn school() -> SchoolFooter {
        SchoolFooter {
            code: "RMIC81500X".to_owned(),
            name: "IC Via dei Glicini".to_owned(),
            email: Some("rmic81500x@istruzione.example".to_owned()),
            helpdesk_email: Some("segreteria@glicini.example".to_owned()),
            helpdesk_phone: Some("06 1234 5678".to_owned()),
            helpdesk_hours: Some("lun–ven 10–13, lun–mer 15–17".to_owned()),
        }
    }

    fn password_changed() -> OutboundMessage {
        OutboundMessage::PasswordChanged {
            activation: false,
            first_name: "Giulia".into(),
            user_code: "G7K2M9Q4".into(),
            changed_at: "23/11/2026 12:26".into(),
            ip: Some("203.0.113.7".into()),
            school_name: "IC Via dei Glicini".into(),
            change_url: "https://accesso.varco.example/password/change".into(),
            forgot_url: None,
            help_url: "https://accesso.varco.example/help".into(),
        }
    }

    fn expiry_reminder(days_left: u32) -> OutboundMessage {
        OutboundMessage::PasswordExpiryReminder {
            first_name: "Giulia".into(),
            user_code: "G7K2M9Q4".into(),
            days_left,
            expires_on: "30/11/2026".into(),
            change_url: "https://accesso.varco.example/password/change".into(),
        }
    }

    fn test_message(first_name: &str) -> OutboundMessage {
        OutboundMessage::TestMessage {
            first_name: first_name.into(),
        }
    }

    fn reset_link(first_name: &str, user_code: &str, token: &str) -> ResetLink {
        ResetLink {
            first_name: first_name.into(),
            last_name: "Rossi".into(),
            user_code: user_code.into(),
            school_name: "IC Via Roma".into(),
            link: format!("https://varco.example/password/reset?token={token}"),
        }
    }

    fn password_reset(accounts: Vec<ResetLink>, expires_minutes: i64) -> OutboundMessage {
        OutboundMessage::PasswordReset {
            accounts,
            expires_minutes,
            help_url: "https://varco.example/help".into(),
        }
    }

    fn account_activation(expires_days: i64) -> OutboundMessage {
        OutboundMessage::AccountActivation {
            first_name: "Giulia".into(),
            user_code: "ABCD23456".into(),
            school_name: "IC Via Roma".into(),
            link: "https://varco.example/password/reset?token=act".into(),
            expires_days,
        }
    }

    fn email_change_confirm(expires_hours: i64) -> OutboundMessage {
        OutboundMessage::EmailChangeConfirm {
            first_name: "Giulia".into(),
            user_code: "ABCD23456".into(),
            link: "https://varco.example/account/email/confirm?token=conf".into(),
            expires_hours,
        }
    }

    fn email_changed_notice(undo_days: i64) -> OutboundMessage {
        OutboundMessage::EmailChangedNotice {
            first_name: "Giulia".into(),
            user_code: "ABCD23456".into(),
            new_email_masked: "m•••o@example.it".into(),
            changed_at: "23/11/2026 12:26".into(),
            undo_link: "https://varco.example/account/email/undo?token=undo".into(),
            undo_days,
            help_url: "https://varco.example/help".into(),
        }
    }

    fn email_change_requested_notice(expires_hours: i64) -> OutboundMessage {
        OutboundMessage::EmailChangeRequestedNotice {
            first_name: "Giulia".into(),
            user_code: "ABCD23456".into(),
            new_email_masked: "m•••o@example.it".into(),
            requested_at: "23/11/2026 12:26".into(),
            ip: Some("203.0.113.7".into()),
            expires_hours,
            forgot_url: "https://varco.example/password/forgot".into(),
            help_url: "https://varco.example/help".into(),
        }
    }

    fn sign_in_with_spid_cie(spid_cie_only_since: Option<&str>) -> OutboundMessage {
        OutboundMessage::SignInWithSpidCie {
            first_name: "Giulia".into(),
            user_code: "ABCD23456".into(),
            school_name: "IC Via Roma".into(),
            spid_cie_only_since: spid_cie_only_since.map(str::to_owned),
            login_url: "https://varco.example/login".into(),
            help_url: "https://varco.example/help".into(),
        }
    }

    fn account_welcome_spid_cie() -> OutboundMessage {
        OutboundMessage::AccountWelcomeSpidCie {
            first_name: "Giulia".into(),
            user_code: "ABCD23456".into(),
            school_name: "IC Via Roma".into(),
            login_url: "https://varco.example/login".into(),
            help_url: "https://varco.example/help".into(),
        }
    }

    #[test]
    fn the_spid_cie_welcome_says_how_to_sign_in_and_has_no_link_or_password() {
        let renderer = renderer(&config());
        let payload = account_welcome_spid_cie();
        for (lang, subject, only) in [
            (
                "it",
                "Il tuo account Varco: accedi con SPID o CIE",
                "si accede solo con SPID o CIE",
            ),
            (
                "en",
                "Your Varco account: sign in with SPID or CIE",
                "it signs in only with SPID or CIE",
            ),
        ] {
            let message = renderer.render(&input(&payload, lang)).unwrap();
            assert!(message.subject.starts_with(subject), "{lang}: {}", message.subject);
            for body in [&message.text, &message.html] {
                assert!(body.contains(only), "{lang}: {body}");
                assert!(body.contains("ABCD23456"), "{lang}");
                assert!(body.contains("https://varco.example/login"), "{lang}");
                assert!(!body.contains("token="), "{lang}: no link");
                assert!(body.contains("aiuto@varco.example"), "{lang}: the footer");
            }
        }
    }

    #[test]
    fn the_spid_cie_answer_has_no_reset_link_and_says_since_when() {
        let renderer = renderer(&config());
        for (lang, since) in [("it", "dal 30/09/2026"), ("en", "since 30/09/2026")] {
            let dated = sign_in_with_spid_cie(Some("30/09/2026"));
            let message = renderer.render(&input(&dated, lang)).unwrap();
            for body in [&message.text, &message.html] {
                assert!(body.contains("SPID") && body.contains("CIE"), "{body}");
                assert!(body.contains(since), "{body}");
                assert!(body.contains("https://varco.example/login"), "{body}");
                assert!(!body.contains("token="), "{body}");
            }
            let undated = sign_in_with_spid_cie(None);
            let message = renderer.render(&input(&undated, lang)).unwrap();
            assert!(!message.text.contains(since), "{}", message.text);
        }
    }

    /// One message of every template.
    fn samples() -> Vec<OutboundMessage> {
        vec![
            password_changed(),
            expiry_reminder(7),
            test_message("Giulia"),
            password_reset(
                vec![
                    reset_link("Giulia", "ABCD23456", "one"),
                    reset_link("Luca", "EFGH23456", "two"),
                ],
                30,
            ),
            account_activation(7),
            email_change_confirm(24),
            email_changed_notice(7),
            email_change_requested_notice(24),
            sign_in_with_spid_cie(Some("30/09/2026")),
            account_welcome_spid_cie(),
            person_corrected(),
            OutboundMessage::EmailChangeRequestReceived {
                first_name: "Giulia".into(),
                request_number: "R-2026-7KQ2M9".into(),
                status_link: "https://varco.example/requests/email-change/status/tok".into(),
            },
            OutboundMessage::EmailChangeRequestSchoolNotice {
                first_name: "Giulia".into(),
                last_name: "Rossi".into(),
                request_number: "R-2026-7KQ2M9".into(),
                class_name: "3B".into(),
                building: "Plesso Garibaldi".into(),
                desk_link: "https://varco.example/desk/requests/7".into(),
            },
            OutboundMessage::EmailChangeRequestRejected {
                first_name: "Giulia".into(),
                request_number: "R-2026-7KQ2M9".into(),
                reason: "Il documento non è leggibile.".into(),
                form_link: "https://varco.example/requests/email-change".into(),
            },
            desk_recovery_notice(DeskNotice::Letter, Some("n***@example.it")),
            account_disable_notice(false),
            second_secret_issued("pin", true),
            OutboundMessage::SecondSecretNotice {
                first_name: "Giulia".into(),
                user_code: "ABCD23456".into(),
                kind: "pin".into(),
                event: "locked".into(),
                at: "23/11/2026 12:26".into(),
                account_url: "https://varco.example/account/second-secret".into(),
                help_url: "https://varco.example/help".into(),
            },
        ]
    }

    fn second_secret_issued(kind: &str, regenerated: bool) -> OutboundMessage {
        OutboundMessage::SecondSecretIssued {
            first_name: "Giulia".into(),
            user_code: "ABCD23456".into(),
            school_name: "IC Via Roma".into(),
            kind: kind.into(),
            code: "480213".into(),
            regenerated,
            account_url: "https://varco.example/account/second-secret".into(),
        }
    }

    #[test]
    fn a_new_pin_is_in_the_body_and_never_in_the_subject() {
        let renderer = renderer(&config());
        for lang in ["it", "en"] {
            for kind in ["pin", "personal_code"] {
                for regenerated in [false, true] {
                    let message = renderer
                        .render(&input(&second_secret_issued(kind, regenerated), lang))
                        .unwrap();
                    assert!(!message.subject.contains("480213"), "{}", message.subject);
                    for body in [&message.text, &message.html] {
                        assert!(body.contains("480213") && body.contains("ABCD23456"), "{body}");
                    }
                    let says_old_dies = ["non vale più", "no longer works"];
                    assert_eq!(
                        says_old_dies.iter().any(|s| message.text.contains(s)),
                        regenerated,
                        "{}",
                        message.text
                    );
                }
            }
        }
    }

    fn account_disable_notice(disabled_now: bool) -> OutboundMessage {
        OutboundMessage::AccountDisableNotice {
            first_name: "Giulia".into(),
            user_code: "ABCD23456".into(),
            school_name: "IC Via Roma".into(),
            on: "31/08/2027".into(),
            disabled_now,
            help_url: "https://varco.example/help".into(),
        }
    }

    #[test]
    fn a_year_end_notice_gives_the_date_and_whom_to_ask() {
        let renderer = renderer(&config());
        for (lang, later, now, office) in [
            ("it", "sarà disattivato dal", "è stato disattivato", "segreteria"),
            ("en", "will be disabled from", "has been disabled", "school office"),
        ] {
            let scheduled = renderer.render(&input(&account_disable_notice(false), lang)).unwrap();
            let disabled = renderer.render(&input(&account_disable_notice(true), lang)).unwrap();
            for body in [&scheduled.text, &scheduled.html] {
                assert!(body.contains(later) && body.contains("31/08/2027"), "{body}");
                assert!(body.contains("ABCD23456") && body.contains(office), "{body}");
                assert!(!body.contains(now), "{body}");
            }
            for body in [&disabled.text, &disabled.html] {
                assert!(body.contains(now), "{body}");
                assert!(!body.contains(later), "{body}");
            }
            assert_ne!(scheduled.subject, disabled.subject);
        }
    }

    fn desk_recovery_notice(channel: DeskNotice, new_email_masked: Option<&str>) -> OutboundMessage {
        OutboundMessage::DeskRecoveryNotice {
            first_name: "Giulia".into(),
            user_code: "ABCD23456".into(),
            school_name: "IC Via Roma".into(),
            channel,
            new_email_masked: new_email_masked.map(str::to_owned),
            at: "23/11/2026 12:26".into(),
            help_url: "https://varco.example/help".into(),
        }
    }

    #[test]
    fn a_desk_recovery_notice_says_what_was_done_and_no_secret() {
        let renderer = renderer(&config());
        for (lang, letter, link, unlinked, email) in [
            ("it", "lettera", "collegamento", "scollegata", "nuovo indirizzo"),
            ("en", "letter", "link", "unlinked", "new address"),
        ] {
            for (channel, says) in [
                (DeskNotice::Letter, letter),
                (DeskNotice::Link, link),
                (DeskNotice::Unlinked, unlinked),
            ] {
                let message = renderer
                    .render(&input(&desk_recovery_notice(channel, None), lang))
                    .unwrap();
                for body in [&message.text, &message.html] {
                    assert!(body.contains(says) && body.contains("ABCD23456"), "{body}");
                    assert!(!body.contains(email), "{body}");
                    assert!(!body.contains("token="), "{body}");
                }
            }
            let letter_text = renderer
                .render(&input(&desk_recovery_notice(DeskNotice::Letter, None), lang))
                .unwrap()
                .text;
            assert!(
                !letter_text.contains("\n\n\n") && !letter_text.contains(".La") && !letter_text.contains(".The"),
                "{letter_text}"
            );
            let moved = renderer
                .render(&input(
                    &desk_recovery_notice(DeskNotice::Link, Some("n***@example.it")),
                    lang,
                ))
                .unwrap();
            assert!(
                moved.text.contains(email) && moved.text.contains("n***@example.it"),
                "{}",
                moved.text
            );
        }
    }

    fn person_corrected() -> OutboundMessage {
        OutboundMessage::PersonCorrected {
            first_name: "Giulia".into(),
            last_name: "Rossi".into(),
            user_code: "ABCD23456".into(),
            school_name: "IC Via Roma".into(),
            tax_code_changed: true,
            tax_code_last4: "123X".into(),
            names_changed: false,
            corrected_at: "23/11/2026 12:26".into(),
            help_url: "https://varco.example/help".into(),
        }
    }

    #[test]
    fn a_correction_says_what_changed_and_no_more() {
        let renderer = renderer(&config());
        for (lang, tax_code, name) in [("it", "termina con", "il nome:"), ("en", "ends in", "the name:")] {
            let message = renderer.render(&input(&person_corrected(), lang)).unwrap();
            for body in [&message.text, &message.html] {
                assert!(body.contains(tax_code) && body.contains("123X"), "{body}");
                assert!(!body.contains(name), "{body}");
            }
        }
    }

    /// The sample of one template.
    fn sample(template: &str) -> OutboundMessage {
        samples()
            .into_iter()
            .find(|m| m.template() == template)
            .unwrap_or_else(|| panic!("no sample for {template}"))
    }

    fn input<'a>(message: &'a OutboundMessage, lang: &'a str) -> RenderInput<'a> {
        RenderInput {
            message_id: "1795433167.00ff@accesso.varco.example",
            recipient: "giulia.rossi@example.org",
            message,
            lang,
            school: Some(school()),
        }
    }

    fn header_section(message: &RenderedMessage) -> String {
        let raw = String::from_utf8(message.bytes.clone()).unwrap();
        raw.split("\r\n\r\n").next().unwrap().to_owned()
    }

    #[test]
    fn every_template_has_every_part_in_every_language() {
        for lang in LANGS {
            for template in TEMPLATES {
                for part in PARTS {
                    let path = format!("{lang}/{template}/{part}");
                    assert!(BUILT_IN.iter().any(|(name, _)| *name == path), "missing {path}");
                }
            }
            for footer in ["_footer.txt", "_footer.html"] {
                let path = format!("{lang}/{footer}");
                assert!(BUILT_IN.iter().any(|(name, _)| *name == path), "missing {path}");
            }
        }
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        for lang in LANGS {
            for entry in std::fs::read_dir(folder.join(lang)).unwrap() {
                let name = entry.unwrap().file_name().into_string().unwrap();
                assert!(
                    name.starts_with('_') || TEMPLATES.contains(&name.as_str()),
                    "templates/{lang}/{name} is not listed in TEMPLATES"
                );
            }
        }
    }

    #[test]
    fn every_template_renders_in_both_languages_with_the_footer() {
        let renderer = renderer(&config());
        for template in TEMPLATES {
            let payload = sample(template);
            let it = renderer.render(&input(&payload, "it")).unwrap();
            let en = renderer.render(&input(&payload, "en")).unwrap();
            for message in [&it, &en] {
                assert!(!message.subject.is_empty(), "{template}: empty subject");
                for body in [&message.text, &message.html] {
                    assert!(
                        body.contains("segreteria@glicini.example"),
                        "{template}: no school helpdesk"
                    );
                    assert!(body.contains("06 1234 5678"), "{template}: no school phone");
                    assert!(body.contains("aiuto@varco.example"), "{template}: no national helpdesk");
                    assert!(body.contains("IC Via dei Glicini"), "{template}: no school name");
                    assert!(body.contains("Giulia"), "{template}: no first name");
                    assert!(body.contains("Varco"), "{template}: not signed");
                }
                assert!(message.html.contains("lun–ven 10–13, lun–mer 15–17"));
                assert!(message.text.contains("\n-- \n"), "{template}: no signature separator");
                assert!(!message.text.contains("\n\n\n"), "{template}: loose blank lines");
            }
            assert_ne!(it.subject, en.subject, "{template}");
            assert_ne!(it.text, en.text, "{template}");
            assert_ne!(it.html, en.html, "{template}");
            assert_eq!(it.lang, "it");
            assert_eq!(en.lang, "en");
        }
    }

    #[test]
    fn unknown_languages_fall_back_to_italian() {
        let renderer = renderer(&config());
        let payload = sample("test_message");
        let message = renderer.render(&input(&payload, "de")).unwrap();
        assert_eq!(message.lang, "it");
        assert_eq!(message.subject, "Messaggio di prova per Giulia");
    }

    #[test]
    fn password_changed_says_when_where_and_what_to_do() {
        let renderer = renderer(&config());
        let payload = sample("password_changed");
        let message = renderer.render(&input(&payload, "it")).unwrap();
        assert!(message.text.contains("23/11/2026 12:26"));
        assert!(message.text.contains("203.0.113.7"));
        assert!(message.text.contains("G7K2M9Q4"));
        assert!(message.text.contains("Password dimenticata?"));
        assert!(message.text.contains("https://accesso.varco.example/password/forgot"));
        assert!(
            message
                .html
                .contains("href=\"https://accesso.varco.example/password/forgot\"")
        );
        assert!(message.text.contains("non invia mai password per email"));

        let mut without_ip = payload.clone();
        if let OutboundMessage::PasswordChanged { ip, .. } = &mut without_ip {
            *ip = None;
        }
        let message = renderer.render(&input(&without_ip, "en")).unwrap();
        assert!(
            message.text.contains("was changed on 23/11/2026 12:26 (Italian time)."),
            "{}",
            message.text
        );
        assert!(!message.text.contains("IP address"));
        assert!(!message.text.contains("none"));
    }

    #[test]
    fn forgot_link_prefers_the_payload_then_the_change_link_host() {
        let renderer = renderer(&config());
        let mut payload = password_changed();
        if let OutboundMessage::PasswordChanged { change_url, .. } = &mut payload {
            *change_url = "https://altro.example:8443/base/password/change".into();
        }
        let message = renderer.render(&input(&payload, "it")).unwrap();
        assert!(message.text.contains("https://altro.example:8443/password/forgot"));

        if let OutboundMessage::PasswordChanged { forgot_url, .. } = &mut payload {
            *forgot_url = Some("https://altro.example:8443/base/password/forgot".into());
        }
        let message = renderer.render(&input(&payload, "it")).unwrap();
        assert!(message.text.contains("https://altro.example:8443/base/password/forgot"));
    }

    #[test]
    fn expiry_reminder_counts_days_in_both_languages() {
        let renderer = renderer(&config());
        let subject = |payload: &OutboundMessage, lang: &str| renderer.render(&input(payload, lang)).unwrap().subject;
        assert_eq!(
            subject(&expiry_reminder(7), "it"),
            "La tua password Varco scade tra 7 giorni — IC Via dei Glicini"
        );
        assert_eq!(
            subject(&expiry_reminder(7), "en"),
            "Your Varco password expires in 7 days — IC Via dei Glicini"
        );
        assert_eq!(
            subject(&expiry_reminder(1), "it"),
            "La tua password Varco scade tra 1 giorno — IC Via dei Glicini"
        );
        assert_eq!(
            subject(&expiry_reminder(1), "en"),
            "Your Varco password expires in 1 day — IC Via dei Glicini"
        );
        let payload = expiry_reminder(0);
        assert_eq!(
            subject(&payload, "it"),
            "La tua password Varco scade oggi — IC Via dei Glicini"
        );
        let message = renderer.render(&input(&payload, "it")).unwrap();
        assert!(message.text.contains("https://accesso.varco.example/password/change"));
        assert!(message.text.contains("non ti chiederà mai la password per email"));
    }

    /// Renders `template` in `lang` and checks that every link is in the
    /// text part as given and in the HTML part as a clickable `href`.
    fn assert_links_in_text_and_html(template: &str, links: &[&str]) {
        let renderer = renderer(&config());
        let payload = sample(template);
        for lang in LANGS {
            let message = renderer.render(&input(&payload, lang)).unwrap();
            for link in links {
                assert!(
                    message.text.contains(link) && message.html.contains(&format!("href=\"{link}\"")),
                    "{template} ({lang}): {link} missing from the text or the HTML part"
                );
            }
        }
    }

    #[test]
    fn password_reset_links_are_in_text_and_html() {
        assert_links_in_text_and_html(
            "password_reset",
            &[
                "https://varco.example/password/reset?token=one",
                "https://varco.example/password/reset?token=two",
                "https://varco.example/help",
            ],
        );
    }

    #[test]
    fn account_activation_link_is_in_text_and_html() {
        assert_links_in_text_and_html(
            "account_activation",
            &["https://varco.example/password/reset?token=act"],
        );
    }

    #[test]
    fn email_change_confirm_link_is_in_text_and_html() {
        assert_links_in_text_and_html(
            "email_change_confirm",
            &["https://varco.example/account/email/confirm?token=conf"],
        );
    }

    #[test]
    fn email_changed_notice_links_are_in_text_and_html() {
        assert_links_in_text_and_html(
            "email_changed_notice",
            &[
                "https://varco.example/account/email/undo?token=undo",
                "https://varco.example/help",
            ],
        );
    }

    #[test]
    fn subjects_name_the_school_when_there_is_one() {
        let renderer = renderer(&config());
        let payload = sample("password_reset");
        let message = renderer.render(&input(&payload, "it")).unwrap();
        assert_eq!(message.subject, "Reimposta la password di Varco — IC Via dei Glicini");
        let mut unnamed = input(&payload, "en");
        unnamed.school = None;
        assert_eq!(renderer.render(&unnamed).unwrap().subject, "Reset your Varco password");
        unnamed.school = Some(SchoolFooter {
            name: String::new(),
            ..school()
        });
        assert_eq!(renderer.render(&unnamed).unwrap().subject, "Reset your Varco password");
        for template in TEMPLATES.iter().filter(|t| **t != "test_message") {
            let payload = sample(template);
            for lang in LANGS {
                let subject = renderer.render(&input(&payload, lang)).unwrap().subject;
                assert!(
                    subject.ends_with(" — IC Via dei Glicini"),
                    "{template} ({lang}): {subject}"
                );
            }
        }
    }

    #[test]
    fn email_change_requested_notice_links_are_in_text_and_html() {
        assert_links_in_text_and_html(
            "email_change_requested_notice",
            &["https://varco.example/password/forgot", "https://varco.example/help"],
        );
    }

    #[test]
    fn email_change_requested_notice_says_what_when_where_and_changes_nothing() {
        let renderer = renderer(&config());
        let notice = sample("email_change_requested_notice");
        for lang in LANGS {
            let message = renderer.render(&input(&notice, lang)).unwrap();
            for body in [&message.text, &message.html] {
                for shown in ["m•••o@example.it", "23/11/2026 12:26", "203.0.113.7", "ABCD23456"] {
                    assert!(body.contains(shown), "{lang}: no {shown}");
                }
                assert!(!body.contains("token="), "{lang}: a link with a secret");
                assert!(
                    !body.contains("/account/email"),
                    "{lang}: a link that changes the account"
                );
            }
        }
        let it = renderer.render(&input(&notice, "it")).unwrap();
        assert_eq!(
            it.subject,
            "Richiesta di cambiare l'indirizzo email del tuo account Varco — IC Via dei Glicini"
        );
        assert!(it.text.contains("Per ora non è cambiato nulla"));
        assert!(it.text.contains("entro 24 ore"));
        assert!(it.text.contains("Se invece non l'hai fatta tu"));

        let mut without_ip = email_change_requested_notice(1);
        if let OutboundMessage::EmailChangeRequestedNotice { ip, .. } = &mut without_ip {
            *ip = None;
        }
        let en = renderer.render(&input(&without_ip, "en")).unwrap();
        assert!(
            en.text.contains("on 23/11/2026 12:26 (Italian time) someone asked"),
            "{}",
            en.text
        );
        assert!(en.text.contains("within 1 hour."));
        assert!(!en.text.contains("IP address"));
    }

    #[test]
    fn password_reset_lists_every_account_and_speaks_to_one_by_name() {
        let renderer = renderer(&config());
        let payload = sample("password_reset");
        let message = renderer.render(&input(&payload, "it")).unwrap();
        for code in ["ABCD23456", "EFGH23456"] {
            assert!(message.text.contains(code) && message.html.contains(code), "{code}");
        }
        assert!(message.text.starts_with("Ciao,\n"), "{}", message.text);
        assert!(
            message
                .text
                .contains("Ogni collegamento si può usare una sola volta ed è valido per 30 minuti.")
        );
        assert!(message.text.contains("le password restano quelle di prima"));
        assert!(message.text.contains("Varco non invia mai password per email"));

        let payload = password_reset(vec![reset_link("Giulia", "ABCD23456", "one")], 1);
        let it = renderer.render(&input(&payload, "it")).unwrap();
        assert!(it.text.starts_with("Ciao Giulia,\n"), "{}", it.text);
        assert!(it.text.contains("dell'account Varco registrato con questo indirizzo"));
        assert!(
            it.text
                .contains("Il collegamento si può usare una sola volta ed è valido per 1 minuto.")
        );
        assert!(it.text.contains("la password resta quella di prima"));
        assert!(!it.text.contains("EFGH23456"));
        let en = renderer.render(&input(&payload, "en")).unwrap();
        assert!(
            en.text
                .contains("The link can be used only once and is valid for 1 minute.")
        );
        assert!(en.html.contains("valid for <strong>1 minute</strong>"));
    }

    #[test]
    fn link_lifetimes_are_singular_or_plural() {
        let renderer = renderer(&config());
        let cases = [
            (
                "account_activation",
                account_activation(1),
                "7 giorni",
                "1 giorno",
                "7 days",
                "1 day",
            ),
            (
                "email_change_confirm",
                email_change_confirm(1),
                "24 ore",
                "1 ora",
                "24 hours",
                "1 hour",
            ),
            (
                "email_changed_notice",
                email_changed_notice(1),
                "7 giorni",
                "1 giorno",
                "7 days",
                "1 day",
            ),
        ];
        for (template, lasting_one, it_many, it_one, en_many, en_one) in cases {
            let payload = sample(template);
            let text = |payload: &OutboundMessage, lang: &str| {
                let message = renderer.render(&input(payload, lang)).unwrap();
                format!("{}\n{}", message.text, message.html)
            };
            assert!(
                text(&payload, "it").contains(&format!("valido per {it_many}")),
                "{template}"
            );
            assert!(
                text(&payload, "en").contains(&format!("valid for {en_many}")),
                "{template}"
            );
            let (it, en) = (text(&lasting_one, "it"), text(&lasting_one, "en"));
            assert!(it.contains(&format!("valido per {it_one}")), "{template}: {it}");
            assert!(!it.contains(it_many), "{template}");
            assert!(en.contains(&format!("valid for {en_one}")), "{template}: {en}");
            assert!(!en.contains(&format!("{en_one}s")), "{template}");
        }
    }

    #[test]
    fn account_and_email_messages_say_who_and_what() {
        let renderer = renderer(&config());
        let activation = sample("account_activation");
        let message = renderer.render(&input(&activation, "it")).unwrap();
        assert!(message.text.contains("Il tuo codice utente è: ABCD23456"));
        assert!(message.text.contains("IC Via Roma ha creato per te un account Varco"));

        let confirm = sample("email_change_confirm");
        let message = renderer.render(&input(&confirm, "en")).unwrap();
        assert!(message.text.contains("used for this account only after you confirm it"));
        assert!(
            message
                .text
                .contains("If you did not ask for this change, ignore this message")
        );

        let notice = sample("email_changed_notice");
        for lang in LANGS {
            let message = renderer.render(&input(&notice, lang)).unwrap();
            for body in [&message.text, &message.html] {
                assert!(body.contains("m•••o@example.it"), "{lang}");
                assert!(body.contains("23/11/2026 12:26"), "{lang}");
                assert!(body.contains("ABCD23456"), "{lang}");
            }
        }
    }

    #[test]
    fn a_school_without_helpdesk_and_a_message_without_school_still_get_a_footer() {
        let renderer = renderer(&config());
        let payload = sample("test_message");
        let mut bare = input(&payload, "it");
        bare.school = Some(SchoolFooter {
            code: "RMIC81500X".to_owned(),
            name: "IC Via dei Glicini".to_owned(),
            ..SchoolFooter::default()
        });
        let message = renderer.render(&bare).unwrap();
        assert!(message.text.contains("rivolgiti alla segreteria della scuola"));
        assert!(message.text.contains("aiuto@varco.example"));
        bare.school = None;
        let message = renderer.render(&bare).unwrap();
        assert!(message.text.contains("aiuto@varco.example"));
        assert!(message.html.contains("aiuto@varco.example"));
    }

    #[test]
    fn html_values_are_escaped_and_text_values_stay_on_their_line() {
        let renderer = renderer(&config());
        let payload = test_message("<script>alert(1)</script>\r\n\r\n--boundary\u{202e}");
        let message = renderer.render(&input(&payload, "en")).unwrap();
        assert!(!message.html.contains("<script>"));
        assert!(
            message.html.contains("Hello &lt;script&gt;alert(1)&lt;/script&gt;"),
            "{}",
            message.html
        );
        let greeting = message.text.lines().next().unwrap();
        assert!(greeting.starts_with("Hello <script>alert(1)</script>"), "{greeting}");
        assert!(
            greeting.contains("--boundary"),
            "the value stays on the greeting line: {greeting}"
        );
        assert!(!message.text.contains('\u{202e}'));

        let quoted = test_message("x\" onclick=\"alert(1)'");
        let message = renderer.render(&input(&quoted, "en")).unwrap();
        assert!(message.html.contains("x&quot; onclick=&quot;alert(1)&#39;"));
    }

    #[test]
    fn header_injection_through_a_name_adds_no_header_and_keeps_the_recipient() {
        let renderer = renderer(&config());
        let payload = test_message("Eve\r\nBcc: x@evil.example");
        let message = renderer.render(&input(&payload, "it")).unwrap();
        assert_eq!(message.subject, "Messaggio di prova per Eve Bcc: x@evil.example");
        let headers = header_section(&message);
        for line in headers.split("\r\n") {
            assert!(!line.to_ascii_lowercase().starts_with("bcc:"), "extra header: {line}");
            assert!(!line.to_ascii_lowercase().starts_with("cc:"), "extra header: {line}");
        }
        let to: Vec<&str> = headers.split("\r\n").filter(|l| l.starts_with("To:")).collect();
        assert_eq!(to, ["To: giulia.rossi@example.org"]);
        assert_eq!(message.to, "giulia.rossi@example.org");
    }

    #[test]
    fn a_recipient_with_extra_lines_is_refused() {
        let renderer = renderer(&config());
        let payload = sample("test_message");
        for bad in [
            "a@example.org\r\nBcc: x@evil.example",
            "a@example.org, x@evil.example",
            "Eve <x@evil.example>",
        ] {
            let mut forged = input(&payload, "it");
            forged.recipient = bad;
            assert!(
                matches!(renderer.render(&forged), Err(MailError::Render(_))),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn the_message_has_the_expected_headers_and_parts() {
        let renderer = renderer(&config());
        let payload = sample("password_changed");
        let message = renderer.render(&input(&payload, "it")).unwrap();
        let headers = header_section(&message);
        assert!(
            headers.contains("Message-ID: <1795433167.00ff@accesso.varco.example>"),
            "{headers}"
        );
        assert!(headers.contains("From: Varco <no-reply@varco.example>"), "{headers}");
        assert!(headers.contains("Date: Mon, 23 Nov 2026 11:26:07 +0000"), "{headers}");
        assert!(headers.contains("Content-Language: it"), "{headers}");
        assert!(headers.contains("Auto-Submitted: auto-generated"), "{headers}");
        assert!(headers.contains("MIME-Version: 1.0"), "{headers}");
        assert!(headers.contains("Content-Type: multipart/alternative"), "{headers}");
        // Non-ASCII words of the subject are RFC 2047 encoded words.
        assert!(headers.contains("Subject: La password del tuo account Varco =?utf-8?b?w6g=?= stata cambiata"));
        let raw = String::from_utf8(message.bytes.clone()).unwrap();
        assert!(raw.contains("Content-Type: text/plain; charset=utf-8"));
        assert!(raw.contains("Content-Type: text/html; charset=utf-8"));
    }

    #[test]
    fn every_template_has_a_sample_that_survives_the_outbox() {
        let names: Vec<&str> = samples().iter().map(OutboundMessage::template).collect();
        assert_eq!(names, TEMPLATES);
        for message in samples() {
            let tagged = serde_json::to_value(&message).unwrap();
            assert_eq!(tagged["template"], message.template(), "the template is the serde tag");
            let (template, payload) = message.to_outbox();
            assert_eq!(OutboundMessage::from_outbox(template, &payload).unwrap(), message);
        }
    }

    #[test]
    fn a_school_override_replaces_a_part_and_a_broken_one_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config();
        config.template_override_dir = Some(dir.path().to_owned());
        let renderer = renderer(&config);
        let payload = sample("test_message");

        let folder = dir.path().join("RMIC81500X/it/test_message");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("subject.txt"), "Prova dalla scuola per {{ first_name }}").unwrap();
        std::fs::write(
            folder.join("body.html"),
            "<p>{{ first_name }} & co {{ no_such_value }}</p>",
        )
        .unwrap();
        let message = renderer.render(&input(&payload, "it")).unwrap();
        assert_eq!(message.subject, "Prova dalla scuola per Giulia");
        assert!(
            message.html.contains("questo è un messaggio di prova"),
            "broken override falls back"
        );
        assert!(
            message.text.contains("aiuto@varco.example"),
            "the footer is still there"
        );

        // Other schools and languages keep the built-in files.
        let english = renderer.render(&input(&payload, "en")).unwrap();
        assert_eq!(english.subject, "Test message for Giulia");
        let mut other = input(&payload, "it");
        other.school = Some(SchoolFooter {
            code: "../RMIC81500X".to_owned(),
            ..school()
        });
        assert_eq!(
            renderer.render(&other).unwrap().subject,
            "Messaggio di prova per Giulia"
        );

        std::fs::write(folder.join("subject.txt"), "{% if %}").unwrap();
        let message = renderer.render(&input(&payload, "it")).unwrap();
        assert_eq!(message.subject, "Messaggio di prova per Giulia");

        std::fs::write(
            dir.path().join("RMIC81500X/it/_footer.txt"),
            "Solo la scuola: {{ school.name }}",
        )
        .unwrap();
        let message = renderer.render(&input(&payload, "it")).unwrap();
        assert!(
            message.text.ends_with("-- \nSolo la scuola: IC Via dei Glicini\n"),
            "{}",
            message.text
        );
    }

    #[test]
    fn no_template_mentions_a_password_value() {
        for (name, source) in BUILT_IN {
            assert!(!source.contains("{{ password"), "{name} prints a password");
            assert!(!source.contains("{{ token"), "{name} prints a token");
            assert!(!source.contains("{{ pin"), "{name} prints a PIN");
        }
    }
}
