//! First run and the demo.
//!
//! Varco ships with no account and no password. When no admin exists, the
//! server issues a one-time setup link (1 hour, single use, only its hash
//! stored) whose page creates the first school and the first admin. A newer
//! link kills older ones.
//!
//! `varco demo` fills an *empty* database with a demo school and one account
//! per role, with freshly drawn random passwords (the only place where Varco
//! ever prints a password), and registers a public demo client on a fixed
//! loopback port that `varco client try` plays, and a confidential
//! first-party client for the example register (`examples/registro`).

use rand::Rng;
use rand::rngs::OsRng;
use serde::Serialize;
use varco_domain::account::{AccountKind, AccountStatus, Role};
use varco_domain::audit::{GuardianshipChange, SecondSecretStep};
use varco_domain::email::{EmailAddress, EmailError};
use varco_domain::password::{PasswordInput, PasswordInputError, PolicyContext, PolicyRefusal};
use varco_domain::person::{PersonName, PersonNameError, Username, UsernameError};
use varco_domain::school_code::{SchoolCode, SchoolCodeError};
use varco_domain::student::SchoolOrder;
use varco_domain::tax_code::{TaxCode, TaxCodeError};
use varco_domain::token::{SecretToken, TokenPurpose};
use varco_oidc::Alg;
use varco_store::{NewStudent, NewToken};

use crate::audit::{self, AccountOrigin, AuditEvent, Target};
use crate::client_registration::{ClientKind, ClientRegistration, register_in};
use crate::guardianship::{Guardian, link_in};
use crate::policy::check_policy;
use crate::registration::{AddAccount, AddSchool, School, add_in, insert_valid};
use crate::second_secret;
use crate::views::{AccountView, view};
use crate::{Actor, App, AppError, RequestContext};

/// True while the deployment has no usable admin.
pub async fn needs_setup(app: &App) -> Result<bool, AppError> {
    let mut tx = app.store.begin_read().await?;
    let admins = tx.count_admins().await?;
    tx.commit().await?;
    Ok(admins == 0)
}

/// Issues a new setup link token, spending any older one.
pub async fn issue_setup_token(app: &App) -> Result<SecretToken, AppError> {
    let token = SecretToken::generate(&mut OsRng);
    let now = app.now();
    let purpose = TokenPurpose::Setup;
    let mut tx = app.store.begin().await?;
    tx.spend_tokens_of_purpose(purpose, None, now).await?;
    tx.insert_token(&NewToken {
        token_hash: token.hash().as_str(),
        purpose,
        account_id: None,
        now,
        expires_at: now.plus_secs(purpose.default_lifetime_secs()),
        recipient_hash: None,
    })
    .await?;
    audit::record(
        &mut tx,
        now,
        &Actor::System,
        &RequestContext::default(),
        Target::Nobody,
        AuditEvent::SetupLinkIssued,
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// Whether a setup token is live (for showing the form or an error page).
pub async fn setup_token_is_live(app: &App, token: &str) -> Result<bool, AppError> {
    match SecretToken::from_user(token) {
        Some(token) => token_is_live(app, &token).await,
        None => Ok(false),
    }
}

/// A read-only look at the token: cheap, so that a dead token is refused
/// before any validation, policy check or hashing.
async fn token_is_live(app: &App, token: &SecretToken) -> Result<bool, AppError> {
    let mut tx = app.store.begin_read().await?;
    let live = tx
        .live_token(token.hash().as_str(), TokenPurpose::Setup, app.now())
        .await?;
    tx.commit().await?;
    Ok(live.is_some())
}

/// The first school and the first admin, from the setup page.
#[derive(Debug, Clone)]
pub struct FirstAdmin {
    pub school: AddSchool,
    pub admin: AddAccount,
}

/// A field of the setup form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupField {
    SchoolCode,
    SchoolName,
    SchoolEmail,
    FirstName,
    LastName,
    TaxCode,
    Email,
    Username,
    Password,
    PasswordConfirm,
}

impl SetupField {
    /// The form field's name.
    pub fn name(self) -> &'static str {
        match self {
            SetupField::SchoolCode => "school_code",
            SetupField::SchoolName => "school_name",
            SetupField::SchoolEmail => "school_email",
            SetupField::FirstName => "first_name",
            SetupField::LastName => "last_name",
            SetupField::TaxCode => "tax_code",
            SetupField::Email => "email",
            SetupField::Username => "username",
            SetupField::Password => "password",
            SetupField::PasswordConfirm => "password_confirm",
        }
    }
}

