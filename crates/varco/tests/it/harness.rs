//! The one helper that builds a fresh Varco for a test, on either engine.
//!
//! PostgreSQL comes from `VARCO_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432`); each test gets its own database,
//! dropped afterwards. When PostgreSQL cannot be reached the PostgreSQL half
//! of a test fails under CI (`CI` set) and is skipped, saying so, elsewhere.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;
use varco::config::Config;
use varco::server::{Running, start_with_clock};
use varco_app::accounts::{AccountView, AddAccount};
use varco_app::schools::AddSchool;
use varco_app::{Actor, App, RequestContext};
use varco_domain::account::AccountKind;
use varco_domain::clock::{FixedClock, Timestamp};
use varco_domain::password::PasswordInput;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once per engine.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(crate::harness::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(crate::harness::Backend::Postgres).await
                }
            }
        )*
    };
}
pub(crate) use both_backends;

pub const SCHOOL: &str = "RMIC81200X";
pub const PASSWORD: &str = "correct horse battery staple";

fn postgres_base() -> String {
    std::env::var("VARCO_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh database: a SQLite file in a temporary directory or a new
/// PostgreSQL database. Dropping it removes it.
pub struct Database {
    pub dir: tempfile::TempDir,
    pub url: String,
    postgres_name: Option<String>,
}

impl Database {
    /// `None` when PostgreSQL is unreachable outside CI (the test then skips).
    pub async fn create(backend: Backend) -> Option<Database> {
        let dir = tempfile::tempdir().expect("temporary directory");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("varco.db").display());
                Some(Database {
                    dir,
                    url,
                    postgres_name: None,
                })
            }
            Backend::Postgres => {
                let base = postgres_base();
                let name = format!(
                    "varco_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst),
                    rand::random::<u32>()
                );
                let admin_url = format!("{base}/postgres");
                let mut conn = match sqlx::PgConnection::connect(&admin_url).await {
                    Ok(c) => c,
                    Err(e) => {
                        if std::env::var_os("CI").is_some() {
                            panic!("PostgreSQL is required in CI but {base} cannot be reached: {e}");
                        }
                        eprintln!(
                            "SKIPPING the PostgreSQL half of this test: {base} cannot be reached ({e}); set VARCO_TEST_POSTGRES_URL"
                        );
                        return None;
                    }
                };
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                conn.close().await.ok();
                Some(Database {
                    dir,
                    url: format!("{base}/{name}"),
                    postgres_name: Some(name),
                })
            }
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Some(name) = self.postgres_name.take() {
            let admin_url = format!("{}/postgres", postgres_base());
            // Drop runs outside any runtime we may block on: use a thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut conn)
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

/// Options for a test server.
pub struct Options {
    pub login_per_minute: u32,
    pub tweak: Box<dyn FnOnce(&mut Config)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            login_per_minute: 0,
            tweak: Box::new(|_| {}),
        }
    }
}

/// A running Varco with a controllable clock and an HTTP client with cookies.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub clock: Arc<FixedClock>,
    running: Option<Running>,
    // Dropped last: the server must stop before its database goes away.
    _db: Database,
}

/// Chosen so that tests never depend on the real date.
pub const T0: i64 = 1_800_000_000;

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        TestApp::spawn_with(backend, Options::default()).await
    }

    pub async fn spawn_with(backend: Backend, options: Options) -> Option<TestApp> {
        let db = Database::create(backend).await?;
        let mut config = Config {
            data_dir: db.dir.path().join("data"),
            database_url: Some(db.url.clone()),
            listen: "127.0.0.1:0".into(),
            database_max_connections: 5,
            ..Config::default()
        };
        config.rate_limits.login_per_minute = options.login_per_minute;
        config.rate_limits.api_per_minute = 0;
        (options.tweak)(&mut config);
        let clock = Arc::new(FixedClock::new(Timestamp(T0)));
        let running = start_with_clock(&config, clock.clone()).await.expect("server starts");
        let base = format!("http://{}", running.local_addr);
        Some(TestApp {
            base,
            client: client(),
            clock,
            running: Some(running),
            _db: db,
        })
    }

    pub fn app(&self) -> &App {
        &self.running.as_ref().expect("running").app
    }

    /// The database's URL (tests that change it behind Varco's back).
    pub fn database_url(&self) -> &str {
        &self._db.url
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server once every queued message has been delivered: a
    /// test that leaves mail unsent fails here (the outbox must drain).
    pub async fn stop(self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let pending: Vec<String> = varco_app::outbox::list(self.app(), false, 1000)
                .await
                .expect("outbox")
                .into_iter()
                .filter(|m| m.status == varco_domain::OutboxStatus::Pending)
                .map(|m| format!("{} to {}", m.template, m.recipient))
                .collect();
            if pending.is_empty() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the test ended with unsent mail: {pending:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        self.stop_leaving_mail().await;
    }

    /// Stops the server whatever the outbox holds (tests of mail outages).
    pub async fn stop_leaving_mail(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("clean shutdown");
        }
    }

    pub async fn add_school(&self) {
        varco_app::schools::add(
            self.app(),
            &Actor::Cli,
            &RequestContext::default(),
            &AddSchool {
                code: SCHOOL.into(),
                name: "Istituto Comprensivo Via Roma".into(),
                email: Some("rmic81200x@istruzione.it".into()),
                helpdesk_email: Some("assistenza@icviaroma.edu.it".into()),
                helpdesk_phone: Some("+39 06 1234 5678".into()),
                helpdesk_hours: Some("lun-ven 10-13".into()),
                town: None,
            },
        )
        .await
        .expect("school added");
    }

    /// Adds an account to the test school; `password` None leaves it pending.
    pub async fn add_account(
        &self,
        n: u32,
        email: &str,
        username: Option<&str>,
        password: Option<&str>,
    ) -> AccountView {
        let input = AddAccount {
            school_code: SCHOOL.into(),
            kind: if n.is_multiple_of(2) {
                AccountKind::Staff
            } else {
                AccountKind::Family
            },
            first_name: format!("Persona{}", letters(n)),
            last_name: "Bianchi".into(),
            tax_code: tax_code(n),
            email: Some(email.into()),
            username: username.map(str::to_owned),
        };
        varco_app::accounts::add(
            self.app(),
            &Actor::Cli,
            &RequestContext::default(),
            &input,
            password.map(|p| PasswordInput::new(p).expect("password input")),
        )
        .await
        .expect("account added")
    }

    pub async fn login(&self, login: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/login"))
            .json(&serde_json::json!({ "login": login, "password": password }))
            .send()
            .await
            .expect("request")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            // Not stopped explicitly (a failed assertion): abort quietly.
            drop(running);
        }
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn letters(mut n: u32) -> String {
    let mut s = String::new();
    loop {
        s.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    s
}

/// A valid tax code, distinct for each `n`.
pub fn tax_code(n: u32) -> String {
    let surname = format!("BN{}", letters(n).to_uppercase());
    let surname: String = surname.chars().chain("XXX".chars()).take(3).collect();
    let first15 = format!("{surname}MRA{:02}A{:02}H501", 70 + (n / 28) % 30, 1 + n % 28);
    varco_app::setup::complete_tax_code(&first15)
        .unwrap_or_else(|| panic!("tax code for {n}"))
        .to_string()
}
