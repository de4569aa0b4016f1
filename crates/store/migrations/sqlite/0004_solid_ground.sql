-- Solid ground (issue 7): links bound to the address they were mailed to,
-- forgiveness of old login failures, and the per-login-text schedule that
-- tells a person how long to wait without revealing whether the account exists.

-- SHA-256 of the lower-cased address a reset or activation link was mailed
-- to; a link whose address is no longer the account's is refused.
ALTER TABLE one_time_tokens ADD COLUMN recipient_hash TEXT;

-- When the last failed login was counted (old failures fade with time).
ALTER TABLE accounts ADD COLUMN last_failed_login_at INTEGER;

-- Failed logins per typed login text (SHA-256 of the trimmed, lower-cased
-- text), known account or not: the same delays for both.
CREATE TABLE login_throttle (
    login_hash TEXT PRIMARY KEY,
    failed_count INTEGER NOT NULL,
    blocked_until INTEGER,
    last_failed_at INTEGER NOT NULL
);
CREATE INDEX login_throttle_last ON login_throttle (last_failed_at);
