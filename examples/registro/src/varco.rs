//! The register as a client of Varco: a confidential OpenID Connect relying
//! party (discovery, authorization code flow with PKCE S256, `state`,
//! `nonce`, the ID token verified by the `openidconnect` crate, userinfo for
//! the school and students claims) and a caller of the act-confirmation API
//! (`POST /api/v1/confirmations`, then `/redeem`).
//!
//! Discovery is lazy and cached for a few minutes, so the register starts
//! while Varco is down and says so on a page; the JWKS is fetched again when
//! a confirmation names a key it does not hold (after a key rotation).

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
    CoreProviderMetadata,
};
use openidconnect::{
    AccessToken, AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, JsonWebKeySet, Nonce, OAuth2TokenResponse as _, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse as _, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::act::payload_hash;
use crate::person::Person;
use crate::proof::{self, Expected, ProofError};
use crate::store::Confirmed;

/// The scopes the register asks for.
pub const SCOPES: [&str; 3] = ["profile", "school", "students"];

/// The claim with the account's school, kind and roles.
pub const SCHOOL_CLAIM: &str = "urn:varco:claims:school";

/// The claim with a guardian's children.
pub const STUDENTS_CLAIM: &str = "urn:varco:claims:students";

/// How long one request to Varco may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a discovery document (and its JWKS) is reused.
const DISCOVERY_TTL: Duration = Duration::from_secs(300);

type Client =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// What went wrong between the register and Varco. Each has an Italian
/// title and text for the page the person sees.
#[derive(Debug, thiserror::Error)]
pub enum VarcoError {
    /// Varco does not answer (down, wrong URL, network).
    #[error("Varco cannot be reached ({step}): {detail}")]
    Unreachable {
        /// Which request.
        step: &'static str,
        /// The transport error.
        detail: String,
    },
    /// Varco answered with an OAuth error.
    #[error("Varco refused the {step} request: {error}{}", .description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        /// Which request.
        step: &'static str,
        /// The OAuth `error`.
        error: String,
        /// Its `error_description`.
        description: Option<String>,
    },
    /// Varco answered something the contract does not describe.
    #[error("Varco's answer to the {step} request is not as expected: {detail}")]
    Unexpected {
        /// Which request.
        step: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The ID token did not verify.
    #[error("the ID token does not verify: {0}")]
    IdToken(String),
    /// The confirmation does not verify or is not the act asked for.
    #[error(transparent)]
    Proof(#[from] ProofError),
}

impl VarcoError {
    /// The page's heading.
    #[must_use]
    pub fn title(&self) -> &'static str {
        match self {
            VarcoError::Unreachable { .. } => "Varco non raggiungibile",
            VarcoError::Refused { step: "token", .. } | VarcoError::IdToken(_) => "Accesso non riuscito",
            VarcoError::Refused { .. } => "Conferma rifiutata da Varco",
            VarcoError::Unexpected { .. } => "Risposta inattesa da Varco",
            VarcoError::Proof(ProofError::Mismatch(_)) => "La conferma non corrisponde all'operazione",
            VarcoError::Proof(_) => "Conferma non valida",
        }
    }

    /// The page's explanation, in Italian.
    #[must_use]
    pub fn italian(&self) -> String {
        match self {
            VarcoError::Unreachable { .. } => "Il registro non riesce a contattare Varco, il servizio di accesso \
                della scuola. Riprova tra qualche minuto; se il problema continua, avvisa la segreteria."
                .into(),
            VarcoError::Refused { step, error, .. } => {
                let what = match *step {
                    "token" => "l'accesso",
                    "create" => "la richiesta di conferma",
                    _ => "la conferma",
                };
                let why = match error.as_str() {
                    "invalid_grant" => " La conferma è scaduta, è già stata usata o non è più valida \
                        (ad esempio perché il collegamento con lo studente è cambiato)."
                        .to_owned(),
                    "invalid_client" => " Il registro non è riconosciuto da Varco: avvisa la segreteria.".to_owned(),
                    _ => String::new(),
                };
                format!("Varco ha rifiutato {what} (codice «{error}»).{why}")
            }
            VarcoError::Unexpected { .. } => "Varco ha risposto in modo inatteso. Riprova più tardi.".into(),
            VarcoError::IdToken(_) => "L'identità ricevuta da Varco non ha superato i controlli di sicurezza. \
                Riprova ad accedere."
                .into(),
            VarcoError::Proof(ProofError::Mismatch(_)) => "La conferma ricevuta da Varco non corrisponde \
                all'operazione richiesta: per sicurezza il registro non l'ha usata."
                .into(),
            VarcoError::Proof(_) => "La conferma ricevuta da Varco non ha superato i controlli di sicurezza \
                (firma o dati non validi): il registro non l'ha usata."
                .into(),
        }
    }
}

/// Varco's two namespaced claims, read from userinfo.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct VarcoClaims {
    #[serde(rename = "urn:varco:claims:school", default, skip_serializing_if = "Option::is_none")]
    school: Option<Value>,
    #[serde(
        rename = "urn:varco:claims:students",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    students: Option<Value>,
}

