//! Configuration: one typed struct, loaded once from an optional TOML file
//! and `VARCO_*` environment variables (the environment wins), then checked.
//!
//! Nested settings use `__` in the environment:
//! `VARCO_RATE_LIMITS__LOGIN_PER_MINUTE=0` sets `[rate_limits] login_per_minute`.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use varco_app::{PerKind, Settings};
use varco_domain::lockout::LockoutPolicy;
use varco_domain::password::{CommonPasswords, ExpiryPolicy, HashParams, PasswordPolicy};
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

/// Password rules and expiry of one account kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KindPasswordConfig {
    pub min_length: usize,
    pub min_length_with_second_factor: usize,
    pub max_length: usize,
    /// Lowest zxcvbn score (0-4) accepted.
    pub min_strength: u8,
    /// How many previous passwords may not be reused.
    pub history: usize,
    /// Days after which the password expires; 0 = never (NIST and ASVS advise
    /// against expiry: it is kept for the staff portal that requires it).
    pub password_max_age_days: u32,
    /// Days before expiry when a reminder is emailed.
    pub expiry_reminder_days: Vec<u32>,
}

impl Default for KindPasswordConfig {
    /// The policy defaults without expiry. (Loading always starts from
    /// `Config::default()`, whose staff section expires after 180 days.)
    fn default() -> Self {
        KindPasswordConfig::with_max_age(0)
    }
}

impl KindPasswordConfig {
    fn with_max_age(days: u32) -> KindPasswordConfig {
        let policy = PasswordPolicy::default();
        KindPasswordConfig {
            min_length: policy.min_length,
            min_length_with_second_factor: policy.min_length_with_second_factor,
            max_length: policy.max_length,
            min_strength: policy.min_strength,
            history: policy.history,
            password_max_age_days: days,
            expiry_reminder_days: vec![14, 7, 1],
        }
    }

    pub fn policy(&self) -> PasswordPolicy {
        PasswordPolicy {
            min_length: self.min_length,
            min_length_with_second_factor: self.min_length_with_second_factor,
            max_length: self.max_length,
            min_strength: self.min_strength,
            history: self.history,
        }
    }

    pub fn expiry(&self) -> ExpiryPolicy {
        ExpiryPolicy {
            max_age_days: (self.password_max_age_days > 0).then_some(self.password_max_age_days),
            reminder_days: self.expiry_reminder_days.clone(),
        }
    }

