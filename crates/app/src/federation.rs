//! Varco as a relying party of the SPID/CIE OpenID Connect Federation: its
//! own keys, its signed entity configuration, and the trust chains of the
//! providers it logs people in at.
//!
//! - [`FederationKeyRing`]: the federation key (signs the entity
//!   configuration), the OIDC core signing key (request objects, client
//!   assertions) and the core encryption key (userinfo JWE). Generated on
//!   first use, stored sealed under the KEK (`federation_keys`), reloaded at
//!   most once a minute (how `varco keys rotate` reaches running servers).
//!   After a rotation the retired keys stay published, and the retired
//!   encryption keys usable for decryption, for `retired_key_secs`.
//! - [`entity_configuration`]: the signed entity configuration served at
//!   `/.well-known/openid-federation`, cached until near its expiry or until
//!   the keys change.
//! - [`HttpFetcher`] and [`resolve_provider`]: an OP's trust chain up to a
//!   configured trust anchor, turned into an [`rp::Provider`] and cached
//!   until the chain expires (at most a day).
//!
//! Invariant: no private key, token or fetched body reaches a log line or an
//! error message; entity identifiers (public URLs) and key ids may.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tokio::sync::RwLock;
use varco_federation::{
    EntityConfiguration, FederationError, FederationKey, FetchError, Fetcher, Jwks, KeyUse, OPENID_PROVIDER,
    TrustAnchor, TrustChainResolver, TrustMarkEntry, build_entity_configuration,
};
use varco_oidc::rp::{self, EncryptionKey};
use varco_oidc::{Alg, SigningKey};
use varco_store::{FederationKeyPurpose, FederationKeyRecord, KeyRecord};

use crate::{App, AppError};

/// The path of the callback the upstream providers redirect back to.
pub const CALLBACK_PATH: &str = "/login/upstream/callback";

/// The label of the key derived from the KEK that seals federation keys.
const FEDERATION_SEAL_LABEL: &str = "varco-app/federation-key-seal/v1";

/// How often the unsealed keys are read again from the database.
const RELOAD_EVERY: Duration = Duration::from_secs(60);

/// The longest a resolved provider is kept before its chain is resolved again.
pub const MAX_PROVIDER_CACHE_SECS: i64 = 24 * 3600;

/// The `[federation]` section: who Varco is in the federation.
#[derive(Clone, Debug)]
pub struct FederationSettings {
    /// Varco's entity identifier (its `client_id` at SPID/CIE providers).
    pub entity_id: String,
    /// The trust anchors, their keys pinned.
    pub trust_anchors: Vec<TrustAnchor>,
    /// The superiors Varco is registered under.
    pub authority_hints: Vec<String>,
    /// The trust marks received at onboarding.
    pub trust_marks: Vec<TrustMarkEntry>,
    /// `federation_entity.organization_name` and the RP's `client_name`.
    pub organization_name: String,
    /// `federation_entity.homepage_uri`.
    pub homepage_uri: Option<String>,
    /// `federation_entity.policy_uri`.
    pub policy_uri: Option<String>,
    /// `federation_entity.logo_uri`.
    pub logo_uri: Option<String>,
    /// `federation_entity.contacts` (the PEC address).
    pub contacts: Vec<String>,
    /// `exp` − `iat` of the entity configuration, in seconds.
    pub entity_configuration_secs: i64,
    /// The redirect URI registered in the metadata.
    pub redirect_uri: String,
    /// Fetch timeout for federation documents.
    pub fetch_timeout: Duration,
}

impl FederationSettings {
    /// The configured trust anchor `entity_id`.
    #[must_use]
    pub fn trust_anchor(&self, entity_id: &str) -> Option<&TrustAnchor> {
        self.trust_anchors.iter().find(|a| a.entity_id() == entity_id)
    }
}

