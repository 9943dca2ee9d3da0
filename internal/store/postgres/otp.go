package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authz/authz/internal/store"
)

// CreateOTPCredential stores c, replacing any credential the user had.
func (s *Store) CreateOTPCredential(ctx context.Context, c *store.OTPCredential) error {
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO otp_credentials
		(user_id, sealed_secret, last_step, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret,
		last_step = excluded.last_step, created_at = excluded.created_at`,
		c.UserID, blob(c.SealedSecret), c.LastStep, ts(c.CreatedAt))
	if err != nil {
		return wrapf(err, "create otp credential of user %q", c.UserID)
	}
	return nil
}

// GetOTPCredential returns the user's credential.
func (s *Store) GetOTPCredential(ctx context.Context, userID string) (*store.OTPCredential, error) {
	c, err := scanOTPCredential(s.q(ctx).QueryRow(ctx, `SELECT `+otpCols+`
		FROM otp_credentials WHERE user_id = $1`, userID))
	if err != nil {
		return nil, wrapf(err, "get otp credential of user %q", userID)
	}
	return c, nil
}

const otpCols = `user_id, sealed_secret, last_step, created_at`

func scanOTPCredential(row pgx.Row) (*store.OTPCredential, error) {
	var c store.OTPCredential
	if err := row.Scan(&c.UserID, &c.SealedSecret, &c.LastStep, tsDst{&c.CreatedAt}); err != nil {
		return nil, err
	}
	c.SealedSecret = noEmpty(c.SealedSecret)
	return &c, nil
}

// DeleteOTPCredential removes the user's credential.
func (s *Store) DeleteOTPCredential(ctx context.Context, userID string) error {
	err := execOne(ctx, s.q(ctx), `DELETE FROM otp_credentials WHERE user_id = $1`, userID)
	if err != nil {
		return wrapf(err, "delete otp credential of user %q", userID)
	}
	return nil
}

// AcceptOTPStep records step as the last one used. The comparison happens in the
// UPDATE itself, so of two replicas verifying the same code only one wins;
// the throttle's DELETE runs in the same statement, and only for the winner.
func (s *Store) AcceptOTPStep(ctx context.Context, userID string, step int64, throttleKey string) error {
	q := s.q(ctx)
	var accepted int
	if err := q.QueryRow(ctx, acceptOTPStep, userID, step, throttleKey).Scan(&accepted); err != nil {
		return wrapf(err, "accept otp step of user %q", userID)
	}
	if accepted == 1 {
		return nil
	}
	if err := exists(ctx, q, `SELECT FROM otp_credentials WHERE user_id = $1`, userID); err != nil {
		return wrapf(err, "accept otp step of user %q", userID)
	}
	return wrapf(store.ErrConflict, "accept otp step %d of user %q: replayed", step, userID)
}

const acceptOTPStep = `WITH accepted AS (
		UPDATE otp_credentials SET last_step = $2 WHERE user_id = $1 AND last_step < $2 RETURNING user_id),
	cleared AS (DELETE FROM throttles WHERE key = $3 AND $3 <> '' AND EXISTS (SELECT FROM accepted))
	SELECT count(*) FROM accepted`

// exists returns pgx.ErrNoRows when the query finds no row; conditional updates
// use it to tell a missing row from one in the wrong state.
func exists(ctx context.Context, q querier, sql string, args ...any) error {
	return q.QueryRow(ctx, sql, args...).Scan()
}

// GetThrottle returns the throttle of key, or a zero one when there is none.
func (s *Store) GetThrottle(ctx context.Context, key string) (*store.Throttle, error) {
	t, err := scanThrottleOrZero(s.q(ctx).QueryRow(ctx, `SELECT `+throttleCols+` FROM throttles WHERE key = $1`, key), key)
	if err != nil {
		return nil, wrapf(err, "get throttle %q", key)
	}
	return t, nil
}

const throttleCols = `key, failures, locked_until, updated_at`

// scanThrottleOrZero is scanThrottle, with a zero Throttle of key for no row.
func scanThrottleOrZero(row pgx.Row, key string) (*store.Throttle, error) {
	t, err := scanThrottle(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return &store.Throttle{Key: key}, nil
	}
	return t, err
}

func scanThrottle(row pgx.Row) (*store.Throttle, error) {
	var t store.Throttle
	if err := row.Scan(&t.Key, &t.Failures, tsDst{&t.LockedUntil}, tsDst{&t.UpdatedAt}); err != nil {
		return nil, err
	}
	return &t, nil
}

// AddFailure counts one failure of key at now and locks it for lockFor(failures).
// The upsert increments in place and holds the row lock until the transaction
// ends, so concurrent callers queue up and each sees its own count.
//
// The count and its lock are one transaction, so that no reader sees a count
// without its lock; the lock depends on the count, so it takes two
// statements. Outside a caller's transaction they go in two round trips, not
// four: BEGIN travels with the count, COMMIT with the lock (pgx batches).
func (s *Store) AddFailure(ctx context.Context, key string, now time.Time, lockFor func(failures int) time.Duration) (*store.Throttle, error) {
	var t *store.Throttle
	var err error
	if tx, ok := ctx.Value(txKey{}).(pgx.Tx); ok {
		t, err = addFailureIn(ctx, tx, key, now, lockFor)
	} else {
		err = store.Retry(ctx, func() error {
			var err error
			t, err = s.addFailureBatched(ctx, key, now, lockFor)
			return retryable(err)
		})
	}
	if err != nil {
		return nil, wrapf(err, "add failure to throttle %q", key)
	}
	return t, nil
}

const (
	countFailure = `INSERT INTO throttles (key, failures, updated_at)
		VALUES ($1, 1, $2) ON CONFLICT (key) DO UPDATE
		SET failures = throttles.failures + 1, updated_at = excluded.updated_at
		RETURNING failures`
	lockThrottle = `UPDATE throttles SET locked_until = $2
		WHERE key = $1 RETURNING key, failures, locked_until, updated_at`
)

// lockUntil is when a throttle with failures is locked until; zero for none.
func lockUntil(now time.Time, failures int, lockFor func(int) time.Duration) time.Time {
	if d := lockFor(failures); d > 0 {
		return now.Add(d)
	}
	return time.Time{}
}

// addFailureIn is AddFailure inside the caller's transaction.
func addFailureIn(ctx context.Context, q querier, key string, now time.Time, lockFor func(int) time.Duration) (*store.Throttle, error) {
	var failures int
	if err := q.QueryRow(ctx, countFailure, key, ts(now)).Scan(&failures); err != nil {
		return nil, err
	}
	return scanThrottle(q.QueryRow(ctx, lockThrottle, key, ts(lockUntil(now, failures, lockFor))))
}

// addFailureBatched is AddFailure as a transaction of its own in two round
// trips. A failure leaves the connection in an aborted transaction; ROLLBACK
// ends it, and the pool would close a connection still in one.
func (s *Store) addFailureBatched(ctx context.Context, key string, now time.Time, lockFor func(int) time.Duration) (t *store.Throttle, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	defer func() {
		if err != nil {
			_, _ = conn.Exec(context.WithoutCancel(ctx), `ROLLBACK`)
		}
	}()
	var failures int
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(countFailure, key, ts(now)).QueryRow(func(row pgx.Row) error { return row.Scan(&failures) })
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	b = &pgx.Batch{}
	b.Queue(lockThrottle, key, ts(lockUntil(now, failures, lockFor))).QueryRow(func(row pgx.Row) error {
		t, err = scanThrottle(row)
		return err
	})
	b.Queue(`COMMIT`)
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	return t, nil
}

// countFreeFailure counts a failure that stays below the lock in the one
// upsert: its WHERE leaves a locked key, or one at its free budget, as it
// is, and then nothing is returned. The row lock the upsert takes orders
// concurrent callers, so no two pass the budget's edge together.
const countFreeFailure = `INSERT INTO throttles (key, failures, updated_at)
	VALUES ($1, 1, $2) ON CONFLICT (key) DO UPDATE
	SET failures = CASE WHEN throttles.updated_at < $4 THEN 1 ELSE throttles.failures + 1 END,
		updated_at = excluded.updated_at, locked_until = NULL
	WHERE (throttles.locked_until IS NULL OR throttles.locked_until <= $2)
		AND (throttles.failures < $3 OR throttles.updated_at < $4)
	RETURNING key, failures, locked_until, updated_at`

// CountFreeFailure counts a failure in one round trip when it earns no lock.
func (s *Store) CountFreeFailure(ctx context.Context, key string, now time.Time, free int, restart time.Time) (*store.Throttle, bool, error) {
	if free < 1 {
		return nil, false, nil
	}
	t, err := scanThrottle(s.q(ctx).QueryRow(ctx, countFreeFailure, key, ts(now), free, ts(restart)))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, wrapf(err, "count failure of throttle %q", key)
	}
	return t, true, nil
}

// ResetThrottle forgets the failures of keys in one statement; resetting an
// unknown key is fine.
func (s *Store) ResetThrottle(ctx context.Context, keys ...string) error {
	if _, err := s.q(ctx).Exec(ctx, `DELETE FROM throttles WHERE key = ANY($1)`, keys); err != nil {
		return wrapf(err, "reset throttles %q", keys)
	}
	return nil
}
