-- A user's preferred language (BCP 47 tag), set by an administrator; empty
-- lets the browser choose. E-mails to the user are written in it.
ALTER TABLE users ADD COLUMN locale text NOT NULL DEFAULT '';
