//! Extractors of the HTML pages, so a handler cannot forget a check:
//!
//! - [`Page`]: the visitor's language, the page's path, whether someone is
//!   signed in, and the anonymous CSRF token (with the cookie to set when the
//!   browser has none yet). [`Page::render`] puts all of it in the template's
//!   context and sets the cookie.
//! - [`SignedInForm`]: a form posted by a signed-in user. The same-origin rule
//!   and the session's CSRF token are checked before the handler runs; without
//!   a session the browser is sent to `/login?next=…`.
//! - [`AnonymousForm`]: a form posted without a session (login, recovery,
//!   links). The same-origin rule and the double-submit cookie are checked
//!   before the handler runs.
//!
//! Both form extractors read the `csrf` field themselves: the form types of
//! the handlers do not carry it.

use axum::extract::{FromRequest, FromRequestParts, RawForm, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::Value;
use rand::rngs::OsRng;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use varco_app::sessions::Authenticated;
use varco_domain::token::SecretToken;

use crate::WebState;
use crate::i18n::{Lang, lang_of};
use crate::problem::{PageError, WebError};
use crate::session::{MaybeSession, csrf_cookie, csrf_cookie_value, tokens_equal};

/// What every page needs to render: language, path, signed-in flag and the
/// anonymous-form CSRF token.
#[derive(Debug, Clone)]
pub struct Page {
    /// The visitor's language.
    pub lang: Lang,
    /// The request's path (no query: it may hold a one-time token).
    pub path: String,
    /// Whether the request carries a live session.
    pub signed_in: bool,
    csrf: String,
    set_cookie: Option<HeaderValue>,
}

impl FromRequestParts<WebState> for Page {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Self::Rejection> {
        let session = MaybeSession::from_request_parts(parts, state).await?;
        let (csrf, set_cookie) = anonymous_csrf(state, &parts.headers);
        Ok(Page {
            lang: lang_of(&parts.headers),
            path: parts.uri.path().to_owned(),
            signed_in: session.0.is_some(),
            csrf,
            set_cookie,
        })
    }
}

impl Page {
    /// A text of the Fluent files in the page's language.
    pub fn text(&self, state: &WebState, key: &str) -> String {
        state.i18n.text(self.lang, key, &[])
    }

    /// Renders `template` with status 200.
    pub fn render(&self, state: &WebState, template: &str, context: Value) -> Result<Response, PageError> {
        self.render_status(state, StatusCode::OK, template, context)
    }

    /// Renders `template` with the common context (`lang`, `path`,
    /// `signed_in`, and `csrf`: the anonymous token unless `context` brings
    /// its own, e.g. the session's) and sets the CSRF cookie if it is new.
    pub fn render_status(
        &self,
        state: &WebState,
        status: StatusCode,
        template: &str,
        context: Value,
    ) -> Result<Response, PageError> {
        let common = minijinja::context! {
            lang => self.lang.code(),
            path => self.path,
            signed_in => self.signed_in,
            csrf => self.csrf,
            site_name => state.config.branding.name,
            links => state.config.branding.links(),
        };
        // The later map wins: the page's own values override the common ones.
        let context = minijinja::value::merge_maps([common, context]);
        let html = state.templates.render(template, context).map_err(|e| {
            PageError(WebError::App(varco_app::AppError::internal_because(
                format!("template {template}"),
                e,
            )))
        })?;
        let mut response = (status, Html(html)).into_response();
        if let Some(cookie) = &self.set_cookie {
            response.headers_mut().append(header::SET_COOKIE, cookie.clone());
        }
        Ok(response)
    }
}

/// The anonymous-form CSRF token: the cookie's value, or a new one to set.
pub(crate) fn anonymous_csrf(state: &WebState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match csrf_cookie_value(&state.config, headers).filter(|v| SecretToken::from_user(v).is_some()) {
        Some(existing) => (existing, None),
        None => {
            let token = SecretToken::generate(&mut OsRng);
            let cookie = csrf_cookie(&state.config, token.as_str());
            (token.as_str().to_owned(), Some(cookie))
        }
    }
}

/// Refuses a form a browser sent from another origin.
fn check_origin(state: &WebState, headers: &HeaderMap) -> Result<(), PageError> {
    crate::security::check_same_origin(headers, state.config.origin()).map_err(|e| {
        tracing::info!(origin = ?headers.get(header::ORIGIN), expected = state.config.origin(), "form refused: cross-origin");
        PageError(e)
    })
}

/// The CSRF field every form carries.
#[derive(Debug, Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// Reads a url-encoded body as the handler's type and the CSRF field.
async fn read_form<T: DeserializeOwned>(request: Request, state: &WebState) -> Result<(T, String), PageError> {
    let RawForm(bytes) = RawForm::from_request(request, state).await.map_err(|e| {
        tracing::info!(error = %e, "form refused: unreadable body");
        PageError(WebError::App(varco_app::AppError::Invalid {
            field: "form",
            message: "the form could not be read".to_owned(),
        }))
    })?;
    let csrf = serde_urlencoded::from_bytes::<CsrfField>(&bytes)
        .map(|c| c.csrf)
        .unwrap_or_default();
    let form = serde_urlencoded::from_bytes::<T>(&bytes).map_err(|e| {
        tracing::info!(error = %e, "form refused: unexpected fields");
        PageError(WebError::App(varco_app::AppError::Invalid {
            field: "form",
            message: "the form could not be read".to_owned(),
        }))
    })?;
    Ok((form, csrf))
}

/// Checks an anonymous form: same origin and the double-submit token.
pub(crate) fn check_anonymous_csrf(state: &WebState, headers: &HeaderMap, submitted: &str) -> Result<(), PageError> {
    match csrf_cookie_value(&state.config, headers) {
        Some(cookie) if tokens_equal(&cookie, submitted) => Ok(()),
        Some(_) => {
            tracing::info!("form refused: the CSRF token does not match the cookie");
            Err(PageError(WebError::Csrf))
        }
        None => {
            tracing::info!("form refused: no CSRF cookie");
            Err(PageError(WebError::Csrf))
        }
    }
}

/// A form posted without a session, from Varco's own origin, with the
/// double-submit token matching the cookie.
#[derive(Debug)]
pub struct AnonymousForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<WebState> for AnonymousForm<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &WebState) -> Result<Self, Self::Rejection> {
        check_origin(state, request.headers())?;
        let headers = request.headers().clone();
        let (form, csrf) = read_form::<T>(request, state).await?;
        check_anonymous_csrf(state, &headers, &csrf)?;
        Ok(AnonymousForm(form))
    }
}

