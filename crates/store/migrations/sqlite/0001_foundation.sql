-- Foundation: schools, accounts, roles, sessions, one-time tokens, audit log.
-- Times are unix seconds (INTEGER) so both engines share one representation.

CREATE TABLE schools (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    email TEXT,
    helpdesk_email TEXT,
    helpdesk_phone TEXT,
    helpdesk_hours TEXT,
    created_at INTEGER NOT NULL
);

CREATE TABLE accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_code TEXT NOT NULL UNIQUE,
    school_id INTEGER NOT NULL REFERENCES schools (id),
    kind TEXT NOT NULL CHECK (kind IN ('staff', 'family')),
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    tax_code TEXT NOT NULL,
    email TEXT,
    email_verified INTEGER NOT NULL DEFAULT 0,
    username TEXT UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('active', 'pending_activation', 'disabled')),
    password_hash TEXT,
    password_changed_at INTEGER,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    blocked_until INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (school_id, tax_code)
);
CREATE INDEX accounts_email_key ON accounts (lower(email));

CREATE TABLE account_roles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('desk', 'admin')),
    school_id INTEGER REFERENCES schools (id),
    granted_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX account_roles_unique ON account_roles (account_id, role, coalesce(school_id, 0));

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ip TEXT,
    user_agent TEXT,
    password_change_required INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE one_time_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    purpose TEXT NOT NULL,
    account_id INTEGER REFERENCES accounts (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX one_time_tokens_account ON one_time_tokens (account_id, purpose);

-- No foreign keys: the audit log outlives the accounts it names.
CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    event TEXT NOT NULL,
    outcome TEXT NOT NULL,
    actor TEXT NOT NULL,
    actor_account_id INTEGER,
    target TEXT,
    target_account_id INTEGER,
    ip TEXT,
    user_agent TEXT,
    detail TEXT
);
CREATE INDEX audit_events_target ON audit_events (target_account_id, id);
