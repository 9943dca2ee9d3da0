package api

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/authz/authz/internal/store"
)

func TestAPIIdentities(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		u := e.CreateUser("fay", "fay@example.com", store.RoleUser, false)
		other := e.CreateUser("gus", "gus@example.com", store.RoleUser, false)
		wantAPI(t, e.api("POST", "/providers", providerBody("corp", "http://127.0.0.1:1")), http.StatusCreated)
		r := e.api("POST", "/users/"+u.ID+"/identities", map[string]any{"provider": "corp", "subject": "sub/1"})
		wantAPI(t, r, http.StatusCreated)
		wantProblem(t, e.api("POST", "/users/"+other.ID+"/identities", map[string]any{"provider": "corp", "subject": "sub/1"}), http.StatusConflict, "subject")

		var l list[apiIdentity]
		e.api("GET", "/users/"+u.ID+"/identities", nil).decode(t, &l)
		if l.Total != 1 || l.Items[0].Provider != "corp" || l.Items[0].Subject != "sub/1" {
			t.Fatalf("identities %+v", l)
		}
		// Another user's link cannot be removed through this user.
		wantProblem(t, e.api("DELETE", "/users/"+other.ID+"/identities/corp/"+url.PathEscape("sub/1"), nil), http.StatusNotFound, "")
		wantAPI(t, e.api("DELETE", "/users/"+u.ID+"/identities/corp/"+url.PathEscape("sub/1"), nil), http.StatusNoContent)
		if types := e.AuditTypes(u.ID); !slices.Contains(types, "federation.linked") || !slices.Contains(types, "federation.unlinked") {
			t.Errorf("audit %v", types)
		}
		e.api("GET", "/users/"+u.ID+"/identities", nil).decode(t, &l)
		if l.Total != 0 {
			t.Errorf("after unlink %+v", l)
		}
	})
}
