//! Accounts: identity fields, status, the password hash and the failed-login
//! counters that every node shares.

use std::collections::HashMap;

use sqlx::Row;
use sqlx::any::AnyRow;
use varco_domain::clock::Timestamp;
use varco_domain::lockout::LockState;
use varco_domain::{AccountId, AccountKind, AccountStatus, EmailAddress, Lang, SchoolId, TaxCode, UserCode};

use crate::{StoreError, Tx};

/// An account as stored, with the code and name of its school joined in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// Row id.
    pub id: AccountId,
    /// The code the owner signs in with.
    pub user_code: UserCode,
    /// Row id of the school the account belongs to.
    pub school_id: SchoolId,
    /// That school's code (codice meccanografico).
    pub school_code: String,
    /// That school's name.
    pub school_name: String,
    /// Staff or family.
    pub kind: AccountKind,
    /// Given name(s), as imported.
    pub first_name: String,
    /// Family name(s), as imported.
    pub last_name: String,
    /// Codice fiscale, unique within the school.
    pub tax_code: TaxCode,
    /// Contact address, used for links and notices.
    pub email: Option<EmailAddress>,
    /// Whether the owner proved they read `email` (by following a link sent to it).
    pub email_verified: bool,
    /// Optional login name (lower case, unique), as imported.
    pub username: Option<String>,
    /// Whether the account can sign in.
    pub status: AccountStatus,
    /// The PHC string of the password hash; `None` until a password is set.
    pub password_hash: Option<String>,
    /// When the password was last set (not when it was only rehashed).
    pub password_changed_at: Option<Timestamp>,
    /// Consecutive failed logins counted by the lockout policy.
    pub failed_logins: u32,
    /// Sign-in is refused until then, if set.
    pub blocked_until: Option<Timestamp>,
    /// When the last counted failed login happened.
    pub last_failed_login_at: Option<Timestamp>,
    /// When the row was inserted.
    pub created_at: Timestamp,
    /// When the account's fields last changed (the failed-login counters,
    /// the language and the verified flag do not move it).
    pub updated_at: Timestamp,
    /// The owner must change the password before doing anything else.
    pub password_change_required: bool,
    /// Preferred language for emails; `None` means Italian. A stored
    /// spelling Varco does not know reads as `None` rather than as a corrupt
    /// account: it only picks the language of an email.
    pub lang: Option<Lang>,
    /// The stable opaque subject the OpenID Connect provider gives clients
    /// (`sub`); `None` until the account first signs in to an application.
    pub subject: Option<String>,
}

/// The fields of an account to insert (see [`Tx::insert_account`]).
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    /// The new account's user code (unique).
    pub user_code: &'a str,
    /// Row id of its school.
    pub school_id: SchoolId,
    /// Staff or family.
    pub kind: AccountKind,
    /// Given name(s).
    pub first_name: &'a str,
    /// Family name(s).
    pub last_name: &'a str,
    /// Codice fiscale, unique within the school.
    pub tax_code: &'a str,
    /// Contact address, if known.
    pub email: Option<&'a str>,
    /// Login name, if any (unique).
    pub username: Option<&'a str>,
    /// Initial status.
    pub status: AccountStatus,
    /// Password hash, if one is carried over; `password_changed_at` is then `now`.
    pub password_hash: Option<&'a str>,
    /// Unix seconds, stored as `created_at` and `updated_at`.
    pub now: i64,
}

/// The fields a roster row may change on an existing account.
#[derive(Debug, Clone)]
pub struct RosterUpdate<'a> {
    /// Row id of the account to update.
    pub id: AccountId,
    /// Staff or family.
    pub kind: AccountKind,
    /// Given name(s).
    pub first_name: &'a str,
    /// Family name(s).
    pub last_name: &'a str,
    /// Contact address; a different one clears `email_verified`.
    pub email: Option<&'a str>,
    /// Unix seconds, stored as `updated_at` when something changed.
    pub now: i64,
}

