//! The command line (clap). Results go to stdout, messages to stderr; the exit
//! code is 0 on success, 1 on a failed command, 2 on bad usage or configuration.
//! Admin commands go through `varco_app`, so they leave audit records too.

mod admin;
mod client_try;
mod import;
mod oidc;
mod server_cmd;
mod student_import;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "varco",
    version,
    about = "Varco: identity, credentials and account recovery for Italian schools."
)]
pub struct Cli {
    /// TOML configuration file; VARCO_* environment variables override it.
    #[arg(long, global = true, env = "VARCO_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Write logs as JSON lines (default: human-readable text).
    #[arg(long, global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (HTML pages, JSON API).
    Serve,
    /// Apply pending database migrations (idempotent).
    Migrate,
    /// Manage schools.
    #[command(subcommand)]
    School(SchoolCommand),
    /// Manage accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Grant or revoke roles.
    #[command(subcommand)]
    Role(RoleCommand),
    /// Import a school's roster from a CSV file (accounts wait for activation).
    Import(ImportArgs),
    /// Print credential events, newest first.
    Audit(AuditArgs),
    /// Inspect and retry queued email.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Run periodic jobs now.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Register the schools' applications as OpenID Connect clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// The provider's signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The SPID/CIE transaction log (kept at least 24 months, hash-chained).
    #[command(subcommand)]
    FederationLog(FederationLogCommand),
    /// Fill an empty database with a demo school and one account per role,
    /// printing their user codes and freshly drawn passwords.
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Then start Varco and, next to it, the example register
    /// (`registro`, built beside `varco`: `cargo build --release --workspace`)
    /// on http://127.0.0.1:8081; Ctrl-C stops both. On a database the demo
    /// already filled, starts them again.
    #[arg(long)]
    pub start: bool,
}

#[derive(Debug, Subcommand)]
pub enum SchoolCommand {
    /// Add a school.
    Add(SchoolAddArgs),
    /// List schools.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct SchoolAddArgs {
    /// Codice meccanografico, e.g. RMIC81200X.
    #[arg(long)]
    pub code: String,
    #[arg(long)]
    pub name: String,
    /// Institutional email address.
    #[arg(long)]
    pub email: Option<String>,
    /// Helpdesk email shown on /help (default: the institutional email).
    #[arg(long)]
    pub helpdesk_email: Option<String>,
    #[arg(long)]
    pub helpdesk_phone: Option<String>,
    /// Opening hours, e.g. "lun-ven 10-13, lun-mer 15-17".
    #[arg(long)]
    pub helpdesk_hours: Option<String>,
    /// The town (comune) the school is in; /help finds the school by it.
    #[arg(long, value_name = "TOWN")]
    pub town: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    Staff,
    Family,
}

impl From<KindArg> for varco_domain::account::AccountKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Staff => varco_domain::account::AccountKind::Staff,
            KindArg::Family => varco_domain::account::AccountKind::Family,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Desk,
    Admin,
}

impl From<RoleArg> for varco_domain::account::Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Desk => varco_domain::account::Role::Desk,
            RoleArg::Admin => varco_domain::account::Role::Admin,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account; prints its user code alone on stdout.
    Add(AccountAddArgs),
    /// List accounts.
    List {
        /// Only this school's accounts.
        #[arg(long)]
        school: Option<String>,
        #[arg(long, value_enum)]
        kind: Option<KindArg>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long, default_value_t = 0)]
        offset: i64,
        #[arg(long)]
        json: bool,
    },
    /// Show one account.
    Show {
        user_code: String,
        #[arg(long)]
        json: bool,
    },
    /// Disable an account and end all its sessions.
    Disable { user_code: String },
    /// Enable a disabled account.
    Enable { user_code: String },
    /// Email a new activation link to an account that waits for activation.
    ResendActivation { user_code: String },
    /// Force a password change at the next login (current sessions are
    /// restricted to changing the password too).
    RequirePasswordChange { user_code: String },
    /// Lift a login lock and forget the account's failed logins (audited).
    /// Check who is asking first: the owner can also reset by email.
    Unlock { user_code: String },
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List messages, newest first.
    List {
        /// Only the messages that gave up after their retries.
        #[arg(long)]
        failed: bool,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Queue a failed message again, due now.
    Retry { id: i64 },
    /// Queue a test message to ADDRESS, to check the mail settings; the
    /// running server delivers it (see `outbox list`).
    Test {
        #[arg(long)]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Run one job now.
    Run {
        #[arg(value_enum)]
        job: JobArg,
    },
}

/// The periodic jobs that can be run by hand.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum JobArg {
    /// Email the accounts whose password expires soon.
    ExpiryReminders,
    /// Delete the identity documents of email-change requests decided more
    /// than `[requests] retention_days` ago.
    Retention,
    /// Disable the accounts a year-end roster import left out whose date
    /// has come (the server does it every hour).
    ScheduledDisables,
}

