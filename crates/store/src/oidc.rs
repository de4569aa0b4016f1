//! The OpenID Connect provider's tables: registered clients, signing keys,
//! authorization codes, grants with their refresh and access tokens,
//! consents, and the stable opaque subject of an account.
//!
//! Codes and tokens are stored only as their SHA-256. Spending a code and
//! rotating a refresh token are each a single conditional UPDATE (`... WHERE
//! used_at IS NULL RETURNING ...`), so of two concurrent uses exactly one
//! wins, on both engines; the loser is then told apart from an unknown value
//! by a plain SELECT. Lists (redirect URIs, scopes, schools, amr) are stored
//! as JSON arrays of strings and come back as `Vec<String>`.

use sqlx::Row;
use sqlx::any::AnyRow;
use varco_domain::AccountId;
use varco_domain::clock::Timestamp;

use varco_domain::SchoolId;
use varco_domain::account::Role;

use crate::{AccountRecord, Backend, RoleGrant, StoreError, Tx};

/// How long an expired or revoked grant is kept (for reuse detection and
/// for telling a client why a token stopped working) before
/// [`Tx::purge_oidc`] deletes it.
pub const OIDC_GRANT_RETENTION_SECS: i64 = 30 * 24 * 60 * 60;

/// A registered relying party, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    /// The random public identifier of the client.
    pub client_id: String,
    /// The name shown to people (consent page, list of applications).
    pub name: String,
    /// A public client has no secret and relies on PKCE alone.
    pub public: bool,
    /// `none`, `client_secret_basic`, `client_secret_post` or `private_key_jwt`.
    pub auth_method: String,
    /// SHA-256 (hex) of the client secret; `None` for public and
    /// `private_key_jwt` clients.
    pub secret_hash: Option<String>,
    /// The client's public JWK Set as JSON text (`private_key_jwt`).
    pub jwks: Option<String>,
    /// Redirect URIs, matched exactly.
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser afterwards.
    pub post_logout_redirect_uris: Vec<String>,
    /// The scopes the client may ask for.
    pub scopes: Vec<String>,
    /// Codes of the schools whose people may use the client; `None` means every school.
    pub schools: Option<Vec<String>>,
    /// A first-party client gets no consent page.
    pub first_party: bool,
    /// The algorithm of its ID tokens: `RS256` or `ES256`.
    pub id_token_alg: String,
    /// Whether the client sees a pairwise `sub` rather than the account's subject.
    pub pairwise: bool,
    /// Where back-channel logout tokens are posted, if anywhere.
    pub backchannel_logout_uri: Option<String>,
    /// When the client was registered.
    pub created_at: Timestamp,
    /// When its secret was last replaced, if ever.
    pub secret_rotated_at: Option<Timestamp>,
}

/// A client to register; see [`ClientRecord`] for the meaning of each field.
#[derive(Debug, Clone)]
pub struct NewClient<'a> {
    /// The random public identifier of the client.
    pub client_id: &'a str,
    /// The name shown to people.
    pub name: &'a str,
    /// A public client has no secret and relies on PKCE alone.
    pub public: bool,
    /// `none`, `client_secret_basic`, `client_secret_post` or `private_key_jwt`.
    pub auth_method: &'a str,
    /// SHA-256 (hex) of the client secret, if it has one.
    pub secret_hash: Option<&'a str>,
    /// The client's public JWK Set as JSON text (`private_key_jwt`).
    pub jwks: Option<&'a str>,
    /// Redirect URIs, matched exactly.
    pub redirect_uris: &'a [String],
    /// Where RP-initiated logout may send the browser afterwards.
    pub post_logout_redirect_uris: &'a [String],
    /// The scopes the client may ask for.
    pub scopes: &'a [String],
    /// School codes the client serves; `None` means every school.
    pub schools: Option<&'a [String]>,
    /// A first-party client gets no consent page.
    pub first_party: bool,
    /// `RS256` or `ES256`.
    pub id_token_alg: &'a str,
    /// Whether the client sees a pairwise `sub`.
    pub pairwise: bool,
    /// Where back-channel logout tokens are posted, if anywhere.
    pub backchannel_logout_uri: Option<&'a str>,
    /// The registration time.
    pub now: Timestamp,
}

/// A signing key: the private half sealed (encrypted with the key-encryption
/// key kept outside the database), the public half as a JWK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The key id, as in the `kid` header of what it signs.
    pub kid: String,
    /// `RS256` or `ES256`.
    pub alg: String,
    /// The private JWK, sealed (JWE compact serialization).
    pub sealed_private: String,
    /// The public JWK as JSON text.
    pub public_jwk: String,
    /// When the key was made.
    pub created_at: Timestamp,
    /// When the key stopped signing; `None` while it is active.
    pub retired_at: Option<Timestamp>,
    /// Until when the key stays in the JWKS; `None` means for as long as it exists.
    pub publish_until: Option<Timestamp>,
}

/// An authorization code to store (it is unused and has no grant yet).
#[derive(Debug, Clone)]
pub struct NewCode<'a> {
    /// SHA-256 of the code.
    pub code_hash: &'a str,
    /// The client it was issued to.
    pub client_id: &'a str,
    /// The person who signed in.
    pub account_id: AccountId,
    /// The sign-in session it came from.
    pub sid: &'a str,
    /// The redirect URI of the request, to be repeated at the token endpoint.
    pub redirect_uri: &'a str,
    /// The granted scopes, space-separated.
    pub scope: &'a str,
    /// The client's `nonce`, echoed in the ID token.
    pub nonce: Option<&'a str>,
    /// The PKCE S256 challenge.
    pub code_challenge: &'a str,
    /// When the person actually authenticated.
    pub auth_time: Timestamp,
    /// The authentication context class reached.
    pub acr: &'a str,
    /// The authentication methods used.
    pub amr: &'a [String],
    /// When the code was issued.
    pub now: Timestamp,
    /// When the code stops being accepted.
    pub expires_at: Timestamp,
}

