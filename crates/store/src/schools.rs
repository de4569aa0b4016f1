//! Schools (istituti), keyed by their codice meccanografico.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{StoreError, Tx};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolRecord {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub email: Option<String>,
    pub helpdesk_email: Option<String>,
    pub helpdesk_phone: Option<String>,
    pub helpdesk_hours: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewSchool<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub helpdesk_email: Option<&'a str>,
    pub helpdesk_phone: Option<&'a str>,
    pub helpdesk_hours: Option<&'a str>,
    pub created_at: i64,
}

const COLUMNS: &str = "id, code, name, email, helpdesk_email, helpdesk_phone, helpdesk_hours, created_at";

fn from_row(row: &AnyRow) -> Result<SchoolRecord, sqlx::Error> {
    Ok(SchoolRecord {
        id: row.try_get("id")?,
        code: row.try_get("code")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        helpdesk_email: row.try_get("helpdesk_email")?,
        helpdesk_phone: row.try_get("helpdesk_phone")?,
        helpdesk_hours: row.try_get("helpdesk_hours")?,
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
    pub async fn insert_school(&mut self, school: &NewSchool<'_>) -> Result<SchoolRecord, StoreError> {
        let row = sqlx::query(&format!(
            "INSERT INTO schools (code, name, email, helpdesk_email, helpdesk_phone, helpdesk_hours, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
        ))
        .bind(school.code)
        .bind(school.name)
        .bind(school.email)
        .bind(school.helpdesk_email)
        .bind(school.helpdesk_phone)
        .bind(school.helpdesk_hours)
        .bind(school.created_at)
        .fetch_one(self.conn())
        .await?;
        Ok(from_row(&row)?)
    }

    pub async fn school_by_code(&mut self, code: &str) -> Result<Option<SchoolRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM schools WHERE code = $1"))
            .bind(code)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    pub async fn school_by_id(&mut self, id: i64) -> Result<Option<SchoolRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM schools WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    /// Schools whose name contains `fragment`, ignoring case, by name; at
    /// most `limit`. The fragment is matched literally (`%`, `_` and `\`
    /// are escaped) and bound as a parameter. SQLite lower-cases ASCII
    /// letters only, so accented capitals match only as written.
    pub async fn search_schools_by_name(
        &mut self,
        fragment: &str,
        limit: i64,
    ) -> Result<Vec<SchoolRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM schools WHERE LOWER(name) LIKE $1 ESCAPE '\\' ORDER BY name, code LIMIT $2"
        ))
        .bind(like_pattern(fragment))
        .bind(limit)
        .fetch_all(self.conn())
        .await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

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
