package oauth

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authz/authz/internal/session"
	"github.com/authz/authz/internal/store"
)

// signedIn stands in for the login pipeline once the user has signed in: it
// answers every authorization request at once, as the pipeline's finish step
// does for a browser whose session already proves the user.
type signedIn struct {
	p    *Provider
	user *store.User
}

func (l *signedIn) Start(w http.ResponseWriter, r *http.Request, req session.LoginRequest) {
	lt := &store.LoginTransaction{AuthRequest: req.AuthRequest.Encode(), ClientID: req.ClientID, RequestedAt: req.RequestedAt}
	sess := &store.Session{UserID: l.user.ID, AuthTime: time.Now().UTC(), AMR: []string{"pwd"}}
	l.p.ResumeAuthorization(w, r, lt, sess, l.user)
}

// refreshEnv is the provider on a real SQLite store with a refresh reuse
// grace on a hand-moved clock, a signed-in user, and the confidential
// client "web" that uses the code flow with refresh tokens.
type refreshEnv struct {
	*endpointEnv
	clock *testClock
	user  *store.User
}

const webRedirect = "https://web.test/cb"

func newRefreshEnv(t *testing.T, grace time.Duration) *refreshEnv {
	t.Helper()
	clock := &testClock{now: time.Now().UTC()}
	login := &signedIn{}
	e := newEndpointEnvWith(t, func(c *Config) {
		c.RefreshReuseGrace, c.Now = grace, clock.Now
	}, login)
	login.p = e.p
	ctx := context.Background()
	now := time.Now().UTC()
	login.user = &store.User{ID: store.NewID(), Username: "alice", Email: "alice@example.com", Enabled: true, Role: "user", CreatedAt: now, UpdatedAt: now}
	if err := e.st.CreateUser(ctx, login.user); err != nil {
		t.Fatal(err)
	}
	secret, hash, err := e.p.Hasher().NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateClient(ctx, &store.Client{ID: "web", Name: "Web", SecretHash: hash, RedirectURIs: []string{webRedirect},
		GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid", "offline_access"},
		SkipConsent: true, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	e.secrets["web"] = secret
	return &refreshEnv{endpointEnv: e, clock: clock, user: login.user}
}

// pair is what one token response hands out.
type pair struct{ access, refresh string }

// signIn runs the code flow through the authorization and token endpoints
// and returns the first pair of a new grant.
func (e *refreshEnv) signIn() pair {
	e.t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {"web"}, "redirect_uri": {webRedirect},
		"scope": {"openid offline_access"}, "state": {"state-of-the-test"}, "nonce": {"nonce-of-the-test"}}
	noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirects.Get(e.srv.URL + "/oauth2/auth?" + q.Encode())
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || back.Query().Get("code") == "" {
		e.t.Fatalf("authorization: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	r := e.post("/oauth2/token", "web", url.Values{"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")}, "redirect_uri": {webRedirect}})
	return e.pairOf("code exchange", r)
}

func (e *refreshEnv) pairOf(what string, r reply) pair {
	e.t.Helper()
	p := pair{}
	p.access, _ = r.body["access_token"].(string)
	p.refresh, _ = r.body["refresh_token"].(string)
	if r.status != http.StatusOK || p.access == "" || p.refresh == "" {
		e.t.Fatalf("%s: %d %v", what, r.status, r.body)
	}
	return p
}

func (e *refreshEnv) refresh(token string) reply {
	e.t.Helper()
	return e.post("/oauth2/token", "web", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}})
}

// refreshed refreshes with token and fails the test unless that succeeds.
func (e *refreshEnv) refreshed(what, token string) pair {
	e.t.Helper()
	return e.pairOf(what, e.refresh(token))
}

// refused checks that refreshing with token is refused as invalid_grant.
func (e *refreshEnv) refused(what, token string) {
	e.t.Helper()
	if r := e.refresh(token); r.status != http.StatusBadRequest || r.body["error"] != "invalid_grant" {
		e.t.Errorf("%s: %d %v, want 400 invalid_grant", what, r.status, r.body)
	}
}

// active asks the introspection endpoint, as the token's own client.
func (e *refreshEnv) active(token string) bool {
	e.t.Helper()
	r := e.post("/oauth2/introspect", "web", url.Values{"token": {token}})
	if r.status != http.StatusOK {
		e.t.Fatalf("introspection: %d %v", r.status, r.body)
	}
	return r.body["active"] == true
}

func (e *refreshEnv) wantActive(what string, want bool, tokens ...string) {
	e.t.Helper()
	for i, tok := range tokens {
		if got := e.active(tok); got != want {
			e.t.Errorf("%s #%d: active %v, want %v", what, i, got, want)
		}
	}
}

// Two refreshes racing with one token (two tabs) both get a new pair of the
// same grant, and both pairs stay valid, also after the other tab's next
// refresh; a late retry within the grace gets one too, and does not stretch
// the grace. A use after the grace is reuse: it ends the whole grant.
func TestRefreshReuseWithinGrace(t *testing.T) {
	t.Parallel()
	e := newRefreshEnv(t, 10*time.Second)
	first := e.signIn()

	replies := make([]reply, 2)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range replies {
		wg.Go(func() {
			<-start
			replies[i] = e.refresh(first.refresh)
		})
	}
	close(start)
	wg.Wait()
	tab1, tab2 := e.pairOf("first of two concurrent refreshes", replies[0]), e.pairOf("second of two concurrent refreshes", replies[1])
	if tab1 == tab2 || tab1.refresh == first.refresh || tab2.refresh == first.refresh {
		t.Fatalf("the concurrent refreshes must each get a new pair: %v %v (first %v)", tab1, tab2, first)
	}
	e.wantActive("each tab's new access token", true, tab1.access, tab2.access)
	e.wantActive("the first access token, rotated out", false, first.access)
	e.wantActive("the rotated refresh token within the grace", true, first.refresh)

	// One tab's next refresh leaves the other tab's pair alone.
	tab1 = e.refreshed("tab 1's next refresh", tab1.refresh)
	e.wantActive("tab 2's access token after tab 1 refreshed", true, tab2.access)

	// A retry 9 s after the rotation is still within the grace...
	e.clock.advance(9 * time.Second)
	retry := e.refreshed("a retry 9s after the rotation", first.refresh)
	e.wantActive("every pair's access token", true, tab1.access, tab2.access, retry.access)

	// ...and did not restart it: 11 s after the rotation the same token is reuse.
	e.clock.advance(2 * time.Second)
	e.wantActive("the rotated refresh token after the grace", false, first.refresh)
	e.refused("reuse 11s after the rotation", first.refresh)
	for name, tok := range map[string]string{"tab 1": tab1.refresh, "tab 2": tab2.refresh, "the retry": retry.refresh} {
		e.refused(name+"'s refresh token after the reuse", tok)
	}
	e.wantActive("the grant's access tokens after the reuse", false, tab1.access, tab2.access, retry.access)
}

// A grant that was revoked stays revoked: no token of it buys anything,
// not even one rotated moments before, within the grace.
func TestRefreshGraceEndsWithRevocation(t *testing.T) {
	t.Parallel()
	e := newRefreshEnv(t, 10*time.Second)
	first := e.signIn()
	next := e.refreshed("refresh", first.refresh)
	if r := e.post("/oauth2/revoke", "web", url.Values{"token": {next.refresh}}); r.status != http.StatusOK {
		t.Fatalf("revocation: %d %v", r.status, r.body)
	}
	e.clock.advance(time.Second)
	e.refused("the token rotated 1s before its grant was revoked", first.refresh)
	e.refused("the revoked token", next.refresh)
	e.wantActive("the revoked grant's tokens", false, first.refresh, next.refresh, next.access)

	// Revoking the rotated token within its grace revokes the grant too.
	other := e.signIn()
	otherNext := e.refreshed("refresh of another grant", other.refresh)
	if r := e.post("/oauth2/revoke", "web", url.Values{"token": {other.refresh}}); r.status != http.StatusOK {
		t.Fatalf("revocation: %d %v", r.status, r.body)
	}
	e.refused("the successor of a token revoked within its grace", otherNext.refresh)
	e.wantActive("the successor's access token", false, otherNext.access)
}

// A disabled user's grant buys nothing, rotated token or not.
func TestRefreshGraceForDisabledUser(t *testing.T) {
	t.Parallel()
	e := newRefreshEnv(t, 10*time.Second)
	first := e.signIn()
	e.refreshed("refresh", first.refresh)
	e.user.Enabled = false
	if err := e.st.UpdateUser(context.Background(), e.user); err != nil {
		t.Fatal(err)
	}
	e.refused("a disabled user's token within the grace", first.refresh)
}

// Without a grace every second use is reuse, however soon.
func TestRefreshWithoutGrace(t *testing.T) {
	t.Parallel()
	e := newRefreshEnv(t, 0)
	first := e.signIn()
	next := e.refreshed("refresh", first.refresh)
	e.wantActive("the rotated refresh token", false, first.refresh)
	e.refused("reuse at once", first.refresh)
	e.refused("the newest token after the reuse", next.refresh)
}

// TestGrantRequestIDsGrow: each new code grant's request ID sorts after the
// one before, and its tokens, refreshed ones included, keep it, which
// revoking the grant relies on.
func TestGrantRequestIDsGrow(t *testing.T) {
	t.Parallel()
	e := newRefreshEnv(t, 0)
	requestID := func(kind, tok string) string {
		t.Helper()
		// An HMAC token's stored signature is its part after the dot.
		got, err := e.st.GetToken(context.Background(), kind, tok[strings.LastIndexByte(tok, '.')+1:])
		if err != nil {
			t.Fatal(err)
		}
		return got.RequestID
	}
	last := ""
	for range 10 {
		p := e.signIn()
		id := requestID(store.TokenAccess, p.access)
		if id <= last {
			t.Fatalf("grant request ID %q does not sort after the one before, %q", id, last)
		}
		last = id
		if r := requestID(store.TokenRefresh, p.refresh); r != id {
			t.Fatalf("refresh token of grant %q has request ID %q", id, r)
		}
		next := e.refreshed("refresh", p.refresh)
		if got := requestID(store.TokenAccess, next.access); got != id {
			t.Fatalf("refreshed access token of grant %q has request ID %q", id, got)
		}
	}
}

// TestRefreshScope: a refresh may name the grant's scopes, and no other
// (RFC 6749 §6); a refused one leaves the refresh token as it was.
func TestRefreshScope(t *testing.T) {
	t.Parallel()
	e := newRefreshEnv(t, 0)
	first := e.signIn()
	refresh := func(token, scope string) reply {
		return e.post("/oauth2/token", "web", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}, "scope": {scope}})
	}
	for _, scope := range []string{"openid offline_access email", "api", "openid profile"} {
		if r := refresh(first.refresh, scope); r.status != http.StatusBadRequest || r.body["error"] != "invalid_scope" {
			t.Errorf("a refresh asking for %q: %d %v, want 400 invalid_scope", scope, r.status, r.body)
		}
	}
	e.wantActive("the refresh token after refused refreshes", true, first.refresh)
	r := refresh(first.refresh, "openid")
	next := e.pairOf("a refresh asking for part of the grant", r)
	if r.body["scope"] != "openid offline_access" {
		t.Errorf("the answer must name the scope issued, the grant's: %v", r.body["scope"])
	}
	e.refreshed("the next refresh, without a scope", next.refresh)
}
