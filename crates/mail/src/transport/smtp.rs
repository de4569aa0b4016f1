//! SMTP delivery through lettre: the URL that configures it and the relay
//! that keeps a pool of connections to it.
//!
//! URL forms: `smtp://host[:port]` (plain, port 25; for a relay on loopback),
//! `smtp://host[:port]?tls=starttls` (STARTTLS required, port 587) and
//! `smtps://host[:port]` (implicit TLS, port 465); `user:password@` in any of
//! them logs in, both percent-decoded. TLS certificates are checked against
//! the system's trust store (OpenSSL).
//!
//! Invariants: the password lives only in [`SmtpSettings`] and lettre's
//! credentials; `Display`, `Debug`, configuration errors and delivery errors
//! show `***` in its place. A 5xx reply is permanent except the replies to
//! `AUTH` (530, 534, 535, 538), which say our configuration is wrong rather
//! than the message, so they are retried until an operator fixes it.

use std::fmt;
use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use percent_encoding::percent_decode_str;

use super::{SendError, redact_url};
use crate::message::{self, Sender};
use crate::{MailError, RenderedMessage};

/// How long one SMTP command may take before the attempt counts as failed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// The worker sends one message at a time; a few spare connections cover other callers.
const POOL_SIZE: u32 = 4;
/// An idle pooled connection is closed after this long.
const POOL_IDLE: Duration = Duration::from_secs(60);

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// No TLS at all: only for a relay on the same machine or network.
    None,
    /// Plain connection upgraded with STARTTLS; refused if the server cannot.
    StartTls,
    /// TLS from the first byte (`smtps`).
    Implicit,
}

/// A parsed SMTP URL.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    password: Option<String>,
}

impl SmtpSettings {
    /// Reads an `smtp://` or `smtps://` URL; errors show the URL redacted.
    pub fn parse(raw: &str) -> Result<SmtpSettings, MailError> {
        let shown = redact_url(raw);
        let bad = |why: &str| MailError::Config(format!("the SMTP URL {shown} is not valid: {why}"));
        let url = url::Url::parse(raw).map_err(|e| bad(&e.to_string()))?;
        let mut security = match url.scheme() {
            "smtp" => SmtpSecurity::None,
            "smtps" => SmtpSecurity::Implicit,
            other => return Err(bad(&format!("the scheme must be smtp or smtps, not {other}"))),
        };
        for (key, value) in url.query_pairs() {
            security = match (key.as_ref(), value.as_ref(), security) {
                ("tls", "starttls", SmtpSecurity::None | SmtpSecurity::StartTls) => SmtpSecurity::StartTls,
                ("tls", "none", SmtpSecurity::None) => SmtpSecurity::None,
                ("tls", "implicit", SmtpSecurity::Implicit) => SmtpSecurity::Implicit,
                ("tls", _, _) => {
                    return Err(bad(
                        "tls must be starttls or none with smtp://, and implicit (or absent) with smtps://",
                    ));
                }
                (other, _, _) => return Err(bad(&format!("unknown option {other:?} (only tls is known)"))),
            };
        }
        if !matches!(url.path(), "" | "/") || url.fragment().is_some() {
            return Err(bad("it must not have a path or a fragment"));
        }
        let host = match url.host() {
            Some(url::Host::Domain(domain)) if !domain.is_empty() => domain.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(bad("it has no host")),
        };
        let port = url.port().unwrap_or(match security {
            SmtpSecurity::None => 25,
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Implicit => 465,
        });
        let decode = |part: &str, what: &str| {
            percent_decode_str(part)
                .decode_utf8()
                .map(|text| text.into_owned())
                .map_err(|_| bad(&format!("the {what} is not UTF-8 once percent-decoded")))
        };
        let username = match url.username() {
            "" => None,
            user => Some(decode(user, "user name")?),
        };
        let password = url.password().map(|p| decode(p, "password")).transpose()?;
        if password.is_some() && username.is_none() {
            return Err(bad("a password needs a user name"));
        }
        if username.is_some() && security == SmtpSecurity::None && !is_loopback(&host) {
            return Err(bad(
                "credentials would travel in clear text to a host that is not on this machine: \
                 use smtps:// or ?tls=starttls (or a relay on loopback)",
            ));
        }
        Ok(SmtpSettings {
            host,
            port,
            security,
            username,
            password,
        })
    }

    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// `text` with the password (as configured and as it may be echoed in
    /// encoded forms) replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        match self.password.as_deref().filter(|p| !p.is_empty()) {
            Some(password) => {
                let encoded: String =
                    percent_encoding::utf8_percent_encode(password, percent_encoding::NON_ALPHANUMERIC).to_string();
                text.replace(password, "***").replace(&encoded, "***")
            }
            None => text.to_owned(),
        }
    }
}

