package oauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/seal"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/testsupport/sqlitetest"
)

// endpointEnv is the provider on a real SQLite store, with confidential
// clients registered by name; each client's secret is in secrets.
type endpointEnv struct {
	t       *testing.T
	st      store.Store
	p       *Provider
	srv     *httptest.Server
	secrets map[string]string
}

func newEndpointEnv(t *testing.T) *endpointEnv { return newEndpointEnvWith(t, nil, nil) }

// newEndpointEnvWith is newEndpointEnv with adjust applied to the provider's
// configuration (when not nil) and login as its login pipeline.
func newEndpointEnvWith(t *testing.T, adjust func(*Config), login Login) *endpointEnv {
	t.Helper()
	ctx := context.Background()
	st := sqlitetest.Open(t)
	sealer, err := seal.New(make([]byte, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	keys := newTestKeySet(st, sealer)
	if err := keys.Ensure(ctx, "ES256"); err != nil {
		t.Fatal(err)
	}
	key := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	cfg := Config{Issuer: "http://authz.test", AccessTokenTTL: time.Hour, RefreshTokenTTL: time.Hour,
		AuthorizeCodeTTL: time.Minute, IDTokenTTL: time.Hour, HMACSecret: key(1), ClientSecretKey: key(2)}
	if adjust != nil {
		adjust(&cfg)
	}
	p := NewProvider(cfg, st, keys, nil, login, slog.New(slog.NewTextHandler(io.Discard, nil)))
	mux := http.NewServeMux()
	p.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e := &endpointEnv{t: t, st: st, p: p, srv: srv, secrets: map[string]string{}}
	for _, c := range []struct {
		id  string
		any bool
	}{{"app", false}, {"other", false}, {"resource-server", true}} {
		secret, hash, err := p.Hasher().NewClientSecret()
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		if err := st.CreateClient(ctx, &store.Client{ID: c.id, Name: c.id, SecretHash: hash, IntrospectAny: c.any,
			GrantTypes: []string{"client_credentials"}, Scopes: []string{"api"}, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		e.secrets[c.id] = secret
	}
	return e
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
}

// post sends form to path; basic, when not empty, is the client whose
// credentials go into HTTP Basic.
func (e *endpointEnv) post(path, basic string, form url.Values) reply {
	e.t.Helper()
	if basic == "" {
		return e.send(path, form, nil)
	}
	return e.postBasic(path, basic, e.secrets[basic], form)
}

// postBasic sends form to path with id and secret in HTTP Basic, even empty.
func (e *endpointEnv) postBasic(path, id, secret string, form url.Values) reply {
	e.t.Helper()
	return e.send(path, form, func(req *http.Request) { req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret)) })
}

// send posts form to path, with auth applied to the request when not nil.
func (e *endpointEnv) send(path string, form url.Values, auth func(*http.Request)) reply {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != nil {
		auth(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	r := reply{status: resp.StatusCode, header: resp.Header}
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &r.body)
	return r
}

// token returns a client_credentials access token of client.
func (e *endpointEnv) token(client string) string {
	e.t.Helper()
	r := e.post("/oauth2/token", client, url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}})
	tok, _ := r.body["access_token"].(string)
	if r.status != 200 || tok == "" {
		e.t.Fatalf("token for %s: %d %v", client, r.status, r.body)
	}
	return tok
}

func TestIntrospectionAcceptsBothAdvertisedMethods(t *testing.T) {
	t.Parallel()
	e := newEndpointEnv(t)
	tok := e.token("app")
	basic := e.post("/oauth2/introspect", "app", url.Values{"token": {tok}})
	post := e.post("/oauth2/introspect", "", url.Values{"token": {tok}, "client_id": {"app"}, "client_secret": {e.secrets["app"]}})
	for name, r := range map[string]reply{"client_secret_basic": basic, "client_secret_post": post} {
		if r.status != 200 || r.body["active"] != true || r.body["client_id"] != "app" {
			t.Errorf("%s: %d %v", name, r.status, r.body)
		}
	}
	revoked := e.post("/oauth2/revoke", "", url.Values{"token": {tok}, "client_id": {"app"}, "client_secret": {e.secrets["app"]}})
	if revoked.status != 200 {
		t.Fatalf("revocation with client_secret_post: %d %v", revoked.status, revoked.body)
	}
	if r := e.post("/oauth2/introspect", "app", url.Values{"token": {tok}}); r.body["active"] != false {
		t.Errorf("a revoked token is active: %v", r.body)
	}
}

func TestClientAuthenticationErrors(t *testing.T) {
	t.Parallel()
	e := newEndpointEnv(t)
	now := time.Now().UTC()
	if err := e.st.CreateClient(context.Background(), &store.Client{ID: "spa", Name: "spa", Public: true, RedirectURIs: []string{"https://spa.test/cb"},
		GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid"}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	tok := e.token("app")
	for _, path := range []string{"/oauth2/introspect", "/oauth2/revoke", "/oauth2/token"} {
		form := url.Values{"token": {tok}, "grant_type": {"client_credentials"}}
		withSecret := func(id, secret string) url.Values {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			f.Set("client_id", id)
			f.Set("client_secret", secret)
			return f
		}
		// Credentials twice, or two clients: invalid_request, nothing else.
		if r := e.post(path, "app", withSecret("app", e.secrets["app"])); r.status != 400 || r.body["error"] != "invalid_request" {
			t.Errorf("%s, Basic and body: %d %v", path, r.status, r.body)
		}
		twoIDs := url.Values{"client_id": {"other"}}
		for k, v := range form {
			twoIDs[k] = v
		}
		if r := e.post(path, "app", twoIDs); r.status != 400 || r.body["error"] != "invalid_request" {
			t.Errorf("%s, Basic for app and client_id other: %d %v", path, r.status, r.body)
		}
		repeatedID := withSecret("app", e.secrets["app"])
		repeatedID["client_id"] = []string{"app", "other"}
		if r := e.post(path, "", repeatedID); r.status != 400 || r.body["error"] != "invalid_request" {
			t.Errorf("%s, client_id twice in the body: %d %v", path, r.status, r.body)
		}
		secretAndAssertion := withSecret("app", e.secrets["app"])
		secretAndAssertion.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		secretAndAssertion.Set("client_assertion", "eyJhbGciOiJFUzI1NiJ9.e30.c2ln")
		if r := e.post(path, "", secretAndAssertion); r.status != 400 || r.body["error"] != "invalid_request" {
			t.Errorf("%s, client secret and client assertion: %d %v", path, r.status, r.body)
		}
		// No client authentication at all: invalid_client (RFC 6749 §5.2),
		// with the Basic scheme named when Basic was tried, even empty.
		if r := e.post(path, "", form); r.status != 401 || r.body["error"] != "invalid_client" || r.header.Get("WWW-Authenticate") != "" {
			t.Errorf("%s, no client authentication: %d %v %q", path, r.status, r.body, r.header.Get("WWW-Authenticate"))
		}
		if r := e.postBasic(path, "", "", form); r.status != 401 || r.body["error"] != "invalid_client" || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("%s, empty Basic credentials: %d %v %q", path, r.status, r.body, r.header.Get("WWW-Authenticate"))
		}
		// A wrong secret: invalid_client, and the Basic scheme named.
		e.secrets["liar"] = "wrong"
		r := e.post(path, "liar", form)
		if r.status != 401 || r.body["error"] != "invalid_client" || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("%s, wrong Basic secret: %d %v %q", path, r.status, r.body, r.header.Get("WWW-Authenticate"))
		}
		if r := e.post(path, "", withSecret("app", "wrong")); r.status != 401 || r.body["error"] != "invalid_client" || r.header.Get("WWW-Authenticate") != "" {
			t.Errorf("%s, wrong body secret: %d %v %q", path, r.status, r.body, r.header.Get("WWW-Authenticate"))
		}
		// A Basic header that is not base64 of id:secret is still Basic tried.
		for _, h := range []string{"Basic !!!notbase64", "Basic", "basic " + base64.StdEncoding.EncodeToString([]byte("no colon"))} {
			r := e.send(path, form, func(req *http.Request) { req.Header.Set("Authorization", h) })
			if r.status != 401 || r.body["error"] != "invalid_client" || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("%s, Authorization %q: %d %v %q", path, h, r.status, r.body, r.header.Get("WWW-Authenticate"))
			}
			if r := e.send(path, withSecret("app", e.secrets["app"]), func(req *http.Request) { req.Header.Set("Authorization", h) }); r.status != 400 || r.body["error"] != "invalid_request" {
				t.Errorf("%s, Authorization %q and a body secret: %d %v", path, h, r.status, r.body)
			}
			// Nor does a client_id in the body make it a public client's request.
			idOnly := url.Values{"client_id": {"spa"}}
			for k, v := range form {
				idOnly[k] = v
			}
			if r := e.send(path, idOnly, func(req *http.Request) { req.Header.Set("Authorization", h) }); r.status != 401 || r.body["error"] != "invalid_client" || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("%s, Authorization %q and a client_id: %d %v", path, h, r.status, r.body)
			}
		}
	}
}

