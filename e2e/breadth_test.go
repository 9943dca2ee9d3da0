package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose4 "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/store"
)

// Issue 16: JWT access tokens, back-channel logout, pushed authorization
// requests and private_key_jwt, each proven with the libraries relying
// parties use.

// updateClient changes a stored client.
func (in *instance) updateClient(id string, change func(c *store.Client)) {
	in.t.Helper()
	c, err := in.App.Store.GetClient(context.Background(), id)
	if err != nil {
		in.t.Fatal(err)
	}
	change(c)
	if err := in.App.Store.UpdateClient(context.Background(), c); err != nil {
		in.t.Fatal(err)
	}
}

// resourceServer verifies access tokens as an API would: from the JWKS alone.
func resourceServer(t *testing.T, in *instance, audience string) *oidc.IDTokenVerifier {
	t.Helper()
	keys := oidc.NewRemoteKeySet(context.Background(), in.URL+"/.well-known/jwks.json")
	return oidc.NewVerifier(in.URL, keys, &oidc.Config{ClientID: audience, SupportedSigningAlgs: []string{oidc.RS256, oidc.ES256}})
}

func TestJWTAccessTokensVerifiedFromTheJWKS(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		ctx := context.Background()
		api := "https://api.example.test"

		// A service client's token, through x/oauth2.
		svc, secret := in.createClient(clientSpec{Grants: []string{"client_credentials"}, Scopes: []string{"reports"}})
		in.updateClient(svc, func(c *store.Client) { c.AccessTokenFormat, c.Audiences = store.AccessTokenJWT, []string{api} })
		cc := clientcredentials.Config{ClientID: svc, ClientSecret: secret, TokenURL: in.URL + "/oauth2/token", Scopes: []string{"reports"}}
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatalf("client_credentials: %v", err)
		}
		at, err := resourceServer(t, in, api).Verify(ctx, tok.AccessToken)
		if err != nil {
			t.Fatalf("the resource server cannot verify the access token from the JWKS: %v", err)
		}
		var c struct {
			ClientID string `json:"client_id"`
			Scope    string `json:"scope"`
			JTI      string `json:"jti"`
		}
		if err := at.Claims(&c); err != nil || c.ClientID != svc || c.Scope != "reports" || c.JTI == "" || at.Subject != svc {
			t.Errorf("claims %+v sub %q: %v", c, at.Subject, err)
		}
		if _, err := resourceServer(t, in, "https://other-api.test").Verify(ctx, tok.AccessToken); err == nil {
			t.Error("a resource server of another audience accepted the token")
		}
		if typ := headerOf(t, tok.AccessToken)["typ"]; typ != "at+jwt" {
			t.Errorf("typ = %v", typ)
		}

		// A user's token, through the code flow: userinfo takes it, and it
		// names the user and how they signed in.
		web, webSecret := in.createClient(clientSpec{SkipConsent: true})
		in.updateClient(web, func(c *store.Client) { c.AccessTokenFormat = store.AccessTokenJWT })
		r := newRP(t, in, web, webSecret)
		u := in.createUser("jwt-user", false)
		_, utok, _ := signIn(t, in, r, u)
		uat, err := resourceServer(t, in, in.URL+"/userinfo").Verify(ctx, utok.AccessToken)
		if err != nil {
			t.Fatalf("user access token: %v", err)
		}
		// Not an ID token of the client (RFC 9068 §5): its aud is not the
		// client's ID.
		if _, err := resourceServer(t, in, web).Verify(ctx, utok.AccessToken); err == nil {
			t.Error("the client's ID token verifier accepted its JWT access token")
		}
		var uc struct {
			AuthTime int64    `json:"auth_time"`
			AMR      []string `json:"amr"`
		}
		if err := uat.Claims(&uc); err != nil || uat.Subject != u.ID || uc.AuthTime == 0 || len(uc.AMR) == 0 {
			t.Errorf("sub %q claims %+v: %v", uat.Subject, uc, err)
		}
		if info, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(utok)); err != nil || info.Subject != u.ID {
			t.Errorf("userinfo with the JWT: %v %v", info, err)
		}
		// Revoked: the server says so although the signature still verifies.
		if st := in.postAsClient("/oauth2/revoke", web, webSecret, url.Values{"token": {utok.AccessToken}}); st != http.StatusOK {
			t.Fatalf("revoke: %d", st)
		}
		if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(utok)); err == nil {
			t.Error("userinfo accepted a revoked JWT access token")
		}
	})
}

func headerOf(t *testing.T, raw string) map[string]any {
	t.Helper()
	head, _, _ := strings.Cut(raw, ".")
	b, err := base64URLDecode(head)
	var h map[string]any
	if err != nil || json.Unmarshal(b, &h) != nil {
		t.Fatalf("bad JWS header %q", head)
	}
	return h
}

// logoutReceiver is a relying party's back-channel logout endpoint that
// verifies each logout token as OIDC Back-Channel Logout 1.0 §2.6 says.
type logoutReceiver struct {
	URL    string
	tokens chan map[string]any
}

