-- SPID/CIE sign-in (issue 9): the upstream identities linked to accounts,
-- and the relying party's transaction log.

-- An identity at an upstream provider (SPID or CIE, directly or through a
-- gateway), keyed by (issuer, subject) as the provider names it, linked to
-- one account. An account may have several (SPID and CIE, two SPID
-- providers); an identity belongs to one account.
CREATE TABLE upstream_identities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    linked_at INTEGER NOT NULL,
    last_login_at INTEGER,
    UNIQUE (issuer, subject)
);
CREATE INDEX upstream_identities_account ON upstream_identities (account_id);

-- The transaction log the SPID/CIE rules ask for (kept at least 24 months,
-- tamper-evident): a hash chain. `seq` counts from 1 without gaps; `hash` is
-- SHA-256 over `prev_hash` and the row's canonical text (see
-- `varco_domain::federation_log`); `prev_hash` is unique, so the chain cannot
-- fork. Identifiers only: no name, tax code or token.
CREATE TABLE federation_log (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    provider TEXT NOT NULL,
    kind TEXT NOT NULL,
    request_id TEXT,
    response_id TEXT,
    subject TEXT,
    outcome TEXT NOT NULL,
    prev_hash TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL
);
CREATE INDEX federation_log_at ON federation_log (at);