/// A form posted by a signed-in user, from Varco's own origin, carrying the
/// session's CSRF token. The session may be restricted to changing the
/// password: see [`SignedInForm::full`].
#[derive(Debug)]
pub struct SignedInForm<T> {
    /// The session that posted the form.
    pub session: Authenticated,
    /// The form's fields (without the `csrf` field).
    pub form: T,
}

impl<T> SignedInForm<T> {
    /// The session, if it may use the account settings; otherwise where to
    /// go first (the password change a restricted session must do).
    pub fn full(self) -> Result<(Authenticated, T), Redirect> {
        if self.session.session.password_change_required {
            Err(Redirect::to("/password/change"))
        } else {
            Ok((self.session, self.form))
        }
    }
}

/// Why a signed-in form was not accepted.
#[derive(Debug)]
pub enum SignedInRejection {
    /// No session (or an ended one): sign in, then come back to this page.
    SignedOut {
        /// The page to come back to after signing in.
        back_to: String,
    },
    /// Cross-origin, a wrong token or an unreadable form.
    Refused(Response),
}

impl IntoResponse for SignedInRejection {
    fn into_response(self) -> Response {
        match self {
            SignedInRejection::SignedOut { back_to } => Redirect::to(&format!("/login?next={back_to}")).into_response(),
            SignedInRejection::Refused(response) => response,
        }
    }
}

/// The page a form belongs to, to come back to after signing in.
fn page_of_form(path: &str) -> &str {
    if path.starts_with("/account/sessions") {
        "/account/sessions"
    } else {
        path
    }
}

impl<T: DeserializeOwned> FromRequest<WebState> for SignedInForm<T> {
    type Rejection = SignedInRejection;

    async fn from_request(request: Request, state: &WebState) -> Result<Self, Self::Rejection> {
        check_origin(state, request.headers()).map_err(|e| SignedInRejection::Refused(e.into_response()))?;
        let (mut parts, body) = request.into_parts();
        let session = MaybeSession::from_request_parts(&mut parts, state)
            .await
            .map_err(SignedInRejection::Refused)?;
        let Some(session) = session.0 else {
            return Err(SignedInRejection::SignedOut {
                back_to: page_of_form(parts.uri.path()).to_owned(),
            });
        };
        let request = Request::from_parts(parts, body);
        let (form, csrf) = read_form::<T>(request, state)
            .await
            .map_err(|e| SignedInRejection::Refused(e.into_response()))?;
        if !tokens_equal(&session.session.csrf_token, &csrf) {
            tracing::info!("form refused: the CSRF token does not match the session");
            return Err(SignedInRejection::Refused(PageError(WebError::Csrf).into_response()));
        }
        Ok(SignedInForm { session, form })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_come_back_to_their_page() {
        assert_eq!(page_of_form("/account/sessions/12/end"), "/account/sessions");
        assert_eq!(page_of_form("/account/sessions/end-others"), "/account/sessions");
        assert_eq!(page_of_form("/password/change"), "/password/change");
    }

    #[test]
    fn the_page_context_overrides_the_common_one() {
        let merged = minijinja::value::merge_maps([
            minijinja::context! { csrf => "anonymous", lang => "it" },
            minijinja::context! { csrf => "session" },
        ]);
        assert_eq!(merged.get_attr("csrf").unwrap().as_str(), Some("session"));
        assert_eq!(merged.get_attr("lang").unwrap().as_str(), Some("it"));
    }
}
