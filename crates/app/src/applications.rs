//! The person's side of the provider: the applications they signed in to
//! (listed on `/account`, each revocable), and signing out of Varco from an
//! application (RP-Initiated Logout 1.0).

use std::collections::BTreeMap;

use serde_json::Value;
use url::Url;
use varco_domain::AccountId;
use varco_domain::audit::AuditEvent;
use varco_domain::clock::Timestamp;

use crate::audit;
use crate::provider::{notify_logout, sid_of};
use crate::sessions::Authenticated;
use crate::{App, AppError, RequestContext};

/// An application the person signed in to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Application {
    pub client_id: String,
    pub name: String,
    /// The first sign-in among the live grants.
    pub since: Timestamp,
    /// The last time it used or refreshed its tokens.
    pub last_used: Timestamp,
    /// Whether the person allowed it on a consent page (third-party).
    pub consented: bool,
    /// `since` and `last_used` as people read them (school's zone).
    pub since_text: String,
    pub last_used_text: String,
}

/// The applications holding a live grant for the account, most recent first.
pub async fn list(app: &App, account_id: AccountId) -> Result<Vec<Application>, AppError> {
    let now = app.now();
    let mut tx = app.store.begin_read().await?;
    let grants = tx.oidc_grants_of_account(account_id, now).await?;
    let mut by_client: BTreeMap<String, Application> = BTreeMap::new();
    for grant in grants {
        if let Some(seen) = by_client.get_mut(&grant.client_id) {
            seen.since = seen.since.min(grant.created_at);
            seen.last_used = seen.last_used.max(grant.last_used_at);
            continue;
        }
        let Some(client) = tx.oidc_client(&grant.client_id).await? else {
            continue;
        };
        let consented = tx.oidc_consent(account_id, &client.client_id).await?.is_some();
        by_client.insert(
            grant.client_id.clone(),
            Application {
                client_id: client.client_id,
                name: client.name,
                since: grant.created_at,
                last_used: grant.last_used_at,
                consented,
                since_text: String::new(),
                last_used_text: String::new(),
            },
        );
    }
    tx.commit().await?;
    let mut list: Vec<Application> = by_client.into_values().collect();
    list.sort_by_key(|a| std::cmp::Reverse(a.last_used));
    for application in &mut list {
        application.since_text = crate::mail::format_time(application.since);
        application.last_used_text = crate::mail::format_time(application.last_used);
    }
    Ok(list)
}

/// Revokes everything an application holds for the person (its refresh and
/// access tokens die, its consent is forgotten) and sends it a back-channel
/// logout notice. Returns false when it held nothing.
pub async fn revoke(
    app: &App,
    session: &Authenticated,
    client_id: &str,
    ctx: &RequestContext,
) -> Result<bool, AppError> {
    let now = app.now();
    let account = &session.account;
    let mut tx = app.store.begin().await?;
    let revoked = tx
        .revoke_oidc_grants_where(Some(account.id), Some(client_id), None, now, "revoked_by_user")
        .await?;
    let had_consent = tx.delete_oidc_consent(account.id, client_id).await?;
    if revoked.is_empty() && !had_consent {
        tx.commit().await?;
        return Ok(false);
    }
    let actor = session.actor();
    if had_consent {
        audit::record(
            &mut tx,
            now,
            &actor,
            ctx,
            account.into(),
            AuditEvent::OidcConsent {
                client_id: client_id.to_owned(),
                granted: false,
            },
        )
        .await?;
    }
    audit::record(
        &mut tx,
        now,
        &actor,
        ctx,
        account.into(),
        AuditEvent::OidcGrantRevoked {
            client_id: client_id.to_owned(),
            grants: revoked.len() as u64,
            reason: "revoked_by_user",
        },
    )
    .await?;
    tx.commit().await?;
    notify_logout(app, &revoked).await?;
    Ok(true)
}

/// An RP-initiated logout request (query or form).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct EndSessionRequest {
    pub id_token_hint: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub client_id: Option<String>,
    pub ui_locales: Option<String>,
}

/// What an end-session request leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndSession {
    /// Ask the person to confirm (the hint does not prove the request came
    /// from an application of this very session).
    Confirm { client_name: Option<String> },
    /// Signed out (or was not signed in): go back to the application's
    /// registered post-logout URI...
    Redirect(String),
    /// ...or, without a valid hint and a registered URI, show a page.
    SignedOut,
}

/// The client and `sid` an ID token hint proves, if it is one of ours.
struct Hint {
    client_id: String,
    sid: Option<String>,
}

async fn read_hint(app: &App, hint: &str) -> Result<Option<Hint>, AppError> {
    if hint.len() > 8192 {
        return Ok(None);
    }
    let keys = app.keys.public_keys(app).await?;
    // The hint may have expired (OpenID Connect RP-Initiated Logout §2):
    // only its signature and issuer are checked.
    let Ok(claims) = varco_oidc::verify_jws(&keys, hint) else {
        return Ok(None);
    };
    if claims.get("iss").and_then(Value::as_str) != Some(app.settings.public_url.as_str()) {
        return Ok(None);
    }
    let client_id = match claims.get("aud") {
        Some(Value::String(aud)) => aud.clone(),
        Some(Value::Array(auds)) if auds.len() == 1 => match auds[0].as_str() {
            Some(aud) => aud.to_owned(),
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    Ok(Some(Hint {
        client_id,
        sid: claims.get("sid").and_then(Value::as_str).map(str::to_owned),
    }))
}

/// Decides an end-session request. `confirmed` is true when the person
/// pressed the button of the confirmation page; the caller ends the Varco
/// session itself when the answer is `Redirect` or `SignedOut` and a
/// session exists.
pub async fn end_session(
    app: &App,
    request: &EndSessionRequest,
    session: Option<&Authenticated>,
    confirmed: bool,
) -> Result<EndSession, AppError> {
    let hint = match request.id_token_hint.as_deref() {
        Some(h) => read_hint(app, h).await?,
        None => None,
    };
    if let (Some(hint), Some(client_id)) = (&hint, &request.client_id)
        && hint.client_id != *client_id
    {
        return Err(AppError::invalid("client_id", "does not match the id_token_hint"));
    }
    let client = match &hint {
        Some(hint) => {
            let mut tx = app.store.begin_read().await?;
            let client = tx.oidc_client(&hint.client_id).await?;
            tx.commit().await?;
            client
        }
        None => None,
    };
    if let Some(session) = session
        && !confirmed
    {
        let same_session = hint
            .as_ref()
            .and_then(|h| h.sid.as_deref())
            .is_some_and(|sid| sid == sid_of(app, session.session.id));
        if !same_session {
            return Ok(EndSession::Confirm {
                client_name: client.as_ref().map(|c| c.name.clone()),
            });
        }
    }
    // Back to the application only to a URI it registered, and only with a
    // valid hint naming it (never an open redirector).
    if let (Some(client), Some(uri)) = (&client, request.post_logout_redirect_uri.as_deref())
        && client.post_logout_redirect_uris.iter().any(|u| u == uri)
        && let Ok(mut url) = Url::parse(uri)
    {
        if let Some(state) = &request.state {
            url.query_pairs_mut().append_pair("state", state);
        }
        return Ok(EndSession::Redirect(url.into()));
    }
    Ok(EndSession::SignedOut)
}