/// `localhost` or a loopback address: plain SMTP stays on this machine.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl fmt::Display for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.security {
            SmtpSecurity::Implicit => "smtps",
            _ => "smtp",
        };
        let user = match (&self.username, &self.password) {
            (Some(user), Some(_)) => format!("{user}:***@"),
            (Some(user), None) => format!("{user}@"),
            _ => String::new(),
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let security = match self.security {
            SmtpSecurity::None => "no TLS",
            SmtpSecurity::StartTls => "STARTTLS",
            SmtpSecurity::Implicit => "implicit TLS",
        };
        write!(f, "{scheme}://{user}{host}:{} ({security})", self.port)
    }
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// An SMTP relay with a lazily built connection pool.
///
/// lettre's pool starts a cleanup task when it is built, which needs a Tokio
/// runtime; building it at the first send lets configuration be checked
/// anywhere, even before the runtime starts.
pub struct SmtpRelay {
    settings: SmtpSettings,
    sender: Sender,
    hello: ClientId,
    pool: OnceLock<Result<AsyncSmtpTransport<Tokio1Executor>, String>>,
    /// The worker's own connection (plain or STARTTLS), opened with
    /// `TCP_NODELAY`: lettre writes a message body and its final `.` in two
    /// writes, and Nagle's algorithm held the second until the server's
    /// delayed ACK, 40 ms per message (23 messages/s instead of hundreds).
    direct: tokio::sync::Mutex<Option<AsyncSmtpConnection>>,
}

impl fmt::Debug for SmtpRelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpRelay")
            .field("settings", &self.settings)
            .field("hello", &self.hello)
            .finish_non_exhaustive()
    }
}

impl SmtpRelay {
    pub(crate) fn new(settings: SmtpSettings, sender: Sender, public_url: &str) -> SmtpRelay {
        SmtpRelay {
            settings,
            sender,
            hello: hello_name(public_url),
            pool: OnceLock::new(),
            direct: tokio::sync::Mutex::new(None),
        }
    }

    pub(crate) fn settings(&self) -> &SmtpSettings {
        &self.settings
    }

    fn transport(&self) -> Result<&AsyncSmtpTransport<Tokio1Executor>, SendError> {
        self.pool
            .get_or_init(|| self.build())
            .as_ref()
            .map_err(|e| SendError::Transient(e.clone()))
    }

