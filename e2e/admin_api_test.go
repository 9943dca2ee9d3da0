package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/authz/authz/internal/server"
	"github.com/authz/authz/internal/store"
)

// A script administers authz over the admin API with a token that authz
// itself issued through client_credentials, against the whole server (its
// middleware included).
func TestAdminAPIWithClientCredentials(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		robot, secret := in.createClient(clientSpec{Grants: []string{"client_credentials"}, Scopes: []string{"authz.admin"}})
		reader, readerSecret := in.createClient(clientSpec{Grants: []string{"client_credentials"}, Scopes: []string{"api.read"}})
		token := func(id, secret, scope string) string {
			cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: in.URL + "/oauth2/token", Scopes: []string{scope}}
			tok, err := cc.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return tok.AccessToken
		}
		call := func(tok, method, path, body string) (int, string) {
			req, _ := http.NewRequest(method, in.URL+"/admin/api/v1"+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			if body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var v map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&v)
			b, _ := json.Marshal(v)
			return resp.StatusCode, string(b)
		}

		admin := token(robot, secret, "authz.admin")
		if status, body := call(admin, "POST", "/users", `{"username":"scripted","email":"scripted@example.test","otp_required":true}`); status != http.StatusCreated || !strings.Contains(body, `"otp_state":"pending"`) {
			t.Fatalf("create: %d %s", status, body)
		}
		if status, body := call(admin, "GET", "/users?q=script", ""); status != http.StatusOK || !strings.Contains(body, `"username":"scripted"`) || !strings.Contains(body, `"next":null`) {
			t.Fatalf("list: %d %s", status, body)
		}
		// IDs no store can hold (NUL, invalid UTF-8) name nothing: 404, not 500.
		for _, path := range []string{"/users/%00", "/users/%FF", "/clients/%00", "/providers/%FF"} {
			if status, body := call(admin, "GET", path, ""); status != http.StatusNotFound {
				t.Errorf("GET %s: %d %s, want 404", path, status, body)
			}
		}
		if status, body := call(admin, "POST", "/clients", `{"name":"Bad","redirect_uris":["http://evil.example/cb"]}`); status != http.StatusBadRequest || !strings.Contains(body, `"field":"redirect_uris"`) {
			t.Fatalf("bad client: %d %s", status, body)
		}
		if status, body := call(token(reader, readerSecret, "api.read"), "GET", "/users", ""); status != http.StatusForbidden {
			t.Fatalf("token without the admin scope: %d %s", status, body)
		}
		if status, _ := call("not-a-token", "GET", "/users", ""); status != http.StatusUnauthorized {
			t.Fatalf("bad token: %d", status)
		}

		// A token a user granted carries the user's consent, not the client's
		// authority: refused even with the admin scope, even for an admin.
		both, bothSecret := in.createClient(clientSpec{SkipConsent: true, Grants: []string{"authorization_code", "client_credentials"},
			Scopes: []string{"openid", "authz.admin"}})
		u := in.createUser("delegate", false)
		u.Role = "admin"
		if err := in.App.Store.UpdateUser(context.Background(), u.User); err != nil {
			t.Fatal(err)
		}
		_, userTok, _ := signIn(t, in, newRP(t, in, both, bothSecret, "openid", "authz.admin"), u)
		if status, body := call(userTok.AccessToken, "GET", "/users", ""); status != http.StatusForbidden {
			t.Fatalf("a user's token: %d %s", status, body)
		}
		if status, _ := call(token(both, bothSecret, "authz.admin"), "GET", "/users", ""); status != http.StatusOK {
			t.Fatalf("the same client's own token: %d", status)
		}
	})
}

