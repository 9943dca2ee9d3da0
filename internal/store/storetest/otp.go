package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

var otpTests = []test{
	{"CreateAndGet", testOTPCreateGet},
	{"CreateReplaces", testOTPReplace},
	{"Delete", testOTPDelete},
	{"Missing", testOTPMissing},
	{"AcceptStep", testOTPAcceptStep},
	{"AcceptStepResetsThrottle", testOTPAcceptStepThrottle},
}

func testOTPCreateGet(t *testing.T, s store.Store) {
	c := fullOTP(mkUser(t, s, "alice").ID)
	complete(t, c)
	must(t, s.CreateOTPCredential(t.Context(), c))
	same(t, "GetOTPCredential", c, get(s.GetOTPCredential(t.Context(), c.UserID))(t))
}

func testOTPReplace(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	must(t, s.CreateOTPCredential(ctx, fullOTP(u.ID)))
	// Re-enrolling a new device replaces the old seed and its replay state.
	c2 := &store.OTPCredential{UserID: u.ID, SealedSecret: []byte("new device"), LastStep: 0, CreatedAt: t0.Add(time.Hour)}
	must(t, s.CreateOTPCredential(ctx, c2))
	same(t, "credential after re-enrolment", c2, get(s.GetOTPCredential(ctx, u.ID))(t))
}

func testOTPDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mkUser(t, s, "alice"), mkUser(t, s, "bob")
	must(t, s.CreateOTPCredential(ctx, fullOTP(a.ID)))
	must(t, s.CreateOTPCredential(ctx, fullOTP(b.ID)))
	must(t, s.DeleteOTPCredential(ctx, a.ID))

	_, err := s.GetOTPCredential(ctx, a.ID)
	wantErr(t, "GetOTPCredential after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteOTPCredential twice", s.DeleteOTPCredential(ctx, a.ID), store.ErrNotFound)
	get(s.GetOTPCredential(ctx, b.ID))(t)
}

func testOTPMissing(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := mkUser(t, s, "alice")
	_, err := s.GetOTPCredential(ctx, u.ID)
	wantErr(t, "GetOTPCredential", err, store.ErrNotFound)
	wantErr(t, "DeleteOTPCredential", s.DeleteOTPCredential(ctx, u.ID), store.ErrNotFound)
	wantErr(t, "AcceptOTPStep", s.AcceptOTPStep(ctx, u.ID, 1, ""), store.ErrNotFound)
}

func testOTPAcceptStep(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := fullOTP(mkUser(t, s, "alice").ID)
	c.LastStep = 1000
	must(t, s.CreateOTPCredential(ctx, c))

	for _, step := range []struct {
		n  int64
		ok bool
	}{
		{1000, false}, // the step accepted at enrolment
		{1001, true},
		{1001, false}, // replay
		{999, false},  // older
		{1005, true},  // steps may be skipped
		{1004, false},
	} {
		err := s.AcceptOTPStep(ctx, c.UserID, step.n, "")
		if step.ok {
			must(t, err)
		} else {
			wantErr(t, "AcceptOTPStep replay", err, store.ErrConflict)
		}
	}
	if got := get(s.GetOTPCredential(ctx, c.UserID))(t); got.LastStep != 1005 {
		t.Errorf("LastStep = %d, want 1005", got.LastStep)
	}
}

// testOTPAcceptStepThrottle: an accepted step forgets its throttle key's
// failures, and only that key's; a replayed step or a user without a
// credential leaves the count as it was.
func testOTPAcceptStepThrottle(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := fullOTP(mkUser(t, s, "alice").ID)
	c.LastStep = 1000
	must(t, s.CreateOTPCredential(ctx, c))
	bob := mkUser(t, s, "bob")
	for _, key := range []string{"otp:alice", "otp:bob", "other"} {
		get(s.AddFailure(ctx, key, t0, lockAfter3))(t)
		get(s.AddFailure(ctx, key, t0, lockAfter3))(t)
	}
	failures := func(key string) int { return get(s.GetThrottle(ctx, key))(t).Failures }

	wantErr(t, "AcceptOTPStep replay", s.AcceptOTPStep(ctx, c.UserID, 1000, "otp:alice"), store.ErrConflict)
	wantErr(t, "AcceptOTPStep without credential", s.AcceptOTPStep(ctx, bob.ID, 1, "otp:bob"), store.ErrNotFound)
	if a, b := failures("otp:alice"), failures("otp:bob"); a != 2 || b != 2 {
		t.Errorf("failures after refused steps = %d and %d, want 2 and 2", a, b)
	}
	must(t, s.AcceptOTPStep(ctx, c.UserID, 1001, "otp:alice"))
	same(t, "throttle after accepted step", &store.Throttle{Key: "otp:alice"}, get(s.GetThrottle(ctx, "otp:alice"))(t))
	if got := failures("other"); got != 2 {
		t.Errorf("other key after accepted step: %d failures, want 2", got)
	}
	if got := get(s.GetOTPCredential(ctx, c.UserID))(t); got.LastStep != 1001 {
		t.Errorf("LastStep = %d, want 1001", got.LastStep)
	}
}

