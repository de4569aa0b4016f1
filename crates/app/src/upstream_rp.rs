//! The upstream providers Varco signs people in through (SPID/CIE, issue 9),
//! and where each one's trust comes from.
//!
//! A configured provider ([`UpstreamProvider`]) says which button it sits
//! behind (SPID or CIE), how it is trusted ([`UpstreamMode`]) and the lowest
//! level of assurance accepted. Before a sign-in it is resolved by a
//! [`ProviderSource`] into what the sans-IO relying party
//! ([`varco_oidc::rp`]) needs: the provider's metadata and keys
//! ([`varco_oidc::rp::Provider`]), Varco's registration with it
//! ([`varco_oidc::rp::Registration`]) and how Varco authenticates at its
//! token endpoint ([`varco_oidc::rp::ClientAuth`]). The sign-in flow
//! itself does not know which source was used.
//!
//! - `static`: discovery at `issuer` + `/.well-known/openid-configuration`
//!   and a client secret. The discovery document and the JWKS are kept in
//!   memory per provider ([`StaticCache`]) for an hour, or for the
//!   `Cache-Control: max-age` the provider gives (at most a day; `no-store`
//!   or `max-age=0`: not kept); an ID token signed with a key the kept JWKS
//!   does not have makes the sign-in fetch the JWKS again, once (key
//!   rotation).
//! - `federation`: a resolved trust chain (built elsewhere); until it is
//!   wired in, resolving answers [`SourceError::FederationNotConfigured`].

use std::fmt;

use varco_oidc::rp::SpidLevel;

/// Which button a provider sits behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpstreamKind {
    /// "Entra con SPID": the SPID button lists every SPID provider.
    Spid,
    /// "Entra con CIE".
    Cie,
}

impl UpstreamKind {
    /// The configuration's and the URLs' spelling: `spid`, `cie`.
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamKind::Spid => "spid",
            UpstreamKind::Cie => "cie",
        }
    }

    /// The `amr` value a session signed in this way records and ID tokens
    /// report: `spid` or `cie` (values outside RFC 8176's registry, which
    /// has no name for a national digital identity; the `acr` carries the
    /// level of assurance).
    pub fn amr(self) -> &'static str {
        self.as_str()
    }
}

/// How Varco trusts a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpstreamMode {
    /// A plain OpenID Connect provider known by configuration: discovery and
    /// a client secret (a gateway or aggregator in front of SPID/CIE).
    Static,
    /// SPID/CIE OpenID Connect Federation: trust chain, signed request
    /// object, `private_key_jwt`.
    Federation,
}

impl UpstreamMode {
    /// The configuration's spelling: `static`, `federation`.
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamMode::Static => "static",
            UpstreamMode::Federation => "federation",
        }
    }
}

/// One configured upstream provider.
#[derive(Clone, PartialEq, Eq)]
pub struct UpstreamProvider {
    /// A slug, unique, used in URLs (`/login/upstream/{name}`) and records.
    pub name: String,
    /// Which button.
    pub kind: UpstreamKind,
    /// The name shown to people (the identity provider or gateway).
    pub label: String,
    /// How it is trusted.
    pub mode: UpstreamMode,
    /// The provider's issuer identifier (static: discovery is at
    /// `issuer` + `/.well-known/openid-configuration`).
    pub issuer: String,
    /// Varco's `client_id` at the provider.
    pub client_id: String,
    /// The client secret (static mode); never shown by `Debug`.
    pub client_secret: Option<String>,
    /// The lowest level of assurance accepted (and the one asked for).
    pub acr_min: SpidLevel,
    /// The scopes asked for, space-separated (always with `openid`).
    pub scope: String,
    /// Federation mode: the trust anchor to reach (default the first
    /// configured one).
    pub trust_anchor: Option<String>,
    /// Federation mode: a trust mark id the provider must hold.
    pub trust_mark: Option<String>,
}

impl fmt::Debug for UpstreamProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamProvider")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("label", &self.label)
            .field("mode", &self.mode)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "[set]"))
            .field("acr_min", &self.acr_min)
            .field("scope", &self.scope)
            .finish()
    }
}

