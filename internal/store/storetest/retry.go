package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

// retryTests hold a backend and store.InTx to the error contract: ErrRetry
// for a transaction lost to a concurrent one, which InTx runs again a bounded
// number of times; ErrConflict only for what the data says, never retried.
var retryTests = []test{
	{"RunsAgainOnErrRetry", testRetryAgain},
	{"GivesUpAfterTxAttempts", testRetryGivesUp},
	{"StopsWhenContextEnds", testRetryContextEnds},
	{"ConflictIsNotRetried", testRetryNotConflict},
	{"NestedRetriesOutermost", testRetryNested},
	{"ConflictingTransactions", testRetryConflictingTxs},
	{"ContendedLinkIsUsed", testRetryContendedLink},
	{"LinkUsedOnceUnderContention", testRetryLinkRace},
}

// testRetryAgain: a transaction that fails with ErrRetry is rolled back and
// run again until it succeeds; only the last run's writes are kept.
func testRetryAgain(t *testing.T, s store.Store) {
	ctx := t.Context()
	var made []*store.User
	err := store.InTx(ctx, s, func(ctx context.Context) error {
		u := fullUser(fmt.Sprintf("user%d", len(made)))
		made = append(made, u)
		if err := s.CreateUser(ctx, u); err != nil {
			return err
		}
		if len(made) < 3 {
			return fmt.Errorf("lost to another transaction: %w", store.ErrRetry)
		}
		return nil
	})
	must(t, err)
	if len(made) != 3 {
		t.Fatalf("fn ran %d times, want 3", len(made))
	}
	for _, u := range made[:2] {
		_, err := s.GetUser(ctx, u.ID)
		wantErr(t, "GetUser of a lost run's user", err, store.ErrNotFound)
	}
	get(s.GetUser(ctx, made[2].ID))(t)
}

// testRetryGivesUp: a transaction that always loses is run TxAttempts times,
// and the error still says why, and that the store cannot do it now.
func testRetryGivesUp(t *testing.T, s store.Store) {
	ctx := t.Context()
	runs := 0
	err := store.InTx(ctx, s, func(ctx context.Context) error {
		runs++
		if err := s.CreateUser(ctx, fullUser(fmt.Sprintf("user%d", runs))); err != nil {
			return err
		}
		return fmt.Errorf("lost again: %w", store.ErrRetry)
	})
	if runs != store.TxAttempts {
		t.Errorf("fn ran %d times, want store.TxAttempts = %d", runs, store.TxAttempts)
	}
	wantErr(t, "InTx that always loses", err, store.ErrRetry)
	wantErr(t, "InTx that always loses", err, store.ErrUnavailable)
	if _, n := get2(s.ListUsers(ctx, store.UserFilter{}))(t); n != 0 {
		t.Errorf("%d users of lost runs were kept", n)
	}
}

// testRetryContextEnds: no further run once the caller has gone.
func testRetryContextEnds(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	runs := 0
	err := store.InTx(ctx, s, func(context.Context) error {
		runs++
		cancel()
		return store.ErrRetry
	})
	if runs != 1 {
		t.Errorf("fn ran %d times after its context ended, want 1", runs)
	}
	wantErr(t, "InTx after cancel", err, context.Canceled)
	wantErr(t, "InTx after cancel", err, store.ErrRetry)
	must(t, s.CreateUser(t.Context(), fullUser("alice"))) // the store is free again
}

// testRetryNotConflict: ErrConflict and ErrNotFound are answers, returned
// from the first run.
func testRetryNotConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	at := newActionToken(u.ID, store.ActionReset, t0)
	must(t, s.CreateActionToken(ctx, at))
	must(t, s.UseActionToken(ctx, at.ID, t0.Add(time.Minute)))
	cred := fullOTP(u.ID)
	must(t, s.CreateOTPCredential(ctx, cred))

	for _, c := range []struct {
		what string
		fn   func(ctx context.Context) error
		want error
	}{
		{"CreateUser of a taken name", func(ctx context.Context) error {
			dup := fullUser("alice")
			dup.Email = "other@example.com"
			return s.CreateUser(ctx, dup)
		}, store.ErrConflict},
		{"UseActionToken of a used link", func(ctx context.Context) error {
			return s.UseActionToken(ctx, at.ID, t0.Add(time.Hour))
		}, store.ErrConflict},
		{"AcceptOTPStep of a replayed step", func(ctx context.Context) error {
			return s.AcceptOTPStep(ctx, u.ID, cred.LastStep, "")
		}, store.ErrConflict},
		{"UseActionToken of an unknown link", func(ctx context.Context) error {
			return s.UseActionToken(ctx, "nope", t0)
		}, store.ErrNotFound},
	} {
		runs := 0
		err := store.InTx(ctx, s, func(ctx context.Context) error {
			runs++
			return c.fn(ctx)
		})
		wantErr(t, c.what, err, c.want)
		if errors.Is(err, store.ErrRetry) || errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s: %v, an answer about the data taken for contention", c.what, err)
		}
		if runs != 1 {
			t.Errorf("%s: fn ran %d times, want 1", c.what, runs)
		}
	}
}

