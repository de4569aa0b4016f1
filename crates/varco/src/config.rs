//! Configuration: one typed struct, loaded once from an optional TOML file
//! and `VARCO_*` environment variables (the environment wins), then checked.
//!
//! Nested settings use `__` in the environment:
//! `VARCO_RATE_LIMITS__LOGIN_PER_MINUTE=0` sets `[rate_limits] login_per_minute`.
//!
//! A key that Varco does not know, in any section, stops the start (exit 2)
//! with the key named: a misspelt setting is never silently ignored.

mod federation;
mod login;
mod upstream;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::Value;
use serde::{Deserialize, Serialize};
use varco_app::provider::ProviderSettings;
use varco_app::{PerKind, Settings};
use varco_domain::lockout::LockoutPolicy;
use varco_domain::password::{CommonPasswords, ExpiryPolicy, HashParams, PasswordPolicy};
use varco_web::{Helpdesk, RateLimits};

pub use federation::{FederationConfig, TrustAnchorConfig, TrustMarkConfig};
pub use login::{KindLoginConfig, LoginConfig, SchoolLoginConfig};
pub use upstream::UpstreamConfig;

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
///
/// No `deny_unknown_fields`: serde does not support it beside `flatten`
/// (its error would not name the whole key). A misspelt key here is refused
/// by [`Config::load`]'s key check, as in the other nested sections.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct KindPasswordConfig {
    /// The domain's rules, their keys inline in the section (`min_length`,
    /// `min_length_with_second_factor`, `max_length`, `min_strength`,
    /// `history`) and their defaults the domain's.
    #[serde(flatten)]
    pub policy: PasswordPolicy,
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
        KindPasswordConfig {
            policy: PasswordPolicy::default(),
            password_max_age_days: days,
            expiry_reminder_days: vec![14, 7, 1],
        }
    }

    pub fn expiry(&self) -> ExpiryPolicy {
        ExpiryPolicy {
            max_age_days: (self.password_max_age_days > 0).then_some(self.password_max_age_days),
            reminder_days: self.expiry_reminder_days.clone(),
        }
    }

    fn check(&self, kind: &str) -> Result<(), ConfigError> {
        let policy = &self.policy;
        if policy.min_length < 8
            || policy.min_length_with_second_factor < 8
            || policy.max_length < 64
            || policy.min_length > policy.max_length
            || policy.max_length > 256
        {
            return Err(ConfigError::Invalid(format!(
                "password.{kind}: min_length must be at least 8, max_length between 64 and 256 and not below min_length"
            )));
        }
        if policy.min_strength > 4 {
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
    /// The address people type in their browser; empty (the default) means
    /// `http://` + `listen` (see [`Config::effective_public_url`]).
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
    /// Fixed minimum answer time of a refused login, in milliseconds; unset
    /// (the default) measures it from the costliest stored hash.
    pub login_failure_floor_ms: Option<u64>,
    pub rate_limits: RateLimits,
    /// The national helpdesk shown on `/help`.
    pub helpdesk: Helpdesk,
    /// Reverse proxies (CIDRs or addresses) whose `Forwarded` /
    /// `X-Forwarded-For` name the client; in the environment, comma-separated.
    #[serde(deserialize_with = "list_or_commas")]
    pub trusted_proxies: Vec<String>,
    /// The deployment's name (header, mail sender) and footer links.
    pub branding: varco_web::templates::Branding,
    /// Varco as OpenID Connect provider.
    pub oidc: OidcConfig,
    /// Which ways in each kind of account may use (password, SPID/CIE).
    pub login: LoginConfig,
    /// Varco as a SPID/CIE relying party (OpenID Connect Federation); unset:
    /// no federation, `/.well-known/openid-federation` answers 404.
    pub federation: Option<FederationConfig>,
    /// `[[upstream]]`: the SPID/CIE providers people sign in through (file only).
    pub upstream: Vec<UpstreamConfig>,
    /// `[desk]`: the secretariat's console.
    pub desk: DeskConfig,
    /// `[requests]`: public email-change requests.
    pub requests: RequestsConfig,
    /// `[second_secret]`: the PIN and the personal code.
    pub second_secret: SecondSecretConfig,
}

/// `[second_secret]`: the lengths of the PIN (families) and the personal
/// code (staff) Varco generates and accepts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecondSecretConfig {
    /// Digits of a PIN (6 to 16).
    pub pin_length: usize,
    /// Characters of a personal code (8 to 16).
    pub personal_code_length: usize,
}