/// Why a federation step failed. Messages name entities and key ids only.
#[derive(Debug, thiserror::Error)]
pub enum FederationServiceError {
    /// No `[federation]` section is configured.
    #[error("federation is not configured")]
    NotConfigured,
    /// The trust anchor named is not one of the configuration.
    #[error("{0} is not a configured trust anchor")]
    UnknownTrustAnchor(String),
    /// The trust chain was refused.
    #[error("the trust chain of {entity} was refused")]
    Chain {
        /// The entity whose chain was resolved.
        entity: String,
        /// Why.
        #[source]
        source: FederationError,
    },
    /// The resolved `openid_provider` metadata is not usable.
    #[error("the openid_provider metadata of {entity} is not usable")]
    Metadata {
        /// The provider.
        entity: String,
        /// Why.
        #[source]
        source: rp::RpError,
    },
    /// Varco's own entity configuration could not be built.
    #[error("cannot build the entity configuration")]
    Build(#[source] FederationError),
    /// Keys or storage failed.
    #[error(transparent)]
    App(#[from] AppError),
}

/// The relying party's keys in use, unsealed.
pub struct FederationKeys {
    /// The active federation key (signs the entity configuration).
    pub federation: Arc<FederationKey>,
    /// The active core signing key (RS256: request objects, client assertions).
    pub signing: Arc<SigningKey>,
    /// The active core encryption key (RSA-OAEP: userinfo JWE).
    pub encryption: Arc<EncryptionKey>,
    /// Every encryption key still published, newest first (the active one
    /// first): what a provider may have encrypted to.
    pub decryption: Vec<Arc<EncryptionKey>>,
    /// The public federation keys to publish (active and in overlap).
    pub federation_jwks: Jwks,
    /// The public core keys to publish, `{"keys": [...]}`, each with `use`.
    pub rp_jwks: Value,
}

impl FederationKeys {
    /// A text that changes whenever a published key does.
    fn fingerprint(&self) -> String {
        let mut kids: Vec<&str> = self
            .federation_jwks
            .keys()
            .iter()
            .filter_map(|k| k.get("kid").and_then(Value::as_str))
            .collect();
        if let Some(keys) = self.rp_jwks.get("keys").and_then(Value::as_array) {
            kids.extend(keys.iter().filter_map(|k| k.get("kid").and_then(Value::as_str)));
        }
        kids.join(",")
    }
}

impl std::fmt::Debug for FederationKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FederationKeys")
            .field("federation", &self.federation.kid())
            .field("signing", &self.signing.kid())
            .field("encryption", &self.encryption.kid())
            .finish_non_exhaustive()
    }
}

/// The relying party's keys, cached; see the module documentation.
#[derive(Default)]
pub struct FederationKeyRing {
    loaded: RwLock<Option<(Instant, Arc<FederationKeys>)>>,
    /// Held while missing keys are made, so one node makes them once.
    generating: tokio::sync::Mutex<()>,
    entity_configuration: RwLock<Option<CachedConfiguration>>,
    providers: RwLock<HashMap<ProviderKey, (Arc<rp::Provider>, i64)>>,
}

impl std::fmt::Debug for FederationKeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FederationKeyRing")
    }
}

/// A resolved provider's cache key: OP, trust anchor, required trust mark, CIE.
type ProviderKey = (String, String, Option<String>, bool);

struct CachedConfiguration {
    jwt: Arc<str>,
    fingerprint: String,
    refresh_at: i64,
}

impl FederationKeyRing {
    /// The keys in use, generating the missing ones on first use.
    pub async fn current(&self, app: &App) -> Result<Arc<FederationKeys>, AppError> {
        if let Some((at, keys)) = self.loaded.read().await.as_ref()
            && at.elapsed() < RELOAD_EVERY
        {
            return Ok(keys.clone());
        }
        if let Some(keys) = self.reload(app).await? {
            return Ok(keys);
        }
        // A purpose has no active key yet: make the missing ones, once per
        // node (a second node doing the same at the same moment only adds
        // valid keys).
        let _generating = self.generating.lock().await;
        if let Some(keys) = self.reload(app).await? {
            return Ok(keys);
        }
        let records = read_records(app).await?;
        let mut tx = app.store.begin().await?;
        for purpose in FederationKeyPurpose::ALL {
            if !records
                .iter()
                .any(|r| r.purpose == purpose && r.key.retired_at.is_none())
            {
                let record = generate(app, purpose)?;
                tx.insert_federation_key(&record).await?;
                tracing::info!(kid = %record.key.kid, purpose = purpose.as_str(), "federation key generated");
            }
        }
        tx.commit().await?;
        self.reload(app)
            .await?
            .ok_or_else(|| AppError::internal("federation keys missing right after they were made"))
    }

    /// Forgets the caches: the next use reads the database.
    pub async fn forget(&self) {
        *self.loaded.write().await = None;
        *self.entity_configuration.write().await = None;
    }

