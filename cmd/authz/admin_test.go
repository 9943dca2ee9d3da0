package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authz/authz/internal/mail"
	"github.com/authz/authz/internal/testsupport/pgtest"
)

// cli runs `authz admin …` in one data directory (and database).
type cli struct {
	t   *testing.T
	dir string
	env []string
}

func newCLI(t *testing.T, backend string) *cli {
	c := &cli{t: t, dir: t.TempDir()}
	if backend == "postgres" {
		c.env = []string{"AUTHZ_DATABASE_URL=" + pgtest.URL(t)}
	}
	return c
}

// ok runs args and wants exit 0; it decodes the JSON output into v when v is
// not nil.
func (c *cli) ok(v any, args ...string) string {
	c.t.Helper()
	out, stderr, code := runAuthz(c.t, c.dir, c.env, append([]string{"admin"}, args...)...)
	if code != 0 {
		c.t.Fatalf("authz admin %v: exit %d\n%s", args, code, stderr)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(out), v); err != nil {
			c.t.Fatalf("authz admin %v: output %q: %v", args, out, err)
		}
	}
	return out
}

// fails runs args and wants exit code and want in the error line.
func (c *cli) fails(code int, want string, args ...string) {
	c.t.Helper()
	_, stderr, got := runAuthz(c.t, c.dir, c.env, append([]string{"admin"}, args...)...)
	if got != code || !strings.Contains(stderr, want) {
		c.t.Errorf("authz admin %v: exit %d, stderr %q; want %d and %q", args, got, stderr, code, want)
	}
}

type cliUser struct {
	ID          string `json:"id"`
	Username    string `json:"username"`
	Email       string `json:"email"`
	FirstName   string `json:"first_name"`
	Role        string `json:"role"`
	Enabled     bool   `json:"enabled"`
	OTPRequired bool   `json:"otp_required"`
	OTPState    string `json:"otp_state"`
	SetupEmail  string `json:"setup_email"`
}

type cliList[T any] struct {
	Items []T     `json:"items"`
	Next  *string `json:"next"`
	Limit int     `json:"limit"`
}

