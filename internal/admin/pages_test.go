package admin

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/authz/authz/internal/store"
)

func clientForm(name string, redirects ...string) url.Values {
	return url.Values{"name": {name}, "type": {TypeConfidential}, "redirect_uris": {strings.Join(redirects, "\n")},
		"post_logout_redirect_uris": {""}, "grant_types": {"authorization_code", "refresh_token"}, "scopes": {"openid profile"}}
}

var secretPattern = regexp.MustCompile(`id="client-secret">([^<]+)<`)

func TestClientPages(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		r := e.get("/admin/clients/new")
		wantStatus(t, r, http.StatusOK)
		if !checked(t, r.body, "grant_authorization_code") || checked(t, r.body, "grant_client_credentials") {
			t.Error("new form: want the code grant ticked and client credentials not")
		}

		r = e.post("/admin/clients", clientForm("Shop", "https://shop.example/cb", "http://localhost:3000/cb"))
		wantStatus(t, r, http.StatusCreated)
		if r.header.Get("Cache-Control") != "no-store" {
			t.Error("the secret page may be cached")
		}
		id := text(t, r.body, "client-id")
		m := secretPattern.FindStringSubmatch(r.body)
		if m == nil || !e.secretWorks(id, m[1]) {
			t.Fatalf("the page does not show the working secret:\n%s", r.body)
		}
		c, err := e.st.GetClient(context.Background(), id)
		if err != nil || c.Name != "Shop" || len(c.RedirectURIs) != 2 || strings.Join(c.Scopes, " ") != "openid profile" {
			t.Fatalf("stored %+v %v", c, err)
		}
		page := e.get("/admin/clients/" + id).body
		if strings.Contains(page, m[1]) {
			t.Error("the edit page shows the secret again")
		}
		if !strings.Contains(e.get("/admin/clients").body, ">Shop</a>") {
			t.Error("the list lacks the application")
		}

		// Bad input keeps the form as typed and changes nothing.
		bad := clientForm("Bad", "https://bad.example/cb#frag")
		r = e.post("/admin/clients", bad)
		wantStatus(t, r, http.StatusBadRequest)
		if got := text(t, r.body, "error"); !strings.HasPrefix(got, "Redirect URIs:") || !strings.Contains(got, "fragment") {
			t.Errorf("error %q", got)
		}
		if got := inputValue(t, r.body, "name"); got != "Bad" {
			t.Errorf("name not kept: %q", got)
		}
		if all, _ := e.st.ListClients(context.Background()); len(all) != 1 {
			t.Error("a bad application was stored")
		}

		// Edit.
		edit := clientForm("Shop 2", "https://shop.example/cb")
		edit.Set("skip_consent", "on")
		r = e.post("/admin/clients/"+id, edit)
		if r.status != http.StatusSeeOther || !strings.HasSuffix(r.location, "notice=saved") {
			t.Fatalf("save: %d %q %s", r.status, r.location, r.body)
		}
		if c, _ := e.st.GetClient(context.Background(), id); c.Name != "Shop 2" || !c.SkipConsent || len(c.RedirectURIs) != 1 {
			t.Errorf("edited %+v", c)
		}
		r = e.post("/admin/clients/"+id, clientForm("Shop 2", "http://shop.example/cb"))
		wantStatus(t, r, http.StatusBadRequest)
		if got := text(t, r.body, "error"); !strings.Contains(got, "https") {
			t.Errorf("error %q", got)
		}

		// Rotate, disable, enable, delete.
		r = e.post("/admin/clients/"+id+"/rotate-secret", nil)
		wantStatus(t, r, http.StatusOK)
		if n := secretPattern.FindStringSubmatch(r.body); n == nil || n[1] == m[1] || !e.secretWorks(id, n[1]) || e.secretWorks(id, m[1]) {
			t.Error("rotation did not replace the secret")
		}
		r = e.post("/admin/clients/"+id+"/disable", nil)
		wantStatus(t, r, http.StatusSeeOther)
		if c, _ := e.st.GetClient(context.Background(), id); !c.Disabled {
			t.Error("not disabled")
		}
		if got := text(t, e.get(r.location).body, "client-status"); got != "Disabled" {
			t.Errorf("status %q", got)
		}
		wantStatus(t, e.post("/admin/clients/"+id+"/enable", nil), http.StatusSeeOther)
		r = e.post("/admin/clients/"+id+"/delete", nil)
		wantStatus(t, r, http.StatusOK)
		if !strings.Contains(r.body, `id="confirm"`) {
			t.Fatal("delete did not ask first")
		}
		r = e.post("/admin/clients/"+id+"/delete", url.Values{"confirm": {"yes"}})
		if r.status != http.StatusSeeOther || r.location != "/admin/clients?notice=deleted" {
			t.Fatalf("delete: %d %q", r.status, r.location)
		}
		if _, err := e.st.GetClient(context.Background(), id); err == nil {
			t.Error("still stored")
		}
		wantStatus(t, e.get("/admin/clients/"+id), http.StatusNotFound)

		// Public applications get no secret.
		pub := clientForm("SPA", "https://spa.example/cb")
		pub.Set("type", TypePublic)
		r = e.post("/admin/clients", pub)
		wantStatus(t, r, http.StatusCreated)
		if strings.Contains(r.body, `id="client-secret"`) || !strings.Contains(r.body, `id="no-secret"`) {
			t.Error("a public application's page shows a secret")
		}
	})
}

