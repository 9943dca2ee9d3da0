package postgres

import (
	"context"
	"time"
)

// Retention is how long DeleteExpired keeps expired action tokens and idle
// throttles. An expired link that is still known lets the UI say "this link has
// expired" rather than "unknown link"; a throttle that survives its lock lets
// the back-off keep growing for someone who retries after every lock.
const Retention = 30 * 24 * time.Hour

// expiry lists, per table, the statement deleting at most $2 rows that expired
// before $1, and how long after expiry a row is kept. Deleting through a keyed
// sub-select bounds each statement (DELETE has no LIMIT), and SKIP LOCKED lets
// replicas clean up side by side without waiting on each other or on rows in use.
// ORDER BY expires_at keeps the planner on the expiry index: without it, when
// half of a million tokens have expired, it picks a sequential scan that stops
// after the batch's rows, and each batch then rereads every live row and dead
// tuple the batches before it left at the front of the table.
var expiry = []struct {
	table string
	keep  time.Duration
	sql   string
}{
	{"oauth_tokens", 0, `DELETE FROM oauth_tokens WHERE (kind, signature) IN
		(SELECT kind, signature FROM oauth_tokens WHERE expires_at <= $1
		ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)`},
	{"sessions", 0, `DELETE FROM sessions WHERE id IN (SELECT id FROM sessions
		WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)`},
	{"login_transactions", 0, `DELETE FROM login_transactions WHERE id IN
		(SELECT id FROM login_transactions WHERE expires_at <= $1
		ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)`},
	{"remembered_browsers", 0, `DELETE FROM remembered_browsers WHERE id IN
		(SELECT id FROM remembered_browsers WHERE expires_at <= $1
		LIMIT $2 FOR UPDATE SKIP LOCKED)`},
	{"action_tokens", Retention, `DELETE FROM action_tokens WHERE id IN
		(SELECT id FROM action_tokens WHERE expires_at <= $1
		LIMIT $2 FOR UPDATE SKIP LOCKED)`},
	{"signing_keys", 0, `DELETE FROM signing_keys WHERE id IN (SELECT id FROM signing_keys
		WHERE retire_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`},
	// Idle: no failure for the retention period and no lock still running.
	{"throttles", Retention, `DELETE FROM throttles WHERE key IN (SELECT key FROM throttles
		WHERE updated_at <= $1 AND (locked_until IS NULL OR locked_until <= $3)
		LIMIT $2 FOR UPDATE SKIP LOCKED)`},
	{"session_clients", 0, `DELETE FROM session_clients WHERE (session_id, client_id) IN
		(SELECT session_id, client_id FROM session_clients WHERE expires_at <= $1
		LIMIT $2 FOR UPDATE SKIP LOCKED)`},
	{"client_assertion_jtis", 0, `DELETE FROM client_assertion_jtis WHERE jti IN
		(SELECT jti FROM client_assertion_jtis WHERE expires_at <= $1
		LIMIT $2 FOR UPDATE SKIP LOCKED)`},
}

// DeleteExpired removes at most batch expired rows from each table and returns
// how many it removed in all. A batch ≤ 0 means no limit. Rows without an
// expiry time (tokens with a zero ExpiresAt, keys not retired) never expire.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, batch int) (int, error) {
	var limit any // NULL: LIMIT ALL
	if batch > 0 {
		limit = batch
	}
	q := s.q(ctx)
	total := 0
	for _, e := range expiry {
		args := []any{ts(now.Add(-e.keep)), limit}
		if e.table == "throttles" {
			args = append(args, ts(now))
		}
		tag, err := q.Exec(ctx, e.sql, args...)
		if err != nil {
			return total, wrapf(err, "delete expired rows of %s", e.table)
		}
		total += int(tag.RowsAffected())
	}
	return total, nil
}
