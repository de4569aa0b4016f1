-- Varco's own keys as a relying party of the SPID/CIE federation (issue 9):
-- the federation key that signs its entity configuration ('federation'),
-- the OIDC core signing key for request objects and client assertions
-- ('core_sig') and the core encryption key userinfo is encrypted to
-- ('core_enc'). The private half is sealed with the key-encryption key kept
-- outside the database; `kid` is the RFC 7638 thumbprint. A retired key
-- signs nothing new but stays published (and, for 'core_enc', usable for
-- decryption) until `publish_until`.
CREATE TABLE federation_keys (
    kid TEXT PRIMARY KEY,
    purpose TEXT NOT NULL CHECK (purpose IN ('federation', 'core_sig', 'core_enc')),
    alg TEXT NOT NULL,
    sealed_private TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT,
    publish_until BIGINT
);
