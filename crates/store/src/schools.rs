//! Schools (istituti), keyed by their codice meccanografico.

use sqlx::Row;
use sqlx::any::AnyRow;

use varco_domain::SchoolId;

use crate::{StoreError, Tx};

/// A school as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolRecord {
    /// Row id.
    pub id: SchoolId,
    /// The codice meccanografico (unique).
    pub code: String,
    /// The school's name.
    pub name: String,
    /// The school's own address, if known.
    pub email: Option<String>,
    /// Helpdesk address shown to its accounts, if any.
    pub helpdesk_email: Option<String>,
    /// Helpdesk phone number, if any.
    pub helpdesk_phone: Option<String>,
    /// Helpdesk opening hours, as free text, if any.
    pub helpdesk_hours: Option<String>,
    /// The town (comune) the school is in, if known.
    pub town: Option<String>,
    /// When the row was inserted, unix seconds.
    pub created_at: i64,
}

/// A school to insert (see [`Tx::insert_school`]); the fields are those of [`SchoolRecord`].
#[derive(Debug, Clone)]
pub struct NewSchool<'a> {
    /// The codice meccanografico (unique).
    pub code: &'a str,
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
    /// Unix seconds.
    pub created_at: i64,
}

const COLUMNS: &str = "id, code, name, email, helpdesk_email, helpdesk_phone, helpdesk_hours, town, created_at";

fn from_row(row: &AnyRow) -> Result<SchoolRecord, sqlx::Error> {
    Ok(SchoolRecord {
        id: SchoolId(row.try_get("id")?),
        code: row.try_get("code")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        helpdesk_email: row.try_get("helpdesk_email")?,
        helpdesk_phone: row.try_get("helpdesk_phone")?,
        helpdesk_hours: row.try_get("helpdesk_hours")?,
        town: row.try_get("town")?,
        created_at: row.try_get("created_at")?,
    })
}

/// `%fragment%`, lower-cased, with LIKE's own characters escaped by `\`.
fn like_pattern(fragment: &str) -> String {
    let mut pattern = String::with_capacity(fragment.len() + 2);
    pattern.push('%');
    for c in fragment.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl Tx {
    /// Inserts a school and returns it as stored; a code already taken is [`StoreError::Conflict`].
    pub async fn insert_school(&mut self, school: &NewSchool<'_>) -> Result<SchoolRecord, StoreError> {
        let row = sqlx::query(&format!(
            "INSERT INTO schools (code, name, email, helpdesk_email, helpdesk_phone, helpdesk_hours, town, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
        ))
        .bind(school.code)
        .bind(school.name)
        .bind(school.email)
        .bind(school.helpdesk_email)
        .bind(school.helpdesk_phone)
        .bind(school.helpdesk_hours)
        .bind(school.town)
        .bind(school.created_at)
        .fetch_one(self.conn())
        .await?;
        Ok(from_row(&row)?)
    }

    /// The school with this code, or `None` (a missing row is not an error).
    pub async fn school_by_code(&mut self, code: &str) -> Result<Option<SchoolRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM schools WHERE code = $1"))
            .bind(code)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    /// The school with this row id, or `None` (a missing row is not an error).
    pub async fn school_by_id(&mut self, id: SchoolId) -> Result<Option<SchoolRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM schools WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    /// Schools whose name or town contains `fragment`, ignoring case, by name; at
    /// most `limit`. The fragment is matched literally (`%`, `_` and `\`
    /// are escaped) and bound as a parameter. SQLite lower-cases ASCII
    /// letters only, so accented capitals match only as written.
    pub async fn search_schools(&mut self, fragment: &str, limit: i64) -> Result<Vec<SchoolRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM schools WHERE LOWER(name) LIKE $1 ESCAPE '\\' OR LOWER(town) LIKE $1 ESCAPE '\\' ORDER BY name, code LIMIT $2"
        ))
        .bind(like_pattern(fragment))
        .bind(limit)
        .fetch_all(self.conn())
        .await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    /// Every school, by code.
    pub async fn list_schools(&mut self) -> Result<Vec<SchoolRecord>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM schools ORDER BY code"))
            .fetch_all(self.conn())
            .await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_patterns_are_lower_case_and_literal() {
        assert_eq!(like_pattern("Via Roma"), "%via roma%");
        assert_eq!(like_pattern("100%_a\\b"), "%100\\%\\_a\\\\b%");
    }
}
