package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authz/authz/internal/server"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/testsupport/testkeys"
)

// tokenError posts form to the token endpoint and returns the status and the
// RFC 6749 error code.
func tokenError(t *testing.T, in *instance, clientID, secret string, form url.Values) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, in.URL+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if clientID != "" {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Debug       string `json:"error_debug"`
	}
	_ = json.Unmarshal(body, &e)
	if e.Debug != "" || strings.Contains(string(body), "goroutine") {
		t.Errorf("debug detail leaked to the client: %s", body)
	}
	return resp.StatusCode, e.Error
}

// codeFor walks a login and returns an unredeemed code and its flow.
func codeFor(t *testing.T, in *instance, r *rp, b *browser, u *testUser) (string, *flow) {
	t.Helper()
	f := r.start()
	p := b.get(f.authURL)
	if strings.Contains(p.Body, `action="/login/password"`) {
		p = b.loginWithPassword(p, u.Username, u.Password)
	}
	return r.callback(p, f, in.URL), f
}

func TestAuthorizeRejectsBadClientsAndRedirects(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		id, _ := in.createClient(clientSpec{SkipConsent: true})
		pub, _ := in.createClient(clientSpec{Public: true, SkipConsent: true})
		base := in.URL + "/oauth2/auth?"
		good := url.Values{"client_id": {id}, "redirect_uri": {callbackURL}, "response_type": {"code"}, "scope": {"openid"},
			"state": {"state-12345678"}, "nonce": {"nonce-12345678"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
		with := func(k, v string) string {
			q := url.Values{}
			for key, vals := range good {
				q[key] = vals
			}
			if v == "" {
				q.Del(k)
			} else {
				q.Set(k, v)
			}
			return base + q.Encode()
		}
		b := newBrowser(t)
		for name, target := range map[string]string{
			"unknown client":           with("client_id", "no-such-client"),
			"missing client":           with("client_id", ""),
			"unregistered redirect":    with("redirect_uri", "https://evil.example/cb"),
			"redirect with extra path": with("redirect_uri", callbackURL+"/x"),
			"missing redirect":         with("redirect_uri", ""),
		} {
			p := b.get(target)
			if p.Status != http.StatusBadRequest || p.URL.Host == "127.0.0.1:9" || p.URL.Host == "evil.example" {
				t.Errorf("%s: want an error page (400), got %d at %s", name, p.Status, p.URL)
			}
			if !strings.Contains(p.Header.Get("Content-Type"), "text/html") {
				t.Errorf("%s: error page must be HTML", name)
			}
		}
		// Errors that can be reported to a verified redirect_uri go back there.
		for name, c := range map[string]struct{ target, want string }{
			"plain PKCE":       {with("code_challenge_method", "plain"), "invalid_request"},
			"unsupported type": {with("response_type", "token"), "unsupported_response_type"},
			"unknown scope":    {with("scope", "openid admin"), "invalid_scope"},
			"short state":      {with("state", "abc"), "invalid_request"},
			"public without PKCE": {base + url.Values{"client_id": {pub}, "redirect_uri": {callbackURL}, "response_type": {"code"},
				"scope": {"openid"}, "state": {"state-12345678"}}.Encode(), "invalid_request"},
		} {
			p := b.get(c.target)
			got := p.URL.Query()
			if name == "unsupported type" {
				// token answers in the fragment, errors too (RFC 6749 §4.2.2.1).
				got, _ = url.ParseQuery(p.URL.Fragment)
			}
			if p.URL.Host != "127.0.0.1:9" || got.Get("error") != c.want || got.Get("iss") != in.URL {
				t.Errorf("%s: want redirect with error=%s and iss, got %d %s", name, c.want, p.Status, p.URL)
			}
		}
		// Oversized request.
		if p := b.get(with("state", strings.Repeat("s", 9000))); p.Status < 400 || p.Status >= 500 {
			t.Errorf("oversized request: %d", p.Status)
		}
	})
}

