//! `varco client try CLIENT_ID`: a tiny relying party on the loopback
//! interface, to see a whole OpenID Connect sign-in in a minute.
//!
//! It plays a *public* client (PKCE only, no secret): it reads the
//! provider's discovery document, listens on `127.0.0.1:<port>`, prints an
//! authorization URL (PKCE S256 with a fresh verifier, `state`, `nonce`),
//! and waits for the browser to come back to `/callback`. There it checks
//! `state` and `iss` (RFC 9207), redeems the code with the verifier,
//! verifies the ID token's signature against the JWKS and its `iss`, `aud`,
//! `nonce` and `exp`, calls userinfo, shows the person a page and prints the
//! claims. The access and refresh tokens are secrets: only their presence is
//! reported.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use varco_app::AppError;
use varco_app::setup::loopback_redirect_uri;
use varco_domain::clock::{Clock, SystemClock};
use varco_oidc::{OidcError, pkce, secret};

use super::ClientTryArgs;
use super::admin::{app_error, open, out};
use crate::config::Config;

/// How long one request to the provider may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the listener may take to finish answering the browser once the
/// sign-in is over.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why the answer that came back to `/callback` was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum TryError {
    /// The provider sent an OAuth error back instead of a code.
    #[error("the provider answered error={error}{}", describe(.description))]
    Refused {
        /// The OAuth error code (`access_denied`, …).
        error: String,
        /// Its `error_description`, if any.
        description: Option<String>,
    },
    /// `state` is missing or is not the one sent: a forged or stale answer.
    #[error("the state parameter is missing or differs from the one sent (a forged or stale answer)")]
    StateMismatch,
    /// `iss` (RFC 9207) is missing or names another issuer.
    #[error("the iss parameter is {got:?}, not the issuer {expected}")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// What came back.
        got: Option<String>,
    },
    /// Neither a code nor an error.
    #[error("the answer carries no authorization code")]
    MissingCode,
    /// A request to the provider failed on the way.
    #[error("cannot call the {step} endpoint: {source}")]
    Http {
        /// `token`, `JWKS` or `userinfo`.
        step: &'static str,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The token endpoint refused the code.
    #[error("the token endpoint refused the code (HTTP {status}): {error}{}", describe(.description))]
    TokenRefused {
        /// The HTTP status.
        status: u16,
        /// The OAuth error code.
        error: String,
        /// Its `error_description`, if any.
        description: Option<String>,
    },
    /// An endpoint answered something that is not what the specifications say.
    #[error("the {step} endpoint answered unexpectedly: {detail}")]
    Malformed {
        /// `token`, `JWKS` or `userinfo`.
        step: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The ID token's signature does not verify with the published keys.
    #[error("the ID token's signature does not verify against the provider's JWKS: {0}")]
    Signature(#[source] OidcError),
    /// A claim of the ID token is wrong.
    #[error("the ID token's {claim} is wrong: {detail}")]
    Claim {
        /// The claim's name.
        claim: &'static str,
        /// What was wrong.
        detail: String,
    },
}

fn describe(description: &Option<String>) -> String {
    description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
}

impl TryError {
    /// The same in Italian, for the page the person sees.
    pub fn italian(&self) -> String {
        match self {
            TryError::Refused { error, description } => {
                format!("Varco non ha concesso l'accesso: {error}{}", describe(description))
            }
            TryError::StateMismatch => {
                "la risposta non corrisponde alla richiesta inviata (parametro state assente o diverso)".into()
            }
            TryError::IssuerMismatch { expected, got } => {
                format!("la risposta viene da {got:?}, non dal fornitore atteso {expected}")
            }
            TryError::MissingCode => "la risposta non contiene un codice di autorizzazione".into(),
            TryError::Http { step, .. } => format!("impossibile contattare l'endpoint {step} di Varco"),
            TryError::TokenRefused { error, .. } => format!("l'endpoint token ha rifiutato il codice: {error}"),
            TryError::Malformed { step, .. } => format!("l'endpoint {step} ha risposto in modo inatteso"),
            TryError::Signature(_) => "la firma dell'ID token non è valida".into(),
            TryError::Claim { claim, .. } => format!("il claim {claim} dell'ID token non è corretto"),
        }
    }
}

/// The endpoints of the provider, from its discovery document.
#[derive(Debug, Clone)]
struct Provider {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    jwks_uri: String,
}

impl Provider {
    /// Reads `<issuer>/.well-known/openid-configuration` and checks that it
    /// names `issuer` (OpenID Connect Discovery 1.0 §4.3).
    async fn discover(http: &reqwest::Client, issuer: &str) -> anyhow::Result<Provider> {
        let url = format!("{issuer}/.well-known/openid-configuration");
        let response = http.get(&url).send().await.with_context(|| {
            format!("cannot reach Varco at {issuer}: is `varco serve` running with this configuration?")
        })?;
        if !response.status().is_success() {
            bail!("{url} answered HTTP {}: is this Varco's public URL?", response.status());
        }
        let document: Value = response
            .json()
            .await
            .with_context(|| format!("{url} is not a discovery document"))?;
        let field = |name: &str| {
            document
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("the discovery document at {url} has no {name}"))
        };
        let provider = Provider {
            issuer: field("issuer")?,
            authorization_endpoint: field("authorization_endpoint")?,
            token_endpoint: field("token_endpoint")?,
            userinfo_endpoint: field("userinfo_endpoint")?,
            jwks_uri: field("jwks_uri")?,
        };
        if provider.issuer != issuer {
            bail!(
                "the discovery document names the issuer {}, not the configured public URL {issuer}",
                provider.issuer
            );
        }
        Ok(provider)
    }
}

/// One authorization request: what was sent, to check what comes back.
#[derive(Debug)]
struct Attempt {
    client_id: String,
    redirect_uri: String,
    verifier: String,
    state: String,
    nonce: String,
}

impl Attempt {
    fn new(client_id: &str, redirect_uri: String) -> Attempt {
        Attempt {
            client_id: client_id.to_owned(),
            redirect_uri,
            // 43 base64url characters: a valid PKCE verifier (RFC 7636 §4.1).
            verifier: secret::new_token(),
            state: secret::new_token(),
            nonce: secret::new_token(),
        }
    }

    fn authorization_url(&self, provider: &Provider, scopes: &[String]) -> anyhow::Result<String> {
        let scope = if scopes.is_empty() {
            "openid".to_owned()
        } else {
            scopes.join(" ")
        };
        let url = reqwest::Url::parse_with_params(
            &provider.authorization_endpoint,
            [
                ("response_type", "code"),
                ("client_id", self.client_id.as_str()),
                ("redirect_uri", self.redirect_uri.as_str()),
                ("scope", scope.as_str()),
                ("state", self.state.as_str()),
                ("nonce", self.nonce.as_str()),
                ("code_challenge", pkce::challenge_s256(&self.verifier).as_str()),
                ("code_challenge_method", pkce::METHOD_S256),
            ],
        )
        .with_context(|| format!("bad authorization endpoint {}", provider.authorization_endpoint))?;
        Ok(url.into())
    }
}

/// What a successful sign-in brought back.
#[derive(Debug)]
struct SignedIn {
    claims: Map<String, Value>,
    userinfo: Map<String, Value>,
    expires_in: Option<u64>,
    refresh_token: bool,
}

impl SignedIn {
    /// The person's name for the greeting: `name`, else given and family
    /// names, else `sub`.
    fn display_name(&self) -> String {
        let text = |key: &str| {
            self.userinfo
                .get(key)
                .or_else(|| self.claims.get(key))
                .and_then(Value::as_str)
                .filter(|v| !v.trim().is_empty())
        };
        if let Some(name) = text("name") {
            return name.to_owned();
        }
        let parts: Vec<&str> = [text("given_name"), text("family_name")]
            .into_iter()
            .flatten()
            .collect();
        if parts.is_empty() {
            text("sub").unwrap_or("?").to_owned()
        } else {
            parts.join(" ")
        }
    }
}

/// The browser's arrival at `/callback`: its query, and where to send the
/// page once the sign-in is judged.
struct Arrival {
    params: HashMap<String, String>,
    reply: oneshot::Sender<Response>,
}

/// `varco client try`.
pub(super) async fn run(config: &Config, args: ClientTryArgs) -> anyhow::Result<()> {
    let client = {
        let app = open(config).await?;
        let found = varco_app::clients::find(&app, &args.client_id).await;
        app.store.close().await;
        match found {
            Ok(client) => client,
            Err(AppError::NotFound(_)) => bail!(
                "unknown client {}: `varco client list` shows the registered ones (`varco demo` registers one)",
                args.client_id
            ),
            Err(e) => return Err(app_error(e)),
        }
    };
    if !client.public {
        bail!(
            "client {} ({}) is confidential: `client try` plays a public client (PKCE only, no secret); \
             try the demo client or one registered with `varco client add --public`",
            client.client_id,
            client.name
        );
    }
    let redirect_uri = loopback_redirect_uri(args.port);
    if !client.redirect_uris.contains(&redirect_uri) {
        bail!(
            "client {} does not accept the redirect URI {redirect_uri} (it accepts: {}); pass the --port of one \
             of those, or register a client with that redirect URI",
            client.client_id,
            client.redirect_uris.join(", ")
        );
    }

    let issuer = config.effective_public_url();
    let http = reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("cannot build the HTTP client")?;
    let provider = Provider::discover(&http, &issuer).await?;
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{} (choose another with --port)", args.port))?;

    let attempt = Attempt::new(&client.client_id, redirect_uri);
    let url = attempt.authorization_url(&provider, &client.scopes)?;
    let minutes = args.timeout_secs.div_ceil(60);
    eprintln!(
        "Apri questo indirizzo nel browser e accedi con un account (hai {minutes} min):\n\
         Open this address in a browser and sign in with an account (within {minutes} min):\n"
    );
    out(&url);
    eprintln!(
        "\nIn attesa del browser su {0} … / Waiting for the browser at {0} …",
        attempt.redirect_uri
    );

    let (arrivals, mut arrived) = mpsc::channel::<Arrival>(1);
    let (stop, stopped) = oneshot::channel::<()>();
    let router = Router::new().route("/callback", get(callback)).with_state(arrivals);
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });

    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout_secs);
    let outcome = match tokio::time::timeout_at(deadline, arrived.recv()).await {
        Ok(Some(arrival)) => {
            let outcome = finish(&http, &provider, &attempt, &arrival.params).await;
            let _ = arrival.reply.send(page(&outcome));
            Some(outcome)
        }
        Ok(None) | Err(_) => None,
    };
    // Later arrivals (a reload) are told that the attempt is over.
    drop(arrived);
    let _ = stop.send(());
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, server).await;

    let signed_in = match outcome {
        None => bail!(
            "no browser came back to {} within {} s: nothing was signed in; run the command again and open the \
             address it prints",
            attempt.redirect_uri,
            args.timeout_secs
        ),
        Some(Err(e)) => return Err(anyhow!(e).context("the sign-in did not succeed")),
        Some(Ok(signed_in)) => signed_in,
    };
    report(&signed_in)
}

