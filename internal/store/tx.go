package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// TxAttempts is how often InTx runs a transaction that keeps failing with
// ErrRetry before it gives up.
const TxAttempts = 5

// retryPause is the longest pause before the second attempt; it doubles for
// each further one. A transaction mostly loses to one that has just
// committed, so a few milliseconds are enough, and the random part keeps the
// losers of one conflict from meeting again in step.
const retryPause = 4 * time.Millisecond

// InTx runs fn inside a transaction of s, committing when fn returns nil and
// rolling back otherwise.
//
// A transaction that fails with ErrRetry, in fn or at commit, lost to a
// concurrent one and did nothing; InTx rolls it back and runs it again,
// through Retry, which bounds the attempts and says what comes back when
// they run out. fn must therefore be safe to run again: it reads inside the
// transaction whatever it decides on, and anything it hands out beyond the
// store is set afresh by each run. Any other error of fn, ErrConflict among
// them, ends InTx at once: it is the answer, and running again would only
// find it again.
//
// A ctx already carrying a transaction is reused and fn runs exactly once.
// A lost transaction is lost whole (PostgreSQL accepts nothing more in it),
// so only the outermost InTx, which began it, can run it again: fn returns
// ErrRetry up to it, wrapped or not, but never swallows it.
func InTx(ctx context.Context, s Store, fn func(ctx context.Context) error) error {
	if inTx(ctx) {
		return fn(ctx)
	}
	return Retry(ctx, func() error { return runTx(ctx, s, fn) })
}

// runTx is one attempt of InTx.
func runTx(ctx context.Context, s Store, fn func(ctx context.Context) error) error {
	txCtx, err := s.BeginTx(ctx)
	if err != nil {
		return err
	}
	if err := fn(txCtx); err != nil {
		_ = s.Rollback(txCtx)
		return err
	}
	return s.Commit(txCtx)
}

// Retry calls attempt until it returns anything but an error matching
// ErrRetry, at most TxAttempts times, pausing a few random milliseconds
// (more after each loss) between calls. It is InTx's loop; backends use it
// too, for the statements and transactions they run on their own outside a
// caller's transaction, so that those never fail with ErrRetry alone.
//
// When the attempts run out, the error wraps the last one (so it still
// matches ErrRetry) and ErrUnavailable: the store cannot do the work now,
// and the request may succeed later. When ctx ends during a pause, the error
// wraps ctx's error and the last one.
func Retry(ctx context.Context, attempt func() error) error {
	err := attempt()
	for i := 1; i < TxAttempts && errors.Is(err, ErrRetry); i++ {
		if perr := pause(ctx, i); perr != nil {
			return fmt.Errorf("store: stopped retrying: %w: %w", perr, err)
		}
		err = attempt()
	}
	if errors.Is(err, ErrRetry) {
		return fmt.Errorf("%w: %d attempts lost to concurrent transactions: %w", ErrUnavailable, TxAttempts, err)
	}
	return err
}

// pause waits before attempt n+1 (n ≥ 1): between half and all of
// retryPause·2ⁿ⁻¹, or until ctx ends.
func pause(ctx context.Context, n int) error {
	d := retryPause << (n - 1)
	t := time.NewTimer(d/2 + rand.N(d/2))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

type txMarkerKey struct{}

// MarkTx returns ctx marked as carrying a transaction; backends call it in BeginTx
// so InTx can nest.
func MarkTx(ctx context.Context) context.Context {
	return context.WithValue(ctx, txMarkerKey{}, true)
}

func inTx(ctx context.Context) bool {
	v, _ := ctx.Value(txMarkerKey{}).(bool)
	return v
}
