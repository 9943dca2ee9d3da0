package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/authz/authz/internal/federation"
	"github.com/authz/authz/internal/store"
)

// startUpstream runs a second authz, with its own store, as an upstream
// provider. It is addressed as localhost so that its cookies do not mix with
// the downstream server's on 127.0.0.1.
func startUpstream(t *testing.T) *instance {
	t.Helper()
	return startServerArgs(t, t.TempDir(), "localhost")
}

// addProvider configures issuer as the upstream provider "corp" of down.
func addProvider(t *testing.T, down *instance, issuer, clientID, secret, policy string, requireOTP bool) {
	t.Helper()
	sealed, err := down.App.Sealer.Seal([]byte(secret), federation.SecretAD("corp"))
	if err != nil {
		t.Fatal(err)
	}
	p := &store.Provider{Alias: "corp", DisplayName: "Corp", IssuerURL: issuer, ClientID: clientID, SealedClientSecret: sealed,
		Scopes: []string{"openid", "profile", "email"}, LinkPolicy: policy, Enabled: true, RequireOTP: requireOTP, CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()}
	if err := down.App.Store.CreateProvider(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

func setRequireOTP(t *testing.T, in *instance, on bool) {
	t.Helper()
	p, err := in.App.Store.GetProvider(context.Background(), "corp")
	if err != nil {
		t.Fatal(err)
	}
	p.RequireOTP = on
	if err := in.App.Store.UpdateProvider(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

// TestUpstreamLoginSkipsTheCode walks, in Chromium, a user with an enrolled
// authenticator who signs in through an upstream authz: no code page; the same
// user's local login still asks for it; "require OTP" brings it back.
func TestUpstreamLoginSkipsTheCode(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		chromium(t)
		down := startServer(t, backend)
		up := startUpstream(t)
		id, secret := up.createClientWith(clientSpec{SkipConsent: true}, down.App.Pipeline.Federation.CallbackURL("corp"))
		addProvider(t, down, up.URL, id, secret, store.LinkExisting, false)
		local := down.createUser("uma", true)
		remote := up.createUser("uma", false)
		if err := down.App.Store.CreateFederatedIdentity(context.Background(), &store.FederatedIdentity{ProviderAlias: "corp", Subject: remote.ID, UserID: local.ID, CreatedAt: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
		app := newRelyingApp(t, down)

		upstreamLogin := func(b *tab) {
			b.navigate(app.URL + "/")
			b.waitTitle("Sign in")
			b.click("provider-corp")
			b.waitTitle("Sign in")
			if !strings.HasPrefix(b.location(), up.URL) {
				t.Fatalf("expected the upstream's login page, at %s", b.location())
			}
			b.fill("username", remote.Username)
			b.fill("password", remote.Password)
			b.click("sign-in")
		}
		b := newTab(t)
		upstreamLogin(b)
		b.waitTitle("Relying app")
		if who, amr := b.text("who"), b.text("amr"); who != "uma" || !strings.Contains(amr, "fed") || strings.Contains(amr, "otp") {
			t.Fatalf("relying app sees %q amr %q", who, amr)
		}

		// The local login of the same user still asks for the code.
		b2 := newTab(t)
		signInThroughApp(b2, app, local.Username, local.Password)
		b2.waitTitle("One-time code")

		// "Require OTP" on: the code page follows the upstream login.
		setRequireOTP(t, down, true)
		b3 := newTab(t)
		upstreamLogin(b3)
		b3.waitTitle("One-time code")
		b3.fill("otp", currentCode(t, down, local.OTPSecret, map[int64]bool{}))
		b3.click("submit-otp")
		b3.waitTitle("Relying app")
		if amr := b3.text("amr"); !strings.Contains(amr, "fed") || !strings.Contains(amr, "otp") {
			t.Fatalf("amr with require OTP: %q", amr)
		}
		events, _, _ := down.App.Store.ListAudit(context.Background(), store.AuditFilter{Type: "federation.login"})
		if len(events) != 2 {
			t.Errorf("federated logins audited: %d", len(events))
		}
	})
}

// fakeOP is a small OpenID provider under the test's control, for the failures
// a well-behaved upstream never produces.
type fakeOP struct {
	t      *testing.T
	srv    *httptest.Server
	key    *ecdsa.PrivateKey
	other  *ecdsa.PrivateKey
	mu     sync.Mutex
	mode   string
	claims map[string]any
	nonces map[string]string // code → nonce
	last   string            // the last callback URL sent to the browser
}

func newFakeOP(t *testing.T) *fakeOP {
	op := &fakeOP{t: t, nonces: map[string]string{}}
	op.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	op.other, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", op.discovery)
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: op.key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	})
	mux.HandleFunc("/authorize", op.authorize)
	mux.HandleFunc("/token", op.token)
	mux.HandleFunc("/userinfo", op.userinfo)
	op.srv = httptest.NewServer(mux)
	t.Cleanup(op.srv.Close)
	return op
}

func (op *fakeOP) set(mode string, claims map[string]any) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.mode, op.claims = mode, claims
}

func (op *fakeOP) discovery(w http.ResponseWriter, _ *http.Request) {
	u := op.srv.URL
	_ = json.NewEncoder(w).Encode(map[string]any{"issuer": u, "authorization_endpoint": u + "/authorize", "token_endpoint": u + "/token",
		"jwks_uri": u + "/jwks", "userinfo_endpoint": u + "/userinfo", "response_types_supported": []string{"code"}, "id_token_signing_alg_values_supported": []string{"ES256"}})
}

// authorize signs the user in at once and redirects back, bent by the mode.
func (op *fakeOP) authorize(w http.ResponseWriter, r *http.Request) {
	op.mu.Lock()
	defer op.mu.Unlock()
	q := r.URL.Query()
	back, _ := url.Parse(q.Get("redirect_uri"))
	v := url.Values{"state": {q.Get("state")}}
	switch op.mode {
	case "denied":
		v.Set("error", "access_denied")
	case "no-code":
	case "forged-state":
		v.Set("state", "forged-"+q.Get("state"))
		v.Set("code", "c-"+randomString())
	default:
		code := "c-" + randomString()
		op.nonces[code] = q.Get("nonce")
		v.Set("code", code)
	}
	back.RawQuery = v.Encode()
	op.last = back.String()
	http.Redirect(w, r, op.last, http.StatusFound)
}

func (op *fakeOP) token(w http.ResponseWriter, r *http.Request) {
	op.mu.Lock()
	defer op.mu.Unlock()
	_ = r.ParseForm()
	clientID, _, _ := r.BasicAuth()
	now := time.Now()
	claims := map[string]any{"iss": op.srv.URL, "sub": "ext-1", "aud": clientID, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "nonce": op.nonces[r.Form.Get("code")]}
	if !strings.HasPrefix(op.mode, "userinfo") {
		for k, v := range op.claims {
			claims[k] = v
		}
	}
	key := op.key
	switch op.mode {
	case "wrong-nonce":
		claims["nonce"] = "not-the-nonce"
	case "wrong-issuer":
		claims["iss"] = "https://evil.example"
	case "wrong-audience":
		claims["aud"] = "someone-else"
	case "expired":
		claims["exp"] = now.Add(-time.Hour).Unix()
	case "bad-signature":
		key = op.other
	}
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	payload, _ := json.Marshal(claims)
	jws, _ := signer.Sign(payload)
	idt, _ := jws.CompactSerialize()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at-" + randomString(), "token_type": "Bearer", "expires_in": 60, "id_token": idt})
}

// userinfo answers the profile claims; in the userinfo modes the ID token
// carries none of them, as some providers do by default (OIDC Core §5.4).
// Claims the test sets (sub too) override the default subject.
func (op *fakeOP) userinfo(w http.ResponseWriter, r *http.Request) {
	op.mu.Lock()
	defer op.mu.Unlock()
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer at-") {
		http.Error(w, "no token", http.StatusUnauthorized)
		return
	}
	claims := map[string]any{"sub": "ext-1"}
	for k, v := range op.claims {
		claims[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(claims)
}

func countUsersAndLinks(t *testing.T, in *instance) (int, int) {
	t.Helper()
	ctx := context.Background()
	n, err := in.App.Store.CountUsers(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	users, _, _ := in.App.Store.ListUsers(ctx, store.UserFilter{Limit: 100})
	links := 0
	for _, u := range users {
		fis, _ := in.App.Store.ListFederatedIdentities(ctx, u.ID)
		links += len(fis)
	}
	return n, links
}

func TestUpstreamFailuresCreateNothing(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		down := startServer(t, backend)
		op := newFakeOP(t)
		addProvider(t, down, op.srv.URL, "down-client", "down-secret", store.LinkCreate, false)
		usersBefore, linksBefore := countUsersAndLinks(t, down)
		for _, mode := range []string{"denied", "no-code", "forged-state", "wrong-nonce", "wrong-issuer", "wrong-audience", "expired", "bad-signature"} {
			op.set(mode, map[string]any{"preferred_username": "eve", "email": "eve@example.test", "email_verified": true})
			b := newBrowser(t)
			p := b.get(down.URL + "/login/upstream/corp")
			// No relying application in play: the sign-in page, with the reason.
			if p.Status != http.StatusBadGateway || !strings.Contains(p.Body, `action="/login/password"`) || !strings.Contains(p.Body, `role="alert"`) {
				t.Errorf("%s: %d %s\n%s", mode, p.Status, p.URL, p.Body)
			}
		}
		if u, l := countUsersAndLinks(t, down); u != usersBefore || l != linksBefore {
			t.Fatalf("failures created %d users and %d links", u-usersBefore, l-linksBefore)
		}

		// A good login creates the user (just-in-time); replaying its callback fails.
		op.set("ok", map[string]any{"preferred_username": "eve", "email": "eve@example.test", "email_verified": true, "given_name": "Eve"})
		b := newBrowser(t)
		if p := b.get(down.URL + "/login/upstream/corp"); !strings.Contains(p.Body, `id="account-username"`) {
			t.Fatalf("good upstream login: %d %s\n%s", p.Status, p.URL, p.Body)
		}
		u, err := down.App.Store.GetUserByUsername(context.Background(), "eve")
		if err != nil || u.FirstName != "Eve" || u.Email != "eve@example.test" {
			t.Fatalf("provisioned user: %+v %v", u, err)
		}
		if p := b.get(op.last); p.Status < 400 {
			t.Errorf("a replayed callback must fail: %d", p.Status)
		}
		// A callback with no login in progress in this browser.
		if p := newBrowser(t).get(op.last); p.Status != http.StatusBadRequest {
			t.Errorf("callback without a transaction: %d", p.Status)
		}
		// A disabled local user cannot get in through the provider.
		u.Enabled = false
		_ = down.App.Store.UpdateUser(context.Background(), u)
		if p := newBrowser(t).get(down.URL + "/login/upstream/corp"); p.Status != http.StatusBadGateway || !strings.Contains(p.Body, "disabled") {
			t.Errorf("disabled user: %d", p.Status)
		}
	})
}

func TestUpstreamLinkingPolicies(t *testing.T) {
	t.Parallel()
	in := startServer(t, "sqlite")
	op := newFakeOP(t)
	addProvider(t, in, op.srv.URL, "c", "s", store.LinkVerifiedMail, false)
	existing := in.createUser("vera", true)

	// Unverified e-mail: no link.
	op.set("ok", map[string]any{"email": existing.Email, "email_verified": false})
	if p := newBrowser(t).get(in.URL + "/login/upstream/corp"); p.Status != http.StatusBadGateway {
		t.Fatalf("unverified e-mail: %d", p.Status)
	}
	// Verified e-mail: linked to the existing user, who skips the code.
	op.set("ok", map[string]any{"email": existing.Email, "email_verified": true})
	if p := newBrowser(t).get(in.URL + "/login/upstream/corp"); !strings.Contains(p.Body, "vera") {
		t.Fatalf("verified e-mail: %d\n%s", p.Status, p.Body)
	}
	if fi, err := in.App.Store.GetFederatedIdentity(context.Background(), "corp", "ext-1"); err != nil || fi.UserID != existing.ID {
		t.Fatalf("link: %v", err)
	}

	// Only pre-linked users: an unknown subject is refused.
	p, _ := in.App.Store.GetProvider(context.Background(), "corp")
	p.LinkPolicy = store.LinkExisting
	_ = in.App.Store.UpdateProvider(context.Background(), p)
	op.set("ok", map[string]any{"sub": "ext-2", "email": "new@example.test", "email_verified": true})
	if p := newBrowser(t).get(in.URL + "/login/upstream/corp"); p.Status != http.StatusBadGateway || !strings.Contains(p.Body, "not linked") {
		t.Fatalf("unlinked subject: %d", p.Status)
	}
	if _, err := in.App.Store.GetUserByEmail(context.Background(), "new@example.test"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("no user may be created under the existing-only policy")
	}
}

func TestUpstreamUnreachableOrMisconfigured(t *testing.T) {
	t.Parallel()
	in := startServer(t, "sqlite")
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	addProvider(t, in, dead, "c", "s", store.LinkCreate, false)
	p := newBrowser(t).get(in.URL + "/login/upstream/corp")
	if p.Status != http.StatusBadGateway || !strings.Contains(p.Body, "cannot be reached") {
		t.Fatalf("unreachable provider: %d\n%s", p.Status, p.Body)
	}
	if p := newBrowser(t).get(in.URL + "/login/upstream/nope"); p.Status != http.StatusNotFound || !strings.Contains(p.Body, "not available") {
		t.Fatalf("unknown provider: %d", p.Status)
	}
	if err := federation.ValidateIssuerURL("ftp://x"); err == nil {
		t.Error("a non-http issuer URL must be refused")
	}
	if _, err := federation.Discover(context.Background(), "http://127.0.0.1:1/bad"); !errors.Is(err, federation.ErrDiscovery) {
		t.Errorf("discovery of a bad issuer: %v", err)
	}
	// The login page offers enabled providers only.
	page := newBrowser(t).get(in.URL + "/login")
	if !strings.Contains(page.Body, "Sign in with Corp") {
		t.Error("the login page must offer the provider")
	}
}
