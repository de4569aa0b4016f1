//! Signing in through an upstream provider (SPID/CIE, issue 9): linking,
//! never creating.
//!
//! [`start`] resolves the provider (see [`crate::upstream_rp`]), builds the
//! authorization request (state, nonce, PKCE), keeps what the callback needs
//! sealed in `upstream_logins` under the hash of `state`, bound to the
//! browser by the hash of a random cookie value, and answers the URL to
//! send the browser to.
//!
//! [`finish`] takes that pending sign-in (single use, same browser, at most
//! `pending_secs` old), checks the callback, exchanges the code, validates
//! the ID token (signature, `iss`, `aud`, nonce, `acr` at least the
//! configured level), reads userinfo and the fiscal number, then finds the
//! account: the identity's linked account (whose tax code must still be the
//! person's), else the accounts with that tax code — one is linked and
//! signed in, several (one per school) are offered as a choice
//! ([`choose`], which checks the chosen account again), leaving out those
//! the sign-in could not open (one left is signed in; none left, the first
//! is refused as a single account would be), none ends on a page sending
//! the person to the school's secretariat. A disabled account, or one whose login policy does not
//! allow SPID/CIE, is refused; one not activated yet becomes active. Every
//! refusal is audited and opens no
//! session; every exchange is appended to the federation log (identifiers
//! and outcomes only: no name, tax code or token).
//!
//! The session records `acr` (the provider's) and `amr` (`spid` or `cie`),
//! which Varco's own ID tokens then report, and the provider's access token
//! sealed, revoked at logout.

use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use varco_domain::AccountId;
use varco_domain::account::AccountStatus;
use varco_domain::audit::UpstreamRefusal;
use varco_domain::federation_log::FederationRecordKind;
use varco_domain::token::SecretToken;
use varco_oidc::rp::{self, Callback, PendingAuth, RpError};
use varco_store::{
    AccountRecord, NewFederationLogEntry, NewUpstreamIdentity, NewUpstreamLogin, Tx, UpstreamLoginStage,
};

use crate::audit::{self, AuditEvent, Target};
use crate::sessions::{NewSessionToken, SignedInWith, create_session};
use crate::upstream_rp::{
    ACCESS_TOKEN_SEAL_LABEL, ProviderSource, Resolved, UpstreamKind, UpstreamProvider, callback_url, http_client,
    send_form,
};
use crate::views::{AccountView, view};
use crate::{Actor, App, AppError, RequestContext};

/// The KEK label sealing pending sign-ins.
const PENDING_SEAL_LABEL: &str = "varco-app/upstream-pending/v1";

/// A sign-in sent to a provider.
#[derive(Debug)]
pub struct Started {
    /// Where to send the browser.
    pub redirect_url: String,
    /// The browser-binding value, for a short-lived cookie.
    pub binding: SecretToken,
}

/// How a return from a provider ended.
#[derive(Debug)]
pub enum Finished {
    /// Signed in: the new session's secret and the account.
    SignedIn {
        /// The session (for the cookie).
        session: NewSessionToken,
        /// The account signed in to.
        account: Box<AccountView>,
    },
    /// The person has accounts in several schools: they choose one.
    Choose {
        /// The handle of the choice (a hidden form field), bound to the same cookie.
        handle: String,
        /// The accounts offered, in order; the answer is an index.
        options: Vec<SchoolOption>,
    },
    /// Refused: no session; the page to show.
    Refused(Refusal),
}

/// One account offered in the school choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolOption {
    /// The school's name.
    pub school_name: String,
    /// The school's code.
    pub school_code: String,
    /// Staff or family.
    pub kind: varco_domain::AccountKind,
}

/// A refused return, with what the page may say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Why (audited with this name).
    pub reason: UpstreamRefusal,
    /// The school's helpdesk contacts, when the refusal concerns a known school.
    pub school: Option<SchoolContacts>,
}

/// A school's name and helpdesk contacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolContacts {
    /// The school's name.
    pub name: String,
    /// Its helpdesk email, if known.
    pub email: Option<String>,
    /// Its helpdesk phone, if known.
    pub phone: Option<String>,
    /// Its helpdesk hours, if known.
    pub hours: Option<String>,
}