/// Why one field of the setup form is refused, typed so that the page can
/// say it in the visitor's language.
#[derive(Debug, Clone, PartialEq)]
pub enum SetupProblem {
    Required,
    SchoolCode(SchoolCodeError),
    /// Longer than `max` characters, or with control characters.
    Text {
        max: usize,
    },
    Email(EmailError),
    Name(PersonNameError),
    TaxCode(TaxCodeError),
    Username(UsernameError),
    PasswordInput(PasswordInputError),
    PasswordMismatch,
    Policy(PolicyRefusal),
}

/// One refused field.
#[derive(Debug, Clone, PartialEq)]
pub struct SetupFieldError {
    pub field: SetupField,
    pub problem: SetupProblem,
}

/// Longest school name, in characters (as `schools::add`).
const SCHOOL_NAME_MAX: usize = 200;

/// Checks every field of the setup form at once, without touching the
/// database: all the problems come back together, so that the person fixes
/// them in one go. On success, the password ready for [`complete_setup`].
pub fn check_first_admin(
    app: &App,
    input: &FirstAdmin,
    password: &str,
    password_confirm: &str,
) -> Result<PasswordInput, Vec<SetupFieldError>> {
    let mut errors = Vec::new();
    let mut refuse = |field: SetupField, problem: SetupProblem| errors.push(SetupFieldError { field, problem });
    let blank = |v: &str| v.trim().is_empty();

    if blank(&input.school.code) {
        refuse(SetupField::SchoolCode, SetupProblem::Required);
    } else if let Err(e) = SchoolCode::parse(&input.school.code) {
        refuse(SetupField::SchoolCode, SetupProblem::SchoolCode(e));
    }
    let name = input.school.name.trim();
    if name.is_empty() {
        refuse(SetupField::SchoolName, SetupProblem::Required);
    } else if name.chars().count() > SCHOOL_NAME_MAX || name.chars().any(char::is_control) {
        refuse(SetupField::SchoolName, SetupProblem::Text { max: SCHOOL_NAME_MAX });
    }
    if let Some(email) = input.school.email.as_deref().filter(|e| !blank(e))
        && let Err(e) = EmailAddress::parse(email.trim())
    {
        refuse(SetupField::SchoolEmail, SetupProblem::Email(e));
    }
    let admin = &input.admin;
    for (field, value) in [
        (SetupField::FirstName, &admin.first_name),
        (SetupField::LastName, &admin.last_name),
    ] {
        match PersonName::parse(value) {
            Err(PersonNameError::Empty) => refuse(field, SetupProblem::Required),
            Err(e) => refuse(field, SetupProblem::Name(e)),
            Ok(_) => {}
        }
    }
    match TaxCode::parse(&admin.tax_code) {
        Err(TaxCodeError::Empty) => refuse(SetupField::TaxCode, SetupProblem::Required),
        Err(e) => refuse(SetupField::TaxCode, SetupProblem::TaxCode(e)),
        Ok(_) => {}
    }
    match admin.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        None => refuse(SetupField::Email, SetupProblem::Required),
        Some(email) => {
            if let Err(e) = EmailAddress::parse(email) {
                refuse(SetupField::Email, SetupProblem::Email(e));
            }
        }
    }
    if let Some(username) = admin.username.as_deref().map(str::trim).filter(|u| !u.is_empty())
        && let Err(e) = Username::parse(username)
    {
        refuse(SetupField::Username, SetupProblem::Username(e));
    }

    let checked = match PasswordInput::new(password) {
        Err(PasswordInputError::Empty) => {
            refuse(SetupField::Password, SetupProblem::Required);
            None
        }
        Err(e) => {
            refuse(SetupField::Password, SetupProblem::PasswordInput(e));
            None
        }
        Ok(p) => Some(p),
    };
    if password_confirm.is_empty() {
        refuse(SetupField::PasswordConfirm, SetupProblem::Required);
    } else if checked.is_some() && password != password_confirm {
        refuse(SetupField::PasswordConfirm, SetupProblem::PasswordMismatch);
    }
    if let Some(p) = &checked {
        // The person's own words, as typed (validated or not), are refused
        // inside the password like at every other password step.
        let words: Vec<&str> = [
            admin.first_name.as_str(),
            admin.last_name.as_str(),
            admin.tax_code.as_str(),
            input.school.name.as_str(),
            admin.email.as_deref().unwrap_or(""),
            admin.username.as_deref().unwrap_or(""),
        ]
        .into_iter()
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .collect();
        let policy = app.settings.policy.get(AccountKind::Staff);
        if let Err(refusal) = policy.check(
            p,
            &PolicyContext {
                words: &words,
                common: &app.settings.common_passwords,
                has_second_factor: false,
            },
        ) {
            refuse(SetupField::Password, SetupProblem::Policy(refusal));
        }
    }
    match checked {
        Some(p) if errors.is_empty() => Ok(p),
        _ => Err(errors),
    }
}

