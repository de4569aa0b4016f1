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
//!   and a client secret.
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
    /// Federation mode is configured but no trust-chain resolver is wired in.
    #[error("provider {0}: federation mode is not configured in this deployment")]
    FederationNotConfigured(String),
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
