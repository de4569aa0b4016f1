//! The authorization endpoint: a client sends the person here, Varco signs
//! them in if needed, asks consent for third-party clients, and sends them
//! back with a one-time code (OpenID Connect Core §3.1.2, RFC 7636, RFC 9207).
//!
//! Order of checks, as the specifications require: the client and its
//! redirect URI first — while either is unknown nothing is redirected, an
//! error page is shown (an open redirector otherwise); every later error goes
//! back to the client's redirect URI with `error`, `state` and `iss`.

use std::collections::BTreeSet;

use url::Url;
use varco_domain::audit::{AuditEvent, OidcRefusal};
use varco_oidc::pkce;
use varco_store::{ClientRecord, NewCode};

use crate::audit::{self, Target};
use crate::provider::{SCOPES, account_subject, serves, sid_of};
use crate::sessions::Authenticated;
use crate::{Actor, App, AppError, RequestContext};

/// The parameters of an authorization request, as sent (query or form).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct AuthorizationRequest {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub response_mode: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    pub ui_locales: Option<String>,
    pub acr_values: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
}

/// The longest value accepted for any one parameter.
const MAX_PARAM: usize = 2048;

/// What to do with an authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeStep {
    /// The client or its redirect URI is not right: show an error page,
    /// never redirect.
    Refused(AuthorizePageError),
    /// Back to the client, with a code or an error.
    Redirect(String),
    /// The person must sign in first (no session, `prompt=login`, or a
    /// sign-in older than `max_age`); `fresh` asks for a new sign-in even
    /// with a session.
    SignIn { login_hint: Option<String>, fresh: bool },
    /// The session must change its password before any application.
    ChangePassword,
    /// The account is not in the client's schools.
    NotServed { client_name: String },
    /// Ask the person to allow a third-party client these scopes.
    Consent { client_name: String, scopes: Vec<String> },
    /// The client asked for `acr_values` `urn:varco:acr:second-secret`:
    /// ask the PIN (`method` `pin`) or personal code (`personal_code`).
    SecondSecret { client_name: String, method: &'static str },
}

/// What the person approved on Varco's pages for this request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Approvals {
    /// The consent page's "allow".
    consented: bool,
    /// The right second secret, entered just now.
    second_secret: bool,
}

/// Whether the request asks for the second-secret step-up.
fn wants_second_secret(req: &AuthorizationRequest) -> bool {
    req.acr_values
        .as_deref()
        .is_some_and(|v| v.split(' ').any(|a| a == crate::second_secret::ACR_SECOND_SECRET))
}

/// Why an authorization request gets an error page instead of a redirect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizePageError {
    /// No `client_id`, or no such client.
    UnknownClient,
    /// No `redirect_uri`, or not one the client registered (exact match).
    RedirectUriMismatch,
    /// A parameter longer than Varco accepts.
    TooLong,
}

/// An OAuth error sent back to the client's redirect URI.
struct Back<'a> {
    redirect_uri: &'a str,
    state: Option<&'a str>,
    issuer: &'a str,
}

impl Back<'_> {
    fn with(&self, pairs: &[(&str, &str)]) -> AuthorizeStep {
        let mut url = match Url::parse(self.redirect_uri) {
            Ok(url) => url,
            Err(_) => return AuthorizeStep::Refused(AuthorizePageError::RedirectUriMismatch),
        };
        {
            let mut query = url.query_pairs_mut();
            for (k, v) in pairs {
                query.append_pair(k, v);
            }
            if let Some(state) = self.state {
                query.append_pair("state", state);
            }
            query.append_pair("iss", self.issuer);
        }
        AuthorizeStep::Redirect(url.into())
    }

    fn error(&self, code: &str, description: &str) -> AuthorizeStep {
        self.with(&[("error", code), ("error_description", description)])
    }
}

/// The validated request: everything a code will carry.
struct Valid {
    client: ClientRecord,
    redirect_uri: String,
    scope: String,
    nonce: Option<String>,
    code_challenge: String,
    prompt: BTreeSet<String>,
    max_age: Option<i64>,
    login_hint: Option<String>,
}

