//! `/login/upstream/...`: signing in with SPID or CIE through an upstream
//! provider (see `varco_app::upstream`). No JavaScript: the buttons are
//! links, the school choice is a form per school.
//!
//! Every request to the start, the callback and the choice takes a cell of
//! the per-address `upstream_limiter`; a callback or choice that goes
//! forward gives it back (failures count, as for passwords), a start never
//! does (each one stores a pending sign-in and may fetch the provider's
//! metadata). Past `rate_limits.upstream_per_minute` the answer is a 429
//! page.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use varco_app::AppError;
use varco_app::upstream::{Finished, Refusal};
use varco_app::upstream_rp::UpstreamKind;
use varco_domain::AccountKind;

use crate::WebState;
use crate::extract::{AnonymousForm, Page};
use crate::problem::{PageError, WebError};
use crate::ratelimit::Attempt;
use crate::session::{Ctx, clear_upstream_cookie, cookie_value, session_cookie, upstream_cookie, upstream_cookie_name};

/// A provider as the pages show it.
#[derive(Debug, Serialize)]
struct Shown {
    name: String,
    label: String,
}

/// What the sign-in page shows above the password form.
#[derive(Debug, Serialize)]
pub(crate) struct Buttons {
    spid: bool,
    cie: Vec<Shown>,
}

/// The SPID/CIE buttons of the sign-in page (none when no provider is configured).
pub(crate) fn buttons(state: &WebState) -> Buttons {
    let upstream = &state.app.settings.upstream;
    Buttons {
        spid: upstream.of_kind(UpstreamKind::Spid).next().is_some(),
        cie: upstream
            .of_kind(UpstreamKind::Cie)
            .map(|p| Shown {
                name: p.name.clone(),
                label: p.label.clone(),
            })
            .collect(),
    }
}

/// `GET /login/upstream/spid`: the configured SPID providers.
pub async fn spid_list(State(state): State<WebState>, page: Page) -> Result<Response, PageError> {
    let providers: Vec<Shown> = state
        .app
        .settings
        .upstream
        .of_kind(UpstreamKind::Spid)
        .map(|p| Shown {
            name: p.name.clone(),
            label: p.label.clone(),
        })
        .collect();
    page.render(
        &state,
        "upstream_spid.html",
        minijinja::context! { providers => providers },
    )
}

/// The 429 page, when the address has no cell of its SPID/CIE budget left.
fn throttled_page(state: &WebState, page: &Page, seconds: u64) -> Result<Response, PageError> {
    let mut response = page.render_status(
        state,
        StatusCode::TOO_MANY_REQUESTS,
        "upstream_refused.html",
        minijinja::context! {
            reason => "throttled",
            message => state.i18n.text(page.lang, "upstream-throttled", &[("seconds", seconds.into())]),
            school => None::<School>,
        },
    )?;
    response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
    Ok(response)
}

/// Gives the cell back when the return went forward (signed in, or the
/// school choice offered): only refusals count against the address.
fn settle(attempt: Attempt, finished: &Finished) {
    attempt.settle(matches!(finished, Finished::Refused(_)));
}

/// `GET /login/upstream/{name}`: sends the browser to the provider, with the binding cookie.
pub async fn start(
    State(state): State<WebState>,
    ctx: Ctx,
    page: Page,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    // Every start counts (each one stores a pending sign-in).
    let _counted = match state.upstream_limiter.attempt(ctx.ip) {
        Ok(attempt) => attempt,
        Err(seconds) => return throttled_page(&state, &page, seconds),
    };
    match varco_app::upstream::start(&state.app, &name, &ctx.request).await {
        Ok(started) => {
            let mut response = Redirect::to(&started.redirect_url).into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                upstream_cookie(&state.config, started.binding.as_str()),
            );
            Ok(response)
        }
        Err(AppError::Busy) => refused_page(
            &state,
            &page,
            &Refusal {
                reason: varco_domain::audit::UpstreamRefusal::ProviderUnavailable,
                school: None,
            },
        ),
        Err(e) => Err(PageError(WebError::App(e))),
    }
}