func providerForm(alias, issuerURL string) url.Values {
	return url.Values{"alias": {alias}, "display_name": {"Corp"}, "issuer_url": {issuerURL}, "client_id": {"authz"},
		"client_secret": {"upstream-secret"}, "scopes": {"openid email"}, "claim_username": {"preferred_username"},
		"claim_email": {"email"}, "claim_first_name": {"given_name"}, "claim_last_name": {"family_name"},
		"link_policy": {store.LinkCreate}, "enabled": {"on"}}
}

func TestProviderPages(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		upstream := discoveryServer(t)
		wantStatus(t, e.get("/admin/providers/new"), http.StatusOK)

		// Test discovery before saving: nothing stored, the form kept.
		r := e.post("/admin/providers/new/test", providerForm("corp", upstream))
		wantStatus(t, r, http.StatusOK)
		if got := text(t, r.body, "discovery-status"); !strings.HasPrefix(got, "Discovery succeeded") {
			t.Errorf("discovery status %q", got)
		}
		if got := text(t, r.body, "discovery-token"); got != upstream+"/token" {
			t.Errorf("token endpoint %q", got)
		}
		if inputValue(t, r.body, "alias") != "corp" || strings.Contains(r.body, "upstream-secret") {
			t.Error("the form is not kept, or shows the secret")
		}
		if !strings.Contains(r.body, `id="secret-dropped"`) {
			t.Error("the page does not ask for the secret again")
		}
		if ps, _ := e.st.ListProviders(context.Background()); len(ps) != 0 {
			t.Fatal("testing saved the provider")
		}
		r = e.post("/admin/providers/new/test", providerForm("corp", "http://127.0.0.1:1"))
		if got := text(t, r.body, "discovery-status"); !strings.HasPrefix(got, "Discovery failed") {
			t.Errorf("dead upstream: %q", got)
		}
		r = e.post("/admin/providers/new/test", providerForm("corp", "http://login.example"))
		wantStatus(t, r, http.StatusBadRequest)

		r = e.post("/admin/providers", providerForm("corp", upstream))
		if r.status != http.StatusSeeOther || r.location != "/admin/providers/corp?notice=created" {
			t.Fatalf("create: %d %q\n%s", r.status, r.location, r.body)
		}
		p, err := e.st.GetProvider(context.Background(), "corp")
		if err != nil || p.LinkPolicy != store.LinkCreate || !p.Enabled || len(p.SealedClientSecret) == 0 {
			t.Fatalf("stored %+v %v", p, err)
		}
		page := e.get(r.location).body
		if strings.Contains(page, "upstream-secret") || text(t, page, "secret-state") != "Set (sealed; not shown)" {
			t.Error("the edit page shows the secret, or not that one is set")
		}

		// Edit with an empty secret field keeps the secret.
		f := providerForm("corp", upstream)
		f.Set("client_secret", "")
		f.Set("display_name", "Corp SSO")
		f.Del("enabled")
		r = e.post("/admin/providers/corp", f)
		wantStatus(t, r, http.StatusSeeOther)
		p2, _ := e.st.GetProvider(context.Background(), "corp")
		if p2.DisplayName != "Corp SSO" || p2.Enabled || string(p2.SealedClientSecret) != string(p.SealedClientSecret) {
			t.Errorf("edited %+v", p2)
		}
		r = e.post("/admin/providers/corp/test", f)
		wantStatus(t, r, http.StatusOK)
		if got := text(t, r.body, "discovery-status"); !strings.HasPrefix(got, "Discovery succeeded") {
			t.Errorf("stored provider discovery %q", got)
		}
		f.Set("issuer_url", "ftp://x")
		r = e.post("/admin/providers/corp", f)
		wantStatus(t, r, http.StatusBadRequest)
		if got := text(t, r.body, "error"); !strings.Contains(got, "Issuer URL") {
			t.Errorf("error %q", got)
		}
		wantStatus(t, e.post("/admin/providers/corp/enable", nil), http.StatusSeeOther)
		if p3, _ := e.st.GetProvider(context.Background(), "corp"); !p3.Enabled {
			t.Error("not enabled")
		}
		f = providerForm("corp", upstream)
		wantStatus(t, e.post("/admin/providers", f), http.StatusConflict)
		if !strings.Contains(e.get("/admin/providers").body, `href="/admin/providers/corp"`) {
			t.Error("the list lacks the provider")
		}
		r = e.post("/admin/providers/corp/delete", url.Values{"confirm": {"yes"}})
		if r.status != http.StatusSeeOther || r.location != "/admin/providers?notice=deleted" {
			t.Fatalf("delete: %d %q", r.status, r.location)
		}
		wantStatus(t, e.get("/admin/providers/corp"), http.StatusNotFound)
	})
}

