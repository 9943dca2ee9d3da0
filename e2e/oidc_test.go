package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// rp is a relying party built from the real libraries.
type rp struct {
	t        *testing.T
	provider *oidc.Provider
	config   oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newRP(t *testing.T, in *instance, clientID, secret string, scopes ...string) *rp {
	t.Helper()
	ctx := context.Background()
	p, err := oidc.NewProvider(ctx, in.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}
	}
	cfg := oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: p.Endpoint(), RedirectURL: callbackURL, Scopes: scopes}
	return &rp{t: t, provider: p, config: cfg, verifier: p.Verifier(&oidc.Config{ClientID: clientID})}
}

// flow is one authorization request in progress.
type flow struct {
	state, nonce, verifier string
	authURL                string
}

func (r *rp) start(opts ...oauth2.AuthCodeOption) *flow {
	f := &flow{state: "state-" + randomString(), nonce: "nonce-" + randomString(), verifier: oauth2.GenerateVerifier()}
	opts = append(opts, oidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier))
	f.authURL = r.config.AuthCodeURL(f.state, opts...)
	return f
}

func randomString() string { return strings.ReplaceAll(time.Now().Format("150405.000000000"), ".", "") }

// callback checks the redirect to the relying party and returns the code.
func (r *rp) callback(p *page, f *flow, issuer string) string {
	r.t.Helper()
	if p.URL.Host != "127.0.0.1:9" {
		r.t.Fatalf("expected a redirect to the relying party, got %d %s\n%s", p.Status, p.URL, p.Body)
	}
	q := p.URL.Query()
	if q.Get("error") != "" {
		r.t.Fatalf("authorization error: %s: %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != f.state {
		r.t.Errorf("state %q, want %q", q.Get("state"), f.state)
	}
	if q.Get("iss") != issuer {
		r.t.Errorf("iss %q, want %q (RFC 9207)", q.Get("iss"), issuer)
	}
	return q.Get("code")
}

// exchange redeems code and verifies the ID token like an application would.
func (r *rp) exchange(code string, f *flow) (*oauth2.Token, *oidc.IDToken) {
	r.t.Helper()
	ctx := context.Background()
	tok, err := r.config.Exchange(ctx, code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		r.t.Fatalf("exchange: %v", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		r.t.Fatal("no id_token in the token response")
	}
	idt, err := r.verifier.Verify(ctx, raw)
	if err != nil {
		r.t.Fatalf("verify ID token: %v", err)
	}
	if idt.Nonce != f.nonce {
		r.t.Errorf("nonce %q, want %q", idt.Nonce, f.nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		r.t.Errorf("at_hash: %v", err)
	}
	return tok, idt
}

type idClaims struct {
	AuthTime int64    `json:"auth_time"`
	AMR      []string `json:"amr"`
	Email    string   `json:"email"`
	Username string   `json:"preferred_username"`
	Iat      int64    `json:"iat"`
	// An int64, as relying parties written in Go declare it: a claim that
	// is a whole number must not come as 1.7e+09.
	UpdatedAt int64 `json:"updated_at"`
}

func claimsOf(t *testing.T, idt *oidc.IDToken) idClaims {
	t.Helper()
	var c idClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// kidOf returns the key id in the header of a compact JWS.
func kidOf(t *testing.T, raw string) string {
	t.Helper()
	head, _, _ := strings.Cut(raw, ".")
	var h struct {
		Kid string `json:"kid"`
	}
	b, err := base64URLDecode(head)
	if err != nil || json.Unmarshal(b, &h) != nil {
		t.Fatalf("bad JWS header %q", head)
	}
	return h.Kid
}

// signIn walks the whole code flow for u with a new browser and returns it with
// the tokens.
func signIn(t *testing.T, in *instance, r *rp, u *testUser) (*browser, *oauth2.Token, *oidc.IDToken) {
	t.Helper()
	b := newBrowser(t)
	f := r.start()
	p := b.get(f.authURL)
	if !strings.Contains(p.Body, `action="/login/password"`) {
		t.Fatalf("expected the password page, got %d %s", p.Status, p.URL)
	}
	p = b.loginWithPassword(p, u.Username, u.Password)
	tok, idt := r.exchange(r.callback(p, f, in.URL), f)
	return b, tok, idt
}

func TestCodeFlowWithPKCE(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		id, secret := in.createClient(clientSpec{SkipConsent: true})
		r := newRP(t, in, id, secret)
		u := in.createUser("alice", false)
		before := time.Now().Add(-time.Second).Unix()

		b, tok, idt := signIn(t, in, r, u)

		if idt.Subject != u.ID || idt.Issuer != in.URL || !slices.Equal(idt.Audience, []string{id}) {
			t.Errorf("sub %q iss %q aud %v", idt.Subject, idt.Issuer, idt.Audience)
		}
		c := claimsOf(t, idt)
		if c.AuthTime < before || !slices.Equal(c.AMR, []string{"pwd"}) {
			t.Errorf("auth_time %d (>= %d), amr %v", c.AuthTime, before, c.AMR)
		}
		if c.Email != u.Email || c.Username != "alice" || c.UpdatedAt < before {
			t.Errorf("claims: %+v", c)
		}
		if kidOf(t, tok.Extra("id_token").(string)) == "" {
			t.Error("ID token header has no kid")
		}
		if tok.RefreshToken == "" {
			t.Fatal("offline_access was granted but no refresh token was issued")
		}
		if stored, err := in.App.Store.GetUser(context.Background(), u.ID); err != nil || stored.LastLoginAt.Unix() < before {
			t.Errorf("the login must be recorded as the user's last: %v %v", stored, err)
		}

		// userinfo by scope
		info, err := r.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		if info.Subject != u.ID || info.Email != u.Email {
			t.Errorf("userinfo: %+v", info)
		}

		// A second authorization reuses the browser session: no login page.
		f := r.start()
		p := b.get(f.authURL)
		r.exchange(r.callback(p, f, in.URL), f)
	})
}

// Without a reuse grace, a rotated refresh token used again at once is
// reuse. (TestConcurrentRefreshesWithinGrace covers the grace.)
func TestRefreshRotationAndReuse(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend, "--tokens-refresh-reuse-grace", "0s")
		id, secret := in.createClient(clientSpec{SkipConsent: true})
		r := newRP(t, in, id, secret)
		_, tok, _ := signIn(t, in, r, in.createUser("bob", false))
		ctx := context.Background()

		old := tok.RefreshToken
		tok.Expiry = time.Now().Add(-time.Minute) // force a refresh
		fresh, err := r.config.TokenSource(ctx, tok).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if fresh.RefreshToken == "" || fresh.RefreshToken == old {
			t.Fatal("refresh token was not rotated")
		}
		raw, ok := fresh.Extra("id_token").(string)
		if !ok {
			t.Fatal("refresh did not return a new ID token")
		}
		idt, err := r.verifier.Verify(ctx, raw)
		if err != nil {
			t.Fatalf("refreshed ID token: %v", err)
		}
		if c := claimsOf(t, idt); c.UpdatedAt == 0 || c.AuthTime == 0 {
			t.Errorf("refreshed ID token's claims: %+v", c)
		}

		// Reusing the old refresh token fails and revokes the whole grant.
		reuse := &oauth2.Token{RefreshToken: old, Expiry: time.Now().Add(-time.Minute)}
		if _, err := r.config.TokenSource(ctx, reuse).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("reuse of a rotated refresh token: %v", err)
		}
		newer := &oauth2.Token{RefreshToken: fresh.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
		if _, err := r.config.TokenSource(ctx, newer).Token(); err == nil {
			t.Fatal("after reuse, the newest refresh token of the grant must be revoked too")
		}
		if active := introspect(t, in, id, secret, fresh.AccessToken); active {
			t.Error("after reuse, the grant's access token must be inactive")
		}
	})
}