pub async fn complete_setup(
    app: &App,
    token: &str,
    input: &FirstAdmin,
    password: PasswordInput,
    ctx: &RequestContext,
) -> Result<AccountView, AppError> {
    let token = SecretToken::from_user(token).ok_or(AppError::InvalidToken)?;
    if !token_is_live(app, &token).await? {
        return Err(AppError::InvalidToken);
    }
    let valid = input.admin.validate()?;
    let context = valid.context_words(&input.school.name);
    let refs: Vec<&str> = context.iter().map(String::as_str).collect();
    check_policy(app, valid.kind, &refs, &password)?;
    let hash = app.hashing.hash(password).await?;

    let now = app.now();
    let mut tx = app.store.begin().await?;
    let live = tx
        .live_token(token.hash().as_str(), TokenPurpose::Setup, now)
        .await?
        .ok_or(AppError::InvalidToken)?;
    if !tx.spend_token(live.id, now).await? || tx.count_admins().await? > 0 {
        return Err(AppError::InvalidToken);
    }
    let actor = Actor::System;
    let school = add_in(&mut tx, app, &actor, ctx, &input.school).await?;
    let school = tx
        .school_by_code(&school.code)
        .await?
        .ok_or(AppError::NotFound("school"))?;
    let (id, user_code) = insert_valid(&mut tx, school.id, &valid, AccountStatus::Active, Some(&hash), now.0).await?;
    tx.grant_role(id, Role::Admin, None, now).await?;
    let first_admin = [
        AuditEvent::AccountCreated(AccountOrigin::FirstAdmin),
        AuditEvent::RoleGranted {
            role: Role::Admin,
            school: None,
        },
    ];
    for event in first_admin {
        audit::record(
            &mut tx,
            now,
            &actor,
            ctx,
            Target::account(id, user_code.as_str()),
            event,
        )
        .await?;
    }
    let record = tx.account_by_id(id).await?.ok_or(AppError::NotFound("account"))?;
    let roles = tx.roles_of(id).await?;
    tx.commit().await?;
    Ok(view(app, &record, &roles))
}

/// One demo account and its freshly drawn password.
#[derive(Debug, Clone, Serialize)]
pub struct DemoAccount {
    pub label: &'static str,
    pub user_code: String,
    pub username: String,
    pub email: String,
    pub password: String,
    /// The account's PIN (family) or personal code (staff), also emailed.
    pub second_secret: String,
}

/// A demo student, child of the demo family account.
#[derive(Debug, Clone, Serialize)]
pub struct DemoStudent {
    pub first_name: String,
    pub last_name: String,
    pub class_name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    pub school: School,
    pub accounts: Vec<DemoAccount>,
    /// The children of the demo family account (whose absences the example
    /// register shows).
    pub students: Vec<DemoStudent>,
    /// The demo relying party ([`DEMO_CLIENT_NAME`]), for `varco client try`.
    pub client_id: String,
    /// The example register's client ([`REGISTER_CLIENT_NAME`]).
    pub register_client_id: String,
    /// Its secret, shown this once (the CLI writes it to a private file).
    #[serde(skip)]
    pub register_client_secret: String,
}

/// The name of the demo's relying party, as people see it.
pub const DEMO_CLIENT_NAME: &str = "Applicazione di prova";

/// The loopback port of the demo client's redirect URI, and the port
/// `varco client try` listens on by default.
pub const DEMO_CLIENT_PORT: u16 = 8765;

/// The name of the example register's client (`examples/registro`).
pub const REGISTER_CLIENT_NAME: &str = "Registro elettronico (esempio)";

/// The loopback port the example register listens on by default.
pub const REGISTER_PORT: u16 = 8081;

/// The scopes the example register asks for.
pub const REGISTER_SCOPES: [&str; 4] = ["openid", "profile", "school", "students"];