/// The upstream providers and how Varco talks to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSettings {
    /// The configured providers, in configuration order (the order of the
    /// buttons and of the SPID list). Empty: no SPID/CIE buttons.
    pub providers: Vec<UpstreamProvider>,
    /// Timeout of each request to a provider, in seconds.
    pub http_timeout_secs: u64,
    /// How long a started sign-in may take, in seconds.
    pub pending_secs: i64,
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        UpstreamSettings {
            providers: Vec::new(),
            http_timeout_secs: 10,
            pending_secs: 600,
        }
    }
}

impl UpstreamSettings {
    /// The provider configured under `name`.
    pub fn provider(&self, name: &str) -> Option<&UpstreamProvider> {
        self.providers.iter().find(|p| p.name == name)
    }

    /// The providers behind one button, in configuration order.
    pub fn of_kind(&self, kind: UpstreamKind) -> impl Iterator<Item = &UpstreamProvider> {
        self.providers.iter().filter(move |p| p.kind == kind)
    }
}

/// Why a provider could not be resolved before a sign-in.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Federation mode without a `[federation]` section (or its trust anchor).
    #[error("provider {0}: federation mode needs [federation] with a trust anchor")]
    FederationNotConfigured(String),
    /// The provider's trust chain did not resolve.
    #[error("provider {name}: {source}")]
    Federation {
        /// The provider's configured name.
        name: String,
        /// Why the chain or its metadata was refused.
        source: crate::federation::FederationServiceError,
    },
    /// Varco's own federation keys could not be loaded.
    #[error("provider {name}: Varco's federation keys: {source}")]
    Keys {
        /// The provider's configured name.
        name: String,
        /// What failed.
        source: crate::AppError,
    },
    /// The provider's discovery document could not be fetched.
    #[error("provider {name}: discovery failed: {reason}")]
    Discovery {
        /// The provider's configured name.
        name: String,
        /// What failed (no secret in it).
        reason: String,
    },
    /// The provider's metadata or keys are not acceptable.
    #[error("provider {name}: {source}")]
    Metadata {
        /// The provider's configured name.
        name: String,
        /// What the relying party found wrong.
        source: varco_oidc::rp::RpError,
    },
}

/// The redirect URI Varco registers at every upstream provider.
pub fn callback_url(settings: &crate::Settings) -> String {
    format!("{}/login/upstream/callback", settings.public_url.trim_end_matches('/'))
}

/// How Varco authenticates at a resolved provider's token and revocation
/// endpoints (owned, so that a [`Resolved`] can be kept).
#[derive(Clone)]
pub enum Credential {
    /// `client_secret_basic` with this secret (static mode).
    ClientSecretBasic(String),
    /// `private_key_jwt` with this key (federation mode).
    PrivateKeyJwt(std::sync::Arc<varco_oidc::SigningKey>),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::ClientSecretBasic(_) => f.write_str("ClientSecretBasic([set])"),
            Credential::PrivateKeyJwt(_) => f.write_str("PrivateKeyJwt"),
        }
    }
}

/// A provider ready for a sign-in: its metadata and keys, Varco's
/// registration there, and Varco's credential.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The provider's metadata and keys.
    pub provider: varco_oidc::rp::Provider,
    /// Varco's registration at the provider.
    pub registration: varco_oidc::rp::Registration,
    /// How Varco authenticates there.
    pub credential: Credential,
    /// Varco's keys a userinfo answer may be encrypted to (federation
    /// mode: every encryption key still published; static mode: none).
    pub decryption: Vec<varco_oidc::rp::EncryptionKey>,
}

impl Resolved {
    /// The credential as the relying party takes it.
    pub fn client_auth(&self) -> varco_oidc::rp::ClientAuth<'_> {
        match &self.credential {
            Credential::ClientSecretBasic(secret) => varco_oidc::rp::ClientAuth::ClientSecretBasic(secret),
            Credential::PrivateKeyJwt(key) => varco_oidc::rp::ClientAuth::PrivateKeyJwt(key),
        }
    }

    /// Varco's signing key for request objects (federation mode only).
    pub fn signing_key(&self) -> Option<&varco_oidc::SigningKey> {
        match &self.credential {
            Credential::PrivateKeyJwt(key) => Some(key),
            Credential::ClientSecretBasic(_) => None,
        }
    }
}

