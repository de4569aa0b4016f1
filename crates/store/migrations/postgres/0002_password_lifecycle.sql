-- Password lifecycle and mail: forced change, preferred language, password
-- history, expiry reminders, once-per-period jobs, the transactional outbox.

ALTER TABLE accounts ADD COLUMN password_change_required BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN lang TEXT;

CREATE TABLE password_history (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    replaced_at BIGINT NOT NULL
);
CREATE INDEX password_history_account ON password_history (account_id, id);

-- One row per reminder sent, keyed by the password it was about.
CREATE TABLE expiry_reminders (
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    password_changed_at BIGINT NOT NULL,
    threshold_days BIGINT NOT NULL,
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, password_changed_at, threshold_days)
);

-- A periodic job claims its period here, so one node runs it once.
CREATE TABLE job_runs (
    job TEXT NOT NULL,
    period TEXT NOT NULL,
    node TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    PRIMARY KEY (job, period)
);

CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    recipient TEXT NOT NULL,
    template TEXT NOT NULL,
    lang TEXT NOT NULL,
    school_id BIGINT REFERENCES schools (id),
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