func TestAdminUserCommands(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			c := newCLI(t, backend)
			var alice cliUser
			// Without an SMTP server (and outside dev mode) no e-mail goes out,
			// and the CLI says so rather than logging the link.
			c.ok(&alice, "user", "create", "--username", "alice", "--email", "alice@example.com", "--first-name", "Alice", "--otp-required", "--output", "json")
			if alice.ID == "" || alice.Role != "user" || !alice.Enabled || !alice.OTPRequired || alice.OTPState != "pending" || alice.SetupEmail != "failed" {
				t.Fatalf("created %+v", alice)
			}
			var l cliList[cliUser]
			c.ok(&l, "user", "list", "--output", "json")
			if len(l.Items) != 2 || l.Next != nil || l.Limit != 20 || l.Items[0].Username != "admin" || l.Items[1].Username != "alice" {
				t.Fatalf("list %+v", l)
			}
			// Page by page: the first page's next cursor leads to the second.
			c.ok(&l, "user", "list", "--limit", "1", "--output", "json")
			if len(l.Items) != 1 || l.Items[0].Username != "admin" || l.Next == nil {
				t.Fatalf("first page %+v", l)
			}
			if out := c.ok(nil, "user", "list", "--limit", "1"); !strings.Contains(out, "the next page: --cursor "+*l.Next) {
				t.Errorf("text list does not show the next cursor: %q", out)
			}
			c.ok(&l, "user", "list", "--limit", "1", "--cursor", *l.Next, "--output", "json")
			if len(l.Items) != 1 || l.Items[0].Username != "alice" || l.Next != nil {
				t.Errorf("second page %+v", l)
			}
			c.ok(&l, "user", "list", "--limit", "1000", "--output", "json")
			if l.Limit != 100 || len(l.Items) != 2 {
				t.Errorf("a limit above the maximum is clamped: %+v", l)
			}
			c.fails(2, "cursor", "user", "list", "--cursor", "garbage")
			var events cliList[struct {
				Type   string `json:"type"`
				UserID string `json:"user_id"`
			}]
			c.ok(&events, "audit", "list", "--user", "alice", "--type", "user.created", "--output", "json")
			if len(events.Items) != 1 || events.Items[0].UserID != alice.ID || events.Next != nil {
				t.Errorf("audit list of alice %+v", events)
			}
			if out := c.ok(nil, "user", "list", "--q", "ali"); !strings.Contains(out, "alice@example.com") || strings.Contains(out, "admin ") {
				t.Errorf("text list %q", out)
			}

			var got cliUser
			c.ok(&got, "user", "get", "--id", "alice", "--output", "json")
			if got.ID != alice.ID || got.FirstName != "Alice" {
				t.Errorf("get by username %+v", got)
			}
			c.ok(&got, "user", "update", "--id", alice.ID, "--role", "admin", "--first-name", "Al", "--output", "json")
			if got.Role != "admin" || got.FirstName != "Al" || got.Email != "alice@example.com" || !got.OTPRequired {
				t.Errorf("update %+v", got)
			}

			// The same rules as the API, with the field named.
			c.fails(2, "email", "user", "update", "--id", "alice", "--email", "not-an-address")
			c.fails(2, "username", "user", "create", "--username", "ALICE", "--email", "new@example.com")
			c.fails(2, "role", "user", "update", "--id", "alice", "--role", "root")
			c.fails(2, "username", "user", "create", "--email", "x@example.com")
			c.fails(1, "no such user", "user", "get", "--id", "nobody")
			c.fails(2, "--id is required", "user", "delete")

			// The last administrator stays.
			c.ok(nil, "user", "update", "--id", "admin", "--role", "user")
			c.fails(2, "role: authz needs at least one enabled administrator", "user", "update", "--id", "alice", "--role", "user")
			c.fails(2, "enabled: authz needs at least one enabled administrator", "user", "update", "--id", "alice", "--enabled=false")
			c.fails(2, "at least one enabled administrator", "user", "delete", "--id", "alice")

			var reset struct {
				Removed bool `json:"authenticator_removed"`
			}
			c.ok(&reset, "user", "reset-otp", "--id", "alice", "--output", "json")
			if reset.Removed {
				t.Error("reset removed an authenticator that did not exist")
			}
			var voided struct {
				Username string `json:"username"`
				Voided   int    `json:"voided"`
			}
			c.ok(&voided, "user", "void-recovery-codes", "--id", "alice", "--output", "json")
			if voided.Username != "alice" || voided.Voided != 0 {
				t.Errorf("void-recovery-codes %+v", voided)
			}
			if out := c.ok(nil, "user", "get", "--id", "alice", "--output", "json"); !strings.Contains(out, `"recovery_codes_left": 0`) && !strings.Contains(out, `"recovery_codes_left":0`) {
				t.Errorf("user get must show the recovery codes left: %s", out)
			}
			c.fails(1, "no such user", "user", "void-recovery-codes", "--id", "nobody")
			c.ok(nil, "user", "delete", "--id", "admin")
			c.fails(1, "no such user", "user", "delete", "--id", "admin")
		})
	}
}

type cliClient struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret"`
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	RedirectURIs []string `json:"redirect_uris"`
	Disabled     bool     `json:"disabled"`
}

func TestAdminClientCommands(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "sqlite")
	var shop cliClient
	c.ok(&shop, "client", "create", "--id", "shop", "--name", "Shop", "--redirect-uris", "https://shop.example/cb,http://127.0.0.1:9000/cb", "--output", "json")
	if shop.ClientID != "shop" || len(shop.ClientSecret) < 40 || shop.Type != "confidential" || len(shop.RedirectURIs) != 2 {
		t.Fatalf("created %+v", shop)
	}
	out := c.ok(nil, "client", "get", "--id", "shop")
	if strings.Contains(out, shop.ClientSecret) || !strings.Contains(out, "https://shop.example/cb") {
		t.Errorf("get %q", out)
	}
	for _, bad := range []struct{ uri, want string }{
		{"https://a.example/cb#x", "fragment"}, {"http://a.example/cb", "https"}, {"https://*.example/cb", "wildcard"},
	} {
		c.fails(2, "redirect_uris", "client", "create", "--name", "Bad", "--redirect-uris", bad.uri)
		c.fails(2, bad.want, "client", "update", "--id", "shop", "--redirect-uris", bad.uri)
	}
	c.fails(2, "redirect_uris", "client", "create", "--name", "Dup", "--redirect-uris", "https://a.example/cb,https://a.example/cb")
	c.fails(2, "client_id", "client", "create", "--id", "shop", "--name", "Again", "--redirect-uris", "https://a.example/cb")

	var updated cliClient
	c.ok(&updated, "client", "update", "--id", "shop", "--disabled", "--name", "Shop 2", "--output", "json")
	if !updated.Disabled || updated.Name != "Shop 2" || len(updated.RedirectURIs) != 2 {
		t.Errorf("update %+v", updated)
	}
	var l cliList[cliClient]
	c.ok(&l, "client", "list", "--disabled=false", "--output", "json")
	if len(l.Items) != 0 {
		t.Errorf("enabled clients %+v", l)
	}
	var rotated cliClient
	c.ok(&rotated, "client", "rotate-secret", "--id", "shop", "--output", "json")
	if rotated.ClientSecret == "" || rotated.ClientSecret == shop.ClientSecret {
		t.Errorf("rotate %+v", rotated)
	}
	c.ok(nil, "client", "delete", "--id", "shop")
	c.fails(1, "no such application", "client", "delete", "--id", "shop")
}

