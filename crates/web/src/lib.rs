//! Varco's HTTP edge: server-rendered HTML pages (`pages`), the JSON API
//! (`api`), and the middleware every response passes through (`security`).
//!
//! Handlers are thin: they read the request, call a use case of `varco_app`
//! and render its result. Errors become responses only in [`problem`].

pub mod api;
pub mod client_ip;
pub mod extract;
pub mod i18n;
pub mod oidc;
pub mod pages;
pub mod problem;
pub mod ratelimit;
pub mod security;
pub mod session;
mod static_files;
pub mod templates;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use tower_http::LatencyUnit;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use varco_app::App;

use crate::i18n::I18n;
use crate::ratelimit::IpLimiter;
use crate::templates::Templates;

/// A helpdesk's contacts (one type shared by pages, mail and configuration).
pub use varco_domain::helpdesk::Helpdesk;

/// Per-address limits per minute (0 = off). Sign-in and link limits count
/// failed attempts only; see [`ratelimit`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimits {
    /// Failed sign-ins (and wrong current passwords) per address per minute.
    pub login_per_minute: u32,
    /// API requests per address per minute.
    pub api_per_minute: u32,
    /// Forgot-password requests and failed link uses per address per minute.
    pub recovery_per_minute: u32,
    /// SPID/CIE sign-in requests per address per minute: every start, and
    /// the callbacks and school choices that were refused.
    pub upstream_per_minute: u32,
    /// Public email-change requests per address per minute.
    pub requests_per_minute: u32,
    /// IPv6 addresses share one budget per network of this prefix length.
    pub ipv6_prefix: u8,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            login_per_minute: 30,
            api_per_minute: 600,
            recovery_per_minute: 10,
            upstream_per_minute: 120,
            requests_per_minute: 3,
            ipv6_prefix: 64,
        }
    }
}

/// The web settings taken from configuration.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The public base URL (scheme, host, port, no trailing slash).
    pub public_url: String,
    /// The helpdesk shown when the visitor's school is not known.
    pub national_helpdesk: Helpdesk,
    /// Per-address limits.
    pub rate_limits: RateLimits,
    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The deployment's name and footer links.
    pub branding: templates::Branding,
}

impl WebConfig {
    /// Whether the public URL is `https://` (cookies are then `Secure` and `__Host-`).
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// The origin of the public URL (`scheme://host[:port]`).
    pub fn origin(&self) -> &str {
        let after_scheme = self.public_url.find("://").map(|i| i + 3).unwrap_or(0);
        match self.public_url[after_scheme..].find('/') {
            Some(i) => &self.public_url[..after_scheme + i],
            None => &self.public_url,
        }
    }
}

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct WebState {
    /// The use cases.
    pub app: App,
    /// The web settings.
    pub config: Arc<WebConfig>,
    /// The translations.
    pub i18n: Arc<I18n>,
    /// The page templates.
    pub templates: Arc<Templates>,
    /// Failed sign-ins and wrong current passwords, per address.
    pub login_limiter: IpLimiter,
    /// Requests to the JSON API, per address.
    pub api_limiter: IpLimiter,
    /// Forgot-password requests and failed link uses, per address.
    pub recovery_limiter: IpLimiter,
    /// SPID/CIE sign-in requests, per address.
    pub upstream_limiter: IpLimiter,
    /// Public email-change requests, per address.
    pub requests_limiter: IpLimiter,
}

impl WebState {
    /// The state for `config` (its public URL loses any trailing `/`), with the
    /// translations and templates loaded and the limiters sized.
    pub fn new(app: App, mut config: WebConfig) -> WebState {
        config.public_url = config.public_url.trim_end_matches('/').to_owned();
        let i18n = Arc::new(I18n::load());
        let templates = Arc::new(Templates::load(i18n.clone()));
        let limits = &config.rate_limits;
        WebState {
            app,
            login_limiter: IpLimiter::per_minute(limits.login_per_minute, limits.ipv6_prefix),
            api_limiter: IpLimiter::per_minute(limits.api_per_minute, limits.ipv6_prefix),
            recovery_limiter: IpLimiter::per_minute(limits.recovery_per_minute, limits.ipv6_prefix),
            upstream_limiter: IpLimiter::per_minute(limits.upstream_per_minute, limits.ipv6_prefix),
            requests_limiter: IpLimiter::per_minute(limits.requests_per_minute, limits.ipv6_prefix),
            config: Arc::new(config),
            i18n,
            templates,
        }
    }

    /// Periodic trimming: every limiter forgets the addresses whose budget is
    /// full again, so memory stays bounded whatever addresses come by.
    pub fn upkeep(&self) {
        for limiter in [
            &self.login_limiter,
            &self.api_limiter,
            &self.recovery_limiter,
            &self.upstream_limiter,
            &self.requests_limiter,
        ] {
            limiter.shrink();
        }
    }
}

/// JSON bodies are refused past this size.
pub const JSON_BODY_LIMIT: usize = 64 * 1024;

/// The whole HTTP surface.
pub fn router(state: WebState) -> Router {
    let api = api::routes().layer(axum::middleware::from_fn_with_state(
        state.clone(),
        api::same_origin_guard,
    ));
    Router::new()
        .merge(pages::routes())
        .merge(oidc::routes())
        .nest("/api/v1", api)
        .route("/api/openapi.json", get(api::openapi_json))
        .route("/healthz", get(api::healthz))
        .route("/static/{*path}", get(static_files::serve))
        .route("/favicon.ico", get(|| async { axum::http::StatusCode::NO_CONTENT }))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::render_page_failures,
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), security::headers))
        .layer(axum::middleware::from_fn_with_state(state.clone(), client_ip::layer))
        // Bodies (JSON and forms) past 64 KiB are refused with 413.
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        // Outermost: the id is set first, so the access log and every handler
        // see it, and it is copied onto the response.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(security::request_span)
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(LatencyUnit::Millis),
                ),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(security::MakeHexRequestId))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            client_ip::untrusted_request_id,
        ))
        .with_state(state)
}
