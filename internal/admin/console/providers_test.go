package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/testsupport/admintest"
)

func providerForm(alias, issuerURL string) url.Values {
	return url.Values{"alias": {alias}, "display_name": {"Corp"}, "issuer_url": {issuerURL}, "client_id": {"authz"},
		"client_secret": {"upstream-secret"}, "scopes": {"openid email"}, "claim_username": {"preferred_username"},
		"claim_email": {"email"}, "claim_first_name": {"given_name"}, "claim_last_name": {"family_name"},
		"link_policy": {store.LinkCreate}, "enabled": {"on"}, "sync_profile": {"on"}}
}

func TestProviderPages(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		upstream := admintest.DiscoveryServer(t)
		newPage := e.Get("/admin/providers/new")
		wantStatus(t, newPage, http.StatusOK)
		if !checked(t, newPage.Body, "sync_profile") {
			t.Error("a new provider's profile sync is not on by default")
		}

		// Test discovery before saving: nothing stored, the form kept.
		r := e.Post("/admin/providers/new/test", providerForm("corp", upstream))
		wantStatus(t, r, http.StatusOK)
		if got := text(t, r.Body, "discovery-status"); !strings.HasPrefix(got, "Discovery succeeded") {
			t.Errorf("discovery status %q", got)
		}
		if got := text(t, r.Body, "discovery-token"); got != upstream+"/token" {
			t.Errorf("token endpoint %q", got)
		}
		if inputValue(t, r.Body, "alias") != "corp" || strings.Contains(r.Body, "upstream-secret") {
			t.Error("the form is not kept, or shows the secret")
		}
		if !strings.Contains(r.Body, `id="secret-dropped"`) {
			t.Error("the page does not ask for the secret again")
		}
		if ps, _ := e.Store.ListProviders(context.Background()); len(ps) != 0 {
			t.Fatal("testing saved the provider")
		}
		r = e.Post("/admin/providers/new/test", providerForm("corp", "http://127.0.0.1:1"))
		if got := text(t, r.Body, "discovery-status"); !strings.HasPrefix(got, "Discovery failed") {
			t.Errorf("dead upstream: %q", got)
		}
		r = e.Post("/admin/providers/new/test", providerForm("corp", "http://login.example"))
		wantStatus(t, r, http.StatusBadRequest)

		r = e.Post("/admin/providers", providerForm("corp", upstream))
		if r.Status != http.StatusSeeOther || r.Location != "/admin/providers/corp?notice=created" {
			t.Fatalf("create: %d %q\n%s", r.Status, r.Location, r.Body)
		}
		p, err := e.Store.GetProvider(context.Background(), "corp")
		if err != nil || p.LinkPolicy != store.LinkCreate || !p.Enabled || len(p.SealedClientSecret) == 0 {
			t.Fatalf("stored %+v %v", p, err)
		}
		if !checked(t, e.Get("/admin/providers/corp").Body, "sync_profile") {
			t.Error("the edit page does not show profile sync as on")
		}
		page := e.Get(r.Location).Body
		if got := text(t, page, "redirect-uri"); got != admintest.Issuer+"/login/upstream/corp/callback" {
			t.Errorf("the page must show the redirect URI to register at the provider: %q", got)
		}
		if strings.Contains(page, "upstream-secret") || text(t, page, "secret-state") != "Set (sealed; not shown)" {
			t.Error("the edit page shows the secret, or not that one is set")
		}

		// Edit with an empty secret field keeps the secret.
		f := providerForm("corp", upstream)
		f.Set("client_secret", "")
		f.Set("display_name", "Corp SSO")
		f.Del("enabled")
		f.Del("sync_profile")
		r = e.Post("/admin/providers/corp", f)
		wantStatus(t, r, http.StatusSeeOther)
		p2, _ := e.Store.GetProvider(context.Background(), "corp")
		if p2.DisplayName != "Corp SSO" || p2.Enabled || p2.SyncProfile || string(p2.SealedClientSecret) != string(p.SealedClientSecret) {
			t.Errorf("edited %+v", p2)
		}
		r = e.Post("/admin/providers/corp/test", f)
		wantStatus(t, r, http.StatusOK)
		if got := text(t, r.Body, "discovery-status"); !strings.HasPrefix(got, "Discovery succeeded") {
			t.Errorf("stored provider discovery %q", got)
		}
		f.Set("issuer_url", "ftp://x")
		r = e.Post("/admin/providers/corp", f)
		wantStatus(t, r, http.StatusBadRequest)
		if got := text(t, r.Body, "error"); !strings.Contains(got, "Issuer URL") {
			t.Errorf("error %q", got)
		}
		wantStatus(t, e.Post("/admin/providers/corp/enable", nil), http.StatusSeeOther)
		if p3, _ := e.Store.GetProvider(context.Background(), "corp"); !p3.Enabled {
			t.Error("not enabled")
		}
		f = providerForm("corp", upstream)
		wantStatus(t, e.Post("/admin/providers", f), http.StatusConflict)
		if !strings.Contains(e.Get("/admin/providers").Body, `href="/admin/providers/corp"`) {
			t.Error("the list lacks the provider")
		}
		r = e.Post("/admin/providers/corp/delete", url.Values{"confirm": {"yes"}})
		if r.Status != http.StatusSeeOther || r.Location != "/admin/providers?notice=deleted" {
			t.Fatalf("delete: %d %q", r.Status, r.Location)
		}
		wantStatus(t, e.Get("/admin/providers/corp"), http.StatusNotFound)
	})
}