var throttleTests = []test{
	{"Unknown", testThrottleUnknown},
	{"AddFailure", testThrottleAddFailure},
	{"Reset", testThrottleReset},
	{"KeysIndependent", testThrottleKeys},
	{"CountFreeFailure", testThrottleCountFree},
	{"CountFreeFailureLocked", testThrottleCountFreeLocked},
	{"CountFreeFailureRestart", testThrottleCountFreeRestart},
	{"ResetMany", testThrottleResetMany},
}

// countFree is CountFreeFailure for a test that expects no error.
func countFree(t *testing.T, s store.Store, key string, now time.Time, free int, restart time.Time) (*store.Throttle, bool) {
	t.Helper()
	th, ok, err := s.CountFreeFailure(t.Context(), key, now, free, restart)
	must(t, err)
	if ok != (th != nil) {
		t.Fatalf("CountFreeFailure = %+v, %v: a throttle exactly when it counted", th, ok)
	}
	return th, ok
}

// testThrottleCountFree counts up to the free budget and no further, and
// leaves the count where a later AddFailure goes on from.
func testThrottleCountFree(t *testing.T, s store.Store) {
	const key = "pwd:alice"
	for i := 1; i <= 3; i++ {
		now := t0.Add(time.Duration(i) * time.Second)
		th, ok := countFree(t, s, key, now, 3, time.Time{})
		want := &store.Throttle{Key: key, Failures: i, UpdatedAt: now}
		if !ok {
			t.Fatalf("failure %d of a free 3 was not counted", i)
		}
		same(t, "CountFreeFailure result", want, th)
		same(t, "GetThrottle after CountFreeFailure", want, get(s.GetThrottle(t.Context(), key))(t))
	}
	if _, ok := countFree(t, s, key, t0.Add(time.Minute), 3, time.Time{}); ok {
		t.Error("a fourth failure of a free 3 was counted by CountFreeFailure")
	}
	if th := get(s.GetThrottle(t.Context(), key))(t); th.Failures != 3 || !th.UpdatedAt.Equal(t0.Add(3*time.Second).Truncate(time.Microsecond)) {
		t.Errorf("refused CountFreeFailure changed the throttle: %+v", th)
	}
	if th := get(s.AddFailure(t.Context(), key, t0.Add(time.Minute), lockAfter3))(t); th.Failures != 4 {
		t.Errorf("AddFailure after three counted freely: %d failures, want 4", th.Failures)
	}
	if _, ok := countFree(t, s, "pwd:bob", t0, 0, time.Time{}); ok {
		t.Error("CountFreeFailure with no free failures counted one")
	}
	if th := get(s.GetThrottle(t.Context(), "pwd:bob"))(t); th.Failures != 0 {
		t.Errorf("CountFreeFailure with no free failures wrote %+v", th)
	}
}

// testThrottleCountFreeLocked: a locked key is left alone, even below its
// budget, until its lock has passed.
func testThrottleCountFreeLocked(t *testing.T, s store.Store) {
	const key = "otp:alice"
	for range 3 {
		get(s.AddFailure(t.Context(), key, t0, lockAfter3))(t)
	}
	locked := get(s.GetThrottle(t.Context(), key))(t)
	if _, ok := countFree(t, s, key, t0.Add(time.Minute), 10, time.Time{}); ok {
		t.Error("CountFreeFailure counted on a locked key")
	}
	same(t, "locked throttle after a refused CountFreeFailure", locked, get(s.GetThrottle(t.Context(), key))(t))
	after := locked.LockedUntil
	th, ok := countFree(t, s, key, after, 10, time.Time{})
	if !ok || th.Failures != 4 || !th.LockedUntil.IsZero() {
		t.Errorf("CountFreeFailure once the lock passed = %+v, %v; want 4 failures and no lock", th, ok)
	}
}

