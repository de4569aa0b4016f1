-- The second secret of each account that has one: the PIN (families) or the
-- personal code (staff), as an Argon2id hash; consecutive wrong entries and
-- the lock they lead to (lifted only by a new code).
CREATE TABLE second_secrets (
    account_id INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('pin', 'personal_code')),
    hash TEXT NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    locked_at INTEGER,
    set_at INTEGER NOT NULL
);