impl Default for SecondSecretConfig {
    fn default() -> Self {
        SecondSecretConfig {
            pin_length: 6,
            personal_code_length: 8,
        }
    }
}

/// `[desk]`: which accounts a school's desk reaches.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeskConfig {
    /// Staff accounts of any school may be found and recovered from any
    /// school's desk (the national portal's rule); family accounts only by
    /// their own school.
    pub staff_recovery_any_school: bool,
}

impl Default for DeskConfig {
    fn default() -> Self {
        DeskConfig {
            staff_recovery_any_school: true,
        }
    }
}

/// `[requests]`: public email-change requests.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RequestsConfig {
    /// Days after the decision before `varco jobs run retention` deletes a
    /// request's identity document.
    pub retention_days: u32,
}

impl Default for RequestsConfig {
    fn default() -> Self {
        RequestsConfig { retention_days: 30 }
    }
}

/// `[oidc]`: the provider's key-encryption key and token lifetimes.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    /// Base64 of 32 random bytes that seal the signing keys in the
    /// database; empty (the default): the file `oidc-kek` of the data
    /// directory, created (0600) at first start. Nodes sharing a database
    /// must share this key.
    pub key_encryption_key: String,
    pub access_token_minutes: i64,
    pub id_token_minutes: i64,
    pub refresh_token_days: i64,
    /// Absolute lifetime of what a sign-in grants an application.
    pub grant_days: i64,
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field(
                "key_encryption_key",
                &if self.key_encryption_key.is_empty() {
                    ""
                } else {
                    "[set]"
                },
            )
            .field("access_token_minutes", &self.access_token_minutes)
            .field("id_token_minutes", &self.id_token_minutes)
            .field("refresh_token_days", &self.refresh_token_days)
            .field("grant_days", &self.grant_days)
            .finish()
    }
}

impl Default for OidcConfig {
    fn default() -> Self {
        OidcConfig {
            key_encryption_key: String::new(),
            access_token_minutes: 10,
            id_token_minutes: 10,
            refresh_token_days: 14,
            grant_days: 30,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./varco-data"),
            database_url: None,
            database_max_connections: 10,
            listen: "127.0.0.1:8080".into(),
            public_url: String::new(),
            smtp_url: None,
            log_format: LogFormat::Text,
            log_level: "info".into(),
            session: SessionConfig::default(),
            password: PasswordConfig::default(),
            mail: MailSettings::default(),
            lockout: LockoutPolicy::default(),
            login_failure_floor_ms: None,
            rate_limits: RateLimits::default(),
            helpdesk: Helpdesk::default(),
            trusted_proxies: Vec::new(),
            branding: varco_web::templates::Branding::default(),
            oidc: OidcConfig::default(),
            login: LoginConfig::default(),
            federation: None,
            upstream: Vec::new(),
            desk: DeskConfig::default(),
            requests: RequestsConfig::default(),
            second_secret: SecondSecretConfig::default(),
        }
    }
}