/// Prints the result: the verified claims and the userinfo answer; of the
/// tokens, their presence only.
fn report(signed_in: &SignedIn) -> anyhow::Result<()> {
    out(format!(
        "Accesso riuscito / Sign-in succeeded: {}",
        signed_in.display_name()
    ));
    out("ID token (firma verificata con le chiavi pubblicate / signature verified against the JWKS):");
    out(serde_json::to_string_pretty(&signed_in.claims)?);
    out("userinfo:");
    out(serde_json::to_string_pretty(&signed_in.userinfo)?);
    out(format!(
        "access token: presente, non mostrato / present, not shown{}",
        signed_in
            .expires_in
            .map(|s| format!(" (scade tra {s} s / expires in {s} s)"))
            .unwrap_or_default()
    ));
    out(if signed_in.refresh_token {
        "refresh token: presente, non mostrato / present, not shown"
    } else {
        "refresh token: assente / absent"
    });
    Ok(())
}

async fn callback(
    State(arrivals): State<mpsc::Sender<Arrival>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let (reply, answer) = oneshot::channel();
    if arrivals.send(Arrival { params, reply }).await.is_ok()
        && let Ok(response) = answer.await
    {
        return response;
    }
    html(
        StatusCode::GONE,
        "Prova conclusa",
        "<p>Questa prova di accesso è già conclusa: guarda il terminale.</p>\
         <p lang=\"en\">This sign-in attempt is over: see the terminal.</p>",
    )
}

