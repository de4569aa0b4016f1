//! The shared steps of Varco's OpenID Connect provider: its signing keys,
//! the subject and claims of an account as a client sees them, client
//! authentication, the `sid` of a session, and back-channel logout notices.
//!
//! Part of the lower layer: the use cases `authorize`, `oauth_tokens`,
//! `applications` and `clients` call down into it.
//!
//! Keys are generated at first use, sealed with the key-encryption key
//! ([`varco_oidc::Kek`], from configuration or the data directory) and kept in
//! the database, so every node signs with the same keys. Each node caches
//! the unsealed keys and reloads them at most once a minute, which is how a
//! `varco keys rotate` run from the command line reaches running servers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tokio::sync::RwLock;
use varco_domain::audit::OidcRefusal;
use varco_domain::clock::Timestamp;
use varco_domain::{AccountId, SessionId};
use varco_oidc::{Alg, Kek, SigningKey};
use varco_store::{AccountRecord, ClientRecord, GrantRecord, KeyRecord, LinkedStudent, RoleGrant, Tx};

use crate::audit::{self, AuditEvent, Target};
use crate::{Actor, App, AppError, RequestContext};

/// The namespaced claim with the account's school, kind and roles.
pub use varco_oidc::SCHOOL_CLAIM;
/// The namespaced claim with the signed-in guardian's students.
pub use varco_oidc::STUDENTS_CLAIM;
/// Scopes Varco knows; others are ignored (RFC 6749 §3.3 lets a server
/// grant less than asked).
pub const SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "school",
    "fiscal_number",
    "students",
    "offline_access",
];
/// Scopes a client registered without a list of scopes does not get: it
/// must be registered with them (`--scope students`). The `students` claim
/// tells about minors, so no application receives it by default.
pub const OPT_IN_SCOPES: &[&str] = &["students"];
/// The `acr` of a password sign-in at Varco.
pub const ACR_PASSWORD: &str = "urn:varco:acr:password";

/// The provider's knobs, filled from configuration.
#[derive(Clone)]
pub struct ProviderSettings {
    /// Seals the signing keys at rest and keys the pairwise subjects.
    pub kek: Arc<Kek>,
    /// Lifetime of an authorization code (at most 60 s).
    pub code_secs: i64,
    /// Lifetime of an access token.
    pub access_token_secs: i64,
    /// Lifetime of an ID token.
    pub id_token_secs: i64,
    /// Lifetime of a refresh token (each use gives a new one).
    pub refresh_token_secs: i64,
    /// Absolute lifetime of a grant: after it the person signs in again.
    pub grant_secs: i64,
    /// How long a retired key stays published after `varco keys rotate`.
    pub retired_key_secs: i64,
}

impl std::fmt::Debug for ProviderSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderSettings")
            .field("kek", &"[sealed]")
            .field("code_secs", &self.code_secs)
            .field("access_token_secs", &self.access_token_secs)
            .field("id_token_secs", &self.id_token_secs)
            .field("refresh_token_secs", &self.refresh_token_secs)
            .field("grant_secs", &self.grant_secs)
            .field("retired_key_secs", &self.retired_key_secs)
            .finish()
    }
}

impl Default for ProviderSettings {
    /// A fresh random key-encryption key: right for tests, never for a
    /// server (its keys would not open after a restart; `varco` loads one).
    fn default() -> Self {
        ProviderSettings {
            kek: Arc::new(Kek::generate()),
            code_secs: 60,
            access_token_secs: 600,
            id_token_secs: 600,
            refresh_token_secs: 14 * 24 * 3600,
            grant_secs: 30 * 24 * 3600,
            retired_key_secs: 24 * 3600,
        }
    }
}

/// The keys of this node, unsealed.
#[derive(Default)]
pub struct KeyRing {
    loaded: RwLock<Option<Loaded>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyRing")
    }
}

struct Loaded {
    at: Instant,
    /// The newest active key of each algorithm.
    signing: Vec<Arc<SigningKey>>,
    /// Every published public key (active and retired).
    public: Vec<Value>,
}

const RELOAD_EVERY: Duration = Duration::from_secs(60);

