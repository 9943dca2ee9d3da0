package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose4 "github.com/go-jose/go-jose/v4"

	"github.com/authz/authz/internal/randtoken"
	"github.com/authz/authz/internal/store"
)

// assertionKey is a client's signing key.
type assertionKey struct {
	kid string
	key *ecdsa.PrivateKey
}

func newAssertionKey(t *testing.T, kid string) assertionKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return assertionKey{kid: kid, key: k}
}

// jwks is the public key set of keys.
func jwks(t *testing.T, keys ...assertionKey) string {
	t.Helper()
	set := jose4.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, jose4.JSONWebKey{Key: k.key.Public(), KeyID: k.kid, Algorithm: "ES256", Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assertion signs claims (the defaults of a valid assertion of client,
// changed by edit) with k.
func assertion(t *testing.T, k assertionKey, client string, edit func(map[string]any)) string {
	t.Helper()
	now := time.Now()
	claims := map[string]any{"iss": client, "sub": client, "aud": "http://authz.test/oauth2/token",
		"jti": randtoken.New(16), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	if edit != nil {
		edit(claims)
	}
	payload, _ := json.Marshal(claims)
	opts := (&jose4.SignerOptions{}).WithType("JWT")
	if k.kid != "" {
		opts = opts.WithHeader("kid", k.kid)
	}
	sig, err := jose4.NewSigner(jose4.SigningKey{Algorithm: jose4.ES256, Key: k.key}, opts)
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

// pkClient registers a client_credentials client that authenticates with
// private_key_jwt, keys from jwks or jwksURI.
func (e *endpointEnv) pkClient(id, jwks, jwksURI string) {
	e.t.Helper()
	now := time.Now().UTC()
	if err := e.st.CreateClient(context.Background(), &store.Client{ID: id, Name: id, GrantTypes: []string{"client_credentials"},
		Scopes: []string{"api"}, TokenAuthMethod: store.AuthPrivateKeyJWT, JWKS: jwks, JWKSURI: jwksURI, CreatedAt: now, UpdatedAt: now}); err != nil {
		e.t.Fatal(err)
	}
}

func assertionForm(a string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "scope": {"api"},
		"client_assertion_type": {clientAssertionType}, "client_assertion": {a}}
}

func TestPrivateKeyJWT(t *testing.T) {
	e := newEndpointEnv(t)
	k := newAssertionKey(t, "k1")
	e.pkClient("pk", jwks(t, k), "")
	good := assertion(t, k, "pk", nil)
	r := e.post("/oauth2/token", "", assertionForm(good))
	tok, _ := r.body["access_token"].(string)
	if r.status != http.StatusOK || tok == "" {
		t.Fatalf("token with a valid assertion: %d %v", r.status, r.body)
	}
	// Introspection and revocation take the same method.
	in := url.Values{"token": {tok}, "client_assertion_type": {clientAssertionType}, "client_assertion": {assertion(t, k, "pk", nil)}}
	if r := e.post("/oauth2/introspect", "", in); r.status != http.StatusOK || r.body["active"] != true {
		t.Errorf("introspection with an assertion: %d %v", r.status, r.body)
	}
	rv := url.Values{"token": {tok}, "client_assertion_type": {clientAssertionType}, "client_assertion": {assertion(t, k, "pk", func(c map[string]any) { c["aud"] = "http://authz.test/oauth2/revoke" })}}
	if r := e.post("/oauth2/revoke", "", rv); r.status != http.StatusOK {
		t.Errorf("revocation with an assertion naming the revocation endpoint: %d %v", r.status, r.body)
	}

	stranger := newAssertionKey(t, "k1")
	cases := []struct {
		name, assertion, hint string
		form                  func(url.Values)
		status                int
	}{
		{"replayed", good, "used before", nil, 401},
		{"expired", assertion(t, k, "pk", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), "expired", nil, 401},
		{"no exp", assertion(t, k, "pk", func(c map[string]any) { delete(c, "exp") }), "no exp", nil, 401},
		{"exp far off", assertion(t, k, "pk", func(c map[string]any) { c["exp"] = time.Now().Add(48 * time.Hour).Unix() }), "too far", nil, 401},
		{"wrong audience", assertion(t, k, "pk", func(c map[string]any) { c["aud"] = "https://other.test/token" }), "aud", nil, 401},
		{"unknown kid", assertion(t, newAssertionKey(t, "k9"), "pk", nil), "k9", nil, 401},
		{"other key, same kid", assertion(t, stranger, "pk", nil), "signature", nil, 401},
		{"iss differs", assertion(t, k, "pk", func(c map[string]any) { c["iss"] = "app" }), "iss", nil, 401},
		{"no jti", assertion(t, k, "pk", func(c map[string]any) { delete(c, "jti") }), "jti", nil, 401},
		{"future iat", assertion(t, k, "pk", func(c map[string]any) { c["iat"] = time.Now().Add(time.Hour).Unix() }), "iat", nil, 401},
		{"not yet valid", assertion(t, k, "pk", func(c map[string]any) { c["nbf"] = time.Now().Add(time.Hour).Unix() }), "nbf", nil, 401},
		{"another client_id", assertion(t, k, "pk", nil), "sub", func(f url.Values) { f.Set("client_id", "app") }, 401},
		{"HS256", forgeHS(t, "pk"), "asymmetric", nil, 401},
		{"garbage", "not.a.jwt", "asymmetric", nil, 401},
		{"wrong type", assertion(t, k, "pk", nil), "client_assertion_type", func(f url.Values) { f.Set("client_assertion_type", "urn:x") }, 400},
		{"oversized", strings.Repeat("a", maxAssertion+1), "too long", nil, 400},
	}
	for _, c := range cases {
		f := assertionForm(c.assertion)
		if c.form != nil {
			c.form(f)
		}
		r := e.post("/oauth2/token", "", f)
		d, _ := r.body["error_description"].(string)
		if r.status != c.status || !strings.Contains(d, c.hint) {
			t.Errorf("%s: %d %v, want %d mentioning %q", c.name, r.status, r.body, c.status, c.hint)
		}
	}
	// The client's secret-based methods are closed to it.
	if r := e.post("/oauth2/token", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {"pk"}, "client_secret": {""}}); r.status != http.StatusUnauthorized {
		t.Errorf("a private_key_jwt client without an assertion: %d", r.status)
	}
	// A secret client cannot present an assertion instead.
	if r := e.post("/oauth2/token", "", assertionForm(assertion(t, k, "app", nil))); r.status != http.StatusUnauthorized {
		t.Errorf("an assertion for a client_secret client: %d", r.status)
	}
}

func forgeHS(t *testing.T, client string) string {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{"iss": client, "sub": client, "aud": "http://authz.test/oauth2/token", "jti": "x", "exp": time.Now().Add(time.Minute).Unix()})
	sig, _ := jose4.NewSigner(jose4.SigningKey{Algorithm: jose4.HS256, Key: []byte("0123456789abcdef0123456789abcdef")}, nil)
	jws, _ := sig.Sign(payload)
	out, _ := jws.CompactSerialize()
	return out
}

// Of concurrent requests with one assertion exactly one gets a token, as
// the store records the jti atomically (so also across replicas).
func TestPrivateKeyJWTConcurrentReplay(t *testing.T) {
	e := newEndpointEnv(t)
	k := newAssertionKey(t, "k1")
	e.pkClient("pk", jwks(t, k), "")
	a := assertion(t, k, "pk", nil)
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", e.srv.URL+"/oauth2/token", strings.NewReader(assertionForm(a).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Errorf("%d of 8 concurrent uses of one assertion succeeded, want 1", ok.Load())
	}
}

// An assertion past its exp but within the allowed clock skew is accepted
// once: its jti is kept until the skew has passed too, so a replay in that
// window is refused.
func TestPrivateKeyJWTReplayWithinSkew(t *testing.T) {
	e := newEndpointEnv(t)
	k := newAssertionKey(t, "k1")
	e.pkClient("pk", jwks(t, k), "")
	late := assertion(t, k, "pk", func(c map[string]any) { c["exp"] = time.Now().Add(-10 * time.Second).Unix() })
	if r := e.post("/oauth2/token", "", assertionForm(late)); r.status != http.StatusOK {
		t.Fatalf("an assertion 10 s past exp (within the skew): %d %v", r.status, r.body)
	}
	if r := e.post("/oauth2/token", "", assertionForm(late)); r.status != http.StatusUnauthorized {
		t.Errorf("its replay: %d %v, want 401", r.status, r.body)
	}
}

// A client with several keys need not name one: an assertion without kid is
// checked against each key for its algorithm.
func TestPrivateKeyJWTWithoutKidTriesEachKey(t *testing.T) {
	e := newEndpointEnv(t)
	k1, k2 := newAssertionKey(t, "k1"), newAssertionKey(t, "k2")
	e.pkClient("pk", jwks(t, k1, k2), "")
	unnamed := assertionKey{key: k2.key}
	if r := e.post("/oauth2/token", "", assertionForm(assertion(t, unnamed, "pk", nil))); r.status != http.StatusOK {
		t.Errorf("an assertion without kid signed by the second key: %d %v", r.status, r.body)
	}
	stranger := assertionKey{key: newAssertionKey(t, "").key}
	if r := e.post("/oauth2/token", "", assertionForm(assertion(t, stranger, "pk", nil))); r.status != http.StatusUnauthorized {
		t.Errorf("an assertion without kid signed by no key of the client: %d %v", r.status, r.body)
	}
}

// A jwks_uri that redirects is not followed: the keys must be where the
// administrator registered them.
func TestPrivateKeyJWTJWKSURIRedirectNotFollowed(t *testing.T) {
	e := newEndpointEnv(t)
	k := newAssertionKey(t, "k1")
	keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(jwks(t, k)))
	}))
	t.Cleanup(keys.Close)
	redirect := httptest.NewServer(http.RedirectHandler(keys.URL, http.StatusFound))
	t.Cleanup(redirect.Close)
	e.pkClient("pk", "", redirect.URL)
	if r := e.post("/oauth2/token", "", assertionForm(assertion(t, k, "pk", nil))); r.status != http.StatusUnauthorized {
		t.Errorf("keys behind a redirect: %d %v, want 401", r.status, r.body)
	}
}

