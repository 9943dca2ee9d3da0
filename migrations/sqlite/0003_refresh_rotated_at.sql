-- When a refresh token was rotated (unix microseconds), so that a second use
-- within the grace period (tokens.refresh_reuse_grace) is told from a reuse.
-- 0: never rotated, or revoked with its grant.
ALTER TABLE oauth_tokens ADD COLUMN rotated_at INTEGER NOT NULL DEFAULT 0;
