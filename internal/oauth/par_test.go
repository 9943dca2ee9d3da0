package oauth

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

// parForm is a valid pushed authorization request of the client "web".
func parForm() url.Values {
	return url.Values{"response_type": {"code"}, "client_id": {"web"}, "redirect_uri": {webRedirect},
		"scope": {"openid offline_access"}, "state": {"state-of-the-test"}, "nonce": {"nonce-of-the-test"}}
}

// push pushes form as "web" and returns the request_uri.
func (e *refreshEnv) push(form url.Values) string {
	e.t.Helper()
	r := e.post("/oauth2/par", "web", form)
	uri, _ := r.body["request_uri"].(string)
	if r.status != http.StatusCreated || !strings.HasPrefix(uri, parURIPrefix) {
		e.t.Fatalf("push: %d %v", r.status, r.body)
	}
	if exp, _ := r.body["expires_in"].(float64); exp != parLifetime.Seconds() {
		e.t.Errorf("expires_in = %v", r.body["expires_in"])
	}
	return uri
}

// authorize sends the browser to the authorization endpoint with q and
// returns the status and where it is sent.
func (e *refreshEnv) authorize(q url.Values) (int, *url.URL) {
	e.t.Helper()
	noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirects.Get(e.srv.URL + "/oauth2/auth?" + q.Encode())
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	return resp.StatusCode, loc
}

func TestPARFlow(t *testing.T) {
	e := newRefreshEnv(t, 0)
	uri := e.push(parForm())
	// Parameters on the URL besides request_uri and client_id are ignored,
	// a request object too (RFC 9126 §4).
	status, loc := e.authorize(url.Values{"client_id": {"web"}, "request_uri": {uri}, "prompt": {"none"}, "redirect_uri": {"https://evil.test/cb"}, "state": {"forged-state"},
		"request": {"eyJhbGciOiJub25lIn0.e30."}})
	if status != http.StatusSeeOther || loc.Host != "web.test" || loc.Query().Get("code") == "" || loc.Query().Get("state") != "state-of-the-test" {
		t.Fatalf("redeeming the request_uri: %d to %v", status, loc)
	}
	r := e.post("/oauth2/token", "web", url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {webRedirect}})
	e.pairOf("code of a pushed request", r)

	// Single use.
	if status, loc := e.authorize(url.Values{"client_id": {"web"}, "request_uri": {uri}}); status != http.StatusBadRequest || loc.String() != "" {
		t.Errorf("a reused request_uri: %d to %v, want an error page", status, loc)
	}
	// Bound to the client that pushed it.
	stolen := e.push(parForm())
	if status, loc := e.authorize(url.Values{"client_id": {"other"}, "request_uri": {stolen}}); status == http.StatusSeeOther && loc.Query().Get("code") != "" {
		t.Errorf("another client redeemed the request_uri: %v", loc)
	}
	// ...and the other client's attempt did not use it up.
	if status, loc := e.authorize(url.Values{"client_id": {"web"}, "request_uri": {stolen}}); status != http.StatusSeeOther || loc.Query().Get("code") == "" {
		t.Errorf("the pushing client after another's attempt: %d to %v", status, loc)
	}
	// Short-lived.
	// fosite stamps the expiry by the wall clock: start the test clock
	// there, so the step below lands past it however slow the run is.
	e.clock.mu.Lock()
	e.clock.now = time.Now().UTC()
	e.clock.mu.Unlock()
	late := e.push(parForm())
	e.clock.advance(parLifetime + 5*time.Second)
	if status, loc := e.authorize(url.Values{"client_id": {"web"}, "request_uri": {late}}); status != http.StatusBadRequest {
		t.Errorf("an expired request_uri: %d to %v", status, loc)
	}
	if status, _ := e.authorize(url.Values{"client_id": {"web"}, "request_uri": {parURIPrefix + "made-up"}}); status != http.StatusBadRequest {
		t.Errorf("an unknown request_uri: %d", status)
	}
}

func TestPARKeepsNoClientSecret(t *testing.T) {
	e := newRefreshEnv(t, 0)
	form := parForm()
	form.Set("client_secret", e.secrets["web"])
	r := e.post("/oauth2/par", "", form)
	uri, _ := r.body["request_uri"].(string)
	if r.status != http.StatusCreated {
		t.Fatalf("push with client_secret_post: %d %v", r.status, r.body)
	}
	tok, err := e.st.GetToken(t.Context(), store.TokenPAR, hashCode(uri))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(tok.Form, "client_secret") || strings.Contains(tok.Form, e.secrets["web"]) {
		t.Errorf("the stored pushed request holds the client secret: %s", tok.Form)
	}
}