/// Validates a request up to the point where the person matters.
async fn validate(app: &App, req: &AuthorizationRequest) -> Result<Result<Valid, AuthorizeStep>, AppError> {
    let fields = [
        &req.client_id,
        &req.redirect_uri,
        &req.response_type,
        &req.response_mode,
        &req.scope,
        &req.state,
        &req.nonce,
        &req.code_challenge,
        &req.code_challenge_method,
        &req.prompt,
        &req.max_age,
        &req.login_hint,
        &req.ui_locales,
        &req.acr_values,
        &req.request_uri,
    ];
    if fields.iter().any(|f| f.as_ref().is_some_and(|v| v.len() > MAX_PARAM)) {
        return Ok(Err(AuthorizeStep::Refused(AuthorizePageError::TooLong)));
    }
    let Some(client_id) = req.client_id.as_deref() else {
        return Ok(Err(AuthorizeStep::Refused(AuthorizePageError::UnknownClient)));
    };
    let mut tx = app.store.begin_read().await?;
    let client = tx.oidc_client(client_id).await?;
    tx.commit().await?;
    let Some(client) = client else {
        return Ok(Err(AuthorizeStep::Refused(AuthorizePageError::UnknownClient)));
    };
    let Some(redirect_uri) = req
        .redirect_uri
        .as_deref()
        .filter(|r| client.redirect_uris.iter().any(|u| u == r))
    else {
        return Ok(Err(AuthorizeStep::Refused(AuthorizePageError::RedirectUriMismatch)));
    };
    let issuer = app.settings.public_url.as_str();
    let back = Back {
        redirect_uri,
        state: req.state.as_deref(),
        issuer,
    };
    if req.request.is_some() {
        return Ok(Err(
            back.error("request_not_supported", "request objects are not supported")
        ));
    }
    if req.request_uri.is_some() {
        return Ok(Err(
            back.error("request_uri_not_supported", "request_uri is not supported")
        ));
    }
    if req.response_type.as_deref() != Some("code") {
        return Ok(Err(back.error(
            "unsupported_response_type",
            "only the authorization code flow (response_type=code) is supported",
        )));
    }
    if req.response_mode.as_deref().is_some_and(|m| m != "query") {
        return Ok(Err(
            back.error("invalid_request", "only response_mode=query is supported")
        ));
    }
    let requested: Vec<&str> = req
        .scope
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    if !requested.contains(&"openid") {
        return Ok(Err(back.error("invalid_scope", "the openid scope is required")));
    }
    let scope: Vec<&str> = requested
        .iter()
        .copied()
        .filter(|s| *s == "openid" || (SCOPES.contains(s) && client.scopes.iter().any(|a| a == s)))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // In the order people read them (names before the tax code).
    let mut scope = scope;
    scope.sort_by_key(|s| SCOPES.iter().position(|known| known == s));
    match req.code_challenge_method.as_deref() {
        Some("S256") => {}
        Some(_) | None => {
            return Ok(Err(
                back.error("invalid_request", "PKCE is required with code_challenge_method=S256")
            ));
        }
    }
    let Some(code_challenge) = req.code_challenge.as_deref().filter(|c| pkce::valid_challenge(c)) else {
        return Ok(Err(
            back.error("invalid_request", "code_challenge is missing or malformed")
        ));
    };
    let prompt: BTreeSet<String> = req
        .prompt
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    if prompt
        .iter()
        .any(|p| !matches!(p.as_str(), "none" | "login" | "consent" | "select_account"))
    {
        return Ok(Err(back.error("invalid_request", "unknown prompt value")));
    }
    if prompt.contains("none") && prompt.len() > 1 {
        return Ok(Err(back.error("invalid_request", "prompt=none cannot be combined")));
    }
    let max_age = match req.max_age.as_deref() {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                return Ok(Err(
                    back.error("invalid_request", "max_age must be a non-negative integer")
                ));
            }
        },
    };
    let redirect_uri = redirect_uri.to_owned();
    Ok(Ok(Valid {
        scope: scope.join(" "),
        nonce: req.nonce.clone(),
        code_challenge: code_challenge.to_owned(),
        prompt,
        max_age,
        login_hint: req.login_hint.clone(),
        redirect_uri,
        client,
    }))
}

/// Decides what an authorization request leads to for this session.
/// `consented` is true when the request comes from the consent form with
/// the person's approval.
pub async fn authorize(
    app: &App,
    req: &AuthorizationRequest,
    session: Option<&Authenticated>,
    consented: bool,
    ctx: &RequestContext,
) -> Result<AuthorizeStep, AppError> {
    let approvals = Approvals {
        consented,
        second_secret: false,
    };
    authorize_with(app, req, session, approvals, ctx).await
}

/// What the step-up page's secret led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepUp {
    /// Verified: the request went on (usually back to the client with a code).
    Step(AuthorizeStep),
    /// Not verified: show the page again, saying why.
    Refused(crate::second_secret::SecretRefusal),
}

