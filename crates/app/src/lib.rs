//! Varco's use cases. Web pages, JSON endpoints and CLI commands are thin
//! adapters over the functions here.
//!
//! Each use case opens a store transaction, applies the domain rules and writes
//! its audit events in that same transaction, so a credential event is never
//! recorded without its effect or the other way round. Password hashing
//! happens *outside* transactions (it takes tens of milliseconds), through the
//! bounded [`HashingPool`].

// The use cases: each calls down into the lower layer below, never across
// into another use case (checked by `layering::tests`).
pub mod account_secret;
pub mod accounts;
pub mod admin;
pub mod applications;
pub mod authorize;
pub mod clients;
pub mod confirmations;
pub mod desk;
pub mod email_change;
pub mod federation_log;
pub mod import;
pub mod jobs;
pub mod login;
pub mod oauth_tokens;
pub mod outbox;
pub mod password;
pub mod recovery;
pub mod requests;
pub mod schools;
pub mod second_secret;
pub mod session_list;
pub mod setup;
pub mod student_import;
pub mod students;
pub mod upstream;

// The lower layer: the shared steps (confirm a secret, store a password,
// issue a link, audit, queue a message, sessions, lookups, policy, views).
mod account_actions;
pub mod audit;
mod client_registration;
mod credentials;
mod csv_roster;
pub mod documents;
mod error;
pub mod federation;
pub mod gates;
pub mod guardianship;
pub mod hashing;
pub mod login_policy;
mod lookup;
pub mod mail;
mod mailed_links;
mod notices;
mod policy;
pub mod provider;
mod registration;
pub mod sessions;
pub mod timing;
pub mod upstream_rp;
mod views;

#[cfg(test)]
mod layering;

use std::sync::Arc;

use tokio::sync::Notify;
use varco_domain::account::AccountKind;
use varco_domain::clock::{Clock, Timestamp};
use varco_domain::lockout::LockoutPolicy;
use varco_domain::password::{CommonPasswords, ExpiryPolicy, HashParams, PasswordPolicy};
use varco_domain::{AccountId, Lang};
use varco_store::Store;

pub use error::{AppError, OAuthCode, OAuthError, error_chain};
pub use hashing::HashingPool;

/// A setting that differs between staff and family accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerKind<T> {
    pub staff: T,
    pub family: T,
}

impl<T> PerKind<T> {
    pub fn get(&self, kind: AccountKind) -> &T {
        match kind {
            AccountKind::Staff => &self.staff,
            AccountKind::Family => &self.family,
        }
    }
}

/// The knobs of the use cases, filled from configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The public base URL (no trailing slash): links in emails, Message-ID domain.
    pub public_url: String,
    /// Idle session lifetime in seconds.
    pub session_idle_secs: i64,
    /// Absolute session lifetime in seconds.
    pub session_absolute_secs: i64,
    pub lockout: LockoutPolicy,
    /// Password rules per account kind.
    pub policy: PerKind<PasswordPolicy>,
    /// Password expiry per account kind (staff expire by default, families not).
    pub expiry: PerKind<ExpiryPolicy>,
    /// The common and breached passwords refused for every kind.
    pub common_passwords: CommonPasswords,
    pub hash: HashParams,
    /// Concurrent hash computations; 0 means one per core.
    pub hash_concurrency: usize,
    /// How many accounts sharing one email a login may try.
    pub max_email_candidates: i64,
    /// Fixed time before a failed login is answered, in milliseconds; `None`
    /// measures it from the stored hashes (see [`timing`]).
    pub failure_floor_ms: Option<u64>,
    /// The OpenID Connect provider's keys and lifetimes.
    pub provider: provider::ProviderSettings,
    /// Which ways in each kind of account may use (password, SPID/CIE).
    pub login: login_policy::LoginPolicies,
    /// Varco in the SPID/CIE federation; `None` without `[federation]`.
    pub federation: Option<federation::FederationSettings>,
    /// The upstream providers (SPID/CIE) people may sign in through.
    pub upstream: upstream_rp::UpstreamSettings,
    /// The desk's scope rules.
    pub desk: desk::DeskSettings,
    /// Public email-change requests: where documents go, how long they stay.
    pub requests: RequestSettings,
    /// The lengths of the PIN and the personal code.
    pub second_secret: SecondSecretSettings,
}

/// `[second_secret]`: how long a PIN and a personal code are.
#[derive(Debug, Clone, Copy)]
pub struct SecondSecretSettings {
    /// Digits of a PIN.
    pub pin_length: usize,
    /// Characters of a personal code.
    pub personal_code_length: usize,
}

impl Default for SecondSecretSettings {
    fn default() -> Self {
        SecondSecretSettings {
            pin_length: 6,
            personal_code_length: 8,
        }
    }
}

