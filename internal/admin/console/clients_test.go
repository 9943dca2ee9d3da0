package console

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/authz/authz/internal/admin"
)

func clientForm(name string, redirects ...string) url.Values {
	return url.Values{"name": {name}, "type": {admin.TypeConfidential}, "redirect_uris": {strings.Join(redirects, "\n")},
		"post_logout_redirect_uris": {""}, "grant_types": {"authorization_code", "refresh_token"}, "scopes": {"openid profile"}}
}

var secretPattern = regexp.MustCompile(`id="client-secret">([^<]+)<`)

func TestClientPages(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		r := e.Get("/admin/clients/new")
		wantStatus(t, r, http.StatusOK)
		if !checked(t, r.Body, "grant_authorization_code") || checked(t, r.Body, "grant_client_credentials") {
			t.Error("new form: want the code grant ticked and client credentials not")
		}

		r = e.Post("/admin/clients", clientForm("Shop", "https://shop.example/cb", "http://localhost:3000/cb"))
		wantStatus(t, r, http.StatusCreated)
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Error("the secret page may be cached")
		}
		id := text(t, r.Body, "client-id")
		m := secretPattern.FindStringSubmatch(r.Body)
		if m == nil || !e.SecretWorks(id, m[1]) {
			t.Fatalf("the page does not show the working secret:\n%s", r.Body)
		}
		c, err := e.Store.GetClient(context.Background(), id)
		if err != nil || c.Name != "Shop" || len(c.RedirectURIs) != 2 || strings.Join(c.Scopes, " ") != "openid profile" {
			t.Fatalf("stored %+v %v", c, err)
		}
		page := e.Get("/admin/clients/" + id).Body
		if strings.Contains(page, m[1]) {
			t.Error("the edit page shows the secret again")
		}
		if !strings.Contains(e.Get("/admin/clients").Body, ">Shop</a>") {
			t.Error("the list lacks the application")
		}

		// Bad input keeps the form as typed and changes nothing.
		bad := clientForm("Bad", "https://bad.example/cb#frag")
		r = e.Post("/admin/clients", bad)
		wantStatus(t, r, http.StatusBadRequest)
		if got := text(t, r.Body, "error"); !strings.HasPrefix(got, "Redirect URIs:") || !strings.Contains(got, "fragment") {
			t.Errorf("error %q", got)
		}
		if got := inputValue(t, r.Body, "name"); got != "Bad" {
			t.Errorf("name not kept: %q", got)
		}
		if all, _ := e.Store.ListClients(context.Background()); len(all) != 1 {
			t.Error("a bad application was stored")
		}

		// Edit.
		edit := clientForm("Shop 2", "https://shop.example/cb")
		edit.Set("skip_consent", "on")
		r = e.Post("/admin/clients/"+id, edit)
		if r.Status != http.StatusSeeOther || !strings.HasSuffix(r.Location, "notice=saved") {
			t.Fatalf("save: %d %q %s", r.Status, r.Location, r.Body)
		}
		if c, _ := e.Store.GetClient(context.Background(), id); c.Name != "Shop 2" || !c.SkipConsent || len(c.RedirectURIs) != 1 {
			t.Errorf("edited %+v", c)
		}
		r = e.Post("/admin/clients/"+id, clientForm("Shop 2", "http://shop.example/cb"))
		wantStatus(t, r, http.StatusBadRequest)
		if got := text(t, r.Body, "error"); !strings.Contains(got, "https") {
			t.Errorf("error %q", got)
		}

		// Rotate, disable, enable, delete.
		r = e.Post("/admin/clients/"+id+"/rotate-secret", nil)
		wantStatus(t, r, http.StatusOK)
		if n := secretPattern.FindStringSubmatch(r.Body); n == nil || n[1] == m[1] || !e.SecretWorks(id, n[1]) || e.SecretWorks(id, m[1]) {
			t.Error("rotation did not replace the secret")
		}
		r = e.Post("/admin/clients/"+id+"/disable", nil)
		wantStatus(t, r, http.StatusSeeOther)
		if c, _ := e.Store.GetClient(context.Background(), id); !c.Disabled {
			t.Error("not disabled")
		}
		if got := text(t, e.Get(r.Location).Body, "client-status"); got != "Disabled" {
			t.Errorf("status %q", got)
		}
		wantStatus(t, e.Post("/admin/clients/"+id+"/enable", nil), http.StatusSeeOther)
		r = e.Post("/admin/clients/"+id+"/delete", nil)
		wantStatus(t, r, http.StatusOK)
		if !strings.Contains(r.Body, `id="confirm"`) {
			t.Fatal("delete did not ask first")
		}
		r = e.Post("/admin/clients/"+id+"/delete", url.Values{"confirm": {"yes"}})
		if r.Status != http.StatusSeeOther || r.Location != "/admin/clients?notice=deleted" {
			t.Fatalf("delete: %d %q", r.Status, r.Location)
		}
		if _, err := e.Store.GetClient(context.Background(), id); err == nil {
			t.Error("still stored")
		}
		wantStatus(t, e.Get("/admin/clients/"+id), http.StatusNotFound)

		// Public applications get no secret.
		pub := clientForm("SPA", "https://spa.example/cb")
		pub.Set("type", admin.TypePublic)
		r = e.Post("/admin/clients", pub)
		wantStatus(t, r, http.StatusCreated)
		if strings.Contains(r.Body, `id="client-secret"`) || !strings.Contains(r.Body, `id="no-secret"`) {
			t.Error("a public application's page shows a secret")
		}
	})
}

