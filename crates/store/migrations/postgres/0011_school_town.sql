-- The town (comune) a school is in, so /help can find it by town as well as by name.
ALTER TABLE schools ADD COLUMN town TEXT;
