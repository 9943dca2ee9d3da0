package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

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

// TestUpstreamProfileFromUserInfo: a provider that puts the profile only in
// its userinfo answer still links by verified e-mail and provisions with the
// right name; a userinfo answer about another subject is refused.
func TestUpstreamProfileFromUserInfo(t *testing.T) {
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		op := newFakeOP(t)
		addProvider(t, in, op.srv.URL, "c", "s", store.LinkVerifiedMail, false)
		existing := in.createUser("uma", true)
		op.set("userinfo", map[string]any{"email": existing.Email, "email_verified": true})
		if p := newBrowser(t).get(in.URL + "/login/upstream/corp"); !strings.Contains(p.Body, `id="account-username"`) {
			t.Fatalf("link by a verified e-mail from userinfo: %d %s\n%s", p.Status, p.URL, p.Body)
		}
		if fi, err := in.App.Store.GetFederatedIdentity(context.Background(), "corp", "ext-1"); err != nil || fi.UserID != existing.ID {
			t.Fatalf("link: %+v %v", fi, err)
		}

		pr, _ := in.App.Store.GetProvider(context.Background(), "corp")
		pr.LinkPolicy = store.LinkCreate
		_ = in.App.Store.UpdateProvider(context.Background(), pr)
		op.set("userinfo", map[string]any{"sub": "ext-9", "preferred_username": "nina", "given_name": "Nina", "email": "nina@example.test", "email_verified": true})
		if p := newBrowser(t).get(in.URL + "/login/upstream/corp"); p.Status != http.StatusBadGateway {
			// The ID token says ext-1, userinfo ext-9: not the same person.
			t.Fatalf("userinfo about another subject: %d %s", p.Status, p.URL)
		}
		op.set("userinfo", map[string]any{"preferred_username": "nina", "given_name": "Nina", "email": "nina@example.test", "email_verified": true})
		if _, err := in.App.Store.GetUserByUsername(context.Background(), "nina"); err == nil {
			t.Fatal("a refused login created a user")
		}
		_ = in.App.Store.DeleteFederatedIdentity(context.Background(), "corp", "ext-1")
		if p := newBrowser(t).get(in.URL + "/login/upstream/corp"); !strings.Contains(p.Body, `id="account-username"`) {
			t.Fatalf("provision from userinfo: %d %s\n%s", p.Status, p.URL, p.Body)
		}
		u, err := in.App.Store.GetUserByUsername(context.Background(), "nina")
		if err != nil || u.FirstName != "Nina" || u.Email != "nina@example.test" {
			t.Errorf("provisioned from userinfo: %+v %v", u, err)
		}
	})
}

// TestUpstreamProfileSync: with "sync profile" on, a linked user's names and
// verified e-mail follow the provider at each login; an address another user
// has is left alone, and the link never moves; with it off nothing changes.
// Links e-mailed to the old address stop working when it changes.
func TestUpstreamProfileSync(t *testing.T) {
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		ctx := context.Background()
		op := newFakeOP(t)
		addProvider(t, in, op.srv.URL, "c", "s", store.LinkExisting, false)
		u := in.createUser("sam", false)
		other := in.createUser("taken", false)
		if err := in.App.Store.CreateFederatedIdentity(ctx, &store.FederatedIdentity{ProviderAlias: "corp", Subject: "ext-1", UserID: u.ID, CreatedAt: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
		login := func(claims map[string]any) *store.User {
			t.Helper()
			op.set("ok", claims)
			if p := newBrowser(t).get(in.URL + "/login/upstream/corp"); !strings.Contains(p.Body, `id="account-username"`) {
				t.Fatalf("upstream login: %d %s", p.Status, p.URL)
			}
			got, err := in.App.Store.GetUser(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		renamed := map[string]any{"given_name": "Samuel", "family_name": "Stone", "email": "samuel@example.test", "email_verified": true}
		if got := login(renamed); got.FirstName == "Samuel" || got.Email == "samuel@example.test" {
			t.Errorf("synced with the setting off: %+v", got)
		}
		p, _ := in.App.Store.GetProvider(ctx, "corp")
		p.SyncProfile = true
		if err := in.App.Store.UpdateProvider(ctx, p); err != nil {
			t.Fatal(err)
		}
		link := in.issueLink(t, u.ID, store.ActionReset, time.Hour, time.Now().UTC())
		if got := login(renamed); got.FirstName != "Samuel" || got.LastName != "Stone" || got.Email != "samuel@example.test" {
			t.Errorf("not synced: %+v", got)
		}
		if p := newBrowser(t).get(link); p.Status != http.StatusNotFound {
			t.Errorf("a link sent to the address before the sync: %d, want 404", p.Status)
		}
		if got := login(map[string]any{"email": "unverified@example.test", "email_verified": false}); got.Email != "samuel@example.test" {
			t.Errorf("an unverified e-mail was taken: %q", got.Email)
		}
		if got := login(map[string]any{"email": other.Email, "email_verified": true}); got.Email != "samuel@example.test" {
			t.Errorf("another user's e-mail was taken: %q", got.Email)
		}
		if fi, err := in.App.Store.GetFederatedIdentity(ctx, "corp", "ext-1"); err != nil || fi.UserID != u.ID {
			t.Errorf("the link moved: %+v %v", fi, err)
		}
	})
}