func newLogoutReceiver(t *testing.T, in *instance, clientID string) *logoutReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lr := &logoutReceiver{URL: "http://" + ln.Addr().String() + "/backchannel", tokens: make(chan map[string]any, 16)}
	keys := oidc.NewRemoteKeySet(context.Background(), in.URL+"/.well-known/jwks.json")
	verifier := oidc.NewVerifier(in.URL, keys, &oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{oidc.RS256, oidc.ES256}})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw := r.PostFormValue("logout_token")
		tok, err := verifier.Verify(r.Context(), raw)
		if err != nil {
			t.Errorf("logout token does not verify: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var c map[string]any
		_ = tok.Claims(&c)
		h := headerOf(t, raw)
		if h["typ"] != "logout+jwt" {
			t.Errorf("logout token typ %v", h["typ"])
		}
		c["header.alg"] = h["alg"] // for the tests that check it
		lr.tokens <- c
		w.WriteHeader(http.StatusOK)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return lr
}

// next waits for the next logout token; delivery runs on the server's worker.
func (lr *logoutReceiver) next(t *testing.T, what string) map[string]any {
	t.Helper()
	select {
	case c := <-lr.tokens:
		return c
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: no logout token reached the relying party", what)
		return nil
	}
}

func checkLogoutToken(t *testing.T, c map[string]any, sub, sid string) {
	t.Helper()
	events, _ := c["events"].(map[string]any)
	if _, ok := events["http://schemas.openid.net/event/backchannel-logout"]; !ok {
		t.Errorf("no back-channel logout event: %v", c)
	}
	if c["sub"] != sub || c["sid"] != sid || c["jti"] == nil {
		t.Errorf("sub %v sid %v jti %v, want %s %s", c["sub"], c["sid"], c["jti"], sub, sid)
	}
	if _, ok := c["nonce"]; ok {
		t.Error("a logout token carries a nonce")
	}
}

func TestBackchannelLogoutReachesTheRelyingParty(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		id, secret := in.createClient(clientSpec{SkipConsent: true})
		lr := newLogoutReceiver(t, in, id)
		in.updateClient(id, func(c *store.Client) {
			c.BackchannelLogoutURI, c.BackchannelLogoutSessionRequired = lr.URL, true
		})
		disco := discovery(t, in)
		if disco["backchannel_logout_supported"] != true || disco["backchannel_logout_session_supported"] != true {
			t.Errorf("discovery: %v %v", disco["backchannel_logout_supported"], disco["backchannel_logout_session_supported"])
		}
		r := newRP(t, in, id, secret)
		u := in.createUser("bob", false)

		// RP-initiated logout.
		b, tok, idt := signIn(t, in, r, u)
		var c struct {
			SID string `json:"sid"`
		}
		if err := idt.Claims(&c); err != nil || c.SID == "" {
			t.Fatalf("the ID token has no sid: %v", err)
		}
		p := b.get(in.URL + "/oauth2/logout?" + url.Values{"id_token_hint": {tok.Extra("id_token").(string)}}.Encode())
		if p.Status != http.StatusOK {
			t.Fatalf("logout: %d", p.Status)
		}
		checkLogoutToken(t, lr.next(t, "RP-initiated logout"), u.ID, c.SID)

		// An administrator disabling the user.
		_, _, idt2 := signIn(t, in, r, u)
		var c2 struct {
			SID string `json:"sid"`
		}
		_ = idt2.Claims(&c2)
		if c2.SID == c.SID {
			t.Error("a new session has the old sid")
		}
		disabled := false
		if _, err := in.App.Admin.UpdateUser(context.Background(), admin.Actor{}, u.ID, admin.UserPatch{Enabled: &disabled}); err != nil {
			t.Fatalf("disable: %v", err)
		}
		checkLogoutToken(t, lr.next(t, "user disabled"), u.ID, c2.SID)
	})
}

