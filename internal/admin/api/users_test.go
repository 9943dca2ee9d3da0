package api

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/store"
)

func TestAPIUsers(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		r := e.api("POST", "/users", map[string]any{"username": "alice", "email": "alice@example.com", "first_name": "Alice", "otp_required": true})
		wantAPI(t, r, http.StatusCreated)
		var created apiCreatedUser
		r.decode(t, &created)
		if created.ID == "" || created.Role != store.RoleUser || !created.Enabled || !created.OTPRequired ||
			created.OTPState != admin.OTPPending || created.SetupEmail != "sent" || created.LastLoginAt != nil {
			t.Fatalf("created %+v", created)
		}
		if loc := r.header.Get("Location"); loc != Prefix+"/users/"+created.ID {
			t.Errorf("Location %q", loc)
		}
		if msgs := e.Mail.Outbox.Messages(); len(msgs) != 1 || msgs[0].To != "alice@example.com" {
			t.Errorf("set-up mail: %+v", msgs)
		}
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q", cc)
		}

		// get
		r = e.api("GET", "/users/"+created.ID, nil)
		wantAPI(t, r, http.StatusOK)
		var got apiUser
		r.decode(t, &got)
		if got.Username != "alice" || got.FirstName != "Alice" {
			t.Errorf("get %+v", got)
		}

		// PATCH changes only the fields sent.
		r = e.api("PATCH", "/users/"+created.ID, map[string]any{"last_name": "Liddell", "role": "admin"})
		wantAPI(t, r, http.StatusOK)
		r.decode(t, &got)
		if got.LastName != "Liddell" || got.Role != store.RoleAdmin || got.FirstName != "Alice" || got.Email != "alice@example.com" || !got.OTPRequired {
			t.Errorf("patched %+v", got)
		}
		if types := e.AuditTypes(created.ID); !slices.Contains(types, "user.role_changed") || !slices.Contains(types, "user.updated") {
			t.Errorf("audit %v", types)
		}
		// A merge-patch media type is accepted too.
		r = e.send(request{method: "PATCH", path: "/users/" + created.ID, raw: `{"first_name":"Al"}`, contentType: "application/merge-patch+json"})
		wantAPI(t, r, http.StatusOK)

		// reset-otp
		e.AddCredential(created.ID)
		r = e.api("POST", "/users/"+created.ID+"/reset-otp", nil)
		wantAPI(t, r, http.StatusOK)
		var reset struct {
			Removed bool    `json:"authenticator_removed"`
			User    apiUser `json:"user"`
		}
		r.decode(t, &reset)
		if !reset.Removed || reset.User.OTPState != admin.OTPPending || e.HasCredential(created.ID) {
			t.Errorf("reset %+v", reset)
		}

		// send-setup and send-reset
		r = e.api("POST", "/users/"+created.ID+"/send-reset", nil)
		wantAPI(t, r, http.StatusOK)
		if !strings.Contains(string(r.body), `"sent":true`) {
			t.Errorf("send-reset %s", r.body)
		}
		e.Mail.Fail(io.ErrUnexpectedEOF)
		r = e.api("POST", "/users/"+created.ID+"/send-setup", nil)
		wantAPI(t, r, http.StatusOK)
		if !strings.Contains(string(r.body), `"sent":false`) || !strings.Contains(string(r.body), "could not be sent") {
			t.Errorf("failed send-setup %s", r.body)
		}
		e.Mail.Fail(nil)

		// delete
		wantAPI(t, e.api("DELETE", "/users/"+created.ID, nil), http.StatusNoContent)
		wantProblem(t, e.api("GET", "/users/"+created.ID, nil), http.StatusNotFound, "")
		wantProblem(t, e.api("DELETE", "/users/"+created.ID, nil), http.StatusNotFound, "")
		wantProblem(t, e.api("PATCH", "/users/"+created.ID, map[string]any{"first_name": "x"}), http.StatusNotFound, "")
		wantProblem(t, e.api("POST", "/users/"+created.ID+"/reset-otp", nil), http.StatusNotFound, "")
	})
}

