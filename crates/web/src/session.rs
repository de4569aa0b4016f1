//! The session cookie and the extractors that read it.
//!
//! The cookie is `varco_session` (`__Host-varco_session` on https):
//! `HttpOnly`, `SameSite=Lax`, `Path=/`, `Secure` on https, no `Max-Age` (it
//! dies with the browser; the server enforces idle and absolute limits).
//! Anonymous forms (login, setup) use a double-submit `varco_csrf` cookie
//! (`__Host-varco_csrf` on https); forms of a signed-in user use the CSRF
//! token stored with the session. Cookies are parsed and written by the
//! `cookie` crate (through `axum-extra`).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use subtle::ConstantTimeEq;
use varco_app::RequestContext;
use varco_app::sessions::Authenticated;

use crate::client_ip::ClientIp;
use crate::problem::{ApiError, PageError, WebError};
use crate::{WebConfig, WebState};

/// The session cookie's name: `__Host-varco_session` on https, `varco_session` over plain http.
pub fn cookie_name(config: &WebConfig) -> &'static str {
    if config.is_https() {
        "__Host-varco_session"
    } else {
        "varco_session"
    }
}

/// The anonymous-form CSRF cookie over plain http.
pub const CSRF_COOKIE: &str = "varco_csrf";
/// The cookie of the language picked with the visible switch.
pub const LANG_COOKIE: &str = "varco_lang";

/// The name of the anonymous-form CSRF cookie: `__Host-` on https, so a
/// sibling subdomain cannot set it.
pub fn csrf_cookie_name(config: &WebConfig) -> &'static str {
    if config.is_https() {
        "__Host-varco_csrf"
    } else {
        CSRF_COOKIE
    }
}

/// The value of a cookie, if the request carries it (and it is not empty).
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    CookieJar::from_headers(headers)
        .get(name)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

/// The anonymous-form CSRF cookie's value.
pub fn csrf_cookie_value(config: &WebConfig, headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, csrf_cookie_name(config))
}

/// `Path=/`, `HttpOnly`, the given `SameSite`, `Secure` on https.
fn base(config: &WebConfig, name: &'static str, value: String, same_site: SameSite) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(same_site)
        .secure(config.is_https())
        .build()
}

fn header_value(cookie: &Cookie<'_>) -> HeaderValue {
    HeaderValue::from_str(&cookie.encoded().to_string()).expect("an encoded cookie is a valid header value")
}

/// `Set-Cookie` for the session: `HttpOnly`, `SameSite=Lax`, no expiry (it ends with the browser).
pub fn session_cookie(config: &WebConfig, token: &str) -> HeaderValue {
    header_value(&base(config, cookie_name(config), token.to_owned(), SameSite::Lax))
}

/// The name of the cookie binding an upstream (SPID/CIE) sign-in to the
/// browser that started it: `__Host-` on https.
pub fn upstream_cookie_name(config: &WebConfig) -> &'static str {
    if config.is_https() {
        "__Host-varco_upstream"
    } else {
        "varco_upstream"
    }
}

/// `Set-Cookie` binding an upstream sign-in: `HttpOnly`, `SameSite=Lax` (the
/// provider's redirect back is a top-level navigation from its site), ten
/// minutes.
pub fn upstream_cookie(config: &WebConfig, value: &str) -> HeaderValue {
    let mut cookie = base(config, upstream_cookie_name(config), value.to_owned(), SameSite::Lax);
    cookie.set_max_age(time::Duration::minutes(10));
    header_value(&cookie)
}

/// `Set-Cookie` that removes the upstream binding cookie.
pub fn clear_upstream_cookie(config: &WebConfig) -> HeaderValue {
    let mut cookie = base(config, upstream_cookie_name(config), String::new(), SameSite::Lax);
    cookie.set_max_age(time::Duration::ZERO);
    header_value(&cookie)
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_session_cookie(config: &WebConfig) -> HeaderValue {
    let mut cookie = base(config, cookie_name(config), String::new(), SameSite::Lax);
    cookie.set_max_age(time::Duration::ZERO);
    header_value(&cookie)
}

/// `Set-Cookie` for the anonymous-form CSRF token: `HttpOnly`, `SameSite=Strict`.
pub fn csrf_cookie(config: &WebConfig, token: &str) -> HeaderValue {
    header_value(&base(
        config,
        csrf_cookie_name(config),
        token.to_owned(),
        SameSite::Strict,
    ))
}

/// `Set-Cookie` for the language: readable by scripts, kept for a year.
pub fn lang_cookie(config: &WebConfig, lang: &str) -> HeaderValue {
    let mut cookie = base(config, LANG_COOKIE, lang.to_owned(), SameSite::Lax);
    cookie.set_http_only(None);
    cookie.set_max_age(time::Duration::days(365));
    header_value(&cookie)
}

/// Constant-time comparison of two tokens (the length is not secret).
pub fn tokens_equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The client address: the TCP peer, or the forwarded client when the peer
/// is a trusted proxy (see [`crate::client_ip`]).
pub fn client_ip(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ClientIp>()
        .map(|c| c.0)
        .or_else(|| parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()))
}

/// The audit context of a request.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// What the use cases record of the request (address, User-Agent, language).
    pub request: RequestContext,
    /// The client address (see [`client_ip`]).
    pub ip: Option<IpAddr>,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = client_ip(parts);
        let user_agent = parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
        let mut request = RequestContext::new(ip.map(|ip| ip.to_string()), user_agent);
        request.lang = Some(crate::pages::lang_of(&parts.headers));
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

    fn config(public_url: &str) -> WebConfig {
        WebConfig {
            public_url: public_url.to_owned(),
            national_helpdesk: crate::Helpdesk::default(),
            rate_limits: crate::RateLimits::default(),
            trusted_proxies: Vec::new(),
            branding: crate::templates::Branding::default(),
        }
    }

    #[test]
    fn cookie_attributes_on_http_and_https() {
        let http = config("http://127.0.0.1:8080");
        assert_eq!(
            session_cookie(&http, "tok"),
            "varco_session=tok; HttpOnly; SameSite=Lax; Path=/"
        );
        assert_eq!(
            csrf_cookie(&http, "c"),
            "varco_csrf=c; HttpOnly; SameSite=Strict; Path=/"
        );
        let https = config("https://varco.example");
        assert_eq!(
            session_cookie(&https, "tok"),
            "__Host-varco_session=tok; HttpOnly; SameSite=Lax; Secure; Path=/"
        );
        assert_eq!(
            clear_session_cookie(&https),
            "__Host-varco_session=; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0"
        );
        assert_eq!(
            csrf_cookie(&https, "c"),
            "__Host-varco_csrf=c; HttpOnly; SameSite=Strict; Secure; Path=/"
        );
        assert_eq!(
            lang_cookie(&https, "en"),
            "varco_lang=en; SameSite=Lax; Secure; Path=/; Max-Age=31536000"
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("varco_csrf=a; __Host-varco_csrf=b"),
        );
        assert_eq!(csrf_cookie_value(&https, &headers).as_deref(), Some("b"));
        assert_eq!(csrf_cookie_value(&http, &headers).as_deref(), Some("a"));
    }

    #[test]
    fn token_comparison() {
        assert!(tokens_equal("abc", "abc"));
        assert!(!tokens_equal("abc", "abd"));
        assert!(!tokens_equal("abc", "ab"));
    }
}