// The token endpoint reads clients through a cache: a change made through
// the server (the admin API here) applies to the very next request, one
// made by another process (the CLI, another replica) within a second.
func TestClientChangesReachTheTokenEndpoint(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		robot, robotSecret := in.createClient(clientSpec{Grants: []string{"client_credentials"}, Scopes: []string{"authz.admin"}})
		app, appSecret := in.createClient(clientSpec{Grants: []string{"client_credentials"}, Scopes: []string{"api.read"}})
		status := func(id, secret string) int {
			t.Helper()
			return in.postAsClient("/oauth2/token", id, secret, url.Values{"grant_type": {"client_credentials"}})
		}
		cc := clientcredentials.Config{ClientID: robot, ClientSecret: robotSecret, TokenURL: in.URL + "/oauth2/token", Scopes: []string{"authz.admin"}}
		admin, err := cc.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		patch := func(body string) {
			t.Helper()
			req, _ := http.NewRequest(http.MethodPatch, in.URL+"/admin/api/v1/clients/"+app, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+admin.AccessToken)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("PATCH %s: %d", body, resp.StatusCode)
			}
		}

		if got := status(app, appSecret); got != http.StatusOK {
			t.Fatalf("before: %d", got)
		}
		patch(`{"disabled":true}`)
		if got := status(app, appSecret); got != http.StatusUnauthorized {
			t.Fatalf("right after the admin API disabled the client: %d, want 401", got)
		}
		patch(`{"disabled":false}`)
		if got := status(app, appSecret); got != http.StatusOK {
			t.Fatalf("right after it was enabled again: %d", got)
		}
		req, _ := http.NewRequest(http.MethodPost, in.URL+"/admin/api/v1/clients/"+app+"/rotate-secret", nil)
		req.Header.Set("Authorization", "Bearer "+admin.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var rotated struct {
			Secret string `json:"client_secret"`
		}
		err = json.NewDecoder(resp.Body).Decode(&rotated)
		resp.Body.Close()
		if err != nil || rotated.Secret == "" {
			t.Fatalf("rotate-secret: %d %v", resp.StatusCode, err)
		}
		if got := status(app, appSecret); got != http.StatusUnauthorized {
			t.Fatalf("the old secret right after rotation: %d, want 401", got)
		}
		appSecret = rotated.Secret
		if got := status(app, appSecret); got != http.StatusOK {
			t.Fatalf("the new secret right after rotation: %d", got)
		}

		// Behind the server's back, as another process would write.
		raw, err := server.OpenStore(context.Background(), in.App.Config)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		c, err := raw.GetClient(context.Background(), app)
		if err != nil {
			t.Fatal(err)
		}
		c.Disabled = true
		if err := raw.UpdateClient(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for status(app, appSecret) != http.StatusUnauthorized {
			if time.Now().After(deadline) {
				t.Fatal("a client disabled by another process still gets tokens after 5 s")
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

// TestNewEmailVoidsSentLinks: a set-up link e-mailed to a user's old address
// stops working when an administrator changes the address; a change of
// anything else leaves it alone.
func TestNewEmailVoidsSentLinks(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		robot, robotSecret := in.createClient(clientSpec{Grants: []string{"client_credentials"}, Scopes: []string{"authz.admin"}})
		cc := clientcredentials.Config{ClientID: robot, ClientSecret: robotSecret, TokenURL: in.URL + "/oauth2/token", Scopes: []string{"authz.admin"}}
		admin, err := cc.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		u := in.newSetupUser(t, "moved", false)
		link := in.issueLink(t, u.ID, store.ActionSetup, time.Hour, time.Now().UTC())
		patch := func(body string) {
			t.Helper()
			req, _ := http.NewRequest(http.MethodPatch, in.URL+"/admin/api/v1/users/"+u.ID, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+admin.AccessToken)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("PATCH %s: %d", body, resp.StatusCode)
			}
		}
		patch(`{"first_name":"Mo"}`)
		if p := newBrowser(t).get(link); p.Status != http.StatusOK {
			t.Fatalf("a link after a change of name: %d, want 200", p.Status)
		}
		patch(`{"email":"moved@elsewhere.test"}`)
		if p := newBrowser(t).get(link); p.Status != http.StatusNotFound {
			t.Errorf("a link sent to the old address: %d, want 404", p.Status)
		}
	})
}
