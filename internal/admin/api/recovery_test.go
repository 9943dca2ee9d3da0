package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/store"
)

// TestAPIRecoveryCodes: the API shows how many recovery codes a user has
// left, voids them on request (audited), and a reset of the authenticator
// voids them too.
func TestAPIRecoveryCodes(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		u := e.CreateUser("rita", "rita@example.com", store.RoleUser, true)
		e.AddCredential(u.ID)
		giveCodes := func(n int) {
			t.Helper()
			hashes := make([]string, n)
			for i := range hashes {
				hashes[i] = store.NewID()
			}
			if err := e.Store.ReplaceRecoveryCodes(ctx, u.ID, hashes, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		giveCodes(7)
		var got apiUser
		e.api("GET", "/users/"+u.ID, nil).decode(t, &got)
		if got.RecoveryCodes != 7 || got.OTPState != admin.OTPEnrolled {
			t.Fatalf("user %+v, want 7 recovery codes left", got)
		}
		if r := e.api("GET", "/users", nil); !strings.Contains(string(r.body), `"recovery_codes_left":7`) {
			t.Errorf("the list must show the count: %s", r.body)
		}

		r := e.api("DELETE", "/users/"+u.ID+"/recovery-codes", nil)
		wantAPI(t, r, http.StatusOK)
		var voided struct {
			Voided int     `json:"voided"`
			User   apiUser `json:"user"`
		}
		r.decode(t, &voided)
		if voided.Voided != 7 || voided.User.RecoveryCodes != 0 {
			t.Fatalf("void: %+v", voided)
		}
		if n, _ := e.Store.CountRecoveryCodes(ctx, u.ID); n != 0 {
			t.Fatalf("%d codes left after voiding", n)
		}
		events, _, _ := e.Store.ListAudit(ctx, store.AuditFilter{Type: string(audit.RecoveryCodesVoided), UserID: u.ID})
		if len(events) != 1 || events[0].Detail != "count=7" {
			t.Errorf("audit of the void: %+v", events)
		}
		// Nothing left to void is no error.
		r = e.api("DELETE", "/users/"+u.ID+"/recovery-codes", nil)
		wantAPI(t, r, http.StatusOK)
		r.decode(t, &voided)
		if voided.Voided != 0 {
			t.Errorf("second void: %+v", voided)
		}

		// A reset of the authenticator takes the codes with it.
		giveCodes(4)
		wantAPI(t, e.api("POST", "/users/"+u.ID+"/reset-otp", nil), http.StatusOK)
		if n, _ := e.Store.CountRecoveryCodes(ctx, u.ID); n != 0 {
			t.Fatalf("%d codes survived Reset OTP", n)
		}
		// So does turning OTP off.
		e.AddCredential(u.ID)
		giveCodes(3)
		wantAPI(t, e.api("PATCH", "/users/"+u.ID, map[string]any{"otp_required": false}), http.StatusOK)
		if n, _ := e.Store.CountRecoveryCodes(ctx, u.ID); n != 0 {
			t.Fatalf("%d codes survived turning OTP off", n)
		}

		wantProblem(t, e.api("DELETE", "/users/nobody/recovery-codes", nil), http.StatusNotFound, "")
		wantProblem(t, e.api("POST", "/users/"+u.ID+"/recovery-codes", nil), http.StatusMethodNotAllowed, "")
	})
}
