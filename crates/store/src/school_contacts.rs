//! Changing a school's name, town and contacts (the admin console).

use varco_domain::SchoolId;

use crate::{StoreError, Tx};

/// A school's new name, town and contacts (see [`Tx::update_school`]).
#[derive(Debug, Clone)]
pub struct SchoolUpdate<'a> {
    /// The school's name.
    pub name: &'a str,
    /// The school's own address, if known.
    pub email: Option<&'a str>,
    /// Helpdesk address, if any.
    pub helpdesk_email: Option<&'a str>,
    /// Helpdesk phone number, if any.
    pub helpdesk_phone: Option<&'a str>,
    /// Helpdesk opening hours, if any.
    pub helpdesk_hours: Option<&'a str>,
    /// The town (comune), if known.
    pub town: Option<&'a str>,
}

impl Tx {
    /// Replaces the school's name, town and contacts; false when there is no such school.
    pub async fn update_school(&mut self, id: SchoolId, update: &SchoolUpdate<'_>) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE schools SET name = $2, email = $3, helpdesk_email = $4, helpdesk_phone = $5, \
             helpdesk_hours = $6, town = $7 WHERE id = $1",
        )
        .bind(id.0)
        .bind(update.name)
        .bind(update.email)
        .bind(update.helpdesk_email)
        .bind(update.helpdesk_phone)
        .bind(update.helpdesk_hours)
        .bind(update.town)
        .execute(self.conn())
        .await?;
        Ok(result.rows_affected() == 1)
    }
}