/// Where a provider's trust comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderSource {
    /// Discovery and a client secret.
    Static,
    /// A trust chain up to the federation's trust anchor.
    Federation,
}

impl ProviderSource {
    /// The source for a configured provider.
    pub fn of(provider: &UpstreamProvider) -> ProviderSource {
        match provider.mode {
            UpstreamMode::Static => ProviderSource::Static,
            UpstreamMode::Federation => ProviderSource::Federation,
        }
    }

    /// Resolves `provider` for a sign-in whose redirect URI is `redirect_uri`.
    pub async fn resolve(
        self,
        app: &crate::App,
        http: &reqwest::Client,
        provider: &UpstreamProvider,
        redirect_uri: &str,
    ) -> Result<Resolved, SourceError> {
        match self {
            ProviderSource::Federation => resolve_federation(app, provider, redirect_uri).await,
            ProviderSource::Static => resolve_static(app, http, provider, redirect_uri).await,
        }
    }
}

/// How long a static provider's documents are kept without a `max-age`.
pub const STATIC_CACHE_DEFAULT_SECS: i64 = 3600;
/// The longest a static provider's documents are kept, whatever `max-age` says.
pub const STATIC_CACHE_MAX_SECS: i64 = 86_400;
/// A kept JWKS younger than this is not fetched again for an unknown `kid`
/// (a forged token must not make every callback fetch the keys).
pub const STATIC_JWKS_REFETCH_MIN_SECS: i64 = 30;

/// The lifetime a `Cache-Control` header gives a document: its `max-age`
/// (at most [`STATIC_CACHE_MAX_SECS`]), 0 for `no-store` or `no-cache`,
/// [`STATIC_CACHE_DEFAULT_SECS`] when it says nothing usable.
pub fn cache_lifetime(cache_control: Option<&str>) -> i64 {
    let Some(value) = cache_control else {
        return STATIC_CACHE_DEFAULT_SECS;
    };
    let mut lifetime = STATIC_CACHE_DEFAULT_SECS;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return 0;
        }
        if let Some(age) = lower.strip_prefix("max-age=")
            && let Ok(age) = age.trim_matches('"').parse::<u64>()
        {
            lifetime = i64::try_from(age).unwrap_or(i64::MAX).min(STATIC_CACHE_MAX_SECS);
        }
    }
    lifetime
}

/// A static provider's documents as fetched.
#[derive(Debug, Clone)]
struct StaticDocuments {
    /// The discovery document.
    metadata: serde_json::Value,
    /// The JWKS fetched from `jwks_uri` (none when the metadata has `jwks`).
    jwks: Option<serde_json::Value>,
    /// Kept until then (unix seconds).
    until: i64,
    /// When the JWKS was fetched (unix seconds).
    jwks_fetched_at: i64,
}

/// The documents of static-mode providers, in memory, by provider name and
/// issuer (each node keeps its own).
#[derive(Debug, Default)]
pub struct StaticCache {
    documents: tokio::sync::RwLock<std::collections::HashMap<(String, String), StaticDocuments>>,
}

fn cache_key(provider: &UpstreamProvider) -> (String, String) {
    (provider.name.clone(), provider.issuer.clone())
}

/// A fetched JSON document and the lifetime its `Cache-Control` gives it.
async fn get_json(http: &reqwest::Client, name: &str, url: &str) -> Result<(serde_json::Value, i64), SourceError> {
    let failed = |reason: String| SourceError::Discovery {
        name: name.to_owned(),
        reason,
    };
    let response = http.get(url).send().await.map_err(|e| failed(format!("{url}: {e}")))?;
    if !response.status().is_success() {
        return Err(failed(format!("{url}: HTTP {}", response.status())));
    }
    let lifetime = cache_lifetime(
        response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
    );
    let value = response.json().await.map_err(|e| failed(format!("{url}: {e}")))?;
    Ok((value, lifetime))
}

