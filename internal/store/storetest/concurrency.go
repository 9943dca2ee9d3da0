package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

var concurrencyTests = []test{
	{"AddFailure", testRaceAddFailure},
	{"AddFailureLockAtomic", testRaceAddFailureLockAtomic},
	{"CountFreeFailure", testRaceCountFreeFailure},
	{"UseActionToken", testRaceUseActionToken},
	{"SignInEndsLogin", testRaceSignIn},
	{"LoginStateOneUser", testRaceLoginState},
	{"DeactivateToken", testRaceDeactivateToken},
	{"RotateToken", testRaceRotateToken},
	{"RotateTokenGrace", testRaceRotateTokenGrace},
	{"AcceptOTPStepSame", testRaceOTPSameStep},
	{"AcceptOTPStepRising", testRaceOTPRisingSteps},
	{"CreateUserSameName", testRaceCreateUser},
	{"UpdateUserInTx", testRaceUpdateUser},
}

// race runs fn(i) for i in [0, n) on n goroutines released together, and
// returns the errors by i.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner asserts that exactly one of errs is nil and every other is
// store.ErrConflict: the conditional update let exactly one caller through.
func oneWinner(t *testing.T, what string, errs []error) {
	t.Helper()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("%s #%d: %v, want nil or ErrConflict", what, i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%s: %d of %d callers succeeded, want exactly 1", what, wins, len(errs))
	}
}

func testRaceAddFailure(t *testing.T, s store.Store) {
	const n = 20
	counts := make([]int, n)
	errs := race(n, func(i int) error {
		th, err := s.AddFailure(t.Context(), "otp:alice", t0, lockAfter3)
		if err == nil {
			counts[i] = th.Failures
		}
		return err
	})
	for _, err := range errs {
		must(t, err)
	}
	got := get(s.GetThrottle(t.Context(), "otp:alice"))(t)
	if got.Failures != n {
		t.Errorf("after %d concurrent failures the count is %d", n, got.Failures)
	}
	// The lock the highest count earns stands, whichever caller wrote last.
	if want := t0.Add(lockAfter3(n)).Truncate(time.Microsecond); !got.LockedUntil.Equal(want) {
		t.Errorf("after %d concurrent failures locked until %v, want %v", n, got.LockedUntil, want)
	}
	// Each caller saw its own count: no two read the same value.
	slices.Sort(counts)
	for i, c := range counts {
		if c != i+1 {
			t.Fatalf("counts seen by the callers = %v, want 1..%d once each", counts, n)
		}
	}
}

// testRaceCountFreeFailure: of many concurrent callers, exactly the free
// budget's worth count, whatever their order.
func testRaceCountFreeFailure(t *testing.T, s store.Store) {
	const n, free = 20, 5
	counted := make([]bool, n)
	errs := race(n, func(i int) error {
		_, ok, err := s.CountFreeFailure(t.Context(), "pwd:alice", t0, free, time.Time{})
		counted[i] = ok
		return err
	})
	for _, err := range errs {
		must(t, err)
	}
	if got := len(slices.DeleteFunc(counted, func(ok bool) bool { return !ok })); got != free {
		t.Errorf("%d of %d concurrent callers counted, want the budget of %d", got, n, free)
	}
	if got := get(s.GetThrottle(t.Context(), "pwd:alice"))(t); got.Failures != free {
		t.Errorf("after the race the count is %d, want %d", got.Failures, free)
	}
}

// testRaceAddFailureLockAtomic reads the throttle from another connection at
// the moment AddFailure has counted a failure that earns a lock and is about
// to set it: the count must not be visible yet without its lock, or a guess
// checked in that moment would pass a lock that is due (the lockout's
// concurrency check reads the throttle first).
func testRaceAddFailureLockAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	for range 2 {
		get(s.AddFailure(ctx, "otp:alice", t0, lockAfter3))(t)
	}
	var seen *store.Throttle
	get(s.AddFailure(ctx, "otp:alice", t0, func(n int) time.Duration {
		seen = get(s.GetThrottle(ctx, "otp:alice"))(t)
		return lockAfter3(n)
	}))(t)
	if seen.Failures >= 3 && seen.LockedUntil.IsZero() {
		t.Errorf("while the third failure was being counted, another reader saw %+v: the count without its lock", seen)
	}
	if th := get(s.GetThrottle(ctx, "otp:alice"))(t); th.Failures != 3 || th.LockedUntil.IsZero() {
		t.Errorf("after three failures: %+v, want 3 and a lock", th)
	}
}