func TestAPIUserListPaging(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		for _, n := range []string{"bob", "carol", "dave", "erin"} {
			e.CreateUser(n, n+"@example.com", store.RoleUser, false)
		}
		var l keysetPage[apiUser]
		r := e.api("GET", "/users?limit=2", nil)
		r.decode(t, &l)
		if l.Limit != 2 || len(l.Items) != 2 || l.Items[0].Username != "bob" || l.Next == nil {
			t.Fatalf("page 1 %+v", l)
		}
		// The Link header leads to the next page, with the same filters.
		link := r.header.Get("Link")
		want := `<` + Prefix + `/users?cursor=` + url.QueryEscape(*l.Next) + `&limit=2>; rel="next"`
		if link != want {
			t.Fatalf("Link = %q, want %q", link, want)
		}
		// A user added meanwhile before the cursor does not shift the pages.
		e.CreateUser("aaron", "aaron@example.com", store.RoleUser, false)
		next := strings.TrimPrefix(link[1:strings.Index(link, ">")], Prefix)
		var seen []string
		for next != "" {
			r = e.api("GET", next, nil)
			wantAPI(t, r, http.StatusOK)
			r.decode(t, &l)
			for _, u := range l.Items {
				seen = append(seen, u.Username)
			}
			next = ""
			if link := r.header.Get("Link"); link != "" {
				next = strings.TrimPrefix(link[1:strings.Index(link, ">")], Prefix)
			}
			if (next == "") != (l.Next == nil) {
				t.Fatalf("Link %q and next %v disagree", link, l.Next)
			}
		}
		if strings.Join(seen, ",") != "dave,erin,root" {
			t.Errorf("pages after the first: %v", seen)
		}
		e.api("GET", "/users?q=CAR", nil).decode(t, &l)
		if len(l.Items) != 1 || l.Items[0].Username != "carol" || l.Next != nil {
			t.Errorf("search %+v", l)
		}
		e.api("GET", "/users?q=dave@EX", nil).decode(t, &l)
		if len(l.Items) != 1 || l.Items[0].Username != "dave" {
			t.Errorf("search by e-mail %+v", l)
		}
		// A limit above the maximum is clamped, not refused.
		for _, q := range []string{"limit=101", "limit=99999999999999999999"} {
			r = e.api("GET", "/users?"+q, nil)
			wantAPI(t, r, http.StatusOK)
			r.decode(t, &l)
			if l.Limit != 100 || len(l.Items) != 6 {
				t.Errorf("%s: %+v", q, l)
			}
		}
		// Cursors of another list or another search, or made up.
		var clients keysetPage[apiClient]
		e.api("POST", "/clients", map[string]any{"name": "A", "redirect_uris": []string{"https://a.example/cb"}})
		e.api("POST", "/clients", map[string]any{"name": "B", "redirect_uris": []string{"https://b.example/cb"}})
		e.api("GET", "/clients?limit=1", nil).decode(t, &clients)
		var searched keysetPage[apiUser]
		e.CreateUser("eve", "eve@example.com", store.RoleUser, false)
		e.api("GET", "/users?q=e&limit=1", nil).decode(t, &searched)
		if clients.Next == nil || searched.Next == nil {
			t.Fatalf("no cursors to misuse: %+v %+v", clients, searched)
		}
		for _, c := range []string{*clients.Next, *searched.Next, "garbage", "e30", strings.Repeat("x", 3000), "%ff"} {
			wantProblem(t, e.api("GET", "/users?cursor="+url.QueryEscape(c), nil), http.StatusBadRequest, "cursor")
		}
		for q, field := range map[string]string{
			"limit=0": "limit", "limit=-1": "limit", "limit=x": "limit", "offset=1": "offset",
			"page=2": "page", "q=%00": "q",
		} {
			wantProblem(t, e.api("GET", "/users?"+q, nil), http.StatusBadRequest, field)
		}
	})
}

func TestAPIUserBadInput(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		e.CreateUser("alice", "alice@example.com", store.RoleUser, false)
		target := e.CreateUser("bob", "bob@example.com", store.RoleUser, true)
		before := e.state()
		for _, c := range []struct {
			name   string
			q      request
			status int
			field  string
		}{
			{"unknown field", request{method: "POST", path: "/users", raw: `{"username":"x","email":"x@example.com","admin":true}`}, 400, "admin"},
			{"read-only field", request{method: "PATCH", path: "/users/" + target.ID, raw: `{"id":"other"}`}, 400, "id"},
			{"wrong type", request{method: "POST", path: "/users", raw: `{"username":"x","email":"x@example.com","enabled":"yes"}`}, 400, "enabled"},
			{"number for a string", request{method: "PATCH", path: "/users/" + target.ID, raw: `{"first_name":7}`}, 400, "first_name"},
			{"null", request{method: "PATCH", path: "/users/" + target.ID, raw: `{"email":null}`}, 400, "email"},
			{"not an object", request{method: "POST", path: "/users", raw: `["x"]`}, 400, ""},
			{"malformed", request{method: "POST", path: "/users", raw: `{"username":`}, 400, ""},
			{"trailing data", request{method: "POST", path: "/users", raw: `{"username":"x"} {}`}, 400, ""},
			{"missing username", request{method: "POST", path: "/users", body: map[string]any{"email": "x@example.com"}}, 400, "username"},
			{"bad username", request{method: "POST", path: "/users", body: map[string]any{"username": "a b", "email": "x@example.com"}}, 400, "username"},
			{"bad email", request{method: "PATCH", path: "/users/" + target.ID, body: map[string]any{"email": "Bob <bob@example.com>"}}, 400, "email"},
			{"bad role", request{method: "PATCH", path: "/users/" + target.ID, body: map[string]any{"role": "root"}}, 400, "role"},
			{"long name", request{method: "PATCH", path: "/users/" + target.ID, body: map[string]any{"last_name": strings.Repeat("x", 101)}}, 400, "last_name"},
			{"duplicate username", request{method: "POST", path: "/users", body: map[string]any{"username": "ALICE", "email": "new@example.com"}}, 409, "username"},
			{"duplicate email", request{method: "PATCH", path: "/users/" + target.ID, body: map[string]any{"email": "Alice@Example.com"}}, 409, "email"},
			{"oversized", request{method: "POST", path: "/users", raw: `{"username":"` + strings.Repeat("x", 70<<10) + `"}`}, 413, ""},
			{"form body", request{method: "POST", path: "/users", raw: "username=x", contentType: "application/x-www-form-urlencoded"}, 415, ""},
			{"unknown user", request{method: "POST", path: "/users/nosuch/send-setup"}, 404, ""},
			{"link to unknown provider", request{method: "POST", path: "/users/" + target.ID + "/identities", body: map[string]any{"provider": "nope", "subject": "s"}}, 400, "provider"},
			{"link without subject", request{method: "POST", path: "/users/" + target.ID + "/identities", body: map[string]any{"provider": "nope"}}, 400, "subject"},
			{"unlink unknown", request{method: "DELETE", path: "/users/" + target.ID + "/identities/nope/s"}, 404, ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantProblem(t, e.send(c.q), c.status, c.field)
			})
		}
		e.unchanged(before, "bad user requests")
	})
}

