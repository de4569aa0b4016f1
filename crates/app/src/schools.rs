//! Schools: adding and listing them, and their helpdesk contacts.

use crate::lookup::find_school;
use crate::registration::add_in;
pub use crate::registration::{AddSchool, School};
use crate::{Actor, App, AppError, RequestContext};

pub async fn add(app: &App, actor: &Actor, ctx: &RequestContext, input: &AddSchool) -> Result<School, AppError> {
    let mut tx = app.store.begin().await?;
    let school = add_in(&mut tx, app, actor, ctx, input).await?;
    tx.commit().await?;
    Ok(school)
}

pub async fn list(app: &App) -> Result<Vec<School>, AppError> {
    let mut tx = app.store.begin_read().await?;
    let schools = tx.list_schools().await?;
    tx.commit().await?;
    Ok(schools.into_iter().map(School::from).collect())
}

pub async fn find(app: &App, code: &str) -> Result<School, AppError> {
    let mut tx = app.store.begin_read().await?;
    let school = find_school(&mut tx, code).await?;
    tx.commit().await?;
    Ok(school.into())
}

/// Most schools a search by name or town lists.
pub const SEARCH_LIMIT: usize = 20;

/// Shortest and longest piece of a name or town one may search for.
const SEARCH_CHARS: std::ops::RangeInclusive<usize> = 2..=100;

/// What a search by name or town found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolSearch {
    /// By name, at most [`SEARCH_LIMIT`].
    pub schools: Vec<School>,
    /// More schools match than are listed: a longer piece of the name narrows it.
    pub more: bool,
}

/// Schools whose name or town contains `fragment`, ignoring case (so parents
/// who do not know the codice meccanografico can find their school's
/// helpdesk); by name. The fragment is matched literally (`%` and `_` too).
/// A fragment shorter than 2 characters, longer than 100 or with control
/// characters is [`AppError::Invalid`].
pub async fn search_by_name(app: &App, fragment: &str) -> Result<SchoolSearch, AppError> {
    let fragment = fragment.trim();
    let chars = fragment.chars().count();
    if !SEARCH_CHARS.contains(&chars) || fragment.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "school_name",
            format!(
                "must be {} to {} characters, without control characters",
                SEARCH_CHARS.start(),
                SEARCH_CHARS.end()
            ),
        ));
    }
    let mut tx = app.store.begin_read().await?;
    // One more than shown tells whether there are more.
    let mut found = tx.search_schools(fragment, SEARCH_LIMIT as i64 + 1).await?;
    tx.commit().await?;
    let more = found.len() > SEARCH_LIMIT;
    found.truncate(SEARCH_LIMIT);
    Ok(SchoolSearch {
        schools: found.into_iter().map(School::from).collect(),
        more,
    })
}
