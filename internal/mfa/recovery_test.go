package mfa_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/mfa"
	"github.com/authz/authz/internal/throttle"
)

func TestNewRecoveryCodesShape(t *testing.T) {
	codes, err := mfa.NewRecoveryCodes()
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != mfa.RecoveryCodeCount {
		t.Fatalf("%d codes, want %d", len(codes), mfa.RecoveryCodeCount)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if len(c) != mfa.RecoveryCodeLength+1 || c[5] != '-' {
			t.Errorf("code %q is not XXXXX-XXXXX", c)
		}
		if strings.ContainsAny(c, "01ILOU") {
			t.Errorf("code %q holds an ambiguous character", c)
		}
		if seen[c] {
			t.Errorf("code %q twice in one set", c)
		}
		seen[c] = true
	}
}

func TestNormalizeRecoveryCode(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"ABCDE-FGHJK", "ABCDEFGHJK", nil},
		{"abcde fghjk", "ABCDEFGHJK", nil},
		{"  ab-cd-ef-gh-jk  ", "ABCDEFGHJK", nil},
		{"ABCDEFGHJK", "ABCDEFGHJK", nil},
		{"", "", mfa.ErrCodeEmpty},
		{" - - ", "", mfa.ErrCodeEmpty},
		{"ABCDE-FGHJ", "", mfa.ErrRecoveryFormat},
		{"ABCDE-FGHJKM", "", mfa.ErrRecoveryFormat},
		{"ABCDE-FGHJ0", "", mfa.ErrRecoveryFormat}, // 0 is not in the alphabet
		{"ABCDE-FGHJÄ", "", mfa.ErrRecoveryFormat},
		{"123456", "", mfa.ErrRecoveryFormat}, // a one-time code typed in the wrong field
		{strings.Repeat(" ", 100) + "ABCDEFGHJK", "", mfa.ErrRecoveryFormat},
		{"ABCDE\x00FGHJK", "", mfa.ErrRecoveryFormat},
	} {
		got, err := mfa.NormalizeRecoveryCode(tc.in)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("NormalizeRecoveryCode(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func FuzzNormalizeRecoveryCode(f *testing.F) {
	for _, s := range []string{"ABCDE-FGHJK", "abcde fghjk", "", "-", "ABCDE-FGHJ0", "ÄÖÜ", "\x00", strings.Repeat("A", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := mfa.NormalizeRecoveryCode(in)
		if err != nil {
			if got != "" {
				t.Fatalf("error %v with a result %q", err, got)
			}
			return
		}
		if len(got) != mfa.RecoveryCodeLength {
			t.Fatalf("NormalizeRecoveryCode(%q) = %q: wrong length", in, got)
		}
		again, err := mfa.NormalizeRecoveryCode(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q → %q, %v", in, got, again, err)
		}
	})
}

func TestRecoveryCodeUsedOnceAndCounted(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	user, _ := f.enrolled(t)
	codes, err := f.v.IssueRecoveryCodes(ctx, user, t0)
	if err != nil {
		t.Fatal(err)
	}
	// Typed lower case with spaces instead of the dash: still the code.
	typed := strings.ToLower(strings.ReplaceAll(codes[0], "-", " "))
	left, err := f.v.UseRecoveryCode(ctx, user, typed, t0)
	if err != nil || left != mfa.RecoveryCodeCount-1 {
		t.Fatalf("UseRecoveryCode = %d, %v; want %d, nil", left, err, mfa.RecoveryCodeCount-1)
	}
	if _, err := f.v.UseRecoveryCode(ctx, user, codes[0], t0); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("second use: %v, want ErrInvalidCode", err)
	}
	// Another user's code is no code of this user.
	other, _ := f.enrolled(t)
	if _, err := f.v.UseRecoveryCode(ctx, other, codes[1], t0); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("another user's code: %v, want ErrInvalidCode", err)
	}
	// A new set voids the old one.
	if _, err := f.v.IssueRecoveryCodes(ctx, user, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.v.UseRecoveryCode(ctx, user, codes[1], t0); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("code of a replaced set: %v, want ErrInvalidCode", err)
	}
}

func TestRecoveryCodesShareTheOTPLockout(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	user, _ := f.enrolled(t)
	codes, err := f.v.IssueRecoveryCodes(ctx, user, t0)
	if err != nil {
		t.Fatal(err)
	}
	// Input that is no code is not a guess: it costs nothing.
	for range 10 {
		if _, err := f.v.UseRecoveryCode(ctx, user, "nope", t0); !errors.Is(err, mfa.ErrRecoveryFormat) {
			t.Fatalf("malformed: %v", err)
		}
	}
	// Wrong codes and wrong one-time codes fill one budget.
	for i := range throttle.OTP.Free {
		var err error
		if i%2 == 0 {
			_, err = f.v.UseRecoveryCode(ctx, user, "ZZZZZ-ZZZZZ", t0)
		} else {
			err = f.verify(ctx, user, "000000", t0)
		}
		if !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	_, err = f.v.UseRecoveryCode(ctx, user, "ZZZZZ-ZZZZZ", t0)
	if !errors.Is(err, throttle.ErrLocked) {
		t.Fatalf("failure past the budget: %v, want a lock", err)
	}
	// While locked even a right code is refused, and not used up.
	if _, err := f.v.UseRecoveryCode(ctx, user, codes[0], t0.Add(time.Second)); !errors.Is(err, throttle.ErrLocked) {
		t.Fatalf("right code while locked: %v, want ErrLocked", err)
	}
	if n, _ := f.st.CountRecoveryCodes(ctx, user); n != mfa.RecoveryCodeCount {
		t.Fatalf("codes left after a locked attempt: %d", n)
	}
	// After the lock the right code works and clears the count.
	later := t0.Add(throttle.OTP.Max + time.Minute)
	if _, err := f.v.UseRecoveryCode(ctx, user, codes[0], later); err != nil {
		t.Fatalf("right code after the lock: %v", err)
	}
	th, _ := f.st.GetThrottle(ctx, throttle.OTPKey(user))
	if th.Failures != 0 {
		t.Errorf("failures after a good code: %d, want 0", th.Failures)
	}
}

func TestRecoveryCodesStoredOnlyAsHashes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	user, _ := f.enrolled(t)
	f.v.RecoveryKey = []byte("key one")
	codes, err := f.v.IssueRecoveryCodes(ctx, user, t0)
	if err != nil {
		t.Fatal(err)
	}
	// Under another key the stored hashes match nothing: the key is part
	// of the hash, so the table alone cannot be searched.
	f.v.RecoveryKey = []byte("key two")
	if _, err := f.v.UseRecoveryCode(ctx, user, codes[0], t0); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("code checked under another key: %v, want ErrInvalidCode", err)
	}
}

func TestRecoveryCodesSealedForOneUser(t *testing.T) {
	f := newFixture(t)
	codes := []string{"ABCDE-FGHJK", "MNPQR-STVWX"}
	sealed, err := f.v.SealRecoveryCodes("alice", codes)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.v.OpenRecoveryCodes("alice", sealed)
	if err != nil || strings.Join(got, ",") != strings.Join(codes, ",") {
		t.Fatalf("OpenRecoveryCodes = %v, %v", got, err)
	}
	if _, err := f.v.OpenRecoveryCodes("bob", sealed); err == nil {
		t.Fatal("codes sealed for alice opened for bob")
	}
}