impl KeyRing {
    /// The key that signs for `alg`, generating the first one if needed.
    pub(crate) async fn signing(&self, app: &App, alg: Alg) -> Result<Arc<SigningKey>, AppError> {
        if let Some(key) = self.fresh(|l| l.signing.iter().find(|k| k.alg() == alg).cloned()).await {
            return Ok(key);
        }
        self.reload(app).await?;
        if let Some(key) = self.fresh(|l| l.signing.iter().find(|k| k.alg() == alg).cloned()).await {
            return Ok(key);
        }
        // No key of this algorithm yet: make one (a second node doing the
        // same at the same moment only adds a second valid key).
        let key = SigningKey::generate(alg).map_err(oidc_internal)?;
        insert_key(app, &key).await?;
        self.reload(app).await?;
        Ok(Arc::new(key))
    }

    /// Every public key still published, for the JWKS document.
    pub async fn public_keys(&self, app: &App) -> Result<Vec<Value>, AppError> {
        if let Some(keys) = self.fresh(|l| Some(l.public.clone())).await {
            return Ok(keys);
        }
        self.reload(app).await?;
        if let Some(keys) = self.fresh(|l| Some(l.public.clone())).await
            && !keys.is_empty()
        {
            return Ok(keys);
        }
        // A provider with no key yet publishes the one it will sign with.
        self.signing(app, Alg::Rs256).await?;
        Ok(self.fresh(|l| Some(l.public.clone())).await.unwrap_or_default())
    }

    /// Forgets the cache: the next use reads the database.
    pub async fn forget(&self) {
        *self.loaded.write().await = None;
    }

    async fn fresh<T>(&self, pick: impl FnOnce(&Loaded) -> Option<T>) -> Option<T> {
        let loaded = self.loaded.read().await;
        loaded.as_ref().filter(|l| l.at.elapsed() < RELOAD_EVERY).and_then(pick)
    }

    async fn reload(&self, app: &App) -> Result<(), AppError> {
        let now = app.now();
        let mut tx = app.store.begin_read().await?;
        let records = tx.oidc_keys(now).await?;
        tx.commit().await?;
        let mut signing: Vec<Arc<SigningKey>> = Vec::new();
        let mut public = Vec::new();
        for record in &records {
            let jwk: Value = serde_json::from_str(&record.public_jwk)
                .map_err(|e| AppError::internal_because(format!("stored public key {}", record.kid), e))?;
            public.push(jwk);
            if record.retired_at.is_some() {
                continue;
            }
            let alg = Alg::parse(&record.alg)
                .map_err(|_| AppError::internal(format!("stored key {} has algorithm {:?}", record.kid, record.alg)))?;
            // Newest first: keep the first active key of each algorithm.
            if signing.iter().any(|k| k.alg() == alg) {
                continue;
            }
            let key = SigningKey::unseal(&app.settings.provider.kek, &record.kid, alg, &record.sealed_private)
                .map_err(|e| {
                    AppError::internal_because(
                        format!("signing key {} does not open with this key-encryption key", record.kid),
                        e,
                    )
                })?;
            signing.push(Arc::new(key));
        }
        *self.loaded.write().await = Some(Loaded {
            at: Instant::now(),
            signing,
            public,
        });
        Ok(())
    }
}

async fn insert_key(app: &App, key: &SigningKey) -> Result<(), AppError> {
    let sealed = key.seal(&app.settings.provider.kek).map_err(oidc_internal)?;
    let mut tx = app.store.begin().await?;
    tx.insert_oidc_key(&KeyRecord {
        kid: key.kid().to_owned(),
        alg: key.alg().as_str().to_owned(),
        sealed_private: sealed,
        public_jwk: key.public_jwk().to_string(),
        created_at: app.now(),
        retired_at: None,
        publish_until: None,
    })
    .await?;
    tx.commit().await?;
    Ok(())
}

/// New keys for both algorithms; the ones they replace stay published for
/// `retired_key_secs`. Returns the new key ids and how many were retired.
pub(crate) async fn rotate_keys(app: &App) -> Result<(Vec<String>, u64), AppError> {
    let now = app.now();
    let mut fresh = Vec::new();
    for alg in [Alg::Rs256, Alg::Es256] {
        fresh.push(SigningKey::generate(alg).map_err(oidc_internal)?);
    }
    let mut tx = app.store.begin().await?;
    let retired = tx
        .retire_oidc_keys(now, now.plus_secs(app.settings.provider.retired_key_secs))
        .await?;
    let mut kids = Vec::new();
    for key in &fresh {
        tx.insert_oidc_key(&KeyRecord {
            kid: key.kid().to_owned(),
            alg: key.alg().as_str().to_owned(),
            sealed_private: key.seal(&app.settings.provider.kek).map_err(oidc_internal)?,
            public_jwk: key.public_jwk().to_string(),
            created_at: now,
            retired_at: None,
            publish_until: None,
        })
        .await?;
        kids.push(key.kid().to_owned());
    }
    tx.commit().await?;
    app.keys.forget().await;
    Ok((kids, retired))
}

