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
