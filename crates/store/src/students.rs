//! Students (alunni) of a school and their guardians: the family accounts
//! linked to them, each link with the time it was made.
//!
//! A student is unique by tax code within a school, like an account. Its
//! `public_id` is drawn once at insertion and never changes; it is the
//! input of the pseudonymous ids the `students` claim gives each client.
//! Guardianship is a many-to-many link (a student may have several
//! guardians, a guardian several students); linking twice is a no-op and
//! unlinking what is not linked reports false.

use std::collections::HashMap;

use sqlx::Row;
use sqlx::any::AnyRow;
use varco_domain::clock::Timestamp;
use varco_domain::ids::StudentId;
use varco_domain::{AccountId, SchoolId, SchoolOrder, TaxCode};

use crate::accounts::{account_columns, from_row as account_from_row};
use crate::{AccountRecord, StoreError, Tx};

/// A student as stored, with the code and name of their school joined in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudentRecord {
    /// Row id.
    pub id: StudentId,
    /// The random, stable opaque id (input of the claim's pseudonymous ids).
    pub public_id: String,
    /// Row id of the student's school.
    pub school_id: SchoolId,
    /// That school's code (codice meccanografico).
    pub school_code: String,
    /// That school's name.
    pub school_name: String,
    /// Codice fiscale, unique within the school.
    pub tax_code: TaxCode,
    /// Given name(s), as imported.
    pub first_name: String,
    /// Family name(s), as imported.
    pub last_name: String,
    /// The order of school attended.
    pub school_order: SchoolOrder,
    /// The class, e.g. `3B`.
    pub class_name: String,
    /// The building (plesso), if the roster gives one.
    pub building: Option<String>,
    /// When the row was inserted.
    pub created_at: Timestamp,
    /// When a roster last changed its fields.
    pub updated_at: Timestamp,
}

/// A student to insert (see [`Tx::insert_student`]).
#[derive(Debug, Clone)]
pub struct NewStudent<'a> {
    /// The random opaque id (unique).
    pub public_id: &'a str,
    /// Row id of the school.
    pub school_id: SchoolId,
    /// Codice fiscale (unique within the school).
    pub tax_code: &'a str,
    /// Given name(s).
    pub first_name: &'a str,
    /// Family name(s).
    pub last_name: &'a str,
    /// The order of school attended.
    pub school_order: SchoolOrder,
    /// The class.
    pub class_name: &'a str,
    /// The building, if any.
    pub building: Option<&'a str>,
    /// Unix seconds, stored as `created_at` and `updated_at`.
    pub now: i64,
}

/// The fields a students roster may change on an existing student.
#[derive(Debug, Clone)]
pub struct StudentUpdate<'a> {
    /// Row id of the student.
    pub id: StudentId,
    /// Given name(s).
    pub first_name: &'a str,
    /// Family name(s).
    pub last_name: &'a str,
    /// The order of school attended.
    pub school_order: SchoolOrder,
    /// The class.
    pub class_name: &'a str,
    /// The building, if any.
    pub building: Option<&'a str>,
    /// Unix seconds, stored as `updated_at` when something changed.
    pub now: i64,
}

/// A student seen from one guardian: the student and when the link was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedStudent {
    /// The student.
    pub student: StudentRecord,
    /// When the guardian was linked to them.
    pub linked_at: Timestamp,
}

/// One guardian link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardianLink {
    /// The student.
    pub student_id: StudentId,
    /// The guardian's (family) account.
    pub account_id: AccountId,
    /// When it was made.
    pub created_at: Timestamp,
}

/// What a student search looks for, within some schools.
#[derive(Debug, Clone, Default)]
pub struct StudentSearch<'a> {
    /// Only these schools (`None`: every school, for an admin).
    pub school_ids: Option<&'a [SchoolId]>,
    /// An exact tax code (upper case).
    pub tax_code: Option<&'a str>,
    /// Words found anywhere in "first last" or "last first" (lower case, no
    /// `%` or `_`).
    pub name: Option<&'a str>,
    /// Most rows returned.
    pub limit: i64,
}

