//! Email for Varco: the delivery half of the transactional outbox.
//!
//! The app writes a message (template name, language, JSON payload) into the
//! outbox table in the same transaction as the change that causes it. This
//! crate turns such rows into mail: [`Renderer`] fills the built-in (or a
//! school's own) templates in Italian or English, [`Transport`] hands the
//! RFC 5322 bytes to an SMTP relay or writes them as `.eml` files, and
//! [`OutboxWorker`] claims due rows, delivers them and records the outcome
//! with retries and backoff.
//!
//! Invariants: a message is never lost (a crash or a temporary failure at
//! worst delivers it again, with the same `Message-ID`); no password or other
//! secret appears in a template, a log line or a stored error (the SMTP URL's
//! password is redacted everywhere it could surface); every message carries
//! the footer with the school's and the national helpdesk.

mod error;
mod escaping;
mod message;
mod templates;
mod transport;
mod worker;

use std::fmt;
use std::path::PathBuf;

pub use error::MailError;
pub use templates::{RenderInput, RenderedMessage, Renderer, SchoolFooter, TEMPLATES};
pub use transport::{SendError, SmtpRelay, SmtpSecurity, SmtpSettings, Transport, redact_url};
pub use worker::{DeliveryReport, OutboxWorker, WorkerSettings};

/// A helpdesk's contacts (one type shared by pages, mail and configuration).
pub use varco_domain::helpdesk::Helpdesk;

/// Everything the mail side needs, loaded once with the rest of the configuration.
///
/// `Debug` redacts the password of `smtp_url`, so the struct can be logged.
#[derive(Clone)]
pub struct MailConfig {
    /// The `From` header, e.g. `Varco <no-reply@varco.invalid>`; its address
    /// is also the envelope sender.
    pub from: String,
    /// `smtp://host:port`, `smtp://host:port?tls=starttls` or
    /// `smtps://user:pass@host:port`; unset means `.eml` files in `eml_dir`.
    pub smtp_url: Option<String>,
    /// Where the `.eml` transport writes (created when missing).
    pub eml_dir: PathBuf,
    /// Per-school templates: `<dir>/<SCHOOL_CODE>/<lang>/<name>/<file>`.
    pub template_override_dir: Option<PathBuf>,
    /// Shown in every footer, below the school's own helpdesk.
    pub national_helpdesk: Helpdesk,
    /// The public address of Varco (links, and the name Varco greets SMTP servers with).
    pub public_url: String,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            from: "Varco <no-reply@varco.invalid>".to_owned(),
            smtp_url: None,
            eml_dir: PathBuf::from("mail"),
            template_override_dir: None,
            national_helpdesk: Helpdesk::default(),
            public_url: "http://localhost:8080".to_owned(),
        }
    }
}

impl fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailConfig")
            .field("from", &self.from)
            .field("smtp_url", &self.smtp_url.as_deref().map(transport::redact_url))
            .field("eml_dir", &self.eml_dir)
            .field("template_override_dir", &self.template_override_dir)
            .field("national_helpdesk", &self.national_helpdesk)
            .field("public_url", &self.public_url)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_smtp_password() {
        let config = MailConfig {
            smtp_url: Some("smtps://mailer:s3cr%40t@smtp.example.org:465".to_owned()),
            ..MailConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cr"), "{shown}");
        assert!(shown.contains("smtp.example.org"), "{shown}");
    }

    #[test]
    fn helpdesk_fields_are_optional_in_configuration() {
        let desk: Helpdesk = serde_json::from_str(r#"{"email":"aiuto@example.org"}"#).unwrap();
        assert_eq!(desk.email.as_deref(), Some("aiuto@example.org"));
        assert_eq!(desk.phone, None);
    }
}
