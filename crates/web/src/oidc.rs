//! The OpenID Connect provider's HTTP endpoints: discovery, JWKS,
//! authorization (with its consent page), token, userinfo, revocation,
//! introspection and end-session; and the applications list of `/account`.
//!
//! Handlers only read the request and render what `varco_app` decides;
//! OAuth error bodies are built in [`crate::problem::oauth_response`].

use axum::Json;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use varco_app::AppError;
use varco_app::applications::{EndSession, EndSessionRequest};
use varco_app::authorize::{AuthorizationRequest, AuthorizePageError, AuthorizeStep};
use varco_app::oauth_tokens::TokenRequest;
use varco_app::provider::ClientCredentials;

use crate::WebState;
use crate::extract::{Page, SignedInForm, SignedInRejection};
use crate::problem::{PageError, oauth_response};
use crate::session::{Ctx, MaybeSession, clear_session_cookie, cookie_name, cookie_value};

/// The provider's routes.
pub fn routes() -> Router<WebState> {
    // Called by applications' code, single-page apps included: readable from
    // any origin. None of them looks at cookies, so no credential of the
    // browser is exposed by this.
    let for_applications = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oauth2/jwks", get(jwks))
        .route("/.well-known/openid-federation", get(entity_configuration))
        .route("/oauth2/token", post(token))
        .route("/oauth2/userinfo", get(userinfo).post(userinfo))
        .route("/oauth2/revoke", post(revoke))
        .route("/oauth2/introspect", post(introspect))
        .layer(axum::middleware::from_fn(cors));
    Router::new()
        .merge(for_applications)
        .route("/oauth2/authorize", get(authorize_get).post(authorize_post))
        .route("/oauth2/consent", post(consent))
        .route("/oauth2/step-up", post(step_up))
        .route("/oauth2/logout", get(end_session_get).post(end_session_post))
        .route("/account/applications/{client_id}/revoke", post(revoke_application))
}

/// CORS for the endpoints applications call from a browser: any origin,
/// never credentials (cookies); preflight requests answered here.
async fn cors(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let preflight = request.method() == axum::http::Method::OPTIONS;
    let mut response = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    let h = response.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    if preflight {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    }
    response
}

/// An OAuth error answered as RFC 6749 JSON.
pub struct OAuthFailure(pub AppError);

impl From<AppError> for OAuthFailure {
    fn from(e: AppError) -> Self {
        OAuthFailure(e)
    }
}

impl IntoResponse for OAuthFailure {
    fn into_response(self) -> Response {
        oauth_response(&self.0)
    }
}

