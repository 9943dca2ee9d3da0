package api

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
)

// TestNewRequirementsEndSessions: switching "OTP Configured" on, resetting
// the authenticator or disabling the user signs the user out everywhere, so
// a session opened under the old rules does not outlive the new ones; a
// disabled user's refresh tokens are revoked as well.
func TestNewRequirementsEndSessions(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		signedIn := func(u *store.User) string {
			return e.Session(u.ID, "pwd")
		}
		gone := func(name, cookie string) {
			t.Helper()
			_, err := e.Store.GetSession(context.Background(), session.TokenID(cookie), time.Now())
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: the user's session survived (%v)", name, err)
			}
		}
		u := e.CreateUser("olga", "olga@example.com", store.RoleUser, false)
		c := signedIn(u)
		wantAPI(t, e.api("PATCH", "/users/"+u.ID, map[string]any{"first_name": "Olga"}), http.StatusOK)
		if _, err := e.Store.GetSession(context.Background(), session.TokenID(c), time.Now()); err != nil {
			t.Fatalf("an unrelated edit ended the session: %v", err)
		}
		wantAPI(t, e.api("PATCH", "/users/"+u.ID, map[string]any{"otp_required": true}), http.StatusOK)
		gone("OTP Configured switched on", c)

		c = signedIn(u)
		e.AddCredential(u.ID)
		wantAPI(t, e.api("POST", "/users/"+u.ID+"/reset-otp", nil), http.StatusOK)
		gone("authenticator reset", c)

		c = signedIn(u)
		refresh := &store.OAuthToken{Kind: store.TokenRefresh, Signature: "r-" + store.NewID(), RequestID: store.NewID(), ClientID: "app",
			Subject: u.ID, Active: true, Session: []byte("{}"), RequestedAt: time.Now().UTC(), ExpiresAt: time.Now().Add(time.Hour).UTC()}
		if err := e.Store.CreateToken(context.Background(), refresh); err != nil {
			t.Fatal(err)
		}
		wantAPI(t, e.api("PATCH", "/users/"+u.ID, map[string]any{"enabled": false}), http.StatusOK)
		gone("user disabled", c)
		if _, err := e.Store.GetToken(context.Background(), refresh.Kind, refresh.Signature); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a disabled user's refresh token survived (%v)", err)
		}
	})
}