/// Checks the browser's answer and completes the sign-in.
async fn finish(
    http: &reqwest::Client,
    provider: &Provider,
    attempt: &Attempt,
    params: &HashMap<String, String>,
) -> Result<SignedIn, TryError> {
    if params.get("state") != Some(&attempt.state) {
        return Err(TryError::StateMismatch);
    }
    if params.get("iss") != Some(&provider.issuer) {
        return Err(TryError::IssuerMismatch {
            expected: provider.issuer.clone(),
            got: params.get("iss").cloned(),
        });
    }
    if let Some(error) = params.get("error") {
        return Err(TryError::Refused {
            error: error.clone(),
            description: params.get("error_description").cloned(),
        });
    }
    let code = params.get("code").ok_or(TryError::MissingCode)?;

    let tokens = redeem(http, provider, attempt, code).await?;
    let id_token = string_field(&tokens, "id_token", "token")?;
    let access_token = string_field(&tokens, "access_token", "token")?;
    let token_type = string_field(&tokens, "token_type", "token")?;
    if !token_type.eq_ignore_ascii_case("bearer") {
        return Err(TryError::Malformed {
            step: "token",
            detail: format!("token_type {token_type}, not Bearer"),
        });
    }

    let jwks = get_json(http.get(&provider.jwks_uri), "JWKS").await?;
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| TryError::Malformed {
            step: "JWKS",
            detail: "no keys array".into(),
        })?;
    let claims = varco_oidc::verify_jws(keys, id_token).map_err(TryError::Signature)?;
    check_claims(&claims, provider, attempt, SystemClock.now().0)?;

    let userinfo = get_json(
        http.get(&provider.userinfo_endpoint).bearer_auth(access_token),
        "userinfo",
    )
    .await?;
    let Value::Object(userinfo) = userinfo else {
        return Err(TryError::Malformed {
            step: "userinfo",
            detail: "not a JSON object".into(),
        });
    };
    // OpenID Connect Core §5.3.2: the userinfo sub must be the ID token's.
    if userinfo.get("sub") != claims.get("sub") {
        return Err(TryError::Malformed {
            step: "userinfo",
            detail: "its sub differs from the ID token's".into(),
        });
    }
    Ok(SignedIn {
        expires_in: tokens.get("expires_in").and_then(Value::as_u64),
        refresh_token: tokens.get("refresh_token").and_then(Value::as_str).is_some(),
        claims,
        userinfo,
    })
}