/// JSON that must not be cached (RFC 6749 §5.1).
fn no_store(body: serde_json::Value) -> Response {
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Public metadata (discovery, keys): cacheable JSON.
fn public_json(body: serde_json::Value) -> Response {
    Json(body).into_response()
}

async fn discovery(State(state): State<WebState>) -> Response {
    let mut discovery = varco_oidc::Discovery::new(state.config.public_url.clone());
    discovery.acr_values = vec![
        varco_app::provider::ACR_PASSWORD.to_owned(),
        // A step-up (`acr_values`, with `max_age=0` for a fresh sign-in too).
        varco_app::confirmations::ACR_SECOND_SECRET.to_owned(),
    ];
    // Sessions signed in with SPID/CIE carry the provider's level (at least
    // the lowest configured minimum).
    if let Some(lowest) = state.app.settings.upstream.providers.iter().map(|p| p.acr_min).min() {
        for level in [
            varco_oidc::rp::SpidLevel::L1,
            varco_oidc::rp::SpidLevel::L2,
            varco_oidc::rp::SpidLevel::L3,
        ] {
            if level >= lowest {
                discovery.acr_values.push(level.uri().to_owned());
            }
        }
    }
    let document = discovery.document(&[varco_oidc::Alg::Rs256, varco_oidc::Alg::Es256]);
    public_json(document)
}

async fn jwks(State(state): State<WebState>) -> Result<Response, OAuthFailure> {
    let keys = state.app.keys.public_keys(&state.app).await?;
    Ok(public_json(varco_oidc::jwks(&keys)))
}

/// Varco's signed entity configuration as a SPID/CIE relying party; 404
/// without a `[federation]` section.
async fn entity_configuration(State(state): State<WebState>) -> Response {
    match varco_app::federation::entity_configuration(&state.app).await {
        Ok(Some(jwt)) => {
            let mut response = jwt.to_string().into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/entity-statement+jwt"),
            );
            response
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(error) => {
            tracing::error!(error = %varco_app::error_chain(&error), "federation: entity configuration");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn authorize_get(
    State(state): State<WebState>,
    page: Page,
    session: MaybeSession,
    ctx: Ctx,
    Query(request): Query<AuthorizationRequest>,
) -> Result<Response, PageError> {
    authorize(&state, &page, session, &ctx, request).await
}

async fn authorize_post(
    State(state): State<WebState>,
    page: Page,
    session: MaybeSession,
    ctx: Ctx,
    Form(request): Form<AuthorizationRequest>,
) -> Result<Response, PageError> {
    authorize(&state, &page, session, &ctx, request).await
}

/// The query string of an authorization request, to come back to it after
/// signing in; `prompt=login` and `max_age=0` (its equal) are dropped so the
/// new sign-in satisfies them.
fn resume_url(request: &AuthorizationRequest, fresh: bool) -> String {
    let mut request = request.clone();
    if fresh {
        if request.max_age.as_deref() == Some("0") {
            request.max_age = None;
        }
        request.prompt = request
            .prompt
            .map(|p| p.split(' ').filter(|v| *v != "login").collect::<Vec<_>>().join(" "));
        if request.prompt.as_deref() == Some("") {
            request.prompt = None;
        }
    }
    let query = serde_urlencoded::to_string(&request).unwrap_or_default();
    format!("/oauth2/authorize?{query}")
}

async fn authorize(
    state: &WebState,
    page: &Page,
    session: MaybeSession,
    ctx: &Ctx,
    request: AuthorizationRequest,
) -> Result<Response, PageError> {
    let step = varco_app::authorize::authorize(&state.app, &request, session.0.as_ref(), false, &ctx.request).await?;
    step_response(state, page, session.0.as_ref(), &request, step, false)
}

fn step_response(
    state: &WebState,
    page: &Page,
    session: Option<&varco_app::sessions::Authenticated>,
    request: &AuthorizationRequest,
    step: AuthorizeStep,
    consented: bool,
) -> Result<Response, PageError> {
    match step {
        AuthorizeStep::Redirect(url) => Ok(Redirect::to(&url).into_response()),
        AuthorizeStep::Refused(why) => {
            let key = match why {
                AuthorizePageError::UnknownClient => "oidc-error-unknown-client",
                AuthorizePageError::RedirectUriMismatch => "oidc-error-redirect-uri",
                AuthorizePageError::TooLong => "oidc-error-too-long",
            };
            page.render_status(
                state,
                StatusCode::BAD_REQUEST,
                "oidc_error.html",
                minijinja::context! { message => page.text(state, key) },
            )
        }
        AuthorizeStep::SignIn { login_hint, fresh } => {
            let next = resume_url(request, fresh);
            let mut target = url::form_urlencoded::Serializer::new(String::new());
            target.append_pair("next", &next);
            if fresh {
                target.append_pair("fresh", "1");
            }
            if let Some(hint) = login_hint.filter(|h| h.len() <= 320) {
                target.append_pair("login_hint", &hint);
            }
            Ok(Redirect::to(&format!("/login?{}", target.finish())).into_response())
        }
        AuthorizeStep::ChangePassword => {
            let next = resume_url(request, false);
            let target = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("next", &next)
                .finish();
            Ok(Redirect::to(&format!("/password/change?{target}")).into_response())
        }
        AuthorizeStep::NotServed { client_name } => page.render_status(
            state,
            StatusCode::FORBIDDEN,
            "oidc_error.html",
            minijinja::context! {
                message => state.i18n.text(page.lang, "oidc-error-not-served", &[("client", client_name.into())]),
            },
        ),
        AuthorizeStep::SecondSecret { client_name, method } => {
            let Some(session) = session else {
                return Err(PageError(crate::problem::WebError::App(AppError::Unauthenticated)));
            };
            step_up_page(state, page, session, request, &client_name, method, consented, None)
        }
        AuthorizeStep::Consent { client_name, scopes } => {
            let Some(session) = session else {
                return Err(PageError(crate::problem::WebError::App(AppError::Unauthenticated)));
            };
            let fields: Vec<(String, String)> = serde_urlencoded::to_string(request)
                .ok()
                .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(&q).ok())
                .unwrap_or_default();
            let mut response = page.render(
                state,
                "oidc_consent.html",
                minijinja::context! {
                    client_name => client_name,
                    scopes => scopes.iter().filter(|s| *s != "openid").collect::<Vec<_>>(),
                    fields => fields,
                    csrf => session.session.csrf_token,
                    account => session.view(&state.app),
                },
            )?;
            allow_redirect_after_form(&mut response);
            Ok(response)
        }
    }
}

/// The fields of an authorization request, to carry it through a form.
fn request_fields(request: &AuthorizationRequest) -> Vec<(String, String)> {
    serde_urlencoded::to_string(request)
        .ok()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(&q).ok())
        .unwrap_or_default()
}

/// The step-up page: the application asks for the PIN or personal code.
#[expect(clippy::too_many_arguments, reason = "the page's parts")]
fn step_up_page(
    state: &WebState,
    page: &Page,
    session: &varco_app::sessions::Authenticated,
    request: &AuthorizationRequest,
    client_name: &str,
    method: &str,
    consented: bool,
    refusal: Option<varco_app::confirmations::SecretRefusal>,
) -> Result<Response, PageError> {
    let (error, remaining) = crate::pages::refusal_text_key(refusal);
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut response = page.render_status(
        state,
        status,
        "oidc_step_up.html",
        minijinja::context! {
            client_name => client_name,
            method => method,
            fields => request_fields(request),
            consented => consented,
            error => error,
            remaining => remaining,
            csrf => session.session.csrf_token,
        },
    )?;
    allow_redirect_after_form(&mut response);
    Ok(response)
}

#[derive(Debug, Deserialize)]
struct StepUpForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    consented: String,
    #[serde(flatten)]
    request: AuthorizationRequest,
}

async fn step_up(
    State(state): State<WebState>,
    page: Page,
    ctx: Ctx,
    form: Result<SignedInForm<StepUpForm>, SignedInRejection>,
) -> Result<Response, PageError> {
    let form = match form {
        Ok(form) => form,
        Err(rejection) => return Ok(rejection.into_response()),
    };
    let (session, form) = match form.full() {
        Ok(full) => full,
        Err(redirect) => return Ok(redirect.into_response()),
    };
    let consented = form.consented == "1";
    if form.decision != "confirm" {
        let step = varco_app::authorize::decline_step_up(&state.app, &form.request, &session, &ctx.request).await?;
        return step_response(&state, &page, Some(&session), &form.request, step, consented);
    }
    match varco_app::authorize::step_up(
        &state.app,
        &form.request,
        &session,
        consented,
        form.secret.trim(),
        &ctx.request,
    )
    .await?
    {
        varco_app::authorize::StepUp::Step(step) => {
            step_response(&state, &page, Some(&session), &form.request, step, consented)
        }
        varco_app::authorize::StepUp::Refused(refusal) => {
            let client_name = match form.request.client_id.as_deref() {
                Some(id) => varco_app::clients::find(&state.app, id)
                    .await
                    .map(|c| c.name)
                    .unwrap_or_default(),
                None => String::new(),
            };
            let method = varco_app::confirmations::method_of(session.account.kind);
            step_up_page(
                &state,
                &page,
                &session,
                &form.request,
                &client_name,
                method,
                consented,
                Some(refusal),
            )
        }
    }
}

/// The consent form's answer goes on to the client's redirect URI, which a
/// `form-action 'self'` policy would block in the browser: pages whose form
/// leads to an application carry a policy without `form-action`.
pub(crate) fn allow_redirect_after_form(response: &mut Response) {
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(crate::security::CSP_FORM_TO_APPLICATION),
    );
}

