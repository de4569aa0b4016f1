//! The provider's token endpoint (authorization code and refresh token
//! grants), userinfo, revocation (RFC 7009) and introspection (RFC 7662).
//!
//! Rules that other providers got wrong (research notes §4) and how they
//! hold here:
//! - a code is spent by one conditional UPDATE: two exchanges cannot both
//!   win, and a second presentation revokes the grant the first produced;
//! - a refresh token is rotated the same way, with a generation counter; a
//!   rotated token presented again revokes the whole grant;
//! - `auth_time`, `acr` and `amr` are copied from the sign-in that made the
//!   grant, never re-stamped at refresh; `nonce` only in the code-flow ID
//!   token; no claim is ever `null`.

use serde::Serialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use varco_domain::AccountId;
use varco_domain::account::AccountStatus;
use varco_domain::audit::{AuditEvent, OidcRefusal};
use varco_domain::clock::Timestamp;

use varco_oidc::{Alg, SigningKey, pkce, secret};
use varco_store::{AccountRecord, ClientRecord, CodeSpend, GrantRecord, NewGrant, RefreshUse, Tx};

use crate::audit::{self, Target};
use crate::error::OAuthCode;
use crate::provider::{
    ClientCredentials, STUDENTS_CLAIM, audit_token_refusal, client_of, client_subject, has_scope, notify_logout,
    oidc_internal, scope_claims, serves, students_claim, subject_for, subject_of,
};
use crate::{Actor, App, AppError, RequestContext};

/// A token request's parameters (the client's credentials apart).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
}

/// A successful token response (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
    pub id_token: String,
    pub scope: String,
}

fn refused(code: OAuthCode, description: &'static str) -> AppError {
    AppError::oauth(code, description)
}

/// Audits a refused token request about an account, in the caller's transaction.
async fn record_refusal(
    tx: &mut Tx,
    now: Timestamp,
    ctx: &RequestContext,
    account_id: Option<AccountId>,
    client_id: &str,
    refusal: OidcRefusal,
) -> Result<(), AppError> {
    let target = match account_id {
        Some(id) => Target::Account { id, user_code: None },
        None => Target::Nobody,
    };
    let event = AuditEvent::OidcTokenRefused {
        client_id: client_id.to_owned(),
        refusal,
    };
    audit::record(tx, now, &Actor::Anonymous, ctx, target, event).await
}

/// The token endpoint.
pub async fn token(
    app: &App,
    credentials: &ClientCredentials,
    request: &TokenRequest,
    ctx: &RequestContext,
) -> Result<TokenResponse, AppError> {
    let oversized = [
        &request.code,
        &request.redirect_uri,
        &request.code_verifier,
        &request.refresh_token,
        &request.scope,
    ]
    .iter()
    .any(|v| v.as_ref().is_some_and(|v| v.len() > 2048));
    if oversized {
        return Err(refused(OAuthCode::InvalidRequest, "a parameter is too long"));
    }
    let client = client_of(app, credentials, ctx).await?;
    match request.grant_type.as_deref() {
        Some("authorization_code") => exchange_code(app, &client, request, ctx).await,
        Some("refresh_token") => refresh(app, &client, request, ctx).await,
        Some(_) => Err(refused(
            OAuthCode::UnsupportedGrantType,
            "only authorization_code and refresh_token are supported",
        )),
        None => Err(refused(OAuthCode::InvalidRequest, "grant_type is missing")),
    }
}