impl SecondSecretSettings {
    /// The length of a secret of this kind.
    pub fn length(&self, kind: varco_domain::second_secret::SecondSecretKind) -> usize {
        match kind {
            varco_domain::second_secret::SecondSecretKind::Pin => self.pin_length,
            varco_domain::second_secret::SecondSecretKind::PersonalCode => self.personal_code_length,
        }
    }
}

/// `[requests]`: public email-change requests.
#[derive(Debug, Clone)]
pub struct RequestSettings {
    /// Where the encrypted identity documents are written (never served).
    pub documents_dir: std::path::PathBuf,
    /// Days after the decision before the `retention` job deletes a document.
    pub retention_days: i64,
}

impl Default for RequestSettings {
    fn default() -> Self {
        RequestSettings {
            documents_dir: std::path::PathBuf::from("./varco-data/requests"),
            retention_days: 30,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            public_url: "http://127.0.0.1:8080".into(),
            session_idle_secs: 30 * 60,
            session_absolute_secs: 12 * 3600,
            lockout: LockoutPolicy::default(),
            policy: PerKind {
                staff: PasswordPolicy::default(),
                family: PasswordPolicy::default(),
            },
            expiry: PerKind {
                staff: ExpiryPolicy::staff_default(),
                family: ExpiryPolicy::family_default(),
            },
            common_passwords: CommonPasswords::bundled(),
            hash: HashParams::default(),
            hash_concurrency: 0,
            max_email_candidates: 3,
            failure_floor_ms: None,
            provider: provider::ProviderSettings::default(),
            login: login_policy::LoginPolicies::default(),
            federation: None,
            upstream: upstream_rp::UpstreamSettings::default(),
            desk: desk::DeskSettings::default(),
            requests: RequestSettings::default(),
            second_secret: SecondSecretSettings::default(),
        }
    }
}

/// Everything a use case needs: the store, the clock, the hashing pool, settings.
#[derive(Debug, Clone)]
pub struct App {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub hashing: HashingPool,
    pub settings: Arc<Settings>,
    /// Woken after a transaction that queued mail commits (the outbox worker waits on it).
    pub mail_notify: Arc<Notify>,
    /// How long a failed login takes at least (equal timing for every refusal).
    pub failure_floor: Arc<timing::FailureFloor>,
    /// One password attempt at a time per login text and per account.
    pub gates: Arc<gates::Gates>,
    /// The provider's signing keys, cached.
    pub keys: Arc<provider::KeyRing>,
    /// Deliveries in the background (back-channel logout notices).
    pub background: Arc<provider::Background>,
    /// The relying party's federation and core keys, cached.
    pub federation_keys: Arc<federation::FederationKeyRing>,
    /// Static-mode upstream providers' discovery documents and keys, cached.
    pub upstream_cache: Arc<upstream_rp::StaticCache>,
}

impl App {
    pub fn new(store: Store, clock: Arc<dyn Clock>, settings: Settings) -> Result<App, AppError> {
        let concurrency = if settings.hash_concurrency == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
        } else {
            settings.hash_concurrency
        };
        let hashing = HashingPool::new(settings.hash, concurrency)?;
        Ok(App {
            store,
            clock,
            hashing,
            settings: Arc::new(settings),
            mail_notify: Arc::new(Notify::new()),
            failure_floor: Arc::new(timing::FailureFloor::default()),
            gates: Arc::new(gates::Gates::default()),
            keys: Arc::new(provider::KeyRing::default()),
            background: Arc::new(provider::Background::default()),
            federation_keys: Arc::new(federation::FederationKeyRing::default()),
            upstream_cache: Arc::new(upstream_rp::StaticCache::default()),
        })
    }

    /// The relying party's keys (SPID/CIE federation): `current(&app)`.
    pub fn federation_keys(&self) -> &federation::FederationKeyRing {
        &self.federation_keys
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}

/// Where a request came from, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The language the person uses, remembered for their emails.
    pub lang: Option<Lang>,
}

impl RequestContext {
    pub fn new(ip: Option<String>, user_agent: Option<&str>) -> RequestContext {
        RequestContext {
            ip,
            user_agent: user_agent.map(|ua| ua.chars().filter(|c| !c.is_control()).take(256).collect()),
            lang: None,
        }
    }
}

/// Who performs an action, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An operator at the command line.
    Cli,
    /// Varco itself (jobs, first-run setup).
    System,
    /// Someone not logged in.
    Anonymous,
    /// A logged-in account.
    Account { id: AccountId, user_code: String },
}

impl Actor {
    pub fn label(&self) -> &str {
        match self {
            Actor::Cli => "cli",
            Actor::System => "system",
            Actor::Anonymous => "anonymous",
            Actor::Account { user_code, .. } => user_code,
        }
    }

    pub fn account_id(&self) -> Option<AccountId> {
        match self {
            Actor::Account { id, .. } => Some(*id),
            _ => None,
        }
    }
}
