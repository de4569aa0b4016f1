//! Where rendered messages go: an SMTP relay, or `.eml` files in a directory
//! (the embedded default, for development and for deployments that hand
//! mail to another system).
//!
//! Invariants: a delivery either succeeds or fails with a [`SendError`] that
//! says whether trying again can help; delivering the same Message-ID twice
//! never makes two `.eml` files; the SMTP password never appears in an error,
//! a log line or `Debug` output.

mod eml;
mod smtp;

use std::path::PathBuf;

use thiserror::Error;

pub use smtp::{SmtpRelay, SmtpSecurity, SmtpSettings};

/// A hash that is the same on every run and platform (retry jitter, file names).
pub(crate) use eml::fnv1a as stable_hash;

use crate::message::Sender;
use crate::{MailConfig, MailError, RenderedMessage};

/// A delivery that did not happen.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SendError {
    /// Worth retrying later: connection refused, timeout, SMTP 4xx, a full disk.
    #[error("temporary delivery failure: {0}")]
    Transient(String),
    /// Retrying cannot help: the server refused the message or the recipient (SMTP 5xx).
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
}

impl SendError {
    pub fn is_transient(&self) -> bool {
        matches!(self, SendError::Transient(_))
    }

    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Permanent(_))
    }
}

/// Delivers rendered messages. Cheap to share; sends may run concurrently.
#[derive(Debug)]
pub enum Transport {
    /// Writes each message to `<dir>/<sanitised Message-ID>.eml`.
    EmlFiles { dir: PathBuf },
    /// Hands messages to an SMTP relay over a pool of reused connections.
    Smtp(Box<SmtpRelay>),
}

impl Transport {
    /// `smtp_url` set: SMTP (the URL is checked now; connections open at the
    /// first send, inside the runtime). Unset: `.eml` files in `eml_dir`,
    /// which is created when missing.
    pub fn from_config(config: &MailConfig) -> Result<Transport, MailError> {
        match config.smtp_url.as_deref().map(str::trim).filter(|url| !url.is_empty()) {
            Some(url) => {
                let settings = SmtpSettings::parse(url)?;
                let sender = Sender::new(&config.from)?;
                Ok(Transport::Smtp(Box::new(SmtpRelay::new(
                    settings,
                    sender,
                    &config.public_url,
                ))))
            }
            None => {
                eml::create_private_dir(&config.eml_dir).map_err(|e| {
                    MailError::Config(format!(
                        "cannot create the mail directory {}: {e}",
                        config.eml_dir.display()
                    ))
                })?;
                Ok(Transport::EmlFiles {
                    dir: config.eml_dir.clone(),
                })
            }
        }
    }

    pub async fn send(&self, message: &RenderedMessage) -> Result<(), SendError> {
        match self {
            Transport::EmlFiles { dir } => eml::write(dir, message).await.map(drop),
            Transport::Smtp(relay) => relay.send(message).await,
        }
    }

    /// For the startup log: where mail goes, password redacted.
    pub fn describe(&self) -> String {
        match self {
            Transport::EmlFiles { dir } => format!(".eml files in {}", dir.display()),
            Transport::Smtp(relay) => relay.settings().to_string(),
        }
    }

    /// Says goodbye (`QUIT`) on pooled SMTP connections; call at shutdown.
    pub async fn shutdown(&self) {
        if let Transport::Smtp(relay) = self {
            relay.shutdown().await;
        }
    }

    /// `text` with the SMTP password (plain and percent-encoded) replaced by
    /// `***`; applied to every error before it is logged or stored.
    pub fn redact(&self, text: &str) -> String {
        match self {
            Transport::EmlFiles { .. } => text.to_owned(),
            Transport::Smtp(relay) => relay.settings().redact(text),
        }
    }
}

/// `url` with the password of its userinfo (if any) replaced by `***`.
///
/// Works on the raw text, so it also redacts URLs too broken to parse.
/// A URL with the password of its user info replaced by `***`, for messages
/// and logs.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(at) => url.split_at(at + 3),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let (userinfo, host) = authority.split_at(at);
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}{user}:***{host}{tail}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(redact_url("smtps://u:p%40ss@h:465"), "smtps://u:***@h:465");
        assert_eq!(
            redact_url("smtp://u:p@ss@h:25/?tls=starttls"),
            "smtp://u:***@h:25/?tls=starttls"
        );
        assert_eq!(redact_url("smtp://h:25"), "smtp://h:25");
        assert_eq!(redact_url("smtp://user@h:25"), "smtp://user@h:25");
        assert_eq!(redact_url("u:secret@h"), "u:***@h");
        assert_eq!(redact_url("smtp://u:secret@[::1"), "smtp://u:***@[::1");
    }

    #[test]
    fn an_unset_or_blank_url_means_eml_files_in_a_created_directory() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a/b/outbox");
        for url in [None, Some("  ".to_owned())] {
            let config = MailConfig {
                smtp_url: url,
                eml_dir: target.clone(),
                ..MailConfig::default()
            };
            let transport = Transport::from_config(&config).unwrap();
            assert!(matches!(&transport, Transport::EmlFiles { dir } if *dir == target));
            assert!(target.is_dir());
        }
    }

    #[test]
    fn an_smtp_url_needs_no_runtime_to_be_checked() {
        let config = MailConfig {
            smtp_url: Some("smtps://mailer:s3cret@smtp.example.org".to_owned()),
            ..MailConfig::default()
        };
        let transport = Transport::from_config(&config).unwrap();
        assert_eq!(
            transport.describe(),
            "smtps://mailer:***@smtp.example.org:465 (implicit TLS)"
        );
        assert_eq!(transport.redact("AUTH failed for s3cret"), "AUTH failed for ***");

        let bad = MailConfig {
            smtp_url: Some("smtp://mailer:s3cret@smtp.example.org?tls=maybe".to_owned()),
            ..MailConfig::default()
        };
        let error = Transport::from_config(&bad).unwrap_err().to_string();
        assert!(!error.contains("s3cret"), "{error}");
        assert!(error.contains("tls"), "{error}");
    }
}