func testRaceUseActionToken(t *testing.T, s store.Store) {
	at := newActionToken(mkUser(t, s, "alice").ID, store.ActionReset, t0)
	must(t, s.CreateActionToken(t.Context(), at))
	oneWinner(t, "UseActionToken", race(10, func(i int) error {
		return s.UseActionToken(t.Context(), at.ID, t0.Add(time.Duration(i)*time.Second))
	}))
}

// testRaceSignIn: of concurrent sign-ins ending one login transaction,
// exactly one stores its session.
func testRaceSignIn(t *testing.T, s store.Store) {
	u := mkUser(t, s, "alice")
	lt := fullLoginTx()
	must(t, s.CreateLoginTransaction(t.Context(), lt))
	sessions := make([]*store.Session, 10)
	for i := range sessions {
		sessions[i] = fullSession(u.ID)
	}
	errs := race(len(sessions), func(i int) error {
		return s.SignIn(t.Context(), lt.ID, sessions[i], &store.AuditEvent{Time: t0, Type: signInEvent, UserID: u.ID})
	})
	for i, err := range errs {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SignIn #%d: %v, want nil or ErrNotFound", i, err)
		}
	}
	stored := 0
	for _, ss := range sessions {
		if _, err := s.GetSession(t.Context(), ss.ID, t0); err == nil {
			stored++
		}
	}
	if stored != 1 {
		t.Errorf("%d sessions stored, want 1", stored)
	}
}

// testRaceLoginState: while the login transaction's user changes back and
// forth (a password step, then an upstream sign-in, in one browser's
// login), GetLoginState never pairs one user with another's missing
// records. alice has an authenticator and a security key, bob neither: a
// state of alice without them would send her to enrolment after her
// password alone.
func testRaceLoginState(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice, bob := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	must(t, s.CreateOTPCredential(ctx, fullOTP(alice.ID)))
	must(t, s.CreateWebAuthnCredential(ctx, fullWebAuthn(alice.ID, "YubiKey", t0)))
	lt := fullLoginTx()
	lt.UserID = alice.ID
	must(t, s.CreateLoginTransaction(ctx, lt))

	done := make(chan struct{})
	flipped := make(chan error, 1)
	go func() {
		flip := clone(lt)
		for i := 0; ; i++ {
			select {
			case <-done:
				flipped <- nil
				return
			default:
			}
			flip.UserID = []string{bob.ID, alice.ID}[i%2]
			if err := s.UpdateLoginTransaction(ctx, flip); err != nil {
				flipped <- err
				return
			}
		}
	}()
	defer func() {
		close(done)
		must(t, <-flipped)
	}()
	for range 2000 {
		ls := get(s.GetLoginState(ctx, lt.ID, "", t0))(t)
		if ls.User == nil || ls.User.ID != ls.Transaction.UserID {
			t.Fatalf("GetLoginState: transaction of %s with user %+v", ls.Transaction.UserID, ls.User)
		}
		if ls.User.ID == alice.ID && (ls.OTP == nil || len(ls.SecurityKeys) != 1) {
			t.Fatalf("GetLoginState: alice with authenticator %+v and %d security keys, want hers", ls.OTP, len(ls.SecurityKeys))
		}
		if ls.User.ID == bob.ID && (ls.OTP != nil || len(ls.SecurityKeys) != 0) {
			t.Fatalf("GetLoginState: bob with authenticator %+v and %d security keys, want none", ls.OTP, len(ls.SecurityKeys))
		}
	}
}

func testRaceDeactivateToken(t *testing.T, s store.Store) {
	tok := fullToken(store.TokenRefresh, "sig")
	must(t, s.CreateToken(t.Context(), tok))
	oneWinner(t, "DeactivateToken", race(10, func(int) error {
		return s.DeactivateToken(t.Context(), tok.Kind, tok.Signature)
	}))
	if get(s.GetToken(t.Context(), tok.Kind, tok.Signature))(t).Active {
		t.Error("token still active")
	}
}

