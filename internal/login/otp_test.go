package login

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/mfa"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/throttle"
)

// TestOTPLockoutIsAuditedOncePerLock: the failure that starts a lock is
// audited as otp.lockout once; attempts refused while it lasts are
// otp.refused_locked, so the dashboard counts locks, not refusals.
func TestOTPLockoutIsAuditedOncePerLock(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store.Store) {
		s := newLoginServer(t, st)
		ctx := context.Background()
		u := s.ann()
		secret, _ := mfa.NewSecret()
		now := time.Now()
		code, _ := mfa.Code(secret, now)
		if err := s.p.OTP.Enroll(ctx, u.ID, secret, code, now); err != nil {
			t.Fatal(err)
		}
		status, do := s.browse("192.0.2.1", "ann", "right password")
		if status != http.StatusSeeOther {
			t.Fatalf("password: %d", status)
		}
		for i := range throttle.OTP.Free + 1 {
			if got, _ := do("POST", "/login/otp", url.Values{"otp": {"000000"}}); got != http.StatusUnauthorized && got != http.StatusTooManyRequests {
				t.Fatalf("wrong code %d: %d", i+1, got)
			}
		}
		for range 2 {
			if got, _ := do("POST", "/login/otp", url.Values{"otp": {"000000"}}); got != http.StatusTooManyRequests {
				t.Fatalf("a code during the lock: %d, want 429", got)
			}
		}
		count := func(typ audit.Type) int {
			_, n, err := st.ListAudit(ctx, store.AuditFilter{Type: string(typ), UserID: u.ID, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count(audit.OTPLockout); n != 1 {
			t.Errorf("otp.lockout events: %d, want 1 (one lock)", n)
		}
		if n := count(audit.OTPRefusedLocked); n != 2 {
			t.Errorf("otp.refused_locked events: %d, want 2", n)
		}
	})
}
