package mfa_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authz/authz/internal/mfa"
	"github.com/authz/authz/internal/seal"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/testsupport/sqlitetest"
	"github.com/authz/authz/internal/throttle"
)

// t0 is mid-step, so that ±n periods are unambiguous steps.
var t0 = time.Unix(1_750_000_015, 0)

type fixture struct {
	v      *mfa.Verifier
	st     store.Store
	sealer *seal.Sealer
}

// newFixture opens a real SQLite store in a temporary directory.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	st := sqlitetest.Open(t)
	sealer, err := seal.New(bytes.Repeat([]byte{42}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{v: mfa.NewVerifier(st, sealer), st: st, sealer: sealer}
}

func (f *fixture) newUser(t testing.TB) string {
	t.Helper()
	u := &store.User{ID: store.NewID(), Enabled: true, OTPRequired: true, Role: store.RoleUser, CreatedAt: t0, UpdatedAt: t0}
	u.Username = "user-" + u.ID[:8]
	if err := f.st.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	return u.ID
}

// enrolled creates a user enrolled at t0 and returns the user and the secret.
func (f *fixture) enrolled(t testing.TB) (userID, secret string) {
	t.Helper()
	userID = f.newUser(t)
	secret, err := mfa.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.v.Enroll(context.Background(), userID, secret, code(t, secret, t0), t0); err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	return userID, secret
}

// verify checks code for userID as the login step does: with the
// credential read from the store just before.
func (f *fixture) verify(ctx context.Context, userID, code string, now time.Time) error {
	cred, err := f.st.GetOTPCredential(ctx, userID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		cred = nil
	case err != nil:
		return err
	}
	return f.v.Verify(ctx, cred, code, now)
}

func code(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	c, err := mfa.Code(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wrongCode returns a code valid in none of the steps around at.
func wrongCode(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	for i := 0; ; i++ {
		c := fmt.Sprintf("%06d", i)
		if _, ok := mfa.MatchStep(secret, c, at); !ok {
			return c
		}
	}
}

func (f *fixture) failures(t testing.TB, userID string) int {
	t.Helper()
	th, err := f.st.GetThrottle(context.Background(), throttle.OTPKey(userID))
	if err != nil {
		t.Fatal(err)
	}
	return th.Failures
}

func TestEnrollStoresSealedCredential(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	userID, secret := f.enrolled(t)
	cred, err := f.st.GetOTPCredential(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(cred.SealedSecret, []byte(secret)) {
		t.Fatal("secret stored in the clear")
	}
	opened, err := f.sealer.Open(cred.SealedSecret, []byte("otp:"+userID))
	if err != nil || string(opened) != secret {
		t.Fatalf("stored secret opens to %q (err %v)", opened, err)
	}
	if cred.LastStep != mfa.Step(t0) {
		t.Errorf("LastStep = %d, want the enrolment step %d", cred.LastStep, mfa.Step(t0))
	}
}

func TestEnrollmentCodeCannotBeReplayed(t *testing.T) {
	f := newFixture(t)
	userID, secret := f.enrolled(t)
	err := f.verify(context.Background(), userID, code(t, secret, t0), t0.Add(time.Second))
	if !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("Verify with the enrolment code = %v, want ErrInvalidCode", err)
	}
}

func TestVerifyWindow(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	userID, secret := f.enrolled(t)
	now := t0.Add(time.Hour)
	// Rejections first: an accepted code burns its step and every earlier one.
	for _, delta := range []int{-2, 2, -3, 3} {
		c := code(t, secret, now.Add(time.Duration(delta)*mfa.Period))
		if _, ok := mfa.MatchStep(secret, c, now); ok {
			continue // collides with a window code by chance (1 in 10^5)
		}
		if err := f.verify(ctx, userID, c, now); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Errorf("step %+d: Verify = %v, want ErrInvalidCode", delta, err)
		}
	}
	for _, delta := range []int{-1, 0, 1} {
		c := code(t, secret, now.Add(time.Duration(delta)*mfa.Period))
		if err := f.verify(ctx, userID, c, now); err != nil {
			t.Errorf("step %+d: Verify = %v, want success", delta, err)
		}
	}
	if n := f.failures(t, userID); n != 0 {
		t.Errorf("success left %d failures counted", n)
	}
}

func TestVerifyRejectsReplay(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	userID, secret := f.enrolled(t)
	now := t0.Add(time.Hour)
	c := code(t, secret, now)
	if err := f.verify(ctx, userID, c, now); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if err := f.verify(ctx, userID, c, now.Add(10*time.Second)); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("replay = %v, want ErrInvalidCode", err)
	}
	if n := f.failures(t, userID); n != 1 {
		t.Errorf("replay counted %d failures, want 1", n)
	}
	// The code of the step before, still inside the window, is also spent.
	if err := f.verify(ctx, userID, code(t, secret, now.Add(-mfa.Period)), now); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("earlier step after a later one = %v, want ErrInvalidCode", err)
	}
}