func TestAPILastAdminAndSelf(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		_, token := e.clientToken("Robot", Scope)
		id := e.Admin.ID
		before := e.state()
		// A client has no account to lock itself out of, but the last
		// administrator stays whoever asks.
		for _, c := range []struct {
			method string
			body   any
			field  string
		}{
			{"PATCH", map[string]any{"role": "user"}, "role"},
			{"PATCH", map[string]any{"enabled": false}, "enabled"},
			{"DELETE", nil, "id"},
		} {
			p := wantProblem(t, e.send(request{method: c.method, path: "/users/" + id, body: c.body, token: token}), http.StatusConflict, c.field)
			if p.Detail != msgLastAdmin {
				t.Errorf("detail %q", p.Detail)
			}
		}
		// The administrator's own session cannot lock them out.
		for _, c := range []struct {
			method string
			body   any
			field  string
		}{
			{"PATCH", map[string]any{"role": "user"}, "role"},
			{"PATCH", map[string]any{"enabled": false}, "enabled"},
			{"PATCH", map[string]any{"otp_required": false}, "otp_required"},
			{"DELETE", nil, "id"},
		} {
			wantProblem(t, e.api(c.method, "/users/"+id, c.body), http.StatusBadRequest, c.field)
		}
		e.unchanged(before, "refused admin changes")

		// A disabled administrator does not count.
		off := e.CreateUser("off", "off@example.com", store.RoleAdmin, true)
		wantAPI(t, e.send(request{method: "PATCH", path: "/users/" + off.ID, body: map[string]any{"enabled": false}, token: token}), http.StatusOK)
		wantProblem(t, e.send(request{method: "PATCH", path: "/users/" + id, body: map[string]any{"role": "user"}, token: token}), http.StatusConflict, "role")
		// With a second enabled administrator, either may go.
		wantAPI(t, e.send(request{method: "PATCH", path: "/users/" + off.ID, body: map[string]any{"enabled": true}, token: token}), http.StatusOK)
		wantAPI(t, e.send(request{method: "PATCH", path: "/users/" + id, body: map[string]any{"role": "user"}, token: token}), http.StatusOK)
		wantProblem(t, e.send(request{method: "DELETE", path: "/users/" + off.ID, token: token}), http.StatusConflict, "id")
	})
}

// TestAPIUserByName: the API takes a username wherever it takes a user ID,
// as the CLI does.
func TestAPIUserByName(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		u := e.CreateUser("nadia", "nadia@example.com", store.RoleUser, true)
		r := e.api("GET", "/users/nadia", nil)
		wantAPI(t, r, http.StatusOK)
		var got apiUser
		r.decode(t, &got)
		if got.ID != u.ID {
			t.Errorf("GET by username: %+v", got)
		}
		wantAPI(t, e.api("PATCH", "/users/nadia", map[string]any{"first_name": "Nadia"}), http.StatusOK)
		if e.User(u.ID).FirstName != "Nadia" {
			t.Error("PATCH by username changed nothing")
		}
		e.AddCredential(u.ID)
		wantAPI(t, e.api("POST", "/users/nadia/reset-otp", nil), http.StatusOK)
		if e.HasCredential(u.ID) {
			t.Error("reset-otp by username kept the authenticator")
		}
		wantAPI(t, e.api("GET", "/users/nadia/identities", nil), http.StatusOK)
		wantProblem(t, e.api("GET", "/users/nobody-by-that-name", nil), http.StatusNotFound, "")
		// A key no row can hold (NUL, invalid UTF-8) names nobody, on every store.
		wantProblem(t, e.api("GET", "/users/bad%00name", nil), http.StatusNotFound, "")
		wantProblem(t, e.api("GET", "/users/bad%FFname", nil), http.StatusNotFound, "")
		wantAPI(t, e.api("DELETE", "/users/nadia", nil), http.StatusNoContent)
		if e.CountUsers() != 1 {
			t.Error("DELETE by username deleted nothing")
		}
	})
}