#[derive(Debug, Args)]
pub struct AccountAddArgs {
    /// The school's code.
    #[arg(long)]
    pub school: String,
    #[arg(long, value_enum)]
    pub kind: KindArg,
    #[arg(long)]
    pub first_name: String,
    #[arg(long)]
    pub last_name: String,
    /// Codice fiscale (spaces and case do not matter).
    #[arg(long)]
    pub tax_code: String,
    #[arg(long)]
    pub email: String,
    #[arg(long)]
    pub username: Option<String>,
    /// Read the first password from standard input (one line). Without it the
    /// account waits for activation.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Grant a role.
    Grant(RoleArgs),
    /// Revoke a role.
    Revoke(RoleArgs),
}

#[derive(Debug, Args)]
pub struct RoleArgs {
    /// The account's user code.
    #[arg(long)]
    pub account: String,
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// The school a desk role is scoped to.
    #[arg(long)]
    pub school: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The school the roster belongs to.
    #[arg(long)]
    pub school: String,
    /// The CSV file (header: tax_code;first_name;last_name;kind;email;username).
    pub file: PathBuf,
    /// Import the valid rows even when some rows are invalid.
    #[arg(long)]
    pub skip_invalid: bool,
    /// The kind for rows without a kind column.
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
    /// Do not email activation links to the new accounts (send them later
    /// with `account resend-activation`).
    #[arg(long)]
    pub no_activation_email: bool,
    /// Print what would change (rows that create or change an account and,
    /// in year-end mode, the accounts to disable) and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The new school year's roster: the school's accounts of the kinds in
    /// the file that it leaves out are disabled from --disable-on. Needs a
    /// file without invalid rows, and the --confirm code of a dry run.
    #[arg(long, requires = "disable_on")]
    pub year_end: bool,
    /// Year-end mode: the day (YYYY-MM-DD, today or later, Italian time)
    /// from which the accounts left out are disabled.
    #[arg(long, value_name = "YYYY-MM-DD", requires = "year_end")]
    pub disable_on: Option<jiff::civil::Date>,
    /// Year-end mode: the code the dry run printed for the same accounts.
    #[arg(long, value_name = "CODE", requires = "year_end")]
    pub confirm: Option<String>,
    /// FILE is a students roster (header:
    /// tax_code;first_name;last_name;school_order;class_name;building;guardian1_tax_code;…),
    /// linking students to the school's family accounts.
    #[arg(long, conflicts_with_all = ["kind", "no_activation_email", "dry_run", "year_end"])]
    pub students: bool,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only events about this account (user code).
    #[arg(long)]
    pub account: Option<String>,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
}

pub use admin::run;

#[derive(Debug, Subcommand)]
pub enum FederationLogCommand {
    /// Print records oldest first (tab-separated, or JSON lines).
    List {
        /// Only records after this position.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// At most this many records.
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check the hash chain from the first record; exits 1 when it is broken.
    Verify {
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client. Prints its client_id and, for a confidential
    /// client, its secret on a second line (shown only here).
    Add(ClientAddArgs),
    /// List the registered clients.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a client and everything it holds (tokens, consents).
    Remove { client_id: String },
    /// A new secret for a confidential client (printed); the old one stops working.
    RotateSecret { client_id: String },
    /// Play a public client on this machine to try a whole sign-in: prints an
    /// address to open in a browser, waits for the browser to come back to
    /// http://127.0.0.1:PORT/callback, checks everything and prints the
    /// verified claims (never the tokens).
    Try(ClientTryArgs),
}

#[derive(Debug, Args)]
pub struct ClientTryArgs {
    /// A public client whose redirect URIs include http://127.0.0.1:PORT/callback
    /// (`varco demo` registers one).
    pub client_id: String,
    /// The loopback port to listen on for the browser's return.
    #[arg(long, default_value_t = varco_app::setup::DEMO_CLIENT_PORT)]
    pub port: u16,
    /// How long to wait for the browser (tests shorten it).
    #[arg(long, default_value_t = 300, hide = true, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout_secs: u64,
}

#[derive(Debug, Args)]
pub struct ClientAddArgs {
    /// The name people see on the consent page and on /account.
    #[arg(long)]
    pub name: String,
    /// A redirect URI (exact match; repeat for several).
    #[arg(long = "redirect-uri", required = true)]
    pub redirect_uris: Vec<String>,
    /// Where the client may send people after logout (repeatable).
    #[arg(long = "post-logout-redirect-uri")]
    pub post_logout_redirect_uris: Vec<String>,
    /// A public client (single-page or mobile app): PKCE only, no secret.
    #[arg(long, conflicts_with = "jwks")]
    pub public: bool,
    /// A first-party client of the school: no consent page.
    #[arg(long)]
    pub first_party: bool,
    /// A school whose accounts it may sign in (repeatable; default: every school).
    #[arg(long = "school")]
    pub schools: Vec<String>,
    /// An allowed scope (repeatable; default: every scope).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Sign its ID tokens with ES256 instead of RS256.
    #[arg(long)]
    pub es256: bool,
    /// Give it pairwise subjects (its `sub` differs from other clients').
    #[arg(long)]
    pub pairwise: bool,
    /// Its back-channel logout URI.
    #[arg(long)]
    pub backchannel_logout_uri: Option<String>,
    /// A file with its public JWK Set: it authenticates with private_key_jwt.
    #[arg(long)]
    pub jwks: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// New signing keys (RS256 and ES256); the previous ones stay published
    /// until what they signed has expired.
    Rotate,
}