func TestRequirePAR(t *testing.T) {
	e := newRefreshEnv(t, 0)
	c, _ := e.st.GetClient(t.Context(), "web")
	c.RequirePAR = true
	if err := e.st.UpdateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	status, loc := e.authorize(parForm())
	if status != http.StatusSeeOther || loc.Query().Get("error") != "invalid_request" || loc.Query().Get("code") != "" {
		t.Fatalf("an unpushed request of a client that requires PAR: %d to %v", status, loc)
	}
	uri := e.push(parForm())
	if status, loc := e.authorize(url.Values{"client_id": {"web"}, "request_uri": {uri}}); status != http.StatusSeeOther || loc.Query().Get("code") == "" {
		t.Errorf("a pushed request of that client: %d to %v", status, loc)
	}
}

func TestPARBadInput(t *testing.T) {
	e := newRefreshEnv(t, 0)
	with := func(k, v string) url.Values {
		f := parForm()
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	cases := []struct {
		name   string
		client string
		form   url.Values
		status int
		err    string
	}{
		{"request_uri pushed", "web", with("request_uri", parURIPrefix+"x"), 400, "invalid_request"},
		{"unregistered redirect", "web", with("redirect_uri", "https://evil.test/cb"), 400, "invalid_request"},
		{"no redirect", "web", with("redirect_uri", ""), 400, "invalid_request"},
		{"short state without PKCE", "web", with("state", "abc"), 400, "invalid_request"},
		{"request object", "web", with("request", "eyJhbGciOiJub25lIn0.e30."), 400, "request_not_supported"},
		{"prompt none with login", "web", with("prompt", "none login"), 400, "invalid_request"},
		{"negative max_age", "web", with("max_age", "-1"), 400, "invalid_request"},
		{"plain PKCE", "web", with("code_challenge_method", "plain"), 400, "invalid_request"},
		{"unknown scope", "web", with("scope", "openid admin"), 400, "invalid_scope"},
		{"token response", "web", with("response_type", "token"), 400, "unsupported_response_type"},
		{"unauthenticated", "", parForm(), 401, "invalid_client"},
		{"oversized", "web", with("nonce", strings.Repeat("n", maxTokenBody)), 400, "invalid_request"},
		{"repeated scope", "web", func() url.Values { f := parForm(); f.Add("scope", "openid"); return f }(), 400, "invalid_request"},
		{"repeated redirect", "web", func() url.Values { f := parForm(); f.Add("redirect_uri", webRedirect); return f }(), 400, "invalid_request"},
	}
	for _, c := range cases {
		r := e.post("/oauth2/par", c.client, c.form)
		if r.status != c.status || r.body["error"] != c.err {
			t.Errorf("%s: %d %v, want %d %s", c.name, r.status, r.body, c.status, c.err)
		}
		if d, _ := r.body["error_description"].(string); strings.Contains(d, "sqlite") || strings.Contains(d, "goroutine") {
			t.Errorf("%s: debug detail reaches the client: %s", c.name, d)
		}
	}
}

// Client credentials never travel in the URL (RFC 6749 §2.3.1), and a
// pushed request's parameters are its form body (RFC 9126 §2.1).
func TestPARRefusesParametersInTheURL(t *testing.T) {
	e := newRefreshEnv(t, 0)
	r := e.post("/oauth2/par?client_id=web&client_secret="+url.QueryEscape(e.secrets["web"]), "", parForm())
	if r.status == http.StatusCreated || r.body["request_uri"] != nil {
		t.Fatalf("a push with credentials in the URL: %d %v", r.status, r.body)
	}
	if r.body["error"] != "invalid_request" && r.body["error"] != "invalid_client" {
		t.Errorf("error %v, want invalid_request or invalid_client", r.body["error"])
	}
	r = e.post("/oauth2/par?prompt=none", "web", parForm())
	if r.status != http.StatusBadRequest || r.body["error"] != "invalid_request" {
		t.Errorf("a push with a parameter in the URL: %d %v", r.status, r.body)
	}
}

// A parameter given twice at the authorization endpoint is refused (RFC
// 6749 §3.1): back to the client when the redirect URI is sure, else on an
// error page.
func TestAuthorizeRefusesRepeatedParameters(t *testing.T) {
	e := newRefreshEnv(t, 0)
	q := parForm()
	q.Add("scope", "openid")
	status, loc := e.authorize(q)
	if status != http.StatusSeeOther || loc.Host != "web.test" || loc.Query().Get("error") != "invalid_request" || loc.Query().Get("code") != "" {
		t.Errorf("repeated scope: %d to %v, want invalid_request at the client", status, loc)
	}
	q = parForm()
	q.Add("redirect_uri", "https://evil.test/cb")
	if status, loc := e.authorize(q); status != http.StatusBadRequest || loc.String() != "" {
		t.Errorf("repeated redirect_uri: %d to %v, want an error page", status, loc)
	}
}
