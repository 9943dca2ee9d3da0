-- 0009_keyset_lists: indexes behind the keyset-paginated administrative lists
-- (issue 18). Users page through users_username_lower (and the e-mail prefix
-- through users_email_lower); audit events through audit_events_time,
-- _type_time and _user_time, which end in the rowid, the event's ID. Clients
-- had no index on their list order.
CREATE INDEX clients_name ON clients (lower(name), id);