/// An authorization code as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRecord {
    /// SHA-256 of the code.
    pub code_hash: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The person who signed in.
    pub account_id: AccountId,
    /// The sign-in session it came from.
    pub sid: String,
    /// The redirect URI of the authorization request.
    pub redirect_uri: String,
    /// The granted scopes, space-separated.
    pub scope: String,
    /// The client's `nonce`.
    pub nonce: Option<String>,
    /// The PKCE S256 challenge.
    pub code_challenge: String,
    /// When the person actually authenticated.
    pub auth_time: Timestamp,
    /// The authentication context class reached.
    pub acr: String,
    /// The authentication methods used.
    pub amr: Vec<String>,
    /// When the code was issued.
    pub created_at: Timestamp,
    /// When the code stops being accepted.
    pub expires_at: Timestamp,
    /// When the code was spent, if it was.
    pub used_at: Option<Timestamp>,
    /// The grant the code produced, once recorded with [`Tx::set_oidc_code_grant`].
    pub grant_id: Option<i64>,
}

/// What [`Tx::spend_oidc_code`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeSpend {
    /// This caller spent the code, which was unused and unexpired; the record
    /// shows it spent.
    Fresh(CodeRecord),
    /// The code had been spent before; its `grant_id` tells what it produced
    /// (to be revoked).
    Replayed(CodeRecord),
    /// No such code, or an unused code past its expiry (left unspent).
    Unknown,
}

/// A grant to store: what a person allowed a client from one sign-in.
#[derive(Debug, Clone)]
pub struct NewGrant<'a> {
    /// The client.
    pub client_id: &'a str,
    /// The person.
    pub account_id: AccountId,
    /// The sign-in session it came from.
    pub sid: &'a str,
    /// The granted scopes, space-separated.
    pub scope: &'a str,
    /// When the person actually authenticated.
    pub auth_time: Timestamp,
    /// The authentication context class reached.
    pub acr: &'a str,
    /// The authentication methods used.
    pub amr: &'a [String],
    /// The `nonce` of the authorization request.
    pub nonce: Option<&'a str>,
    /// Creation time (also the first `last_used_at`).
    pub now: Timestamp,
    /// The grant's absolute end, whatever refreshing happens.
    pub expires_at: Timestamp,
}

/// A grant as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    /// The grant's id.
    pub id: i64,
    /// The client.
    pub client_id: String,
    /// The person.
    pub account_id: AccountId,
    /// The sign-in session it came from.
    pub sid: String,
    /// The granted scopes, space-separated.
    pub scope: String,
    /// When the person actually authenticated.
    pub auth_time: Timestamp,
    /// The authentication context class reached.
    pub acr: String,
    /// The authentication methods used.
    pub amr: Vec<String>,
    /// The `nonce` of the authorization request.
    pub nonce: Option<String>,
    /// When the grant was made.
    pub created_at: Timestamp,
    /// The grant's absolute end.
    pub expires_at: Timestamp,
    /// When a token of the grant was last issued or used.
    pub last_used_at: Timestamp,
    /// When the grant was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// Why it was revoked (`logout`, `code_replay`, `refresh_reuse`, ...).
    pub revoked_reason: Option<String>,
}

impl GrantRecord {
    /// Not revoked and not past its absolute end.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.0 > now.0
    }
}

/// What [`Tx::rotate_oidc_refresh_token`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshUse {
    /// This caller used the token, which was unused, unexpired and of a live
    /// grant; the next token should have generation `generation + 1`.
    Fresh {
        /// The grant the token belongs to.
        grant_id: i64,
        /// The generation of the token just used.
        generation: i64,
        /// When the token just used would have expired.
        expires_at: Timestamp,
    },
    /// The token had been used before: a rotated token presented again.
    Reused {
        /// The grant the token belongs to.
        grant_id: i64,
    },
    /// No such token, or an unused one that expired or whose grant is no
    /// longer live (left unused).
    Unknown,
}

pub(crate) fn to_json(list: &[String]) -> String {
    serde_json::Value::from(list.to_vec()).to_string()
}

pub(crate) fn from_json(what: &str, text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what} is not a JSON list of strings: {e}")))
}

const CLIENT_COLUMNS: &str = "client_id, name, public, auth_method, secret_hash, jwks, redirect_uris, \
     post_logout_redirect_uris, scopes, schools, first_party, id_token_alg, pairwise, backchannel_logout_uri, \
     created_at, secret_rotated_at";

/// A row of `oidc_clients` as stored; private, so that callers only ever see
/// a [`ClientRecord`] whose lists parsed.
struct DbClient {
    client_id: String,
    name: String,
    public: i64,
    auth_method: String,
    secret_hash: Option<String>,
    jwks: Option<String>,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    scopes: String,
    schools: Option<String>,
    first_party: i64,
    id_token_alg: String,
    pairwise: i64,
    backchannel_logout_uri: Option<String>,
    created_at: i64,
    secret_rotated_at: Option<i64>,
}

impl TryFrom<&AnyRow> for DbClient {
    type Error = sqlx::Error;