func TestUserPageRolesAndIdentities(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		u := e.createUser("jo", "jo@example.com", store.RoleUser, false)
		wantAPI(t, e.api("POST", "/providers", providerBody("corp", "https://login.example")), http.StatusCreated)

		// Link, list, unlink.
		r := e.post("/admin/users/"+u.ID+"/link", url.Values{"provider": {"corp"}, "subject": {"up-42"}})
		wantStatus(t, r, http.StatusSeeOther)
		page := e.get("/admin/users/" + u.ID).body
		if !strings.Contains(page, `id="identities"`) || !strings.Contains(page, "up-42") || !strings.Contains(page, `id="unlink-0"`) {
			t.Fatalf("the profile does not list the link:\n%s", page)
		}
		r = e.post("/admin/users/"+u.ID+"/unlink", url.Values{"provider": {"corp"}, "subject": {"nope"}})
		wantStatus(t, r, http.StatusNotFound)
		r = e.post("/admin/users/"+u.ID+"/unlink", url.Values{"provider": {"corp"}, "subject": {"up-42"}})
		if r.status != http.StatusSeeOther || !strings.HasSuffix(r.location, "notice=unlinked") {
			t.Fatalf("unlink: %d %q", r.status, r.location)
		}
		if ids, _ := e.st.ListFederatedIdentities(context.Background(), u.ID); len(ids) != 0 {
			t.Error("still linked")
		}
		if types := e.auditTypes(u.ID); !strings.Contains(strings.Join(types, " "), "federation.unlinked") {
			t.Errorf("audit %v", types)
		}
		// Unlinking needs the CSRF token.
		wantStatus(t, e.postRaw(e.cookie, "/admin/users/"+u.ID+"/unlink", url.Values{"provider": {"corp"}}), http.StatusForbidden)

		// Role: promote through the form; the last administrator stays.
		f := userForm("jo", "jo@example.com", false, true)
		f.Set("role", store.RoleAdmin)
		wantStatus(t, e.post("/admin/users/"+u.ID, f), http.StatusSeeOther)
		if e.user(u.ID).Role != store.RoleAdmin {
			t.Fatal("not promoted")
		}
		if !strings.Contains(e.get("/admin/users/"+u.ID).body, `<option value="admin" selected>`) {
			t.Error("the role select does not show admin")
		}
		self := userForm("root", "root@example.com", true, true)
		self.Set("role", store.RoleUser)
		r = e.post("/admin/users/"+e.admin.ID, self)
		wantStatus(t, r, http.StatusBadRequest)
		if got := text(t, r.body, "error"); got != msgDemoteSelf {
			t.Errorf("error %q", got)
		}
		f.Set("role", store.RoleUser)
		wantStatus(t, e.post("/admin/users/"+u.ID, f), http.StatusSeeOther)

		// Delete, asking first; never oneself.
		r = e.post("/admin/users/"+u.ID+"/delete", nil)
		if !strings.Contains(r.body, `id="question"`) {
			t.Fatal("delete did not ask first")
		}
		r = e.post("/admin/users/"+u.ID+"/delete", url.Values{"confirm": {"yes"}})
		if r.status != http.StatusSeeOther || r.location != "/admin/users?notice=deleted" {
			t.Fatalf("delete: %d %q", r.status, r.location)
		}
		if got := text(t, e.get(r.location).body, "notice"); got != "User deleted." {
			t.Errorf("notice %q", got)
		}
		r = e.post("/admin/users/"+e.admin.ID+"/delete", url.Values{"confirm": {"yes"}})
		wantStatus(t, r, http.StatusBadRequest)
		if strings.Contains(e.get("/admin/users/"+e.admin.ID).body, `id="delete-user"`) {
			t.Error("the own page offers delete")
		}
	})
}