pub(crate) fn oidc_internal(e: varco_oidc::OidcError) -> AppError {
    AppError::internal_because("oidc", e)
}

/// The `sid` clients see for a Varco session: a keyed hash of the
/// session's row id, stable for the session's life and revealing nothing.
pub fn sid_of(app: &App, session_id: SessionId) -> String {
    let key = app.settings.provider.kek.derive("session-id");
    varco_oidc::pairwise_subject(&key, "sid", &session_id.to_string())
}

/// The account's stable opaque subject, created at its first use.
pub(crate) async fn account_subject(tx: &mut Tx, account_id: AccountId) -> Result<String, AppError> {
    if let Some(subject) = tx.account_subject(account_id).await? {
        return Ok(subject);
    }
    let candidate = varco_oidc::secret::new_token();
    tx.set_account_subject(account_id, &candidate).await?;
    // Another request may have set it first: read back what won.
    tx.account_subject(account_id)
        .await?
        .ok_or(AppError::NotFound("account"))
}

/// The account's subject when the record already carries it, else made
/// now (see [`account_subject`]).
pub(crate) async fn subject_of(tx: &mut Tx, account: &AccountRecord) -> Result<String, AppError> {
    match &account.subject {
        Some(subject) => Ok(subject.clone()),
        None => account_subject(tx, account.id).await,
    }
}

/// The `sub` a client sees: the account's subject, or a pairwise one.
pub(crate) fn subject_for(app: &App, client: &ClientRecord, subject: &str) -> String {
    client_subject(app, &client.client_id, client.pairwise, subject)
}

/// [`subject_for`] from the client's id and pairwise flag alone.
pub(crate) fn client_subject(app: &App, client_id: &str, pairwise: bool, subject: &str) -> String {
    if pairwise {
        let key = app.settings.provider.kek.derive("pairwise-subject");
        varco_oidc::pairwise_subject(&key, client_id, subject)
    } else {
        subject.to_owned()
    }
}

/// Whether the client may sign in this account (its schools, or every school).
pub(crate) fn serves(client: &ClientRecord, account: &AccountRecord) -> bool {
    client
        .schools
        .as_ref()
        .is_none_or(|schools| schools.iter().any(|s| s.eq_ignore_ascii_case(&account.school_code)))
}

/// The claims of the granted scopes (besides `sub`); never a `null`.
pub(crate) fn scope_claims(scope: &str, account: &AccountRecord, roles: &[RoleGrant]) -> Map<String, Value> {
    let mut claims = Map::new();
    for s in scope.split(' ') {
        match s {
            "profile" => {
                claims.insert("given_name".into(), json!(account.first_name));
                claims.insert("family_name".into(), json!(account.last_name));
                claims.insert(
                    "name".into(),
                    json!(format!("{} {}", account.first_name, account.last_name)),
                );
                claims.insert("updated_at".into(), json!(account.updated_at.0));
                if let Some(lang) = account.lang {
                    claims.insert("locale".into(), json!(lang.as_str()));
                }
            }
            "email" => {
                if let Some(email) = &account.email {
                    claims.insert("email".into(), json!(email));
                    claims.insert("email_verified".into(), json!(account.email_verified));
                }
            }
            "school" => {
                let roles: Vec<&str> = roles
                    .iter()
                    .filter(|r| {
                        r.school_code
                            .as_deref()
                            .is_none_or(|code| code.eq_ignore_ascii_case(&account.school_code))
                    })
                    .map(|r| r.role.as_str())
                    .collect();
                claims.insert(
                    SCHOOL_CLAIM.into(),
                    json!([{
                        "code": account.school_code,
                        "name": account.school_name,
                        "kind": account.kind.as_str(),
                        "roles": roles,
                    }]),
                );
            }
            "fiscal_number" => {
                claims.insert(
                    varco_oidc::FISCAL_NUMBER_CLAIM.into(),
                    json!(format!("TINIT-{}", account.tax_code)),
                );
            }
            _ => {}
        }
    }
    claims
}