    fn try_from(row: &AnyRow) -> Result<DbClient, sqlx::Error> {
        Ok(DbClient {
            client_id: row.try_get("client_id")?,
            name: row.try_get("name")?,
            public: row.try_get("public")?,
            auth_method: row.try_get("auth_method")?,
            secret_hash: row.try_get("secret_hash")?,
            jwks: row.try_get("jwks")?,
            redirect_uris: row.try_get("redirect_uris")?,
            post_logout_redirect_uris: row.try_get("post_logout_redirect_uris")?,
            scopes: row.try_get("scopes")?,
            schools: row.try_get("schools")?,
            first_party: row.try_get("first_party")?,
            id_token_alg: row.try_get("id_token_alg")?,
            pairwise: row.try_get("pairwise")?,
            backchannel_logout_uri: row.try_get("backchannel_logout_uri")?,
            created_at: row.try_get("created_at")?,
            secret_rotated_at: row.try_get("secret_rotated_at")?,
        })
    }
}

impl TryFrom<DbClient> for ClientRecord {
    type Error = StoreError;

    fn try_from(db: DbClient) -> Result<ClientRecord, StoreError> {
        Ok(ClientRecord {
            redirect_uris: from_json("client redirect_uris", &db.redirect_uris)?,
            post_logout_redirect_uris: from_json("client post_logout_redirect_uris", &db.post_logout_redirect_uris)?,
            scopes: from_json("client scopes", &db.scopes)?,
            schools: db
                .schools
                .as_deref()
                .map(|s| from_json("client schools", s))
                .transpose()?,
            client_id: db.client_id,
            name: db.name,
            public: db.public != 0,
            auth_method: db.auth_method,
            secret_hash: db.secret_hash,
            jwks: db.jwks,
            first_party: db.first_party != 0,
            id_token_alg: db.id_token_alg,
            pairwise: db.pairwise != 0,
            backchannel_logout_uri: db.backchannel_logout_uri,
            created_at: Timestamp(db.created_at),
            secret_rotated_at: db.secret_rotated_at.map(Timestamp),
        })
    }
}

fn client_from_row(row: &AnyRow) -> Result<ClientRecord, StoreError> {
    ClientRecord::try_from(DbClient::try_from(row)?)
}

const KEY_COLUMNS: &str = "kid, alg, sealed_private, public_jwk, created_at, retired_at, publish_until";

/// A row of `oidc_keys` as stored.
struct DbKey {
    kid: String,
    alg: String,
    sealed_private: String,
    public_jwk: String,
    created_at: i64,
    retired_at: Option<i64>,
    publish_until: Option<i64>,
}

impl TryFrom<&AnyRow> for DbKey {
    type Error = sqlx::Error;

    fn try_from(row: &AnyRow) -> Result<DbKey, sqlx::Error> {
        Ok(DbKey {
            kid: row.try_get("kid")?,
            alg: row.try_get("alg")?,
            sealed_private: row.try_get("sealed_private")?,
            public_jwk: row.try_get("public_jwk")?,
            created_at: row.try_get("created_at")?,
            retired_at: row.try_get("retired_at")?,
            publish_until: row.try_get("publish_until")?,
        })
    }
}

impl From<DbKey> for KeyRecord {
    fn from(db: DbKey) -> KeyRecord {
        KeyRecord {
            kid: db.kid,
            alg: db.alg,
            sealed_private: db.sealed_private,
            public_jwk: db.public_jwk,
            created_at: Timestamp(db.created_at),
            retired_at: db.retired_at.map(Timestamp),
            publish_until: db.publish_until.map(Timestamp),
        }
    }
}

pub(crate) fn key_from_row(row: &AnyRow) -> Result<KeyRecord, StoreError> {
    Ok(KeyRecord::from(DbKey::try_from(row)?))
}

const CODE_COLUMNS: &str = "code_hash, client_id, account_id, sid, redirect_uri, scope, nonce, code_challenge, \
     auth_time, acr, amr, created_at, expires_at, used_at, grant_id";

/// A row of `oidc_codes` as stored.
struct DbCode {
    code_hash: String,
    client_id: String,
    account_id: i64,
    sid: String,
    redirect_uri: String,
    scope: String,
    nonce: Option<String>,
    code_challenge: String,
    auth_time: i64,
    acr: String,
    amr: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    grant_id: Option<i64>,
}

impl TryFrom<&AnyRow> for DbCode {
    type Error = sqlx::Error;

    fn try_from(row: &AnyRow) -> Result<DbCode, sqlx::Error> {
        Ok(DbCode {
            code_hash: row.try_get("code_hash")?,
            client_id: row.try_get("client_id")?,
            account_id: row.try_get("account_id")?,
            sid: row.try_get("sid")?,
            redirect_uri: row.try_get("redirect_uri")?,
            scope: row.try_get("scope")?,
            nonce: row.try_get("nonce")?,
            code_challenge: row.try_get("code_challenge")?,
            auth_time: row.try_get("auth_time")?,
            acr: row.try_get("acr")?,
            amr: row.try_get("amr")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            used_at: row.try_get("used_at")?,
            grant_id: row.try_get("grant_id")?,
        })
    }
}

impl TryFrom<DbCode> for CodeRecord {
    type Error = StoreError;

    fn try_from(db: DbCode) -> Result<CodeRecord, StoreError> {
        Ok(CodeRecord {
            amr: from_json("code amr", &db.amr)?,
            code_hash: db.code_hash,
            client_id: db.client_id,
            account_id: AccountId(db.account_id),
            sid: db.sid,
            redirect_uri: db.redirect_uri,
            scope: db.scope,
            nonce: db.nonce,
            code_challenge: db.code_challenge,
            auth_time: Timestamp(db.auth_time),
            acr: db.acr,
            created_at: Timestamp(db.created_at),
            expires_at: Timestamp(db.expires_at),
            used_at: db.used_at.map(Timestamp),
            grant_id: db.grant_id,
        })
    }
}

