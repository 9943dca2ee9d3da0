package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/testsupport/admintest"
)

func clientBody(name string, redirects ...string) map[string]any {
	return map[string]any{"name": name, "redirect_uris": redirects, "post_logout_redirect_uris": []string{"https://app.example/bye"},
		"grant_types": []string{"authorization_code", "refresh_token"}, "scopes": []string{"openid", "profile"}}
}

func TestAPIClients(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		body := clientBody("Shop", "https://shop.example/cb", "http://127.0.0.1:8000/cb")
		body["client_id"], body["skip_consent"] = "shop", true
		r := e.api("POST", "/clients", body)
		wantAPI(t, r, http.StatusCreated)
		var shop apiClient
		r.decode(t, &shop)
		if shop.ClientID != "shop" || shop.Type != admin.TypeConfidential || len(shop.ClientSecret) < 40 || !shop.SkipConsent || shop.Disabled {
			t.Fatalf("created %+v", shop)
		}
		if !e.SecretWorks("shop", shop.ClientSecret) {
			t.Error("the secret shown does not match the stored hash")
		}
		if r.header.Get("Location") != Prefix+"/clients/shop" {
			t.Errorf("Location %q", r.header.Get("Location"))
		}

		pub := clientBody("SPA", "https://spa.example/cb")
		pub["type"] = admin.TypePublic
		r = e.api("POST", "/clients", pub)
		wantAPI(t, r, http.StatusCreated)
		var spa apiClient
		r.decode(t, &spa)
		if spa.Type != admin.TypePublic || spa.ClientSecret != "" || len(spa.ClientID) != 32 {
			t.Errorf("public client %+v", spa)
		}
		if strings.Contains(string(r.body), `"client_secret"`) {
			t.Errorf("a public client's answer has a secret: %s", r.body)
		}

		// get and list never show the secret
		r = e.api("GET", "/clients/shop", nil)
		wantAPI(t, r, http.StatusOK)
		if strings.Contains(string(r.body), `"client_secret":`) {
			t.Errorf("get shows a secret: %s", r.body)
		}
		var l keysetPage[apiClient]
		e.api("GET", "/clients?q=sho", nil).decode(t, &l)
		if len(l.Items) != 1 || l.Items[0].ClientID != "shop" {
			t.Errorf("search %+v", l)
		}
		e.api("GET", "/clients?limit=1", nil).decode(t, &l)
		if len(l.Items) != 1 || l.Next == nil {
			t.Fatalf("page 1 %+v", l)
		}
		e.api("GET", "/clients?limit=1&cursor="+url.QueryEscape(*l.Next), nil).decode(t, &l)
		if len(l.Items) != 1 || l.Items[0].Name != "SPA" || l.Next != nil {
			t.Errorf("page 2 %+v", l)
		}
		wantProblem(t, e.api("GET", "/clients?q=x&cursor=e30", nil), http.StatusBadRequest, "cursor")

		// PATCH: partial, then disable.
		r = e.api("PATCH", "/clients/shop", map[string]any{"name": "Shop 2", "scopes": []string{"openid"}})
		wantAPI(t, r, http.StatusOK)
		r.decode(t, &shop)
		if shop.Name != "Shop 2" || len(shop.Scopes) != 1 || len(shop.RedirectURIs) != 2 || !shop.SkipConsent {
			t.Errorf("patched %+v", shop)
		}
		wantAPI(t, e.api("PATCH", "/clients/shop", map[string]any{"disabled": true}), http.StatusOK)
		e.api("GET", "/clients?disabled=true", nil).decode(t, &l)
		if len(l.Items) != 1 || !l.Items[0].Disabled {
			t.Errorf("disabled filter %+v", l)
		}
		wantProblem(t, e.api("GET", "/clients?disabled=maybe", nil), http.StatusBadRequest, "disabled")

		// rotate-secret
		old, _ := e.Store.GetClient(context.Background(), "shop")
		r = e.api("POST", "/clients/shop/rotate-secret", nil)
		wantAPI(t, r, http.StatusOK)
		var rotated apiClient
		r.decode(t, &rotated)
		if rotated.ClientSecret == "" || !e.SecretWorks("shop", rotated.ClientSecret) || string(old.SecretHash) == "" {
			t.Errorf("rotated %+v", rotated)
		}
		wantProblem(t, e.api("POST", "/clients/"+spa.ClientID+"/rotate-secret", nil), http.StatusConflict, "type")

		// delete
		wantAPI(t, e.api("DELETE", "/clients/shop", nil), http.StatusNoContent)
		wantProblem(t, e.api("GET", "/clients/shop", nil), http.StatusNotFound, "")
		wantProblem(t, e.api("DELETE", "/clients/shop", nil), http.StatusNotFound, "")
		wantProblem(t, e.api("POST", "/clients/shop/rotate-secret", nil), http.StatusNotFound, "")

		evs, _, _ := e.Store.ListAudit(context.Background(), store.AuditFilter{Limit: 100})
		var types []string
		for _, ev := range evs {
			if ev.ClientID == "shop" {
				types = append(types, ev.Type)
			}
		}
		for _, want := range []string{"client.created", "client.updated", "client.disabled", "client.secret_rotated", "client.deleted"} {
			if !strings.Contains(strings.Join(types, " "), want) {
				t.Errorf("audit %v lacks %s", types, want)
			}
		}
	})
}

