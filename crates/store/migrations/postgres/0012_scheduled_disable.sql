-- Year-end roster import: an account missing from its school's new roster is
-- disabled on a chosen date. Until then the date waits here (unix seconds);
-- the hourly upkeep disables the accounts whose date has come.
ALTER TABLE accounts ADD COLUMN disable_at BIGINT;
CREATE INDEX accounts_disable_at ON accounts (disable_at) WHERE disable_at IS NOT NULL;
