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
	wantErr(t, "AcceptOTPStep", s.AcceptOTPStep(ctx, u.ID, 1), store.ErrNotFound)
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
		err := s.AcceptOTPStep(ctx, c.UserID, step.n)
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

var throttleTests = []test{
	{"Unknown", testThrottleUnknown},
	{"AddFailure", testThrottleAddFailure},
	{"Reset", testThrottleReset},
	{"KeysIndependent", testThrottleKeys},
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
