package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/views"
)

// What relying-party libraries other than go-oidc send by default, and what
// OAuth-only clients and browsers ask of the endpoints.

// authorizeURL is an authorization request of client id for callbackURL
// with PKCE, plus extra parameters.
func authorizeURL(in *instance, id string, extra url.Values) string {
	q := url.Values{"client_id": {id}, "redirect_uri": {callbackURL}, "response_type": {"code"}, "scope": {"openid profile"},
		"state": {"state-" + randomString()}, "code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())},
		"code_challenge_method": {"S256"}}
	for k, v := range extra {
		q[k] = v
	}
	return in.URL + "/oauth2/auth?" + q.Encode()
}

// TestResponseModes: response_mode query (sent explicitly by oidc-client-ts),
// fragment and form_post (ASP.NET Core's default) each bring the code back
// where they say, and the code redeems.
func TestResponseModes(t *testing.T) {
	t.Parallel()
	in := startServer(t, "sqlite")
	id, secret := in.createClient(clientSpec{SkipConsent: true})
	r := newRP(t, in, id, secret)
	u := in.createUser("modes", false)
	b := newBrowser(t)
	for _, mode := range []string{"query", "fragment", "form_post"} {
		t.Run(mode, func(t *testing.T) {
			f := r.start(oauth2.SetAuthURLParam("response_mode", mode))
			p := b.get(f.authURL)
			if strings.Contains(p.Body, `action="/login/password"`) {
				p = b.loginWithPassword(p, u.Username, u.Password)
			}
			var got url.Values
			switch mode {
			case "query":
				r.t = t
				r.exchange(r.callback(p, f, in.URL), f)
				return
			case "fragment":
				if p.URL.Host != "127.0.0.1:9" || p.URL.RawQuery != "" {
					t.Fatalf("want a redirect with the answer in the fragment, got %d %s", p.Status, p.URL)
				}
				var err error
				if got, err = url.ParseQuery(p.URL.EscapedFragment()); err != nil {
					t.Fatal(err)
				}
			case "form_post":
				got = postedForm(t, p, callbackURL)
			}
			if got.Get("state") != f.state || got.Get("iss") != in.URL || got.Get("code") == "" {
				t.Fatalf("answer %v, want the code with state %q and iss %q", got, f.state, in.URL)
			}
			r.t = t
			r.exchange(got.Get("code"), f)
		})
	}
}

// postedForm checks that p is a form_post answer to action, whose script the
// CSP allows, and returns the values it posts.
func postedForm(t *testing.T, p *page, action string) url.Values {
	t.Helper()
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `id="authz-form-post"`) {
		t.Fatalf("want the form_post page, got %d %s\n%s", p.Status, p.URL, p.Body)
	}
	if !strings.Contains(p.Header.Get("Content-Security-Policy"), views.FormPostScriptHash) ||
		!strings.Contains(p.Body, `integrity="`+views.FormPostScriptIntegrity+`"`) {
		t.Error("the CSP must allow the page's pinned script")
	}
	if p.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", p.Header.Get("Cache-Control"))
	}
	return formValues(t, p.Body, action)
}

// TestFormPostErrors: an error goes back in the response mode asked for,
// here prompt=none without a session, posted.
func TestFormPostErrors(t *testing.T) {
	t.Parallel()
	in := startServer(t, "sqlite")
	id, _ := in.createClient(clientSpec{SkipConsent: true})
	p := newBrowser(t).get(authorizeURL(in, id, url.Values{"prompt": {"none"}, "response_mode": {"form_post"}, "state": {"state-posted-error"}}))
	got := postedForm(t, p, callbackURL)
	if got.Get("error") != "login_required" || got.Get("state") != "state-posted-error" || got.Get("iss") != in.URL || got.Has("code") {
		t.Fatalf("posted %v", got)
	}
	// The post carries this server's origin, not "null", so that an
	// application that lets in trusted origins only can name it.
	if rp := p.Header.Get("Referrer-Policy"); rp != "origin" {
		t.Errorf("Referrer-Policy of the form_post page: %q, want origin", rp)
	}
}

