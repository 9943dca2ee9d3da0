package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"
)

// scrapeMetrics returns the text of /metrics.
func scrapeMetrics(t *testing.T, in *instance) string {
	t.Helper()
	resp, err := http.Get(in.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	return string(body)
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		id, secret := in.createClient(clientSpec{Grants: []string{"client_credentials"}, Scopes: []string{"api.read"}})
		cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: in.URL + "/oauth2/token", Scopes: []string{"api.read"}}
		for range 3 {
			if _, err := cc.Token(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		u := in.createUser("mona", false)
		b := newBrowser(t)
		b.loginWithPassword(b.get(in.URL+"/account"), u.Username, "wrong password")
		b.get(in.URL + "/no/such/page")

		out := scrapeMetrics(t, in)
		want := []string{
			// route patterns, never raw paths
			`authz_http_request_duration_seconds_count{route="POST /oauth2/token",status="200"} 3`,
			`authz_http_request_duration_seconds_bucket{route="GET /account",status="303",le="0.02"}`,
			`route="unmatched",status="404"`,
			`authz_tokens_issued_total{grant_type="client_credentials"} 3`,
			`authz_logins_total{method="pwd",outcome="failure"} 1`,
			`go_goroutines `,
			`go_gc_duration_seconds`,
		}
		if backend == "sqlite" {
			want = append(want, `authz_store_pool_connections{pool="write",state="max"} 1`, `authz_store_pool_connections{pool="read",state="in_use"}`)
		} else {
			want = append(want, `authz_store_pool_connections{pool="postgres",state="max"}`, `authz_store_pool_waits_total{pool="postgres"}`)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("/metrics lacks %s", w)
			}
		}
		if strings.Contains(out, "/no/such/page") {
			t.Error("a raw path became a label: unbounded series")
		}
	})
}
