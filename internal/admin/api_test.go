package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/authz/authz/internal/oauth"
	"github.com/authz/authz/internal/store"
)

// apiResponse is an API answer.
type apiResponse struct {
	status int
	body   []byte
	header http.Header
}

// request is one API call; the zero credentials mean the admin's session
// with its CSRF token.
type request struct {
	method, path string
	body         any    // encoded as JSON unless raw is set
	raw          string // sent as is when not empty
	contentType  string // default application/json
	token        string // bearer token instead of the session
	cookie       string // session cookie instead of the admin's
	noCSRF       bool
	csrf         string // CSRF header instead of the session's
}

func (e *env) send(q request) apiResponse {
	e.t.Helper()
	var body io.Reader
	switch {
	case q.raw != "":
		body = strings.NewReader(q.raw)
	case q.body != nil:
		b, err := json.Marshal(q.body)
		if err != nil {
			e.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(q.method, e.srv.URL+APIPrefix+q.path, body)
	if body != nil {
		ct := q.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	cookie := ""
	if q.token != "" {
		req.Header.Set("Authorization", "Bearer "+q.token)
	} else {
		cookie = q.cookie
		if cookie == "" {
			cookie = e.cookie
		}
		if !q.noCSRF {
			token := q.csrf
			if token == "" {
				token = csrf(cookie)
			}
			req.Header.Set("X-CSRF-Token", token)
		}
	}
	r := e.do(req, cookie)
	return apiResponse{status: r.status, body: []byte(r.body), header: r.header}
}

// api calls the API as the administrator's browser session.
func (e *env) api(method, path string, body any) apiResponse {
	e.t.Helper()
	return e.send(request{method: method, path: path, body: body})
}

func (r apiResponse) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func wantAPI(t *testing.T, r apiResponse, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body: %s", r.status, status, r.body)
	}
}

// wantProblem checks r is an RFC 9457 problem with status naming field.
func wantProblem(t *testing.T, r apiResponse, status int, field string) problem {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p problem
	r.decode(t, &p)
	if p.Status != status || p.Title == "" || !strings.HasPrefix(p.Type, "urn:authz:problem:") {
		t.Errorf("problem %+v", p)
	}
	if p.Field != field {
		t.Errorf("problem field %q, want %q (%s)", p.Field, field, p.Detail)
	}
	return p
}

// state is everything an API request could change, to check that a refused
// one changed nothing.
func (e *env) state() string {
	e.t.Helper()
	ctx := context.Background()
	users, _, err := e.st.ListUsers(ctx, store.UserFilter{Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	var creds []string
	for _, u := range users {
		if e.hasCredential(u.ID) {
			creds = append(creds, u.ID)
		}
	}
	clients, _ := e.st.ListClients(ctx)
	providers, _ := e.st.ListProviders(ctx)
	_, audits, _ := e.st.ListAudit(ctx, store.AuditFilter{Limit: 1})
	var ids []*store.FederatedIdentity
	for _, u := range users {
		l, _ := e.st.ListFederatedIdentities(ctx, u.ID)
		ids = append(ids, l...)
	}
	b, err := json.Marshal([]any{users, creds, clients, providers, audits, ids, len(e.mail.outbox.Messages())})
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

func (e *env) unchanged(before string, what string) {
	e.t.Helper()
	if after := e.state(); after != before {
		e.t.Errorf("%s changed the store:\nbefore %s\nafter  %s", what, before, after)
	}
}

// adminClient registers a client with the client_credentials grant and the
// given scopes and returns a token it obtained from /oauth2/token.
func (e *env) clientToken(name string, scopes ...string) (clientID, token string) {
	e.t.Helper()
	ctx := context.Background()
	grants, none := []string{"client_credentials"}, []string{}
	cl, secret, err := e.console.Service().CreateClient(ctx, Actor{}, ClientPatch{Name: &name, GrantTypes: &grants, Scopes: &scopes, RedirectURIs: &none})
	if err != nil {
		e.t.Fatalf("create client: %v", err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {strings.Join(scopes, " ")}}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(cl.ID), url.QueryEscape(secret))
	r := e.do(req, "")
	if r.status != http.StatusOK {
		e.t.Fatalf("token: %d %s", r.status, r.body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(r.body), &tok); err != nil || tok.AccessToken == "" {
		e.t.Fatalf("token answer %s: %v", r.body, err)
	}
	return cl.ID, tok.AccessToken
}

func TestAPIUsers(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		r := e.api("POST", "/users", map[string]any{"username": "alice", "email": "alice@example.com", "first_name": "Alice", "otp_required": true})
		wantAPI(t, r, http.StatusCreated)
		var created apiCreatedUser
		r.decode(t, &created)
		if created.ID == "" || created.Role != store.RoleUser || !created.Enabled || !created.OTPRequired ||
			created.OTPState != OTPPending || created.SetupEmail != "sent" || created.LastLoginAt != nil {
			t.Fatalf("created %+v", created)
		}
		if loc := r.header.Get("Location"); loc != APIPrefix+"/users/"+created.ID {
			t.Errorf("Location %q", loc)
		}
		if msgs := e.mail.outbox.Messages(); len(msgs) != 1 || msgs[0].To != "alice@example.com" {
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
		if types := e.auditTypes(created.ID); !slices.Contains(types, "user.role_changed") || !slices.Contains(types, "user.updated") {
			t.Errorf("audit %v", types)
		}
		// A merge-patch media type is accepted too.
		r = e.send(request{method: "PATCH", path: "/users/" + created.ID, raw: `{"first_name":"Al"}`, contentType: "application/merge-patch+json"})
		wantAPI(t, r, http.StatusOK)

		// reset-otp
		e.addCredential(created.ID)
		r = e.api("POST", "/users/"+created.ID+"/reset-otp", nil)
		wantAPI(t, r, http.StatusOK)
		var reset struct {
			Removed bool    `json:"authenticator_removed"`
			User    apiUser `json:"user"`
		}
		r.decode(t, &reset)
		if !reset.Removed || reset.User.OTPState != OTPPending || e.hasCredential(created.ID) {
			t.Errorf("reset %+v", reset)
		}

		// send-setup and send-reset
		r = e.api("POST", "/users/"+created.ID+"/send-reset", nil)
		wantAPI(t, r, http.StatusOK)
		if !strings.Contains(string(r.body), `"sent":true`) {
			t.Errorf("send-reset %s", r.body)
		}
		e.mail.fail(io.ErrUnexpectedEOF)
		r = e.api("POST", "/users/"+created.ID+"/send-setup", nil)
		wantAPI(t, r, http.StatusOK)
		if !strings.Contains(string(r.body), `"sent":false`) || !strings.Contains(string(r.body), "could not be sent") {
			t.Errorf("failed send-setup %s", r.body)
		}
		e.mail.fail(nil)

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
			e.createUser(n, n+"@example.com", store.RoleUser, false)
		}
		var l list[apiUser]
		e.api("GET", "/users?limit=2", nil).decode(t, &l)
		if l.Total != 5 || l.Offset != 0 || l.Limit != 2 || len(l.Items) != 2 || l.Items[0].Username != "bob" {
			t.Fatalf("page 1 %+v", l)
		}
		e.api("GET", "/users?offset=4&limit=2", nil).decode(t, &l)
		if len(l.Items) != 1 || l.Items[0].Username != "root" {
			t.Errorf("last page %+v", l)
		}
		r := e.api("GET", "/users?offset=500", nil)
		wantAPI(t, r, http.StatusOK)
		if !strings.Contains(string(r.body), `"items":[]`) {
			t.Errorf("beyond the end: %s", r.body)
		}
		e.api("GET", "/users?q=CAR", nil).decode(t, &l)
		if l.Total != 1 || l.Items[0].Username != "carol" {
			t.Errorf("search %+v", l)
		}
		for q, field := range map[string]string{
			"limit=0": "limit", "limit=101": "limit", "limit=x": "limit", "offset=-1": "offset",
			"offset=99999999999999999999": "offset", "page=2": "page", "q=%00": "q",
		} {
			wantProblem(t, e.api("GET", "/users?"+q, nil), http.StatusBadRequest, field)
		}
	})
}

func TestAPIUserBadInput(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		e.createUser("alice", "alice@example.com", store.RoleUser, false)
		target := e.createUser("bob", "bob@example.com", store.RoleUser, true)
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

func TestAPIIdentities(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		u := e.createUser("fay", "fay@example.com", store.RoleUser, false)
		other := e.createUser("gus", "gus@example.com", store.RoleUser, false)
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
		if types := e.auditTypes(u.ID); !slices.Contains(types, "federation.linked") || !slices.Contains(types, "federation.unlinked") {
			t.Errorf("audit %v", types)
		}
		e.api("GET", "/users/"+u.ID+"/identities", nil).decode(t, &l)
		if l.Total != 0 {
			t.Errorf("after unlink %+v", l)
		}
	})
}

func TestAPILastAdminAndSelf(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		_, token := e.clientToken("Robot", AdminScope)
		id := e.admin.ID
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
		off := e.createUser("off", "off@example.com", store.RoleAdmin, true)
		wantAPI(t, e.send(request{method: "PATCH", path: "/users/" + off.ID, body: map[string]any{"enabled": false}, token: token}), http.StatusOK)
		wantProblem(t, e.send(request{method: "PATCH", path: "/users/" + id, body: map[string]any{"role": "user"}, token: token}), http.StatusConflict, "role")
		// With a second enabled administrator, either may go.
		wantAPI(t, e.send(request{method: "PATCH", path: "/users/" + off.ID, body: map[string]any{"enabled": true}, token: token}), http.StatusOK)
		wantAPI(t, e.send(request{method: "PATCH", path: "/users/" + id, body: map[string]any{"role": "user"}, token: token}), http.StatusOK)
		wantProblem(t, e.send(request{method: "DELETE", path: "/users/" + off.ID, token: token}), http.StatusConflict, "id")
	})
}

func TestAPIAuthorization(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		plain := e.createUser("pat", "pat@example.com", store.RoleUser, true)
		userSession, noOTP, other := e.session(plain.ID, "pwd", "otp"), e.session(e.admin.ID, "pwd"), e.session(e.admin.ID, "pwd", "otp")
		_, weak := e.clientToken("Reader", "api.read")
		before := e.state()
		body := map[string]any{"username": "mallory", "email": "m@example.com"}

		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+APIPrefix+"/users", strings.NewReader(`{"username":"x","email":"x@example.com"}`))
		req.Header.Set("Content-Type", "application/json")
		r := e.do(req, "")
		if r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("anonymous: %d %q", r.status, r.header.Get("WWW-Authenticate"))
		}
		wantProblem(t, e.send(request{method: "POST", path: "/users", body: body, cookie: userSession}), http.StatusForbidden, "")
		wantProblem(t, e.send(request{method: "POST", path: "/users", body: body, cookie: noOTP}), http.StatusForbidden, "")
		wantProblem(t, e.send(request{method: "POST", path: "/users", body: body, noCSRF: true}), http.StatusForbidden, "X-CSRF-Token")
		wantProblem(t, e.send(request{method: "POST", path: "/users", body: body, csrf: csrf(other)}), http.StatusForbidden, "X-CSRF-Token")
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
		off := e.createUser("ada", "ada@example.com", store.RoleAdmin, true)
		offSession := e.session(off.ID, "pwd", "otp")
		off.Enabled = false
		if err := e.st.UpdateUser(ctx, off); err != nil {
			t.Fatal(err)
		}
		gone := e.createUser("gil", "gil@example.com", store.RoleAdmin, true)
		goneSession := e.session(gone.ID, "pwd", "otp")
		if err := e.st.DeleteUser(ctx, gone.ID); err != nil {
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
		robotID, token := e.clientToken("Robot", AdminScope)
		wantAPI(t, e.send(request{method: "POST", path: "/users", body: map[string]any{"username": "viatoken", "email": "vt@example.com"}, token: token}), http.StatusCreated)
		evs, _, _ := e.st.ListAudit(context.Background(), store.AuditFilter{Type: "user.created", Limit: 1})
		if len(evs) != 1 || evs[0].ActorID != "client:"+robotID {
			t.Errorf("audit actor %+v", evs)
		}
		// Disabling the client ends its token.
		disabled := true
		if _, err := e.console.Service().UpdateClient(context.Background(), Actor{}, robotID, ClientPatch{Disabled: &disabled}); err != nil {
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
		e.console.Tokens = stubTokens{err: oauth.ErrNotClientToken}
		wantProblem(t, e.send(request{method: "GET", path: "/users", token: "a-user-token"}), http.StatusForbidden, "")
	})
}

func TestAPIRouting(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		wantProblem(t, e.api("GET", "/nothing-here", nil), http.StatusNotFound, "")
		r := e.api("PUT", "/users", nil)
		wantProblem(t, r, http.StatusMethodNotAllowed, "")
		if allow := r.header.Get("Allow"); allow != "GET, POST" {
			t.Errorf("Allow %q", allow)
		}
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+APIPrefix+"/openapi.json", nil)
		doc := e.do(req, "")
		if doc.status != http.StatusOK || !strings.Contains(doc.body, `"openapi": "3.1.0"`) {
			t.Errorf("openapi.json: %d", doc.status)
		}
	})
}