func discovery(t *testing.T, in *instance) map[string]any {
	t.Helper()
	resp, err := http.Get(in.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	return d
}

// parApp is a relying web application that pushes its authorization
// requests (RFC 9126) before sending the browser to authz.
func newPARApp(t *testing.T, in *instance) *relyingApp {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := &relyingApp{URL: "http://" + ln.Addr().String()}
	id, secret := in.createClientWith(clientSpec{SkipConsent: true}, app.URL+"/callback")
	in.updateClient(id, func(c *store.Client) { c.RequirePAR = true })
	provider, err := oidc.NewProvider(context.Background(), in.URL)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		PAR string `json:"pushed_authorization_request_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil || meta.PAR == "" {
		t.Fatalf("discovery names no PAR endpoint: %v", err)
	}
	app.config = oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: app.URL + "/callback", Scopes: []string{oidc.ScopeOpenID, "profile"}}
	app.verifier = provider.Verifier(&oidc.Config{ClientID: id})
	var mu sync.Mutex
	verifiers := map[string]string{}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		state, v := "st-"+randomString(), oauth2.GenerateVerifier()
		mu.Lock()
		verifiers[state] = v
		mu.Unlock()
		// The full request goes to authz server to server; the browser
		// carries only its request_uri.
		full, _ := url.Parse(app.config.AuthCodeURL(state, oauth2.S256ChallengeOption(v), oidc.Nonce("nonce-"+state)))
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, meta.PAR, strings.NewReader(full.Query().Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		var pushed struct {
			RequestURI string `json:"request_uri"`
		}
		if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&pushed) != nil {
			http.Error(w, fmt.Sprintf("push: %d", resp.StatusCode), http.StatusBadGateway)
			return
		}
		http.Redirect(w, r, provider.Endpoint().AuthURL+"?"+url.Values{"client_id": {id}, "request_uri": {pushed.RequestURI}}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("/callback", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		v := verifiers[r.URL.Query().Get("state")]
		mu.Unlock()
		tok, err := app.config.Exchange(r.Context(), r.URL.Query().Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			http.Error(w, "exchange: "+err.Error(), 400)
			return
		}
		idt, err := app.verifier.Verify(r.Context(), tok.Extra("id_token").(string))
		if err != nil {
			http.Error(w, "verify: "+err.Error(), 400)
			return
		}
		var c struct {
			Username string `json:"preferred_username"`
		}
		_ = idt.Claims(&c)
		fmt.Fprintf(w, "<!DOCTYPE html><title>Relying app</title><h1>Relying app</h1><p id=\"who\">%s</p>", html.EscapeString(c.Username))
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return app
}

func TestPushedAuthorizationInTheBrowser(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		chromium(t)
		in := startServer(t, backend)
		app := newPARApp(t, in)
		u := in.createUser("petra", false)
		b := newTab(t)
		signInThroughApp(b, app, u.Username, u.Password)
		b.waitTitle("Relying app")
		if who := b.text("who"); who != "petra" {
			t.Fatalf("the relying app sees %q", who)
		}
		// The client requires PAR: a request on the URL alone is refused.
		b.navigate(app.config.AuthCodeURL("state-plain-request", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if loc := b.location(); !strings.Contains(loc, "error=invalid_request") {
			t.Errorf("an unpushed request of a PAR-only client went to %s", loc)
		}
	})
}

// clientKey is a private_key_jwt client's key pair.
func newClientKey(t *testing.T) (*ecdsa.PrivateKey, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set, _ := json.Marshal(jose4.JSONWebKeySet{Keys: []jose4.JSONWebKey{{Key: k.Public(), KeyID: "client-key-1", Algorithm: "ES256", Use: "sig"}}})
	return k, string(set)
}

func clientAssertion(t *testing.T, key *ecdsa.PrivateKey, clientID, aud string) string {
	t.Helper()
	now := time.Now()
	payload, _ := json.Marshal(map[string]any{"iss": clientID, "sub": clientID, "aud": aud, "jti": randomString() + clientID,
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	sig, err := jose4.NewSigner(jose4.SigningKey{Algorithm: jose4.ES256, Key: key}, (&jose4.SignerOptions{}).WithHeader("kid", "client-key-1"))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := sig.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

func TestPrivateKeyJWTClientGetsTokens(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		ctx := context.Background()
		key, set := newClientKey(t)
		id, _ := in.createClient(clientSpec{Grants: []string{"client_credentials"}, Scopes: []string{"reports"}})
		in.updateClient(id, func(c *store.Client) {
			c.SecretHash, c.TokenAuthMethod, c.JWKS = nil, store.AuthPrivateKeyJWT, set
		})
		methods, _ := discovery(t, in)["token_endpoint_auth_methods_supported"].([]any)
		if !strings.Contains(fmt.Sprint(methods), "private_key_jwt") {
			t.Errorf("discovery: %v", methods)
		}
		config := func(assertion string) *clientcredentials.Config {
			return &clientcredentials.Config{ClientID: id, TokenURL: in.URL + "/oauth2/token", Scopes: []string{"reports"},
				AuthStyle: oauth2.AuthStyleInParams, EndpointParams: url.Values{
					"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
					"client_assertion":      {assertion}}}
		}
		a := clientAssertion(t, key, id, in.URL+"/oauth2/token")
		tok, err := config(a).Token(ctx)
		if err != nil || tok.AccessToken == "" {
			t.Fatalf("private_key_jwt client_credentials: %v", err)
		}
		// The same assertion again is a replay.
		_, err = config(a).Token(ctx)
		var re *oauth2.RetrieveError
		if !asRetrieveError(err, &re) || re.ErrorCode != "invalid_client" {
			t.Errorf("a replayed assertion: %v", err)
		}
		// A fresh one works, also naming the issuer as audience.
		if _, err := config(clientAssertion(t, key, id, in.URL)).Token(ctx); err != nil {
			t.Errorf("an assertion for the issuer: %v", err)
		}
	})
}

func asRetrieveError(err error, target **oauth2.RetrieveError) bool {
	re, ok := err.(*oauth2.RetrieveError)
	if !ok {
		return false
	}
	*target = re
	return true
}