/// Which accounts [`Tx::list_accounts`] returns, one page at a time.
#[derive(Debug, Clone, Default)]
pub struct AccountFilter<'a> {
    /// Only this school, if set.
    pub school_code: Option<&'a str>,
    /// Only this kind, if set.
    pub kind: Option<AccountKind>,
    /// Page size.
    pub limit: i64,
    /// Rows to skip before the page.
    pub offset: i64,
}

/// What a desk search looks for: any of these may match (each `None` is
/// left out), within `scope`.
#[derive(Debug, Clone, Default)]
pub struct AccountSearch<'a> {
    /// An exact tax code (upper case).
    pub tax_code: Option<&'a str>,
    /// An exact user code (as stored).
    pub user_code: Option<&'a str>,
    /// An exact address (compared case-insensitively).
    pub email: Option<&'a str>,
    /// Words found anywhere in "first last" or "last first" (lower case, no
    /// `%` or `_`).
    pub name: Option<&'a str>,
    /// Which accounts may be found at all.
    pub scope: SearchScope<'a>,
    /// Most rows returned.
    pub limit: i64,
}

/// Which accounts a search may find.
#[derive(Debug, Clone, Default)]
pub enum SearchScope<'a> {
    /// Every account (an admin).
    #[default]
    Everything,
    /// The accounts of these schools, and staff of any school when
    /// `staff_any_school` (a desk operator).
    Schools {
        /// The schools of the operator's desk roles.
        school_ids: &'a [SchoolId],
        /// Whether staff accounts of every school are in scope.
        staff_any_school: bool,
    },
}

/// The columns of an [`AccountRecord`], with the school joined as `s`; for
/// joins in other modules ([`crate::oidc`]), read back with [`from_row`].
macro_rules! account_columns {
    () => {
        "a.id, a.user_code, a.school_id, s.code AS school_code, s.name AS school_name, \
     a.kind, a.first_name, a.last_name, a.tax_code, a.email, a.email_verified, a.username, a.status, \
     a.password_hash, a.password_changed_at, a.failed_logins, a.blocked_until, a.last_failed_login_at, \
     a.created_at, a.updated_at, \
     a.password_change_required, a.lang, a.subject"
    };
}
pub(crate) use account_columns;

const SELECT: &str = concat!(
    "SELECT ",
    account_columns!(),
    " FROM accounts a JOIN schools s ON s.id = a.school_id"
);

/// A row of `accounts` (with its school joined in) as stored; private, so
/// that callers only ever see an [`AccountRecord`] whose codes, address and
/// vocabularies parsed.
struct DbAccount {
    id: i64,
    user_code: String,
    school_id: i64,
    school_code: String,
    school_name: String,
    kind: String,
    first_name: String,
    last_name: String,
    tax_code: String,
    email: Option<String>,
    email_verified: i64,
    username: Option<String>,
    status: String,
    password_hash: Option<String>,
    password_changed_at: Option<i64>,
    failed_logins: i64,
    blocked_until: Option<i64>,
    last_failed_login_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
    password_change_required: i64,
    lang: Option<String>,
    subject: Option<String>,
}

impl TryFrom<&AnyRow> for DbAccount {
    type Error = sqlx::Error;

    fn try_from(row: &AnyRow) -> Result<DbAccount, sqlx::Error> {
        Ok(DbAccount {
            id: row.try_get("id")?,
            user_code: row.try_get("user_code")?,
            school_id: row.try_get("school_id")?,
            school_code: row.try_get("school_code")?,
            school_name: row.try_get("school_name")?,
            kind: row.try_get("kind")?,
            first_name: row.try_get("first_name")?,
            last_name: row.try_get("last_name")?,
            tax_code: row.try_get("tax_code")?,
            email: row.try_get("email")?,
            email_verified: row.try_get("email_verified")?,
            username: row.try_get("username")?,
            status: row.try_get("status")?,
            password_hash: row.try_get("password_hash")?,
            password_changed_at: row.try_get("password_changed_at")?,
            failed_logins: row.try_get("failed_logins")?,
            blocked_until: row.try_get("blocked_until")?,
            last_failed_login_at: row.try_get("last_failed_login_at")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            password_change_required: row.try_get("password_change_required")?,
            lang: row.try_get("lang")?,
            subject: row.try_get("subject")?,
        })
    }
}