    fn check(&self, kind: &str) -> Result<(), ConfigError> {
        if self.min_length < 8
            || self.min_length_with_second_factor < 8
            || self.max_length < 64
            || self.min_length > self.max_length
            || self.max_length > 256
        {
            return Err(ConfigError::Invalid(format!(
                "password.{kind}: min_length must be at least 8, max_length between 64 and 256 and not below min_length"
            )));
        }
        if self.min_strength > 4 {
            return Err(ConfigError::Invalid(format!(
                "password.{kind}.min_strength must be between 0 and 4"
            )));
        }
        if self
            .expiry_reminder_days
            .iter()
            .any(|&d| self.password_max_age_days > 0 && d >= self.password_max_age_days)
        {
            return Err(ConfigError::Invalid(format!(
                "password.{kind}.expiry_reminder_days must be shorter than password_max_age_days"
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordConfig {
    pub hash: HashParams,
    /// Concurrent Argon2id computations; 0 = one per core.
    pub hash_concurrency: usize,
    /// A larger list of common or breached passwords (one per line) added to the bundled one.
    pub common_passwords_file: Option<PathBuf>,
    pub staff: KindPasswordConfig,
    pub family: KindPasswordConfig,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        PasswordConfig {
            hash: HashParams::default(),
            hash_concurrency: 0,
            common_passwords_file: None,
            staff: KindPasswordConfig::with_max_age(180),
            family: KindPasswordConfig::with_max_age(0),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailSettings {
    /// The From address of every message.
    pub from: String,
    /// Per-school template overrides: `DIR/SCHOOL_CODE/LANG/TEMPLATE/{subject.txt,body.txt,body.html}`.
    pub template_dir: Option<PathBuf>,
    /// Messages claimed per round by the outbox worker.
    pub batch: i64,
    /// How long a claimed message stays reserved to the node that claimed it;
    /// after a crash another claim delivers it once this has passed.
    pub lease_secs: i64,
    /// After this long a message that could not be delivered is marked failed.
    pub give_up_after_hours: i64,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            from: "Varco <no-reply@varco.invalid>".into(),
            template_dir: None,
            batch: 50,
            lease_secs: 60,
            give_up_after_hours: 24,
        }
    }
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
    pub mail: MailSettings,
    pub lockout: LockoutPolicy,
    pub rate_limits: RateLimits,
    /// The national helpdesk shown on `/help`.
    pub helpdesk: Helpdesk,
    /// The deployment's name (header, mail sender) and footer links.
    pub branding: varco_web::templates::Branding,
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
            mail: MailSettings::default(),
            lockout: LockoutPolicy::default(),
            rate_limits: RateLimits::default(),
            helpdesk: Helpdesk::default(),
            branding: varco_web::templates::Branding::default(),
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
    "mail",
    "lockout",
    "rate_limits",
    "helpdesk",
    "branding",
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
        self.password.staff.check("staff")?;
        self.password.family.check("family")?;
        if let Some(path) = &self.password.common_passwords_file
            && !path.is_file()
        {
            return Err(ConfigError::Invalid(format!(
                "password.common_passwords_file {} does not exist",
                path.display()
            )));
        }
        if let Err(e) = self.password.hash.validate() {
            return Err(ConfigError::Invalid(format!("password hash parameters: {e}")));
        }
        if self.mail.batch < 1 || self.mail.lease_secs < 1 || self.mail.give_up_after_hours < 1 {
            return Err(ConfigError::Invalid(
                "mail.batch, mail.lease_secs and mail.give_up_after_hours must be at least 1".into(),
            ));
        }
        if let Some(url) = &self.smtp_url
            && !(url.starts_with("smtp://") || url.starts_with("smtps://"))
        {
            return Err(ConfigError::Invalid(format!(
                "smtp_url must start with smtp:// or smtps:// (got {:?})",
                redact_url(url)
            )));
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

    /// The use-case settings; reads the optional larger common-password list.
    pub fn app_settings(&self) -> Result<Settings, ConfigError> {
        let mut common = CommonPasswords::bundled();
        if let Some(path) = &self.password.common_passwords_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError::Invalid(format!("password.common_passwords_file {}: {e}", path.display())))?;
            common = common.with_file(&text);
        }
        Ok(Settings {
            public_url: self.public_url.trim_end_matches('/').to_owned(),
            policy: PerKind {
                staff: self.password.staff.policy(),
                family: self.password.family.policy(),
            },
            expiry: PerKind {
                staff: self.password.staff.expiry(),
                family: self.password.family.expiry(),
            },
            common_passwords: common,
            session_idle_secs: self.session.idle_minutes * 60,
            session_absolute_secs: self.session.absolute_hours * 3600,
            lockout: self.lockout,
            hash: self.password.hash,
            hash_concurrency: self.password.hash_concurrency,
            ..Settings::default()
        })
    }

    pub fn mail_config(&self) -> varco_mail::MailConfig {
        varco_mail::MailConfig {
            from: self.branding.mail_from(&self.mail.from),
            smtp_url: self.smtp_url.clone(),
            eml_dir: self.data_dir.join("mail"),
            template_override_dir: self.mail.template_dir.clone(),
            national_helpdesk: varco_mail::Helpdesk {
                name: self.helpdesk.name.clone(),
                email: self.helpdesk.email.clone(),
                phone: self.helpdesk.phone.clone(),
                hours: self.helpdesk.hours.clone(),
            },
            public_url: self.public_url.trim_end_matches('/').to_owned(),
        }
    }

    pub fn worker_settings(&self) -> varco_mail::WorkerSettings {
        varco_mail::WorkerSettings {
            batch: self.mail.batch,
            lease_secs: self.mail.lease_secs,
            give_up_after_secs: self.mail.give_up_after_hours * 3600,
            ..varco_mail::WorkerSettings::default()
        }
    }

    pub fn web_config(&self) -> varco_web::WebConfig {
        varco_web::WebConfig {
            public_url: self.public_url.trim_end_matches('/').to_owned(),
            national_helpdesk: self.helpdesk.clone(),
            rate_limits: self.rate_limits.clone(),
            branding: self.branding.clone(),
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