// Keys at a jwks_uri are fetched, cached, and fetched again for a kid the
// cached set does not have.
func TestPrivateKeyJWTJWKSURI(t *testing.T) {
	e := newEndpointEnv(t)
	k1, k2 := newAssertionKey(t, "k1"), newAssertionKey(t, "k2")
	var mu sync.Mutex
	published := jwks(t, k1)
	var fetches atomic.Int32
	keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(published))
	}))
	t.Cleanup(keys.Close)
	e.pkClient("pk", "", keys.URL)
	clock := &testClock{now: time.Now()}
	e.p.clientJWKS.now = clock.Now
	for i := range 3 {
		if r := e.post("/oauth2/token", "", assertionForm(assertion(t, k1, "pk", nil))); r.status != http.StatusOK {
			t.Fatalf("token %d with a key from jwks_uri: %d %v", i, r.status, r.body)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("jwks_uri fetched %d times for three tokens, want once (cached)", n)
	}
	// The client rotates to k2: the unknown kid fetches again.
	mu.Lock()
	published = jwks(t, k2)
	mu.Unlock()
	clock.advance(jwksMinRefetch)
	if r := e.post("/oauth2/token", "", assertionForm(assertion(t, k2, "pk", nil))); r.status != http.StatusOK {
		t.Fatalf("token with the rotated-in key: %d %v", r.status, r.body)
	}
	// A made-up kid right after cannot make authz fetch again.
	before := fetches.Load()
	if r := e.post("/oauth2/token", "", assertionForm(assertion(t, newAssertionKey(t, "k9"), "pk", nil))); r.status != http.StatusUnauthorized {
		t.Errorf("an unknown kid: %d", r.status)
	}
	if fetches.Load() != before {
		t.Error("an unknown kid refetched the JWKS within jwksMinRefetch")
	}
	// A jwks_uri that is down is a clear invalid_client.
	keys.Close()
	e.p.clientJWKS.entries = map[string]*jwksEntry{}
	if r := e.post("/oauth2/token", "", assertionForm(assertion(t, k2, "pk", nil))); r.status != http.StatusUnauthorized || !strings.Contains(r.body["error_description"].(string), "jwks_uri") {
		t.Errorf("jwks_uri down: %d %v", r.status, r.body)
	}
}

func FuzzParseAssertion(f *testing.F) {
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(strings.Repeat("e", 100) + "..")
	p := &Provider{cfg: Config{Issuer: "http://authz.test"}}
	f.Fuzz(func(t *testing.T, raw string) {
		_, c, err := parseAssertion(raw)
		if err == nil {
			_ = p.checkAssertionClaims(c, c.Subject, "http://authz.test/oauth2/token")
		}
	})
}