func TestAPIClientBadInput(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		wantAPI(t, e.api("POST", "/clients", map[string]any{"client_id": "taken", "name": "Taken", "redirect_uris": []string{"https://t.example/cb"}}), http.StatusCreated)
		with := func(k string, v any) map[string]any {
			b := clientBody("Bad", "https://bad.example/cb")
			b[k] = v
			return b
		}
		before := e.state()
		for _, c := range []struct {
			name   string
			q      request
			status int
			field  string
		}{
			{"fragment", request{method: "POST", path: "/clients", body: with("redirect_uris", []string{"https://a.example/cb#x"})}, 400, "redirect_uris"},
			{"http", request{method: "POST", path: "/clients", body: with("redirect_uris", []string{"http://a.example/cb"})}, 400, "redirect_uris"},
			{"wildcard", request{method: "POST", path: "/clients", body: with("redirect_uris", []string{"https://*.example/cb"})}, 400, "redirect_uris"},
			{"relative", request{method: "POST", path: "/clients", body: with("redirect_uris", []string{"/cb"})}, 400, "redirect_uris"},
			{"post-logout http", request{method: "POST", path: "/clients", body: with("post_logout_redirect_uris", []string{"http://a.example/"})}, 400, "post_logout_redirect_uris"},
			{"duplicate redirect", request{method: "POST", path: "/clients", body: with("redirect_uris", []string{"https://a.example/cb", "https://a.example/cb"})}, 400, "redirect_uris"},
			{"duplicate scope", request{method: "POST", path: "/clients", body: with("scopes", []string{"openid", "openid"})}, 400, "scopes"},
			{"unknown grant", request{method: "POST", path: "/clients", body: with("grant_types", []string{"password"})}, 400, "grant_types"},
			{"no grant", request{method: "POST", path: "/clients", body: with("grant_types", []string{})}, 400, "grant_types"},
			{"public client_credentials", request{method: "POST", path: "/clients", body: map[string]any{"name": "P", "type": "public", "grant_types": []string{"client_credentials"}}}, 400, "grant_types"},
			{"code without redirect", request{method: "POST", path: "/clients", body: with("redirect_uris", []string{})}, 400, "redirect_uris"},
			{"bad type", request{method: "POST", path: "/clients", body: with("type", "secret")}, 400, "type"},
			{"bad id", request{method: "POST", path: "/clients", body: with("client_id", "a b")}, 400, "client_id"},
			{"taken id", request{method: "POST", path: "/clients", body: with("client_id", "taken")}, 409, "client_id"},
			{"no name", request{method: "POST", path: "/clients", body: with("name", " ")}, 400, "name"},
			{"string for a list", request{method: "POST", path: "/clients", raw: `{"name":"x","redirect_uris":"https://a.example/cb"}`}, 400, "redirect_uris"},
			{"null in a list", request{method: "PATCH", path: "/clients/taken", raw: `{"scopes":["openid",null]}`}, 400, "scopes"},
			{"number in a list", request{method: "PATCH", path: "/clients/taken", raw: `{"scopes":["openid",1]}`}, 400, "scopes"},
			{"unknown field", request{method: "PATCH", path: "/clients/taken", raw: `{"secret":"x"}`}, 400, "secret"},
			{"type change", request{method: "PATCH", path: "/clients/taken", body: map[string]any{"type": "public"}}, 400, "type"},
			{"id change", request{method: "PATCH", path: "/clients/taken", body: map[string]any{"client_id": "other"}}, 400, "client_id"},
			{"patch bad uri", request{method: "PATCH", path: "/clients/taken", body: map[string]any{"redirect_uris": []string{"https://a.example/*"}}}, 400, "redirect_uris"},
			{"oversized", request{method: "PATCH", path: "/clients/taken", raw: `{"name":"` + strings.Repeat("n", 65<<10) + `"}`}, 413, ""},
			{"unknown client", request{method: "PATCH", path: "/clients/nosuch", body: map[string]any{"name": "x"}}, 404, ""},
			{"unknown query", request{method: "GET", path: "/clients?sort=name"}, 400, "sort"},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantProblem(t, e.send(c.q), c.status, c.field)
			})
		}
		e.unchanged(before, "bad client requests")
	})
}

