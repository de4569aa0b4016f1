//! `/help`: the national helpdesk from configuration, the signed-in user's
//! school, and a lookup of any school's contacts by code or by (part of)
//! its name or town.

use axum::extract::{Query, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::WebState;
use crate::extract::Page;
use crate::problem::PageError;
use crate::session::MaybeSession;

/// The query of the help page: a school's code, or a piece of its name to look for.
#[derive(Debug, Deserialize)]
pub struct HelpQuery {
    school: Option<String>,
    /// A piece of a school's name or town.
    school_name: Option<String>,
}

#[derive(Debug, Serialize)]
struct Contacts {
    code: Option<String>,
    name: Option<String>,
    town: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    hours: Option<String>,
}

impl From<varco_app::schools::School> for Contacts {
    fn from(s: varco_app::schools::School) -> Self {
        Contacts {
            code: Some(s.code),
            name: Some(s.name),
            town: s.town,
            email: s.helpdesk_email.or(s.email),
            phone: s.helpdesk_phone,
            hours: s.helpdesk_hours,
        }
    }
}

/// `GET /help`: the helpdesk of the school asked for (or of the signed-in account's school),
/// else the national one.
pub async fn show(
    State(state): State<WebState>,
    page: Page,
    session: MaybeSession,
    Query(query): Query<HelpQuery>,
) -> Result<Response, PageError> {
    let school_query = query.school.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let mut school_not_found = false;
    let school: Option<Contacts> = match (school_query, &session.0) {
        (Some(code), _) => match varco_app::schools::find(&state.app, code).await {
            Ok(s) => Some(s.into()),
            Err(varco_app::AppError::NotFound(_) | varco_app::AppError::Invalid { .. }) => {
                school_not_found = true;
                None
            }
            Err(e) => return Err(e.into()),
        },
        (None, Some(s)) => Some(
            varco_app::schools::find(&state.app, &s.account.school_code)
                .await?
                .into(),
        ),
        (None, None) => None,
    };
    let name_query = query.school_name.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let mut name_too_short = false;
    let found: Option<(Vec<Contacts>, bool)> = match name_query {
        Some(name) => match varco_app::schools::search_by_name(&state.app, name).await {
            Ok(search) => Some((search.schools.into_iter().map(Contacts::from).collect(), search.more)),
            Err(varco_app::AppError::Invalid { .. }) => {
                name_too_short = true;
                None
            }
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let (found, found_more) = match found {
        Some((schools, more)) => (Some(schools), more),
        None => (None, false),
    };
    let national = &state.config.national_helpdesk;
    // An unconfigured national helpdesk is not shown at all.
    let national_shown = national.email.is_some() || national.phone.is_some() || national.hours.is_some();
    page.render(
        &state,
        "help.html",
        minijinja::context! {
            school => school,
            national => national_shown.then_some(national),
            school_not_found => school_not_found,
            school_query => school_query.unwrap_or(""),
            name_query => name_query.unwrap_or(""),
            name_too_short => name_too_short,
            found => found,
            found_more => found_more,
        },
    )
}