// Two refreshes racing with one refresh token, as two tabs of one
// application do, both succeed and both new access tokens work; a use of the
// rotated token after the grace is reuse and ends the grant for every tab.
func TestConcurrentRefreshesWithinGrace(t *testing.T) {
	const grace = time.Second
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend, "--tokens-refresh-reuse-grace", grace.String())
		id, secret := in.createClient(clientSpec{SkipConsent: true})
		r := newRP(t, in, id, secret)
		_, tok, _ := signIn(t, in, r, in.createUser("tess", false))
		ctx := context.Background()

		tabs := make([]*oauth2.Token, 2)
		errs := make([]error, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range tabs {
			wg.Go(func() {
				<-start
				expired := &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
				tabs[i], errs[i] = r.config.TokenSource(ctx, expired).Token()
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("refresh in tab %d: %v", i+1, err)
			}
		}
		if tabs[0].RefreshToken == tabs[1].RefreshToken || tabs[0].AccessToken == tabs[1].AccessToken {
			t.Fatal("the two tabs got the same tokens; each must get a pair of its own")
		}
		for i, tab := range tabs {
			if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tab)); err != nil {
				t.Errorf("userinfo with tab %d's new access token: %v", i+1, err)
			}
		}

		// The grace passes on the server's clock, not in real time.
		in.clock.advance(grace + time.Second)
		reuse := &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
		if _, err := r.config.TokenSource(ctx, reuse).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("reuse after the grace: %v, want invalid_grant", err)
		}
		for i, tab := range tabs {
			next := &oauth2.Token{RefreshToken: tab.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
			if _, err := r.config.TokenSource(ctx, next).Token(); err == nil {
				t.Errorf("after the reuse, tab %d's refresh token must be revoked too", i+1)
			}
			if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tab)); err == nil || !strings.Contains(err.Error(), "401") {
				t.Errorf("userinfo with tab %d's access token after the reuse: %v, want 401", i+1, err)
			}
		}
	})
}

