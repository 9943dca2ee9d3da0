-- A password change ends the user's logins in flight (DeleteUserLoginTransactions);
-- only identified ones are indexed, not the anonymous starts of a flood.
CREATE INDEX login_transactions_user_id ON login_transactions (user_id) WHERE user_id <> '';