/// What is kept, sealed, until the callback.
#[derive(Serialize, Deserialize)]
struct PendingPayload {
    provider: String,
    issuer: String,
    state: String,
    nonce: String,
    code_verifier: String,
    redirect_uri: String,
    require_iss: bool,
    created_at: i64,
}

/// What is kept, sealed, until the school choice.
#[derive(Serialize, Deserialize)]
struct ChoicePayload {
    provider: String,
    issuer: String,
    subject: String,
    acr: String,
    accounts: Vec<i64>,
    access_token: String,
}

fn seal<T: Serialize>(app: &App, value: &T) -> Result<String, AppError> {
    let bytes = serde_json::to_vec(value).map_err(|e| AppError::internal_because("upstream seal", e))?;
    app.settings
        .provider
        .kek
        .seal(PENDING_SEAL_LABEL, &bytes)
        .map_err(|e| AppError::internal_because("upstream seal", e))
}

fn unseal<T: for<'de> Deserialize<'de>>(app: &App, sealed: &str) -> Option<T> {
    let bytes = app.settings.provider.kek.open(PENDING_SEAL_LABEL, sealed).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn provider_of<'a>(app: &'a App, name: &str) -> Result<&'a UpstreamProvider, AppError> {
    app.settings
        .upstream
        .provider(name)
        .ok_or(AppError::NotFound("upstream provider"))
}

async fn resolve(app: &App, provider: &UpstreamProvider) -> Result<(reqwest::Client, Resolved), RefusalOr> {
    let http =
        http_client(&app.settings.upstream).map_err(|e| RefusalOr::Error(AppError::internal_because("http", e)))?;
    match ProviderSource::of(provider)
        .resolve(app, &http, provider, &callback_url(&app.settings))
        .await
    {
        Ok(resolved) => Ok((http, resolved)),
        Err(e) => {
            tracing::warn!(provider = provider.name, error = %e, "upstream provider unavailable");
            Err(RefusalOr::Refused(UpstreamRefusal::ProviderUnavailable))
        }
    }
}

/// A refusal to audit, or a failure of Varco itself.
enum RefusalOr {
    Refused(UpstreamRefusal),
    Error(AppError),
}

impl From<AppError> for RefusalOr {
    fn from(e: AppError) -> Self {
        RefusalOr::Error(e)
    }
}

impl From<varco_store::StoreError> for RefusalOr {
    fn from(e: varco_store::StoreError) -> Self {
        RefusalOr::Error(e.into())
    }
}

