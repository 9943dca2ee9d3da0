package e2e

import (
	"testing"

	"github.com/authz/authz/internal/store"
)

// TestUpstreamFailureReturnsToTheApplication: when a relying application
// asked for the login, a failed upstream login ends there as an OAuth error
// on its redirect URI, with state and iss, not on a dead-end page: refused
// logins are access_denied, broken ones server_error.
func TestUpstreamFailureReturnsToTheApplication(t *testing.T) {
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		op := newFakeOP(t)
		addProvider(t, in, op.srv.URL, "c", "s", store.LinkExisting, false)
		id, secret := in.createClient(clientSpec{SkipConsent: true})
		r := newRP(t, in, id, secret)
		claims := map[string]any{"email": "zoe@example.test", "email_verified": true}
		for _, c := range []struct{ mode, want string }{
			{"denied", "access_denied"},      // the user declined at the provider
			{"ok", "access_denied"},          // an identity no account here may use
			{"wrong-issuer", "server_error"}, // a response that does not verify
			{"bad-signature", "server_error"},
		} {
			op.set(c.mode, claims)
			b := newBrowser(t)
			f := r.start()
			b.get(f.authURL)
			p := b.get(in.URL + "/login/upstream/corp")
			q := p.URL.Query()
			if p.URL.Host != "127.0.0.1:9" || q.Get("error") != c.want || q.Get("state") != f.state || q.Get("iss") != in.URL || q.Get("error_description") == "" {
				t.Errorf("%s: want error=%s with state, iss and a description at the application, got %d %s", c.mode, c.want, p.Status, p.URL)
			}
		}
	})
}