async fn exchange_code(
    app: &App,
    client: &ClientRecord,
    request: &TokenRequest,
    ctx: &RequestContext,
) -> Result<TokenResponse, AppError> {
    let (Some(code), Some(redirect_uri)) = (request.code.as_deref(), request.redirect_uri.as_deref()) else {
        return Err(refused(OAuthCode::InvalidRequest, "code and redirect_uri are required"));
    };
    let Some(verifier) = request.code_verifier.as_deref() else {
        return Err(refused(OAuthCode::InvalidRequest, "code_verifier is required (PKCE)"));
    };
    // The signing key first: making the very first one writes to the
    // database, which must not wait for the transaction below (SQLite).
    let key = signing_key(app, client).await?;
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let spent = tx.spend_oidc_code(&secret::hash(code), now).await?;
    let record = match spent {
        CodeSpend::Fresh(record) => record,
        CodeSpend::Replayed(record) => {
            // RFC 6749 §4.1.2: revoke what the code produced.
            let mut revoked = Vec::new();
            if let Some(grant_id) = record.grant_id
                && tx.revoke_oidc_grant(grant_id, now, "code_replayed").await?
                && let Some(grant) = tx.oidc_grant(grant_id).await?
            {
                revoked.push(grant);
            }
            record_refusal(
                &mut tx,
                now,
                ctx,
                Some(record.account_id),
                &client.client_id,
                OidcRefusal::CodeReplayed,
            )
            .await?;
            tx.commit().await?;
            notify_logout(app, &revoked).await?;
            return Err(refused(OAuthCode::InvalidGrant, "the code was already used"));
        }
        CodeSpend::Unknown => {
            record_refusal(&mut tx, now, ctx, None, &client.client_id, OidcRefusal::CodeInvalid).await?;
            tx.commit().await?;
            return Err(refused(OAuthCode::InvalidGrant, "the code is invalid"));
        }
    };
    let wrong =
        if record.client_id != client.client_id || record.redirect_uri != redirect_uri || now >= record.expires_at {
            Some(OidcRefusal::CodeInvalid)
        } else if !pkce::verify_s256(verifier, &record.code_challenge) {
            Some(OidcRefusal::PkceMismatch)
        } else {
            None
        };
    if let Some(refusal) = wrong {
        record_refusal(&mut tx, now, ctx, Some(record.account_id), &client.client_id, refusal).await?;
        tx.commit().await?;
        return Err(refused(
            OAuthCode::InvalidGrant,
            if refusal == OidcRefusal::PkceMismatch {
                "the code_verifier does not match the code_challenge"
            } else {
                "the code is invalid, expired or was issued to another client or redirect_uri"
            },
        ));
    }
    // The account must still be able to sign in to this client.
    let account = match tx.account_by_id(record.account_id).await? {
        Some(a) if a.status == AccountStatus::Active && serves(client, &a) => a,
        _ => {
            tx.commit().await?;
            return Err(refused(OAuthCode::InvalidGrant, "the account can no longer sign in"));
        }
    };
    let expires_at = now.plus_secs(app.settings.provider.grant_secs);
    let grant_id = tx
        .insert_oidc_grant(&NewGrant {
            client_id: &client.client_id,
            account_id: account.id,
            sid: &record.sid,
            scope: &record.scope,
            auth_time: record.auth_time,
            acr: &record.acr,
            amr: &record.amr,
            nonce: record.nonce.as_deref(),
            now,
            expires_at,
        })
        .await?;
    tx.set_oidc_code_grant(&record.code_hash, grant_id).await?;
    // The grant as just inserted (no need to read it back).
    let grant = GrantRecord {
        id: grant_id,
        client_id: client.client_id.clone(),
        account_id: account.id,
        sid: record.sid.clone(),
        scope: record.scope.clone(),
        auth_time: record.auth_time,
        acr: record.acr.clone(),
        amr: record.amr.clone(),
        nonce: record.nonce.clone(),
        created_at: now,
        expires_at,
        last_used_at: now,
        revoked_at: None,
        revoked_reason: None,
    };
    let unsigned = store_tokens(
        app,
        &mut tx,
        &key,
        client,
        &grant,
        &account,
        1,
        record.nonce.as_deref(),
        now,
    )
    .await?;
    tx.commit().await?;
    unsigned.sign(key).await
}

