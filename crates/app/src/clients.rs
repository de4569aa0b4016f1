//! The operators' side of the provider: registering the schools'
//! applications as OpenID Connect clients, and rotating the signing keys
//! (`varco client …`, `varco keys rotate`). Every change is audited.

use varco_domain::audit::{AuditEvent, ClientChange};
use varco_oidc::secret;
use varco_store::ClientRecord;

use crate::audit::{self, Target};
use crate::client_registration::register_in;
pub use crate::client_registration::{ClientKind, ClientRegistration, RegisteredClient};
use crate::provider::rotate_keys;
use crate::{Actor, App, AppError, RequestContext};

/// Registers a client. The secret of a confidential client is 256 random
/// bits, stored as its SHA-256 and returned only here.
pub async fn register(
    app: &App,
    registration: ClientRegistration,
    actor: &Actor,
) -> Result<RegisteredClient, AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let registered = register_in(&mut tx, now, registration, actor).await?;
    tx.commit().await?;
    Ok(registered)
}

/// One registered client, or [`AppError::NotFound`].
pub async fn find(app: &App, client_id: &str) -> Result<ClientRecord, AppError> {
    let mut tx = app.store.begin_read().await?;
    let client = tx.oidc_client(client_id).await?;
    tx.commit().await?;
    client.ok_or(AppError::NotFound("client"))
}

/// Audits an operator's change, in the caller's transaction.
async fn record_operator(
    tx: &mut varco_store::Tx,
    now: varco_domain::clock::Timestamp,
    actor: &Actor,
    event: AuditEvent,
) -> Result<(), AppError> {
    audit::record(tx, now, actor, &RequestContext::default(), Target::Nobody, event).await
}

/// Every registered client.
pub async fn list(app: &App) -> Result<Vec<ClientRecord>, AppError> {
    let mut tx = app.store.begin_read().await?;
    let clients = tx.oidc_clients().await?;
    tx.commit().await?;
    Ok(clients)
}

/// Removes a client with everything it holds (codes, grants, tokens,
/// consents).
pub async fn remove(app: &App, client_id: &str, actor: &Actor) -> Result<(), AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    if !tx.remove_oidc_client(client_id).await? {
        return Err(AppError::NotFound("client"));
    }
    record_operator(
        &mut tx,
        now,
        actor,
        AuditEvent::OidcClient {
            change: ClientChange::Removed,
            client_id: client_id.to_owned(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A new secret for a confidential client; the old one stops working now.
pub async fn rotate_secret(app: &App, client_id: &str, actor: &Actor) -> Result<String, AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let client = tx.oidc_client(client_id).await?.ok_or(AppError::NotFound("client"))?;
    if client.secret_hash.is_none() {
        return Err(AppError::invalid(
            "client",
            "this client has no secret (public or private_key_jwt)",
        ));
    }
    let secret = secret::new_token();
    tx.set_oidc_client_secret(client_id, &secret::hash(&secret), now)
        .await?;
    record_operator(
        &mut tx,
        now,
        actor,
        AuditEvent::OidcClient {
            change: ClientChange::SecretRotated,
            client_id: client_id.to_owned(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(secret)
}

/// New signing keys (RS256 and ES256) and, with `[federation]` configured,
/// new relying-party keys (federation, core signing, core encryption); the
/// previous ones stay
/// published until what they signed has expired. Returns the new key ids.
pub async fn rotate_signing_keys(app: &App, actor: &Actor) -> Result<Vec<String>, AppError> {
    let (mut kids, mut retired) = rotate_keys(app).await?;
    if app.settings.federation.is_some() {
        let (federation_kids, federation_retired) = crate::federation::rotate_keys(app).await?;
        kids.extend(federation_kids);
        retired += federation_retired;
    }
    let now = app.now();
    let mut tx = app.store.begin().await?;
    record_operator(
        &mut tx,
        now,
        actor,
        AuditEvent::OidcKeysRotated {
            new_kids: kids.join(","),
            retired,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(kids)
}