// TestAuthorizeErrorsBeforeTheRequestIsParsed: errors fosite finds before
// it takes the redirect_uri still go back to it, once verified, with state
// and iss (RFC 6749 §4.1.2.1), and their descriptions keep to the
// characters the RFC allows.
func TestAuthorizeErrorsBeforeTheRequestIsParsed(t *testing.T) {
	t.Parallel()
	in := startServer(t, "sqlite")
	id, _ := in.createClient(clientSpec{SkipConsent: true})
	b := newBrowser(t)
	for _, tc := range []struct {
		name  string
		extra url.Values
		want  string
	}{
		{"request object", url.Values{"request": {"eyJhbGciOiJub25lIn0.e30."}}, "request_not_supported"},
		{"request object by reference", url.Values{"request_uri": {"https://rp.example/request.jwt"}}, "request_uri_not_supported"},
		{"unknown response mode", url.Values{"response_mode": {"jwt"}}, "unsupported_response_mode"},
		{"short state without PKCE", url.Values{"state": {"abc"}, "code_challenge": nil, "code_challenge_method": nil}, "invalid_request"},
		{"parameter twice", url.Values{"scope": {"openid", "openid profile"}}, "invalid_request"},
		// No state sent (PKCE instead), so none comes back.
		{"no state", url.Values{"state": nil, "response_mode": {"jwt"}}, "unsupported_response_mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := authorizeURL(in, id, tc.extra)
			state, _ := url.Parse(raw)
			p := b.get(raw)
			if p.Status != http.StatusSeeOther || p.URL.Host != "127.0.0.1:9" {
				t.Fatalf("want a redirect to the client, got %d %s", p.Status, p.URL)
			}
			q := p.URL.Query()
			if q.Get("error") != tc.want || q.Get("state") != state.Query().Get("state") || q.Has("state") != state.Query().Has("state") || q.Get("iss") != in.URL {
				t.Errorf("got %v, want error %s with state and iss", q, tc.want)
			}
			if d := q.Get("error_description"); strings.ContainsAny(d, "\"\\") || strings.IndexFunc(d, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0 {
				t.Errorf("error_description %q has characters RFC 6749 §4.1.2.1 excludes", d)
			}
		})
	}
	// The implicit and hybrid types answer in the fragment, errors too,
	// even one found before fosite accepted the type.
	for _, rt := range []string{"id_token token", "token"} {
		p := b.get(authorizeURL(in, id, url.Values{"response_type": {rt}}))
		frag, _ := url.ParseQuery(p.URL.Fragment)
		if p.URL.Host != "127.0.0.1:9" || frag.Get("error") != "unsupported_response_type" || p.URL.Query().Has("error") {
			t.Errorf("response_type %q: %s, want the error in the fragment", rt, p.URL)
		}
	}
	// An unregistered redirect_uri still gets a page, never a redirect.
	p := b.get(authorizeURL(in, id, url.Values{"redirect_uri": {"http://127.0.0.1:9/other"}, "request": {"x"}}))
	if p.Status != http.StatusBadRequest || p.URL.Host == "127.0.0.1:9" {
		t.Errorf("unregistered redirect_uri: %d %s", p.Status, p.URL)
	}
}

// TestLoopbackRedirectAnyPort: a native app registers its loopback redirect
// URI without a port and listens on whichever it gets (RFC 8252 §7.3); only
// the port may differ.
func TestLoopbackRedirectAnyPort(t *testing.T) {
	t.Parallel()
	in := startServer(t, "sqlite")
	id, secret := in.createClientWith(clientSpec{SkipConsent: true}, "http://127.0.0.1/native/cb")
	u := in.createUser("native", false)
	r := newRP(t, in, id, secret)
	r.config.RedirectURL = "http://127.0.0.1:53219/native/cb"
	b := newBrowser(t)
	b.client.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host == "127.0.0.1:53219" {
			return http.ErrUseLastResponse
		}
		return nil
	}
	f := r.start()
	p := b.loginWithPassword(b.get(f.authURL), u.Username, u.Password)
	if p.URL.Host != "127.0.0.1:53219" || p.URL.Path != "/native/cb" || p.URL.Query().Get("state") != f.state {
		t.Fatalf("want the code at the app's port, got %d %s", p.Status, p.URL)
	}
	r.exchange(p.URL.Query().Get("code"), f)

	for _, uri := range []string{"http://127.0.0.1:53219/native/other", "http://localhost:53219/native/cb",
		"https://127.0.0.1:53219/native/cb", "http://127.0.0.1:53219/native/cb?x=1", "http://u@127.0.0.1:53219/native/cb"} {
		p := b.get(authorizeURL(in, id, url.Values{"redirect_uri": {uri}}))
		if p.Status != http.StatusBadRequest || p.URL.Host != strings.TrimPrefix(in.URL, "http://") {
			t.Errorf("%s: want the error page, got %d %s", uri, p.Status, p.URL)
		}
	}
}