type cliProvider struct {
	Alias           string `json:"alias"`
	IssuerURL       string `json:"issuer_url"`
	ClientSecretSet bool   `json:"client_secret_set"`
	Enabled         bool   `json:"enabled"`
	LinkPolicy      string `json:"link_policy"`
	RedirectURI     string `json:"redirect_uri"`
	SyncProfile     bool   `json:"sync_profile"`
}

func TestAdminIdpCommands(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "sqlite")
	var upstream *httptest.Server
	upstream = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": upstream.URL, "authorization_endpoint": upstream.URL + "/auth",
			"token_endpoint": upstream.URL + "/token", "jwks_uri": upstream.URL + "/jwks"})
	}))
	defer upstream.Close()
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("upstream-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	var p cliProvider
	c.ok(&p, "idp", "create", "--alias", "corp", "--display-name", "Corp", "--issuer-url", upstream.URL, "--client-id", "authz",
		"--client-secret-file", secretFile, "--link-policy", "create", "--output", "json")
	if p.Alias != "corp" || !p.ClientSecretSet || !p.Enabled || p.LinkPolicy != "create" || !strings.HasSuffix(p.RedirectURI, "/login/upstream/corp/callback") {
		t.Fatalf("created %+v", p)
	}
	if !p.SyncProfile {
		t.Error("a provider created without --sync-profile does not sync profiles (the default is on)")
	}
	if out := c.ok(nil, "idp", "get", "--alias", "corp", "--output", "json"); strings.Contains(out, "upstream-secret") {
		t.Error("get shows the secret")
	}
	if out := c.ok(nil, "idp", "get", "--alias", "corp"); !strings.Contains(out, p.RedirectURI) {
		t.Errorf("get does not show the redirect URI to register upstream (%s):\n%s", p.RedirectURI, out)
	}
	c.ok(&p, "idp", "update", "--alias", "corp", "--sync-profile=false", "--output", "json")
	if p.SyncProfile {
		t.Error("update --sync-profile=false left profile sync on")
	}
	var d struct {
		OK            bool   `json:"ok"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	c.ok(&d, "idp", "test", "--alias", "corp", "--output", "json")
	if !d.OK || d.TokenEndpoint != upstream.URL+"/token" {
		t.Errorf("test %+v", d)
	}

	c.fails(2, "issuer_url", "idp", "create", "--alias", "bad", "--display-name", "Bad", "--issuer-url", "http://login.example", "--client-id", "x")
	c.fails(2, "alias", "idp", "create", "--alias", "Bad Alias", "--display-name", "Bad", "--issuer-url", "https://login.example", "--client-id", "x")
	c.fails(2, "alias", "idp", "create", "--alias", "corp", "--display-name", "Again", "--issuer-url", "https://login.example", "--client-id", "x")
	c.fails(2, "link_policy", "idp", "update", "--alias", "corp", "--link-policy", "anyone")
	c.fails(2, "not both", "idp", "update", "--alias", "corp", "--client-secret", "x", "--client-secret-file", secretFile)

	c.ok(&p, "idp", "update", "--alias", "corp", "--enabled=false", "--client-secret", "", "--output", "json")
	if p.Enabled || p.ClientSecretSet {
		t.Errorf("update %+v", p)
	}
	c.ok(nil, "idp", "create", "--alias", "down", "--display-name", "Down", "--issuer-url", "http://127.0.0.1:1", "--client-id", "x")
	c.fails(1, "discovery of http://127.0.0.1:1 failed", "idp", "test", "--alias", "down")
	var l cliList[cliProvider]
	c.ok(&l, "idp", "list", "--enabled=true", "--output", "json")
	if len(l.Items) != 1 || l.Items[0].Alias != "down" {
		t.Errorf("enabled providers %+v", l)
	}
	c.ok(nil, "idp", "delete", "--alias", "corp")
	c.fails(1, "no such upstream provider", "idp", "get", "--alias", "corp")
}

func TestAdminCommandUsage(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "sqlite")
	c.fails(2, "object and an action", "user")
	c.fails(2, "unknown admin command", "user", "fly")
	c.fails(2, "--output must be text or json", "user", "list", "--output", "yaml")
	c.fails(2, "flag provided but not defined", "client", "list", "--nope")
	c.fails(2, "unexpected argument", "idp", "list", "extra")
	c.fails(2, "--limit must be at least 1", "user", "list", "--limit", "0")
	c.fails(2, "--since must be an RFC 3339 time", "audit", "list", "--since", "yesterday")
}

// TestCLIMailInDevOutbox: in dev mode without SMTP, the set-up e-mail of a
// user created with the CLI lands in the same outbox as the server's, so the
// running server's /dev/mail shows it.
func TestCLIMailInDevOutbox(t *testing.T) {
	t.Parallel()
	c := &cli{t: t, dir: t.TempDir(), env: []string{"AUTHZ_DEV=true"}}
	var u cliUser
	c.ok(&u, "user", "create", "--username", "devi", "--email", "devi@example.com", "--output", "json")
	if u.SetupEmail != "sent" {
		t.Fatalf("dev mode: setup e-mail %q", u.SetupEmail)
	}
	msgs := mail.NewFileOutbox(filepath.Join(c.dir, "data", "dev-mail.jsonl"), 50).Messages()
	if len(msgs) != 1 || msgs[0].To != "devi@example.com" || !strings.Contains(msgs[0].Text, "/link/") {
		t.Fatalf("the server's outbox holds %+v", msgs)
	}
}

// The settings of issue 16 through the CLI: a JWT, private_key_jwt client
// with its keys from a file, and a back-channel logout URI.
func TestAdminClientBreadthFlags(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "sqlite")
	keys := filepath.Join(t.TempDir(), "jwks.json")
	jwks := `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k1","use":"sig"}]}`
	if err := os.WriteFile(keys, []byte(jwks), 0o600); err != nil {
		t.Fatal(err)
	}
	var svc struct {
		cliClient
		Format     string   `json:"access_token_format"`
		Method     string   `json:"token_endpoint_auth_method"`
		Audiences  []string `json:"audiences"`
		RequirePAR bool     `json:"require_pushed_authorization_requests"`
		LogoutURI  string   `json:"backchannel_logout_uri"`
	}
	c.ok(&svc, "client", "create", "--id", "svc", "--name", "Service", "--grant-types", "client_credentials", "--scopes", "reports",
		"--access-token-format", "jwt", "--audiences", "https://api.example", "--token-auth-method", "private_key_jwt",
		"--jwks", "@"+keys, "--require-par", "--backchannel-logout-uri", "https://svc.example/bc", "--output", "json")
	if svc.Format != "jwt" || svc.Method != "private_key_jwt" || svc.ClientSecret != "" || !svc.RequirePAR || svc.LogoutURI != "https://svc.example/bc" || len(svc.Audiences) != 1 {
		t.Fatalf("created %+v", svc)
	}
	c.fails(2, "access_token_format", "client", "update", "--id", "svc", "--access-token-format", "paseto")
	c.fails(2, "jwks", "client", "update", "--id", "svc", "--jwks", "")
	c.fails(1, "--jwks", "client", "update", "--id", "svc", "--jwks", "@/nonexistent/jwks.json")
	c.fails(2, "backchannel_logout_uri", "client", "update", "--id", "svc", "--backchannel-logout-uri", "http://svc.example/bc")
}