/// Whether the space-separated `scope` holds `name`.
pub(crate) fn has_scope(scope: &str, name: &str) -> bool {
    scope.split(' ').any(|s| s == name)
}

/// A student's id as one client sees it (see [`students_claim`]).
pub(crate) fn student_client_id(app: &App, client_id: &str, public_id: &str) -> String {
    let key = app.settings.provider.kek.derive("student-id");
    varco_oidc::pairwise_subject(&key, client_id, public_id)
}

/// The `students` claim for a client: each student the guardian is linked
/// to, under an id that is an HMAC (key derived from the key-encryption
/// key) of the client's id and the student's random `public_id` — stable
/// for one client and one student, different for another client, and
/// never the tax code. `building` is left out when unknown (never `null`).
pub(crate) fn students_claim(app: &App, client_id: &str, students: &[LinkedStudent]) -> Value {
    Value::Array(
        students
            .iter()
            .map(|linked| {
                let student = &linked.student;
                let mut entry = Map::new();
                entry.insert(
                    "id".into(),
                    json!(student_client_id(app, client_id, &student.public_id)),
                );
                entry.insert("given_name".into(), json!(student.first_name));
                entry.insert("family_name".into(), json!(student.last_name));
                entry.insert("school".into(), json!(student.school_code));
                entry.insert("school_order".into(), json!(student.school_order.as_str()));
                entry.insert("class_name".into(), json!(student.class_name));
                if let Some(building) = &student.building {
                    entry.insert("building".into(), json!(building));
                }
                Value::Object(entry)
            })
            .collect(),
    )
}

/// Credentials a client presented at the token, revocation or
/// introspection endpoint, as the web layer read them.
#[derive(Debug, Clone, Default)]
pub struct ClientCredentials {
    /// `client_id` of the form body.
    pub form_client_id: Option<String>,
    /// `client_secret` of the form body.
    pub form_client_secret: Option<String>,
    /// The decoded HTTP Basic pair, if the header was sent.
    pub basic: Option<(String, String)>,
    /// `client_assertion_type` and `client_assertion` (private_key_jwt).
    pub assertion_type: Option<String>,
    pub assertion: Option<String>,
}

/// Why a client's authentication failed (all are `invalid_client`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthFailure {
    /// No client id, or several methods at once.
    Malformed,
    /// No such client.
    Unknown,
    /// The client authenticated with another method than its registered one,
    /// or the secret or assertion is wrong.
    Refused,
}

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Checks a client's credentials against its registration.
pub(crate) async fn authenticate_client(
    tx: &mut Tx,
    app: &App,
    credentials: &ClientCredentials,
) -> Result<Result<AuthenticatedClient, (Option<String>, ClientAuthFailure)>, AppError> {
    let methods = usize::from(credentials.basic.is_some())
        + usize::from(credentials.form_client_secret.is_some())
        + usize::from(credentials.assertion.is_some());
    if methods > 1 {
        return Ok(Err((None, ClientAuthFailure::Malformed)));
    }
    let claimed = match (&credentials.basic, &credentials.form_client_id) {
        (Some((id, _)), Some(form)) if id != form => return Ok(Err((None, ClientAuthFailure::Malformed))),
        (Some((id, _)), _) => Some(id.clone()),
        (None, Some(form)) => Some(form.clone()),
        (None, None) => None,
    };
    // private_key_jwt may name the client only in the assertion's `sub`.
    let claimed = match (claimed, &credentials.assertion) {
        (Some(id), _) => id,
        (None, Some(assertion)) => match varco_oidc::client_auth::unverified_subject(assertion) {
            Some(id) => id,
            None => return Ok(Err((None, ClientAuthFailure::Malformed))),
        },
        (None, None) => return Ok(Err((None, ClientAuthFailure::Malformed))),
    };
    if claimed.len() > 200 {
        return Ok(Err((None, ClientAuthFailure::Malformed)));
    }
    let Some(client) = tx.oidc_client(&claimed).await? else {
        return Ok(Err((Some(claimed), ClientAuthFailure::Unknown)));
    };
    let refused = Err((Some(client.client_id.clone()), ClientAuthFailure::Refused));
    let mut assertion = None;
    let ok = match client.auth_method.as_str() {
        "none" => {
            credentials.basic.is_none() && credentials.form_client_secret.is_none() && credentials.assertion.is_none()
        }
        "client_secret_basic" | "client_secret_post" => {
            // Either way of sending the secret is accepted for a confidential
            // client registered with a secret (as most providers do).
            let secret = credentials
                .basic
                .as_ref()
                .map(|(_, s)| s.as_str())
                .or(credentials.form_client_secret.as_deref());
            match (secret, &client.secret_hash) {
                (Some(secret), Some(hash)) => varco_oidc::secret::matches(secret, hash),
                _ => false,
            }
        }
        "private_key_jwt" => match (
            credentials.assertion_type.as_deref(),
            credentials.assertion.as_deref(),
            client.jwks.as_deref(),
        ) {
            (Some(ASSERTION_TYPE), Some(jwt), Some(jwks)) => {
                let issuer = app.settings.public_url.as_str();
                let token_endpoint = format!("{issuer}/oauth2/token");
                assertion = varco_oidc::client_auth::verify_assertion(
                    jwks,
                    jwt,
                    &client.client_id,
                    &[issuer, token_endpoint.as_str()],
                    app.now().0,
                )
                .ok();
                assertion.is_some()
            }
            _ => false,
        },
        _ => false,
    };
    Ok(if ok {
        Ok(AuthenticatedClient { client, assertion })
    } else {
        refused
    })
}