/// The query of the provider's redirect back.
#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /login/upstream/callback`: the provider's redirect back.
pub async fn callback(
    State(state): State<WebState>,
    headers: HeaderMap,
    ctx: Ctx,
    page: Page,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, PageError> {
    let attempt = match state.upstream_limiter.attempt(ctx.ip) {
        Ok(attempt) => attempt,
        Err(seconds) => return throttled_page(&state, &page, seconds),
    };
    let binding = cookie_value(&headers, upstream_cookie_name(&state.config));
    let callback = varco_oidc::rp::Callback {
        code: query.code,
        state: query.state,
        iss: query.iss,
        error: query.error,
        error_description: query.error_description,
    };
    let finished = varco_app::upstream::finish(&state.app, &callback, binding.as_deref(), &ctx.request)
        .await
        .map_err(|e| PageError(WebError::App(e)))?;
    settle(attempt, &finished);
    answer(&state, &page, finished)
}

/// The school choice form.
#[derive(Debug, Deserialize)]
pub struct ChoiceForm {
    handle: String,
    index: usize,
}

/// `POST /login/upstream/choose`: the school chosen.
pub async fn choose(
    State(state): State<WebState>,
    headers: HeaderMap,
    ctx: Ctx,
    page: Page,
    AnonymousForm(form): AnonymousForm<ChoiceForm>,
) -> Result<Response, PageError> {
    let attempt = match state.upstream_limiter.attempt(ctx.ip) {
        Ok(attempt) => attempt,
        Err(seconds) => return throttled_page(&state, &page, seconds),
    };
    let binding = cookie_value(&headers, upstream_cookie_name(&state.config));
    let finished = varco_app::upstream::choose(&state.app, &form.handle, form.index, binding.as_deref(), &ctx.request)
        .await
        .map_err(|e| PageError(WebError::App(e)))?;
    settle(attempt, &finished);
    answer(&state, &page, finished)
}

#[derive(Debug, Serialize)]
struct OptionShown {
    school_name: String,
    school_code: String,
    staff: bool,
}

fn answer(state: &WebState, page: &Page, finished: Finished) -> Result<Response, PageError> {
    match finished {
        Finished::SignedIn { session, .. } => {
            let mut response = Redirect::to("/account").into_response();
            let headers = response.headers_mut();
            headers.append(
                header::SET_COOKIE,
                session_cookie(&state.config, session.token.as_str()),
            );
            headers.append(header::SET_COOKIE, clear_upstream_cookie(&state.config));
            Ok(response)
        }
        Finished::Choose { handle, options } => {
            let options: Vec<OptionShown> = options
                .into_iter()
                .map(|o| OptionShown {
                    school_name: o.school_name,
                    school_code: o.school_code,
                    staff: o.kind == AccountKind::Staff,
                })
                .collect();
            page.render(
                state,
                "upstream_choose.html",
                minijinja::context! { handle => handle, options => options },
            )
        }
        Finished::Refused(refusal) => {
            let mut response = refused_page(state, page, &refusal)?;
            response
                .headers_mut()
                .append(header::SET_COOKIE, clear_upstream_cookie(&state.config));
            Ok(response)
        }
    }
}

#[derive(Debug, Serialize)]
struct School {
    name: String,
    email: Option<String>,
    phone: Option<String>,
    hours: Option<String>,
}

fn refused_page(state: &WebState, page: &Page, refusal: &Refusal) -> Result<Response, PageError> {
    let reason = refusal.reason.as_str();
    let status = match refusal.reason {
        varco_domain::audit::UpstreamRefusal::ProviderUnavailable => StatusCode::BAD_GATEWAY,
        varco_domain::audit::UpstreamRefusal::NoAccount => StatusCode::NOT_FOUND,
        _ => StatusCode::FORBIDDEN,
    };
    let school = refusal.school.as_ref().map(|s| School {
        name: s.name.clone(),
        email: s.email.clone(),
        phone: s.phone.clone(),
        hours: s.hours.clone(),
    });
    page.render_status(
        state,
        status,
        "upstream_refused.html",
        minijinja::context! {
            reason => reason,
            message => page.text(state, &format!("upstream-refused-{reason}")),
            school => school,
        },
    )
}