/// Redeems the code as a public client: `client_id` in the body with the
/// PKCE verifier, no secret (RFC 6749 §4.1.3, RFC 7636 §4.5).
async fn redeem(
    http: &reqwest::Client,
    provider: &Provider,
    attempt: &Attempt,
    code: &str,
) -> Result<Map<String, Value>, TryError> {
    let response = http
        .post(&provider.token_endpoint)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", attempt.redirect_uri.as_str()),
            ("client_id", attempt.client_id.as_str()),
            ("code_verifier", attempt.verifier.as_str()),
        ])
        .send()
        .await
        .map_err(|source| TryError::Http { step: "token", source })?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|source| TryError::Http { step: "token", source })?;
    if !status.is_success() {
        return Err(TryError::TokenRefused {
            status: status.as_u16(),
            error: body.get("error").and_then(Value::as_str).unwrap_or("?").to_owned(),
            description: body.get("error_description").and_then(Value::as_str).map(str::to_owned),
        });
    }
    match body {
        Value::Object(tokens) => Ok(tokens),
        _ => Err(TryError::Malformed {
            step: "token",
            detail: "not a JSON object".into(),
        }),
    }
}

async fn get_json(request: reqwest::RequestBuilder, step: &'static str) -> Result<Value, TryError> {
    let response = request.send().await.map_err(|source| TryError::Http { step, source })?;
    if !response.status().is_success() {
        return Err(TryError::Malformed {
            step,
            detail: format!("HTTP {}", response.status()),
        });
    }
    response.json().await.map_err(|source| TryError::Http { step, source })
}