/// The JWKS at the metadata's `jwks_uri`, unless the metadata carries its keys.
async fn fetch_jwks(
    http: &reqwest::Client,
    name: &str,
    metadata: &serde_json::Value,
) -> Result<Option<(serde_json::Value, i64)>, SourceError> {
    match metadata.get("jwks_uri").and_then(serde_json::Value::as_str) {
        Some(uri) if metadata.get("jwks").is_none() => Ok(Some(get_json(http, name, uri).await?)),
        _ => Ok(None),
    }
}

/// The provider's documents: the kept ones while they last, else fetched
/// (and kept for their lifetime).
async fn static_documents(
    app: &crate::App,
    http: &reqwest::Client,
    provider: &UpstreamProvider,
) -> Result<StaticDocuments, SourceError> {
    let now = app.now().0;
    let key = cache_key(provider);
    if let Some(kept) = app.upstream_cache.documents.read().await.get(&key)
        && now < kept.until
    {
        return Ok(kept.clone());
    }
    let name = provider.name.as_str();
    let discovery_url = format!(
        "{}/.well-known/openid-configuration",
        provider.issuer.trim_end_matches('/')
    );
    let (metadata, metadata_lifetime) = get_json(http, name, &discovery_url).await?;
    if metadata.get("issuer").and_then(serde_json::Value::as_str) != Some(provider.issuer.as_str()) {
        return Err(SourceError::Discovery {
            name: name.to_owned(),
            reason: "the discovery document's issuer is not the configured one".into(),
        });
    }
    let (jwks, lifetime) = match fetch_jwks(http, name, &metadata).await? {
        Some((jwks, jwks_lifetime)) => (Some(jwks), metadata_lifetime.min(jwks_lifetime)),
        None => (None, metadata_lifetime),
    };
    let documents = StaticDocuments {
        metadata,
        jwks,
        until: now.saturating_add(lifetime),
        jwks_fetched_at: now,
    };
    // Keys that do not make a provider are not kept.
    varco_oidc::rp::Provider::from_metadata(&documents.metadata, documents.jwks.as_ref()).map_err(|source| {
        SourceError::Metadata {
            name: name.to_owned(),
            source,
        }
    })?;
    let mut kept = app.upstream_cache.documents.write().await;
    if lifetime > 0 {
        kept.insert(key, documents.clone());
    } else {
        kept.remove(&key);
    }
    Ok(documents)
}

/// After an ID token signed with a key the kept JWKS does not have: fetches
/// the static provider's JWKS again (unless the kept one is only seconds
/// old) and answers the provider resolved with it; `None` when nothing was
/// fetched (federation mode, keys inline, or just fetched), so the refusal
/// stands.
pub async fn refetch_static_keys(
    app: &crate::App,
    http: &reqwest::Client,
    provider: &UpstreamProvider,
    redirect_uri: &str,
) -> Result<Option<Resolved>, SourceError> {
    if provider.mode != UpstreamMode::Static {
        return Ok(None);
    }
    let now = app.now().0;
    let mut documents = static_documents(app, http, provider).await?;
    if documents.jwks.is_none() || now - documents.jwks_fetched_at < STATIC_JWKS_REFETCH_MIN_SECS {
        return Ok(None);
    }
    let Some((jwks, lifetime)) = fetch_jwks(http, &provider.name, &documents.metadata).await? else {
        return Ok(None);
    };
    tracing::info!(
        provider = provider.name,
        "upstream provider's keys fetched again (unknown key id)"
    );
    documents.jwks = Some(jwks);
    documents.jwks_fetched_at = now;
    documents.until = documents.until.min(now.saturating_add(lifetime));
    let resolved = static_resolved(provider, redirect_uri, &documents).map_err(|e| *e)?;
    let mut kept = app.upstream_cache.documents.write().await;
    if documents.until > now {
        kept.insert(cache_key(provider), documents);
    } else {
        kept.remove(&cache_key(provider));
    }
    Ok(Some(resolved))
}

async fn resolve_static(
    app: &crate::App,
    http: &reqwest::Client,
    provider: &UpstreamProvider,
    redirect_uri: &str,
) -> Result<Resolved, SourceError> {
    let documents = static_documents(app, http, provider).await?;
    static_resolved(provider, redirect_uri, &documents).map_err(|e| *e)
}