// The settings of issue 16 on the edit form: saved, shown again, and
// refused with the form kept when wrong.
func TestClientBreadthFields(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		r := e.Post("/admin/clients", clientForm("Api", "https://api.example/cb"))
		wantStatus(t, r, http.StatusCreated)
		id := text(t, r.Body, "client-id")
		jwks := `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k1"}]}`
		f := clientForm("Api", "https://api.example/cb")
		f.Set("access_token_format", "jwt")
		f.Set("audiences", "https://rs.example\nreports")
		f.Set("require_par", "on")
		f.Set("token_auth_method", "private_key_jwt")
		f.Set("jwks", jwks)
		f.Set("backchannel_logout_uri", "https://api.example/bc")
		f.Set("backchannel_logout_session_required", "on")
		f.Set("id_token_alg", "RS256")
		r = e.Post("/admin/clients/"+id, f)
		if r.Status != http.StatusSeeOther {
			t.Fatalf("save: %d %s", r.Status, r.Body)
		}
		c, err := e.Store.GetClient(context.Background(), id)
		if err != nil || c.AccessTokenFormat != "jwt" || len(c.Audiences) != 2 || !c.RequirePAR || c.TokenAuthMethod != "private_key_jwt" || c.IDTokenAlg != "RS256" ||
			c.JWKS != jwks || c.BackchannelLogoutURI != "https://api.example/bc" || !c.BackchannelLogoutSessionRequired || len(c.SecretHash) != 0 {
			t.Fatalf("stored %+v %v", c, err)
		}
		page := e.Get("/admin/clients/" + id).Body
		if got := inputValue(t, page, "backchannel_logout_uri"); got != "https://api.example/bc" || !checked(t, page, "require_par") {
			t.Errorf("the edit page shows %q, require_par %v", got, checked(t, page, "require_par"))
		}
		if !strings.Contains(page, `<option value="RS256" selected>`) {
			t.Error("the edit page does not show the ID token algorithm chosen")
		}
		f.Set("id_token_alg", "HS256")
		r = e.Post("/admin/clients/"+id, f)
		wantStatus(t, r, http.StatusBadRequest)
		f.Set("id_token_alg", "default")
		f.Set("jwks", `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`)
		r = e.Post("/admin/clients/"+id, f)
		wantStatus(t, r, http.StatusBadRequest)
		if got := text(t, r.Body, "error"); !strings.Contains(got, "JWKS") {
			t.Errorf("error %q", got)
		}
		if c2, _ := e.Store.GetClient(context.Background(), id); c2.JWKS != jwks {
			t.Error("a refused form changed the keys")
		}
	})
}