/// The top-level keys the environment may set; other `VARCO_*` variables
/// (for example `VARCO_CONFIG` or test settings) are not configuration.
const ENV_KEYS: &[&str] = &[
    "desk",
    "oidc",
    "federation",
    "login",
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
    "login_failure_floor_ms",
    "rate_limits",
    "helpdesk",
    "trusted_proxies",
    "branding",
    "requests",
    "second_secret",
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
        // Top-level typos are refused by `deny_unknown_fields`; nested
        // sections reuse structs of other crates, so compare the key tree.
        let given: Value = figment.extract().map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let known = Value::serialize(&config).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let mut unknown = Vec::new();
        unknown_keys(&given, &known, "", &mut unknown);
        if let Some(key) = unknown.first() {
            return Err(ConfigError::Invalid(format!(
                "unknown key `{key}` (misspelt? see the configuration reference in the README)"
            )));
        }
        config.check()?;
        Ok(config)
    }

    /// The public base URL without a trailing slash: `public_url` when set,
    /// otherwise `http://` + `listen` (an unspecified listen address such as
    /// 0.0.0.0 becomes the loopback address, which a browser on this machine
    /// can open).
    pub fn effective_public_url(&self) -> String {
        let set = self.public_url.trim().trim_end_matches('/');
        if !set.is_empty() {
            return set.to_owned();
        }
        match self.listen.parse::<SocketAddr>() {
            Ok(addr) if addr.ip().is_unspecified() => {
                let loopback: IpAddr = if addr.is_ipv4() {
                    Ipv4Addr::LOCALHOST.into()
                } else {
                    Ipv6Addr::LOCALHOST.into()
                };
                format!("http://{}", SocketAddr::new(loopback, addr.port()))
            }
            Ok(addr) => format!("http://{addr}"),
            Err(_) => format!("http://{}", self.listen),
        }
    }

    /// Whether a reverse proxy is declared in front of Varco (it may map any
    /// public address to the listener).
    fn behind_declared_proxy(&self) -> bool {
        !self.trusted_proxies.is_empty()
    }

    /// A warning when `public_url` is plain http and cannot reach `listen`
    /// (another port, or a host that is not the listener): every form would
    /// then be refused as cross-origin. Not an error, since a proxy may sit in
    /// front; https and declared proxies are never warned about.
    pub fn public_url_warning(&self) -> Option<String> {
        let public = self.effective_public_url();
        let rest = public.strip_prefix("http://")?;
        if self.behind_declared_proxy() {
            return None;
        }
        let listen: SocketAddr = self.listen.parse().ok()?;
        let authority = rest.split('/').next().unwrap_or(rest);
        let (host, port) = split_host_port(authority)?;
        let port = port.unwrap_or(80);
        let mismatch = if listen.port() != 0 && port != listen.port() {
            Some(format!("port {port} is not the listening port {}", listen.port()))
        } else if listen.ip().is_unspecified() {
            None
        } else if listen.ip().is_loopback() {
            (!is_loopback_host(host))
                .then(|| format!("{host} is not this machine, and the server only listens on loopback"))
        } else {
            match host.parse::<IpAddr>() {
                Ok(ip) if ip != listen.ip() => Some(format!("{host} is not the listening address")),
                _ => None,
            }
        };
        mismatch.map(|why| {
            format!(
                "public_url {public} cannot reach the listener {listen} ({why}): browsers will be sent there and \
                 every form will be refused; set VARCO_PUBLIC_URL to the address people open, or put a proxy in front"
            )
        })
    }

    /// Checks what can be checked without touching the outside world.
    pub fn check(&self) -> Result<(), ConfigError> {
        if let Some(federation) = &self.federation {
            federation.settings(&self.effective_public_url())?;
        }
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
        let public = self.effective_public_url();
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
        use varco_domain::second_secret::{MAX_LENGTH, MIN_PERSONAL_CODE_LENGTH, MIN_PIN_LENGTH};
        if !(MIN_PIN_LENGTH..=MAX_LENGTH).contains(&self.second_secret.pin_length) {
            return Err(ConfigError::Invalid(format!(
                "second_secret.pin_length must be from {MIN_PIN_LENGTH} to {MAX_LENGTH} (got {})",
                self.second_secret.pin_length
            )));
        }
        if !(MIN_PERSONAL_CODE_LENGTH..=MAX_LENGTH).contains(&self.second_secret.personal_code_length) {
            return Err(ConfigError::Invalid(format!(
                "second_secret.personal_code_length must be from {MIN_PERSONAL_CODE_LENGTH} to {MAX_LENGTH} (got {})",
                self.second_secret.personal_code_length
            )));
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
        if let Some(url) = self.smtp_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                return Err(ConfigError::Invalid(format!(
                    "smtp_url must start with smtp:// or smtps:// (got {:?})",
                    redact_url(url)
                )));
            }
            // The whole URL, including credentials without TLS to a remote host.
            varco_mail::SmtpSettings::parse(url).map_err(|e| ConfigError::Invalid(format!("smtp_url: {e}")))?;
        }
        self.trusted_proxies()?;
        self.login.policies()?;
        upstream::upstream_settings(&self.upstream)?;
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
        let federation = self
            .federation
            .as_ref()
            .map(|f| f.settings(&self.effective_public_url()))
            .transpose()?;
        let upstream = upstream::upstream_settings(&self.upstream)?;
        upstream::check_federation_links(&upstream, federation.as_ref())?;
        Ok(Settings {
            public_url: self.effective_public_url(),
            policy: PerKind {
                staff: self.password.staff.policy,
                family: self.password.family.policy,
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
            failure_floor_ms: self.login_failure_floor_ms,
            provider: self.provider_settings()?,
            login: self.login.policies()?,
            federation,
            upstream,
            desk: varco_app::desk::DeskSettings {
                staff_recovery_any_school: self.desk.staff_recovery_any_school,
            },
            requests: varco_app::RequestSettings {
                documents_dir: self.data_dir.join("requests"),
                retention_days: i64::from(self.requests.retention_days),
            },
            second_secret: varco_app::SecondSecretSettings {
                pin_length: self.second_secret.pin_length,
                personal_code_length: self.second_secret.personal_code_length,
            },
            ..Settings::default()
        })
    }

    /// The provider's settings: the key-encryption key from configuration
    /// or from the data directory (created there at first use).
    pub fn provider_settings(&self) -> Result<ProviderSettings, ConfigError> {
        let o = &self.oidc;
        for (key, value) in [
            ("oidc.access_token_minutes", o.access_token_minutes),
            ("oidc.id_token_minutes", o.id_token_minutes),
            ("oidc.refresh_token_days", o.refresh_token_days),
            ("oidc.grant_days", o.grant_days),
        ] {
            if value < 1 {
                return Err(ConfigError::Invalid(format!("{key} must be at least 1")));
            }
        }
        let kek = if o.key_encryption_key.trim().is_empty() {
            crate::private_files::create_private_dir(&self.data_dir)
                .map_err(|e| ConfigError::Invalid(format!("data directory {}: {e}", self.data_dir.display())))?;
            varco_oidc::Kek::load_or_create(&self.data_dir)
                .map_err(|e| ConfigError::Invalid(format!("oidc key-encryption key: {e}")))?
        } else {
            varco_oidc::Kek::from_base64(o.key_encryption_key.trim())
                .map_err(|_| ConfigError::Invalid("oidc.key_encryption_key must be the base64 of 32 bytes".into()))?
        };
        Ok(ProviderSettings {
            kek: std::sync::Arc::new(kek),
            access_token_secs: o.access_token_minutes * 60,
            id_token_secs: o.id_token_minutes * 60,
            refresh_token_secs: o.refresh_token_days * 86_400,
            grant_secs: o.grant_days * 86_400,
            ..ProviderSettings::default()
        })
    }

    pub fn mail_config(&self) -> varco_mail::MailConfig {
        varco_mail::MailConfig {
            from: self.branding.mail_from(&self.mail.from),
            smtp_url: self.smtp_url.clone(),
            eml_dir: self.data_dir.join("mail"),
            template_override_dir: self.mail.template_dir.clone(),
            national_helpdesk: self.helpdesk.clone(),
            public_url: self.effective_public_url(),
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

    /// `trusted_proxies` parsed: `10.0.0.0/8`, `2001:db8::/32`, or a single
    /// address (`127.0.0.1` means `127.0.0.1/32`).
    pub fn trusted_proxies(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| {
                        ConfigError::Invalid(format!(
                            "trusted_proxies: {entry:?} is not an address or a CIDR like 10.0.0.0/8 or fd00::/8"
                        ))
                    })
            })
            .collect()
    }

    pub fn web_config(&self) -> varco_web::WebConfig {
        varco_web::WebConfig {
            public_url: self.effective_public_url(),
            national_helpdesk: self.helpdesk.clone(),
            rate_limits: self.rate_limits.clone(),
            // Checked at load; an entry that does not parse was refused there.
            trusted_proxies: self.trusted_proxies().unwrap_or_default(),
            branding: self.branding.clone(),
        }
    }
}