/// The redirect URI of a relying party on the loopback `port`:
/// `http://127.0.0.1:<port>/callback`.
pub fn loopback_redirect_uri(port: u16) -> String {
    format!("http://127.0.0.1:{port}/callback")
}

/// Where a relying party on the loopback `port` asks to be sent after
/// logout: `http://127.0.0.1:<port>/`.
pub fn loopback_post_logout_uri(port: u16) -> String {
    format!("http://127.0.0.1:{port}/")
}

/// The demo's first-party public client (PKCE only) on [`DEMO_CLIENT_PORT`].
fn demo_client() -> ClientRegistration {
    ClientRegistration {
        name: DEMO_CLIENT_NAME.into(),
        kind: ClientKind::Public,
        redirect_uris: vec![loopback_redirect_uri(DEMO_CLIENT_PORT)],
        post_logout_redirect_uris: vec![loopback_post_logout_uri(DEMO_CLIENT_PORT)],
        scopes: Vec::new(),
        schools: Vec::new(),
        first_party: true,
        id_token_alg: Alg::Rs256,
        pairwise: false,
        backchannel_logout_uri: None,
        jwks: None,
    }
}

/// The example register's confidential first-party client on
/// [`REGISTER_PORT`], with [`REGISTER_SCOPES`] (those this Varco knows).
fn register_client() -> ClientRegistration {
    ClientRegistration {
        name: REGISTER_CLIENT_NAME.into(),
        kind: ClientKind::Confidential,
        redirect_uris: vec![loopback_redirect_uri(REGISTER_PORT)],
        post_logout_redirect_uris: Vec::new(),
        scopes: REGISTER_SCOPES
            .iter()
            .filter(|s| crate::provider::SCOPES.contains(s))
            .map(|s| (*s).to_owned())
            .collect(),
        schools: Vec::new(),
        first_party: true,
        id_token_alg: Alg::Rs256,
        pairwise: false,
        backchannel_logout_uri: None,
        jwks: None,
    }
}

