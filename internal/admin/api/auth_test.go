package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/oauth"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/testsupport/admintest"
)

func TestAPIAuthorization(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		plain := e.CreateUser("pat", "pat@example.com", store.RoleUser, true)
		userSession, noOTP, other := e.Session(plain.ID, "pwd", "otp"), e.Session(e.Admin.ID, "pwd"), e.Session(e.Admin.ID, "pwd", "otp")
		_, weak := e.clientToken("Reader", "api.read")
		before := e.state()
		body := map[string]any{"username": "mallory", "email": "m@example.com"}

		req, _ := http.NewRequest(http.MethodPost, e.Server.URL+Prefix+"/users", strings.NewReader(`{"username":"x","email":"x@example.com"}`))
		req.Header.Set("Content-Type", "application/json")
		r := e.Do(req, "")
		if r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("anonymous: %d %q", r.Status, r.Header.Get("WWW-Authenticate"))
		}
		wantProblem(t, e.send(request{method: "POST", path: "/users", body: body, cookie: userSession}), http.StatusForbidden, "")
		wantProblem(t, e.send(request{method: "POST", path: "/users", body: body, cookie: noOTP}), http.StatusForbidden, "")
		wantProblem(t, e.send(request{method: "POST", path: "/users", body: body, noCSRF: true}), http.StatusForbidden, "X-CSRF-Token")
		wantProblem(t, e.send(request{method: "POST", path: "/users", body: body, csrf: admintest.CSRF(other)}), http.StatusForbidden, "X-CSRF-Token")
		wantProblem(t, e.send(request{method: "DELETE", path: "/users/" + plain.ID, noCSRF: true}), http.StatusForbidden, "X-CSRF-Token")
		wantProblem(t, e.send(request{method: "PATCH", path: "/users/" + plain.ID, body: map[string]any{"enabled": false}, noCSRF: true}), http.StatusForbidden, "X-CSRF-Token")
		wantProblem(t, e.send(request{method: "POST", path: "/users", body: body, token: "nonsense"}), http.StatusUnauthorized, "")
		weakAnswer := e.send(request{method: "POST", path: "/users", body: body, token: weak})
		wantProblem(t, weakAnswer, http.StatusForbidden, "")
		if !strings.Contains(weakAnswer.header.Get("WWW-Authenticate"), "insufficient_scope") {
			t.Errorf("WWW-Authenticate %q", weakAnswer.header.Get("WWW-Authenticate"))
		}
		e.unchanged(before, "unauthorized requests")
		// An administrator disabled behind a live session is refused; a
		// deleted one's sessions go with them (401).
		ctx := context.Background()
		off := e.CreateUser("ada", "ada@example.com", store.RoleAdmin, true)
		offSession := e.Session(off.ID, "pwd", "otp")
		off.Enabled = false
		if err := e.Store.UpdateUser(ctx, off); err != nil {
			t.Fatal(err)
		}
		gone := e.CreateUser("gil", "gil@example.com", store.RoleAdmin, true)
		goneSession := e.Session(gone.ID, "pwd", "otp")
		if err := e.Store.DeleteUser(ctx, gone.ID); err != nil {
			t.Fatal(err)
		}
		before = e.state()
		wantProblem(t, e.send(request{method: "POST", path: "/users", body: body, cookie: offSession}), http.StatusForbidden, "")
		wantProblem(t, e.send(request{method: "POST", path: "/users", body: body, cookie: goneSession}), http.StatusUnauthorized, "")
		e.unchanged(before, "a disabled or deleted administrator's session")
		// Reading needs no CSRF token.
		wantAPI(t, e.send(request{method: "GET", path: "/users", noCSRF: true}), http.StatusOK)

		// An admin token works without any CSRF token, and is audited as
		// the client.
		robotID, token := e.clientToken("Robot", Scope)
		wantAPI(t, e.send(request{method: "POST", path: "/users", body: map[string]any{"username": "viatoken", "email": "vt@example.com"}, token: token}), http.StatusCreated)
		evs, _, _ := e.Store.ListAudit(context.Background(), store.AuditFilter{Type: "user.created", Limit: 1})
		if len(evs) != 1 || evs[0].ActorID != "client:"+robotID {
			t.Errorf("audit actor %+v", evs)
		}
		// Disabling the client ends its token.
		disabled := true
		if _, err := e.Service.UpdateClient(context.Background(), admin.Actor{}, robotID, admin.ClientPatch{Disabled: &disabled}); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, e.send(request{method: "GET", path: "/users", token: token}), http.StatusUnauthorized, "")
	})
}

// stubTokens answers every token as issued on a user's behalf.
type stubTokens struct{ err error }

func (s stubTokens) IntrospectAccessToken(context.Context, string) (string, []string, error) {
	return "", nil, s.err
}

func TestAPIRefusesUserTokens(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		e.adminAPI.Tokens = stubTokens{err: oauth.ErrNotClientToken}
		wantProblem(t, e.send(request{method: "GET", path: "/users", token: "a-user-token"}), http.StatusForbidden, "")
	})
}