func TestTokenEndpointBadInput(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		id, secret := in.createClient(clientSpec{SkipConsent: true})
		r := newRP(t, in, id, secret)
		u := in.createUser("grace", false)
		b := newBrowser(t)
		ctx := context.Background()

		// Wrong PKCE verifier, then a missing one.
		code, _ := codeFor(t, in, r, b, u)
		if st, e := tokenError(t, in, id, secret, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callbackURL}, "code_verifier": {oauth2.GenerateVerifier()}}); st != 400 || e != "invalid_grant" {
			t.Errorf("wrong verifier: %d %s", st, e)
		}
		code, _ = codeFor(t, in, r, b, u)
		if st, e := tokenError(t, in, id, secret, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callbackURL}}); st != 400 || (e != "invalid_grant" && e != "invalid_request") {
			t.Errorf("missing verifier: %d %s", st, e)
		}

		// Reused code: refused, and what the first redemption issued is revoked.
		code, f := codeFor(t, in, r, b, u)
		tok, _ := r.exchange(code, f)
		if _, err := r.config.Exchange(ctx, code, oauth2.VerifierOption(f.verifier)); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Errorf("reused code: %v", err)
		}
		if introspect(t, in, id, secret, tok.AccessToken) {
			t.Error("code reuse must revoke the access token it issued")
		}
		if _, err := r.config.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token(); err == nil {
			t.Error("code reuse must revoke the refresh token it issued")
		}

		// Expired code, on a server whose codes live 1 s (the others' codes
		// must outlive a slow exchange). fosite times codes by the real clock,
		// not the server's (server.WithClock), so this waits out the lifetime,
		// which started before codeFor returned.
		short := startServer(t, backend, "--tokens-code-ttl", "1s")
		sid, ssecret := short.createClient(clientSpec{SkipConsent: true})
		sr := newRP(t, short, sid, ssecret)
		code, f = codeFor(t, short, sr, newBrowser(t), short.createUser("grace", false))
		time.Sleep(time.Second + 50*time.Millisecond)
		if _, err := sr.config.Exchange(ctx, code, oauth2.VerifierOption(f.verifier)); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Errorf("expired code: %v", err)
		}

		// Revoked refresh token.
		code, f = codeFor(t, in, r, b, u)
		tok, _ = r.exchange(code, f)
		form := url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}
		req, _ := http.NewRequest(http.MethodPost, in.URL+"/oauth2/revoke", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
			t.Fatalf("revoke refresh token: %v", err)
		}
		if st, e := tokenError(t, in, id, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}); st != 400 || e != "invalid_grant" {
			t.Errorf("revoked refresh token: %d %s", st, e)
		}

		// Malformed and hostile requests.
		cases := map[string]struct {
			id, secret string
			form       url.Values
			status     int
			err        string
		}{
			"wrong secret":      {id, "nope", url.Values{"grant_type": {"client_credentials"}}, 401, "invalid_client"},
			"unknown client":    {"ghost", "x", url.Values{"grant_type": {"client_credentials"}}, 401, "invalid_client"},
			"hostile client id": {"\x00\xff", "x", url.Values{"grant_type": {"client_credentials"}}, 401, "invalid_client"},
			"no grant type":     {id, secret, url.Values{}, 400, "invalid_request"},
			"unsupported grant": {id, secret, url.Values{"grant_type": {"password"}, "username": {"u"}, "password": {"p"}}, 400, "unsupported_grant_type"},
			"garbage code":      {id, secret, url.Values{"grant_type": {"authorization_code"}, "code": {"ory_ac_garbage.x"}, "redirect_uri": {callbackURL}}, 400, "invalid_grant"},
			"garbage refresh":   {id, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"\x00\xff"}}, 400, "invalid_grant"},
			"grant not allowed": {id, secret, url.Values{"grant_type": {"client_credentials"}}, 400, "unauthorized_client"},
			// Not an invalid_scope: no scope would do for this grant.
			"grant not allowed, scope neither": {id, secret, url.Values{"grant_type": {"client_credentials"}, "scope": {"nope"}}, 400, "unauthorized_client"},
		}
		for name, c := range cases {
			if st, e := tokenError(t, in, c.id, c.secret, c.form); st != c.status || e != c.err {
				t.Errorf("%s: got %d %s, want %d %s", name, st, e, c.status, c.err)
			}
		}
		// A public client has no credentials to grant (RFC 6749 §4.4).
		pub, _ := in.createClient(clientSpec{Public: true, Grants: []string{"authorization_code", "client_credentials"}})
		if st, e := tokenError(t, in, "", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {pub}}); st != 400 || e != "unauthorized_client" {
			t.Errorf("client credentials of a public client: %d %s, want 400 unauthorized_client", st, e)
		}
		// An oversized body is refused without a server error.
		big := url.Values{"grant_type": {"client_credentials"}, "pad": {strings.Repeat("a", 64<<10)}}
		if st, _ := tokenError(t, in, id, secret, big); st < 400 || st >= 500 {
			t.Errorf("oversized body: %d", st)
		}
		// A JSON body is not a form.
		req, _ = http.NewRequest(http.MethodPost, in.URL+"/oauth2/token", strings.NewReader(`{"grant_type":"client_credentials"}`))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(id, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("JSON body: %d", resp.StatusCode)
		}
	})
}

