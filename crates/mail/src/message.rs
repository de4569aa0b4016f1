//! Building the RFC 5322 bytes of a rendered message with lettre's builder.
//!
//! Invariant: the only addresses in a message are the configured sender and
//! the one recipient, both parsed strictly (a single bare address, no display
//! name, no list); every header value is a single line, so nothing a template
//! or a payload contains can add a header or a recipient. The `Date` comes
//! from the injected clock, never from the system clock.

use std::str::FromStr;
use std::time::{Duration, SystemTime};

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};
use varco_domain::clock::Timestamp;

use crate::MailError;

/// The configured `From` mailbox, e.g. `Varco <no-reply@varco.invalid>`.
#[derive(Debug, Clone)]
pub(crate) struct Sender {
    mailbox: Mailbox,
}

impl Sender {
    pub(crate) fn new(from: &str) -> Result<Sender, MailError> {
        let mailbox = Mailbox::from_str(from.trim())
            .map_err(|e| MailError::Config(format!("the From address {from:?} is not valid: {e}")))?;
        Ok(Sender { mailbox })
    }

    /// The address used as envelope sender (`MAIL FROM`).
    pub(crate) fn address(&self) -> &Address {
        &self.mailbox.email
    }
}

/// What goes into one message.
pub(crate) struct Parts<'a> {
    pub sender: &'a Sender,
    pub message_id: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    pub lang: &'a str,
    pub date: Timestamp,
}

/// The recipient as a bare address; anything else (a display name, a list,
/// a line break) is refused rather than interpreted.
pub(crate) fn recipient(to: &str) -> Result<Address, MailError> {
    Address::from_str(to).map_err(|e| MailError::Render(format!("the recipient is not a single valid address: {e}")))
}

pub(crate) fn compose(parts: &Parts<'_>) -> Result<Vec<u8>, MailError> {
    check_message_id(parts.message_id)?;
    let to = recipient(parts.to)?;
    let date = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(parts.date.0).unwrap_or(0));
    let message = Message::builder()
        .from(parts.sender.mailbox.clone())
        .to(Mailbox::new(None, to))
        .subject(parts.subject)
        .message_id(Some(format!("<{}>", parts.message_id)))
        .date(date)
        .header(ContentLanguage(parts.lang.to_owned()))
        .header(AutoSubmitted)
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(parts.text.to_owned()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(parts.html.to_owned()),
                ),
        )
        .map_err(|e| MailError::Render(format!("cannot build the message: {e}")))?;
    Ok(message.formatted())
}

/// A Message-ID fit for `<…>`: printable ASCII, no spaces or angle brackets.
fn check_message_id(id: &str) -> Result<(), MailError> {
    let fits = !id.is_empty() && id.len() <= 250 && id.bytes().all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>');
    if fits {
        Ok(())
    } else {
        Err(MailError::Render(format!("the Message-ID {id:?} is not valid")))
    }
}

/// `Content-Language: it` (RFC 3282), so clients and screen readers pick the language.
#[derive(Debug, Clone)]
struct ContentLanguage(String);

impl Header for ContentLanguage {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Content-Language")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ContentLanguage(s.trim().to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `Auto-Submitted: auto-generated` (RFC 3834): out-of-office replies stay quiet.
#[derive(Debug, Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts<'a>(sender: &'a Sender, message_id: &'a str, to: &'a str) -> Parts<'a> {
        Parts {
            sender,
            message_id,
            to,
            subject: "Città più sicura",
            text: "Ciao,\nè tutto a posto.\n",
            html: "<p>Ciao</p>",
            lang: "it",
            date: Timestamp(0),
        }
    }

    #[test]
    fn the_sender_must_be_a_valid_mailbox() {
        assert!(Sender::new("Varco <no-reply@varco.invalid>").is_ok());
        assert!(Sender::new("no-reply@varco.invalid").is_ok());
        assert!(matches!(Sender::new("not an address"), Err(MailError::Config(_))));
    }

    #[test]
    fn a_message_has_one_recipient_and_the_given_id() {
        let sender = Sender::new("Varco <no-reply@varco.invalid>").unwrap();
        let bytes = compose(&parts(&sender, "1.ab@varco.invalid", "a@example.org")).unwrap();
        let raw = String::from_utf8(bytes).unwrap();
        assert!(raw.contains("\r\nTo: a@example.org\r\n"), "{raw}");
        assert!(raw.contains("Message-ID: <1.ab@varco.invalid>"), "{raw}");
        assert!(raw.contains("Date: Thu, 01 Jan 1970 00:00:00 +0000"), "{raw}");
        assert!(raw.contains("Subject: =?utf-8?"), "{raw}");
    }

    #[test]
    fn malformed_ids_and_recipients_are_refused() {
        let sender = Sender::new("no-reply@varco.invalid").unwrap();
        for id in ["", "a b@c", "a>\r\nBcc: x@y", "<a@b>"] {
            assert!(compose(&parts(&sender, id, "a@example.org")).is_err(), "{id:?}");
        }
        for to in [
            "",
            "a@example.org\nBcc: x@y",
            "a@example.org,b@example.org",
            "A <a@example.org>",
        ] {
            assert!(compose(&parts(&sender, "1@x", to)).is_err(), "{to:?}");
        }
    }
}
