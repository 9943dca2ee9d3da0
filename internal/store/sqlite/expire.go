package sqlite

import (
	"context"
	"time"
)

// retention is how long DeleteExpired keeps expired action tokens and idle
// throttles (the PostgreSQL backend keeps them as long). A known but expired
// link lets the UI say "this link has expired" rather than "unknown link"; a
// throttle that outlives its lock lets the back-off keep growing for someone
// who retries after every lock.
const retention = 30 * 24 * time.Hour

// DeleteExpired removes up to batch expired rows from each table (all of
// them when batch ≤ 0) and returns how many it removed in all. Each table is
// its own statement, so other writers get a turn in between.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, batch int) (int, error) {
	if batch <= 0 {
		batch = -1 // SQLite's LIMIT -1: no limit
	}
	n, old := micro(now), micro(now.Add(-retention))
	sweeps := []struct {
		table, cond string
		args        []any
	}{
		{"oauth_tokens", "expires_at > 0 AND expires_at < ?", []any{n}},
		{"sessions", "expires_at < ?", []any{n}},
		{"login_transactions", "expires_at < ?", []any{n}},
		{"remembered_browsers", "expires_at < ?", []any{n}},
		{"action_tokens", "expires_at < ?", []any{old}},
		{"signing_keys", "retire_at > 0 AND retire_at < ?", []any{n}},
		{"throttles", "updated_at < ?1 AND locked_until < ?2", []any{old, n}},
		{"session_clients", "expires_at < ?", []any{n}},
		{"client_assertion_jtis", "expires_at <= ?", []any{n}},
	}
	total := 0
	for _, sw := range sweeps {
		res, err := s.writer(ctx).ExecContext(ctx, `DELETE FROM `+sw.table+` WHERE rowid IN
			(SELECT rowid FROM `+sw.table+` WHERE `+sw.cond+` LIMIT ?)`, append(sw.args, batch)...)
		if err != nil {
			return total, wrap(err, "delete expired %s", sw.table)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return total, wrap(err, "delete expired %s", sw.table)
		}
		total += int(k)
	}
	return total, nil
}