const COLUMNS: &str = "st.id, st.public_id, st.school_id, s.code AS school_code, s.name AS school_name, \
     st.tax_code, st.first_name, st.last_name, st.school_order, st.class_name, st.building, \
     st.created_at, st.updated_at";

const FROM: &str = "FROM students st JOIN schools s ON s.id = st.school_id";

fn from_row(row: &AnyRow) -> Result<StudentRecord, StoreError> {
    let tax_code: String = row.try_get("tax_code")?;
    let school_order: String = row.try_get("school_order")?;
    Ok(StudentRecord {
        id: StudentId(row.try_get("id")?),
        public_id: row.try_get("public_id")?,
        school_id: SchoolId(row.try_get("school_id")?),
        school_code: row.try_get("school_code")?,
        school_name: row.try_get("school_name")?,
        tax_code: TaxCode::parse(&tax_code).map_err(|e| StoreError::Corrupt(format!("student tax code: {e}")))?,
        first_name: row.try_get("first_name")?,
        last_name: row.try_get("last_name")?,
        school_order: SchoolOrder::parse(&school_order)
            .ok_or_else(|| StoreError::Corrupt(format!("school order {school_order:?}")))?,
        class_name: row.try_get("class_name")?,
        building: row.try_get("building")?,
        created_at: Timestamp(row.try_get("created_at")?),
        updated_at: Timestamp(row.try_get("updated_at")?),
    })
}

/// ` AND <column> IN (…)` for row ids (integers from the database, written
/// into the statement: they cannot inject); `None` when the list is empty.
fn in_list(column: &str, ids: impl IntoIterator<Item = i64>) -> Option<String> {
    let ids: Vec<String> = ids.into_iter().map(|id| id.to_string()).collect();
    (!ids.is_empty()).then(|| format!(" AND {column} IN ({})", ids.join(", ")))
}

