package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authz/authz/internal/store"
)

// txAttempts bounds how often write runs a transaction that lost a conflict.
const txAttempts = 3

// errDuplicate means another user already has the username or e-mail.
var errDuplicate = errors.New("admin: username or e-mail taken")

// write runs fn in one transaction, again when it fails with store.ErrConflict:
// PostgreSQL aborts one of two conflicting serializable transactions, and the
// store leaves the retry to its caller. fn must be safe to run again.
func (c *Console) write(ctx context.Context, fn func(ctx context.Context) error) error {
	var err error
	for range txAttempts {
		err = store.InTx(ctx, c.Store, fn)
		if !errors.Is(err, store.ErrConflict) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// isDuplicate reports a taken username or e-mail. A conflict that outlived
// write's retries is one too: the check before the write saw no other user, so
// a concurrent request took the name between check and write.
func isDuplicate(err error) bool {
	return errors.Is(err, errDuplicate) || errors.Is(err, store.ErrConflict)
}

// checkUnique returns errDuplicate when a user other than u has u's username
// or e-mail. Checking first, rather than reading the unique index's error,
// tells a taken name apart from a serialization conflict worth retrying.
func (c *Console) checkUnique(ctx context.Context, u *store.User) error {
	lookups := []struct {
		what string
		get  func(context.Context, string) (*store.User, error)
		key  string
	}{
		{"username", c.Store.GetUserByUsername, u.Username},
		{"e-mail", c.Store.GetUserByEmail, u.Email},
	}
	for _, l := range lookups {
		other, err := l.get(ctx, l.key)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return fmt.Errorf("admin: look up %s: %w", l.what, err)
		case other.ID != u.ID:
			return fmt.Errorf("%w: %s", errDuplicate, l.what)
		}
	}
	return nil
}

// bump returns the new UpdatedAt of a user last updated at prev: now, but
// always later than prev. The login pipeline compares UpdatedAt to refuse an
// enrollment form shown before an administrator's change, so a change must
// never leave it equal.
func (c *Console) bump(prev time.Time) time.Time {
	now := c.now()
	if !now.After(prev) {
		now = prev.Add(time.Microsecond)
	}
	return now
}