/// Authenticates the client or answers `invalid_client`, audited. A client
/// assertion is accepted once: its `jti` is remembered until it expires.
pub(crate) async fn client_of(
    app: &App,
    credentials: &ClientCredentials,
    ctx: &RequestContext,
) -> Result<ClientRecord, AppError> {
    // One read: no transaction needed (the client row is all it reads).
    let mut tx = app.store.read().await?;
    let outcome = authenticate_client(&mut tx, app, credentials).await?;
    tx.commit().await?;
    let refused_client = || AppError::oauth(crate::error::OAuthCode::InvalidClient, "client authentication failed");
    match outcome {
        Ok(AuthenticatedClient {
            client,
            assertion: None,
        }) => Ok(client),
        Ok(AuthenticatedClient {
            client,
            assertion: Some(assertion),
        }) => {
            let mut tx = app.store.begin().await?;
            let first_use = tx
                .remember_oidc_assertion(&client.client_id, &assertion.jti, Timestamp(assertion.exp))
                .await?;
            tx.commit().await?;
            if first_use {
                Ok(client)
            } else {
                audit_token_refusal(app, ctx, &client.client_id, None, OidcRefusal::ClientAuthentication).await?;
                Err(refused_client())
            }
        }
        Err((claimed, failure)) => {
            if let (Some(client_id), ClientAuthFailure::Refused) = (claimed, failure) {
                audit_token_refusal(app, ctx, &client_id, None, OidcRefusal::ClientAuthentication).await?;
            }
            Err(refused_client())
        }
    }
}