// testRetryNested: an InTx inside another joins its transaction and does
// not retry by itself; the outermost runs the whole transaction again.
func testRetryNested(t *testing.T, s store.Store) {
	ctx := t.Context()
	var runs []string
	var inner *store.User
	err := store.InTx(ctx, s, func(ctx context.Context) error {
		runs = append(runs, "outer")
		return store.InTx(ctx, s, func(ctx context.Context) error {
			runs = append(runs, "inner")
			if len(runs) == 2 {
				return store.ErrRetry
			}
			inner = fullUser("alice")
			return s.CreateUser(ctx, inner)
		})
	})
	must(t, err)
	if want := []string{"outer", "inner", "outer", "inner"}; !slices.Equal(runs, want) {
		t.Errorf("runs = %v, want %v", runs, want)
	}
	get(s.GetUser(ctx, inner.ID))(t)
}

// testRetryConflictingTxs: two read-modify-write transactions of one row
// overlap; both succeed, and the result is that of running them one after
// the other. Where the backend lets them overlap (PostgreSQL), the first to
// write wins and the other, which read the old value, is run again.
func testRetryConflictingTxs(t *testing.T, s store.Store) {
	ctx := t.Context()
	id := mkCounter(t, s)
	var other func() error
	err := store.InTx(ctx, s, func(txCtx context.Context) error {
		u, n, err := counter(txCtx, s, id)
		if err != nil {
			return err
		}
		if other == nil {
			other = meanwhile(ctx, s, func(ctx context.Context) error { return increment(ctx, s, id) })
		}
		return setCounter(txCtx, s, u, n+1)
	})
	must(t, err)
	must(t, other())
	if _, n := get3(counter(ctx, s, id))(t); n != 2 {
		t.Errorf("counter = %d after two increments", n)
	}
}

// testRetryContendedLink is the password-setup link of a user whom an
// administrator edits at the same moment: the link must work, not look used.
func testRetryContendedLink(t *testing.T, s store.Store) {
	ctx := t.Context()
	id := mkCounter(t, s)
	at := newActionToken(id, store.ActionSetup, t0)
	must(t, s.CreateActionToken(ctx, at))
	usedAt := t0.Add(time.Minute)
	var admin func() error
	err := store.InTx(ctx, s, func(txCtx context.Context) error {
		if err := s.UseActionToken(txCtx, at.ID, usedAt); err != nil {
			return err
		}
		u, _, err := counter(txCtx, s, id)
		if err != nil {
			return err
		}
		if admin == nil {
			admin = meanwhile(ctx, s, func(ctx context.Context) error { return increment(ctx, s, id) })
		}
		u.PasswordHash = "new password"
		return s.UpdateUser(txCtx, u)
	})
	if err != nil {
		t.Fatalf("setting a password through an unused link during an administrator's edit: %v", err)
	}
	must(t, admin())
	u, n := get3(counter(ctx, s, id))(t)
	if u.PasswordHash != "new password" || n != 1 {
		t.Errorf("user = {PasswordHash: %q, counter: %d}, want both the new password and the administrator's edit", u.PasswordHash, n)
	}
	if got := get(s.GetActionToken(ctx, at.ID))(t); !sameTime(got.UsedAt, usedAt) {
		t.Errorf("link used at %v, want %v", got.UsedAt, usedAt)
	}
}

