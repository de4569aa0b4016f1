//! A guardian's students, as `/account` shows them to the signed-in
//! guardian: name, class, school order, building and school. Only the
//! students linked to the account are ever read (the link is the rule of
//! who sees whom); an account that is no guardian sees an empty list.

use varco_domain::AccountId;

pub use crate::guardianship::StudentView;
use crate::guardianship::student_view;
use crate::{App, AppError};

/// The students the account is guardian of, by family and given name.
pub async fn children(app: &App, account_id: AccountId) -> Result<Vec<StudentView>, AppError> {
    let mut tx = app.store.read().await?;
    let linked = tx.students_of_guardian(account_id).await?;
    tx.commit().await?;
    Ok(linked.iter().map(|l| student_view(&l.student)).collect())
}
