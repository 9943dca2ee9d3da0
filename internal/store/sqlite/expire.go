package sqlite

import (
	"context"
	"time"
)

// Retention of rows whose expiry is not the end of their use.
const (
	// actionTokenGrace keeps an expired link long enough for the page to say
	// "this link has expired" rather than "unknown link".
	actionTokenGrace = 7 * 24 * time.Hour
	// throttleIdle forgets failures after a day without a new one; a guesser
	// that slow gets nowhere against a 6-digit code.
	throttleIdle = 24 * time.Hour
	// defaultBatch applies when DeleteExpired is given no batch size.
	defaultBatch = 1000
)

// DeleteExpired removes up to batch expired rows from each table and returns
// how many it removed in all. Each table is one short statement, so the
// writer is never held for long.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, batch int) (int, error) {
	if batch <= 0 {
		batch = defaultBatch
	}
	n := micro(now)
	sweeps := []struct {
		table, cond string
		arg         int64
	}{
		{"oauth_tokens", "expires_at > 0 AND expires_at < ?", n},
		{"sessions", "expires_at < ?", n},
		{"login_transactions", "expires_at < ?", n},
		{"action_tokens", "expires_at < ?", micro(now.Add(-actionTokenGrace))},
		{"signing_keys", "retire_at > 0 AND retire_at < ?", n},
		{"throttles", "updated_at < ?1 AND locked_until < ?1", micro(now.Add(-throttleIdle))},
	}
	total := 0
	for _, sw := range sweeps {
		res, err := s.writer(ctx).ExecContext(ctx, `DELETE FROM `+sw.table+` WHERE rowid IN
			(SELECT rowid FROM `+sw.table+` WHERE `+sw.cond+` LIMIT ?)`, sw.arg, batch)
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