    /// Reads and unseals the keys; `None` when a purpose has no active key.
    async fn reload(&self, app: &App) -> Result<Option<Arc<FederationKeys>>, AppError> {
        let records = read_records(app).await?;
        let kek = &app.settings.provider.kek;
        let mut federation = None;
        let mut signing = None;
        let mut decryption: Vec<Arc<EncryptionKey>> = Vec::new();
        let mut encryption = None;
        let mut federation_public = Vec::new();
        let mut rp_public = Vec::new();
        let cannot_open = |kid: &str, e: &dyn std::fmt::Display| {
            AppError::internal(format!(
                "federation key {kid} does not open with this key-encryption key: {e}"
            ))
        };
        for record in &records {
            let key = &record.key;
            let jwk: Value = serde_json::from_str(&key.public_jwk)
                .map_err(|e| AppError::internal_because(format!("stored public key {}", key.kid), e))?;
            let active = key.retired_at.is_none();
            match record.purpose {
                FederationKeyPurpose::Federation => {
                    federation_public.push(jwk);
                    if active && federation.is_none() {
                        let opened =
                            FederationKey::unseal(&kek.derive(FEDERATION_SEAL_LABEL), &key.kid, &key.sealed_private)
                                .map_err(|e| cannot_open(&key.kid, &e))?;
                        federation = Some(Arc::new(opened));
                    }
                }
                FederationKeyPurpose::CoreSig => {
                    rp_public.push(jwk);
                    if active && signing.is_none() {
                        let opened = SigningKey::unseal(kek, &key.kid, Alg::Rs256, &key.sealed_private)
                            .map_err(|e| cannot_open(&key.kid, &e))?;
                        signing = Some(Arc::new(opened));
                    }
                }
                FederationKeyPurpose::CoreEnc => {
                    rp_public.push(jwk);
                    let opened = Arc::new(
                        EncryptionKey::unseal(kek, &key.kid, &key.sealed_private)
                            .map_err(|e| cannot_open(&key.kid, &e))?,
                    );
                    if active && encryption.is_none() {
                        encryption = Some(opened.clone());
                        decryption.insert(0, opened);
                    } else {
                        decryption.push(opened);
                    }
                }
            }
        }
        let (Some(federation), Some(signing), Some(encryption)) = (federation, signing, encryption) else {
            return Ok(None);
        };
        // Signing keys first, then encryption keys, as `rp_jwks` orders them.
        rp_public.sort_by_key(|k| k.get("use").and_then(Value::as_str) != Some("sig"));
        let keys = Arc::new(FederationKeys {
            federation,
            signing,
            encryption,
            decryption,
            federation_jwks: Jwks::new(federation_public),
            rp_jwks: json!({ "keys": rp_public }),
        });
        *self.loaded.write().await = Some((Instant::now(), keys.clone()));
        Ok(Some(keys))
    }
}

async fn read_records(app: &App) -> Result<Vec<FederationKeyRecord>, AppError> {
    let mut tx = app.store.begin_read().await?;
    let records = tx.federation_keys(app.now()).await?;
    tx.commit().await?;
    Ok(records)
}

/// A new key for `purpose`, sealed.
fn generate(app: &App, purpose: FederationKeyPurpose) -> Result<FederationKeyRecord, AppError> {
    let kek = &app.settings.provider.kek;
    let internal = |e: &dyn std::fmt::Display| AppError::internal(format!("federation key: {e}"));
    let (kid, alg, sealed, public) = match purpose {
        FederationKeyPurpose::Federation => {
            let key = FederationKey::generate_rsa(KeyUse::Sig).map_err(|e| internal(&e))?;
            let sealed = key.seal(&kek.derive(FEDERATION_SEAL_LABEL)).map_err(|e| internal(&e))?;
            (key.kid().to_owned(), key.alg().as_str(), sealed, key.public_jwk())
        }
        FederationKeyPurpose::CoreSig => {
            let key = SigningKey::generate(Alg::Rs256).map_err(|e| internal(&e))?;
            let sealed = key.seal(kek).map_err(|e| internal(&e))?;
            (key.kid().to_owned(), key.alg().as_str(), sealed, key.public_jwk())
        }
        FederationKeyPurpose::CoreEnc => {
            let key = EncryptionKey::generate().map_err(|e| internal(&e))?;
            let sealed = key.seal(kek).map_err(|e| internal(&e))?;
            (key.kid().to_owned(), "RSA-OAEP", sealed, key.public_jwk())
        }
    };
    Ok(FederationKeyRecord {
        purpose,
        key: KeyRecord {
            kid,
            alg: alg.to_owned(),
            sealed_private: sealed,
            public_jwk: public.to_string(),
            created_at: app.now(),
            retired_at: None,
            publish_until: None,
        },
    })
}

