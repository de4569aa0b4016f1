//! Configuration: one typed struct, loaded once from an optional TOML file
//! and `VARCO_*` environment variables (the environment wins), then checked.
//!
//! Nested settings use `__` in the environment:
//! `VARCO_RATE_LIMITS__LOGIN_PER_MINUTE=0` sets `[rate_limits] login_per_minute`.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use varco_app::Settings;
use varco_domain::lockout::LockoutPolicy;
use varco_domain::password::{HashParams, PasswordPolicy};
use varco_web::{Helpdesk, RateLimits};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    pub idle_minutes: i64,
    pub absolute_hours: i64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            idle_minutes: 30,
            absolute_hours: 12,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordConfig {
    pub hash: HashParams,
    /// Concurrent Argon2id computations; 0 = one per core.
    pub hash_concurrency: usize,
    pub policy: PasswordPolicy,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://...`; default: SQLite in the data directory.
    pub database_url: Option<String>,
    pub database_max_connections: u32,
    pub listen: String,
    pub public_url: String,
    /// Unset: mail is written as `.eml` files under the data directory.
    pub smtp_url: Option<String>,
    pub log_format: LogFormat,
    /// A `tracing` filter such as `info` or `varco_web=debug,info`.
    pub log_level: String,
    pub session: SessionConfig,
    pub password: PasswordConfig,
    pub lockout: LockoutPolicy,
    pub rate_limits: RateLimits,
    /// The national helpdesk shown on `/help`.
    pub helpdesk: Helpdesk,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./varco-data"),
            database_url: None,
            database_max_connections: 10,
            listen: "127.0.0.1:8080".into(),
            public_url: "http://127.0.0.1:8080".into(),
            smtp_url: None,
            log_format: LogFormat::Text,
            log_level: "info".into(),
            session: SessionConfig::default(),
            password: PasswordConfig::default(),
            lockout: LockoutPolicy::default(),
            rate_limits: RateLimits::default(),
            helpdesk: Helpdesk::default(),
        }
    }
}

/// The top-level keys the environment may set; other `VARCO_*` variables
/// (for example `VARCO_CONFIG` or test settings) are not configuration.
const ENV_KEYS: &[&str] = &[
    "data_dir",
    "database_url",
    "database_max_connections",
    "listen",
    "public_url",
    "smtp_url",
    "log_format",
    "log_level",
    "session",
    "password",
    "lockout",
    "rate_limits",
    "helpdesk",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {path}: {message}")]
    File { path: String, message: String },
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Loads defaults, then the file (if given), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::File {
                    path: path.display().to_string(),
                    message: "not found or not a file".into(),
                });
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(
            Env::prefixed("VARCO_")
                .filter(|key| {
                    let top = key.as_str().split("__").next().unwrap_or("");
                    ENV_KEYS.iter().any(|k| k.eq_ignore_ascii_case(top))
                })
                .split("__"),
        );
        let config: Config = figment.extract().map_err(|e| ConfigError::Invalid(e.to_string()))?;
        config.check()?;
        Ok(config)
    }

    /// Checks what can be checked without touching the outside world.
    pub fn check(&self) -> Result<(), ConfigError> {
        let url = self.database_url();
        if varco_store::Backend::from_url(&url).is_none() {
            return Err(ConfigError::Invalid(format!(
                "database_url must start with sqlite:// or postgres:// (got {:?})",
                redact_url(&url)
            )));
        }
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::Invalid(format!(
                "listen must be address:port, like 127.0.0.1:8080 (got {:?})",
                self.listen
            )));
        }
        let public = self.public_url.trim_end_matches('/');
        let rest = public
            .strip_prefix("http://")
            .or_else(|| public.strip_prefix("https://"));
        match rest {
            Some(host) if !host.is_empty() && !host.contains(['?', '#', ' ']) => {}
            _ => {
                return Err(ConfigError::Invalid(format!(
                    "public_url must be an http:// or https:// URL without query (got {:?})",
                    self.public_url
                )));
            }
        }
        if self.session.idle_minutes <= 0 || self.session.absolute_hours <= 0 {
            return Err(ConfigError::Invalid(
                "session idle_minutes and absolute_hours must be positive".into(),
            ));
        }
        let policy = &self.password.policy;
        if policy.min_length < 8
            || policy.max_length < 64
            || policy.min_length > policy.max_length
            || policy.max_length > 256
        {
            return Err(ConfigError::Invalid(
                "password policy: min_length must be at least 8, max_length between 64 and 256 and not below min_length".into(),
            ));
        }
        if let Err(e) = self.password.hash.validate() {
            return Err(ConfigError::Invalid(format!("password hash parameters: {e}")));
        }
        if self.database_max_connections == 0 {
            return Err(ConfigError::Invalid(
                "database_max_connections must be at least 1".into(),
            ));
        }
        Ok(())
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("varco.db").display()))
    }

    pub fn app_settings(&self) -> Settings {
        Settings {
            session_idle_secs: self.session.idle_minutes * 60,
            session_absolute_secs: self.session.absolute_hours * 3600,
            lockout: self.lockout,
            password_policy: self.password.policy,
            hash: self.password.hash,
            hash_concurrency: self.password.hash_concurrency,
            ..Settings::default()
        }
    }

    pub fn web_config(&self) -> varco_web::WebConfig {
        varco_web::WebConfig {
            public_url: self.public_url.trim_end_matches('/').to_owned(),
            national_helpdesk: self.helpdesk.clone(),
            rate_limits: self.rate_limits.clone(),
        }
    }
}

/// A database URL with any password replaced, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_redacted() {
        assert_eq!(redact_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }

    #[test]
    fn defaults_are_valid_and_match_the_contract() {
        let c = Config::default();
        c.check().expect("defaults are valid");
        assert_eq!(c.listen, "127.0.0.1:8080");
        assert_eq!(c.database_url(), "sqlite://./varco-data/varco.db");
    }
}