async fn log(
    app: &App,
    provider: &str,
    kind: FederationRecordKind,
    request_id: Option<&str>,
    subject: Option<&str>,
    outcome: &str,
) -> Result<(), AppError> {
    let mut tx = app.store.begin().await?;
    tx.append_federation_log(&NewFederationLogEntry {
        at: app.now(),
        provider,
        kind,
        request_id,
        response_id: None,
        subject,
        outcome,
    })
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Starts a sign-in at the provider configured as `provider_name`.
/// [`AppError::NotFound`] for an unknown name; a provider that cannot be
/// resolved is [`AppError::Unavailable`]-like ([`AppError::Busy`]).
pub async fn start(app: &App, provider_name: &str, ctx: &RequestContext) -> Result<Started, AppError> {
    let provider = provider_of(app, provider_name)?;
    let (_, resolved) = match resolve(app, provider).await {
        Ok(r) => r,
        Err(RefusalOr::Error(e)) => return Err(e),
        Err(RefusalOr::Refused(_)) => return Err(AppError::Busy),
    };
    let now = app.now();
    let request = rp::AuthRequest::new(
        &resolved.provider,
        &resolved.registration,
        resolved.signing_key(),
        now.0,
    )
    .map_err(|e| AppError::internal_because("upstream request", e))?;
    let pending = request.pending;
    let binding = SecretToken::generate(&mut OsRng);
    let sealed = seal(
        app,
        &PendingPayload {
            provider: provider.name.clone(),
            issuer: pending.issuer.clone(),
            state: pending.state.clone(),
            nonce: pending.nonce.clone(),
            code_verifier: pending.code_verifier.clone(),
            redirect_uri: pending.redirect_uri.clone(),
            require_iss: pending.require_iss,
            created_at: pending.created_at,
        },
    )?;
    let state_hash = varco_oidc::secret::hash(&pending.state);
    let mut tx = app.store.begin().await?;
    tx.delete_expired_upstream_logins(now).await?;
    tx.insert_upstream_login(&NewUpstreamLogin {
        handle_hash: &state_hash,
        stage: UpstreamLoginStage::Callback,
        provider: &provider.name,
        binding_hash: binding.hash().as_str(),
        sealed: &sealed,
        now,
        expires_at: now.plus_secs(app.settings.upstream.pending_secs),
    })
    .await?;
    tx.append_federation_log(&NewFederationLogEntry {
        at: now,
        provider: &provider.name,
        kind: FederationRecordKind::AuthorizationRequest,
        request_id: Some(&state_hash),
        response_id: None,
        subject: None,
        outcome: "sent",
    })
    .await?;
    audit::record(
        &mut tx,
        now,
        &Actor::Anonymous,
        ctx,
        Target::Nobody,
        AuditEvent::UpstreamLoginStarted {
            provider: provider.name.clone(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Started {
        redirect_url: request.url,
        binding,
    })
}

fn refusal_of(e: &RpError) -> UpstreamRefusal {
    use UpstreamRefusal as R;
    match e {
        RpError::StateMismatch => R::BadState,
        RpError::IssuerMissing | RpError::IssuerMismatch => R::BadIssuer,
        RpError::ProviderError { .. } => R::ProviderError,
        RpError::CodeMissing
        | RpError::MalformedTokenResponse
        | RpError::TokenTypeNotBearer
        | RpError::IdTokenMissing => R::Token,
        RpError::IdTokenSignature(_) => R::IdTokenSignature,
        RpError::NonceMismatch => R::Nonce,
        RpError::AcrMissing | RpError::AcrUnknown | RpError::AcrTooLow { .. } => R::AcrTooLow,
        RpError::FiscalNumberMissing
        | RpError::FiscalNumberConflict
        | RpError::FiscalNumberNotItalian
        | RpError::FiscalNumberInvalid(_) => R::FiscalNumberInvalid,
        RpError::UserinfoContentType
        | RpError::UserinfoMalformed
        | RpError::UserinfoNotEncrypted
        | RpError::UserinfoEncryptionAlg
        | RpError::UserinfoUnknownKey
        | RpError::UserinfoDecryption
        | RpError::UserinfoSignature(_)
        | RpError::UserinfoSubject
        | RpError::UserinfoIssuer
        | RpError::UserinfoAudience => R::Userinfo,
        _ => R::IdTokenInvalid,
    }
}

/// Finishes a sign-in on the provider's redirect back (`callback`), in the
/// browser that carries `binding` (the cookie [`start`] answered).
pub async fn finish(
    app: &App,
    callback: &Callback,
    binding: Option<&str>,
    ctx: &RequestContext,
) -> Result<Finished, AppError> {
    let mut provider_name = String::from("unknown");
    let outcome = finish_inner(app, callback, binding, ctx, &mut provider_name).await;
    settle(app, outcome, &provider_name, ctx).await
}

async fn settle(
    app: &App,
    outcome: Result<Finished, RefusalOr>,
    provider_name: &str,
    ctx: &RequestContext,
) -> Result<Finished, AppError> {
    match outcome {
        Ok(finished) => Ok(finished),
        Err(RefusalOr::Error(e)) => Err(e),
        Err(RefusalOr::Refused(reason)) => {
            refuse(app, provider_name, reason, None, ctx).await?;
            Ok(Finished::Refused(Refusal { reason, school: None }))
        }
    }
}

async fn refuse(
    app: &App,
    provider: &str,
    reason: UpstreamRefusal,
    account: Option<&AccountRecord>,
    ctx: &RequestContext,
) -> Result<(), AppError> {
    let mut tx = app.store.begin().await?;
    audit::record(
        &mut tx,
        app.now(),
        &Actor::Anonymous,
        ctx,
        account.map_or(Target::Nobody, Target::from),
        AuditEvent::UpstreamLogin {
            provider: provider.to_owned(),
            linked: false,
            refusal: Some(reason),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Takes the pending row for `handle` at `stage`, checking the binding and the age.
async fn take_pending(
    app: &App,
    handle: &str,
    stage: UpstreamLoginStage,
    binding: Option<&str>,
) -> Result<varco_store::UpstreamLoginRecord, RefusalOr> {
    let mut tx = app.store.begin().await?;
    let row = tx.take_upstream_login(&varco_oidc::secret::hash(handle), stage).await?;
    tx.commit().await?;
    let Some(row) = row else {
        return Err(RefusalOr::Refused(UpstreamRefusal::BadState));
    };
    let bound = binding.is_some_and(|b| varco_oidc::secret::matches(b, &row.binding_hash));
    if !bound {
        return Err(RefusalOr::Refused(UpstreamRefusal::BadState));
    }
    if row.expires_at <= app.now() {
        return Err(RefusalOr::Refused(UpstreamRefusal::Expired));
    }
    Ok(row)
}

async fn finish_inner(
    app: &App,
    callback: &Callback,
    binding: Option<&str>,
    ctx: &RequestContext,
    provider_name: &mut String,
) -> Result<Finished, RefusalOr> {
    let Some(state) = callback.state.as_deref().filter(|s| !s.is_empty() && s.len() <= 512) else {
        return Err(RefusalOr::Refused(UpstreamRefusal::BadState));
    };
    let row = take_pending(app, state, UpstreamLoginStage::Callback, binding).await?;
    provider_name.clone_from(&row.provider);
    let payload: PendingPayload = unseal(app, &row.sealed).ok_or(RefusalOr::Refused(UpstreamRefusal::BadState))?;
    let provider = app
        .settings
        .upstream
        .provider(&payload.provider)
        .ok_or(RefusalOr::Refused(UpstreamRefusal::ProviderUnavailable))?
        .clone();
    let pending = PendingAuth {
        issuer: payload.issuer,
        state: payload.state,
        nonce: payload.nonce,
        code_verifier: payload.code_verifier,
        redirect_uri: payload.redirect_uri,
        require_iss: payload.require_iss,
        created_at: payload.created_at,
    };
    let state_hash = varco_oidc::secret::hash(&pending.state);
    let name = provider.name.as_str();
    let checked = rp::check_callback(&pending, callback);
    log(
        app,
        name,
        FederationRecordKind::AuthorizationResponse,
        Some(&state_hash),
        None,
        checked.as_ref().map_or_else(|e| refusal_of(e).as_str(), |_| "success"),
    )
    .await?;
    let code = checked.map_err(|e| RefusalOr::Refused(refusal_of(&e)))?;
    let (http, mut resolved) = resolve(app, &provider).await?;
    // The code for tokens.
    let post = rp::token_request(
        &resolved.provider,
        &resolved.registration,
        resolved.client_auth(),
        &pending,
        &code,
        app.now().0,
    )
    .map_err(|e| RefusalOr::Error(AppError::internal_because("upstream token request", e)))?;
    let tokens = match send_form(&http, &post).await {
        Ok((200, _, body)) => rp::TokenResponse::parse(&body).map_err(|e| refusal_of(&e)),
        Ok((status, _, _)) => {
            tracing::warn!(provider = name, status, "upstream token request refused");
            Err(UpstreamRefusal::Token)
        }
        Err(e) => {
            tracing::warn!(provider = name, error = %e, "upstream token request failed");
            Err(UpstreamRefusal::Token)
        }
    };
    let validate = |resolved: &Resolved, tokens: &rp::TokenResponse| {
        rp::validate_id_token(
            &resolved.provider,
            &resolved.registration,
            &pending,
            &tokens.id_token,
            &tokens.access_token,
            app.now().0,
        )
    };
    let identity = match tokens {
        Ok(tokens) => {
            let mut checked = validate(&resolved, &tokens);
            // A key the kept JWKS does not have: the provider may have
            // rotated its keys; fetch them again, once.
            if matches!(
                checked,
                Err(RpError::IdTokenSignature(varco_oidc::OidcError::UnknownKey))
            ) {
                match crate::upstream_rp::refetch_static_keys(app, &http, &provider, &callback_url(&app.settings)).await
                {
                    Ok(Some(again)) => {
                        resolved = again;
                        checked = validate(&resolved, &tokens);
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(provider = name, error = %e, "upstream keys not fetched again"),
                }
            }
            checked.map(|identity| (tokens, identity)).map_err(|e| {
                tracing::info!(provider = name, error = %e, "upstream ID token refused");
                refusal_of(&e)
            })
        }
        Err(refusal) => Err(refusal),
    };
    log(
        app,
        name,
        FederationRecordKind::TokenResponse,
        Some(&state_hash),
        identity.as_ref().ok().map(|(_, id)| id.sub.as_str()),
        identity.as_ref().map_or_else(|r| r.as_str(), |_| "success"),
    )
    .await?;
    let (tokens, identity) = identity.map_err(RefusalOr::Refused)?;
    // Userinfo (or the ID token's claims when the provider has no userinfo).
    let claims = match &resolved.provider.userinfo_endpoint {
        Some(url) => {
            let answer = async {
                let response = http.get(url).bearer_auth(&tokens.access_token).send().await.ok()?;
                if !response.status().is_success() {
                    return None;
                }
                let content_type = response
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                Some((content_type, response.bytes().await.ok()?))
            }
            .await;
            match answer {
                Some((content_type, body)) => rp::userinfo_claims(
                    &resolved.provider,
                    &resolved.registration,
                    &resolved.decryption,
                    &identity.sub,
                    &content_type,
                    &body,
                )
                .map_err(|e| {
                    tracing::info!(provider = name, error = %e, "upstream userinfo refused");
                    refusal_of(&e)
                }),
                None => {
                    tracing::warn!(provider = name, "upstream userinfo request failed");
                    Err(UpstreamRefusal::Userinfo)
                }
            }
        }
        None => Ok(identity.claims.clone()),
    };
    log(
        app,
        name,
        FederationRecordKind::Userinfo,
        Some(&state_hash),
        Some(&identity.sub),
        claims.as_ref().map_or_else(|r| r.as_str(), |_| "success"),
    )
    .await?;
    let claims = claims.map_err(RefusalOr::Refused)?;
    let tax_code = rp::fiscal_number(&claims).map_err(|_| RefusalOr::Refused(UpstreamRefusal::FiscalNumberInvalid))?;
    let acr = identity
        .acr
        .clone()
        .unwrap_or_else(|| provider.acr_min.uri().to_owned());
    let issuer = resolved.provider.issuer.clone();
    // Which account.
    let mut tx = app.store.begin_read().await?;
    let linked = tx.upstream_identity(&issuer, &identity.sub).await?;
    let (accounts, already_linked) = match linked {
        Some(link) => {
            let account = tx.account_by_id(link.account_id).await?;
            tx.commit().await?;
            let Some(account) = account else {
                return Err(RefusalOr::Refused(UpstreamRefusal::NoAccount));
            };
            if account.tax_code.as_str() != tax_code.as_str() {
                refuse(app, name, UpstreamRefusal::TaxCodeMismatch, Some(&account), ctx).await?;
                return Ok(Finished::Refused(Refusal {
                    reason: UpstreamRefusal::TaxCodeMismatch,
                    school: None,
                }));
            }
            (vec![account], true)
        }
        None => {
            let accounts = tx.accounts_by_tax_code(tax_code.as_str()).await?;
            tx.commit().await?;
            (accounts, false)
        }
    };
    // Several accounts: those this sign-in could not open (disabled, or
    // kept from SPID/CIE by their login policy) are not offered. When none
    // is left the first is refused as a single account would be.
    let accounts = if accounts.len() > 1 {
        let (open, closed): (Vec<_>, Vec<_>) = accounts.into_iter().partition(|a| refusal_for(app, a).is_none());
        if open.is_empty() {
            closed.into_iter().take(1).collect()
        } else {
            open
        }
    } else {
        accounts
    };
    match accounts.len() {
        0 => Err(RefusalOr::Refused(UpstreamRefusal::NoAccount)),
        1 => {
            let account = accounts.into_iter().next().expect("one");
            sign_in(
                app,
                &provider,
                &issuer,
                &identity.sub,
                &acr,
                &tokens.access_token,
                account,
                !already_linked,
                ctx,
            )
            .await
            .map_err(RefusalOr::Error)
        }
        _ => {
            let handle = SecretToken::generate(&mut OsRng);
            let sealed = seal(
                app,
                &ChoicePayload {
                    provider: provider.name.clone(),
                    issuer,
                    subject: identity.sub.clone(),
                    acr,
                    accounts: accounts.iter().map(|a| a.id.0).collect(),
                    access_token: tokens.access_token.clone(),
                },
            )?;
            let now = app.now();
            let mut tx = app.store.begin().await?;
            tx.insert_upstream_login(&NewUpstreamLogin {
                handle_hash: handle.hash().as_str(),
                stage: UpstreamLoginStage::Choice,
                provider: &provider.name,
                binding_hash: &row.binding_hash,
                sealed: &sealed,
                now,
                expires_at: now.plus_secs(app.settings.upstream.pending_secs),
            })
            .await?;
            tx.commit().await?;
            Ok(Finished::Choose {
                handle: handle.as_str().to_owned(),
                options: accounts
                    .iter()
                    .map(|a| SchoolOption {
                        school_name: a.school_name.clone(),
                        school_code: a.school_code.clone(),
                        kind: a.kind,
                    })
                    .collect(),
            })
        }
    }
}

/// The person's choice among the schools [`finish`] offered: `index` into
/// its options, with the choice's `handle`, in the same browser.
pub async fn choose(
    app: &App,
    handle: &str,
    index: usize,
    binding: Option<&str>,
    ctx: &RequestContext,
) -> Result<Finished, AppError> {
    let mut provider_name = String::from("unknown");
    let outcome = async {
        let row = take_pending(app, handle, UpstreamLoginStage::Choice, binding)
            .await
            .map_err(|e| match e {
                RefusalOr::Refused(_) => RefusalOr::Refused(UpstreamRefusal::BadChoice),
                other => other,
            })?;
        provider_name.clone_from(&row.provider);
        let payload: ChoicePayload = unseal(app, &row.sealed).ok_or(RefusalOr::Refused(UpstreamRefusal::BadChoice))?;
        let provider = app
            .settings
            .upstream
            .provider(&payload.provider)
            .ok_or(RefusalOr::Refused(UpstreamRefusal::ProviderUnavailable))?
            .clone();
        let id = payload
            .accounts
            .get(index)
            .ok_or(RefusalOr::Refused(UpstreamRefusal::BadChoice))?;
        let mut tx = app.store.begin_read().await?;
        let account = tx.account_by_id(AccountId(*id)).await?;
        tx.commit().await?;
        let account = account.ok_or(RefusalOr::Refused(UpstreamRefusal::BadChoice))?;
        sign_in(
            app,
            &provider,
            &payload.issuer,
            &payload.subject,
            &payload.acr,
            &payload.access_token,
            account,
            true,
            ctx,
        )
        .await
        .map_err(RefusalOr::Error)
    }
    .await;
    settle(app, outcome, &provider_name, ctx).await
}

fn contacts(account: &AccountRecord, school: Option<varco_store::SchoolRecord>) -> SchoolContacts {
    SchoolContacts {
        name: account.school_name.clone(),
        email: school.as_ref().and_then(|s| s.helpdesk_email.clone()),
        phone: school.as_ref().and_then(|s| s.helpdesk_phone.clone()),
        hours: school.and_then(|s| s.helpdesk_hours),
    }
}

/// Why a SPID/CIE sign-in may not open `account`, if it may not. An account
/// not activated yet (no password chosen: the usual state of a
/// SPID/CIE-only account) may sign in; a disabled one may not, nor one whose
/// login policy leaves SPID/CIE out.
fn refusal_for(app: &App, account: &AccountRecord) -> Option<UpstreamRefusal> {
    if account.status == AccountStatus::Disabled {
        Some(UpstreamRefusal::AccountNotActive)
    } else if !app.settings.login.of(account.kind, &account.school_code).spid_cie {
        Some(UpstreamRefusal::MethodNotAllowed)
    } else {
        None
    }
}

/// Signs in to `account` (linking the identity when `link`), after the
/// account's own checks: not disabled, and allowed to use SPID/CIE.
#[allow(clippy::too_many_arguments)]
async fn sign_in(
    app: &App,
    provider: &UpstreamProvider,
    issuer: &str,
    subject: &str,
    acr: &str,
    access_token: &str,
    account: AccountRecord,
    link: bool,
    ctx: &RequestContext,
) -> Result<Finished, AppError> {
    let now = app.now();
    if let Some(reason) = refusal_for(app, &account) {
        refuse(app, &provider.name, reason, Some(&account), ctx).await?;
        let mut tx = app.store.begin_read().await?;
        let school = tx.school_by_id(account.school_id).await?;
        tx.commit().await?;
        return Ok(Finished::Refused(Refusal {
            reason,
            school: Some(contacts(&account, school)),
        }));
    }
    let sealed_token = app
        .settings
        .provider
        .kek
        .seal(ACCESS_TOKEN_SEAL_LABEL, access_token.as_bytes())
        .map_err(|e| AppError::internal_because("upstream seal", e))?;
    let how = SignedInWith {
        acr: acr.to_owned(),
        amr: vec![provider.kind.amr().to_owned()],
        upstream_provider: Some(provider.name.clone()),
        upstream_token_sealed: Some(sealed_token),
    };
    let mut tx = app.store.begin().await?;
    if link {
        link_identity(&mut tx, provider, issuer, subject, &account, now).await?;
    } else {
        tx.touch_upstream_identity(issuer, subject, now).await?;
    }
    // An account not activated yet becomes active: its owner just proved who
    // they are at SPID level 2 or more, which is what activation stands for
    // (and a SPID/CIE-only account has no other way to become active).
    if account.status == AccountStatus::PendingActivation {
        tx.set_account_status(account.id, AccountStatus::Active, now.0).await?;
    }
    let session = create_session(&mut tx, app, account.id, false, &how, ctx).await?;
    if let Some(lang) = ctx.lang {
        tx.set_account_lang(account.id, lang).await?;
    }
    audit::record(
        &mut tx,
        now,
        &Actor::Account {
            id: account.id,
            user_code: account.user_code.to_string(),
        },
        ctx,
        (&account).into(),
        AuditEvent::UpstreamLogin {
            provider: provider.name.clone(),
            linked: link,
            refusal: None,
        },
    )
    .await?;
    tx.commit().await?;
    // The first SPID/CIE sign-in brings the PIN or personal code of an
    // account that has none (signed in whatever happens here).
    let actor = Actor::Account {
        id: account.id,
        user_code: account.user_code.to_string(),
    };
    if let Err(e) = crate::second_secret::ensure_issued(app, account.id, &actor, ctx).await {
        tracing::warn!(error = %crate::error_chain(&e), "second secret not issued at the SPID/CIE sign-in");
    }
    let roles = {
        let mut tx = app.store.begin_read().await?;
        let roles = tx.roles_of(account.id).await?;
        tx.commit().await?;
        roles
    };
    Ok(Finished::SignedIn {
        session,
        account: Box::new(view(app, &account, &roles)),
    })
}

async fn link_identity(
    tx: &mut Tx,
    provider: &UpstreamProvider,
    issuer: &str,
    subject: &str,
    account: &AccountRecord,
    now: varco_domain::clock::Timestamp,
) -> Result<(), AppError> {
    tx.link_upstream_identity(&NewUpstreamIdentity {
        issuer,
        subject,
        account_id: account.id,
        provider: &provider.label,
        now,
    })
    .await?;
    tx.touch_upstream_identity(issuer, subject, now).await?;
    Ok(())
}

/// Removes the pending sign-ins and school choices past their lifetime
/// (called periodically by the server; a new sign-in also sweeps them).
/// Returns how many.
pub async fn purge_expired(app: &App) -> Result<u64, AppError> {
    let mut tx = app.store.begin().await?;
    let n = tx.delete_expired_upstream_logins(app.now()).await?;
    tx.commit().await?;
    Ok(n)
}

/// Which kind of button a provider sits behind, for pages.
pub fn kind_of(app: &App, provider_name: &str) -> Option<UpstreamKind> {
    app.settings.upstream.provider(provider_name).map(|p| p.kind)
}
