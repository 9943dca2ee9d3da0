package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/testsupport/admintest"
)

// env is the API on a real store behind a real HTTP server.
type env struct {
	*admintest.Env
	adminAPI *API
}

// forEachStore runs fn against the API on each store.
func forEachStore(t *testing.T, fn func(t *testing.T, e *env)) {
	admintest.ForEachStore(t, func(base *admintest.Env, mux *http.ServeMux) *env {
		a := &API{Service: base.Service, Store: base.Store, Sessions: base.Sessions, Tokens: base.Provider, Log: base.Log}
		a.Register(mux)
		return &env{Env: base, adminAPI: a}
	}, fn)
}

// msgLastAdmin is the service's refusal to lose the last administrator.
const msgLastAdmin = "authz needs at least one enabled administrator, and this is the last one. Make another user an administrator first."

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
	e.T.Helper()
	var body io.Reader
	switch {
	case q.raw != "":
		body = strings.NewReader(q.raw)
	case q.body != nil:
		b, err := json.Marshal(q.body)
		if err != nil {
			e.T.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(q.method, e.Server.URL+Prefix+q.path, body)
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
			cookie = e.Cookie
		}
		if !q.noCSRF {
			token := q.csrf
			if token == "" {
				token = admintest.CSRF(cookie)
			}
			req.Header.Set("X-CSRF-Token", token)
		}
	}
	r := e.Do(req, cookie)
	return apiResponse{status: r.Status, body: []byte(r.Body), header: r.Header}
}

// api calls the API as the administrator's browser session.
func (e *env) api(method, path string, body any) apiResponse {
	e.T.Helper()
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
	e.T.Helper()
	ctx := context.Background()
	users, _, err := e.Store.ListUsers(ctx, store.UserFilter{Limit: 1000})
	if err != nil {
		e.T.Fatal(err)
	}
	var creds []string
	for _, u := range users {
		if e.HasCredential(u.ID) {
			creds = append(creds, u.ID)
		}
	}
	clients, _ := e.Store.ListClients(ctx)
	providers, _ := e.Store.ListProviders(ctx)
	_, audits, _ := e.Store.ListAudit(ctx, store.AuditFilter{Limit: 1})
	var ids []*store.FederatedIdentity
	for _, u := range users {
		l, _ := e.Store.ListFederatedIdentities(ctx, u.ID)
		ids = append(ids, l...)
	}
	b, err := json.Marshal([]any{users, creds, clients, providers, audits, ids, len(e.Mail.Outbox.Messages())})
	if err != nil {
		e.T.Fatal(err)
	}
	return string(b)
}

func (e *env) unchanged(before string, what string) {
	e.T.Helper()
	if after := e.state(); after != before {
		e.T.Errorf("%s changed the store:\nbefore %s\nafter  %s", what, before, after)
	}
}

// clientToken registers a client with the client_credentials grant and the
// given scopes and returns a token it obtained from /oauth2/token.
func (e *env) clientToken(name string, scopes ...string) (clientID, token string) {
	e.T.Helper()
	ctx := context.Background()
	grants, none := []string{"client_credentials"}, []string{}
	cl, secret, err := e.Service.CreateClient(ctx, admin.Actor{}, admin.ClientPatch{Name: &name, GrantTypes: &grants, Scopes: &scopes, RedirectURIs: &none})
	if err != nil {
		e.T.Fatalf("create client: %v", err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {strings.Join(scopes, " ")}}
	req, _ := http.NewRequest(http.MethodPost, e.Server.URL+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(cl.ID), url.QueryEscape(secret))
	r := e.Do(req, "")
	if r.Status != http.StatusOK {
		e.T.Fatalf("token: %d %s", r.Status, r.Body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(r.Body), &tok); err != nil || tok.AccessToken == "" {
		e.T.Fatalf("token answer %s: %v", r.Body, err)
	}
	return cl.ID, tok.AccessToken
}
