//! An example electronic register: the showcase of how a school
//! application integrates with Varco.
//!
//! It is a confidential OpenID Connect client of Varco (code flow with PKCE
//! S256, `state`, `nonce`, RFC 9207 `iss`, the ID token verified against
//! Varco's JWKS) asking for `openid profile school students`. A parent sees
//! the children named by the `urn:varco:claims:students` claim and each
//! child's absences from the register's own store, and justifies some of
//! them through Varco's act-confirmation API: the register describes the act
//! in Italian, binds it to a payload, sends the browser to Varco where the
//! parent enters the PIN, redeems the one-time code with the same payload,
//! checks the signed confirmation, and only then records the absences as
//! justified with the confirmation's id. A teacher confirms an application
//! with the personal code the same way.
//!
//! See `examples/registro/README.md` to run it next to `varco serve`.

pub mod act;
pub mod pages;
pub mod person;
pub mod proof;
pub mod session;
pub mod store;
pub mod varco;
pub mod web;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;

/// How the register is set up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Varco's public URL (its issuer).
    pub varco: String,
    /// The register's client id at Varco.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// The register's own public URL (the redirect URI is `/callback` under it).
    pub public_url: String,
    /// The JSON file of the store.
    pub data: PathBuf,
}

/// Why the register cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store's file cannot be opened.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The HTTP client cannot be built.
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// A URL of the settings is not usable.
    #[error("{0}")]
    Url(String),
}

impl Settings {
    /// The redirect URI registered at Varco: `<public URL>/callback`.
    #[must_use]
    pub fn redirect_uri(&self) -> String {
        format!("{}/callback", self.public_url.trim_end_matches('/'))
    }
}

/// Opens the store and prepares the connection to Varco (discovered at the
/// first sign-in, so the register starts while Varco is down).
pub fn build(settings: &Settings) -> Result<Arc<web::Register>, StartError> {
    let varco_url =
        url::Url::parse(&settings.varco).map_err(|e| StartError::Url(format!("--varco {}: {e}", settings.varco)))?;
    let public_url = url::Url::parse(&settings.public_url)
        .map_err(|e| StartError::Url(format!("--public-url {}: {e}", settings.public_url)))?;
    let store = store::Store::open(&settings.data)?;
    let varco = varco::Varco::new(
        &settings.varco,
        &settings.client_id,
        &settings.client_secret,
        &settings.redirect_uri(),
    )?;
    Ok(Arc::new(web::Register {
        varco,
        store,
        sessions: session::Sessions::default(),
        pages: pages::Pages::new(&varco_url.origin().ascii_serialization()),
        secure_cookies: public_url.scheme() == "https",
    }))
}

/// Serves the register on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    register: Arc<web::Register>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, web::router(register))
        .with_graceful_shutdown(shutdown)
        .await
}