// Verify checks against the credential it is given, even one read before the
// code was used: the replay guard, the lockout count and the sealing hold.
func TestVerifyWithStaleCredential(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	alice, secret := f.enrolled(t)
	cred, err := f.st.GetOTPCredential(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Hour)
	c := code(t, secret, now)
	if err := f.v.Verify(ctx, cred, c, now); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// The credential read before the first use is stale now; the store's
	// conditional update still refuses the replay.
	if err := f.v.Verify(ctx, cred, c, now.Add(time.Second)); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("replay with the stale credential = %v, want ErrInvalidCode", err)
	}
	if n := f.failures(t, alice); n != 1 {
		t.Errorf("replay counted %d failures, want 1", n)
	}
	if err := f.v.Verify(ctx, nil, c, now); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("no credential = %v, want ErrNotEnrolled", err)
	}
	// The sealed secret stays bound to its user.
	bob := f.newUser(t)
	forged := &store.OTPCredential{UserID: bob, SealedSecret: cred.SealedSecret, CreatedAt: t0}
	if err := f.v.Verify(ctx, forged, code(t, secret, now.Add(time.Minute)), now.Add(time.Minute)); !errors.Is(err, seal.ErrOpen) {
		t.Fatalf("another user's sealed secret = %v, want a seal.ErrOpen failure", err)
	}
}

func TestVerifyConcurrentReplayAcceptsOnce(t *testing.T) {
	f := newFixture(t)
	f.v.Backoff = throttle.Backoff{Free: 100, Base: time.Second} // judge every attempt
	userID, secret := f.enrolled(t)
	now := t0.Add(time.Hour)
	c := code(t, secret, now)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f.verify(context.Background(), userID, c, now) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, mfa.ErrInvalidCode):
			t.Errorf("unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent uses of one code succeeded, want 1", ok, n)
	}
}

func TestLockoutAndUnlock(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	userID, secret := f.enrolled(t)
	now := t0.Add(time.Hour)
	bad := wrongCode(t, secret, now)
	free := throttle.OTP.Free
	for i := 1; i <= free; i++ {
		err := f.verify(ctx, userID, bad, now)
		if !errors.Is(err, mfa.ErrInvalidCode) || errors.Is(err, throttle.ErrLocked) {
			t.Fatalf("free failure %d: %v, want ErrInvalidCode without lock", i, err)
		}
	}
	// The failure after the free ones locks, and says so.
	err := f.verify(ctx, userID, bad, now)
	var locked *throttle.LockedError
	if !errors.Is(err, mfa.ErrInvalidCode) || !errors.As(err, &locked) {
		t.Fatalf("failure %d: %v, want ErrInvalidCode and LockedError", free+1, err)
	}
	if want := now.Add(throttle.OTP.Base); !locked.Until.Equal(want) {
		t.Fatalf("locked until %v, want %v", locked.Until, want)
	}
	// While locked even the right code is refused, without being judged.
	for _, at := range []time.Time{now, now.Add(throttle.OTP.Base - time.Second)} {
		err := f.verify(ctx, userID, code(t, secret, at), at)
		if !errors.Is(err, throttle.ErrLocked) || errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("right code while locked at %v: %v, want only ErrLocked", at, err)
		}
	}
	// Nor does a malformed code learn anything but the lock.
	if err := f.verify(ctx, userID, "", now); !errors.Is(err, throttle.ErrLocked) {
		t.Fatalf("empty code while locked: %v, want ErrLocked", err)
	}
	if n := f.failures(t, userID); n != free+1 {
		t.Errorf("attempts while locked were counted: %d failures", n)
	}
	// After the back-off the right code works and clears the count.
	at := now.Add(throttle.OTP.Base)
	if err := f.verify(ctx, userID, code(t, secret, at), at); err != nil {
		t.Fatalf("right code after the lock: %v", err)
	}
	if n := f.failures(t, userID); n != 0 {
		t.Errorf("success left %d failures", n)
	}
}

func TestLockoutDoubles(t *testing.T) {
	f := newFixture(t)
	f.v.Backoff = throttle.Backoff{Free: 1, Base: time.Minute, Max: 3 * time.Minute}
	ctx := context.Background()
	userID, secret := f.enrolled(t)
	now := t0.Add(time.Hour)
	for i, want := range []time.Duration{0, time.Minute, 2 * time.Minute, 3 * time.Minute, 3 * time.Minute} {
		err := f.verify(ctx, userID, wrongCode(t, secret, now), now)
		var locked *throttle.LockedError
		gotLock := errors.As(err, &locked)
		if want == 0 {
			if gotLock || !errors.Is(err, mfa.ErrInvalidCode) {
				t.Fatalf("failure %d: %v, want ErrInvalidCode only", i+1, err)
			}
			continue
		}
		if !gotLock || !locked.Until.Equal(now.Add(want)) {
			t.Fatalf("failure %d: %v, want a lock of %v", i+1, err, want)
		}
		now = locked.Until
	}
}