impl TryFrom<DbAccount> for AccountRecord {
    type Error = StoreError;

    /// The personal fields (tax code, address) are not repeated in the
    /// error: it may reach a log.
    fn try_from(db: DbAccount) -> Result<AccountRecord, StoreError> {
        let corrupt = |what: &str, why: &dyn std::fmt::Display| {
            StoreError::Corrupt(format!("account {}: {what} does not parse: {why}", db.id))
        };
        let user_code = UserCode::parse(&db.user_code).map_err(|e| corrupt("user code", &e))?;
        let tax_code = TaxCode::parse(&db.tax_code).map_err(|e| corrupt("tax code", &e))?;
        let email = db
            .email
            .as_deref()
            .map(EmailAddress::parse)
            .transpose()
            .map_err(|e| corrupt("email", &e))?;
        let kind =
            AccountKind::parse(&db.kind).ok_or_else(|| StoreError::Corrupt(format!("account kind {:?}", db.kind)))?;
        let status = AccountStatus::parse(&db.status)
            .ok_or_else(|| StoreError::Corrupt(format!("account status {:?}", db.status)))?;
        Ok(AccountRecord {
            id: AccountId(db.id),
            user_code,
            school_id: SchoolId(db.school_id),
            school_code: db.school_code,
            school_name: db.school_name,
            kind,
            first_name: db.first_name,
            last_name: db.last_name,
            tax_code,
            email,
            email_verified: db.email_verified != 0,
            username: db.username,
            status,
            password_hash: db.password_hash,
            password_changed_at: db.password_changed_at.map(Timestamp),
            failed_logins: u32::try_from(db.failed_logins).unwrap_or(u32::MAX),
            blocked_until: db.blocked_until.map(Timestamp),
            last_failed_login_at: db.last_failed_login_at.map(Timestamp),
            created_at: Timestamp(db.created_at),
            updated_at: Timestamp(db.updated_at),
            password_change_required: db.password_change_required != 0,
            lang: db.lang.as_deref().and_then(Lang::parse),
            subject: db.subject,
        })
    }
}

pub(crate) fn from_row(row: &AnyRow) -> Result<AccountRecord, StoreError> {
    AccountRecord::try_from(DbAccount::try_from(row)?)
}

impl AccountRecord {
    /// The failed-login state the lockout policy works on.
    pub fn lock_state(&self) -> LockState {
        LockState {
            failed_count: self.failed_logins,
            blocked_until: self.blocked_until,
            last_failure_at: self.last_failed_login_at,
        }
    }
}

impl Tx {
    /// Inserts an account. A clash on the user code (astronomically rare, the
    /// caller retries with a new code) or on (school, tax code) or username is
    /// reported as [`StoreError::Conflict`].
    pub async fn insert_account(&mut self, a: &NewAccount<'_>) -> Result<AccountId, StoreError> {
        let id = self.insert_account_row(a, "").await?;
        id.ok_or(StoreError::Conflict {
            constraint: "accounts.user_code".into(),
        })
    }

    /// Inserts an account unless its user code is taken; `None` means "draw
    /// another code". Used by the bulk import, where a failed statement would
    /// abort a PostgreSQL transaction.
    pub async fn insert_account_if_code_free(&mut self, a: &NewAccount<'_>) -> Result<Option<AccountId>, StoreError> {
        self.insert_account_row(a, "ON CONFLICT (user_code) DO NOTHING").await
    }