func TestUserinfoAndIntrospectionBadInput(t *testing.T) {
	t.Parallel()
	in := startServer(t, "sqlite")
	id, secret := in.createClient(clientSpec{SkipConsent: true})
	pub, _ := in.createClient(clientSpec{Public: true, SkipConsent: true})
	// wantErr, when set, is the error code the JSON answer must carry:
	// invalid_client for a request without client authentication
	// (RFC 6749 §5.2), never fosite's request_unauthorized.
	cases := []struct {
		name, method, path, auth, body string
		want                           int
		wantErr                        string
	}{
		{"userinfo without token", "GET", "/userinfo", "", "", 401, ""},
		{"userinfo with garbage token", "GET", "/userinfo", "Bearer garbage", "", 401, ""},
		{"userinfo with basic auth", "GET", "/userinfo", "Basic Zm9vOmJhcg==", "", 401, ""},
		{"introspect unauthenticated", "POST", "/oauth2/introspect", "", "token=x", 401, "invalid_client"},
		{"introspect wrong secret", "POST", "/oauth2/introspect", basic(id, "wrong"), "token=x", 401, "invalid_client"},
		{"introspect as public client", "POST", "/oauth2/introspect", basic(pub, ""), "token=x", 401, "invalid_client"},
		{"introspect unknown token", "POST", "/oauth2/introspect", basic(id, secret), "token=x", 200, ""},
		{"introspect without token", "POST", "/oauth2/introspect", basic(id, secret), "", 400, "invalid_request"},
		{"revoke unknown token", "POST", "/oauth2/revoke", basic(id, secret), "token=x", 200, ""},
		{"revoke unauthenticated", "POST", "/oauth2/revoke", "", "token=x", 401, "invalid_client"},
		{"revoke with only a confidential client's id", "POST", "/oauth2/revoke", "", "token=x&client_id=" + id, 401, "invalid_client"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, in.URL+c.path, strings.NewReader(c.body))
		if c.body != "" || c.method == "POST" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var answer struct {
			Error string `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&answer)
		resp.Body.Close()
		if resp.StatusCode != c.want || answer.Error != c.wantErr && c.wantErr != "" {
			t.Errorf("%s: %d %q, want %d %q", c.name, resp.StatusCode, answer.Error, c.want, c.wantErr)
		}
	}
	// A token without the openid scope cannot read userinfo.
	cc := in.createClientCC()
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mustProvider(t, in).UserInfo(context.Background(), oauth2.StaticTokenSource(tok)); err == nil {
		t.Error("a client_credentials token must not read userinfo")
	}
}

func basic(id, secret string) string {
	r := httptest.NewRequest("GET", "/", nil)
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return r.Header.Get("Authorization")
}

func mustProvider(t *testing.T, in *instance) *oidc.Provider {
	p, err := oidc.NewProvider(context.Background(), in.URL)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// FuzzAuthorizeQuery throws arbitrary query strings at the authorization
// endpoint: whatever comes in, the answer is a client error or a redirect to a
// registered URI, never a server error.
func FuzzAuthorizeQuery(f *testing.F) {
	f.Add("client_id=x&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&response_type=code&scope=openid&state=12345678")
	f.Add("prompt=none&max_age=-1&response_type=code%20id_token")
	f.Add("%zz&&==")
	h := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest("GET", "/oauth2/auth", nil)
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("query %q: status %d", query, rec.Code)
		}
		if loc := rec.Header().Get("Location"); loc != "" && !strings.HasPrefix(loc, callbackURL) && !strings.HasPrefix(loc, "/login") {
			t.Fatalf("query %q redirected to %q", query, loc)
		}
	})
}

// FuzzTokenForm throws arbitrary form bodies at the token endpoint.
func FuzzTokenForm(f *testing.F) {
	f.Add("grant_type=client_credentials&scope=openid", "id", "secret")
	f.Add("grant_type=authorization_code&code=ory_ac_x.y&redirect_uri=x", "", "")
	f.Add("grant_type=refresh_token&refresh_token=%00", "a:b", "")
	h := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, body, user, pass string) {
		req := httptest.NewRequest("POST", "/oauth2/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(user, pass)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("body %q: status %d: %s", body, rec.Code, rec.Body)
		}
	})
}

// fuzzHandler is an authz handler on a fresh SQLite store, with a client that
// has the callback registered.
func fuzzHandler(f *testing.F) http.Handler {
	cfg := loadConfig(f, "--data-dir", f.TempDir(), "--password-memory-kib", "1024", "--password-iterations", "1")
	app, err := server.Open(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard, server.WithKeyGenerator(testkeys.Generator()))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { app.Close() })
	c := &store.Client{ID: "x", Name: "fuzz", RedirectURIs: []string{callbackURL}, GrantTypes: []string{"authorization_code", "refresh_token", "client_credentials"},
		Scopes: []string{"openid", "offline_access"}, SkipConsent: true}
	_, c.SecretHash, _ = app.Provider.Hasher().NewClientSecret()
	if err := app.Store.CreateClient(context.Background(), c); err != nil {
		f.Fatal(err)
	}
	return app.Handler()
}

// createClientCC registers a machine client and returns its credentials config.
func (in *instance) createClientCC() *clientcredentials.Config {
	id, secret := in.createClient(clientSpec{Grants: []string{"client_credentials"}, Scopes: []string{"api.read"}})
	return &clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: in.URL + "/oauth2/token", Scopes: []string{"api.read"}}
}

// FuzzLogoutRequest throws arbitrary logout parameters at /oauth2/logout: no
// server error, and no redirect anywhere but a registered post-logout URI.
func FuzzLogoutRequest(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.e30.sig", postLogoutURL, "s")
	f.Add("", "https://evil.example/", "")
	f.Add("a.b.c.d.e", "javascript:alert(1)", "\x00")
	h := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, hint, uri, state string) {
		q := url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {uri}, "state": {state}}
		req := httptest.NewRequest("GET", "/oauth2/logout?"+q.Encode(), nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d", rec.Code)
		}
		if loc := rec.Header().Get("Location"); loc != "" {
			t.Fatalf("an unverifiable logout request redirected to %q", loc)
		}
	})
}