async fn refresh(
    app: &App,
    client: &ClientRecord,
    request: &TokenRequest,
    ctx: &RequestContext,
) -> Result<TokenResponse, AppError> {
    let Some(token) = request.refresh_token.as_deref() else {
        return Err(refused(OAuthCode::InvalidRequest, "refresh_token is required"));
    };
    let key = signing_key(app, client).await?;
    let now = app.now();
    let hash = secret::hash(token);
    // Everything that can be checked by reading is checked before the write
    // transaction (on SQLite the one writer of the database): an unknown
    // token, a token of another client and a wider scope never take the
    // write lock, and are refused without spending the token.
    let mut read = app.store.read().await?;
    let found = read.oidc_refresh_grant_with_account(&hash).await?;
    read.commit().await?;
    let Some((grant, account)) = found else {
        return Err(refused(OAuthCode::InvalidGrant, "the refresh token is invalid"));
    };
    if grant.client_id != client.client_id {
        return Err(refused(OAuthCode::InvalidGrant, "the refresh token is invalid"));
    }
    if let Some(scope) = request.scope.as_deref() {
        // A refresh may narrow the scope, never widen it (RFC 6749 §6).
        let granted: Vec<&str> = grant.scope.split(' ').collect();
        if scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .any(|s| !granted.contains(&s))
        {
            return Err(refused(OAuthCode::InvalidScope, "a refresh cannot widen the scope"));
        }
    }
    let mut tx = app.store.begin().await?;
    let generation = match tx.rotate_oidc_refresh_token(&hash, now).await? {
        RefreshUse::Fresh {
            grant_id,
            generation,
            expires_at,
        } => {
            if now >= expires_at || grant_id != grant.id {
                tx.commit().await?;
                return Err(refused(OAuthCode::InvalidGrant, "the refresh token has expired"));
            }
            generation
        }
        RefreshUse::Reused { grant_id } => {
            let mut revoked = Vec::new();
            if grant_id == grant.id {
                if tx.revoke_oidc_grant(grant_id, now, "refresh_token_reused").await? {
                    revoked.push(grant.clone());
                }
                record_refusal(
                    &mut tx,
                    now,
                    ctx,
                    Some(grant.account_id),
                    &client.client_id,
                    OidcRefusal::RefreshReused,
                )
                .await?;
            }
            tx.commit().await?;
            notify_logout(app, &revoked).await?;
            return Err(refused(OAuthCode::InvalidGrant, "the refresh token was already used"));
        }
        // Unused but expired, or its grant is over.
        RefreshUse::Unknown => {
            tx.commit().await?;
            return Err(refused(OAuthCode::InvalidGrant, "the refresh token is invalid"));
        }
    };
    if !(account.status == AccountStatus::Active && serves(client, &account)) {
        tx.revoke_oidc_grant(grant.id, now, "account_unusable").await?;
        tx.commit().await?;
        return Err(refused(OAuthCode::InvalidGrant, "the account can no longer sign in"));
    }
    // `last_used_at` is shown to the person by the day: one write a minute
    // is plenty, not one per refresh.
    if now.0 - grant.last_used_at.0 >= 60 {
        tx.touch_oidc_grant(grant.id, now).await?;
    }
    let unsigned = store_tokens(app, &mut tx, &key, client, &grant, &account, generation + 1, None, now).await?;
    tx.commit().await?;
    unsigned.sign(key).await
}

/// The key that signs the client's ID tokens.
async fn signing_key(app: &App, client: &ClientRecord) -> Result<Arc<SigningKey>, AppError> {
    let alg = Alg::parse(&client.id_token_alg).unwrap_or(Alg::Rs256);
    app.keys.signing(app, alg).await
}

/// A token response whose ID token is still to be signed: the signature
/// (the costly part) is made after the transaction commits, so that the
/// database's write lock is never held for it.
struct Unsigned {
    access_token: String,
    refresh_token: String,
    expires_in: i64,
    claims: Map<String, Value>,
    scope: String,
}