    /// The one `INSERT INTO accounts`, with an optional conflict clause.
    async fn insert_account_row(
        &mut self,
        a: &NewAccount<'_>,
        on_conflict: &str,
    ) -> Result<Option<AccountId>, StoreError> {
        let sql = format!(
            "INSERT INTO accounts (user_code, school_id, kind, first_name, last_name, tax_code, email, \
             username, status, password_hash, password_changed_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) {on_conflict} RETURNING id"
        );
        let id: Option<i64> = sqlx::query_scalar(&sql)
            .bind(a.user_code)
            .bind(a.school_id.0)
            .bind(a.kind.as_str())
            .bind(a.first_name)
            .bind(a.last_name)
            .bind(a.tax_code)
            .bind(a.email)
            .bind(a.username)
            .bind(a.status.as_str())
            .bind(a.password_hash)
            .bind(a.password_hash.map(|_| a.now))
            .bind(a.now)
            .fetch_optional(self.conn())
            .await?;
        Ok(id.map(AccountId))
    }

    /// The account with this row id, or `None` (a missing row is not an error). Takes no lock.
    pub async fn account_by_id(&mut self, id: AccountId) -> Result<Option<AccountRecord>, StoreError> {
        let row = sqlx::query(&format!("{SELECT} WHERE a.id = $1"))
            .bind(id.0)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The account with this user code, or `None`. Takes no lock.
    pub async fn account_by_user_code(&mut self, user_code: &str) -> Result<Option<AccountRecord>, StoreError> {
        let row = sqlx::query(&format!("{SELECT} WHERE a.user_code = $1"))
            .bind(user_code)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The account with this login name, or `None`. Takes no lock.
    pub async fn account_by_username(&mut self, username: &str) -> Result<Option<AccountRecord>, StoreError> {
        let row = sqlx::query(&format!("{SELECT} WHERE a.username = $1"))
            .bind(username)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Accounts registered with this email (case-insensitive), oldest first,
    /// at most `limit` of them.
    pub async fn accounts_by_email(&mut self, email: &str, limit: i64) -> Result<Vec<AccountRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "{SELECT} WHERE lower(a.email) = lower($1) ORDER BY a.id LIMIT $2"
        ))
        .bind(email)
        .bind(limit)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Every account with this tax code, in any school, by school code (a
    /// person with accounts in several schools: staff of two schools, a
    /// parent in two schools). Takes no lock.
    pub async fn accounts_by_tax_code(&mut self, tax_code: &str) -> Result<Vec<AccountRecord>, StoreError> {
        let rows = sqlx::query(&format!("{SELECT} WHERE a.tax_code = $1 ORDER BY s.code, a.id"))
            .bind(tax_code)
            .fetch_all(self.conn())
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// One page of accounts matching `filter`, by school code, family name, given name and
    /// id. Takes no lock.
    pub async fn list_accounts(&mut self, filter: &AccountFilter<'_>) -> Result<Vec<AccountRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "{SELECT} WHERE ($1 IS NULL OR s.code = $1) AND ($2 IS NULL OR a.kind = $2) \
             ORDER BY s.code, a.last_name, a.first_name, a.id LIMIT $3 OFFSET $4"
        ))
        .bind(filter.school_code)
        .bind(filter.kind.map(|k| k.as_str()))
        .bind(filter.limit)
        .bind(filter.offset)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The accounts a desk search finds, by family name, given name and id.
    /// Takes no lock.
    pub async fn search_accounts(&mut self, search: &AccountSearch<'_>) -> Result<Vec<AccountRecord>, StoreError> {
        let scope = match search.scope {
            SearchScope::Everything => "1 = 1".to_owned(),
            SearchScope::Schools {
                school_ids,
                staff_any_school,
            } => {
                // Row ids from the database, written as integer literals.
                let ids: Vec<String> = school_ids.iter().map(|id| id.0.to_string()).collect();
                let schools = if ids.is_empty() {
                    "1 = 0".to_owned()
                } else {
                    format!("a.school_id IN ({})", ids.join(", "))
                };
                if staff_any_school {
                    format!("(a.kind = 'staff' OR {schools})")
                } else {
                    schools
                }
            }
        };
        let name = search.name.map(|n| format!("%{n}%"));
        let rows = sqlx::query(&format!(
            "{SELECT} WHERE (a.tax_code = $1 OR a.user_code = $2 OR lower(a.email) = $3 \
             OR lower(a.first_name || ' ' || a.last_name) LIKE $4 \
             OR lower(a.last_name || ' ' || a.first_name) LIKE $4) AND {scope} \
             ORDER BY a.last_name, a.first_name, a.id LIMIT $5"
        ))
        .bind(search.tax_code)
        .bind(search.user_code)
        .bind(search.email.map(str::to_lowercase))
        .bind(name)
        .bind(search.limit)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Corrects the person's tax code and names (a desk correction). A tax
    /// code another account of the school has is [`StoreError::Conflict`].
    pub async fn correct_person(
        &mut self,
        id: AccountId,
        tax_code: &str,
        first_name: &str,
        last_name: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE accounts SET tax_code = $2, first_name = $3, last_name = $4, updated_at = $5 WHERE id = $1",
        )
        .bind(id.0)
        .bind(tax_code)
        .bind(first_name)
        .bind(last_name)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Tax code → account id for every account of a school (for the roster import).
    pub async fn account_ids_by_tax_code(
        &mut self,
        school_id: SchoolId,
    ) -> Result<HashMap<String, AccountId>, StoreError> {
        let rows = sqlx::query("SELECT tax_code, id FROM accounts WHERE school_id = $1")
            .bind(school_id.0)
            .fetch_all(self.conn())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<String, _>("tax_code")?, AccountId(r.try_get("id")?))))
            .collect()
    }