/// A random password that a person can type: 4 groups of 5 unambiguous
/// characters (about 100 bits).
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = OsRng;
    (0..4)
        .map(|_| {
            (0..5)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Completes a 15-character tax code with its check character.
pub fn complete_tax_code(first15: &str) -> Option<TaxCode> {
    TaxCode::complete(first15)
}

/// label, kind, first name, last name, first 15 tax-code characters, username, role.
type DemoPerson = (
    &'static str,
    AccountKind,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<Role>,
);

pub async fn demo(app: &App) -> Result<DemoReport, AppError> {
    let mut tx = app.store.begin_read().await?;
    let empty = tx.count_accounts().await? == 0 && tx.list_schools().await?.is_empty();
    tx.commit().await?;
    if !empty {
        return Err(AppError::conflict(
            "the demo only fills an empty database; this one already has schools or accounts",
        ));
    }
    let school_input = AddSchool {
        code: "DEMO000001".into(),
        name: "Istituto Comprensivo Demo".into(),
        email: Some("segreteria@demo.scuola.example".into()),
        helpdesk_email: Some("assistenza@demo.scuola.example".into()),
        helpdesk_phone: Some("+39 06 0000 0000".into()),
        helpdesk_hours: Some("lun-ven 10-13, lun-mer 15-17".into()),
        town: Some("Roma".into()),
    };
    let people: [DemoPerson; 4] = [
        (
            "admin",
            AccountKind::Staff,
            "Anna",
            "Amministratrice",
            "MMNNNA80A41H501",
            "admin",
            Some(Role::Admin),
        ),
        (
            "desk",
            AccountKind::Staff,
            "Sergio",
            "Segreteria",
            "SGRSRG75B12H501",
            "segreteria",
            Some(Role::Desk),
        ),
        (
            "staff",
            AccountKind::Staff,
            "Maria",
            "Docente",
            "DCNMRA82C43H501",
            "docente",
            None,
        ),
        (
            "family",
            AccountKind::Family,
            "Giulia",
            "Genitore",
            "GNTGLI85D44H501",
            "genitore",
            None,
        ),
    ];
    let mut drafts = Vec::new();
    for (label, kind, first, last, cf15, username, role) in people {
        let tax_code = complete_tax_code(cf15).ok_or_else(|| AppError::internal(format!("demo tax code {cf15}")))?;
        let input = AddAccount {
            school_code: school_input.code.clone(),
            kind,
            first_name: first.into(),
            last_name: last.into(),
            tax_code: tax_code.to_string(),
            email: Some(format!("{username}@demo.scuola.example")),
            username: Some(format!("demo.{username}")),
        };
        let password = random_password();
        let hash = app
            .hashing
            .hash(PasswordInput::new(&password).map_err(|e| AppError::internal_because("demo password", e))?)
            .await?;
        let secret = second_secret::prepare(app, kind).await?;
        drafts.push((label, input.validate()?, role, password, hash, secret));
    }
    let now = app.now();
    let actor = Actor::Cli;
    let ctx = RequestContext::default();
    let mut tx = app.store.begin().await?;
    let school = add_in(&mut tx, app, &actor, &ctx, &school_input).await?;
    let school_id = tx
        .school_by_code(&school.code)
        .await?
        .ok_or(AppError::NotFound("school"))?
        .id;
    let mut accounts = Vec::new();
    let mut students = Vec::new();
    for (label, valid, role, password, hash, secret) in drafts {
        let (id, user_code) =
            insert_valid(&mut tx, school_id, &valid, AccountStatus::Active, Some(&hash), now.0).await?;
        tx.set_email_verified(id).await?;
        audit::record(
            &mut tx,
            now,
            &actor,
            &ctx,
            Target::account(id, user_code.as_str()),
            AuditEvent::AccountCreated(AccountOrigin::Demo),
        )
        .await?;
        if let Some(role) = role {
            let scope = (role == Role::Desk).then_some(school_id);
            tx.grant_role(id, role, scope, now).await?;
            audit::record(
                &mut tx,
                now,
                &actor,
                &ctx,
                Target::account(id, user_code.as_str()),
                AuditEvent::RoleGranted { role, school: None },
            )
            .await?;
        }
        let record = tx.account_by_id(id).await?.ok_or(AppError::NotFound("account"))?;
        let second_secret = secret.code().to_owned();
        second_secret::store_in(&mut tx, app, &record, secret, SecondSecretStep::Issued, &actor, &ctx).await?;
        if valid.kind == AccountKind::Family {
            students = add_demo_children(&mut tx, app, &actor, &ctx, school_id, &record).await?;
        }
        accounts.push(DemoAccount {
            label,
            user_code: user_code.to_string(),
            username: valid.username.map(|u| u.to_string()).unwrap_or_default(),
            email: valid.email.map(|e| e.to_string()).unwrap_or_default(),
            password,
            second_secret,
        });
    }
    let client = register_in(&mut tx, now, demo_client(), &actor).await?;
    let register = register_in(&mut tx, now, register_client(), &actor).await?;
    tx.commit().await?;
    app.mail_queued();
    Ok(DemoReport {
        school,
        accounts,
        students,
        client_id: client.client_id,
        register_client_id: register.client_id,
        register_client_secret: register
            .secret
            .ok_or_else(|| AppError::internal("a confidential client without a secret"))?,
    })
}

/// The demo family account's two children, linked to it as their guardian
/// (audited like a desk link).
async fn add_demo_children(
    tx: &mut varco_store::Tx,
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    school_id: varco_domain::SchoolId,
    guardian: &varco_store::AccountRecord,
) -> Result<Vec<DemoStudent>, AppError> {
    let now = app.now();
    let children = [
        ("Luca", "GNTLCU15E10H501", SchoolOrder::Primary, "4A"),
        ("Sara", "GNTSRA12H50H501", SchoolOrder::LowerSecondary, "2B"),
    ];
    let mut added = Vec::new();
    for (first, cf15, order, class) in children {
        let tax_code = complete_tax_code(cf15).ok_or_else(|| AppError::internal(format!("demo tax code {cf15}")))?;
        let student_id = tx
            .insert_student(&NewStudent {
                public_id: &varco_oidc::secret::new_token(),
                school_id,
                tax_code: tax_code.as_str(),
                first_name: first,
                last_name: &guardian.last_name,
                school_order: order,
                class_name: class,
                building: None,
                now: now.0,
            })
            .await?;
        let who = Guardian {
            id: guardian.id,
            user_code: Some(guardian.user_code.as_str()),
        };
        link_in(tx, now, actor, ctx, student_id, who, GuardianshipChange::Operator).await?;
        added.push(DemoStudent {
            first_name: first.to_owned(),
            last_name: guardian.last_name.clone(),
            class_name: class.to_owned(),
        });
    }
    Ok(added)
}
