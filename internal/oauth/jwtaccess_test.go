package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	jose4 "github.com/go-jose/go-jose/v4"

	"github.com/authz/authz/internal/store"
)

// jwtClient registers a confidential client_credentials client issuing JWT
// access tokens for the resource servers aud.
func (e *endpointEnv) jwtClient(id string, aud ...string) {
	e.t.Helper()
	secret, hash, err := e.p.Hasher().NewClientSecret()
	if err != nil {
		e.t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := e.st.CreateClient(context.Background(), &store.Client{ID: id, Name: id, SecretHash: hash,
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"api", "openid"}, CreatedAt: now, UpdatedAt: now,
		AccessTokenFormat: store.AccessTokenJWT, Audiences: aud}); err != nil {
		e.t.Fatal(err)
	}
	e.secrets[id] = secret
}

// verifyJWT checks raw as a resource server does, from the JWKS alone, and
// returns its header type and claims.
func verifyJWT(t *testing.T, ks *KeySet, raw string) (string, map[string]any) {
	t.Helper()
	jws, err := jose4.ParseSignedCompact(raw, []jose4.SignatureAlgorithm{jose4.ES256, jose4.RS256})
	if err != nil {
		t.Fatalf("not a JWS: %v", err)
	}
	set, err := ks.JWKS(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	h := jws.Signatures[0].Header
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("JWKS has %d keys of kid %q", len(keys), h.KeyID)
	}
	payload, err := jws.Verify(keys[0].Key)
	if err != nil {
		t.Fatalf("does not verify with the JWKS: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	typ, _ := h.ExtraHeaders[jose4.HeaderType].(string)
	return typ, claims
}

func (e *endpointEnv) introspectActive(token string) bool {
	e.t.Helper()
	r := e.post("/oauth2/introspect", "resource-server", url.Values{"token": {token}})
	if r.status != http.StatusOK {
		e.t.Fatalf("introspect: %d %v", r.status, r.body)
	}
	active, _ := r.body["active"].(bool)
	return active
}

func TestJWTAccessTokenClientCredentials(t *testing.T) {
	e := newEndpointEnv(t)
	e.jwtClient("svc", "https://api.test")
	before := time.Now().Unix()
	tok := e.token("svc")
	typ, c := verifyJWT(t, e.p.keys, tok)
	if typ != "at+jwt" {
		t.Errorf("typ = %q, want at+jwt", typ)
	}
	if c["iss"] != "http://authz.test" || c["sub"] != "svc" || c["client_id"] != "svc" || c["scope"] != "api" {
		t.Errorf("claims = %v", c)
	}
	if aud, _ := c["aud"].([]any); len(aud) != 1 || aud[0] != "https://api.test" {
		t.Errorf("aud = %v, want the configured resource server", c["aud"])
	}
	if jti, _ := c["jti"].(string); len(jti) < 16 {
		t.Errorf("jti = %v", c["jti"])
	}
	iat, _ := c["iat"].(float64)
	exp, _ := c["exp"].(float64)
	if int64(iat) < before || int64(exp) != int64(iat)+3600 {
		t.Errorf("iat %v exp %v, want now and an hour later", iat, exp)
	}
	if _, ok := c["auth_time"]; ok {
		t.Error("a client's own token has no auth_time")
	}
	if !e.introspectActive(tok) {
		t.Fatal("a fresh JWT access token is not active")
	}
	if r := e.post("/oauth2/revoke", "svc", url.Values{"token": {tok}}); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %v", r.status, r.body)
	}
	if e.introspectActive(tok) {
		t.Error("a revoked JWT access token is still active")
	}
	// The opaque default is unchanged.
	if isJWT(e.token("app")) {
		t.Error("a client without the setting got a JWT")
	}
}

func TestJWTAccessTokenUserGrant(t *testing.T) {
	e := newRefreshEnv(t, 0)
	c, err := e.st.GetClient(t.Context(), "web")
	if err != nil {
		t.Fatal(err)
	}
	c.AccessTokenFormat = store.AccessTokenJWT
	if err := e.st.UpdateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	p := e.signIn()
	_, claims := verifyJWT(t, e.p.keys, p.access)
	if claims["sub"] != e.user.ID || claims["client_id"] != "web" {
		t.Errorf("claims = %v", claims)
	}
	if at, _ := claims["auth_time"].(float64); at == 0 {
		t.Error("a user's token lacks auth_time")
	}
	if amr, _ := claims["amr"].([]any); !slices.Contains(amr, any("pwd")) {
		t.Errorf("amr = %v", claims["amr"])
	}
	if aud, _ := claims["aud"].([]any); len(aud) != 1 || aud[0] != "http://authz.test/userinfo" {
		t.Errorf("aud = %v, want the userinfo endpoint (never the client) when the client names no resource server", claims["aud"])
	}
	if got := e.userinfo(p.access); got != http.StatusOK {
		t.Fatalf("userinfo with a JWT access token: %d", got)
	}
	next := e.refreshed("refresh", p.refresh)
	if !isJWT(next.access) {
		t.Fatal("refresh returned no JWT")
	}
	if got := e.userinfo(p.access); got != http.StatusUnauthorized {
		t.Errorf("userinfo with the access token a refresh replaced: %d", got)
	}
}

func (e *endpointEnv) userinfo(token string) int {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// forge re-signs the claims of tok, changed by edit, with key under kid and
// alg: what an attacker who holds a token can try.
func forge(t *testing.T, tok string, edit func(map[string]any), alg jose4.SignatureAlgorithm, key any, kid string) string {
	t.Helper()
	part := strings.Split(tok, ".")[1]
	raw, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	edit(claims)
	payload, _ := json.Marshal(claims)
	sig, err := jose4.NewSigner(jose4.SigningKey{Algorithm: alg, Key: key},
		(&jose4.SignerOptions{}).WithType("at+jwt").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := sig.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A JWT access token that is not exactly one authz issued is refused at
// userinfo and reported inactive.
func TestJWTAccessTokenForgeries(t *testing.T) {
	e := newRefreshEnv(t, 0)
	c, _ := e.st.GetClient(t.Context(), "web")
	c.AccessTokenFormat = store.AccessTokenJWT
	if err := e.st.UpdateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	tok := e.signIn().access
	kid, key := signer(t, e.p.keys)
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keep := func(map[string]any) {}
	header := strings.Split(tok, ".")
	cases := map[string]string{
		"another issuer":     forge(t, tok, func(c map[string]any) { c["iss"] = "https://evil.test" }, jose4.ES256, key, kid),
		"another audience":   forge(t, tok, func(c map[string]any) { c["aud"] = []string{"https://other-api.test"} }, jose4.ES256, key, kid),
		"another subject":    forge(t, tok, func(c map[string]any) { c["sub"] = "admin" }, jose4.ES256, key, kid),
		"unknown key":        forge(t, tok, keep, jose4.ES256, stranger, kid),
		"unpublished kid":    forge(t, tok, keep, jose4.ES256, stranger, "retired-key"),
		"HS256 with the kid": forge(t, tok, keep, jose4.HS256, []byte("0123456789abcdef0123456789abcdef"), kid),
		"alg none":           base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + header[1] + ".",
		"payload swapped":    header[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x"}`)) + "." + header[2],
		"truncated":          tok[:len(tok)-10],
	}
	for name, bad := range cases {
		if got := e.userinfo(bad); got != http.StatusUnauthorized {
			t.Errorf("%s: userinfo answered %d, want 401", name, got)
		}
		if e.active(bad) {
			t.Errorf("%s: introspection says active", name)
		}
	}
	if got := e.userinfo(tok); got != http.StatusOK {
		t.Errorf("the genuine token: userinfo %d", got)
	}
}

// A rotation leaves tokens signed with the old key verifiable, from the JWKS
// and at the server, until they expire.
func TestJWTAccessTokenSurvivesRotation(t *testing.T) {
	e := newEndpointEnv(t)
	clock := &testClock{now: time.Now()}
	e.p.keys.Now = clock.Now
	e.jwtClient("svc")
	tok := e.token("svc")
	if _, _, err := e.p.keys.Rotate(t.Context(), "ES256", time.Hour); err != nil {
		t.Fatal(err)
	}
	clock.advance(keyActivation + time.Second)
	newer := e.token("svc")
	jOld, _ := jose4.ParseSignedCompact(tok, []jose4.SignatureAlgorithm{jose4.ES256})
	jNew, _ := jose4.ParseSignedCompact(newer, []jose4.SignatureAlgorithm{jose4.ES256})
	if jOld.Signatures[0].Header.KeyID == jNew.Signatures[0].Header.KeyID {
		t.Fatal("the rotated-in key does not sign")
	}
	verifyJWT(t, e.p.keys, tok)
	if !e.introspectActive(tok) {
		t.Error("a token of the previous key is inactive after the rotation")
	}
}

func FuzzVerifyAccessToken(f *testing.F) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now()
	// A key set loaded a moment ago that will not reload: no store needed.
	ks := &KeySet{keys: []*signingKey{{id: "k1", alg: "ES256", private: priv}}, loadedAt: now, missAt: now}
	ks.Now = func() time.Time { return now }
	s := &accessTokenStrategy{keys: ks, issuer: "http://authz.test", ttl: time.Hour}
	good, err := ks.sign(context.Background(), []byte(`{"iss":"http://authz.test","sub":"u","client_id":"c","aud":["c"],"exp":4102444800}`), typAccessToken)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(good[:len(good)-4])
	f.Fuzz(func(t *testing.T, raw string) {
		payload, err := ks.verify(context.Background(), raw, typAccessToken)
		if err != nil {
			return
		}
		var ac accessClaims
		if json.Unmarshal(payload, &ac) == nil && ac.Issuer != s.issuer && raw == good {
			t.Fatal("the genuine token lost its issuer")
		}
	})
}