    /// Applies a roster row to an existing account; returns whether anything changed.
    pub async fn update_account_from_roster(&mut self, u: &RosterUpdate<'_>) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE accounts SET kind = $2, first_name = $3, last_name = $4, email = $5, \
             email_verified = CASE WHEN email IS NOT DISTINCT FROM $5 THEN email_verified ELSE 0 END, \
             updated_at = $6 \
             WHERE id = $1 AND (kind <> $2 OR first_name <> $3 OR last_name <> $4 \
             OR email IS DISTINCT FROM $5)",
        )
        .bind(u.id.0)
        .bind(u.kind.as_str())
        .bind(u.first_name)
        .bind(u.last_name)
        .bind(u.email)
        .bind(u.now)
        .execute(self.conn())
        .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Sets the status; returns false when the account already had it or does not exist.
    /// Takes no explicit lock.
    pub async fn set_account_status(
        &mut self,
        id: AccountId,
        status: AccountStatus,
        now: i64,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query("UPDATE accounts SET status = $2, updated_at = $3 WHERE id = $1 AND status <> $2")
            .bind(id.0)
            .bind(status.as_str())
            .bind(now)
            .execute(self.conn())
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Replaces the password hash (a change, or a rehash with new parameters).
    /// `changed_at` is `None` for a rehash, which is not a password change.
    pub async fn set_password_hash(
        &mut self,
        id: AccountId,
        hash: &str,
        changed_at: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE accounts SET password_hash = $2, \
             password_changed_at = COALESCE($3, password_changed_at), updated_at = $4 WHERE id = $1",
        )
        .bind(id.0)
        .bind(hash)
        .bind(changed_at)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Stores the failed-login state computed by the lockout policy.
    pub async fn set_lock_state(&mut self, id: AccountId, state: &LockState) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE accounts SET failed_logins = $2, blocked_until = $3, last_failed_login_at = $4 WHERE id = $1",
        )
        .bind(id.0)
        .bind(i64::from(state.failed_count))
        .bind(state.blocked_until.map(|t| t.0))
        .bind(state.last_failure_at.map(|t| t.0))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Puts back `previous` only if the stored state is still `reserved`
    /// (what this caller wrote): a reservation made for an attempt that
    /// turned out not to count. Anything written since by another attempt
    /// wins. True when the state was put back.
    pub async fn release_lock_state(
        &mut self,
        id: AccountId,
        reserved: &LockState,
        previous: &LockState,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE accounts SET failed_logins = $2, blocked_until = $3, last_failed_login_at = $4 \
             WHERE id = $1 AND failed_logins = $5 AND last_failed_login_at = $6",
        )
        .bind(id.0)
        .bind(i64::from(previous.failed_count))
        .bind(previous.blocked_until.map(|t| t.0))
        .bind(previous.last_failure_at.map(|t| t.0))
        .bind(i64::from(reserved.failed_count))
        .bind(reserved.last_failure_at.map(|t| t.0))
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The account as it is now, its row locked for the rest of the
    /// transaction on PostgreSQL (on SQLite the write transaction already
    /// excludes every other writer).
    pub async fn account_for_update(&mut self, id: AccountId) -> Result<Option<AccountRecord>, StoreError> {
        self.lock_account(id).await?;
        self.account_by_id(id).await
    }

