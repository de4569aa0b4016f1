//! Email-change requests filed without signing in: one row per request,
//! queued for the school's desk. The identity document is a file (its random
//! name is `document_file`, emptied once retention deleted it). A decision is
//! a conditional UPDATE on a `received` row: a second decision changes
//! nothing and reports false.

use sqlx::Row;
use sqlx::any::AnyRow;

use varco_domain::{AccountId, SchoolId};

use crate::accounts::{account_columns, from_row as account_from_row};
use crate::{AccountRecord, StoreError, Tx};

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    /// Waiting for the desk.
    Received,
    /// Approved: a confirmation link went to the new address.
    Approved,
    /// Rejected, with a reason.
    Rejected,
}

impl RequestStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Received => "received",
            RequestStatus::Approved => "approved",
            RequestStatus::Rejected => "rejected",
        }
    }

    /// The status of a stored spelling.
    pub fn parse(text: &str) -> Option<RequestStatus> {
        match text {
            "received" => Some(RequestStatus::Received),
            "approved" => Some(RequestStatus::Approved),
            "rejected" => Some(RequestStatus::Rejected),
            _ => None,
        }
    }
}

/// A request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// Row id.
    pub id: i64,
    /// The number people read, e.g. `R-2026-7KQ2M9`.
    pub number: String,
    /// The school the request is for.
    pub school_id: SchoolId,
    /// That school's code.
    pub school_code: String,
    /// That school's name.
    pub school_name: String,
    /// That school's own address, if known.
    pub school_email: Option<String>,
    /// The student's given name.
    pub student_first_name: String,
    /// The student's family name.
    pub student_last_name: String,
    /// `infanzia`, `primaria`, `secondaria_primo`, `secondaria_secondo`.
    pub school_order: String,
    /// The class, as typed.
    pub class_name: String,
    /// The building (plesso), as typed.
    pub building: String,
    /// The requester's given name.
    pub requester_first_name: String,
    /// The requester's family name.
    pub requester_last_name: String,
    /// The requester's tax code (emptied by retention).
    pub requester_tax_code: String,
    /// The address asked for.
    pub new_email: String,
    /// The requester's phone (emptied by retention).
    pub phone: String,
    /// The language the request was filed in.
    pub lang: String,
    /// The document's random file name, until retention deletes it.
    pub document_file: Option<String>,
    /// `pdf`, `jpeg` or `png`.
    pub document_type: String,
    /// The document's size in bytes (plaintext).
    pub document_size: i64,
    /// When retention deleted the document.
    pub document_deleted_at: Option<i64>,
    /// Where it stands.
    pub status: RequestStatus,
    /// The reason of a rejection.
    pub reason: Option<String>,
    /// When it was decided.
    pub decided_at: Option<i64>,
    /// Who decided.
    pub decided_by: Option<AccountId>,
    /// The account an approval applies to.
    pub account_id: Option<AccountId>,
    /// The email change an approval started.
    pub email_change_id: Option<i64>,
    /// When it was filed, unix seconds.
    pub created_at: i64,
}

/// A request to insert (see [`Tx::insert_request`]).
#[derive(Debug, Clone)]
pub struct NewRequest<'a> {
    /// As [`RequestRecord`]`::number`.
    pub number: &'a str,
    /// `status_token_hash` (see [`RequestRecord`]; the token stored hashed).
    pub status_token_hash: &'a str,
    /// As [`RequestRecord`]`::school_id`.
    pub school_id: SchoolId,
    /// As [`RequestRecord`]`::student_first_name`.
    pub student_first_name: &'a str,
    /// As [`RequestRecord`]`::student_last_name`.
    pub student_last_name: &'a str,
    /// As [`RequestRecord`]`::school_order`.
    pub school_order: &'a str,
    /// As [`RequestRecord`]`::class_name`.
    pub class_name: &'a str,
    /// As [`RequestRecord`]`::building`.
    pub building: &'a str,
    /// As [`RequestRecord`]`::requester_first_name`.
    pub requester_first_name: &'a str,
    /// As [`RequestRecord`]`::requester_last_name`.
    pub requester_last_name: &'a str,
    /// As [`RequestRecord`]`::requester_tax_code`.
    pub requester_tax_code: &'a str,
    /// As [`RequestRecord`]`::new_email`.
    pub new_email: &'a str,
    /// As [`RequestRecord`]`::phone`.
    pub phone: &'a str,
    /// As [`RequestRecord`]`::lang`.
    pub lang: &'a str,
    /// As [`RequestRecord`]`::document_file`.
    pub document_file: &'a str,
    /// As [`RequestRecord`]`::document_type`.
    pub document_type: &'a str,
    /// As [`RequestRecord`]`::document_size`.
    pub document_size: i64,
    /// Unix seconds, stored as `created_at`.
    pub now: i64,
}