func TestVerifyMalformedCodeNotCounted(t *testing.T) {
	f := newFixture(t)
	userID, _ := f.enrolled(t)
	for in, want := range map[string]error{"": mfa.ErrCodeEmpty, "abcdef": mfa.ErrCodeFormat, "1234567": mfa.ErrCodeFormat} {
		if err := f.verify(context.Background(), userID, in, t0.Add(time.Hour)); !errors.Is(err, want) {
			t.Errorf("Verify(%q) = %v, want %v", in, err, want)
		}
	}
	if n := f.failures(t, userID); n != 0 {
		t.Errorf("malformed input counted %d failures", n)
	}
}

func TestVerifyNotEnrolled(t *testing.T) {
	f := newFixture(t)
	userID := f.newUser(t)
	if err := f.verify(context.Background(), userID, "123456", t0); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("Verify = %v, want ErrNotEnrolled", err)
	}
}

func TestVerifyRefusesSecretSealedForAnotherUser(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	alice, secret := f.enrolled(t)
	bob := f.newUser(t)
	cred, err := f.st.GetOTPCredential(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	// Copying Alice's sealed secret onto Bob must not give Bob her device.
	if err := f.st.CreateOTPCredential(ctx, &store.OTPCredential{UserID: bob, SealedSecret: cred.SealedSecret, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Hour)
	err = f.verify(ctx, bob, code(t, secret, now), now)
	if !errors.Is(err, seal.ErrOpen) || errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("Verify = %v, want a seal.ErrOpen failure", err)
	}
}

func TestEnrollWrongCode(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	userID := f.newUser(t)
	secret, _ := mfa.NewSecret()
	if err := f.v.Enroll(ctx, userID, secret, wrongCode(t, secret, t0), t0); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("Enroll = %v, want ErrInvalidCode", err)
	}
	if _, err := f.st.GetOTPCredential(ctx, userID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("credential stored after a wrong code (err %v)", err)
	}
	if n := f.failures(t, userID); n != 1 {
		t.Errorf("failures = %d, want 1", n)
	}
	if err := f.v.Enroll(ctx, userID, "short", "123456", t0); !errors.Is(err, mfa.ErrInvalidSecret) {
		t.Errorf("Enroll with a bad secret = %v, want ErrInvalidSecret", err)
	}
}

func TestEnrollHonoursLockout(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	userID := f.newUser(t)
	secret, _ := mfa.NewSecret()
	for range throttle.OTP.Free + 1 {
		_ = f.v.Enroll(ctx, userID, secret, wrongCode(t, secret, t0), t0)
	}
	if err := f.v.Enroll(ctx, userID, secret, code(t, secret, t0), t0); !errors.Is(err, throttle.ErrLocked) {
		t.Fatalf("Enroll while locked = %v, want ErrLocked", err)
	}
}

func TestPendingSecretSealing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	userID := f.newUser(t)
	secret, _ := mfa.NewSecret()
	sealed, err := f.v.SealSecret(userID, secret)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.v.OpenSecret(userID, sealed)
	if err != nil || got != secret {
		t.Fatalf("OpenSecret = %q, %v", got, err)
	}
	if _, err := f.v.OpenSecret(f.newUser(t), sealed); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("another user opened the pending secret: %v", err)
	}
	// A pending secret planted as a credential does not verify.
	if err := f.st.CreateOTPCredential(ctx, &store.OTPCredential{UserID: userID, SealedSecret: sealed, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := f.verify(ctx, userID, code(t, secret, t0), t0); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("pending secret used as credential: Verify = %v, want seal.ErrOpen", err)
	}
}

func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	userID, secret := f.enrolled(b)
	ctx := context.Background()
	at := t0
	for b.Loop() {
		at = at.Add(mfa.Period) // every login needs a fresh step
		if err := f.verify(ctx, userID, code(b, secret, at), at); err != nil {
			b.Fatal(err)
		}
	}
}

// TestConcurrentGuessesCannotOutrunTheLockout fires a burst of wrong codes at
// once: no more than the free budget (plus the one that starts the lock) may be
// judged; the rest are refused as locked without being checked.
func TestConcurrentGuessesCannotOutrunTheLockout(t *testing.T) {
	f := newFixture(t)
	userID, secret := f.enrolled(t)
	now := t0.Add(time.Hour)
	bad := wrongCode(t, secret, now)
	const n = 40
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f.verify(context.Background(), userID, bad, now) })
	}
	wg.Wait()
	judged := 0
	for _, err := range errs {
		var le *throttle.LockedError
		switch {
		case errors.Is(err, mfa.ErrInvalidCode):
			judged++
		case errors.As(err, &le):
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	if max := throttle.OTP.Free + 1; judged > max {
		t.Fatalf("%d of %d concurrent guesses were judged, at most %d may be", judged, n, max)
	}
}