/// A list from TOML (`["10.0.0.0/8", "::1"]`) or a comma-separated string
/// from the environment (`VARCO_TRUSTED_PROXIES=10.0.0.0/8,::1`).
fn list_or_commas<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrCommas {
        List(Vec<String>),
        Commas(String),
    }
    Ok(match ListOrCommas::deserialize(deserializer)? {
        ListOrCommas::List(list) => list,
        ListOrCommas::Commas(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// Collects the keys of `given` that `known` (the parsed configuration,
/// serialized back) does not have: the keys that nothing read.
fn unknown_keys(given: &Value, known: &Value, path: &str, out: &mut Vec<String>) {
    match (given, known) {
        (Value::Dict(_, given), Value::Dict(_, known)) => {
            for (key, value) in given {
                let path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match known.get(key) {
                    Some(known) => unknown_keys(value, known, &path, out),
                    None => out.push(path),
                }
            }
        }
        (Value::Array(_, given), Value::Array(_, known)) => {
            for (i, (given, known)) in given.iter().zip(known).enumerate() {
                unknown_keys(given, known, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// `host[:port]` of an http authority (IPv6 in brackets).
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host, port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host, Some(port.parse().ok()?))),
        None => Some((authority, None)),
    }
}

/// `localhost` (or a name under it) or a loopback address.
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A database or SMTP URL with any password replaced, for messages (one
/// implementation, shared with the mail crate).
pub use varco_mail::redact_url;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_keys_of_a_kind_load_inline_with_the_domain_defaults() {
        let c: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(
                "[password.staff]\nmin_length = 12\nhistory = 2\npassword_max_age_days = 90",
            ))
            .extract()
            .unwrap();
        let defaults = PasswordPolicy::default();
        assert_eq!(
            c.password.staff.policy,
            PasswordPolicy {
                min_length: 12,
                history: 2,
                ..defaults
            }
        );
        assert_eq!(c.password.staff.password_max_age_days, 90);
        assert_eq!(c.password.family.policy, defaults);
        assert_eq!(c.password.family.password_max_age_days, 0);
        // The section's keys are still the flat ones the README lists.
        let known = Value::serialize(Config::default()).unwrap();
        for key in [
            "min_length",
            "min_length_with_second_factor",
            "max_length",
            "min_strength",
            "history",
            "password_max_age_days",
            "expiry_reminder_days",
        ] {
            assert!(known.find_ref(&format!("password.staff.{key}")).is_some(), "{key}");
        }
        let c = Config {
            password: PasswordConfig {
                family: KindPasswordConfig {
                    policy: PasswordPolicy {
                        min_length: 7,
                        ..defaults
                    },
                    ..KindPasswordConfig::default()
                },
                ..PasswordConfig::default()
            },
            ..Config::default()
        };
        let e = c.check().unwrap_err().to_string();
        assert!(e.contains("password.family: min_length"), "{e}");
    }

    #[test]
    fn passwords_in_urls_are_redacted() {
        assert_eq!(redact_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }

    #[test]
    fn trusted_proxies_from_a_list_or_commas() {
        let c: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(r#"trusted_proxies = ["10.0.0.0/8", "::1"]"#))
            .extract()
            .unwrap();
        let nets = c.trusted_proxies().unwrap();
        assert_eq!(nets.len(), 2);
        assert!(nets[0].contains(&"10.2.3.4".parse::<std::net::IpAddr>().unwrap()));
        assert_eq!(nets[1].to_string(), "::1/128");
        let c: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Figment::new().join(("trusted_proxies", "127.0.0.1/32, 192.168.0.0/16")))
            .extract()
            .unwrap();
        assert_eq!(c.trusted_proxies, ["127.0.0.1/32", "192.168.0.0/16"]);
        c.check().unwrap();
    }

    #[test]
    fn a_bad_trusted_proxy_is_refused_by_name() {
        let c = Config {
            trusted_proxies: vec!["10.0.0.0/33".into()],
            ..Config::default()
        };
        let e = c.check().unwrap_err().to_string();
        assert!(e.contains("trusted_proxies") && e.contains("10.0.0.0/33"), "{e}");
    }

    #[test]
    fn defaults_are_valid_and_match_the_contract() {
        let c = Config::default();
        c.check().expect("defaults are valid");
        assert_eq!(c.listen, "127.0.0.1:8080");
        assert_eq!(c.database_url(), "sqlite://./varco-data/varco.db");
        assert_eq!(c.effective_public_url(), "http://127.0.0.1:8080");
        assert_eq!(c.public_url_warning(), None);
    }

    fn with(listen: &str, public_url: &str) -> Config {
        Config {
            listen: listen.into(),
            public_url: public_url.into(),
            ..Config::default()
        }
    }

    #[test]
    fn an_unset_public_url_follows_listen() {
        assert_eq!(
            with("127.0.0.1:9123", "").effective_public_url(),
            "http://127.0.0.1:9123"
        );
        assert_eq!(with("0.0.0.0:9000", "").effective_public_url(), "http://127.0.0.1:9000");
        assert_eq!(with("[::]:9000", "").effective_public_url(), "http://[::1]:9000");
        assert_eq!(
            with("127.0.0.1:9123", "https://accesso.scuola.it/").effective_public_url(),
            "https://accesso.scuola.it"
        );
        assert_eq!(
            with("127.0.0.1:9123", "").web_config().public_url,
            "http://127.0.0.1:9123"
        );
        assert_eq!(
            with("127.0.0.1:9123", "").mail_config().public_url,
            "http://127.0.0.1:9123"
        );
    }

    #[test]
    fn a_public_url_that_cannot_reach_the_listener_is_warned_about() {
        let warned = |listen: &str, public: &str| with(listen, public).public_url_warning();
        let w = warned("127.0.0.1:9123", "http://127.0.0.1:8080").expect("another port");
        assert!(
            w.contains("http://127.0.0.1:8080") && w.contains("127.0.0.1:9123"),
            "{w}"
        );
        assert!(warned("127.0.0.1:8080", "http://accesso.scuola.it:8080").is_some());
        assert!(warned("127.0.0.1:80", "http://accesso.scuola.it").is_some());
        assert!(warned("192.168.1.5:8080", "http://192.168.1.6:8080").is_some());
        // Reachable, or a proxy's business.
        assert_eq!(warned("127.0.0.1:8080", "http://localhost:8080"), None);
        assert_eq!(warned("[::1]:8080", "http://[::1]:8080/"), None);
        assert_eq!(warned("0.0.0.0:8080", "http://accesso.scuola.it:8080"), None);
        assert_eq!(warned("192.168.1.5:8080", "http://accesso.scuola.it:8080"), None);
        assert_eq!(warned("127.0.0.1:9123", "https://accesso.scuola.it"), None);
        assert_eq!(warned("127.0.0.1:9123", ""), None);
        assert_eq!(
            warned("127.0.0.1:0", "http://127.0.0.1:8080"),
            None,
            "port 0 is picked at start"
        );
    }

    #[test]
    fn unknown_keys_are_found_in_every_section() {
        let known = Value::serialize(Config::default()).unwrap();
        for (toml, key) in [
            ("lisen = \"x\"", "lisen"),
            ("[lockout]\nlock_aftr = 3", "lockout.lock_aftr"),
            ("[rate_limits]\nlogin_per_minut = 3", "rate_limits.login_per_minut"),
            ("[helpdesk]\nphon = \"1\"", "helpdesk.phon"),
            ("[password.hash]\nmemory = 1", "password.hash.memory"),
            ("[password.staff]\nmin_lenght = 9", "password.staff.min_lenght"),
            ("[session]\nidle = 9", "session.idle"),
            ("[mail]\nfrom_name = \"x\"", "mail.from_name"),
        ] {
            let given: Value = Figment::from(Serialized::defaults(Config::default()))
                .merge(Toml::string(toml))
                .extract()
                .unwrap();
            let mut unknown = Vec::new();
            unknown_keys(&given, &known, "", &mut unknown);
            assert_eq!(unknown, [key], "{toml}");
        }
    }
}