func providerBody(alias, issuerURL string) map[string]any {
	return map[string]any{"alias": alias, "display_name": "Corp " + alias, "issuer_url": issuerURL, "client_id": "authz-at-" + alias}
}

func TestAPIProviders(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		upstream := admintest.DiscoveryServer(t)
		body := providerBody("corp", upstream)
		body["client_secret"], body["link_policy"], body["require_otp"] = "s3cret-value", store.LinkVerifiedMail, true
		r := e.api("POST", "/providers", body)
		wantAPI(t, r, http.StatusCreated)
		if strings.Contains(string(r.body), "s3cret-value") {
			t.Fatal("the answer shows the client secret")
		}
		var p apiProvider
		r.decode(t, &p)
		if want := admintest.Issuer + "/login/upstream/corp/callback"; p.RedirectURI != want {
			t.Errorf("redirect_uri %q, want %q (what to register at the provider)", p.RedirectURI, want)
		}
		if p.Alias != "corp" || !p.ClientSecretSet || !p.Enabled || !p.RequireOTP || p.LinkPolicy != store.LinkVerifiedMail ||
			p.ClaimUsername != "preferred_username" || strings.Join(p.Scopes, " ") != "openid profile email" {
			t.Fatalf("created %+v", p)
		}
		stored, _ := e.Store.GetProvider(context.Background(), "corp")
		if strings.Contains(string(stored.SealedClientSecret), "s3cret") {
			t.Fatal("the secret is stored in the clear")
		}
		plain, err := e.Sealer.Open(stored.SealedClientSecret, []byte("provider:corp"))
		if err != nil || string(plain) != "s3cret-value" {
			t.Fatalf("sealed secret opens to %q, %v", plain, err)
		}

		wantAPI(t, e.api("POST", "/providers", providerBody("other", "https://login.example")), http.StatusCreated)
		var l keysetPage[apiProvider]
		e.api("GET", "/providers?limit=1", nil).decode(t, &l)
		if l.Next == nil || len(l.Items) != 1 || l.Items[0].Alias != "corp" {
			t.Errorf("list %+v", l)
		}

		if !p.SyncProfile {
			t.Error("a provider created without sync_profile does not sync profiles (the default is on)")
		}

		// PATCH: disable, remove the secret, change the claim mapping, stop
		// profile sync.
		r = e.api("PATCH", "/providers/corp", map[string]any{"enabled": false, "client_secret": "", "claim_email": "mail", "sync_profile": false})
		wantAPI(t, r, http.StatusOK)
		r.decode(t, &p)
		if p.Enabled || p.ClientSecretSet || p.ClaimEmail != "mail" || p.DisplayName != "Corp corp" || p.SyncProfile {
			t.Errorf("patched %+v", p)
		}
		e.api("GET", "/providers?enabled=true", nil).decode(t, &l)
		if len(l.Items) != 1 || l.Items[0].Alias != "other" || l.Next != nil {
			t.Errorf("enabled filter %+v", l)
		}

		// Discovery: a working upstream, and one that is down.
		r = e.api("POST", "/providers/corp/test-discovery", nil)
		wantAPI(t, r, http.StatusOK)
		var d admin.DiscoveryResult
		r.decode(t, &d)
		if !d.OK || d.TokenEndpoint != upstream+"/token" || d.JWKSURI != upstream+"/jwks" {
			t.Errorf("discovery %+v", d)
		}
		wantAPI(t, e.api("POST", "/providers", providerBody("down", "http://127.0.0.1:1")), http.StatusCreated)
		e.api("POST", "/providers/down/test-discovery", nil).decode(t, &d)
		if d.OK || d.Error == "" {
			t.Errorf("discovery of a dead upstream %+v", d)
		}

		wantAPI(t, e.api("DELETE", "/providers/corp", nil), http.StatusNoContent)
		wantProblem(t, e.api("GET", "/providers/corp", nil), http.StatusNotFound, "")
		wantProblem(t, e.api("POST", "/providers/corp/test-discovery", nil), http.StatusNotFound, "")
		wantProblem(t, e.api("DELETE", "/providers/corp", nil), http.StatusNotFound, "")
	})
}