fn code_from_row(row: &AnyRow) -> Result<CodeRecord, StoreError> {
    CodeRecord::try_from(DbCode::try_from(row)?)
}

const GRANT_COLUMNS: &str = "id, client_id, account_id, sid, scope, auth_time, acr, amr, nonce, created_at, \
     expires_at, last_used_at, revoked_at, revoked_reason";

/// [`GRANT_COLUMNS`] qualified by the alias `g`, for joins.
const GRANT_COLUMNS_G: &str = "g.id, g.client_id, g.account_id, g.sid, g.scope, g.auth_time, g.acr, g.amr, \
     g.nonce, g.created_at, g.expires_at, g.last_used_at, g.revoked_at, g.revoked_reason";

/// A row of `oidc_grants` as stored.
struct DbGrant {
    id: i64,
    client_id: String,
    account_id: i64,
    sid: String,
    scope: String,
    auth_time: i64,
    acr: String,
    amr: String,
    nonce: Option<String>,
    created_at: i64,
    expires_at: i64,
    last_used_at: i64,
    revoked_at: Option<i64>,
    revoked_reason: Option<String>,
}

/// The names [`DbGrant`] reads, in [`GRANT_COLUMNS`] order.
const GRANT_NAMES: [&str; 14] = [
    "id",
    "client_id",
    "account_id",
    "sid",
    "scope",
    "auth_time",
    "acr",
    "amr",
    "nonce",
    "created_at",
    "expires_at",
    "last_used_at",
    "revoked_at",
    "revoked_reason",
];

/// The same names with the `g_` prefix that [`GRANT_COLUMNS_AS_G`] gives
/// them, so a grant can be read from a row that also holds an account.
const GRANT_NAMES_G: [&str; 14] = [
    "g_id",
    "g_client_id",
    "g_account_id",
    "g_sid",
    "g_scope",
    "g_auth_time",
    "g_acr",
    "g_amr",
    "g_nonce",
    "g_created_at",
    "g_expires_at",
    "g_last_used_at",
    "g_revoked_at",
    "g_revoked_reason",
];

/// [`GRANT_COLUMNS`] of the alias `g`, renamed to [`GRANT_NAMES_G`].
const GRANT_COLUMNS_AS_G: &str = "g.id AS g_id, g.client_id AS g_client_id, g.account_id AS g_account_id, \
     g.sid AS g_sid, g.scope AS g_scope, g.auth_time AS g_auth_time, g.acr AS g_acr, g.amr AS g_amr, \
     g.nonce AS g_nonce, g.created_at AS g_created_at, g.expires_at AS g_expires_at, \
     g.last_used_at AS g_last_used_at, g.revoked_at AS g_revoked_at, g.revoked_reason AS g_revoked_reason";

impl DbGrant {
    fn read(row: &AnyRow, n: &[&str; 14]) -> Result<DbGrant, sqlx::Error> {
        Ok(DbGrant {
            id: row.try_get(n[0])?,
            client_id: row.try_get(n[1])?,
            account_id: row.try_get(n[2])?,
            sid: row.try_get(n[3])?,
            scope: row.try_get(n[4])?,
            auth_time: row.try_get(n[5])?,
            acr: row.try_get(n[6])?,
            amr: row.try_get(n[7])?,
            nonce: row.try_get(n[8])?,
            created_at: row.try_get(n[9])?,
            expires_at: row.try_get(n[10])?,
            last_used_at: row.try_get(n[11])?,
            revoked_at: row.try_get(n[12])?,
            revoked_reason: row.try_get(n[13])?,
        })
    }
}

impl TryFrom<DbGrant> for GrantRecord {
    type Error = StoreError;

    fn try_from(db: DbGrant) -> Result<GrantRecord, StoreError> {
        Ok(GrantRecord {
            amr: from_json("grant amr", &db.amr)?,
            id: db.id,
            client_id: db.client_id,
            account_id: AccountId(db.account_id),
            sid: db.sid,
            scope: db.scope,
            auth_time: Timestamp(db.auth_time),
            acr: db.acr,
            nonce: db.nonce,
            created_at: Timestamp(db.created_at),
            expires_at: Timestamp(db.expires_at),
            last_used_at: Timestamp(db.last_used_at),
            revoked_at: db.revoked_at.map(Timestamp),
            revoked_reason: db.revoked_reason,
        })
    }
}

fn grant_from_row(row: &AnyRow) -> Result<GrantRecord, StoreError> {
    GrantRecord::try_from(DbGrant::read(row, &GRANT_NAMES)?)
}

/// A grant and its account read from one joined row.
fn grant_and_account_from_row(row: &AnyRow) -> Result<(GrantRecord, AccountRecord), StoreError> {
    let grant = GrantRecord::try_from(DbGrant::read(row, &GRANT_NAMES_G)?)?;
    Ok((grant, crate::accounts::from_row(row)?))
}

/// What a live access token stands for: its grant, the account, and
/// whether its client sees pairwise subjects (read in one statement).
#[derive(Debug, Clone)]
pub struct BearerRecord {
    /// The token's grant (live).
    pub grant: GrantRecord,
    /// The grant's account, whatever its status (the caller checks it).
    pub account: AccountRecord,
    /// Whether the grant's client sees a pairwise `sub`.
    pub client_pairwise: bool,
    /// The account's roles, as [`Tx::roles_of`] lists them.
    pub roles: Vec<RoleGrant>,
}