// introspect asks the introspection endpoint whether token is active.
func introspect(t *testing.T, in *instance, clientID, secret, token string) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, in.URL+"/oauth2/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("introspection status %d", resp.StatusCode)
	}
	var out struct {
		Active bool `json:"active"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Active
}

// Disabling a user stops every token issued to them at once: resource
// servers introspecting see it inactive, userinfo refuses it, the grant is
// refused at its next refresh, and a code issued before (as to a login
// finishing while the administrator disables the user) buys no tokens. A
// client's own tokens are not affected.
func TestDisabledUserTokensStopWorking(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		id, secret := in.createClient(clientSpec{SkipConsent: true, Grants: []string{"authorization_code", "refresh_token", "client_credentials"}})
		r := newRP(t, in, id, secret)
		u := in.createUser("carol", false)
		b, tok, _ := signIn(t, in, r, u)
		pending := r.start()
		pendingCode := r.callback(b.get(pending.authURL), pending, in.URL)
		ctx := context.Background()
		cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: in.URL + "/oauth2/token"}
		own, err := cc.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !introspect(t, in, id, secret, tok.AccessToken) {
			t.Fatal("the user's fresh access token must be active")
		}
		if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
			t.Fatalf("userinfo before: %v", err)
		}

		stored, err := in.App.Store.GetUser(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		stored.Enabled = false
		if err := in.App.Store.UpdateUser(ctx, stored); err != nil {
			t.Fatal(err)
		}

		if introspect(t, in, id, secret, tok.AccessToken) {
			t.Error("a disabled user's access token must introspect as inactive")
		}
		if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil || !strings.Contains(err.Error(), "401") {
			t.Errorf("userinfo for a disabled user: %v, want 401", err)
		}
		if !introspect(t, in, id, secret, own.AccessToken) {
			t.Error("the client's own token must stay active")
		}
		tok.Expiry = time.Now().Add(-time.Minute)
		if _, err := r.config.TokenSource(ctx, tok).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("refresh for a disabled user: %v, want invalid_grant", err)
		}
		if _, err := r.config.Exchange(ctx, pendingCode, oauth2.VerifierOption(pending.verifier)); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("code exchange for a disabled user: %v, want invalid_grant", err)
		}
	})
}

func TestClientCredentialsIntrospectRevoke(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		id, secret := in.createClient(clientSpec{Grants: []string{"client_credentials"}, Scopes: []string{"api.read"}})
		ctx := context.Background()
		cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: in.URL + "/oauth2/token", Scopes: []string{"api.read"}}
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatalf("client_credentials: %v", err)
		}
		if !introspect(t, in, id, secret, tok.AccessToken) {
			t.Fatal("fresh token must be active")
		}
		// client_secret_post works too.
		cc.AuthStyle = oauth2.AuthStyleInParams
		if _, err := cc.Token(ctx); err != nil {
			t.Fatalf("client_secret_post: %v", err)
		}
		// Revocation (RFC 7009), then introspection says inactive.
		if status := in.postAsClient("/oauth2/revoke", id, secret, url.Values{"token": {tok.AccessToken}}); status != http.StatusOK {
			t.Fatalf("revoke status %d", status)
		}
		if introspect(t, in, id, secret, tok.AccessToken) {
			t.Fatal("revoked token must be inactive")
		}
		// A wrong secret is invalid_client.
		bad := clientcredentials.Config{ClientID: id, ClientSecret: secret + "x", TokenURL: in.URL + "/oauth2/token"}
		if _, err := bad.Token(ctx); err == nil || !strings.Contains(err.Error(), "invalid_client") {
			t.Fatalf("wrong secret: %v", err)
		}
	})
}

func TestConsentIsAskedOnceAndRemembered(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		id, secret := in.createClient(clientSpec{SkipConsent: false})
		r := newRP(t, in, id, secret, oidc.ScopeOpenID, "email")
		u := in.createUser("carol", false)
		b := newBrowser(t)
		f := r.start()
		p := b.loginWithPassword(b.get(f.authURL), u.Username, u.Password)
		if !strings.Contains(p.Body, `action="/login/consent"`) || !strings.Contains(p.Body, "email") {
			t.Fatalf("expected the consent page, got %d %s", p.Status, p.URL)
		}
		p = b.submit(p, "/login/consent", url.Values{"decision": {"allow"}})
		r.exchange(r.callback(p, f, in.URL), f)

		// Remembered: the next request goes straight back.
		f = r.start()
		r.exchange(r.callback(b.get(f.authURL), f, in.URL), f)

		// A new scope asks again; denying answers access_denied.
		r2 := newRP(t, in, id, secret, oidc.ScopeOpenID, "email", "profile")
		f = r2.start()
		p = b.get(f.authURL)
		if !strings.Contains(p.Body, `action="/login/consent"`) {
			t.Fatalf("a new scope must ask again, got %d %s", p.Status, p.URL)
		}
		p = b.submit(p, "/login/consent", url.Values{"decision": {"deny"}})
		if p.URL.Query().Get("error") != "access_denied" || p.URL.Query().Get("state") != f.state {
			t.Fatalf("deny: %s", p.URL)
		}
	})
}

func TestPromptAndMaxAge(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		id, secret := in.createClient(clientSpec{SkipConsent: true})
		r := newRP(t, in, id, secret)
		u := in.createUser("dave", false)

		// prompt=none without a session: login_required, with iss and state.
		b := newBrowser(t)
		f := r.start(oauth2.SetAuthURLParam("prompt", "none"))
		p := b.get(f.authURL)
		q := p.URL.Query()
		if q.Get("error") != "login_required" || q.Get("state") != f.state || q.Get("iss") != in.URL {
			t.Fatalf("prompt=none without session: %s", p.URL)
		}

		b, _, first := signIn(t, in, r, u)
		firstAuth := claimsOf(t, first).AuthTime

		// prompt=none with a session: a code at once.
		f = r.start(oauth2.SetAuthURLParam("prompt", "none"))
		r.exchange(r.callback(b.get(f.authURL), f, in.URL), f)

		// max_age=0: the session is too old, the password page again.
		f = r.start(oauth2.SetAuthURLParam("max_age", "0"))
		if p = b.get(f.authURL); !strings.Contains(p.Body, `action="/login/password"`) {
			t.Fatalf("max_age=0 must ask for a login, got %s", p.URL)
		}

		// prompt=login: the password page again, and a newer auth_time, a
		// second later on the server's clock (auth_time has one-second
		// resolution). max_age is checked above: the provider measures it in
		// real time, against which this auth_time is now a second ahead.
		in.clock.advance(time.Second)
		f = r.start(oauth2.SetAuthURLParam("prompt", "login"))
		p = b.get(f.authURL)
		if !strings.Contains(p.Body, `action="/login/password"`) {
			t.Fatalf("prompt=login must show the password page, got %s", p.URL)
		}
		_, idt := r.exchange(r.callback(b.loginWithPassword(p, u.Username, u.Password), f, in.URL), f)
		if claimsOf(t, idt).AuthTime <= firstAuth {
			t.Error("prompt=login must renew auth_time")
		}

		// login_hint prefills the username.
		f = r.start(oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("login_hint", "dave"))
		if p = b.get(f.authURL); !strings.Contains(p.Body, `value="dave"`) {
			t.Error("login_hint must prefill the username")
		}

		// A prompt or max_age no sign-in can satisfy is refused at once,
		// with a session or without one (OIDC Core §3.1.2.1).
		for _, browser := range []*browser{b, newBrowser(t)} {
			for param, value := range map[string]string{"prompt": "none login", "prompt=": "bogus", "max_age": "-5", "max_age=": "abc"} {
				f = r.start(oauth2.SetAuthURLParam(strings.TrimSuffix(param, "="), value))
				q := browser.get(f.authURL).URL.Query()
				if q.Get("error") != "invalid_request" || q.Get("state") != f.state {
					t.Errorf("%s=%q: %v, want invalid_request", strings.TrimSuffix(param, "="), value, q)
				}
			}
		}
	})
}

// TestPromptLoginAndConsentAskAgain: prompt=consent shows the consent page
// although the consent is remembered, and prompt=login asks a user with an
// authenticator for the password and the one-time code again.
func TestPromptLoginAndConsentAskAgain(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		id, secret := in.createClient(clientSpec{SkipConsent: false})
		r := newRP(t, in, id, secret)
		u := in.createUser("gina", true)
		used := map[int64]bool{}
		b := newBrowser(t)
		var meta struct {
			Prompts []string `json:"prompt_values_supported"`
		}
		if err := r.provider.Claims(&meta); err != nil || !slices.Contains(meta.Prompts, "consent") || !slices.Contains(meta.Prompts, "login") {
			t.Errorf("discovery's prompt_values_supported: %v %v", meta.Prompts, err)
		}

		f := r.start()
		p := b.loginWithPassword(b.get(f.authURL), u.Username, u.Password)
		p = b.submit(p, "/login/otp", url.Values{"otp": {currentCode(t, in, u.OTPSecret, used)}})
		if !strings.Contains(p.Body, `action="/login/consent"`) {
			t.Fatalf("expected the consent page, got %d %s", p.Status, p.URL)
		}
		_, first := r.exchange(r.callback(b.submit(p, "/login/consent", url.Values{"decision": {"allow"}}), f, in.URL), f)

		// Remembered: no page; with prompt=consent, the consent page again.
		f = r.start()
		r.exchange(r.callback(b.get(f.authURL), f, in.URL), f)
		f = r.start(oauth2.SetAuthURLParam("prompt", "consent"))
		if p = b.get(f.authURL); !strings.Contains(p.Body, `action="/login/consent"`) {
			t.Fatalf("prompt=consent must show the consent page, got %d %s", p.Status, p.URL)
		}
		r.exchange(r.callback(b.submit(p, "/login/consent", url.Values{"decision": {"allow"}}), f, in.URL), f)

		// prompt=login: the password, then the code, although the session
		// proved both; a second later on the server's clock, as in
		// TestPromptAndMaxAge. The code step comes after the password, so
		// moving the clock to an unused step cannot touch auth_time.
		in.clock.advance(time.Second)
		f = r.start(oauth2.SetAuthURLParam("prompt", "login"))
		if p = b.get(f.authURL); !strings.Contains(p.Body, `action="/login/password"`) {
			t.Fatalf("prompt=login must show the password page, got %d %s", p.Status, p.URL)
		}
		if p = b.loginWithPassword(p, u.Username, u.Password); !strings.Contains(p.Body, `action="/login/otp"`) {
			t.Fatalf("prompt=login must ask for the code after the password, got %d %s", p.Status, p.URL)
		}
		p = b.submit(p, "/login/otp", url.Values{"otp": {currentCode(t, in, u.OTPSecret, used)}})
		_, idt := r.exchange(r.callback(p, f, in.URL), f)
		if c := claimsOf(t, idt); c.AuthTime <= claimsOf(t, first).AuthTime || !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) {
			t.Errorf("after prompt=login: auth_time %d (first %d), amr %v", c.AuthTime, claimsOf(t, first).AuthTime, c.AMR)
		}
	})
}

func TestLogout(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		id, secret := in.createClient(clientSpec{SkipConsent: true})
		r := newRP(t, in, id, secret)
		b, tok, _ := signIn(t, in, r, in.createUser("erin", false))
		hint := tok.Extra("id_token").(string)

		// An unregistered post-logout URI is refused and the session stays.
		p := b.get(in.URL + "/oauth2/logout?" + url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode())
		if p.Status != http.StatusBadRequest || b.sessionCookie(in) == "" {
			t.Fatalf("unregistered post_logout_redirect_uri: %d", p.Status)
		}
		// A forged hint is refused.
		if p = b.get(in.URL + "/oauth2/logout?id_token_hint=" + url.QueryEscape(hint[:len(hint)-4]+"AAAA")); p.Status != http.StatusBadRequest {
			t.Fatalf("forged id_token_hint: %d", p.Status)
		}

		p = b.get(in.URL + "/oauth2/logout?" + url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {postLogoutURL}, "state": {"bye-state"}}.Encode())
		if p.URL.String() != postLogoutURL+"?state=bye-state" {
			t.Fatalf("logout redirect: %d %s", p.Status, p.URL)
		}
		f := r.start(oauth2.SetAuthURLParam("prompt", "none"))
		if q := b.get(f.authURL).URL.Query(); q.Get("error") != "login_required" {
			t.Fatalf("after logout the session must be gone: %v", q)
		}
	})
}

func TestSameMessageForUnknownUserAndWrongPassword(t *testing.T) {
	t.Parallel()
	in := startServer(t, "sqlite")
	in.createUser("frank", false)
	b := newBrowser(t)
	login := b.get(in.URL + "/account")
	wrongPw := b.loginWithPassword(login, "frank", "not-the-password")
	unknown := b.loginWithPassword(login, "nobody", "not-the-password")
	if wrongPw.Status != unknown.Status || !strings.Contains(wrongPw.Body, "Invalid username or password.") || !strings.Contains(unknown.Body, "Invalid username or password.") {
		t.Fatalf("statuses %d/%d; the two answers must be the same", wrongPw.Status, unknown.Status)
	}
}

func oidcPromptNone() oauth2.AuthCodeOption { return oauth2.SetAuthURLParam("prompt", "none") }
