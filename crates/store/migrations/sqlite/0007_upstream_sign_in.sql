-- SPID/CIE sign-in, static and federation providers alike (issue 9): how a
-- session was signed in to, and the sign-ins under way at an upstream provider.

-- How the person signed in, reported to applications in ID tokens: `acr`
-- (a URI) and `amr` (a JSON array of strings). Sessions opened before this
-- migration were all signed in with a password. A session signed in through
-- an upstream provider also keeps the provider's name and its access token,
-- sealed by the application (never in clear), to revoke it at logout.
ALTER TABLE sessions ADD COLUMN acr TEXT NOT NULL DEFAULT 'urn:varco:acr:password';
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '["pwd"]';
ALTER TABLE sessions ADD COLUMN upstream_provider TEXT;
ALTER TABLE sessions ADD COLUMN upstream_token_sealed TEXT;

-- A sign-in under way at an upstream provider, keyed by the SHA-256 of a
-- random handle (the `state` sent to the provider, or the handle of the
-- school-choice page), bound to the browser by the SHA-256 of a random
-- cookie value. `stage` says which step it waits for ('callback' or
-- 'choice'); `sealed` is the application's sealed payload (PKCE verifier,
-- nonce, or the checked identity awaiting the school choice): never in clear.
-- Single use: taking a row deletes it.
CREATE TABLE upstream_logins (
    handle_hash TEXT PRIMARY KEY,
    stage TEXT NOT NULL,
    provider TEXT NOT NULL,
    binding_hash TEXT NOT NULL,
    sealed TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX upstream_logins_expires ON upstream_logins (expires_at);

-- A person's accounts across schools are found by tax code at SPID/CIE sign-in.
CREATE INDEX accounts_tax_code ON accounts (tax_code);