    fn build(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let settings = &self.settings;
        let tls = match settings.security {
            SmtpSecurity::None => Tls::None,
            SmtpSecurity::StartTls | SmtpSecurity::Implicit => {
                let parameters = TlsParameters::new(settings.host.clone())
                    .map_err(|e| format!("cannot set up TLS for {}: {e}", settings.host))?;
                if settings.security == SmtpSecurity::StartTls {
                    Tls::Required(parameters)
                } else {
                    Tls::Wrapper(parameters)
                }
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.as_str())
            .port(settings.port)
            .tls(tls)
            .hello_name(self.hello.clone())
            .timeout(Some(COMMAND_TIMEOUT))
            .pool_config(PoolConfig::new().max_size(POOL_SIZE).idle_timeout(POOL_IDLE));
        if let Some(user) = &settings.username {
            let password = settings.password.clone().unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(builder.build())
    }

    pub(crate) async fn send(&self, message: &RenderedMessage) -> Result<(), SendError> {
        let to = message::recipient(&message.to).map_err(|e| SendError::Permanent(e.to_string()))?;
        let envelope = Envelope::new(Some(self.sender.address().clone()), vec![to])
            .map_err(|e| SendError::Permanent(format!("no valid envelope: {e}")))?;
        if self.settings.security != SmtpSecurity::Implicit {
            return self.send_direct(&envelope, &message.bytes).await;
        }
        let transport = self.transport()?;
        let sent = transport.send_raw(&envelope, &message.bytes).await;
        // lettre parks a used connection from a spawned task; yielding lets
        // that task run, so the next send finds the connection in the pool
        // instead of opening a second one.
        tokio::task::yield_now().await;
        sent.map(drop).map_err(|error| classify(&error, &self.settings))
    }

    /// Opens a connection of our own: TCP with `TCP_NODELAY`, EHLO, STARTTLS
    /// when configured, then AUTH when there are credentials.
    async fn connect_direct(&self) -> Result<AsyncSmtpConnection, SendError> {
        let settings = &self.settings;
        let address = (settings.host.as_str(), settings.port);
        let stream = tokio::time::timeout(COMMAND_TIMEOUT, tokio::net::TcpStream::connect(address))
            .await
            .map_err(|_| SendError::Transient(format!("connecting to {}:{} timed out", settings.host, settings.port)))?
            .map_err(|e| SendError::Transient(format!("cannot connect to {}:{}: {e}", settings.host, settings.port)))?;
        stream
            .set_nodelay(true)
            .map_err(|e| SendError::Transient(format!("cannot set TCP_NODELAY: {e}")))?;
        let mut connection = AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello)
            .await
            .map_err(|e| classify(&e, settings))?;
        if settings.security == SmtpSecurity::StartTls {
            let parameters = TlsParameters::new(settings.host.clone())
                .map_err(|e| SendError::Transient(format!("cannot set up TLS for {}: {e}", settings.host)))?;
            if !connection.can_starttls() {
                return Err(SendError::Transient(format!(
                    "{} does not offer STARTTLS",
                    settings.host
                )));
            }
            connection
                .starttls(parameters, &self.hello)
                .await
                .map_err(|e| classify(&e, settings))?;
        }
        if let Some(user) = &settings.username {
            let credentials = Credentials::new(user.clone(), settings.password.clone().unwrap_or_default());
            connection
                .auth(&[Mechanism::Plain, Mechanism::Login], &credentials)
                .await
                .map_err(|e| classify(&e, settings))?;
        }
        Ok(connection)
    }

    /// Sends over the kept connection; a connection the server closed while
    /// idle is replaced once, transparently.
    async fn send_direct(&self, envelope: &Envelope, bytes: &[u8]) -> Result<(), SendError> {
        let mut slot = self.direct.lock().await;
        let reused = match slot.as_mut() {
            Some(connection) if !connection.has_broken() => true,
            _ => {
                *slot = Some(self.connect_direct().await?);
                false
            }
        };
        let Some(connection) = slot.as_mut() else {
            return Err(SendError::Transient("no SMTP connection".into()));
        };
        match connection.send(envelope, bytes).await {
            Ok(_) => Ok(()),
            Err(error) if reused && error.status().is_none() => {
                // The idle connection was gone (closed by the server): once more on a new one.
                let mut fresh = self.connect_direct().await?;
                let sent = fresh.send(envelope, bytes).await;
                *slot = if sent.is_ok() { Some(fresh) } else { None };
                sent.map(drop).map_err(|e| classify(&e, &self.settings))
            }
            Err(error) => {
                if connection.has_broken() || error.status().is_none() {
                    *slot = None;
                }
                Err(classify(&error, &self.settings))
            }
        }
    }

    pub(crate) async fn shutdown(&self) {
        if let Some(mut connection) = self.direct.lock().await.take() {
            let _ = connection.quit().await;
        }
        if let Some(Ok(transport)) = self.pool.get() {
            transport.shutdown().await;
        }
    }
}

/// Replies to `AUTH` that blame our credentials, not the message.
const AUTH_REPLIES: &[&str] = &["530", "534", "535", "538"];

/// Turns a lettre error into a retry decision, with the password redacted.
fn classify(error: &lettre::transport::smtp::Error, settings: &SmtpSettings) -> SendError {
    let text = settings.redact(&describe(error));
    match error.status() {
        Some(code) if error.is_permanent() && !AUTH_REPLIES.contains(&code.to_string().as_str()) => {
            SendError::Permanent(text)
        }
        _ => SendError::Transient(text),
    }
}

fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The name Varco greets the relay with (`EHLO`): the public URL's host.
fn hello_name(public_url: &str) -> ClientId {
    let host = url::Url::parse(public_url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned));
    match host.as_deref().map(|h| h.trim_start_matches('[').trim_end_matches(']')) {
        Some(host) => match host.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) => ClientId::Ipv4(ip),
            Ok(IpAddr::V6(ip)) => ClientId::Ipv6(ip),
            Err(_) if !host.is_empty() => ClientId::Domain(host.to_owned()),
            Err(_) => ClientId::Domain("localhost".to_owned()),
        },
        None => ClientId::Domain("localhost".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> SmtpSettings {
        SmtpSettings::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    fn error_of(url: &str) -> String {
        SmtpSettings::parse(url).unwrap_err().to_string()
    }

    #[test]
    fn plain_smtp_for_a_loopback_relay() {
        let settings = parse("smtp://127.0.0.1:2525");
        assert_eq!(settings.host, "127.0.0.1");
        assert_eq!(settings.port, 2525);
        assert_eq!(settings.security, SmtpSecurity::None);
        assert_eq!(settings.username, None);
        assert!(!settings.has_password());
        assert_eq!(parse("smtp://localhost").port, 25);
        assert_eq!(parse("smtp://localhost/?tls=none").security, SmtpSecurity::None);
        assert_eq!(parse("smtp://[::1]:25").host, "::1");
    }

    #[test]
    fn starttls_is_asked_for_in_the_query() {
        let settings = parse("smtp://relay.example.org?tls=starttls");
        assert_eq!(settings.security, SmtpSecurity::StartTls);
        assert_eq!(settings.port, 587);
        assert_eq!(parse("smtp://relay.example.org:25?tls=starttls").port, 25);
    }

    #[test]
    fn smtps_is_implicit_tls_with_decoded_credentials() {
        let settings = parse("smtps://mailer%40scuola.example:p%40ss%3Aw%2Frd@smtp.example.org");
        assert_eq!(settings.security, SmtpSecurity::Implicit);
        assert_eq!(settings.port, 465);
        assert_eq!(settings.username.as_deref(), Some("mailer@scuola.example"));
        assert_eq!(settings.password.as_deref(), Some("p@ss:w/rd"));
        assert_eq!(
            settings.to_string(),
            "smtps://mailer@scuola.example:***@smtp.example.org:465 (implicit TLS)"
        );
        let debug = format!("{settings:?}");
        assert!(!debug.contains("p@ss"), "{debug}");
        assert_eq!(parse("smtps://h?tls=implicit").security, SmtpSecurity::Implicit);
    }

    #[test]
    fn credentials_work_with_every_scheme() {
        let settings = parse("smtp://u:secret@127.0.0.1:2525");
        assert_eq!(settings.username.as_deref(), Some("u"));
        assert!(settings.has_password());
        let settings = parse("smtp://u:secret@relay.example.org?tls=starttls");
        assert_eq!(settings.security, SmtpSecurity::StartTls);
        assert_eq!(
            parse("smtp://only-user@localhost").username.as_deref(),
            Some("only-user")
        );
        assert_eq!(parse("smtp://u:secret@[::1]:25").security, SmtpSecurity::None);
    }

    #[test]
    fn credentials_without_tls_to_a_remote_host_are_refused() {
        for url in [
            "smtp://u:s3cret@relay.example.org",
            "smtp://u:s3cret@relay.example.org:25?tls=none",
            "smtp://only-user@192.0.2.10:2525",
            "smtp://u:s3cret@[2001:db8::1]",
        ] {
            let error = error_of(url);
            assert!(error.contains("clear text"), "{url}: {error}");
            assert!(!error.contains("s3cret"), "{error}");
        }
        // The same relay is fine with TLS, or without credentials.
        assert!(SmtpSettings::parse("smtps://u:s3cret@relay.example.org").is_ok());
        assert!(SmtpSettings::parse("smtp://u:s3cret@relay.example.org?tls=starttls").is_ok());
        assert!(SmtpSettings::parse("smtp://relay.example.org").is_ok());
    }

    #[test]
    fn bad_urls_are_explained_without_the_password() {
        for url in [
            "http://u:s3cret@h",
            "smtp://u:s3cret@h?tls=maybe",
            "smtps://u:s3cret@h?tls=starttls",
            "smtp://u:s3cret@h?timeout=5",
            "smtp://u:s3cret@h/path",
            "smtp://u:s3cret@:25",
            "smtp://u:s3cret@h:99999",
            "smtp://u:s3cret@h:port",
            "smtp://:s3cret@h",
            "u:s3cret@h",
            "smtp://u:s3cret%FF@h",
        ] {
            let error = error_of(url);
            assert!(!error.contains("s3cret"), "{url}: {error}");
            assert!(error.starts_with("mail configuration: the SMTP URL"), "{url}: {error}");
        }
        assert!(error_of("smtp://u:s3cret@h?tls=maybe").contains("smtp://u:***@h?tls=maybe"));
    }

    #[test]
    fn redaction_covers_plain_and_encoded_passwords() {
        let settings = parse("smtps://u:p%40ss@h");
        assert_eq!(settings.redact("bad p@ss and p%40ss"), "bad *** and ***");
        assert_eq!(parse("smtp://h").redact("nothing to hide"), "nothing to hide");
    }

    #[test]
    fn the_greeting_uses_the_public_host() {
        assert_eq!(
            hello_name("https://accesso.scuola.example/base"),
            ClientId::Domain("accesso.scuola.example".to_owned())
        );
        assert_eq!(
            hello_name("http://127.0.0.1:8080"),
            ClientId::Ipv4([127, 0, 0, 1].into())
        );
        assert_eq!(
            hello_name("http://[::1]:8080"),
            ClientId::Ipv6(std::net::Ipv6Addr::LOCALHOST)
        );
        assert_eq!(hello_name("not a url"), ClientId::Domain("localhost".to_owned()));
    }

    #[tokio::test]
    async fn a_closed_port_is_a_transient_failure() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let relay = SmtpRelay::new(
            parse(&format!("smtp://u:s3cret@127.0.0.1:{port}")),
            Sender::new("Varco <no-reply@varco.invalid>").unwrap(),
            "http://localhost",
        );
        let message = RenderedMessage {
            message_id: "1@varco.invalid".to_owned(),
            to: "a@example.org".to_owned(),
            subject: "s".to_owned(),
            text: "t".to_owned(),
            html: "h".to_owned(),
            lang: "it".to_owned(),
            bytes: b"Subject: s\r\n\r\nt\r\n".to_vec(),
        };
        let error = relay.send(&message).await.unwrap_err();
        assert!(error.is_transient(), "{error}");
        assert!(!error.to_string().contains("s3cret"));

        let mut forged = message.clone();
        forged.to = "a@example.org\r\nRCPT TO:<x@evil.example>".to_owned();
        assert!(relay.send(&forged).await.unwrap_err().is_permanent());
        relay.shutdown().await;
    }
}