// testThrottleCountFreeRestart: a count last written before restart starts
// again at one, even when it had reached the budget.
func testThrottleCountFreeRestart(t *testing.T, s store.Store) {
	const key = "login|ip:192.0.2.1"
	for range 2 {
		countFree(t, s, key, t0, 2, time.Time{})
	}
	now := t0.Add(time.Hour)
	if _, ok := countFree(t, s, key, now, 2, t0); ok {
		t.Error("a count written at restart itself started again")
	}
	th, ok := countFree(t, s, key, now, 2, t0.Add(time.Second))
	if !ok || th.Failures != 1 || !th.UpdatedAt.Equal(now.Truncate(time.Microsecond)) {
		t.Errorf("CountFreeFailure after a quiet spell = %+v, %v; want 1 failure at %v", th, ok, now)
	}
}

func testThrottleResetMany(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, key := range []string{"a", "b", "c"} {
		get(s.AddFailure(ctx, key, t0, lockAfter3))(t)
	}
	must(t, s.ResetThrottle(ctx, "a", "c", "unknown"))
	for key, want := range map[string]int{"a": 0, "b": 1, "c": 0} {
		if got := get(s.GetThrottle(ctx, key))(t); got.Failures != want {
			t.Errorf("%s after ResetThrottle(a, c) has %d failures, want %d", key, got.Failures, want)
		}
	}
}

func testThrottleUnknown(t *testing.T, s store.Store) {
	got := get(s.GetThrottle(t.Context(), "ip:192.0.2.1"))(t)
	same(t, "GetThrottle of unknown key", &store.Throttle{Key: "ip:192.0.2.1"}, got)
}

// lockAfter3 locks for n minutes from the third failure on.
func lockAfter3(n int) time.Duration {
	if n < 3 {
		return 0
	}
	return time.Duration(n) * time.Minute
}

func testThrottleAddFailure(t *testing.T, s store.Store) {
	ctx := t.Context()
	const key = "otp:alice"
	var seen []int
	lock := func(n int) time.Duration { seen = append(seen, n); return lockAfter3(n) }
	for i := 1; i <= 3; i++ {
		now := t0.Add(time.Duration(i) * time.Second)
		got := get(s.AddFailure(ctx, key, now, lock))(t)
		want := &store.Throttle{Key: key, Failures: i, UpdatedAt: now}
		if i == 3 {
			want.LockedUntil = now.Add(3 * time.Minute)
		}
		same(t, "AddFailure result", want, got)
		same(t, "GetThrottle after AddFailure", want, get(s.GetThrottle(ctx, key))(t))
	}
	if !slices.Equal(seen, []int{1, 2, 3}) {
		t.Errorf("lockFor saw %v, want [1 2 3]", seen)
	}
	// A zero duration means no lock, even after an earlier one.
	now := t0.Add(time.Hour)
	want := &store.Throttle{Key: key, Failures: 4, UpdatedAt: now}
	same(t, "AddFailure without lock", want, get(s.AddFailure(ctx, key, now, func(int) time.Duration { return 0 }))(t))
	same(t, "GetThrottle after AddFailure without lock", want, get(s.GetThrottle(ctx, key))(t))
}

func testThrottleReset(t *testing.T, s store.Store) {
	ctx := t.Context()
	for range 3 {
		get(s.AddFailure(ctx, "a", t0, lockAfter3))(t)
	}
	get(s.AddFailure(ctx, "b", t0, lockAfter3))(t)
	must(t, s.ResetThrottle(ctx, "a"))

	same(t, "GetThrottle after reset", &store.Throttle{Key: "a"}, get(s.GetThrottle(ctx, "a"))(t))
	if got := get(s.GetThrottle(ctx, "b"))(t); got.Failures != 1 {
		t.Errorf("other key after reset: %d failures, want 1", got.Failures)
	}
	if got := get(s.AddFailure(ctx, "a", t0, lockAfter3))(t); got.Failures != 1 || !got.LockedUntil.IsZero() {
		t.Errorf("first failure after reset = %+v, want 1 failure and no lock", got)
	}
}

func testThrottleKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	get(s.AddFailure(ctx, "otp:a", t0, lockAfter3))(t)
	get(s.AddFailure(ctx, "otp:a", t0, lockAfter3))(t)
	get(s.AddFailure(ctx, "ip:a", t0, lockAfter3))(t)
	if a, ip := get(s.GetThrottle(ctx, "otp:a"))(t), get(s.GetThrottle(ctx, "ip:a"))(t); a.Failures != 2 || ip.Failures != 1 {
		t.Errorf("failures = %d and %d, want 2 and 1", a.Failures, ip.Failures)
	}
}