fn string_field<'a>(object: &'a Map<String, Value>, name: &str, step: &'static str) -> Result<&'a str, TryError> {
    object
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| TryError::Malformed {
            step,
            detail: format!("no {name}"),
        })
}

/// The ID token's claims a relying party must check (OpenID Connect Core
/// §3.1.3.7): `iss`, `aud` (and `azp` with several audiences), `exp`
/// against `now`, and the `nonce` sent.
fn check_claims(claims: &Map<String, Value>, provider: &Provider, attempt: &Attempt, now: i64) -> Result<(), TryError> {
    let wrong = |claim: &'static str, detail: String| Err(TryError::Claim { claim, detail });
    if claims.get("iss").and_then(Value::as_str) != Some(provider.issuer.as_str()) {
        return wrong("iss", format!("{:?}, not {}", claims.get("iss"), provider.issuer));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.as_str()],
        Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&attempt.client_id.as_str()) {
        return wrong("aud", format!("{audiences:?} does not name {}", attempt.client_id));
    }
    if audiences.len() > 1 && claims.get("azp").and_then(Value::as_str) != Some(attempt.client_id.as_str()) {
        return wrong("azp", "several audiences and azp is not this client".into());
    }
    match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp > now => {}
        Some(exp) => return wrong("exp", format!("expired {} s ago", now - exp)),
        None => return wrong("exp", "missing".into()),
    }
    if claims.get("nonce").and_then(Value::as_str) != Some(attempt.nonce.as_str()) {
        return wrong("nonce", "missing or not the one sent".into());
    }
    Ok(())
}