impl Unsigned {
    /// Signs on the blocking pool: an RSA signature takes a few hundred
    /// microseconds, during which a runtime worker would not serve the
    /// other requests (among them the one holding the write lock).
    async fn sign(self, key: Arc<SigningKey>) -> Result<TokenResponse, AppError> {
        let claims = self.claims;
        let id_token = tokio::task::spawn_blocking(move || key.sign(&claims, Some("JWT")))
            .await
            .map_err(|e| AppError::internal_because("signing task", e))?
            .map_err(oidc_internal)?;
        Ok(TokenResponse {
            access_token: self.access_token,
            token_type: "Bearer",
            expires_in: self.expires_in,
            refresh_token: self.refresh_token,
            id_token,
            scope: self.scope,
        })
    }
}

/// Stores an access token and a refresh token of `generation` for a grant,
/// in the caller's transaction, and prepares the ID token's claims.
#[expect(clippy::too_many_arguments, reason = "the pieces of one token response")]
async fn store_tokens(
    app: &App,
    tx: &mut Tx,
    key: &SigningKey,
    client: &ClientRecord,
    grant: &GrantRecord,
    account: &AccountRecord,
    generation: i64,
    nonce: Option<&str>,
    now: Timestamp,
) -> Result<Unsigned, AppError> {
    let settings = &app.settings.provider;
    let access_token = secret::new_token();
    let refresh_token = secret::new_token();
    tx.insert_oidc_access_token(
        &secret::hash(&access_token),
        grant.id,
        now,
        now.plus_secs(settings.access_token_secs),
    )
    .await?;
    let refresh_expires = now.plus_secs(settings.refresh_token_secs).0.min(grant.expires_at.0);
    tx.insert_oidc_refresh_token(
        &secret::hash(&refresh_token),
        grant.id,
        generation,
        now,
        Timestamp(refresh_expires),
    )
    .await?;
    let subject = subject_of(tx, account).await?;
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(app.settings.public_url));
    claims.insert("sub".into(), json!(subject_for(app, client, &subject)));
    claims.insert("aud".into(), json!(client.client_id));
    claims.insert("azp".into(), json!(client.client_id));
    claims.insert("exp".into(), json!(now.0 + settings.id_token_secs));
    claims.insert("iat".into(), json!(now.0));
    claims.insert("auth_time".into(), json!(grant.auth_time.0));
    if let Some(nonce) = nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    claims.insert("acr".into(), json!(grant.acr));
    claims.insert("amr".into(), json!(grant.amr));
    claims.insert("sid".into(), json!(grant.sid));
    claims.insert("at_hash".into(), json!(varco_oidc::at_hash(&access_token, key.alg())));
    Ok(Unsigned {
        access_token,
        refresh_token,
        expires_in: settings.access_token_secs,
        claims,
        scope: grant.scope.clone(),
    })
}

/// The live grant behind a bearer access token.
async fn grant_of_access_token(app: &App, tx: &mut Tx, token: &str) -> Result<Option<GrantRecord>, AppError> {
    if token.len() > 512 {
        return Ok(None);
    }
    Ok(tx.oidc_access_token(&secret::hash(token), app.now()).await?)
}

/// The userinfo endpoint: the claims of the token's scopes, with `sub`.
///
/// The hot path of the applications' API calls: the token, its grant, the
/// account, its roles and the client's subject rule come in one statement,
/// outside any transaction; the students, in a second, only for `students`.
pub async fn userinfo(app: &App, access_token: &str) -> Result<Value, AppError> {
    let invalid = || refused(OAuthCode::InvalidToken, "the access token is invalid or expired");
    if access_token.len() > 512 {
        return Err(invalid());
    }
    let mut tx = app.store.read().await?;
    let Some(bearer) = tx.oidc_bearer(&secret::hash(access_token), app.now()).await? else {
        return Err(invalid());
    };
    let (grant, account) = (&bearer.grant, &bearer.account);
    let Some(subject) = account.subject.as_deref() else {
        return Err(invalid());
    };
    if account.status != AccountStatus::Active {
        return Err(invalid());
    }
    let students = if has_scope(&grant.scope, "students") {
        Some(tx.students_of_guardian(account.id).await?)
    } else {
        None
    };
    tx.commit().await?;
    let mut claims = Map::new();
    claims.insert(
        "sub".into(),
        json!(client_subject(app, &grant.client_id, bearer.client_pairwise, subject)),
    );
    claims.extend(scope_claims(&grant.scope, account, &bearer.roles));
    if let Some(students) = &students {
        claims.insert(STUDENTS_CLAIM.into(), students_claim(app, &grant.client_id, students));
    }
    Ok(Value::Object(claims))
}

