-- Self-service recovery: email changes confirmed by the new address and
-- undoable from the old one; token look-ups for per-account throttling.

CREATE TABLE email_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    old_email TEXT,
    old_email_verified INTEGER NOT NULL DEFAULT 0,
    new_email TEXT NOT NULL,
    confirm_token_id INTEGER NOT NULL REFERENCES one_time_tokens (id),
    undo_token_id INTEGER REFERENCES one_time_tokens (id),
    requested_at INTEGER NOT NULL,
    confirmed_at INTEGER,
    undone_at INTEGER
);
CREATE INDEX email_changes_account ON email_changes (account_id, id);

CREATE INDEX one_time_tokens_recent ON one_time_tokens (account_id, purpose, created_at);
