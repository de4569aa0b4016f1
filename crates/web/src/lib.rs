//! Varco's HTTP edge: server-rendered HTML pages (`pages`), the JSON API
//! (`api`), and the middleware every response passes through (`security`).
//!
//! Handlers are thin: they read the request, call a use case of `varco_app`
//! and render its result. Errors become responses only in [`problem`].

pub mod api;
pub mod extract;
pub mod i18n;
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
use varco_app::App;

use crate::i18n::I18n;
use crate::ratelimit::IpLimiter;
use crate::templates::Templates;

/// A helpdesk's contacts, as shown on `/help` and in email footers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Helpdesk {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub hours: Option<String>,
}

/// Per-IP limits, requests per minute (0 = off).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimits {
    pub login_per_minute: u32,
    pub api_per_minute: u32,
    /// Forgot-password requests and link uses per IP per minute.
    pub recovery_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            login_per_minute: 30,
            api_per_minute: 600,
            recovery_per_minute: 10,
        }
    }
}

/// The web settings taken from configuration.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The public base URL (scheme, host, port, no trailing slash).
    pub public_url: String,
    pub national_helpdesk: Helpdesk,
    pub rate_limits: RateLimits,
    /// The deployment's name and footer links.
    pub branding: templates::Branding,
}

impl WebConfig {
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
    pub app: App,
    pub config: Arc<WebConfig>,
    pub i18n: Arc<I18n>,
    pub templates: Arc<Templates>,
    pub login_limiter: IpLimiter,
    pub api_limiter: IpLimiter,
    pub recovery_limiter: IpLimiter,
}

impl WebState {
    pub fn new(app: App, mut config: WebConfig) -> WebState {
        config.public_url = config.public_url.trim_end_matches('/').to_owned();
        let i18n = Arc::new(I18n::load());
        let templates = Arc::new(Templates::load(i18n.clone()));
        WebState {
            app,
            login_limiter: IpLimiter::per_minute(config.rate_limits.login_per_minute),
            api_limiter: IpLimiter::per_minute(config.rate_limits.api_per_minute),
            recovery_limiter: IpLimiter::per_minute(config.rate_limits.recovery_per_minute),
            config: Arc::new(config),
            i18n,
            templates,
        }
    }
}

/// JSON bodies are refused past this size.
pub const JSON_BODY_LIMIT: usize = 64 * 1024;

/// The whole HTTP surface.
pub fn router(state: WebState) -> Router {
    let api = api::routes()
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            api::same_origin_guard,
        ))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT));
    Router::new()
        .merge(pages::routes())
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
        .layer(axum::middleware::from_fn(security::headers))
        .layer(axum::middleware::from_fn(security::request_id))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .with_state(state)
}