/// The page the browser sees at the end.
fn page(outcome: &Result<SignedIn, TryError>) -> Response {
    match outcome {
        Ok(signed_in) => {
            let body = format!(
                "<p>Ciao <strong>{name}</strong>: l'applicazione di prova ha ricevuto da Varco la tua identità, \
                 con la firma verificata.</p>\
                 <p lang=\"en\">Sign-in succeeded: the demo application received your identity from Varco, \
                 signature verified.</p>\
                 <h2>ID token</h2>{claims}\
                 <h2>userinfo</h2>{userinfo}\
                 <p>Puoi chiudere questa pagina e tornare al terminale.</p>\
                 <p lang=\"en\">You can close this page and go back to the terminal.</p>",
                name = escape(&signed_in.display_name()),
                claims = table(&signed_in.claims),
                userinfo = table(&signed_in.userinfo),
            );
            html(StatusCode::OK, "Accesso riuscito", &body)
        }
        Err(e) => {
            let body = format!(
                "<p>{}.</p><p lang=\"en\">{}.</p><p>Dettagli nel terminale. / Details in the terminal.</p>",
                escape(&capitalized(&e.italian())),
                escape(&capitalized(&e.to_string())),
            );
            html(StatusCode::BAD_REQUEST, "Accesso non riuscito", &body)
        }
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A two-column table of claims; strings as they are, other values as JSON.
fn table(claims: &Map<String, Value>) -> String {
    let rows: String = claims
        .iter()
        .map(|(name, value)| {
            let value = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            format!("<tr><th>{}</th><td>{}</td></tr>", escape(name), escape(&value))
        })
        .collect();
    format!("<table>{rows}</table>")
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let document = format!(
        "<!doctype html><html lang=\"it\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Applicazione di prova</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;\
         line-height:1.5}}table{{border-collapse:collapse;width:100%}}th,td{{border:1px solid #ccc;\
         padding:.25rem .5rem;text-align:left;vertical-align:top;word-break:break-all}}\
         th{{white-space:nowrap}}</style></head>\
         <body><main><h1>{title}</h1>{body}</main></body></html>",
        title = escape(title),
    );
    let mut response = (status, document).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn provider() -> Provider {
        Provider {
            issuer: "http://127.0.0.1:8080".into(),
            authorization_endpoint: "http://127.0.0.1:8080/oauth2/authorize".into(),
            token_endpoint: "http://127.0.0.1:8080/oauth2/token".into(),
            userinfo_endpoint: "http://127.0.0.1:8080/oauth2/userinfo".into(),
            jwks_uri: "http://127.0.0.1:8080/oauth2/jwks".into(),
        }
    }

    fn attempt() -> Attempt {
        Attempt::new("varco-abc", loopback_redirect_uri(8765))
    }

    fn claims(attempt: &Attempt, extra: Value) -> Map<String, Value> {
        let mut claims = json!({
            "iss": "http://127.0.0.1:8080",
            "aud": attempt.client_id,
            "exp": 1_000,
            "nonce": attempt.nonce,
            "sub": "s",
        });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims.as_object().unwrap().clone()
    }

    #[test]
    fn the_authorization_url_carries_pkce_s256_state_and_nonce() {
        let attempt = attempt();
        let url = attempt
            .authorization_url(&provider(), &["openid".into(), "email".into()])
            .unwrap();
        let url = reqwest::Url::parse(&url).unwrap();
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(url.path(), "/oauth2/authorize");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:8765/callback");
        assert_eq!(q["scope"], "openid email");
        assert_eq!(q["state"], attempt.state);
        assert_eq!(q["nonce"], attempt.nonce);
        assert_eq!(q["code_challenge_method"], "S256");
        assert!(pkce::verify_s256(&attempt.verifier, &q["code_challenge"]));
        assert_ne!(attempt.state, attempt.nonce);
        assert!(!url.as_str().contains(&attempt.verifier), "the verifier stays here");
    }

    #[test]
    fn claims_are_checked_one_by_one() {
        let attempt = attempt();
        let provider = provider();
        let check = |extra: Value| check_claims(&claims(&attempt, extra), &provider, &attempt, 999);
        assert!(check(json!({})).is_ok());
        assert!(check(json!({"aud": ["other", attempt.client_id], "azp": attempt.client_id})).is_ok());
        for (extra, claim) in [
            (json!({"iss": "http://evil.example"}), "iss"),
            (json!({"iss": null}), "iss"),
            (json!({"aud": "other"}), "aud"),
            (json!({"aud": ["other", attempt.client_id]}), "azp"),
            (json!({"exp": 999}), "exp"),
            (json!({"exp": null}), "exp"),
            (json!({"nonce": "another"}), "nonce"),
            (json!({"nonce": null}), "nonce"),
        ] {
            match check(extra.clone()) {
                Err(TryError::Claim { claim: got, .. }) => assert_eq!(got, claim, "{extra}"),
                other => panic!("{extra}: {other:?}"),
            }
        }
    }

    #[test]
    fn pages_escape_what_they_show() {
        let mut claims = Map::new();
        claims.insert("name".into(), json!("<script>x</script>"));
        let signed_in = SignedIn {
            claims: claims.clone(),
            userinfo: claims,
            expires_in: None,
            refresh_token: false,
        };
        assert_eq!(signed_in.display_name(), "<script>x</script>");
        let page = table(&signed_in.claims);
        assert!(page.contains("&lt;script&gt;") && !page.contains("<script>"), "{page}");
    }
}