// testRetryLinkRace: a single-use link opened from many browsers at once
// sets one password; every other caller hears "already used", none a
// contention error. Each caller reads the link first, as the login pipeline
// does, and where the backend lets them (PostgreSQL) all have read it unused
// before any uses it.
func testRetryLinkRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	at := newActionToken(u.ID, store.ActionReset, t0)
	must(t, s.CreateActionToken(ctx, at))
	const n = 8
	usedAt := func(i int) time.Time { return t0.Add(time.Duration(i+1) * time.Second) }
	allRead := newGate(n)
	errs := race(n, func(i int) error {
		return store.InTx(ctx, s, func(ctx context.Context) error {
			if _, err := s.GetActionToken(ctx, at.ID); err != nil {
				return err
			}
			allRead.wait()
			if err := s.UseActionToken(ctx, at.ID, usedAt(i)); err != nil {
				return err
			}
			cur, err := s.GetUser(ctx, u.ID)
			if err != nil {
				return err
			}
			cur.PasswordHash = "password " + strconv.Itoa(i)
			return s.UpdateUser(ctx, cur)
		})
	})
	for i, err := range errs {
		if errors.Is(err, store.ErrRetry) {
			t.Errorf("caller %d: contention reached the caller: %v", i, err)
		}
	}
	oneWinner(t, "password set through one link", errs)
	winner := slices.Index(errs, nil)
	if winner < 0 {
		return
	}
	if got := get(s.GetActionToken(ctx, at.ID))(t); !sameTime(got.UsedAt, usedAt(winner)) {
		t.Errorf("link used at %v, want the winner's %v", got.UsedAt, usedAt(winner))
	}
	if got := get(s.GetUser(ctx, u.ID))(t); got.PasswordHash != "password "+strconv.Itoa(winner) {
		t.Errorf("password = %q, want the winner's", got.PasswordHash)
	}
}

// overlapGrace bounds how long meanwhile waits for the transaction it
// started. It only decides whether the two transactions overlap, never what
// the tests check.
const overlapGrace = 250 * time.Millisecond

// meanwhile runs fn through store.InTx on another goroutine, from ctx (which
// must carry no transaction), and waits for it to finish, so that it commits
// in the middle of the caller's transaction. A backend that serialises
// writers (SQLite) cannot start it before the caller's transaction ends:
// after overlapGrace the caller goes on, and fn runs after it. The returned
// function waits for fn and returns its error.
func meanwhile(ctx context.Context, s store.Store, fn func(ctx context.Context) error) (wait func() error) {
	done := make(chan error, 1)
	go func() { done <- store.InTx(ctx, s, fn) }()
	select {
	case err := <-done:
		return func() error { return err }
	case <-time.After(overlapGrace):
		return func() error { return <-done }
	}
}

// gate holds up to n callers until all n have reached it, so that their
// transactions overlap. A backend that serialises writers lets only one in
// at a time: overlapGrace after the first caller arrived the gate opens for
// good, and everyone goes on without waiting.
type gate struct {
	n       int
	mu      sync.Mutex
	arrived int
	open    chan struct{}
	once    sync.Once
}

func newGate(n int) *gate { return &gate{n: n, open: make(chan struct{})} }

func (g *gate) wait() {
	g.mu.Lock()
	g.arrived++
	if g.arrived == g.n {
		g.once.Do(func() { close(g.open) })
	}
	g.mu.Unlock()
	select {
	case <-g.open:
	case <-time.After(overlapGrace):
		g.once.Do(func() { close(g.open) })
	}
}

// mkCounter stores a user whose LastName holds a counter at 0, for
// read-modify-write tests, and returns its ID.
func mkCounter(t *testing.T, s store.Store) string {
	t.Helper()
	u := fullUser("alice")
	u.LastName = "0"
	must(t, s.CreateUser(t.Context(), u))
	return u.ID
}

// counter reads the user and the counter in its LastName.
func counter(ctx context.Context, s store.Store, id string) (*store.User, int, error) {
	u, err := s.GetUser(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	n, err := strconv.Atoi(u.LastName)
	return u, n, err
}

// setCounter writes u back with the counter at n.
func setCounter(ctx context.Context, s store.Store, u *store.User, n int) error {
	u.LastName = strconv.Itoa(n)
	return s.UpdateUser(ctx, u)
}

// increment adds one to the counter in a transaction of its own, the
// read-modify-write of an administrator's form.
func increment(ctx context.Context, s store.Store, id string) error {
	return store.InTx(ctx, s, func(ctx context.Context) error {
		u, n, err := counter(ctx, s, id)
		if err != nil {
			return err
		}
		return setCounter(ctx, s, u, n+1)
	})
}

// get3 is get for counter's results.
func get3[A, B any](a A, b B, err error) func(t *testing.T) (A, B) {
	return func(t *testing.T) (A, B) {
		t.Helper()
		must(t, err)
		return a, b
	}
}