/// The provider made from its documents (the error boxed: it is large).
fn static_resolved(
    provider: &UpstreamProvider,
    redirect_uri: &str,
    documents: &StaticDocuments,
) -> Result<Resolved, Box<SourceError>> {
    let name = provider.name.as_str();
    let (metadata, jwks) = (&documents.metadata, &documents.jwks);
    let rp_provider = varco_oidc::rp::Provider::from_metadata(metadata, jwks.as_ref()).map_err(|source| {
        Box::new(SourceError::Metadata {
            name: name.to_owned(),
            source,
        })
    })?;
    let mut registration = varco_oidc::rp::Registration::static_provider(provider.client_id.clone(), redirect_uri);
    registration.scope = provider.scope.clone();
    registration.acr = varco_oidc::rp::AcrPolicy::Spid(provider.acr_min);
    registration.ui_locales = Some("it en".into());
    let secret = provider.client_secret.clone().ok_or_else(|| {
        Box::new(SourceError::Discovery {
            name: name.to_owned(),
            reason: "static mode without a client secret".into(),
        })
    })?;
    Ok(Resolved {
        provider: rp_provider,
        registration,
        credential: Credential::ClientSecretBasic(secret),
        decryption: Vec::new(),
    })
}

/// Federation mode: the provider's metadata and keys from its trust chain
/// (cached until the chain expires), Varco's entity id as `client_id`,
/// `private_key_jwt` with Varco's core signing key, a signed request
/// object, and the userinfo JWE decrypted with Varco's encryption keys.
async fn resolve_federation(
    app: &crate::App,
    provider: &UpstreamProvider,
    redirect_uri: &str,
) -> Result<Resolved, SourceError> {
    let name = provider.name.as_str();
    let not_configured = || SourceError::FederationNotConfigured(name.to_owned());
    let settings = app.settings.federation.as_ref().ok_or_else(not_configured)?;
    let trust_anchor = match &provider.trust_anchor {
        Some(entity_id) => settings.trust_anchor(entity_id).ok_or_else(not_configured)?,
        None => settings.trust_anchors.first().ok_or_else(not_configured)?,
    };
    let fetcher = crate::federation::HttpFetcher::new(settings.fetch_timeout).map_err(|source| SourceError::Keys {
        name: name.to_owned(),
        source,
    })?;
    let (rp_provider, _expires_at) = crate::federation::resolve_provider(
        app,
        &fetcher,
        &provider.issuer,
        trust_anchor.entity_id(),
        provider.trust_mark.as_deref(),
        provider.kind == UpstreamKind::Cie,
    )
    .await
    .map_err(|source| SourceError::Federation {
        name: name.to_owned(),
        source,
    })?;
    let keys = app
        .federation_keys()
        .current(app)
        .await
        .map_err(|source| SourceError::Keys {
            name: name.to_owned(),
            source,
        })?;
    let mut registration = varco_oidc::rp::Registration::federation(settings.entity_id.clone(), redirect_uri);
    registration.acr = varco_oidc::rp::AcrPolicy::Spid(provider.acr_min);
    registration.ui_locales = Some("it en".into());
    Ok(Resolved {
        provider: (*rp_provider).clone(),
        registration,
        credential: Credential::PrivateKeyJwt(std::sync::Arc::clone(&keys.signing)),
        decryption: keys.decryption.iter().map(|k| (**k).clone()).collect(),
    })
}

