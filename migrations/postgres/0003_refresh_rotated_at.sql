-- When a refresh token was rotated, so that a second use within the grace
-- period (tokens.refresh_reuse_grace) is told from a reuse. NULL: never
-- rotated, or revoked with its grant.
ALTER TABLE oauth_tokens ADD COLUMN rotated_at timestamptz;
