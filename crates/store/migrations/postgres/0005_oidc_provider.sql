-- OpenID Connect provider (issue 8): registered clients, signing keys,
-- authorization codes, grants with their refresh and access tokens, consents,
-- and the stable opaque subject of an account.
-- Every secret (code, token, client secret) is stored only as its SHA-256;
-- lists (redirect URIs, scopes, schools, amr) are JSON arrays of strings.

-- A relying party. `public` clients have no secret and rely on PKCE alone;
-- `schools` NULL means the client serves every school.
CREATE TABLE oidc_clients (
    client_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    public BIGINT NOT NULL,
    auth_method TEXT NOT NULL
        CHECK (auth_method IN ('none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt')),
    secret_hash TEXT,
    jwks TEXT,
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    scopes TEXT NOT NULL,
    schools TEXT,
    first_party BIGINT NOT NULL,
    id_token_alg TEXT NOT NULL CHECK (id_token_alg IN ('RS256', 'ES256')),
    pairwise BIGINT NOT NULL,
    backchannel_logout_uri TEXT,
    created_at BIGINT NOT NULL,
    secret_rotated_at BIGINT
);

-- Signing keys, the private half sealed with the key-encryption key kept
-- outside the database. A retired key signs nothing new but stays in the
-- JWKS until `publish_until`, when what it signed has expired.
CREATE TABLE oidc_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    sealed_private TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT,
    publish_until BIGINT
);

-- What a person allowed a client from one sign-in (`sid`): the scopes and
-- the authentication facts every token of the grant repeats. `expires_at` is
-- the absolute lifetime; a revoked grant is kept a while for reuse detection.
CREATE TABLE oidc_grants (
    id BIGSERIAL PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES oidc_clients (client_id) ON DELETE CASCADE,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    sid TEXT NOT NULL,
    scope TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    acr TEXT NOT NULL,
    amr TEXT NOT NULL,
    nonce TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_reason TEXT
);
CREATE INDEX oidc_grants_account ON oidc_grants (account_id);
CREATE INDEX oidc_grants_sid ON oidc_grants (sid);
CREATE INDEX oidc_grants_client ON oidc_grants (client_id);

-- Authorization codes: single use and short-lived. Spending one sets
-- `used_at` with one conditional UPDATE; `grant_id` records what it produced,
-- so that a replayed code can revoke it.
CREATE TABLE oidc_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES oidc_clients (client_id) ON DELETE CASCADE,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    sid TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    acr TEXT NOT NULL,
    amr TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    grant_id BIGINT REFERENCES oidc_grants (id) ON DELETE SET NULL
);
CREATE INDEX oidc_codes_expires ON oidc_codes (expires_at);

-- Refresh tokens rotate: using one sets `used_at` (one conditional UPDATE)
-- and issues the next `generation`; a used one presented again is reuse.
CREATE TABLE oidc_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id BIGINT NOT NULL REFERENCES oidc_grants (id) ON DELETE CASCADE,
    generation BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX oidc_refresh_tokens_grant ON oidc_refresh_tokens (grant_id);
CREATE INDEX oidc_refresh_tokens_expires ON oidc_refresh_tokens (expires_at);

-- Opaque access tokens, valid while unexpired and their grant is live.
CREATE TABLE oidc_access_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id BIGINT NOT NULL REFERENCES oidc_grants (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oidc_access_tokens_grant ON oidc_access_tokens (grant_id);
CREATE INDEX oidc_access_tokens_expires ON oidc_access_tokens (expires_at);

-- The scopes a person consented to for a client (third-party clients only;
-- first-party clients ask nothing).
CREATE TABLE oidc_consents (
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES oidc_clients (client_id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, client_id)
);
CREATE INDEX oidc_consents_client ON oidc_consents (client_id);

-- The stable opaque `sub` of an account, drawn the first time a client
-- needs it and never changed; unrelated to the user code or the tax code.
ALTER TABLE accounts ADD COLUMN subject TEXT;
CREATE UNIQUE INDEX accounts_subject ON accounts (subject);

-- The `jti` of each client assertion (private_key_jwt) until it expires:
-- an assertion is accepted once (RFC 7523 §3, item 7).
CREATE TABLE oidc_assertions (
    client_id TEXT NOT NULL REFERENCES oidc_clients (client_id) ON DELETE CASCADE,
    jti TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX oidc_assertions_expires ON oidc_assertions (expires_at);