/// The HTTP client for upstream providers: a timeout, no redirects
/// followed, loopback allowed (a gateway on this machine, tests).
pub fn http_client(settings: &UpstreamSettings) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(settings.http_timeout_secs.max(1)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// Sends a form the relying party built; returns the status, the
/// `Content-Type` and the body.
pub async fn send_form(
    http: &reqwest::Client,
    post: &varco_oidc::rp::FormPost,
) -> Result<(u16, String, Vec<u8>), reqwest::Error> {
    let mut request = http
        .post(&post.url)
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(reqwest::header::ACCEPT, "application/json")
        .body(post.body());
    if let Some(authorization) = &post.authorization {
        request = request.header(reqwest::header::AUTHORIZATION, authorization);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.bytes().await?.to_vec();
    Ok((status, content_type, body))
}

/// The KEK label sealing upstream access tokens kept with sessions.
pub const ACCESS_TOKEN_SEAL_LABEL: &str = "varco-app/upstream-access-token/v1";

/// Revokes, best effort and in the background, the upstream access token a
/// session kept; logged, never blocking the logout. Appends a `revocation`
/// record to the federation log when the provider answered.
pub(crate) fn revoke_in_background(app: &crate::App, provider_name: &str, sealed_token: &str) {
    let Some(provider) = app.settings.upstream.provider(provider_name).cloned() else {
        tracing::warn!(
            provider = provider_name,
            "upstream revocation: provider no longer configured"
        );
        return;
    };
    let token = match app.settings.provider.kek.open(ACCESS_TOKEN_SEAL_LABEL, sealed_token) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            tracing::warn!(provider = provider_name, error = %e, "upstream revocation: token does not unseal");
            return;
        }
    };
    let app = app.clone();
    app.background.clone().spawn(async move {
        let outcome = revoke(&app, &provider, &token).await;
        match &outcome {
            Ok(Some(status)) => tracing::info!(provider = provider.name, status, "upstream access token revoked"),
            Ok(None) => tracing::debug!(provider = provider.name, "upstream provider has no revocation endpoint"),
            Err(reason) => tracing::warn!(provider = provider.name, reason, "upstream revocation failed"),
        }
        if let Ok(None) = outcome {
            return;
        }
        let result = match &outcome {
            Ok(Some(status)) if (200..300).contains(status) => "success".to_owned(),
            Ok(Some(status)) => format!("http_{status}"),
            _ => "unreachable".to_owned(),
        };
        let logged = async {
            let mut tx = app.store.begin().await?;
            tx.append_federation_log(&varco_store::NewFederationLogEntry {
                at: app.now(),
                provider: &provider.name,
                kind: varco_domain::federation_log::FederationRecordKind::Revocation,
                request_id: None,
                response_id: None,
                subject: None,
                outcome: &result,
            })
            .await?;
            tx.commit().await
        };
        if let Err(e) = logged.await {
            tracing::warn!(error = %e, "upstream revocation: federation log not written");
        }
    });
}

/// `Ok(None)`: the provider has no revocation endpoint; `Ok(Some(status))`: its answer.
async fn revoke(app: &crate::App, provider: &UpstreamProvider, token: &str) -> Result<Option<u16>, String> {
    let http = http_client(&app.settings.upstream).map_err(|e| e.to_string())?;
    let resolved = ProviderSource::of(provider)
        .resolve(app, &http, provider, &callback_url(&app.settings))
        .await
        .map_err(|e| e.to_string())?;
    if resolved.provider.revocation_endpoint.is_none() {
        return Ok(None);
    }
    let post = varco_oidc::rp::revocation_request(
        &resolved.provider,
        &resolved.registration,
        resolved.client_auth(),
        token,
        app.now().0,
    )
    .map_err(|e| e.to_string())?;
    let (status, _, _) = send_form(&http, &post).await.map_err(|e| e.to_string())?;
    Ok(Some(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_sets_the_lifetime_within_bounds() {
        assert_eq!(cache_lifetime(None), STATIC_CACHE_DEFAULT_SECS);
        assert_eq!(cache_lifetime(Some("public")), STATIC_CACHE_DEFAULT_SECS);
        assert_eq!(cache_lifetime(Some("public, max-age=600")), 600);
        assert_eq!(cache_lifetime(Some("Max-Age=\"120\"")), 120);
        assert_eq!(cache_lifetime(Some("max-age=31536000")), STATIC_CACHE_MAX_SECS);
        assert_eq!(cache_lifetime(Some("max-age=0")), 0);
        assert_eq!(cache_lifetime(Some("max-age=600, no-store")), 0);
        assert_eq!(cache_lifetime(Some("no-cache")), 0);
        assert_eq!(cache_lifetime(Some("max-age=soon")), STATIC_CACHE_DEFAULT_SECS);
    }
}