// TestParametersOnce: every parameter of the token, revocation and
// introspection endpoints is sent once, in a form-encoded body (RFC 6749
// §3.1, §3.2); a repeated one is refused whichever value comes first.
func TestParametersOnce(t *testing.T) {
	t.Parallel()
	e := newEndpointEnv(t)
	tok := e.token("app")
	repeats := map[string]url.Values{
		"/oauth2/token":      {"grant_type": {"client_credentials", "client_credentials"}, "scope": {"api"}},
		"/oauth2/revoke":     {"token": {"unknown", tok}},
		"/oauth2/introspect": {"token": {tok, tok}},
	}
	for path, form := range repeats {
		if r := e.post(path, "app", form); r.status != 400 || r.body["error"] != "invalid_request" {
			t.Errorf("%s, %v: %d %v", path, form, r.status, r.body)
		}
	}
	if r := e.post("/oauth2/token", "app", url.Values{"grant_type": {"client_credentials"}, "scope": {"api", "api"}}); r.status != 400 || r.body["error"] != "invalid_request" {
		t.Errorf("scope twice: %d %v", r.status, r.body)
	}
	// audience is a list by definition (fosite reads every value).
	if r := e.post("/oauth2/token", "app", url.Values{"grant_type": {"client_credentials"}, "audience": {"app", "app"}}); r.body["error"] == "invalid_request" {
		t.Errorf("audience twice: %d %v", r.status, r.body)
	}
	if !introspectActive(t, e, tok) {
		t.Error("a refused revocation with the token second revoked it")
	}
	for _, ct := range []string{"multipart/form-data; boundary=x", "application/json", "text/plain", ""} {
		body := "--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--x--\r\n"
		req, _ := http.NewRequest("POST", e.srv.URL+"/oauth2/token", strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.SetBasicAuth("app", e.secrets["app"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if resp.StatusCode != 400 || got["error"] != "invalid_request" {
			t.Errorf("Content-Type %q: %d %v", ct, resp.StatusCode, got)
		}
	}
	if r := e.send("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, func(req *http.Request) {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
		req.SetBasicAuth("app", e.secrets["app"])
	}); r.status != 200 {
		t.Errorf("a form with its charset named: %d %v", r.status, r.body)
	} else if _, ok := r.body["scope"]; ok {
		t.Errorf("no scope granted, yet the answer has a scope member: %v", r.body)
	}
}

// introspectActive asks the resource server whether tok is active.
func introspectActive(t *testing.T, e *endpointEnv, tok string) bool {
	t.Helper()
	r := e.post("/oauth2/introspect", "resource-server", url.Values{"token": {tok}})
	if r.status != 200 {
		t.Fatalf("introspection: %d %v", r.status, r.body)
	}
	return r.body["active"] == true
}

// TestIntrospectionOnlyForTheTokensClients: a client learns nothing of a
// token issued to another client, unless it is a resource server allowed
// to introspect any.
func TestIntrospectionOnlyForTheTokensClients(t *testing.T) {
	t.Parallel()
	e := newEndpointEnv(t)
	tok := e.token("app")
	if r := e.post("/oauth2/introspect", "other", url.Values{"token": {tok}}); r.status != 200 || r.body["active"] != false || len(r.body) != 1 {
		t.Errorf("another client: %d %v, want only active:false", r.status, r.body)
	}
	if r := e.post("/oauth2/introspect", "resource-server", url.Values{"token": {tok}}); r.body["active"] != true {
		t.Errorf("a resource server allowed to introspect any: %v", r.body)
	}
}

// TestIntrospectionForAnAudience: a token whose client names another client
// among its audiences is active to that client, opaque or JWT, and to a
// client it does not name still inactive.
func TestIntrospectionForAnAudience(t *testing.T) {
	t.Parallel()
	e := newEndpointEnv(t)
	for _, format := range []string{store.AccessTokenOpaque, store.AccessTokenJWT} {
		id := "svc-" + format
		secret, hash, err := e.p.Hasher().NewClientSecret()
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		if err := e.st.CreateClient(context.Background(), &store.Client{ID: id, Name: id, SecretHash: hash, GrantTypes: []string{"client_credentials"},
			Scopes: []string{"api"}, AccessTokenFormat: format, Audiences: []string{"app"}, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		e.secrets[id] = secret
		tok := e.token(id)
		if r := e.post("/oauth2/introspect", "app", url.Values{"token": {tok}}); r.status != 200 || r.body["active"] != true || r.body["client_id"] != id {
			t.Errorf("%s token, introspected by its audience: %d %v", format, r.status, r.body)
		}
		if r := e.post("/oauth2/introspect", "other", url.Values{"token": {tok}}); r.status != 200 || r.body["active"] != false || len(r.body) != 1 {
			t.Errorf("%s token, introspected by a client it does not name: %d %v, want only active:false", format, r.status, r.body)
		}
	}
}

// TestClientCredentialsRequestIDsGrow: the request IDs of client-credentials
// tokens grow with each token issued, so the token table's request index
// takes them at its end.
func TestClientCredentialsRequestIDsGrow(t *testing.T) {
	t.Parallel()
	e := newEndpointEnv(t)
	var ids []string
	for range 20 {
		tok := e.token("app")
		// An HMAC token's stored signature is its part after the dot.
		got, err := e.st.GetToken(context.Background(), store.TokenAccess, tok[strings.LastIndexByte(tok, '.')+1:])
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) > 0 && got.RequestID <= ids[len(ids)-1] {
			t.Fatalf("request ID %q of the token issued after one with %q does not sort after it", got.RequestID, ids[len(ids)-1])
		}
		ids = append(ids, got.RequestID)
	}
}