/// The person entered their PIN or personal code on the step-up page of a
/// request asking for `urn:varco:acr:second-secret`. `consented` carries the
/// consent page's approval when it came first.
pub async fn step_up(
    app: &App,
    req: &AuthorizationRequest,
    session: &Authenticated,
    consented: bool,
    secret: &str,
    ctx: &RequestContext,
) -> Result<StepUp, AppError> {
    if let Err(refusal) = crate::second_secret::check_secret(app, ctx, session, secret).await? {
        return Ok(StepUp::Refused(refusal));
    }
    let approvals = Approvals {
        consented,
        second_secret: true,
    };
    Ok(StepUp::Step(
        authorize_with(app, req, Some(session), approvals, ctx).await?,
    ))
}

/// The person declined the step-up: back to the client with
/// `access_denied` (never a code at a lower `acr`), audited.
pub async fn decline_step_up(
    app: &App,
    req: &AuthorizationRequest,
    session: &Authenticated,
    ctx: &RequestContext,
) -> Result<AuthorizeStep, AppError> {
    let valid = match validate(app, req).await? {
        Ok(valid) => valid,
        Err(step) => return Ok(step),
    };
    refuse(
        app,
        &session.actor(),
        ctx,
        session,
        &valid.client,
        OidcRefusal::StepUpDeclined,
    )
    .await?;
    let back = Back {
        redirect_uri: &valid.redirect_uri,
        state: req.state.as_deref(),
        issuer: app.settings.public_url.as_str(),
    };
    Ok(back.error(
        "access_denied",
        "the person did not confirm with their PIN or personal code",
    ))
}