/// New federation, core signing and core encryption keys; the ones they
/// replace stay published (and the encryption key usable) for
/// `retired_key_secs`. Returns the new key ids and how many were retired.
pub(crate) async fn rotate_keys(app: &App) -> Result<(Vec<String>, u64), AppError> {
    let now = app.now();
    let mut fresh = Vec::new();
    for purpose in FederationKeyPurpose::ALL {
        fresh.push(generate(app, purpose)?);
    }
    let mut tx = app.store.begin().await?;
    let retired = tx
        .retire_federation_keys(now, now.plus_secs(app.settings.provider.retired_key_secs))
        .await?;
    for record in &fresh {
        tx.insert_federation_key(record).await?;
    }
    tx.commit().await?;
    app.federation_keys().forget().await;
    Ok((fresh.into_iter().map(|r| r.key.kid).collect(), retired))
}

/// Varco's `openid_relying_party` metadata for `keys`.
#[must_use]
pub fn relying_party_metadata(settings: &FederationSettings, keys: &FederationKeys) -> Map<String, Value> {
    let value = json!({
        "client_id": settings.entity_id,
        "client_registration_types": ["automatic"],
        "client_name": settings.organization_name,
        "redirect_uris": [settings.redirect_uri],
        "response_types": ["code"],
        "grant_types": ["authorization_code"],
        "jwks": keys.rp_jwks,
        "id_token_signed_response_alg": "RS256",
        "userinfo_signed_response_alg": "RS256",
        "userinfo_encrypted_response_alg": "RSA-OAEP",
        "userinfo_encrypted_response_enc": "A256CBC-HS512",
        "token_endpoint_auth_method": "private_key_jwt",
        "contacts": settings.contacts,
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn federation_entity_metadata(settings: &FederationSettings) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert(
        "organization_name".into(),
        Value::String(settings.organization_name.clone()),
    );
    for (name, value) in [
        ("homepage_uri", &settings.homepage_uri),
        ("policy_uri", &settings.policy_uri),
        ("logo_uri", &settings.logo_uri),
    ] {
        if let Some(value) = value {
            map.insert(name.into(), Value::String(value.clone()));
        }
    }
    if !settings.contacts.is_empty() {
        map.insert("contacts".into(), json!(settings.contacts));
    }
    map
}

/// Varco's signed entity configuration; `None` without a `[federation]`
/// section. Cached until a tenth of its lifetime before expiry, or until a
/// published key changes.
pub async fn entity_configuration(app: &App) -> Result<Option<Arc<str>>, FederationServiceError> {
    let Some(settings) = app.settings.federation.as_ref() else {
        return Ok(None);
    };
    let ring = app.federation_keys();
    let keys = ring.current(app).await?;
    let fingerprint = keys.fingerprint();
    let now = app.now().0;
    if let Some(cached) = ring.entity_configuration.read().await.as_ref()
        && cached.fingerprint == fingerprint
        && now < cached.refresh_at
    {
        return Ok(Some(cached.jwt.clone()));
    }
    let relying_party = relying_party_metadata(settings, &keys);
    let federation_entity = federation_entity_metadata(settings);
    let lifetime = settings.entity_configuration_secs;
    let jwt: Arc<str> = build_entity_configuration(
        &keys.federation,
        &EntityConfiguration {
            entity_id: &settings.entity_id,
            issued_at: now,
            lifetime_secs: lifetime,
            jwks: &keys.federation_jwks,
            openid_relying_party: &relying_party,
            federation_entity: &federation_entity,
            authority_hints: &settings.authority_hints,
            trust_marks: &settings.trust_marks,
        },
    )
    .map_err(FederationServiceError::Build)?
    .into();
    *ring.entity_configuration.write().await = Some(CachedConfiguration {
        jwt: jwt.clone(),
        fingerprint,
        refresh_at: now + lifetime - lifetime / 10,
    });
    Ok(Some(jwt))
}

/// The largest federation document read.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// A [`Fetcher`] over HTTP: `https` URLs, or `http` to a loopback address
/// only; no redirects; a timeout; at most [`MAX_BODY_BYTES`]; the content
/// type checked leniently (anything naming `jwt`, `json` or `text/plain`, or
/// none).
#[derive(Clone, Debug)]
pub struct HttpFetcher {
    client: reqwest::Client,
}

impl HttpFetcher {
    /// A fetcher with `timeout` for the whole exchange.
    pub fn new(timeout: Duration) -> Result<HttpFetcher, AppError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("varco/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AppError::internal_because("federation HTTP client", e))?;
        Ok(HttpFetcher { client })
    }
}

/// Whether `url` may be fetched: `https`, or `http` to a loopback host.
#[must_use]
pub fn fetchable(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    match url.scheme() {
        "https" => url.host_str().is_some(),
        "http" => match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            None => false,
        },
        _ => false,
    }
}

impl Fetcher for HttpFetcher {
    async fn fetch(&self, url: &str) -> Result<String, FetchError> {
        if !fetchable(url) {
            return Err(FetchError::Transport(
                "only https, or http to a loopback address, is fetched".into(),
            ));
        }
        let mut response = self
            .client
            .get(url)
            .header(
                reqwest::header::ACCEPT,
                "application/entity-statement+jwt, application/jwt, */*;q=0.5",
            )
            .send()
            .await
            .map_err(|e| FetchError::Transport(describe(&e)))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(FetchError::Status {
                status: response.status().as_u16(),
            });
        }
        if let Some(content_type) = response.headers().get(reqwest::header::CONTENT_TYPE) {
            let content_type = content_type.to_str().unwrap_or_default().to_ascii_lowercase();
            if !(content_type.contains("jwt")
                || content_type.contains("json")
                || content_type.starts_with("text/plain"))
            {
                return Err(FetchError::Transport("unexpected content type".into()));
            }
        }
        if response.content_length().is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return Err(FetchError::Transport("the body is too large".into()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| FetchError::Transport(describe(&e)))?
        {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(FetchError::Transport("the body is too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).map_err(|_| FetchError::Transport("the body is not UTF-8".into()))
    }
}

/// A short description of a transport failure, without URL query or body.
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "cannot connect".into()
    } else if error.is_body() || error.is_decode() {
        "cannot read the body".into()
    } else {
        "request failed".into()
    }
}

/// The provider `op_entity_id`, trusted through `trust_anchor` (a configured
/// anchor's entity id), presenting `required_trust_mark` when given: its
/// trust chain resolved, its `openid_provider` metadata (policy applied)
/// made an [`rp::Provider`] with its inline keys. `cie` forces
/// `iss_in_callback`. Returns the provider and when to resolve it again
/// (the chain's expiry, at most [`MAX_PROVIDER_CACHE_SECS`] away); cached
/// until then. Every refusal is logged (entities and reasons only).
pub async fn resolve_provider(
    app: &App,
    fetcher: &(impl Fetcher + Sync),
    op_entity_id: &str,
    trust_anchor: &str,
    required_trust_mark: Option<&str>,
    cie: bool,
) -> Result<(Arc<rp::Provider>, i64), FederationServiceError> {
    let result = resolve_uncached(app, fetcher, op_entity_id, trust_anchor, required_trust_mark, cie).await;
    if let Err(error) = &result {
        tracing::warn!(
            op = op_entity_id,
            trust_anchor,
            error = %crate::error_chain(error),
            "federation: provider refused"
        );
    }
    result
}

async fn resolve_uncached(
    app: &App,
    fetcher: &(impl Fetcher + Sync),
    op_entity_id: &str,
    trust_anchor: &str,
    required_trust_mark: Option<&str>,
    cie: bool,
) -> Result<(Arc<rp::Provider>, i64), FederationServiceError> {
    let settings = app
        .settings
        .federation
        .as_ref()
        .ok_or(FederationServiceError::NotConfigured)?;
    let anchor = settings
        .trust_anchor(trust_anchor)
        .ok_or_else(|| FederationServiceError::UnknownTrustAnchor(trust_anchor.to_owned()))?;
    let now = app.now().0;
    let cache_key = (
        op_entity_id.to_owned(),
        trust_anchor.to_owned(),
        required_trust_mark.map(str::to_owned),
        cie,
    );
    let ring = app.federation_keys();
    if let Some((provider, until)) = ring.providers.read().await.get(&cache_key)
        && now < *until
    {
        return Ok((provider.clone(), *until));
    }
    let mut resolver = TrustChainResolver::new(fetcher, anchor);
    if let Some(id) = required_trust_mark {
        resolver = resolver.require_trust_mark(id);
    }
    let chain = resolver
        .resolve(op_entity_id, OPENID_PROVIDER, now)
        .await
        .map_err(|source| FederationServiceError::Chain {
            entity: op_entity_id.to_owned(),
            source,
        })?;
    let metadata = Value::Object(chain.metadata().clone());
    let mut provider =
        rp::Provider::from_metadata(&metadata, None).map_err(|source| FederationServiceError::Metadata {
            entity: op_entity_id.to_owned(),
            source,
        })?;
    if cie {
        provider.iss_in_callback = true;
    }
    let until = chain.expires_at().min(now + MAX_PROVIDER_CACHE_SECS);
    let provider = Arc::new(provider);
    let mut cache = ring.providers.write().await;
    cache.retain(|_, (_, until)| *until > now);
    cache.insert(cache_key, (provider.clone(), until));
    Ok((provider, until))
}