func testRaceRotateToken(t *testing.T, s store.Store) {
	tok := fullToken(store.TokenRefresh, "sig")
	must(t, s.CreateToken(t.Context(), tok))
	oneWinner(t, "RotateToken", race(10, func(int) error {
		graced, err := s.RotateToken(t.Context(), tok.Kind, tok.Signature, t0, time.Time{})
		if graced {
			return fmt.Errorf("graced without a grace")
		}
		return err
	}))
}

// Within the grace every concurrent rotation succeeds, and exactly one of
// them is the rotation.
func testRaceRotateTokenGrace(t *testing.T, s store.Store) {
	tok := fullToken(store.TokenRefresh, "sig")
	must(t, s.CreateToken(t.Context(), tok))
	const n = 10
	graced := make([]bool, n)
	errs := race(n, func(i int) error {
		now := t0.Add(time.Duration(i) * time.Millisecond)
		var err error
		graced[i], err = s.RotateToken(t.Context(), tok.Kind, tok.Signature, now, now.Add(-time.Minute))
		return err
	})
	rotations := 0
	for i, err := range errs {
		must(t, err)
		if !graced[i] {
			rotations++
		}
	}
	if rotations != 1 {
		t.Errorf("%d of %d concurrent rotations within the grace rotated, want exactly 1 (the others graced)", rotations, n)
	}
}

func testRaceOTPSameStep(t *testing.T, s store.Store) {
	c := fullOTP(mkUser(t, s, "alice").ID)
	must(t, s.CreateOTPCredential(t.Context(), c))
	oneWinner(t, "AcceptOTPStep", race(10, func(int) error {
		return s.AcceptOTPStep(t.Context(), c.UserID, c.LastStep+1, "")
	}))
}

func testRaceOTPRisingSteps(t *testing.T, s store.Store) {
	c := fullOTP(mkUser(t, s, "alice").ID)
	must(t, s.CreateOTPCredential(t.Context(), c))
	const n = 10
	errs := race(n, func(i int) error {
		return s.AcceptOTPStep(t.Context(), c.UserID, c.LastStep+1+int64(i), "")
	})
	for i, err := range errs {
		if err != nil && !errors.Is(err, store.ErrConflict) {
			t.Errorf("AcceptOTPStep #%d: %v", i, err)
		}
	}
	// The highest step can never be a replay, and nothing may move LastStep back.
	must(t, errs[n-1])
	if got := get(s.GetOTPCredential(t.Context(), c.UserID))(t); got.LastStep != c.LastStep+n {
		t.Errorf("LastStep = %d, want %d", got.LastStep, c.LastStep+n)
	}
}

func testRaceCreateUser(t *testing.T, s store.Store) {
	oneWinner(t, "CreateUser", race(10, func(i int) error {
		u := fullUser("Alice")
		u.Email = fmt.Sprintf("alice%d@example.com", i) // only the name collides
		if i%2 == 1 {
			u.Username = "ALICE"
		}
		return s.CreateUser(t.Context(), u)
	}))
}

// testRaceUpdateUser is the read-modify-write of an admin form: each caller
// re-reads the user inside store.InTx and bumps a counter. A backend may
// serialise the callers or fail some with ErrRetry, which InTx runs again;
// ten callers on one row may outlast its attempts, and such a caller hears
// ErrRetry (and ErrUnavailable). But no increment may be lost, and none may
// count without its caller hearing of success.
func testRaceUpdateUser(t *testing.T, s store.Store) {
	id := mkCounter(t, s)
	const n = 10
	errs := race(n, func(int) error { return increment(t.Context(), s, id) })
	done := 0
	for _, err := range errs {
		switch {
		case err == nil:
			done++
		case !errors.Is(err, store.ErrRetry) || !errors.Is(err, store.ErrUnavailable):
			t.Errorf("increment: %v, want nil or ErrRetry with ErrUnavailable", err)
		}
	}
	if done == 0 {
		t.Error("no increment succeeded")
	}
	if _, got := get3(counter(t.Context(), s, id))(t); got != done {
		t.Errorf("counter = %d after %d successful increments", got, done)
	}
}