func TestAPIProviderBadInput(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		wantAPI(t, e.api("POST", "/providers", providerBody("corp", "https://login.example")), http.StatusCreated)
		with := func(k string, v any) map[string]any {
			b := providerBody("new2", "https://login.example")
			b[k] = v
			return b
		}
		before := e.state()
		for _, c := range []struct {
			name   string
			q      request
			status int
			field  string
		}{
			{"bad alias", request{method: "POST", path: "/providers", body: with("alias", "Corp Two")}, 400, "alias"},
			{"reserved alias", request{method: "POST", path: "/providers", body: with("alias", "new")}, 400, "alias"},
			{"taken alias", request{method: "POST", path: "/providers", body: with("alias", "corp")}, 409, "alias"},
			{"no issuer", request{method: "POST", path: "/providers", body: with("issuer_url", "")}, 400, "issuer_url"},
			{"ftp issuer", request{method: "POST", path: "/providers", body: with("issuer_url", "ftp://login.example")}, 400, "issuer_url"},
			{"http issuer", request{method: "POST", path: "/providers", body: with("issuer_url", "http://login.example")}, 400, "issuer_url"},
			{"issuer with query", request{method: "POST", path: "/providers", body: with("issuer_url", "https://login.example/?a=b")}, 400, "issuer_url"},
			{"relative issuer", request{method: "POST", path: "/providers", body: with("issuer_url", "login.example")}, 400, "issuer_url"},
			{"no client id", request{method: "POST", path: "/providers", body: with("client_id", "")}, 400, "client_id"},
			{"no display name", request{method: "POST", path: "/providers", body: with("display_name", "")}, 400, "display_name"},
			{"bad policy", request{method: "POST", path: "/providers", body: with("link_policy", "anyone")}, 400, "link_policy"},
			{"no openid", request{method: "POST", path: "/providers", body: with("scopes", []string{"email"})}, 400, "scopes"},
			{"bad claim", request{method: "POST", path: "/providers", body: with("claim_email", "e mail")}, 400, "claim_email"},
			{"no username claim", request{method: "PATCH", path: "/providers/corp", body: map[string]any{"claim_username": ""}}, 400, "claim_username"},
			{"alias change", request{method: "PATCH", path: "/providers/corp", body: map[string]any{"alias": "corp2"}}, 400, "alias"},
			{"secret control", request{method: "PATCH", path: "/providers/corp", body: map[string]any{"client_secret": "a\x00b"}}, 400, "client_secret"},
			{"wrong type", request{method: "PATCH", path: "/providers/corp", raw: `{"enabled":"no"}`}, 400, "enabled"},
			{"unknown field", request{method: "PATCH", path: "/providers/corp", raw: `{"client_secret_set":false}`}, 400, "client_secret_set"},
			{"unknown provider", request{method: "PATCH", path: "/providers/nosuch", body: map[string]any{"enabled": false}}, 404, ""},
			{"bad enabled filter", request{method: "GET", path: "/providers?enabled=1"}, 400, "enabled"},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantProblem(t, e.send(c.q), c.status, c.field)
			})
		}
		e.unchanged(before, "bad provider requests")
	})
}

