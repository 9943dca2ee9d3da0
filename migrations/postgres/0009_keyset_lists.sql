-- 0009_keyset_lists: indexes behind the keyset-paginated administrative lists
-- (issue 18). Each list page is one index range read from the previous page's
-- last key, so the last page of a million rows costs what the first does.

-- Users by lowercased username, and the prefix search on username or e-mail:
-- byte order (COLLATE "C") makes the names that start with a prefix one range,
-- whatever the database's collation.
CREATE INDEX users_username_c_idx ON users ((lower(username)) COLLATE "C");
CREATE INDEX users_email_c_idx ON users ((lower(email)) COLLATE "C") WHERE email <> '';

-- Clients by lowercased name, then ID.
CREATE INDEX clients_name_idx ON clients ((lower(name)) COLLATE "C", id);

-- Audit events newest first, by time then ID, optionally of one user or one
-- type. The keyset is a row comparison on (time, id), which NULL would break:
-- authz always sets the time; a zero time is stored as the epoch, as SQLite does.
UPDATE audit_events SET time = 'epoch' WHERE time IS NULL;
ALTER TABLE audit_events ALTER COLUMN time SET NOT NULL;
DROP INDEX audit_events_time_idx;
DROP INDEX audit_events_user_id_idx;
DROP INDEX audit_events_type_idx;
CREATE INDEX audit_events_time_id_idx ON audit_events (time, id);
CREATE INDEX audit_events_user_time_idx ON audit_events (user_id, time, id);
CREATE INDEX audit_events_type_time_idx ON audit_events (type, time, id);