#[derive(Debug, Deserialize)]
struct ConsentForm {
    decision: String,
    #[serde(flatten)]
    request: AuthorizationRequest,
}

async fn consent(
    State(state): State<WebState>,
    page: Page,
    ctx: Ctx,
    form: Result<SignedInForm<ConsentForm>, SignedInRejection>,
) -> Result<Response, PageError> {
    let form = match form {
        Ok(form) => form,
        Err(rejection) => return Ok(rejection.into_response()),
    };
    let (session, form) = match form.full() {
        Ok(full) => full,
        Err(redirect) => return Ok(redirect.into_response()),
    };
    let step = if form.decision == "allow" {
        varco_app::authorize::authorize(&state.app, &form.request, Some(&session), true, &ctx.request).await?
    } else {
        varco_app::authorize::decline(&state.app, &form.request, &session, &ctx.request).await?
    };
    step_response(
        &state,
        &page,
        Some(&session),
        &form.request,
        step,
        form.decision == "allow",
    )
}

/// Reads the client's credentials: HTTP Basic (RFC 6749 §2.3.1) or the form.
fn credentials(headers: &HeaderMap, form: &ClientForm) -> Result<ClientCredentials, AppError> {
    let basic = match headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(value) if value.len() > 6 && value[..6].eq_ignore_ascii_case("basic ") => Some(
            varco_oidc::client_auth::parse_basic(value)
                .map_err(|_| AppError::oauth(varco_app::OAuthCode::InvalidClient, "malformed Basic credentials"))?,
        ),
        _ => None,
    };
    Ok(ClientCredentials {
        form_client_id: form.client_id.clone(),
        form_client_secret: form.client_secret.clone(),
        basic,
        assertion_type: form.client_assertion_type.clone(),
        assertion: form.client_assertion.clone(),
    })
}