/// Reads the roles packed by [`Tx::oidc_bearer`], in [`Tx::roles_of`]'s order.
fn unpack_roles(packed: &str) -> Result<Vec<RoleGrant>, StoreError> {
    let mut roles = packed
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut parts = p.splitn(3, ':');
            let (role, school_id, code) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            Ok(RoleGrant {
                role: Role::parse(role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
                school_id: match school_id {
                    "" => None,
                    id => Some(SchoolId(
                        id.parse()
                            .map_err(|_| StoreError::Corrupt(format!("role school {id:?}")))?,
                    )),
                },
                school_code: (!code.is_empty()).then(|| code.to_owned()),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    roles.sort_by(|a, b| (a.role.as_str(), &a.school_code).cmp(&(b.role.as_str(), &b.school_code)));
    Ok(roles)
}

/// Clients.
impl Tx {
    /// Registers a client; an id already taken is [`StoreError::Conflict`].
    pub async fn insert_oidc_client(&mut self, c: &NewClient<'_>) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO oidc_clients ({CLIENT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, NULL)"
        ))
        .bind(c.client_id)
        .bind(c.name)
        .bind(i64::from(c.public))
        .bind(c.auth_method)
        .bind(c.secret_hash)
        .bind(c.jwks)
        .bind(to_json(c.redirect_uris))
        .bind(to_json(c.post_logout_redirect_uris))
        .bind(to_json(c.scopes))
        .bind(c.schools.map(to_json))
        .bind(i64::from(c.first_party))
        .bind(c.id_token_alg)
        .bind(i64::from(c.pairwise))
        .bind(c.backchannel_logout_uri)
        .bind(c.now.0)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The client with this id, if registered.
    pub async fn oidc_client(&mut self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM oidc_clients WHERE client_id = $1"
        ))
        .bind(client_id)
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(client_from_row).transpose()
    }

    /// Every registered client, by name then id.
    pub async fn oidc_clients(&mut self) -> Result<Vec<ClientRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM oidc_clients ORDER BY name, client_id"
        ))
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(client_from_row).collect()
    }

    /// Removes a client with its codes, grants, tokens and consents (deleted
    /// explicitly, not left to the foreign keys); false if it was unknown.
    pub async fn remove_oidc_client(&mut self, client_id: &str) -> Result<bool, StoreError> {
        for sql in [
            "DELETE FROM oidc_access_tokens WHERE grant_id IN (SELECT id FROM oidc_grants WHERE client_id = $1)",
            "DELETE FROM oidc_refresh_tokens WHERE grant_id IN (SELECT id FROM oidc_grants WHERE client_id = $1)",
            "DELETE FROM oidc_codes WHERE client_id = $1",
            "DELETE FROM oidc_grants WHERE client_id = $1",
            "DELETE FROM oidc_consents WHERE client_id = $1",
            "DELETE FROM oidc_assertions WHERE client_id = $1",
        ] {
            sqlx::query(sql).bind(client_id).execute(self.conn()).await?;
        }
        let r = sqlx::query("DELETE FROM oidc_clients WHERE client_id = $1")
            .bind(client_id)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Remembers the `jti` of a client assertion until it expires; false
    /// when the client already used it (a replay). One conditional INSERT,
    /// so two parallel uses cannot both pass.
    pub async fn remember_oidc_assertion(
        &mut self,
        client_id: &str,
        jti: &str,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "INSERT INTO oidc_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (client_id, jti) DO NOTHING",
        )
        .bind(client_id)
        .bind(jti)
        .bind(expires_at.0)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Replaces a client's secret hash and notes when; false if the client is unknown.
    pub async fn set_oidc_client_secret(
        &mut self,
        client_id: &str,
        secret_hash: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE oidc_clients SET secret_hash = $2, secret_rotated_at = $3 WHERE client_id = $1")
            .bind(client_id)
            .bind(secret_hash)
            .bind(now.0)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() > 0)
    }
}

/// Signing keys.
impl Tx {
    /// Stores a signing key as given; a `kid` already taken is [`StoreError::Conflict`].
    pub async fn insert_oidc_key(&mut self, k: &KeyRecord) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO oidc_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(k.kid.as_str())
        .bind(k.alg.as_str())
        .bind(k.sealed_private.as_str())
        .bind(k.public_jwk.as_str())
        .bind(k.created_at.0)
        .bind(k.retired_at.map(|t| t.0))
        .bind(k.publish_until.map(|t| t.0))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Every key still published (`publish_until` unset or after `now`),
    /// newest first; the active ones are those with no `retired_at`.
    pub async fn oidc_keys(&mut self, now: Timestamp) -> Result<Vec<KeyRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM oidc_keys WHERE publish_until IS NULL OR publish_until > $1 \
             ORDER BY created_at DESC, kid DESC"
        ))
        .bind(now.0)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(key_from_row).collect()
    }

    /// Retires every active key (`retired_at = now`), keeping it published
    /// until `publish_until`; returns how many were retired.
    pub async fn retire_oidc_keys(&mut self, now: Timestamp, publish_until: Timestamp) -> Result<u64, StoreError> {
        let r = sqlx::query("UPDATE oidc_keys SET retired_at = $1, publish_until = $2 WHERE retired_at IS NULL")
            .bind(now.0)
            .bind(publish_until.0)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected())
    }
}

