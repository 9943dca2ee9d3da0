package e2e

import (
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/audit"
	"github.com/authz/authz/internal/store"
)

// storeKey gives u a security key directly in the store (one no browser
// holds): the code step then offers the key first.
func storeKey(t *testing.T, in *instance, u *testUser, name string) *store.WebAuthnCredential {
	t.Helper()
	c := &store.WebAuthnCredential{ID: []byte("key-of-" + u.Username), UserID: u.ID, Name: name,
		PublicKey: []byte{0xa5, 0x01, 0x02}, CreatedAt: time.Now().UTC()}
	if err := in.App.Store.CreateWebAuthnCredential(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

// The security-key step with bad input: no CSRF secret, no, malformed,
// oversized and hostile responses, an expired challenge, a registration
// posted out of turn. Each is refused with a clear message (never a 500),
// audited and counted, and the one-time code still works afterwards.
func TestSecurityKeyLoginBadInput(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startLocalhost(t, backend)
		u := in.createUser("ivy", true)
		storeKey(t, in, u, "Key")
		used := map[int64]bool{}
		b := newBrowser(t)
		p := b.loginWithPassword(b.get(in.URL+"/account"), u.Username, u.Password)
		if !strings.Contains(p.Body, "Use your security key or passkey") || !strings.Contains(p.Body, `id="use-otp-instead"`) {
			t.Fatalf("the key is not offered first, with the code instead:\n%s", p.Body)
		}
		if !strings.Contains(p.Body, `<noscript>`) || strings.Contains(p.Body, "<script>") {
			t.Errorf("the key page must say what to do without JavaScript and carry no inline script")
		}
		csrf := formValues(t, p.Body, "/login/webauthn").Get("csrf")

		if got := b.post(in.URL+"/login/webauthn", url.Values{"credential": {"{}"}}); got.Status != http.StatusForbidden {
			t.Errorf("no CSRF secret: %d", got.Status)
		}
		hostile := []struct{ name, credential string }{
			{"missing", ""},
			{"not JSON", "<script>alert(1)</script>"},
			{"JSON of the wrong shape", `{"id":[1,2],"response":"x"}`},
			{"a forged assertion", `{"id":"a2V5LW9mLWl2eQ","rawId":"a2V5LW9mLWl2eQ","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AAAA","signature":"AAAA"}}`},
			{"oversized", `{"id":"` + strings.Repeat("A", 12<<10) + `"}`},
		}
		for _, h := range hostile {
			got := b.post(in.URL+"/login/webauthn", url.Values{"csrf": {csrf}, "credential": {h.credential}})
			if got.Status != http.StatusUnauthorized || !strings.Contains(got.Body, "Your security key or passkey was not accepted.") {
				t.Errorf("%s: %d\n%s", h.name, got.Status, got.Body)
			}
			if strings.Contains(got.Body, "alert(1)") {
				t.Errorf("%s: the response echoed the input", h.name)
			}
		}
		if got := b.post(in.URL+"/login/webauthn", url.Values{"csrf": {csrf}, "credential": {strings.Repeat("A", 20<<10)}}); got.Status != http.StatusBadRequest {
			t.Errorf("a form over the size limit: %d", got.Status)
		}
		if n := auditCount(t, in, audit.WebAuthnRefused, u.ID); n < len(hostile) {
			t.Errorf("webauthn.refused events: %d, want at least %d", n, len(hostile))
		}

		// An expired challenge says so.
		b.get(in.URL + "/login")
		in.clock.advance(6 * time.Minute)
		got := b.post(in.URL+"/login/webauthn", url.Values{"csrf": {csrf}, "credential": {"{}"}})
		if got.Status != http.StatusUnauthorized || !strings.Contains(got.Body, "That took too long.") {
			t.Errorf("expired challenge: %d\n%s", got.Status, got.Body)
		}
		// A registration posted during a sign-in goes nowhere.
		b.post(in.URL+"/login/webauthn/register", url.Values{"csrf": {csrf}, "credential": {"{}"}})
		if keys, _ := in.App.Store.ListWebAuthnCredentials(context.Background(), u.ID); len(keys) != 1 {
			t.Errorf("keys after a registration out of turn: %d", len(keys))
		}
		if body := scrapeMetrics(t, in); !strings.Contains(body, `authz_webauthn_ceremonies_total{ceremony="login",outcome="failure"}`) ||
			!strings.Contains(body, `authz_webauthn_ceremonies_total{ceremony="login",outcome="expired"} 1`) {
			t.Errorf("/metrics lacks the refused ceremonies")
		}

		// The one-time code still signs in, and needs no JavaScript.
		p = b.get(in.URL + "/login?method=otp")
		p = b.submit(p, "/login/otp", url.Values{"otp": {currentCode(t, in, u.OTPSecret, used)}})
		if !strings.Contains(p.Body, `id="account-username"`) {
			t.Fatalf("the code after refused keys: %d\n%s", p.Status, p.Body)
		}
	})
}

