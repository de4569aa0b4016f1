//! Registering an OpenID Connect client inside a transaction: the step
//! shared by `varco client add` (`clients`) and `varco demo` (`setup`).
//! Every registration is checked here (name, URIs, scopes, key set) and
//! audited.

use rand::RngCore;
use rand::rngs::OsRng;
use url::Url;
use varco_domain::audit::{AuditEvent, ClientChange};
use varco_domain::clock::Timestamp;
use varco_oidc::{Alg, secret};
use varco_store::{NewClient, Tx};

use crate::audit::{self, Target};
use crate::provider::{OPT_IN_SCOPES, SCOPES};
use crate::{Actor, AppError, RequestContext};

/// How a new client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// A confidential client with a secret (basic or post).
    Confidential,
    /// A public client (a single-page or mobile app): PKCE only, no secret.
    Public,
    /// A confidential client that signs a JWT with its own key (RFC 7523).
    PrivateKeyJwt,
}

/// What an operator registers.
#[derive(Debug, Clone)]
pub struct ClientRegistration {
    pub name: String,
    pub kind: ClientKind,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// Allowed scopes; empty means every scope Varco knows.
    pub scopes: Vec<String>,
    /// School codes; empty means every school.
    pub schools: Vec<String>,
    pub first_party: bool,
    pub id_token_alg: Alg,
    pub pairwise: bool,
    pub backchannel_logout_uri: Option<String>,
    /// The client's public JWK Set (for `PrivateKeyJwt`).
    pub jwks: Option<String>,
}

/// A client just registered: its id, and its secret shown this once.
#[derive(Debug)]
pub struct RegisteredClient {
    pub client_id: String,
    pub secret: Option<String>,
}

/// A redirect URI Varco accepts to register: absolute, no fragment, https
/// (or http on a loopback host, for development and native apps).
fn check_uri(field: &'static str, uri: &str) -> Result<(), AppError> {
    let url = Url::parse(uri).map_err(|e| AppError::invalid(field, format!("{uri}: {e}")))?;
    if url.fragment().is_some() {
        return Err(AppError::invalid(field, format!("{uri}: a fragment is not allowed")));
    }
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(AppError::invalid(
            field,
            format!("{uri}: must be https (plain http only on a loopback host)"),
        )),
        // Native apps may use a private-use scheme (RFC 8252 §7.1).
        scheme if scheme.contains('.') => Ok(()),
        _ => Err(AppError::invalid(field, format!("{uri}: unsupported scheme"))),
    }
}

/// Registers a client inside the caller's transaction (`clients::register`
/// alone, the demo with its school and accounts). The secret of a
/// confidential client is 256 random bits, stored as its SHA-256 and
/// returned only here.
pub(crate) async fn register_in(
    tx: &mut Tx,
    now: Timestamp,
    registration: ClientRegistration,
    actor: &Actor,
) -> Result<RegisteredClient, AppError> {
    let name = registration.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::invalid("name", "a name of 1 to 100 characters is required"));
    }
    if registration.redirect_uris.is_empty() {
        return Err(AppError::invalid(
            "redirect-uri",
            "at least one redirect URI is required",
        ));
    }
    for uri in &registration.redirect_uris {
        check_uri("redirect-uri", uri)?;
    }
    for uri in &registration.post_logout_redirect_uris {
        check_uri("post-logout-redirect-uri", uri)?;
    }
    if let Some(uri) = &registration.backchannel_logout_uri {
        check_uri("backchannel-logout-uri", uri)?;
    }
    for scope in &registration.scopes {
        if !SCOPES.contains(&scope.as_str()) {
            return Err(AppError::invalid(
                "scope",
                format!("unknown scope {scope:?}; known: {}", SCOPES.join(", ")),
            ));
        }
    }
    let scopes: Vec<String> = if registration.scopes.is_empty() {
        SCOPES
            .iter()
            .filter(|s| !OPT_IN_SCOPES.contains(s))
            .map(|s| (*s).to_owned())
            .collect()
    } else {
        let mut s = registration.scopes.clone();
        if !s.iter().any(|x| x == "openid") {
            s.insert(0, "openid".into());
        }
        s
    };
    let jwks = match (registration.kind, registration.jwks.as_deref()) {
        (ClientKind::PrivateKeyJwt, Some(jwks)) => {
            let parsed: serde_json::Value =
                serde_json::from_str(jwks).map_err(|e| AppError::invalid("jwks", format!("not JSON: {e}")))?;
            let has_keys = parsed
                .get("keys")
                .and_then(|k| k.as_array())
                .is_some_and(|a| !a.is_empty());
            if !has_keys {
                return Err(AppError::invalid("jwks", "a JWK Set with at least one key is required"));
            }
            Some(jwks.to_owned())
        }
        (ClientKind::PrivateKeyJwt, None) => {
            return Err(AppError::invalid(
                "jwks",
                "private_key_jwt needs the client's public JWK Set",
            ));
        }
        (_, Some(_)) => return Err(AppError::invalid("jwks", "only for private_key_jwt clients")),
        (_, None) => None,
    };
    let mut schools = Vec::new();
    for code in &registration.schools {
        let school = tx.school_by_code(code).await?.ok_or(AppError::NotFound("school"))?;
        schools.push(school.code);
    }
    let mut id = [0u8; 16];
    OsRng.fill_bytes(&mut id);
    let client_id = format!("varco-{}", hex::encode(id));
    let secret = matches!(registration.kind, ClientKind::Confidential).then(secret::new_token);
    let auth_method = match registration.kind {
        ClientKind::Confidential => "client_secret_basic",
        ClientKind::Public => "none",
        ClientKind::PrivateKeyJwt => "private_key_jwt",
    };
    let secret_hash = secret.as_deref().map(secret::hash);
    tx.insert_oidc_client(&NewClient {
        client_id: &client_id,
        name,
        public: registration.kind == ClientKind::Public,
        auth_method,
        secret_hash: secret_hash.as_deref(),
        jwks: jwks.as_deref(),
        redirect_uris: &registration.redirect_uris,
        post_logout_redirect_uris: &registration.post_logout_redirect_uris,
        scopes: &scopes,
        schools: (!schools.is_empty()).then_some(schools.as_slice()),
        first_party: registration.first_party,
        id_token_alg: registration.id_token_alg.as_str(),
        pairwise: registration.pairwise,
        backchannel_logout_uri: registration.backchannel_logout_uri.as_deref(),
        now,
    })
    .await?;
    audit::record(
        tx,
        now,
        actor,
        &RequestContext::default(),
        Target::Nobody,
        AuditEvent::OidcClient {
            change: ClientChange::Registered,
            client_id: client_id.clone(),
        },
    )
    .await?;
    Ok(RegisteredClient { client_id, secret })
}
