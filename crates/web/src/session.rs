//! The session cookie and the extractors that read it.
//!
//! The cookie is `varco_session` (`__Host-varco_session` on https):
//! `HttpOnly`, `SameSite=Lax`, `Path=/`, `Secure` on https, no `Max-Age` (it
//! dies with the browser; the server enforces idle and absolute limits).
//! Anonymous forms (login, setup) use a double-submit `varco_csrf` cookie;
//! forms of a signed-in user use the CSRF token stored with the session.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use varco_app::RequestContext;
use varco_app::sessions::Authenticated;

use crate::problem::{ApiError, PageError, WebError};
use crate::{WebConfig, WebState};

pub fn cookie_name(config: &WebConfig) -> &'static str {
    if config.is_https() {
        "__Host-varco_session"
    } else {
        "varco_session"
    }
}

pub const CSRF_COOKIE: &str = "varco_csrf";
pub const LANG_COOKIE: &str = "varco_lang";

/// The value of a cookie, if the request carries it.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn attributes(config: &WebConfig, same_site: &str) -> String {
    let secure = if config.is_https() { "; Secure" } else { "" };
    format!("Path=/; HttpOnly; SameSite={same_site}{secure}")
}

pub fn session_cookie(config: &WebConfig, token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{}={token}; {}",
        cookie_name(config),
        attributes(config, "Lax")
    ))
    .expect("a base64url token is a valid header value")
}

pub fn clear_session_cookie(config: &WebConfig) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{}=; Max-Age=0; {}",
        cookie_name(config),
        attributes(config, "Lax")
    ))
    .expect("valid header value")
}

pub fn csrf_cookie(config: &WebConfig, token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("{CSRF_COOKIE}={token}; {}", attributes(config, "Strict")))
        .expect("valid header value")
}

pub fn lang_cookie(config: &WebConfig, lang: &str) -> HeaderValue {
    let secure = if config.is_https() { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={lang}; Path=/; Max-Age=31536000; SameSite=Lax{secure}"
    ))
    .expect("valid header value")
}

/// Constant-time comparison of two tokens.
pub fn tokens_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The client address (the TCP peer; Varco does not trust forwarding headers).
pub fn client_ip(parts: &Parts) -> Option<IpAddr> {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

/// The audit context of a request.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub request: RequestContext,
    pub ip: Option<IpAddr>,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = client_ip(parts);
        let user_agent = parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
        let mut request = RequestContext::new(ip.map(|ip| ip.to_string()), user_agent);
        request.lang = Some(crate::pages::lang_of(&parts.headers).code().to_owned());
        Ok(Ctx { request, ip })
    }
}

/// A signed-in session allowed to do everything: an expired password or a
/// forced change restricts a session to changing the password or logging out.
pub fn full_session(session: &MaybeSession) -> Result<&Authenticated, varco_app::AppError> {
    match &session.0 {
        None => Err(varco_app::AppError::Unauthenticated),
        Some(s) if s.session.password_change_required => Err(varco_app::AppError::PasswordChangeRequired),
        Some(s) => Ok(s),
    }
}

/// The signed-in session of a request, if any.
#[derive(Debug, Clone)]
pub struct MaybeSession(pub Option<Authenticated>);

impl FromRequestParts<WebState> for MaybeSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Self::Rejection> {
        if let Some(cached) = parts.extensions.get::<MaybeSession>() {
            return Ok(cached.clone());
        }
        let found = match cookie_value(&parts.headers, cookie_name(&state.config)) {
            Some(token) => match varco_app::sessions::authenticate(&state.app, &token).await {
                Ok(found) => found,
                // The same failure answers as JSON on the API and as a page elsewhere.
                Err(e) if parts.uri.path().starts_with("/api/") => {
                    return Err(ApiError(WebError::App(e)).into_response());
                }
                Err(e) => return Err(PageError(WebError::App(e)).into_response()),
            },
            None => None,
        };
        let session = MaybeSession(found);
        parts.extensions.insert(session.clone());
        Ok(session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; varco_session=abc; b=2"));
        assert_eq!(cookie_value(&headers, "varco_session").as_deref(), Some("abc"));
        assert_eq!(cookie_value(&headers, "varco_csrf"), None);
    }

    #[test]
    fn token_comparison() {
        assert!(tokens_equal("abc", "abc"));
        assert!(!tokens_equal("abc", "abd"));
        assert!(!tokens_equal("abc", "ab"));
    }
}