impl AdditionalClaims for VarcoClaims {}

/// A sign-in just started: the URL to send the browser to, and what must be
/// kept to check the answer.
#[derive(Debug, Clone)]
pub struct SignInRequest {
    /// The authorization URL.
    pub url: String,
    /// What comes back in `state`.
    pub state: String,
    /// What the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier, sent only with the code.
    pub verifier: String,
}

/// A confirmation request Varco accepted.
#[derive(Debug, Clone)]
pub struct Created {
    /// Its id (the JWT's `jti` later).
    pub confirmation_id: String,
    /// Where to send the browser.
    pub confirm_url: String,
}

struct Discovered {
    at: Instant,
    client: Client,
    jwks_uri: openidconnect::JsonWebKeySetUrl,
    jwks: CoreJsonWebKeySet,
}

/// The connection to one Varco.
pub struct Varco {
    issuer: String,
    client_id: String,
    client_secret: String,
    redirect_uri: String,
    http: reqwest::Client,
    discovered: Mutex<Option<Arc<Discovered>>>,
}

impl std::fmt::Debug for Varco {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Varco")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[hidden]")
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl Varco {
    /// A client of the Varco whose public URL (its issuer) is `issuer`,
    /// registered as `client_id` with `redirect_uri`.
    pub fn new(
        issuer: &str,
        client_id: &str,
        client_secret: &str,
        redirect_uri: &str,
    ) -> Result<Varco, reqwest::Error> {
        let http = reqwest::Client::builder()
            // The openidconnect crate's advice: no redirects (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(HTTP_TIMEOUT)
            .build()?;
        Ok(Varco {
            issuer: issuer.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            http,
            discovered: Mutex::new(None),
        })
    }

    /// Varco's public URL.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The redirect URI of sign-ins and confirmations.
    #[must_use]
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The discovery document and JWKS, fetched again when older than
    /// [`DISCOVERY_TTL`] or when `fresh` is asked.
    async fn provider(&self, fresh: bool) -> Result<Arc<Discovered>, VarcoError> {
        let mut cached = self.discovered.lock().await;
        if let Some(found) = cached.as_ref()
            && !fresh
            && found.at.elapsed() < DISCOVERY_TTL
        {
            return Ok(found.clone());
        }
        let issuer = IssuerUrl::new(self.issuer.clone()).map_err(|e| VarcoError::Unexpected {
            step: "discovery",
            detail: format!("bad issuer URL: {e}"),
        })?;
        // Checks that the document names exactly this issuer, and fetches the JWKS.
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| match e {
                openidconnect::DiscoveryError::Request(e) => VarcoError::Unreachable {
                    step: "discovery",
                    detail: error_chain(&e),
                },
                other => VarcoError::Unexpected {
                    step: "discovery",
                    detail: error_chain(&other),
                },
            })?;
        let jwks_uri = metadata.jwks_uri().clone();
        let jwks = metadata.jwks().clone();
        let redirect = RedirectUrl::new(self.redirect_uri.clone()).map_err(|e| VarcoError::Unexpected {
            step: "discovery",
            detail: format!("bad redirect URI: {e}"),
        })?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.client_id.clone()),
            Some(ClientSecret::new(self.client_secret.clone())),
        )
        .set_redirect_uri(redirect);
        let found = Arc::new(Discovered {
            at: Instant::now(),
            client,
            jwks_uri,
            jwks,
        });
        *cached = Some(found.clone());
        Ok(found)
    }

    /// Starts a sign-in: fresh `state`, `nonce` and PKCE verifier.
    pub async fn sign_in_request(&self) -> Result<SignInRequest, VarcoError> {
        let provider = self.provider(false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = provider
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scopes(SCOPES.iter().map(|s| Scope::new((*s).to_owned())))
            .set_pkce_challenge(challenge)
            .url();
        Ok(SignInRequest {
            url: url.into(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
        })
    }

    /// Completes a sign-in: redeems the code with the verifier
    /// (client_secret_basic), verifies the ID token (signature, `iss`,
    /// `aud`, `exp`, `nonce`) and reads userinfo (whose `sub` must be the
    /// ID token's).
    pub async fn sign_in(&self, code: &str, request: &SignInRequest) -> Result<Person, VarcoError> {
        let provider = self.provider(false).await?;
        let client = &provider.client;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| VarcoError::Unexpected {
                step: "token",
                detail: e.to_string(),
            })?
            .set_pkce_verifier(PkceCodeVerifier::new(request.verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(response) => VarcoError::Refused {
                    step: "token",
                    error: response.error().to_string(),
                    description: response.error_description().cloned(),
                },
                RequestTokenError::Request(e) => VarcoError::Unreachable {
                    step: "token",
                    detail: error_chain(&e),
                },
                other => VarcoError::Unexpected {
                    step: "token",
                    detail: error_chain(&other),
                },
            })?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| VarcoError::IdToken("no id_token".into()))?;
        let verifier = client.id_token_verifier().set_allowed_algs(vec![
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        ]);
        let claims = id_token
            .claims(&verifier, &Nonce::new(request.nonce.clone()))
            .map_err(|e| VarcoError::IdToken(error_chain(&e)))?;
        let subject = claims.subject().clone();
        let info: UserInfoClaims<VarcoClaims, CoreGenderClaim> = client
            .user_info(
                AccessToken::new(tokens.access_token().secret().clone()),
                Some(subject.clone()),
            )
            .map_err(|e| VarcoError::Unexpected {
                step: "userinfo",
                detail: e.to_string(),
            })?
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                openidconnect::UserInfoError::Request(e) => VarcoError::Unreachable {
                    step: "userinfo",
                    detail: error_chain(&e),
                },
                other => VarcoError::Unexpected {
                    step: "userinfo",
                    detail: error_chain(&other),
                },
            })?;
        let given = info
            .given_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned());
        let family = info
            .family_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned());
        let name = [given, family].into_iter().flatten().collect::<Vec<_>>().join(" ");
        let extra = info.additional_claims();
        Ok(Person::from_claims(
            subject.as_str(),
            &name,
            extra.school.as_ref(),
            extra.students.as_ref(),
        ))
    }

    /// Asks Varco to confirm an act for `sub`: the browser then goes to the
    /// returned `confirm_url`, which must be on Varco.
    pub async fn create_confirmation(
        &self,
        sub: &str,
        description: &str,
        payload: &Value,
        state: &str,
    ) -> Result<Created, VarcoError> {
        let body = json!({
            "sub": sub,
            "description": description,
            "payload": payload,
            "redirect_uri": self.redirect_uri,
            "state": state,
        });
        let answer = self.post("create", "/api/v1/confirmations", &body).await?;
        let field = |name: &str| {
            answer
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| VarcoError::Unexpected {
                    step: "create",
                    detail: format!("no {name}"),
                })
        };
        let created = Created {
            confirmation_id: field("confirmation_id")?,
            confirm_url: field("confirm_url")?,
        };
        if field("payload_hash")? != payload_hash(payload) {
            return Err(ProofError::Mismatch("payload_hash at creation".into()).into());
        }
        // Never send the browser anywhere else than to Varco.
        if !created.confirm_url.starts_with(&format!("{}/", self.issuer)) {
            return Err(VarcoError::Unexpected {
                step: "create",
                detail: "confirm_url is not on Varco".into(),
            });
        }
        Ok(created)
    }

    /// Redeems a confirmation code with the very same payload, and verifies
    /// what comes back (see [`proof::verify`]) before anything is recorded.
    pub async fn redeem(
        &self,
        code: &str,
        payload: &Value,
        sub: &str,
        confirmation_id: &str,
        now: i64,
    ) -> Result<Confirmed, VarcoError> {
        let body = json!({"confirmation_code": code, "payload": payload});
        let answer = self.post("redeem", "/api/v1/confirmations/redeem", &body).await?;
        let hash = payload_hash(payload);
        let expected = Expected {
            issuer: &self.issuer,
            client_id: &self.client_id,
            sub,
            confirmation_id,
            payload_hash: &hash,
        };
        let provider = self.provider(false).await?;
        match proof::verify(&answer, &provider.jwks, &expected, now) {
            Err(ProofError::UnknownKey) => {
                // A key rotated since the last discovery: fetch the JWKS again, once.
                let jwks = JsonWebKeySet::fetch_async(&provider.jwks_uri, &self.http)
                    .await
                    .map_err(|e| VarcoError::Unreachable {
                        step: "JWKS",
                        detail: error_chain(&e),
                    })?;
                let _ = self.provider(true).await;
                Ok(proof::verify(&answer, &jwks, &expected, now)?)
            }
            other => Ok(other?),
        }
    }

    /// A client-authenticated JSON POST (HTTP Basic, the id and secret
    /// form-urlencoded as RFC 6749 §2.3.1 asks); an OAuth error answer
    /// becomes [`VarcoError::Refused`].
    async fn post(&self, step: &'static str, path: &str, body: &Value) -> Result<Value, VarcoError> {
        let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let response = self
            .http
            .post(format!("{}{path}", self.issuer))
            .basic_auth(encode(&self.client_id), Some(encode(&self.client_secret)))
            .json(body)
            .send()
            .await
            .map_err(|e| VarcoError::Unreachable {
                step,
                detail: error_chain(&e),
            })?;
        let status = response.status();
        let answer: Value = response.json().await.map_err(|e| VarcoError::Unexpected {
            step,
            detail: format!("HTTP {status}, not JSON: {e}"),
        })?;
        if !status.is_success() {
            // Varco's JSON API answers RFC 9457 problems whose `detail` is
            // "<OAuth code>: <reason>"; an OAuth-shaped answer is read too.
            let oauth = answer.get("error").and_then(Value::as_str).map(|error| {
                (
                    error.to_owned(),
                    answer
                        .get("error_description")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                )
            });
            let problem = || {
                let detail = answer.get("detail").and_then(Value::as_str)?;
                let (code, reason) = detail.split_once(": ")?;
                let known = code.chars().all(|c| c.is_ascii_lowercase() || c == '_');
                known.then(|| (code.to_owned(), Some(reason.to_owned())))
            };
            let Some((error, description)) = oauth.or_else(problem) else {
                // Neither: e.g. a Varco without this API (404).
                return Err(VarcoError::Unexpected {
                    step,
                    detail: format!("HTTP {status} without an OAuth error"),
                });
            };
            return Err(VarcoError::Refused {
                step,
                error,
                description,
            });
        }
        Ok(answer)
    }
}

/// An error and its causes on one line (reqwest hides the useful part in
/// its sources).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_in_italian_without_secrets() {
        let refused = VarcoError::Refused {
            step: "redeem",
            error: "invalid_grant".into(),
            description: Some("the payload differs".into()),
        };
        assert_eq!(refused.title(), "Conferma rifiutata da Varco");
        assert!(refused.italian().contains("invalid_grant") && refused.italian().contains("scaduta"));
        assert!(refused.to_string().contains("the payload differs"));
        let down = VarcoError::Unreachable {
            step: "discovery",
            detail: "connection refused".into(),
        };
        assert_eq!(down.title(), "Varco non raggiungibile");
        let mismatch = VarcoError::from(ProofError::Mismatch("payload_hash".into()));
        assert!(mismatch.italian().contains("non corrisponde"));
        let varco = Varco::new(
            "http://127.0.0.1:1/",
            "id",
            "s3cret-value",
            "http://127.0.0.1:2/callback",
        )
        .unwrap();
        assert_eq!(varco.issuer(), "http://127.0.0.1:1");
        assert!(!format!("{varco:?}").contains("s3cret-value"));
    }
}