/// Revocation (RFC 7009): a refresh token ends its grant, an access token
/// dies alone. Unknown tokens and tokens of other clients are answered the
/// same as success, as the RFC asks.
pub async fn revoke(
    app: &App,
    credentials: &ClientCredentials,
    token: Option<&str>,
    ctx: &RequestContext,
) -> Result<(), AppError> {
    let client = client_of(app, credentials, ctx).await?;
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(refused(OAuthCode::InvalidRequest, "token is required"));
    };
    if token.len() > 512 {
        return Ok(());
    }
    let now = app.now();
    let hash = secret::hash(token);
    let mut tx = app.store.begin().await?;
    let mut revoked = Vec::new();
    if let Some(grant) = tx.oidc_refresh_token_grant(&hash).await?
        && grant.client_id == client.client_id
        && tx.revoke_oidc_grant(grant.id, now, "revoked_by_client").await?
    {
        let target = Target::Account {
            id: grant.account_id,
            user_code: None,
        };
        let event = AuditEvent::OidcGrantRevoked {
            client_id: client.client_id.clone(),
            grants: 1,
            reason: "revoked_by_client",
        };
        audit::record(&mut tx, now, &Actor::Anonymous, ctx, target, event).await?;
        revoked.push(grant);
    } else if let Some(grant) = tx.oidc_access_token(&hash, now).await?
        && grant.client_id == client.client_id
    {
        tx.delete_oidc_access_token(&hash).await?;
    }
    tx.commit().await?;
    notify_logout(app, &revoked).await?;
    Ok(())
}

/// Introspection (RFC 7662) for the schools' resource servers: any
/// authenticated client may ask about an access token; a token that is not
/// live is `{"active": false}` and nothing more.
pub async fn introspect(
    app: &App,
    credentials: &ClientCredentials,
    token: Option<&str>,
    ctx: &RequestContext,
) -> Result<Value, AppError> {
    let client = client_of(app, credentials, ctx).await?;
    // A public client has no credentials: naming it proves nothing, and
    // introspection must be authenticated (RFC 7662 §2.1).
    if client.public {
        audit_token_refusal(app, ctx, &client.client_id, None, OidcRefusal::ClientAuthentication).await?;
        return Err(refused(
            OAuthCode::InvalidClient,
            "a public client cannot authenticate to introspect",
        ));
    }
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(refused(OAuthCode::InvalidRequest, "token is required"));
    };
    let mut tx = app.store.read().await?;
    let Some(grant) = grant_of_access_token(app, &mut tx, token).await? else {
        tx.commit().await?;
        return Ok(json!({ "active": false }));
    };
    let Some((issued_at, expires_at)) = tx.oidc_access_token_times(&secret::hash(token)).await? else {
        tx.commit().await?;
        return Ok(json!({ "active": false }));
    };
    let client = tx.oidc_client(&grant.client_id).await?;
    let subject = tx.account_subject(grant.account_id).await?;
    tx.commit().await?;
    let (Some(client), Some(subject)) = (client, subject) else {
        return Ok(json!({ "active": false }));
    };
    Ok(json!({
        "active": true,
        "scope": grant.scope,
        "client_id": grant.client_id,
        "token_type": "Bearer",
        "exp": expires_at.0,
        "iat": issued_at.0,
        "sub": subject_for(app, &client, &subject),
        "aud": grant.client_id,
        "iss": app.settings.public_url,
    }))
}

/// Removes expired codes and tokens, and grants over (expired or revoked)
/// for a month (called periodically by the server).
pub async fn purge_expired(app: &App) -> Result<u64, AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let n = tx.purge_oidc(now).await?;
    tx.commit().await?;
    Ok(n)
}
