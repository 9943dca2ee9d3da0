-- Upstream profile claims update the linked user at each login (default on).
ALTER TABLE providers ADD COLUMN sync_profile INTEGER NOT NULL DEFAULT 1;
