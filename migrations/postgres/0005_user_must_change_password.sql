-- The bootstrap administrator's printed password works for one sign-in only.
ALTER TABLE users ADD COLUMN must_change_password boolean NOT NULL DEFAULT false;
