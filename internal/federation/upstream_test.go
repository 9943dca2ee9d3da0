package federation_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// upstream is a small OpenID provider in the test's process: discovery, JWKS
// and a token endpoint that checks the client's secret, the redirect URI and
// PKCE before it answers with an ES256-signed ID token. Its authorization step
// is a method (authorize), since no browser takes part.
type upstream struct {
	srv              *httptest.Server
	key              *ecdsa.PrivateKey // publishes and signs with it
	clientID, secret string

	// together, when set, holds each token request until all it counts have
	// arrived, so that concurrent logins reach authz's store at once.
	together *sync.WaitGroup

	mu         sync.Mutex
	grants     map[string]grant // by authorization code, each usable once
	tokenCalls int
}

// issue says how the token endpoint answers for one code.
type issue struct {
	// claims go over the defaults (iss, sub "ext-1", aud, iat, exp, nonce as
	// asked); a nil value removes the claim.
	claims map[string]any
	// signer signs the ID token instead of the published key.
	signer *ecdsa.PrivateKey
	// noIDToken leaves the ID token out of the token response.
	noIDToken bool
}

// grant is one code's authorization request and answer.
type grant struct {
	issue
	clientID, redirectURI, nonce, challenge string
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	up := &upstream{key: newKey(t), clientID: "authz-client", secret: "upstream-secret", grants: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		u := up.srv.URL
		writeJSON(w, http.StatusOK, map[string]any{"issuer": u, "authorization_endpoint": u + "/authorize",
			"token_endpoint": u + "/token", "jwks_uri": u + "/jwks", "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"ES256"}})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: up.key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	})
	mux.HandleFunc("POST /token", up.token)
	up.srv = httptest.NewServer(mux)
	t.Cleanup(up.srv.Close)
	return up
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// authorize plays the user's visit to authURL (which must point at this
// provider): it checks the request, remembers what the token endpoint will
// answer, and returns the query the provider redirects back with.
func (up *upstream) authorize(t *testing.T, authURL string, is issue) url.Values {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil || u.Scheme+"://"+u.Host+u.Path != up.srv.URL+"/authorize" {
		t.Fatalf("authorization URL %q does not point at the provider (%v)", authURL, err)
	}
	q := u.Query()
	if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		t.Fatalf("authorization request without the code flow and S256 PKCE: %v", q)
	}
	code := "code-" + rand.Text()
	up.mu.Lock()
	up.grants[code] = grant{issue: is, clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"),
		nonce: q.Get("nonce"), challenge: q.Get("code_challenge")}
	up.mu.Unlock()
	return url.Values{"code": {code}, "state": {q.Get("state")}}
}

func (up *upstream) calls() int {
	up.mu.Lock()
	defer up.mu.Unlock()
	return up.tokenCalls
}

func (up *upstream) token(w http.ResponseWriter, r *http.Request) {
	if up.together != nil {
		up.together.Done()
		up.together.Wait()
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	up.tokenCalls++
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	if id != up.clientID || secret != up.secret {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	code := r.PostFormValue("code")
	g, ok := up.grants[code]
	delete(up.grants, code)
	sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
	if !ok || r.PostFormValue("grant_type") != "authorization_code" || g.clientID != id ||
		g.redirectURI != r.PostFormValue("redirect_uri") || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	}
	resp := map[string]any{"access_token": "at-" + rand.Text(), "token_type": "Bearer", "expires_in": 300}
	if !g.noIDToken {
		resp["id_token"] = up.sign(g)
	}
	writeJSON(w, http.StatusOK, resp)
}

// sign makes the ID token of g. The package gives go-oidc no clock, so the
// times are the real ones: valid for five minutes, or expired an hour ago
// when a test says so through the claims.
func (up *upstream) sign(g grant) string {
	now := time.Now()
	claims := map[string]any{"iss": up.srv.URL, "sub": "ext-1", "aud": g.clientID, "iat": now.Unix(),
		"exp": now.Add(5 * time.Minute).Unix(), "nonce": g.nonce}
	for k, v := range g.claims {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	key := up.key
	if g.signer != nil {
		key = g.signer
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	if err != nil {
		panic(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		panic(err)
	}
	compact, err := jws.CompactSerialize()
	if err != nil {
		panic(err)
	}
	return compact
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
