-- Upstream profile claims update the linked user at each login (default on).
ALTER TABLE providers ADD COLUMN sync_profile boolean NOT NULL DEFAULT true;