    /// Replaces the password hash only if it is still `expected` (a rehash
    /// racing a reset must not overwrite the new password). True when replaced.
    pub async fn replace_password_hash(
        &mut self,
        id: AccountId,
        expected: &str,
        hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let r =
            sqlx::query("UPDATE accounts SET password_hash = $3, updated_at = $4 WHERE id = $1 AND password_hash = $2")
                .bind(id.0)
                .bind(expected)
                .bind(hash)
                .bind(now)
                .execute(self.conn())
                .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Removes the password of an account (after an email-change undo: the
    /// person who changed the address knew it). Login is impossible until a
    /// new one is set through a link.
    pub async fn clear_password_hash(&mut self, id: AccountId, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET password_hash = NULL, updated_at = $2 WHERE id = $1")
            .bind(id.0)
            .bind(now)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Up to `limit` stored password hashes that are not Argon2id with
    /// `current_prefix` (legacy formats, older Argon2 costs): what a failed
    /// login may have to verify, for calibrating the failure answer time.
    pub async fn uncommon_password_hashes(
        &mut self,
        current_prefix: &str,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let pattern = format!("{}%", current_prefix.replace('%', ""));
        Ok(sqlx::query_scalar(
            "SELECT password_hash FROM accounts WHERE password_hash IS NOT NULL AND password_hash NOT LIKE $1 LIMIT $2",
        )
        .bind(pattern)
        .bind(limit)
        .fetch_all(self.conn())
        .await?)
    }

    /// How many accounts exist, of every status.
    pub async fn count_accounts(&mut self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
            .fetch_one(self.conn())
            .await?)
    }
}

impl Tx {
    /// Marks the account's address as verified. A missing account is not an error (nothing
    /// changes).
    pub async fn set_email_verified(&mut self, id: AccountId) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET email_verified = 1 WHERE id = $1")
            .bind(id.0)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

impl Tx {
    /// Gives an account without a password the hash carried over from a
    /// previous system, activating it if it waited for activation. Returns
    /// false (and changes nothing) when the account already has a password.
    pub async fn set_password_hash_if_none(&mut self, id: AccountId, hash: &str, now: i64) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE accounts SET password_hash = $2, password_changed_at = $3, updated_at = $3, \
             status = CASE WHEN status = 'pending_activation' THEN 'active' ELSE status END \
             WHERE id = $1 AND password_hash IS NULL",
        )
        .bind(id.0)
        .bind(hash)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }
}

impl Tx {
    /// Serialises transactions working on one account's counters (per-account
    /// throttles): a row lock on PostgreSQL; on SQLite the write transaction
    /// (`BEGIN IMMEDIATE`) already excludes every other writer.
    pub async fn lock_account(&mut self, id: AccountId) -> Result<(), StoreError> {
        if self.backend == crate::Backend::Postgres {
            sqlx::query("SELECT id FROM accounts WHERE id = $1 FOR UPDATE")
                .bind(id.0)
                .fetch_optional(self.conn())
                .await?;
        }
        Ok(())
    }
}