pub(crate) async fn audit_token_refusal(
    app: &App,
    ctx: &RequestContext,
    client_id: &str,
    account_id: Option<AccountId>,
    refusal: OidcRefusal,
) -> Result<(), AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let target = match account_id {
        Some(id) => Target::Account { id, user_code: None },
        None => Target::Nobody,
    };
    audit::record(
        &mut tx,
        now,
        &Actor::Anonymous,
        ctx,
        target,
        AuditEvent::OidcTokenRefused {
            client_id: client_id.to_owned(),
            refusal,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A client whose credentials were right; for `private_key_jwt`, the
/// assertion's `jti` and `exp`, to refuse a replay.
#[derive(Debug)]
pub(crate) struct AuthenticatedClient {
    pub(crate) client: ClientRecord,
    pub(crate) assertion: Option<varco_oidc::AssertionClaims>,
}

/// Sends a back-channel logout notice for each grant whose client
/// registered a URI (OpenID Connect Back-Channel Logout 1.0): one signed
/// `logout_token` per client and session, delivered in the background with
/// a few retries; a client that cannot be reached is logged, never waited for.
pub(crate) async fn notify_logout(app: &App, grants: &[GrantRecord]) -> Result<(), AppError> {
    let mut sent: Vec<(String, String)> = Vec::new();
    for grant in grants {
        if sent.iter().any(|(c, s)| *c == grant.client_id && *s == grant.sid) {
            continue;
        }
        let mut tx = app.store.begin_read().await?;
        let client = tx.oidc_client(&grant.client_id).await?;
        let subject = account_subject(&mut tx, grant.account_id).await.ok();
        tx.commit().await?;
        let (Some(client), Some(subject)) = (client, subject) else {
            continue;
        };
        let Some(uri) = client.backchannel_logout_uri.clone() else {
            continue;
        };
        sent.push((grant.client_id.clone(), grant.sid.clone()));
        let now = app.now();
        let alg = Alg::parse(&client.id_token_alg).unwrap_or(Alg::Rs256);
        let key = app.keys.signing(app, alg).await?;
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(app.settings.public_url));
        claims.insert("sub".into(), json!(subject_for(app, &client, &subject)));
        claims.insert("aud".into(), json!(client.client_id));
        claims.insert("iat".into(), json!(now.0));
        claims.insert("exp".into(), json!(now.0 + 120));
        claims.insert("jti".into(), json!(varco_oidc::secret::new_token()));
        claims.insert("sid".into(), json!(grant.sid));
        claims.insert("events".into(), json!({ varco_oidc::BACKCHANNEL_EVENT: {} }));
        let token = key.sign(&claims, Some("logout+jwt")).map_err(oidc_internal)?;
        let client_id = client.client_id.clone();
        app.background.spawn(deliver_logout(uri, token, client_id));
    }
    Ok(())
}

async fn deliver_logout(uri: String, token: String, client_id: String) {
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(http) => http,
        Err(e) => {
            tracing::warn!(client_id, error = %e, "back-channel logout: no HTTP client");
            return;
        }
    };
    for attempt in 0..3u32 {
        let result = http.post(&uri).form(&[("logout_token", token.as_str())]).send().await;
        match result {
            Ok(response) if response.status().is_success() => {
                tracing::info!(client_id, "back-channel logout delivered");
                return;
            }
            Ok(response) => {
                tracing::warn!(client_id, status = %response.status(), attempt, "back-channel logout refused");
            }
            Err(e) => tracing::warn!(client_id, error = %e, attempt, "back-channel logout not delivered"),
        }
        tokio::time::sleep(Duration::from_millis(500 * 2u64.pow(attempt))).await;
    }
}

/// Ends the applications' grants of a Varco session that is ending, and
/// notifies them (called at logout).
pub(crate) async fn end_for_session(app: &App, session_id: SessionId, ctx: &RequestContext) -> Result<(), AppError> {
    let now = app.now();
    let sid = sid_of(app, session_id);
    let mut tx = app.store.begin().await?;
    let revoked = tx
        .revoke_oidc_grants_where(None, None, Some(&sid), now, "logout")
        .await?;
    let mut per_client: BTreeMap<&str, (AccountId, u64)> = BTreeMap::new();
    for grant in &revoked {
        per_client.entry(&grant.client_id).or_insert((grant.account_id, 0)).1 += 1;
    }
    for (client_id, (account_id, grants)) in per_client {
        audit::record(
            &mut tx,
            now,
            &Actor::Anonymous,
            ctx,
            Target::Account {
                id: account_id,
                user_code: None,
            },
            AuditEvent::OidcGrantRevoked {
                client_id: client_id.to_owned(),
                grants,
                reason: "logout",
            },
        )
        .await?;
    }
    tx.commit().await?;
    notify_logout(app, &revoked).await
}

/// Background deliveries (back-channel logout notices), tracked so that a
/// shutdown can wait for them a moment instead of cutting them off.
#[derive(Debug, Default)]
pub struct Background {
    tasks: std::sync::Mutex<tokio::task::JoinSet<()>>,
}

impl Background {
    /// Starts a delivery; finished ones are reaped on the way.
    pub fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        while tasks.try_join_next().is_some() {}
        tasks.spawn(task);
    }

    /// Waits up to `limit` for the deliveries in flight.
    pub async fn drain(&self, limit: Duration) {
        let mut tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        let _ = tokio::time::timeout(limit, async { while tasks.join_next().await.is_some() {} }).await;
    }
}
