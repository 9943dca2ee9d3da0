package e2e

import (
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestStateOptionalWithPKCE: as OAuth 2.1 allows, a request protected by an
// S256 code challenge may leave state out, and signs in as usual; without
// PKCE state stays required, and a present state stays at least 8
// characters.
func TestStateOptionalWithPKCE(t *testing.T) {
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		id, secret := in.createClient(clientSpec{SkipConsent: true})
		r := newRP(t, in, id, secret)
		u := in.createUser("stella", false)

		f := r.start()
		f.state = ""
		f.authURL = r.config.AuthCodeURL("", oauth2.S256ChallengeOption(f.verifier), oidc.Nonce(f.nonce))
		b := newBrowser(t)
		p := b.get(f.authURL)
		if !strings.Contains(p.Body, `action="/login/password"`) {
			t.Fatalf("no state, with PKCE: want the password page, got %d %s", p.Status, p.URL)
		}
		p = b.loginWithPassword(p, u.Username, u.Password)
		if p.URL.Query().Has("state") {
			t.Errorf("a state came back that was never sent: %s", p.URL)
		}
		r.exchange(r.callback(p, f, in.URL), f)

		for name, authURL := range map[string]string{
			"no state, no PKCE": r.config.AuthCodeURL(""),
			"short state, PKCE": r.config.AuthCodeURL("abc", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())),
		} {
			p := newBrowser(t).get(authURL)
			if p.URL.Host != "127.0.0.1:9" || p.URL.Query().Get("error") != "invalid_request" {
				t.Errorf("%s: want error=invalid_request at the relying party, got %d %s", name, p.Status, p.URL)
			}
		}
	})
}
