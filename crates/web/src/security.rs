//! Middleware every response passes through: the request id and access log
//! (tower-http, set up in `router`), the security headers, the rendering of page errors, and the same-origin rule for
//! cookie-authenticated JSON.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use rand::RngCore;
use rand::rngs::OsRng;
use tower_http::request_id::{MakeRequestId, RequestId};

use crate::WebState;
use crate::problem::{PageFailure, WebError};

/// Makes the id of a request (16 hex digits), shown on error pages, sent
/// back in `x-request-id` and carried by every log line of the request.
/// An `x-request-id` set by a proxy in front is kept.
#[derive(Debug, Clone, Copy, Default)]
pub struct MakeHexRequestId;

impl MakeRequestId for MakeHexRequestId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let mut bytes = [0u8; 8];
        OsRng.fill_bytes(&mut bytes);
        HeaderValue::from_str(&hex::encode(bytes)).ok().map(RequestId::new)
    }
}

/// The id of a request, as set by the request-id layer.
pub fn request_id_of<B>(request: &axum::http::Request<B>) -> Option<String> {
    request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .map(str::to_owned)
}

/// The span of a request in the access log: the id, the method and the path
/// (never the query, which may carry a one-time token).
pub fn request_span(request: &axum::http::Request<Body>) -> tracing::Span {
    let id = request_id_of(request).unwrap_or_default();
    tracing::info_span!("request", id = %id, method = %request.method(), path = %request.uri().path())
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
font-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The policy of a page whose form leads on to an application (sign-in for
/// an application, consent, end-session): browsers apply `form-action` to
/// the redirects that follow a form, so it is left out there.
pub const CSP_FORM_TO_APPLICATION: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Security headers on every response; `no-store` on everything but static
/// assets; HSTS when the public URL is https.
pub async fn headers(State(state): State<WebState>, request: Request, next: Next) -> Response {
    let is_static = request.uri().path().starts_with("/static/");
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Pages carrying a one-time token in their URL set `no-referrer` themselves.
    if !h.contains_key(header::REFERRER_POLICY) {
        h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    }
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    if !is_static {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.config.is_https() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

/// Turns a [`PageFailure`] marker into the error page, in the visitor's language.
pub async fn render_page_failures(State(state): State<WebState>, request: Request, next: Next) -> Response {
    let lang = crate::pages::lang_of(request.headers());
    let signed_in =
        crate::session::cookie_value(request.headers(), crate::session::cookie_name(&state.config)).is_some();
    let request_id = request_id_of(&request);
    let response = next.run(request).await;
    let Some(failure) = response.extensions().get::<PageFailure>().cloned() else {
        return response;
    };
    let message = match failure.message_key {
        "error-invalid" => state.i18n.text(
            lang,
            "error-invalid",
            &[("detail", failure.detail.clone().unwrap_or_default().into())],
        ),
        "login-throttled" => state.i18n.text(
            lang,
            "login-throttled",
            &[("seconds", failure.detail.clone().unwrap_or_default().into())],
        ),
        key => state.i18n.text(lang, key, &[]),
    };
    let context = minijinja::context! {
        lang => lang.code(),
        path => "/",
        signed_in => signed_in,
        message => message,
        request_id => request_id,
    };
    let (mut parts, _) = response.into_parts();
    let body = match state.templates.render("error.html", context) {
        Ok(html) => html,
        Err(e) => {
            tracing::error!(error = %e, "error page failed to render");
            "Error".to_owned()
        }
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    (parts, Html(body)).into_response()
}

/// Refuses a state-changing request that a browser sent from another origin:
/// `Origin` must be absent (non-browser clients) or equal the public origin,
/// and `Sec-Fetch-Site` must not say `cross-site` or `same-site`.
///
/// A form posted from a page with `Referrer-Policy: no-referrer` (the pages
/// that carry a one-time token) arrives with `Origin: null`; it is accepted
/// only when the browser also vouches `Sec-Fetch-Site: same-origin`, a header
/// page scripts cannot forge.
pub fn check_same_origin(headers: &HeaderMap, public_origin: &str) -> Result<(), WebError> {
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().map_err(|_| WebError::CrossOrigin)?;
        let null_from_same_origin = origin == "null" && fetch_site.as_deref() == Some("same-origin");
        if !origin.eq_ignore_ascii_case(public_origin) && !null_from_same_origin {
            return Err(WebError::CrossOrigin);
        }
    }
    if matches!(fetch_site.as_deref(), Some("cross-site" | "same-site")) {
        return Err(WebError::CrossOrigin);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn same_origin_rule() {
        let public = "http://127.0.0.1:8080";
        assert!(check_same_origin(&headers(&[]), public).is_ok());
        assert!(check_same_origin(&headers(&[("origin", "http://127.0.0.1:8080")]), public).is_ok());
        assert!(check_same_origin(&headers(&[("origin", "http://evil.example")]), public).is_err());
        assert!(check_same_origin(&headers(&[("origin", "null")]), public).is_err());
        assert!(
            check_same_origin(
                &headers(&[("origin", "null"), ("sec-fetch-site", "same-origin")]),
                public
            )
            .is_ok()
        );
        assert!(
            check_same_origin(
                &headers(&[("origin", "null"), ("sec-fetch-site", "cross-site")]),
                public
            )
            .is_err()
        );
        assert!(check_same_origin(&headers(&[("sec-fetch-site", "same-site")]), public).is_err());
    }
}