// TestShortNonce: OpenID Connect sets no least length for a nonce.
func TestShortNonce(t *testing.T) {
	t.Parallel()
	in := startServer(t, "sqlite")
	id, secret := in.createClient(clientSpec{SkipConsent: true})
	r := newRP(t, in, id, secret)
	u := in.createUser("nonce", false)
	f := &flow{state: "state-" + randomString(), nonce: "abc", verifier: oauth2.GenerateVerifier()}
	f.authURL = r.config.AuthCodeURL(f.state, oidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier))
	b := newBrowser(t)
	_, idt := r.exchange(r.callback(b.loginWithPassword(b.get(f.authURL), u.Username, u.Password), f, in.URL), f)
	if idt.Nonce != "abc" {
		t.Errorf("nonce %q", idt.Nonce)
	}
}

// TestAuthorizationServerMetadata: RFC 8414's document is discovery's.
func TestAuthorizationServerMetadata(t *testing.T) {
	t.Parallel()
	in := startServer(t, "sqlite")
	read := func(path string) map[string]any {
		resp, err := http.Get(in.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc map[string]any
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&doc) != nil {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		return doc
	}
	oidcDoc, oauthDoc := read("/.well-known/openid-configuration"), read("/.well-known/oauth-authorization-server")
	if oauthDoc["issuer"] != in.URL || oauthDoc["token_endpoint"] != oidcDoc["token_endpoint"] || len(oauthDoc) != len(oidcDoc) {
		t.Errorf("RFC 8414 metadata differs from discovery: %v", oauthDoc)
	}
	modes, _ := oidcDoc["response_modes_supported"].([]any)
	for _, m := range []any{"query", "fragment", "form_post"} {
		if !slices.Contains(modes, m) {
			t.Errorf("response_modes_supported %v lacks %v", modes, m)
		}
	}
}

// TestCrossOriginEndpoints: a single-page app on another origin can read
// discovery, the keys, and the token and userinfo answers, including the
// preflight a bearer token needs; pages and introspection stay closed.
func TestCrossOriginEndpoints(t *testing.T) {
	t.Parallel()
	in := startServer(t, "sqlite")
	id, _ := in.createClient(clientSpec{Public: true, SkipConsent: true})
	const origin = "https://spa.example"
	send := func(method, path string, body url.Values, header http.Header) *http.Response {
		t.Helper()
		var rd io.Reader
		if body != nil {
			rd = strings.NewReader(body.Encode())
		}
		req, _ := http.NewRequest(method, in.URL+path, rd)
		for k, v := range header {
			req.Header[k] = v
		}
		req.Header.Set("Origin", origin)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if body != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, path := range []string{"/userinfo", "/oauth2/token", "/oauth2/par", "/oauth2/revoke", "/.well-known/openid-configuration", "/.well-known/jwks.json"} {
		resp := send(http.MethodOptions, path, nil, http.Header{"Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"authorization,content-type"}})
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Errorf("preflight %s: %d %v", path, resp.StatusCode, resp.Header)
		}
	}
	for _, tc := range []struct {
		method, path string
		body         url.Values
		header       http.Header
		status       int
	}{
		{"GET", "/.well-known/openid-configuration", nil, nil, http.StatusOK},
		{"GET", "/.well-known/jwks.json", nil, nil, http.StatusOK},
		{"GET", "/userinfo", nil, http.Header{"Authorization": {"Bearer nope"}}, http.StatusUnauthorized},
		{"POST", "/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "client_id": {id}, "code_verifier": {strings.Repeat("v", 43)}, "redirect_uri": {callbackURL}}, nil, http.StatusBadRequest},
		{"POST", "/oauth2/par", url.Values{"client_id": {id}, "response_type": {"code"}, "redirect_uri": {callbackURL}, "scope": {"openid"},
			"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}, nil, http.StatusCreated},
	} {
		resp := send(tc.method, tc.path, tc.body, tc.header)
		if resp.StatusCode != tc.status || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s %s from another origin: %d (want %d), Access-Control-Allow-Origin %q", tc.method, tc.path, resp.StatusCode, tc.status, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	// Introspection is for resource servers, not pages: neither a preflight
	// nor a post from another origin is let through.
	for _, c := range []struct{ method, path string }{{"GET", "/login"}, {"GET", "/account"}, {"OPTIONS", "/oauth2/introspect"}, {"POST", "/oauth2/introspect"}} {
		resp := send(c.method, c.path, url.Values{"token": {"x"}}, http.Header{"Access-Control-Request-Method": {"POST"}})
		if resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s %s must not be readable from another origin", c.method, c.path)
		}
	}
	// A cache may keep an answer fetched without an Origin for a browser.
	resp, err := http.Get(in.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("the keys fetched without an Origin: Access-Control-Allow-Origin %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
}

// TestRefreshTokenIsNoBearerToken: a refresh token buys nothing at userinfo
// and is reported active to its own client only, with its own expiry.
func TestRefreshTokenIsNoBearerToken(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		id, secret := in.createClient(clientSpec{SkipConsent: true})
		r := newRP(t, in, id, secret)
		_, tok, _ := signIn(t, in, r, in.createUser("bearer", false))

		for _, token := range []string{tok.RefreshToken, tok.AccessToken} {
			_, err := r.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, TokenType: "Bearer"}))
			if (token == tok.RefreshToken) != (err != nil) {
				t.Errorf("userinfo with the refresh token must fail and with the access token work: %v", err)
			}
		}

		rsID, rsSecret := createResourceServer(t, in)
		if introspect(t, in, rsID, rsSecret, tok.RefreshToken) {
			t.Error("a resource server must not hear that a refresh token is active")
		}
		if !introspect(t, in, rsID, rsSecret, tok.AccessToken) {
			t.Error("the resource server may introspect every access token")
		}
		got := introspected(t, in, id, secret, tok.RefreshToken)
		if want := time.Now().Add(719 * time.Hour).Unix(); got.Exp < want {
			t.Errorf("the refresh token's exp %d is not its own (at least %d)", got.Exp, want)
		}
		// An API sharing the application's client tells the two apart.
		if got.TokenType != "" || got.TokenUse != "refresh_token" {
			t.Errorf("the refresh token introspects as token_type %q, token_use %q", got.TokenType, got.TokenUse)
		}
		if got := introspected(t, in, id, secret, tok.AccessToken); got.TokenType != "Bearer" || got.TokenUse != "access_token" {
			t.Errorf("the access token introspects as token_type %q, token_use %q", got.TokenType, got.TokenUse)
		}
	})
}

// createResourceServer registers a confidential client allowed to
// introspect every token.
func createResourceServer(t *testing.T, in *instance) (id, secret string) {
	t.Helper()
	secret, hash, err := in.App.Provider.Hasher().NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	c := &store.Client{ID: store.NewID(), Name: "API", SecretHash: hash, GrantTypes: []string{"client_credentials"}, IntrospectAny: true, CreatedAt: now, UpdatedAt: now}
	if err := in.App.Store.CreateClient(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c.ID, secret
}

// introspected returns what introspection reports of token, which must
// be active.
func introspected(t *testing.T, in *instance, id, secret, token string) introspection {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, in.URL+"/oauth2/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got introspection
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || !got.Active {
		t.Fatalf("introspection by the token's client: %v %+v", err, got)
	}
	return got
}

// introspection is what the tests read of an introspection answer.
type introspection struct {
	Active    bool   `json:"active"`
	Exp       int64  `json:"exp"`
	TokenType string `json:"token_type"`
	TokenUse  string `json:"token_use"`
}

// TestBearerAndRevocationErrors: userinfo without a token challenges with no
// error code (RFC 6750 §3.1); revocation without a token is invalid_request
// (RFC 7009 §2.1), after the client's authentication.
func TestBearerAndRevocationErrors(t *testing.T) {
	t.Parallel()
	in := startServer(t, "sqlite")
	id, secret := in.createClient(clientSpec{SkipConsent: true})
	resp, err := http.Get(in.URL + "/userinfo")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != "Bearer" {
		t.Errorf("userinfo without a token: %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	noToken := url.Values{"token_type_hint": {"access_token"}}
	if got := in.postAsClient("/oauth2/revoke", id, secret, noToken); got != http.StatusBadRequest {
		t.Errorf("revocation without a token: %d, want 400", got)
	}
	if got := in.postAsClient("/oauth2/revoke", id, "wrong", noToken); got != http.StatusUnauthorized {
		t.Errorf("revocation without a token by a client with a wrong secret: %d, want 401", got)
	}
	if got := in.postAsClient("/oauth2/revoke", id, secret, url.Values{"token": {"unknown"}}); got != http.StatusOK {
		t.Errorf("revocation of an unknown token: %d, want 200", got)
	}

	// RFC 6750 §2: one token, one way; anything else is invalid_request.
	_, tok, _ := signIn(t, in, newRP(t, in, id, secret), in.createUser("bearer", false))
	at := tok.AccessToken
	userinfo := func(method, query, header string, body url.Values) (int, string) {
		req, _ := http.NewRequest(method, in.URL+"/userinfo"+query, strings.NewReader(body.Encode()))
		if body != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
	}
	if got, _ := userinfo("GET", "", "Bearer "+at, nil); got != http.StatusOK {
		t.Fatalf("userinfo with the token in the header: %d", got)
	}
	for name, c := range map[string]struct {
		method, query, header string
		body                  url.Values
	}{
		"header and body":   {"POST", "", "Bearer " + at, url.Values{"access_token": {at}}},
		"header and query":  {"GET", "?access_token=" + at, "Bearer " + at, nil},
		"body twice":        {"POST", "", "", url.Values{"access_token": {at, at}}},
		"an empty header":   {"GET", "", "Bearer ", nil},
		"an empty body one": {"POST", "", "", url.Values{"access_token": {""}}},
	} {
		if got, challenge := userinfo(c.method, c.query, c.header, c.body); got != http.StatusBadRequest || challenge != `Bearer error="invalid_request"` {
			t.Errorf("userinfo with %s: %d %q, want 400 invalid_request", name, got, challenge)
		}
	}
}

// TestStaticHasNoListing: /static/ serves its files, not a list of them.
func TestStaticHasNoListing(t *testing.T) {
	t.Parallel()
	in := startServer(t, "sqlite")
	for path, want := range map[string]int{"/static/": http.StatusNotFound, "/static/authz.css": http.StatusOK, views.FormPostScript: http.StatusOK} {
		resp, err := http.Get(in.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// TestBrowserFormPost: in Chromium, the form_post page's pinned script runs
// under the CSP and posts the code to the application, which signs in.
func TestBrowserFormPost(t *testing.T) {
	t.Parallel()
	chromium(t)
	in := startServer(t, "sqlite")
	app := newRelyingApp(t, in)
	u := in.createUser("poster", false)
	b := newTab(t)
	b.navigate(app.URL + "/?response_mode=form_post")
	b.waitTitle("Sign in")
	b.fill("username", u.Username)
	b.fill("password", u.Password)
	b.click("sign-in")
	b.waitTitle("Relying app")
	if who := b.text("who"); who != u.Username {
		t.Errorf("the application signed in %q", who)
	}
}

// TestSilentRenewalAcrossKeyRotation: prompt=none with the id_token_hint of
// the last sign-in (what oidc-client-ts sends to renew silently) still
// works once another key signs; a hint about another user or not from this
// server does not.
func TestSilentRenewalAcrossKeyRotation(t *testing.T) {
	t.Parallel()
	in := startServer(t, "sqlite")
	clk := driveKeys(in)
	id, secret := in.createClient(clientSpec{SkipConsent: true})
	r := newRP(t, in, id, secret)
	b, tok, _ := signIn(t, in, r, in.createUser("renew", false))
	hint := tok.Extra("id_token").(string)
	_, other, _ := signIn(t, in, r, in.createUser("other", false))

	_, activateAt, err := in.App.Keys.Rotate(context.Background(), "RS256", in.App.RetireAfter())
	if err != nil {
		t.Fatal(err)
	}
	clk.reach(activateAt)
	f := r.start(oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("id_token_hint", hint))
	r.exchange(r.callback(b.get(f.authURL), f, in.URL), f)

	for name, tc := range map[string]struct{ hint, want string }{
		"another user's":  {other.Extra("id_token").(string), "login_required"},
		"not an ID token": {tok.AccessToken, "invalid_request"},
		"forged":          {hint[:strings.LastIndex(hint, ".")] + ".c2lnbmF0dXJl", "invalid_request"},
	} {
		f := r.start(oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("id_token_hint", tc.hint))
		if p := b.get(f.authURL); p.URL.Query().Get("error") != tc.want {
			t.Errorf("%s hint: %d %s, want error %s", name, p.Status, p.URL, tc.want)
		}
	}
	// A hint that is no ID token of this server is refused before a
	// browser without a session is asked to sign in for nothing.
	f = r.start(oauth2.SetAuthURLParam("id_token_hint", tok.AccessToken))
	if p := newBrowser(t).get(f.authURL); p.URL.Query().Get("error") != "invalid_request" {
		t.Errorf("a bad hint without a session: %d %s, want error invalid_request", p.Status, p.URL)
	}
}

// TestIDTokenAlgorithmPerClient: a server whose default is ES256 still
// offers RS256, which OpenID Connect requires of every provider (Core
// §15.1, Discovery §3), to the clients registered for it
// (id_token_signed_response_alg); each client's ID tokens, and its
// back-channel logout tokens, come in its own algorithm.
func TestIDTokenAlgorithmPerClient(t *testing.T) {
	t.Parallel()
	in := startServer(t, "sqlite", "--tokens-signing-algorithm", "ES256")
	var disc struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	getJSON(t, in.URL+"/.well-known/openid-configuration", &disc)
	if !slices.Equal(disc.Algs, []string{"ES256", "RS256"}) {
		t.Fatalf("discovery offers %v, want ES256, the default, then RS256", disc.Algs)
	}
	u := in.createUser("algo", false)
	for _, c := range []struct{ registered, want string }{{"", "ES256"}, {"RS256", "RS256"}, {"ES256", "ES256"}} {
		id, secret := in.createClient(clientSpec{SkipConsent: true, IDTokenAlg: c.registered})
		r := newRP(t, in, id, secret)
		// A relying party that accepts only what it registered for.
		r.verifier = r.provider.Verifier(&oidc.Config{ClientID: id, SupportedSigningAlgs: []string{c.want}})
		_, tok, _ := signIn(t, in, r, u)
		raw := tok.Extra("id_token").(string)
		if alg := algOf(t, raw); alg != c.want {
			t.Errorf("client registered for %q: ID token signed with %s, want %s", c.registered, alg, c.want)
		}
		tok.Expiry = time.Now().Add(-time.Minute)
		fresh, err := r.config.TokenSource(context.Background(), tok).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if _, err := r.verifier.Verify(context.Background(), fresh.Extra("id_token").(string)); err != nil {
			t.Errorf("client registered for %q: refreshed ID token: %v", c.registered, err)
		}
		if c.registered != "RS256" {
			continue
		}
		// Its logout tokens too (Back-Channel Logout §2.4).
		lr := newLogoutReceiver(t, in, id)
		in.updateClient(id, func(cl *store.Client) { cl.BackchannelLogoutURI = lr.URL })
		b, tok, _ := signIn(t, in, r, u)
		b.get(in.URL + "/oauth2/logout?" + url.Values{"id_token_hint": {tok.Extra("id_token").(string)}}.Encode())
		if alg := lr.next(t, "RP-initiated logout")["header.alg"]; alg != "RS256" {
			t.Errorf("the RS256 client's logout token is signed with %v", alg)
		}
	}
}

// algOf returns the alg in the header of a compact JWS.
func algOf(t *testing.T, raw string) string {
	t.Helper()
	head, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h.Alg
}
