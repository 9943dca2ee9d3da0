package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"
)

// A script administers authz over the admin API with a token that authz
// itself issued through client_credentials, against the whole server (its
// middleware included).
func TestAdminAPIWithClientCredentials(t *testing.T) {
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
		if status, body := call(admin, "GET", "/users?q=script", ""); status != http.StatusOK || !strings.Contains(body, `"total":1`) {
			t.Fatalf("list: %d %s", status, body)
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
