-- A rotated-in signing key is published at once but signs only from
-- activate_at, once every replica has reloaded its keys. 0: at once.
ALTER TABLE signing_keys ADD COLUMN activate_at INTEGER NOT NULL DEFAULT 0;
