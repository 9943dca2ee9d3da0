package adminsession_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/authz/authz/internal/admin/adminsession"
	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/testsupport/admintest"
)

func forEachStore(t *testing.T, fn func(t *testing.T, e *admintest.Env)) {
	admintest.ForEachStore(t, func(e *admintest.Env, _ *http.ServeMux) *admintest.Env { return e }, fn)
}

func request(cookie string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/admin", nil)
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: session.Cookie, Value: cookie})
	}
	return r
}

// Only an enabled administrator whose session passed authz's own one-time
// code may administer.
func TestJudge(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *admintest.Env) {
		plain := e.CreateUser("pat", "pat@example.com", store.RoleUser, true)
		off := e.CreateUser("off", "off@example.com", store.RoleAdmin, true)
		off.Enabled = false
		if err := e.Store.UpdateUser(context.Background(), off); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name   string
			cookie string
			want   adminsession.Verdict
		}{
			{"no cookie", "", adminsession.NoSession},
			{"unknown cookie", "not-a-session", adminsession.NoSession},
			{"a user", e.Session(plain.ID, session.AMRPassword, session.AMROTP), adminsession.NotAdmin},
			{"a disabled administrator", e.Session(off.ID, session.AMRPassword, session.AMROTP), adminsession.NotAdmin},
			{"password only", e.Session(e.Admin.ID, session.AMRPassword), adminsession.WithoutOTP},
			{"an upstream's one-time code", e.Session(e.Admin.ID, session.AMRFederated, session.UpstreamAMR(session.AMROTP)), adminsession.WithoutOTP},
			{"password and code", e.Cookie, adminsession.Admin},
		} {
			sess, u, got, err := adminsession.Judge(request(c.cookie), e.Sessions, e.Store)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if got != c.want {
				t.Errorf("%s: verdict %d, want %d", c.name, got, c.want)
			}
			if got == adminsession.Admin && (sess == nil || u == nil || u.ID != e.Admin.ID || sess.UserID != e.Admin.ID) {
				t.Errorf("%s: session %+v, user %+v", c.name, sess, u)
			}
		}
	})
}

func TestCSRFToken(t *testing.T) {
	cookie, id := session.NewToken()
	token := adminsession.CSRFToken(id)
	if token != admintest.CSRF(cookie) {
		t.Fatalf("CSRFToken %q differs from the spec's %q", token, admintest.CSRF(cookie))
	}
	_, other := session.NewToken()
	for _, c := range []struct {
		got  string
		want bool
	}{{token, true}, {"", false}, {adminsession.CSRFToken(other), false}, {token[:len(token)-1], false}} {
		if ok := adminsession.CheckCSRF(c.got, token); ok != c.want {
			t.Errorf("CheckCSRF(%q) = %v, want %v", c.got, ok, c.want)
		}
	}
	if adminsession.CheckCSRF("", "") {
		t.Error("an empty token matched an empty one")
	}
}
