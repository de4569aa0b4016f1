-- Foundation: schools, accounts, roles, sessions, one-time tokens, audit log.
-- Times are unix seconds (INTEGER) so both engines share one representation.

CREATE TABLE schools (
    id BIGSERIAL PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    email TEXT,
    helpdesk_email TEXT,
    helpdesk_phone TEXT,
    helpdesk_hours TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE accounts (
    id BIGSERIAL PRIMARY KEY,
    user_code TEXT NOT NULL UNIQUE,
    school_id BIGINT NOT NULL REFERENCES schools (id),
    kind TEXT NOT NULL CHECK (kind IN ('staff', 'family')),
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    tax_code TEXT NOT NULL,
    email TEXT,
    email_verified BIGINT NOT NULL DEFAULT 0,
    username TEXT UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('active', 'pending_activation', 'disabled')),
    password_hash TEXT,
    password_changed_at BIGINT,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    blocked_until BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (school_id, tax_code)
);
CREATE INDEX accounts_email_key ON accounts (lower(email));

CREATE TABLE account_roles (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('desk', 'admin')),
    school_id BIGINT REFERENCES schools (id),
    granted_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX account_roles_unique ON account_roles (account_id, role, coalesce(school_id, 0));

CREATE TABLE sessions (
    id BIGSERIAL PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ip TEXT,
    user_agent TEXT,
    password_change_required BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE one_time_tokens (
    id BIGSERIAL PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    purpose TEXT NOT NULL,
    account_id BIGINT REFERENCES accounts (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX one_time_tokens_account ON one_time_tokens (account_id, purpose);

-- No foreign keys: the audit log outlives the accounts it names.
CREATE TABLE audit_events (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    event TEXT NOT NULL,
    outcome TEXT NOT NULL,
    actor TEXT NOT NULL,
    actor_account_id BIGINT,
    target TEXT,
    target_account_id BIGINT,
    ip TEXT,
    user_agent TEXT,
    detail TEXT
);
CREATE INDEX audit_events_target ON audit_events (target_account_id, id);