// TestAPIClientIntrospectAny: an administrator marks a confidential client
// as a resource server that may introspect any token; a public client, which
// cannot authenticate to introspection, is refused the flag.
func TestAPIClientIntrospectAny(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		rs := clientBody("API gateway", "https://gw.example/cb")
		rs["client_id"], rs["introspect_any"] = "gateway", true
		r := e.api("POST", "/clients", rs)
		wantAPI(t, r, http.StatusCreated)
		var got apiClient
		r.decode(t, &got)
		if !got.IntrospectAny {
			t.Errorf("created %+v", got)
		}
		if c, err := e.Store.GetClient(context.Background(), "gateway"); err != nil || !c.IntrospectAny {
			t.Errorf("stored %+v %v", c, err)
		}
		wantAPI(t, e.api("PATCH", "/clients/gateway", map[string]any{"introspect_any": false}), http.StatusOK)
		if c, _ := e.Store.GetClient(context.Background(), "gateway"); c.IntrospectAny {
			t.Error("the flag survived being cleared")
		}
		pub := clientBody("SPA", "https://spa.example/cb")
		pub["type"], pub["introspect_any"] = admin.TypePublic, true
		wantProblem(t, e.api("POST", "/clients", pub), http.StatusBadRequest, "introspect_any")
	})
}

// The settings of issue 16 round-trip through the API and are checked.
func TestAPIClientBreadthSettings(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		jwks := `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k1","use":"sig","alg":"ES256"}]}`
		body := `{"client_id":"svc","name":"Service","grant_types":["client_credentials"],"scopes":["reports"],
			"access_token_format":"jwt","audiences":["https://api.example"],"token_endpoint_auth_method":"private_key_jwt",
			"jwks":` + jwks + `,"require_pushed_authorization_requests":true,
			"backchannel_logout_uri":"https://svc.example/bc","backchannel_logout_session_required":true}`
		r := e.api("POST", "/clients", json.RawMessage(body))
		wantAPI(t, r, http.StatusCreated)
		var c apiClient
		r.decode(t, &c)
		if c.AccessTokenFormat != "jwt" || c.TokenEndpointAuthMethod != "private_key_jwt" || !c.RequirePAR ||
			c.BackchannelLogoutURI != "https://svc.example/bc" || !c.BackchannelLogoutSessionRequired || len(c.Audiences) != 1 || c.JWKS == nil {
			t.Errorf("created %+v", c)
		}
		if strings.Contains(string(r.body), `"client_secret":`) {
			t.Errorf("a private_key_jwt client got a secret: %s", r.body)
		}
		wantAPI(t, e.api("POST", "/clients/svc/rotate-secret", nil), http.StatusConflict)
		for name, patch := range map[string]string{
			"format":             `{"access_token_format":"paseto"}`,
			"method":             `{"token_endpoint_auth_method":"client_secret_jwt"}`,
			"none, confidential": `{"token_endpoint_auth_method":"none","jwks":""}`,
			"id token alg":       `{"id_token_signed_response_alg":"HS256"}`,
			"private key":        `{"jwks":{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}}`,
			"not a key set":      `{"jwks":"[1,2]"}`,
			"no keys":            `{"jwks":""}`,
			"http jwks_uri":      `{"jwks":"","jwks_uri":"http://keys.example/jwks"}`,
			"logout fragment":    `{"backchannel_logout_uri":"https://svc.example/bc#x"}`,
			"audience space":     `{"audiences":["a b"]}`,
			"jwks number":        `{"jwks":5}`,
		} {
			r := e.api("PATCH", "/clients/svc", json.RawMessage(patch))
			if r.status != http.StatusBadRequest && r.status != http.StatusUnprocessableEntity {
				t.Errorf("%s: %d %s", name, r.status, r.body)
			}
		}
		// Back to a secret: rotation gives it one.
		wantAPI(t, e.api("PATCH", "/clients/svc", json.RawMessage(`{"token_endpoint_auth_method":"client_secret_post","jwks":""}`)), http.StatusOK)
		wantAPI(t, e.api("POST", "/clients/svc/rotate-secret", nil), http.StatusOK)
	})
}