impl Tx {
    /// Inserts a student; a tax code the school already has, or a taken
    /// `public_id`, is [`StoreError::Conflict`].
    pub async fn insert_student(&mut self, s: &NewStudent<'_>) -> Result<StudentId, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO students (public_id, school_id, tax_code, first_name, last_name, school_order, \
             class_name, building, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
             RETURNING id",
        )
        .bind(s.public_id)
        .bind(s.school_id.0)
        .bind(s.tax_code)
        .bind(s.first_name)
        .bind(s.last_name)
        .bind(s.school_order.as_str())
        .bind(s.class_name)
        .bind(s.building)
        .bind(s.now)
        .fetch_one(self.conn())
        .await?;
        Ok(StudentId(id))
    }

    /// Applies a roster row to a student; returns whether anything changed.
    pub async fn update_student(&mut self, u: &StudentUpdate<'_>) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE students SET first_name = $2, last_name = $3, school_order = $4, class_name = $5, \
             building = $6, updated_at = $7 WHERE id = $1 AND (first_name <> $2 OR last_name <> $3 \
             OR school_order <> $4 OR class_name <> $5 OR COALESCE(building, '') <> COALESCE($6, ''))",
        )
        .bind(u.id.0)
        .bind(u.first_name)
        .bind(u.last_name)
        .bind(u.school_order.as_str())
        .bind(u.class_name)
        .bind(u.building)
        .bind(u.now)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// One student by row id.
    pub async fn student_by_id(&mut self, id: StudentId) -> Result<Option<StudentRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} {FROM} WHERE st.id = $1"))
            .bind(id.0)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Every student of a school, by family name, given name and id.
    pub async fn students_of_school(&mut self, school_id: SchoolId) -> Result<Vec<StudentRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} {FROM} WHERE st.school_id = $1 ORDER BY st.last_name, st.first_name, st.id"
        ))
        .bind(school_id.0)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The students matching a search, by family name, given name and id.
    pub async fn search_students(&mut self, search: &StudentSearch<'_>) -> Result<Vec<StudentRecord>, StoreError> {
        let schools = match search.school_ids {
            None => String::new(),
            Some(ids) => match in_list("st.school_id", ids.iter().map(|s| s.0)) {
                Some(clause) => clause,
                None => return Ok(Vec::new()),
            },
        };
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} {FROM} WHERE (st.tax_code = $1 \
             OR lower(st.first_name || ' ' || st.last_name) LIKE $2 \
             OR lower(st.last_name || ' ' || st.first_name) LIKE $2){schools} \
             ORDER BY st.last_name, st.first_name, st.id LIMIT $3"
        ))
        .bind(search.tax_code)
        .bind(search.name.map(|n| format!("%{n}%")))
        .bind(search.limit)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The family accounts of a school by tax code, with their user codes
    /// (the guardians a students roster may name).
    pub async fn family_accounts_by_tax_code(
        &mut self,
        school_id: SchoolId,
    ) -> Result<HashMap<String, (AccountId, String)>, StoreError> {
        let rows = sqlx::query("SELECT tax_code, id, user_code FROM accounts WHERE school_id = $1 AND kind = 'family'")
            .bind(school_id.0)
            .fetch_all(self.conn())
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<String, _>("tax_code")?,
                    (AccountId(r.try_get("id")?), r.try_get::<String, _>("user_code")?),
                ))
            })
            .collect()
    }

    /// Every guardian link of the students of a school.
    pub async fn guardian_links_of_school(&mut self, school_id: SchoolId) -> Result<Vec<GuardianLink>, StoreError> {
        let rows = sqlx::query(
            "SELECT g.student_id, g.account_id, g.created_at FROM student_guardians g \
             JOIN students st ON st.id = g.student_id WHERE st.school_id = $1 ORDER BY g.student_id, g.account_id",
        )
        .bind(school_id.0)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(GuardianLink {
                    student_id: StudentId(r.try_get("student_id")?),
                    account_id: AccountId(r.try_get("account_id")?),
                    created_at: Timestamp(r.try_get("created_at")?),
                })
            })
            .collect()
    }

    /// Links a guardian to a student; false when they already were.
    pub async fn link_guardian(
        &mut self,
        student_id: StudentId,
        account_id: AccountId,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO student_guardians (student_id, account_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (student_id, account_id) DO NOTHING",
        )
        .bind(student_id.0)
        .bind(account_id.0)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Unlinks a guardian from a student; false when they were not linked.
    pub async fn unlink_guardian(&mut self, student_id: StudentId, account_id: AccountId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM student_guardians WHERE student_id = $1 AND account_id = $2")
            .bind(student_id.0)
            .bind(account_id.0)
            .execute(self.conn())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The students a guardian is linked to, by family name, given name and id.
    pub async fn students_of_guardian(&mut self, account_id: AccountId) -> Result<Vec<LinkedStudent>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS}, g.created_at AS linked_at {FROM} JOIN student_guardians g ON g.student_id = st.id \
             WHERE g.account_id = $1 ORDER BY st.last_name, st.first_name, st.id"
        ))
        .bind(account_id.0)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(LinkedStudent {
                    student: from_row(row)?,
                    linked_at: Timestamp(row.try_get("linked_at")?),
                })
            })
            .collect()
    }

    /// The guardians of each of `students`, as (student, account) pairs,
    /// by student and the guardian's family and given names.
    pub async fn guardians_of_students(
        &mut self,
        students: &[StudentId],
    ) -> Result<Vec<(StudentId, AccountRecord)>, StoreError> {
        let Some(students) = in_list("g.student_id", students.iter().map(|s| s.0)) else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(&format!(
            "SELECT {}, g.student_id AS guarded_student_id FROM student_guardians g \
             JOIN accounts a ON a.id = g.account_id JOIN schools s ON s.id = a.school_id \
             WHERE 1 = 1{students} ORDER BY g.student_id, a.last_name, a.first_name, a.id",
            account_columns!()
        ))
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|row| Ok((StudentId(row.try_get("guarded_student_id")?), account_from_row(row)?)))
            .collect()
    }

    /// How many students a school has (tests: nothing stored after a refusal).
    pub async fn count_students(&mut self, school_id: SchoolId) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM students WHERE school_id = $1")
            .bind(school_id.0)
            .fetch_one(self.conn())
            .await?)
    }
}
