//! Typed helpers per endpoint, on top of [`crate::harness`] (zero2prod's
//! `helpers.rs` shape): a test says what it does ("change the password",
//! "ask for a reset link") instead of spelling out requests.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use varco_app::RequestContext;
use varco_app::audit::AuditEntry;
use varco_app::sessions::Authenticated;

use crate::harness::{Options, TestApp, client};
use crate::smtp::{Received, SmtpSink};

/// How long a test waits for a message to arrive.
pub const MAIL_WAIT: Duration = Duration::from_secs(20);

/// A test school's Varco that mails through a real SMTP server; `None` skips.
pub async fn spawn_with_smtp(backend: crate::harness::Backend) -> Option<(TestApp, SmtpSink)> {
    spawn_with_smtp_and(backend, |_| {}).await
}

/// The same, with more configuration changed by `tweak`.
pub async fn spawn_with_smtp_and(
    backend: crate::harness::Backend,
    tweak: impl FnOnce(&mut varco::config::Config) + 'static,
) -> Option<(TestApp, SmtpSink)> {
    let sink = SmtpSink::start()?;
    let url = sink.url();
    let options = Options {
        tweak: Box::new(move |c| {
            c.smtp_url = Some(url);
            tweak(c);
        }),
        ..Options::default()
    };
    let t = TestApp::spawn_with(backend, options).await?;
    t.add_school().await;
    Some((t, sink))
}

/// A signed-in client and its session cookie value.
pub struct SignedIn {
    pub client: reqwest::Client,
    pub cookie: String,
}

impl TestApp {
    /// Signs in over the JSON API; panics unless it succeeds.
    pub async fn sign_in(&self, login: &str, password: &str) -> SignedIn {
        let client = client();
        let r = client
            .post(self.url("/api/v1/login"))
            .json(&json!({ "login": login, "password": password }))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::OK, "sign in as {login}");
        let cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| {
                v.split(';')
                    .next()?
                    .split_once("varco_session=")
                    .map(|(_, v)| v.to_owned())
            })
            .expect("session cookie");
        SignedIn { client, cookie }
    }

    /// The session behind a signed-in client, as the use cases see it.
    pub async fn session_of(&self, signed_in: &SignedIn) -> Authenticated {
        varco_app::sessions::authenticate(self.app(), &signed_in.cookie)
            .await
            .expect("authenticate")
            .expect("a live session")
    }

    /// `POST /api/v1/password/change`; the status.
    pub async fn change_password(&self, signed_in: &SignedIn, current: &str, new: &str) -> StatusCode {
        signed_in
            .client
            .post(self.url("/api/v1/password/change"))
            .json(&json!({ "current_password": current, "new_password": new }))
            .send()
            .await
            .expect("request")
            .status()
    }

    /// `POST /api/v1/password/forgot`; always 202.
    pub async fn forgot(&self, login: &str) {
        let r = client()
            .post(self.url("/api/v1/password/forgot"))
            .json(&json!({ "login": login }))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::ACCEPTED);
    }

    /// `POST /api/v1/password/reset`; the status.
    pub async fn reset(&self, token: &str, new: &str) -> StatusCode {
        client()
            .post(self.url("/api/v1/password/reset"))
            .json(&json!({ "token": token, "new_password": new }))
            .send()
            .await
            .expect("request")
            .status()
    }

    /// `GET /api/v1/me` for a client: the status and the body.
    pub async fn me(&self, client: &reqwest::Client) -> (StatusCode, Value) {
        let r = client.get(self.url("/api/v1/me")).send().await.expect("request");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Asks, as the signed-in owner, to move the account to `new_email`.
    pub async fn request_email_change(
        &self,
        signed_in: &SignedIn,
        new_email: &str,
        current_password: &str,
    ) -> Result<(), varco_app::AppError> {
        let session = self.session_of(signed_in).await;
        varco_app::email_change::request(
            self.app(),
            &session,
            new_email,
            current_password,
            &RequestContext::default(),
        )
        .await
        .map(|_| ())
    }

    /// Presses the button of an email-change confirmation link.
    pub async fn confirm_email_change(&self, token: &str) -> Result<String, varco_app::AppError> {
        varco_app::email_change::confirm(self.app(), token, &RequestContext::default()).await
    }

    /// Presses the button of an email-change undo link.
    pub async fn undo_email_change(&self, token: &str) -> Result<(), varco_app::AppError> {
        varco_app::email_change::undo(self.app(), token, &RequestContext::default()).await
    }

    /// The page at `path`, fetched with the test's own client.
    pub async fn html(&self, path: &str) -> String {
        self.html_with(&self.client, path).await
    }

    /// The page at `path`, fetched with `client`.
    pub async fn html_with(&self, client: &reqwest::Client, path: &str) -> String {
        client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("page")
    }

    /// Signs in through the `/login` form (with its CSRF token) in a fresh
    /// browser-like client: the status and the page.
    pub async fn page_login(&self, login: &str, password: &str) -> (StatusCode, String) {
        let browser = client();
        let form = browser.get(self.url("/login")).send().await.expect("request");
        let csrf = input_value(&form.text().await.expect("page"), "csrf");
        let r = browser
            .post(self.url("/login"))
            .header("origin", &self.base)
            .form(&[("csrf", csrf.as_str()), ("login", login), ("password", password)])
            .send()
            .await
            .expect("request");
        let status = r.status();
        (status, r.text().await.unwrap_or_default())
    }

    /// The account's audit events, newest first.
    pub async fn audit_of(&self, user_code: &str) -> Vec<AuditEntry> {
        varco_app::audit::list(self.app(), Some(user_code), 500)
            .await
            .expect("audit")
    }
}

/// The value of the first input called `name` in a page.
pub fn input_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap_or_default().to_owned()
}

/// The token of the first `path?token=…` link in a message.
pub fn token_in(message: &Received, path: &str) -> String {
    let text = message.text();
    let marker = format!("{path}?token=");
    let start = text.find(&marker).unwrap_or_else(|| panic!("no {path} link in {text}")) + marker.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

impl SmtpSink {
    /// The token of the `count`-th message to `to` that carries a `path`
    /// link, waiting for it.
    pub async fn link_to(&self, to: &str, path: &str, count: usize) -> String {
        let marker = format!("{path}?token=");
        let deadline = std::time::Instant::now() + MAIL_WAIT;
        loop {
            let mine: Vec<Received> = self
                .messages()
                .into_iter()
                .filter(|m| m.header("To").as_deref() == Some(to) && m.text().contains(&marker))
                .collect();
            if mine.len() >= count {
                return token_in(&mine[count - 1], path);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "message {count} to {to} with a {path} link never came ({} did)",
                mine.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