/// Authorization codes.
impl Tx {
    /// Stores an authorization code; a hash already taken is [`StoreError::Conflict`].
    pub async fn insert_oidc_code(&mut self, c: &NewCode<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oidc_codes (code_hash, client_id, account_id, sid, redirect_uri, scope, nonce, \
             code_challenge, auth_time, acr, amr, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(c.code_hash)
        .bind(c.client_id)
        .bind(c.account_id.0)
        .bind(c.sid)
        .bind(c.redirect_uri)
        .bind(c.scope)
        .bind(c.nonce)
        .bind(c.code_challenge)
        .bind(c.auth_time.0)
        .bind(c.acr)
        .bind(to_json(c.amr))
        .bind(c.now.0)
        .bind(c.expires_at.0)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Spends a code with one conditional UPDATE (unused and unexpired), so of
    /// concurrent spends exactly one gets [`CodeSpend::Fresh`]; the others,
    /// and every later spend, get [`CodeSpend::Replayed`].
    pub async fn spend_oidc_code(&mut self, code_hash: &str, now: Timestamp) -> Result<CodeSpend, StoreError> {
        let spent = sqlx::query(&format!(
            "UPDATE oidc_codes SET used_at = $2 \
             WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING {CODE_COLUMNS}"
        ))
        .bind(code_hash)
        .bind(now.0)
        .fetch_optional(self.conn())
        .await?;
        if let Some(row) = spent {
            return Ok(CodeSpend::Fresh(code_from_row(&row)?));
        }
        let row = sqlx::query(&format!("SELECT {CODE_COLUMNS} FROM oidc_codes WHERE code_hash = $1"))
            .bind(code_hash)
            .fetch_optional(self.conn())
            .await?;
        match row.as_ref().map(code_from_row).transpose()? {
            Some(code) if code.used_at.is_some() => Ok(CodeSpend::Replayed(code)),
            _ => Ok(CodeSpend::Unknown),
        }
    }

    /// Records the grant a spent code produced (so that a replay can revoke it).
    pub async fn set_oidc_code_grant(&mut self, code_hash: &str, grant_id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE oidc_codes SET grant_id = $2 WHERE code_hash = $1")
            .bind(code_hash)
            .bind(grant_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

/// Grants.
impl Tx {
    /// Stores a grant and returns its id.
    pub async fn insert_oidc_grant(&mut self, g: &NewGrant<'_>) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO oidc_grants (client_id, account_id, sid, scope, auth_time, acr, amr, nonce, \
             created_at, expires_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9) RETURNING id",
        )
        .bind(g.client_id)
        .bind(g.account_id.0)
        .bind(g.sid)
        .bind(g.scope)
        .bind(g.auth_time.0)
        .bind(g.acr)
        .bind(to_json(g.amr))
        .bind(g.nonce)
        .bind(g.now.0)
        .bind(g.expires_at.0)
        .fetch_one(self.conn())
        .await?)
    }

    /// The grant of a refresh token (used or not, live or not) with its
    /// account, in one statement: what a refresh checks before it takes
    /// the write lock.
    pub async fn oidc_refresh_grant_with_account(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<(GrantRecord, AccountRecord)>, StoreError> {
        let row = sqlx::query(
            concat!(
                "SELECT ",
                crate::accounts::account_columns!(),
                ", {GRANTS} FROM oidc_refresh_tokens r JOIN oidc_grants g ON g.id = r.grant_id \
                 JOIN accounts a ON a.id = g.account_id JOIN schools s ON s.id = a.school_id \
                 WHERE r.token_hash = $1"
            )
            .replace("{GRANTS}", GRANT_COLUMNS_AS_G)
            .as_str(),
        )
        .bind(token_hash)
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(grant_and_account_from_row).transpose()
    }

    /// The grant with this id whatever its state.
    pub async fn oidc_grant(&mut self, id: i64) -> Result<Option<GrantRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {GRANT_COLUMNS} FROM oidc_grants WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(grant_from_row).transpose()
    }

    /// Revokes a grant that is not revoked yet and deletes its access tokens
    /// (its refresh tokens stay, so that a rotated one presented again is
    /// still recognized as reuse); true only if it was revoked just now.
    pub async fn revoke_oidc_grant(&mut self, id: i64, now: Timestamp, reason: &str) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE oidc_grants SET revoked_at = $2, revoked_reason = $3 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now.0)
        .bind(reason)
        .execute(self.conn())
        .await?;
        sqlx::query("DELETE FROM oidc_access_tokens WHERE grant_id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Revokes every not yet revoked grant matching all the given filters
    /// (account, client, sign-in session) and deletes their access tokens;
    /// returns the grants revoked just now, by id. With no filter at all it
    /// revokes nothing and returns an empty list.
    pub async fn revoke_oidc_grants_where(
        &mut self,
        account_id: Option<AccountId>,
        client_id: Option<&str>,
        sid: Option<&str>,
        now: Timestamp,
        reason: &str,
    ) -> Result<Vec<GrantRecord>, StoreError> {
        // Only the filters given, so that the indexes on each column serve.
        let mut conditions = Vec::new();
        if account_id.is_some() {
            conditions.push(format!("account_id = ${}", conditions.len() + 3));
        }
        if client_id.is_some() {
            conditions.push(format!("client_id = ${}", conditions.len() + 3));
        }
        if sid.is_some() {
            conditions.push(format!("sid = ${}", conditions.len() + 3));
        }
        if conditions.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "UPDATE oidc_grants SET revoked_at = $1, revoked_reason = $2 WHERE revoked_at IS NULL AND {} \
             RETURNING {GRANT_COLUMNS}",
            conditions.join(" AND ")
        );
        let mut query = sqlx::query(&sql).bind(now.0).bind(reason);
        if let Some(account_id) = account_id {
            query = query.bind(account_id.0);
        }
        if let Some(client_id) = client_id {
            query = query.bind(client_id);
        }
        if let Some(sid) = sid {
            query = query.bind(sid);
        }
        let rows = query.fetch_all(self.conn()).await?;
        let mut revoked = rows.iter().map(grant_from_row).collect::<Result<Vec<_>, _>>()?;
        revoked.sort_by_key(|g| g.id);
        for grant in &revoked {
            sqlx::query("DELETE FROM oidc_access_tokens WHERE grant_id = $1")
                .bind(grant.id)
                .execute(self.conn())
                .await?;
        }
        Ok(revoked)
    }

    /// The live grants (not revoked, not expired) of an account, newest first.
    pub async fn oidc_grants_of_account(
        &mut self,
        account_id: AccountId,
        now: Timestamp,
    ) -> Result<Vec<GrantRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM oidc_grants \
             WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC, id DESC"
        ))
        .bind(account_id.0)
        .bind(now.0)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(grant_from_row).collect()
    }

    /// Notes that a grant was just used (`last_used_at`).
    pub async fn touch_oidc_grant(&mut self, id: i64, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query("UPDATE oidc_grants SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now.0)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

/// Refresh and access tokens.
impl Tx {
    /// Stores a refresh token of a grant; a hash already taken is [`StoreError::Conflict`].
    pub async fn insert_oidc_refresh_token(
        &mut self,
        token_hash: &str,
        grant_id: i64,
        generation: i64,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oidc_refresh_tokens (token_hash, grant_id, generation, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(grant_id)
        .bind(generation)
        .bind(now.0)
        .bind(expires_at.0)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Uses a refresh token with one conditional UPDATE (unused, unexpired,
    /// grant live), so of concurrent uses exactly one gets
    /// [`RefreshUse::Fresh`]; the others, and every later use, get
    /// [`RefreshUse::Reused`]. The caller stores the next token itself.
    pub async fn rotate_oidc_refresh_token(
        &mut self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<RefreshUse, StoreError> {
        let used = sqlx::query(
            "UPDATE oidc_refresh_tokens SET used_at = $2 \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
             AND EXISTS (SELECT 1 FROM oidc_grants g WHERE g.id = oidc_refresh_tokens.grant_id \
                         AND g.revoked_at IS NULL AND g.expires_at > $2) \
             RETURNING grant_id, generation, expires_at",
        )
        .bind(token_hash)
        .bind(now.0)
        .fetch_optional(self.conn())
        .await?;
        if let Some(row) = used {
            return Ok(RefreshUse::Fresh {
                grant_id: row.try_get("grant_id")?,
                generation: row.try_get("generation")?,
                expires_at: Timestamp(row.try_get("expires_at")?),
            });
        }
        let row = sqlx::query("SELECT grant_id, used_at FROM oidc_refresh_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(self.conn())
            .await?;
        let Some(row) = row else {
            return Ok(RefreshUse::Unknown);
        };
        if row.try_get::<Option<i64>, _>("used_at")?.is_some() {
            Ok(RefreshUse::Reused {
                grant_id: row.try_get("grant_id")?,
            })
        } else {
            Ok(RefreshUse::Unknown)
        }
    }

    /// Stores an access token of a grant; a hash already taken is [`StoreError::Conflict`].
    pub async fn insert_oidc_access_token(
        &mut self,
        token_hash: &str,
        grant_id: i64,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oidc_access_tokens (token_hash, grant_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(grant_id)
        .bind(now.0)
        .bind(expires_at.0)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The grant of an access token, if the token is unexpired and the grant
    /// is live (not revoked, not expired).
    pub async fn oidc_access_token(
        &mut self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<GrantRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS_G} FROM oidc_access_tokens t JOIN oidc_grants g ON g.id = t.grant_id \
             WHERE t.token_hash = $1 AND t.expires_at > $2 AND g.revoked_at IS NULL AND g.expires_at > $2"
        ))
        .bind(token_hash)
        .bind(now.0)
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(grant_from_row).transpose()
    }

    /// What a bearer access token stands for, in one statement: `None`
    /// unless the token is unexpired and its grant live.
    pub async fn oidc_bearer(&mut self, token_hash: &str, now: Timestamp) -> Result<Option<BearerRecord>, StoreError> {
        // The account's roles come in the same statement, packed as
        // `role:school_id:school_code` joined by commas (roles and school
        // codes hold neither), so userinfo makes one round trip.
        let aggregate = match self.backend {
            Backend::Postgres => "string_agg",
            Backend::Sqlite => "group_concat",
        };
        let sql = concat!(
            "SELECT ",
            crate::accounts::account_columns!(),
            ", {GRANTS}, c.pairwise AS c_pairwise, \
             (SELECT {AGG}(r.role || ':' || COALESCE(CAST(r.school_id AS TEXT), '') || ':' || COALESCE(rs.code, ''), ',') \
              FROM account_roles r LEFT JOIN schools rs ON rs.id = r.school_id WHERE r.account_id = a.id) AS roles_packed \
             FROM oidc_access_tokens t \
             JOIN oidc_grants g ON g.id = t.grant_id JOIN accounts a ON a.id = g.account_id \
             JOIN schools s ON s.id = a.school_id JOIN oidc_clients c ON c.client_id = g.client_id \
             WHERE t.token_hash = $1 AND t.expires_at > $2 AND g.revoked_at IS NULL AND g.expires_at > $2"
        )
        .replace("{GRANTS}", GRANT_COLUMNS_AS_G)
        .replace("{AGG}", aggregate);
        let row = sqlx::query(&sql)
            .bind(token_hash)
            .bind(now.0)
            .fetch_optional(self.conn())
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let (grant, account) = grant_and_account_from_row(&row)?;
        let packed: Option<String> = row.try_get("roles_packed")?;
        Ok(Some(BearerRecord {
            grant,
            account,
            client_pairwise: row.try_get::<i64, _>("c_pairwise")? != 0,
            roles: unpack_roles(packed.as_deref().unwrap_or(""))?,
        }))
    }

    /// When an access token was issued and when it expires, whatever the
    /// state of its grant (introspection reports them).
    pub async fn oidc_access_token_times(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<(Timestamp, Timestamp)>, StoreError> {
        let row = sqlx::query("SELECT created_at, expires_at FROM oidc_access_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(self.conn())
            .await?;
        match row {
            Some(row) => Ok(Some((
                Timestamp(row.try_get("created_at")?),
                Timestamp(row.try_get("expires_at")?),
            ))),
            None => Ok(None),
        }
    }

    /// The grant a refresh token belongs to, used or not, live or not (a
    /// client revoking its refresh token ends that grant).
    pub async fn oidc_refresh_token_grant(&mut self, token_hash: &str) -> Result<Option<GrantRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS_G} FROM oidc_refresh_tokens r JOIN oidc_grants g ON g.id = r.grant_id \
             WHERE r.token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(grant_from_row).transpose()
    }

    /// Deletes an access token; false if there was none.
    pub async fn delete_oidc_access_token(&mut self, token_hash: &str) -> Result<bool, StoreError> {
        let r = sqlx::query("DELETE FROM oidc_access_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() > 0)
    }
}

/// Consents, subjects and housekeeping.
impl Tx {
    /// The scopes an account consented to for a client, if it ever did.
    pub async fn oidc_consent(
        &mut self,
        account_id: AccountId,
        client_id: &str,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let scopes: Option<String> =
            sqlx::query_scalar("SELECT scopes FROM oidc_consents WHERE account_id = $1 AND client_id = $2")
                .bind(account_id.0)
                .bind(client_id)
                .fetch_optional(self.conn())
                .await?;
        scopes.as_deref().map(|s| from_json("consent scopes", s)).transpose()
    }

    /// Records (or replaces) the scopes an account consented to for a client.
    pub async fn set_oidc_consent(
        &mut self,
        account_id: AccountId,
        client_id: &str,
        scopes: &[String],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oidc_consents (account_id, client_id, scopes, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at",
        )
        .bind(account_id.0)
        .bind(client_id)
        .bind(to_json(scopes))
        .bind(now.0)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Withdraws an account's consent to a client; false if there was none.
    pub async fn delete_oidc_consent(&mut self, account_id: AccountId, client_id: &str) -> Result<bool, StoreError> {
        let r = sqlx::query("DELETE FROM oidc_consents WHERE account_id = $1 AND client_id = $2")
            .bind(account_id.0)
            .bind(client_id)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// The account's stable opaque subject, if one was set (and the account exists).
    pub async fn account_subject(&mut self, account_id: AccountId) -> Result<Option<String>, StoreError> {
        let subject: Option<Option<String>> = sqlx::query_scalar("SELECT subject FROM accounts WHERE id = $1")
            .bind(account_id.0)
            .fetch_optional(self.conn())
            .await?;
        Ok(subject.flatten())
    }

    /// Sets the account's subject only if it has none yet (a subject never
    /// changes); read it back with [`Tx::account_subject`]. A subject already
    /// taken by another account is [`StoreError::Conflict`].
    pub async fn set_account_subject(&mut self, account_id: AccountId, subject: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET subject = $2 WHERE id = $1 AND subject IS NULL")
            .bind(account_id.0)
            .bind(subject)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Deletes expired codes, expired access and refresh tokens, and grants
    /// that expired or were revoked more than [`OIDC_GRANT_RETENTION_SECS`]
    /// ago (with their tokens); returns how many rows went.
    pub async fn purge_oidc(&mut self, now: Timestamp) -> Result<u64, StoreError> {
        const OLD_GRANT: &str = "SELECT id FROM oidc_grants WHERE expires_at <= $2 OR revoked_at <= $2";
        let cutoff = now.plus_secs(-OIDC_GRANT_RETENTION_SECS);
        let codes = sqlx::query("DELETE FROM oidc_codes WHERE expires_at <= $1")
            .bind(now.0)
            .execute(self.conn())
            .await?;
        let mut purged = codes.rows_affected();
        for table in ["oidc_access_tokens", "oidc_refresh_tokens"] {
            let r = sqlx::query(&format!(
                "DELETE FROM {table} WHERE expires_at <= $1 OR grant_id IN ({OLD_GRANT})"
            ))
            .bind(now.0)
            .bind(cutoff.0)
            .execute(self.conn())
            .await?;
            purged += r.rows_affected();
        }
        let assertions = sqlx::query("DELETE FROM oidc_assertions WHERE expires_at <= $1")
            .bind(now.0)
            .execute(self.conn())
            .await?;
        purged += assertions.rows_affected();
        let grants = sqlx::query("DELETE FROM oidc_grants WHERE expires_at <= $1 OR revoked_at <= $1")
            .bind(cutoff.0)
            .execute(self.conn())
            .await?;
        purged += grants.rows_affected();
        Ok(purged)
    }
}