async fn authorize_with(
    app: &App,
    req: &AuthorizationRequest,
    session: Option<&Authenticated>,
    approvals: Approvals,
    ctx: &RequestContext,
) -> Result<AuthorizeStep, AppError> {
    let consented = approvals.consented;
    let valid = match validate(app, req).await? {
        Ok(valid) => valid,
        Err(step) => {
            audit_invalid(app, ctx, session, req, &step).await?;
            return Ok(step);
        }
    };
    let issuer = app.settings.public_url.as_str();
    let back = Back {
        redirect_uri: &valid.redirect_uri,
        state: req.state.as_deref(),
        issuer,
    };
    let now = app.now();
    let interactive = !valid.prompt.contains("none");
    // Who is signing in, and is the sign-in recent enough?
    let session = match session {
        Some(s) => {
            // max_age=0 is prompt=login (Core §3.1.2.1), even within the
            // second of the sign-in.
            let too_old = valid
                .max_age
                .is_some_and(|max| max == 0 || s.session.created_at.secs_until(now) > max);
            if too_old || valid.prompt.contains("login") {
                None
            } else {
                Some(s)
            }
        }
        None => None,
    };
    let Some(session) = session else {
        if !interactive {
            return Ok(back.error("login_required", "the person must sign in"));
        }
        return Ok(AuthorizeStep::SignIn {
            login_hint: valid.login_hint.clone(),
            fresh: valid.prompt.contains("login") || valid.max_age.is_some(),
        });
    };
    if session.session.password_change_required {
        if !interactive {
            return Ok(back.error("interaction_required", "the password must be changed first"));
        }
        return Ok(AuthorizeStep::ChangePassword);
    }
    let account = &session.account;
    let client = &valid.client;
    let actor = session.actor();
    if !serves(client, account) {
        refuse(app, &actor, ctx, session, client, OidcRefusal::SchoolNotServed).await?;
        if !interactive {
            return Ok(back.error("access_denied", "this application does not serve the account's school"));
        }
        return Ok(AuthorizeStep::NotServed {
            client_name: client.name.clone(),
        });
    }
    // Consent: first-party clients never ask; third-party ones ask once per
    // set of scopes, and again when `prompt=consent`.
    let scopes: Vec<String> = valid.scope.split(' ').map(str::to_owned).collect();
    if !client.first_party && !consented {
        let mut tx = app.store.begin_read().await?;
        let given = tx.oidc_consent(account.id, &client.client_id).await?;
        tx.commit().await?;
        let covered = given.is_some_and(|given| scopes.iter().all(|s| given.contains(s)));
        if !covered || valid.prompt.contains("consent") {
            if !interactive {
                refuse(app, &actor, ctx, session, client, OidcRefusal::InteractionRequired).await?;
                return Ok(back.error("consent_required", "the person must allow this application"));
            }
            return Ok(AuthorizeStep::Consent {
                client_name: client.name.clone(),
                scopes,
            });
        }
    }
    // The step-up: the second secret, entered for this very request.
    let stepped_up = wants_second_secret(req);
    if stepped_up && !approvals.second_secret {
        if !interactive {
            refuse(app, &actor, ctx, session, client, OidcRefusal::InteractionRequired).await?;
            return Ok(back.error(
                "interaction_required",
                "the person must confirm with their PIN or personal code",
            ));
        }
        return Ok(AuthorizeStep::SecondSecret {
            client_name: client.name.clone(),
            method: crate::second_secret::method_of(account.kind),
        });
    }
    // Issue the code.
    let code = varco_oidc::secret::new_token();
    let sid = sid_of(app, session.session.id);
    let mut tx = app.store.begin().await?;
    if consented && !client.first_party {
        tx.set_oidc_consent(account.id, &client.client_id, &scopes, now).await?;
        audit::record(
            &mut tx,
            now,
            &actor,
            ctx,
            account.into(),
            AuditEvent::OidcConsent {
                client_id: client.client_id.clone(),
                granted: true,
            },
        )
        .await?;
    }
    account_subject(&mut tx, account.id).await?;
    // How the session was signed in, as recorded with it (password, or
    // SPID/CIE with the upstream provider's `acr`).
    // A step-up adds the second secret: a new authentication, now.
    let mut amr = session.session.amr.clone();
    let (auth_time, acr) = if stepped_up {
        if !amr.iter().any(|m| m == "pin") {
            amr.push("pin".to_owned());
        }
        (now, crate::second_secret::ACR_SECOND_SECRET)
    } else {
        (session.session.created_at, session.session.acr.as_str())
    };
    tx.insert_oidc_code(&NewCode {
        code_hash: &varco_oidc::secret::hash(&code),
        client_id: &client.client_id,
        account_id: account.id,
        sid: &sid,
        redirect_uri: &valid.redirect_uri,
        scope: &valid.scope,
        nonce: valid.nonce.as_deref(),
        code_challenge: &valid.code_challenge,
        auth_time,
        acr,
        amr: &amr,
        now,
        expires_at: now.plus_secs(app.settings.provider.code_secs.min(60)),
    })
    .await?;
    audit::record(
        &mut tx,
        now,
        &actor,
        ctx,
        account.into(),
        AuditEvent::OidcAuthorization {
            client_id: client.client_id.clone(),
            refusal: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(back.with(&[("code", &code)]))
}

/// The person declined the consent page: back to the client with
/// `access_denied`, audited.
pub async fn decline(
    app: &App,
    req: &AuthorizationRequest,
    session: &Authenticated,
    ctx: &RequestContext,
) -> Result<AuthorizeStep, AppError> {
    let valid = match validate(app, req).await? {
        Ok(valid) => valid,
        Err(step) => return Ok(step),
    };
    refuse(
        app,
        &session.actor(),
        ctx,
        session,
        &valid.client,
        OidcRefusal::ConsentDeclined,
    )
    .await?;
    let back = Back {
        redirect_uri: &valid.redirect_uri,
        state: req.state.as_deref(),
        issuer: app.settings.public_url.as_str(),
    };
    Ok(back.error("access_denied", "the person did not allow this application"))
}

/// Audits a request refused before the person mattered: an unknown client,
/// an unregistered redirect URI, a malformed request. The client id as sent
/// is kept short and printable (it may be anything).
async fn audit_invalid(
    app: &App,
    ctx: &RequestContext,
    session: Option<&Authenticated>,
    req: &AuthorizationRequest,
    step: &AuthorizeStep,
) -> Result<(), AppError> {
    let refusal = match step {
        AuthorizeStep::Refused(AuthorizePageError::UnknownClient) => OidcRefusal::UnknownClient,
        AuthorizeStep::Refused(AuthorizePageError::RedirectUriMismatch) => OidcRefusal::RedirectUriMismatch,
        _ => OidcRefusal::InvalidRequest,
    };
    let client_id: String = req
        .client_id
        .as_deref()
        .unwrap_or("-")
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.:".contains(c) {
                c
            } else {
                '?'
            }
        })
        .collect();
    let (actor, target) = match session {
        Some(s) => (s.actor(), Target::from(&s.account)),
        None => (Actor::Anonymous, Target::Nobody),
    };
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let event = AuditEvent::OidcAuthorization {
        client_id,
        refusal: Some(refusal),
    };
    audit::record(&mut tx, now, &actor, ctx, target, event).await?;
    tx.commit().await?;
    Ok(())
}

async fn refuse(
    app: &App,
    actor: &Actor,
    ctx: &RequestContext,
    session: &Authenticated,
    client: &ClientRecord,
    refusal: OidcRefusal,
) -> Result<(), AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    audit::record(
        &mut tx,
        now,
        actor,
        ctx,
        Target::from(&session.account),
        AuditEvent::OidcAuthorization {
            client_id: client.client_id.clone(),
            refusal: Some(refusal),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