const SELECT: &str = "SELECT r.id, r.number, r.school_id, s.code AS school_code, s.name AS school_name, \
     s.email AS school_email, r.student_first_name, r.student_last_name, r.school_order, r.class_name, \
     r.building, r.requester_first_name, r.requester_last_name, r.requester_tax_code, r.new_email, r.phone, \
     r.lang, r.document_file, r.document_type, r.document_size, r.document_deleted_at, r.status, r.reason, \
     r.decided_at, r.decided_by, r.account_id, r.email_change_id, r.created_at \
     FROM email_change_requests r JOIN schools s ON s.id = r.school_id";

fn from_row(row: &AnyRow) -> Result<RequestRecord, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(RequestRecord {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        school_id: SchoolId(row.try_get("school_id")?),
        school_code: row.try_get("school_code")?,
        school_name: row.try_get("school_name")?,
        school_email: row.try_get("school_email")?,
        student_first_name: row.try_get("student_first_name")?,
        student_last_name: row.try_get("student_last_name")?,
        school_order: row.try_get("school_order")?,
        class_name: row.try_get("class_name")?,
        building: row.try_get("building")?,
        requester_first_name: row.try_get("requester_first_name")?,
        requester_last_name: row.try_get("requester_last_name")?,
        requester_tax_code: row.try_get("requester_tax_code")?,
        new_email: row.try_get("new_email")?,
        phone: row.try_get("phone")?,
        lang: row.try_get("lang")?,
        document_file: row.try_get("document_file")?,
        document_type: row.try_get("document_type")?,
        document_size: row.try_get("document_size")?,
        document_deleted_at: row.try_get("document_deleted_at")?,
        status: RequestStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("request status {status:?}")))?,
        reason: row.try_get("reason")?,
        decided_at: row.try_get("decided_at")?,
        decided_by: row.try_get::<Option<i64>, _>("decided_by")?.map(AccountId),
        account_id: row.try_get::<Option<i64>, _>("account_id")?.map(AccountId),
        email_change_id: row.try_get("email_change_id")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Tx {
    /// Inserts a received request; returns its row id. A number or status
    /// token already taken is [`StoreError::Conflict`].
    pub async fn insert_request(&mut self, r: &NewRequest<'_>) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO email_change_requests (number, status_token_hash, school_id, student_first_name, \
             student_last_name, school_order, class_name, building, requester_first_name, requester_last_name, \
             requester_tax_code, new_email, phone, lang, document_file, document_type, document_size, status, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             'received', $18) RETURNING id",
        )
        .bind(r.number)
        .bind(r.status_token_hash)
        .bind(r.school_id.0)
        .bind(r.student_first_name)
        .bind(r.student_last_name)
        .bind(r.school_order)
        .bind(r.class_name)
        .bind(r.building)
        .bind(r.requester_first_name)
        .bind(r.requester_last_name)
        .bind(r.requester_tax_code)
        .bind(r.new_email)
        .bind(r.phone)
        .bind(r.lang)
        .bind(r.document_file)
        .bind(r.document_type)
        .bind(r.document_size)
        .bind(r.now)
        .fetch_one(self.conn())
        .await?)
    }

    /// One request by row id.
    pub async fn request_by_id(&mut self, id: i64) -> Result<Option<RequestRecord>, StoreError> {
        let row = sqlx::query(&format!("{SELECT} WHERE r.id = $1"))
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// One request by the hash of its status token.
    pub async fn request_by_status_token(&mut self, token_hash: &str) -> Result<Option<RequestRecord>, StoreError> {
        let row = sqlx::query(&format!("{SELECT} WHERE r.status_token_hash = $1"))
            .bind(token_hash)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The request whose approval started the email change `change_id`, if any.
    pub async fn request_by_email_change(&mut self, change_id: i64) -> Result<Option<RequestRecord>, StoreError> {
        let row = sqlx::query(&format!("{SELECT} WHERE r.email_change_id = $1"))
            .bind(change_id)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Requests of the given schools (every school when `schools` is
    /// `None`), optionally of one status, oldest first, at most `limit`.
    pub async fn list_requests(
        &mut self,
        schools: Option<&[SchoolId]>,
        status: Option<RequestStatus>,
        limit: i64,
    ) -> Result<Vec<RequestRecord>, StoreError> {
        // Row ids are integers: written into the statement, they cannot inject.
        let schools = match schools {
            None => String::new(),
            Some([]) => return Ok(Vec::new()),
            Some(ids) => format!(
                " AND r.school_id IN ({})",
                ids.iter().map(|s| s.0.to_string()).collect::<Vec<_>>().join(", ")
            ),
        };
        let rows = sqlx::query(&format!(
            "{SELECT} WHERE ($1 IS NULL OR r.status = $1){schools} ORDER BY r.id LIMIT $2"
        ))
        .bind(status.map(RequestStatus::as_str))
        .bind(limit)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Approves a received request for `account_id`, bound to the email
    /// change it started; false when it was already decided.
    pub async fn approve_request(
        &mut self,
        id: i64,
        operator: AccountId,
        account_id: AccountId,
        email_change_id: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE email_change_requests SET status = 'approved', decided_at = $1, decided_by = $2, \
             account_id = $3, email_change_id = $4 WHERE id = $5 AND status = 'received'",
        )
        .bind(now)
        .bind(operator.0)
        .bind(account_id.0)
        .bind(email_change_id)
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Rejects a received request with `reason`; false when it was already decided.
    pub async fn reject_request(
        &mut self,
        id: i64,
        operator: AccountId,
        reason: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE email_change_requests SET status = 'rejected', decided_at = $1, decided_by = $2, reason = $3 \
             WHERE id = $4 AND status = 'received'",
        )
        .bind(now)
        .bind(operator.0)
        .bind(reason)
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Decided requests whose document is still kept and whose decision
    /// is older than `decided_before`.
    pub async fn requests_due_for_retention(&mut self, decided_before: i64) -> Result<Vec<RequestRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "{SELECT} WHERE r.decided_at IS NOT NULL AND r.decided_at < $1 AND r.document_deleted_at IS NULL \
             ORDER BY r.id"
        ))
        .bind(decided_before)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Forgets the document of a request and the requester's tax code and
    /// phone; false when it was already done.
    pub async fn scrub_request(&mut self, id: i64, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE email_change_requests SET document_file = NULL, document_deleted_at = $1, \
             requester_tax_code = '', phone = '' WHERE id = $2 AND document_deleted_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// How many requests exist (tests: nothing stored after a refusal).
    pub async fn count_requests(&mut self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM email_change_requests")
            .fetch_one(self.conn())
            .await?)
    }

    /// Accounts of `school_id` that may be the one a request is about: the
    /// requester's tax code, or one of two (given, family) names, compared
    /// without case. At most 20, by id.
    pub async fn request_candidates(
        &mut self,
        school_id: SchoolId,
        tax_code: &str,
        names: [(&str, &str); 2],
    ) -> Result<Vec<AccountRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM accounts a JOIN schools s ON s.id = a.school_id WHERE a.school_id = $1 \
             AND ((a.tax_code = $2 AND $2 <> '') \
             OR (lower(a.first_name) = lower($3) AND lower(a.last_name) = lower($4)) \
             OR (lower(a.first_name) = lower($5) AND lower(a.last_name) = lower($6))) \
             ORDER BY a.id LIMIT 20",
            account_columns!()
        ))
        .bind(school_id.0)
        .bind(tax_code)
        .bind(names[0].0.trim())
        .bind(names[0].1.trim())
        .bind(names[1].0.trim())
        .bind(names[1].1.trim())
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(account_from_row).collect()
    }
}