// The account page's security-key and remembered-browser forms with bad
// input: no form token, empty, oversized and hostile names, a wrong code,
// a malformed handle and another user's key. Nothing changes.
func TestSecurityKeyAccountBadInput(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startLocalhost(t, backend)
		ctx := context.Background()
		u, other := in.createUser("jon", true), in.createUser("eve", true)
		othersKey := storeKey(t, in, other, "Eve's key")
		used := map[int64]bool{}
		b := newBrowser(t)
		home := signInHTTP(t, in, b, u, used)

		if got := b.post(in.URL+"/account/security-keys", url.Values{"name": {"k"}, "otp": {"123456"}}); got.Status != http.StatusForbidden {
			t.Errorf("no form token: %d", got.Status)
		}
		for name, value := range map[string]string{"empty": "  ", "too long": strings.Repeat("ü", 65), "control characters": "key\x00\x1b[31m"} {
			got := b.postAccount(t, home, "/account/security-keys", url.Values{"name": {value}, "otp": {currentCode(t, in, u.OTPSecret, used)}})
			if got.Status != http.StatusBadRequest || !strings.Contains(got.Body, "Give the new key a name") {
				t.Errorf("name %s: %d", name, got.Status)
			}
		}
		got := b.postAccount(t, home, "/account/security-keys", url.Values{"name": {"<b>key</b>"}, "otp": {"000000"}})
		if got.Status != http.StatusUnauthorized || strings.Contains(got.Body, "<b>key</b>") {
			t.Errorf("wrong code: %d", got.Status)
		}
		// A hostile name is kept as text, never markup.
		got = b.postAccount(t, home, "/account/security-keys", url.Values{"name": {"<b>key</b>"}, "otp": {currentCode(t, in, u.OTPSecret, used)}})
		if got.Status != http.StatusOK || !strings.Contains(got.Body, "&lt;b&gt;key&lt;/b&gt;") {
			t.Errorf("registration page of a hostile name: %d\n%s", got.Status, got.Body)
		}
		home = b.get(in.URL + "/account")

		for name, handle := range map[string]string{"malformed": "!!!", "empty": "", "huge": strings.Repeat("A", 4000)} {
			if got := b.postAccount(t, home, "/account/security-keys/remove", url.Values{"key": {handle}}); got.Status != http.StatusBadRequest {
				t.Errorf("remove %s handle: %d", name, got.Status)
			}
		}
		got = b.postAccount(t, home, "/account/security-keys/remove", url.Values{"key": {base64.RawURLEncoding.EncodeToString(othersKey.ID)}})
		if !strings.Contains(got.Body, "That security key had been removed already.") {
			t.Errorf("removing another user's key: %d\n%s", got.Status, got.Body)
		}
		if keys, _ := in.App.Store.ListWebAuthnCredentials(ctx, other.ID); len(keys) != 1 {
			t.Errorf("another user's key was removed")
		}
		if got := b.post(in.URL+"/account/remembered/forget", url.Values{}); got.Status != http.StatusForbidden {
			t.Errorf("forget without a form token: %d", got.Status)
		}
	})
}

// Removing a security key from the account page needs a current code (or a
// recovery code), as the other forms that change how the user signs in do:
// the session alone removes nothing. Removed, the key is e-mailed about.
func TestSecurityKeyRemovalNeedsACode(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		mb := newMailbox(t)
		host, port, _ := net.SplitHostPort(mb.addr)
		in := startLocalhost(t, backend, "--smtp-host", host, "--smtp-port", port, "--smtp-tls", "none")
		ctx := context.Background()
		u := in.createUser("ken", true)
		used := map[int64]bool{}
		b := newBrowser(t)
		signInHTTP(t, in, b, u, used)
		key := storeKey(t, in, u, "Blue key")
		home := b.get(in.URL + "/account")
		handle := base64.RawURLEncoding.EncodeToString(key.ID)
		if !strings.Contains(home.Body, `id="remove-key-otp"`) {
			t.Fatalf("the remove form asks for no code:\n%s", home.Body)
		}
		kept := func(what string) {
			t.Helper()
			if keys, _ := in.App.Store.ListWebAuthnCredentials(ctx, u.ID); len(keys) != 1 {
				t.Fatalf("%s removed the key", what)
			}
		}
		if got := b.postAccount(t, home, "/account/security-keys/remove", url.Values{"key": {handle}}); got.Status != http.StatusBadRequest || !strings.Contains(got.Body, "Enter a current one-time code") {
			t.Errorf("without a code: %d\n%s", got.Status, got.Body)
		}
		kept("the session alone")
		if got := b.postAccount(t, home, "/account/security-keys/remove", url.Values{"key": {handle}, "otp": {"000000"}}); got.Status != http.StatusUnauthorized {
			t.Errorf("a wrong code: %d", got.Status)
		}
		kept("a wrong code")
		got := b.postAccount(t, home, "/account/security-keys/remove", url.Values{"key": {handle}, "otp": {currentCode(t, in, u.OTPSecret, used)}})
		if got.URL.Query().Get("done") != "key-removed" {
			t.Fatalf("with a code: %d %s", got.Status, got.URL)
		}
		if keys, _ := in.App.Store.ListWebAuthnCredentials(ctx, u.ID); len(keys) != 0 {
			t.Error("the key is still there")
		}
		if m := mb.waitFor(t, u.Email); m.Subject != "A security key or passkey was removed" || !strings.Contains(m.Text, "“Blue key”") {
			t.Errorf("notice of the removed key: %q\n%s\n%s", m.Subject, m.Text, m.HTML)
		}
	})
}