#[derive(Debug, Default, Deserialize)]
struct ClientForm {
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    #[serde(flatten)]
    client: ClientForm,
    #[serde(flatten)]
    request: TokenRequest,
}

/// Reads a form body, or says `invalid_request` in OAuth's words.
fn read_form<T: serde::de::DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, AppError> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(AppError::oauth(
            varco_app::OAuthCode::InvalidRequest,
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    // A parameter sent twice is an error (RFC 6749 §3.1).
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| AppError::oauth(varco_app::OAuthCode::InvalidRequest, "malformed form body"))?;
    let mut names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(AppError::oauth(
            varco_app::OAuthCode::InvalidRequest,
            "a parameter is repeated",
        ));
    }
    serde_urlencoded::from_bytes(body)
        .map_err(|_| AppError::oauth(varco_app::OAuthCode::InvalidRequest, "malformed form body"))
}

async fn token(
    State(state): State<WebState>,
    ctx: Ctx,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, OAuthFailure> {
    let form: TokenForm = read_form(&headers, &body)?;
    let credentials = credentials(&headers, &form.client)?;
    let response = varco_app::oauth_tokens::token(&state.app, &credentials, &form.request, &ctx.request).await?;
    Ok(no_store(
        serde_json::to_value(response).map_err(|e| AppError::internal_because("token response", e))?,
    ))
}

#[derive(Debug, Deserialize)]
struct TokenOnlyForm {
    #[serde(flatten)]
    client: ClientForm,
    token: Option<String>,
    token_type_hint: Option<String>,
}

async fn revoke(
    State(state): State<WebState>,
    ctx: Ctx,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, OAuthFailure> {
    let form: TokenOnlyForm = read_form(&headers, &body)?;
    let _ = &form.token_type_hint;
    let credentials = credentials(&headers, &form.client)?;
    varco_app::oauth_tokens::revoke(&state.app, &credentials, form.token.as_deref(), &ctx.request).await?;
    Ok(StatusCode::OK.into_response())
}

async fn introspect(
    State(state): State<WebState>,
    ctx: Ctx,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, OAuthFailure> {
    let form: TokenOnlyForm = read_form(&headers, &body)?;
    let credentials = credentials(&headers, &form.client)?;
    let answer =
        varco_app::oauth_tokens::introspect(&state.app, &credentials, form.token.as_deref(), &ctx.request).await?;
    Ok(no_store(answer))
}

/// The bearer token of a userinfo request: the header (RFC 6750 §2.1) or a
/// form body's `access_token` (§2.2).
async fn userinfo(
    State(state): State<WebState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, OAuthFailure> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| (v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ")).then(|| v[7..].trim().to_owned()));
    let from_body = if body.is_empty() {
        None
    } else {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
            .ok()
            .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "access_token").map(|(_, v)| v))
    };
    let Some(token) = from_header.or(from_body) else {
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return Ok(response);
    };
    let claims = varco_app::oauth_tokens::userinfo(&state.app, &token).await?;
    Ok(no_store(claims))
}

async fn end_session_get(
    State(state): State<WebState>,
    page: Page,
    headers: HeaderMap,
    session: MaybeSession,
    ctx: Ctx,
    Query(request): Query<EndSessionRequest>,
) -> Result<Response, PageError> {
    end_session(&state, &page, &headers, session, &ctx, request, false).await
}

#[derive(Debug, Deserialize)]
struct EndSessionForm {
    #[serde(flatten)]
    request: EndSessionRequest,
}

async fn end_session_post(
    State(state): State<WebState>,
    page: Page,
    headers: HeaderMap,
    ctx: Ctx,
    form: Result<SignedInForm<EndSessionForm>, SignedInRejection>,
) -> Result<Response, PageError> {
    match form {
        Ok(form) => {
            let session = MaybeSession(Some(form.session));
            end_session(&state, &page, &headers, session, &ctx, form.form.request, true).await
        }
        // Signed out already: nothing to confirm.
        Err(SignedInRejection::SignedOut { .. }) => {
            end_session(
                &state,
                &page,
                &headers,
                MaybeSession(None),
                &ctx,
                EndSessionRequest::default(),
                true,
            )
            .await
        }
        Err(SignedInRejection::Refused(response)) => Ok(response),
    }
}

async fn end_session(
    state: &WebState,
    page: &Page,
    headers: &HeaderMap,
    session: MaybeSession,
    ctx: &Ctx,
    request: EndSessionRequest,
    confirmed: bool,
) -> Result<Response, PageError> {
    let decision = varco_app::applications::end_session(&state.app, &request, session.0.as_ref(), confirmed).await?;
    let signed_in = session.0.is_some();
    let sign_out = |mut response: Response| async move {
        if signed_in && let Some(token) = cookie_value(headers, cookie_name(&state.config)) {
            varco_app::sessions::logout(&state.app, &token, &ctx.request).await?;
            response
                .headers_mut()
                .append(header::SET_COOKIE, clear_session_cookie(&state.config));
        }
        Ok::<Response, PageError>(response)
    };
    match decision {
        EndSession::Confirm { client_name } => {
            let csrf = session.0.as_ref().map(|s| s.session.csrf_token.clone());
            let fields: Vec<(String, String)> = serde_urlencoded::to_string(&request)
                .ok()
                .and_then(|q| serde_urlencoded::from_str(&q).ok())
                .unwrap_or_default();
            let mut response = page.render(
                state,
                "oidc_logout.html",
                minijinja::context! { client_name => client_name, fields => fields, csrf => csrf },
            )?;
            allow_redirect_after_form(&mut response);
            Ok(response)
        }
        EndSession::Redirect(url) => sign_out(Redirect::to(&url).into_response()).await,
        EndSession::SignedOut => sign_out(Redirect::to("/login?logged_out=1").into_response()).await,
    }
}

#[derive(Debug, Deserialize)]
struct RevokeForm {}

async fn revoke_application(
    State(state): State<WebState>,
    ctx: Ctx,
    Path(client_id): Path<String>,
    form: Result<SignedInForm<RevokeForm>, SignedInRejection>,
) -> Result<Response, PageError> {
    let form = match form {
        Ok(form) => form,
        Err(rejection) => return Ok(rejection.into_response()),
    };
    let (session, _) = match form.full() {
        Ok(full) => full,
        Err(redirect) => return Ok(redirect.into_response()),
    };
    let revoked = varco_app::applications::revoke(&state.app, &session, &client_id, &ctx.request).await?;
    let target = if revoked { "/account?revoked=1" } else { "/account" };
    Ok(Redirect::to(target).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resumed_request_drops_prompt_login_only() {
        let request = AuthorizationRequest {
            client_id: Some("c".into()),
            prompt: Some("login consent".into()),
            state: Some("s t".into()),
            ..Default::default()
        };
        let url = resume_url(&request, true);
        assert!(url.starts_with("/oauth2/authorize?"), "{url}");
        assert!(url.contains("prompt=consent"), "{url}");
        assert!(!url.contains("login"), "{url}");
        assert!(url.contains("state=s+t"), "{url}");
    }
}
