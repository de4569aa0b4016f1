//! Varco's use cases. Web pages, JSON endpoints and CLI commands are thin
//! adapters over the functions here.
//!
//! Each use case opens a store transaction, applies the domain rules and writes
//! its audit events in that same transaction, so a credential event is never
//! recorded without its effect or the other way round. Password hashing
//! happens *outside* transactions (it takes tens of milliseconds), through the
//! bounded [`HashingPool`].

pub mod accounts;
pub mod audit;
mod error;
pub mod hashing;
pub mod import;
pub mod login;
pub mod schools;
pub mod sessions;
pub mod setup;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use varco_domain::clock::{Clock, Timestamp};
use varco_domain::lockout::LockoutPolicy;
use varco_domain::password::{HashParams, PasswordPolicy};
use varco_store::Store;

pub use error::AppError;
pub use hashing::HashingPool;

/// The knobs of the use cases, filled from configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Idle session lifetime in seconds.
    pub session_idle_secs: i64,
    /// Absolute session lifetime in seconds.
    pub session_absolute_secs: i64,
    pub lockout: LockoutPolicy,
    pub password_policy: PasswordPolicy,
    pub hash: HashParams,
    /// Concurrent hash computations; 0 means one per core.
    pub hash_concurrency: usize,
    /// How many accounts sharing one email a login may try.
    pub max_email_candidates: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            session_idle_secs: 30 * 60,
            session_absolute_secs: 12 * 3600,
            lockout: LockoutPolicy::default(),
            password_policy: PasswordPolicy::default(),
            hash: HashParams::default(),
            hash_concurrency: 0,
            max_email_candidates: 3,
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
        })
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
}

impl RequestContext {
    pub fn new(ip: Option<String>, user_agent: Option<&str>) -> RequestContext {
        RequestContext {
            ip,
            user_agent: user_agent.map(|ua| ua.chars().filter(|c| !c.is_control()).take(256).collect()),
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
    Account { id: i64, user_code: String },
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

    pub fn account_id(&self) -> Option<i64> {
        match self {
            Actor::Account { id, .. } => Some(*id),
            _ => None,
        }
    }
}
