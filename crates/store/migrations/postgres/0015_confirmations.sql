-- Act confirmations: a school application asks Varco to have the person
-- confirm one act (e.g. the justification of absences) with their PIN or
-- personal code, and receives single-use proof bound to exactly that act.
CREATE TABLE confirmations (
    id BIGSERIAL PRIMARY KEY,
    -- Opaque, random: the confirmation page's URL and the JWT's jti.
    public_id TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL REFERENCES oidc_clients (client_id) ON DELETE CASCADE,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    description TEXT NOT NULL,
    -- Canonical JSON (sorted keys, no whitespace) and its SHA-256, base64url.
    payload TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    state TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    -- 'pending', 'confirmed', 'cancelled', 'redeemed'.
    status TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'cancelled', 'redeemed')),
    confirmed_at BIGINT,
    -- 'pin' or 'personal_code': what the person entered.
    method TEXT,
    -- SHA-256 of the one-time code handed back through the browser.
    code_hash TEXT UNIQUE,
    code_expires_at BIGINT,
    redeemed_at BIGINT
);
CREATE INDEX confirmations_expires ON confirmations (expires_at);
