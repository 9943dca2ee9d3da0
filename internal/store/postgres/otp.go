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
	c := store.OTPCredential{UserID: userID}
	err := s.q(ctx).QueryRow(ctx, `SELECT sealed_secret, last_step, created_at
		FROM otp_credentials WHERE user_id = $1`, userID).
		Scan(&c.SealedSecret, &c.LastStep, tsDst{&c.CreatedAt})
	if err != nil {
		return nil, wrapf(err, "get otp credential of user %q", userID)
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
// UPDATE itself, so of two replicas verifying the same code only one wins.
func (s *Store) AcceptOTPStep(ctx context.Context, userID string, step int64) error {
	q := s.q(ctx)
	tag, err := q.Exec(ctx, `UPDATE otp_credentials SET last_step = $2
		WHERE user_id = $1 AND last_step < $2`, userID, step)
	if err != nil {
		return wrapf(err, "accept otp step of user %q", userID)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	if err := exists(ctx, q, `SELECT FROM otp_credentials WHERE user_id = $1`, userID); err != nil {
		return wrapf(err, "accept otp step of user %q", userID)
	}
	return wrapf(store.ErrConflict, "accept otp step %d of user %q: replayed", step, userID)
}

// exists returns pgx.ErrNoRows when the query finds no row; conditional updates
// use it to tell a missing row from one in the wrong state.
func exists(ctx context.Context, q querier, sql string, args ...any) error {
	return q.QueryRow(ctx, sql, args...).Scan()
}

// GetThrottle returns the throttle of key, or a zero one when there is none.
func (s *Store) GetThrottle(ctx context.Context, key string) (*store.Throttle, error) {
	t, err := scanThrottle(s.q(ctx).QueryRow(ctx,
		`SELECT key, failures, locked_until, updated_at FROM throttles WHERE key = $1`, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return &store.Throttle{Key: key}, nil
	}
	if err != nil {
		return nil, wrapf(err, "get throttle %q", key)
	}
	return t, nil
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
func (s *Store) AddFailure(ctx context.Context, key string, now time.Time, lockFor func(failures int) time.Duration) (*store.Throttle, error) {
	var t *store.Throttle
	err := s.inTx(ctx, func(q querier) error {
		var failures int
		err := q.QueryRow(ctx, `INSERT INTO throttles (key, failures, updated_at)
			VALUES ($1, 1, $2) ON CONFLICT (key) DO UPDATE
			SET failures = throttles.failures + 1, updated_at = excluded.updated_at
			RETURNING failures`, key, ts(now)).Scan(&failures)
		if err != nil {
			return err
		}
		var until time.Time
		if d := lockFor(failures); d > 0 {
			until = now.Add(d)
		}
		t, err = scanThrottle(q.QueryRow(ctx, `UPDATE throttles SET locked_until = $2
			WHERE key = $1 RETURNING key, failures, locked_until, updated_at`, key, ts(until)))
		return err
	})
	if err != nil {
		return nil, wrapf(err, "add failure to throttle %q", key)
	}
	return t, nil
}

// ResetThrottle forgets the failures of key; resetting an unknown key is fine.
func (s *Store) ResetThrottle(ctx context.Context, key string) error {
	if _, err := s.q(ctx).Exec(ctx, `DELETE FROM throttles WHERE key = $1`, key); err != nil {
		return wrapf(err, "reset throttle %q", key)
	}
	return nil
}
